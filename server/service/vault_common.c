/* Shared vault pieces: identifiers, collection specs, value sealing, tokens, blind indexes,
 * purposes, per-item errors and audit entries. */
#include "service/vault_internal.h"

#include "core/metrics.h"
#include "crypto/aead.h"
#include "crypto/encode.h"
#include "crypto/ff1.h"
#include "crypto/hmac.h"
#include "crypto/token.h"
#include "storage/vaultstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {"random", "deterministic", "format_preserving"};

const char *
cu_tokkind_name(enum cu_tokkind k)
{
    return kind_names[k];
}

int
cu_ident_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || !(s[0] >= 'a' && s[0] <= 'z')) {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
            return 0;
        }
    }
    return 1;
}

int
cu_purpose_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || !(s[0] >= 'a' && s[0] <= 'z')) {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

int
cu_subject_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("._:@+-", c) != NULL)) {
            return 0;
        }
    }
    return 1;
}

int
cu_record_id_ok(const char *s)
{
    if (strncmp(s, "rec_", 4) != 0 || strlen(s) != 36) {
        return 0;
    }
    for (const char *p = s + 4; *p; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

/* ---- collection specs ---- */

static int
kind_parse(const char *s, enum cu_tokkind *out)
{
    for (int i = 0; i < 3; i++) {
        if (strcmp(s, kind_names[i]) == 0) {
            *out = (enum cu_tokkind)i;
            return 1;
        }
    }
    return 0;
}

enum cu_err
cu_spec_parse(json_t *fields, struct cu_arena *arena, struct cu_coll_spec *out,
              struct cu_problems *problems)
{
    if (!json_is_object(fields) || json_object_size(fields) == 0 ||
        json_object_size(fields) > CU_MAX_FIELDS) {
        cu_problem_add(problems, "/fields", "must be an object of 1 to 64 fields");
        return cu_err_set(CU_ERR_INVALID, __FILE__, __LINE__, "bad fields");
    }
    out->fields = cu_arena_alloc(arena, json_object_size(fields) * sizeof(*out->fields));
    out->nfields = 0;
    const char *name;
    json_t *def;
    json_object_foreach(fields, name, def)
    {
        const char *ptr = cu_arena_printf(arena, "/fields/%s", cu_ident_ok(name) ? name : "");
        if (!cu_ident_ok(name)) {
            cu_problem_add(problems, "/fields", "field names must match ^[a-z][a-z0-9_]{0,62}$");
            continue;
        }
        if (!json_is_object(def)) {
            cu_problem_add(problems, ptr, "must be an object");
            continue;
        }
        struct cu_field_spec *f = &out->fields[out->nfields];
        memset(f, 0, sizeof(*f));
        f->name = cu_arena_strdup(arena, name);
        f->kind = CU_TOK_RANDOM;
        int ok = 1;
        const char *key;
        json_t *v;
        json_object_foreach(def, key, v)
        {
            if (strcmp(key, "type") == 0) {
                if (!json_is_string(v) || cu_ftype_parse(json_string_value(v), &f->type) != CU_OK) {
                    cu_problem_add(problems, cu_arena_printf(arena, "%s/type", ptr),
                                   "must be one of string name email phone card_number ssn date "
                                   "address text");
                    ok = 0;
                }
            } else if (strcmp(key, "tokenization") == 0) {
                if (!json_is_string(v) || !kind_parse(json_string_value(v), &f->kind)) {
                    cu_problem_add(problems, cu_arena_printf(arena, "%s/tokenization", ptr),
                                   "must be random, deterministic or format_preserving");
                    ok = 0;
                }
            } else if (strcmp(key, "searchable") == 0 || strcmp(key, "required") == 0) {
                if (!json_is_boolean(v)) {
                    cu_problem_add(problems, cu_arena_printf(arena, "%s/%s", ptr, key),
                                   "must be a boolean");
                    ok = 0;
                } else if (key[0] == 's') {
                    f->searchable = json_is_true(v);
                } else {
                    f->required = json_is_true(v);
                }
            } else {
                cu_problem_add(problems, ptr, "unknown member");
                ok = 0;
            }
        }
        if (json_object_get(def, "type") == NULL) {
            cu_problem_add(problems, cu_arena_printf(arena, "%s/type", ptr), "is required");
            ok = 0;
        }
        if (ok && f->kind == CU_TOK_FPE && !cu_ftype_digits(f->type)) {
            cu_problem_add(problems, cu_arena_printf(arena, "%s/tokenization", ptr),
                           "format_preserving is for card_number, ssn and phone only");
            ok = 0;
        }
        if (ok) {
            out->nfields++;
        }
    }
    if (problems->errors != NULL) {
        return cu_err_set(CU_ERR_INVALID, __FILE__, __LINE__, "invalid collection fields");
    }
    return CU_OK;
}

enum cu_err
cu_spec_load(struct cu_tx *tx, const char *tenant, const char *name, enum cu_spec_lock lock,
             struct cu_arena *arena,
             struct cu_coll_spec *out)
{
    memset(out, 0, sizeof(*out));
    CU_ENSURE(cu_ident_ok(name), CU_ERR_NOT_FOUND, "malformed collection name");
    struct cu_db_result *r = NULL;
    CU_GUARD(cu_store_collection_get(tx, tenant, name, (int)lock, arena, &r));
    CU_ENSURE(cu_res_rows(r) == 1, CU_ERR_NOT_FOUND, "no such collection");
    json_t *fields = json_loads(cu_res_text(r, 0, CU_COL_COLL_FIELDS), 0, NULL);
    CU_ENSURE(fields != NULL, CU_ERR_INTERNAL, "stored collection is not JSON");
    struct cu_problems p = {0};
    enum cu_err rc = cu_spec_parse(fields, arena, out, &p);
    json_decref(fields);
    json_decref(p.errors);
    CU_ENSURE(rc == CU_OK, CU_ERR_INTERNAL, "stored collection does not parse");
    out->name = cu_arena_strdup(arena, name);
    out->retention_days = atoi(cu_res_text(r, 0, CU_COL_COLL_RETENTION_DAYS));
    out->created_at = cu_res_text(r, 0, CU_COL_COLL_CREATED_AT);
    out->updated_at = cu_res_text(r, 0, CU_COL_COLL_UPDATED_AT);
    out->has_data = cu_res_text(r, 0, CU_COL_COLL_HAS_DATA)[0] == 't';
    out->inc = cu_res_text(r, 0, CU_COL_COLL_INC);
    return CU_OK;
}

const struct cu_field_spec *
cu_spec_field(const struct cu_coll_spec *spec, const char *name)
{
    for (size_t i = 0; i < spec->nfields; i++) {
        if (strcmp(spec->fields[i].name, name) == 0) {
            return &spec->fields[i];
        }
    }
    return NULL;
}

json_t *
cu_spec_json(const struct cu_coll_spec *spec)
{
    json_t *fields = json_object();
    for (size_t i = 0; i < spec->nfields; i++) {
        const struct cu_field_spec *f = &spec->fields[i];
        json_object_set_new(fields, f->name,
                            json_pack("{s:s, s:s, s:b, s:b}", "type", cu_ftype_name(f->type),
                                      "tokenization", kind_names[f->kind], "searchable",
                                      f->searchable, "required", f->required));
    }
    json_t *o = json_pack("{s:s, s:o}", "name", spec->name, "fields", fields);
    json_object_set_new(o, "retention_days",
                        spec->retention_days > 0 ? json_integer(spec->retention_days)
                                                 : json_null());
    if (spec->created_at != NULL) {
        json_object_set_new(o, "created_at", json_string(spec->created_at));
        json_object_set_new(o, "updated_at", json_string(spec->updated_at));
    }
    return o;
}

/* ---- keys ---- */

enum cu_err
cu_tenant_keys_load(struct cu_svc *s, struct cu_tx *tx, const char *tenant,
                    const struct cu_coll_spec *spec, struct cu_tenant_keys *k)
{
    memset(k, 0, sizeof(*k));
    int need_index = 0, need_token = 0, need_ff1 = 0;
    for (size_t i = 0; i < spec->nfields; i++) {
        need_index |= spec->fields[i].searchable;
        need_token |= spec->fields[i].kind == CU_TOK_DETERMINISTIC;
        need_ff1 |= spec->fields[i].kind == CU_TOK_FPE;
    }
    if (need_index) {
        CU_GUARD(cu_keyring_tenant_key(s->keyring, tx, tenant, spec->inc, CU_TKEY_INDEX,
                                        &k->index));
    }
    if (need_token) {
        CU_GUARD(cu_keyring_tenant_key(s->keyring, tx, tenant, spec->inc, CU_TKEY_TOKEN,
                                        &k->token));
    }
    if (need_ff1) {
        CU_GUARD(cu_keyring_tenant_key(s->keyring, tx, tenant, spec->inc, CU_TKEY_FF1,
                                        &k->ff1));
    }
    return CU_OK;
}

void
cu_tenant_keys_cleanup(struct cu_tenant_keys *k)
{
    cu_secret_free(k->index);
    cu_secret_free(k->token);
    cu_secret_free(k->ff1);
    memset(k, 0, sizeof(*k));
}

/* ---- values ---- */

static char *
value_aad(struct cu_arena *arena, const char *tenant, const char *collection,
          const char *record_id, const char *field, int key_version)
{
    return cu_arena_printf(arena, "custos:value:v1|%s|%s|%s|%s|%d", tenant, collection,
                           record_id, field, key_version);
}

enum cu_err
cu_value_seal(const struct cu_secret *key, const char *tenant, const char *collection,
              const char *record_id, const char *field, int key_version, const char *pt,
              size_t len, struct cu_arena *arena, char **hex)
{
    const char *aad = value_aad(arena, tenant, collection, record_id, field, key_version);
    size_t out_len = cu_aead_sealed_len(len);
    uint8_t *sealed = cu_arena_alloc(arena, out_len);
    CU_GUARD(cu_aead_seal(key->data, (const uint8_t *)aad, strlen(aad), (const uint8_t *)pt, len,
                          sealed, &out_len));
    size_t hex_len = 0;
    char *h = cu_hex_encode(sealed, out_len, &hex_len);
    *hex = cu_arena_strndup(arena, h, hex_len);
    free(h);
    return CU_OK;
}

enum cu_err
cu_value_open(const struct cu_secret *key, const char *tenant, const char *collection,
              const char *record_id, const char *field, int key_version, const uint8_t *ct,
              size_t ct_len, struct cu_arena *arena, char **pt, size_t *len)
{
    *pt = NULL;
    const char *aad = value_aad(arena, tenant, collection, record_id, field, key_version);
    size_t n = cu_aead_opened_len(ct_len);
    uint8_t *buf = cu_arena_alloc(arena, n + 1);
    size_t out_len = 0;
    CU_GUARD(cu_aead_open(key->data, (const uint8_t *)aad, strlen(aad), ct, ct_len, buf,
                          &out_len));
    buf[out_len] = '\0';
    *pt = (char *)buf;
    *len = out_len;
    return CU_OK;
}

/* Card tokens: the first 6 and last 4 digits kept; the free middle digits but one are FF1
 * encrypted (tweak binds tenant, collection, field and the kept digits); the last middle digit is
 * chosen so that the Luhn check fails. Injective: equal tokens mean equal cards. */
static enum cu_err
card_token(const struct cu_tenant_keys *k, const char *tweak, const char *pan, size_t n,
           struct cu_arena *arena, char **token, const char **problem)
{
    if (n < 13) {
        *problem = "card numbers under 13 digits cannot have a format-preserving token";
        return cu_err_set(CU_ERR_INVALID, __FILE__, __LINE__, "card too short for fpe");
    }
    size_t free_len = n - 10 - 1;
    char *t = cu_arena_strndup(arena, pan, n);
    char mid[24];
    memcpy(mid, pan + 6, free_len);
    mid[free_len] = '\0';
    char enc[24];
    char *tw = cu_arena_printf(arena, "%s|%.6s|%.4s", tweak, pan, pan + n - 4);
    enum cu_err rc = cu_ff1_encrypt_small_digits(k->ff1->data, (const uint8_t *)tw, strlen(tw),
                                                 mid, enc);
    cu_wipe(mid, sizeof(mid));
    CU_GUARD(rc);
    memcpy(t + 6, enc, free_len);
    cu_wipe(enc, sizeof(enc));
    size_t pos = 6 + free_len;
    for (char d = '0'; d <= '9'; d++) {
        t[pos] = d;
        if (cu_luhn_valid(t, n)) {
            t[pos] = (char)('0' + (d - '0' + 1) % 10);
            break;
        }
    }
    *token = t;
    return CU_OK;
}

enum cu_err
cu_value_token(const struct cu_field_spec *f, const struct cu_tenant_keys *k, const char *tenant,
               const char *collection, const char *normalized, size_t len,
               struct cu_arena *arena, char **token, const char **problem)
{
    char buf[CU_TOKEN_BUF];
    char *context = cu_arena_printf(arena, "%s|%s|%s", tenant, collection, f->name);
    switch (f->kind) {
    case CU_TOK_RANDOM:
        CU_GUARD(cu_token_random(buf));
        *token = cu_arena_strdup(arena, buf);
        return CU_OK;
    case CU_TOK_DETERMINISTIC:
        CU_GUARD(cu_token_deterministic(k->token->data, context, (const uint8_t *)normalized, len,
                                        buf));
        *token = cu_arena_strdup(arena, buf);
        return CU_OK;
    case CU_TOK_FPE:
        break;
    }
    if (f->type == CU_FT_CARD) {
        return card_token(k, context, normalized, len, arena, token, problem);
    }
    /* ssn "AAA-GG-SSSS" and phone "+digits": FF1 over the digits, punctuation kept */
    char digits[32];
    size_t nd = 0;
    for (size_t i = 0; i < len && nd + 1 < sizeof(digits); i++) {
        if (normalized[i] >= '0' && normalized[i] <= '9') {
            digits[nd++] = normalized[i];
        }
    }
    digits[nd] = '\0';
    char enc[32];
    enum cu_err rc = cu_ff1_encrypt_digits(k->ff1->data, (const uint8_t *)context,
                                           strlen(context), digits, enc);
    cu_wipe(digits, sizeof(digits));
    if (rc != CU_OK) {
        *problem = "the value is too short for a format-preserving token";
        return cu_err_set(CU_ERR_INVALID, __FILE__, __LINE__, "fpe refused");
    }
    char *t = cu_arena_strndup(arena, normalized, len);
    size_t j = 0;
    for (size_t i = 0; i < len; i++) {
        if (t[i] >= '0' && t[i] <= '9') {
            t[i] = enc[j++];
        }
    }
    cu_wipe(enc, sizeof(enc));
    *token = t;
    return CU_OK;
}

enum cu_err
cu_value_blind_index(const struct cu_tenant_keys *k, const char *collection, const char *field,
                     const char *normalized, size_t len, uint8_t out[32])
{
    uint8_t lc[4], lf[4];
    cu_put_be32(lc, (uint32_t)strlen(collection));
    cu_put_be32(lf, (uint32_t)strlen(field));
    struct cu_part parts[] = {{lc, 4},
                              {collection, strlen(collection)},
                              {lf, 4},
                              {field, strlen(field)},
                              {normalized, len}};
    return cu_hmac_sha256_parts(k->index->data, k->index->len, parts, 5, out);
}

/* ---- purposes, errors, audit ---- */

enum cu_err
cu_purpose_check(struct cu_tx *tx, const char *tenant, const char *purpose,
                 struct cu_arena *arena, const char **basis)
{
    static const char undeclared[] = "The X-Purpose is not a declared purpose of this tenant";
    if (purpose == NULL || purpose[0] == '\0') {
        cu_err_set(CU_ERR_BAD_REQUEST, __FILE__, __LINE__, "no X-Purpose");
        return cu_err_public(CU_ERR_BAD_REQUEST,
                             "The X-Purpose header is required to read personal data");
    }
    if (!cu_purpose_name_ok(purpose)) {
        cu_err_set(CU_ERR_FORBIDDEN, __FILE__, __LINE__, "malformed purpose");
        return cu_err_public(CU_ERR_FORBIDDEN, undeclared);
    }
    struct cu_db_result *r = NULL;
    CU_GUARD(cu_store_purpose_get(tx, tenant, purpose, arena, &r));
    if (cu_res_rows(r) != 1) {
        cu_err_set(CU_ERR_FORBIDDEN, __FILE__, __LINE__, "purpose not declared");
        return cu_err_public(CU_ERR_FORBIDDEN, undeclared);
    }
    *basis = cu_res_text(r, 0, CU_COL_PURPOSE_LAWFUL_BASIS);
    return CU_OK;
}

enum cu_err
cu_idem_check(struct cu_tx *tx, const char *tenant, const char *principal, const struct cu_idem *k,
              int *hit, int *status, json_t **out)
{
    *hit = 0;
    if (k == NULL || k->key == NULL) {
        return CU_OK;
    }
    struct cu_arena *arena = cu_arena_new();
    struct cu_db_result *r = NULL;
    enum cu_err rc = tenant != NULL ? cu_store_idem_get(tx, tenant, principal, k->key, arena, &r)
                                    : cu_store_pidem_get(tx, principal, k->key, arena, &r);
    CU_TRY(rc);
    if (cu_res_rows(r) == 1) {
        uint8_t *h = NULL;
        size_t hl = 0;
        CU_TRY(cu_res_bytea(r, 0, CU_COL_IDEM_REQUEST_HASH, arena, &h, &hl));
        if (hl != 32 || !cu_ct_equal(h, k->hash, 32)) {
            cu_err_public(CU_ERR_CONFLICT, "This Idempotency-Key was used with another request");
            CU_FAIL(CU_ERR_CONFLICT, "idempotency key reused with another request");
        }
        *status = (int)cu_res_int(r, 0, CU_COL_IDEM_STATUS);
        *out = json_loads(cu_res_text(r, 0, CU_COL_IDEM_RESPONSE), 0, NULL);
        CU_CHECK(*out != NULL, CU_ERR_INTERNAL, "stored answer is not JSON");
        *hit = 1;
    }
out:
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_idem_store(struct cu_tx *tx, const char *tenant, const char *principal, const struct cu_idem *k,
              int status, json_t *answer)
{
    if (k == NULL || k->key == NULL) {
        return CU_OK;
    }
    char *js = json_dumps(answer, JSON_COMPACT);
    CU_ENSURE(js != NULL, CU_ERR_INTERNAL, "could not encode the answer");
    enum cu_err rc =
        tenant != NULL ? cu_store_idem_put(tx, tenant, principal, k->key, k->hash, 32, status, js)
                       : cu_store_pidem_put(tx, principal, k->key, k->hash, 32, status, js);
    free(js);
    return rc;
}

void
cu_count_reveal(enum cu_level level)
{
    static const char *const names[] = {"reveals_none", "reveals_redacted", "reveals_masked",
                                        "reveals_plain"};
    cu_metrics_count(names[level], 1);
}

json_t *
cu_item_error(enum cu_err e, const char *detail, json_t *errors)
{
    char type[96];
    snprintf(type, sizeof(type), "https://custos.dev/problems/%s", cu_err_slug(e));
    json_t *o = json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title", cu_err_title(e),
                          "status", cu_err_status(e), "detail",
                          detail != NULL ? detail : cu_err_title(e));
    if (errors != NULL) {
        json_object_set_new(o, "errors", errors);
    }
    return o;
}

static json_t *
str_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

json_t *
cu_audit_entry(const struct cu_actor *a, const char *action, const char *collection,
               json_t *fields, const char *record_id, const char *subject_id, const char *purpose,
               const char *redaction, const char *outcome)
{
    json_t *e = json_object();
    json_object_set_new(e, "principal", json_string(a->principal ? a->principal : ""));
    json_object_set_new(e, "action", json_string(action));
    json_object_set_new(e, "collection", str_or_null(collection));
    json_object_set_new(e, "fields", fields != NULL ? fields : json_null());
    json_object_set_new(e, "record_id", str_or_null(record_id));
    json_object_set_new(e, "subject_id", str_or_null(subject_id));
    json_object_set_new(e, "purpose", str_or_null(purpose));
    json_object_set_new(e, "redaction", str_or_null(redaction));
    json_object_set_new(e, "outcome", json_string(outcome));
    json_object_set_new(e, "request_id", str_or_null(a->request_id));
    return e;
}

enum cu_err
cu_audit_write(struct cu_tx *tx, const char *tenant, json_t *entries)
{
    if (json_array_size(entries) == 0) {
        json_decref(entries);
        return CU_OK;
    }
    char *js = json_dumps(entries, JSON_COMPACT);
    json_decref(entries);
    CU_ENSURE(js != NULL, CU_ERR_INTERNAL, "could not encode audit entries");
    enum cu_err rc = cu_store_audit_insert(tx, tenant, js);
    free(js);
    if (rc != CU_OK) {
        /* fail closed: the operation this entry records must not happen without it */
        return cu_err_set(rc == CU_ERR_UNAVAILABLE ? rc : CU_ERR_INTERNAL, __FILE__, __LINE__,
                          "could not write the audit entry");
    }
    return CU_OK;
}

enum cu_err
cu_audit_write_commit(struct cu_tx **tx, const char *tenant, json_t *entries)
{
    if (json_array_size(entries) == 0) {
        json_decref(entries);
        return cu_tx_commit(tx);
    }
    char *js = json_dumps(entries, JSON_COMPACT);
    json_decref(entries);
    if (js == NULL) {
        cu_tx_abort(tx);
        return cu_err_set(CU_ERR_INTERNAL, __FILE__, __LINE__, "could not encode audit entries");
    }
    enum cu_err rc = cu_store_audit_insert_commit(tx, tenant, js);
    free(js);
    if (rc != CU_OK) {
        /* fail closed: the operation this entry records must not happen without it */
        return cu_err_set(rc == CU_ERR_UNAVAILABLE ? rc : CU_ERR_INTERNAL, __FILE__, __LINE__,
                          "could not write the audit entry");
    }
    return CU_OK;
}

void
cu_audit_denial(struct cu_svc *s, const struct cu_actor *a, const char *action,
                const char *collection)
{
    if (a->tenant == NULL) {
        return;
    }
    struct cu_tx *tx = NULL;
    if (cu_tx_begin(s->db, a->tenant, &tx) != CU_OK) {
        return;
    }
    json_t *entries = json_array();
    json_array_append_new(entries, cu_audit_entry(a, action, collection, NULL, NULL, NULL, NULL,
                                                  NULL, "denied"));
    if (cu_audit_write(tx, a->tenant, entries) != CU_OK) {
        cu_tx_abort(&tx);
        return;
    }
    enum cu_err ignored = cu_tx_commit(&tx);
    (void)ignored;
}
