/* Reports over the audit trail: the exposure report and reveal-rate alerts (rules in
 * audit_report.h). */
#include "service/audit_report.h"

#include "core/log.h"
#include "core/metrics.h"
#include "service/audit.h"
#include "storage/auditstore.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static json_t *
expo_row(const struct cu_db_result *r, int i)
{
    return json_pack(
        "{s:s?, s:s?, s:s?, s:I, s:s, s:s}", "subject_id",
        cu_res_isnull(r, i, CU_COL_EXPO_SUBJECT_ID) ? NULL
                                                    : cu_res_text(r, i, CU_COL_EXPO_SUBJECT_ID),
        "collection",
        cu_res_isnull(r, i, CU_COL_EXPO_COLLECTION) ? NULL
                                                    : cu_res_text(r, i, CU_COL_EXPO_COLLECTION),
        "field",
        cu_res_isnull(r, i, CU_COL_EXPO_FIELD) ? NULL : cu_res_text(r, i, CU_COL_EXPO_FIELD),
        "count", (json_int_t)cu_res_int(r, i, CU_COL_EXPO_COUNT), "first",
        cu_res_text(r, i, CU_COL_EXPO_FIRST), "last", cu_res_text(r, i, CU_COL_EXPO_LAST));
}

enum cu_err
cu_audit_exposure(struct cu_svc *s, const struct cu_actor *a, const char *principal,
                  const char *from, const char *to, struct cu_problems *problems, json_t **out)
{
    *out = NULL;
    if (principal == NULL || principal[0] == '\0' || strlen(principal) > 256) {
        cu_problem_add(problems, "/query/principal", "required: 1 to 256 characters");
    }
    if (from != NULL && !cu_audit_time_ok(from)) {
        cu_problem_add(problems, "/query/from", "must be an RFC 3339 time with a zone");
    }
    if (to != NULL && !cu_audit_time_ok(to)) {
        cu_problem_add(problems, "/query/to", "must be an RFC 3339 time with a zone");
    }
    if (problems->errors != NULL) {
        return cu_err_public(CU_ERR_AT(CU_ERR_BAD_REQUEST, "bad exposure query"),
                             "The query parameters are malformed");
    }
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    struct cu_db_result *r = NULL;
    CU_TRY(cu_store_audit_exposure(tx, a->tenant, principal, from, to, CU_EXPOSURE_MAX_ROWS, arena,
                                   &r));
    CU_TRY(cu_audit_one(tx, a, a->tenant, "audit.exposure"));
    CU_TRY(cu_tx_commit(&tx));
    json_t *plain = json_array(), *masked = json_array();
    int n = cu_res_rows(r);
    for (int i = 0; i < n && i < CU_EXPOSURE_MAX_ROWS; i++) {
        const char *level = cu_res_text(r, i, CU_COL_EXPO_REDACTION);
        json_array_append_new(strcmp(level, "plain") == 0 ? plain : masked, expo_row(r, i));
    }
    *out = json_pack("{s:s, s:s?, s:s?, s:o, s:o, s:b}", "principal", principal, "from", from, "to",
                     to, "plain", plain, "masked", masked, "truncated", n > CU_EXPOSURE_MAX_ROWS);
out:
    cu_tx_abort(&tx);
    cu_arena_free(arena);
    return rc;
}

static json_t *
alert_rows(const struct cu_db_result *r)
{
    json_t *list = json_array();
    for (int i = 0; i < cu_res_rows(r); i++) {
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:I, s:f, s:s, s:s}", "type", "reveal_rate", "principal",
                            cu_res_text(r, i, CU_COL_ALERT_PRINCIPAL), "reveals",
                            (json_int_t)cu_res_int(r, i, CU_COL_ALERT_REVEALS), "baseline_per_hour",
                            strtod(cu_res_text(r, i, CU_COL_ALERT_BASELINE), NULL), "from",
                            cu_res_text(r, i, CU_COL_ALERT_FROM), "to",
                            cu_res_text(r, i, CU_COL_ALERT_TO)));
    }
    return list;
}

/* Appends the rate-limit alerts to list. */
static void
rate_alert_rows(const struct cu_db_result *r, json_t *list)
{
    for (int i = 0; i < cu_res_rows(r); i++) {
        json_t *actions = json_array();
        char *all = strdup(cu_res_text(r, i, CU_COL_RATE_ALERT_ACTIONS));
        char *save = NULL;
        for (char *t = strtok_r(all, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
            json_array_append_new(actions, json_string(t));
        }
        free(all);
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:I, s:o, s:s, s:s}", "type", "rate_limited", "principal",
                            cu_res_text(r, i, CU_COL_RATE_ALERT_PRINCIPAL), "refusals",
                            (json_int_t)cu_res_int(r, i, CU_COL_RATE_ALERT_REFUSALS), "actions",
                            actions, "from", cu_res_text(r, i, CU_COL_RATE_ALERT_FROM), "to",
                            cu_res_text(r, i, CU_COL_RATE_ALERT_TO)));
    }
}

enum cu_err
cu_audit_alerts(struct cu_svc *s, const struct cu_actor *a, json_t **out)
{
    *out = NULL;
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    struct cu_db_result *r = NULL;
    CU_TRY(cu_store_audit_alerts(tx, a->tenant, CU_ALERT_BASELINE_HOURS, CU_ALERT_MIN_REVEALS,
                                 CU_ALERT_FACTOR, arena, &r));
    struct cu_db_result *rl = NULL;
    CU_TRY(cu_store_audit_rate_alerts(tx, a->tenant, CU_ALERT_MIN_RATE_LIMITED, arena, &rl));
    CU_TRY(cu_audit_one(tx, a, a->tenant, "audit.alerts"));
    CU_TRY(cu_tx_commit(&tx));
    json_t *alerts = alert_rows(r);
    rate_alert_rows(rl, alerts);
    *out = json_pack("{s:o, s:{s:s, s:i, s:i, s:i}, s:{s:s, s:i}}", "alerts", alerts, "rule",
                     "rule",
                     "reveals in the last hour >= min_reveals and > factor x the principal's mean"
                     " reveals per hour over the baseline_hours before it",
                     "baseline_hours", CU_ALERT_BASELINE_HOURS, "min_reveals", CU_ALERT_MIN_REVEALS,
                     "factor", CU_ALERT_FACTOR, "rate_limit_rule", "rule",
                     "requests of the principal refused by a rate limit (tokenize, search, verify,"
                     " verify attempts per token) in the last hour >= min_refusals",
                     "min_refusals", CU_ALERT_MIN_RATE_LIMITED);
out:
    cu_tx_abort(&tx);
    cu_arena_free(arena);
    return rc;
}

/* Alerts logged in this process in the last hour, so that a sweep every minute does not log
 * the same one sixty times. A small ring: an alert it forgot is logged again, never lost. */
enum { SEEN = 256 };
static struct {
    char key[200];
    time_t at;
} seen[SEEN];
static size_t seen_next;
static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;

static int
first_in_hour(const char *tenant, const char *principal)
{
    char key[200];
    snprintf(key, sizeof(key), "%s|%s", tenant, principal);
    time_t now = time(NULL);
    int fresh = 1;
    pthread_mutex_lock(&seen_mu);
    for (size_t i = 0; i < SEEN; i++) {
        if (seen[i].at != 0 && now - seen[i].at < 3600 && strcmp(seen[i].key, key) == 0) {
            fresh = 0;
            break;
        }
    }
    if (fresh) {
        snprintf(seen[seen_next].key, sizeof(seen[seen_next].key), "%s", key);
        seen[seen_next].at = now;
        seen_next = (seen_next + 1) % SEEN;
    }
    pthread_mutex_unlock(&seen_mu);
    return fresh;
}

enum cu_err
cu_audit_alerts_scan(struct cu_svc *s, const char *tenant)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    CU_TRY(cu_tx_begin(s->db, tenant, &tx));
    struct cu_db_result *r = NULL;
    CU_TRY(cu_store_audit_alerts(tx, tenant, CU_ALERT_BASELINE_HOURS, CU_ALERT_MIN_REVEALS,
                                 CU_ALERT_FACTOR, arena, &r));
    struct cu_db_result *rl = NULL;
    CU_TRY(cu_store_audit_rate_alerts(tx, tenant, CU_ALERT_MIN_RATE_LIMITED, arena, &rl));
    cu_tx_abort(&tx); /* read only: no COMMIT for a pass that changes nothing */
    for (int i = 0; i < cu_res_rows(rl); i++) {
        const char *principal = cu_res_text(rl, i, CU_COL_RATE_ALERT_PRINCIPAL);
        /* a key of its own, so that a principal can have both alerts in one hour */
        char key[96];
        snprintf(key, sizeof(key), "rate:%s", tenant);
        if (!first_in_hour(key, principal)) {
            continue;
        }
        cu_metrics_count("audit_alerts_raised", 1);
        cu_log(CU_LOG_WARN, "principal refused by rate limits", "tenant", tenant, "principal",
               principal, "refusals_last_hour", cu_res_text(rl, i, CU_COL_RATE_ALERT_REFUSALS),
               "actions", cu_res_text(rl, i, CU_COL_RATE_ALERT_ACTIONS), NULL);
    }
    for (int i = 0; i < cu_res_rows(r); i++) {
        const char *principal = cu_res_text(r, i, CU_COL_ALERT_PRINCIPAL);
        if (!first_in_hour(tenant, principal)) {
            continue;
        }
        cu_metrics_count("audit_alerts_raised", 1);
        cu_log(CU_LOG_WARN, "reveal rate far above the principal's baseline", "tenant", tenant,
               "principal", principal, "reveals_last_hour", cu_res_text(r, i, CU_COL_ALERT_REVEALS),
               "baseline_per_hour", cu_res_text(r, i, CU_COL_ALERT_BASELINE), NULL);
    }
out:
    cu_tx_abort(&tx);
    cu_arena_free(arena);
    return rc;
}
