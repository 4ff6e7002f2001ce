/* Verify without reveal: one round trip counts the attempt against the token and reads the
 * token's row (BEGIN, the two statements and COMMIT pipelined); the stored value is opened, the
 * candidate normalized like it, and the two compared by their SHA-256 digests with a
 * constant-time comparison, so neither the comparison's time nor its length tells anything.
 * Plaintexts live in the request arena (wiped when it is freed), digests on the stack (wiped). */
#include "service/verify.h"

#include "crypto/encode.h"
#include "crypto/hmac.h"
#include "crypto/secret.h"
#include "service/audit.h"
#include "service/group_commit.h"
#include "service/seal.h"
#include "service/value.h"
#include "storage/vaultstore.h"

#include <stdlib.h>
#include <string.h>

/* SHA-256 of the index form (cu_value_index_form) of a normalized value of type t. */
static enum cu_err
digest(enum cu_ftype t, const char *norm, size_t len, struct cu_arena *arena,
       uint8_t out[CU_SHA256_LEN])
{
    size_t n = 0;
    const char *form = cu_value_index_form(t, norm, len, arena, &n);
    return cu_sha256((const uint8_t *)form, n, out);
}

/* Opens the stored value of row 0 and compares it with the candidate: *match. CU_ERR_CRYPTO
 * when the value does not open; CU_ERR_UNAVAILABLE when the keyring fails. */
static enum cu_err
compare(struct cu_svc *s, const char *tenant, const struct cu_db_result *r, const char *candidate,
        size_t candidate_len, struct cu_arena *arena, int *match)
{
    *match = 0;
    enum cu_ftype type;
    CU_GUARD(cu_ftype_parse(cu_res_text(r, 0, CU_COL_DETOK_TYPE), &type));
    uint8_t *wrapped = NULL, *ct = NULL;
    size_t wl = 0, cl = 0;
    CU_GUARD(cu_res_bytea(r, 0, CU_COL_DETOK_WRAPPED, arena, &wrapped, &wl));
    CU_GUARD(cu_res_bytea(r, 0, CU_COL_DETOK_CIPHERTEXT, arena, &ct, &cl));
    int version = (int)cu_res_int(r, 0, CU_COL_DETOK_KEY_VERSION);
    /* a read of its own, sent only when the subject key is not cached */
    struct cu_tx *tx = NULL;
    CU_GUARD(cu_tx_begin_read(s->db, tenant, &tx));
    struct cu_secret *key = NULL;
    enum cu_err rc = cu_subject_key_for_read(
        s, tx, tenant, cu_res_text(r, 0, CU_COL_DETOK_INC),
        cu_res_text(r, 0, CU_COL_DETOK_SUBJECT_ID), version,
        (int)cu_res_int(r, 0, CU_COL_DETOK_KEK_VERSION), wrapped, wl, &key);
    cu_tx_abort(&tx);
    CU_GUARD(rc);
    char *stored = NULL;
    size_t stored_len = 0;
    rc = cu_value_open(key, tenant, cu_res_text(r, 0, CU_COL_DETOK_COLLECTION),
                       cu_res_text(r, 0, CU_COL_DETOK_RECORD_ID),
                       cu_res_text(r, 0, CU_COL_DETOK_FIELD), version, ct, cl, arena, &stored,
                       &stored_len);
    cu_secret_free(key);
    CU_GUARD(rc);

    char *norm = NULL;
    size_t norm_len = 0;
    if (cu_value_normalize(type, candidate, candidate_len, arena, &norm, &norm_len, NULL) !=
        CU_OK) {
        return CU_OK; /* not a value of the type: it cannot match */
    }
    uint8_t a[CU_SHA256_LEN], b[CU_SHA256_LEN];
    rc = digest(type, stored, stored_len, arena, a);
    if (rc == CU_OK) {
        rc = digest(type, norm, norm_len, arena, b);
    }
    if (rc == CU_OK) {
        *match = cu_ct_equal(a, b, sizeof(a));
    }
    cu_wipe(a, sizeof(a));
    cu_wipe(b, sizeof(b));
    return rc;
}

/* The token's digest in hex: the key of its attempt count (the token itself is not kept). */
static enum cu_err
token_key(const char *token, struct cu_arena *arena, const char **out)
{
    uint8_t d[CU_SHA256_LEN];
    CU_GUARD(cu_sha256((const uint8_t *)token, strlen(token), d));
    size_t n = 0;
    char *hex = cu_hex_encode(d, sizeof(d), &n);
    *out = cu_arena_strndup(arena, hex, n);
    free(hex);
    return CU_OK;
}

static void
validate(json_t *body, struct cu_problems *problems)
{
    if (!json_is_object(body)) {
        cu_problem_add(problems, "", "must be an object");
        return;
    }
    if (cu_unknown_members(body, (const char *const[]){"token", "value", NULL}) > 0) {
        cu_problem_add(problems, "", "unknown member");
    }
    json_t *t = json_object_get(body, "token");
    if (!json_is_string(t) || json_string_length(t) < 1 || json_string_length(t) > 128) {
        cu_problem_add(problems, "/token", "must be a string of 1 to 128 bytes");
    }
    json_t *v = json_object_get(body, "value");
    if (!json_is_string(v) || json_string_length(v) < 1 || json_string_length(v) > CU_VALUE_MAX) {
        cu_problem_add(problems, "/value", "must be a string of 1 to 65536 bytes");
    }
}

enum cu_err
cu_verify(struct cu_svc *s, const struct cu_actor *a, json_t *body, struct cu_problems *problems,
          struct cu_rate_result *rate, json_t **out)
{
    memset(rate, 0, sizeof(*rate));
    *out = NULL;
    validate(body, problems);
    if (problems->errors != NULL) {
        return cu_err_public(CU_ERR_AT(CU_ERR_INVALID, "invalid verify body"),
                             "The body must be {\"token\", \"value\"}");
    }
    const char *token = json_string_value(json_object_get(body, "token"));
    json_t *jv = json_object_get(body, "value");

    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    json_t *audit = json_array();
    enum cu_err rc = CU_OK;
    const struct cu_rate_policy *ppol = s->rate != NULL ? &s->rate->verify : NULL;
    const struct cu_rate_policy *pol = s->rate != NULL ? &s->rate->verify_token : NULL;
    int plimited = ppol != NULL && ppol->limit > 0;
    int limited = pol != NULL && pol->limit > 0;
    struct cu_rate_result principal = {0}, attempts = {0};

    /* one round trip: BEGIN, the principal's count, the token's attempt, the lookup, COMMIT */
    const char *key = NULL;
    CU_TRY(token_key(token, arena, &key));
    json_t *list = json_pack("[s]", token);
    char *tokens_json = json_dumps(list, JSON_COMPACT);
    json_decref(list);
    CU_CHECK(tokens_json != NULL, CU_ERR_INTERNAL, "could not encode the token");
    const char *tj = cu_arena_strndup(arena, tokens_json, strlen(tokens_json));
    free(tokens_json);
    struct cu_params pp, rp, dp;
    struct cu_db_result *pres = NULL, *rres = NULL, *r = NULL;
    struct cu_step steps[4];
    int n = 0;
    /* the transaction writes nothing but the counts: no WAL flush waited for */
    cu_store_rate_async_step(&steps[n++]);
    if (plimited) {
        cu_ratelimit_step(a->tenant, "verify", a->principal, ppol, 1, arena, &pp, &pres,
                          &steps[n++]);
    }
    if (limited) {
        cu_ratelimit_step(a->tenant, "verify.token", key, pol, 1, arena, &rp, &rres, &steps[n++]);
    }
    cu_store_detokenize_step(a->tenant, tj, &dp, &r, &steps[n++]);
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    CU_TRY(cu_tx_exec_steps_commit_in(&tx, steps, n, arena));
    if (plimited) {
        CU_TRY(cu_ratelimit_read(pres, ppol, &principal));
    }
    if (limited) {
        CU_TRY(cu_ratelimit_read(rres, pol, &attempts));
    }
    /* what the caller sees: the limit that refused, else the one closer to its end */
    if (plimited && (!principal.allowed || !limited ||
                     (attempts.allowed && principal.remaining < attempts.remaining))) {
        *rate = principal;
    } else if (limited) {
        *rate = attempts;
    }

    int found = cu_res_rows(r) > 0;
    const char *collection = found ? cu_res_text(r, 0, CU_COL_DETOK_COLLECTION) : NULL;
    const char *field = found ? cu_res_text(r, 0, CU_COL_DETOK_FIELD) : NULL;
    const char *record = found ? cu_res_text(r, 0, CU_COL_DETOK_RECORD_ID) : NULL;
    const char *subject = found ? cu_res_text(r, 0, CU_COL_DETOK_SUBJECT_ID) : NULL;
    const char *outcome = NULL;
    enum cu_err refusal = CU_OK;
    const char *detail = NULL;
    int match = 0;
    int ambiguous = 0;
    for (int k = 1; k < cu_res_rows(r); k++) {
        if (strcmp(cu_res_text(r, k, CU_COL_DETOK_STATE), "live") == 0 &&
            (strcmp(cu_res_text(r, k, CU_COL_DETOK_COLLECTION), collection) != 0 ||
             strcmp(cu_res_text(r, k, CU_COL_DETOK_FIELD), field) != 0)) {
            ambiguous = 1;
        }
    }
    if (plimited && !principal.allowed) {
        outcome = "rate_limited";
        refusal = CU_ERR_RATE;
        detail = "The rate limit of this operation is reached; retry after Retry-After seconds";
    } else if (limited && !attempts.allowed) {
        outcome = "rate_limited";
        refusal = CU_ERR_RATE;
        detail = "Too many verify attempts for this token; retry after Retry-After seconds";
    } else if (!found) {
        outcome = "not_found";
        refusal = CU_ERR_NOT_FOUND;
        detail = "No such token";
    } else if (strcmp(cu_res_text(r, 0, CU_COL_DETOK_STATE), "live") != 0) {
        outcome = "gone";
        refusal = CU_ERR_GONE;
        detail = "The value has been erased";
    } else if (ambiguous) {
        outcome = "ambiguous";
        refusal = CU_ERR_CONFLICT;
        detail = "The token stands for values of several fields";
    } else {
        rc = compare(s, a->tenant, r, json_string_value(jv), json_string_length(jv), arena,
                     &match);
        if (rc == CU_ERR_CRYPTO) {
            /* a value that does not open (moved, tampered) looks like an unknown token */
            rc = CU_OK;
            outcome = "not_found";
            refusal = CU_ERR_NOT_FOUND;
            detail = "No such token";
        } else {
            CU_TRY(rc); /* the keyring or the database: an outage, never an answer */
            outcome = match ? "match" : "no_match";
        }
    }
    if (refusal == CU_ERR_NOT_FOUND) {
        collection = field = record = subject = NULL;
    }
    json_array_append_new(audit, cu_audit_entry(a, "verify", collection,
                                                field != NULL ? json_pack("[s]", field) : NULL,
                                                record, subject, NULL, NULL, outcome));
    /* fail closed: no answer, not even a refusal, before the entry is durable */
    rc = cu_audit_durable(s, a->tenant, audit);
    audit = NULL;
    CU_TRY(rc);
    if (refusal != CU_OK) {
        rc = cu_err_public(CU_ERR_AT(refusal, "verify refused: %s", outcome), detail);
        goto out;
    }
    *out = json_pack("{s:b}", "match", match);
out:
    cu_tx_abort(&tx);
    json_decref(audit);
    cu_arena_free(arena);
    return rc;
}
