/* The largest tokenize the contract allows (issue 14 item 6): 8,000 field values per request
 * (records x fields) complete within the statement deadline; one value more is 422. Its own
 * binary, so that no other test's batches share the database while it runs.
 * Invariant: every test makes its own tenant. */
#include "idp.h"
#include "tenant.h"
#include "vault.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

TestSuite(batch_limit, .fini = cleanup_all);

/* The body of n records of `wide` (64 string fields), each with w fields. */
static char *
wide_body(size_t n, int w)
{
    json_t *recs = json_array();
    for (size_t r = 0; r < n; r++) {
        json_t *f = json_object();
        for (int i = 0; i < w; i++) {
            char k[8], v[8];
            snprintf(k, sizeof(k), "%c%d", 'a' + i / 10, i % 10);
            snprintf(v, sizeof(v), "%c", (int)('a' + r % 26));
            json_object_set_new(f, k, json_string(v));
        }
        char s[16];
        snprintf(s, sizeof(s), "crm-%zu", r % 10);
        json_array_append_new(recs, json_pack("{s:s, s:o}", "subject_id", s, "fields", f));
    }
    return dump(json_pack("{s:o}", "records", recs));
}

/* The documented maximum works (issue 14 item 6): 8,000 field values per tokenize — 125
 * records of 64 fields, or 1,000 of 8 — are stored; one value more is 422 and stores nothing. */
Test(batch_limit, the_largest_allowed_tokenize_succeeds_and_one_value_more_is_422, .timeout = 120)
{
    struct vt t;
    tenant_create(&t);
    json_t *fields = json_object();
    for (int i = 0; i < 64; i++) {
        json_object_set_new(fields, fmt("%c%d", 'a' + i / 10, i % 10),
                            json_pack("{s:s}", "type", "string"));
    }
    t_collection_put(t_shared(), t.admin, "wide", dump(json_pack("{s:o}", "fields", fields)));
    struct t_resp *r = api("POST", "/v1/collections/wide/records", t.admin, wide_body(125, 64));
    cr_assert_eq(r->status, 201, "%ld %.300s", r->status, r->body);
    cr_assert_eq(json_array_size(json_object_get(r->json, "records")), 125);
    r = api("POST", "/v1/collections/wide/records", t.admin, wide_body(1000, 8));
    cr_assert_eq(r->status, 201, "%ld %.300s", r->status, r->body);
    cr_assert_eq(stored_records(&t), 1125);
    /* 126 x 64 = 8,064 and 1,000 x 9 = 9,000 */
    assert_problem(api("POST", "/v1/collections/wide/records", t.admin, wide_body(126, 64)), 422,
                   "/records");
    r = api("POST", "/v1/collections/wide/records", t.admin, wide_body(1000, 9));
    assert_problem(r, 422, "/records");
    cr_assert(strstr(r->body, "8000 field values") != NULL, "%s", r->body);
    cr_assert_eq(stored_records(&t), 1125);
}
