/* Operations endpoints: liveness, readiness and Prometheus metrics. Public, no customer data. */
#include "http/http.h"

#include "auth/idp.h"
#include "auth/jwt.h"
#include "core/metrics.h"
#include "service/audit_chain.h"
#include "service/keyring.h"
#include "service/subjects.h"
#include "service/unit_commit.h"

enum cu_err
cu_h_healthz(struct cu_req *req)
{
    cu_resp_json(req, 0, json_pack("{s:s}", "status", "ok"));
    return CU_OK;
}

enum cu_err
cu_h_readyz(struct cu_req *req)
{
    int version = 0;
    enum cu_err rc = cu_db_schema_version(req->app->db, &version);
    if (rc != CU_OK) {
        return cu_err_public(CU_ERR_UNAVAILABLE, "the database is not reachable");
    }
    if (version < req->app->schema_latest) {
        cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__, "schema version %d, expected %d",
                   version, req->app->schema_latest);
        return cu_err_public(CU_ERR_UNAVAILABLE,
                             "the database schema is not current; run custos migrate");
    }
    if (!req->app->ready) {
        cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__, "root key not verified");
        return cu_err_public(CU_ERR_UNAVAILABLE, "the root key is not verified yet");
    }
    if (!cu_auth_keys_ready(req->app->auth)) {
        cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__, "no jwks fetched yet");
        return cu_err_public(CU_ERR_UNAVAILABLE,
                             "not ready: the identity provider's keys were never fetched");
    }
    /* a rotation by `custos rotate-root`: the new key is taken from the key files, or this
     * node is not ready until they hold it */
    if (req->app->svc != NULL &&
        cu_keyring_root_check(req->app->svc->keyring, req->app->db) != CU_OK) {
        if (cu_keyring_root_rotated(req->app->svc->keyring)) {
            return cu_err_public(CU_ERR_UNAVAILABLE, CU_ROOT_ROTATED_DETAIL);
        }
        return cu_err_public(CU_ERR_UNAVAILABLE, "the database is not reachable");
    }
    cu_resp_json(req, 0, json_pack("{s:s, s:i}", "status", "ready", "schema", version));
    return CU_OK;
}

/* custos_<what>_group_commits_total, _requests_total, _failures_total of a writer (or none) */
static void
writer_metrics(struct cu_buf *b, const char *what, struct cu_unit_commit *w)
{
    if (w == NULL) {
        return;
    }
    struct cu_writer_stats st;
    cu_unit_commit_stats(w, &st);
    cu_buf_printf(b,
                  "# TYPE custos_%s_group_commits_total counter\n"
                  "custos_%s_group_commits_total %llu\n"
                  "# TYPE custos_%s_group_commit_requests_total counter\n"
                  "custos_%s_group_commit_requests_total %llu\n"
                  "# TYPE custos_%s_group_commit_failures_total counter\n"
                  "custos_%s_group_commit_failures_total %llu\n",
                  what, what, st.batches, what, what, st.requests, what, what, st.failures);
}

enum cu_err
cu_h_metrics(struct cu_req *req)
{
    struct cu_buf b;
    cu_buf_init(&b);
    cu_metrics_render(&b);
    struct cu_db_stats st;
    cu_db_stats(req->app->db, &st);
    cu_buf_printf(&b,
                  "# TYPE custos_db_pool_size gauge\ncustos_db_pool_size %d\n"
                  "# TYPE custos_db_pool_in_use gauge\ncustos_db_pool_in_use %d\n"
                  "# TYPE custos_db_pool_open gauge\ncustos_db_pool_open %d\n"
                  "# TYPE custos_db_connect_failures_total counter\n"
                  "custos_db_connect_failures_total %llu\n"
                  "# TYPE custos_db_timeouts_total counter\ncustos_db_timeouts_total %llu\n"
                  "# TYPE custos_db_round_trips_total counter\ncustos_db_round_trips_total %llu\n"
                  "# TYPE custos_db_commits_total counter\ncustos_db_commits_total %llu\n",
                  st.size, st.in_use, st.open, st.connect_failures, st.timeouts, st.round_trips,
                  st.commits);
    if (req->app->svc != NULL) {
        writer_metrics(&b, "audit", req->app->svc->audit_writer);
        writer_metrics(&b, "tokenize", req->app->svc->unit_writer);
    }
    struct cu_idp_status is;
    if (cu_auth_idp_status(req->app->auth, &is)) {
        cu_buf_printf(&b,
                      "# TYPE custos_jwks_fetches_total counter\ncustos_jwks_fetches_total %llu\n"
                      "# TYPE custos_jwks_fetch_failures_total counter\n"
                      "custos_jwks_fetch_failures_total %llu\n"
                      "# TYPE custos_jwks_kid_refetches_total counter\n"
                      "custos_jwks_kid_refetches_total %llu\n"
                      "# TYPE custos_jwks_age_seconds gauge\ncustos_jwks_age_seconds %.3f\n",
                      (unsigned long long)is.fetches, (unsigned long long)is.failures,
                      (unsigned long long)is.kid_refetches,
                      is.age_ms < 0 ? -1.0 : (double)is.age_ms / 1000.0);
    }
    long long unsealed = 0, lag_ms = 0;
    cu_audit_seal_lag(&unsealed, &lag_ms);
    cu_buf_printf(&b,
                  "# TYPE custos_audit_seal_lag_seconds gauge\n"
                  "custos_audit_seal_lag_seconds %.3f\n"
                  "# TYPE custos_audit_unsealed_entries gauge\n"
                  "custos_audit_unsealed_entries %lld\n",
                  (double)lag_ms / 1000.0, unsealed);
    long long overdue = 0, due7 = 0;
    cu_dsr_counts(&overdue, &due7);
    cu_buf_printf(&b,
                  "# TYPE custos_dsr_overdue gauge\ncustos_dsr_overdue %lld\n"
                  "# TYPE custos_dsr_due_within_7d gauge\ncustos_dsr_due_within_7d %lld\n",
                  overdue, due7);
    cu_resp_text(req, 0, "text/plain; version=0.0.4", (const char *)b.data, b.len);
    cu_buf_cleanup(&b);
    return CU_OK;
}
