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
    kr->root = root;
    kr->cache = cu_keycache_new(cache_entries, (uint64_t)ttl_seconds);
    return kr;
}

void
cu_keyring_free(struct cu_keyring *kr)
{
    if (kr == NULL) {
        return;
    }
    cu_keycache_free(kr->cache);
    cu_secret_free(kr->root);
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
cu_keyring_verify_root(struct cu_keyring *kr, struct cu_db *db)
{
    uint8_t kcv[32];
    CU_GUARD(cu_key_check_value(kr->root, kcv));
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
    if (!found || len != sizeof(kcv) || !cu_ct_equal(stored, kcv, sizeof(kcv))) {
        CU_FAIL(CU_ERR_CONFIG, "the root key (CUSTOS_ROOT_KEY_FILE) does not match the key this "
                               "database was created with");
    }
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
    CU_TRY(cu_key_unwrap(kr->root, aad, wrapped, len, out));
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

    CU_TRY(cu_key_generate(32, &kek));
    cu_keyring_kek_aad(aad, sizeof(aad), tenant, 1);
    CU_TRY(cu_key_wrap(kr->root, aad, kek, &kek_wrapped, &kek_len));
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
