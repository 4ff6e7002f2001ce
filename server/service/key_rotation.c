/* Key rotation: a new tenant KEK version (data keys re-wrapped at once), the background re-wrap
 * of subject keys and destruction of retired versions, and the rotation of the root key. */
#include "service/keyring.h"

#include "service/keyring_internal.h"

#include "core/log.h"
#include "crypto/keycache.h"
#include "crypto/keys.h"
#include "storage/keystore.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- rotation ---- */

enum cu_err
cu_keyring_rotate(struct cu_keyring *kr, struct cu_tx *tx, const char *tenant, int *version)
{
    struct cu_secret *old_kek = NULL;
    struct cu_secret *new_kek = NULL;
    struct cu_secret *tdk = NULL;
    uint8_t *wrapped = NULL;
    size_t len = 0;
    int current = 0;
    enum cu_err rc = CU_OK;
    char aad[160];
    /* an exclusive lock: writers creating subject keys under the old version finish first */
    char inc[CU_INC_LEN];
    CU_TRY(cu_store_tenant_lock_kek(tx, tenant, 1, &current, inc));
    int next = current + 1;
    CU_TRY(cu_keyring_root_sync(kr, tx, CU_KCV_SHARE, NULL));
    CU_TRY(cu_key_generate(32, &new_kek));
    cu_keyring_kek_aad(aad, sizeof(aad), tenant, next);
    CU_TRY(cu_keyring_root_wrap(kr, aad, new_kek, &wrapped, &len));
    CU_TRY(cu_store_kek_add(tx, tenant, next, wrapped, len));
    free(wrapped);
    wrapped = NULL;
    for (int i = 0; i < 4; i++) {
        struct cu_arena *arena = cu_arena_new();
        uint8_t *w = NULL;
        size_t wl = 0;
        int kv = 0;
        rc = cu_store_tdk_get(tx, tenant, cu_tkey_names[i], arena, &kv, &w, &wl);
        if (rc == CU_OK) {
            cu_secret_free(old_kek);
            old_kek = NULL;
            rc = cu_keyring_kek(kr, tx, tenant, inc, kv, &old_kek);
        }
        if (rc == CU_OK) {
            cu_keyring_tdk_aad(aad, sizeof(aad), tenant, cu_tkey_names[i], kv);
            rc = cu_key_unwrap(old_kek, aad, w, wl, &tdk);
        }
        cu_arena_free(arena);
        CU_TRY(rc);
        cu_keyring_tdk_aad(aad, sizeof(aad), tenant, cu_tkey_names[i], next);
        CU_TRY(cu_key_wrap(new_kek, aad, tdk, &wrapped, &len));
        CU_TRY(cu_store_tdk_rewrap(tx, tenant, cu_tkey_names[i], next, wrapped, len));
        free(wrapped);
        wrapped = NULL;
        cu_secret_free(tdk);
        tdk = NULL;
    }
    *version = next;
out:
    cu_secret_free(old_kek);
    cu_secret_free(new_kek);
    cu_secret_free(tdk);
    free(wrapped);
    return rc;
}

enum cu_err
cu_keyring_rewrap(struct cu_keyring *kr, struct cu_db *db, const char *tenant, int limit,
                  int *rewrapped, int *destroyed)
{
    *rewrapped = 0;
    *destroyed = 0;
    struct cu_tx *tx = NULL;
    struct cu_arena *arena = cu_arena_new();
    struct cu_secret *new_kek = NULL;
    struct cu_secret *old_kek = NULL;
    struct cu_secret *key = NULL;
    uint8_t *wrapped = NULL;
    enum cu_err rc = CU_OK;
    int current = 0;
    CU_TRY(cu_tx_begin(db, tenant, &tx));
    /* exclusive: destruction below must not race a writer still wrapping under an old version */
    char inc[CU_INC_LEN];
    CU_TRY(cu_store_tenant_lock_kek(tx, tenant, 1, &current, inc));
    struct cu_db_result *r = NULL;
    CU_TRY(cu_store_subject_keys_stale(tx, tenant, current, limit, arena, &r));
    if (cu_res_rows(r) > 0) {
        CU_TRY(cu_keyring_kek(kr, tx, tenant, inc, current, &new_kek));
    }
    int old_version = -1;
    for (int i = 0; i < cu_res_rows(r); i++) {
        const char *subject = cu_res_text(r, i, CU_COL_SK_SUBJECT_ID);
        int version = (int)cu_res_int(r, i, CU_COL_SK_VERSION);
        int kv = (int)cu_res_int(r, i, CU_COL_SK_KEK_VERSION);
        uint8_t *w = NULL;
        size_t wl = 0;
        CU_TRY(cu_res_bytea(r, i, CU_COL_SK_WRAPPED, arena, &w, &wl));
        if (kv != old_version) {
            cu_secret_free(old_kek);
            old_kek = NULL;
            CU_TRY(cu_keyring_kek(kr, tx, tenant, inc, kv, &old_kek));
            old_version = kv;
        }
        char *aad = NULL;
        cu_keyring_sk_aad(arena, &aad, tenant, subject, version, kv);
        CU_TRY(cu_key_unwrap(old_kek, aad, w, wl, &key));
        cu_keyring_sk_aad(arena, &aad, tenant, subject, version, current);
        size_t len = 0;
        CU_TRY(cu_key_wrap(new_kek, aad, key, &wrapped, &len));
        CU_TRY(cu_store_subject_key_rewrap(tx, tenant, subject, version, current, wrapped, len));
        free(wrapped);
        wrapped = NULL;
        cu_secret_free(key);
        key = NULL;
        (*rewrapped)++;
    }
    CU_TRY(cu_store_kek_destroy_unused(tx, tenant, destroyed));
    rc = cu_tx_commit(&tx);
    if (rc == CU_OK && *destroyed > 0) {
        char prefix[160];
        snprintf(prefix, sizeof(prefix), "%s@%s/kek/", tenant, inc);
        cu_keycache_remove_prefix(kr->cache, prefix);
    }
out:
    cu_tx_abort(&tx);
    cu_secret_free(new_kek);
    cu_secret_free(old_kek);
    cu_secret_free(key);
    free(wrapped);
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_keyring_rotate_root(struct cu_keyring *kr, struct cu_db *db, const struct cu_secret *new_root,
                       int *tenants)
{
    *tenants = 0;
    struct cu_tx *tx = NULL;
    struct cu_arena *arena = cu_arena_new();
    struct cu_secret *kek = NULL;
    uint8_t *wrapped = NULL;
    enum cu_err rc = CU_OK;
    uint8_t kcv[32];
    CU_TRY(cu_keyring_verify_root(kr, db));
    CU_TRY(cu_tx_begin(db, NULL, &tx));
    /* first, so that a node creating a tenant or a KEK version under the old root finishes
     * before the KEKs are read, and one that starts later sees the new check value */
    CU_TRY(cu_keyring_root_sync(kr, tx, CU_KCV_UPDATE, NULL));
    const char *after = "";
    for (;;) {
        struct cu_db_result *list = NULL;
        CU_TRY(cu_tx_set_tenant(tx, ""));
        CU_TRY(cu_store_tenant_list(tx, after, 500, arena, &list));
        if (cu_res_rows(list) == 0) {
            break;
        }
        for (int t = 0; t < cu_res_rows(list); t++) {
            const char *tenant = cu_res_text(list, t, CU_COL_TENANT_ID);
            CU_TRY(cu_tx_set_tenant(tx, tenant));
            struct cu_db_result *keks = NULL;
            CU_TRY(cu_store_kek_all(tx, tenant, arena, &keks));
            for (int k = 0; k < cu_res_rows(keks); k++) {
                int version = (int)cu_res_int(keks, k, CU_COL_KEK_VERSION);
                uint8_t *w = NULL;
                size_t wl = 0;
                CU_TRY(cu_res_bytea(keks, k, CU_COL_KEK_WRAPPED, arena, &w, &wl));
                char aad[160];
                cu_keyring_kek_aad(aad, sizeof(aad), tenant, version);
                CU_TRY(cu_keyring_root_unwrap(kr, aad, w, wl, &kek));
                size_t len = 0;
                CU_TRY(cu_key_wrap(new_root, aad, kek, &wrapped, &len));
                CU_TRY(cu_store_kek_rewrap(tx, tenant, version, wrapped, len));
                free(wrapped);
                wrapped = NULL;
                cu_secret_free(kek);
                kek = NULL;
            }
            (*tenants)++;
        }
        after = cu_res_text(list, cu_res_rows(list) - 1, CU_COL_TENANT_ID);
    }
    CU_TRY(cu_tx_set_tenant(tx, ""));
    CU_TRY(cu_key_check_value(new_root, kcv));
    CU_TRY(cu_store_root_kcv_replace(tx, kcv, sizeof(kcv)));
    rc = cu_tx_commit(&tx);
out:
    cu_tx_abort(&tx);
    cu_secret_free(kek);
    free(wrapped);
    cu_wipe(kcv, sizeof(kcv));
    cu_arena_free(arena);
    return rc;
}
