/* The gates on a data subject's data (issue 11 items 5, 6, 9): restriction of processing
 * (GDPR Art. 18), the consent ledger, the decision every read of the subject's data passes, and
 * the record of processing (Art. 30).
 *
 * Rules. A restricted subject's data is read only for a purpose whose lawful basis is
 * legal_obligation (else CU_ERR_LOCKED, 423). A purpose whose lawful basis is consent reads only
 * subjects whose latest consent event for it is a grant (else CU_ERR_FORBIDDEN, 403). The facts
 * are read in the reading transaction (the reveal: one step of cu_store_reveal's pipeline), never
 * cached, so a withdrawal or restriction takes effect on the next read on every node.
 * The consent ledger is append-only (migration 0014's trigger): history is never rewritten, a
 * withdrawal is a new event. It holds ids, statuses, sources and the evidence reference, never a
 * value of the subject.
 *
 * Two kinds of functions: those taking a transaction (cu_restriction_set, ...) work inside the
 * caller's transaction and write their audit entry there (the DSR workflow and the export call
 * them); those taking the service (cu_gates_*_api) are the HTTP use cases, one transaction each. */
#ifndef CU_SERVICE_GATES_H
#define CU_SERVICE_GATES_H

#include "service/vault.h"
#include "storage/db.h"

#include <jansson.h>

/* ---- in the caller's transaction ---- */

/* Restricts subject (reason borrowed, may be NULL: ""); audited (restriction.set). *out (may be
 * NULL): {"subject_id","restricted":true,"reason","since","by"} (new reference); *created = 1
 * when it was placed now, 0 when it stood already. */
enum cu_err cu_restriction_set(struct cu_tx *tx, const struct cu_actor *a, const char *subject,
                               const char *reason, int *created, json_t **out) CU_WUR;
/* Lifts it; audited (restriction.clear). *lifted = 0 when none stood (not an error). */
enum cu_err cu_restriction_clear(struct cu_tx *tx, const struct cu_actor *a, const char *subject,
                                 int *lifted) CU_WUR;
/* 1 in *restricted when the subject is restricted. Not audited (a fact for the caller's own
 * decision, which it audits). */
enum cu_err cu_restriction_get(struct cu_tx *tx, const char *tenant, const char *subject,
                               int *restricted) CU_WUR;

/* Appends a consent event: status "granted" or "withdrawn", source "ivr", "agent", "web" or
 * "dsr", evidence (may be NULL) at most CU_CONSENT_EVIDENCE_MAX bytes of printable text. All
 * borrowed. CU_ERR_NOT_FOUND (public detail) when purpose is not a declared purpose of the
 * tenant, CU_ERR_INVALID for a bad status, source or evidence. Audited (consent.put, with the
 * purpose). *out (may be NULL): the event {"seq","subject_id","purpose","status","source",
 * "evidence","principal","recorded_at"}. */
enum { CU_CONSENT_EVIDENCE_MAX = 1000 };
enum cu_err cu_consent_record(struct cu_tx *tx, const struct cu_actor *a, const char *subject,
                              const char *purpose, const char *status, const char *source,
                              const char *evidence, json_t **out) CU_WUR;
/* Withdraws every consent the subject currently grants (CCPA opt_out, a DSR): one withdrawn
 * event per such purpose, source and evidence as above; audited (consent.withdraw_all, one
 * entry per purpose). *withdrawn: how many. */
enum cu_err cu_consent_withdraw_all(struct cu_tx *tx, const struct cu_actor *a, const char *subject,
                                    const char *source, const char *evidence,
                                    int *withdrawn) CU_WUR;
/* The subject's consents for its export or GET .../consents: {"subject_id","consents":[current
 * event per purpose],"history":[every event, oldest first]} (new reference). At most
 * CU_CONSENT_HISTORY_MAX events of history; "history_truncated":true past it. Not audited (the
 * caller audits its read). */
enum { CU_CONSENT_HISTORY_MAX = 10000 };
enum cu_err cu_consent_subject_json(struct cu_tx *tx, const char *tenant, const char *subject,
                                    json_t **out) CU_WUR;

/* The decision for a read of subject's data for purpose of lawful basis `basis` given the facts
 * (restricted, consented): CU_OK, CU_ERR_LOCKED (restricted, basis not legal_obligation) or
 * CU_ERR_CONSENT (consent basis without a grant: 403, problem type consent-missing). *outcome: the audit outcome ("allowed",
 * "denied_restricted", "denied_consent"); *detail: the public detail (static). */
enum cu_err cu_gate_decide(const char *basis, int restricted, int consented, const char **outcome,
                           const char **detail);
/* 1 when rc is one of cu_gate_decide's refusals (audited as its outcome), 0 for CU_OK and for
 * failures of the reading itself. */
int cu_gate_refused(enum cu_err rc);
/* The same, reading the facts of one subject in tx. */
enum cu_err cu_gate_subject(struct cu_tx *tx, const char *tenant, const char *subject,
                            const char *purpose, const char *basis, const char **outcome,
                            const char **detail);

/* The reveal's facts: the result of the gates step of cu_store_reveal (columns cu_col_gate,
 * ordered by subject_id). Looks subject up; a subject without a row is neither restricted nor
 * consenting: the step returns no row when the tenant has no restriction and the purpose does
 * not rest on consent, and otherwise a row for every subject of the tokens (a subject whose
 * token vanished between the pipeline's statements thus needs no restriction, and fails a
 * consent purpose: closed). */
enum cu_err cu_gate_reveal(const struct cu_db_result *facts, const char *subject, const char *basis,
                           const char **outcome, const char **detail);

/* ---- HTTP use cases, one transaction each ---- */

/* POST /v1/subjects/{sid}/restriction, body {"reason"} optional (NULL body allowed). */
enum cu_err cu_gates_restrict_api(struct cu_svc *s, const struct cu_actor *a, const char *subject,
                                  json_t *body, struct cu_problems *problems, json_t **out,
                                  enum cu_outcome *outcome) CU_WUR;
/* DELETE /v1/subjects/{sid}/restriction: CU_ERR_NOT_FOUND when not restricted. */
enum cu_err cu_gates_unrestrict_api(struct cu_svc *s, const struct cu_actor *a,
                                    const char *subject) CU_WUR;
/* PUT /v1/subjects/{sid}/consents/{purpose}, body {"status","source","evidence"}. */
enum cu_err cu_gates_consent_put_api(struct cu_svc *s, const struct cu_actor *a,
                                     const char *subject, const char *purpose, json_t *body,
                                     struct cu_problems *problems, json_t **out) CU_WUR;
/* GET /v1/subjects/{sid}/consents; audited (consent.list). */
enum cu_err cu_gates_consents_api(struct cu_svc *s, const struct cu_actor *a, const char *subject,
                                  json_t **out) CU_WUR;
/* GET /v1/reports/processing: {"tenant","window_days","purposes":[declared],
 * "collections":[{"collection","data_categories","retention_days","records","subjects",
 * "purposes","accessors"}]}; audited (report.processing). */
enum { CU_REPORT_WINDOW_DAYS = 90 };
enum cu_err cu_gates_processing_report_api(struct cu_svc *s, const struct cu_actor *a,
                                           json_t **out) CU_WUR;

#endif
