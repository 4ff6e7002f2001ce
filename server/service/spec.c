/* Collection specs: a collection's fields (type, tokenization kind, searchable, required),
 * parsed from the API's JSON, loaded from storage and rendered back. */
#include "service/spec.h"

#include "service/ident.h"
#include "storage/vaultstore.h"

#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {"random", "deterministic", "format_preserving",
                                         "format_preserving_deterministic"};
static const char *const keep_names[] = {"first6_last4", "last4"};

const char *
cu_tokkind_name(enum cu_tokkind k)
{
    return kind_names[k];
}

static int
kind_parse(const char *s, enum cu_tokkind *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, kind_names[i]) == 0) {
            *out = (enum cu_tokkind)i;
            return 1;
        }
    }
    return 0;
}

int
cu_tokkind_shared(enum cu_tokkind k)
{
    return k == CU_TOK_DETERMINISTIC || k == CU_TOK_FPE_DET;
}

int
cu_tokkind_fpe(enum cu_tokkind k)
{
    return k == CU_TOK_FPE || k == CU_TOK_FPE_DET;
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
                                   "must be random, deterministic, format_preserving or "
                                   "format_preserving_deterministic");
                    ok = 0;
                }
            } else if (strcmp(key, "keep") == 0) {
                const char *kv = json_string_value(v);
                if (kv != NULL && strcmp(kv, keep_names[CU_KEEP_FIRST6_LAST4]) == 0) {
                    f->keep = CU_KEEP_FIRST6_LAST4;
                } else if (kv != NULL && strcmp(kv, keep_names[CU_KEEP_LAST4]) == 0) {
                    f->keep = CU_KEEP_LAST4;
                } else {
                    cu_problem_add(problems, cu_arena_printf(arena, "%s/keep", ptr),
                                   "must be first6_last4 or last4");
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
        if (ok && cu_tokkind_fpe(f->kind) && !cu_ftype_digits(f->type)) {
            cu_problem_add(problems, cu_arena_printf(arena, "%s/tokenization", ptr),
                           "format_preserving is for card_number, ssn and phone only");
            ok = 0;
        }
        if (ok && json_object_get(def, "keep") != NULL &&
            (f->type != CU_FT_CARD || !cu_tokkind_fpe(f->kind))) {
            cu_problem_add(problems, cu_arena_printf(arena, "%s/keep", ptr),
                           "is for card_number fields with a format-preserving tokenization only");
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
             struct cu_arena *arena, struct cu_coll_spec *out)
{
    memset(out, 0, sizeof(*out));
    CU_ENSURE(cu_ident_ok(name), CU_ERR_NOT_FOUND, "malformed collection name");
    struct cu_db_result *r = NULL;
    CU_GUARD(cu_store_collection_get(tx, tenant, name, (int)lock, arena, &r));
    return cu_spec_decode(r, name, arena, out);
}

enum cu_err
cu_spec_decode(const struct cu_db_result *r, const char *name, struct cu_arena *arena,
               struct cu_coll_spec *out)
{
    memset(out, 0, sizeof(*out));
    CU_ENSURE(cu_ident_ok(name), CU_ERR_NOT_FOUND, "malformed collection name");
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
        json_t *fj =
            json_pack("{s:s, s:s, s:b, s:b}", "type", cu_ftype_name(f->type), "tokenization",
                      kind_names[f->kind], "searchable", f->searchable, "required", f->required);
        if (f->type == CU_FT_CARD && cu_tokkind_fpe(f->kind)) {
            json_object_set_new(fj, "keep", json_string(keep_names[f->keep]));
        }
        json_object_set_new(fields, f->name, fj);
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
