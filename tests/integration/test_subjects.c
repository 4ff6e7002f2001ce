/* The contract of data subjects (issue 11 items 1-4, 7, 8): the masked subject view, the export
 * (everything of the subject and nothing of anyone else; CSV quoting and formula safety),
 * erasure by crypto-shredding (no key or value left, tokens 410 on a second node that had the key
 * cached), receipts that verify and forged ones that do not (API and CLI), legal holds, the DSR
 * workflow on the statutory clock, and the retention sweep.
 * Invariant: every test makes its own tenant. */
#include "tenant.h"
#include "vault.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

TestSuite(subjects, .fini = cleanup_all);
TestSuite(erasure, .fini = cleanup_all);
TestSuite(dsr, .fini = cleanup_all);
TestSuite(retention, .fini = cleanup_all);

static const char *
dsr_token(const struct vt *t)
{
    return t_token(t->id, "dsr:manage");
}

static long long
admin_count(const char *sql, const char *p1, const char *p2)
{
    return db_count2(db_open("CUSTOS_TEST_ADMIN_DB_URL"), sql, p1, p2);
}

static json_t *
fields_with(const char *phone, const char *note)
{
    json_t *f = std_fields(phone);
    json_object_set_new(f, "note", json_string(note));
    return f;
}

/* ---- subject view ---- */

Test(subjects, the_view_lists_every_record_of_the_subject_masked_and_nothing_of_others)
{
    struct vt t;
    vault_setup(&t);
    json_t *a = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    json_t *b = tokenize1(&t, "crm-1", std_fields("+14155550101"));
    tokenize1(&t, "crm-2", std_fields("+14155550199"));
    struct t_resp *r = api_p("GET", "/v1/subjects/crm-1", dsr_token(&t), "support", NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    assert_no_store(r);
    json_t *recs = json_object_get(r->json, "records");
    cr_assert_eq(json_array_size(recs), 2, "%s", r->body);
    cr_assert_null(strstr(r->body, "+14155550199"), "another subject's value: %s", r->body);
    cr_assert_null(strstr(r->body, "4111111111111111"), "a plain card: %s", r->body);
    cr_assert_null(strstr(r->body, "john.doe@example.com"), "a plain email: %s", r->body);
    cr_assert_not_null(strstr(r->body, rid(a)));
    cr_assert_not_null(strstr(r->body, rid(b)));
    json_t *f = json_object_get(json_array_get(recs, 0), "fields");
    cr_assert_str_eq(json_string_value(json_object_get(f, "card")), "************1111");
    cr_assert_str_eq(json_string_value(json_object_get(f, "email")), "j***@example.com");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(json_array_get(recs, 0),
                                                                       "tokens"),
                                                       "card")),
                     strcmp(rid(a), json_string_value(json_object_get(json_array_get(recs, 0),
                                                                      "id"))) == 0
                         ? tok(a, "card")
                         : tok(b, "card"));
    cr_assert_eq(admin_count("SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                             " AND action = 'subject.view' AND subject_id = 'crm-1'"
                             " AND outcome = 'allowed'",
                             t.id, NULL),
                 1);
}

Test(subjects, an_unknown_subject_is_404_and_a_purpose_is_required)
{
    struct vt t;
    vault_setup(&t);
    tokenize1(&t, "crm-1", std_fields("+14155550100"));
    assert_problem(api_p("GET", "/v1/subjects/nobody", dsr_token(&t), "support", NULL), 404, NULL);
    assert_problem(api_p("GET", "/v1/subjects/crm-1", dsr_token(&t), NULL, NULL), 400, NULL);
    assert_problem(api_p("GET", "/v1/subjects/crm-1", dsr_token(&t), "undeclared", NULL), 403,
                   NULL);
    assert_problem(api_p("GET", "/v1/subjects/crm-1", t.admin, "support", NULL), 403, NULL);
    /* another tenant's subject does not exist here */
    struct vt other;
    vault_setup(&other);
    assert_problem(api_p("GET", "/v1/subjects/crm-1", dsr_token(&other), "support", NULL), 404,
                   NULL);
}

/* ---- export ---- */

Test(subjects, the_export_holds_everything_of_the_subject_and_nothing_of_anyone_else)
{
    struct vt t;
    vault_setup(&t);
    json_t *a = tokenize1(&t, "crm-1", fields_with("+14155550100", "first note"));
    tokenize1(&t, "crm-1", fields_with("+14155550101", "second note"));
    tokenize1(&t, "crm-2", fields_with("+14155550199", "someone else's note"));
    cr_assert_str_eq(plain(&t, tok(a, "name")), "Jonathan Smith"); /* an access to report */
    struct t_resp *r = api_p("GET", "/v1/subjects/crm-1/export", dsr_token(&t), "support", NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    assert_no_store(r);
    cr_assert_not_null(strstr(r->body, "first note"));
    cr_assert_not_null(strstr(r->body, "second note"));
    cr_assert_not_null(strstr(r->body, "+14155550101"));
    cr_assert_not_null(strstr(r->body, "4111111111111111"));
    cr_assert_null(strstr(r->body, "someone else"), "%s", r->body);
    cr_assert_null(strstr(r->body, "+14155550199"), "%s", r->body);
    cr_assert_null(strstr(r->body, "crm-2"), "%s", r->body);
    cr_assert_eq(json_array_size(json_object_get(r->json, "records")), 2);
    json_t *p = json_array_get(json_object_get(r->json, "purposes"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(p, "name")), "support");
    cr_assert_str_eq(json_string_value(json_object_get(p, "lawful_basis")), "contract");
    json_t *ret = json_array_get(json_object_get(r->json, "retention"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(ret, "collection")), "customers");
    /* who accessed the data when: the detokenize above */
    json_t *access = json_object_get(r->json, "access");
    int saw = 0;
    for (size_t i = 0; i < json_array_size(access); i++) {
        json_t *e = json_array_get(access, i);
        if (strcmp(json_string_value(json_object_get(e, "action")), "detokenize") == 0) {
            saw = 1;
            cr_assert_not_null(json_object_get(e, "ts"));
            cr_assert_not_null(json_object_get(e, "principal"));
        }
    }
    cr_assert(saw, "no detokenize in the access history: %s", show(access));
}

Test(subjects, the_csv_export_quotes_per_rfc_4180_and_neutralizes_formulas)
{
    struct vt t;
    vault_setup(&t);
    tokenize1(&t, "crm-1", fields_with("+14155550100", "=HYPERLINK(\"http://x\",\"a,b\")"));
    struct t_resp *r =
        api_p("GET", "/v1/subjects/crm-1/export?format=csv", dsr_token(&t), "support", NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    char ct[128] = "";
    cr_assert(t_header(r, "Content-Type", ct, sizeof(ct)));
    cr_assert_not_null(strstr(ct, "text/csv"), "%s", ct);
    cr_assert_not_null(strstr(r->body, "\"collection\",\"record_id\",\"created_at\",\"field\","
                                       "\"value\"\r\n"),
                       "%s", r->body);
    cr_assert_not_null(strstr(r->body, ",\"note\",\"'=HYPERLINK(\"\"http://x\"\",\"\"a,b\"\")\"\r\n"),
                       "%s", r->body);
    cr_assert_not_null(strstr(r->body, ",\"phone\",\"'+14155550100\"\r\n"), "%s", r->body);
    cr_assert_not_null(strstr(r->body, ",\"name\",\"Jonathan Smith\"\r\n"), "%s", r->body);
    /* one row per value, plus the header */
    int rows = 0;
    for (const char *p = r->body; (p = strstr(p, "\r\n")) != NULL; p += 2) {
        rows++;
    }
    cr_assert_eq(rows, 8, "%s", r->body);
    assert_problem(
        api_p("GET", "/v1/subjects/crm-1/export?format=xml", dsr_token(&t), "support", NULL), 400,
        NULL);
}

/* ---- erasure and receipts ---- */

static json_t *
erase(const struct vt *t, const char *subject)
{
    struct t_resp *r = api("DELETE", fmt("/v1/subjects/%s", subject), dsr_token(t), NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    return json_object_get(r->json, "receipt");
}

static int
verify_receipt(const struct vt *t, json_t *receipt)
{
    struct t_resp *r = api("POST", "/v1/receipts/verify", dsr_token(t),
                           dump(json_pack("{s:O}", "receipt", receipt)));
    cr_assert_eq(r->status, 200, "%s", r->body);
    return json_is_true(json_object_get(r->json, "valid"));
}

Test(erasure, erasure_leaves_no_key_or_value_and_its_tokens_are_410_on_a_second_node,
     .timeout = 120)
{
    struct vt t;
    vault_setup(&t);
    json_t *a = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    json_t *keep = tokenize1(&t, "crm-2", std_fields("+14155550100"));
    /* a second node reveals first: the subject's key sits in its cache */
    struct t_server second;
    cr_assert_eq(t_spawn(NULL, 1, &second), 0);
    char v[128];
    cr_assert_eq(t_reveal(&second, t.admin, tok(a, "name"), v, sizeof(v)), 200);
    cr_assert_str_eq(v, "Jonathan Smith");
    json_t *receipt = erase(&t, "crm-1");
    cr_assert_str_eq(json_string_value(json_object_get(receipt, "tenant")), t.id);
    cr_assert_str_eq(json_string_value(json_object_get(receipt, "subject_id")), "crm-1");
    cr_assert_eq(json_integer_value(json_object_get(receipt, "records")), 1);
    cr_assert_eq(strlen(json_string_value(json_object_get(receipt, "mac"))), 64);
    long long seq = json_integer_value(json_object_get(receipt, "audit_seq"));
    cr_assert_eq(admin_count(fmt("SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND seq = %lld"
                                 " AND action = 'subject.erase' AND subject_id = 'crm-1'",
                                 seq),
                             t.id, NULL),
                 1);
    /* no table holds the subject's key or values */
    cr_assert_eq(admin_count("SELECT count(*) FROM subject_keys WHERE tenant_id = $1"
                             " AND subject_id = 'crm-1'",
                             t.id, NULL),
                 0);
    cr_assert_eq(admin_count("SELECT count(*) FROM record_values v JOIN records r"
                             " ON r.tenant_id = v.tenant_id AND r.id = v.record_id"
                             " WHERE v.tenant_id = $1 AND r.subject_id = 'crm-1'",
                             t.id, NULL),
                 0);
    cr_assert_eq(admin_count("SELECT count(*) FROM records WHERE tenant_id = $1"
                             " AND subject_id = 'crm-1' AND deleted_at IS NULL",
                             t.id, NULL),
                 0);
    /* every token of the subject is 410, on both nodes; the deterministic phone token is also
     * crm-2's (a function of the value, shared by every record holding it): it goes on
     * revealing crm-2's value */
    const char *fields[] = {"name", "email", "card", "ssn", "note", "dob"};
    cr_assert_str_eq(tok(a, "phone"), tok(keep, "phone"));
    cr_assert_eq(t_reveal(&second, t.admin, tok(a, "phone"), NULL, 0), 200);
    for (size_t i = 0; i < 6; i++) {
        cr_assert_eq(t_reveal(&second, t.admin, tok(a, fields[i]), NULL, 0), 410, "%s",
                     fields[i]);
        cr_assert_eq(t_reveal(t_shared(), t.admin, tok(a, fields[i]), NULL, 0), 410, "%s",
                     fields[i]);
    }
    assert_problem(api_p("GET", rec_path(rid(a)), t.admin, "support", NULL), 410, NULL);
    /* the other subject, who shares the deterministic phone token, keeps everything */
    cr_assert_eq(t_reveal(&second, t.admin, tok(keep, "name"), NULL, 0), 200);
    cr_assert_str_eq(plain(&t, tok(keep, "phone")), "+14155550100");
    t_stop(&second);
    assert_problem(api_p("GET", "/v1/subjects/crm-1", dsr_token(&t), "support", NULL), 404, NULL);
    assert_problem(api("DELETE", "/v1/subjects/never-seen", dsr_token(&t), NULL), 404, NULL);
}

Test(erasure, a_receipt_verifies_and_any_forged_field_does_not)
{
    struct vt t;
    vault_setup(&t);
    tokenize1(&t, "crm-1", std_fields("+14155550100"));
    json_t *receipt = erase(&t, "crm-1");
    cr_assert(verify_receipt(&t, receipt));
    const char *members[] = {"tenant", "subject_id", "erased_at", "records", "audit_seq", "mac"};
    for (size_t i = 0; i < 6; i++) {
        json_t *forged = json_deep_copy(receipt);
        json_t *v = json_object_get(forged, members[i]);
        if (json_is_integer(v)) {
            json_object_set_new(forged, members[i], json_integer(json_integer_value(v) + 1));
        } else if (strcmp(members[i], "tenant") == 0) {
            json_object_set_new(forged, members[i], json_string("t-forged0000000"));
        } else if (strcmp(members[i], "mac") == 0) {
            char m[65];
            snprintf(m, sizeof(m), "%s", json_string_value(v));
            m[0] = m[0] == '0' ? '1' : '0';
            json_object_set_new(forged, members[i], json_string(m));
        } else {
            json_object_set_new(forged, members[i],
                                json_string(fmt("%sX", json_string_value(v))));
        }
        cr_assert_not(verify_receipt(&t, forged), "forged %s verified", members[i]);
        json_decref(forged);
    }
    /* another tenant cannot vouch for it */
    struct vt other;
    vault_setup(&other);
    cr_assert_not(verify_receipt(&other, receipt));
    /* not a receipt: 422 */
    assert_problem(api("POST", "/v1/receipts/verify", dsr_token(&t), "{\"receipt\":{\"mac\":1}}"),
                   422, "/receipt/mac");
    assert_problem(api("POST", "/v1/receipts/verify", dsr_token(&t), "{}"), 422, NULL);
}

/* `custos receipt-verify --file F`: its exit status. */
static int
cli_verify(json_t *receipt)
{
    char *file = fmt("%s/receipt-%d-%ld.json", t_env("CUSTOS_TEST_WORKDIR"), (int)getpid(),
                     (long)random());
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    fputs(dump(json_pack("{s:O}", "receipt", receipt)), f);
    fclose(f);
    int st = system(fmt("'%s' receipt-verify --file '%s' >>'%s/receipt-verify.log' 2>&1",
                        t_env("CUSTOS_TEST_BIN"), file, t_env("CUSTOS_TEST_WORKDIR")));
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(erasure, the_receipt_verify_command_checks_against_the_tenant_key)
{
    struct vt t;
    vault_setup(&t);
    tokenize1(&t, "crm-1", std_fields("+14155550100"));
    json_t *receipt = erase(&t, "crm-1");
    cr_assert_eq(cli_verify(receipt), 0);
    json_t *forged = json_deep_copy(receipt);
    json_object_set_new(forged, "records", json_integer(0));
    cr_assert_eq(cli_verify(forged), 1);
    json_decref(forged);
}

/* ---- legal hold ---- */

Test(erasure, a_legal_hold_refuses_erasure_with_409_and_nothing_is_erased)
{
    struct vt t;
    vault_setup(&t);
    json_t *a = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    const char *hold = "/v1/subjects/crm-1/legal-hold";
    assert_problem(api("POST", hold, dsr_token(&t), "{}"), 422, "/reason");
    assert_problem(api("POST", hold, dsr_token(&t), "{\"reason\":\"\"}"), 422, "/reason");
    struct t_resp *r = api("POST", hold, dsr_token(&t), "{\"reason\":\"case 2026-17\"}");
    cr_assert_eq(r->status, 201, "%s", r->body);
    r = api("POST", hold, dsr_token(&t), "{\"reason\":\"case 2026-18\"}");
    cr_assert_eq(r->status, 200, "%s", r->body);
    assert_problem(api("DELETE", "/v1/subjects/crm-1", dsr_token(&t), NULL), 409, NULL);
    cr_assert_str_eq(plain(&t, tok(a, "name")), "Jonathan Smith");
    cr_assert_eq(admin_count("SELECT count(*) FROM subject_keys WHERE tenant_id = $1"
                             " AND subject_id = 'crm-1'",
                             t.id, NULL),
                 1);
    cr_assert_eq(admin_count("SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                             " AND action = 'subject.erase' AND outcome = 'denied_legal_hold'",
                             t.id, NULL),
                 1);
    /* a DSR erasure is blocked with the reason */
    r = api("POST", "/v1/dsr", dsr_token(&t),
            "{\"subject_id\":\"crm-1\",\"type\":\"erasure\",\"regulation\":\"gdpr\"}");
    cr_assert_eq(r->status, 201, "%s", r->body);
    const char *id = json_string_value(json_object_get(r->json, "id"));
    r = api("POST", fmt("/v1/dsr/%s/execute", id), dsr_token(&t), NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(r->json, "status")), "blocked");
    cr_assert_not_null(strstr(json_string_value(json_object_get(r->json, "blocked_reason")),
                              "case 2026-18"));
    cr_assert_str_eq(plain(&t, tok(a, "name")), "Jonathan Smith");
    /* lifted: erasure goes through */
    r = api("DELETE", hold, dsr_token(&t), NULL);
    cr_assert_eq(r->status, 204, "%s", r->body);
    assert_problem(api("DELETE", hold, dsr_token(&t), NULL), 404, NULL);
    erase(&t, "crm-1");
    cr_assert_eq(t_reveal(t_shared(), t.admin, tok(a, "name"), NULL, 0), 410);
}

/* ---- DSR workflow ---- */

static json_t *
dsr_new(const struct vt *t, const char *subject, const char *type, const char *reg)
{
    struct t_resp *r =
        api("POST", "/v1/dsr", dsr_token(t),
            fmt("{\"subject_id\":\"%s\",\"type\":\"%s\",\"regulation\":\"%s\"}", subject, type,
                reg));
    cr_assert_eq(r->status, 201, "%s", r->body);
    return r->json;
}

/* YYYY-MM-DD of a UTC time. */
static const char *
day_of(time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    return fmt("%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

Test(dsr, a_request_is_received_with_its_statutory_due_date)
{
    struct vt t;
    vault_setup(&t);
    time_t now = time(NULL);
    json_t *g = dsr_new(&t, "crm-1", "access", "gdpr");
    cr_assert_str_eq(json_string_value(json_object_get(g, "status")), "received");
    struct tm tm;
    gmtime_r(&now, &tm);
    /* one calendar month, clamped (the exact arithmetic is tests/unit/test_dsr_clock.c) */
    int y = tm.tm_year + 1900, m = tm.tm_mon + 2;
    if (m == 13) {
        m = 1;
        y++;
    }
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int last = dim[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
    const char *want = fmt("%04d-%02d-%02dT23:59:59Z", y, m, tm.tm_mday < last ? tm.tm_mday : last);
    const char *due = json_string_value(json_object_get(g, "due_at"));
    /* the request may have been received just after midnight UTC */
    cr_assert(strcmp(due, want) == 0 || strncmp(day_of(now), day_of(time(NULL)), 10) != 0,
              "due %s, want %s", due, want);
    json_t *c = dsr_new(&t, "crm-1", "erasure", "ccpa");
    cr_assert_str_eq(json_string_value(json_object_get(c, "due_at")),
                     fmt("%sT23:59:59Z", day_of(now + 45 * 86400)));
    /* extended once, then 409 */
    const char *id = json_string_value(json_object_get(c, "id"));
    assert_problem(api("POST", fmt("/v1/dsr/%s/extend", id), dsr_token(&t), "{}"), 422,
                   "/reason");
    struct t_resp *r = api("POST", fmt("/v1/dsr/%s/extend", id), dsr_token(&t),
                           "{\"reason\":\"complex request\"}");
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(r->json, "due_at")),
                     fmt("%sT23:59:59Z", day_of(now + 90 * 86400)));
    cr_assert(json_is_true(json_object_get(r->json, "extended")));
    assert_problem(api("POST", fmt("/v1/dsr/%s/extend", id), dsr_token(&t),
                       "{\"reason\":\"again\"}"),
                   409, NULL);
    /* bad input changes nothing */
    assert_problem(api("POST", "/v1/dsr", dsr_token(&t),
                       "{\"subject_id\":\"crm-1\",\"type\":\"forget\",\"regulation\":\"gdpr\"}"),
                   422, "/type");
    assert_problem(api("POST", "/v1/dsr", dsr_token(&t),
                       "{\"subject_id\":\"crm-1\",\"type\":\"access\",\"regulation\":\"lgpd\"}"),
                   422, "/regulation");
    assert_problem(api("POST", "/v1/dsr", dsr_token(&t),
                       "{\"subject_id\":\"ada@example.com\",\"type\":\"access\","
                       "\"regulation\":\"gdpr\"}"),
                   422, "/subject_id");
    assert_problem(api("POST", "/v1/subjects/+14155550100/legal-hold", dsr_token(&t),
                       "{\"reason\":\"case\"}"),
                   404, NULL);
    cr_assert_eq(admin_count("SELECT count(*) FROM dsr_requests WHERE tenant_id = $1", t.id, NULL),
                 2);
    cr_assert_eq(admin_count("SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                             " AND (subject_id LIKE '%@%' OR subject_id LIKE '+%')",
                             t.id, NULL),
                 0);
    assert_problem(api("GET", "/v1/dsr/dsr_00000000000000000000000000000000", dsr_token(&t), NULL),
                   404, NULL);
    struct vt other;
    vault_setup(&other);
    assert_problem(api("GET", fmt("/v1/dsr/%s", id), dsr_token(&other), NULL), 404, NULL);
}

Test(dsr, execute_performs_access_and_erasure_and_the_list_finds_overdue_ones)
{
    struct vt t;
    vault_setup(&t);
    json_t *a = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    tokenize1(&t, "crm-2", std_fields("+14155550102"));
    json_t *acc = dsr_new(&t, "crm-1", "access", "gdpr");
    const char *aid = json_string_value(json_object_get(acc, "id"));
    assert_problem(api_p("GET", fmt("/v1/dsr/%s/result", aid), dsr_token(&t), "support", NULL),
                   409, NULL);
    struct t_resp *r = api("POST", fmt("/v1/dsr/%s/execute", aid), dsr_token(&t), NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(r->json, "status")), "completed");
    assert_problem(api("POST", fmt("/v1/dsr/%s/execute", aid), dsr_token(&t), NULL), 409, NULL);
    r = api_p("GET", fmt("/v1/dsr/%s/result", aid), dsr_token(&t), "support", NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_assert_not_null(strstr(r->body, "4111111111111111"));
    cr_assert_null(strstr(r->body, "+14155550102"));

    json_t *er = dsr_new(&t, "crm-1", "erasure", "ccpa");
    const char *eid = json_string_value(json_object_get(er, "id"));
    r = api("POST", fmt("/v1/dsr/%s/execute", eid), dsr_token(&t), NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(r->json, "status")), "completed");
    json_t *receipt = json_object_get(r->json, "receipt");
    cr_assert(json_is_object(receipt), "%s", r->body);
    cr_assert(verify_receipt(&t, receipt));
    cr_assert_eq(t_reveal(t_shared(), t.admin, tok(a, "name"), NULL, 0), 410);

    /* overdue: one open request whose due date has passed */
    json_t *late = dsr_new(&t, "crm-2", "access", "gdpr");
    const char *lid = json_string_value(json_object_get(late, "id"));
    free(t_sql(fmt("UPDATE dsr_requests SET due_at = now() - interval '1 day'"
                   " WHERE tenant_id = '%s' AND id = '%s'",
                   t.id, lid)));
    r = api("GET", "/v1/dsr?overdue=true", dsr_token(&t), NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    json_t *list = json_object_get(r->json, "requests");
    cr_assert_eq(json_array_size(list), 1, "%s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "id")), lid);
    cr_assert(json_is_true(json_object_get(json_array_get(list, 0), "overdue")));
    r = api("GET", "/v1/dsr?status=completed", dsr_token(&t), NULL);
    cr_assert_eq(json_array_size(json_object_get(r->json, "requests")), 2, "%s", r->body);
    assert_problem(api("GET", "/v1/dsr?status=lost", dsr_token(&t), NULL), 400, NULL);
    assert_problem(api("GET", "/v1/dsr?overdue=maybe", dsr_token(&t), NULL), 400, NULL);
    /* every step audited */
    cr_assert_geq(admin_count("SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                              " AND action IN ('dsr.create', 'dsr.execute', 'dsr.erase',"
                              " 'dsr.result', 'dsr.list')",
                              t.id, NULL),
                  10);
}

Test(dsr, the_overdue_and_due_soon_counts_reach_the_metrics, .timeout = 120)
{
    struct vt t;
    vault_setup(&t);
    json_t *late = dsr_new(&t, "crm-9", "access", "gdpr");
    dsr_new(&t, "crm-9", "erasure", "gdpr");
    free(t_sql(fmt("UPDATE dsr_requests SET due_at = now() - interval '1 day'"
                   " WHERE tenant_id = '%s' AND id = '%s'",
                   t.id, json_string_value(json_object_get(late, "id")))));
    free(t_sql(fmt("UPDATE dsr_requests SET due_at = now() + interval '2 days'"
                   " WHERE tenant_id = '%s' AND id <> '%s'",
                   t.id, json_string_value(json_object_get(late, "id")))));
    struct t_server second;
    const char *env[] = {"CUSTOS_SWEEP_INTERVAL=1", NULL};
    cr_assert_eq(t_spawn(env, 1, &second), 0);
    long long overdue = 0, soon = 0;
    for (int i = 0; i < 100 && (overdue < 1 || soon < 1); i++) {
        struct t_resp r = {0};
        cr_assert_eq(t_request(&second, "GET", "/metrics", NULL, NULL, NULL, &r), 0);
        const char *o = strstr(r.body, "\ncustos_dsr_overdue ");
        const char *s = strstr(r.body, "\ncustos_dsr_due_within_7d ");
        cr_assert(o != NULL && s != NULL, "no DSR gauges");
        overdue = atoll(o + strlen("\ncustos_dsr_overdue "));
        soon = atoll(s + strlen("\ncustos_dsr_due_within_7d "));
        t_resp_free(&r);
        usleep(200 * 1000);
    }
    t_stop(&second);
    cr_assert_geq(overdue, 1);
    cr_assert_geq(soon, 1);
}

/* ---- retention ---- */

Test(retention, the_sweep_erases_only_expired_records_and_skips_held_subjects)
{
    struct vt t;
    vault_setup(&t);
    t_collection_put(t_shared(), t.admin, "short",
                     "{\"fields\":{\"name\":{\"type\":\"name\"}},\"retention_days\":30}");
    const char *ids[3], *toks[3];
    const char *subjects[] = {"old-1", "held-1", "new-1"};
    for (int i = 0; i < 3; i++) {
        struct t_resp *r = api("POST", "/v1/collections/short/records", t.admin,
                               fmt("{\"records\":[{\"subject_id\":\"%s\",\"fields\":"
                                   "{\"name\":\"Ada Lovelace\"}}]}",
                                   subjects[i]));
        cr_assert_eq(r->status, 201, "%s", r->body);
        json_t *rec = json_array_get(json_object_get(r->json, "records"), 0);
        ids[i] = json_string_value(json_object_get(rec, "id"));
        toks[i] = json_string_value(json_object_get(json_object_get(rec, "tokens"), "name"));
    }
    /* a customers record of the same age stays: that collection keeps data forever */
    json_t *forever = tokenize1(&t, "old-1", std_fields("+14155550100"));
    /* held before its record expires: the shared server's own sweeper may run at any time */
    struct t_resp *r = api("POST", "/v1/subjects/held-1/legal-hold", dsr_token(&t),
                           "{\"reason\":\"litigation\"}");
    cr_assert_eq(r->status, 201, "%s", r->body);
    free(t_sql(fmt("UPDATE records SET created_at = now() - interval '40 days'"
                   " WHERE tenant_id = '%s' AND (id IN ('%s', '%s') OR id = '%s')",
                   t.id, ids[0], ids[1], rid(forever))));
    cr_assert_eq(t_run(NULL, "sweep"), 0);
    cr_assert_eq(t_reveal(t_shared(), t.admin, toks[0], NULL, 0), 410, "expired record kept");
    cr_assert_eq(t_reveal(t_shared(), t.admin, toks[1], NULL, 0), 200, "held record erased");
    cr_assert_eq(t_reveal(t_shared(), t.admin, toks[2], NULL, 0), 200, "fresh record erased");
    cr_assert_str_eq(plain(&t, tok(forever, "name")), "Jonathan Smith");
    cr_assert_eq(admin_count("SELECT count(*) FROM record_values WHERE tenant_id = $1"
                             " AND record_id = $2",
                             t.id, ids[0]),
                 0);
    cr_assert_eq(admin_count("SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                             " AND action = 'retention.erase' AND record_id = $2",
                             t.id, ids[0]),
                 1);
    cr_assert_eq(admin_count("SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                             " AND action = 'retention.skip' AND subject_id = 'held-1'",
                             t.id, NULL),
                 1);
    /* a second pass finds nothing new and does not audit the skip again the same day */
    cr_assert_eq(t_run(NULL, "sweep"), 0);
    cr_assert_eq(admin_count("SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                             " AND action LIKE 'retention.%'",
                             t.id, NULL),
                 2);
}

/* Two sweeps at once take disjoint rows (SKIP LOCKED): each expired record is erased, and
 * audited, exactly once. */
static void *
sweep_thread(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)t_run(NULL, "sweep");
}

Test(retention, two_sweeps_at_once_erase_each_expired_record_once, .timeout = 120)
{
    struct vt t;
    vault_setup(&t);
    t_collection_put(t_shared(), t.admin, "short",
                     "{\"fields\":{\"name\":{\"type\":\"name\"}},\"retention_days\":1}");
    json_t *recs = json_array();
    for (int i = 0; i < 300; i++) {
        json_array_append_new(recs, json_pack("{s:s, s:{s:s}}", "subject_id",
                                              fmt("s-%d", i % 17), "fields", "name", "Ada Lovelace"));
    }
    struct t_resp *r = api("POST", "/v1/collections/short/records", t.admin,
                           dump(json_pack("{s:o}", "records", recs)));
    cr_assert_eq(r->status, 201, "%s", r->body);
    free(t_sql(fmt("UPDATE records SET created_at = now() - interval '2 days'"
                   " WHERE tenant_id = '%s'",
                   t.id)));
    pthread_t a, b;
    pthread_create(&a, NULL, sweep_thread, NULL);
    pthread_create(&b, NULL, sweep_thread, NULL);
    void *ra, *rb;
    pthread_join(a, &ra);
    pthread_join(b, &rb);
    cr_assert_eq((intptr_t)ra, 0);
    cr_assert_eq((intptr_t)rb, 0);
    cr_assert_eq(admin_count("SELECT count(*) FROM records WHERE tenant_id = $1"
                             " AND deleted_at IS NULL",
                             t.id, NULL),
                 0);
    cr_assert_eq(admin_count("SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                             " AND action = 'retention.erase'",
                             t.id, NULL),
                 300);
    cr_assert_eq(admin_count("SELECT count(DISTINCT record_id) FROM audit_log"
                             " WHERE tenant_id = $1 AND action = 'retention.erase'",
                             t.id, NULL),
                 300);
}

/* ---- isolation and idempotency ---- */

Test(dsr, holds_and_requests_are_isolated_by_tenant_in_the_query_and_by_row_level_security)
{
    struct vt a, b;
    vault_setup(&a);
    vault_setup(&b);
    const struct vt *both[] = {&a, &b};
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(api("POST", "/v1/subjects/crm-1/legal-hold", dsr_token(both[i]),
                         "{\"reason\":\"case\"}")
                         ->status,
                     201);
        dsr_new(both[i], "crm-1", "access", "gdpr");
    }
    struct t_resp *r = api("GET", "/v1/dsr", dsr_token(&a), NULL);
    cr_assert_eq(json_array_size(json_object_get(r->json, "requests")), 1, "%s", r->body);
    PGconn *app = db_open("CUSTOS_DATABASE_URL");
    const char *tables[] = {"subject_holds", "dsr_requests"};
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(db_count(app, fmt("SELECT count(*) FROM %s", tables[i]), NULL), 0,
                     "%s visible without a tenant", tables[i]);
    }
    PGresult *res = PQexec(app, "BEGIN");
    PQclear(res);
    const char *params[1] = {a.id};
    res = PQexecParams(app, "SELECT set_config('custos.tenant', $1, true)", 1, NULL, params, NULL,
                       NULL, 0);
    PQclear(res);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(db_count(app, fmt("SELECT count(*) FROM %s", tables[i]), NULL), 1, "%s",
                     tables[i]);
        cr_assert_eq(db_count(app, fmt("SELECT count(*) FROM %s WHERE tenant_id = $1", tables[i]),
                              b.id),
                     0, "%s shows another tenant's rows", tables[i]);
    }
    res = PQexec(app, "ROLLBACK");
    PQclear(res);
}

Test(dsr, a_retried_create_with_the_same_idempotency_key_answers_the_first_request)
{
    struct vt t;
    vault_setup(&t);
    const char *body = "{\"subject_id\":\"crm-1\",\"type\":\"access\",\"regulation\":\"gdpr\"}";
    struct t_resp *r1 =
        send_req("POST", "/v1/dsr", dsr_token(&t), NULL, "k-1", "application/json", body);
    cr_assert_eq(r1->status, 201, "%s", r1->body);
    struct t_resp *r2 =
        send_req("POST", "/v1/dsr", dsr_token(&t), NULL, "k-1", "application/json", body);
    cr_assert_eq(r2->status, 201, "%s", r2->body);
    cr_assert_str_eq(json_string_value(json_object_get(r1->json, "id")),
                     json_string_value(json_object_get(r2->json, "id")));
    assert_problem(send_req("POST", "/v1/dsr", dsr_token(&t), NULL, "k-1", "application/json",
                            "{\"subject_id\":\"crm-2\",\"type\":\"access\",\"regulation\":\"gdpr\"}"),
                   409, NULL);
    cr_assert_eq(admin_count("SELECT count(*) FROM dsr_requests WHERE tenant_id = $1", t.id, NULL),
                 1);
}

/* ---- at scale (times are logged, never asserted: the machine is shared) ---- */

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

Test(erasure, a_subject_with_300_records_is_exported_and_erased_whole, .timeout = 300)
{
    struct vt t;
    vault_setup(&t);
    for (int batch = 0; batch < 1; batch++) {
        json_t *recs = json_array();
        for (int i = 0; i < 300; i++) {
            json_array_append_new(recs, json_pack("{s:s, s:o}", "subject_id", "big-1", "fields",
                                                  std_fields("+14155550100")));
        }
        struct t_resp *r =
            api("POST", RECORDS, t.admin, dump(json_pack("{s:o}", "records", recs)));
        cr_assert_eq(r->status, 201, "%s", r->body);
    }
    double t0 = now_ms();
    struct t_resp *r = api_p("GET", "/v1/subjects/big-1/export", dsr_token(&t), "support", NULL);
    double t1 = now_ms();
    cr_assert_eq(r->status, 200, "%ld %.300s", r->status, r->body);
    cr_assert_eq(json_array_size(json_object_get(r->json, "records")), 300);
    json_t *receipt = erase(&t, "big-1");
    double t2 = now_ms();
    cr_assert_eq(json_integer_value(json_object_get(receipt, "records")), 300);
    cr_assert_eq(admin_count("SELECT count(*) FROM record_values WHERE tenant_id = $1", t.id, NULL),
                 0);
    cr_log_info("300 records x 7 fields: export %.0f ms, erasure %.0f ms", t1 - t0, t2 - t1);
    fprintf(stderr, "scale: 300 records x 7 fields: export %.0f ms, erasure %.0f ms\n", t1 - t0,
            t2 - t1);
}


/* ---- with the gates (restriction, consent ledger) ---- */

static void
consent(const struct vt *t, const char *subject, const char *purpose, const char *status)
{
    struct t_resp *r =
        api("PUT", fmt("/v1/subjects/%s/consents/%s", subject, purpose),
            t_token(t->id, "consent:write"),
            fmt("{\"status\":\"%s\",\"source\":\"web\",\"evidence\":\"form-7\"}", status));
    cr_assert(r->status == 200 || r->status == 201, "%ld %s", r->status, r->body);
}

static json_t *
dsr_execute(const struct vt *t, const char *type, const char *subject)
{
    json_t *d = dsr_new(t, subject, type, "gdpr");
    struct t_resp *r = api("POST", fmt("/v1/dsr/%s/execute", json_string_value(json_object_get(d, "id"))),
                           dsr_token(t), NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(r->json, "status")), "completed");
    return r->json;
}

Test(subjects, a_restricted_subject_is_423_except_for_legal_obligation_and_its_own_dsr_package)
{
    struct vt t;
    vault_setup(&t);
    tokenize1(&t, "crm-1", std_fields("+14155550100"));
    t_purpose_put(t_shared(), t.admin, "compliance", "regulator requests", "legal_obligation");
    struct t_resp *r = api("POST", "/v1/subjects/crm-1/restriction", dsr_token(&t),
                           "{\"reason\":\"accuracy contested\"}");
    cr_assert(r->status == 200 || r->status == 201, "%ld %s", r->status, r->body);
    assert_problem(api_p("GET", "/v1/subjects/crm-1", dsr_token(&t), "support", NULL), 423, NULL);
    assert_problem(api_p("GET", "/v1/subjects/crm-1/export", dsr_token(&t), "support", NULL), 423,
                   NULL);
    r = api_p("GET", "/v1/subjects/crm-1", dsr_token(&t), "compliance", NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    /* the subject's own access request is answered (Art. 18(2)) */
    json_t *d = dsr_execute(&t, "access", "crm-1");
    r = api_p("GET", fmt("/v1/dsr/%s/result", json_string_value(json_object_get(d, "id"))),
              dsr_token(&t), "support", NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_assert_not_null(strstr(r->body, "4111111111111111"));
    cr_assert_geq(admin_count("SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                              " AND action IN ('subject.view', 'subject.export')"
                              " AND outcome = 'denied_restricted'",
                              t.id, NULL),
                  2);
}

Test(subjects, the_export_holds_the_consents_and_their_history)
{
    struct vt t;
    vault_setup(&t);
    tokenize1(&t, "crm-1", std_fields("+14155550100"));
    t_purpose_put(t_shared(), t.admin, "marketing", "offers", "consent");
    consent(&t, "crm-1", "marketing", "granted");
    consent(&t, "crm-1", "marketing", "withdrawn");
    struct t_resp *r = api_p("GET", "/v1/subjects/crm-1/export", dsr_token(&t), "support", NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    json_t *cur = json_object_get(r->json, "consents");
    cr_assert_eq(json_array_size(cur), 1, "%s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(cur, 0), "status")),
                     "withdrawn");
    cr_assert_eq(json_array_size(json_object_get(r->json, "consent_history")), 2, "%s", r->body);
    /* a consent purpose reads only with a current grant */
    assert_problem(api_p("GET", "/v1/subjects/crm-1", dsr_token(&t), "marketing", NULL), 403,
                   NULL);
}

Test(dsr, restriction_and_opt_out_requests_are_performed_when_executed)
{
    struct vt t;
    vault_setup(&t);
    tokenize1(&t, "crm-1", std_fields("+14155550100"));
    tokenize1(&t, "crm-2", std_fields("+14155550101"));
    dsr_execute(&t, "restriction", "crm-1");
    assert_problem(api_p("GET", "/v1/subjects/crm-1", dsr_token(&t), "support", NULL), 423, NULL);
    t_purpose_put(t_shared(), t.admin, "marketing", "offers", "consent");
    consent(&t, "crm-2", "marketing", "granted");
    struct t_resp *r = api_p("GET", "/v1/subjects/crm-2", dsr_token(&t), "marketing", NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    dsr_execute(&t, "opt_out", "crm-2");
    assert_problem(api_p("GET", "/v1/subjects/crm-2", dsr_token(&t), "marketing", NULL), 403,
                   NULL);
    /* rectification closes the request; the values are rectified with PATCH */
    dsr_execute(&t, "rectification", "crm-2");
}
