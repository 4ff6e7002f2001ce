/* Search: exact match of a normalized value on a searchable field, by its blind index; answers
 * records with their tokens, never values. */
#include "service/vault.h"

#include "service/audit.h"
#include "service/seal.h"
#include "storage/vaultstore.h"

#include <string.h>

enum { CU_SEARCH_MAX = 1000 };

/* Appends the rows of r to list as {id, subject_id, tokens}, but those already in seen (may be
 * NULL), up to CU_SEARCH_MAX records in all. */
static void
append_rows(json_t *list, const struct cu_db_result *r, const struct cu_db_result *seen)
{
    for (int i = 0; i < cu_res_rows(r) && json_array_size(list) < CU_SEARCH_MAX; i++) {
        const char *id = cu_res_text(r, i, CU_COL_SEARCH_ID);
        int dup = 0;
        for (int k = 0; seen != NULL && k < cu_res_rows(seen) && !dup; k++) {
            dup = strcmp(cu_res_text(seen, k, CU_COL_SEARCH_ID), id) == 0;
        }
        if (dup) {
            continue;
        }
        json_t *toks = json_loads(cu_res_text(r, i, CU_COL_SEARCH_TOKENS), 0, NULL);
        json_array_append_new(list, json_pack("{s:s, s:s, s:o}", "id", id, "subject_id",
                                              cu_res_text(r, i, CU_COL_SEARCH_SUBJECT_ID), "tokens",
                                              toks ? toks : json_object()));
    }
}

enum cu_err
cu_records_search(struct cu_svc *s, const struct cu_actor *a, const char *collection, json_t *body,
                  struct cu_problems *problems, json_t **out)
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
    size_t il = 0;
    const char *form = cu_value_index_form(f->type, norm, len, arena, &il);
    CU_TRY(cu_value_blind_index(&keys, collection, field, form, il, bi));
    struct cu_db_result *r = NULL;
    CU_TRY(cu_store_search(tx, a->tenant, collection, field, bi, 32, CU_SEARCH_MAX, arena, &r));
    struct cu_db_result *legacy = NULL;
    if (il != len || memcmp(form, norm, len) != 0) {
        /* values indexed before emails were case-folded (issue 8) carry the index of their
         * exact spelling: still found by it, until a rectify re-indexes them */
        uint8_t lbi[32];
        CU_TRY(cu_value_blind_index(&keys, collection, field, norm, len, lbi));
        CU_TRY(cu_store_search(tx, a->tenant, collection, field, lbi, 32, CU_SEARCH_MAX, arena,
                               &legacy));
    }
    json_t *list = json_array();
    append_rows(list, r, NULL);
    if (legacy != NULL) {
        append_rows(list, legacy, r);
    }
    json_t *audit = json_array();
    json_array_append_new(audit,
                          cu_audit_entry(a, "records.search", collection, json_pack("[s]", field),
                                         NULL, NULL, NULL, NULL, "allowed"));
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
