/* The key hierarchy at run time: the root key and its check value, tenant KEKs, a new tenant's
 * keys and the tenant data keys, with a cache of unwrapped keys. AAD strings name what a wrapped
 * key belongs to, so a wrapped key moved to another tenant, subject, purpose or version does not
 * unwrap. Subject keys: subject_keys.c; rotation: key_rotation.c. */
#include "service/keyring.h"

#include "service/keyring_internal.h"

#include "core/log.h"
#include "crypto/keycache.h"
#include "crypto/keys.h"
#include "storage/keystore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const cu_tkey_names[] = {"index", "token", "ff1", "audit"};

uint64_t
cu_keyring_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec;
}

struct cu_keyring *
cu_keyring_new(struct cu_secret *root, size_t cache_entries, int ttl_seconds)
{
    struct cu_keyring *kr = cu_xcalloc(1, sizeof(*kr));
    pthread_rwlock_init(&kr->root_lock, NULL);
    kr->root = root;
    if (cu_key_check_value(root, kr->kcv) != CU_OK) {
        /* all zeros never matches a stored value: the first check says why */
        memset(kr->kcv, 0, sizeof(kr->kcv));
    }
    atomic_init(&kr->rotated, 0);
    kr->cache = cu_keycache_new(cache_entries, (uint64_t)ttl_seconds);
    return kr;
}

void
cu_keyring_set_root_files(struct cu_keyring *kr, const char *root_file, const char *next_file)
{
    free(kr->root_file);
    free(kr->next_file);
    kr->root_file = root_file != NULL ? cu_xstrdup(root_file) : NULL;
    kr->next_file = next_file != NULL && next_file[0] != '\0' ? cu_xstrdup(next_file) : NULL;
}

void
cu_keyring_free(struct cu_keyring *kr)
{
    if (kr == NULL) {
        return;
    }
    cu_keycache_free(kr->cache);
    cu_secret_free(kr->root);
    cu_wipe(kr->kcv, sizeof(kr->kcv));
    pthread_rwlock_destroy(&kr->root_lock);
    free(kr->root_file);
    free(kr->next_file);
    free(kr);
}

/* ---- AAD and cache ids ---- */

void
cu_keyring_kek_aad(char *out, size_t n, const char *tenant, int version)
{
    snprintf(out, n, "custos:kek:v1|%s|%d", tenant, version);
}

void
cu_keyring_tdk_aad(char *out, size_t n, const char *tenant, const char *purpose, int kek_version)
{
    snprintf(out, n, "custos:tdk:v1|%s|%s|%d", tenant, purpose, kek_version);
}

void
cu_keyring_sk_aad(struct cu_arena *arena, char **out, const char *tenant, const char *subject,
                  int version, int kek_version)
{
    *out =
        cu_arena_printf(arena, "custos:sk:v1|%s|%s|%d|%d", tenant, subject, version, kek_version);
}

/* ---- root ---- */

enum cu_err
cu_keyring_root_wrap(struct cu_keyring *kr, const char *aad, const struct cu_secret *key,
                     uint8_t **out, size_t *out_len)
{
    pthread_rwlock_rdlock(&kr->root_lock);
    enum cu_err rc = cu_key_wrap(kr->root, aad, key, out, out_len);
    pthread_rwlock_unlock(&kr->root_lock);
    return rc;
}

enum cu_err
cu_keyring_root_unwrap(struct cu_keyring *kr, const char *aad, const uint8_t *in, size_t in_len,
                       struct cu_secret **out)
{
    pthread_rwlock_rdlock(&kr->root_lock);
    enum cu_err rc = cu_key_unwrap(kr->root, aad, in, in_len, out);
    pthread_rwlock_unlock(&kr->root_lock);
    return rc;
}

/* Whether stored is this root's check value. */
static int
root_matches(struct cu_keyring *kr, const uint8_t *stored, size_t len)
{
    pthread_rwlock_rdlock(&kr->root_lock);
    int same = len == sizeof(kr->kcv) && cu_ct_equal(stored, kr->kcv, sizeof(kr->kcv));
    pthread_rwlock_unlock(&kr->root_lock);
    return same;
}

/* Takes the key of the root file or the next file whose check value is stored: 1 when one
 * was taken (or already is the root). A file that is missing or malformed is passed over. */
static int
adopt(struct cu_keyring *kr, const uint8_t *stored, size_t len)
{
    const char *files[2] = {kr->root_file, kr->next_file};
    for (int i = 0; i < 2; i++) {
        struct cu_secret *key = NULL;
        uint8_t kcv[32];
        if (files[i] == NULL || cu_root_key_load_file(files[i], &key) != CU_OK) {
            continue;
        }
        if (cu_key_check_value(key, kcv) != CU_OK || len != sizeof(kcv) ||
            !cu_ct_equal(stored, kcv, sizeof(kcv))) {
            cu_secret_free(key);
            cu_wipe(kcv, sizeof(kcv));
            continue;
        }
        pthread_rwlock_wrlock(&kr->root_lock);
        struct cu_secret *old = kr->root;
        kr->root = key;
        memcpy(kr->kcv, kcv, sizeof(kcv));
        pthread_rwlock_unlock(&kr->root_lock);
        cu_secret_free(old);
        cu_wipe(kcv, sizeof(kcv));
        /* the unwrapped KEKs in the cache stay right: a rotation re-wraps them, it does not
         * change them */
        cu_log(CU_LOG_INFO, "took the rotated root key", "from",
               i == 0 ? "CUSTOS_ROOT_KEY_FILE" : "CUSTOS_ROOT_KEY_NEXT_FILE", NULL);
        return 1;
    }
    return 0;
}

enum cu_err
cu_keyring_root_sync(struct cu_keyring *kr, struct cu_tx *tx, enum cu_kcv_lock lock, int *swapped)
{
    struct cu_arena *arena = cu_arena_new();
    uint8_t *stored = NULL;
    size_t len = 0;
    int found = 0;
    enum cu_err rc = CU_OK;
    if (swapped != NULL) {
        *swapped = 0;
    }
    CU_TRY(cu_store_root_kcv_locked(tx, lock, arena, &stored, &len, &found));
    CU_CHECK(found, CU_ERR_UNAVAILABLE, "no root key check value stored");
    if (root_matches(kr, stored, len)) {
        atomic_store(&kr->rotated, 0);
        goto out;
    }
    if (adopt(kr, stored, len)) {
        atomic_store(&kr->rotated, 0);
        if (swapped != NULL) {
            *swapped = 1;
        }
        goto out;
    }
    if (atomic_exchange(&kr->rotated, 1) == 0) {
        cu_log(CU_LOG_ERROR,
               "the root key was rotated and neither CUSTOS_ROOT_KEY_FILE nor "
               "CUSTOS_ROOT_KEY_NEXT_FILE holds the new one: not ready until one does",
               NULL);
    }
    cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__, "root key rotated");
    rc = cu_err_public(CU_ERR_UNAVAILABLE, CU_ROOT_ROTATED_DETAIL);
out:
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_keyring_root_check(struct cu_keyring *kr, struct cu_db *db)
{
    struct cu_tx *tx = NULL;
    CU_GUARD(cu_tx_begin(db, NULL, &tx));
    enum cu_err rc = cu_keyring_root_sync(kr, tx, CU_KCV_NO_LOCK, NULL);
    if (rc == CU_OK) {
        rc = cu_tx_commit(&tx);
    }
    cu_tx_abort(&tx);
    return rc;
}

int
cu_keyring_root_rotated(struct cu_keyring *kr)
{
    return atomic_load(&kr->rotated);
}

enum cu_err
cu_keyring_verify_root(struct cu_keyring *kr, struct cu_db *db)
{
    uint8_t kcv[32];
    pthread_rwlock_rdlock(&kr->root_lock);
    memcpy(kcv, kr->kcv, sizeof(kcv));
    pthread_rwlock_unlock(&kr->root_lock);
    struct cu_tx *tx = NULL;
    CU_GUARD(cu_tx_begin(db, NULL, &tx));
    struct cu_arena *arena = cu_arena_new();
    enum cu_err rc = CU_OK;
    uint8_t *stored = NULL;
    size_t len = 0;
    int found = 0;
    CU_TRY(cu_store_root_kcv(tx, arena, &stored, &len, &found));
    if (!found) {
        CU_TRY(cu_store_root_kcv_put(tx, kcv, sizeof(kcv)));
        /* a concurrent first start may have stored another key's value: read it back */
        CU_TRY(cu_store_root_kcv(tx, arena, &stored, &len, &found));
    }
    /* a start during a rotation: the next key may be the one the database has now */
    if (!found || (!root_matches(kr, stored, len) && !adopt(kr, stored, len))) {
        CU_FAIL(CU_ERR_CONFIG, "the root key (CUSTOS_ROOT_KEY_FILE) does not match the key this "
                               "database was created with");
    }
    atomic_store(&kr->rotated, 0);
    rc = cu_tx_commit(&tx);
out:
    cu_tx_abort(&tx);
    cu_arena_free(arena);
    cu_wipe(kcv, sizeof(kcv));
    return rc;
}

/* ---- KEKs ---- */

/* A KEK version, from the cache when it is there: a cached KEK only ever unwraps a subject or
 * data key whose wrapped row the caller has just read, so a destroyed version is never served
 * for data that is gone. */
enum cu_err
cu_keyring_kek(struct cu_keyring *kr, struct cu_tx *tx, const char *tenant, const char *inc,
               int version, struct cu_secret **out)
{
    char id[160];
    snprintf(id, sizeof(id), "%s@%s/kek/%d", tenant, inc, version);
    if (cu_keycache_get(kr->cache, id, cu_keyring_now(), out) == CU_OK) {
        return CU_OK;
    }
    struct cu_arena *arena = cu_arena_new();
    uint8_t *wrapped = NULL;
    size_t len = 0;
    enum cu_err rc = CU_OK;
    CU_TRY(cu_store_kek_get(tx, tenant, version, arena, &wrapped, &len));
    char aad[160];
    cu_keyring_kek_aad(aad, sizeof(aad), tenant, version);
    rc = cu_keyring_root_unwrap(kr, aad, wrapped, len, out);
    if (rc == CU_ERR_CRYPTO) {
        /* the root may have been rotated by another process: take the new one, or say so
         * (503), never "no such key"; then once more whoever swapped it (another thread may
         * have taken the new root between this unwrap and the check) */
        CU_TRY(cu_keyring_root_sync(kr, tx, CU_KCV_NO_LOCK, NULL));
        rc = cu_keyring_root_unwrap(kr, aad, wrapped, len, out);
    }
    CU_TRY(rc);
    if (cu_keycache_put(kr->cache, id, *out, cu_keyring_now()) != CU_OK) {
        cu_log(CU_LOG_WARN, "could not cache a key", NULL);
    }
out:
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_keyring_create_tenant(struct cu_keyring *kr, struct cu_tx *tx, const char *tenant,
                         const char *name)
{
    struct cu_secret *kek = NULL;
    struct cu_secret *tdk = NULL;
    uint8_t *kek_wrapped = NULL;
    size_t kek_len = 0;
    uint8_t *wrapped[4] = {NULL, NULL, NULL, NULL};
    size_t wrapped_len[4] = {0, 0, 0, 0};
    enum cu_err rc = CU_OK;
    char aad[160];

    /* never wrap under a root the database no longer has (another node rotated it) */
    CU_TRY(cu_keyring_root_sync(kr, tx, CU_KCV_SHARE, NULL));
    CU_TRY(cu_key_generate(32, &kek));
    cu_keyring_kek_aad(aad, sizeof(aad), tenant, 1);
    CU_TRY(cu_keyring_root_wrap(kr, aad, kek, &kek_wrapped, &kek_len));
    for (int i = 0; i < 4; i++) {
        CU_TRY(cu_key_generate(32, &tdk));
        cu_keyring_tdk_aad(aad, sizeof(aad), tenant, cu_tkey_names[i], 1);
        CU_TRY(cu_key_wrap(kek, aad, tdk, &wrapped[i], &wrapped_len[i]));
        cu_secret_free(tdk);
        tdk = NULL;
    }
    CU_TRY(cu_store_tenant_insert(tx, tenant, name, kek_wrapped, kek_len,
                                  (const uint8_t *const *)wrapped, wrapped_len));
out:
    cu_secret_free(kek);
    cu_secret_free(tdk);
    free(kek_wrapped);
    for (int i = 0; i < 4; i++) {
        free(wrapped[i]);
    }
    return rc;
}

enum cu_err
cu_keyring_tenant_key(struct cu_keyring *kr, struct cu_tx *tx, const char *tenant, const char *inc,
                      enum cu_tkey which, struct cu_secret **out)
{
    const char *purpose = cu_tkey_names[which];
    /* re-wrapping under a new KEK does not change the key: the id names no KEK version */
    char id[160];
    snprintf(id, sizeof(id), "%s@%s/tdk/%s", tenant, inc, purpose);
    if (cu_keycache_get(kr->cache, id, cu_keyring_now(), out) == CU_OK) {
        return CU_OK;
    }
    struct cu_arena *arena = cu_arena_new();
    struct cu_secret *kek = NULL;
    uint8_t *wrapped = NULL;
    size_t len = 0;
    int kek_version = 0;
    enum cu_err rc = CU_OK;
    CU_TRY(cu_store_tdk_get(tx, tenant, purpose, arena, &kek_version, &wrapped, &len));
    CU_TRY(cu_keyring_kek(kr, tx, tenant, inc, kek_version, &kek));
    char aad[160];
    cu_keyring_tdk_aad(aad, sizeof(aad), tenant, purpose, kek_version);
    CU_TRY(cu_key_unwrap(kek, aad, wrapped, len, out));
    if (cu_keycache_put(kr->cache, id, *out, cu_keyring_now()) != CU_OK) {
        cu_log(CU_LOG_WARN, "could not cache a key", NULL);
    }
out:
    cu_secret_free(kek);
    cu_arena_free(arena);
    return rc;
}

void
cu_keyring_forget_tenant(struct cu_keyring *kr, const char *tenant)
{
    char prefix[80];
    snprintf(prefix, sizeof(prefix), "%s@", tenant);
    cu_keycache_remove_prefix(kr->cache, prefix);
}
