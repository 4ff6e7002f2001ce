/* SQL of the shared rate limits (see ratestore.h; the counting itself is custos_rate_hit in
 * migrations/0016_rate_limits.sql). */
#include "storage/ratestore.h"

/* the columns of enum cu_col_rate, in order */
static const struct cu_stmt q_rate_hit = {
    "rate_hit", "SELECT h.allowed, h.remaining, h.reset_ms"
                " FROM custos_rate_hit($1, $2, $3, $4::bigint, $5::int, $6::int) h"};
/* A count lost in a crash of PostgreSQL costs less than a WAL flush per check: the check's own
 * transaction commits without waiting for it (only that transaction: never with other writes). */
static const struct cu_stmt q_rate_async = {
    "rate_async", "SELECT set_config('synchronous_commit', 'off', true)"};
static const struct cu_stmt q_rate_gc = {
    "rate_gc", "DELETE FROM rate_limits WHERE tenant_id = $1"
               " AND updated_at < now() - make_interval(secs => $2::bigint)"};

static void
rate_params(struct cu_params *p, struct cu_arena *arena, const char *tenant,
            const struct cu_rate_key *k)
{
    cu_params_init(p);
    cu_params_text(p, tenant);
    cu_params_text(p, k->bucket);
    cu_params_text(p, k->subject);
    cu_params_int(p, arena, k->window_ms);
    cu_params_int(p, arena, k->limit);
    cu_params_int(p, arena, k->cost);
}

enum cu_err
cu_store_rate_hit(struct cu_tx *tx, const char *tenant, const struct cu_rate_key *k,
                  struct cu_arena *arena, struct cu_db_result **out)
{
    struct cu_params p;
    rate_params(&p, arena, tenant, k);
    return cu_tx_exec(tx, &q_rate_hit, &p, arena, out);
}

void
cu_store_rate_step(const char *tenant, const struct cu_rate_key *k, struct cu_arena *arena,
                   struct cu_params *p, struct cu_db_result **out, struct cu_step *step)
{
    rate_params(p, arena, tenant, k);
    *step = (struct cu_step){.stmt = &q_rate_hit, .p = p, .out = out};
}

enum cu_err
cu_store_rate_gc(struct cu_tx *tx, const char *tenant, long long idle_s, long long *deleted)
{
    struct cu_arena *tmp = cu_arena_new();
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_int(&p, tmp, idle_s);
    struct cu_db_result *r = NULL;
    enum cu_err rc = cu_tx_exec(tx, &q_rate_gc, &p, tmp, &r);
    *deleted = rc == CU_OK ? cu_res_affected(r) : 0;
    cu_arena_free(tmp);
    return rc;
}

void
cu_store_rate_async_step(struct cu_step *step)
{
    *step = (struct cu_step){.stmt = &q_rate_async};
}
