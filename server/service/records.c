/* One record: read its fields at the lower of asked and granted level for a declared purpose
 * (one read round trip and its share of a group commit), rectify its values, delete it (each one
 * transaction with its audit entry). */
#include "service/vault.h"

#include "service/audit.h"
#include "service/controls.h"
#include "service/gates.h"
#include "service/group_commit.h"
#include "service/ident.h"
#include "service/intake.h"
#include "service/mask.h"
#include "service/purpose.h"
#include "service/spec.h"
#include "storage/rolestore.h"
#include "storage/vaultstore.h"

#include <stdio.h>
#include <string.h>

/* Reads the record row: CU_ERR_NOT_FOUND or CU_ERR_GONE (deleted). */
static enum cu_err
record_row(const struct cu_db_result *r, const char *id, const char **subject)
{
    CU_ENSURE(cu_record_id_ok(id), CU_ERR_NOT_FOUND, "malformed record id");
    CU_ENSURE(cu_res_rows(r) == 1, CU_ERR_NOT_FOUND, "no such record");
    CU_ENSURE(cu_res_text(r, 0, CU_COL_RECORD_DELETED)[0] != 't', CU_ERR_GONE, "record deleted");
    *subject = cu_res_text(r, 0, CU_COL_RECORD_SUBJECT_ID);
    return CU_OK;
}

static enum cu_err
load_record(struct cu_tx *tx, const char *tenant, const char *collection, const char *id,
            int for_update, struct cu_arena *arena, const char **subject)
{
    CU_ENSURE(cu_record_id_ok(id), CU_ERR_NOT_FOUND, "malformed record id");
    struct cu_db_result *r = NULL;
    CU_GUARD(cu_store_record_get(tx, tenant, collection, id, for_update, arena, &r));
    return record_row(r, id, subject);
}

/* The entry of a record read (allowed or refused): the read's connection goes back (the writer
 * needs one), then the entry is made durable through the group commit; CU_OK once it is, or why
 * it is not. */
static enum cu_err
audit_read(struct cu_svc *s, struct cu_tx **tx, const struct cu_actor *a, json_t *entry)
{
    cu_tx_abort(tx);
    return cu_audit_durable(s, a->tenant, json_pack("[o]", entry));
}

/* A token without any detokenize grant, its roles' included: 403 as any route refuses a token
 * without its scope (the HTTP layer adds the insufficient_scope challenge), audited like the
 * dispatcher's denials (the collection only when it is a valid name; best effort). */
static enum cu_err
refuse_no_scope(struct cu_svc *s, struct cu_tx **tx, const struct cu_actor *a,
                const char *collection)
{
    enum cu_err ignored =
        audit_read(s, tx, a,
                   cu_audit_entry(a, "record.read", cu_ident_ok(collection) ? collection : NULL,
                                  NULL, NULL, NULL, NULL, NULL, "denied"));
    (void)ignored;
    cu_err_set(CU_ERR_FORBIDDEN, __FILE__, __LINE__, "no detokenize scope");
    return cu_err_public(CU_ERR_FORBIDDEN, cu_scope_detokenize_missing);
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

/* One round trip reads what the decision needs (cu_store_record_read: the purpose, the
 * collection, the record, its subject's gates and values, and the principal's facts for a token
 * naming roles; one snapshot, an implicit read-only transaction); a key missing from the
 * keyring's cache costs one more read. The entry goes to the group commit and the answer leaves
 * once it is durable (fail closed), as for detokenize. */
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
    struct cu_record_read_out rr = {0};
    struct cu_db_result *fr = NULL; /* the principal's facts (service/controls.h) */
    const char *roles = cu_controls_roles_json(a, arena);
    if (roles == NULL && !cu_scope_any_detokenize(a->scopes, a->nscopes)) {
        /* decided on the token alone, before anything is read */
        CU_TRY(refuse_no_scope(s, &tx, a, collection));
    }
    enum cu_err named = cu_purpose_name_check(purpose);
    if (named == CU_OK || roles != NULL) {
        CU_TRY(cu_tx_begin_read(s->db, a->tenant, &tx));
        struct cu_step step;
        struct cu_params sp;
        if (roles != NULL) {
            cu_store_principal_step(&step, &sp, a->tenant, a->principal, roles, &fr);
        }
        if (named == CU_OK) {
            /* malformed names are never sent: they match nothing */
            CU_TRY(cu_store_record_read(
                tx, a->tenant, purpose, cu_ident_ok(collection) ? collection : "",
                cu_record_id_ok(id) ? id : "", arena, &rr, roles != NULL ? &step : NULL));
        } else {
            /* a malformed X-Purpose: only the roles' scopes are still to be known */
            CU_TRY(cu_tx_exec_steps(tx, &step, 1, arena));
        }
    }
    CU_TRY(cu_controls_load(&ctl, a, fr, arena));
    if (!cu_scope_any_detokenize(ctl.scopes, ctl.nscopes)) {
        CU_TRY(refuse_no_scope(s, &tx, a, collection));
    }
    rc = named == CU_OK ? cu_purpose_decide(rr.purpose, &basis) : cu_purpose_name_check(purpose);
    if (rc == CU_ERR_PURPOSE) {
        cu_audit_refusal(s, &tx, a, "record.read", collection, id, "denied_purpose");
        CU_FAIL(CU_ERR_PURPOSE, "undeclared purpose");
    }
    CU_TRY(rc);
    struct cu_coll_spec spec;
    CU_TRY(cu_spec_decode(rr.collection, collection, arena, &spec));
    CU_TRY(record_row(rr.record, id, &subject));
    const char *gate_outcome = NULL, *gate_detail = NULL;
    CU_CHECK(cu_res_rows(rr.gates) == 1, CU_ERR_INTERNAL, "record gates: %d rows",
             cu_res_rows(rr.gates));
    rc = cu_gate_reveal(rr.gates, subject, basis, &gate_outcome, &gate_detail);
    if (cu_gate_refused(rc)) {
        enum cu_err gate = rc;
        CU_TRY(audit_read(s, &tx, a,
                          cu_audit_entry(a, "record.read", collection, NULL, id, subject, purpose,
                                         NULL, gate_outcome)));
        cu_err_public(gate, gate_detail);
        CU_FAIL(gate, "%s", gate_outcome);
    }
    CU_TRY(rc);
    /* the interaction rule is on the whole record */
    enum cu_err denied = cu_controls_subject(&ctl, subject);
    if (denied != CU_OK) {
        CU_TRY(audit_read(s, &tx, a,
                          cu_audit_entry(a, "record.read", collection, NULL, id, subject, purpose,
                                         NULL, "denied_interaction")));
        cu_err_public(denied, cu_controls_detail(denied));
        CU_FAIL(denied, "no live interaction of the principal");
    }
    struct cu_db_result *r = rr.values;
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
    cu_secret_free(key);
    key = NULL;
    if (top == CU_LEVEL_NONE) {
        CU_TRY(audit_read(s, &tx, a,
                          cu_audit_entry(a, "record.read", collection, json_incref(withheld), id,
                                         subject, purpose, NULL, "denied")));
        cu_err_public(CU_ERR_FORBIDDEN, "The token lacks a detokenize:<collection>.<field>:<level> "
                                        "scope for any field of this record");
        CU_FAIL(CU_ERR_FORBIDDEN, "no field of the record is granted");
    }
    if (cu_controls_take(&ctl, top) != CU_OK) {
        CU_TRY(audit_read(s, &tx, a,
                          cu_audit_entry(a, "record.read", collection, json_incref(revealed), id,
                                         subject, purpose, NULL, "denied_budget")));
        cu_controls_answered(&ctl);
        cu_err_public(CU_ERR_RATE, cu_controls_detail(CU_ERR_RATE));
        CU_FAIL(CU_ERR_RATE, "plain reveal budget spent");
    }
    json_t *entry = cu_audit_entry(a, "record.read", collection, json_incref(revealed), id, subject,
                                   purpose, cu_level_name(top), "allowed");
    cu_controls_count(&ctl, top, entry);
    /* fail closed: nothing is answered before the entry is durable */
    CU_TRY(audit_read(s, &tx, a, entry));
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
