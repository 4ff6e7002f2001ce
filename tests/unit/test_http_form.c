/* The form body parser (http/form.c): decoding, skipped empty pairs, and every refusal, with
 * details that never quote the body. */
#include <criterion/criterion.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"
#include "http/http.h"

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

TestSuite(form, .init = setup, .fini = teardown);

static enum cu_err
parse(const char *body, struct cu_form *f, const char **detail)
{
    return cu_form_parse(arena, (const uint8_t *)body, strlen(body), f, detail);
}

Test(form, decodes_plus_percent_escapes_and_skips_empty_pairs)
{
    struct cu_form f;
    const char *detail;
    cr_assert_eq(parse("&card=4111+1111%2D1111%201111&&name=J%C3%A9r%c3%b4me&flag&", &f, &detail),
                 CU_OK);
    cr_assert_eq(f.n, 3);
    cr_assert_str_eq(f.fields[0].name, "card");
    cr_assert_str_eq(f.fields[0].value, "4111 1111-1111 1111");
    cr_assert_eq(f.fields[0].len, 19);
    cr_assert_str_eq(f.fields[1].name, "name");
    cr_assert_str_eq(f.fields[1].value, "J\xc3\xa9r\xc3\xb4me");
    cr_assert_str_eq(f.fields[2].name, "flag");
    cr_assert_str_eq(f.fields[2].value, "");
    cr_assert_eq(f.fields[2].len, 0);
}

Test(form, an_empty_body_is_an_empty_form)
{
    struct cu_form f;
    const char *detail;
    cr_assert_eq(cu_form_parse(arena, NULL, 0, &f, &detail), CU_OK);
    cr_assert_eq(f.n, 0);
    cr_assert_eq(parse("&&&", &f, &detail), CU_OK);
    cr_assert_eq(f.n, 0);
}

Test(form, an_equals_sign_in_a_value_is_kept)
{
    struct cu_form f;
    const char *detail;
    cr_assert_eq(parse("a=b=c&d=%3D", &f, &detail), CU_OK);
    cr_assert_str_eq(f.fields[0].value, "b=c");
    cr_assert_str_eq(f.fields[1].value, "=");
}

Test(form, refuses_malformed_bodies_with_details_that_never_quote_them)
{
    const char *bad[] = {
        "card=4111%",    "card=4111%4", "card=%g1",  "card=%1g",    "card=41%00",
        "ca%00rd=1",     "=4111",       "ca rd=1",   "c%C3%A4rd=1", "card=1&card=2",
        "card=1&card=1", "a;b=1",       "ca%2Frd=1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cu_form f;
        const char *detail = NULL;
        cr_assert_eq(parse(bad[i], &f, &detail), CU_ERR_BAD_REQUEST, "%s", bad[i]);
        cr_assert_not_null(detail, "%s", bad[i]);
        cr_assert_null(strstr(detail, "4111"), "%s", detail);
        cr_assert_null(strstr(detail, "card"), "%s", detail);
    }
}

Test(form, refuses_names_over_64_bytes_and_more_than_64_fields)
{
    struct cu_form f;
    const char *detail;
    char name[80];
    memset(name, 'a', 65);
    strcpy(name + 65, "=1");
    cr_assert_eq(parse(name, &f, &detail), CU_ERR_BAD_REQUEST);
    name[64] = '=';
    name[65] = '1';
    name[66] = '\0';
    cr_assert_eq(parse(name, &f, &detail), CU_OK);
    char body[1024] = "";
    for (int i = 0; i < CU_FORM_MAX_FIELDS; i++) {
        snprintf(body + strlen(body), sizeof(body) - strlen(body), "%sf%d=", i ? "&" : "", i);
    }
    cr_assert_eq(parse(body, &f, &detail), CU_OK);
    cr_assert_eq(f.n, CU_FORM_MAX_FIELDS);
    strcat(body, "&one=more");
    cr_assert_eq(parse(body, &f, &detail), CU_ERR_BAD_REQUEST);
}
