/* Scope grammar and detokenize levels: table-driven. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "auth/scope.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

Test(auth_scope, has_matches_exactly_the_known_simple_scopes)
{
    static const char *const granted[] = {
        "vault:admin", "tenant:admin",  "records:write", "records:delete", "records:search",
        "dsr:manage",  "consent:write", "audit:read",    "records:verify", "interactions:write"};
    for (size_t i = 0; i < N(granted); i++) {
        cr_assert_eq(cu_scope_has(granted, N(granted), granted[i]), 1, "%s", granted[i]);
        cr_assert_eq(cu_scope_has(granted, i, granted[i]), 0, "%s absent", granted[i]);
    }
    static const struct {
        const char *const scopes[3];
        size_t n;
        const char *ask;
        int want;
    } cases[] = {
        {{"records:write"}, 1, "records:write", 1},
        {{"records:write"}, 1, "records:writ", 0},
        {{"records:write"}, 1, "Records:write", 0},
        {{"records:writes"}, 1, "records:write", 0},
        {{"RECORDS:WRITE"}, 1, "records:write", 0},
        {{"records:write "}, 1, "records:write", 0},
        {{"vault:tokenize"}, 1, "vault:tokenize", 0}, /* unknown names never grant */
        {{"detokenize:a.b:plain"}, 1, "detokenize:a.b:plain", 0},
        {{"unknown", "audit:read"}, 2, "audit:read", 1},
        {{"audit:read"}, 0, "audit:read", 0},
        {{"audit:read"}, 1, NULL, 0},
        {{"audit:read"}, 1, "", 0},
    };
    for (size_t i = 0; i < N(cases); i++) {
        cr_assert_eq(cu_scope_has(cases[i].scopes, cases[i].n, cases[i].ask), cases[i].want,
                     "case %zu", i);
    }
}

Test(auth_scope, level_is_the_highest_matching_detokenize_grant)
{
    static const struct {
        const char *const scopes[4];
        size_t n;
        const char *collection;
        const char *field;
        enum cu_level want;
    } cases[] = {
        {{"detokenize:customers.email:plain"}, 1, "customers", "email", CU_LEVEL_PLAIN},
        {{"detokenize:customers.email:masked"}, 1, "customers", "email", CU_LEVEL_MASKED},
        {{"detokenize:customers.email:redacted"}, 1, "customers", "email", CU_LEVEL_REDACTED},
        {{"detokenize:customers.email:plain"}, 1, "customers", "phone", CU_LEVEL_NONE},
        {{"detokenize:customers.email:plain"}, 1, "orders", "email", CU_LEVEL_NONE},
        {{"detokenize:customers.*:masked"}, 1, "customers", "phone", CU_LEVEL_MASKED},
        {{"detokenize:*.email:plain"}, 1, "orders", "email", CU_LEVEL_PLAIN},
        {{"detokenize:*.*:redacted"}, 1, "a", "b", CU_LEVEL_REDACTED},
        {{"detokenize:*.*:redacted", "detokenize:c.f:plain"}, 2, "c", "f", CU_LEVEL_PLAIN},
        {{"detokenize:c.f:masked", "detokenize:*.*:plain"}, 2, "c", "f", CU_LEVEL_PLAIN},
        {{"detokenize:c.f:plain", "detokenize:c.f:redacted"}, 2, "c", "f", CU_LEVEL_PLAIN},
        {{"detokenize:c.f:plain"}, 0, "c", "f", CU_LEVEL_NONE},
        /* malformed scopes grant nothing, and are not errors */
        {{"detokenize:c.f:PLAIN"}, 1, "c", "f", CU_LEVEL_NONE},
        {{"detokenize:c.f:none"}, 1, "c", "f", CU_LEVEL_NONE},
        {{"detokenize:c.f:plain:x"}, 1, "c", "f", CU_LEVEL_NONE},
        {{"detokenize:c.f"}, 1, "c", "f", CU_LEVEL_NONE},
        {{"detokenize:c:plain"}, 1, "c", "f", CU_LEVEL_NONE},
        {{"detokenize:C.f:plain"}, 1, "C", "f", CU_LEVEL_NONE},
        {{"detokenize:1c.f:plain"}, 1, "1c", "f", CU_LEVEL_NONE},
        {{"detokenize:c.f-x:plain"}, 1, "c", "f-x", CU_LEVEL_NONE},
        {{"detokenize:c*.f:plain"}, 1, "cx", "f", CU_LEVEL_NONE},
        {{"detokenize:**.f:plain"}, 1, "c", "f", CU_LEVEL_NONE},
        {{"detokenize:.f:plain"}, 1, "", "f", CU_LEVEL_NONE},
        {{"detokenize:c.:plain"}, 1, "c", "", CU_LEVEL_NONE},
        {{"detokenize:c.f.g:plain"}, 1, "c", "f.g", CU_LEVEL_NONE},
        {{"Detokenize:c.f:plain"}, 1, "c", "f", CU_LEVEL_NONE},
        {{"detokenize:c.f:plain "}, 1, "c", "f", CU_LEVEL_NONE},
        {{"records:write"}, 1, "c", "f", CU_LEVEL_NONE},
        {{"detokenize:c_1.f_2:masked"}, 1, "c_1", "f_2", CU_LEVEL_MASKED},
        {{"detokenize:c.f:plain"}, 1, "c", "F", CU_LEVEL_NONE},
    };
    for (size_t i = 0; i < N(cases); i++) {
        enum cu_level got =
            cu_scope_level(cases[i].scopes, cases[i].n, cases[i].collection, cases[i].field);
        cr_assert_eq(got, cases[i].want, "case %zu: got %s", i, cu_level_name(got));
    }
}

Test(auth_scope, level_accepts_identifiers_up_to_63_characters_only)
{
    char c63[64];
    memset(c63, 'c', 63);
    c63[63] = '\0';
    char scope[200];
    snprintf(scope, sizeof(scope), "detokenize:%s.f:plain", c63);
    const char *const s1[] = {scope};
    cr_assert_eq(cu_scope_level(s1, 1, c63, "f"), CU_LEVEL_PLAIN);
    char c64[65];
    memset(c64, 'c', 64);
    c64[64] = '\0';
    snprintf(scope, sizeof(scope), "detokenize:%s.f:plain", c64);
    cr_assert_eq(cu_scope_level(s1, 1, c64, "f"), CU_LEVEL_NONE);
    cr_assert_eq(cu_scope_level(s1, 1, NULL, "f"), CU_LEVEL_NONE);
}

Test(auth_scope, level_names_parse_and_round_trip)
{
    static const struct {
        const char *name;
        enum cu_err rc;
        enum cu_level level;
    } cases[] = {
        {"plain", CU_OK, CU_LEVEL_PLAIN},          {"masked", CU_OK, CU_LEVEL_MASKED},
        {"redacted", CU_OK, CU_LEVEL_REDACTED},    {"none", CU_ERR_INVALID, CU_LEVEL_NONE},
        {"Plain", CU_ERR_INVALID, CU_LEVEL_NONE},  {"", CU_ERR_INVALID, CU_LEVEL_NONE},
        {"plain ", CU_ERR_INVALID, CU_LEVEL_NONE}, {NULL, CU_ERR_INVALID, CU_LEVEL_NONE},
    };
    for (size_t i = 0; i < N(cases); i++) {
        enum cu_level l = CU_LEVEL_NONE;
        cr_assert_eq(cu_level_parse(cases[i].name, &l), cases[i].rc, "case %zu", i);
        if (cases[i].rc == CU_OK) {
            cr_assert_eq(l, cases[i].level);
            cr_assert_str_eq(cu_level_name(l), cases[i].name);
        }
    }
    cr_assert_str_eq(cu_level_name(CU_LEVEL_NONE), "none");
    cr_assert_str_eq(cu_level_name((enum cu_level)42), "none");
}

Test(auth_scope, level_min_picks_the_lesser_reveal)
{
    static const struct {
        enum cu_level a, b, want;
    } cases[] = {
        {CU_LEVEL_PLAIN, CU_LEVEL_MASKED, CU_LEVEL_MASKED},
        {CU_LEVEL_MASKED, CU_LEVEL_PLAIN, CU_LEVEL_MASKED},
        {CU_LEVEL_REDACTED, CU_LEVEL_PLAIN, CU_LEVEL_REDACTED},
        {CU_LEVEL_NONE, CU_LEVEL_PLAIN, CU_LEVEL_NONE},
        {CU_LEVEL_PLAIN, CU_LEVEL_PLAIN, CU_LEVEL_PLAIN},
    };
    for (size_t i = 0; i < N(cases); i++) {
        cr_assert_eq(cu_level_min(cases[i].a, cases[i].b), cases[i].want, "case %zu", i);
    }
}
