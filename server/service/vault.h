/* The vault's use cases: collections, purposes, records and tokens. No HTTP here: each takes the
 * acting principal, validates, runs one transaction (audit entry included: if it cannot be
 * written the operation fails), and returns JSON. Invariant: no value, plain or masked, ever
 * reaches a log line, an error text or an audit entry. One file per use case: collections.c,
 * purpose.c, tokenize.c, records.c (read, rectify, delete), search.c, detokenize.c, audit.c
 * (denials). */
#ifndef CU_SERVICE_VAULT_H
#define CU_SERVICE_VAULT_H

#include "auth/scope.h"
#include "service/svc.h"

/* Records and tokens per request, at most. */
enum { CU_MAX_BATCH = 1000 };
/* Field values in one tokenize (records x fields): what one write completes well within the
 * default statement deadline (CUSTOS_DB_TIMEOUT_MS, 3 s) on the reference machine; 1,000
 * records x 64 fields took 7 to 12 s there (issue 14 item 6). */
enum { CU_MAX_BATCH_VALUES = 8000 };

/* Who acts: from the verified token only. */
struct cu_actor {
    const char *tenant;
    const char *principal;
    const char *const *scopes;
    size_t nscopes;
    const char *request_id;
    /* the token's `roles` claim (their scopes are in scopes once the dispatcher expanded them;
     * a reveal reads them with its facts) and whether its `amr` holds "mfa" */
    const char *const *roles;
    size_t nroles;
    int mfa;
};

/* An Idempotency-Key and what it stands for (SHA-256 of method, path and body). key NULL: none. */
struct cu_idem {
    const char *key;
    uint8_t hash[32];
};

/* Collections (tenant:admin). body: {"fields":{name:{type,tokenization,searchable,required}},
 * "retention_days":N}. *outcome: CU_OUTCOME_CREATED or CU_OUTCOME_DONE (replaced).
 * CU_ERR_INVALID + problems; CU_ERR_CONFLICT when a field's type, kind or searchability would
 * change (or a field go) while the collection holds data. */
enum cu_err cu_collection_put(struct cu_svc *s, const struct cu_actor *a, const char *name,
                              json_t *body, struct cu_problems *problems, json_t **out,
                              enum cu_outcome *outcome) CU_WUR;
enum cu_err cu_collection_get(struct cu_svc *s, const struct cu_actor *a, const char *name,
                              json_t **out) CU_WUR;
enum cu_err cu_collection_list(struct cu_svc *s, const struct cu_actor *a, const char *cursor,
                               int limit, json_t **out) CU_WUR;

/* Purposes (tenant:admin). body: {"description","lawful_basis"}. *outcome as for collections. */
enum cu_err cu_purpose_put(struct cu_svc *s, const struct cu_actor *a, const char *name,
                           json_t *body, struct cu_problems *problems, json_t **out,
                           enum cu_outcome *outcome) CU_WUR;
enum cu_err cu_purpose_get(struct cu_svc *s, const struct cu_actor *a, const char *name,
                           json_t **out) CU_WUR;
enum cu_err cu_purpose_list(struct cu_svc *s, const struct cu_actor *a, const char *cursor,
                            int limit, json_t **out) CU_WUR;

/* Tokenize (records:write): body {"records":[{"subject_id","fields":{...}}]} with 1..1000
 * records. Valid records are stored in one transaction; invalid ones get a per-item error.
 * *outcome: CU_OUTCOME_CREATED (all stored) or CU_OUTCOME_PARTIAL (some refused); none stored
 * is CU_ERR_INVALID with problems set.
 * idem: a retry with the same key and hash returns the first answer (*outcome and *out); the
 * same key with another request → CU_ERR_CONFLICT. */
enum cu_err cu_records_create(struct cu_svc *s, const struct cu_actor *a, const char *collection,
                              json_t *body, const struct cu_idem *idem,
                              struct cu_problems *problems, enum cu_outcome *outcome,
                              json_t **out) CU_WUR;

/* Reads one record's fields at the lower of asked and granted level, for purpose.
 * fields: comma-separated filter or NULL. CU_ERR_NOT_FOUND, CU_ERR_GONE, CU_ERR_FORBIDDEN
 * (no field granted), CU_ERR_BAD_REQUEST / CU_ERR_FORBIDDEN for the purpose. */
enum cu_err cu_record_read(struct cu_svc *s, const struct cu_actor *a, const char *collection,
                           const char *id, const char *purpose, enum cu_level asked,
                           const char *fields, json_t **out) CU_WUR;
/* Rectify (records:write): body {"fields":{...}}. */
enum cu_err cu_record_rectify(struct cu_svc *s, const struct cu_actor *a, const char *collection,
                              const char *id, json_t *body, struct cu_problems *problems,
                              json_t **out) CU_WUR;
/* Delete (records:delete): its tokens answer 410 afterwards. */
enum cu_err cu_record_delete(struct cu_svc *s, const struct cu_actor *a, const char *collection,
                             const char *id) CU_WUR;
/* Search (records:search): body {"field","value"} on a searchable field. */
enum cu_err cu_records_search(struct cu_svc *s, const struct cu_actor *a, const char *collection,
                              json_t *body, struct cu_problems *problems, json_t **out) CU_WUR;

/* Detokenize: body {"tokens":[1..1000],"redaction"}; per-item results. */
enum cu_err cu_detokenize(struct cu_svc *s, const struct cu_actor *a, const char *purpose,
                          json_t *body, struct cu_problems *problems, json_t **out) CU_WUR;

/* Records a denied request (whole-request 403/423) in the audit trail, in its own transaction.
 * collection: the raw path segment (borrowed, may be NULL); stored only when it is a valid
 * collection name, never otherwise (it could hold a value). Best effort: the request is refused
 * either way. */
void cu_audit_denial(struct cu_svc *s, const struct cu_actor *a, const char *action,
                     const char *collection);

#endif
