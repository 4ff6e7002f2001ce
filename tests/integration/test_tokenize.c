/* The contract of tokenize (POST /v1/collections/{c}/records): a record gets an id and a token
 * per field, of the field's kind; batches up to 1,000, mixed batches, values that break their
 * type, byte-exact round trips, idempotency keys and concurrent writers.
 * Invariant: every test makes its own tenant. */
#include "vault.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TestSuite(tokenize, .fini = cleanup_all);

Test(tokenize, a_record_gets_an_id_and_a_token_per_field)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-42", std_fields("+1 415-555-0100"));
    const char *id = rid(rec);
    cr_assert_eq(strncmp(id, "rec_", 4), 0, "%s", id);
    cr_assert_str_eq(json_string_value(json_object_get(rec, "subject_id")), "crm-42");
    cr_assert_eq(json_object_size(json_object_get(rec, "tokens")), 7, "%s", show(rec));
    const char *random_fields[] = {"name", "email", "note", "dob"};
    for (size_t i = 0; i < 4; i++) {
        cr_assert(is_token(tok(rec, random_fields[i]), "tok_"), "%s: %s", random_fields[i],
                  tok(rec, random_fields[i]));
    }
    cr_assert(is_token(tok(rec, "phone"), "tokd_"), "phone: %s", tok(rec, "phone"));
    /* two random tokens of one record are unrelated */
    cr_assert_str_neq(tok(rec, "name"), tok(rec, "email"));
    /* values come back normalized */
    cr_assert_str_eq(plain(&t, tok(rec, "name")), "Jonathan Smith");
    cr_assert_str_eq(plain(&t, tok(rec, "email")), "john.doe@example.com");
    cr_assert_str_eq(plain(&t, tok(rec, "phone")), "+14155550100");
    cr_assert_str_eq(plain(&t, tok(rec, "card")), "4111111111111111");
    cr_assert_str_eq(plain(&t, tok(rec, "ssn")), "123-45-6789");
    cr_assert_str_eq(plain(&t, tok(rec, "note")), "prefers email");
    cr_assert_str_eq(plain(&t, tok(rec, "dob")), "1990-05-17");
    json_t *item = detok1(t.admin, tok(rec, "email"), NULL);
    cr_assert_str_eq(json_string_value(json_object_get(item, "collection")), "customers");
    cr_assert_str_eq(json_string_value(json_object_get(item, "field")), "email");
    cr_assert_str_eq(json_string_value(json_object_get(item, "redaction")), "plain");
    cr_assert_str_eq(json_string_value(json_object_get(item, "token")), tok(rec, "email"));
    /* an unknown collection */
    assert_problem(api("POST", "/v1/collections/nothere/records", t.admin,
                       records_body("crm-42", json_pack("{s:s}", "name", "X"))),
                   404, NULL);
}

Test(tokenize, the_same_phone_of_two_subjects_gets_the_same_deterministic_token)
{
    struct vt t;
    vault_setup(&t);
    json_t *a = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    json_t *b = tokenize1(&t, "crm-2", std_fields("+1 (415) 555-0100"));
    json_t *c = tokenize1(&t, "crm-3", std_fields("+14155550101"));
    cr_assert_str_neq(rid(a), rid(b));
    cr_assert_str_eq(tok(a, "phone"), tok(b, "phone"));
    cr_assert_str_neq(tok(a, "phone"), tok(c, "phone"));
    /* random tokens differ for the same value */
    cr_assert_str_neq(tok(a, "email"), tok(b, "email"));
    cr_assert_str_neq(tok(a, "name"), tok(b, "name"));
    cr_assert_str_eq(plain(&t, tok(a, "phone")), "+14155550100");
    /* the same value in another tenant gets another token */
    struct vt other;
    vault_setup(&other);
    json_t *o = tokenize1(&other, "crm-1", std_fields("+14155550100"));
    cr_assert_str_neq(tok(a, "phone"), tok(o, "phone"));
}

Test(tokenize, a_card_token_keeps_length_first_six_last_four_and_fails_luhn)
{
    struct vt t;
    vault_setup(&t);
    cr_assert(luhn_ok("4111111111111111"));
    cr_assert(luhn_ok("5555555555554444"));
    static const struct {
        const char *card, *normal, *first6, *last4;
    } cards[] = {
        {"4111 1111 1111 1111", "4111111111111111", "411111", "1111"},
        {"5555-5555-5555-4444", "5555555555554444", "555555", "4444"},
        {"378282246310005", "378282246310005", "378282", "0005"},
    };
    for (size_t i = 0; i < sizeof(cards) / sizeof(cards[0]); i++) {
        json_t *rec = tokenize1(&t, fmt("crm-%zu", i), json_pack("{s:s}", "card", cards[i].card));
        const char *ct = tok(rec, "card");
        size_t n = strlen(cards[i].normal);
        cr_assert_eq(strlen(ct), n, "%s", ct);
        cr_assert(all_digits(ct), "%s", ct);
        cr_assert_eq(strncmp(ct, cards[i].first6, 6), 0, "%s", ct);
        cr_assert_str_eq(ct + n - 4, cards[i].last4);
        cr_assert_str_neq(ct, cards[i].normal);
        cr_assert(!luhn_ok(ct), "the card token %s passes the Luhn check", ct);
        cr_assert_str_eq(plain(&t, ct), cards[i].normal);
    }
    json_t *rec = tokenize1(&t, "crm-ssn", json_pack("{s:s}", "ssn", "123-45-6789"));
    const char *st = tok(rec, "ssn");
    cr_assert(is_ssn_shape(st), "ssn token %s is not NNN-NN-NNNN", st);
    cr_assert_str_neq(st, "123-45-6789");
    cr_assert_str_eq(plain(&t, st), "123-45-6789");
    /* nine plain digits normalize to the dashed form */
    json_t *rec2 = tokenize1(&t, "crm-ssn2", json_pack("{s:s}", "ssn", "123456789"));
    cr_assert_str_eq(plain(&t, tok(rec2, "ssn")), "123-45-6789");
}

Test(tokenize, a_batch_of_1000_records_is_stored_in_one_request)
{
    struct vt t;
    vault_setup(&t);
    struct t_resp *r = api("POST", RECORDS, t.admin, batch_body(1000, "b"));
    cr_assert_eq(r->status, 201, "%ld %.300s", r->status, r->body);
    json_t *list = json_object_get(r->json, "records");
    cr_assert_eq(json_array_size(list), 1000);
    json_t *ids = json_object();
    for (size_t i = 0; i < 1000; i++) {
        json_t *rec = json_array_get(list, i);
        cr_assert_eq(strncmp(rid(rec), "rec_", 4), 0);
        cr_assert(is_token(tok(rec, "name"), "tok_"));
        cr_assert(is_token(tok(rec, "email"), "tok_"));
        cr_assert_str_eq(json_string_value(json_object_get(rec, "subject_id")),
                         fmt("crm-%zu", i % 10));
        json_object_set_new(ids, rid(rec), json_true());
    }
    size_t distinct = json_object_size(ids);
    json_decref(ids);
    cr_assert_eq(distinct, 1000, "record ids repeat");
    cr_assert_eq(stored_records(&t), 1000);
    /* answers are in request order */
    cr_assert_str_eq(plain(&t, tok(json_array_get(list, 0), "email")), "p0.b@example.com");
    cr_assert_str_eq(plain(&t, tok(json_array_get(list, 999), "name")), "Person b 999");
}

Test(tokenize, batches_of_1001_or_0_records_are_422)
{
    struct vt t;
    vault_setup(&t);
    assert_problem(api("POST", RECORDS, t.admin, batch_body(1001, "x")), 422, "/records");
    assert_problem(api("POST", RECORDS, t.admin, "{\"records\":[]}"), 422, "/records");
    assert_problem(api("POST", RECORDS, t.admin, "{}"), 422, "/records");
    assert_problem(api("POST", RECORDS, t.admin, "{\"records\":{}}"), 422, "/records");
    assert_problem(api("POST", RECORDS, t.admin, "[]"), 422, NULL);
    assert_problem(
        api("POST", RECORDS, t.admin,
            "{\"records\":[{\"subject_id\":\"a\",\"fields\":{\"name\":\"A\"}}],\"extra\":1}"),
        422, NULL);
    cr_assert_eq(stored_records(&t), 0);
}

Test(tokenize, a_mixed_batch_stores_the_good_records_and_reports_the_bad)
{
    struct vt t;
    vault_setup(&t);
    json_t *body =
        json_pack("{s:[{s:s, s:{s:s}}, {s:s, s:{s:s, s:s}}, {s:s, s:{s:s}}, {s:s, s:{s:s}}]}",
                  "records", "subject_id", "crm-0", "fields", "name", "Good Zero",  /* 0 */
                  "subject_id", "crm-1", "fields", "name", "Bad One", "bogus", "x", /* 1 */
                  "subject_id", "crm-2", "fields", "email", "good.two@example.com", /* 2 */
                  "subject_id", "crm-3", "fields", "email", "not-an-email" /* 3 */);
    struct t_resp *r = api("POST", RECORDS, t.admin, dump(body));
    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
    json_t *list = json_object_get(r->json, "records");
    cr_assert_eq(json_array_size(list), 4, "%s", r->body);
    static const struct {
        size_t i;
        const char *pointer;
    } bad[] = {{1, "/records/1/fields/bogus"}, {3, "/records/3/fields/email"}};
    for (size_t k = 0; k < 2; k++) {
        json_t *item = json_array_get(list, bad[k].i);
        json_t *e = json_object_get(item, "error");
        cr_assert_not_null(e, "item %zu: %s", bad[k].i, show(item));
        cr_assert_null(json_object_get(item, "id"), "a refused record has an id: %s", show(item));
        cr_assert_eq(json_integer_value(json_object_get(e, "status")), 422, "%s", show(e));
        cr_assert(has_pointer(json_object_get(e, "errors"), bad[k].pointer), "%s", show(e));
        cr_assert_eq(json_integer_value(json_object_get(item, "index")), (json_int_t)bad[k].i);
    }
    /* the problems never quote the value */
    cr_assert_null(strstr(r->body, "not-an-email"), "%s", r->body);
    cr_assert_str_eq(plain(&t, tok(json_array_get(list, 0), "name")), "Good Zero");
    cr_assert_str_eq(plain(&t, tok(json_array_get(list, 2), "email")), "good.two@example.com");
    cr_assert_eq(stored_records(&t), 2);
}

Test(tokenize, a_batch_of_only_bad_records_is_422_with_a_pointer_per_problem)
{
    struct vt t;
    vault_setup(&t);
    json_t *body =
        json_pack("{s:[{s:s, s:{s:s}}, {s:s, s:{s:s}}, {s:s, s:{s:s}}]}", "records", "subject_id",
                  "crm-0", "fields", "bogus", "x", "subject_id", "crm-1", "fields", "email", "nope",
                  "subject_id", "crm-2", "fields", "dob", "2023-02-29");
    struct t_resp *r = api("POST", RECORDS, t.admin, dump(body));
    assert_problem(r, 422, "/records/0/fields/bogus");
    assert_problem(r, 422, "/records/1/fields/email");
    assert_problem(r, 422, "/records/2/fields/dob");
    cr_assert_eq(stored_records(&t), 0);
}

/* A one-record body with field = value (consumed) must be refused with a pointer to it. */
static void
assert_field_refused(const struct vt *t, const char *field, json_t *value)
{
    json_t *fields = json_object();
    json_object_set_new(fields, field, value);
    const char *body = records_body("crm-1", fields);
    struct t_resp *r = api("POST", RECORDS, t->admin, body);
    cr_assert_eq(r->status, 422, "%s: wanted 422, got %ld: %s", body, r->status, r->body);
    assert_problem(r, 422, fmt("/records/0/fields/%s", field));
}

Test(tokenize, values_of_the_wrong_json_type_unknown_fields_and_oversize_values_are_422)
{
    struct vt t;
    vault_setup(&t);
    assert_field_refused(&t, "name", json_integer(42));
    assert_field_refused(&t, "name", json_real(4.5));
    assert_field_refused(&t, "name", json_pack("[s]", "Jo"));
    assert_field_refused(&t, "name", json_null());
    assert_field_refused(&t, "name", json_true());
    assert_field_refused(&t, "name", json_object());
    assert_field_refused(&t, "bogus", json_string("x"));
    assert_field_refused(&t, "note", json_string(repeat('a', 65537)));
    assert_field_refused(&t, "name", json_string(repeat('a', 1025)));
    assert_problem(api("POST", RECORDS, t.admin, records_body("crm-1", json_object())), 422,
                   "/records/0/fields");
    cr_assert_eq(stored_records(&t), 0);
    /* the limits themselves are allowed */
    json_t *rec = tokenize1(&t, "crm-1", json_pack("{s:s}", "note", repeat('b', 65536)));
    cr_assert_eq(strlen(plain(&t, tok(rec, "note"))), 65536);
}

Test(tokenize, values_that_break_their_type_are_422)
{
    struct vt t;
    vault_setup(&t);
    assert_field_refused(&t, "card", json_string("4111 1111 1111 1112")); /* Luhn */
    assert_field_refused(&t, "card", json_string("4111-1111-1111-111x"));
    assert_field_refused(&t, "card", json_string("4111"));
    assert_field_refused(&t, "phone", json_string("4155550100")); /* no '+' */
    assert_field_refused(&t, "phone", json_string("+0155550100"));
    assert_field_refused(&t, "phone", json_string("+1415555010099999"));
    assert_field_refused(&t, "email", json_string("not-an-email"));
    assert_field_refused(&t, "email", json_string("a@b"));
    assert_field_refused(&t, "email", json_string("a@@example.com"));
    assert_field_refused(&t, "email", json_string("a..b@example.com"));
    assert_field_refused(&t, "dob", json_string("2023-02-29"));
    assert_field_refused(&t, "dob", json_string("2023-13-01"));
    assert_field_refused(&t, "dob", json_string("17/05/1990"));
    assert_field_refused(&t, "ssn", json_string("000-12-3456"));
    assert_field_refused(&t, "ssn", json_string("123-45-678"));
    assert_field_refused(&t, "name", json_string(""));
    assert_field_refused(&t, "name", json_string("   "));
    assert_field_refused(&t, "name", json_string("a\x01z"));
    cr_assert_eq(stored_records(&t), 0);
    /* 2024 is a leap year */
    json_t *rec = tokenize1(&t, "crm-1", json_pack("{s:s}", "dob", "2024-02-29"));
    cr_assert_str_eq(plain(&t, tok(rec, "dob")), "2024-02-29");
}

Test(tokenize, a_record_without_a_valid_subject_id_is_422)
{
    struct vt t;
    vault_setup(&t);
    assert_problem(
        api("POST", RECORDS, t.admin, "{\"records\":[{\"fields\":{\"name\":\"Jo Smith\"}}]}"), 422,
        "/records/0/subject_id");
    assert_problem(api("POST", RECORDS, t.admin,
                       "{\"records\":[{\"subject_id\":42,\"fields\":{\"name\":\"Jo Smith\"}}]}"),
                   422, "/records/0/subject_id");
    assert_problem(
        api("POST", RECORDS, t.admin, records_body("a b", json_pack("{s:s}", "name", "Jo"))), 422,
        "/records/0/subject_id");
    assert_problem(api("POST", RECORDS, t.admin,
                       records_body(repeat('s', 129), json_pack("{s:s}", "name", "Jo"))),
                   422, "/records/0/subject_id");
    assert_problem(api("POST", RECORDS, t.admin, "{\"records\":[{\"subject_id\":\"crm-1\"}]}"), 422,
                   "/records/0/fields");
    assert_problem(api("POST", RECORDS, t.admin,
                       "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"name\":\"Jo\"},"
                       "\"extra\":true}]}"),
                   422, "/records/0");
    assert_problem(api("POST", RECORDS, t.admin, "{\"records\":[42]}"), 422, "/records/0");
    cr_assert_eq(stored_records(&t), 0);
}

Test(tokenize, sql_shaped_text_round_trips_byte_exact)
{
    struct vt t;
    vault_setup(&t);
    const char *sql = "'; DROP TABLE records; --";
    const char *name = "Robert'); DROP TABLE students;--";
    const char *quoted = "\"\\\" OR 1=1 -- $1 %s %n \\x00";
    json_t *rec = tokenize1(&t, "crm-1", json_pack("{s:s, s:s}", "note", sql, "name", name));
    json_t *rec2 = tokenize1(&t, "crm-2", json_pack("{s:s}", "note", quoted));
    cr_assert_str_eq(plain(&t, tok(rec, "note")), sql);
    cr_assert_str_eq(plain(&t, tok(rec, "name")), name);
    cr_assert_str_eq(plain(&t, tok(rec2, "note")), quoted);
    /* and the vault still works */
    json_t *rec3 = tokenize1(&t, "crm-3", json_pack("{s:s}", "name", "After Math"));
    cr_assert_str_eq(plain(&t, tok(rec3, "name")), "After Math");
    cr_assert_eq(stored_records(&t), 3);
}

Test(tokenize, unicode_values_round_trip_byte_exact_in_nfc_and_nfd)
{
    struct vt t;
    vault_setup(&t);
    const char *nfc = "Zo\xC3\xAB \xC3\x85kesson";   /* U+00EB, U+00C5 */
    const char *nfd = "Zoe\xCC\x88 A\xCC\x8Akesson"; /* e + U+0308, A + U+030A */
    const char *text = "\xF0\x9F\x98\x80 line one\nline\ttwo\r\n\xE4\xB8\xAD\xE6\x96\x87";
    json_t *a = tokenize1(&t, "crm-1", json_pack("{s:s, s:s}", "name", nfc, "note", text));
    json_t *b = tokenize1(&t, "crm-2", json_pack("{s:s}", "name", nfd));
    json_t *ia = detok1(t.admin, tok(a, "name"), NULL);
    json_t *ib = detok1(t.admin, tok(b, "name"), NULL);
    cr_assert_str_eq(value_of(ia), nfc);
    cr_assert_eq(json_string_length(json_object_get(ia, "value")), strlen(nfc));
    cr_assert_str_eq(value_of(ib), nfd);
    cr_assert_eq(json_string_length(json_object_get(ib, "value")), strlen(nfd));
    cr_assert_str_eq(plain(&t, tok(a, "note")), text);
}

Test(tokenize, an_idempotency_key_replays_the_first_answer)
{
    struct vt t;
    vault_setup(&t);
    const char *body = records_body("crm-1", std_fields("+14155550177"));
    struct t_resp *r1 = send_req("POST", RECORDS, t.admin, NULL, "k1", "application/json", body);
    cr_assert_eq(r1->status, 201, "%s", r1->body);
    struct t_resp *r2 = send_req("POST", RECORDS, t.admin, NULL, "k1", "application/json", body);
    cr_assert_eq(r2->status, 201, "replay: %ld %s", r2->status, r2->body);
    cr_assert(json_equal(r1->json, r2->json), "replay differs:\n%s\n%s", r1->body, r2->body);
    json_t *rec = json_array_get(json_object_get(r1->json, "records"), 0);
    struct t_resp *s = api("POST", "/v1/collections/customers/search", t.admin,
                           "{\"field\":\"phone\",\"value\":\"+14155550177\"}");
    cr_assert_eq(s->status, 200, "%s", s->body);
    json_t *found = json_object_get(s->json, "records");
    cr_assert_eq(json_array_size(found), 1, "a replay stored a second record: %s", s->body);
    cr_assert_str_eq(rid(json_array_get(found, 0)), rid(rec));
    cr_assert_eq(stored_records(&t), 1);

    const char *other = records_body("crm-1", std_fields("+14155550178"));
    struct t_resp *r3 = send_req("POST", RECORDS, t.admin, NULL, "k1", "application/json", other);
    assert_problem(r3, 409, NULL);
    /* another key is another request */
    struct t_resp *r4 = send_req("POST", RECORDS, t.admin, NULL, "k2", "application/json", body);
    cr_assert_eq(r4->status, 201, "%s", r4->body);
    cr_assert_str_neq(rid(json_array_get(json_object_get(r4->json, "records"), 0)), rid(rec));
    /* a malformed key */
    struct t_resp *r5 =
        send_req("POST", RECORDS, t.admin, NULL, "bad key", "application/json", body);
    assert_problem(r5, 400, NULL);
    cr_assert_eq(stored_records(&t), 2);
    /* keys belong to their tenant: the same key elsewhere is a fresh request */
    struct vt o;
    vault_setup(&o);
    struct t_resp *r6 = send_req("POST", RECORDS, o.admin, NULL, "k1", "application/json", body);
    cr_assert_eq(r6->status, 201, "%s", r6->body);
    cr_assert_str_neq(rid(json_array_get(json_object_get(r6->json, "records"), 0)), rid(rec));
}

Test(tokenize, records_write_is_required)
{
    struct vt t;
    vault_setup(&t);
    const char *body = records_body("crm-1", std_fields("+14155550100"));
    const char *reader = t_token(t.id, "tenant:admin records:delete records:search "
                                       "detokenize:*.*:plain");
    assert_problem(api("POST", RECORDS, reader, body), 403, NULL);
    assert_problem(api("POST", RECORDS, NULL, body), 401, NULL);
    cr_assert_eq(stored_records(&t), 0);
}

/* ---- concurrent requests ---- */

enum { RACERS = 8 };

struct racer {
    pthread_barrier_t *start;
    const char *token;
    const char *body;
    const char *const *headers;
    struct t_resp *resp;
    int rc;
};

static void *
race_post(void *arg)
{
    struct racer *r = arg;
    pthread_barrier_wait(r->start);
    r->rc = t_request(t_shared(), "POST", RECORDS, r->token, r->body, r->headers, r->resp);
    return NULL;
}

/* POSTs bodies[i] to the records of `customers` from n threads released together. */
static void
race(const char *token, const char *const *bodies, const char *const *headers, size_t n,
     struct t_resp **out)
{
    pthread_barrier_t start;
    struct racer rs[RACERS];
    pthread_t th[RACERS];
    cr_assert_leq(n, RACERS);
    cr_assert_eq(pthread_barrier_init(&start, NULL, (unsigned)n), 0);
    for (size_t i = 0; i < n; i++) {
        out[i] = new_resp();
        rs[i] = (struct racer){&start, token, bodies[i], headers, out[i], -1};
        cr_assert_eq(pthread_create(&th[i], NULL, race_post, &rs[i]), 0);
    }
    for (size_t i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
    }
    pthread_barrier_destroy(&start);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(rs[i].rc, 0, "racer %zu: no answer (%s)", i, out[i]->error);
    }
}

/* Detokenizes tokens on server s; logs and counts the items that do not give want[k] back. */
static int
count_lost(const struct t_server *s, const char *bearer, json_t *tokens, const char *const *want,
           const char *const *ids, size_t per_round)
{
    const char *headers[] = {"Content-Type: application/json", "X-Purpose: support", NULL};
    const char *body = dump(json_pack("{s:O}", "tokens", tokens));
    struct t_resp *r = new_resp();
    cr_assert_eq(t_request(s, "POST", "/v1/detokenize", bearer, body, headers, r), 0);
    cr_assert_eq(r->status, 200, "%s", r->body);
    json_t *res = json_object_get(r->json, "results");
    int lost = 0;
    for (size_t k = 0; k < json_array_size(tokens); k++) {
        json_t *item = json_array_get(res, k);
        const char *v = json_string_value(json_object_get(item, "value"));
        if (v == NULL || strcmp(v, want[k]) != 0) {
            if (++lost <= 3) {
                cr_log_error("%s: record %s (round %zu): %s", s->base, ids[k], k / per_round,
                             show(item));
            }
        }
    }
    return lost;
}

Test(tokenize, concurrent_first_records_of_one_subject_all_stay_readable, .timeout = 60)
{
    struct vt t;
    vault_setup(&t);
    enum { ROUNDS = 6 };
    json_t *tokens = json_array();
    const char *want[ROUNDS * RACERS];
    const char *ids[ROUNDS * RACERS];
    const char *headers[] = {"Content-Type: application/json", NULL};
    for (int round = 0; round < ROUNDS; round++) {
        /* a subject without a data key yet, written by every racer at once */
        const char *subject = fmt("crm-race-%d-%s", round, random_hex(4));
        const char *bodies[RACERS];
        for (size_t i = 0; i < RACERS; i++) {
            want[round * RACERS + i] = fmt("value %d.%zu", round, i);
            bodies[i] = records_body(subject, json_pack("{s:s}", "note", want[round * RACERS + i]));
        }
        struct t_resp *out[RACERS];
        race(t.admin, bodies, headers, RACERS, out);
        for (size_t i = 0; i < RACERS; i++) {
            cr_assert_eq(out[i]->status, 201, "round %d racer %zu: %ld %s", round, i,
                         out[i]->status, out[i]->body);
            json_t *rec = json_array_get(json_object_get(out[i]->json, "records"), 0);
            json_array_append_new(tokens, json_string(tok(rec, "note")));
            ids[round * RACERS + i] = rid(rec);
        }
    }
    int lost = count_lost(t_shared(), t.admin, tokens, want, ids, RACERS);
    /* a server with an empty key cache reads every subject key from the database */
    struct t_server fresh;
    const char *env[] = {NULL};
    cr_assert_eq(t_spawn(env, 1, &fresh), 0, "could not start a second server");
    int lost_fresh = count_lost(&fresh, t.admin, tokens, want, ids, RACERS);
    cr_assert_eq(t_stop(&fresh), 0);
    json_decref(tokens);
    cr_assert(lost == 0 && lost_fresh == 0,
              "of %d values written concurrently for new subjects, %d do not come back from the "
              "server that wrote them and %d from a fresh server",
              ROUNDS * RACERS, lost, lost_fresh);
}

Test(tokenize, concurrent_retries_with_one_idempotency_key_store_one_record)
{
    struct vt t;
    vault_setup(&t);
    const char *body = records_body("crm-1", std_fields("+14155550142"));
    const char *bodies[RACERS];
    for (size_t i = 0; i < RACERS; i++) {
        bodies[i] = body;
    }
    const char *headers[] = {"Content-Type: application/json", "Idempotency-Key: race-1", NULL};
    struct t_resp *out[RACERS];
    race(t.admin, bodies, headers, RACERS, out);
    json_t *first = NULL;
    for (size_t i = 0; i < RACERS; i++) {
        /* a retry racing the first request may be told to come back (409), never more */
        cr_assert(out[i]->status == 201 || out[i]->status == 409, "racer %zu: %ld %s", i,
                  out[i]->status, out[i]->body);
        if (out[i]->status != 201) {
            continue;
        }
        if (first == NULL) {
            first = out[i]->json;
        }
        cr_assert(json_equal(first, out[i]->json), "two answers for one key:\n%s\n%s", show(first),
                  out[i]->body);
    }
    cr_assert_not_null(first, "no racer got the record stored");
    cr_assert_eq(stored_records(&t), 1);
    /* a later retry gets the stored answer */
    struct t_resp *r = send_req("POST", RECORDS, t.admin, NULL, "race-1", "application/json", body);
    cr_assert_eq(r->status, 201, "%s", r->body);
    cr_assert(json_equal(first, r->json));
}
