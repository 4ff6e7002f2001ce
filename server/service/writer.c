/* The group commit's writer thread (see writer.h). Requests wait on their own job; the writer
 * takes jobs off the queue's head until the batch's weight or size would pass its limit. */
#include "service/writer.h"

#include "core/mem.h"

#include <pthread.h>
#include <stdlib.h>

struct cu_writer {
    cu_writer_batch_fn fn;
    void *ctx;
    int max_weight;
    size_t max_size;
    pthread_mutex_t mu;
    pthread_cond_t work; /* the writer waits for jobs */
    pthread_cond_t done; /* requests wait for their batch */
    struct cu_writer_job *head, **tail;
    int stop;
    pthread_t thread;
    struct cu_writer_stats stats;
};

/* Takes the batch off the queue's head (under mu): at least one job, then as many as fit. */
static int
take(struct cu_writer *w, struct cu_writer_job **batch)
{
    int n = 0, weight = 0;
    size_t size = 0;
    while (w->head != NULL && n < CU_WRITER_MAX_JOBS &&
           (n == 0 ||
            (weight + w->head->weight <= w->max_weight && size + w->head->size <= w->max_size))) {
        struct cu_writer_job *j = w->head;
        w->head = j->next;
        weight += j->weight;
        size += j->size;
        batch[n++] = j;
    }
    if (w->head == NULL) {
        w->tail = &w->head;
    }
    return n;
}

static void *
writer_main(void *arg)
{
    struct cu_writer *w = arg;
    struct cu_writer_job *batch[CU_WRITER_MAX_JOBS];
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->head == NULL && !w->stop) {
            pthread_cond_wait(&w->work, &w->mu);
        }
        if (w->head == NULL) {
            break; /* stopping, and nothing left */
        }
        int n = take(w, batch);
        pthread_mutex_unlock(&w->mu);
        int committed = w->fn(w->ctx, batch, n);
        pthread_mutex_lock(&w->mu);
        w->stats.batches += (unsigned long long)committed;
        w->stats.requests += (unsigned long long)n;
        for (int i = 0; i < n; i++) {
            w->stats.failures += batch[i]->rc != CU_OK;
            batch[i]->done = 1;
        }
        pthread_cond_broadcast(&w->done);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

enum cu_err
cu_writer_new(cu_writer_batch_fn fn, void *ctx, int max_weight, size_t max_size,
              struct cu_writer **out)
{
    struct cu_writer *w = cu_xcalloc(1, sizeof(*w));
    w->fn = fn;
    w->ctx = ctx;
    w->max_weight = max_weight;
    w->max_size = max_size;
    w->tail = &w->head;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->work, NULL);
    pthread_cond_init(&w->done, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->work);
        pthread_cond_destroy(&w->done);
        free(w);
        return cu_err_set(CU_ERR_INTERNAL, __FILE__, __LINE__, "could not start the writer");
    }
    *out = w;
    return CU_OK;
}

void
cu_writer_free(struct cu_writer *w)
{
    if (w == NULL) {
        return;
    }
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->done);
    free(w);
}

enum cu_err
cu_writer_run(struct cu_writer *w, struct cu_writer_job *job)
{
    job->done = 0;
    job->next = NULL;
    job->rc = CU_ERR_INTERNAL;
    pthread_mutex_lock(&w->mu);
    if (w->stop) {
        pthread_mutex_unlock(&w->mu);
        return cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__, "the writer has stopped");
    }
    *w->tail = job;
    w->tail = &job->next;
    pthread_cond_signal(&w->work);
    while (!job->done) {
        pthread_cond_wait(&w->done, &w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return job->rc;
}

void
cu_writer_stats(struct cu_writer *w, struct cu_writer_stats *out)
{
    pthread_mutex_lock(&w->mu);
    *out = w->stats;
    pthread_mutex_unlock(&w->mu);
}
