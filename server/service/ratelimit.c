/* Rate limits shared across nodes: the policy by bucket, the check alone (the concurrent checks
 * of one key on this node batched in one transaction) or folded into a caller's pipeline, and
 * the clean-up of idle keys (see ratelimit.h). */
#include "service/ratelimit.h"

#include "service/group_commit.h"

#include "core/metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

const struct cu_rate_policy *
cu_ratelimit_policy(const struct cu_svc *s, const char *bucket)
{
    if (s->rate == NULL || bucket == NULL) {
        return NULL;
    }
    if (strcmp(bucket, "tokenize") == 0) {
        return &s->rate->tokenize;
    }
    if (strcmp(bucket, "search") == 0) {
        return &s->rate->search;
    }
    if (strcmp(bucket, "verify") == 0) {
        return &s->rate->verify;
    }
    return NULL;
}

static int
ceil_s(long long ms)
{
    long long s = (ms + 999) / 1000;
    return s > 0x7fffffff ? 0x7fffffff : (int)s;
}

void
cu_ratelimit_step(const char *tenant, const char *bucket, const char *subject,
                  const struct cu_rate_policy *pol, int cost, struct cu_arena *arena,
                  struct cu_params *p, struct cu_db_result **res, struct cu_step *step)
{
    struct cu_rate_key k = {.bucket = bucket,
                            .subject = subject,
                            .window_ms = pol->window_ms,
                            .limit = pol->limit,
                            .cost = cost < 1 ? 1 : cost};
    cu_store_rate_step(tenant, &k, arena, p, res, step);
}

enum cu_err
cu_ratelimit_read(const struct cu_db_result *res, const struct cu_rate_policy *pol,
                  struct cu_rate_result *out)
{
    memset(out, 0, sizeof(*out));
    CU_ENSURE(res != NULL && cu_res_rows(res) == 1, CU_ERR_INTERNAL, "no rate-limit row");
    out->checked = 1;
    out->allowed = strcmp(cu_res_text(res, 0, CU_COL_RATE_ALLOWED), "t") == 0;
    out->limit = pol->limit;
    out->remaining = (int)cu_res_int(res, 0, CU_COL_RATE_REMAINING);
    out->window_s = ceil_s(pol->window_ms);
    long long reset_ms = cu_res_int(res, 0, CU_COL_RATE_RESET_MS);
    /* refused with nothing counted (a cost above the limit): the whole window */
    if (!out->allowed && reset_ms <= 0) {
        reset_ms = pol->window_ms;
    }
    out->reset_s = ceil_s(reset_ms);
    if (!out->allowed && out->reset_s < 1) {
        out->reset_s = 1;
    }
    return CU_OK;
}

/* Checks of one key waiting at once on this node share a transaction: the first runs the
 * checks of all that queued behind it in one pipeline (BEGIN, one custos_rate_hit per check in
 * arrival order, COMMIT: one round trip), then hands the queue that formed meanwhile to its
 * first waiter. Each check still counts under the key's row lock, in order, so the limit holds
 * exactly; a key checked by 32 connections at once takes the row lock once per batch instead of
 * once per request (32 transactions waiting in turn on one row). A failed batch fails each of
 * its checks (the caller answers 503): nothing passes unchecked. */
enum { RATE_BATCH_MAX = 64 };

struct rate_waiter {
    const char *tenant, *bucket, *subject;
    const struct cu_rate_policy *pol;
    int cost;
    struct cu_rate_result out;
    enum cu_err rc;
    int done;
    int lead; /* handed the key's queue: runs it */
    struct rate_waiter *next;
};

struct rate_key {
    const struct cu_svc *svc;
    struct rate_waiter *leader; /* the running batch's first check: names the key */
    struct rate_waiter *queue, **tail;
    struct rate_key *next;
};

static pthread_mutex_t rate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rate_cv = PTHREAD_COND_INITIALIZER;
static struct rate_key *rate_keys;

static int
same_key(const struct rate_waiter *a, const struct rate_waiter *b)
{
    return strcmp(a->tenant, b->tenant) == 0 && strcmp(a->bucket, b->bucket) == 0 &&
           strcmp(a->subject, b->subject) == 0 && a->pol->limit == b->pol->limit &&
           a->pol->window_ms == b->pol->window_ms;
}

/* Runs the checks of batch (all of one key) in one transaction and records each outcome. */
static void
run_batch(struct cu_svc *s, struct rate_waiter *batch)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    int n = 0;
    for (struct rate_waiter *w = batch; w != NULL; w = w->next) {
        n++;
    }
    struct cu_params *p = cu_arena_alloc(arena, (size_t)n * sizeof(*p));
    struct cu_db_result **res = cu_arena_alloc(arena, (size_t)n * sizeof(*res));
    struct cu_step *steps = cu_arena_alloc(arena, (size_t)(n + 1) * sizeof(*steps));
    cu_store_rate_async_step(&steps[0]);
    int i = 0;
    for (struct rate_waiter *w = batch; w != NULL; w = w->next, i++) {
        res[i] = NULL;
        cu_ratelimit_step(w->tenant, w->bucket, w->subject, w->pol, w->cost, arena, &p[i], &res[i],
                          &steps[i + 1]);
    }
    /* BEGIN, the statements and COMMIT travel together: one round trip, no WAL flush waited
     * for (a count lost in a crash of PostgreSQL is acceptable) */
    CU_TRY(cu_tx_begin(s->db, batch->tenant, &tx));
    CU_TRY(cu_tx_exec_steps_commit_in(&tx, steps, n + 1, arena));
    cu_metrics_count("rate_check_transactions", 1);
    cu_metrics_count("rate_checks", (unsigned long long)n);
out:
    cu_tx_abort(&tx);
    i = 0;
    for (struct rate_waiter *w = batch; w != NULL; w = w->next, i++) {
        w->rc = rc != CU_OK ? rc : cu_ratelimit_read(res[i], w->pol, &w->out);
    }
    cu_arena_free(arena);
}

enum cu_err
cu_ratelimit_hit(struct cu_svc *s, const char *tenant, const char *bucket, const char *subject,
                 const struct cu_rate_policy *pol, int cost, struct cu_rate_result *out)
{
    memset(out, 0, sizeof(*out));
    if (pol == NULL || pol->limit <= 0) {
        return CU_OK;
    }
    struct rate_waiter me = {
        .tenant = tenant, .bucket = bucket, .subject = subject, .pol = pol, .cost = cost};
    pthread_mutex_lock(&rate_mu);
    struct rate_key *k = rate_keys;
    while (k != NULL && !(k->svc == s && same_key(k->leader, &me))) {
        k = k->next;
    }
    if (k != NULL) {
        /* a batch of this key is running: queue behind it */
        *k->tail = &me;
        k->tail = &me.next;
        cu_metrics_count("rate_checks_queued", 1);
        while (!me.done && !me.lead) {
            pthread_cond_wait(&rate_cv, &rate_mu);
        }
    } else {
        k = cu_xcalloc(1, sizeof(*k));
        k->svc = s;
        k->tail = &k->queue;
        k->next = rate_keys;
        rate_keys = k;
        me.lead = 1;
    }
    if (me.lead) {
        /* me heads the batch: the queue up to RATE_BATCH_MAX, or me alone */
        struct rate_waiter *batch = &me;
        if (k->queue == &me) {
            struct rate_waiter *last = &me;
            for (int n = 1; last->next != NULL && n < RATE_BATCH_MAX; n++) {
                last = last->next;
            }
            k->queue = last->next;
            last->next = NULL;
            if (k->queue == NULL) {
                k->tail = &k->queue;
            }
        }
        k->leader = &me;
        pthread_mutex_unlock(&rate_mu);
        run_batch(s, batch);
        pthread_mutex_lock(&rate_mu);
        for (struct rate_waiter *w = batch, *nx; w != NULL; w = nx) {
            nx = w->next;
            w->done = 1;
        }
        if (k->queue != NULL) {
            /* the next batch: its first check leads it (and names the key from now on) */
            k->leader = k->queue;
            k->queue->lead = 1;
        } else {
            struct rate_key **pp = &rate_keys;
            while (*pp != k) {
                pp = &(*pp)->next;
            }
            *pp = k->next;
            free(k);
        }
        pthread_cond_broadcast(&rate_cv);
    }
    pthread_mutex_unlock(&rate_mu);
    *out = me.out;
    return me.rc;
}

enum cu_err
cu_ratelimit_gc(struct cu_svc *s, const char *tenant)
{
    if (s->rate == NULL) {
        return CU_OK;
    }
    const struct cu_rate_policy *all[] = {&s->rate->tokenize, &s->rate->search, &s->rate->verify,
                                          &s->rate->verify_token};
    long long longest = 0;
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        longest = all[i]->window_ms > longest ? all[i]->window_ms : longest;
    }
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    long long deleted = 0;
    CU_TRY(cu_tx_begin(s->db, tenant, &tx));
    /* idle for twice the longest window: every event they held has left its window */
    CU_TRY(cu_store_rate_gc(tx, tenant, 2 * (longest / 1000 + 1), &deleted));
    rc = cu_tx_commit(&tx);
out:
    cu_tx_abort(&tx);
    return rc;
}

static enum cu_err
gc_one(struct cu_svc *s, const char *tenant, void *ctx)
{
    (void)ctx;
    return cu_ratelimit_gc(s, tenant);
}

enum cu_err
cu_ratelimit_gc_all(struct cu_svc *s)
{
    return s->rate == NULL ? CU_OK : cu_tenants_each(s, gc_one, NULL);
}

void
cu_ratelimit_limits(struct cu_rate_limits *out, int tokenize, int tokenize_window_s, int search,
                    int search_window_s, int verify, int verify_window_s, int attempts,
                    int attempts_window_s)
{
    out->tokenize = (struct cu_rate_policy){tokenize, 1000LL * tokenize_window_s};
    out->search = (struct cu_rate_policy){search, 1000LL * search_window_s};
    out->verify = (struct cu_rate_policy){verify, 1000LL * verify_window_s};
    out->verify_token = (struct cu_rate_policy){attempts, 1000LL * attempts_window_s};
}

void
cu_ratelimit_audit_refusal(struct cu_svc *s, const struct cu_actor *a, const char *action,
                           const char *collection)
{
    if (a->tenant == NULL) {
        return;
    }
    cu_audit_refusal(s, NULL, a, action, collection, NULL, "rate_limited");
}
