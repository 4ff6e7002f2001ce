/* Reports over the audit trail (audit_report.c): what one principal was shown (the exposure
 * report a GDPR Art. 33/34 breach notification needs) and reveal-rate anomalies.
 *
 * Anomaly rule: for each principal, R = its allowed reveals (detokenize items and record reads,
 * any level) in the last hour, B = its mean reveals per hour over the CU_ALERT_BASELINE_HOURS
 * before that hour. An alert is raised when R >= CU_ALERT_MIN_REVEALS and R > CU_ALERT_FACTOR
 * x B (a principal with no history is held to the minimum alone). */
#ifndef CU_SERVICE_AUDIT_REPORT_H
#define CU_SERVICE_AUDIT_REPORT_H

#include "service/svc.h"
#include "service/vault.h"

#include <jansson.h>

enum {
    CU_ALERT_BASELINE_HOURS = 168, /* a week */
    CU_ALERT_MIN_REVEALS = 20,
    CU_ALERT_FACTOR = 5,
    CU_EXPOSURE_MAX_ROWS = 100000,
    /* rate-limit rule: a principal refused by a rate limit this often in the last hour (limits
     * sit above honest use, so one refusal is worth a look) */
    CU_ALERT_MIN_RATE_LIMITED = 1,
};

/* {"principal","from","to","plain":[row],"masked":[row],"truncated":bool} with row =
 * {"subject_id","collection","field","count","first","last"}. principal required; from/to
 * RFC 3339 or NULL. CU_ERR_BAD_REQUEST with problems for malformed parameters. Audited
 * (audit.exposure). */
enum cu_err cu_audit_exposure(struct cu_svc *s, const struct cu_actor *a, const char *principal,
                              const char *from, const char *to, struct cu_problems *problems,
                              json_t **out) CU_WUR;

/* {"alerts":[{"type":"reveal_rate","principal","reveals","baseline_per_hour","from","to"},
 * {"type":"rate_limited","principal","refusals","actions":[...],"from","to"}],
 * "rule":{...},"rate_limit_rule":{...}} for the actor's tenant, evaluated now. Audited
 * (audit.alerts). */
enum cu_err cu_audit_alerts(struct cu_svc *s, const struct cu_actor *a, json_t **out) CU_WUR;

/* The background check of one tenant (the sweep): logs each alert (principal and counts, never
 * a value) and counts it in the alerts_raised metric, once per principal and hour in this
 * process. */
enum cu_err cu_audit_alerts_scan(struct cu_svc *s, const char *tenant) CU_WUR;

/* RFC 3339 with a zone (what PostgreSQL is given as a time filter). */
int cu_audit_time_ok(const char *s);

#endif
