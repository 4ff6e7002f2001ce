/* Pieces shared by the vault's use cases: collection specs, value sealing, tokens, blind
 * indexes, purposes, per-item errors and audit entries. Internal to service/. */
#ifndef CU_SERVICE_VAULT_INTERNAL_H
#define CU_SERVICE_VAULT_INTERNAL_H

#include "crypto/secret.h"
#include "service/value.h"
#include "service/vault.h"
#include "storage/db.h"

enum cu_tokkind { CU_TOK_RANDOM, CU_TOK_DETERMINISTIC, CU_TOK_FPE };

struct cu_field_spec {
    const char *name;
    enum cu_ftype type;
    enum cu_tokkind kind;
    int searchable;
    int required;
};

struct cu_coll_spec {
    const char *name;
    struct cu_field_spec *fields;
    size_t nfields;
    int retention_days; /* 0: none */
    int has_data;
    const char *created_at;
    const char *updated_at;
    const char *inc; /* the tenant's incarnation, for key cache ids */
};

enum { CU_MAX_FIELDS = 64, CU_MAX_BATCH = 1000 };

/* [a-z][a-z0-9_]{0,62}: collection and field names. */
int cu_ident_ok(const char *s);
/* [a-z][a-z0-9_-]{0,62}: purpose names. */
int cu_purpose_name_ok(const char *s);
/* Subject ids: 1..128 of [A-Za-z0-9._:@+-]. */
int cu_subject_id_ok(const char *s);
/* Record ids as the vault issues them: "rec_" + 32 hex. */
int cu_record_id_ok(const char *s);

/* Parses a collection's "fields" object; problems under pointer "/fields/<name>/...". */
enum cu_err cu_spec_parse(json_t *fields, struct cu_arena *arena, struct cu_coll_spec *out,
                          struct cu_problems *problems) CU_WUR;
/* Loads a collection's spec; CU_ERR_NOT_FOUND when there is none. */
enum cu_spec_lock { CU_SPEC_READ = 0, CU_SPEC_WRITE = -1, CU_SPEC_CHANGE = 1 };
enum cu_err cu_spec_load(struct cu_tx *tx, const char *tenant, const char *name,
                         enum cu_spec_lock lock, struct cu_arena *arena,
                         struct cu_coll_spec *out) CU_WUR;
const struct cu_field_spec *cu_spec_field(const struct cu_coll_spec *spec, const char *name);
json_t *cu_spec_json(const struct cu_coll_spec *spec);
const char *cu_tokkind_name(enum cu_tokkind k);

/* The per-tenant keys a batch may need, loaded once per request. */
struct cu_tenant_keys {
    struct cu_secret *index;
    struct cu_secret *token;
    struct cu_secret *ff1;
};
enum cu_err cu_tenant_keys_load(struct cu_svc *s, struct cu_tx *tx, const char *tenant,
                                const struct cu_coll_spec *spec, struct cu_tenant_keys *k) CU_WUR;
void cu_tenant_keys_cleanup(struct cu_tenant_keys *k);

/* AES-256-GCM of a normalized value under a subject key; AAD binds tenant, collection, record,
 * field and key version. *hex: the sealed bytes in hex (arena). */
enum cu_err cu_value_seal(const struct cu_secret *key, const char *tenant, const char *collection,
                          const char *record_id, const char *field, int key_version,
                          const char *pt, size_t len, struct cu_arena *arena, char **hex) CU_WUR;
/* The inverse; CU_ERR_CRYPTO when it does not open (moved, tampered): *pt stays NULL. */
enum cu_err cu_value_open(const struct cu_secret *key, const char *tenant, const char *collection,
                          const char *record_id, const char *field, int key_version,
                          const uint8_t *ct, size_t ct_len, struct cu_arena *arena, char **pt,
                          size_t *len) CU_WUR;
/* The token of a field value by the field's kind. CU_ERR_INVALID with *problem when a
 * format-preserving token cannot be made for it (a card under 13 digits). */
enum cu_err cu_value_token(const struct cu_field_spec *f, const struct cu_tenant_keys *k,
                           const char *tenant, const char *collection, const char *normalized,
                           size_t len, struct cu_arena *arena, char **token,
                           const char **problem) CU_WUR;
/* HMAC-SHA-256 blind index of a normalized value, hex (arena). */
enum cu_err cu_value_blind_index(const struct cu_tenant_keys *k, const char *collection,
                                 const char *field, const char *normalized, size_t len,
                                 uint8_t out[32]) CU_WUR;

/* X-Purpose: 400 when missing, 403 when undeclared. *basis: its lawful basis (arena). */
enum cu_err cu_purpose_check(struct cu_tx *tx, const char *tenant, const char *purpose,
                             struct cu_arena *arena, const char **basis) CU_WUR;

/* Idempotency in tx: the tenant's keys, or the platform's (per principal) when tenant is NULL
 * (the transaction must then see platform rows). *hit = 1 with *status and *out (new reference)
 * for a replay; CU_ERR_CONFLICT when the key stood for another request. */
enum cu_err cu_idem_check(struct cu_tx *tx, const char *tenant, const char *principal,
                          const struct cu_idem *k, int *hit, int *status, json_t **out) CU_WUR;
/* Remembers the answer to the key's request in tx. */
enum cu_err cu_idem_store(struct cu_tx *tx, const char *tenant, const char *principal,
                          const struct cu_idem *k, int status, json_t *answer) CU_WUR;

/* Counts a reveal at level in the metrics (reveals_plain, reveals_masked, ...). */
void cu_count_reveal(enum cu_level level);

/* A per-item problem object {"type","title","status","detail"[,"errors"]}. errors stolen. */
json_t *cu_item_error(enum cu_err e, const char *detail, json_t *errors);

/* An audit entry (no values, ever); fields may be NULL (stolen otherwise). */
json_t *cu_audit_entry(const struct cu_actor *a, const char *action, const char *collection,
                       json_t *fields, const char *record_id, const char *subject_id,
                       const char *purpose, const char *redaction, const char *outcome);
/* Appends entries (a JSON array, always stolen, also on failure) in tx; any failure fails the
 * caller's operation. */
enum cu_err cu_audit_write(struct cu_tx *tx, const char *tenant, json_t *entries) CU_WUR;
/* The same as the transaction's last statement: it commits (one round trip for both) and, like
 * cu_tx_commit, consumes *tx (always ends it and sets it to NULL). */
enum cu_err cu_audit_write_commit(struct cu_tx **tx, const char *tenant, json_t *entries) CU_WUR;

#endif
