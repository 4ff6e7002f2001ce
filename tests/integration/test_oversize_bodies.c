/* Refused request bodies from clients that send the whole body without waiting for an answer
 * (no `Expect: 100-continue`, as Node's fetch, Python's http.client and most SDKs do): the
 * refusal (413 for a body over the limit, 401 without a token) must reach the client every
 * time, over TLS and plain HTTP, never a connection reset. */
#include "harness.h"
#include "idp.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

enum { MIB = 1024 * 1024 };

/* n bytes of a JSON string document: `"aaaa…"`. */
static char *
big_body(size_t n)
{
    char *s = malloc(n + 1);
    cr_assert_not_null(s);
    memset(s, 'a', n);
    s[0] = '"';
    s[n - 1] = '"';
    s[n] = '\0';
    return s;
}

/* Sends `rounds` POSTs of `size` bytes to s (token NULL: none) and requires a problem with
 * status want (or want2 when not 0) each time; a transport error (reset, broken pipe) fails
 * with curl's account of it. */
static void
assert_refused_every_time(const struct t_server *s, const char *token, size_t size, int rounds,
                          long want, long want2)
{
    char *body = big_body(size);
    const char *headers[] = {"Content-Type: application/json", NULL};
    for (int i = 0; i < rounds; i++) {
        struct t_resp r;
        int rc = t_request(s, "POST", "/v1/tenants", token, body, headers, &r);
        cr_assert_eq(rc, 0, "round %d of %d, %zu bytes: no answer (%s)", i + 1, rounds, size,
                     r.error);
        cr_assert(r.status == want || (want2 != 0 && r.status == want2), "round %d: got %ld %s",
                  i + 1, r.status, r.body);
        char ct[128];
        cr_assert(t_header(&r, "Content-Type", ct, sizeof(ct)), "round %d: no Content-Type", i + 1);
        cr_assert_str_eq(ct, "application/problem+json");
        t_resp_free(&r);
    }
    free(body);
}

/* An authenticated body over the limit: 413 every time. */
static void
assert_413_every_time(const struct t_server *s, size_t size, int rounds)
{
    assert_refused_every_time(s, t_token(NULL, "vault:admin"), size, rounds, 413, 0);
    mint_free_all();
}

Test(early_refusal, a_2_mib_body_over_tls_gets_its_413_fifty_times_in_a_row)
{
    assert_413_every_time(t_shared(), 2 * MIB, 50);
}

Test(early_refusal, a_20_mib_body_over_tls_gets_its_413_every_time, .timeout = 120)
{
    assert_413_every_time(t_shared(), 20 * MIB, 10);
}

Test(early_refusal, a_2_mib_body_over_plain_http_gets_its_413_fifty_times_in_a_row)
{
    struct t_server plain;
    cr_assert_eq(t_spawn(NULL, 0, &plain), 0, "could not start a plain server");
    assert_413_every_time(&plain, 2 * MIB, 50);
    cr_assert_eq(t_stop(&plain), 0, "the server did not exit 0 on SIGTERM");
}

Test(early_refusal, a_20_mib_body_over_plain_http_gets_its_413_every_time, .timeout = 120)
{
    struct t_server plain;
    cr_assert_eq(t_spawn(NULL, 0, &plain), 0, "could not start a plain server");
    assert_413_every_time(&plain, 20 * MIB, 10);
    cr_assert_eq(t_stop(&plain), 0, "the server did not exit 0 on SIGTERM");
}

/* Without a token: 401, or 413 for a body over the limit when the size is checked first. */
Test(early_refusal, unauthenticated_bodies_over_tls_get_their_refusal_fifty_times_in_a_row)
{
    assert_refused_every_time(t_shared(), NULL, 900 * 1024, 50, 401, 0);
    assert_refused_every_time(t_shared(), NULL, 2 * MIB, 50, 401, 413);
}

Test(early_refusal, unauthenticated_bodies_over_plain_http_get_their_refusal_fifty_times_in_a_row)
{
    struct t_server plain;
    cr_assert_eq(t_spawn(NULL, 0, &plain), 0, "could not start a plain server");
    assert_refused_every_time(&plain, NULL, 900 * 1024, 50, 401, 0);
    assert_refused_every_time(&plain, NULL, 2 * MIB, 50, 401, 413);
    cr_assert_eq(t_stop(&plain), 0, "the server did not exit 0 on SIGTERM");
}

/* A client that asks first is answered at once: the body is never sent. */
Test(early_refusal, an_oversized_body_announced_with_expect_100_continue_is_refused_unsent)
{
    char *body = big_body(2 * MIB);
    const char *headers[] = {"Content-Type: application/json", "Expect: 100-continue", NULL};
    struct t_resp r;
    cr_assert_eq(t_request(t_shared(), "POST", "/v1/tenants", t_token(NULL, "vault:admin"), body,
                           headers, &r),
                 0, "no answer (%s)", r.error);
    cr_assert_eq(r.status, 413, "got %ld %s", r.status, r.body);
    cr_assert_eq(r.uploaded, 0, "%lld body bytes were sent before the refusal", r.uploaded);
    t_resp_free(&r);
    free(body);
    mint_free_all();
}
