/* Root-key rotation while nodes run (issue 15 item 5). Two `serve` processes on a database of
 * the test's own, reads and writes on both from a load thread, `custos rotate-root` in the
 * middle. A wrong answer is anything but the right value (200) or a 503: a 404 for a token that
 * exists, a 500, another value. With CUSTOS_ROOT_KEY_NEXT_FILE in place before the rotation the
 * nodes take the new root without a 503; without it they say "root key rotated" on /readyz (503)
 * and on requests until CUSTOS_ROOT_KEY_FILE holds the new key, then take it without a restart. */
#include "harness.h"
#include "idp.h"
#include "tenant.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void
fini(void)
{
    mint_free_all();
}

TestSuite(root_rotation, .fini = fini, .timeout = 240);

/* Runs `custos <args>` with extra environment (space-separated NAME=value); exit status. */
static int
run(const char *env, const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "env %s timeout 60 %s %s >>%s/rotation-cmd.log 2>&1", env,
             t_env("CUSTOS_TEST_BIN"), args, t_env("CUSTOS_TEST_WORKDIR"));
    int status = system(cmd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
key_file(const char *path, const char *from)
{
    char cmd[1024];
    if (from != NULL) {
        snprintf(cmd, sizeof(cmd), "cp %s %s.tmp && mv %s.tmp %s", from, path, path, path);
    } else {
        snprintf(cmd, sizeof(cmd), "%s keygen >%s.tmp && mv %s.tmp %s", t_env("CUSTOS_TEST_BIN"),
                 path, path, path);
    }
    cr_assert_eq(system(cmd), 0, "%s", cmd);
}

static char *
store(const struct t_server *s, const char *tok, const char *subject, const char *name)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"records\":[{\"subject_id\":\"%s\",\"fields\":{\"name\":\"%s\"}}]}", subject,
             name);
    struct t_resp r;
    if (t_json(s, "POST", "/v1/collections/c/records", tok, body, &r) != 0) {
        return NULL;
    }
    char *token = NULL;
    if (r.status == 201) {
        json_t *rec = json_array_get(json_object_get(r.json, "records"), 0);
        token = strdup(json_string_value(json_object_get(json_object_get(rec, "tokens"), "name")));
    } else {
        token = malloc(16);
        snprintf(token, 16, "!%ld", r.status);
    }
    t_resp_free(&r);
    return token;
}

static char *
setup(const struct t_server *s, char id[32])
{
    t_tenant_id(id);
    t_tenant_create(s, id, "Rotation");
    char *tok = t_token(id, "tenant:admin records:write detokenize:*.*:plain");
    t_collection_put(s, tok, "c", "{\"fields\":{\"name\":{\"type\":\"name\"}}}");
    t_purpose_put(s, tok, "support", "support", "contract");
    return tok;
}

#define LOAD_TENANTS 24

/* A tenant the load thread creates while the rotation runs (ids and tokens minted beforehand:
 * the minting helpers are not for threads). */
struct made {
    char id[32];
    const char *tok;
    char *token; /* its one value's token, once stored (heap) */
    char value[32];
};

struct load {
    const struct t_server *nodes[2];
    const char *tok;
    const char *token; /* revealed on every round, "Before Rotation" */
    const char *operator_tok;
    struct made made[LOAD_TENANTS];
    atomic_int stop;
    atomic_int ok, unavailable, wrong, tenants_made;
    char last_wrong[256];
};

static void
wrong(struct load *l, const char *what, long status)
{
    atomic_fetch_add(&l->wrong, 1);
    snprintf(l->last_wrong, sizeof(l->last_wrong), "%s: %ld", what, status);
}

static int
count(struct load *l, long st, long want, const char *what)
{
    if (st == want) {
        atomic_fetch_add(&l->ok, 1);
        return 1;
    }
    if (st == 503) {
        atomic_fetch_add(&l->unavailable, 1);
    } else {
        wrong(l, what, st);
    }
    return 0;
}

/* A new tenant on s (its KEK wrapped under whichever root s holds), a value written on s and
 * revealed on the other node. */
static void
make_tenant(struct load *l, struct made *m, const struct t_server *s, const struct t_server *o)
{
    struct t_resp r;
    char body[256];
    snprintf(body, sizeof(body), "{\"id\":\"%s\",\"name\":\"Made\"}", m->id);
    if (t_json(s, "POST", "/v1/tenants", l->operator_tok, body, &r) != 0) {
        return;
    }
    long st = r.status;
    t_resp_free(&r);
    if (!count(l, st, 201, "tenant create")) {
        return;
    }
    if (t_json(s, "PUT", "/v1/collections/c", m->tok, "{\"fields\":{\"name\":{\"type\":\"name\"}}}",
               &r) != 0) {
        return;
    }
    st = r.status;
    t_resp_free(&r);
    if (!count(l, st == 201 ? 200 : st, 200, "collection put")) {
        return;
    }
    if (t_json(s, "PUT", "/v1/purposes/support", m->tok,
               "{\"description\":\"support\",\"lawful_basis\":\"contract\"}", &r) != 0) {
        return;
    }
    st = r.status;
    t_resp_free(&r);
    if (!count(l, st == 201 ? 200 : st, 200, "purpose put")) {
        return;
    }
    char id[32];
    memcpy(id, m->id, sizeof(id));
    snprintf(m->value, sizeof(m->value), "Made %.20s", id + 2);
    char *token = store(s, m->tok, "m1", m->value);
    if (token == NULL || token[0] == '!') {
        count(l, token != NULL ? strtol(token + 1, NULL, 10) : -1, 201, "write in a new tenant");
        free(token);
        return;
    }
    atomic_fetch_add(&l->ok, 1);
    m->token = token;
    char value[64] = "";
    st = t_reveal(o, m->tok, token, value, sizeof(value));
    if (st == 200 && strcmp(value, m->value) != 0) {
        wrong(l, "a new tenant's value", st);
        return;
    }
    count(l, st, 200, "reveal in a new tenant");
    atomic_fetch_add(&l->tenants_made, 1);
}

/* Round after round on alternating nodes: reveal the old token, write a record, reveal it;
 * every fourth round a new tenant. */
static void *
load_main(void *arg)
{
    struct load *l = arg;
    for (int i = 0; !atomic_load(&l->stop); i++) {
        const struct t_server *s = l->nodes[i % 2];
        if (i % 4 == 3 && i / 4 < LOAD_TENANTS) {
            make_tenant(l, &l->made[i / 4], s, l->nodes[(i + 1) % 2]);
        }
        char value[64] = "";
        long st = t_reveal(s, l->tok, l->token, value, sizeof(value));
        if (st == 200 && strcmp(value, "Before Rotation") == 0) {
            atomic_fetch_add(&l->ok, 1);
        } else if (st == 503) {
            atomic_fetch_add(&l->unavailable, 1);
        } else {
            wrong(l, "reveal of an old token", st);
        }
        char subject[32], name[32];
        snprintf(subject, sizeof(subject), "load-%d", i % 50);
        snprintf(name, sizeof(name), "Load Value %d", i);
        char *token = store(s, l->tok, subject, name);
        if (token == NULL || token[0] == '!') {
            long code = token != NULL ? strtol(token + 1, NULL, 10) : -1;
            if (code == 503) {
                atomic_fetch_add(&l->unavailable, 1);
            } else {
                wrong(l, "write", code);
            }
            free(token);
            continue;
        }
        atomic_fetch_add(&l->ok, 1);
        st = t_reveal(l->nodes[(i + 1) % 2], l->tok, token, value, sizeof(value));
        if (st == 200 && strcmp(value, name) == 0) {
            atomic_fetch_add(&l->ok, 1);
        } else if (st == 503) {
            atomic_fetch_add(&l->unavailable, 1);
        } else {
            wrong(l, "reveal of a new token", st);
        }
        free(token);
    }
    return NULL;
}

static void
prepare(struct load *l)
{
    l->operator_tok = t_operator_token();
    for (int k = 0; k < LOAD_TENANTS; k++) {
        t_tenant_id(l->made[k].id);
        l->made[k].tok =
            t_token(l->made[k].id, "tenant:admin records:write detokenize:*.*:plain");
    }
}

/* Every tenant the load made is readable on s (a node holding only the new key). */
static void
check_made(struct load *l, const struct t_server *s)
{
    int n = 0;
    for (int k = 0; k < LOAD_TENANTS; k++) {
        struct made *m = &l->made[k];
        if (m->token == NULL) {
            continue;
        }
        char value[64] = "";
        cr_assert_eq(t_reveal(s, m->tok, m->token, value, sizeof(value)), 200,
                     "tenant %s made during the rotation", m->id);
        cr_assert_str_eq(value, m->value);
        free(m->token);
        m->token = NULL;
        n++;
    }
    fprintf(stderr, "root_rotation: %d tenants made under load read with the new key only\n", n);
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

struct rig {
    char db[64];
    char db_env[1100];
    char root_path[512], next_path[512];
    char root_env[600], next_env[600];
    struct t_server a, b;
};

static void
rig_up(struct rig *g, int with_next)
{
    cr_assert_eq(t_db_create(g->db), 0);
    char url[1024];
    t_db_url(g->db, 0, url, sizeof(url));
    snprintf(g->db_env, sizeof(g->db_env), "CUSTOS_DATABASE_URL=%s", url);
    snprintf(g->root_path, sizeof(g->root_path), "%s/%s-root.key", t_env("CUSTOS_TEST_WORKDIR"),
             g->db);
    snprintf(g->next_path, sizeof(g->next_path), "%s/%s-next.key", t_env("CUSTOS_TEST_WORKDIR"),
             g->db);
    key_file(g->root_path, t_env("CUSTOS_ROOT_KEY_FILE"));
    snprintf(g->root_env, sizeof(g->root_env), "CUSTOS_ROOT_KEY_FILE=%s", g->root_path);
    snprintf(g->next_env, sizeof(g->next_env), "CUSTOS_ROOT_KEY_NEXT_FILE=%s",
             with_next ? g->next_path : "");
    const char *env[] = {g->db_env, g->root_env, g->next_env, "CUSTOS_SWEEP_INTERVAL=86400",
                         NULL};
    cr_assert_eq(t_spawn(env, 1, &g->a), 0);
    cr_assert_eq(t_spawn(env, 1, &g->b), 0);
}

static void
rig_down(struct rig *g)
{
    cr_assert_eq(t_stop(&g->a), 0, "node a: see %s", g->a.log_path);
    cr_assert_eq(t_stop(&g->b), 0, "node b: see %s", g->b.log_path);
    t_db_drop(g->db);
}

/* rotate-root with the current key file as the old key and new_path as the new one */
static void
rotate(struct rig *g, const char *new_path)
{
    char env[2048], args[600];
    snprintf(env, sizeof(env), "'%s' '%s'", g->db_env, g->root_env);
    snprintf(args, sizeof(args), "rotate-root --new-key-file %s", new_path);
    cr_assert_eq(run(env, args), 0, "rotate-root failed: see rotation-cmd.log");
}

Test(root_rotation, under_load_across_two_nodes_with_the_next_key_in_place_no_wrong_answer)
{
    struct rig g;
    rig_up(&g, 1);
    char t1[32], t2[32];
    char *tok1 = setup(&g.a, t1);
    char *tok2 = setup(&g.a, t2); /* node b never meets t2 before the rotation */
    char *old1 = store(&g.a, tok1, "s1", "Before Rotation");
    char *old2 = store(&g.a, tok2, "s2", "Before Rotation");
    cr_assert(old1[0] != '!' && old2[0] != '!');

    struct load l = {.nodes = {&g.a, &g.b}, .tok = tok1, .token = old1};
    prepare(&l);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, load_main, &l), 0);
    while (atomic_load(&l.ok) < 20) {
        usleep(50 * 1000);
    }
    key_file(g.next_path, NULL);
    rotate(&g, g.next_path);
    int ok_at_rotation = atomic_load(&l.ok);
    /* node b meets t2 (its KEK not cached there) and a tenant made after the rotation */
    char value[64] = "";
    cr_assert_eq(t_reveal(&g.b, tok2, old2, value, sizeof(value)), 200);
    cr_assert_str_eq(value, "Before Rotation");
    char *new2 = store(&g.b, tok2, "s3", "After Rotation");
    cr_assert(new2[0] != '!', "write on node b after the rotation: %s", new2);
    char t3[32];
    char *tok3 = setup(&g.b, t3);
    char *new3 = store(&g.b, tok3, "s4", "New Tenant");
    cr_assert(new3[0] != '!', "write in a tenant created after the rotation: %s", new3);
    while (atomic_load(&l.ok) < ok_at_rotation + 60) {
        usleep(50 * 1000);
    }
    atomic_store(&l.stop, 1);
    pthread_join(th, NULL);
    cr_assert_eq(atomic_load(&l.wrong), 0, "%d wrong answers, last: %s", atomic_load(&l.wrong),
                 l.last_wrong);
    cr_assert_eq(atomic_load(&l.unavailable), 0, "%d answers 503 with the next key in place",
                 atomic_load(&l.unavailable));
    cr_assert_eq(readyz(&g.a, NULL, 0), 200);
    cr_assert_eq(readyz(&g.b, NULL, 0), 200);
    fprintf(stderr,
            "root_rotation: with the next key: %d right answers (%d tenants made), 0 wrong, 0 "
            "answers 503\n",
            atomic_load(&l.ok), atomic_load(&l.tenants_made));

    /* only the new key opens everything, the tenant made after the rotation included */
    cr_assert_eq(t_stop(&g.b), 0);
    char new_root_env[600];
    snprintf(new_root_env, sizeof(new_root_env), "CUSTOS_ROOT_KEY_FILE=%s", g.next_path);
    const char *env[] = {g.db_env, new_root_env, "CUSTOS_ROOT_KEY_NEXT_FILE=",
                         "CUSTOS_SWEEP_INTERVAL=86400", NULL};
    cr_assert_eq(t_spawn(env, 1, &g.b), 0);
    cr_assert_eq(t_reveal(&g.b, tok3, new3, value, sizeof(value)), 200);
    cr_assert_str_eq(value, "New Tenant");
    cr_assert_eq(t_reveal(&g.b, tok2, new2, value, sizeof(value)), 200);
    cr_assert_str_eq(value, "After Rotation");
    cr_assert_eq(t_reveal(&g.b, tok1, old1, value, sizeof(value)), 200);
    check_made(&l, &g.b);
    free(old1);
    free(old2);
    free(new2);
    free(new3);
    rig_down(&g);
}

Test(root_rotation, without_the_new_key_a_node_says_rotated_with_503_then_takes_it_unrestarted)
{
    struct rig g;
    rig_up(&g, 0);
    char t1[32], t2[32];
    char *tok1 = setup(&g.a, t1);
    char *tok2 = setup(&g.a, t2);
    char *old1 = store(&g.a, tok1, "s1", "Before Rotation");
    char *old2 = store(&g.a, tok2, "s2", "Before Rotation");
    cr_assert(old1[0] != '!' && old2[0] != '!');

    struct load l = {.nodes = {&g.a, &g.b}, .tok = tok1, .token = old1};
    prepare(&l);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, load_main, &l), 0);
    while (atomic_load(&l.ok) < 20) {
        usleep(50 * 1000);
    }
    key_file(g.next_path, NULL);
    rotate(&g, g.next_path);

    /* node b has no way to the new key: an uncached tenant is a 503, never a 404 or a 500 */
    char value[64] = "";
    cr_assert_eq(t_reveal(&g.b, tok2, old2, value, sizeof(value)), 503);
    char *w = store(&g.b, tok2, "s3", "After Rotation");
    cr_assert_str_eq(w, "!503");
    free(w);
    char detail[256];
    cr_assert_eq(readyz(&g.b, detail, sizeof(detail)), 503);
    cr_assert(strstr(detail, "root key rotated") != NULL, "readyz detail: %s", detail);
    /* a tenant cannot be made under the old root on a stale node */
    struct t_resp r;
    char id[32], body[128];
    t_tenant_id(id);
    snprintf(body, sizeof(body), "{\"id\":\"%s\",\"name\":\"Stale\"}", id);
    cr_assert_eq(t_json(&g.b, "POST", "/v1/tenants", t_operator_token(), body, &r), 0);
    cr_assert_eq(r.status, 503, "%s", r.body);
    t_resp_free(&r);

    /* the operator puts the new key where CUSTOS_ROOT_KEY_FILE points: taken without a restart */
    key_file(g.root_path, g.next_path);
    int ready = 0;
    for (int i = 0; i < 100 && !ready; i++) {
        ready = readyz(&g.a, NULL, 0) == 200 && readyz(&g.b, NULL, 0) == 200;
        if (!ready) {
            usleep(100 * 1000);
        }
    }
    cr_assert(ready, "the nodes did not take the new root key");
    cr_assert_eq(t_reveal(&g.b, tok2, old2, value, sizeof(value)), 200);
    cr_assert_str_eq(value, "Before Rotation");
    int ok_after = atomic_load(&l.ok);
    while (atomic_load(&l.ok) < ok_after + 20) {
        usleep(50 * 1000);
    }
    atomic_store(&l.stop, 1);
    pthread_join(th, NULL);
    cr_assert_eq(atomic_load(&l.wrong), 0, "%d wrong answers, last: %s", atomic_load(&l.wrong),
                 l.last_wrong);
    fprintf(stderr,
            "root_rotation: without the next key: %d right answers, %d answers 503, 0 wrong\n",
            atomic_load(&l.ok), atomic_load(&l.unavailable));
    check_made(&l, &g.b);
    free(old1);
    free(old2);
    rig_down(&g);
}
