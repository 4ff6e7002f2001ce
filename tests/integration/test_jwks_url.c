/* The identity provider's keys by URL (issue 15 item 4): a local HTTPS identity provider
 * (tests/tools/jwks_server.py, the test certificate as its CA) serves a JWKS the test rewrites.
 * Key rollover (a new kid is taken at first sight, refetches for unknown kids are rate-limited),
 * an outage and a bad document (the last good set keeps working, /readyz stays ready), a removed
 * key (refused after the next refresh), OpenID discovery (jwks_uri from the issuer's document),
 * and an IdP that hangs or answers wrongly from the start (503, never 401; ready once it
 * answers). */
#include "client.h"
#include "harness.h"
#include "idp.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void
fini(void)
{
    cleanup_all();
}

TestSuite(jwks_url, .fini = fini, .timeout = 180);

struct idp_srv {
    pid_t pid;
    char dir[512];
    int port;
};

static void
put(const struct idp_srv *p, const char *name, const char *content)
{
    char *tmp = fmt("%s/%s.tmp", p->dir, name);
    char *path = fmt("%s/%s", p->dir, name);
    FILE *f = fopen(tmp, "w");
    cr_assert_not_null(f);
    fputs(content, f);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(rename(tmp, path), 0);
}

static char *
jwks_of(const char *const *kids, size_t n)
{
    const char *jwks[8];
    for (size_t i = 0; i < n; i++) {
        jwks[i] = mint_jwk_json(t_idp_key(kids[i]), "\"use\":\"sig\"");
    }
    return mint_jwks_json(jwks, n);
}

static void
idp_start(struct idp_srv *p, const char *name)
{
    snprintf(p->dir, sizeof(p->dir), "%s/idp-%s-%d", t_env("CUSTOS_TEST_WORKDIR"), name,
             (int)getpid());
    mkdir(p->dir, 0700);
    char *port_file = fmt("%s/port", p->dir);
    unlink(port_file);
    p->pid = fork();
    cr_assert_geq(p->pid, 0);
    if (p->pid == 0) {
        char *log = fmt("%s/server.log", p->dir);
        if (freopen(log, "a", stderr) == NULL) {
            _exit(126);
        }
        execlp("python3", "python3", "tests/tools/jwks_server.py", p->dir, t_env("CUSTOS_TEST_CA"),
               fmt("%s/secrets/tls.key", t_env("CUSTOS_TEST_WORKDIR")), (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        FILE *f = fopen(port_file, "r");
        if (f != NULL) {
            int ok = fscanf(f, "%d", &p->port) == 1;
            fclose(f);
            if (ok) {
                return;
            }
        }
        usleep(50 * 1000);
    }
    cr_assert_fail("the test identity provider did not start (see %s/server.log)", p->dir);
}

static void
idp_stop(struct idp_srv *p)
{
    kill(p->pid, SIGTERM);
    waitpid(p->pid, NULL, 0);
}

/* Requests the IdP has answered (or held) for path since it started. */
static int
requests(const struct idp_srv *p, const char *path)
{
    FILE *f = fopen(fmt("%s/requests.log", p->dir), "r");
    int n = 0;
    char line[512];
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        n += strcmp(line, path) == 0;
    }
    if (f != NULL) {
        fclose(f);
    }
    return n;
}

static void
wait_requests(const struct idp_srv *p, const char *path, int n)
{
    long long deadline = t_now_ms() + 60000;
    while (requests(p, path) < n) {
        cr_assert_lt(t_now_ms(), deadline, "the server never asked for %s %d times", path, n);
        usleep(50 * 1000);
    }
}

/* A fresh token (its own sub: never a hit in the verified-token cache) signed by kid. */
static char *
token_by(const char *kid, const char *iss)
{
    static int seq;
    char sub[64], extra[256] = "";
    snprintf(sub, sizeof(sub), "jwks-url-%d-%d", (int)getpid(), ++seq);
    if (iss != NULL) {
        snprintf(extra, sizeof(extra), "{\"iss\":\"%s\"}", iss);
    }
    char *claims = t_claims(NULL, "vault:admin", sub, 3600, iss != NULL ? extra : NULL);
    const char *alg = strncmp(kid, "rsa", 3) == 0 ? "RS256"
                      : strcmp(kid, "ec-256") == 0 ? "ES256"
                      : strcmp(kid, "ec-384") == 0 ? "ES384"
                                                   : "ES512";
    return t_token_raw(kid, alg, own(claims));
}

static long
status_with(const struct t_server *s, const char *token)
{
    struct t_resp r;
    cr_assert_eq(t_request(s, "GET", "/v1/tenants", token, NULL, NULL, &r), 0);
    long st = r.status;
    t_resp_free(&r);
    return st;
}

static long
readyz(const struct t_server *s, char *detail, size_t n)
{
    struct t_resp r;
    cr_assert_eq(t_request(s, "GET", "/readyz", NULL, NULL, NULL, &r), 0);
    long st = r.status;
    if (detail != NULL) {
        const char *d = json_string_value(json_object_get(r.json, "detail"));
        snprintf(detail, n, "%s", d != NULL ? d : "");
    }
    t_resp_free(&r);
    return st;
}

static void
spawn_with(const struct idp_srv *p, const char *refresh, const char *min_refetch, int ready,
           struct t_server *out)
{
    const char *env[] = {"CUSTOS_JWKS_FILE=",
                         fmt("CUSTOS_JWKS_URL=https://127.0.0.1:%d/jwks.json", p->port),
                         fmt("CUSTOS_JWKS_CA_FILE=%s", t_env("CUSTOS_TEST_CA")),
                         fmt("CUSTOS_JWKS_REFRESH=%s", refresh),
                         fmt("CUSTOS_JWKS_MIN_REFETCH=%s", min_refetch),
                         "CUSTOS_JWKS_TIMEOUT_MS=1000",
                         NULL};
    int rc = ready ? t_spawn(env, 1, out) : t_spawn_unready(env, 1, out);
    cr_assert_eq(rc, 0, "could not start a server with CUSTOS_JWKS_URL");
}

Test(jwks_url, a_new_kid_is_taken_at_first_sight_and_refetches_for_unknown_kids_are_rate_limited)
{
    struct idp_srv p;
    idp_start(&p, "rollover");
    const char *one[] = {"rsa-1"};
    put(&p, "jwks.json", jwks_of(one, 1));
    struct t_server s;
    spawn_with(&p, "3600", "8", 1, &s);
    cr_assert_eq(status_with(&s, token_by("rsa-1", NULL)), 200);
    cr_assert_eq(requests(&p, "/jwks.json"), 1, "one fetch at start");

    /* the IdP rolls to a new key; past the refetch interval, its first token is accepted */
    const char *two[] = {"rsa-1", "ec-256"};
    put(&p, "jwks.json", jwks_of(two, 2));
    sleep(9);
    cr_assert_eq(status_with(&s, token_by("ec-256", NULL)), 200, "a new kid at first sight");
    cr_assert_eq(requests(&p, "/jwks.json"), 2);

    /* kids the IdP does not have: 401, and no fetch until the interval has passed */
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(status_with(&s, token_by("ec-384", NULL)), 401);
    }
    cr_assert_eq(requests(&p, "/jwks.json"), 2, "unknown kids within the interval fetched again");

    const char *three[] = {"rsa-1", "ec-256", "ec-384"};
    put(&p, "jwks.json", jwks_of(three, 3));
    sleep(9);
    cr_assert_eq(status_with(&s, token_by("ec-384", NULL)), 200);
    cr_assert_eq(requests(&p, "/jwks.json"), 3);
    cr_assert_eq(t_stop(&s), 0);
    idp_stop(&p);
}

Test(jwks_url, an_outage_or_a_bad_document_keeps_the_last_good_set_and_a_removed_key_goes)
{
    struct idp_srv p;
    idp_start(&p, "outage");
    const char *one[] = {"rsa-1"};
    put(&p, "jwks.json", jwks_of(one, 1));
    struct t_server s;
    spawn_with(&p, "1", "0", 1, &s);
    cr_assert_eq(status_with(&s, token_by("rsa-1", NULL)), 200);

    /* the IdP answers 503: the set fetched before keeps verifying new tokens, ready stays */
    put(&p, "mode", "down");
    int before = requests(&p, "/jwks.json");
    wait_requests(&p, "/jwks.json", before + 2);
    cr_assert_eq(status_with(&s, token_by("rsa-1", NULL)), 200, "during the outage");
    cr_assert_eq(readyz(&s, NULL, 0), 200, "an IdP outage with a good set is not unready");
    struct t_resp r;
    cr_assert_eq(t_request(&s, "GET", "/metrics", NULL, NULL, NULL, &r), 0);
    cr_assert_not_null(strstr(r.body, "custos_jwks_fetch_failures_total"));
    cr_assert_null(strstr(r.body, "custos_jwks_fetch_failures_total 0\n"), "%s", r.body);
    t_resp_free(&r);

    /* back, but with a document that is not a JWKS: refused, the last good set stays */
    put(&p, "jwks.json", "{\"keys\":[{\"kty\":");
    unlink(fmt("%s/mode", p.dir));
    before = requests(&p, "/jwks.json");
    wait_requests(&p, "/jwks.json", before + 2);
    cr_assert_eq(status_with(&s, token_by("rsa-1", NULL)), 200, "after a bad document");

    /* a set without rsa-1: its tokens stop working after the next refresh */
    const char *other[] = {"ec-256"};
    put(&p, "jwks.json", jwks_of(other, 1));
    before = requests(&p, "/jwks.json");
    wait_requests(&p, "/jwks.json", before + 2);
    cr_assert_eq(status_with(&s, token_by("ec-256", NULL)), 200);
    cr_assert_eq(status_with(&s, token_by("rsa-1", NULL)), 401, "a removed key still verified");
    cr_assert_eq(t_stop(&s), 0);
    idp_stop(&p);
}

Test(jwks_url, discovery_takes_the_jwks_uri_of_the_issuers_document)
{
    struct idp_srv p;
    idp_start(&p, "discovery");
    const char *one[] = {"ec-256"};
    put(&p, "jwks.json", jwks_of(one, 1));
    char *iss = fmt("https://127.0.0.1:%d/", p.port);
    put(&p, "openid-configuration",
        fmt("{\"issuer\":\"%s\",\"jwks_uri\":\"https://127.0.0.1:%d/jwks.json\"}", iss, p.port));
    const char *env[] = {"CUSTOS_JWKS_FILE=",
                         "CUSTOS_OIDC_DISCOVERY=1",
                         fmt("CUSTOS_JWT_ISSUER=%s", iss),
                         fmt("CUSTOS_JWKS_CA_FILE=%s", t_env("CUSTOS_TEST_CA")),
                         NULL};
    struct t_server s;
    cr_assert_eq(t_spawn(env, 1, &s), 0);
    cr_assert_eq(status_with(&s, token_by("ec-256", iss)), 200);
    cr_assert_geq(requests(&p, "/.well-known/openid-configuration"), 1);
    cr_assert_eq(t_stop(&s), 0);

    /* a document naming another issuer is refused: never ready, tokens 503 (not 401) */
    put(&p, "openid-configuration",
        fmt("{\"issuer\":\"https://evil.example/\",\"jwks_uri\":\"https://127.0.0.1:%d/jwks.json\"}",
            p.port));
    cr_assert_eq(t_spawn_unready(env, 1, &s), 0);
    char detail[256];
    cr_assert_eq(readyz(&s, detail, sizeof(detail)), 503);
    cr_assert(strstr(detail, "identity provider") != NULL, "%s", detail);
    cr_assert_eq(status_with(&s, token_by("ec-256", iss)), 503);
    cr_assert_eq(t_stop(&s), 0);
    idp_stop(&p);
}

Test(jwks_url, an_idp_that_hangs_at_start_delays_readiness_only_and_requests_wait_bounded)
{
    struct idp_srv p;
    idp_start(&p, "hang");
    const char *one[] = {"rsa-1"};
    put(&p, "jwks.json", jwks_of(one, 1));
    put(&p, "mode", "hang");
    struct t_server s;
    spawn_with(&p, "3600", "0", 0, &s);
    cr_assert_eq(readyz(&s, NULL, 0), 503);
    cr_assert_eq(status_with(&s, token_by("rsa-1", NULL)), 503);

    /* the IdP answers again: the retry (every 2 s while no set is loaded) makes the node ready */
    unlink(fmt("%s/mode", p.dir));
    long long deadline = t_now_ms() + 60000;
    while (readyz(&s, NULL, 0) != 200) {
        cr_assert_lt(t_now_ms(), deadline, "never ready after the IdP came back");
        usleep(100 * 1000);
    }
    cr_assert_eq(status_with(&s, token_by("rsa-1", NULL)), 200);

    /* it hangs again: a token with an unknown kid waits for one refetch, bounded by
     * CUSTOS_JWKS_TIMEOUT_MS (1 s here), then gets its 401; known kids are not delayed */
    put(&p, "mode", "hang");
    long long t0 = t_now_ms();
    cr_assert_eq(status_with(&s, token_by("ec-521", NULL)), 401);
    long long waited = t_now_ms() - t0;
    t0 = t_now_ms();
    cr_assert_eq(status_with(&s, token_by("rsa-1", NULL)), 200);
    cr_log_info("unknown kid with a hanging IdP answered in %lld ms; a known kid in %lld ms",
                waited, t_now_ms() - t0);
    fprintf(stderr, "jwks_url: unknown kid with a hanging IdP answered in %lld ms\n", waited);
    cr_assert_eq(t_stop(&s), 0);
    idp_stop(&p);
}
