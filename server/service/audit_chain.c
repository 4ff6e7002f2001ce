/* The sealed audit chain: the sealer, verification and signed checkpoints (audit_chain.h has
 * the chain's definition). */
#include "service/audit_chain.h"

#include "core/log.h"
#include "crypto/encode.h"
#include "crypto/hmac.h"
#include "crypto/secret.h"
#include "service/audit.h"
#include "service/audit_report.h"
#include "storage/auditstore.h"
#include "storage/keystore.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { SEAL_BATCH = 500, VERIFY_PAGE = 1000 };

static const char chain_domain[] = "custos-audit-v1";
static const char checkpoint_domain[] = "custos-audit-checkpoint-v1";

static _Atomic long long lag_unsealed;
static _Atomic long long lag_ms;

void
cu_audit_seal_lag(long long *unsealed, long long *ms)
{
    *unsealed = atomic_load(&lag_unsealed);
    *ms = atomic_load(&lag_ms);
}

/* Lower-case hex of a 32-byte hash (heap; the caller frees it). */
static char *
hex32(const uint8_t *p)
{
    size_t n = 0;
    return cu_hex_encode(p, 32, &n);
}

/* [flag][be32 len][bytes]: flag 0 for SQL NULL (then nothing follows). */
static void
put_field(struct cu_buf *b, const char *s, int isnull)
{
    uint8_t flag = isnull ? 0 : 1;
    cu_buf_append(b, &flag, 1);
    if (isnull) {
        return;
    }
    uint8_t len[4];
    cu_put_be32(len, (uint32_t)strlen(s));
    cu_buf_append(b, len, 4);
    cu_buf_append(b, s, strlen(s));
}

/* The MAC of row i of r (enum cu_col_audit) chained after prev. */
static enum cu_err
entry_mac(const struct cu_secret *key, const char *tenant, const char *inc, const uint8_t prev[32],
          const struct cu_db_result *r, int i, uint8_t out[CU_SHA256_LEN])
{
    struct cu_buf b;
    cu_buf_init(&b);
    cu_buf_append(&b, chain_domain, sizeof(chain_domain));
    cu_buf_append(&b, prev, 32);
    put_field(&b, tenant, 0);
    put_field(&b, inc, 0);
    for (int c = CU_COL_AUD_SEQ; c <= CU_COL_AUD_REQUEST_ID; c++) {
        put_field(&b, cu_res_text(r, i, c), cu_res_isnull(r, i, c));
    }
    enum cu_err rc = cu_hmac_sha256(key->data, key->len, b.data, b.len, out);
    cu_buf_cleanup(&b);
    return rc;
}

static void
note_lag(long long unsealed, double lag_s)
{
    long long ms = (long long)(lag_s * 1000.0);
    long long cur = atomic_load(&lag_unsealed);
    while (unsealed > cur && !atomic_compare_exchange_weak(&lag_unsealed, &cur, unsealed)) {
    }
    cur = atomic_load(&lag_ms);
    while (ms > cur && !atomic_compare_exchange_weak(&lag_ms, &cur, ms)) {
    }
}

/* One batch: *n = entries sealed (0: nothing to do or another sealer holds the tenant).
 * lag: accumulates the backlog seen before sealing (for the gauges), may be NULL. */
static enum cu_err
seal_batch(struct cu_svc *s, const char *tenant, int first, long long *n)
{
    struct cu_tx *tx = NULL;
    struct cu_arena *arena = cu_arena_new();
    struct cu_secret *key = NULL;
    json_t *seals = NULL;
    char *js = NULL;
    enum cu_err rc = CU_OK;
    *n = 0;
    CU_TRY(cu_tx_begin(s->db, tenant, &tx));
    int got = 0;
    CU_TRY(cu_store_audit_seal_lock(tx, tenant, &got));
    struct cu_db_result *h = NULL;
    CU_TRY(cu_store_audit_head(tx, tenant, arena, &h));
    CU_CHECK(cu_res_rows(h) == 1, CU_ERR_NOT_FOUND, "tenant %s is gone", tenant);
    if (first) {
        struct cu_db_result *b = NULL;
        CU_TRY(cu_store_audit_backlog(tx, tenant, arena, &b));
        long long unsealed = cu_res_int(b, 0, CU_COL_ABACK_UNSEALED);
        note_lag(unsealed, strtod(cu_res_text(b, 0, CU_COL_ABACK_LAG_S), NULL));
        if (unsealed == 0) {
            goto out; /* nothing to do: roll back, nothing written */
        }
    }
    if (!got) {
        goto out; /* another sealer has the tenant */
    }
    const char *inc = cu_res_text(h, 0, CU_COL_AHEAD_INC);
    long long pos = cu_res_int(h, 0, CU_COL_AHEAD_POS);
    uint8_t prev[32] = {0};
    if (pos > 0) {
        uint8_t *hb = NULL;
        size_t hl = 0;
        CU_TRY(cu_res_bytea(h, 0, CU_COL_AHEAD_HASH, arena, &hb, &hl));
        CU_CHECK(hl == 32, CU_ERR_INTERNAL, "the chain head of %s has a bad hash", tenant);
        memcpy(prev, hb, 32);
    }
    CU_TRY(cu_keyring_tenant_key(s->keyring, tx, tenant, inc, CU_TKEY_AUDIT, &key));
    struct cu_db_result *r = NULL;
    CU_TRY(cu_store_audit_unsealed(tx, tenant, SEAL_BATCH, arena, &r));
    int rows = cu_res_rows(r);
    if (rows == 0) {
        goto out;
    }
    seals = json_array();
    for (int i = 0; i < rows; i++) {
        uint8_t mac[32];
        CU_TRY(entry_mac(key, tenant, inc, prev, r, i, mac));
        char *ph = hex32(prev);
        char *hh = hex32(mac);
        json_array_append_new(seals, json_pack("{s:I, s:I, s:s, s:s}", "seq",
                                               (json_int_t)cu_res_int(r, i, CU_COL_AUD_SEQ), "pos",
                                               (json_int_t)(pos + 1 + i), "prev", ph, "hash", hh));
        free(ph);
        free(hh);
        memcpy(prev, mac, 32);
    }
    js = json_dumps(seals, JSON_COMPACT);
    CU_CHECK(js != NULL, CU_ERR_INTERNAL, "could not encode the seals");
    long long done = 0;
    CU_TRY(cu_store_audit_seal(tx, tenant, js, &done));
    CU_CHECK(done == rows, CU_ERR_INTERNAL, "sealed %lld of %d entries of %s", done, rows, tenant);
    CU_TRY(cu_tx_commit(&tx));
    *n = rows;
out:
    cu_tx_abort(&tx);
    cu_secret_free(key);
    json_decref(seals);
    free(js);
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_audit_seal_tenant(struct cu_svc *s, const char *tenant, long long *sealed)
{
    *sealed = 0;
    for (int first = 1;; first = 0) {
        long long n = 0;
        CU_GUARD(seal_batch(s, tenant, first, &n));
        *sealed += n;
        if (n < SEAL_BATCH) {
            return CU_OK;
        }
    }
}

/* One tenant of a sealing pass: its chain, then its reveal-rate alerts. */
static enum cu_err
seal_one(struct cu_svc *s, const char *tenant, void *ctx)
{
    long long done = 0;
    enum cu_err rc = cu_audit_seal_tenant(s, tenant, &done);
    if (rc == CU_ERR_UNAVAILABLE) {
        return rc;
    }
    if (rc != CU_OK && rc != CU_ERR_NOT_FOUND) {
        cu_log(CU_LOG_WARN, "audit sealing failed", "tenant", tenant, "reason", cu_err_reason(),
               NULL);
    }
    *(long long *)ctx += done;
    if (rc == CU_OK && cu_audit_alerts_scan(s, tenant) != CU_OK) {
        cu_log(CU_LOG_WARN, "audit alert check failed", "tenant", tenant, "reason", cu_err_reason(),
               NULL);
    }
    return CU_OK;
}

enum cu_err
cu_audit_seal_all(struct cu_svc *s, long long *sealed)
{
    *sealed = 0;
    atomic_store(&lag_unsealed, 0);
    atomic_store(&lag_ms, 0);
    return cu_tenants_each(s, seal_one, sealed);
}

/* Writes one allowed entry of an audit read in its own transaction (before the read: the
 * sealing that follows covers it). CU_ERR_NOT_FOUND when the tenant does not exist. */
static enum cu_err
audit_read_entry(struct cu_svc *s, const struct cu_actor *a, const char *action)
{
    /* a tenant that does not exist gets no entry (it would belong to no incarnation) */
    long long sealed = 0;
    enum cu_err rc = cu_audit_seal_tenant(s, a->tenant, &sealed);
    if (rc == CU_ERR_NOT_FOUND) {
        return cu_err_public(rc, "The tenant of this token does not exist");
    }
    CU_GUARD(rc);
    struct cu_tx *tx = NULL;
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    CU_TRY(cu_audit_one(tx, a, a->tenant, action));
    rc = cu_tx_commit(&tx);
out:
    cu_tx_abort(&tx);
    return rc;
}

static void
checkpoint_mac(const struct cu_secret *key, const char *tenant, const char *inc, long long pos,
               const char *hash_hex, const char *time, uint8_t out[32], enum cu_err *rc)
{
    char posb[24];
    snprintf(posb, sizeof(posb), "%lld", pos);
    struct cu_buf b;
    cu_buf_init(&b);
    cu_buf_append(&b, checkpoint_domain, sizeof(checkpoint_domain));
    put_field(&b, tenant, 0);
    put_field(&b, inc, 0);
    put_field(&b, posb, 0);
    put_field(&b, hash_hex, 0);
    put_field(&b, time, 0);
    *rc = cu_hmac_sha256(key->data, key->len, b.data, b.len, out);
    cu_buf_cleanup(&b);
}

static void
now_rfc3339(char *out, size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t len = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + len, n - len, ".%06dZ", (int)(ts.tv_nsec / 1000) % 1000000);
}

/* A checkpoint handed back: its members, checked for shape. */
struct cp {
    long long pos;
    const char *hash, *time, *mac;
};

static int
is_hex64(const char *s)
{
    if (s == NULL || strlen(s) != 64) {
        return 0;
    }
    for (const char *p = s; *p; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

static enum cu_err
parse_checkpoint(json_t *in, const char *tenant, struct cp *cp, struct cu_problems *problems)
{
    static const char *const allowed[] = {"tenant", "position", "seq", "hash", "time", "mac", NULL};
    if (!json_is_object(in)) {
        cu_problem_add(problems, "/checkpoint", "must be an object from GET /v1/audit/checkpoint");
        return CU_ERR_AT(CU_ERR_INVALID, "checkpoint is not an object");
    }
    json_t *pos = json_object_get(in, "position");
    const char *t = json_string_value(json_object_get(in, "tenant"));
    cp->hash = json_string_value(json_object_get(in, "hash"));
    cp->time = json_string_value(json_object_get(in, "time"));
    cp->mac = json_string_value(json_object_get(in, "mac"));
    if (cu_unknown_members(in, allowed) > 0) {
        cu_problem_add(problems, "/checkpoint", "unknown member");
    }
    if (t == NULL || strcmp(t, tenant) != 0) {
        cu_problem_add(problems, "/checkpoint/tenant", "must be the tenant of this token");
    }
    if (!json_is_integer(pos) || json_integer_value(pos) < 0) {
        cu_problem_add(problems, "/checkpoint/position", "must be a non-negative integer");
    } else {
        cp->pos = (long long)json_integer_value(pos);
    }
    if (!is_hex64(cp->hash)) {
        cu_problem_add(problems, "/checkpoint/hash", "must be 64 lower-case hex digits");
    }
    if (cp->time == NULL || strlen(cp->time) > 64) {
        cu_problem_add(problems, "/checkpoint/time", "must be the checkpoint's time");
    }
    if (!is_hex64(cp->mac)) {
        cu_problem_add(problems, "/checkpoint/mac", "must be 64 lower-case hex digits");
    }
    return problems->errors != NULL ? CU_ERR_AT(CU_ERR_INVALID, "malformed checkpoint") : CU_OK;
}

/* The stored prev_hash of the entry after row i (in r, or read after position pos when r
 * ends there); *have = 0 when there is none. */
static enum cu_err
next_prev(struct cu_tx *tx, const char *tenant, const struct cu_db_result *r, int i,
          struct cu_arena *arena, uint8_t out[32], int *have)
{
    const struct cu_db_result *src = r;
    int row = i + 1;
    *have = 0;
    if (row >= cu_res_rows(r)) {
        struct cu_db_result *more = NULL;
        CU_GUARD(cu_store_audit_chain(tx, tenant, cu_res_int(r, i, CU_COL_AUD_CHAIN_POS), 1, arena,
                                      &more));
        src = more;
        row = 0;
        if (cu_res_rows(more) == 0) {
            return CU_OK;
        }
    }
    uint8_t *p = NULL;
    size_t len = 0;
    if (cu_res_isnull(src, row, CU_COL_AUD_PREV_HASH) ||
        cu_res_bytea(src, row, CU_COL_AUD_PREV_HASH, arena, &p, &len) != CU_OK || len != 32) {
        return CU_OK;
    }
    memcpy(out, p, 32);
    *have = 1;
    return CU_OK;
}

/* Why row i does not extend the chain at running (prev/hash: its stored values, NULL when
 * unusable). */
static enum cu_err
diagnose(struct cu_tx *tx, const char *tenant, const char *inc, const struct cu_secret *key,
         const struct cu_db_result *r, int i, const uint8_t running[32], const uint8_t *prev,
         const uint8_t *hash, struct cu_arena *arena, const char **why)
{
    if (prev != NULL && hash != NULL && !cu_ct_equal(prev, running, 32)) {
        uint8_t own[32];
        CU_GUARD(entry_mac(key, tenant, inc, prev, r, i, own));
        if (cu_ct_equal(own, hash, 32)) {
            /* an authentic entry in the wrong place: its predecessor is elsewhere, or gone */
            long long known = 0;
            CU_GUARD(cu_store_audit_hash_known(tx, tenant, prev, 32, &known));
            *why = known > 0 ? "reordered" : "missing";
            return CU_OK;
        }
    }
    uint8_t np[32];
    int have = 0;
    CU_GUARD(next_prev(tx, tenant, r, i, arena, np, &have));
    *why = have && cu_ct_equal(np, running, 32) ? "inserted" : "changed";
    return CU_OK;
}

static json_t *
bad(long long verified, const struct cu_db_result *r, int i, long long pos, const char *why)
{
    return json_pack("{s:b, s:I, s:I, s:I, s:s}", "valid", 0, "entries", (json_int_t)verified,
                     "seq", (json_int_t)cu_res_int(r, i, CU_COL_AUD_SEQ), "position",
                     (json_int_t)pos, "reason", why);
}

/* Walks the chain in tx; *out the answer. cp may be NULL. */
static enum cu_err
walk(struct cu_tx *tx, const char *tenant, const char *inc, const struct cu_secret *key,
     const struct cp *cp, const uint8_t *cp_hash, long long unsealed, json_t **out)
{
    uint8_t running[32] = {0};
    long long expected = 1;
    int cp_seen = cp == NULL || cp->pos == 0;
    if (cp != NULL && cp->pos == 0 && !cu_ct_equal(cp_hash, running, 32)) {
        *out = json_pack("{s:b, s:I, s:I, s:s}", "valid", 0, "entries", (json_int_t)0, "position",
                         (json_int_t)0, "reason", "changed");
        return CU_OK;
    }
    for (;;) {
        struct cu_arena *arena = cu_arena_new();
        struct cu_db_result *r = NULL;
        enum cu_err rc = cu_store_audit_chain(tx, tenant, expected - 1, VERIFY_PAGE, arena, &r);
        if (rc != CU_OK) {
            cu_arena_free(arena);
            return rc;
        }
        int rows = cu_res_rows(r);
        for (int i = 0; i < rows; i++) {
            long long pos = cu_res_int(r, i, CU_COL_AUD_CHAIN_POS);
            const char *why = NULL;
            uint8_t *prev = NULL, *hash = NULL;
            size_t pl = 0, hl = 0;
            if (cu_res_isnull(r, i, CU_COL_AUD_PREV_HASH) ||
                cu_res_bytea(r, i, CU_COL_AUD_PREV_HASH, arena, &prev, &pl) != CU_OK || pl != 32) {
                prev = NULL;
            }
            if (cu_res_isnull(r, i, CU_COL_AUD_HASH) ||
                cu_res_bytea(r, i, CU_COL_AUD_HASH, arena, &hash, &hl) != CU_OK || hl != 32) {
                hash = NULL;
            }
            if (pos != expected) {
                why = "missing";
            } else {
                uint8_t mac[32];
                rc = entry_mac(key, tenant, inc, running, r, i, mac);
                if (rc == CU_OK &&
                    !(prev != NULL && hash != NULL && cu_ct_equal(prev, running, 32) &&
                      cu_ct_equal(mac, hash, 32))) {
                    rc = diagnose(tx, tenant, inc, key, r, i, running, prev, hash, arena, &why);
                }
                if (rc != CU_OK) {
                    cu_arena_free(arena);
                    return rc;
                }
            }
            if (why == NULL && cp != NULL && pos == cp->pos) {
                if (!cu_ct_equal(hash, cp_hash, 32)) {
                    why = "changed"; /* the chain no longer extends the checkpoint */
                }
                cp_seen = 1;
            }
            if (why != NULL) {
                *out = bad(expected - 1, r, i, expected, why);
                cu_arena_free(arena);
                return CU_OK;
            }
            memcpy(running, hash, 32);
            expected++;
        }
        cu_arena_free(arena);
        if (rows < VERIFY_PAGE) {
            break;
        }
    }
    long long entries = expected - 1;
    if (!cp_seen) {
        /* the chain ends before the checkpoint's head: its tail was cut off */
        *out = json_pack("{s:b, s:I, s:I, s:s}", "valid", 0, "entries", (json_int_t)entries,
                         "position", (json_int_t)(entries + 1), "reason", "truncated");
        return CU_OK;
    }
    char *head = entries > 0 ? hex32(running) : NULL;
    *out = json_pack("{s:b, s:I, s:s?, s:I}", "valid", 1, "entries", (json_int_t)entries, "head",
                     head, "unsealed", (json_int_t)unsealed);
    free(head);
    return CU_OK;
}

/* Seals, then opens a read transaction on the tenant with its incarnation, audit key and the
 * backlog the sealer left. */
static enum cu_err
open_chain(struct cu_svc *s, const char *tenant, struct cu_arena *arena, struct cu_tx **tx,
           struct cu_db_result **head, struct cu_secret **key)
{
    long long sealed = 0;
    enum cu_err rc = cu_audit_seal_tenant(s, tenant, &sealed);
    if (rc == CU_ERR_NOT_FOUND) {
        return cu_err_public(rc, "The tenant of this token does not exist");
    }
    CU_GUARD(rc);
    CU_GUARD(cu_tx_begin(s->db, tenant, tx));
    rc = cu_store_audit_head(*tx, tenant, arena, head);
    if (rc == CU_OK && cu_res_rows(*head) != 1) {
        rc = cu_err_public(CU_ERR_AT(CU_ERR_NOT_FOUND, "tenant gone"),
                           "The tenant of this token does not exist");
    }
    if (rc == CU_OK) {
        rc = cu_keyring_tenant_key(s->keyring, *tx, tenant, cu_res_text(*head, 0, CU_COL_AHEAD_INC),
                                   CU_TKEY_AUDIT, key);
    }
    if (rc != CU_OK) {
        cu_tx_abort(tx);
    }
    return rc;
}

enum cu_err
cu_audit_verify(struct cu_svc *s, const struct cu_actor *a, json_t *checkpoint,
                struct cu_problems *problems, json_t **out)
{
    *out = NULL;
    struct cp cp = {0};
    uint8_t *cp_hash = NULL;
    size_t cp_hash_len = 0;
    if (checkpoint != NULL) {
        CU_GUARD(parse_checkpoint(checkpoint, a->tenant, &cp, problems));
    }
    CU_GUARD(
        audit_read_entry(s, a, checkpoint != NULL ? "audit.verify.checkpoint" : "audit.verify"));
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    struct cu_db_result *h = NULL;
    struct cu_secret *key = NULL;
    enum cu_err rc = CU_OK;
    CU_TRY(open_chain(s, a->tenant, arena, &tx, &h, &key));
    const char *inc = cu_res_text(h, 0, CU_COL_AHEAD_INC);
    if (checkpoint != NULL) {
        uint8_t want[32];
        checkpoint_mac(key, a->tenant, inc, cp.pos, cp.hash, cp.time, want, &rc);
        CU_TRY(rc);
        uint8_t *got = NULL;
        size_t got_len = 0;
        if (cu_hex_decode(cp.mac, 64, &got, &got_len) != CU_OK || got_len != 32 ||
            !cu_ct_equal(got, want, 32)) {
            free(got);
            cu_problem_add(problems, "/checkpoint/mac",
                           "this vault did not issue this checkpoint for this tenant");
            CU_FAIL(CU_ERR_INVALID, "checkpoint MAC mismatch");
        }
        free(got);
        CU_TRY(cu_hex_decode(cp.hash, 64, &cp_hash, &cp_hash_len));
    }
    struct cu_db_result *b = NULL;
    CU_TRY(cu_store_audit_backlog(tx, a->tenant, arena, &b));
    CU_TRY(walk(tx, a->tenant, inc, key, checkpoint != NULL ? &cp : NULL, cp_hash,
                cu_res_int(b, 0, CU_COL_ABACK_UNSEALED), out));
    rc = cu_tx_commit(&tx);
    if (json_is_false(json_object_get(*out, "valid"))) {
        cu_log(CU_LOG_WARN, "audit chain verification failed", "tenant", a->tenant, "reason",
               json_string_value(json_object_get(*out, "reason")), NULL);
    }
out:
    if (rc != CU_OK) {
        json_decref(*out);
        *out = NULL;
    }
    cu_tx_abort(&tx);
    cu_secret_free(key);
    free(cp_hash);
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_audit_checkpoint(struct cu_svc *s, const struct cu_actor *a, json_t **out)
{
    *out = NULL;
    CU_GUARD(audit_read_entry(s, a, "audit.checkpoint"));
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    struct cu_db_result *h = NULL;
    struct cu_secret *key = NULL;
    char *hash_hex = NULL;
    enum cu_err rc = CU_OK;
    CU_TRY(open_chain(s, a->tenant, arena, &tx, &h, &key));
    const char *inc = cu_res_text(h, 0, CU_COL_AHEAD_INC);
    long long pos = cu_res_int(h, 0, CU_COL_AHEAD_POS);
    uint8_t head[32] = {0};
    long long seq = 0;
    if (pos > 0) {
        struct cu_db_result *r = NULL;
        CU_TRY(cu_store_audit_chain(tx, a->tenant, pos - 1, 1, arena, &r));
        CU_CHECK(cu_res_rows(r) == 1, CU_ERR_INTERNAL, "the chain head is not readable");
        uint8_t *hb = NULL;
        size_t hl = 0;
        CU_TRY(cu_res_bytea(r, 0, CU_COL_AUD_HASH, arena, &hb, &hl));
        CU_CHECK(hl == 32, CU_ERR_INTERNAL, "the chain head has a bad hash");
        memcpy(head, hb, 32);
        seq = cu_res_int(r, 0, CU_COL_AUD_SEQ);
    }
    hash_hex = hex32(head);
    char time[40];
    now_rfc3339(time, sizeof(time));
    uint8_t mac[32];
    checkpoint_mac(key, a->tenant, inc, pos, hash_hex, time, mac, &rc);
    CU_TRY(rc);
    char *mac_hex = hex32(mac);
    *out = json_pack("{s:{s:s, s:I, s:I, s:s, s:s, s:s}}", "checkpoint", "tenant", a->tenant,
                     "position", (json_int_t)pos, "seq", (json_int_t)seq, "hash", hash_hex, "time",
                     time, "mac", mac_hex);
    free(mac_hex);
    rc = cu_tx_commit(&tx);
out:
    if (rc != CU_OK) {
        json_decref(*out);
        *out = NULL;
    }
    cu_tx_abort(&tx);
    cu_secret_free(key);
    free(hash_hex);
    cu_arena_free(arena);
    return rc;
}
