/* A writer thread for group commits: requests queue a job and wait; the writer takes what has
 * queued (up to a weight per batch: the statements one transaction may pipeline), hands the
 * batch to the batch function, which sets each job's rc, and wakes every request of the batch.
 * Requests are served in the order they queued; a request never waits for more than the batch
 * being written and its own. */
#ifndef CU_SERVICE_WRITER_H
#define CU_SERVICE_WRITER_H

#include "core/err.h"

#include <stddef.h>

struct cu_writer;

struct cu_writer_job {
    void *item;     /* the caller's: what to write (read by the batch function) */
    int weight;     /* its share of a batch's limit, >= 1 */
    size_t size;    /* and of its byte budget (what it sends) */
    enum cu_err rc; /* set by the batch function */
    /* the writer's */
    int done;
    struct cu_writer_job *next;
};

/* Writes jobs[0..n) and sets each one's rc; returns the transactions it committed. Runs on the
 * writer thread, one batch at a time. */
typedef int (*cu_writer_batch_fn)(void *ctx, struct cu_writer_job **jobs, int n);

enum { CU_WRITER_MAX_JOBS = 128 };

/* Starts the writer. max_weight, max_size: the weight and the bytes one batch may hold (a job
 * heavier or larger than that goes alone). */
enum cu_err cu_writer_new(cu_writer_batch_fn fn, void *ctx, int max_weight, size_t max_size,
                          struct cu_writer **out) CU_WUR;
/* Writes what is queued, then stops the thread and frees the writer. NULL is fine. */
void cu_writer_free(struct cu_writer *w);
/* Queues job (the caller's storage) and waits until its batch is written: returns job->rc, or
 * CU_ERR_UNAVAILABLE when the writer has stopped. */
enum cu_err cu_writer_run(struct cu_writer *w, struct cu_writer_job *job) CU_WUR;

struct cu_writer_stats {
    unsigned long long batches;  /* transactions committed */
    unsigned long long requests; /* jobs written or refused */
    unsigned long long failures; /* jobs whose rc was not CU_OK */
};
void cu_writer_stats(struct cu_writer *w, struct cu_writer_stats *out);

#endif
