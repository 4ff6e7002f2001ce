/* The verified-token cache: LRU bound, expiry, generations, deep copies. */
#include <criterion/criterion.h>
#include <limits.h>
#include <string.h>

#include "auth/tokencache.h"

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

TestSuite(auth_tokencache, .init = setup, .fini = teardown);

static void
key_of(int i, uint8_t key[32])
{
    memset(key, 0, 32);
    memcpy(key + 8, &i, sizeof(i)); /* same bucket bytes for all: exercises the chains */
}

static const char *const scopes[] = {"records:write", "detokenize:*.*:masked"};
static const char *const roles[] = {"agent"};

static struct cu_principal
principal(void)
{
    struct cu_principal p = {0};
    p.sub = "user-1";
    p.tenant = "acme";
    p.scopes = (const char **)scopes;
    p.nscopes = 2;
    p.roles = (const char **)roles;
    p.nroles = 1;
    p.mfa = 1;
    p.exp = 1000;
    return p;
}

static const struct cu_token_times times = {1000, LLONG_MIN, LLONG_MIN};

/* A lookup's answer alone cannot tell a hit from a fresh verification; the counters can. */
static void
assert_stats(struct cu_tokencache *c, uint64_t hits, uint64_t misses, size_t entries)
{
    uint64_t h = 0;
    uint64_t m = 0;
    size_t e = 0;
    cu_tokencache_stats(c, &h, &m, &e);
    cr_assert_eq(h, hits, "%llu hits, expected %llu", (unsigned long long)h,
                 (unsigned long long)hits);
    cr_assert_eq(m, misses, "%llu misses, expected %llu", (unsigned long long)m,
                 (unsigned long long)misses);
    cr_assert_eq(e, entries, "%zu entries, expected %zu", e, entries);
}

Test(auth_tokencache, returns_a_deep_copy_of_the_principal)
{
    struct cu_tokencache *c = cu_tokencache_new(4);
    uint8_t key[32];
    key_of(1, key);
    struct cu_principal p = principal();
    char sub[] = "user-1";
    p.sub = sub;
    cu_tokencache_put(c, cu_tokencache_generation(c), key, &p, &times);
    sub[0] = 'X'; /* the cache must not alias the caller's strings */
    struct cu_principal got;
    struct cu_token_times t;
    cr_assert_eq(cu_tokencache_get(c, key, 900, 60, arena, &got, &t), 1);
    cr_assert_str_eq(got.sub, "user-1");
    cr_assert_str_eq(got.tenant, "acme");
    cr_assert_eq(got.nscopes, 2);
    cr_assert_str_eq(got.scopes[1], "detokenize:*.*:masked");
    cr_assert_eq(got.nroles, 1);
    cr_assert_str_eq(got.roles[0], "agent");
    cr_assert_eq(got.mfa, 1);
    cr_assert_eq(t.exp, 1000);
    assert_stats(c, 1, 0, 1);
    cu_tokencache_free(c);
}

Test(auth_tokencache, evicts_the_least_recently_used_entry)
{
    struct cu_tokencache *c = cu_tokencache_new(2);
    struct cu_principal p = principal();
    struct cu_principal got;
    struct cu_token_times t;
    uint8_t k1[32], k2[32], k3[32];
    key_of(1, k1);
    key_of(2, k2);
    key_of(3, k3);
    cu_tokencache_put(c, 0, k1, &p, &times);
    cu_tokencache_put(c, 0, k2, &p, &times);
    cr_assert_eq(cu_tokencache_get(c, k1, 0, 0, arena, &got, &t), 1); /* k2 is now oldest */
    cu_tokencache_put(c, 0, k3, &p, &times);
    cr_assert_eq(cu_tokencache_get(c, k2, 0, 0, arena, &got, &t), 0);
    cr_assert_eq(cu_tokencache_get(c, k1, 0, 0, arena, &got, &t), 1);
    cr_assert_eq(cu_tokencache_get(c, k3, 0, 0, arena, &got, &t), 1);
    assert_stats(c, 3, 1, 2);
    cu_tokencache_free(c);
}

Test(auth_tokencache, drops_entries_past_exp_plus_leeway)
{
    struct cu_tokencache *c = cu_tokencache_new(2);
    struct cu_principal p = principal();
    struct cu_principal got;
    struct cu_token_times t;
    uint8_t k[32];
    key_of(1, k);
    cu_tokencache_put(c, 0, k, &p, &times);
    cr_assert_eq(cu_tokencache_get(c, k, 1060, 60, arena, &got, &t), 1);
    assert_stats(c, 1, 0, 1);
    cr_assert_eq(cu_tokencache_get(c, k, 1061, 60, arena, &got, &t), 0);
    assert_stats(c, 1, 1, 0);
    cr_assert_eq(cu_tokencache_get(c, k, 900, 60, arena, &got, &t), 0, "dropped for good");
    assert_stats(c, 1, 2, 0);
    cu_tokencache_free(c);
}

Test(auth_tokencache, ignores_puts_from_a_previous_generation)
{
    struct cu_tokencache *c = cu_tokencache_new(2);
    struct cu_principal p = principal();
    struct cu_principal got;
    struct cu_token_times t;
    uint8_t k[32];
    key_of(1, k);
    uint64_t gen = cu_tokencache_generation(c);
    cu_tokencache_put(c, gen, k, &p, &times);
    cu_tokencache_clear(c);
    cr_assert_eq(cu_tokencache_get(c, k, 0, 0, arena, &got, &t), 0);
    cu_tokencache_put(c, gen, k, &p, &times); /* raced a reload: must not land */
    assert_stats(c, 0, 1, 0);
    cr_assert_eq(cu_tokencache_get(c, k, 0, 0, arena, &got, &t), 0);
    cu_tokencache_put(c, cu_tokencache_generation(c), k, &p, &times);
    cr_assert_eq(cu_tokencache_get(c, k, 0, 0, arena, &got, &t), 1);
    assert_stats(c, 1, 2, 1);
    cu_tokencache_free(c);
}

Test(auth_tokencache, stores_nothing_with_zero_capacity)
{
    struct cu_tokencache *c = cu_tokencache_new(0);
    struct cu_principal p = principal();
    struct cu_principal got;
    struct cu_token_times t;
    uint8_t k[32];
    key_of(1, k);
    cu_tokencache_put(c, 0, k, &p, &times);
    cr_assert_eq(cu_tokencache_get(c, k, 0, 0, arena, &got, &t), 0);
    assert_stats(c, 0, 1, 0);
    cu_tokencache_free(c);
}

Test(auth_tokencache, keeps_a_principal_without_tenant_scopes_or_roles)
{
    struct cu_tokencache *c = cu_tokencache_new(2);
    struct cu_principal p = {0};
    p.sub = "op";
    struct cu_principal got;
    struct cu_token_times t;
    uint8_t k[32];
    key_of(1, k);
    cu_tokencache_put(c, 0, k, &p, &times);
    cr_assert_eq(cu_tokencache_get(c, k, 0, 0, arena, &got, &t), 1);
    cr_assert_str_eq(got.sub, "op");
    cr_assert_null(got.tenant);
    cr_assert_eq(got.nscopes, 0);
    cr_assert_eq(got.nroles, 0);
    assert_stats(c, 1, 0, 1);
    cu_tokencache_free(c);
}
