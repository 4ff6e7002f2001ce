/* Detokenize: up to 1000 tokens; per item the lower of the level asked and the level granted, or
 * a per-item problem. Unknown, foreign and undecryptable tokens all answer 404 alike; erased ones
 * 410. A failure of the database or the keyring fails the whole request (503): an outage never
 * looks like absence.
 * One round trip reads what the decision needs (the purpose, the tokens' rows and their subjects'
 * restriction and consent (service/gates.h), one snapshot,
 * an implicit read-only transaction: no BEGIN, no COMMIT); a key missing from the keyring's
 * cache costs one more read. Every item is audited, and the answer leaves only once the entries
 * are durable (fail closed): they go to the group-commit writer, which commits the entries of
 * concurrent requests together (service/group_commit.h). */
#include "service/vault.h"

#include "service/audit.h"
#include "service/gates.h"
#include "service/group_commit.h"
#include "service/purpose.h"
#include "service/seal.h"

#include "service/controls.h"
#include "service/mask.h"
#include "storage/rolestore.h"
#include "storage/vaultstore.h"

#include <stdlib.h>
#include <string.h>

/* Decrypts (and masks) one live row into *value (arena). CU_ERR_CRYPTO only when the value
 * itself does not open; a keyring failure is CU_ERR_UNAVAILABLE (see cu_subject_key_for_read). */
static enum cu_err
reveal(struct cu_svc *s, struct cu_tx *tx, const char *tenant, const struct cu_db_result *r,
       int row, enum cu_level level, struct cu_arena *arena, json_t **value)
{
    if (level == CU_LEVEL_REDACTED) {
        *value = json_string(cu_redacted());
        return CU_OK;
    }
    enum cu_ftype type;
    CU_GUARD(cu_ftype_parse(cu_res_text(r, row, CU_COL_DETOK_TYPE), &type));
    uint8_t *wrapped = NULL, *ct = NULL;
    size_t wl = 0, cl = 0;
    CU_GUARD(cu_res_bytea(r, row, CU_COL_DETOK_WRAPPED, arena, &wrapped, &wl));
    CU_GUARD(cu_res_bytea(r, row, CU_COL_DETOK_CIPHERTEXT, arena, &ct, &cl));
    int version = (int)cu_res_int(r, row, CU_COL_DETOK_KEY_VERSION);
    struct cu_secret *key = NULL;
    CU_GUARD(cu_subject_key_for_read(s, tx, tenant, cu_res_text(r, row, CU_COL_DETOK_INC),
                                     cu_res_text(r, row, CU_COL_DETOK_SUBJECT_ID), version,
                                     (int)cu_res_int(r, row, CU_COL_DETOK_KEK_VERSION), wrapped, wl,
                                     &key));
    char *pt = NULL;
    size_t len = 0;
    enum cu_err rc =
        cu_value_open(key, tenant, cu_res_text(r, row, CU_COL_DETOK_COLLECTION),
                      cu_res_text(r, row, CU_COL_DETOK_RECORD_ID),
                      cu_res_text(r, row, CU_COL_DETOK_FIELD), version, ct, cl, arena, &pt, &len);
    cu_secret_free(key);
    CU_GUARD(rc);
    if (level == CU_LEVEL_MASKED) {
        char *masked = NULL;
        CU_GUARD(cu_mask(type, pt, len, arena, &masked));
        *value = json_string(masked);
    } else {
        *value = json_stringn(pt, len);
    }
    return *value != NULL ? CU_OK : CU_ERR_INTERNAL;
}

/* The first row for token in rows sorted by token (byte order), or -1. */
static int
first_row(const struct cu_db_result *r, const char *token)
{
    int lo = 0, hi = cu_res_rows(r);
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (strcmp(cu_res_text(r, mid, CU_COL_DETOK_TOKEN), token) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < cu_res_rows(r) && strcmp(cu_res_text(r, lo, CU_COL_DETOK_TOKEN), token) == 0 ? lo
                                                                                             : -1;
}

static json_t *
item_err(const char *token, enum cu_err e, const char *detail)
{
    return json_pack("{s:s, s:o}", "token", token, "error", cu_item_error(e, detail, NULL));
}

enum cu_err
cu_detokenize(struct cu_svc *s, const struct cu_actor *a, const char *purpose, json_t *body,
              struct cu_problems *problems, json_t **out)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    json_t *results = NULL, *audit = NULL;
    enum cu_err rc = CU_OK;
    enum cu_level asked = CU_LEVEL_PLAIN;
    struct cu_controls ctl = {0};
    struct cu_db_result *fr = NULL; /* the principal's facts (service/controls.h) */

    json_t *tokens = json_object_get(body, "tokens");
    if (!json_is_object(body)) {
        cu_problem_add(problems, "", "must be an object");
        CU_FAIL(CU_ERR_INVALID, "bad detokenize body");
    }
    if (cu_unknown_members(body, (const char *const[]){"tokens", "redaction", NULL}) > 0) {
        cu_problem_add(problems, "", "unknown member");
    }
    if (!json_is_array(tokens) || json_array_size(tokens) < 1 ||
        json_array_size(tokens) > CU_MAX_BATCH) {
        cu_problem_add(problems, "/tokens", "must be an array of 1 to 1000 strings");
    } else {
        for (size_t i = 0; i < json_array_size(tokens); i++) {
            json_t *t = json_array_get(tokens, i);
            if (!json_is_string(t) || json_string_length(t) < 1 || json_string_length(t) > 128) {
                cu_problem_add(problems, cu_arena_printf(arena, "/tokens/%zu", i),
                               "must be a string of 1 to 128 bytes");
            }
        }
    }
    json_t *jr = json_object_get(body, "redaction");
    if (jr != NULL &&
        (!json_is_string(jr) || cu_level_parse(json_string_value(jr), &asked) != CU_OK ||
         asked == CU_LEVEL_NONE)) {
        cu_problem_add(problems, "/redaction", "must be plain, masked or redacted");
    }
    CU_CHECK(problems->errors == NULL, CU_ERR_INVALID, "invalid detokenize body");

    const char *basis = NULL;
    struct cu_db_result *pr = NULL, *r = NULL, *gates = NULL;
    rc = cu_purpose_name_check(purpose);
    if (rc == CU_OK) {
        CU_TRY(cu_tx_begin_read(s->db, a->tenant, &tx));
        char *js = json_dumps(tokens, JSON_COMPACT);
        /* the principal's facts (roles, interactions, budget use) join the same round trip */
        struct cu_step step;
        struct cu_params sp;
        const char *roles = cu_controls_roles_json(a, arena);
        if (roles != NULL) {
            cu_store_principal_step(&step, &sp, a->tenant, a->principal, roles, &fr);
        }
        rc = cu_store_reveal(tx, a->tenant, purpose, js, arena, &pr, &r, &gates,
                             roles ? &step : NULL);
        free(js);
        CU_TRY(rc);
        rc = cu_purpose_decide(pr, &basis);
    }
    if (rc == CU_ERR_PURPOSE) {
        cu_audit_refusal(s, &tx, a, "detokenize", NULL, NULL, "denied_purpose");
        CU_FAIL(CU_ERR_PURPOSE, "undeclared purpose");
    }
    CU_TRY(rc);
    CU_TRY(cu_controls_load(&ctl, a, fr, arena));

    results = json_array();
    audit = json_array();
    int rows = cu_res_rows(r);
    for (size_t i = 0; i < json_array_size(tokens); i++) {
        const char *token = json_string_value(json_array_get(tokens, i));
        /* rows of this item: the first is the best (live first) */
        int first = first_row(r, token);
        int last = first;
        while (first >= 0 && last + 1 < rows &&
               strcmp(cu_res_text(r, last + 1, CU_COL_DETOK_TOKEN), token) == 0) {
            last++;
        }
        if (first < 0) {
            json_array_append_new(results, item_err(token, CU_ERR_NOT_FOUND, "No such token"));
            json_array_append_new(audit, cu_audit_entry(a, "detokenize", NULL, NULL, NULL, NULL,
                                                        purpose, NULL, "not_found"));
            continue;
        }
        const char *collection = cu_res_text(r, first, CU_COL_DETOK_COLLECTION);
        const char *field = cu_res_text(r, first, CU_COL_DETOK_FIELD);
        const char *record = cu_res_text(r, first, CU_COL_DETOK_RECORD_ID);
        const char *subject = cu_res_text(r, first, CU_COL_DETOK_SUBJECT_ID);
        const char *state = cu_res_text(r, first, CU_COL_DETOK_STATE);
        int ambiguous = 0;
        for (int k = first + 1; k <= last; k++) {
            if (strcmp(cu_res_text(r, k, CU_COL_DETOK_STATE), "live") == 0 &&
                (strcmp(cu_res_text(r, k, CU_COL_DETOK_COLLECTION), collection) != 0 ||
                 strcmp(cu_res_text(r, k, CU_COL_DETOK_FIELD), field) != 0)) {
                ambiguous = 1;
            }
        }
        json_t *fields = json_pack("[s]", field);
        enum cu_level granted = cu_controls_granted(&ctl, collection, field);
        if (granted == CU_LEVEL_NONE) {
            json_array_append_new(results,
                                  item_err(token, CU_ERR_FORBIDDEN, cu_scope_field_missing));
            json_array_append_new(audit, cu_audit_entry(a, "detokenize", collection, fields, record,
                                                        subject, purpose, NULL, "denied"));
            continue;
        }
        const char *gate_outcome = NULL, *gate_detail = NULL;
        enum cu_err gate = cu_gate_reveal(gates, subject, basis, &gate_outcome, &gate_detail);
        if (gate != CU_OK) {
            json_array_append_new(results, item_err(token, gate, gate_detail));
            json_array_append_new(audit, cu_audit_entry(a, "detokenize", collection, fields, record,
                                                        subject, purpose, NULL, gate_outcome));
            continue;
        }
        if (strcmp(state, "live") != 0) {
            json_array_append_new(results,
                                  item_err(token, CU_ERR_GONE, "The value has been erased"));
            json_array_append_new(audit, cu_audit_entry(a, "detokenize", collection, fields, record,
                                                        subject, purpose, NULL, "gone"));
            continue;
        }
        if (ambiguous) {
            json_array_append_new(results,
                                  item_err(token, CU_ERR_CONFLICT,
                                           "The token stands for values of several fields; read "
                                           "the record instead"));
            json_array_append_new(audit, cu_audit_entry(a, "detokenize", collection, fields, record,
                                                        subject, purpose, NULL, "ambiguous"));
            continue;
        }
        enum cu_level level = cu_level_min(asked, granted);
        enum cu_err denied = cu_controls_subject(&ctl, subject);
        if (denied == CU_OK) {
            denied = cu_controls_take(&ctl, level);
        }
        if (denied != CU_OK) {
            json_array_append_new(results, json_pack("{s:s, s:o}", "token", token, "error",
                                                     cu_controls_item_error(&ctl, denied)));
            json_array_append_new(audit, cu_audit_entry(a, "detokenize", collection, fields, record,
                                                        subject, purpose, NULL,
                                                        cu_controls_outcome(denied)));
            continue;
        }
        json_t *value = NULL;
        rc = reveal(s, tx, a->tenant, r, first, level, arena, &value);
        if (rc != CU_OK && rc != CU_ERR_CRYPTO) {
            /* the keyring or the database failed: the whole request fails (503), it never
             * looks like absence */
            json_decref(fields);
            goto out;
        }
        if (rc == CU_ERR_CRYPTO) {
            /* a value that does not open (moved, tampered) looks like an unknown token */
            rc = CU_OK;
            json_array_append_new(results, item_err(token, CU_ERR_NOT_FOUND, "No such token"));
            json_array_append_new(audit, cu_audit_entry(a, "detokenize", collection, fields, record,
                                                        subject, purpose, NULL, "not_found"));
            continue;
        }
        cu_count_reveal(level);
        json_array_append_new(results, json_pack("{s:s, s:s, s:s, s:o, s:s}", "token", token,
                                                 "collection", collection, "field", field, "value",
                                                 value, "redaction", cu_level_name(level)));
        json_t *entry = cu_audit_entry(a, "detokenize", collection, fields, record, subject,
                                       purpose, cu_level_name(level), "allowed");
        cu_controls_count(&ctl, level, entry);
        json_array_append_new(audit, entry);
    }
    /* the read is over: the connection goes back before the wait (the writer needs one) */
    cu_tx_abort(&tx);
    /* fail closed: nothing is answered before the entries are durable; it takes audit */
    rc = cu_audit_durable(s, a->tenant, audit);
    audit = NULL;
    CU_TRY(rc);
    cu_controls_answered(&ctl);
    *out = json_pack("{s:O}", "results", results);
out:
    cu_tx_abort(&tx);
    cu_controls_cleanup(&ctl);
    json_decref(results);
    json_decref(audit);
    cu_arena_free(arena);
    return rc;
}
