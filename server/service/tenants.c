/* Tenants (platform operator): create with fresh keys, get, list, delete with crypto-shredding.
 * Each runs in one transaction that sets the tenant for row-level security. */
#include "service/tenants.h"

#include "service/audit.h"
#include "service/idempotency.h"
#include "storage/keystore.h"
#include "storage/vaultstore.h"

#include <string.h>

static json_t *
tenant_json(const struct cu_db_result *r, int row, void *ctx)
{
    (void)ctx;
    return json_pack("{s:s, s:s, s:I, s:s}", "id", cu_res_text(r, row, CU_COL_TENANT_ID), "name",
                     cu_res_text(r, row, CU_COL_TENANT_NAME), "kek_version",
                     (json_int_t)cu_res_int(r, row, CU_COL_TENANT_KEK_VERSION), "created_at",
                     cu_res_text(r, row, CU_COL_TENANT_CREATED_AT));
}

static int
printable_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 200) {
        return 0;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return 0;
        }
    }
    return 1;
}

enum cu_err
cu_tenant_create(struct cu_svc *s, const struct cu_actor *a, json_t *body,
                 const struct cu_idem *idem, struct cu_problems *problems, enum cu_outcome *outcome,
                 json_t **out)
{
    *out = NULL;
    if (!json_is_object(body)) {
        cu_problem_add(problems, "", "must be an object");
        return cu_err_set(CU_ERR_INVALID, __FILE__, __LINE__, "body not an object");
    }
    if (cu_unknown_members(body, (const char *const[]){"id", "name", NULL}) > 0) {
        cu_problem_add(problems, "", "unknown member");
    }
    json_t *jid = json_object_get(body, "id");
    json_t *jname = json_object_get(body, "name");
    const char *id = json_string_value(jid);
    if (id == NULL || !cu_tenant_id_ok(id)) {
        cu_problem_add(problems, "/id", "must match ^[a-z0-9][a-z0-9-]{1,62}$");
    }
    const char *name = jname == NULL ? id : json_string_value(jname);
    if (jname != NULL && (name == NULL || !printable_name(name))) {
        cu_problem_add(problems, "/name", "must be a string of 1 to 200 printable characters");
    }
    if (problems->errors != NULL) {
        return cu_err_set(CU_ERR_INVALID, __FILE__, __LINE__, "invalid tenant");
    }
    struct cu_tx *tx = NULL;
    struct cu_arena *arena = cu_arena_new();
    enum cu_err rc = CU_OK;
    CU_TRY(cu_tx_begin(s->db, id, &tx));
    if (idem != NULL && idem->key != NULL) {
        /* platform keys: the same key may not create two tenants, whatever their ids */
        int hit = 0;
        CU_TRY(cu_tx_allow_platform_idem(tx));
        CU_TRY(cu_idem_check(tx, NULL, a->principal, idem, &hit, outcome, out));
        if (hit) {
            /* a replay is an access too; the tenant may be gone since (then no entry) */
            struct cu_db_result *r = NULL;
            CU_TRY(cu_store_tenant_get(tx, id, arena, &r));
            if (cu_res_rows(r) == 1) {
                CU_TRY(cu_audit_one(tx, a, id, "tenant.create.replay"));
            }
            rc = cu_tx_commit(&tx);
            goto out;
        }
    }
    rc = cu_keyring_create_tenant(s->keyring, tx, id, name);
    if (rc == CU_ERR_CONFLICT) {
        cu_err_public(rc, "A tenant with this id exists");
    }
    CU_TRY(rc);
    CU_TRY(cu_audit_one(tx, a, id, "tenant.create"));
    struct cu_db_result *r = NULL;
    CU_TRY(cu_store_tenant_get(tx, id, arena, &r));
    CU_CHECK(cu_res_rows(r) == 1, CU_ERR_INTERNAL, "tenant vanished");
    *out = tenant_json(r, 0, NULL);
    *outcome = CU_OUTCOME_CREATED;
    CU_TRY(cu_idem_store(tx, NULL, a->principal, idem, *outcome, *out));
    rc = cu_tx_commit(&tx);
out:
    if (rc != CU_OK && *out != NULL) {
        json_decref(*out);
        *out = NULL;
    }
    cu_tx_abort(&tx);
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_tenant_get(struct cu_svc *s, const char *id, json_t **out)
{
    if (!cu_tenant_id_ok(id)) {
        return cu_err_set(CU_ERR_NOT_FOUND, __FILE__, __LINE__, "malformed tenant id");
    }
    struct cu_tx *tx = NULL;
    struct cu_arena *arena = cu_arena_new();
    enum cu_err rc = CU_OK;
    CU_TRY(cu_tx_begin(s->db, id, &tx));
    struct cu_db_result *r = NULL;
    CU_TRY(cu_store_tenant_get(tx, id, arena, &r));
    CU_CHECK(cu_res_rows(r) == 1, CU_ERR_NOT_FOUND, "no such tenant");
    CU_TRY(cu_tx_commit(&tx));
    *out = tenant_json(r, 0, NULL);
out:
    cu_tx_abort(&tx);
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_tenant_list(struct cu_svc *s, const char *cursor, int limit, json_t **out)
{
    struct cu_tx *tx = NULL;
    struct cu_arena *arena = cu_arena_new();
    enum cu_err rc = CU_OK;
    CU_TRY(cu_tx_begin(s->db, NULL, &tx));
    struct cu_db_result *r = NULL;
    CU_TRY(cu_store_tenant_list(tx, cursor ? cursor : "", limit + 1, arena, &r));
    CU_TRY(cu_tx_commit(&tx));
    *out = cu_page_json(r, limit, "tenants", CU_COL_TENANT_ID, tenant_json, NULL);
out:
    cu_tx_abort(&tx);
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_tenant_delete(struct cu_svc *s, const struct cu_actor *a, const char *id)
{
    if (!cu_tenant_id_ok(id)) {
        return cu_err_set(CU_ERR_NOT_FOUND, __FILE__, __LINE__, "malformed tenant id");
    }
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    int deleted = 0;
    CU_TRY(cu_tx_begin(s->db, id, &tx));
    CU_TRY(cu_store_tenant_delete(tx, id, &deleted));
    CU_CHECK(deleted == 1, CU_ERR_NOT_FOUND, "no such tenant");
    CU_TRY(cu_audit_one(tx, a, id, "tenant.delete"));
    rc = cu_tx_commit(&tx);
    if (rc == CU_OK) {
        cu_keyring_forget_tenant(s->keyring, id);
    }
out:
    cu_tx_abort(&tx);
    return rc;
}
