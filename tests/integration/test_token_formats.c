/* Token formats and what they reveal (issue 14 items 1 and 2): format-preserving tokens are
 * random within the format, so tokenizing guesses finds nothing; a card field chooses the digits
 * its tokens keep; only format_preserving_deterministic tokens are a function of the value; a
 * token names one value in a tenant, across collections and fields, and a deleted record's
 * token answers 410 for ever.
 * Invariant: every test makes its own tenant. */
#include "idp.h"
#include "tenant.h"
#include "vault.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The token arrays of tokenize_cards, freed with the suite. */
static json_t *owned_toks[512];
static size_t nkept;

static void
fini(void)
{
    for (size_t i = 0; i < nkept; i++) {
        json_decref(owned_toks[i]);
    }
    nkept = 0;
    cleanup_all();
}

TestSuite(token_formats, .fini = fini);

/* A tenant with one collection `name` of one card_number field `card` of kind (and keep). */
static void
card_collection(const struct vt *t, const char *name, const char *kind, const char *keep)
{
    char def[256];
    snprintf(def, sizeof(def),
             "{\"fields\":{\"card\":{\"type\":\"card_number\",\"tokenization\":\"%s\"%s%s%s}}}",
             kind, keep ? ",\"keep\":\"" : "", keep ? keep : "", keep ? "\"" : "");
    t_collection_put(t_shared(), t->admin, name, def);
}

/* The 16-digit Luhn-valid card with the given 6 first digits, 5 middle digits m (the 6th middle
 * digit is the one that makes it valid) and 4 last digits. */
static void
card16(const char *first6, unsigned m, const char *last4, char out[17])
{
    for (char d = '0'; d <= '9'; d++) {
        snprintf(out, 17, "%s%05u%c%s", first6, m, d, last4);
        if (luhn_ok(out)) {
            return;
        }
    }
    cr_assert_fail("no luhn digit");
}

/* POSTs the cards (one record each) to collection with bearer; the tokens of the 201 answer in
 * request order (a JSON array, owned by the suite). */
static json_t *
tokenize_cards(const char *bearer, const char *collection, char (*cards)[20], size_t n)
{
    json_t *recs = json_array();
    for (size_t i = 0; i < n; i++) {
        char subject[16];
        snprintf(subject, sizeof(subject), "atk-%zu", i % 10);
        json_array_append_new(
            recs, json_pack("{s:s, s:{s:s}}", "subject_id", subject, "fields", "card", cards[i]));
    }
    struct t_resp *r = api("POST", fmt("/v1/collections/%s/records", collection), bearer,
                           dump(json_pack("{s:o}", "records", recs)));
    cr_assert_eq(r->status, 201, "%ld %.300s", r->status, r->body ? r->body : "(no body)");
    json_t *list = json_object_get(r->json, "records");
    cr_assert_eq(json_array_size(list), n);
    cr_assert_lt(nkept, sizeof(owned_toks) / sizeof(owned_toks[0]));
    json_t *out = json_array();
    owned_toks[nkept++] = out;
    for (size_t i = 0; i < n; i++) {
        const char *tk = tok(json_array_get(list, i), "card");
        cr_assert(tk != NULL, "no card token: %.300s", r->body);
        json_array_append_new(out, json_string(tk));
    }
    return out;
}

/* The red team's attack: the victim's card token keeps its first 6 and last 4 digits, so with
 * records:write alone an attacker tokenizes every Luhn-valid card with the same kept digits
 * (10^5, in batches of 1,000) and looks for the victim's token. */
Test(token_formats, the_card_oracle_finds_nothing_in_100000_guesses, .timeout = 900)
{
    struct vt t;
    vault_setup(&t);
    card_collection(&t, "pay", "format_preserving", NULL);
    const char *victim_card = "5524333239618128";
    static char vc[1][20] = {"5524333239618128"};
    json_t *v = tokenize_cards(t.admin, "pay", vc, 1);
    const char *victim = json_string_value(json_array_get(v, 0));
    cr_assert_eq(strlen(victim), 16);
    cr_assert_eq(strncmp(victim, "552433", 6), 0, "%s", victim);
    cr_assert_str_eq(victim + 12, "8128");
    cr_assert(!luhn_ok(victim), "%s", victim);
    cr_assert_str_neq(victim, victim_card);

    const char *writer = t_token(t.id, "records:write");
    static char cards[1000][20];
    int seen_victim_card = 0;
    for (unsigned batch = 0; batch < 100; batch++) {
        for (unsigned i = 0; i < 1000; i++) {
            card16("552433", batch * 1000 + i, "8128", cards[i]);
            seen_victim_card |= strcmp(cards[i], victim_card) == 0;
        }
        json_t *toks = tokenize_cards(writer, "pay", cards, 1000);
        for (size_t i = 0; i < 1000; i++) {
            const char *tk = json_string_value(json_array_get(toks, i));
            cr_assert_str_neq(tk, victim, "guess %s got the victim's token", cards[i]);
        }
    }
    cr_assert(seen_victim_card, "the guesses covered the victim's card");
    /* the victim's token still names the victim's card */
    cr_assert_str_eq(plain(&t, victim), victim_card);
}

/* format_preserving_deterministic is the documented equality oracle: the same attack finds the
 * card among 1,000 guesses (this is what the test above would see without random tokens). */
Test(token_formats, a_deterministic_card_token_is_an_oracle_by_contract)
{
    struct vt t;
    vault_setup(&t);
    card_collection(&t, "payd", "format_preserving_deterministic", NULL);
    const char *victim_card = "5524333239618128";
    static char vc[1][20] = {"5524333239618128"};
    json_t *v = tokenize_cards(t.admin, "payd", vc, 1);
    const char *victim = json_string_value(json_array_get(v, 0));
    const char *writer = t_token(t.id, "records:write");
    static char cards[1000][20];
    int found = -1;
    for (unsigned i = 0; i < 1000; i++) {
        card16("552433", 32000 + i, "8128", cards[i]);
    }
    json_t *toks = tokenize_cards(writer, "payd", cards, 1000);
    for (int i = 0; i < 1000; i++) {
        if (strcmp(json_string_value(json_array_get(toks, (size_t)i)), victim) == 0) {
            found = i;
        }
    }
    cr_assert(found >= 0, "the deterministic token was not found");
    cr_assert_str_eq(cards[found], victim_card);
    /* one value twice in one batch: one token, named once, standing for both records */
    static char twice[2][20] = {"4111111111111111", "4111111111111111"};
    json_t *two = tokenize_cards(t.admin, "payd", twice, 2);
    cr_assert_str_eq(json_string_value(json_array_get(two, 0)),
                     json_string_value(json_array_get(two, 1)));
    cr_assert_str_eq(plain(&t, json_string_value(json_array_get(two, 0))), "4111111111111111");
}

Test(token_formats, the_same_card_twice_gets_two_tokens_that_both_reveal_it)
{
    struct vt t;
    vault_setup(&t);
    card_collection(&t, "pay", "format_preserving", NULL);
    static char cards[2][20] = {"4111111111111111", "4111111111111111"};
    json_t *toks = tokenize_cards(t.admin, "pay", cards, 2);
    const char *a = json_string_value(json_array_get(toks, 0));
    const char *b = json_string_value(json_array_get(toks, 1));
    cr_assert_str_neq(a, b);
    cr_assert_str_eq(plain(&t, a), "4111111111111111");
    cr_assert_str_eq(plain(&t, b), "4111111111111111");
    /* ssn and phone tokens are random too */
    t_collection_put(t_shared(), t.admin, "ids",
                     "{\"fields\":{\"ssn\":{\"type\":\"ssn\",\"tokenization\":"
                     "\"format_preserving\"},\"phone\":{\"type\":\"phone\",\"tokenization\":"
                     "\"format_preserving\"}}}");
    const char *body =
        dump(json_pack("{s:[{s:s, s:{s:s, s:s}}, {s:s, s:{s:s, s:s}}]}", "records", "subject_id",
                       "s1", "fields", "ssn", "123-45-6789", "phone", "+14155550100", "subject_id",
                       "s2", "fields", "ssn", "123-45-6789", "phone", "+14155550100"));
    struct t_resp *r = api("POST", "/v1/collections/ids/records", t.admin, body);
    cr_assert_eq(r->status, 201, "%ld %s", r->status, r->body);
    json_t *l = json_object_get(r->json, "records");
    json_t *r0 = json_array_get(l, 0), *r1 = json_array_get(l, 1);
    cr_assert_str_neq(tok(r0, "ssn"), tok(r1, "ssn"));
    cr_assert_str_neq(tok(r0, "phone"), tok(r1, "phone"));
    cr_assert(is_ssn_shape(tok(r0, "ssn")), "%s", tok(r0, "ssn"));
    cr_assert_eq(tok(r0, "phone")[0], '+');
    cr_assert_eq(strlen(tok(r0, "phone")), strlen("+14155550100"));
    cr_assert_str_eq(plain(&t, tok(r1, "ssn")), "123-45-6789");
    cr_assert_str_eq(plain(&t, tok(r1, "phone")), "+14155550100");
}

Test(token_formats, a_card_field_may_keep_the_last_four_digits_only)
{
    struct vt t;
    vault_setup(&t);
    card_collection(&t, "pay4", "format_preserving", "last4");
    card_collection(&t, "pay4d", "format_preserving_deterministic", "last4");
    struct t_resp *g = api("GET", "/v1/collections/pay4", t.admin, NULL);
    cr_assert_eq(g->status, 200);
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(g->json, "fields"), "card"), "keep")),
                     "last4", "%s", g->body);
    g = api("GET", "/v1/collections/pay4d", t.admin, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(g->json, "fields"), "card"), "keep")),
                     "last4", "%s", g->body);
    static char cards[64][20];
    for (int i = 0; i < 64; i++) {
        snprintf(cards[i], sizeof(cards[i]), "4111111111111111");
    }
    json_t *toks = tokenize_cards(t.admin, "pay4", cards, 64);
    int first6_kept = 0;
    for (size_t i = 0; i < 64; i++) {
        const char *tk = json_string_value(json_array_get(toks, i));
        cr_assert_eq(strlen(tk), 16, "%s", tk);
        cr_assert(all_digits(tk), "%s", tk);
        cr_assert_str_eq(tk + 12, "1111", "%s", tk);
        cr_assert(!luhn_ok(tk), "%s", tk);
        first6_kept += strncmp(tk, "411111", 6) == 0;
    }
    /* random leading digits: 64 tokens all starting 411111 has a chance of 10^-384 */
    cr_assert_lt(first6_kept, 64);
    json_t *d = tokenize_cards(t.admin, "pay4d", cards, 2);
    cr_assert_str_eq(json_string_value(json_array_get(d, 0)),
                     json_string_value(json_array_get(d, 1)));
    cr_assert_str_eq(json_string_value(json_array_get(d, 0)) + 12, "1111");
    cr_assert_str_eq(plain(&t, json_string_value(json_array_get(d, 0))), "4111111111111111");
    /* keep is for card fields with a format-preserving kind, one of two names */
    assert_problem(api("PUT", "/v1/collections/bad1", t.admin,
                       "{\"fields\":{\"ssn\":{\"type\":\"ssn\",\"tokenization\":"
                       "\"format_preserving\",\"keep\":\"last4\"}}}"),
                   422, "/fields/ssn/keep");
    assert_problem(api("PUT", "/v1/collections/bad2", t.admin,
                       "{\"fields\":{\"card\":{\"type\":\"card_number\",\"tokenization\":"
                       "\"random\",\"keep\":\"last4\"}}}"),
                   422, "/fields/card/keep");
    assert_problem(api("PUT", "/v1/collections/bad3", t.admin,
                       "{\"fields\":{\"card\":{\"type\":\"card_number\",\"tokenization\":"
                       "\"format_preserving\",\"keep\":\"first4\"}}}"),
                   422, "/fields/card/keep");
    /* and cannot change once the collection holds data */
    assert_problem(api("PUT", "/v1/collections/pay4", t.admin,
                       "{\"fields\":{\"card\":{\"type\":\"card_number\",\"tokenization\":"
                       "\"format_preserving\",\"keep\":\"first6_last4\"}}}"),
                   409, "/fields/card");
}

/* The Luhn-valid 13-digit cards 422222 xyz 2222: their format-preserving token keeps 10 digits
 * and has only 2 free ones (and one that fails Luhn): 100 of them cover every token a
 * deterministic field can give them. */
static size_t
cards13(char (*out)[20])
{
    size_t n = 0;
    for (unsigned m = 0; m < 1000; m++) {
        snprintf(out[n], 20, "422222%03u2222", m);
        if (luhn_ok(out[n])) {
            n++;
        }
    }
    return n;
}

/* The red team's forged collision: two format-preserving card fields; with records:write alone
 * the attacker stores, in the other field, a card whose token equals the victim's. Tokens are
 * unique per tenant: the colliding value is refused (409), the victim's token keeps naming the
 * victim's card, and after the victim's record is deleted it answers 410, for ever. */
Test(token_formats, a_forged_collision_across_fields_fails, .timeout = 300)
{
    struct vt t;
    vault_setup(&t);
    card_collection(&t, "customers2", "format_preserving_deterministic", NULL);
    card_collection(&t, "paymentsd", "format_preserving_deterministic", NULL);
    card_collection(&t, "payments", "format_preserving", NULL);
    cr_assert(luhn_ok("4222222222222"));
    struct t_resp *vr = api("POST", "/v1/collections/customers2/records", t.admin,
                            dump(json_pack("{s:[{s:s, s:{s:s}}]}", "records", "subject_id",
                                           "victim", "fields", "card", "4222222222222")));
    cr_assert_eq(vr->status, 201, "%ld %s", vr->status, vr->body);
    json_t *vrec = json_array_get(json_object_get(vr->json, "records"), 0);
    const char *victim = tok(vrec, "card");
    const char *vid = rid(vrec);
    const char *writer = t_token(t.id, "records:write");
    static char cards[1000][20];
    size_t n = cards13(cards);
    cr_assert_eq(n, 100);

    /* the deterministic field: one of the 100 has the victim's token and is refused */
    int refused = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *recs = json_pack("{s:[{s:s, s:{s:s}}]}", "records", "subject_id", "atk", "fields",
                                 "card", cards[i]);
        struct t_resp *r = api("POST", "/v1/collections/paymentsd/records", writer, dump(recs));
        if (r->status == 409) {
            refused++;
            continue;
        }
        cr_assert_eq(r->status, 201, "%ld %s", r->status, r->body);
        const char *tk = tok(json_array_get(json_object_get(r->json, "records"), 0), "card");
        cr_assert_str_neq(tk, victim, "forged: %s has the victim's token", cards[i]);
    }
    cr_assert_eq(refused, 1, "the colliding value should have been refused");

    /* the random field: 100 draws in a space of 900 tokens, none the victim's */
    json_t *toks = tokenize_cards(writer, "payments", cards, n);
    json_t *distinct = json_object();
    for (size_t i = 0; i < n; i++) {
        const char *tk = json_string_value(json_array_get(toks, i));
        cr_assert_str_neq(tk, victim);
        json_object_set_new(distinct, tk, json_true());
    }
    cr_assert_eq(json_object_size(distinct), n, "a random token was issued twice");
    json_decref(distinct);
    cr_assert_str_eq(plain(&t, victim), "4222222222222");

    /* the victim's record is deleted: its token answers 410, and is never issued again */
    cr_assert(vid != NULL);
    cr_assert_eq(
        api("DELETE", fmt("/v1/collections/customers2/records/%s", vid), t.admin, NULL)->status,
        204);
    cr_assert_eq(item_status(detok1(t.admin, victim, NULL)), 410);
    for (int round = 0; round < 1; round++) {
        json_t *again = tokenize_cards(writer, "payments", cards, n);
        for (size_t i = 0; i < n; i++) {
            cr_assert_str_neq(json_string_value(json_array_get(again, i)), victim);
        }
    }
    /* the deterministic field still refuses the colliding card: the name is a tombstone */
    refused = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *recs = json_pack("{s:[{s:s, s:{s:s}}]}", "records", "subject_id", "atk", "fields",
                                 "card", cards[i]);
        struct t_resp *r = api("POST", "/v1/collections/paymentsd/records", writer, dump(recs));
        refused += r->status == 409;
    }
    cr_assert_eq(refused, 1);
    cr_assert_eq(item_status(detok1(t.admin, victim, NULL)), 410);
}

/* A subject id is stored and audited in clear: an email address or a phone number is refused
 * (issue 14 item 7), a pseudonymous id is not. */
Test(token_formats, a_subject_id_that_is_an_email_or_a_phone_is_422)
{
    struct vt t;
    vault_setup(&t);
    static const char *const refused[] = {
        "ada@example.com", "a@b",     "+14155550100",    "4155550100", "415-555-0100",
        "+1.415.555.0100", "1234567", "+441234567890123"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        const char *body = records_body(refused[i], json_pack("{s:s}", "name", "Ada Lovelace"));
        struct t_resp *r = api("POST", RECORDS, t.admin, body);
        assert_problem(r, 422, "/records/0/subject_id");
        cr_assert(strstr(r->body, "pseudonymous") != NULL, "%s", r->body);
        cr_assert(strstr(r->body, refused[i]) == NULL, "the id is echoed: %s", r->body);
    }
    cr_assert_eq(stored_records(&t), 0);
    /* 6 or 16 digits, letters, or other characters: a pseudonymous id */
    static const char *const kept[] = {"123456", "1234567890123456", "crm-000481516",
                                       "cust:4155550100", "+1-415-555-0100-x7"};
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
        json_t *rec = tokenize1(&t, kept[i], json_pack("{s:s}", "name", "Ada Lovelace"));
        cr_assert_str_eq(json_string_value(json_object_get(rec, "subject_id")), kept[i]);
    }
}

/* A token naming a tenant that does not exist: writes answer 403 (not 500), and nothing is
 * audited under that id (issue 14 item 7). */
Test(token_formats, a_tenant_that_does_not_exist_gets_403_and_no_audit_rows)
{
    char ghost[32];
    t_tenant_id(ghost);
    const char *admin = t_token(ghost, ALL_SCOPES);
    struct t_resp *r = api("PUT", "/v1/collections/customers", admin, customers_def);
    assert_problem(r, 403, NULL);
    cr_assert(strstr(r->body, "tenant of the token does not exist") != NULL, "%s", r->body);
    r = api("PUT", "/v1/purposes/support", admin,
            "{\"description\":\"Customer support\",\"lawful_basis\":\"contract\"}");
    assert_problem(r, 403, NULL);
    /* a scope denial, a tokenize and a detokenize under the missing tenant */
    const char *reader = t_token(ghost, "records:search");
    assert_problem(api("POST", RECORDS, reader, records_body("crm-1", std_fields("+14155550100"))),
                   403, NULL);
    cr_assert_neq(
        api("POST", RECORDS, admin, records_body("crm-1", std_fields("+14155550100")))->status,
        201);
    api_p("POST", "/v1/detokenize", admin, "support",
          "{\"tokens\":[\"tok_hYzQIW1WcfTY7FTsJpjTQb\"]}");
    PGconn *db = db_open("CUSTOS_TEST_ADMIN_DB_URL");
    cr_assert_eq(db_count(db, "SELECT count(*) FROM audit_log WHERE tenant_id = $1", ghost), 0);
    cr_assert_eq(db_count(db, "SELECT count(*) FROM collections WHERE tenant_id = $1", ghost), 0);
}
