/* Random and deterministic tokens; the random pool across fork. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto/rand.h"
#include "crypto/token.h"

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(a, b);
}

Test(crypto_token, random_tokens_have_prefix_length_and_alphabet)
{
    for (int i = 0; i < 1000; i++) {
        char t[CU_TOKEN_BUF];
        cr_assert_eq(cu_token_random(t), CU_OK);
        cr_assert_eq(strlen(t), CU_TOKEN_LEN);
        cr_assert_eq(strncmp(t, "tok_", 4), 0);
        cr_assert_eq(
            strspn(t + 4, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"), 22);
        cr_assert(cu_token_is_wellformed(t));
        cr_assert_not(cu_token_is_deterministic(t));
    }
}

Test(crypto_token, ten_thousand_random_tokens_are_unique)
{
    enum { N = 10000 };
    char(*t)[CU_TOKEN_BUF] = calloc(N, CU_TOKEN_BUF);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(cu_token_random(t[i]), CU_OK);
    }
    qsort(t, N, CU_TOKEN_BUF, cmp_str);
    for (int i = 1; i < N; i++) {
        cr_assert_str_neq(t[i - 1], t[i]);
    }
    free(t);
}

Test(crypto_token, random_tokens_use_every_position_fully)
{
    /* The first digit carries only the top ~3 bits (2^128 / 62^21 < 8); every other position
     * should see most of the alphabet across 2,000 tokens. */
    int seen[22][128] = {{0}};
    for (int i = 0; i < 2000; i++) {
        char t[CU_TOKEN_BUF];
        cr_assert_eq(cu_token_random(t), CU_OK);
        for (int p = 0; p < 22; p++) {
            seen[p][(unsigned char)t[4 + p]] = 1;
        }
    }
    for (int p = 1; p < 22; p++) {
        int distinct = 0;
        for (int c = 0; c < 128; c++) {
            distinct += seen[p][c];
        }
        cr_assert_eq(distinct, 62, "position %d saw %d symbols", p, distinct);
    }
}

Test(crypto_token, deterministic_tokens_are_stable)
{
    uint8_t key[32];
    memset(key, 0x11, sizeof(key));
    char a[CU_TOKEN_BUF];
    char b[CU_TOKEN_BUF];
    cr_assert_eq(cu_token_deterministic(key, "email", (const uint8_t *)"a@b.c", 5, a), CU_OK);
    cr_assert_eq(cu_token_deterministic(key, "email", (const uint8_t *)"a@b.c", 5, b), CU_OK);
    cr_assert_str_eq(a, b);
    cr_assert_eq(strlen(a), CU_TOKEN_DET_LEN);
    cr_assert_eq(strncmp(a, "tokd_", 5), 0);
    cr_assert(cu_token_is_wellformed(a));
    cr_assert(cu_token_is_deterministic(a));
}

Test(crypto_token, deterministic_tokens_depend_on_key_context_and_value)
{
    uint8_t key[32];
    uint8_t key2[32];
    memset(key, 0x11, sizeof(key));
    memset(key2, 0x12, sizeof(key2));
    char base[CU_TOKEN_BUF], t[CU_TOKEN_BUF];
    cr_assert_eq(cu_token_deterministic(key, "email", (const uint8_t *)"a@b.c", 5, base), CU_OK);
    cr_assert_eq(cu_token_deterministic(key, "phone", (const uint8_t *)"a@b.c", 5, t), CU_OK);
    cr_assert_str_neq(base, t);
    cr_assert_eq(cu_token_deterministic(key2, "email", (const uint8_t *)"a@b.c", 5, t), CU_OK);
    cr_assert_str_neq(base, t);
    cr_assert_eq(cu_token_deterministic(key, "email", (const uint8_t *)"a@b.d", 5, t), CU_OK);
    cr_assert_str_neq(base, t);
}

Test(crypto_token, deterministic_tokens_keep_context_and_value_apart)
{
    /* Without the length prefix ("ab", "c") and ("a", "bc") would MAC the same bytes. */
    uint8_t key[32] = {0};
    char a[CU_TOKEN_BUF], b[CU_TOKEN_BUF];
    cr_assert_eq(cu_token_deterministic(key, "ab", (const uint8_t *)"c", 1, a), CU_OK);
    cr_assert_eq(cu_token_deterministic(key, "a", (const uint8_t *)"bc", 2, b), CU_OK);
    cr_assert_str_neq(a, b);
}

Test(crypto_token, deterministic_token_matches_a_fixed_value)
{
    /* Pins the construction: HMAC-SHA-256(0x00 * 32, 00000005 "email" "a@b.c"), first 16 bytes
     * as a big-endian number in base62. A change here breaks every stored deterministic token. */
    uint8_t key[32] = {0};
    char t[CU_TOKEN_BUF];
    cr_assert_eq(cu_token_deterministic(key, "email", (const uint8_t *)"a@b.c", 5, t), CU_OK);
    cr_assert_str_eq(t, "tokd_172g7l5HyAmtDpyx7Pxn6B");
}

Test(crypto_token, rejects_malformed_tokens)
{
    const char *bad[] = {
        "",
        "tok_",
        "tok_0000000000000000000000x", /* 23 characters */
        "tok_000000000000000000000",   /* 21 characters */
        "tok_000000000000000000000-",  /* outside the alphabet */
        "tok_00000000000000000000 0",
        "TOK_0000000000000000000000",
        "tokd0000000000000000000000",
        "tokd_000000000000000000000",
        "dtk_0000000000000000000000",
        "tok_zzzzzzzzzzzzzzzzzzzzzz", /* 62^22 - 1 > 2^128 - 1 */
        "tok_7n42DGM5Tflk9n8mt7Fhc8", /* 2^128: one past the largest value */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_not(cu_token_is_wellformed(bad[i]), "accepted \"%s\"", bad[i]);
    }
    cr_assert(cu_token_is_wellformed("tok_0000000000000000000000"));
    cr_assert(cu_token_is_wellformed("tok_7n42DGM5Tflk9n8mt7Fhc7")); /* 2^128 - 1 */
    cr_assert(cu_token_is_wellformed("tokd_7n42DGM5Tflk9n8mt7Fhc7"));
}

Test(crypto_rand, never_repeats_pool_bytes_in_a_forked_child)
{
    uint8_t warm[8];
    /* Fill this thread's pool, then fork: the child must not hand out what the parent will. */
    cr_assert_eq(cu_rand_bytes(warm, sizeof(warm)), CU_OK);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        uint8_t child[32];
        if (cu_rand_bytes(child, sizeof(child)) != CU_OK) {
            _exit(2);
        }
        _exit(write(fds[1], child, sizeof(child)) == (ssize_t)sizeof(child) ? 0 : 3);
    }
    uint8_t parent[32];
    uint8_t child[32];
    int status = 0;
    cr_assert_eq(cu_rand_bytes(parent, sizeof(parent)), CU_OK);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_assert_eq(read(fds[0], child, sizeof(child)), (ssize_t)sizeof(child));
    cr_assert_arr_neq(parent, child, sizeof(child));
    close(fds[0]);
    close(fds[1]);
}

Test(crypto_rand, serves_small_and_large_requests)
{
    uint8_t a[1000];
    uint8_t b[1000];
    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    cr_assert_eq(cu_rand_bytes(a, sizeof(a)), CU_OK);
    cr_assert_eq(cu_rand_bytes(b, sizeof(b)), CU_OK);
    cr_assert_arr_neq(a, b, sizeof(a));
    /* Many small requests across pool refills never repeat a 16-byte value. */
    uint8_t prev[16] = {0};
    for (int i = 0; i < 200; i++) {
        uint8_t cur[16];
        cr_assert_eq(cu_rand_bytes(cur, sizeof(cur)), CU_OK);
        cr_assert_arr_neq(cur, prev, sizeof(cur));
        memcpy(prev, cur, sizeof(cur));
    }
    cr_assert_eq(cu_rand_bytes(NULL, 0), CU_OK);
    cr_assert_eq(cu_rand_priv_bytes(a, 64), CU_OK);
}
