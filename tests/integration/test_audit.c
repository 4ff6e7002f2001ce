/* The audit trail: what a denial records (never an unvalidated path segment), that a refused
 * purpose is recorded for record reads as for detokenize, and that entries belong to one
 * incarnation of their tenant. */
#include "vault_fixture.h"

#include "idp.h"

#include <criterion/criterion.h>
#include <string.h>

TestSuite(audit, .fini = fx_cleanup);

Test(audit, a_denial_stores_no_collection_segment_that_is_not_a_valid_name)
{
    struct fx_tenant t = {0};
    fx_vault(&t);
    const char *search_only = t_token(t.id, "records:search");
    /* a value planted where the collection name goes */
    struct t_resp *r =
        fx_api("POST", "/v1/collections/planted.ada%40example.com/records", search_only, NULL,
               "{\"records\":[{\"subject_id\":\"s\",\"fields\":{\"name\":\"x\"}}]}");
    cr_assert_eq(r->status, 403, "%ld %s", r->status, r->body);
    r = fx_api("POST", FX_RECORDS, search_only, NULL,
               "{\"records\":[{\"subject_id\":\"s\",\"fields\":{\"name\":\"x\"}}]}");
    cr_assert_eq(r->status, 403, "%ld %s", r->status, r->body);

    cr_assert_eq(fx_admin_count("SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                                " AND (collection LIKE '%planted%' OR collection LIKE '%@%')",
                                t.id, NULL),
                 0, "the planted path segment reached the audit trail");
    cr_assert_eq(fx_admin_count("SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                                " AND outcome = 'denied' AND collection IS NULL",
                                t.id, NULL),
                 1, "the denial with a malformed collection is not audited");
    cr_assert_eq(fx_admin_count("SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                                " AND outcome = 'denied' AND collection = 'customers'",
                                t.id, NULL),
                 1, "a valid collection name is no longer kept");
}

Test(audit, a_record_read_for_an_undeclared_purpose_is_audited)
{
    struct fx_tenant t = {0};
    fx_vault(&t);
    json_t *rec = fx_tokenize1(&t, "crm-1", json_pack("{s:s}", "name", "Ada Lovelace"));
    struct t_resp *r =
        fx_api("GET", fx_fmt(FX_RECORDS "/%s", fx_id(rec)), t.admin, "marketing", NULL);
    cr_assert_eq(r->status, 403, "%ld %s", r->status, r->body);
    cr_assert_eq(fx_admin_count("SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                                " AND action = 'record.read' AND outcome = 'denied_purpose'"
                                " AND record_id = $2 AND collection = 'customers'"
                                " AND purpose IS NULL",
                                t.id, fx_id(rec)),
                 1, "the refused purpose is not audited");
}

Test(audit, a_tenant_recreated_under_the_same_id_starts_with_an_empty_trail)
{
    struct fx_tenant t = {0};
    fx_vault(&t);
    json_t *rec = fx_tokenize1(&t, "crm-1", json_pack("{s:s}", "name", "Ada Lovelace"));
    cr_assert_eq(
        fx_api("GET", fx_fmt(FX_RECORDS "/%s", fx_id(rec)), t.admin, "support", NULL)->status, 200);
    long long before = fx_app_count(t.id, "SELECT count(*) FROM audit_log");
    cr_assert_geq(before, 3, "the first tenant's trail holds %lld entries", before);

    struct t_resp *r =
        fx_api("DELETE", fx_fmt("/v1/tenants/%s", t.id), t_token(NULL, "vault:admin"), NULL, NULL);
    cr_assert_eq(r->status, 204, "delete: %ld %s", r->status, r->body);
    fx_tenant_create(&t); /* the same id */

    /* the new tenant sees only its own creation */
    cr_assert_eq(fx_app_count(t.id, "SELECT count(*) FROM audit_log"), 1,
                 "the recreated tenant inherited entries");
    cr_assert_eq(fx_app_count(t.id, "SELECT count(*) FROM audit_log"
                                    " WHERE action = 'tenant.create'"),
                 1);
    /* the old entries and the deletion are kept on the platform side */
    cr_assert_eq(fx_admin_count("SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                                " AND action = 'tenant.delete' AND incarnation IS NULL",
                                t.id, NULL),
                 1, "the deletion entry is not on the platform side");
    cr_assert_geq(fx_admin_count("SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                                 " AND action = 'tokenize'",
                                 t.id, NULL),
                  1, "the old incarnation's entries are gone");
}
