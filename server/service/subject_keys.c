/* Subject keys: one data key per data subject (and version), wrapped by the tenant's KEK.
 * Created here on a subject's first write, counted per encryption and replaced before the GCM
 * limit; unwrapped for reads from the row the caller has just read. */
#include "service/keyring.h"

#include "service/keyring_internal.h"

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

enum cu_err
cu_keyring_subject_key_unwrap(struct cu_keyring *kr, struct cu_tx *tx, const char *tenant,
                              const char *inc, const char *subject, int version, int kek_version,
                              const uint8_t *wrapped, size_t len, struct cu_secret **out)
{
    char id[200];
    sk_cache_id(id, sizeof(id), tenant, inc, subject, wrapped, len);
    if (cu_keycache_get(kr->cache, id, cu_keyring_now(), out) == CU_OK) {
        return CU_OK;
    }
    struct cu_arena *arena = cu_arena_new();
    struct cu_secret *kek = NULL;
    enum cu_err rc = CU_OK;
    CU_TRY(cu_keyring_kek(kr, tx, tenant, inc, kek_version, &kek));
    char *aad = NULL;
    cu_keyring_sk_aad(arena, &aad, tenant, subject, version, kek_version);
    CU_TRY(cu_key_unwrap(kek, aad, wrapped, len, out));
    if (cu_keycache_put(kr->cache, id, *out, cu_keyring_now()) != CU_OK) {
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
 * limit) with version 0 / next version. read: the rows of those keys, read without counting
 * by the caller (a group-committed write counts them, cu_keyring_subject_keys_plan; they may
 * hold other subjects too), or NULL: they are counted here. */
static enum cu_err
use_existing(struct cu_keyring *kr, struct cu_tx *tx, const char *tenant, const char *inc,
             struct cu_subject_key_req *reqs, size_t n, const int *need,
             const struct cu_db_result *read)
{
    struct cu_arena *arena = cu_arena_new();
    enum cu_err rc = CU_OK;
    char *js = NULL;
    const struct cu_db_result *r = read;
    if (read == NULL) {
        json_t *list = json_array();
        for (size_t i = 0; i < n; i++) {
            if (need[i]) {
                json_array_append_new(list, json_pack("{s:s, s:I}", "subject_id", reqs[i].subject,
                                                      "n", (json_int_t)reqs[i].n));
            }
        }
        js = json_dumps(list, JSON_COMPACT);
        json_decref(list);
        CU_CHECK(js != NULL, CU_ERR_INTERNAL, "could not encode subjects");
        struct cu_db_result *counted = NULL;
        CU_TRY(cu_store_subject_keys_use(tx, tenant, js, arena, &counted));
        r = counted;
    }
    for (int i = 0; i < cu_res_rows(r); i++) {
        struct cu_subject_key_req *q = find_req(reqs, n, cu_res_text(r, i, CU_COL_SK_SUBJECT_ID));
        if (q == NULL && read != NULL) {
            continue; /* a subject of a record that was refused */
        }
        CU_CHECK(q != NULL, CU_ERR_INTERNAL, "subject key for an unknown subject");
        if (q->key != NULL) {
            continue; /* listed twice in what was read */
        }
        int version = (int)cu_res_int(r, i, CU_COL_SK_VERSION);
        long long after = cu_res_int(r, i, CU_COL_SK_ENCRYPTIONS) + (read != NULL ? q->n : 0);
        if (after > CU_SUBJECT_KEY_MAX_ENCRYPTIONS) {
            /* enough under this key: the next version takes the new values */
            q->version = -(version + 1);
            continue;
        }
        uint8_t *wrapped = NULL;
        size_t len = 0;
        CU_TRY(cu_res_bytea(r, i, CU_COL_SK_WRAPPED, arena, &wrapped, &len));
        CU_TRY(cu_keyring_subject_key_unwrap(kr, tx, tenant, inc, q->subject, version,
                                             (int)cu_res_int(r, i, CU_COL_SK_KEK_VERSION), wrapped,
                                             len, &q->key));
        q->version = version;
    }
out:
    free(js);
    cu_arena_free(arena);
    return rc;
}

/* New keys for the subjects marked in need (version: the next one when reqs[i].version < 0,
 * else 1), wrapped under kek: fresh[i] and their cache ids ids[i] (arena), reqs[i].version
 * set, *insert_json the list for cu_store_subject_keys_insert (heap, the caller frees it). */
static enum cu_err
make_fresh(const struct cu_secret *kek, const char *tenant, const char *inc, int kek_version,
           struct cu_subject_key_req *reqs, size_t n, const int *need, struct cu_secret **fresh,
           char **ids, struct cu_arena *arena, char **insert_json)
{
    json_t *list = json_array();
    enum cu_err rc = CU_OK;
    for (size_t i = 0; i < n; i++) {
        if (!need[i]) {
            continue;
        }
        int version = reqs[i].version < 0 ? -reqs[i].version : 1;
        CU_TRY(cu_key_generate(32, &fresh[i]));
        char *aad = NULL;
        cu_keyring_sk_aad(arena, &aad, tenant, reqs[i].subject, version, kek_version);
        uint8_t *wrapped = NULL;
        size_t len = 0;
        CU_TRY(cu_key_wrap(kek, aad, fresh[i], &wrapped, &len));
        size_t hex_len = 0;
        char *hex = cu_hex_encode(wrapped, len, &hex_len);
        ids[i] = cu_arena_alloc(arena, 200);
        sk_cache_id(ids[i], 200, tenant, inc, reqs[i].subject, wrapped, len);
        free(wrapped);
        json_array_append_new(list,
                              json_pack("{s:s, s:i, s:i, s:s, s:I}", "subject_id", reqs[i].subject,
                                        "version", version, "kek_version", kek_version, "wrapped",
                                        hex, "n", (json_int_t)reqs[i].n));
        free(hex);
        reqs[i].version = version;
    }
    *insert_json = json_dumps(list, JSON_COMPACT);
    CU_CHECK(*insert_json != NULL, CU_ERR_INTERNAL, "could not encode subject keys");
out:
    json_decref(list);
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
    CU_TRY(use_existing(kr, tx, tenant, inc, reqs, n, need, NULL));

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
    CU_TRY(cu_keyring_kek(kr, tx, tenant, inc, kek_version, &kek));
    CU_TRY(make_fresh(kek, tenant, inc, kek_version, reqs, n, need, fresh, ids, arena, &js));
    struct cu_db_result *r = NULL;
    CU_TRY(cu_store_subject_keys_insert(tx, tenant, js, arena, &r));
    for (int i = 0; i < cu_res_rows(r); i++) {
        struct cu_subject_key_req *q = find_req(reqs, n, cu_res_text(r, i, CU_COL_SK_SUBJECT_ID));
        CU_CHECK(q != NULL, CU_ERR_INTERNAL, "inserted key for an unknown subject");
        size_t at = (size_t)(q - reqs);
        /* cached only now: a key that lost a race to a concurrent creator must never be
         * served from the cache in place of the one stored */
        if (cu_keycache_put(kr->cache, ids[at], fresh[at], cu_keyring_now()) != CU_OK) {
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
        CU_TRY(use_existing(kr, tx, tenant, inc, reqs, n, need, NULL));
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

/* ---- the same for a group-committed write (service/unit_commit.h) ---- */

enum cu_err
cu_keyring_subject_keys_plan(struct cu_keyring *kr, struct cu_tx *tx, const char *tenant,
                             const char *inc, struct cu_subject_key_req *reqs, size_t n,
                             struct cu_subject_key_plan *plan)
{
    const struct cu_db_result *keys = plan->read_keys, *kek_row = plan->read_kek;
    memset(plan, 0, sizeof(*plan));
    plan->read_keys = keys;
    plan->read_kek = kek_row;
    plan->tenant = tenant;
    plan->inc = inc;
    plan->arena = cu_arena_new();
    plan->ids = cu_arena_alloc(plan->arena, (n ? n : 1) * sizeof(*plan->ids));
    int *need = cu_xcalloc(n ? n : 1, sizeof(*need));
    struct cu_secret *kek = NULL;
    json_t *use = json_array();
    enum cu_err rc = CU_OK;
    for (size_t i = 0; i < n; i++) {
        reqs[i].key = NULL;
        reqs[i].version = 0;
        plan->ids[i] = NULL;
        need[i] = 1;
    }
    CU_TRY(use_existing(kr, tx, tenant, inc, reqs, n, need, keys));
    for (size_t i = 0; i < n; i++) {
        need[i] = reqs[i].key == NULL;
        plan->nfresh += (size_t)need[i];
        if (!need[i]) {
            json_array_append_new(use, json_pack("{s:s, s:I}", "subject_id", reqs[i].subject, "n",
                                                 (json_int_t)reqs[i].n));
            plan->nuse++;
        }
    }
    if (plan->nuse > 0) {
        plan->use_json = json_dumps(use, JSON_COMPACT);
        CU_CHECK(plan->use_json != NULL, CU_ERR_INTERNAL, "could not encode subject keys");
    }
    if (plan->nfresh > 0) {
        CU_CHECK(cu_res_rows(kek_row) == 1, CU_ERR_NOT_FOUND, "no such tenant");
        plan->kek_version = (int)cu_res_int(kek_row, 0, 0);
        CU_TRY(cu_keyring_kek(kr, tx, tenant, inc, plan->kek_version, &kek));
        /* the fresh keys go straight to reqs[i].key (make_fresh's fresh array is reqs' keys) */
        struct cu_secret **fresh = cu_arena_alloc(plan->arena, n * sizeof(*fresh));
        memset(fresh, 0, n * sizeof(*fresh));
        rc = make_fresh(kek, tenant, inc, plan->kek_version, reqs, n, need, fresh, plan->ids,
                        plan->arena, &plan->insert_json);
        for (size_t i = 0; i < n; i++) {
            if (need[i]) {
                reqs[i].key = fresh[i];
            }
        }
        CU_TRY(rc);
    }
out:
    if (rc != CU_OK) {
        for (size_t i = 0; i < n; i++) {
            cu_secret_free(reqs[i].key);
            reqs[i].key = NULL;
        }
    }
    json_decref(use);
    cu_secret_free(kek);
    free(need);
    return rc;
}

/* The row of r (cu_col_subject_key) for subject, or -1. */
static int
row_of(const struct cu_db_result *r, const char *subject)
{
    for (int i = 0; i < cu_res_rows(r); i++) {
        if (strcmp(cu_res_text(r, i, CU_COL_SK_SUBJECT_ID), subject) == 0) {
            return i;
        }
    }
    return -1;
}

enum cu_err
cu_keyring_subject_keys_plan_check(const struct cu_subject_key_plan *plan,
                                   const struct cu_subject_key_req *reqs, size_t n,
                                   const struct cu_db_result *lock,
                                   const struct cu_db_result *inserted,
                                   const struct cu_db_result *used)
{
    /* the KEK the fresh keys are wrapped under is still current (locked until the commit) */
    CU_ENSURE(plan->nfresh == 0 ||
                  (cu_res_rows(lock) == 1 && cu_res_int(lock, 0, 0) == plan->kek_version),
              CU_ERR_CONFLICT, "the tenant's KEK was rotated meanwhile");
    struct cu_arena *arena = cu_arena_new();
    enum cu_err rc = CU_OK;
    for (size_t i = 0; i < n; i++) {
        if (plan->ids[i] != NULL) {
            /* this key was stored, and not another one made for the subject at the same time
             * (a concurrent write's, or a batch-mate's in the same statement) */
            int row = row_of(inserted, reqs[i].subject);
            CU_CHECK(row >= 0, CU_ERR_CONFLICT, "a subject key was created meanwhile");
            uint8_t *wrapped = NULL;
            size_t len = 0;
            CU_TRY(cu_res_bytea(inserted, row, CU_COL_SK_WRAPPED, arena, &wrapped, &len));
            char id[200];
            sk_cache_id(id, sizeof(id), plan->tenant, plan->inc, reqs[i].subject, wrapped, len);
            CU_CHECK(strcmp(id, plan->ids[i]) == 0, CU_ERR_CONFLICT,
                     "a subject key was created meanwhile");
            continue;
        }
        /* the key the values were sealed with is still the newest, and within its limit */
        int row = row_of(used, reqs[i].subject);
        CU_CHECK(row >= 0, CU_ERR_CONFLICT, "a subject key was erased meanwhile");
        CU_CHECK(cu_res_int(used, row, CU_COL_SK_VERSION) == reqs[i].version &&
                     cu_res_int(used, row, CU_COL_SK_ENCRYPTIONS) <= CU_SUBJECT_KEY_MAX_ENCRYPTIONS,
                 CU_ERR_CONFLICT, "a subject key was replaced meanwhile");
    }
out:
    cu_arena_free(arena);
    return rc;
}

void
cu_keyring_subject_keys_plan_done(struct cu_keyring *kr, const struct cu_subject_key_plan *plan,
                                  const struct cu_subject_key_req *reqs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (plan->ids[i] != NULL &&
            cu_keycache_put(kr->cache, plan->ids[i], reqs[i].key, cu_keyring_now()) != CU_OK) {
            cu_log(CU_LOG_WARN, "could not cache a key", NULL);
        }
    }
}

void
cu_keyring_subject_keys_plan_cleanup(struct cu_subject_key_plan *plan)
{
    free(plan->insert_json);
    free(plan->use_json);
    cu_arena_free(plan->arena);
    memset(plan, 0, sizeof(*plan));
}
