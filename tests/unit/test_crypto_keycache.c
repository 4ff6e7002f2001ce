/* The LRU key cache: hits return copies, eviction order, TTL expiry with a caller-supplied clock,
 * prefix removal and capacity 1. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "crypto/keycache.h"
#include "crypto/secret.h"

static struct cu_secret *
key_of(uint8_t fill)
{
    struct cu_secret *k = cu_secret_new(32);
    memset(k->data, fill, 32);
    return k;
}

static void
put(struct cu_keycache *c, const char *id, uint8_t fill, uint64_t now)
{
    struct cu_secret *k = key_of(fill);
    cr_assert_eq(cu_keycache_put(c, id, k, now), CU_OK);
    cu_secret_free(k);
}

/* Asserts id is cached at now with every byte equal to fill. */
static void
assert_hit(struct cu_keycache *c, const char *id, uint8_t fill, uint64_t now)
{
    struct cu_secret *k = NULL;
    cr_assert_eq(cu_keycache_get(c, id, now, &k), CU_OK, "miss for %s", id);
    cr_assert_eq(k->len, 32);
    for (size_t i = 0; i < 32; i++) {
        cr_assert_eq(k->data[i], fill);
    }
    cu_secret_free(k);
}

static void
assert_miss(struct cu_keycache *c, const char *id, uint64_t now)
{
    struct cu_secret *k = (struct cu_secret *)1;
    cr_assert_eq(cu_keycache_get(c, id, now, &k), CU_ERR_NOT_FOUND, "hit for %s", id);
    cr_assert_null(k);
}

Test(crypto_keycache, returns_a_copy_the_caller_owns)
{
    struct cu_keycache *c = cu_keycache_new(4, 60);
    struct cu_secret *k = key_of(7);
    cr_assert_eq(cu_keycache_put(c, "t1/s1/1", k, 100), CU_OK);
    /* The cache copied: changing or freeing the caller's key does not touch the cached one. */
    memset(k->data, 0, 32);
    cu_secret_free(k);
    struct cu_secret *a = NULL;
    cr_assert_eq(cu_keycache_get(c, "t1/s1/1", 100, &a), CU_OK);
    a->data[0] = 99;
    cu_secret_free(a);
    assert_hit(c, "t1/s1/1", 7, 101);
    cu_keycache_free(c);
}

Test(crypto_keycache, misses_an_unknown_id)
{
    struct cu_keycache *c = cu_keycache_new(4, 60);
    assert_miss(c, "t1/s1/1", 0);
    put(c, "t1/s1/1", 1, 0);
    assert_miss(c, "t1/s1/2", 0);
    assert_miss(c, "t1/s1/", 0);
    assert_miss(c, "", 0);
    cu_keycache_free(c);
}

Test(crypto_keycache, evicts_the_least_recently_used_entry)
{
    struct cu_keycache *c = cu_keycache_new(3, 60);
    put(c, "a", 1, 0);
    put(c, "b", 2, 0);
    put(c, "c", 3, 0);
    /* Touch a: b is now the least recently used. */
    assert_hit(c, "a", 1, 1);
    put(c, "d", 4, 1);
    assert_miss(c, "b", 1);
    cr_assert_eq(cu_keycache_size(c), 3);
    /* Order now (most to least recent): d a c. Next eviction takes c, then a. */
    put(c, "e", 5, 2);
    assert_miss(c, "c", 2);
    assert_hit(c, "d", 4, 2);
    put(c, "f", 6, 2);
    assert_miss(c, "a", 2);
    assert_hit(c, "d", 4, 2);
    assert_hit(c, "e", 5, 2);
    assert_hit(c, "f", 6, 2);
    cu_keycache_free(c);
}

Test(crypto_keycache, replacing_an_entry_refreshes_it_without_growing)
{
    struct cu_keycache *c = cu_keycache_new(2, 60);
    put(c, "a", 1, 0);
    put(c, "b", 2, 0);
    put(c, "a", 9, 0);
    cr_assert_eq(cu_keycache_size(c), 2);
    put(c, "c", 3, 0);
    assert_miss(c, "b", 0);
    assert_hit(c, "a", 9, 0);
    cu_keycache_free(c);
}

Test(crypto_keycache, expires_entries_after_the_ttl)
{
    struct cu_keycache *c = cu_keycache_new(4, 30);
    put(c, "a", 1, 1000);
    assert_hit(c, "a", 1, 1000);
    assert_hit(c, "a", 1, 1029);
    assert_miss(c, "a", 1030);
    /* The expired entry was dropped, not merely hidden. */
    cr_assert_eq(cu_keycache_size(c), 0);
    assert_miss(c, "a", 1000);
    cu_keycache_free(c);
}

Test(crypto_keycache, a_hit_does_not_extend_the_ttl_but_a_put_does)
{
    struct cu_keycache *c = cu_keycache_new(4, 10);
    put(c, "a", 1, 0);
    assert_hit(c, "a", 1, 9);
    assert_miss(c, "a", 10);
    put(c, "a", 1, 10);
    put(c, "a", 2, 15);
    assert_hit(c, "a", 2, 24);
    assert_miss(c, "a", 25);
    cu_keycache_free(c);
}

Test(crypto_keycache, a_zero_ttl_serves_nothing)
{
    struct cu_keycache *c = cu_keycache_new(4, 0);
    put(c, "a", 1, 5);
    assert_miss(c, "a", 5);
    cu_keycache_free(c);
}

Test(crypto_keycache, removes_one_id)
{
    struct cu_keycache *c = cu_keycache_new(4, 60);
    put(c, "t1/s1/1", 1, 0);
    put(c, "t1/s2/1", 2, 0);
    cu_keycache_remove(c, "t1/s1/1");
    cu_keycache_remove(c, "t1/s9/1");
    assert_miss(c, "t1/s1/1", 0);
    assert_hit(c, "t1/s2/1", 2, 0);
    cu_keycache_free(c);
}

Test(crypto_keycache, removes_every_entry_of_a_deleted_tenant)
{
    struct cu_keycache *c = cu_keycache_new(8, 60);
    put(c, "t1/s1/1", 1, 0);
    put(c, "t10/s1/1", 2, 0);
    put(c, "t1/s2/1", 3, 0);
    put(c, "t2/s1/1", 4, 0);
    put(c, "t1/s3/2", 5, 0);
    cr_assert_eq(cu_keycache_remove_prefix(c, "t1/"), 3);
    assert_miss(c, "t1/s1/1", 0);
    assert_miss(c, "t1/s2/1", 0);
    assert_miss(c, "t1/s3/2", 0);
    assert_hit(c, "t10/s1/1", 2, 0);
    assert_hit(c, "t2/s1/1", 4, 0);
    cr_assert_eq(cu_keycache_size(c), 2);
    cu_keycache_free(c);
}

Test(crypto_keycache, clears_every_entry)
{
    struct cu_keycache *c = cu_keycache_new(8, 60);
    put(c, "a", 1, 0);
    put(c, "b", 2, 0);
    cu_keycache_clear(c);
    cr_assert_eq(cu_keycache_size(c), 0);
    assert_miss(c, "a", 0);
    put(c, "a", 3, 0);
    assert_hit(c, "a", 3, 0);
    cu_keycache_free(c);
}

Test(crypto_keycache, holds_one_entry_at_capacity_1)
{
    struct cu_keycache *c = cu_keycache_new(1, 60);
    put(c, "a", 1, 0);
    assert_hit(c, "a", 1, 0);
    put(c, "b", 2, 0);
    assert_miss(c, "a", 0);
    assert_hit(c, "b", 2, 0);
    cr_assert_eq(cu_keycache_size(c), 1);
    cu_keycache_free(c);
}

Test(crypto_keycache, treats_capacity_0_as_1)
{
    struct cu_keycache *c = cu_keycache_new(0, 60);
    put(c, "a", 1, 0);
    assert_hit(c, "a", 1, 0);
    cu_keycache_free(c);
}

Test(crypto_keycache, rejects_empty_and_overlong_ids)
{
    struct cu_keycache *c = cu_keycache_new(2, 60);
    struct cu_secret *k = key_of(1);
    char id[CU_KEYCACHE_MAX_ID + 2];
    memset(id, 'x', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    cr_assert_eq(cu_keycache_put(c, "", k, 0), CU_ERR_INVALID);
    cr_assert_eq(cu_keycache_put(c, id, k, 0), CU_ERR_INVALID);
    id[CU_KEYCACHE_MAX_ID] = '\0';
    cr_assert_eq(cu_keycache_put(c, id, k, 0), CU_OK);
    assert_hit(c, id, 1, 0);
    cu_secret_free(k);
    cu_keycache_free(c);
}

Test(crypto_keycache, keeps_many_ids_apart_under_churn)
{
    struct cu_keycache *c = cu_keycache_new(100, 1000);
    char id[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof(id), "t/%d", i);
        put(c, id, (uint8_t)i, 0);
    }
    cr_assert_eq(cu_keycache_size(c), 100);
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof(id), "t/%d", i);
        if (i < 900) {
            assert_miss(c, id, 0);
        } else {
            assert_hit(c, id, (uint8_t)i, 0);
        }
    }
    cu_keycache_free(c);
}

static void *
hammer(void *arg)
{
    struct cu_keycache *c = arg;
    char id[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(id, sizeof(id), "t/%d", i % 50);
        struct cu_secret *k = NULL;
        if (cu_keycache_get(c, id, 0, &k) == CU_OK) {
            cu_secret_free(k);
        } else {
            k = key_of((uint8_t)i);
            cr_assert_eq(cu_keycache_put(c, id, k, 0), CU_OK);
            cu_secret_free(k);
        }
        if (i % 97 == 0) {
            (void)cu_keycache_remove_prefix(c, "t/1");
        }
    }
    return NULL;
}

Test(crypto_keycache, stays_consistent_under_concurrent_use)
{
    struct cu_keycache *c = cu_keycache_new(16, 60);
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(pthread_create(&t[i], NULL, hammer, c), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
    }
    cr_assert_leq(cu_keycache_size(c), 16);
    cu_keycache_free(c);
}
