/* Tenant and key use cases. Each runs in one transaction; tenant transactions set the tenant
 * for row-level security and name it in every statement. */
#include "service/tenants.h"

#include "core/log.h"
#include "service/vault_internal.h"
#include "storage/keystore.h"
#include "storage/vaultstore.h"

#include <stdio.h>
#include <stdlib.h>
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

static enum cu_err
audit_one(struct cu_tx *tx, const struct cu_actor *a, const char *tenant, const char *action)
{
    json_t *entries = json_array();
    json_array_append_new(entries, cu_audit_entry(a, action, NULL, NULL, NULL, NULL, NULL, NULL,
                                                  "allowed"));
    return cu_audit_write(tx, tenant, entries);
}

enum cu_err
cu_tenant_create(struct cu_svc *s, const struct cu_actor *a, json_t *body,
                 const struct cu_idem *idem, struct cu_problems *problems, int *status,
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
        CU_TRY(cu_idem_check(tx, NULL, a->principal, idem, &hit, status, out));
        if (hit) {
            /* a replay is an access too; the tenant may be gone since (then no entry) */
            struct cu_db_result *r = NULL;
            CU_TRY(cu_store_tenant_get(tx, id, arena, &r));
            if (cu_res_rows(r) == 1) {
                CU_TRY(audit_one(tx, a, id, "tenant.create.replay"));
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
    CU_TRY(audit_one(tx, a, id, "tenant.create"));
    struct cu_db_result *r = NULL;
    CU_TRY(cu_store_tenant_get(tx, id, arena, &r));
    CU_CHECK(cu_res_rows(r) == 1, CU_ERR_INTERNAL, "tenant vanished");
    *out = tenant_json(r, 0, NULL);
    *status = 201;
    CU_TRY(cu_idem_store(tx, NULL, a->principal, idem, *status, *out));
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
    CU_TRY(audit_one(tx, a, id, "tenant.delete"));
    rc = cu_tx_commit(&tx);
    if (rc == CU_OK) {
        cu_keyring_forget_tenant(s->keyring, id);
    }
out:
    cu_tx_abort(&tx);
    return rc;
}

enum cu_err
cu_keys_rotate(struct cu_svc *s, const struct cu_actor *a, const struct cu_idem *idem,
               json_t **out)
{
    const char *tenant = a->tenant;
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    int version = 0, hit = 0, status = 202;
    *out = NULL;
    CU_TRY(cu_tx_begin(s->db, tenant, &tx));
    CU_TRY(cu_idem_check(tx, tenant, a->principal, idem, &hit, &status, out));
    if (hit) {
        CU_TRY(audit_one(tx, a, tenant, "keys.rotate.replay"));
    } else {
        CU_TRY(cu_keyring_rotate(s->keyring, tx, tenant, &version));
        CU_TRY(audit_one(tx, a, tenant, "keys.rotate"));
        *out = json_pack("{s:I, s:s}", "version", (json_int_t)version, "status", "rewrapping");
        CU_TRY(cu_idem_store(tx, tenant, a->principal, idem, 202, *out));
    }
    rc = cu_tx_commit(&tx);
out:
    if (rc != CU_OK && *out != NULL) {
        json_decref(*out);
        *out = NULL;
    }
    cu_tx_abort(&tx);
    return rc;
}

enum cu_err
cu_keys_status(struct cu_svc *s, const char *tenant, json_t **out)
{
    struct cu_tx *tx = NULL;
    struct cu_arena *arena = cu_arena_new();
    enum cu_err rc = CU_OK;
    CU_TRY(cu_tx_begin(s->db, tenant, &tx));
    int current = 0;
    CU_TRY(cu_store_tenant_lock_kek(tx, tenant, 0, &current, NULL));
    struct cu_db_result *r = NULL;
    CU_TRY(cu_store_kek_status(tx, tenant, arena, &r));
    json_t *versions = json_array();
    long long pending = 0, done = 0;
    for (int i = 0; i < cu_res_rows(r); i++) {
        int v = (int)cu_res_int(r, i, CU_COL_KEKST_VERSION);
        long long subjects = cu_res_int(r, i, CU_COL_KEKST_SUBJECT_KEYS);
        json_t *o = json_pack("{s:i, s:s, s:s, s:I, s:I}", "version", v, "state",
                              cu_res_text(r, i, CU_COL_KEKST_STATE), "created_at",
                              cu_res_text(r, i, CU_COL_KEKST_CREATED_AT),
                              "subject_keys", (json_int_t)subjects, "data_keys",
                              (json_int_t)cu_res_int(r, i, CU_COL_KEKST_DATA_KEYS));
        if (cu_res_text(r, i, CU_COL_KEKST_RETIRED_AT)[0] != '\0') {
            json_object_set_new(o, "retired_at", json_string(cu_res_text(r, i, CU_COL_KEKST_RETIRED_AT)));
        }
        if (cu_res_text(r, i, CU_COL_KEKST_DESTROYED_AT)[0] != '\0') {
            json_object_set_new(o, "destroyed_at", json_string(cu_res_text(r, i, CU_COL_KEKST_DESTROYED_AT)));
        }
        json_array_append_new(versions, o);
        if (v == current) {
            done += subjects;
        } else {
            pending += subjects;
        }
    }
    CU_TRY(cu_tx_commit(&tx));
    *out = json_pack("{s:i, s:o, s:{s:I, s:I, s:b}}", "current_version", current, "versions",
                     versions, "rewrap", "pending", (json_int_t)pending, "done", (json_int_t)done,
                     "complete", pending == 0);
out:
    cu_tx_abort(&tx);
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_keys_sweep(struct cu_svc *s, int *rewrapped, int *destroyed)
{
    *rewrapped = 0;
    *destroyed = 0;
    char after[64] = "";
    for (;;) {
        struct cu_tx *tx = NULL;
        struct cu_arena *arena = cu_arena_new();
        struct cu_db_result *r = NULL;
        enum cu_err rc = cu_tx_begin(s->db, NULL, &tx);
        if (rc == CU_OK) {
            rc = cu_store_tenant_list(tx, after, 200, arena, &r);
        }
        cu_tx_abort(&tx);
        if (rc != CU_OK) {
            cu_arena_free(arena);
            return rc;
        }
        int n = cu_res_rows(r);
        for (int i = 0; i < n; i++) {
            const char *tenant = cu_res_text(r, i, CU_COL_TENANT_ID);
            /* batches of 500 until the tenant has nothing stale */
            for (;;) {
                int done = 0, gone = 0;
                rc = cu_keyring_rewrap(s->keyring, s->db, tenant, 500, &done, &gone);
                if (rc != CU_OK) {
                    cu_log(CU_LOG_WARN, "key re-wrap failed", "tenant", tenant, "reason",
                           cu_err_reason(), NULL);
                    break;
                }
                *rewrapped += done;
                *destroyed += gone;
                if (done < 500) {
                    break;
                }
            }
            struct cu_tx *gc = NULL;
            if (cu_tx_begin(s->db, tenant, &gc) == CU_OK) {
                if (cu_store_idem_gc(gc, tenant) == CU_OK) {
                    enum cu_err ignored = cu_tx_commit(&gc);
                    (void)ignored;
                } else {
                    cu_tx_abort(&gc);
                }
            }
        }
        if (n > 0) {
            snprintf(after, sizeof(after), "%s", cu_res_text(r, n - 1, CU_COL_TENANT_ID));
        }
        cu_arena_free(arena);
        if (n < 200) {
            struct cu_tx *gc = NULL;
            if (cu_tx_begin(s->db, NULL, &gc) == CU_OK) {
                if (cu_tx_allow_platform_idem(gc) == CU_OK && cu_store_idem_gc(gc, NULL) == CU_OK) {
                    enum cu_err ignored = cu_tx_commit(&gc);
                    (void)ignored;
                } else {
                    cu_tx_abort(&gc);
                }
            }
            return CU_OK;
        }
    }
}
