/* Rate limits shared across nodes: the policy by bucket, the check alone or folded into a
 * caller's pipeline, and the clean-up of idle keys (see ratelimit.h). */
#include "service/ratelimit.h"

#include "service/audit.h"
#include "service/group_commit.h"
#include "service/ident.h"

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

enum cu_err
cu_ratelimit_hit(struct cu_svc *s, const char *tenant, const char *bucket, const char *subject,
                 const struct cu_rate_policy *pol, int cost, struct cu_rate_result *out)
{
    memset(out, 0, sizeof(*out));
    if (pol == NULL || pol->limit <= 0) {
        return CU_OK;
    }
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    struct cu_params p;
    struct cu_db_result *res = NULL;
    struct cu_step steps[2];
    cu_store_rate_async_step(&steps[0]);
    cu_ratelimit_step(tenant, bucket, subject, pol, cost, arena, &p, &res, &steps[1]);
    /* BEGIN, the statements and COMMIT travel together: one round trip, no WAL flush waited
     * for (a count lost in a crash of PostgreSQL is acceptable) */
    CU_TRY(cu_tx_begin(s->db, tenant, &tx));
    CU_TRY(cu_tx_exec_steps_commit_in(&tx, steps, 2, arena));
    CU_TRY(cu_ratelimit_read(res, pol, out));
out:
    cu_tx_abort(&tx);
    cu_arena_free(arena);
    return rc;
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
    if (collection != NULL && !cu_ident_ok(collection)) {
        collection = NULL;
    }
    json_t *entries = json_array();
    json_array_append_new(entries, cu_audit_entry(a, action, collection, NULL, NULL, NULL, NULL,
                                                  NULL, "rate_limited"));
    enum cu_err ignored = cu_audit_durable(s, a->tenant, entries);
    (void)ignored;
}
