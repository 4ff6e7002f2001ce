/* Collections: put (create or compatibly change), get and list a tenant's collections. */
#include "service/vault.h"

#include "service/audit.h"
#include "service/ident.h"
#include "service/spec.h"
#include "storage/vaultstore.h"

#include <stdlib.h>
#include <string.h>

/* A field that holds data may gain searchability, type or kind changes never. */
static int
compatible(const struct cu_coll_spec *old, const struct cu_coll_spec *next,
           struct cu_problems *problems, struct cu_arena *arena)
{
    int ok = 1;
    for (size_t i = 0; i < old->nfields; i++) {
        const struct cu_field_spec *o = &old->fields[i];
        const struct cu_field_spec *n = cu_spec_field(next, o->name);
        const char *ptr = cu_arena_printf(arena, "/fields/%s", o->name);
        if (n == NULL) {
            cu_problem_add(problems, ptr, "cannot be removed while the collection holds data");
            ok = 0;
        } else if (n->type != o->type || n->kind != o->kind || n->keep != o->keep) {
            cu_problem_add(problems, ptr,
                           "type, tokenization and keep cannot change while the collection holds "
                           "data");
            ok = 0;
        } else if (n->searchable != o->searchable) {
            cu_problem_add(problems, ptr,
                           "searchable cannot change while the collection holds data");
            ok = 0;
        }
    }
    return ok;
}

enum cu_err
cu_collection_put(struct cu_svc *s, const struct cu_actor *a, const char *name, json_t *body,
                  struct cu_problems *problems, json_t **out, enum cu_outcome *outcome)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    struct cu_coll_spec spec = {0};
    CU_CHECK(cu_ident_ok(name), CU_ERR_INVALID, "bad collection name");
    if (!json_is_object(body)) {
        cu_problem_add(problems, "", "must be an object");
        CU_FAIL(CU_ERR_INVALID, "body not an object");
    }
    if (cu_unknown_members(body, (const char *const[]){"fields", "retention_days", NULL}) > 0) {
        cu_problem_add(problems, "", "unknown member");
    }
    json_t *ret = json_object_get(body, "retention_days");
    int retention = 0;
    if (ret != NULL && !json_is_null(ret)) {
        if (!json_is_integer(ret) || json_integer_value(ret) < 1 ||
            json_integer_value(ret) > 36500) {
            cu_problem_add(problems, "/retention_days", "must be an integer from 1 to 36500");
        } else {
            retention = (int)json_integer_value(ret);
        }
    }
    enum cu_err prc = cu_spec_parse(json_object_get(body, "fields"), arena, &spec, problems);
    if (prc != CU_OK || problems->errors != NULL) {
        CU_FAIL(CU_ERR_INVALID, "invalid collection");
    }
    spec.name = name;
    spec.retention_days = retention;
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    struct cu_coll_spec old;
    rc = cu_spec_load(tx, a->tenant, name, CU_SPEC_CHANGE, arena, &old);
    if (rc == CU_OK && old.has_data && !compatible(&old, &spec, problems, arena)) {
        CU_FAIL(CU_ERR_CONFLICT, "incompatible change to a collection with data");
    }
    if (rc != CU_OK && rc != CU_ERR_NOT_FOUND) {
        goto out;
    }
    json_t *stored = cu_spec_json(&spec);
    char *fields_json =
        json_dumps(json_object_get(stored, "fields"), JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(stored);
    int created = 0;
    rc = cu_store_collection_put(tx, a->tenant, name, fields_json, retention, &created);
    free(fields_json);
    if (rc == CU_ERR_CONFLICT) {
        /* the only row it can name that may be missing: the tenant's */
        rc = cu_err_public(CU_ERR_FORBIDDEN, "The tenant of the token does not exist");
    }
    CU_TRY(rc);
    *outcome = created ? CU_OUTCOME_CREATED : CU_OUTCOME_DONE;
    json_t *entries = json_array();
    json_array_append_new(entries, cu_audit_entry(a, "collection.put", name, NULL, NULL, NULL, NULL,
                                                  NULL, "allowed"));
    CU_TRY(cu_audit_write(tx, a->tenant, entries));
    struct cu_coll_spec now;
    CU_TRY(cu_spec_load(tx, a->tenant, name, CU_SPEC_READ, arena, &now));
    CU_TRY(cu_tx_commit(&tx));
    *out = cu_spec_json(&now);
out:
    cu_tx_abort(&tx);
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_collection_get(struct cu_svc *s, const struct cu_actor *a, const char *name, json_t **out)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    struct cu_coll_spec spec;
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    CU_TRY(cu_spec_load(tx, a->tenant, name, CU_SPEC_READ, arena, &spec));
    CU_TRY(cu_tx_commit(&tx));
    *out = cu_spec_json(&spec);
out:
    cu_tx_abort(&tx);
    cu_arena_free(arena);
    return rc;
}

/* A listed collection; NULL (left out) for a stored definition that does not parse. */
static json_t *
collection_row(const struct cu_db_result *r, int i, void *ctx)
{
    struct cu_arena *arena = ctx;
    struct cu_coll_spec spec = {0};
    struct cu_problems p = {0};
    json_t *out = NULL;
    json_t *fields = json_loads(cu_res_text(r, i, CU_COL_COLL_FIELDS), 0, NULL);
    if (fields != NULL && cu_spec_parse(fields, arena, &spec, &p) == CU_OK) {
        spec.name = cu_res_text(r, i, CU_COL_COLL_NAME);
        spec.retention_days = atoi(cu_res_text(r, i, CU_COL_COLL_RETENTION_DAYS));
        spec.created_at = cu_res_text(r, i, CU_COL_COLL_CREATED_AT);
        spec.updated_at = cu_res_text(r, i, CU_COL_COLL_UPDATED_AT);
        out = cu_spec_json(&spec);
    }
    json_decref(fields);
    json_decref(p.errors);
    return out;
}

enum cu_err
cu_collection_list(struct cu_svc *s, const struct cu_actor *a, const char *cursor, int limit,
                   json_t **out)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    struct cu_db_result *r = NULL;
    CU_TRY(cu_store_collection_list(tx, a->tenant, cursor, limit + 1, arena, &r));
    CU_TRY(cu_tx_commit(&tx));
    *out = cu_page_json(r, limit, "collections", CU_COL_COLL_NAME, collection_row, arena);
out:
    cu_tx_abort(&tx);
    cu_arena_free(arena);
    return rc;
}
