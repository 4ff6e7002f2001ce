/* The plan of a reveal's read (storage/vaultstore.c "detokenize"), as the service runs it: a
 * prepared statement on the service role, under row-level security, with the generic plan a
 * pooled connection settles on. Each token must reach its record by an index probe: a scan of
 * the tenant's records table per reveal grows with the tenant (issue 9; the plain join's generic
 * plan hashed the whole table at 2,000 records). The reveal's restriction and consent step
 * (storage/gatestore.c reveal_gates) is held to the same. */
#include "client.h"
#include "vault.h"

#include "storage/vaultstore.h"

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <string.h>

TestSuite(reveal_plan, .fini = cleanup_all);

static void
ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    PQclear(r);
    cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
}

Test(reveal_plan, each_token_reaches_its_record_by_an_index_probe, .timeout = 120)
{
    struct vt t;
    vault_setup(&t);
    for (int b = 0; b < 2; b++) {
        struct t_resp *r = api("POST", RECORDS, t.admin, batch_body(1000, fmt("plan%d", b)));
        cr_assert_eq(r->status, 201, "%ld %s", r->status, r->body);
    }
    PGconn *c = db_open("CUSTOS_TEST_ADMIN_DB_URL");
    ok(c, "ANALYZE records, tokens, record_values, subject_keys");
    const struct cu_stmt *st = cu_store_stmt("detokenize");
    cr_assert_not_null(st);
    const struct cu_stmt *gates = cu_store_stmt("reveal_gates");
    cr_assert_not_null(gates);
    ok(c, "BEGIN");
    ok(c, "SET LOCAL ROLE custos_app");
    ok(c, "SET LOCAL plan_cache_mode = force_generic_plan");
    const char *tenant = t.id;
    PGresult *r = PQexecParams(c, "SELECT set_config('custos.tenant', $1, true)", 1, NULL, &tenant,
                               NULL, NULL, 0);
    PQclear(r);
    ok(c, fmt("PREPARE reveal_plan(text, text) AS %s", st->sql));
    /* EXPLAIN takes no parameters: the tenant id (letters, digits, '-') goes in literally */
    r = PQexec(c, fmt("EXPLAIN EXECUTE reveal_plan('%s', '[\"tok_x\"]')", tenant));
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
    char plan[16384] = "";
    for (int i = 0; i < PQntuples(r); i++) {
        strncat(plan, PQgetvalue(r, i, 0), sizeof(plan) - strlen(plan) - 2);
        strcat(plan, "\n");
    }
    PQclear(r);
    /* the reveal's restriction and consent step (storage/gatestore.c) reaches records the same
     * way */
    ok(c, fmt("PREPARE gates_plan(text, text, text) AS %s", gates->sql));
    r = PQexec(c, fmt("EXPLAIN EXECUTE gates_plan('%s', 'support', '[\"tok_x\"]')", tenant));
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
    for (int i = 0; i < PQntuples(r); i++) {
        strncat(plan, PQgetvalue(r, i, 0), sizeof(plan) - strlen(plan) - 2);
        strcat(plan, "\n");
    }
    PQclear(r);
    ok(c, "ROLLBACK");
    cr_assert_null(strstr(plan, "Seq Scan on records"), "a reveal scans the records table:\n%s",
                   plan);
    cr_assert_null(strstr(plan, "Seq Scan on tokens"), "a reveal scans the tokens table:\n%s",
                   plan);
}
