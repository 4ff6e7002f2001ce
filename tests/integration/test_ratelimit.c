/* The contract of the rate limits (issue 12 items 5 and 7): per principal and tenant on
 * tokenize (per record), search and verify, and per token on verify attempts; shared by every
 * node (two `serve` processes count into one limit), answered 429 problem+json with Retry-After
 * and the RateLimit-* fields of draft-ietf-httpapi-ratelimit-headers-06, audited, and raising
 * a rate_limited alert. Invariant: every test makes its own tenant and its own servers. */
#include "vault.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TestSuite(ratelimit, .fini = cleanup_all);

static struct t_resp *
post(const struct t_server *s, const char *path, const char *bearer, const char *body)
{
    struct t_resp *r = new_resp();
    cr_assert_eq(t_json(s, "POST", path, bearer, body, r), 0, "%s", r->error);
    return r;
}

static long
header_int(const struct t_resp *r, const char *name)
{
    char v[64];
    cr_assert(t_header(r, name, v, sizeof(v)), "no %s in %s", name, r->headers);
    return strtol(v, NULL, 10);
}

static void
assert_limited(const struct t_resp *r, long limit, long window)
{
    assert_problem(r, 429, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(r->json, "type")),
                     "https://custos.dev/problems/rate-limited");
    long retry = header_int(r, "Retry-After");
    cr_assert(retry >= 1 && retry <= window + window / 32 + 1, "Retry-After %ld", retry);
    cr_assert_eq(header_int(r, "RateLimit-Limit"), limit);
    cr_assert_eq(header_int(r, "RateLimit-Remaining"), 0);
    cr_assert_eq(header_int(r, "RateLimit-Reset"), retry);
    char policy[64];
    cr_assert(t_header(r, "RateLimit-Policy", policy, sizeof(policy)));
    cr_assert_str_eq(policy, fmt("%ld;w=%ld", limit, window));
}

static void
spawn(const char *const *env, struct t_server *out)
{
    cr_assert_eq(t_spawn(env, 1, out), 0, "could not start a server");
}

/* 1 when a line of the server's log holds both texts. */
static int
log_has(const struct t_server *s, const char *a, const char *b)
{
    FILE *f = fopen(s->log_path, "r");
    if (f == NULL) {
        return 0;
    }
    char line[8192];
    int found = 0;
    while (!found && fgets(line, sizeof(line), f) != NULL) {
        found = strstr(line, a) != NULL && strstr(line, b) != NULL;
    }
    fclose(f);
    return found;
}

struct burst {
    const struct t_server *s;
    const char *bearer;
    int n;
    int ok, refused, other;
};

static void *
burst_main(void *arg)
{
    struct burst *b = arg;
    for (int i = 0; i < b->n; i++) {
        struct t_resp r = {0};
        if (t_json(b->s, "POST", "/v1/collections/customers/search", b->bearer,
                   "{\"field\":\"phone\",\"value\":\"+14155550100\"}", &r) != 0) {
            b->other++;
        } else if (r.status == 200) {
            b->ok++;
        } else if (r.status == 429) {
            b->refused++;
        } else {
            b->other++;
        }
        t_resp_free(&r);
    }
    return NULL;
}

static const char SEARCH[] = "/v1/collections/customers/search";
static const char PHONE_Q[] = "{\"field\":\"phone\",\"value\":\"+14155550100\"}";

Test(ratelimit, limits_hold_across_two_nodes_and_raise_an_alert, .timeout = 180)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    const char *env[] = {"CUSTOS_RATE_SEARCH=4",
                         "CUSTOS_RATE_SEARCH_WINDOW=600",
                         "CUSTOS_RATE_TOKENIZE=5",
                         "CUSTOS_RATE_TOKENIZE_WINDOW=600",
                         "CUSTOS_RATE_VERIFY=7",
                         "CUSTOS_RATE_VERIFY_WINDOW=600",
                         NULL};
    struct t_server a, b;
    spawn(env, &a);
    spawn(env, &b);
    const struct t_server *node[] = {&a, &b};
    const char *miner = t_token_sub(t.id, "records:search records:write records:verify", "miner");
    const char *peer = t_token_sub(t.id, "records:search records:write", "peer");

    /* search: 4 per principal, alternating nodes; the fifth is refused on either node */
    for (int i = 0; i < 4; i++) {
        struct t_resp *r = post(node[i % 2], SEARCH, miner, PHONE_Q);
        cr_assert_eq(r->status, 200, "search %d: %ld %s", i, r->status, r->body);
        cr_assert_eq(header_int(r, "RateLimit-Limit"), 4);
        cr_assert_eq(header_int(r, "RateLimit-Remaining"), 3 - i, "%s", r->headers);
        cr_assert(header_int(r, "RateLimit-Reset") >= 1);
    }
    assert_limited(post(&a, SEARCH, miner, PHONE_Q), 4, 600);
    assert_limited(post(&b, SEARCH, miner, PHONE_Q), 4, 600);
    /* per principal: another principal of the tenant still searches */
    cr_assert_eq(post(&b, SEARCH, peer, PHONE_Q)->status, 200);
    /* at once from four threads on two nodes: exactly the limit passes (the key's row lock
     * orders the checks; a lost update would let more through) */
    const char *racer = t_token_sub(t.id, "records:search", "racer");
    struct burst bursts[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        bursts[i] = (struct burst){node[i % 2], racer, 6, 0, 0, 0};
        pthread_create(&th[i], NULL, burst_main, &bursts[i]);
    }
    int ok = 0, refused = 0, other = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ok += bursts[i].ok;
        refused += bursts[i].refused;
        other += bursts[i].other;
    }
    cr_assert_eq(other, 0);
    cr_assert_eq(ok, 4, "%d of 24 concurrent searches passed a limit of 4", ok);
    cr_assert_eq(refused, 20);

    /* tokenize counts records: 3 + 2 on two nodes fill the 5, then one more is refused and
     * nothing of it is stored */
    char *three = batch_body(3, "rl3");
    char *two = batch_body(2, "rl2");
    struct t_resp *r = post(&a, RECORDS, miner, three);
    cr_assert_eq(r->status, 201, "%ld %s", r->status, r->body);
    cr_assert_eq(header_int(r, "RateLimit-Remaining"), 2);
    r = post(&b, RECORDS, miner, two);
    cr_assert_eq(r->status, 201, "%ld %s", r->status, r->body);
    cr_assert_eq(header_int(r, "RateLimit-Remaining"), 0);
    PGconn *c = db_open("CUSTOS_TEST_ADMIN_DB_URL");
    long long before = db_count(c, "SELECT count(*) FROM records WHERE tenant_id = $1", t.id);
    assert_limited(post(&a, RECORDS, miner, records_body("crm-9", std_fields("+14155550177"))), 5,
                   600);
    cr_assert_eq(db_count(c, "SELECT count(*) FROM records WHERE tenant_id = $1", t.id), before);

    /* verify: the principal's 7 requests per window across nodes (five tokens, so that the
     * per-token attempts are not what refuses) */
    const char *toks[] = {tok(rec, "phone"), tok(rec, "card"), tok(rec, "email"), tok(rec, "ssn"),
                          tok(rec, "dob")};
    for (int i = 0; i < 7; i++) {
        char *body = dump(json_pack("{s:s, s:s}", "token", toks[i % 5], "value", "nope"));
        r = post(node[i % 2], "/v1/verify", miner, body);
        cr_assert_eq(r->status, 200, "verify %d: %ld %s", i, r->status, r->body);
    }
    char *body = dump(json_pack("{s:s, s:s}", "token", toks[0], "value", "+14155550100"));
    assert_limited(post(&b, "/v1/verify", miner, body), 7, 600);

    /* every refusal is audited, and the alert names the principal */
    cr_assert_eq(db_count(c,
                          "SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                          " AND principal = 'miner' AND outcome = 'rate_limited'",
                          t.id),
                 4);
    r = api("GET", "/v1/alerts", t_token(t.id, "audit:read"), NULL);
    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
    json_t *alerts = json_object_get(r->json, "alerts");
    json_t *hit = NULL;
    for (size_t i = 0; i < json_array_size(alerts); i++) {
        json_t *al = json_array_get(alerts, i);
        if (strcmp(json_string_value(json_object_get(al, "type")), "rate_limited") == 0 &&
            strcmp(json_string_value(json_object_get(al, "principal")), "miner") == 0) {
            hit = al;
        }
    }
    cr_assert_not_null(hit, "no rate_limited alert: %s", r->body);
    cr_assert_eq(json_integer_value(json_object_get(hit, "refusals")), 4, "%s", r->body);
    cr_assert_str_eq(show(json_object_get(hit, "actions")),
                     "[\"records.search\",\"tokenize\",\"verify\"]");
    cr_assert_not_null(json_object_get(r->json, "rate_limit_rule"));
    /* the sweep (every 2 s here) logs it too, with the principal and counts only */
    int logged = 0;
    for (int i = 0; i < 300 && !logged; i++) {
        logged = log_has(&a, "principal refused by rate limits", "\"principal\":\"miner\"") ||
                 log_has(&b, "principal refused by rate limits", "\"principal\":\"miner\"");
        if (!logged) {
            usleep(100 * 1000);
        }
    }
    cr_assert(logged, "no sweep log line for the rate_limited alert");
    t_stop(&a);
    t_stop(&b);
}

Test(ratelimit, verify_attempts_are_counted_across_nodes, .timeout = 120)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    struct t_server b;
    spawn(NULL, &b); /* the defaults, like the shared server: 5 attempts per 900 s */
    const struct t_server *node[] = {t_shared(), &b};
    const char *agent = t_token(t.id, "records:verify");
    char *wrong =
        dump(json_pack("{s:s, s:s}", "token", tok(rec, "phone"), "value", "+14155550111"));
    for (int i = 0; i < 5; i++) {
        struct t_resp *r = post(node[i % 2], "/v1/verify", agent, wrong);
        cr_assert_eq(r->status, 200, "attempt %d: %ld %s", i, r->status, r->body);
    }
    char *right =
        dump(json_pack("{s:s, s:s}", "token", tok(rec, "phone"), "value", "+14155550100"));
    assert_limited(post(&b, "/v1/verify", agent, right), 5, 900);
    assert_limited(post(t_shared(), "/v1/verify", agent, right), 5, 900);
    t_stop(&b);
}

/* The window slides: once the oldest counted event is older than the window, one more is
 * allowed. A short window (3 s) keeps the wait short; the refusal is asserted only when the
 * second request came within the window (a slow machine may take longer, never asserted). */
Test(ratelimit, a_refused_key_is_allowed_again_after_the_window, .timeout = 120)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    const char *env[] = {"CUSTOS_VERIFY_ATTEMPTS=1", "CUSTOS_VERIFY_WINDOW=3",
                         "CUSTOS_RATE_SEARCH=1", "CUSTOS_RATE_SEARCH_WINDOW=3", NULL};
    struct t_server a;
    spawn(env, &a);
    const char *agent = t_token(t.id, "records:verify records:search");
    char *right =
        dump(json_pack("{s:s, s:s}", "token", tok(rec, "phone"), "value", "+14155550100"));
    for (int round = 0; round < 2; round++) {
        long long t0 = t_now_ms();
        struct t_resp *first = post(&a, "/v1/verify", agent, right);
        cr_assert_eq(first->status, 200, "round %d: %ld %s", round, first->status, first->body);
        struct t_resp *s1 = post(&a, SEARCH, agent, PHONE_Q);
        cr_assert_eq(s1->status, 200, "round %d: %ld %s", round, s1->status, s1->body);
        struct t_resp *second = post(&a, "/v1/verify", agent, right);
        struct t_resp *s2 = post(&a, SEARCH, agent, PHONE_Q);
        if (t_now_ms() - t0 < 2500) {
            assert_limited(second, 1, 3);
            assert_limited(s2, 1, 3);
        }
        /* wait out the window (and its 1/32 granularity) */
        usleep(3300 * 1000);
    }
    t_stop(&a);
}

static long long
round_trips(const struct t_server *s)
{
    return (long long)t_metric(s, "custos_db_round_trips_total");
}

/* Round trips of n requests (counted by the server, so no clock is involved). */
static long long
trips_of(const struct t_server *s, const char *path, const char *bearer, const char *body, int n)
{
    long long before = round_trips(s);
    for (int i = 0; i < n; i++) {
        struct t_resp *r = post(s, path, bearer, body);
        cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
    }
    return round_trips(s) - before;
}

/* What a check costs: one round trip for a search (a statement of its own with BEGIN and
 * COMMIT), none for verify (its checks travel in the lookup's pipeline). Measured with the
 * sweep off, so that only the requests talk to the database; the times are printed, not
 * asserted. */
Test(ratelimit, a_check_costs_one_round_trip_and_none_in_verify, .timeout = 180)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    const char *on_env[] = {"CUSTOS_SWEEP_INTERVAL=0", "CUSTOS_VERIFY_ATTEMPTS=1000", NULL};
    const char *off_env[] = {"CUSTOS_SWEEP_INTERVAL=0", "CUSTOS_RATE_SEARCH=0",
                             "CUSTOS_RATE_VERIFY=0", "CUSTOS_VERIFY_ATTEMPTS=1000", NULL};
    struct t_server on, off;
    spawn(on_env, &on);
    spawn(off_env, &off);
    const char *agent = t_token(t.id, "records:search records:verify");
    char *vbody =
        dump(json_pack("{s:s, s:s}", "token", tok(rec, "phone"), "value", "+14155550100"));
    const struct t_server *servers[] = {&on, &off};
    long long search_trips[2], verify_trips[2], ms[2];
    for (int k = 0; k < 2; k++) {
        /* warm: statements prepared, the subject key cached */
        (void)trips_of(servers[k], SEARCH, agent, PHONE_Q, 3);
        (void)trips_of(servers[k], "/v1/verify", agent, vbody, 3);
        search_trips[k] = trips_of(servers[k], SEARCH, agent, PHONE_Q, 20);
        verify_trips[k] = trips_of(servers[k], "/v1/verify", agent, vbody, 20);
        long long t0 = t_now_ms();
        (void)trips_of(servers[k], SEARCH, agent, PHONE_Q, 100);
        ms[k] = t_now_ms() - t0;
    }
    fprintf(stderr,
            "ratelimit cost: search %lld vs %lld round trips per 20 (limit on vs off), verify %lld"
            " vs %lld per 20; 100 searches %lld ms vs %lld ms\n",
            search_trips[0], search_trips[1], verify_trips[0], verify_trips[1], ms[0], ms[1]);
    cr_assert_eq(search_trips[0] - search_trips[1], 20, "a search's check is one round trip");
    /* verify's checks (the principal's and the token's) travel with the lookup */
    cr_assert_eq(verify_trips[0], verify_trips[1], "verify's checks cost a round trip");
    t_stop(&on);
    t_stop(&off);
}

/* Runs sql (one parameter: the tenant) on c and returns the first cell (heap, owned by the
 * test's process; NULL on error). */
static char *
cell(PGconn *c, const char *sql, const char *p1)
{
    PGresult *r = PQexecParams(c, sql, p1 != NULL ? 1 : 0, NULL, &p1, NULL, NULL, 0);
    char *v = NULL;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) {
        v = strdup(PQgetvalue(r, 0, 0));
    } else if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        cr_log_error("%s: %s", sql, PQerrorMessage(c));
    }
    PQclear(r);
    return v;
}

#define HIT "SELECT allowed FROM custos_rate_hit($1, 'race', 'p', 600000, 2, 1)"

/* Two nodes' checks of one key at the same moment, made deterministic: the second starts while
 * the first holds the key's row uncommitted, and must count on top of it once it commits (a
 * check that read the row before the first committed would let a third event through). */
Test(ratelimit, a_check_waits_for_a_concurrent_one_and_counts_on_top_of_it, .timeout = 60)
{
    struct vt t;
    tenant_create(&t);
    PGconn *first = db_open("CUSTOS_DATABASE_URL");
    PGconn *second = db_open("CUSTOS_DATABASE_URL");
    PGconn *admin = db_open("CUSTOS_TEST_ADMIN_DB_URL");
    const char *set = "SELECT set_config('custos.tenant', $1, false)";
    free(cell(first, set, t.id));
    free(cell(second, set, t.id));
    /* one event counted and committed: one of 2 left */
    char *v = cell(first, HIT, t.id);
    cr_assert_str_eq(v, "t");
    free(v);
    free(cell(first, "BEGIN", NULL));
    v = cell(first, HIT, t.id); /* the second event, not committed yet: it holds the row */
    cr_assert_str_eq(v, "t");
    free(v);
    char pid[32];
    snprintf(pid, sizeof(pid), "%d", PQbackendPID(second));
    const char *params[] = {t.id};
    cr_assert_eq(PQsendQueryParams(second, HIT, 1, NULL, params, NULL, NULL, 0), 1);
    /* until the second check waits on the first's lock (never a sleep on a guess) */
    int waiting = 0;
    for (int i = 0; i < 1000 && !waiting; i++) {
        char *w = cell(admin,
                       "SELECT count(*) FROM pg_stat_activity WHERE pid = $1::int"
                       " AND wait_event_type = 'Lock'",
                       pid);
        waiting = w != NULL && strcmp(w, "1") == 0;
        free(w);
        if (!waiting) {
            usleep(10 * 1000);
        }
    }
    cr_assert(waiting, "the second check did not wait for the first");
    free(cell(first, "COMMIT", NULL));
    PGresult *r = PQgetResult(second);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(second));
    cr_assert_str_eq(PQgetvalue(r, 0, 0), "f", "a third event passed a limit of 2");
    PQclear(r);
    while ((r = PQgetResult(second)) != NULL) {
        PQclear(r);
    }
}

/* Checks of one key arriving at once on a node share a transaction (issue 9 item 5: 32
 * connections of one principal took the key's row lock once each, in turn), and the limit
 * still holds exactly. Made deterministic as above: a check from another connection holds the
 * key's row uncommitted, so the node's first check waits on it and the others queue behind;
 * once it commits, the queue runs as one batch. */
Test(ratelimit, checks_of_one_key_at_once_share_a_transaction_and_the_limit_holds, .timeout = 120)
{
    struct vt t;
    vault_setup(&t);
    (void)tokenize1(&t, "crm-1", std_fields("+14155550100"));
    /* a thread per connection: in the epoll pool a worker that accepted several of the
     * connections at once serves them one after the other, so those behind the waiting check
     * (and a /metrics poll among them) would wait with it instead of reaching the rate check */
    const char *env[] = {"CUSTOS_SWEEP_INTERVAL=0", "CUSTOS_RATE_SEARCH=10",
                         "CUSTOS_RATE_SEARCH_WINDOW=600", "CUSTOS_HTTP_MODE=threads", NULL};
    struct t_server s;
    spawn(env, &s);
    const char *racer = t_token_sub(t.id, "records:search", "racer");
    PGconn *holder = db_open("CUSTOS_DATABASE_URL");
    PGconn *admin = db_open("CUSTOS_TEST_ADMIN_DB_URL");
    free(cell(holder, "SELECT set_config('custos.tenant', $1, false)", t.id));
    free(cell(holder, "BEGIN", NULL));
    char *v = cell(
        holder, "SELECT allowed FROM custos_rate_hit($1, 'search', 'racer', 600000, 10, 1)", t.id);
    cr_assert_str_eq(v, "t"); /* one of the 10, held uncommitted */
    free(v);
    enum { N = 16 };
    struct burst bursts[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        bursts[i] = (struct burst){&s, racer, 1, 0, 0, 0};
        pthread_create(&th[i], NULL, burst_main, &bursts[i]);
    }
    /* until the node's first check waits on the held row */
    int waiting = 0;
    for (int i = 0; i < 1000 && !waiting; i++) {
        char *w = cell(admin,
                       "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                       " AND query LIKE '%custos_rate_hit%' AND pid <> $1::int",
                       fmt("%d", PQbackendPID(holder)));
        waiting = w != NULL && strcmp(w, "0") != 0;
        free(w);
        if (!waiting) {
            usleep(10 * 1000);
        }
    }
    cr_assert(waiting, "no check waited for the held row");
    /* until the others have queued behind it on the node, counted as they queue (a fixed sleep
     * let them arrive after the COMMIT on a loaded machine, each then its own transaction) */
    unsigned long long queued = 0;
    for (int i = 0; i < 3000 && queued < N - 1; i++) {
        queued = t_metric_or(&s, "custos_rate_checks_queued_total", 0);
        if (queued < N - 1) {
            usleep(10 * 1000);
        }
    }
    cr_assert_eq(queued, N - 1, "%llu of %d checks queued behind the waiting one", queued, N - 1);
    free(cell(holder, "COMMIT", NULL));
    int ok = 0, refused = 0, other = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ok += bursts[i].ok;
        refused += bursts[i].refused;
        other += bursts[i].other;
    }
    cr_assert_eq(other, 0);
    cr_assert_eq(ok, 9, "%d of %d concurrent searches passed the 9 left of a limit of 10", ok, N);
    cr_assert_eq(refused, N - 9);
    unsigned long long checks = t_metric(&s, "custos_rate_checks_total");
    unsigned long long txs = t_metric(&s, "custos_rate_check_transactions_total");
    fprintf(stderr, "ratelimit batching: %llu checks in %llu transactions\n", checks, txs);
    cr_assert_eq(checks, N);
    /* the waiting check's transaction, one for those queued behind it (at most 64 a batch), and
     * at most one each for the rest */
    cr_assert_leq(txs, 1 + 1 + (N - 1 - queued), "%llu checks took %llu transactions, %llu queued",
                  checks, txs, queued);
    t_stop(&s);
}

/* Keys idle for longer than twice the longest window are forgotten by the sweep (every 2 s on
 * the shared server); a key in use stays. */
Test(ratelimit, the_sweep_forgets_idle_keys_only, .timeout = 90)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    const char *agent = t_token(t.id, "records:verify records:search");
    char *body = dump(json_pack("{s:s, s:s}", "token", tok(rec, "phone"), "value", "+14155550100"));
    cr_assert_eq(post(t_shared(), "/v1/verify", agent, body)->status, 200);
    cr_assert_eq(post(t_shared(), SEARCH, agent, PHONE_Q)->status, 200);
    PGconn *c = db_open("CUSTOS_TEST_ADMIN_DB_URL");
    /* tokenize (the admin's), verify and search (the agent's), the token's attempts */
    cr_assert_eq(db_count(c, "SELECT count(*) FROM rate_limits WHERE tenant_id = $1", t.id), 4);
    /* the token's attempt key goes idle for three days; the principal's keys stay fresh */
    PQclear(PQexecParams(c,
                         "UPDATE rate_limits SET updated_at = now() - interval '3 days'"
                         " WHERE tenant_id = $1 AND bucket = 'verify.token'",
                         1, NULL, (const char *const[]){t.id}, NULL, NULL, 0));
    long long left = 4;
    for (int i = 0; i < 600 && left != 3; i++) {
        usleep(100 * 1000);
        left = db_count(c, "SELECT count(*) FROM rate_limits WHERE tenant_id = $1", t.id);
    }
    cr_assert_eq(left, 3, "the idle key was not forgotten");
    cr_assert_eq(db_count(c,
                          "SELECT count(*) FROM rate_limits WHERE tenant_id = $1"
                          " AND bucket = 'verify.token'",
                          t.id),
                 0);
}
