/* What protects a value at rest and what stands for it outside: the keys, AES-256-GCM seal and
 * open, tokens by kind, blind indexes. Keys are the caller's to free (cu_secret_free,
 * cu_tenant_keys_cleanup); bytes returned are owned by the arena passed in. */
#ifndef CU_SERVICE_SEAL_H
#define CU_SERVICE_SEAL_H

#include "crypto/secret.h"
#include "service/spec.h"
#include "service/svc.h"
#include "storage/db.h"

#include <stdint.h>

/* The per-tenant keys a batch may need (only those its collection's fields use), loaded once
 * per request. */
struct cu_tenant_keys {
    struct cu_secret *index;
    struct cu_secret *token;
    struct cu_secret *ff1;
};
enum cu_err cu_tenant_keys_load(struct cu_svc *s, struct cu_tx *tx, const char *tenant,
                                const struct cu_coll_spec *spec, struct cu_tenant_keys *k) CU_WUR;
void cu_tenant_keys_cleanup(struct cu_tenant_keys *k);

/* The subject key of a value being read, from the wrapped row the caller has just read in tx.
 * Any failure of the keyring (database, missing KEK version, a wrapped key that does not
 * unwrap) is CU_ERR_UNAVAILABLE: the request fails as an outage, never as "not found".
 * *out is the caller's (cu_secret_free). */
enum cu_err cu_subject_key_for_read(struct cu_svc *s, struct cu_tx *tx, const char *tenant,
                                    const char *inc, const char *subject, int version,
                                    int kek_version, const uint8_t *wrapped, size_t len,
                                    struct cu_secret **out) CU_WUR;

/* AES-256-GCM of a normalized value under a subject key; AAD binds tenant, collection, record,
 * field and key version. *hex: the sealed bytes in hex (arena). */
enum cu_err cu_value_seal(const struct cu_secret *key, const char *tenant, const char *collection,
                          const char *record_id, const char *field, int key_version, const char *pt,
                          size_t len, struct cu_arena *arena, char **hex) CU_WUR;
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
/* HMAC-SHA-256 blind index of a value's index form (cu_value_index_form), bound to collection
 * and field. */
enum cu_err cu_value_blind_index(const struct cu_tenant_keys *k, const char *collection,
                                 const char *field, const char *normalized, size_t len,
                                 uint8_t out[32]) CU_WUR;

#endif
