/* Data subjects (issue 11): the subject view, the Art. 15/20 export, erasure by crypto-shredding
 * with a receipt, legal holds, the DSR workflow (dsr.c) and the retention sweep (retention.c).
 * No HTTP here. Invariant: no value reaches a log line, an error or an audit entry; audit
 * entries carry ids only. */
#ifndef CU_SERVICE_SUBJECTS_H
#define CU_SERVICE_SUBJECTS_H

#include "core/mem.h"
#include "service/vault.h"

/* GET /v1/subjects/{sid}: every live record of the subject across collections, values masked,
 * for purpose. CU_ERR_NOT_FOUND (no live record), CU_ERR_BAD_REQUEST / CU_ERR_FORBIDDEN for the
 * purpose. *out: {"subject_id","records":[{"collection","id","created_at","fields","tokens"}]}. */
enum cu_err cu_subject_view(struct cu_svc *s, const struct cu_actor *a, const char *subject,
                            const char *purpose, json_t **out) CU_WUR;

/* The export package (GDPR Art. 15 and 20): records in plain, consents with their history,
 * purposes and lawful bases, retention per collection, and who accessed the data when.
 * action: the audit action ("subject.export", "dsr.result"). for_dsr 1: the package of a
 * received access/portability request, which goes to the subject: exempt from restriction
 * (not from consent); 0: a restricted subject → CU_ERR_LOCKED unless the purpose's basis is
 * legal_obligation. csv 0: *out is the JSON package;
 * csv 1: *csv holds one row per value (RFC 4180, formula-safe; the caller cleans it up) and
 * *out is NULL. CU_ERR_NOT_FOUND when the subject has no live record. */
enum cu_err cu_subject_export(struct cu_svc *s, const struct cu_actor *a, const char *action,
                              const char *subject, const char *purpose, int for_dsr, int csv,
                              json_t **out, struct cu_buf *csv_out) CU_WUR;

/* DELETE /v1/subjects/{sid}: under an advisory lock on the subject, refuses a held subject
 * (CU_ERR_CONFLICT; *held_reason, arena, names the hold), else deletes its key rows and values
 * and marks its records deleted (their tokens answer 410), audited, and returns the receipt
 * {"tenant","subject_id","erased_at","records","audit_seq","mac"} in *out. CU_ERR_NOT_FOUND for
 * a subject the tenant never held. held_reason may be NULL. */
enum cu_err cu_subject_erase(struct cu_svc *s, const struct cu_actor *a, const char *action,
                             const char *subject, struct cu_arena *arena,
                             const char **held_reason, json_t **out) CU_WUR;

/* Legal hold: POST {"reason"} places (CU_OUTCOME_CREATED) or replaces (CU_OUTCOME_DONE) it;
 * DELETE lifts it (CU_ERR_NOT_FOUND when none). Audited. */
enum cu_err cu_hold_put(struct cu_svc *s, const struct cu_actor *a, const char *subject,
                        json_t *body, struct cu_problems *problems, enum cu_outcome *outcome,
                        json_t **out) CU_WUR;
enum cu_err cu_hold_delete(struct cu_svc *s, const struct cu_actor *a, const char *subject) CU_WUR;

/* DSR workflow (dsr.c). body {"subject_id","type","regulation"}; now: seconds since the epoch
 * (the caller's clock). */
enum cu_err cu_dsr_create(struct cu_svc *s, const struct cu_actor *a, json_t *body,
                          const struct cu_idem *idem, struct cu_problems *problems,
                          json_t **out) CU_WUR;
enum cu_err cu_dsr_get(struct cu_svc *s, const struct cu_actor *a, const char *id,
                       json_t **out) CU_WUR;
/* status: NULL or a status; overdue: 0/1. CU_ERR_BAD_REQUEST for an unknown status. */
enum cu_err cu_dsr_list(struct cu_svc *s, const struct cu_actor *a, const char *status,
                        int overdue, const char *cursor, int limit, json_t **out) CU_WUR;
/* body {"reason"}: once; CU_ERR_CONFLICT when already extended or no longer open. */
enum cu_err cu_dsr_extend(struct cu_svc *s, const struct cu_actor *a, const char *id,
                          json_t *body, struct cu_problems *problems, json_t **out) CU_WUR;
/* Performs the request: access/portability → completed (result at cu_dsr_result), erasure →
 * completed with the receipt, or blocked with the hold's reason; restriction → the subject is
 * restricted (service/gates.h); opt_out → every consent it grants is withdrawn;
 * rectification → completed (the values are rectified by PATCH); all in the transaction that
 * closes the request. CU_ERR_CONFLICT when it is no longer open. */
enum cu_err cu_dsr_execute(struct cu_svc *s, const struct cu_actor *a, const char *id,
                           json_t *body, struct cu_problems *problems, json_t **out) CU_WUR;
/* The export of a completed access/portability request, made now (nothing in plain is kept
 * at rest); as cu_subject_export. CU_ERR_CONFLICT when not completed, CU_ERR_NOT_FOUND when
 * the request has no result. */
enum cu_err cu_dsr_result(struct cu_svc *s, const struct cu_actor *a, const char *id,
                          const char *purpose, int csv, json_t **out,
                          struct cu_buf *csv_out) CU_WUR;
/* Open requests across every tenant: past due, and due within 7 days (for /metrics); updated by
 * cu_dsr_count_all. */
void cu_dsr_counts(long long *overdue, long long *due_7d);
enum cu_err cu_dsr_count_all(struct cu_svc *s) CU_WUR;

/* Retention (retention.c): one pass over tenant, in batches of batch records (each batch one
 * transaction, audited), until none is left; held subjects are skipped (audited once a day).
 * *erased: records erased. */
enum cu_err cu_retention_sweep(struct cu_svc *s, const char *tenant, int batch,
                               long long *erased) CU_WUR;
/* Every tenant (cu_tenants_each). */
enum cu_err cu_retention_sweep_all(struct cu_svc *s, long long *erased) CU_WUR;

#endif
