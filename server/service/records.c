/* One record: read its fields at the lower of asked and granted level for a declared purpose,
 * rectify its values, delete it. Each is one transaction with its audit entry. */
#include "service/vault.h"

#include "service/audit.h"
#include "service/gates.h"
#include "service/ident.h"
#include "service/intake.h"
#include "service/mask.h"
#include "service/purpose.h"
#include "service/controls.h"
#include "storage/rolestore.h"
#include "storage/vaultstore.h"

#include <stdio.h>
#include <string.h>

/* Reads the record row: CU_ERR_NOT_FOUND or CU_ERR_GONE (deleted). */
static enum cu_err
load_record(struct cu_tx *tx, const char *tenant, const char *collection, const char *id,
            int for_update, struct cu_arena *arena, const char **subject)
{
    CU_ENSURE(cu_record_id_ok(id), CU_ERR_NOT_FOUND, "malformed record id");
    struct cu_db_result *r = NULL;
    CU_GUARD(cu_store_record_get(tx, tenant, collection, id, for_update, arena, &r));
    CU_ENSURE(cu_res_rows(r) == 1, CU_ERR_NOT_FOUND, "no such record");
    CU_ENSURE(cu_res_text(r, 0, CU_COL_RECORD_DELETED)[0] != 't', CU_ERR_GONE, "record deleted");
    *subject = cu_res_text(r, 0, CU_COL_RECORD_SUBJECT_ID);
    return CU_OK;
}

/* The principal's facts for a token that names roles (one more statement of the read's
 * transaction), and the interaction rule on the whole record: CU_ERR_FORBIDDEN, audited and
 * committed, when the role is bound and the subject has no live interaction of the principal. */
static enum cu_err
record_controls(struct cu_tx **tx, const struct cu_actor *a, const char *collection,
                const char *id, const char *subject, const char *purpose, struct cu_arena *arena,
                struct cu_controls *ctl)
{
    const char *roles = cu_controls_roles_json(a, arena);
    struct cu_db_result *fr = NULL;
    if (roles != NULL) {
        CU_GUARD(cu_store_principal_facts(*tx, a->tenant, a->principal, roles, arena, &fr));
    }
    CU_GUARD(cu_controls_load(ctl, a, fr, arena));
    enum cu_err denied = cu_controls_subject(ctl, subject);
    if (denied == CU_OK) {
        return CU_OK;
    }
    json_t *audit = json_pack("[o]", cu_audit_entry(a, "record.read", collection, NULL, id,
                                                    subject, purpose, NULL, "denied_interaction"));
    CU_GUARD(cu_audit_write(*tx, a->tenant, audit));
    CU_GUARD(cu_tx_commit(tx));
    cu_err_set(denied, __FILE__, __LINE__, "no live interaction of the principal");
    return cu_err_public(denied, cu_controls_detail(denied));
}

static int
in_filter(const char *filter, const char *name)
{
    if (filter == NULL) {
        return 1;
    }
    size_t n = strlen(name);
    for (const char *p = filter; *p;) {
        const char *end = strchrnul(p, ',');
        if ((size_t)(end - p) == n && strncmp(p, name, n) == 0) {
            return 1;
        }
        p = *end ? end + 1 : end;
    }
    return 0;
}

enum cu_err
cu_record_read(struct cu_svc *s, const struct cu_actor *a, const char *collection, const char *id,
               const char *purpose, enum cu_level asked, const char *filter, json_t **out)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    struct cu_secret *key = NULL;
    json_t *values = json_object(), *levels = json_object(), *tokens = json_object();
    json_t *withheld = json_array(), *revealed = json_array();
    enum cu_err rc = CU_OK;
    const char *basis = NULL;
    const char *subject = NULL;
    struct cu_controls ctl = {0};
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    rc = cu_purpose_check(tx, a->tenant, purpose, arena, &basis);
    if (rc == CU_ERR_PURPOSE) {
        cu_audit_purpose_refused(&tx, a, "record.read", collection, id);
        CU_FAIL(CU_ERR_PURPOSE, "undeclared purpose");
    }
    CU_TRY(rc);
    struct cu_coll_spec spec;
    CU_TRY(cu_spec_load(tx, a->tenant, collection, CU_SPEC_READ, arena, &spec));
    CU_TRY(load_record(tx, a->tenant, collection, id, 0, arena, &subject));
    const char *gate_outcome = NULL, *gate_detail = NULL;
    rc = cu_gate_subject(tx, a->tenant, subject, purpose, basis, &gate_outcome, &gate_detail);
    if (cu_gate_refused(rc)) {
        enum cu_err gate = rc;
        json_t *denied = json_array();
        json_array_append_new(denied, cu_audit_entry(a, "record.read", collection, NULL, id,
                                                     subject, purpose, NULL, gate_outcome));
        CU_TRY(cu_audit_write(tx, a->tenant, denied));
        CU_TRY(cu_tx_commit(&tx));
        cu_err_public(gate, gate_detail);
        CU_FAIL(gate, "%s", gate_outcome);
    }
    CU_TRY(rc);
    struct cu_db_result *r = NULL;
    CU_TRY(cu_store_record_values(tx, a->tenant, id, arena, &r));
    CU_TRY(record_controls(&tx, a, collection, id, subject, purpose, arena, &ctl));
    enum cu_level top = CU_LEVEL_NONE;
    for (int i = 0; i < cu_res_rows(r); i++) {
        const char *field = cu_res_text(r, i, CU_COL_VALUE_FIELD);
        const struct cu_field_spec *f = cu_spec_field(&spec, field);
        if (f == NULL || !in_filter(filter, field)) {
            continue;
        }
        enum cu_level granted = cu_controls_granted(&ctl, collection, field);
        if (granted == CU_LEVEL_NONE) {
            json_array_append_new(withheld, json_string(field));
            continue;
        }
        enum cu_level level = cu_level_min(asked, granted);
        json_object_set_new(tokens, field, json_string(cu_res_text(r, i, CU_COL_VALUE_TOKEN)));
        json_object_set_new(levels, field, json_string(cu_level_name(level)));
        json_array_append_new(revealed, json_string(field));
        top = level > top ? level : top;
        cu_count_reveal(level);
        if (level == CU_LEVEL_REDACTED) {
            json_object_set_new(values, field, json_string(cu_redacted()));
            continue;
        }
        CU_CHECK(!cu_res_isnull(r, i, CU_COL_VALUE_WRAPPED), CU_ERR_GONE, "subject key erased");
        uint8_t *wrapped = NULL, *ct = NULL;
        size_t wl = 0, cl = 0;
        CU_TRY(cu_res_bytea(r, i, CU_COL_VALUE_WRAPPED, arena, &wrapped, &wl));
        CU_TRY(cu_res_bytea(r, i, CU_COL_VALUE_CIPHERTEXT, arena, &ct, &cl));
        int version = (int)cu_res_int(r, i, CU_COL_VALUE_KEY_VERSION);
        cu_secret_free(key);
        key = NULL;
        CU_TRY(cu_subject_key_for_read(s, tx, a->tenant, spec.inc, subject, version,
                                       (int)cu_res_int(r, i, CU_COL_VALUE_KEK_VERSION), wrapped, wl,
                                       &key));
        char *pt = NULL;
        size_t len = 0;
        if (cu_value_open(key, a->tenant, collection, id, field, version, ct, cl, arena, &pt,
                          &len) != CU_OK) {
            CU_FAIL(CU_ERR_NOT_FOUND, "a value did not decrypt");
        }
        if (level == CU_LEVEL_MASKED) {
            char *masked = NULL;
            CU_TRY(cu_mask(f->type, pt, len, arena, &masked));
            json_object_set_new(values, field, json_string(masked));
        } else {
            json_object_set_new(values, field, json_stringn(pt, len));
        }
    }
    json_t *audit = json_array();
    if (top == CU_LEVEL_NONE) {
        json_array_append_new(audit,
                              cu_audit_entry(a, "record.read", collection, json_incref(withheld),
                                             id, subject, purpose, NULL, "denied"));
        CU_TRY(cu_audit_write(tx, a->tenant, audit));
        CU_TRY(cu_tx_commit(&tx));
        cu_err_public(CU_ERR_FORBIDDEN, "The token lacks a detokenize:<collection>.<field>:<level> "
                                        "scope for any field of this record");
        CU_FAIL(CU_ERR_FORBIDDEN, "no field of the record is granted");
    }
    if (cu_controls_take(&ctl, top) != CU_OK) {
        json_array_append_new(audit, cu_audit_entry(a, "record.read", collection,
                                                    json_incref(revealed), id, subject, purpose,
                                                    NULL, "denied_budget"));
        CU_TRY(cu_audit_write(tx, a->tenant, audit));
        CU_TRY(cu_tx_commit(&tx));
        cu_controls_answered(&ctl);
        cu_err_public(CU_ERR_RATE, cu_controls_detail(CU_ERR_RATE));
        CU_FAIL(CU_ERR_RATE, "plain reveal budget spent");
    }
    json_t *entry = cu_audit_entry(a, "record.read", collection, json_incref(revealed), id,
                                   subject, purpose, cu_level_name(top), "allowed");
    cu_controls_count(&ctl, top, entry);
    json_array_append_new(audit, entry);
    CU_TRY(cu_audit_write(tx, a->tenant, audit));
    CU_TRY(cu_tx_commit(&tx));
    *out =
        json_pack("{s:s, s:s, s:s, s:O, s:O, s:O}", "id", id, "collection", collection,
                  "subject_id", subject, "fields", values, "redaction", levels, "tokens", tokens);
    if (json_array_size(withheld) > 0) {
        json_object_set(*out, "withheld", withheld);
    }
out:
    cu_tx_abort(&tx);
    cu_controls_cleanup(&ctl);
    cu_secret_free(key);
    json_decref(values);
    json_decref(levels);
    json_decref(tokens);
    json_decref(withheld);
    json_decref(revealed);
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_record_rectify(struct cu_svc *s, const struct cu_actor *a, const char *collection,
                  const char *id, json_t *body, struct cu_problems *problems, json_t **out)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    struct cu_tenant_keys keys = {0};
    struct cu_subject_key_req req = {0};
    json_t *values_b = json_array(), *new_tokens = json_array(), *revoke = json_array();
    enum cu_err rc = CU_OK;
    const char *subject = NULL;
    if (!json_is_object(body) || json_object_size(body) != 1 ||
        json_object_get(body, "fields") == NULL) {
        cu_problem_add(problems, "/fields", "must be the only member");
        CU_FAIL(CU_ERR_INVALID, "bad rectify body");
    }
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    struct cu_coll_spec spec;
    CU_TRY(cu_spec_load(tx, a->tenant, collection, CU_SPEC_WRITE, arena, &spec));
    CU_TRY(load_record(tx, a->tenant, collection, id, 1, arena, &subject));
    CU_TRY(cu_tenant_keys_load(s, tx, a->tenant, &spec, &keys));
    struct cu_in_record rec = {.subject = subject, .ok = 1};
    snprintf(rec.id, sizeof(rec.id), "%s", id);
    cu_intake_fields(&rec, 0, json_object_get(body, "fields"), &spec, &keys, a->tenant, 0, arena);
    if (!rec.ok) {
        for (size_t k = 0; k < json_array_size(rec.errors); k++) {
            json_t *e = json_array_get(rec.errors, k);
            /* pointers were built for a batch; rectify's start at /fields */
            const char *ptr = json_string_value(json_object_get(e, "pointer"));
            cu_problem_add(problems, ptr + strlen("/records/0"),
                           json_string_value(json_object_get(e, "detail")));
        }
        json_decref(rec.errors);
        CU_FAIL(CU_ERR_INVALID, "invalid fields");
    }
    CU_TRY(cu_intake_reserve(tx, a->tenant, collection, &keys, &rec, 1, arena));
    struct cu_db_result *cur = NULL;
    CU_TRY(cu_store_record_values(tx, a->tenant, id, arena, &cur));
    /* random tokens stay with the record; deterministic and format-preserving ones follow the
     * value (a random format-preserving token shows digits of the value: a new value gets a new
     * one, and the old one is revoked) */
    for (size_t j = 0; j < rec.nvalues; j++) {
        struct cu_in_value *iv = &rec.values[j];
        const char *old = NULL;
        for (int i = 0; i < cu_res_rows(cur); i++) {
            if (strcmp(cu_res_text(cur, i, CU_COL_VALUE_FIELD), iv->f->name) == 0) {
                old = cu_res_text(cur, i, CU_COL_VALUE_TOKEN);
            }
        }
        if (old != NULL && iv->f->kind == CU_TOK_RANDOM) {
            iv->token = cu_arena_strdup(arena, old);
        } else if (old == NULL || strcmp(old, iv->token) != 0) {
            json_array_append_new(new_tokens,
                                  json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "token", iv->token,
                                            "record_id", id, "collection", collection, "field",
                                            iv->f->name, "shared", cu_tokkind_shared(iv->f->kind),
                                            "reserved", iv->reserved));
            if (old != NULL) {
                json_array_append_new(revoke, json_pack("{s:s, s:s, s:s}", "token", old,
                                                        "record_id", id, "field", iv->f->name));
            }
        }
    }
    req.subject = subject;
    req.n = (long long)rec.nvalues;
    CU_TRY(cu_keyring_subject_keys_for_write(s->keyring, tx, a->tenant, spec.inc, &req, 1));
    CU_TRY(cu_intake_seal(&rec, 1, &req, 1, a->tenant, collection, arena, values_b, NULL));
    CU_TRY(cu_intake_exec(tx, a->tenant, values_b, cu_store_values_upsert));
    CU_TRY(cu_intake_exec(tx, a->tenant, revoke, cu_store_tokens_revoke));
    rc = cu_intake_exec(tx, a->tenant, new_tokens, cu_store_tokens_insert);
    if (rc == CU_ERR_CONFLICT) {
        rc = cu_err_public(CU_ERR_CONFLICT, "The token of a new value is already issued to another "
                                            "field: format_preserving_deterministic fields of a "
                                            "tenant share one token space");
    }
    CU_TRY(rc);
    CU_TRY(cu_store_record_touch(tx, a->tenant, id));
    json_t *fields = json_array();
    for (size_t j = 0; j < rec.nvalues; j++) {
        json_array_append_new(fields, json_string(rec.values[j].f->name));
    }
    json_t *audit = json_array();
    json_array_append_new(audit, cu_audit_entry(a, "record.rectify", collection, fields, id,
                                                subject, NULL, NULL, "allowed"));
    CU_TRY(cu_audit_write(tx, a->tenant, audit));
    struct cu_db_result *now = NULL;
    CU_TRY(cu_store_record_values(tx, a->tenant, id, arena, &now));
    CU_TRY(cu_tx_commit(&tx));
    json_t *tokens = json_object();
    for (int i = 0; i < cu_res_rows(now); i++) {
        json_object_set_new(tokens, cu_res_text(now, i, CU_COL_VALUE_FIELD),
                            json_string(cu_res_text(now, i, CU_COL_VALUE_TOKEN)));
    }
    *out = json_pack("{s:s, s:s, s:o}", "id", id, "subject_id", subject, "tokens", tokens);
out:
    cu_tx_abort(&tx);
    cu_secret_free(req.key);
    cu_tenant_keys_cleanup(&keys);
    json_decref(values_b);
    json_decref(new_tokens);
    json_decref(revoke);
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_record_delete(struct cu_svc *s, const struct cu_actor *a, const char *collection, const char *id)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    const char *subject = NULL;
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    CU_TRY(load_record(tx, a->tenant, collection, id, 1, arena, &subject));
    int deleted = 0;
    CU_TRY(cu_store_record_delete(tx, a->tenant, collection, id, &deleted));
    CU_CHECK(deleted == 1, CU_ERR_GONE, "record already deleted");
    json_t *audit = json_array();
    json_array_append_new(audit, cu_audit_entry(a, "record.delete", collection, NULL, id, subject,
                                                NULL, NULL, "allowed"));
    CU_TRY(cu_audit_write(tx, a->tenant, audit));
    rc = cu_tx_commit(&tx);
out:
    cu_tx_abort(&tx);
    cu_arena_free(arena);
    return rc;
}
