/* The audit trail: what a denial records (never an unvalidated path segment), that a refused
 * purpose is recorded for record reads as for detokenize, and that entries belong to one
 * incarnation of their tenant. */
#include "client.h"
#include "tenant.h"
#include "vault.h"

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <string.h>

TestSuite(audit, .fini = cleanup_all);

/* The first column of a query as the superuser, as a number. */
static long long
admin_count(const char *sql, const char *p1, const char *p2)
{
    return db_count2(db_open("CUSTOS_TEST_ADMIN_DB_URL"), sql, p1, p2);
}

/* The first column of a query as the service role in tenant's session (row-level security
 * applies), as a number. */
static long long
app_count(const char *tenant, const char *sql)
{
    PGconn *c = db_open("CUSTOS_DATABASE_URL");
    PGresult *r = PQexecParams(c, "SELECT set_config('custos.tenant', $1, false)", 1, NULL, &tenant,
                               NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    PQclear(r);
    cr_assert_eq(st, PGRES_TUPLES_OK);
    return db_count(c, sql, NULL);
}

Test(audit, a_denial_stores_no_collection_segment_that_is_not_a_valid_name)
{
    struct vt t = {0};
    vault_setup(&t);
    const char *search_only = t_token(t.id, "records:search");
    /* a value planted where the collection name goes */
    struct t_resp *r =
        api_p("POST", "/v1/collections/planted.ada%40example.com/records", search_only, NULL,
              "{\"records\":[{\"subject_id\":\"s\",\"fields\":{\"name\":\"x\"}}]}");
    cr_assert_eq(r->status, 403, "%ld %s", r->status, r->body);
    r = api_p("POST", RECORDS, search_only, NULL,
              "{\"records\":[{\"subject_id\":\"s\",\"fields\":{\"name\":\"x\"}}]}");
    cr_assert_eq(r->status, 403, "%ld %s", r->status, r->body);

    cr_assert_eq(admin_count("SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                             " AND (collection LIKE '%planted%' OR collection LIKE '%@%')",
                             t.id, NULL),
                 0, "the planted path segment reached the audit trail");
    cr_assert_eq(admin_count("SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                             " AND outcome = 'denied' AND collection IS NULL",
                             t.id, NULL),
                 1, "the denial with a malformed collection is not audited");
    cr_assert_eq(admin_count("SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                             " AND outcome = 'denied' AND collection = 'customers'",
                             t.id, NULL),
                 1, "a valid collection name is no longer kept");
}

Test(audit, a_record_read_for_an_undeclared_purpose_is_audited)
{
    struct vt t = {0};
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", json_pack("{s:s}", "name", "Ada Lovelace"));
    struct t_resp *r = api_p("GET", fmt(RECORDS "/%s", rid(rec)), t.admin, "marketing", NULL);
    cr_assert_eq(r->status, 403, "%ld %s", r->status, r->body);
    cr_assert_eq(admin_count("SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                             " AND action = 'record.read' AND outcome = 'denied_purpose'"
                             " AND record_id = $2 AND collection = 'customers'"
                             " AND purpose IS NULL",
                             t.id, rid(rec)),
                 1, "the refused purpose is not audited");
}

Test(audit, a_tenant_recreated_under_the_same_id_starts_with_an_empty_trail)
{
    struct vt t = {0};
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", json_pack("{s:s}", "name", "Ada Lovelace"));
    cr_assert_eq(api_p("GET", fmt(RECORDS "/%s", rid(rec)), t.admin, "support", NULL)->status, 200);
    long long before = app_count(t.id, "SELECT count(*) FROM audit_log");
    cr_assert_geq(before, 3, "the first tenant's trail holds %lld entries", before);

    struct t_resp *r =
        api_p("DELETE", fmt("/v1/tenants/%s", t.id), t_token(NULL, "vault:admin"), NULL, NULL);
    cr_assert_eq(r->status, 204, "delete: %ld %s", r->status, r->body);
    t_tenant_create(t_shared(), t.id, "Recreated"); /* the same id */

    /* the new tenant sees only its own creation */
    cr_assert_eq(app_count(t.id, "SELECT count(*) FROM audit_log"), 1,
                 "the recreated tenant inherited entries");
    cr_assert_eq(app_count(t.id, "SELECT count(*) FROM audit_log"
                                 " WHERE action = 'tenant.create'"),
                 1);
    /* the old entries and the deletion are kept on the platform side */
    cr_assert_eq(admin_count("SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                             " AND action = 'tenant.delete' AND incarnation IS NULL",
                             t.id, NULL),
                 1, "the deletion entry is not on the platform side");
    cr_assert_geq(admin_count("SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                              " AND action = 'tokenize'",
                              t.id, NULL),
                  1, "the old incarnation's entries are gone");
}
