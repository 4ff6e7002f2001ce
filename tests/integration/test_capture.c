/* The contract of secure capture (issue 12 item 6): session creation and its validation, the
 * page and its headers, a submission stored through tokenize and shown without its value, single
 * use (also across two serve processes), expiry, the form body's edge cases, tenant isolation
 * (query and row-level security) and the audit trail.
 * Invariant: every test makes its own tenant. */
#include "idp.h"
#include "tenant.h"
#include "vault.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TestSuite(capture, .fini = cleanup_all);

#define SESSIONS "/v1/capture-sessions"
#define FORM "application/x-www-form-urlencoded"
#define CARD "4111 1111 1111 1111"
#define CARD_PLAIN "4111111111111111"
#define BAD_CARD "4111111111111112" /* fails Luhn */

static const char payments_def[] =
    "{\"fields\":{"
    "\"card\":{\"type\":\"card_number\",\"tokenization\":\"format_preserving\","
    "\"required\":true},"
    "\"holder\":{\"type\":\"name\"}}}";

static void
setup(struct vt *t)
{
    vault_setup(t);
    t_collection_put(t_shared(), t->admin, "payments", payments_def);
}

/* A new session for card; its JSON (id, url, expires_at). */
static json_t *
session(const struct vt *t, const char *fields_json)
{
    struct t_resp *r = api("POST", SESSIONS, t->admin,
                           fmt("{\"collection\":\"payments\",\"subject_id\":\"crm-7\","
                               "\"fields\":%s,\"expires_in\":600}",
                               fields_json ? fields_json : "[\"card\"]"));
    cr_assert_eq(r->status, 201, "%s", r->body);
    return r->json;
}

static const char *
url_of(json_t *s)
{
    return json_string_value(json_object_get(s, "url"));
}

static const char *
id_of(json_t *s)
{
    return json_string_value(json_object_get(s, "id"));
}

static struct t_resp *
page(const char *url)
{
    return send_req("GET", url, NULL, NULL, NULL, NULL, NULL);
}

static struct t_resp *
submit(const char *url, const char *ctype, const char *body)
{
    return send_req("POST", url, NULL, NULL, NULL, ctype, body);
}

static json_t *
state(const struct vt *t, const char *id)
{
    struct t_resp *r = api("GET", fmt(SESSIONS "/%s", id), t->admin, NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    assert_no_store(r);
    return r->json;
}

static const char *
status_of(const struct vt *t, const char *id)
{
    return json_string_value(json_object_get(state(t, id), "status"));
}

static void
assert_html(const struct t_resp *r, long status)
{
    char v[256];
    cr_assert_eq(r->status, status, "%ld %s", r->status, r->body);
    cr_assert(t_header(r, "Content-Type", v, sizeof(v)), "no Content-Type");
    cr_assert(strncmp(v, "text/html", 9) == 0, "Content-Type %s", v);
    cr_assert(t_header(r, "Content-Security-Policy", v, sizeof(v)), "no CSP");
    cr_assert_not_null(strstr(v, "default-src 'none'"), "%s", v);
    cr_assert_not_null(strstr(v, "style-src 'self'"), "%s", v);
    cr_assert_not_null(strstr(v, "form-action 'self'"), "%s", v);
    cr_assert(t_header(r, "X-Frame-Options", v, sizeof(v)) && strcmp(v, "DENY") == 0);
    cr_assert(t_header(r, "Referrer-Policy", v, sizeof(v)) && strcmp(v, "no-referrer") == 0);
    assert_no_store(r);
    cr_assert_null(strstr(r->body, "<script"), "%s", r->body);
    cr_assert_null(strstr(r->body, "http://"), "a third-party asset: %s", r->body);
    cr_assert_null(strstr(r->body, "https://"), "a third-party asset: %s", r->body);
}

static long long
sessions_of(const struct vt *t)
{
    char *n = t_sql(fmt("SELECT count(*) FROM capture_sessions WHERE tenant_id = '%s'", t->id));
    cr_assert_not_null(n);
    long long v = atoll(n);
    free(n);
    return v;
}

static long long
records_of(const struct vt *t)
{
    char *n = t_sql(fmt("SELECT count(*) FROM records WHERE tenant_id = '%s'", t->id));
    cr_assert_not_null(n);
    long long v = atoll(n);
    free(n);
    return v;
}

Test(capture, a_session_is_a_single_use_url_with_a_256_bit_secret_stored_only_as_a_hash)
{
    struct vt t;
    setup(&t);
    json_t *s = session(&t, NULL);
    const char *url = url_of(s);
    cr_assert(strncmp(url, "/capture/", 9) == 0, "%s", url);
    cr_assert_eq(strlen(url + 9), 43, "%s", url);
    cr_assert(strncmp(id_of(s), "cap_", 4) == 0 && strlen(id_of(s)) == 36, "%s", id_of(s));
    cr_assert_not_null(json_string_value(json_object_get(s, "expires_at")));
    /* the table holds the SHA-256 of the secret and never the secret */
    char *hit = t_sql(fmt("SELECT count(*) FROM capture_sessions WHERE id = '%s' AND secret_hash ="
                          " sha256(convert_to('%s', 'UTF8'))",
                          id_of(s), url + 9));
    cr_assert_str_eq(hit, "1");
    free(hit);
    hit = t_sql(
        fmt("SELECT count(*) FROM capture_sessions s WHERE strpos(s::text, '%s') > 0", url + 9));
    cr_assert_str_eq(hit, "0");
    free(hit);
    /* two sessions never share a secret */
    cr_assert_str_neq(url_of(session(&t, NULL)), url);
    json_t *st = state(&t, id_of(s));
    cr_assert_str_eq(json_string_value(json_object_get(st, "status")), "pending");
    cr_assert(json_is_null(json_object_get(st, "record")), "%s", show(st));
}

Test(capture, the_page_is_an_accessible_form_with_strict_headers)
{
    struct vt t;
    setup(&t);
    json_t *s = session(&t, "[\"card\",\"holder\"]");
    struct t_resp *r = page(url_of(s));
    assert_html(r, 200);
    cr_assert_not_null(strstr(r->body, "<html lang=\"en\">"), "%s", r->body);
    cr_assert_not_null(strstr(r->body, "<label for=\"f-card\">Card</label>"), "%s", r->body);
    cr_assert_not_null(strstr(r->body, "<label for=\"f-holder\">Holder</label>"), "%s", r->body);
    cr_assert_not_null(strstr(r->body, "name=\"card\""), "%s", r->body);
    cr_assert_not_null(strstr(r->body, "autocomplete=\"cc-number\""), "%s", r->body);
    cr_assert_not_null(strstr(r->body, "<form method=\"post\""), "%s", r->body);
    cr_assert_null(strstr(r->body, "role=\"alert\""), "no error yet: %s", r->body);
    /* its stylesheet, the only thing it loads, is its own */
    cr_assert_not_null(strstr(r->body, "href=\"/capture.css\""), "%s", r->body);
    struct t_resp *css = page("/capture.css");
    cr_assert_eq(css->status, 200);
    char v[128];
    cr_assert(t_header(css, "Content-Type", v, sizeof(v)) && strncmp(v, "text/css", 8) == 0);
    cr_assert_str_eq(status_of(&t, id_of(s)), "pending", "opening the page uses nothing up");
}

Test(capture, a_submission_is_stored_through_tokenize_and_confirmed_without_the_value)
{
    struct vt t;
    setup(&t);
    json_t *s = session(&t, "[\"card\",\"holder\"]");
    struct t_resp *r = submit(url_of(s), FORM, "card=4111+1111+1111+1111&holder=Jane%20Doe");
    assert_html(r, 200);
    cr_assert_not_null(strstr(r->body, "Thank you"), "%s", r->body);
    cr_assert_null(strstr(r->body, "1111"), "the confirmation shows the value: %s", r->body);
    cr_assert_null(strstr(r->body, "Jane"), "%s", r->body);
    json_t *st = state(&t, id_of(s));
    cr_assert_str_eq(json_string_value(json_object_get(st, "status")), "completed");
    json_t *rec = json_object_get(st, "record");
    const char *rid_ = json_string_value(json_object_get(rec, "id"));
    cr_assert_not_null(rid_, "%s", show(st));
    const char *card_tok =
        json_string_value(json_object_get(json_object_get(rec, "tokens"), "card"));
    cr_assert_not_null(card_tok, "%s", show(st));
    cr_assert_str_neq(card_tok, CARD_PLAIN);
    /* the agent's app reveals it like any tokenized value (given the grant) */
    cr_assert_str_eq(plain(&t, card_tok), CARD_PLAIN);
    cr_assert_str_eq(
        plain(&t, json_string_value(json_object_get(json_object_get(rec, "tokens"), "holder"))),
        "Jane Doe");
    cr_assert_eq(records_of(&t), 1);
    /* single use: the link is gone, for the page and for a second submission */
    assert_html(page(url_of(s)), 410);
    r = submit(url_of(s), FORM, "card=5555555555554444&holder=Eve");
    assert_html(r, 410);
    cr_assert_not_null(strstr(r->body, "expired or was already used"), "%s", r->body);
    cr_assert_eq(records_of(&t), 1);
}

Test(capture, an_invalid_card_re_renders_the_form_with_an_announced_error_and_no_echo)
{
    struct vt t;
    setup(&t);
    json_t *s = session(&t, NULL);
    struct t_resp *r = submit(url_of(s), FORM, "card=" BAD_CARD);
    assert_html(r, 422);
    cr_assert_not_null(strstr(r->body, "role=\"alert\""), "%s", r->body);
    cr_assert_not_null(strstr(r->body, "aria-invalid=\"true\" aria-describedby=\"e-card\""), "%s",
                       r->body);
    cr_assert_not_null(strstr(r->body, "id=\"e-card\""), "%s", r->body);
    cr_assert_not_null(strstr(r->body, "href=\"#f-card\""), "%s", r->body);
    cr_assert_null(strstr(r->body, BAD_CARD), "the value is echoed: %s", r->body);
    cr_assert_null(strstr(r->body, "1112"), "part of the value is echoed: %s", r->body);
    /* the re-rendered form keeps the field's type (read only for a page with problems) */
    cr_assert_not_null(strstr(r->body, "autocomplete=\"cc-number\""), "%s", r->body);
    cr_assert_str_eq(status_of(&t, id_of(s)), "pending");
    cr_assert_eq(records_of(&t), 0);
    /* an empty field is named too, and the session is still usable */
    r = submit(url_of(s), FORM, "card=+++");
    assert_html(r, 422);
    cr_assert_not_null(strstr(r->body, "must not be empty"), "%s", r->body);
    cr_assert_not_null(strstr(r->body, "autocomplete=\"cc-number\""), "%s", r->body);
    assert_html(submit(url_of(s), FORM, "card=" CARD_PLAIN), 200);
    cr_assert_str_eq(status_of(&t, id_of(s)), "completed");
}

Test(capture, form_bodies_that_are_malformed_or_not_forms_are_refused_and_change_nothing)
{
    struct vt t;
    setup(&t);
    json_t *s = session(&t, NULL);
    const char *u = url_of(s);
    /* not a form */
    assert_problem(submit(u, "application/json", "{\"card\":\"" CARD_PLAIN "\"}"), 415, NULL);
    assert_problem(submit(u, "text/plain", "card=" CARD_PLAIN), 415, NULL);
    /* malformed escapes, NUL, bad or repeated names */
    const char *bad[] = {"card=4111%2",         "card=%zz11", "card=41%00", "ca%20rd=4111",
                         "card=4111&card=4111", "=4111",      "c%C3%A4rd=1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct t_resp *r = submit(u, FORM, bad[i]);
        assert_problem(r, 400, NULL);
        cr_assert_null(strstr(r->body, "4111"), "%s", r->body);
    }
    /* more fields than allowed */
    char *many = fmt("f0=1");
    for (int i = 1; i < 65; i++) {
        many = fmt("%s&f%d=1", many, i);
    }
    assert_problem(submit(u, FORM, many), 400, NULL);
    /* a field the page does not ask for, and an empty body: the form again, with the error */
    assert_html(submit(u, FORM, "card=" CARD_PLAIN "&pin=1234"), 422);
    assert_html(submit(u, FORM, ""), 422);
    /* the general body limit still holds */
    struct t_resp *big = submit(u, FORM, fmt("card=%s", repeat('1', 1100000)));
    cr_assert_eq(big->status, 413, "%ld", big->status);
    cr_assert_str_eq(status_of(&t, id_of(s)), "pending");
    cr_assert_eq(records_of(&t), 0);
    /* empty pairs are skipped, '+' is a space, %HH a byte */
    assert_html(submit(u, FORM, "&card=4111%201111+1111%2D1111&"), 200);
    cr_assert_str_eq(status_of(&t, id_of(s)), "completed");
}

Test(capture, unknown_and_malformed_secrets_are_404_pages)
{
    struct vt t;
    setup(&t);
    (void)session(&t, NULL);
    struct t_resp *r = page(fmt("/capture/%s", repeat('A', 43)));
    assert_html(r, 404);
    assert_html(page("/capture/short"), 404);
    assert_html(submit(fmt("/capture/%s", repeat('A', 43)), FORM, "card=" CARD_PLAIN), 404);
    cr_assert_eq(records_of(&t), 0);
}

Test(capture, an_expired_session_is_410_and_stores_nothing)
{
    struct vt t;
    setup(&t);
    json_t *s = session(&t, NULL);
    free(t_sql(fmt("UPDATE capture_sessions SET expires_at = now() - interval '1 second'"
                   " WHERE id = '%s'",
                   id_of(s))));
    assert_html(page(url_of(s)), 410);
    assert_html(submit(url_of(s), FORM, "card=" CARD_PLAIN), 410);
    cr_assert_str_eq(status_of(&t, id_of(s)), "expired");
    cr_assert_eq(records_of(&t), 0);
}

Test(capture, session_creation_validates_its_body_and_creates_nothing_when_wrong)
{
    struct vt t;
    setup(&t);
    struct {
        const char *body;
        const char *pointer;
    } cases[] = {
        {"{\"collection\":\"nope\",\"subject_id\":\"crm-1\",\"fields\":[\"card\"]}", "/collection"},
        {"{\"collection\":\"payments\",\"subject_id\":\"crm-1\",\"fields\":[\"pin\"]}",
         "/fields/0"},
        {"{\"collection\":\"payments\",\"subject_id\":\"crm-1\",\"fields\":[\"holder\"]}",
         "/fields"},
        {"{\"collection\":\"payments\",\"subject_id\":\"crm-1\",\"fields\":[]}", "/fields"},
        {"{\"collection\":\"payments\",\"subject_id\":\"crm-1\",\"fields\":[\"card\",\"card\"]}",
         "/fields"},
        {"{\"collection\":\"payments\",\"subject_id\":\"jo@example.com\",\"fields\":[\"card\"]}",
         "/subject_id"},
        {"{\"collection\":\"payments\",\"subject_id\":\"crm-1\",\"fields\":[\"card\"],"
         "\"expires_in\":10}",
         "/expires_in"},
        {"{\"collection\":\"payments\",\"subject_id\":\"crm-1\",\"fields\":[\"card\"],"
         "\"expires_in\":86401}",
         "/expires_in"},
        {"{\"collection\":\"payments\",\"subject_id\":\"crm-1\",\"fields\":[\"card\"],"
         "\"x\":1}",
         ""},
        {"[]", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_problem(api("POST", SESSIONS, t.admin, cases[i].body), 422, cases[i].pointer);
    }
    assert_problem(send_req("POST", SESSIONS, t.admin, NULL, NULL, FORM, "collection=payments"),
                   415, NULL);
    assert_problem(api("POST", SESSIONS, t.admin, "{"), 400, NULL);
    /* records:write is needed; a reveal-only token is refused */
    const char *reader = t_token(t.id, "detokenize:payments.card:plain");
    assert_problem(
        api("POST", SESSIONS, reader,
            "{\"collection\":\"payments\",\"subject_id\":\"crm-1\",\"fields\":[\"card\"]}"),
        403, NULL);
    assert_problem(api("POST", SESSIONS, NULL,
                       "{\"collection\":\"payments\",\"subject_id\":\"crm-1\",\"fields\":"
                       "[\"card\"]}"),
                   401, NULL);
    cr_assert_eq(sessions_of(&t), 0);
    /* the default expiry is 10 minutes */
    struct t_resp *r = api("POST", SESSIONS, t.admin,
                           "{\"collection\":\"payments\",\"subject_id\":\"crm-1\","
                           "\"fields\":[\"card\"]}");
    cr_assert_eq(r->status, 201, "%s", r->body);
    char *secs = t_sql(fmt("SELECT round(extract(epoch FROM expires_at - created_at))::int FROM"
                           " capture_sessions WHERE id = '%s'",
                           id_of(r->json)));
    cr_assert_str_eq(secs, "600");
    free(secs);
}

Test(capture, another_tenant_cannot_see_a_session_by_query_or_by_row_level_security)
{
    struct vt a, b;
    setup(&a);
    setup(&b);
    json_t *s = session(&a, NULL);
    assert_problem(api("GET", fmt(SESSIONS "/%s", id_of(s)), b.admin, NULL), 404, NULL);
    assert_problem(api("GET", SESSIONS "/cap_nope", a.admin, NULL), 404, NULL);
    assert_problem(api("GET", fmt(SESSIONS "/cap_%s", repeat('0', 32)), a.admin, NULL), 404, NULL);
    PGconn *app = db_open("CUSTOS_DATABASE_URL");
    PGresult *res = PQexec(app, "BEGIN");
    PQclear(res);
    const char *p[1] = {b.id};
    res = PQexecParams(app, "SELECT set_config('custos.tenant', $1, true)", 1, NULL, p, NULL, NULL,
                       0);
    PQclear(res);
    cr_assert_eq(db_count(app, "SELECT count(*) FROM capture_sessions WHERE id = $1", id_of(s)), 0);
    res = PQexec(app, "ROLLBACK");
    PQclear(res);
    /* the platform read finds a session by hash, but cannot change one */
    res = PQexec(app, "BEGIN");
    PQclear(res);
    res = PQexec(app, "SELECT set_config('custos.platform', 'on', true)");
    PQclear(res);
    cr_assert_eq(db_count(app, "SELECT count(*) FROM capture_sessions WHERE id = $1", id_of(s)), 1);
    res = PQexecParams(app,
                       "UPDATE capture_sessions SET status = 'completed', record_id = 'x'"
                       " WHERE id = $1",
                       1, NULL, (const char *[]){id_of(s)}, NULL, NULL, 0);
    cr_assert_str_eq(PQcmdTuples(res), "0");
    PQclear(res);
    res = PQexec(app, "ROLLBACK");
    PQclear(res);
    cr_assert_str_eq(status_of(&a, id_of(s)), "pending");
}

Test(capture, every_step_is_audited_with_ids_and_never_the_secret_or_the_value)
{
    struct vt t;
    setup(&t);
    json_t *s = session(&t, NULL);
    assert_html(submit(url_of(s), FORM, "card=" BAD_CARD), 422);
    assert_html(page(url_of(s)), 200);
    assert_html(submit(url_of(s), FORM, "card=" CARD_PLAIN), 200);
    assert_html(submit(url_of(s), FORM, "card=" CARD_PLAIN), 410);
    (void)state(&t, id_of(s));
#define AUDIT_Q                                                                                    \
    "SELECT count(*) FROM audit_log WHERE tenant_id = '%s' AND action = '%s' AND outcome = '%s'"
    struct {
        const char *action, *outcome;
    } want[] = {{"capture.create", "allowed"}, {"capture.submit", "invalid"},
                {"capture.open", "allowed"},   {"capture.submit", "allowed"},
                {"tokenize", "allowed"},       {"capture.submit", "completed"},
                {"capture.get", "allowed"}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        char *n = t_sql(fmt(AUDIT_Q, t.id, want[i].action, want[i].outcome));
        cr_assert(n != NULL && atoll(n) >= 1, "no %s/%s entry", want[i].action, want[i].outcome);
        free(n);
    }
    char *n = t_sql(fmt("SELECT count(*) FROM audit_log WHERE tenant_id = '%s' AND action ="
                        " 'tokenize' AND outcome = 'allowed' AND principal = 'capture:%s'",
                        t.id, id_of(s)));
    cr_assert_str_eq(n, "1");
    free(n);
    /* the whole card (four digits alone also occur in timestamps and chain hashes) */
    n = t_sql(fmt("SELECT count(*) FROM audit_log a WHERE tenant_id = '%s' AND (strpos(a::text,"
                  " '%s') > 0 OR strpos(a::text, '%s') > 0 OR strpos(a::text, '%s') > 0)",
                  t.id, url_of(s) + 9, CARD_PLAIN, BAD_CARD));
    cr_assert_str_eq(n, "0");
    free(n);
    /* nor in the server's log lines (they name the route template, never the path) */
    FILE *log = fopen(t_env("CUSTOS_TEST_SERVER_LOG"), "r");
    cr_assert_not_null(log);
    char line[8192];
    int seen = 0;
    while (fgets(line, sizeof(line), log) != NULL) {
        cr_assert_null(strstr(line, url_of(s) + 9), "the secret is logged: %s", line);
        cr_assert_null(strstr(line, CARD_PLAIN), "the card is logged: %s", line);
        seen += strstr(line, "/capture/{secret}") != NULL;
    }
    fclose(log);
    cr_assert_gt(seen, 0, "no log line of the capture page");
}

struct racer {
    const struct t_server *srv;
    const char *url;
    long status;
};

static void *
race(void *arg)
{
    struct racer *r = arg;
    const char *h[] = {"Content-Type: " FORM, NULL};
    struct t_resp resp = {0};
    if (t_request(r->srv, "POST", r->url, NULL, "card=" CARD_PLAIN, h, &resp) == 0) {
        r->status = resp.status;
    }
    t_resp_free(&resp);
    return NULL;
}

Test(capture, a_session_completes_once_when_two_serve_processes_race, .timeout = 240)
{
    struct vt t;
    setup(&t);
    struct t_server second;
    cr_assert_eq(t_spawn(NULL, 1, &second), 0, "could not start a second server");
    enum { ROUNDS = 6 };
    for (int i = 0; i < ROUNDS; i++) {
        json_t *s = session(&t, NULL);
        struct racer a = {t_shared(), url_of(s), 0}, b = {&second, url_of(s), 0};
        pthread_t ta, tb;
        pthread_create(&ta, NULL, race, &a);
        pthread_create(&tb, NULL, race, &b);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        cr_assert((a.status == 200 && b.status == 410) || (a.status == 410 && b.status == 200),
                  "round %d: %ld and %ld", i, a.status, b.status);
        cr_assert_str_eq(status_of(&t, id_of(s)), "completed");
    }
    cr_assert_eq(t_stop(&second), 0);
    cr_assert_eq(records_of(&t), ROUNDS, "a record without its session, or two for one");
}

Test(capture, an_outage_is_a_503_page_never_the_unknown_link_page, .timeout = 120)
{
    struct vt t;
    setup(&t);
    json_t *s = session(&t, NULL);
    /* a server whose database is unreachable: it never becomes ready */
    const char *env[] = {"CUSTOS_DATABASE_URL=host=127.0.0.1 port=1 dbname=custos_test"
                         " user=custos_app connect_timeout=1",
                         NULL};
    struct t_server down;
    cr_assert_eq(t_spawn_unready(env, 1, &down), 0, "could not start the server");
    struct t_resp r = {0};
    cr_assert_eq(t_request(&down, "GET", url_of(s), NULL, NULL, NULL, &r), 0);
    assert_html(&r, 503);
    cr_assert_not_null(strstr(r.body, "not available right now"), "%s", r.body);
    t_resp_free(&r);
    const char *h[] = {"Content-Type: " FORM, NULL};
    cr_assert_eq(t_request(&down, "POST", url_of(s), NULL, "card=" CARD_PLAIN, h, &r), 0);
    assert_html(&r, 503);
    t_resp_free(&r);
    t_stop(&down);
    cr_assert_str_eq(status_of(&t, id_of(s)), "pending");
}

/* A submission checks the session's state first: a used session costs the read of the session
 * and the refusal's audit write, and no read of the collection (before, the field types were
 * read in a transaction of their own, and the state checked after). Counted by the server. */
Test(capture, a_submission_to_a_used_session_reads_only_the_session, .timeout = 90)
{
    struct vt t;
    setup(&t);
    json_t *s = session(&t, NULL);
    assert_html(submit(url_of(s), FORM, "card=" CARD_PLAIN), 200);
    struct t_server srv;
    const char *env[] = {"CUSTOS_SWEEP_INTERVAL=86400", NULL};
    cr_assert_eq(t_spawn(env, 1, &srv), 0, "could not start a server");
    const char *hdr[] = {"Content-Type: " FORM, NULL};
    unsigned long long best = ~0ULL;
    for (int attempt = 0; attempt < 10 && best != 2; attempt++) {
        unsigned long long t0 = t_metric(&srv, "custos_db_round_trips_total");
        struct t_resp r;
        cr_assert_eq(t_request(&srv, "POST", url_of(s), NULL, "card=" CARD_PLAIN, hdr, &r), 0);
        cr_assert_eq(r.status, 410, "%ld %s", r.status, r.body);
        t_resp_free(&r);
        unsigned long long dt = t_metric(&srv, "custos_db_round_trips_total") - t0;
        best = dt < best ? dt : best;
        if (best != 2) {
            usleep(300 * 1000);
        }
    }
    cr_assert_eq(best, 2, "the session's read and the refusal's audit (saw %llu)", best);
    cr_assert_eq(t_stop(&srv), 0);
}
