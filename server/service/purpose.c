/* Purposes: declared per tenant with their lawful basis (CRUD), the X-Purpose check every read
 * of personal data passes. The consent rule is service/gates.c's. */
#include "service/purpose.h"

#include "service/audit.h"
#include "service/ident.h"
#include "storage/vaultstore.h"

#include <string.h>

static const char *const lawful_bases[] = {"consent",          "contract",
                                           "legal_obligation", "vital_interests",
                                           "public_task",      "legitimate_interests"};

static json_t *
purpose_json(const struct cu_db_result *r, int row, void *ctx)
{
    (void)ctx;
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", cu_res_text(r, row, CU_COL_PURPOSE_NAME),
                     "description", cu_res_text(r, row, CU_COL_PURPOSE_DESCRIPTION), "lawful_basis",
                     cu_res_text(r, row, CU_COL_PURPOSE_LAWFUL_BASIS), "created_at",
                     cu_res_text(r, row, CU_COL_PURPOSE_CREATED_AT), "updated_at",
                     cu_res_text(r, row, CU_COL_PURPOSE_UPDATED_AT));
}

enum cu_err
cu_purpose_put(struct cu_svc *s, const struct cu_actor *a, const char *name, json_t *body,
               struct cu_problems *problems, json_t **out, enum cu_outcome *outcome)
{
    if (!cu_purpose_name_ok(name)) {
        cu_problem_add(problems, "", "purpose names must match ^[a-z][a-z0-9_-]{0,62}$");
        return cu_err_set(CU_ERR_INVALID, __FILE__, __LINE__, "bad purpose name");
    }
    if (!json_is_object(body)) {
        cu_problem_add(problems, "", "must be an object");
        return cu_err_set(CU_ERR_INVALID, __FILE__, __LINE__, "body not an object");
    }
    if (cu_unknown_members(body, (const char *const[]){"description", "lawful_basis", NULL}) > 0) {
        cu_problem_add(problems, "", "unknown member");
    }
    json_t *jd = json_object_get(body, "description");
    const char *description = "";
    if (jd != NULL && (!json_is_string(jd) || json_string_length(jd) > 1000)) {
        cu_problem_add(problems, "/description", "must be a string of at most 1000 bytes");
    } else if (jd != NULL) {
        description = json_string_value(jd);
    }
    const char *basis = json_string_value(json_object_get(body, "lawful_basis"));
    int basis_ok = 0;
    for (size_t i = 0; basis != NULL && i < sizeof(lawful_bases) / sizeof(lawful_bases[0]); i++) {
        basis_ok |= strcmp(basis, lawful_bases[i]) == 0;
    }
    if (!basis_ok) {
        cu_problem_add(problems, "/lawful_basis",
                       "must be consent, contract, legal_obligation, vital_interests, "
                       "public_task or legitimate_interests");
    }
    if (problems->errors != NULL) {
        return cu_err_set(CU_ERR_INVALID, __FILE__, __LINE__, "invalid purpose");
    }
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    int created = 0;
    rc = cu_store_purpose_put(tx, a->tenant, name, description, basis, &created);
    if (rc == CU_ERR_CONFLICT) {
        /* the only row it can name that may be missing: the tenant's */
        rc = cu_err_public(CU_ERR_FORBIDDEN, "The tenant of the token does not exist");
    }
    CU_TRY(rc);
    *outcome = created ? CU_OUTCOME_CREATED : CU_OUTCOME_DONE;
    json_t *entries = json_array();
    json_array_append_new(
        entries, cu_audit_entry(a, "purpose.put", NULL, NULL, NULL, NULL, name, NULL, "allowed"));
    CU_TRY(cu_audit_write(tx, a->tenant, entries));
    struct cu_db_result *r = NULL;
    CU_TRY(cu_store_purpose_get(tx, a->tenant, name, arena, &r));
    CU_CHECK(cu_res_rows(r) == 1, CU_ERR_INTERNAL, "purpose vanished");
    CU_TRY(cu_tx_commit(&tx));
    *out = purpose_json(r, 0, NULL);
out:
    cu_tx_abort(&tx);
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_purpose_get(struct cu_svc *s, const struct cu_actor *a, const char *name, json_t **out)
{
    CU_ENSURE(cu_purpose_name_ok(name), CU_ERR_NOT_FOUND, "malformed purpose name");
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    struct cu_db_result *r = NULL;
    CU_TRY(cu_store_purpose_get(tx, a->tenant, name, arena, &r));
    CU_CHECK(cu_res_rows(r) == 1, CU_ERR_NOT_FOUND, "no such purpose");
    CU_TRY(cu_tx_commit(&tx));
    *out = purpose_json(r, 0, NULL);
out:
    cu_tx_abort(&tx);
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_purpose_list(struct cu_svc *s, const struct cu_actor *a, const char *cursor, int limit,
                json_t **out)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    struct cu_db_result *r = NULL;
    CU_TRY(cu_store_purpose_list(tx, a->tenant, cursor, limit + 1, arena, &r));
    CU_TRY(cu_tx_commit(&tx));
    *out = cu_page_json(r, limit, "purposes", CU_COL_PURPOSE_NAME, purpose_json, NULL);
out:
    cu_tx_abort(&tx);
    cu_arena_free(arena);
    return rc;
}

/* ---- the X-Purpose check (the consent and restriction rules: service/gates.c) ---- */

static const char undeclared[] = "The X-Purpose is not a declared purpose of this tenant: "
                                 "declare it with PUT /v1/purposes/{name}, or send one of "
                                 "GET /v1/purposes";

enum cu_err
cu_purpose_name_check(const char *purpose)
{
    if (purpose == NULL || purpose[0] == '\0') {
        cu_err_set(CU_ERR_BAD_REQUEST, __FILE__, __LINE__, "no X-Purpose");
        return cu_err_public(CU_ERR_BAD_REQUEST,
                             "The X-Purpose header is missing: reading personal data needs one "
                             "of the tenant's declared purposes");
    }
    if (!cu_purpose_name_ok(purpose)) {
        cu_err_set(CU_ERR_PURPOSE, __FILE__, __LINE__, "malformed purpose");
        return cu_err_public(CU_ERR_PURPOSE, undeclared);
    }
    return CU_OK;
}

enum cu_err
cu_purpose_decide(const struct cu_db_result *r, const char **basis)
{
    if (cu_res_rows(r) != 1) {
        cu_err_set(CU_ERR_PURPOSE, __FILE__, __LINE__, "purpose not declared");
        return cu_err_public(CU_ERR_PURPOSE, undeclared);
    }
    *basis = cu_res_text(r, 0, CU_COL_PURPOSE_LAWFUL_BASIS);
    return CU_OK;
}

enum cu_err
cu_purpose_check(struct cu_tx *tx, const char *tenant, const char *purpose, struct cu_arena *arena,
                 const char **basis)
{
    CU_GUARD(cu_purpose_name_check(purpose));
    struct cu_db_result *r = NULL;
    CU_GUARD(cu_store_purpose_get(tx, tenant, purpose, arena, &r));
    return cu_purpose_decide(r, basis);
}
