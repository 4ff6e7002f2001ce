/* Roles: PUT/GET/list per tenant, and a token's `roles` claim expanded into scopes, read from
 * the database on each request that names roles (a change holds at once on every node). */
#include "service/roles.h"

#include "service/audit.h"
#include "service/ident.h"
#include "storage/rolestore.h"

#include <stdlib.h>
#include <string.h>

enum { MAX_ROLE_SCOPES = 64, MAX_SCOPE_LEN = 200, MAX_BUDGET = 1000000 };

static json_t *
role_json(const struct cu_db_result *r, int row, void *ctx)
{
    (void)ctx;
    const char *budget = cu_res_text(r, row, CU_COL_ROLE_BUDGET);
    json_t *scopes = json_loads(cu_res_text(r, row, CU_COL_ROLE_SCOPES), 0, NULL);
    return json_pack("{s:s, s:o, s:b, s:o, s:b, s:s, s:s}", "name",
                     cu_res_text(r, row, CU_COL_ROLE_NAME), "scopes",
                     scopes != NULL ? scopes : json_array(), "plain_requires_mfa",
                     cu_res_text(r, row, CU_COL_ROLE_MFA)[0] == 't', "plain_reveals_per_hour",
                     budget[0] != '\0' ? json_integer(strtoll(budget, NULL, 10)) : json_null(),
                     "interaction_bound", cu_res_text(r, row, CU_COL_ROLE_BOUND)[0] == 't',
                     "created_at", cu_res_text(r, row, CU_COL_ROLE_CREATED_AT), "updated_at",
                     cu_res_text(r, row, CU_COL_ROLE_UPDATED_AT));
}

/* A scope a role may grant: a simple scope of a tenant (never vault:admin) or a well-formed
 * detokenize:<c>.<f>:<level>. */
static int
role_scope_ok(const char *s)
{
    if (strcmp(s, "vault:admin") == 0) {
        return 0;
    }
    if (cu_scope_has(&s, 1, s)) {
        return 1;
    }
    static const char prefix[] = "detokenize:";
    if (strncmp(s, prefix, sizeof(prefix) - 1) != 0) {
        return 0;
    }
    const char *c = s + sizeof(prefix) - 1;
    const char *dot = strchr(c, '.');
    const char *colon = dot != NULL ? strchr(dot + 1, ':') : NULL;
    if (colon == NULL) {
        return 0;
    }
    /* well formed exactly when it grants its own names ('*' matches itself) */
    char coll[64], field[64];
    size_t cl = (size_t)(dot - c), fl = (size_t)(colon - dot - 1);
    if (cl == 0 || cl >= sizeof(coll) || fl == 0 || fl >= sizeof(field)) {
        return 0;
    }
    memcpy(coll, c, cl);
    coll[cl] = '\0';
    memcpy(field, dot + 1, fl);
    field[fl] = '\0';
    return cu_scope_level(&s, 1, coll, field) != CU_LEVEL_NONE;
}

static int
optional_bool(json_t *body, const char *name, struct cu_problems *problems, const char *pointer)
{
    json_t *v = json_object_get(body, name);
    if (v != NULL && !json_is_boolean(v)) {
        cu_problem_add(problems, pointer, "must be true or false");
    }
    return json_is_true(v);
}

enum cu_err
cu_role_put(struct cu_svc *s, const struct cu_actor *a, const char *name, json_t *body,
            struct cu_problems *problems, json_t **out, enum cu_outcome *outcome)
{
    if (!cu_purpose_name_ok(name)) {
        cu_problem_add(problems, "", "role names must match ^[a-z][a-z0-9_-]{0,62}$");
        CU_BAIL(CU_ERR_INVALID, "bad role name");
    }
    if (!json_is_object(body)) {
        cu_problem_add(problems, "", "must be an object");
        CU_BAIL(CU_ERR_INVALID, "body not an object");
    }
    if (cu_unknown_members(body, (const char *const[]){"scopes", "plain_requires_mfa",
                                                       "plain_reveals_per_hour",
                                                       "interaction_bound", NULL}) > 0) {
        cu_problem_add(problems, "", "unknown member");
    }
    json_t *scopes = json_object_get(body, "scopes");
    if (!json_is_array(scopes) || json_array_size(scopes) > MAX_ROLE_SCOPES) {
        cu_problem_add(problems, "/scopes", "must be an array of at most 64 scopes");
    } else {
        for (size_t i = 0; i < json_array_size(scopes); i++) {
            json_t *sc = json_array_get(scopes, i);
            if (!json_is_string(sc) || json_string_length(sc) > MAX_SCOPE_LEN ||
                !role_scope_ok(json_string_value(sc))) {
                struct cu_arena *tmp = cu_arena_new();
                cu_problem_add(problems, cu_arena_printf(tmp, "/scopes/%zu", i),
                               "must be a tenant scope or detokenize:<collection>.<field>:<level>");
                cu_arena_free(tmp);
            }
        }
    }
    int mfa = optional_bool(body, "plain_requires_mfa", problems, "/plain_requires_mfa");
    int bound = optional_bool(body, "interaction_bound", problems, "/interaction_bound");
    json_t *jb = json_object_get(body, "plain_reveals_per_hour");
    long long budget = -1;
    if (json_is_integer(jb) && json_integer_value(jb) >= 0 &&
        json_integer_value(jb) <= MAX_BUDGET) {
        budget = json_integer_value(jb);
    } else if (jb != NULL && !json_is_null(jb)) {
        cu_problem_add(problems, "/plain_reveals_per_hour",
                       "must be null or an integer from 0 to 1000000");
    }
    if (problems->errors != NULL) {
        CU_BAIL(CU_ERR_INVALID, "invalid role");
    }
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    char *scopes_json = json_dumps(scopes, JSON_COMPACT);
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    int created = 0;
    rc = cu_store_role_put(tx, a->tenant, name, scopes_json, mfa, budget, bound, &created);
    if (rc == CU_ERR_CONFLICT) {
        rc = cu_err_public(CU_ERR_FORBIDDEN, "The tenant of the token does not exist");
    }
    CU_TRY(rc);
    *outcome = created ? CU_OUTCOME_CREATED : CU_OUTCOME_DONE;
    json_t *entries = json_array();
    /* the role's name goes where a purpose would: an identifier, never a value */
    json_array_append_new(
        entries, cu_audit_entry(a, "role.put", NULL, NULL, NULL, NULL, name, NULL, "allowed"));
    CU_TRY(cu_audit_write(tx, a->tenant, entries));
    struct cu_db_result *r = NULL;
    CU_TRY(cu_store_role_get(tx, a->tenant, name, arena, &r));
    CU_CHECK(cu_res_rows(r) == 1, CU_ERR_INTERNAL, "role vanished");
    CU_TRY(cu_tx_commit(&tx));
    *out = role_json(r, 0, NULL);
out:
    cu_tx_abort(&tx);
    free(scopes_json);
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_role_get(struct cu_svc *s, const struct cu_actor *a, const char *name, json_t **out)
{
    CU_ENSURE(cu_purpose_name_ok(name), CU_ERR_NOT_FOUND, "malformed role name");
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    struct cu_db_result *r = NULL;
    CU_TRY(cu_store_role_get(tx, a->tenant, name, arena, &r));
    CU_CHECK(cu_res_rows(r) == 1, CU_ERR_NOT_FOUND, "no such role");
    CU_TRY(cu_audit_one(tx, a, a->tenant, "role.get"));
    CU_TRY(cu_tx_commit(&tx));
    *out = role_json(r, 0, NULL);
out:
    cu_tx_abort(&tx);
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_role_list(struct cu_svc *s, const struct cu_actor *a, const char *cursor, int limit,
             json_t **out)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    struct cu_db_result *r = NULL;
    CU_TRY(cu_store_role_list(tx, a->tenant, cursor, limit + 1, arena, &r));
    CU_TRY(cu_audit_one(tx, a, a->tenant, "role.list"));
    CU_TRY(cu_tx_commit(&tx));
    *out = cu_page_json(r, limit, "roles", CU_COL_ROLE_NAME, role_json, NULL);
out:
    cu_tx_abort(&tx);
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_roles_expand(struct cu_svc *s, const char *tenant, const char *const *roles, size_t nroles,
                const char *const *scopes, size_t nscopes, struct cu_arena *arena,
                const char ***out, size_t *n)
{
    *out = (const char **)scopes;
    *n = nscopes;
    if (nroles == 0 || tenant == NULL) {
        return CU_OK;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < nroles; i++) {
        json_array_append_new(arr, json_string(roles[i]));
    }
    char *js = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    struct cu_tx *tx = NULL;
    struct cu_db_result *r = NULL;
    json_t *got = NULL;
    enum cu_err rc = CU_OK;
    /* a read: one round trip, no BEGIN or COMMIT */
    CU_TRY(cu_tx_begin_read(s->db, tenant, &tx));
    CU_TRY(cu_store_role_scopes(tx, tenant, js, arena, &r));
    cu_tx_abort(&tx);
    CU_CHECK(cu_res_rows(r) == 1, CU_ERR_INTERNAL, "role scopes: %d rows", cu_res_rows(r));
    got = json_loads(cu_res_text(r, 0, 0), 0, NULL);
    CU_CHECK(json_is_array(got), CU_ERR_INTERNAL, "role scopes: not an array");
    size_t extra = json_array_size(got);
    const char **all = cu_arena_alloc(arena, (nscopes + extra + 1) * sizeof(*all));
    for (size_t i = 0; i < nscopes; i++) {
        all[i] = scopes[i];
    }
    for (size_t i = 0; i < extra; i++) {
        const char *sc = json_string_value(json_array_get(got, i));
        all[nscopes + i] = cu_arena_strdup(arena, sc != NULL ? sc : "");
    }
    *out = all;
    *n = nscopes + extra;
out:
    cu_tx_abort(&tx);
    json_decref(got);
    free(js);
    return rc;
}
