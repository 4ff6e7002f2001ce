/* Group commit of audit entries (see group_commit.h). Requests wait on their own entry of the
 * queue; the writer takes the whole queue, merges the entries of each tenant into one JSON
 * array (one INSERT per tenant), commits, and wakes every request of the batch. */
#include "service/group_commit.h"

#include "core/log.h"
#include "service/audit.h"
#include "service/svc.h"
#include "storage/vaultstore.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct waiter {
    const char *tenant;
    char *json; /* the request's entries: a JSON array */
    int done;
    enum cu_err rc;
    struct waiter *next;
};

struct cu_group_commit {
    struct cu_db *db;
    pthread_mutex_t mu;
    pthread_cond_t work; /* the writer waits for requests */
    pthread_cond_t done; /* requests wait for their batch */
    struct waiter *head, **tail;
    int stop;
    pthread_t thread;
    unsigned long long batches, requests, failures;
};

/* One tenant's part of a batch: its requests' arrays merged into one. */
struct group {
    const char *tenant;
    char *json;
    size_t len;
};

static void
group_add(struct group *g, const char *json)
{
    /* "[a,b]" + "[c]" -> "[a,b,c]": strip the brackets of each array */
    size_t n = strlen(json);
    size_t inner = n >= 2 ? n - 2 : 0;
    if (inner == 0) {
        return;
    }
    g->json = realloc(g->json, g->len + inner + 3);
    if (g->json == NULL) {
        abort();
    }
    g->json[g->len == 0 ? 0 : g->len - 1] = g->len == 0 ? '[' : ',';
    size_t at = g->len == 0 ? 1 : g->len;
    memcpy(g->json + at, json + 1, inner);
    g->len = at + inner + 1;
    g->json[g->len - 1] = ']';
    g->json[g->len] = '\0';
}

/* Writes the groups in one transaction; on failure, each group alone once more. Sets the rc
 * of every group (rcs). */
static void
write_groups(struct cu_group_commit *gc, struct group *groups, int n, enum cu_err *rcs)
{
    const char *tenants[CU_DB_MAX_STEPS];
    const char *jsons[CU_DB_MAX_STEPS];
    for (int i = 0; i < n; i++) {
        tenants[i] = groups[i].tenant;
        jsons[i] = groups[i].json;
    }
    enum cu_err rc = cu_store_audit_group_commit(gc->db, n, tenants, jsons);
    for (int i = 0; i < n; i++) {
        rcs[i] = rc;
    }
    if (rc == CU_OK || n == 1) {
        return;
    }
    for (int i = 0; i < n; i++) {
        rcs[i] = cu_store_audit_group_commit(gc->db, 1, &tenants[i], &jsons[i]);
    }
}

/* Writes one batch (a list of waiters taken off the queue) and wakes its requests. */
static void
write_batch(struct cu_group_commit *gc, struct waiter *batch)
{
    struct group groups[CU_DB_MAX_STEPS];
    enum cu_err rcs[CU_DB_MAX_STEPS];
    int n = 0;
    int nreq = 0;
    for (struct waiter *w = batch; w != NULL; w = w->next) {
        int g = 0;
        while (g < n && strcmp(groups[g].tenant, w->tenant) != 0) {
            g++;
        }
        if (g == n) {
            groups[n++] = (struct group){.tenant = w->tenant};
        }
        group_add(&groups[g], w->json);
        nreq++;
    }
    /* groups with no entries need no statement */
    int m = 0;
    struct group todo[CU_DB_MAX_STEPS];
    for (int g = 0; g < n; g++) {
        if (groups[g].len > 0) {
            todo[m++] = groups[g];
        }
    }
    if (m > 0) {
        write_groups(gc, todo, m, rcs);
    }
    unsigned long long failed = 0;
    pthread_mutex_lock(&gc->mu);
    for (struct waiter *w = batch, *next = NULL; w != NULL; w = next) {
        next = w->next;
        w->rc = CU_OK;
        for (int g = 0; g < m; g++) {
            if (strcmp(todo[g].tenant, w->tenant) == 0) {
                w->rc = rcs[g];
            }
        }
        failed += w->rc != CU_OK;
        w->done = 1;
    }
    gc->batches += m > 0;
    gc->requests += (unsigned long long)nreq;
    gc->failures += failed;
    pthread_cond_broadcast(&gc->done);
    pthread_mutex_unlock(&gc->mu);
    if (failed > 0) {
        cu_log(CU_LOG_ERROR, "group commit failed", "reason", cu_err_reason(), NULL);
    }
    for (int g = 0; g < n; g++) {
        free(groups[g].json);
    }
}

static void *
writer(void *arg)
{
    struct cu_group_commit *gc = arg;
    pthread_mutex_lock(&gc->mu);
    for (;;) {
        while (gc->head == NULL && !gc->stop) {
            pthread_cond_wait(&gc->work, &gc->mu);
        }
        if (gc->head == NULL) {
            break; /* stopping, and nothing left */
        }
        /* take the queue, at most CU_DB_MAX_STEPS tenants (the rest waits for the next batch) */
        struct waiter *batch = gc->head, *last = NULL;
        const char *seen[CU_DB_MAX_STEPS];
        int nseen = 0;
        struct waiter *w = gc->head;
        for (; w != NULL; last = w, w = w->next) {
            int k = 0;
            while (k < nseen && strcmp(seen[k], w->tenant) != 0) {
                k++;
            }
            if (k == nseen) {
                if (nseen == CU_DB_MAX_STEPS) {
                    break;
                }
                seen[nseen++] = w->tenant;
            }
        }
        last->next = NULL;
        gc->head = w;
        if (w == NULL) {
            gc->tail = &gc->head;
        }
        pthread_mutex_unlock(&gc->mu);
        write_batch(gc, batch);
        pthread_mutex_lock(&gc->mu);
    }
    pthread_mutex_unlock(&gc->mu);
    return NULL;
}

enum cu_err
cu_group_commit_new(struct cu_db *db, struct cu_group_commit **out)
{
    struct cu_group_commit *gc = cu_xcalloc(1, sizeof(*gc));
    gc->db = db;
    gc->tail = &gc->head;
    pthread_mutex_init(&gc->mu, NULL);
    pthread_cond_init(&gc->work, NULL);
    pthread_cond_init(&gc->done, NULL);
    if (pthread_create(&gc->thread, NULL, writer, gc) != 0) {
        pthread_mutex_destroy(&gc->mu);
        pthread_cond_destroy(&gc->work);
        pthread_cond_destroy(&gc->done);
        free(gc);
        return cu_err_set(CU_ERR_INTERNAL, __FILE__, __LINE__, "could not start the writer");
    }
    *out = gc;
    return CU_OK;
}

void
cu_group_commit_free(struct cu_group_commit *gc)
{
    if (gc == NULL) {
        return;
    }
    pthread_mutex_lock(&gc->mu);
    gc->stop = 1;
    pthread_cond_signal(&gc->work);
    pthread_mutex_unlock(&gc->mu);
    pthread_join(gc->thread, NULL);
    pthread_mutex_destroy(&gc->mu);
    pthread_cond_destroy(&gc->work);
    pthread_cond_destroy(&gc->done);
    free(gc);
}

enum cu_err
cu_group_commit_append(struct cu_group_commit *gc, const char *tenant, json_t *entries)
{
    char *js = json_dumps(entries, JSON_COMPACT);
    json_decref(entries);
    CU_ENSURE(js != NULL, CU_ERR_INTERNAL, "could not encode audit entries");
    struct waiter w = {.tenant = tenant, .json = js};
    pthread_mutex_lock(&gc->mu);
    if (gc->stop) {
        pthread_mutex_unlock(&gc->mu);
        free(js);
        return cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__, "the writer has stopped");
    }
    *gc->tail = &w;
    gc->tail = &w.next;
    pthread_cond_signal(&gc->work);
    while (!w.done) {
        pthread_cond_wait(&gc->done, &gc->mu);
    }
    pthread_mutex_unlock(&gc->mu);
    free(js);
    if (w.rc != CU_OK) {
        /* fail closed: the access these entries record must not be answered */
        return cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__,
                          "could not write the audit entries");
    }
    return CU_OK;
}

void
cu_group_commit_stats(struct cu_group_commit *gc, struct cu_group_commit_stats *out)
{
    pthread_mutex_lock(&gc->mu);
    out->batches = gc->batches;
    out->requests = gc->requests;
    out->failures = gc->failures;
    pthread_mutex_unlock(&gc->mu);
}

enum cu_err
cu_audit_durable(struct cu_svc *s, const char *tenant, json_t *entries)
{
    if (s->audit_writer != NULL) {
        return cu_group_commit_append(s->audit_writer, tenant, entries);
    }
    struct cu_tx *tx = NULL;
    enum cu_err rc = cu_tx_begin(s->db, tenant, &tx);
    if (rc != CU_OK) {
        json_decref(entries);
        return rc;
    }
    return cu_audit_write_commit(&tx, tenant, entries);
}
