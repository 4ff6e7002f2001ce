/* The HTTP foundation through real sockets: operations endpoints, the problem envelope, body
 * limits, and the framing attacks libmicrohttpd 0.9.75 lets through by default (security). */
#include "harness.h"
#include "idp.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A plain-HTTP server per test, so that raw sockets can speak to it. */
static struct t_server plain;

static void
start_plain(void)
{
    const char *env[] = {"CUSTOS_CONNECTION_TIMEOUT=2", "CUSTOS_MAX_BODY_BYTES=4096",
                         "CUSTOS_PER_IP_CONNECTIONS=64", NULL};
    cr_assert_eq(t_spawn(env, 0, &plain), 0, "could not start a plain server");
}

static void
stop_plain(void)
{
    cr_assert_eq(t_stop(&plain), 0, "the server did not exit 0 on SIGTERM");
}

static int
count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle)) {
        n++;
    }
    return n;
}

Test(ops, healthz_answers_ok_with_no_store_and_a_request_id)
{
    struct t_resp r;
    cr_assert_eq(t_request(t_shared(), "GET", "/healthz", NULL, NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "status")), "ok");
    char v[256];
    cr_assert(t_header(&r, "Cache-Control", v, sizeof(v)));
    cr_assert_str_eq(v, "no-store");
    cr_assert(t_header(&r, "X-Request-Id", v, sizeof(v)));
    cr_assert_eq(strlen(v), 32);
    t_resp_free(&r);
}

Test(ops, a_valid_request_id_is_echoed_and_a_bad_one_replaced)
{
    struct t_resp r;
    const char *good[] = {"X-Request-Id: abc-123.x", NULL};
    cr_assert_eq(t_request(t_shared(), "GET", "/healthz", NULL, NULL, good, &r), 0);
    char v[256];
    cr_assert(t_header(&r, "X-Request-Id", v, sizeof(v)));
    cr_assert_str_eq(v, "abc-123.x");
    t_resp_free(&r);
    const char *bad[] = {"X-Request-Id: <script>alert(1)</script>", NULL};
    cr_assert_eq(t_request(t_shared(), "GET", "/healthz", NULL, NULL, bad, &r), 0);
    cr_assert(t_header(&r, "X-Request-Id", v, sizeof(v)));
    cr_assert_eq(strlen(v), 32);
    cr_assert_null(strchr(v, '<'));
    t_resp_free(&r);
}

Test(ops, readyz_is_ready_with_the_database_up_and_the_schema_current)
{
    struct t_resp r;
    cr_assert_eq(t_request(t_shared(), "GET", "/readyz", NULL, NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200, "readyz: %s", r.body);
    t_resp_free(&r);
}

Test(ops, metrics_count_requests_by_route_template_and_status)
{
    struct t_resp r;
    cr_assert_eq(t_request(t_shared(), "GET", "/healthz", NULL, NULL, NULL, &r), 0);
    t_resp_free(&r);
    cr_assert_eq(t_request(t_shared(), "GET", "/metrics", NULL, NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_not_null(strstr(r.body, "custos_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"}"));
    cr_assert_not_null(strstr(r.body, "custos_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\""));
    cr_assert_not_null(strstr(r.body, "custos_db_pool_size"));
    char v[128];
    cr_assert(t_header(&r, "Content-Type", v, sizeof(v)));
    cr_assert_not_null(strstr(v, "text/plain"));
    t_resp_free(&r);
}

/* `custos version` and the custos_build_info metric name the same release and commit (issue 15) */
Test(ops, version_verb_and_build_info_metric_agree)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "%s version", t_env("CUSTOS_TEST_BIN"));
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    char line[256] = "";
    cr_assert_not_null(fgets(line, sizeof(line), p));
    cr_assert_eq(pclose(p), 0, "custos version did not exit 0");
    char version[64], commit[64];
    cr_assert_eq(sscanf(line, "custos %63s (commit %63[^)])", version, commit), 2, "%s", line);
    cr_assert_str_neq(version, "unknown");
    char want[256];
    snprintf(want, sizeof(want), "custos_build_info{version=\"%s\",commit=\"%s\"} 1\n", version,
             commit);
    struct t_resp r;
    cr_assert_eq(t_request(t_shared(), "GET", "/metrics", NULL, NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_not_null(strstr(r.body, want), "no %s in /metrics", want);
    t_resp_free(&r);
}

Test(envelope, unknown_path_is_404_problem_json)
{
    struct t_resp r;
    cr_assert_eq(t_request(t_shared(), "GET", "/nope", NULL, NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 404);
    char v[128];
    cr_assert(t_header(&r, "Content-Type", v, sizeof(v)));
    cr_assert_str_eq(v, "application/problem+json");
    cr_assert_eq(json_integer_value(json_object_get(r.json, "status")), 404);
    cr_assert_not_null(json_object_get(r.json, "title"));
    cr_assert_not_null(json_object_get(r.json, "type"));
    cr_assert_not_null(json_object_get(r.json, "detail"));
    t_resp_free(&r);
}

Test(envelope, path_tricks_do_not_reach_a_route)
{
    const char *paths[] = {"//healthz", "/./healthz", "/healthz/", "/healthz;x", "/HEALTHZ",
                           "/healthz%00", "/healthz%00x", "/%2Fhealthz", "/x/../healthz", NULL};
    for (int i = 0; paths[i] != NULL; i++) {
        struct t_resp r;
        cr_assert_eq(t_request(t_shared(), "GET", paths[i], NULL, NULL, NULL, &r), 0);
        cr_assert_eq(r.status, 404, "%s gave %ld", paths[i], r.status);
        t_resp_free(&r);
    }
}

Test(envelope, percent_escapes_are_decoded_once_before_routing)
{
    struct t_resp r;
    cr_assert_eq(t_request(t_shared(), "GET", "/%68ealthz", NULL, NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    t_resp_free(&r);
    cr_assert_eq(t_request(t_shared(), "GET", "/%2568ealthz", NULL, NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 404, "decoded twice");
    t_resp_free(&r);
}

Test(envelope, wrong_method_is_405)
{
    const char *methods[] = {"POST", "DELETE", "PUT", "TRACE", "PROPFIND", NULL};
    for (int i = 0; methods[i] != NULL; i++) {
        struct t_resp r;
        cr_assert_eq(t_request(t_shared(), methods[i], "/healthz", NULL, NULL, NULL, &r), 0);
        cr_assert_eq(r.status, 405, "%s gave %ld", methods[i], r.status);
        char allow[64];
        cr_assert(t_header(&r, "Allow", allow, sizeof(allow)));
        cr_assert_str_eq(allow, "GET");
        t_resp_free(&r);
    }
}

Test(limits, content_length_over_the_limit_is_413_before_the_body_is_read,
     .init = start_plain, .fini = stop_plain)
{
    /* an authorized caller: an anonymous one is told 401 first */
    char req[4096];
    int n = snprintf(req, sizeof(req),
                     "POST /v1/tenants HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Authorization: Bearer %s\r\nContent-Length: 1073741824\r\n\r\n{",
                     t_token(NULL, "vault:admin"));
    cr_assert(n > 0 && (size_t)n < sizeof(req));
    int closed = 0;
    char *out = t_raw(plain.port, NULL, req, (size_t)n, 3000, &closed);
    cr_assert_not_null(out);
    cr_assert(strncmp(out, "HTTP/1.1 413", 12) == 0, "got: %.60s", out);
    cr_assert(closed, "the connection was not closed");
    free(out);
}

Test(limits, a_chunked_body_growing_past_the_limit_is_refused, .init = start_plain,
     .fini = stop_plain)
{
    char req[16384];
    int n = snprintf(req, sizeof(req),
                     "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 6; i++) {
        n += snprintf(req + n, sizeof(req) - (size_t)n, "400\r\n");
        memset(req + n, 'a', 0x400);
        n += 0x400;
        n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n");
    }
    int closed = 0;
    char *out = t_raw(plain.port, NULL, req, (size_t)n, 3000, &closed);
    cr_assert_not_null(out);
    cr_assert(closed, "the connection was not closed");
    /* either a 413 before closing, never a served request */
    cr_assert(out[0] == '\0' || strncmp(out, "HTTP/1.1 413", 12) == 0, "got: %.60s", out);
    free(out);
    /* and the server still serves */
    struct t_resp r;
    cr_assert_eq(t_request(&plain, "GET", "/healthz", NULL, NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    t_resp_free(&r);
}

/* Each smuggling shape must get 400 and a closed connection, and the request hidden behind it
 * must never be executed (it would show as a second status line). */
static void
assert_refused(const char *req, const char *what)
{
    int closed = 0;
    char *out = t_raw(plain.port, NULL, req, strlen(req), 2500, &closed);
    cr_assert_not_null(out, "%s: no connection", what);
    cr_assert(strncmp(out, "HTTP/1.1 400", 12) == 0, "%s: got %.80s", what, out);
    /* nothing behind it may be served (libmicrohttpd's own 400 for a missing Host repeats
     * its status line, so count successes rather than status lines) */
    cr_assert_eq(count(out, "HTTP/1.1 2"), 0, "%s: a smuggled request was served", what);
    cr_assert_eq(count(out, "HTTP/1.1 4") + count(out, "HTTP/1.1 5"),
                 count(out, "HTTP/1.1 400"), "%s: another error was served", what);
    cr_assert(closed, "%s: the connection stayed open", what);
    free(out);
}

Test(framing, te_and_cl_together_are_refused_and_nothing_is_smuggled, .init = start_plain,
     .fini = stop_plain)
{
    assert_refused("POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
                   "CL+TE");
}

Test(framing, two_different_content_lengths_are_refused, .init = start_plain, .fini = stop_plain)
{
    assert_refused("POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 27\r\n"
                   "\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
                   "CL CL");
}

Test(framing, repeated_equal_content_lengths_are_refused, .init = start_plain, .fini = stop_plain)
{
    assert_refused("POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n"
                   "\r\n{}",
                   "CL=CL");
}

Test(framing, transfer_encodings_other_than_chunked_are_refused, .init = start_plain,
     .fini = stop_plain)
{
    const char *te[] = {"xchunked", "chunked, identity", "gzip", "Chunked", "identity", NULL};
    for (int i = 0; te[i] != NULL; i++) {
        char req[512];
        snprintf(req, sizeof(req),
                 "POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: %s\r\n\r\n0\r\n\r\n",
                 te[i]);
        assert_refused(req, te[i]);
    }
}

Test(framing, two_transfer_encoding_headers_are_refused, .init = start_plain, .fini = stop_plain)
{
    assert_refused("POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                   "TE TE");
}

Test(framing, http11_without_host_or_with_two_hosts_is_refused, .init = start_plain,
     .fini = stop_plain)
{
    assert_refused("GET /healthz HTTP/1.1\r\n\r\n", "no Host");
    assert_refused("GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "two Hosts");
}

Test(framing, legitimate_pipelining_on_keep_alive_still_works, .init = start_plain,
     .fini = stop_plain)
{
    const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                       "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n"
                       "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    int closed = 0;
    char *out = t_raw(plain.port, NULL, req, sizeof(req) - 1, 3000, &closed);
    cr_assert_not_null(out);
    cr_assert_eq(count(out, "HTTP/1.1 200"), 3, "got: %s", out);
    free(out);
}

Test(framing, a_stalled_request_is_dropped_at_the_connection_timeout, .init = start_plain,
     .fini = stop_plain)
{
    const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n"; /* never finished */
    int closed = 0;
    long long t0 = t_now_ms();
    char *out = t_raw(plain.port, NULL, req, sizeof(req) - 1, 8000, &closed);
    cr_assert_not_null(out);
    cr_assert(closed, "the stalled connection was kept");
    cr_assert_lt(t_now_ms() - t0, 7000);
    free(out);
}

Test(framing, idle_connections_do_not_delay_a_normal_request, .init = start_plain,
     .fini = stop_plain)
{
    /* 200 idle connections from another loopback address: the per-IP limit takes the excess,
     * and a client at 127.0.0.1 is served at once */
    int fds[200];
    int opened = 0;
    for (int i = 0; i < 200; i++) {
        fds[i] = t_open_idle(plain.port, "127.0.0.2");
        opened += fds[i] >= 0;
    }
    cr_assert_gt(opened, 0);
    long long t0 = t_now_ms();
    struct t_resp r;
    cr_assert_eq(t_request(&plain, "GET", "/healthz", NULL, NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_lt(t_now_ms() - t0, 1000, "a normal request waited behind idle connections");
    t_resp_free(&r);
    for (int i = 0; i < 200; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
}

Test(shutdown, sigterm_exits_zero, .init = start_plain)
{
    cr_assert_eq(t_stop(&plain), 0);
}
