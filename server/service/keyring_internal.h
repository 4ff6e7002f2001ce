/* What keyring.c, subject_keys.c and key_rotation.c share, internal to them: the keyring's
 * state, the AAD strings that bind a wrapped key to its owner, and KEK look-up through the
 * cache. Nothing outside those three files includes this (and it includes no service header,
 * so that keyring.h and this stay free of cycles). */
#ifndef CU_SERVICE_KEYRING_INTERNAL_H
#define CU_SERVICE_KEYRING_INTERNAL_H

#include "core/err.h"
#include "core/mem.h"
#include "crypto/keycache.h"
#include "crypto/secret.h"
#include "storage/db.h"
#include "storage/keystore.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct cu_keyring {
    pthread_rwlock_t root_lock; /* read for every use of root and kcv, written to swap them */
    struct cu_secret *root;     /* owned, wiped on free */
    uint8_t kcv[32];            /* root's check value */
    char *root_file;            /* re-read when the stored check value is another key's */
    char *next_file;            /* CUSTOS_ROOT_KEY_NEXT_FILE, or NULL */
    atomic_int rotated;         /* 1: the database's root is another key, no file holds it */
    struct cu_keycache *cache;  /* unwrapped keys, bounded, short TTL */
};

/* Wraps / unwraps with the root key under its read lock (cu_key_wrap / cu_key_unwrap). */
enum cu_err cu_keyring_root_wrap(struct cu_keyring *kr, const char *aad,
                                 const struct cu_secret *key, uint8_t **out,
                                 size_t *out_len) CU_WUR;
enum cu_err cu_keyring_root_unwrap(struct cu_keyring *kr, const char *aad, const uint8_t *in,
                                   size_t in_len, struct cu_secret **out) CU_WUR;
/* Compares the check value stored in the database (read in tx with lock) with this root's; when
 * it is another key's, takes the key from CUSTOS_ROOT_KEY_FILE or CUSTOS_ROOT_KEY_NEXT_FILE
 * that matches it. CU_ERR_UNAVAILABLE ("root key rotated") when neither does; *swapped = 1
 * when the root was replaced (may be NULL). */
enum cu_err cu_keyring_root_sync(struct cu_keyring *kr, struct cu_tx *tx, enum cu_kcv_lock lock,
                                 int *swapped) CU_WUR;

/* The purposes of the tenant data keys, by enum cu_tkey. */
extern const char *const cu_tkey_names[];

/* Seconds of a monotonic clock, for cache expiry. */
uint64_t cu_keyring_now(void);

/* AADs of a wrapped KEK (by the root), tenant data key (by a KEK) and subject key (by a KEK). */
void cu_keyring_kek_aad(char *out, size_t n, const char *tenant, int version);
void cu_keyring_tdk_aad(char *out, size_t n, const char *tenant, const char *purpose,
                        int kek_version);
void cu_keyring_sk_aad(struct cu_arena *arena, char **out, const char *tenant, const char *subject,
                       int version, int kek_version);

/* A KEK version, from the cache when it is there, else read in tx and unwrapped by the root.
 * *out is the caller's. CU_ERR_NOT_FOUND when the version is not usable (destroyed, absent). */
enum cu_err cu_keyring_kek(struct cu_keyring *kr, struct cu_tx *tx, const char *tenant,
                           const char *inc, int version, struct cu_secret **out) CU_WUR;

#endif
