/* Masked and redacted forms of every field type, including multi-byte and short values. */
#include <criterion/criterion.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"
#include "service/mask.h"
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

TestSuite(mask, .init = setup, .fini = teardown);

struct masked {
    const char *in;
    const char *want;
};

static void
expect_masks(enum cu_ftype t, const struct masked *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *out = NULL;
        cr_assert_eq(cu_mask(t, cases[i].in, strlen(cases[i].in), arena, &out), CU_OK,
                     "%s case %zu", cu_ftype_name(t), i);
        cr_assert_not_null(out);
        cr_expect_str_eq(out, cases[i].want, "%s case %zu: \"%s\" masked to \"%s\", want \"%s\"",
                         cu_ftype_name(t), i, cases[i].in, out, cases[i].want);
    }
}

static size_t
code_points(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++) {
        n += ((unsigned char)*s & 0xC0) != 0x80;
    }
    return n;
}

Test(mask, masks_card_numbers_keeping_the_last_four_digits)
{
    static const struct masked cases[] = {
        {"4111111111111111", "************1111"}, {"378282246310005", "***********0005"},
        {"123456789015", "********9015"},         {"1234567890123456785", "***************6785"},
        {"5555555555554444", "************4444"},
    };
    expect_masks(CU_FT_CARD, cases, LEN(cases));
}

Test(mask, masks_ssn_keeping_the_serial_and_dashes)
{
    static const struct masked cases[] = {
        {"123-45-6789", "***-**-6789"},
        {"001-01-0001", "***-**-0001"},
        {"899-99-9999", "***-**-9999"},
    };
    expect_masks(CU_FT_SSN, cases, LEN(cases));
}

Test(mask, masks_email_with_first_character_three_stars_and_domain)
{
    static const struct masked cases[] = {
        {"john@example.com", "j***@example.com"},
        {"j@example.com", "j***@example.com"},
        {"jo@example.com", "j***@example.com"},
        {"John.Doe@example.com", "J***@example.com"},
        {"averyveryverylonglocalpart@x.org", "a***@x.org"},
        {"+tag@example.com", "+***@example.com"},
    };
    expect_masks(CU_FT_EMAIL, cases, LEN(cases));
}

Test(mask, masks_phone_keeping_plus_and_last_four_digits)
{
    static const struct masked cases[] = {
        {"+14155550100", "+*******0100"},
        {"+12345678", "+****5678"},
        {"+123456789012345", "+***********2345"},
        {"+442079460958", "+********0958"},
    };
    expect_masks(CU_FT_PHONE, cases, LEN(cases));
}

Test(mask, masks_long_multibyte_names_keeping_the_last_four_code_points)
{
    static const struct masked cases[] = {
        {"Zoë Åkesson", "*******sson"},
        {"Björn Ångström", "**********tröm"},
        {"Ólafur Grímsson", "***********sson"},
        {"Zoë Åkessøñ", "*******ssøñ"},
        {"Ann Leez", "****Leez"},                /* exactly 8: the last 4 are kept */
        {"李小龍李小龍李小", "****小龍李小"},    /* 8 three-byte code points */
        {"Zoe\xCC\x88 Akesson", "********sson"}, /* a combining mark is a code point */
    };
    expect_masks(CU_FT_NAME, cases, LEN(cases));
    expect_masks(CU_FT_STRING, cases, LEN(cases));
}

Test(mask, masks_short_values_entirely_one_star_per_code_point)
{
    /* "Ann Lee" and "Åsa Öst" have 7 code points, one short of showing anything */
    static const struct masked cases[] = {
        {"Zoë", "***"},    {"Ann Lee", "*******"},
        {"李小龍", "***"}, {"Åsa Öst", "*******"},
        {"a", "*"},        {"\xF0\x9F\x99\x82\xF0\x9F\x99\x82", "**"},
    };
    expect_masks(CU_FT_NAME, cases, LEN(cases));
    expect_masks(CU_FT_TEXT, cases, LEN(cases));
}

Test(mask, masks_dates_addresses_and_text_as_generic_values)
{
    static const struct masked dates[] = {{"1980-04-12", "******4-12"}};
    static const struct masked addresses[] = {
        {"1 Main St\nSpringfield", "*****************ield"},
        {"Åkervägen 12", "********n 12"},
    };
    static const struct masked texts[] = {
        {"call me back tomorrow", "*****************rrow"},
        {"Hello \xF0\x9F\x99\x82\xF0\x9F\x99\x82\xF0\x9F\x99\x82\xF0\x9F\x99\x82",
         "******\xF0\x9F\x99\x82\xF0\x9F\x99\x82\xF0\x9F\x99\x82\xF0\x9F\x99\x82"},
    };
    expect_masks(CU_FT_DATE, dates, LEN(dates));
    expect_masks(CU_FT_ADDRESS, addresses, LEN(addresses));
    expect_masks(CU_FT_TEXT, texts, LEN(texts));
}

Test(mask, falls_back_to_the_generic_mask_for_values_out_of_shape)
{
    /* a stored value that is not in its type's normalized form never shows more than 4 */
    static const struct masked ssn[] = {{"123456789", "*****6789"}, {"12-3", "****"}};
    static const struct masked phone[] = {
        {"4155550100", "******0100"}, {"+1234567", "****4567"}, {"+1 415 555", "****** 555"}};
    static const struct masked email[] = {{"nobody", "******"},
                                          {"@example.com", "********.com"},
                                          {"john@", "*****"},
                                          {"ö@example.com", "*********.com"}};
    static const struct masked card[] = {{"41111", "*****"}, {"1234567", "*******"}};
    expect_masks(CU_FT_SSN, ssn, LEN(ssn));
    expect_masks(CU_FT_PHONE, phone, LEN(phone));
    expect_masks(CU_FT_EMAIL, email, LEN(email));
    expect_masks(CU_FT_CARD, card, LEN(card));
}

Test(mask, generic_mask_never_shows_more_than_four_code_points)
{
    /* prefixes of a mixed one-to-four-byte string, at every length */
    const char *s = "aé€\xF0\x9F\x99\x82"
                    "bç₤\xF0\x9F\x98\x80"
                    "cñ¥\xF0\x9F\x98\x8E";
    size_t total = strlen(s);
    for (size_t n = 1; n <= total; n++) {
        if (n < total && ((unsigned char)s[n] & 0xC0) == 0x80) {
            continue; /* not a code point boundary */
        }
        char *out = NULL;
        cr_assert_eq(cu_mask(CU_FT_TEXT, s, n, arena, &out), CU_OK);
        char prefix[64];
        memcpy(prefix, s, n);
        prefix[n] = '\0';
        size_t points = code_points(prefix);
        cr_expect_eq(code_points(out), points, "n=%zu", n);
        size_t shown = code_points(out + strspn(out, "*"));
        cr_expect_eq(shown, points >= 8 ? 4 : 0, "n=%zu", n);
        cr_expect(cu_utf8_valid((const uint8_t *)out, strlen(out)), "n=%zu", n);
    }
}

Test(mask, masks_what_normalization_produced_for_every_type)
{
    static const struct {
        enum cu_ftype t;
        const char *in;
        const char *want;
    } cases[] = {
        {CU_FT_CARD, "4111 1111 1111 1111", "************1111"},
        {CU_FT_SSN, "123456789", "***-**-6789"},
        {CU_FT_EMAIL, "John@EXAMPLE.com", "J***@example.com"},
        {CU_FT_PHONE, "+1 (415) 555-0100", "+*******0100"},
        {CU_FT_DATE, "2024-02-29", "******2-29"},
        {CU_FT_NAME, "  Zoë Åkesson  ", "*******sson"},
        {CU_FT_STRING, " crm-42 ", "******"},
        {CU_FT_ADDRESS, " 1 Main St ", "*****n St"},
        {CU_FT_TEXT, " hi ", "****"},
    };
    for (size_t i = 0; i < LEN(cases); i++) {
        char *norm = NULL;
        size_t norm_len = 0;
        const char *problem = NULL;
        cr_assert_eq(cu_value_normalize(cases[i].t, cases[i].in, strlen(cases[i].in), arena, &norm,
                                        &norm_len, &problem),
                     CU_OK, "case %zu: %s", i, problem != NULL ? problem : "");
        char *out = NULL;
        cr_assert_eq(cu_mask(cases[i].t, norm, norm_len, arena, &out), CU_OK);
        cr_expect_str_eq(out, cases[i].want, "case %zu: got \"%s\"", i, out);
    }
}

Test(mask, empty_value_masks_to_empty)
{
    for (int t = 0; t < CU_FT__COUNT; t++) {
        char *out = NULL;
        cr_assert_eq(cu_mask(t, NULL, 0, arena, &out), CU_OK);
        cr_expect_str_eq(out, "");
    }
}

Test(mask, out_of_range_type_is_an_internal_error)
{
    char *out = (char *)"unset";
    cr_expect_eq(cu_mask(CU_FT__COUNT, "x", 1, arena, &out), CU_ERR_INTERNAL);
    cr_expect_null(out);
}

Test(mask, redacted_is_the_fixed_text)
{
    cr_expect_str_eq(cu_redacted(), "[REDACTED]");
    cr_expect_eq(cu_redacted(), cu_redacted());
}
