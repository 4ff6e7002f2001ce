/* Incoming field values, for tokenize and rectify: validated and normalized against the
 * collection spec, tokenized and indexed, then sealed under their subject's key (created when
 * the subject has none). */
#include "service/intake.h"

#include "crypto/encode.h"
#include "service/ident.h"
#include "storage/vaultstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
cu_in_problem(struct cu_in_record *r, struct cu_arena *arena, size_t i, const char *sub,
              const char *detail)
{
    if (r->errors == NULL) {
        r->errors = json_array();
    }
    r->ok = 0;
    if (json_array_size(r->errors) >= CU_MAX_PROBLEMS) {
        return;
    }
    json_array_append_new(r->errors, json_pack("{s:s, s:s}", "pointer",
                                               cu_arena_printf(arena, "/records/%zu%s", i, sub),
                                               "detail", detail));
}

/* Validates and normalizes the fields object of a record against the spec; computes tokens and
 * blind indexes. pointer_base: "/records/<i>" or "" (rectify). */
void
cu_intake_fields(struct cu_in_record *r, size_t index, json_t *fields,
                 const struct cu_coll_spec *spec, const struct cu_tenant_keys *keys,
                 const char *tenant, int require_all, struct cu_arena *arena)
{
    if (!json_is_object(fields) || json_object_size(fields) == 0) {
        cu_in_problem(r, arena, index, "/fields", "must be an object with at least one field");
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
            cu_in_problem(r, arena, index, sub, "unknown field");
            continue;
        }
        if (!json_is_string(v)) {
            cu_in_problem(r, arena, index, sub, "must be a string");
            continue;
        }
        struct cu_in_value *iv = &r->values[r->nvalues];
        const char *problem = NULL;
        if (cu_value_normalize(f->type, json_string_value(v), json_string_length(v), arena,
                               &iv->norm, &iv->len, &problem) != CU_OK) {
            cu_in_problem(r, arena, index, sub, problem ? problem : "invalid value");
            continue;
        }
        iv->f = f;
        if (cu_value_token(f, keys, tenant, spec->name, iv->norm, iv->len, arena, &iv->token,
                           &problem) != CU_OK) {
            cu_in_problem(r, arena, index, sub, problem ? problem : "could not tokenize");
            continue;
        }
        if (f->searchable) {
            size_t il = 0;
            const char *form = cu_value_index_form(f->type, iv->norm, iv->len, arena, &il);
            if (cu_value_blind_index(keys, spec->name, f->name, form, il, iv->index) != CU_OK) {
                cu_in_problem(r, arena, index, sub, "could not index");
                continue;
            }
            iv->has_index = 1;
        }
        r->nvalues++;
    }
    for (size_t i = 0; require_all && i < spec->nfields; i++) {
        if (spec->fields[i].required && json_object_get(fields, spec->fields[i].name) == NULL) {
            cu_in_problem(r, arena, index,
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
enum cu_err
cu_intake_seal(struct cu_in_record *recs, size_t n, struct cu_subject_key_req *reqs, size_t nreqs,
               const char *tenant, const char *collection, struct cu_arena *arena, json_t *values,
               json_t *tokens)
{
    for (size_t i = 0; i < n; i++) {
        struct cu_in_record *r = &recs[i];
        if (!r->ok) {
            continue;
        }
        struct cu_subject_key_req *q = req_for(reqs, nreqs, r->subject);
        CU_ENSURE(q != NULL && q->key != NULL, CU_ERR_INTERNAL, "no key for a subject");
        for (size_t j = 0; j < r->nvalues; j++) {
            struct cu_in_value *iv = &r->values[j];
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
                json_array_append_new(tokens, json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "token",
                                                        iv->token, "record_id", r->id, "collection",
                                                        collection, "field", iv->f->name, "shared",
                                                        cu_tokkind_shared(iv->f->kind), "reserved",
                                                        iv->reserved));
            }
        }
    }
    return CU_OK;
}

/* Gets (or creates) the data keys of the subjects of the ok records. */
enum cu_err
cu_intake_subject_keys(struct cu_svc *s, struct cu_tx *tx, const char *tenant, const char *inc,
                       struct cu_in_record *recs, size_t n, struct cu_subject_key_plan *plan,
                       struct cu_subject_key_req **out, size_t *nout)
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
    enum cu_err rc = plan != NULL
                         ? cu_keyring_subject_keys_plan(s->keyring, tx, tenant, inc, reqs, u, plan)
                         : cu_keyring_subject_keys_for_write(s->keyring, tx, tenant, inc, reqs, u);
    if (rc != CU_OK) {
        free(reqs);
        return rc;
    }
    *out = reqs;
    *nout = u;
    return CU_OK;
}

void
cu_intake_free_keys(struct cu_subject_key_req *reqs, size_t n)
{
    for (size_t i = 0; reqs != NULL && i < n; i++) {
        cu_secret_free(reqs[i].key);
    }
    free(reqs);
}

enum cu_err
cu_intake_exec(struct cu_tx *tx, const char *tenant, json_t *batch,
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

enum { RESERVE_ROUNDS = 16 };

enum cu_err
cu_intake_reserve(struct cu_tx *tx, const char *tenant, const char *collection,
                  const struct cu_tenant_keys *keys, struct cu_in_record *recs, size_t n,
                  struct cu_arena *arena)
{
    for (int round = 0; round < RESERVE_ROUNDS; round++) {
        json_t *names = json_array();
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; recs[i].ok && j < recs[i].nvalues; j++) {
                struct cu_in_value *iv = &recs[i].values[j];
                if (iv->f->kind == CU_TOK_FPE && !iv->reserved) {
                    json_array_append_new(names, json_pack("{s:s, s:s, s:s}", "token", iv->token,
                                                           "collection", collection, "field",
                                                           iv->f->name));
                }
            }
        }
        if (json_array_size(names) == 0) {
            json_decref(names);
            return CU_OK;
        }
        char *js = json_dumps(names, JSON_COMPACT);
        json_decref(names);
        CU_ENSURE(js != NULL, CU_ERR_INTERNAL, "could not encode token names");
        struct cu_db_result *res = NULL;
        enum cu_err rc = cu_store_token_names_reserve(tx, tenant, js, arena, &res);
        free(js);
        CU_GUARD(rc);
        /* each name inserted goes to the first value that drew it; the others draw again */
        json_t *got = json_object();
        for (int k = 0; k < cu_res_rows(res); k++) {
            json_object_set_new(got, cu_res_text(res, k, 0), json_true());
        }
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; recs[i].ok && j < recs[i].nvalues; j++) {
                struct cu_in_value *iv = &recs[i].values[j];
                if (iv->f->kind != CU_TOK_FPE || iv->reserved) {
                    continue;
                }
                if (json_object_get(got, iv->token) != NULL) {
                    json_object_del(got, iv->token);
                    iv->reserved = 1;
                    continue;
                }
                const char *problem = NULL;
                rc = cu_value_token(iv->f, keys, tenant, collection, iv->norm, iv->len, arena,
                                    &iv->token, &problem);
                if (rc != CU_OK) {
                    json_decref(got);
                    return rc;
                }
            }
        }
        json_decref(got);
    }
    return cu_err_public(CU_ERR_CONFLICT,
                         "No free format-preserving token was found for a value of this request: "
                         "its field's tokens for the value's kept digits are nearly all issued");
}
