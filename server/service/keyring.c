/* Key hierarchy: wrap/unwrap along root → KEK → data keys, with a cache of unwrapped keys.
 * AAD strings name what a wrapped key belongs to, so a wrapped key moved to another tenant,
 * subject, purpose or version does not unwrap. */
#include "service/keyring.h"

#include "core/log.h"
#include "crypto/encode.h"
#include "crypto/hmac.h"
#include "crypto/keycache.h"
#include "crypto/keys.h"
#include "storage/keystore.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const tkey_names[] = {"index", "token", "ff1", "audit"};

struct cu_keyring {
    struct cu_secret *root;
    struct cu_keycache *cache;
};

static uint64_t
now_s(void)
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

static void
kek_aad(char *out, size_t n, const char *tenant, int version)
{
    snprintf(out, n, "custos:kek:v1|%s|%d", tenant, version);
}

static void
tdk_aad(char *out, size_t n, const char *tenant, const char *purpose, int kek_version)
{
    snprintf(out, n, "custos:tdk:v1|%s|%s|%d", tenant, purpose, kek_version);
}

static void
sk_aad(struct cu_arena *arena, char **out, const char *tenant, const char *subject, int version,
       int kek_version)
{
    *out = cu_arena_printf(arena, "custos:sk:v1|%s|%s|%d|%d", tenant, subject, version,
                           kek_version);
}

/* A subject key's cache id: a digest of the subject and of the wrapped key itself (subject
 * ids can be long; and a key created anew for the same subject and version, after an erasure,
 * wraps to other bytes, so it can never be served another key's cache entry). */
static void
sk_cache_id(char *out, size_t n, const char *tenant, const char *inc, const char *subject,
            const uint8_t *wrapped, size_t wrapped_len)
{
    uint8_t len4[4];
    cu_put_be32(len4, (uint32_t)strlen(subject));
    struct cu_sha256_ctx c = {0};
    uint8_t d[CU_SHA256_LEN];
    if (cu_sha256_init(&c) != CU_OK || cu_sha256_update(&c, len4, 4) != CU_OK ||
        cu_sha256_update(&c, subject, strlen(subject)) != CU_OK ||
        cu_sha256_update(&c, wrapped, wrapped_len) != CU_OK || cu_sha256_final(&c, d) != CU_OK) {
        memset(d, 0, sizeof(d));
    }
    cu_sha256_cleanup(&c);
    static const char digits[] = "0123456789abcdef";
    char hex[2 * 20 + 1];
    for (int i = 0; i < 20; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[40] = '\0';
    snprintf(out, n, "%s@%s/s/%s", tenant, inc, hex);
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
static enum cu_err
kek_get(struct cu_keyring *kr, struct cu_tx *tx, const char *tenant, const char *inc,
        int version, struct cu_secret **out)
{
    char id[160];
    snprintf(id, sizeof(id), "%s@%s/kek/%d", tenant, inc, version);
    if (cu_keycache_get(kr->cache, id, now_s(), out) == CU_OK) {
        return CU_OK;
    }
    struct cu_arena *arena = cu_arena_new();
    uint8_t *wrapped = NULL;
    size_t len = 0;
    enum cu_err rc = CU_OK;
    CU_TRY(cu_store_kek_get(tx, tenant, version, arena, &wrapped, &len));
    char aad[160];
    kek_aad(aad, sizeof(aad), tenant, version);
    CU_TRY(cu_key_unwrap(kr->root, aad, wrapped, len, out));
    if (cu_keycache_put(kr->cache, id, *out, now_s()) != CU_OK) {
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
    kek_aad(aad, sizeof(aad), tenant, 1);
    CU_TRY(cu_key_wrap(kr->root, aad, kek, &kek_wrapped, &kek_len));
    for (int i = 0; i < 4; i++) {
        CU_TRY(cu_key_generate(32, &tdk));
        tdk_aad(aad, sizeof(aad), tenant, tkey_names[i], 1);
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
cu_keyring_tenant_key(struct cu_keyring *kr, struct cu_tx *tx, const char *tenant,
                      const char *inc, enum cu_tkey which, struct cu_secret **out)
{
    const char *purpose = tkey_names[which];
    /* re-wrapping under a new KEK does not change the key: the id names no KEK version */
    char id[160];
    snprintf(id, sizeof(id), "%s@%s/tdk/%s", tenant, inc, purpose);
    if (cu_keycache_get(kr->cache, id, now_s(), out) == CU_OK) {
        return CU_OK;
    }
    struct cu_arena *arena = cu_arena_new();
    struct cu_secret *kek = NULL;
    uint8_t *wrapped = NULL;
    size_t len = 0;
    int kek_version = 0;
    enum cu_err rc = CU_OK;
    CU_TRY(cu_store_tdk_get(tx, tenant, purpose, arena, &kek_version, &wrapped, &len));
    CU_TRY(kek_get(kr, tx, tenant, inc, kek_version, &kek));
    char aad[160];
    tdk_aad(aad, sizeof(aad), tenant, purpose, kek_version);
    CU_TRY(cu_key_unwrap(kek, aad, wrapped, len, out));
    if (cu_keycache_put(kr->cache, id, *out, now_s()) != CU_OK) {
        cu_log(CU_LOG_WARN, "could not cache a key", NULL);
    }
out:
    cu_secret_free(kek);
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_keyring_subject_key_unwrap(struct cu_keyring *kr, struct cu_tx *tx, const char *tenant,
                              const char *inc, const char *subject, int version, int kek_version,
                              const uint8_t *wrapped, size_t len, struct cu_secret **out)
{
    char id[200];
    sk_cache_id(id, sizeof(id), tenant, inc, subject, wrapped, len);
    if (cu_keycache_get(kr->cache, id, now_s(), out) == CU_OK) {
        return CU_OK;
    }
    struct cu_arena *arena = cu_arena_new();
    struct cu_secret *kek = NULL;
    enum cu_err rc = CU_OK;
    CU_TRY(kek_get(kr, tx, tenant, inc, kek_version, &kek));
    char *aad = NULL;
    sk_aad(arena, &aad, tenant, subject, version, kek_version);
    CU_TRY(cu_key_unwrap(kek, aad, wrapped, len, out));
    if (cu_keycache_put(kr->cache, id, *out, now_s()) != CU_OK) {
        cu_log(CU_LOG_WARN, "could not cache a key", NULL);
    }
out:
    cu_secret_free(kek);
    cu_arena_free(arena);
    return rc;
}

static struct cu_subject_key_req *
find_req(struct cu_subject_key_req *reqs, size_t n, const char *subject)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(reqs[mid].subject, subject);
        if (c == 0) {
            return &reqs[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

/* Counts n encryptions against the existing keys of the listed subjects (those whose key is
 * not set yet and need == 1) and unwraps them; marks the ones without a key (or over their
 * limit) with version 0 / next version. */
static enum cu_err
use_existing(struct cu_keyring *kr, struct cu_tx *tx, const char *tenant, const char *inc,
             struct cu_subject_key_req *reqs, size_t n, const int *need)
{
    struct cu_arena *arena = cu_arena_new();
    enum cu_err rc = CU_OK;
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        if (need[i]) {
            json_array_append_new(list, json_pack("{s:s, s:I}", "subject_id", reqs[i].subject,
                                                  "n", (json_int_t)reqs[i].n));
        }
    }
    char *js = json_dumps(list, JSON_COMPACT);
    json_decref(list);
    struct cu_db_result *r = NULL;
    CU_TRY(cu_store_subject_keys_use(tx, tenant, js, arena, &r));
    for (int i = 0; i < cu_res_rows(r); i++) {
        struct cu_subject_key_req *q = find_req(reqs, n, cu_res_text(r, i, CU_COL_SK_SUBJECT_ID));
        CU_CHECK(q != NULL, CU_ERR_INTERNAL, "subject key for an unknown subject");
        int version = (int)cu_res_int(r, i, CU_COL_SK_VERSION);
        if (cu_res_int(r, i, CU_COL_SK_ENCRYPTIONS) > CU_SUBJECT_KEY_MAX_ENCRYPTIONS) {
            /* enough under this key: the next version takes the new values */
            q->version = -(version + 1);
            continue;
        }
        uint8_t *wrapped = NULL;
        size_t len = 0;
        CU_TRY(cu_res_bytea(r, i, CU_COL_SK_WRAPPED, arena, &wrapped, &len));
        CU_TRY(cu_keyring_subject_key_unwrap(kr, tx, tenant, inc, q->subject, version,
                                             (int)cu_res_int(r, i, CU_COL_SK_KEK_VERSION), wrapped, len,
                                             &q->key));
        q->version = version;
    }
out:
    free(js);
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_keyring_subject_keys_for_write(struct cu_keyring *kr, struct cu_tx *tx, const char *tenant,
                                  const char *inc, struct cu_subject_key_req *reqs, size_t n)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_secret *kek = NULL;
    struct cu_secret **fresh = cu_xcalloc(n ? n : 1, sizeof(*fresh));
    int *need = cu_xcalloc(n ? n : 1, sizeof(*need));
    char **ids = cu_arena_alloc(arena, (n ? n : 1) * sizeof(*ids));
    char *js = NULL;
    enum cu_err rc = CU_OK;
    for (size_t i = 0; i < n; i++) {
        reqs[i].key = NULL;
        reqs[i].version = 0;
        need[i] = 1;
    }
    CU_TRY(use_existing(kr, tx, tenant, inc, reqs, n, need));

    /* subjects without a usable key: create them in one statement */
    size_t missing = 0;
    for (size_t i = 0; i < n; i++) {
        need[i] = reqs[i].key == NULL;
        missing += (size_t)need[i];
    }
    if (missing == 0) {
        goto out;
    }
    int kek_version = 0;
    CU_TRY(cu_store_tenant_lock_kek(tx, tenant, 0, &kek_version, NULL));
    CU_TRY(kek_get(kr, tx, tenant, inc, kek_version, &kek));
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        if (!need[i]) {
            continue;
        }
        int version = reqs[i].version < 0 ? -reqs[i].version : 1;
        CU_TRY(cu_key_generate(32, &fresh[i]));
        char *aad = NULL;
        sk_aad(arena, &aad, tenant, reqs[i].subject, version, kek_version);
        uint8_t *wrapped = NULL;
        size_t len = 0;
        CU_TRY(cu_key_wrap(kek, aad, fresh[i], &wrapped, &len));
        size_t hex_len = 0;
        char *hex = cu_hex_encode(wrapped, len, &hex_len);
        ids[i] = cu_arena_alloc(arena, 200);
        sk_cache_id(ids[i], 200, tenant, inc, reqs[i].subject, wrapped, len);
        free(wrapped);
        json_array_append_new(list, json_pack("{s:s, s:i, s:i, s:s, s:I}", "subject_id",
                                              reqs[i].subject, "version", version, "kek_version",
                                              kek_version, "wrapped", hex, "n",
                                              (json_int_t)reqs[i].n));
        free(hex);
        reqs[i].version = version;
    }
    js = json_dumps(list, JSON_COMPACT);
    json_decref(list);
    struct cu_db_result *r = NULL;
    CU_TRY(cu_store_subject_keys_insert(tx, tenant, js, arena, &r));
    for (int i = 0; i < cu_res_rows(r); i++) {
        struct cu_subject_key_req *q = find_req(reqs, n, cu_res_text(r, i, CU_COL_SK_SUBJECT_ID));
        CU_CHECK(q != NULL, CU_ERR_INTERNAL, "inserted key for an unknown subject");
        size_t at = (size_t)(q - reqs);
        /* cached only now: a key that lost a race to a concurrent creator must never be
         * served from the cache in place of the one stored */
        if (cu_keycache_put(kr->cache, ids[at], fresh[at], now_s()) != CU_OK) {
            cu_log(CU_LOG_WARN, "could not cache a key", NULL);
        }
        q->key = fresh[at];
        fresh[at] = NULL;
        need[at] = 0;
    }
    /* a concurrent transaction created some of them first: use theirs */
    size_t raced = 0;
    for (size_t i = 0; i < n; i++) {
        if (need[i]) {
            raced++;
            reqs[i].version = 0;
        }
    }
    if (raced > 0) {
        CU_TRY(use_existing(kr, tx, tenant, inc, reqs, n, need));
        for (size_t i = 0; i < n; i++) {
            CU_CHECK(reqs[i].key != NULL, CU_ERR_CONFLICT, "subject key creation raced");
        }
    }
out:
    if (rc != CU_OK) {
        for (size_t i = 0; i < n; i++) {
            cu_secret_free(reqs[i].key);
            reqs[i].key = NULL;
        }
    }
    for (size_t i = 0; i < n; i++) {
        cu_secret_free(fresh[i]);
    }
    free(fresh);
    free(need);
    free(js);
    cu_secret_free(kek);
    cu_arena_free(arena);
    return rc;
}

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
    CU_TRY(cu_key_generate(32, &new_kek));
    kek_aad(aad, sizeof(aad), tenant, next);
    CU_TRY(cu_key_wrap(kr->root, aad, new_kek, &wrapped, &len));
    CU_TRY(cu_store_kek_add(tx, tenant, next, wrapped, len));
    free(wrapped);
    wrapped = NULL;
    for (int i = 0; i < 4; i++) {
        struct cu_arena *arena = cu_arena_new();
        uint8_t *w = NULL;
        size_t wl = 0;
        int kv = 0;
        rc = cu_store_tdk_get(tx, tenant, tkey_names[i], arena, &kv, &w, &wl);
        if (rc == CU_OK) {
            cu_secret_free(old_kek);
            old_kek = NULL;
            rc = kek_get(kr, tx, tenant, inc, kv, &old_kek);
        }
        if (rc == CU_OK) {
            tdk_aad(aad, sizeof(aad), tenant, tkey_names[i], kv);
            rc = cu_key_unwrap(old_kek, aad, w, wl, &tdk);
        }
        cu_arena_free(arena);
        CU_TRY(rc);
        tdk_aad(aad, sizeof(aad), tenant, tkey_names[i], next);
        CU_TRY(cu_key_wrap(new_kek, aad, tdk, &wrapped, &len));
        CU_TRY(cu_store_tdk_rewrap(tx, tenant, tkey_names[i], next, wrapped, len));
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
        CU_TRY(kek_get(kr, tx, tenant, inc, current, &new_kek));
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
            CU_TRY(kek_get(kr, tx, tenant, inc, kv, &old_kek));
            old_version = kv;
        }
        char *aad = NULL;
        sk_aad(arena, &aad, tenant, subject, version, kv);
        CU_TRY(cu_key_unwrap(old_kek, aad, w, wl, &key));
        sk_aad(arena, &aad, tenant, subject, version, current);
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
                kek_aad(aad, sizeof(aad), tenant, version);
                CU_TRY(cu_key_unwrap(kr->root, aad, w, wl, &kek));
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

void
cu_keyring_forget_tenant(struct cu_keyring *kr, const char *tenant)
{
    char prefix[80];
    snprintf(prefix, sizeof(prefix), "%s@", tenant);
    cu_keycache_remove_prefix(kr->cache, prefix);
}
