/* Records: tokenize (batch), read by level and purpose, rectify, delete, search. Each request is
 * one transaction with a fixed number of statements whatever the batch size. */
#include "service/vault_internal.h"

#include "core/id.h"
#include "core/metrics.h"
#include "crypto/encode.h"
#include "service/mask.h"
#include "storage/vaultstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One field value of an incoming record, validated and tokenized. */
struct in_value {
    const struct cu_field_spec *f;
    char *norm; /* arena, wiped with it */
    size_t len;
    char *token;
    int has_index;
    uint8_t index[32];
};

struct in_record {
    const char *subject;
    char id[40];
    struct in_value *values;
    size_t nvalues;
    int ok;
    json_t *errors; /* per-item problems */
};

static void
item_problem(struct in_record *r, struct cu_arena *arena, size_t i, const char *sub,
             const char *detail)
{
    if (r->errors == NULL) {
        r->errors = json_array();
    }
    json_array_append_new(r->errors,
                          json_pack("{s:s, s:s}", "pointer",
                                    cu_arena_printf(arena, "/records/%zu%s", i, sub), "detail",
                                    detail));
    r->ok = 0;
}

/* Validates and normalizes the fields object of a record against the spec; computes tokens and
 * blind indexes. pointer_base: "/records/<i>" or "" (rectify). */
static void
take_fields(struct in_record *r, size_t index, json_t *fields, const struct cu_coll_spec *spec,
            const struct cu_tenant_keys *keys, const char *tenant, int require_all,
            struct cu_arena *arena)
{
    if (!json_is_object(fields) || json_object_size(fields) == 0) {
        item_problem(r, arena, index, "/fields", "must be an object with at least one field");
        return;
    }
    r->values = cu_arena_alloc(arena, json_object_size(fields) * sizeof(*r->values));
    const char *name;
    json_t *v;
    json_object_foreach(fields, name, v)
    {
        const struct cu_field_spec *f = cu_spec_field(spec, name);
        const char *sub = cu_arena_printf(arena, "/fields/%s", cu_ident_ok(name) ? name : "");
        if (f == NULL) {
            item_problem(r, arena, index, sub, "unknown field");
            continue;
        }
        if (!json_is_string(v)) {
            item_problem(r, arena, index, sub, "must be a string");
            continue;
        }
        struct in_value *iv = &r->values[r->nvalues];
        const char *problem = NULL;
        if (cu_value_normalize(f->type, json_string_value(v), json_string_length(v), arena,
                               &iv->norm, &iv->len, &problem) != CU_OK) {
            item_problem(r, arena, index, sub, problem ? problem : "invalid value");
            continue;
        }
        iv->f = f;
        if (cu_value_token(f, keys, tenant, spec->name, iv->norm, iv->len, arena, &iv->token,
                           &problem) != CU_OK) {
            item_problem(r, arena, index, sub, problem ? problem : "could not tokenize");
            continue;
        }
        if (f->searchable) {
            if (cu_value_blind_index(keys, spec->name, f->name, iv->norm, iv->len, iv->index) !=
                CU_OK) {
                item_problem(r, arena, index, sub, "could not index");
                continue;
            }
            iv->has_index = 1;
        }
        r->nvalues++;
    }
    for (size_t i = 0; require_all && i < spec->nfields; i++) {
        if (spec->fields[i].required && json_object_get(fields, spec->fields[i].name) == NULL) {
            item_problem(r, arena, index,
                         cu_arena_printf(arena, "/fields/%s", spec->fields[i].name),
                         "is required");
        }
    }
}

static int
cmp_req(const void *a, const void *b)
{
    return strcmp(((const struct cu_subject_key_req *)a)->subject,
                  ((const struct cu_subject_key_req *)b)->subject);
}

static struct cu_subject_key_req *
req_for(struct cu_subject_key_req *reqs, size_t n, const char *subject)
{
    struct cu_subject_key_req key = {.subject = subject};
    return bsearch(&key, reqs, n, sizeof(*reqs), cmp_req);
}

/* Seals every value of the ok records and appends them to the value and token batches. */
static enum cu_err
seal_values(struct in_record *recs, size_t n, struct cu_subject_key_req *reqs, size_t nreqs,
            const char *tenant, const char *collection, struct cu_arena *arena, json_t *values,
            json_t *tokens)
{
    for (size_t i = 0; i < n; i++) {
        struct in_record *r = &recs[i];
        if (!r->ok) {
            continue;
        }
        struct cu_subject_key_req *q = req_for(reqs, nreqs, r->subject);
        CU_ENSURE(q != NULL && q->key != NULL, CU_ERR_INTERNAL, "no key for a subject");
        for (size_t j = 0; j < r->nvalues; j++) {
            struct in_value *iv = &r->values[j];
            char *hex = NULL;
            CU_GUARD(cu_value_seal(q->key, tenant, collection, r->id, iv->f->name, q->version,
                                   iv->norm, iv->len, arena, &hex));
            json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s}", "record_id", r->id,
                                  "collection", collection, "field", iv->f->name, "key_version",
                                  q->version, "ct", hex, "token", iv->token);
            if (iv->has_index) {
                size_t hl = 0;
                char *bi = cu_hex_encode(iv->index, 32, &hl);
                json_object_set_new(o, "bi", json_string(bi));
                free(bi);
            } else {
                json_object_set_new(o, "bi", json_null());
            }
            json_array_append_new(values, o);
            if (tokens != NULL) {
                json_array_append_new(tokens, json_pack("{s:s, s:s, s:s, s:s}", "token",
                                                        iv->token, "record_id", r->id,
                                                        "collection", collection, "field",
                                                        iv->f->name));
            }
        }
    }
    return CU_OK;
}

/* Gets (or creates) the data keys of the subjects of the ok records. */
static enum cu_err
subject_keys(struct cu_svc *s, struct cu_tx *tx, const char *tenant, const char *inc,
             struct in_record *recs, size_t n, struct cu_subject_key_req **out, size_t *nout)
{
    struct cu_subject_key_req *reqs = cu_xcalloc(n ? n : 1, sizeof(*reqs));
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (recs[i].ok) {
            reqs[m].subject = recs[i].subject;
            reqs[m].n = (long long)recs[i].nvalues;
            m++;
        }
    }
    qsort(reqs, m, sizeof(*reqs), cmp_req);
    size_t u = 0;
    for (size_t i = 0; i < m; i++) {
        if (u > 0 && strcmp(reqs[u - 1].subject, reqs[i].subject) == 0) {
            reqs[u - 1].n += reqs[i].n;
        } else {
            reqs[u++] = reqs[i];
        }
    }
    enum cu_err rc = cu_keyring_subject_keys_for_write(s->keyring, tx, tenant, inc, reqs, u);
    if (rc != CU_OK) {
        free(reqs);
        return rc;
    }
    *out = reqs;
    *nout = u;
    return CU_OK;
}

static void
free_reqs(struct cu_subject_key_req *reqs, size_t n)
{
    for (size_t i = 0; reqs != NULL && i < n; i++) {
        cu_secret_free(reqs[i].key);
    }
    free(reqs);
}

static enum cu_err
exec_batch(struct cu_tx *tx, const char *tenant, json_t *batch,
           enum cu_err (*fn)(struct cu_tx *, const char *, const char *))
{
    if (json_array_size(batch) == 0) {
        return CU_OK;
    }
    char *js = json_dumps(batch, JSON_COMPACT);
    CU_ENSURE(js != NULL, CU_ERR_INTERNAL, "could not encode a batch");
    enum cu_err rc = fn(tx, tenant, js);
    free(js);
    return rc;
}

enum cu_err
cu_records_create(struct cu_svc *s, const struct cu_actor *a, const char *collection,
                  json_t *body, const struct cu_idem *idem, struct cu_problems *problems,
                  int *status, json_t **out)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    struct cu_tenant_keys keys = {0};
    struct cu_subject_key_req *reqs = NULL;
    size_t nreqs = 0;
    struct in_record *recs = NULL;
    size_t n = 0;
    json_t *records_b = json_array(), *values_b = json_array(), *tokens_b = json_array();
    json_t *audit = json_array();
    json_t *result = NULL;
    enum cu_err rc = CU_OK;
    *out = NULL;

    json_t *list = json_object_get(body, "records");
    if (!json_is_object(body) || json_object_size(body) != 1 || !json_is_array(list) ||
        json_array_size(list) < 1 || json_array_size(list) > CU_MAX_BATCH) {
        cu_problem_add(problems, "/records", "must be the only member: an array of 1 to 1000");
        CU_FAIL(CU_ERR_INVALID, "bad records body");
    }
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    int hit = 0;
    CU_TRY(cu_idem_check(tx, a->tenant, a->principal, idem, &hit, status, out));
    if (hit) {
        json_t *replay = json_array();
        json_array_append_new(replay, cu_audit_entry(a, "tokenize.replay", collection, NULL, NULL,
                                                     NULL, NULL, NULL, "allowed"));
        CU_TRY(cu_audit_write(tx, a->tenant, replay));
        rc = cu_tx_commit(&tx);
        goto out;
    }
    struct cu_coll_spec spec;
    CU_TRY(cu_spec_load(tx, a->tenant, collection, CU_SPEC_WRITE, arena, &spec));
    CU_TRY(cu_tenant_keys_load(s, tx, a->tenant, &spec, &keys));

    n = json_array_size(list);
    recs = cu_arena_alloc(arena, n * sizeof(*recs));
    size_t good = 0;
    for (size_t i = 0; i < n; i++) {
        struct in_record *r = &recs[i];
        json_t *item = json_array_get(list, i);
        r->ok = 1;
        if (!json_is_object(item)) {
            item_problem(r, arena, i, "", "must be an object");
            continue;
        }
        if (cu_unknown_members(item, (const char *const[]){"subject_id", "fields", NULL}) > 0) {
            item_problem(r, arena, i, "", "unknown member");
        }
        r->subject = json_string_value(json_object_get(item, "subject_id"));
        if (r->subject == NULL || !cu_subject_id_ok(r->subject)) {
            item_problem(r, arena, i, "/subject_id",
                         "must be 1 to 128 characters of A-Z a-z 0-9 . _ : @ + -");
        }
        take_fields(r, i, json_object_get(item, "fields"), &spec, &keys, a->tenant, 1, arena);
        if (!r->ok) {
            continue;
        }
        char hex[33];
        cu_random_hex(hex, 16);
        snprintf(r->id, sizeof(r->id), "rec_%s", hex);
        good++;
    }
    if (good > 0) {
        CU_TRY(subject_keys(s, tx, a->tenant, spec.inc, recs, n, &reqs, &nreqs));
        CU_TRY(seal_values(recs, n, reqs, nreqs, a->tenant, collection, arena, values_b,
                           tokens_b));
    }
    result = json_array();
    for (size_t i = 0; i < n; i++) {
        struct in_record *r = &recs[i];
        if (!r->ok) {
            json_array_append_new(result,
                                  json_pack("{s:I, s:o}", "index", (json_int_t)i, "error",
                                            cu_item_error(CU_ERR_INVALID, "The record breaks "
                                                                          "the collection's schema",
                                                          json_incref(r->errors))));
            if (n == 1 || good == 0) {
                for (size_t k = 0; k < json_array_size(r->errors); k++) {
                    json_t *e = json_array_get(r->errors, k);
                    cu_problem_add(problems, json_string_value(json_object_get(e, "pointer")),
                                   json_string_value(json_object_get(e, "detail")));
                }
            }
            json_decref(r->errors);
            r->errors = NULL;
            continue;
        }
        json_array_append_new(records_b, json_pack("{s:s, s:s, s:s}", "id", r->id, "collection",
                                                   collection, "subject_id", r->subject));
        json_t *toks = json_object();
        json_t *fields = json_array();
        for (size_t j = 0; j < r->nvalues; j++) {
            json_object_set_new(toks, r->values[j].f->name, json_string(r->values[j].token));
            json_array_append_new(fields, json_string(r->values[j].f->name));
        }
        json_array_append_new(result, json_pack("{s:s, s:s, s:o}", "id", r->id, "subject_id",
                                                r->subject, "tokens", toks));
        json_array_append_new(audit, cu_audit_entry(a, "tokenize", collection, fields, r->id,
                                                    r->subject, NULL, NULL, "allowed"));
    }
    if (good == 0) {
        /* nothing stored: the whole request is refused, the refusal audited */
        json_array_append_new(audit, cu_audit_entry(a, "tokenize", collection, NULL, NULL, NULL,
                                                    NULL, NULL, "invalid"));
        rc = cu_audit_write(tx, a->tenant, audit); /* takes audit, also on failure */
        audit = NULL;
        CU_TRY(rc);
        CU_TRY(cu_tx_commit(&tx));
        CU_FAIL(CU_ERR_INVALID, "no valid record");
    }
    {
        char *rj = json_dumps(records_b, JSON_COMPACT);
        char *vj = json_dumps(values_b, JSON_COMPACT);
        char *tj = json_dumps(tokens_b, JSON_COMPACT);
        char *aj = json_dumps(audit, JSON_COMPACT);
        /* without an Idempotency-Key to remember, the writes end the transaction: one round
         * trip for them and COMMIT (the call ends tx either way) */
        int last = idem == NULL || idem->key == NULL;
        rc = !(rj && vj && tj && aj) ? CU_ERR_INTERNAL
             : last                 ? cu_store_write_batch_commit(&tx, a->tenant, rj, vj, tj, aj)
                                    : cu_store_write_batch(tx, a->tenant, rj, vj, tj, aj);
        free(rj);
        free(vj);
        free(tj);
        free(aj);
        if (rc != CU_OK) {
            /* fail closed: nothing is stored without its audit entries */
            goto out;
        }
    }
    *status = good == n ? 201 : 200;
    *out = json_pack("{s:O}", "records", result);
    if (tx != NULL) {
        CU_TRY(cu_idem_store(tx, a->tenant, a->principal, idem, *status, *out));
        rc = cu_tx_commit(&tx);
    }
    if (rc == CU_OK) {
        cu_metrics_count("values_tokenized", json_array_size(values_b));
    }
out:
    if (rc != CU_OK && *out != NULL) {
        json_decref(*out);
        *out = NULL;
    }
    cu_tx_abort(&tx);
    cu_tenant_keys_cleanup(&keys);
    free_reqs(reqs, nreqs);
    for (size_t i = 0; recs != NULL && i < n; i++) {
        json_decref(recs[i].errors);
    }
    json_decref(records_b);
    json_decref(values_b);
    json_decref(tokens_b);
    json_decref(audit);
    json_decref(result);
    cu_arena_free(arena);
    return rc;
}

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
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    CU_TRY(cu_purpose_check(tx, a->tenant, purpose, arena, &basis));
    struct cu_coll_spec spec;
    CU_TRY(cu_spec_load(tx, a->tenant, collection, CU_SPEC_READ, arena, &spec));
    CU_TRY(load_record(tx, a->tenant, collection, id, 0, arena, &subject));
    if (strcmp(basis, "consent") == 0) {
        /* no consent grant exists yet (grants come with the consent API): refuse */
        json_t *denied = json_array();
        json_array_append_new(denied, cu_audit_entry(a, "record.read", collection, NULL, id,
                                                     subject, purpose, NULL, "denied_consent"));
        CU_TRY(cu_audit_write(tx, a->tenant, denied));
        CU_TRY(cu_tx_commit(&tx));
        cu_err_public(CU_ERR_FORBIDDEN, "The subject has not consented to this purpose");
        CU_FAIL(CU_ERR_FORBIDDEN, "no consent grant");
    }
    struct cu_db_result *r = NULL;
    CU_TRY(cu_store_record_values(tx, a->tenant, id, arena, &r));
    enum cu_level top = CU_LEVEL_NONE;
    for (int i = 0; i < cu_res_rows(r); i++) {
        const char *field = cu_res_text(r, i, CU_COL_VALUE_FIELD);
        const struct cu_field_spec *f = cu_spec_field(&spec, field);
        if (f == NULL || !in_filter(filter, field)) {
            continue;
        }
        enum cu_level granted = cu_scope_level(a->scopes, a->nscopes, collection, field);
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
        CU_TRY(cu_keyring_subject_key_unwrap(s->keyring, tx, a->tenant, spec.inc, subject, version,
                                             (int)cu_res_int(r, i, CU_COL_VALUE_KEK_VERSION), wrapped, wl, &key));
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
        json_array_append_new(audit, cu_audit_entry(a, "record.read", collection,
                                                    json_incref(withheld), id, subject, purpose,
                                                    NULL, "denied"));
        CU_TRY(cu_audit_write(tx, a->tenant, audit));
        CU_TRY(cu_tx_commit(&tx));
        CU_FAIL(CU_ERR_FORBIDDEN, "no field of the record is granted");
    }
    json_array_append_new(audit, cu_audit_entry(a, "record.read", collection,
                                                json_incref(revealed), id, subject, purpose,
                                                cu_level_name(top), "allowed"));
    CU_TRY(cu_audit_write(tx, a->tenant, audit));
    CU_TRY(cu_tx_commit(&tx));
    *out = json_pack("{s:s, s:s, s:s, s:O, s:O, s:O}", "id", id, "collection", collection,
                     "subject_id", subject, "fields", values, "redaction", levels, "tokens",
                     tokens);
    if (json_array_size(withheld) > 0) {
        json_object_set(*out, "withheld", withheld);
    }
out:
    cu_tx_abort(&tx);
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
    struct in_record rec = {.subject = subject, .ok = 1};
    snprintf(rec.id, sizeof(rec.id), "%s", id);
    take_fields(&rec, 0, json_object_get(body, "fields"), &spec, &keys, a->tenant, 0, arena);
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
    struct cu_db_result *cur = NULL;
    CU_TRY(cu_store_record_values(tx, a->tenant, id, arena, &cur));
    /* random tokens stay with the record; deterministic and format-preserving ones follow the
     * value */
    for (size_t j = 0; j < rec.nvalues; j++) {
        struct in_value *iv = &rec.values[j];
        const char *old = NULL;
        for (int i = 0; i < cu_res_rows(cur); i++) {
            if (strcmp(cu_res_text(cur, i, CU_COL_VALUE_FIELD), iv->f->name) == 0) {
                old = cu_res_text(cur, i, CU_COL_VALUE_TOKEN);
            }
        }
        if (old != NULL && iv->f->kind == CU_TOK_RANDOM) {
            iv->token = cu_arena_strdup(arena, old);
        } else if (old == NULL || strcmp(old, iv->token) != 0) {
            json_array_append_new(new_tokens, json_pack("{s:s, s:s, s:s, s:s}", "token",
                                                        iv->token, "record_id", id, "collection",
                                                        collection, "field", iv->f->name));
            if (old != NULL) {
                json_array_append_new(revoke, json_pack("{s:s, s:s, s:s}", "token", old,
                                                        "record_id", id, "field", iv->f->name));
            }
        }
    }
    req.subject = subject;
    req.n = (long long)rec.nvalues;
    CU_TRY(cu_keyring_subject_keys_for_write(s->keyring, tx, a->tenant, spec.inc, &req, 1));
    CU_TRY(seal_values(&rec, 1, &req, 1, a->tenant, collection, arena, values_b, NULL));
    CU_TRY(exec_batch(tx, a->tenant, values_b, cu_store_values_upsert));
    CU_TRY(exec_batch(tx, a->tenant, revoke, cu_store_tokens_revoke));
    CU_TRY(exec_batch(tx, a->tenant, new_tokens, cu_store_tokens_insert));
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
cu_record_delete(struct cu_svc *s, const struct cu_actor *a, const char *collection,
                 const char *id)
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

enum cu_err
cu_records_search(struct cu_svc *s, const struct cu_actor *a, const char *collection,
                  json_t *body, struct cu_problems *problems, json_t **out)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    struct cu_tenant_keys keys = {0};
    enum cu_err rc = CU_OK;
    if (!json_is_object(body)) {
        cu_problem_add(problems, "", "must be an object");
        CU_FAIL(CU_ERR_INVALID, "bad search body");
    }
    if (cu_unknown_members(body, (const char *const[]){"field", "value", NULL}) > 0) {
        cu_problem_add(problems, "", "unknown member");
    }
    const char *field = json_string_value(json_object_get(body, "field"));
    json_t *jv = json_object_get(body, "value");
    if (field == NULL) {
        cu_problem_add(problems, "/field", "must be a string");
    }
    if (!json_is_string(jv)) {
        cu_problem_add(problems, "/value", "must be a string");
    }
    CU_CHECK(problems->errors == NULL, CU_ERR_INVALID, "bad search body");
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    struct cu_coll_spec spec;
    CU_TRY(cu_spec_load(tx, a->tenant, collection, CU_SPEC_READ, arena, &spec));
    const struct cu_field_spec *f = cu_spec_field(&spec, field);
    if (f == NULL || !f->searchable) {
        cu_problem_add(problems, "/field", f == NULL ? "unknown field" : "is not searchable");
        CU_FAIL(CU_ERR_INVALID, "field not searchable");
    }
    char *norm = NULL;
    size_t len = 0;
    const char *problem = NULL;
    if (cu_value_normalize(f->type, json_string_value(jv), json_string_length(jv), arena, &norm,
                           &len, &problem) != CU_OK) {
        cu_problem_add(problems, "/value", problem ? problem : "invalid value");
        CU_FAIL(CU_ERR_INVALID, "invalid search value");
    }
    CU_TRY(cu_tenant_keys_load(s, tx, a->tenant, &spec, &keys));
    uint8_t bi[32];
    CU_TRY(cu_value_blind_index(&keys, collection, field, norm, len, bi));
    struct cu_db_result *r = NULL;
    CU_TRY(cu_store_search(tx, a->tenant, collection, field, bi, 32, 1000, arena, &r));
    json_t *list = json_array();
    for (int i = 0; i < cu_res_rows(r); i++) {
        json_t *toks = json_loads(cu_res_text(r, i, CU_COL_SEARCH_TOKENS), 0, NULL);
        json_array_append_new(list, json_pack("{s:s, s:s, s:o}", "id", cu_res_text(r, i, CU_COL_SEARCH_ID),
                                              "subject_id", cu_res_text(r, i, CU_COL_SEARCH_SUBJECT_ID), "tokens",
                                              toks ? toks : json_object()));
    }
    json_t *audit = json_array();
    json_array_append_new(audit, cu_audit_entry(a, "records.search", collection,
                                                json_pack("[s]", field), NULL, NULL, NULL, NULL,
                                                "allowed"));
    rc = cu_audit_write(tx, a->tenant, audit);
    if (rc != CU_OK) {
        json_decref(list);
        goto out;
    }
    rc = cu_tx_commit(&tx);
    if (rc == CU_OK) {
        *out = json_pack("{s:o}", "records", list);
    } else {
        json_decref(list);
    }
out:
    cu_tx_abort(&tx);
    cu_tenant_keys_cleanup(&keys);
    cu_arena_free(arena);
    return rc;
}
