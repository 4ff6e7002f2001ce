/* Row-level security, the second line of tenant isolation, checked in PostgreSQL as the service
 * role: no tenant setting sees no rows, a tenant transaction sees and writes only its own, and
 * the service role cannot rewrite the audit trail or bypass RLS.
 * Invariant: every test makes its own tenant. */
#include "vault.h"

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TestSuite(rls, .fini = cleanup_all);

static const char *const tenant_tables[] = {
    "roles",    "interactions", "reveal_use",
    "records",  "tokens",    "record_values",    "subject_keys",     "tenant_keys", "collections",
    "purposes", "audit_log", "idempotency_keys", "tenant_data_keys", "tenants",
    "subject_restrictions", "consent_events",
};
#define NTABLES (sizeof(tenant_tables) / sizeof(tenant_tables[0]))

/* A tenant with two records; returns the first record's id. */
static const char *
seeded(struct vt *t)
{
    vault_setup(t);
    const char *body = dump(json_pack("{s:[{s:s, s:o}, {s:s, s:o}]}", "records", "subject_id",
                                      "crm-1", "fields", std_fields("+14155550100"), "subject_id",
                                      "crm-2", "fields", std_fields("+14155550101")));
    struct t_resp *r = send_req("POST", RECORDS, t->admin, NULL, "seed", "application/json", body);
    cr_assert_eq(r->status, 201, "%s", r->body);
    json_t *rec = json_array_get(json_object_get(r->json, "records"), 0);
    /* a role, an interaction and a plain reveal counted against the role's budget */
    cr_assert_eq(api("PUT", "/v1/roles/agent", t->admin,
                     "{\"scopes\":[\"detokenize:*.*:plain\"],\"plain_reveals_per_hour\":100}")
                     ->status,
                 201);
    cr_assert_eq(api("POST", "/v1/interactions", t_token(t->id, "interactions:write"),
                     "{\"principal\":\"agent-1\",\"subject_id\":\"crm-1\",\"channel\":\"voice\"}")
                     ->status,
                 201);
    char *claims = own(t_claims(t->id, "", "agent-1", 3600, "{\"roles\":[\"agent\"]}"));
    const char *agent = t_token_raw("rsa-1", "RS256", claims);
    cr_assert_str_eq(value_of(detok1(agent, tok(rec, "name"), NULL)), "Jonathan Smith");
    return rid(rec);
}

/* Runs one statement; the rows it affected, or -1 with its SQLSTATE when it failed. */
static long
db_exec(PGconn *c, const char *sql, const char *p1, const char *p2, char state[6])
{
    const char *params[2] = {p1, p2};
    int n = p2 != NULL ? 2 : p1 != NULL ? 1 : 0;
    PGresult *res = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    long rows = -1;
    state[0] = '\0';
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        rows = atol(PQcmdTuples(res));
    } else {
        const char *s = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        snprintf(state, 6, "%s", s ? s : "?????");
    }
    PQclear(res);
    return rows;
}

static void
db_ok(PGconn *c, const char *sql, const char *p1)
{
    char state[6];
    cr_assert_geq(db_exec(c, sql, p1, NULL, state), 0, "%s: SQLSTATE %s", sql, state);
}

Test(rls, without_a_tenant_setting_the_service_role_sees_no_rows)
{
    struct vt a;
    seeded(&a);
    PGconn *admin = db_open("CUSTOS_TEST_ADMIN_DB_URL");
    cr_assert_eq(db_count(admin, "SELECT count(*) FROM records WHERE tenant_id = $1", a.id), 2);
    PGconn *app = db_open("CUSTOS_DATABASE_URL");
    for (size_t i = 0; i < NTABLES; i++) {
        cr_assert_eq(db_count(app, fmt("SELECT count(*) FROM %s", tenant_tables[i]), NULL), 0,
                     "%s shows rows without a tenant", tenant_tables[i]);
    }
    /* nor with an empty one */
    db_ok(app, "SELECT set_config('custos.tenant', '', false)", NULL);
    for (size_t i = 0; i < NTABLES; i++) {
        cr_assert_eq(db_count(app, fmt("SELECT count(*) FROM %s", tenant_tables[i]), NULL), 0,
                     "%s shows rows for an empty tenant", tenant_tables[i]);
    }
}

Test(rls, inside_a_tenant_transaction_only_that_tenant_rows_are_visible)
{
    struct vt a, b;
    seeded(&a);
    seeded(&b);
    PGconn *admin = db_open("CUSTOS_TEST_ADMIN_DB_URL");
    PGconn *app = db_open("CUSTOS_DATABASE_URL");
    db_ok(app, "BEGIN", NULL);
    db_ok(app, "SELECT set_config('custos.tenant', $1, true)", a.id);
    for (size_t i = 0; i < NTABLES; i++) {
        const char *table = tenant_tables[i];
        cr_assert_eq(
            db_count(app, fmt("SELECT count(*) FROM %s WHERE tenant_id <> $1", table), a.id), 0,
            "%s shows another tenant's rows", table);
        long long mine = db_count(app, fmt("SELECT count(*) FROM %s", table), NULL);
        long long truth =
            db_count(admin, fmt("SELECT count(*) FROM %s WHERE tenant_id = $1", table), a.id);
        cr_assert_eq(mine, truth, "%s: %lld visible, %lld stored", table, mine, truth);
    }
    cr_assert_eq(db_count(app, "SELECT count(*) FROM records", NULL), 2);
    cr_assert_gt(db_count(app, "SELECT count(*) FROM tokens", NULL), 0);
    cr_assert_eq(db_count(app, "SELECT count(*) FROM records WHERE tenant_id = $1", b.id), 0);
    db_ok(app, "ROLLBACK", NULL);
    /* SET LOCAL died with the transaction */
    cr_assert_eq(db_count(app, "SELECT count(*) FROM records", NULL), 0);
}

Test(rls, a_tenant_transaction_cannot_move_or_write_another_tenant_rows)
{
    struct vt a, b;
    const char *ra = seeded(&a);
    const char *rb = seeded(&b);
    PGconn *admin = db_open("CUSTOS_TEST_ADMIN_DB_URL");
    PGconn *app = db_open("CUSTOS_DATABASE_URL");
    char state[6];

    db_ok(app, "BEGIN", NULL);
    db_ok(app, "SELECT set_config('custos.tenant', $1, true)", a.id);
    long rows = db_exec(app, "UPDATE records SET tenant_id = $1 WHERE id = $2", b.id, ra, state);
    cr_assert(rows <= 0, "a record moved to another tenant (%ld rows)", rows);
    db_ok(app, "ROLLBACK", NULL);

    db_ok(app, "BEGIN", NULL);
    db_ok(app, "SELECT set_config('custos.tenant', $1, true)", a.id);
    rows = db_exec(app, "UPDATE purposes SET tenant_id = $1 WHERE name = 'support'", b.id, NULL,
                   state);
    cr_assert(rows <= 0, "a purpose moved to another tenant (%ld rows)", rows);
    db_ok(app, "ROLLBACK", NULL);

    db_ok(app, "BEGIN", NULL);
    db_ok(app, "SELECT set_config('custos.tenant', $1, true)", a.id);
    cr_assert_eq(db_exec(app, "UPDATE records SET subject_id = 'x' WHERE id = $1", rb, NULL, state),
                 0, "SQLSTATE %s", state);
    cr_assert_eq(db_exec(app, "DELETE FROM records WHERE id = $1", rb, NULL, state), 0,
                 "SQLSTATE %s", state);
    cr_assert_eq(db_exec(app, "DELETE FROM tokens WHERE tenant_id = $1", b.id, NULL, state), 0,
                 "SQLSTATE %s", state);
    db_ok(app, "ROLLBACK", NULL);

    db_ok(app, "BEGIN", NULL);
    db_ok(app, "SELECT set_config('custos.tenant', $1, true)", a.id);
    rows = db_exec(app,
                   "INSERT INTO purposes (tenant_id, name, lawful_basis)"
                   " VALUES ($1, 'planted', 'contract')",
                   b.id, NULL, state);
    cr_assert_eq(rows, -1, "a row was written for another tenant");
    cr_assert_str_eq(state, "42501", "not refused by the row-level policy");
    db_ok(app, "ROLLBACK", NULL);

    cr_assert_eq(
        db_count2(admin, "SELECT count(*) FROM records WHERE tenant_id = $1 AND id = $2", a.id, ra),
        1);
    cr_assert_eq(db_count2(admin,
                           "SELECT count(*) FROM records WHERE tenant_id = $1 AND id = $2"
                           " AND subject_id <> 'x'",
                           b.id, rb),
                 1);
    cr_assert_eq(db_count(admin,
                          "SELECT count(*) FROM purposes WHERE name = 'planted'"
                          " AND tenant_id = $1",
                          b.id),
                 0);
    /* and B still reads its own record */
    struct t_resp *r = api_p("GET", rec_path(rb), b.admin, "support", NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
}

Test(rls, the_service_role_cannot_rewrite_or_erase_the_audit_trail)
{
    struct vt a;
    seeded(&a);
    PGconn *app = db_open("CUSTOS_DATABASE_URL");
    char state[6];
    db_ok(app, "BEGIN", NULL);
    db_ok(app, "SELECT set_config('custos.tenant', $1, true)", a.id);
    cr_assert_gt(db_count(app, "SELECT count(*) FROM audit_log", NULL), 0);
    cr_assert_eq(db_exec(app, "UPDATE audit_log SET outcome = 'allowed'", NULL, NULL, state), -1,
                 "the service can rewrite audit entries");
    cr_assert_str_eq(state, "42501");
    db_ok(app, "ROLLBACK", NULL);
    db_ok(app, "BEGIN", NULL);
    db_ok(app, "SELECT set_config('custos.tenant', $1, true)", a.id);
    cr_assert_eq(db_exec(app, "DELETE FROM audit_log", NULL, NULL, state), -1,
                 "the service can erase audit entries");
    cr_assert_str_eq(state, "42501");
    db_ok(app, "ROLLBACK", NULL);
    db_ok(app, "BEGIN", NULL);
    db_ok(app, "SELECT set_config('custos.tenant', $1, true)", a.id);
    cr_assert_eq(db_exec(app, "TRUNCATE audit_log", NULL, NULL, state), -1,
                 "the service can truncate the audit trail");
    db_ok(app, "ROLLBACK", NULL);
}

Test(rls, the_service_role_is_no_superuser_bypasses_no_rls_and_owns_no_table)
{
    PGconn *app = db_open("CUSTOS_DATABASE_URL");
    cr_assert_eq(db_count(app, "SELECT count(*) FROM pg_roles WHERE rolname = current_user", NULL),
                 1);
    cr_assert_eq(db_count(app,
                          "SELECT count(*) FROM pg_roles WHERE rolname = current_user"
                          " AND (rolsuper OR rolbypassrls OR rolcreaterole OR rolcreatedb)",
                          NULL),
                 0, "the service role is privileged");
    /* nor through a role it belongs to */
    cr_assert_eq(db_count(app,
                          "SELECT count(*) FROM pg_roles r WHERE r.rolname <> current_user"
                          " AND pg_has_role(current_user, r.oid, 'USAGE')"
                          " AND (r.rolsuper OR r.rolbypassrls)",
                          NULL),
                 0, "the service role inherits a privileged role");
    cr_assert_eq(
        db_count(app, "SELECT count(*) FROM pg_tables WHERE tableowner = current_user", NULL), 0,
        "the service role owns tables (owners skip non-forced policies)");
    cr_assert_eq(db_count(app,
                          "SELECT count(*) FROM pg_namespace WHERE nspname = 'public'"
                          " AND has_schema_privilege(current_user, oid, 'CREATE')",
                          NULL),
                 0, "the service role may create objects in public");
    /* every table with a tenant_id forces its row-level security */
    cr_assert_eq(db_count(app,
                          "SELECT count(*) FROM pg_class c"
                          " JOIN pg_namespace n ON n.oid = c.relnamespace"
                          " WHERE n.nspname = 'public' AND c.relkind = 'r'"
                          " AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid"
                          "             AND a.attname = 'tenant_id' AND NOT a.attisdropped)"
                          " AND NOT (c.relrowsecurity AND c.relforcerowsecurity)",
                          NULL),
                 0, "a tenant table does not force row-level security");
}
