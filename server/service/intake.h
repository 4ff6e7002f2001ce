/* Incoming field values of tokenize and rectify: validated and normalized against the spec,
 * tokenized and indexed, then sealed in batches under their subject's key. Everything lives in
 * the request's arena except the subject keys (cu_intake_free_keys) and the JSON it builds. */
#ifndef CU_SERVICE_INTAKE_H
#define CU_SERVICE_INTAKE_H

#include "service/keyring.h"
#include "service/seal.h"
#include "service/spec.h"
#include "service/vault.h"

#include <jansson.h>
#include <stdint.h>

/* One field value of an incoming record, validated and tokenized. */
struct cu_in_value {
    const struct cu_field_spec *f;
    char *norm; /* arena, wiped with it */
    size_t len;
    char *token;
    int has_index;
    uint8_t index[32];
    int reserved; /* the token's name is already in token_names (cu_intake_reserve) */
};

/* One incoming record; ok = 0 once a problem is found (errors: its per-item problems). */
struct cu_in_record {
    const char *subject;
    char id[40];
    struct cu_in_value *values;
    size_t nvalues;
    int ok;
    json_t *errors;
};

/* Adds the problem {"/records/<i><sub>", detail} to r (detail borrowed) and marks it not ok. */
void cu_in_problem(struct cu_in_record *r, struct cu_arena *arena, size_t i, const char *sub,
                   const char *detail);
/* Validates and normalizes the fields object (borrowed) of record index against the spec into
 * r->values; computes tokens and blind indexes. require_all: required fields must be there. */
void cu_intake_fields(struct cu_in_record *r, size_t index, json_t *fields,
                      const struct cu_coll_spec *spec, const struct cu_tenant_keys *keys,
                      const char *tenant, int require_all, struct cu_arena *arena);
/* The subject keys of the ok records (created for subjects that have none), sorted by subject;
 * *out is the caller's (cu_intake_free_keys). plan: NULL, or the keys are only read and made,
 * and plan gets the writes for a group-committed unit (cu_keyring_subject_keys_plan). */
enum cu_err cu_intake_subject_keys(struct cu_svc *s, struct cu_tx *tx, const char *tenant,
                                   const char *inc, struct cu_in_record *recs, size_t n,
                                   struct cu_subject_key_plan *plan,
                                   struct cu_subject_key_req **out, size_t *nout) CU_WUR;
void cu_intake_free_keys(struct cu_subject_key_req *reqs, size_t n);
/* Seals every value of the ok records and appends them to values (and, when not NULL, their
 * tokens to tokens): JSON arrays for the storage batch statements. */
enum cu_err cu_intake_seal(struct cu_in_record *recs, size_t n, struct cu_subject_key_req *reqs,
                           size_t nreqs, const char *tenant, const char *collection,
                           struct cu_arena *arena, json_t *values, json_t *tokens) CU_WUR;
/* Runs fn on the JSON text of batch (borrowed) in tx; nothing when it is empty. */
enum cu_err cu_intake_exec(struct cu_tx *tx, const char *tenant, json_t *batch,
                           enum cu_err (*fn)(struct cu_tx *, const char *, const char *)) CU_WUR;

/* Reserves in tx the names of the random format-preserving tokens of the ok records, drawing
 * a new token for each one already taken (issued before in the tenant, even to a deleted
 * record, or drawn twice in this batch), until each has a free one. CU_ERR_CONFLICT with a
 * public detail when one finds none in 16 draws (its field's token space for the value's kept
 * digits is nearly full). */
enum cu_err cu_intake_reserve(struct cu_tx *tx, const char *tenant, const char *collection,
                              const struct cu_tenant_keys *keys, struct cu_in_record *recs,
                              size_t n, struct cu_arena *arena) CU_WUR;

/* Tokenize (cu_records_create) with a hook: fn runs in the records' transaction after they are
 * written and before COMMIT, with the id of the first stored record; its error rolls everything
 * back and is returned. For a caller whose own state change must commit with the records (a
 * capture session, service/capture.c). */
struct cu_records_hook {
    enum cu_err (*fn)(struct cu_tx *tx, void *ctx, const char *record_id);
    void *ctx;
};
enum cu_err cu_records_create_hooked(struct cu_svc *s, const struct cu_actor *a,
                                     const char *collection, json_t *body,
                                     const struct cu_idem *idem, const struct cu_records_hook *hook,
                                     struct cu_problems *problems, enum cu_outcome *outcome,
                                     json_t **out) CU_WUR;

#endif
