/* The key hierarchy at run time: root key → tenant KEK versions → subject keys and tenant data
 * keys (keyring.c; subject keys: subject_keys.c; rotation: key_rotation.c), with unwrapped keys
 * cached (bounded, short TTL, wiped on eviction) so the hot path does
 * not unwrap per request. Cache ids carry the tenant's incarnation (inc: random at creation).
 * Invariant: customer data is only ever decrypted with a subject key whose wrapped row the same
 * transaction has just read, so data destroyed on another node is unusable here at once. */
#ifndef CU_SERVICE_KEYRING_H
#define CU_SERVICE_KEYRING_H

#include "core/err.h"
#include "core/mem.h"
#include "crypto/secret.h"
#include "storage/db.h"

#include <stdint.h>

/* A subject key is replaced by a new version after this many GCM encryptions, far below the
 * 2^32 limit of SP 800-38D §8.3 for random 96-bit nonces. */
#define CU_SUBJECT_KEY_MAX_ENCRYPTIONS (1LL << 30)

enum cu_tkey { CU_TKEY_INDEX, CU_TKEY_TOKEN, CU_TKEY_FF1, CU_TKEY_AUDIT };

struct cu_keyring;

/* Takes ownership of root. cache_entries/ttl_seconds bound the unwrapped-key cache. */
struct cu_keyring *cu_keyring_new(struct cu_secret *root, size_t cache_entries, int ttl_seconds);
void cu_keyring_free(struct cu_keyring *kr);

/* The files the root key is re-read from when the database's check value changes (a rotation
 * by `custos rotate-root` while this process runs): CUSTOS_ROOT_KEY_FILE and the optional
 * CUSTOS_ROOT_KEY_NEXT_FILE (NULL or "": none). Copied. Call before any other thread runs. */
void cu_keyring_set_root_files(struct cu_keyring *kr, const char *root_file, const char *next_file);

/* The public detail of the 503 while the database's root key is one this process cannot load. */
#define CU_ROOT_ROTATED_DETAIL "not ready: root key rotated, reload"

/* Compares the database's check value with this root's (one short transaction); takes the
 * rotated key from the files when they hold it. CU_OK when the root is current;
 * CU_ERR_UNAVAILABLE (public detail CU_ROOT_ROTATED_DETAIL) when it was rotated and no file
 * holds the new key, or the database cannot be reached. */
enum cu_err cu_keyring_root_check(struct cu_keyring *kr, struct cu_db *db) CU_WUR;
/* 1 while the last check found the root rotated and the new key unavailable. */
int cu_keyring_root_rotated(struct cu_keyring *kr);

/* Compares the root key with the check value stored at first start (storing it if none is).
 * CU_ERR_CONFIG ("the root key does not match...") when it differs: nothing was written;
 * CU_ERR_UNAVAILABLE when the database cannot be reached. */
enum cu_err cu_keyring_verify_root(struct cu_keyring *kr, struct cu_db *db) CU_WUR;

/* Creates a tenant with fresh KEK v1 and data keys. CU_ERR_CONFLICT if it exists. */
enum cu_err cu_keyring_create_tenant(struct cu_keyring *kr, struct cu_tx *tx, const char *tenant,
                                     const char *name) CU_WUR;

/* A tenant data key (index, token, ff1, audit). *out is the caller's; CU_ERR_NOT_FOUND when the
 * tenant or its keys are gone. */
enum cu_err cu_keyring_tenant_key(struct cu_keyring *kr, struct cu_tx *tx, const char *tenant,
                                  const char *inc, enum cu_tkey which,
                                  struct cu_secret **out) CU_WUR;

/* The batch form for a write of many records: reqs sorted by subject, no duplicates; on
 * success each req's key (the caller frees it) and version are set. Existing keys are counted
 * in one statement, missing ones created in another. */
struct cu_subject_key_req {
    const char *subject;
    long long n;
    struct cu_secret *key;
    int version;
};
enum cu_err cu_keyring_subject_keys_for_write(struct cu_keyring *kr, struct cu_tx *tx,
                                              const char *tenant, const char *inc,
                                              struct cu_subject_key_req *reqs, size_t n) CU_WUR;
/* The same for a group-committed write (service/unit_commit.h): nothing is written in tx. The
 * plan's read_keys and read_kek are set by the caller: what it read in one pipeline
 * (cu_store_subject_keys_get_step for the subjects, or more; cu_store_tenant_kek_version_step).
 * The existing keys are taken (not counted), the missing ones made and wrapped under the
 * current KEK; each req's key and version are set as by cu_keyring_subject_keys_for_write. The plan
 * holds the writes for the unit: the fresh keys (insert_json, for cu_store_subject_keys_insert,
 * after the KEK's share lock, cu_store_tenant_lock_kek_step) and the counts of the existing
 * ones (use_json, for cu_store_subject_keys_use); NULL when none. */
struct cu_subject_key_plan {
    const struct cu_db_result *read_keys, *read_kek; /* in: see above */
    int kek_version; /* the KEK the fresh keys are wrapped under */
    char *insert_json; /* heap */
    size_t nfresh;
    char *use_json; /* heap */
    size_t nuse;
    char **ids;               /* the fresh keys' cache ids (NULL for the others) */
    const char *tenant, *inc; /* borrowed */
    struct cu_arena *arena;
};
enum cu_err cu_keyring_subject_keys_plan(struct cu_keyring *kr, struct cu_tx *tx,
                                         const char *tenant, const char *inc,
                                         struct cu_subject_key_req *reqs, size_t n,
                                         struct cu_subject_key_plan *plan) CU_WUR;
/* The unit's check, from the results of those steps (which may hold other units' rows too:
 * merged statements): CU_ERR_CONFLICT when a concurrent write got there first (the KEK rotated, a
 * key created, erased or replaced meanwhile): the caller redoes the write with
 * cu_keyring_subject_keys_for_write. */
enum cu_err cu_keyring_subject_keys_plan_check(const struct cu_subject_key_plan *plan,
                                               const struct cu_subject_key_req *reqs, size_t n,
                                               const struct cu_db_result *lock,
                                               const struct cu_db_result *inserted,
                                               const struct cu_db_result *used) CU_WUR;
/* After the commit: caches the fresh keys (never before: a key that lost a race must never be
 * served from the cache). */
void cu_keyring_subject_keys_plan_done(struct cu_keyring *kr,
                                       const struct cu_subject_key_plan *plan,
                                       const struct cu_subject_key_req *reqs, size_t n);
void cu_keyring_subject_keys_plan_cleanup(struct cu_subject_key_plan *plan);
/* Unwraps a subject key whose wrapped row the caller has just read in tx (a join on
 * subject_keys): a cache hit skips the unwrap. CU_ERR_CRYPTO when it does not unwrap. */
enum cu_err cu_keyring_subject_key_unwrap(struct cu_keyring *kr, struct cu_tx *tx,
                                          const char *tenant, const char *inc, const char *subject,
                                          int version, int kek_version, const uint8_t *wrapped,
                                          size_t len, struct cu_secret **out) CU_WUR;

/* Rotation: a new KEK version becomes current; the tenant's data keys are re-wrapped with it at
 * once; subject keys follow in cu_keyring_rewrap. *version = the new version. */
enum cu_err cu_keyring_rotate(struct cu_keyring *kr, struct cu_tx *tx, const char *tenant,
                              int *version) CU_WUR;
/* Re-wraps up to limit subject keys of tenant wrapped by an older KEK, then destroys retired
 * versions nothing references. Own transaction. *rewrapped = keys done. */
enum cu_err cu_keyring_rewrap(struct cu_keyring *kr, struct cu_db *db, const char *tenant,
                              int limit, int *rewrapped, int *destroyed) CU_WUR;
/* Re-wraps every KEK of every tenant under new_root in one transaction and stores the new
 * check value. The keyring keeps using its own root; running nodes take the new one from their
 * key files (cu_keyring_root_check). Locks the check value first: a tenant or KEK version being
 * made under the old root elsewhere commits before, or waits and then sees the rotation. */
enum cu_err cu_keyring_rotate_root(struct cu_keyring *kr, struct cu_db *db,
                                   const struct cu_secret *new_root, int *tenants) CU_WUR;

/* Drops cached keys of a deleted tenant on this node (other nodes: their entries carry the
 * tenant's incarnation, which a new tenant of the same id does not share, and expire). */
void cu_keyring_forget_tenant(struct cu_keyring *kr, const char *tenant);

#endif
