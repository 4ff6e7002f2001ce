/* Validation and normalization of every field type: accept and reject tables, UTF-8, limits,
 * and problems that never echo the value. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"
#include "service/value.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

static struct cu_arena *arena;

static void
setup(void)
{
    arena = cu_arena_new();
}

static void
teardown(void)
{
    cu_arena_free(arena);
}

TestSuite(value, .init = setup, .fini = teardown);

/* want NULL: the value is kept byte-exact */
struct accept {
    const char *in;
    const char *want;
};

/* why: a fragment the problem must contain, so each case fails for the reason it is there for */
struct reject {
    const char *in;
    const char *why;
};

static void
expect_accepts(enum cu_ftype t, const struct accept *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *want = cases[i].want != NULL ? cases[i].want : cases[i].in;
        char *out = NULL;
        size_t out_len = 0;
        const char *problem = "unset";
        enum cu_err rc = cu_value_normalize(t, cases[i].in, strlen(cases[i].in), arena, &out,
                                            &out_len, &problem);
        cr_expect_eq(rc, CU_OK, "%s case %zu \"%s\" rejected: %s", cu_ftype_name(t), i, cases[i].in,
                     problem != NULL ? problem : "(null)");
        if (rc != CU_OK) {
            continue;
        }
        cr_expect_null(problem, "%s case %zu: problem set on success", cu_ftype_name(t), i);
        cr_expect_str_eq(out, want, "%s case %zu: \"%s\" normalized to \"%s\", want \"%s\"",
                         cu_ftype_name(t), i, cases[i].in, out, want);
        cr_expect_eq(out_len, strlen(want), "%s case %zu: length", cu_ftype_name(t), i);
    }
}

/* in[0..len) need not be NUL-terminated nor free of NUL bytes */
static void
expect_reject_n(enum cu_ftype t, const char *in, size_t len, const char *why, size_t i)
{
    char *out = (char *)"unset";
    size_t out_len = 99;
    const char *problem = NULL;
    int shown = in != NULL ? (int)strnlen(in, len < 64 ? len : 64) : 0;
    enum cu_err rc = cu_value_normalize(t, in, len, arena, &out, &out_len, &problem);
    cr_expect_eq(rc, CU_ERR_INVALID, "%s case %zu \"%.*s\" accepted (%s)", cu_ftype_name(t), i,
                 shown, in != NULL ? in : "", rc == CU_OK ? out : cu_err_name(rc));
    if (rc != CU_ERR_INVALID) {
        return;
    }
    cr_expect_null(out, "%s case %zu: out set on failure", cu_ftype_name(t), i);
    cr_expect_eq(out_len, 0);
    cr_assert_not_null(problem, "%s case %zu: no problem", cu_ftype_name(t), i);
    cr_expect_neq(problem[0], '\0');
    /* shorter values (" ", "+") can occur in any English sentence by chance */
    if (len >= 4 && len < 256 && strnlen(in, len) == len) {
        char copy[256];
        memcpy(copy, in, len);
        copy[len] = '\0';
        cr_expect_null(strstr(problem, copy), "%s case %zu: problem echoes the value",
                       cu_ftype_name(t), i);
    }
    if (why != NULL) {
        cr_expect_not_null(strstr(problem, why),
                           "%s case %zu \"%.*s\": problem \"%s\", want \"%s\"", cu_ftype_name(t), i,
                           shown, in != NULL ? in : "", problem, why);
    }
}

static void
expect_rejects(enum cu_ftype t, const struct reject *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        expect_reject_n(t, cases[i].in, strlen(cases[i].in), cases[i].why, i);
    }
}

/* ---- type names ---- */

Test(value, parses_every_type_name_and_names_it_back)
{
    static const struct {
        const char *name;
        enum cu_ftype t;
    } names[] = {
        {"string", CU_FT_STRING}, {"name", CU_FT_NAME},        {"email", CU_FT_EMAIL},
        {"phone", CU_FT_PHONE},   {"card_number", CU_FT_CARD}, {"ssn", CU_FT_SSN},
        {"date", CU_FT_DATE},     {"address", CU_FT_ADDRESS},  {"text", CU_FT_TEXT},
    };
    cr_assert_eq(LEN(names), CU_FT__COUNT);
    for (size_t i = 0; i < LEN(names); i++) {
        enum cu_ftype t = CU_FT__COUNT;
        cr_assert_eq(cu_ftype_parse(names[i].name, &t), CU_OK, "%s", names[i].name);
        cr_expect_eq(t, names[i].t, "%s", names[i].name);
        cr_expect_str_eq(cu_ftype_name(t), names[i].name);
    }
}

Test(value, rejects_unknown_type_names)
{
    static const char *bad[] = {"",      "card", "Card_Number", "EMAIL",  "email ",
                                " text", "int",  "card-number", "phone\n"};
    for (size_t i = 0; i < LEN(bad); i++) {
        enum cu_ftype t = CU_FT_TEXT;
        cr_expect_eq(cu_ftype_parse(bad[i], &t), CU_ERR_INVALID, "\"%s\"", bad[i]);
        cr_expect_eq(t, CU_FT_TEXT, "out touched for \"%s\"", bad[i]);
    }
    enum cu_ftype t = CU_FT_TEXT;
    cr_expect_eq(cu_ftype_parse(NULL, &t), CU_ERR_INVALID);
}

Test(value, names_an_out_of_range_type_unknown)
{
    cr_expect_str_eq(cu_ftype_name(CU_FT__COUNT), "unknown");
    cr_expect_str_eq(cu_ftype_name((enum cu_ftype)(CU_FT__COUNT + 5)), "unknown");
}

Test(value, only_phone_card_number_and_ssn_are_digit_types)
{
    for (int t = 0; t < CU_FT__COUNT; t++) {
        int want = t == CU_FT_PHONE || t == CU_FT_CARD || t == CU_FT_SSN;
        cr_expect_eq(cu_ftype_digits((enum cu_ftype)t), want, "%s", cu_ftype_name(t));
    }
    cr_expect_eq(cu_ftype_digits(CU_FT__COUNT), 0);
}

Test(value, out_of_range_type_is_an_internal_error)
{
    char *out = NULL;
    size_t out_len = 0;
    const char *problem = NULL;
    cr_expect_eq(cu_value_normalize(CU_FT__COUNT, "x", 1, arena, &out, &out_len, &problem),
                 CU_ERR_INTERNAL);
    cr_expect_null(out);
    cr_expect_not_null(problem);
}

/* ---- card numbers ---- */

Test(value, accepts_card_numbers_and_keeps_only_digits)
{
    static const struct accept cases[] = {
        {"4111111111111111", NULL},
        {"4111 1111 1111 1111", "4111111111111111"},
        {"4111-1111-1111-1111", "4111111111111111"},
        {"4111 - 1111 - 1111 - 1111", "4111111111111111"},
        {" 4111111111111111 ", "4111111111111111"},
        {"5555555555554444", NULL},
        {"378282246310005", NULL},
        {"3782 822463 10005", "378282246310005"},
        {"6011111111111117", NULL},
        {"30569309025904", NULL},
        {"3530111333300000", NULL},
        {"4012888888881881", NULL},
        {"123456789015", NULL},        /* 12 digits */
        {"1234567890123456785", NULL}, /* 19 digits */
        {"1234-5678-9012-3456-785", "1234567890123456785"},
    };
    expect_accepts(CU_FT_CARD, cases, LEN(cases));
}

Test(value, rejects_malformed_card_numbers)
{
    static const struct reject cases[] = {
        {"4111111111111112", "Luhn"},
        {"4111 1111 1111 1112", "Luhn"},
        {"5555555555554445", "Luhn"},
        {"12345678903", "12 to 19"},          /* 11 digits, Luhn valid */
        {"40000000000000000002", "12 to 19"}, /* 20 digits, Luhn valid */
        {"4111.1111.1111.1111", "not allowed"},
        {"4111/1111/1111/1111", "not allowed"},
        {"4111 1111 1111 111a", "not allowed"},
        {"+4111111111111111", "not allowed"},
        {"４１１１１１１１１１１１１１１１", "not allowed"}, /* full-width digits */
        {"4111_1111_1111_1111", "not allowed"},
        {"    ", "12 to 19"},
        {"- - -", "12 to 19"},
        {"4111111111111111\n", "control"},
        {"4111\t1111111111111111", "control"},
    };
    expect_rejects(CU_FT_CARD, cases, LEN(cases));
}

Test(value, rejects_card_number_failing_luhn)
{
    /* every wrong last digit of a valid number fails */
    char card[] = "4111111111111111";
    for (char d = '0'; d <= '9'; d++) {
        if (d == '1') {
            continue;
        }
        card[15] = d;
        expect_reject_n(CU_FT_CARD, card, 16, "not a valid card number (Luhn check failed)", 0);
    }
}

Test(value, card_length_boundaries_are_12_and_19_digits)
{
    /* Luhn-valid numbers of 11, 12, 19 and 20 digits, so only the length decides */
    static const struct accept ok[] = {{"123456789015", NULL}, {"1234567890123456785", NULL}};
    static const struct reject bad[] = {{"12345678903", "12 to 19"},
                                        {"41111111111111111115", "12 to 19"}};
    expect_accepts(CU_FT_CARD, ok, LEN(ok));
    expect_rejects(CU_FT_CARD, bad, LEN(bad));
}

/* ---- Luhn ---- */

Test(value, luhn_check_digit_completes_known_card_numbers)
{
    static const char *cards[] = {"4111111111111111", "5555555555554444",    "378282246310005",
                                  "6011111111111117", "30569309025904",      "4012888888881881",
                                  "123456789015",     "1234567890123456785", "0"};
    for (size_t i = 0; i < LEN(cards); i++) {
        size_t n = strlen(cards[i]);
        cr_expect(cu_luhn_valid(cards[i], n), "%s", cards[i]);
        cr_expect_eq(cu_luhn_check_digit(cards[i], n - 1), cards[i][n - 1], "%s", cards[i]);
    }
}

Test(value, luhn_rejects_any_other_last_digit)
{
    char buf[32];
    static const char *prefixes[] = {"411111111111111", "555555555555444", "12345678901", "9"};
    for (size_t i = 0; i < LEN(prefixes); i++) {
        size_t n = strlen(prefixes[i]);
        memcpy(buf, prefixes[i], n);
        char good = cu_luhn_check_digit(prefixes[i], n);
        cr_assert(good >= '0' && good <= '9');
        int valid = 0;
        for (char d = '0'; d <= '9'; d++) {
            buf[n] = d;
            int v = cu_luhn_valid(buf, n + 1);
            cr_expect_eq(v, d == good, "%s + %c", prefixes[i], d);
            valid += v;
        }
        cr_expect_eq(valid, 1);
    }
}

Test(value, luhn_rejects_non_digits_and_empty_input)
{
    cr_expect_not(cu_luhn_valid("", 0));
    cr_expect_not(cu_luhn_valid("4111 1111 1111 1111", 19));
    cr_expect_not(cu_luhn_valid("411111111111111a", 16));
    cr_expect_eq(cu_luhn_check_digit("41111x", 6), '\0');
    cr_expect_eq(cu_luhn_check_digit("", 0), '0');
    /* only the first n bytes count */
    cr_expect(cu_luhn_valid("4111111111111111xyz", 16));
}

/* ---- phone numbers ---- */

Test(value, accepts_e164_phone_numbers_and_strips_separators)
{
    static const struct accept cases[] = {
        {"+14155550100", NULL},
        {"+1 415 555 0100", "+14155550100"},
        {"+1 (415) 555-0100", "+14155550100"},
        {"+1.415.555.0100", "+14155550100"},
        {"+44 20 7946 0958", "+442079460958"},
        {"+33-1-23-45-67-89", "+33123456789"},
        {"+8613800138000", NULL},
        {"  +14155550100  ", "+14155550100"},
        {"+(1) 4155550100", "+14155550100"},
        {"+12345678", NULL},        /* 8 digits */
        {"+123456789012345", NULL}, /* 15 digits */
        {"+1 234 567 890 123 45", "+123456789012345"},
    };
    expect_accepts(CU_FT_PHONE, cases, LEN(cases));
}

Test(value, rejects_malformed_phone_numbers)
{
    static const struct reject cases[] = {
        {"4155550100", "must start with '+'"},
        {"14155550100", "must start with '+'"},
        {"(415) 555-0100", "must start with '+'"},
        {"001 415 555 0100", "must start with '+'"},
        {"14155550100+", "must start with '+'"},
        {"++14155550100", "not allowed"},
        {"+1 415 555 0100 x12", "not allowed"},
        {"+1415555010O", "not allowed"},
        {"+1/415/555/0100", "not allowed"},
        {"+1_415_555_0100", "not allowed"},
        {"+1\302\2404155550100", "not allowed"}, /* U+00A0 no-break space, in octal */
        {"+04155550100", "must not start with 0"},
        {"+0 800 1234 567", "must not start with 0"},
        {"+", "8 to 15"},
        {"+1234567", "8 to 15"},          /* 7 digits */
        {"+1234567890123456", "8 to 15"}, /* 16 digits */
        {"+1\t4155550100", "control"},
    };
    expect_rejects(CU_FT_PHONE, cases, LEN(cases));
}

Test(value, phone_digit_count_boundaries_are_8_and_15)
{
    static const struct accept ok[] = {{"+12345678", NULL}, {"+123456789012345", NULL}};
    static const struct reject bad[] = {{"+1234567", "8 to 15"}, {"+1234567890123456", "8 to 15"}};
    expect_accepts(CU_FT_PHONE, ok, LEN(ok));
    expect_rejects(CU_FT_PHONE, bad, LEN(bad));
}

/* ---- email ---- */

#define L10 "abcdefghij"
#define L63 L10 L10 L10 L10 L10 L10 "abc"

Test(value, accepts_emails_and_lower_cases_only_the_domain)
{
    static const struct accept cases[] = {
        {"john.doe@example.com", NULL},
        {"John.Doe@EXAMPLE.COM", "John.Doe@example.com"},
        {"JOHN@Example.Co.UK", "JOHN@example.co.uk"},
        {"a@b.co", NULL},
        {"user+tag@sub.example.org", NULL},
        {"o'brien@example.ie", NULL},
        {"x!#$%&'*+-/=?^_`{|}~@example.com", NULL},
        {"a@xn--bcher-kva.example", NULL},
        {"a@1-2.example", NULL},
        {"a@a.b.c.d.e.f", NULL},
        {"first.middle.last@example.com", NULL},
        {"123@456.com", NULL},
        {L63 "a@example.com", NULL}, /* 64-byte local part */
        {"a@" L63 ".com", NULL},     /* 63-byte label */
    };
    expect_accepts(CU_FT_EMAIL, cases, LEN(cases));
}

/* The blind index of an email is taken over the case-folded address, so that a search spelled
 * in any case finds it; the stored (normalized) value keeps the local part's case. */
Test(value, an_email_is_indexed_case_folded_whatever_its_spelling)
{
    static const char *const spellings[] = {"ada@example.com", "ADA@EXAMPLE.COM",
                                            "Ada@Example.com", "aDa@eXample.CoM"};
    for (size_t i = 0; i < LEN(spellings); i++) {
        char *norm = NULL;
        size_t len = 0;
        cr_assert_eq(cu_value_normalize(CU_FT_EMAIL, spellings[i], strlen(spellings[i]), arena,
                                        &norm, &len, NULL),
                     CU_OK, "%s", spellings[i]);
        size_t il = 0;
        const char *form = cu_value_index_form(CU_FT_EMAIL, norm, len, arena, &il);
        cr_assert_eq(il, strlen("ada@example.com"));
        cr_assert_str_eq(form, "ada@example.com", "spelling %zu", i);
    }
    char *norm = NULL;
    size_t len = 0;
    cr_assert_eq(cu_value_normalize(CU_FT_EMAIL, "Ada@Example.com", 15, arena, &norm, &len, NULL),
                 CU_OK);
    cr_assert_str_eq(norm, "Ada@example.com", "the stored value lost the case it was given");
}

Test(value, only_emails_are_case_folded_for_the_index)
{
    static const enum cu_ftype others[] = {CU_FT_STRING, CU_FT_NAME, CU_FT_ADDRESS, CU_FT_TEXT};
    for (size_t i = 0; i < LEN(others); i++) {
        size_t il = 0;
        const char *form = cu_value_index_form(others[i], "Ada Lovelace", 12, arena, &il);
        cr_assert_str_eq(form, "Ada Lovelace");
        cr_assert_eq(il, 12);
    }
}

Test(value, rejects_malformed_emails)
{
    static const struct reject cases[] = {
        {"plainaddress", "exactly one '@'"},
        {"a@@example.com", "exactly one '@'"},
        {"a@b@example.com", "exactly one '@'"},
        {"@example.com", "local part must be 1 to 64"},
        {"john@", "domain must be 1 to 253"},
        {".john@example.com", "dot"},
        {"john.@example.com", "dot"},
        {"jo..hn@example.com", "dot"},
        {"\"john doe\"@example.com", "quoted"},
        {"\"john\"@example.com", "quoted"},
        {"john doe@example.com", "not allowed"},
        {"john(comment)@example.com", "not allowed"},
        {" john@example.com", "not allowed"},
        {"john@localhost", "at least one dot"},
        {"john@-example.com", "'-'"},
        {"john@example-.com", "'-'"},
        {"john@example..com", "1 to 63"},
        {"john@.example.com", "1 to 63"},
        {"john@example.com.", "1 to 63"},
        {"john@[192.168.0.1]", "not allowed"},
        {"john@exa_mple.com", "not allowed"},
        {"john@example.com ", "not allowed"},
        {L63 "ab@example.com", "local part must be 1 to 64"}, /* 65 bytes */
        {"a@" L63 "a.com", "1 to 63"},                        /* 64-byte label */
    };
    expect_rejects(CU_FT_EMAIL, cases, LEN(cases));
}

Test(value, rejects_idn_and_utf8_emails)
{
    static const struct reject cases[] = {
        {"jöhn@example.com", "non-ASCII"},
        {"john@exämple.com", "non-ASCII"},
        {"用户@例子.广告", "non-ASCII"},
        {"john@bücher.example", "non-ASCII"},
    };
    expect_rejects(CU_FT_EMAIL, cases, LEN(cases));
}

Test(value, email_length_boundary_is_254_bytes)
{
    /* 64 + '@' + 189 = 254, then one more byte in the domain */
    char buf[300];
    memset(buf, 'a', 64);
    buf[64] = '@';
    size_t n = 65;
    /* three 60-byte labels and dots (183), then a 6-byte last label: 189 */
    for (int k = 0; k < 3; k++) {
        memset(buf + n, 'b', 60);
        n += 60;
        buf[n++] = '.';
    }
    memcpy(buf + n, "cccccc", 6);
    n += 6;
    buf[n] = '\0';
    cr_assert_eq(n, 254);
    struct accept ok[] = {{buf, NULL}};
    expect_accepts(CU_FT_EMAIL, ok, 1);

    char longer[300];
    memcpy(longer, buf, n - 6);
    memcpy(longer + n - 6, "ccccccc", 8);
    cr_assert_eq(strlen(longer), 255);
    expect_reject_n(CU_FT_EMAIL, longer, 255, "longer than 254", 0);
}

/* ---- ssn ---- */

Test(value, accepts_ssns_in_either_form_and_writes_them_dashed)
{
    static const struct accept cases[] = {
        {"123-45-6789", NULL},        {"123456789", "123-45-6789"}, {"001-01-0001", NULL},
        {"001010001", "001-01-0001"}, {"665-99-9999", NULL},        {"667-01-0001", NULL},
        {"899-99-9999", NULL},        {"772-12-3456", NULL},        {"219099999", "219-09-9999"},
        {"078-05-1120", NULL},
    };
    expect_accepts(CU_FT_SSN, cases, LEN(cases));
}

Test(value, rejects_malformed_ssns)
{
    static const struct reject cases[] = {
        {"12345678", "AAA-GG-SSSS"},
        {"1234567890", "AAA-GG-SSSS"},
        {"123-456789", "AAA-GG-SSSS"},
        {"12-345-6789", "AAA-GG-SSSS"},
        {"123 45 6789", "AAA-GG-SSSS"},
        {"123-45-678a", "AAA-GG-SSSS"},
        {"12a456789", "AAA-GG-SSSS"},
        {"123\342\200\22345\342\200\2236789", "AAA-GG-SSSS"}, /* U+2013 en dashes, in octal */
        {"123-45-6789 ", "AAA-GG-SSSS"},
        {" 123456789", "AAA-GG-SSSS"},
        {"123-45-6789\n", "control"},
        {"123-00-4567", "group"},
        {"123000001", "group"},
        {"123-45-0000", "serial"},
    };
    expect_rejects(CU_FT_SSN, cases, LEN(cases));
}

Test(value, rejects_ssn_area_000_666_and_9xx)
{
    static const struct reject cases[] = {
        {"000-12-3456", "area"}, {"000123456", "area"},   {"666-12-3456", "area"},
        {"666123456", "area"},   {"900-12-3456", "area"}, {"950-12-3456", "area"},
        {"999-99-9999", "area"}, {"987654321", "area"},
    };
    expect_rejects(CU_FT_SSN, cases, LEN(cases));
}

/* ---- dates ---- */

Test(value, accepts_real_calendar_dates)
{
    static const struct accept cases[] = {
        {"2024-02-29", NULL}, {"2000-02-29", NULL}, {"1600-02-29", NULL}, {"0001-01-01", NULL},
        {"9999-12-31", NULL}, {"1980-04-12", NULL}, {"2023-01-31", NULL}, {"2023-04-30", NULL},
        {"2023-02-28", NULL}, {"1999-12-31", NULL}, {"0004-02-29", NULL},
    };
    expect_accepts(CU_FT_DATE, cases, LEN(cases));
}

Test(value, rejects_impossible_or_non_iso_dates)
{
    static const struct reject cases[] = {
        {"2023-02-29", "does not exist"}, {"1900-02-29", "does not exist"},
        {"2100-02-29", "does not exist"}, {"2023-04-31", "does not exist"},
        {"2023-01-32", "does not exist"}, {"2023-01-00", "does not exist"},
        {"2023-13-01", "month"},          {"2023-00-10", "month"},
        {"0000-01-01", "year"},           {"2023-1-01", "YYYY-MM-DD"},
        {"20230101", "YYYY-MM-DD"},       {"2023/01/01", "YYYY-MM-DD"},
        {"01-01-2023", "YYYY-MM-DD"},     {"2023-01-01T00:00:00Z", "YYYY-MM-DD"},
        {"10000-01-01", "YYYY-MM-DD"},    {"+2023-01-01", "YYYY-MM-DD"},
        {" 2023-01-01", "YYYY-MM-DD"},    {"2023-W01-1", "YYYY-MM-DD"},
        {"2023-+1-01", "YYYY-MM-DD"},
    };
    expect_rejects(CU_FT_DATE, cases, LEN(cases));
}

Test(value, february_29_is_valid_only_in_leap_years)
{
    static const struct accept ok[] = {{"2024-02-29", NULL}, {"2000-02-29", NULL}};
    static const struct reject bad[] = {{"2023-02-29", "does not exist"},
                                        {"1900-02-29", "does not exist"},
                                        {"2024-02-30", "does not exist"}};
    expect_accepts(CU_FT_DATE, ok, LEN(ok));
    expect_rejects(CU_FT_DATE, bad, LEN(bad));
}

/* ---- string, name, address, text ---- */

Test(value, accepts_names_byte_exact_after_trimming_spaces)
{
    static const struct accept cases[] = {
        {"Zoë Åkesson", NULL},
        {"  John Smith  ", "John Smith"},
        {"O'Brien-Smith", NULL},
        {"李小龍", NULL},
        {"Ólafur Ragnar Grímsson", NULL},
        {"José María  Aznar", NULL}, /* inner spaces are kept */
        {"\xF0\x9F\x99\x82", NULL},  /* U+1F642, four bytes */
        {"a", NULL},
        {" a ", "a"},
        {"Zoe\xCC\x88", NULL}, /* NFD stays NFD */
        {"'; DROP TABLE records; --", NULL},
    };
    expect_accepts(CU_FT_NAME, cases, LEN(cases));
    expect_accepts(CU_FT_STRING, cases, LEN(cases));
}

Test(value, rejects_names_with_controls_or_nothing_but_spaces)
{
    static const struct reject cases[] = {
        {" ", "empty"},
        {"     ", "empty"},
        {"John\nSmith", "control"},
        {"\tJohn", "control"},
        {"John\r", "control"},
        {"John\x7F", "control"},
        {"John\xC2\x85Smith", "control"}, /* U+0085 NEL */
        {"John\xC2\x9F", "control"},      /* U+009F */
        {"\x1B[31mJohn", "control"},
        {"John\x01", "control"},
    };
    expect_rejects(CU_FT_NAME, cases, LEN(cases));
    expect_rejects(CU_FT_STRING, cases, LEN(cases));
}

Test(value, keeps_latin1_supplement_letters_next_to_c1_controls)
{
    /* U+00A0 and U+00FF share the C2/C3 lead bytes with C1 controls but are not controls */
    static const struct accept cases[] = {
        {"a\302\240b", NULL}, {"\xC3\xBF", NULL}, {"\xC2\xBF", NULL}};
    expect_accepts(CU_FT_NAME, cases, LEN(cases));
}

Test(value, name_and_string_are_limited_to_1024_bytes_after_trimming)
{
    char *buf = malloc(1100);
    memset(buf, 'x', 1100);
    for (int t = CU_FT_STRING; t <= CU_FT_NAME; t++) {
        char *out = NULL;
        size_t out_len = 0;
        const char *problem = NULL;
        cr_expect_eq(cu_value_normalize(t, buf, 1024, arena, &out, &out_len, &problem), CU_OK);
        cr_expect_eq(out_len, 1024);
        expect_reject_n(t, buf, 1025, "longer than 1024", 0);
    }
    /* spaces around 1024 bytes do not count */
    memset(buf, ' ', 1100);
    memset(buf + 30, 'y', 1024);
    char *out = NULL;
    size_t out_len = 0;
    const char *problem = NULL;
    cr_expect_eq(cu_value_normalize(CU_FT_NAME, buf, 1100, arena, &out, &out_len, &problem), CU_OK);
    cr_expect_eq(out_len, 1024);
    cr_expect_eq(out[0], 'y');
    cr_expect_eq(out[1023], 'y');
    free(buf);
}

Test(value, address_keeps_line_breaks_and_trims_only_spaces)
{
    static const struct accept cases[] = {
        {"1 Main St\nSpringfield, IL 62701", NULL},
        {"Flat 3\r\n1 High St\r\nLondon", NULL},
        {"  1 Main St  ", "1 Main St"},
        {"\t1 Main St\t", NULL},
        {" \n1 Main St\n ", "\n1 Main St\n"},
        {"Åkervägen 12\n123 45 Göteborg", NULL},
        {"'; DROP TABLE records; --", NULL},
    };
    static const struct reject bad[] = {
        {"  ", "empty"},
        {"1 Main St\x01", "control"},
        {"\x1B[2J1 Main St", "control"},
        {"1 Main St\x7F", "control"},
        {"1 Main\xC2\x85St", "control"},
        {"1 Main St\v", "control"},
        {"1 Main St\f", "control"},
    };
    expect_accepts(CU_FT_ADDRESS, cases, LEN(cases));
    expect_rejects(CU_FT_ADDRESS, bad, LEN(bad));
}

Test(value, text_is_kept_byte_exact_including_surrounding_spaces)
{
    static const struct accept cases[] = {
        {"  hello  ", NULL},
        {" ", NULL},
        {"line1\r\nline2\ttab\n", NULL},
        {"<script>alert(1)</script>", NULL},
        {"Robert'); DROP TABLE Students;--", NULL},
        {"%s%s%s%n", NULL},
        {"${jndi:ldap://x/a}", NULL},
        {"\342\200\256evil", NULL}, /* U+202E is a format character, not a control */
        {"\xEF\xBF\xBF", NULL},     /* U+FFFF is a noncharacter, still valid UTF-8 */
    };
    static const struct reject bad[] = {
        {"bell\x07", "control"},
        {"\x1B[2J", "control"},
        {"del\x7F", "control"},
        {"nel\xC2\x85", "control"},
    };
    expect_accepts(CU_FT_TEXT, cases, LEN(cases));
    expect_rejects(CU_FT_TEXT, bad, LEN(bad));
}

Test(value, sql_shaped_strings_are_data_and_kept_byte_exact)
{
    static const struct accept cases[] = {
        {"'; DROP TABLE records; --", NULL},        {"1' OR '1'='1", NULL},
        {"\\'; SELECT pg_sleep(10); --", NULL},     {"$$; TRUNCATE audit; $$", NULL},
        {"Robert'); DROP TABLE Students;--", NULL},
    };
    expect_accepts(CU_FT_TEXT, cases, LEN(cases));
    expect_accepts(CU_FT_STRING, cases, LEN(cases));
    expect_accepts(CU_FT_NAME, cases, LEN(cases));
    expect_accepts(CU_FT_ADDRESS, cases, LEN(cases));
}

Test(value, keeps_nfc_and_nfd_forms_apart)
{
    /* no Unicode normalization: the blind index sees different bytes, by design */
    char *nfc = NULL;
    char *nfd = NULL;
    size_t nfc_len = 0;
    size_t nfd_len = 0;
    const char *problem = NULL;
    cr_assert_eq(cu_value_normalize(CU_FT_NAME, "Zo\xC3\xAB", 4, arena, &nfc, &nfc_len, &problem),
                 CU_OK);
    cr_assert_eq(cu_value_normalize(CU_FT_NAME, "Zoe\xCC\x88", 5, arena, &nfd, &nfd_len, &problem),
                 CU_OK);
    cr_expect_str_eq(nfc, "Zo\xC3\xAB");
    cr_expect_str_eq(nfd, "Zoe\xCC\x88");
    cr_expect_str_neq(nfc, nfd);
}

/* ---- rules shared by every type ---- */

Test(value, rejects_invalid_utf8_for_every_type)
{
    static const char *bad[] = {
        "\xC0\xAF",         /* overlong '/' */
        "\xC1\xBF",         /* overlong */
        "\xE0\x80\xAF",     /* overlong, three bytes */
        "\xF0\x80\x80\xAF", /* overlong, four bytes */
        "\xED\xA0\x80",     /* surrogate U+D800 */
        "\xED\xBF\xBF",     /* surrogate U+DFFF */
        "\xF4\x90\x80\x80", /* U+110000 */
        "\xF5\x80\x80\x80", /* lead byte beyond U+10FFFF */
        "\xFF",
        "\x80", /* lone continuation */
        "\xBF",
        "\xE2\x82",     /* truncated euro sign */
        "\xF0\x9F\x99", /* truncated emoji */
        "\xC3",         /* truncated */
        "\xC3\x28",     /* lead byte, then no continuation */
    };
    /* at the start, in the middle and at the end of a value otherwise valid for most types */
    static const char *shapes[] = {"%s4111111111111111", "4111111111%s111111", "+14155550100%s"};
    for (int t = 0; t < CU_FT__COUNT; t++) {
        for (size_t i = 0; i < LEN(bad); i++) {
            expect_reject_n(t, bad[i], strlen(bad[i]), "not valid UTF-8", i);
            for (size_t s = 0; s < LEN(shapes); s++) {
                char buf[64];
                const char *at = strstr(shapes[s], "%s");
                size_t pre = (size_t)(at - shapes[s]);
                size_t n = 0;
                memcpy(buf, shapes[s], pre);
                n += pre;
                memcpy(buf + n, bad[i], strlen(bad[i]));
                n += strlen(bad[i]);
                strcpy(buf + n, at + 2);
                expect_reject_n(t, buf, strlen(buf), "not valid UTF-8", i);
            }
        }
    }
}

Test(value, accepts_utf8_at_every_length_boundary)
{
    static const char *good[] = {
        "\x7F",             /* U+007F (a control, but valid UTF-8) */
        "\xC2\x80",         /* U+0080 */
        "\xDF\xBF",         /* U+07FF */
        "\xE0\xA0\x80",     /* U+0800 */
        "\xED\x9F\xBF",     /* U+D7FF */
        "\xEE\x80\x80",     /* U+E000 */
        "\xEF\xBF\xBF",     /* U+FFFF */
        "\xF0\x90\x80\x80", /* U+10000 */
        "\xF4\x8F\xBF\xBF", /* U+10FFFF */
        "plain ascii",
    };
    for (size_t i = 0; i < LEN(good); i++) {
        cr_expect(cu_utf8_valid((const uint8_t *)good[i], strlen(good[i])), "case %zu", i);
    }
    cr_expect(cu_utf8_valid(NULL, 0));
    cr_expect(cu_utf8_valid((const uint8_t *)"a\0b", 3));
}

Test(value, utf8_validator_rejects_each_malformation)
{
    static const char *bad[] = {
        "\xC0\xAF",
        "\xC1\xBF",
        "\xE0\x80\xAF",
        "\xE0\x9F\xBF",
        "\xF0\x80\x80\xAF",
        "\xF0\x8F\xBF\xBF",
        "\xED\xA0\x80",
        "\xED\xBF\xBF",
        "\xF4\x90\x80\x80",
        "\xF5\x80\x80\x80",
        "\xF8\x88\x80\x80\x80",
        "\xFE",
        "\xFF",
        "\x80",
        "\xE2\x82",
        "\xF0\x9F\x99",
        "\xC2\x41",
        "\xE2\x28\xA1",
        "a\xE2\x82",
    };
    for (size_t i = 0; i < LEN(bad); i++) {
        cr_expect_not(cu_utf8_valid((const uint8_t *)bad[i], strlen(bad[i])), "case %zu", i);
    }
    /* a sequence cut by the length, though the buffer goes on */
    cr_expect_not(cu_utf8_valid((const uint8_t *)"\xE2\x82\xAC", 2));
}

Test(value, rejects_nul_byte_for_every_type)
{
    static const struct {
        const char *in;
        size_t len;
    } cases[] = {
        {"\0", 1},
        {"4111111111111111\0", 17},
        {"+14155550100\0", 13},
        {"john\0@example.com", 17},
        {"123-45-\0006789", 12},
        {"2024-02-29\0", 11},
        {"Zo\0e", 4},
    };
    for (int t = 0; t < CU_FT__COUNT; t++) {
        for (size_t i = 0; i < LEN(cases); i++) {
            expect_reject_n(t, cases[i].in, cases[i].len, "NUL", i);
        }
    }
}

Test(value, rejects_empty_value_for_every_type)
{
    for (int t = 0; t < CU_FT__COUNT; t++) {
        expect_reject_n(t, "", 0, "empty", 0);
        expect_reject_n(t, NULL, 0, "empty", 1);
    }
}

Test(value, rejects_control_characters_outside_text_and_address)
{
    static const char *layout[] = {"a\tb", "a\nb", "a\rb"};
    for (int t = 0; t < CU_FT__COUNT; t++) {
        int allowed = t == CU_FT_TEXT || t == CU_FT_ADDRESS;
        for (size_t i = 0; i < LEN(layout); i++) {
            if (allowed) {
                struct accept ok[] = {{layout[i], NULL}};
                expect_accepts(t, ok, 1);
            } else {
                expect_reject_n(t, layout[i], 3, "control", i);
            }
        }
        for (int c = 1; c < 0x20; c++) {
            if (allowed && (c == '\t' || c == '\n' || c == '\r')) {
                continue;
            }
            char buf[4] = {'a', (char)c, 'b', '\0'};
            expect_reject_n(t, buf, 3, "control", (size_t)c);
        }
    }
}

Test(value, value_of_65536_bytes_is_accepted_and_65537_rejected)
{
    char *buf = malloc(CU_VALUE_MAX + 2);
    memset(buf, 'a', CU_VALUE_MAX + 1);
    buf[CU_VALUE_MAX + 1] = '\0';
    for (int t = CU_FT_ADDRESS; t <= CU_FT_TEXT; t++) {
        char *out = NULL;
        size_t out_len = 0;
        const char *problem = NULL;
        cr_expect_eq(cu_value_normalize(t, buf, CU_VALUE_MAX, arena, &out, &out_len, &problem),
                     CU_OK, "%s", cu_ftype_name(t));
        cr_expect_eq(out_len, CU_VALUE_MAX);
        cr_expect_eq(out[CU_VALUE_MAX], '\0');
    }
    for (int t = 0; t < CU_FT__COUNT; t++) {
        expect_reject_n(t, buf, CU_VALUE_MAX + 1, "longer than 65536", 0);
    }
    free(buf);
}

Test(value, problems_never_contain_the_value)
{
    /* distinctive invalid values, one or more per type, checked for each rule they break */
    static const struct {
        enum cu_ftype t;
        const char *in;
    } cases[] = {
        {CU_FT_EMAIL, "SECRET7731@@example.com"},
        {CU_FT_EMAIL, "SECRET7731@localhost"},
        {CU_FT_EMAIL, "SECRET7731\xC3\xA9@example.com"},
        {CU_FT_PHONE, "+SECRET7731"},
        {CU_FT_PHONE, "+7731773"},
        {CU_FT_PHONE, "77317731773"},
        {CU_FT_CARD, "4111SECRET7731"},
        {CU_FT_CARD, "7731773177317731"},
        {CU_FT_SSN, "SECRET773"},
        {CU_FT_SSN, "773-00-7731"},
        {CU_FT_DATE, "7731-77-31"},
        {CU_FT_NAME, "SECRET7731\x01"},
        {CU_FT_STRING, "SECRET7731\xC0\xAF"},
        {CU_FT_ADDRESS, "SECRET7731\x1B"},
        {CU_FT_TEXT, "SECRET7731\xED\xA0\x80"},
    };
    for (size_t i = 0; i < LEN(cases); i++) {
        char *out = NULL;
        size_t out_len = 0;
        const char *problem = NULL;
        cu_err_clear();
        enum cu_err rc = cu_value_normalize(cases[i].t, cases[i].in, strlen(cases[i].in), arena,
                                            &out, &out_len, &problem);
        cr_assert_eq(rc, CU_ERR_INVALID, "case %zu", i);
        cr_assert_not_null(problem);
        cr_expect_null(strstr(problem, cases[i].in), "case %zu", i);
        cr_expect_null(strstr(problem, "SECRET"), "case %zu", i);
        cr_expect_null(strstr(problem, "7731"), "case %zu", i);
        /* nor does the reason that goes to the log */
        cr_expect_neq(cu_err_reason()[0], '\0', "case %zu", i);
        cr_expect_null(strstr(cu_err_reason(), "SECRET"), "case %zu", i);
        cr_expect_null(strstr(cu_err_reason(), "7731"), "case %zu", i);
    }
}

Test(value, problem_is_a_fixed_text_shared_by_equal_failures)
{
    const char *p1 = NULL;
    const char *p2 = NULL;
    char *out = NULL;
    size_t out_len = 0;
    cr_assert_eq(cu_value_normalize(CU_FT_CARD, "4111111111111112", 16, arena, &out, &out_len, &p1),
                 CU_ERR_INVALID);
    cr_assert_eq(cu_value_normalize(CU_FT_CARD, "5555555555554445", 16, arena, &out, &out_len, &p2),
                 CU_ERR_INVALID);
    cr_expect_eq(p1, p2);
    cr_expect_str_eq(p1, "not a valid card number (Luhn check failed)");
}

Test(value, problem_pointer_may_be_null)
{
    char *out = NULL;
    size_t out_len = 0;
    cr_expect_eq(cu_value_normalize(CU_FT_DATE, "2023-02-29", 10, arena, &out, &out_len, NULL),
                 CU_ERR_INVALID);
    cr_expect_eq(cu_value_normalize(CU_FT_DATE, "2024-02-29", 10, arena, &out, &out_len, NULL),
                 CU_OK);
    cr_expect_str_eq(out, "2024-02-29");
}

Test(value, reads_only_the_given_length)
{
    /* values arrive as (pointer, length) from JSON; bytes past len are not part of them */
    char *out = NULL;
    size_t out_len = 0;
    const char *problem = NULL;
    cr_expect_eq(
        cu_value_normalize(CU_FT_DATE, "2024-02-29xyz", 10, arena, &out, &out_len, &problem),
        CU_OK);
    cr_expect_str_eq(out, "2024-02-29");
    cr_expect_eq(cu_value_normalize(CU_FT_SSN, "123456789000", 9, arena, &out, &out_len, &problem),
                 CU_OK);
    cr_expect_str_eq(out, "123-45-6789");
}
