/* Early refusals reach every client (issue 13): a request refused on its headers (401, 403,
 * 404, 405, 413, 415) is answered intact to a client that writes its whole body before reading,
 * over plain HTTP (a spawned server) and TLS (the shared server); the refusal is decided before
 * any body byte is stored; a client past the discard bounds is cut. The client here is raw
 * sockets and OpenSSL, because libcurl waits for 100 Continue and reads through resets. */
#include "harness.h"
#include "idp.h"
#include "rawconn.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

enum { MIB = 1024 * 1024, LOOPS = 50 };

/* Reads one response (headers and a Content-Length body); its status, or -1 when the
 * connection ended first. *closing: the server said Connection: close. */
/* ---- the client's side ---- */

static int
conn_response(struct t_conn *c, int *closing)
{
    char buf[16384];
    buf[0] = '\0';
    size_t used = 0;
    char *end = NULL;
    while ((end = strstr(buf, "\r\n\r\n")) == NULL) {
        if (used + 1 >= sizeof(buf)) {
            return -1;
        }
        ssize_t n = t_conn_read(c, buf + used, sizeof(buf) - used - 1);
        if (n <= 0) {
            return -1;
        }
        used += (size_t)n;
        buf[used] = '\0';
    }
    int status = 0;
    if (sscanf(buf, "HTTP/1.1 %d", &status) != 1) {
        return -1;
    }
    if (closing != NULL) {
        *closing = strcasestr(buf, "\r\nConnection: close") != NULL;
    }
    const char *cl = strcasestr(buf, "\r\nContent-Length:");
    size_t want = cl != NULL ? strtoul(cl + 17, NULL, 10) : 0;
    size_t have = used - (size_t)(end + 4 - buf);
    while (have < want) {
        ssize_t n = t_conn_read(c, buf, sizeof(buf));
        if (n <= 0) {
            return -1;
        }
        have += (size_t)n;
    }
    return status;
}

/* Sends method path with a body of body_len bytes ('x'), all of it before reading, and returns
 * the status of the answer: -1 when none arrived, -2 when the body could not be written in full
 * (the server closed or reset the connection: clients such as Node's fetch then report a
 * failure, even though Linux would still let this client read an answer). token NULL: no
 * Authorization. */
static int
send_whole_body(const struct t_server *s, const char *method, const char *path, const char *token,
                const char *type, size_t body_len)
{
    static char chunk[256 * 1024];
    memset(chunk, 'x', sizeof(chunk));
    struct t_conn c;
    int status = -1;
    if (t_conn_open(s->port, s->tls, &c) != 0) {
        t_conn_close(&c);
        return -1;
    }
    char head[4096];
    int n = snprintf(head, sizeof(head),
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\n%s%s%s\r\n",
                     method, path, type, body_len, token ? "Authorization: Bearer " : "",
                     token ? token : "", token ? "\r\n" : "");
    int ok = t_conn_write(&c, head, (size_t)n) == 0;
    for (size_t sent = 0; ok && sent < body_len; sent += sizeof(chunk)) {
        size_t k = body_len - sent < sizeof(chunk) ? body_len - sent : sizeof(chunk);
        ok = t_conn_write(&c, chunk, k) == 0;
    }
    status = ok ? conn_response(&c, NULL) : -2;
    t_conn_close(&c);
    return status;
}

/* ---- servers ---- */

static struct t_server plain;

static void
ignore_sigpipe(void)
{
    signal(SIGPIPE, SIG_IGN);
}

static void
start_plain(void)
{
    ignore_sigpipe();
    const char *env[] = {"CUSTOS_MAX_BODY_BYTES=1048576", NULL};
    cr_assert_eq(t_spawn(env, 0, &plain), 0, "could not start a plain server");
}

static void
stop_plain(void)
{
    cr_assert_eq(t_stop(&plain), 0, "the server did not exit 0 on SIGTERM");
}

static void
start_bounded(void)
{
    ignore_sigpipe();
    const char *env[] = {"CUSTOS_MAX_BODY_BYTES=65536", "CUSTOS_LINGER_BYTES=1048576", NULL};
    cr_assert_eq(t_spawn(env, 0, &plain), 0, "could not start a plain server");
}

static const char records[] = "/v1/collections/customers/records";

/* 50 rounds of oversized (valid token, 413) and anonymous (401) bodies of 2 and 20 MiB. */
static void
refusals_arrive(const struct t_server *s)
{
    const char *writer = t_token("t-early-refusal", "records:write");
    const size_t sizes[] = {2 * MIB, 20 * MIB};
    for (int i = 0; i < LOOPS; i++) {
        for (size_t k = 0; k < 2; k++) {
            int st = send_whole_body(s, "POST", records, writer, "application/json", sizes[k]);
            cr_assert_eq(st, 413, "round %d, %zu MiB with a token: got %d", i, sizes[k] / MIB, st);
            st = send_whole_body(s, "POST", records, NULL, "application/json", sizes[k]);
            cr_assert_eq(st, 401, "round %d, %zu MiB without a token: got %d", i, sizes[k] / MIB,
                         st);
        }
    }
}

Test(early_refusal, oversized_and_anonymous_bodies_get_their_answer_over_plain_http,
     .init = start_plain, .fini = stop_plain, .timeout = 600)
{
    refusals_arrive(&plain);
}

Test(early_refusal, oversized_and_anonymous_bodies_get_their_answer_over_tls,
     .init = ignore_sigpipe, .timeout = 600)
{
    refusals_arrive(t_shared());
}

Test(early_refusal, every_refusal_before_the_body_reaches_the_client, .init = ignore_sigpipe)
{
    const struct t_server *s = t_shared();
    const char *writer = t_token("t-early-refusal", "records:write");
    const char *reader = t_token("t-early-refusal", "records:search");
    for (int i = 0; i < 5; i++) {
        /* 403: no scope; 404: no route; 405: wrong method; 415: not JSON */
        cr_assert_eq(send_whole_body(s, "POST", records, reader, "application/json", 2 * MIB), 403);
        cr_assert_eq(send_whole_body(s, "POST", "/v1/nowhere", writer, "application/json", 2 * MIB),
                     404);
        cr_assert_eq(send_whole_body(s, "PUT", records, writer, "application/json", 2 * MIB), 405);
        cr_assert_eq(send_whole_body(s, "POST", records, writer, "text/plain", 512 * 1024), 415);
    }
}

Test(early_refusal, a_drained_refusal_keeps_the_connection_for_the_next_request,
     .init = ignore_sigpipe)
{
    const struct t_server *s = t_shared();
    struct t_conn c;
    cr_assert_eq(t_conn_open(s->port, s->tls, &c), 0);
    static char body[64 * 1024];
    memset(body, 'x', sizeof(body));
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     records, sizeof(body));
    cr_assert_eq(t_conn_write(&c, head, (size_t)n), 0);
    cr_assert_eq(t_conn_write(&c, body, sizeof(body)), 0);
    int closing = 1;
    cr_assert_eq(conn_response(&c, &closing), 401);
    cr_assert_not(closing, "the connection was closed after a drained refusal");
    const char next[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    cr_assert_eq(t_conn_write(&c, next, sizeof(next) - 1), 0);
    cr_assert_eq(conn_response(&c, NULL), 200);
    t_conn_close(&c);
}

/* Item 7 of issue 8: the token is checked on the headers. A client that waits for 100 Continue
 * gets the 401 instead, and never sends its 900 KiB. */
Test(early_refusal, an_anonymous_client_expecting_100_continue_gets_401_before_sending,
     .init = ignore_sigpipe)
{
    const struct t_server *s = t_shared();
    struct t_conn c;
    cr_assert_eq(t_conn_open(s->port, s->tls, &c), 0);
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     "Expect: 100-continue\r\nContent-Length: %d\r\n\r\n",
                     records, 900 * 1024);
    cr_assert_eq(t_conn_write(&c, head, (size_t)n), 0);
    int closing = 0;
    cr_assert_eq(conn_response(&c, &closing), 401, "no 401 before the body");
    cr_assert(closing, "the unread body's connection must close");
    t_conn_close(&c);
}

/* An anonymous chunked body past the size limit is told 401, not 413: it was never stored. */
Test(early_refusal, an_anonymous_chunked_body_is_refused_unread, .init = start_bounded,
     .fini = stop_plain)
{
    struct t_conn c;
    cr_assert_eq(t_conn_open(plain.port, 0, &c), 0);
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n",
                     records);
    cr_assert_eq(t_conn_write(&c, head, (size_t)n), 0);
    static char chunk[16 * 1024 + 16];
    int k = snprintf(chunk, sizeof(chunk), "4000\r\n");
    memset(chunk + k, 'x', 0x4000);
    memcpy(chunk + k + 0x4000, "\r\n", 2);
    for (int i = 0; i < 8; i++) { /* 128 KiB: twice the limit */
        cr_assert_eq(t_conn_write(&c, chunk, (size_t)k + 0x4000 + 2), 0);
    }
    cr_assert_eq(t_conn_write(&c, "0\r\n\r\n", 5), 0);
    cr_assert_eq(conn_response(&c, NULL), 401);
    t_conn_close(&c);
}

/* A client announcing more than CUSTOS_LINGER_BYTES is answered at once, without reading. */
Test(early_refusal, a_body_announced_past_the_discard_bound_is_answered_at_once,
     .init = start_bounded, .fini = stop_plain)
{
    struct t_conn c;
    cr_assert_eq(t_conn_open(plain.port, 0, &c), 0);
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     "Content-Length: %d\r\n\r\n",
                     records, 64 * MIB);
    cr_assert_eq(t_conn_write(&c, head, (size_t)n), 0);
    int closing = 0;
    cr_assert_eq(conn_response(&c, &closing), 401);
    cr_assert(closing);
    t_conn_close(&c);
}

/* A client that keeps sending after its refusal is cut at CUSTOS_LINGER_BYTES (1 MiB here):
 * its writes fail long before 256 MiB (the slack is the kernel's socket buffers). */
Test(early_refusal, a_client_that_keeps_sending_is_cut_at_the_discard_bound, .init = start_bounded,
     .fini = stop_plain)
{
    struct t_conn c;
    cr_assert_eq(t_conn_open(plain.port, 0, &c), 0);
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n",
                     records);
    cr_assert_eq(t_conn_write(&c, head, (size_t)n), 0);
    static char chunk[64 * 1024 + 16];
    int k = snprintf(chunk, sizeof(chunk), "10000\r\n");
    memset(chunk + k, 'x', 0x10000);
    memcpy(chunk + k + 0x10000, "\r\n", 2);
    size_t sent = 0;
    while (sent < 256u * MIB && t_conn_write(&c, chunk, (size_t)k + 0x10000 + 2) == 0) {
        sent += 0x10000;
    }
    cr_assert_lt(sent, 64u * MIB, "the server kept reading %zu MiB", sent / MIB);
    cr_assert(c.write_errno == EPIPE || c.write_errno == ECONNRESET,
              "the connection stalled instead of being cut (errno %d)", c.write_errno);
    t_conn_close(&c);
}
