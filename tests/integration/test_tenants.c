/* Tenants and the key hierarchy through HTTPS: tenant lifecycle, rotation and re-wrap, rotation
 * under concurrent writes, crypto-shredding on tenant deletion, ciphertext bound to its place,
 * and a second node that sees deletions at once. */
#include "harness.h"
#include "idp.h"
#include "tenant.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ALL_SCOPES                                                                                 \
    "tenant:admin records:write records:delete records:search detokenize:*.*:plain"

static void
fini(void)
{
    mint_free_all();
}

/* A tenant on server s with collection "c" (name random, phone deterministic) and purpose
 * "support". */
static char *
setup_vault_on(const struct t_server *s, char id[32])
{
    t_tenant_id(id);
    t_tenant_create(s, id, "Tenant");
    char *tok = t_token(id, ALL_SCOPES);
    t_collection_put(s, tok, "c",
                     "{\"fields\":{\"name\":{\"type\":\"name\"},"
                     "\"phone\":{\"type\":\"phone\",\"tokenization\":\"deterministic\"}}}");
    t_purpose_put(s, tok, "support", "support", "contract");
    return tok;
}

static char *
setup_vault(char id[32])
{
    return setup_vault_on(t_shared(), id);
}

/* Stores one record and returns its name token (heap) and record id (heap). */
static void
store(const struct t_server *s, const char *tok, const char *subject, const char *name,
      char **token, char **record_id)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"records\":[{\"subject_id\":\"%s\",\"fields\":{\"name\":\"%s\"}}]}", subject,
             name);
    struct t_resp r;
    cr_assert_eq(t_json(s, "POST", "/v1/collections/c/records", tok, body, &r), 0);
    cr_assert_eq(r.status, 201, "store: %s", r.body);
    json_t *rec = json_array_get(json_object_get(r.json, "records"), 0);
    *token = strdup(json_string_value(json_object_get(json_object_get(rec, "tokens"), "name")));
    if (record_id != NULL) {
        *record_id = strdup(json_string_value(json_object_get(rec, "id")));
    }
    t_resp_free(&r);
}

/* Detokenizes one token: returns the HTTP status of the item (200 with the value copied to
 * value, or the per-item error status). */
static json_t *
get_keys_on(const struct t_server *s, const char *tok)
{
    struct t_resp r;
    cr_assert_eq(t_request(s, "GET", "/v1/keys", tok, NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200, "keys: %s", r.body);
    json_t *j = json_incref(r.json);
    t_resp_free(&r);
    return j;
}

static json_t *
get_keys(const char *tok)
{
    return get_keys_on(t_shared(), tok);
}

static const char *
version_state(json_t *keys, int version)
{
    json_t *versions = json_object_get(keys, "versions");
    for (size_t i = 0; i < json_array_size(versions); i++) {
        json_t *v = json_array_get(versions, i);
        if (json_integer_value(json_object_get(v, "version")) == version) {
            return json_string_value(json_object_get(v, "state"));
        }
    }
    return "";
}

TestSuite(tenants, .fini = fini);

Test(tenants, a_tenant_is_created_read_listed_and_deleted)
{
    char id[32];
    t_tenant_id(id);
    t_tenant_create(t_shared(), id, "Tenant");
    struct t_resp r;
    char path[128];
    snprintf(path, sizeof(path), "/v1/tenants/%s", id);
    cr_assert_eq(t_request(t_shared(), "GET", path, t_operator_token(), NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "id")), id);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "kek_version")), 1);
    t_resp_free(&r);

    /* the list pages through every tenant; ours is on some page */
    int found = 0;
    char cursor[128] = "";
    for (int page = 0; page < 1000 && !found; page++) {
        char lp[256];
        snprintf(lp, sizeof(lp), "/v1/tenants?limit=50%s%s", cursor[0] ? "&cursor=" : "", cursor);
        cr_assert_eq(t_request(t_shared(), "GET", lp, t_operator_token(), NULL, NULL, &r), 0);
        cr_assert_eq(r.status, 200);
        json_t *list = json_object_get(r.json, "tenants");
        for (size_t i = 0; i < json_array_size(list); i++) {
            found |= strcmp(json_string_value(json_object_get(json_array_get(list, i), "id")),
                            id) == 0;
        }
        json_t *next = json_object_get(r.json, "next_cursor");
        int more = json_is_string(next);
        if (more) {
            snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
        }
        t_resp_free(&r);
        if (!more) {
            break;
        }
    }
    cr_assert(found, "the new tenant is not listed");

    cr_assert_eq(t_request(t_shared(), "DELETE", path, t_operator_token(), NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 204);
    t_resp_free(&r);
    cr_assert_eq(t_request(t_shared(), "GET", path, t_operator_token(), NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 404);
    t_resp_free(&r);
    cr_assert_eq(t_request(t_shared(), "DELETE", path, t_operator_token(), NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 404);
    t_resp_free(&r);
}

Test(tenants, a_duplicate_id_is_409_and_bad_bodies_are_422)
{
    char id[32];
    t_tenant_id(id);
    t_tenant_create(t_shared(), id, "Tenant");
    char body[128];
    snprintf(body, sizeof(body), "{\"id\":\"%s\",\"name\":\"again\"}", id);
    struct t_resp r;
    cr_assert_eq(t_json(t_shared(), "POST", "/v1/tenants", t_operator_token(), body, &r), 0);
    cr_assert_eq(r.status, 409);
    t_resp_free(&r);
    const char *bad[] = {"{\"id\":\"A-upper\"}",
                         "{\"id\":\"-lead\"}",
                         "{\"id\":\"x\"}",
                         "{\"id\":42}",
                         "{\"id\":\"ok-id-1\",\"tenant_id\":\"other\"}",
                         "{\"id\":\"ok-id-2\",\"name\":\"\"}",
                         "[]",
                         "{\"id\":\"x'; DROP TABLE tenants; --\"}",
                         NULL};
    for (int i = 0; bad[i] != NULL; i++) {
        cr_assert_eq(t_json(t_shared(), "POST", "/v1/tenants", t_operator_token(), bad[i], &r), 0);
        cr_assert_eq(r.status, 422, "%s gave %ld", bad[i], r.status);
        cr_assert(json_array_size(json_object_get(r.json, "errors")) > 0, "%s", r.body);
        t_resp_free(&r);
    }
    char *count = t_sql("SELECT count(*) FROM tenants WHERE tenant_id IN ('ok-id-1','ok-id-2')");
    cr_assert_str_eq(count, "0");
    free(count);
}

Test(tenants, only_the_platform_operator_manages_tenants)
{
    char id[32];
    t_tenant_id(id);
    t_tenant_create(t_shared(), id, "Tenant");
    char *tok = t_token(id, ALL_SCOPES);
    struct t_resp r;
    cr_assert_eq(t_request(t_shared(), "GET", "/v1/tenants", tok, NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 403);
    t_resp_free(&r);
    char path[128];
    snprintf(path, sizeof(path), "/v1/tenants/%s", id);
    cr_assert_eq(t_request(t_shared(), "DELETE", path, tok, NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 403);
    t_resp_free(&r);
    /* and the operator has no tenant to act in */
    cr_assert_eq(t_request(t_shared(), "GET", "/v1/keys", t_operator_token(), NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 403);
    t_resp_free(&r);
}

/* A server of its own on a database of its own whose sweep timer never fires: the test, not
 * the clock, decides when the sweep runs (the shared server sweeps every database row every
 * 2 s, which once destroyed version 1 before the test could see it retired). */
Test(keys, rotation_retires_the_old_version_and_the_sweep_rewraps_then_destroys_it,
     .timeout = 60)
{
    char db[64];
    cr_assert_eq(t_db_create(db), 0, "could not create and migrate a private database");
    char url[1024], db_env[1100];
    t_db_url(db, 0, url, sizeof(url));
    snprintf(db_env, sizeof(db_env), "CUSTOS_DATABASE_URL=%s", url);
    const char *env[] = {db_env, "CUSTOS_SWEEP_INTERVAL=86400", NULL};
    struct t_server srv;
    cr_assert_eq(t_spawn(env, 1, &srv), 0, "could not start a server on %s", db);

    char id[32];
    char *tok = setup_vault_on(&srv, id);
    char *tokens[5];
    for (int i = 0; i < 5; i++) {
        char subject[32], name[32];
        snprintf(subject, sizeof(subject), "crm-%d", i);
        snprintf(name, sizeof(name), "Customer Number %d", i);
        store(&srv, tok, subject, name, &tokens[i], NULL);
    }
    struct t_resp r;
    cr_assert_eq(t_json(&srv, "POST", "/v1/keys/rotate", tok, NULL, &r), 0);
    cr_assert_eq(r.status, 202, "%s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "version")), 2);
    t_resp_free(&r);
    json_t *k = get_keys_on(&srv, tok);
    cr_assert_eq(json_integer_value(json_object_get(k, "current_version")), 2);
    cr_assert_str_eq(version_state(k, 1), "retired");
    cr_assert_str_eq(version_state(k, 2), "active");
    json_t *rewrap = json_object_get(k, "rewrap");
    cr_assert_eq(json_integer_value(json_object_get(rewrap, "pending")), 5, "%s",
                 json_dumps(rewrap, JSON_COMPACT));
    cr_assert(json_is_false(json_object_get(rewrap, "complete")));
    json_decref(k);
    /* new material goes under v2 at once */
    char *t6 = NULL;
    store(&srv, tok, "crm-new", "Newcomer Person", &t6, NULL);
    /* while it waits for the sweep the old version still opens every value */
    char value[64];
    cr_assert_eq(t_reveal(&srv, tok, tokens[0], value, sizeof(value)), 200);
    cr_assert_str_eq(value, "Customer Number 0");

    /* one sweep re-wraps every subject key under v2 and then destroys v1 */
    const char *sweep_env[] = {db_env, NULL};
    cr_assert_eq(t_run(sweep_env, "sweep"), 0, "custos sweep failed");
    k = get_keys_on(&srv, tok);
    cr_assert_str_eq(version_state(k, 1), "destroyed");
    cr_assert_str_eq(version_state(k, 2), "active");
    rewrap = json_object_get(k, "rewrap");
    cr_assert_eq(json_integer_value(json_object_get(rewrap, "pending")), 0);
    cr_assert(json_is_true(json_object_get(rewrap, "complete")));
    json_decref(k);
    char *wrapped = t_sql_in(db, "SELECT count(*) FROM tenant_keys WHERE state = 'destroyed' "
                                 "AND wrapped IS NOT NULL");
    cr_assert_str_eq(wrapped, "0");
    free(wrapped);
    for (int i = 0; i < 5; i++) {
        char want[64];
        snprintf(want, sizeof(want), "Customer Number %d", i);
        cr_assert_eq(t_reveal(&srv, tok, tokens[i], value, sizeof(value)), 200);
        cr_assert_str_eq(value, want);
        free(tokens[i]);
    }
    cr_assert_eq(t_reveal(&srv, tok, t6, value, sizeof(value)), 200);
    cr_assert_str_eq(value, "Newcomer Person");
    free(t6);
    cr_assert_eq(t_stop(&srv), 0, "the server did not exit 0 on SIGTERM");
    cr_assert_eq(t_db_drop(db), 0, "could not drop %s", db);
}

struct writer {
    char tok[4096];
    char tenant[32];
    int id;
    atomic_int *stop;
    int stored;
    char tokens[400][40];
    char names[400][40];
};

static void *
write_loop(void *arg)
{
    struct writer *w = arg;
    while (!atomic_load(w->stop) && w->stored < 400) {
        char name[40];
        snprintf(name, sizeof(name), "Writer %d Value %d", w->id, w->stored);
        char body[256];
        snprintf(body, sizeof(body),
                 "{\"records\":[{\"subject_id\":\"w%d-s%d\",\"fields\":{\"name\":\"%s\"}}]}",
                 w->id, w->stored % 7, name);
        struct t_resp r;
        if (t_json(t_shared(), "POST", "/v1/collections/c/records", w->tok, body, &r) == 0 &&
            r.status == 201) {
            json_t *rec = json_array_get(json_object_get(r.json, "records"), 0);
            snprintf(w->tokens[w->stored], 40, "%s",
                     json_string_value(json_object_get(json_object_get(rec, "tokens"), "name")));
            snprintf(w->names[w->stored], 40, "%s", name);
            w->stored++;
        }
        t_resp_free(&r);
    }
    return NULL;
}

Test(keys, rotation_under_concurrent_writes_loses_nothing, .timeout = 120)
{
    char id[32];
    char *tok = setup_vault(id);
    atomic_int stop = 0;
    struct writer *w = calloc(4, sizeof(*w));
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        snprintf(w[i].tok, sizeof(w[i].tok), "%s", tok);
        w[i].id = i;
        w[i].stop = &stop;
        pthread_create(&th[i], NULL, write_loop, &w[i]);
    }
    for (int round = 0; round < 3; round++) {
        usleep(300 * 1000);
        struct t_resp r;
        cr_assert_eq(t_json(t_shared(), "POST", "/v1/keys/rotate", tok, NULL, &r), 0);
        cr_assert_eq(r.status, 202, "%s", r.body);
        t_resp_free(&r);
    }
    usleep(300 * 1000);
    atomic_store(&stop, 1);
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        total += w[i].stored;
    }
    cr_assert_gt(total, 0);
    /* wait for the re-wrap to finish, then every value must still be there */
    int complete = 0;
    for (int i = 0; i < 150 && !complete; i++) {
        json_t *k = get_keys(tok);
        complete = json_is_true(json_object_get(json_object_get(k, "rewrap"), "complete")) &&
                   strcmp(version_state(k, 1), "destroyed") == 0;
        json_decref(k);
        usleep(200 * 1000);
    }
    cr_assert(complete, "the re-wrap did not complete");
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < w[i].stored; j++) {
            char value[64];
            cr_assert_eq(t_reveal(t_shared(), tok, w[i].tokens[j], value, sizeof(value)), 200,
                         "writer %d value %d lost", i, j);
            cr_assert_str_eq(value, w[i].names[j]);
        }
    }
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM records WHERE tenant_id = '%s'", id);
    char *count = t_sql(sql);
    cr_assert_eq(atoi(count), total);
    free(count);
    free(w);
}

Test(tenants, deleting_a_tenant_destroys_its_keys_and_every_row)
{
    char id[32];
    char *tok = setup_vault(id);
    char *token = NULL;
    store(t_shared(), tok, "crm-1", "Doomed Customer", &token, NULL);
    char value[64];
    cr_assert_eq(t_reveal(t_shared(), tok, token, value, sizeof(value)), 200);
    char path[128];
    snprintf(path, sizeof(path), "/v1/tenants/%s", id);
    struct t_resp r;
    cr_assert_eq(t_request(t_shared(), "DELETE", path, t_operator_token(), NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 204);
    t_resp_free(&r);
    const char *tables[] = {"tenants",      "tenant_keys", "tenant_data_keys", "subject_keys",
                            "collections",  "purposes",    "records",          "record_values",
                            "tokens",       "roles",       "interactions",     "reveal_use",
                            NULL};
    for (int i = 0; tables[i] != NULL; i++) {
        char sql[256];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE tenant_id = '%s'", tables[i],
                 id);
        char *count = t_sql(sql);
        cr_assert_str_eq(count, "0", "%s still holds rows of the deleted tenant", tables[i]);
        free(count);
    }
    /* the same id created anew gets new keys; the old token means nothing there */
    t_tenant_create(t_shared(), id, "Tenant");
    cr_assert_eq(t_json(t_shared(), "PUT", "/v1/purposes/support", tok,
                        "{\"description\":\"s\",\"lawful_basis\":\"contract\"}", &r),
                 0);
    t_resp_free(&r);
    cr_assert_eq(t_reveal(t_shared(), tok, token, value, sizeof(value)), 404);
    free(token);
}

Test(keys, a_ciphertext_moved_to_another_record_or_field_does_not_decrypt)
{
    char id[32];
    char *tok = setup_vault(id);
    char *t1 = NULL, *t2 = NULL, *r1 = NULL, *r2 = NULL;
    store(t_shared(), tok, "crm-1", "Alice Anderson", &t1, &r1);
    store(t_shared(), tok, "crm-1", "Bobby Brownson", &t2, &r2);
    char sql[512];
    /* record 2's name ciphertext into record 1 (same subject key: only the AAD stops it) */
    snprintf(sql, sizeof(sql),
             "UPDATE record_values SET ciphertext = (SELECT ciphertext FROM record_values "
             "WHERE tenant_id = '%s' AND record_id = '%s' AND field = 'name') "
             "WHERE tenant_id = '%s' AND record_id = '%s' AND field = 'name'",
             id, r2, id, r1);
    char *n = t_sql(sql);
    cr_assert_str_eq(n, "1");
    free(n);
    char value[64] = "";
    cr_assert_eq(t_reveal(t_shared(), tok, t1, value, sizeof(value)), 404);
    cr_assert_str_eq(value, "");
    cr_assert_eq(t_reveal(t_shared(), tok, t2, value, sizeof(value)), 200);
    cr_assert_str_eq(value, "Bobby Brownson");
    free(t1);
    free(t2);
    free(r1);
    free(r2);
}

Test(keys, a_ciphertext_moved_to_another_tenant_does_not_decrypt)
{
    char a[32], b[32];
    char *ta = setup_vault(a);
    char *tb = setup_vault(b);
    char *tok_a = NULL, *tok_b = NULL, *ra = NULL, *rb = NULL;
    store(t_shared(), ta, "crm-1", "Secret Of Tenant A", &tok_a, &ra);
    store(t_shared(), tb, "crm-1", "Tenant B Own Value", &tok_b, &rb);
    char sql[640];
    snprintf(sql, sizeof(sql),
             "UPDATE record_values SET ciphertext = (SELECT ciphertext FROM record_values "
             "WHERE tenant_id = '%s' AND record_id = '%s' AND field = 'name') "
             "WHERE tenant_id = '%s' AND record_id = '%s' AND field = 'name'",
             a, ra, b, rb);
    char *n = t_sql(sql);
    cr_assert_str_eq(n, "1");
    free(n);
    char value[64] = "";
    cr_assert_eq(t_reveal(t_shared(), tb, tok_b, value, sizeof(value)), 404);
    cr_assert_str_eq(value, "");
    /* and A's token means nothing to B */
    cr_assert_eq(t_reveal(t_shared(), tb, tok_a, value, sizeof(value)), 404);
    free(tok_a);
    free(tok_b);
    free(ra);
    free(rb);
}

Test(keys, a_second_node_sees_deletions_at_once, .timeout = 60)
{
    struct t_server b;
    cr_assert_eq(t_spawn(NULL, 0, &b), 0);
    char id[32];
    char *tok = setup_vault(id);
    char *t1 = NULL, *r1 = NULL, *t2 = NULL;
    store(t_shared(), tok, "crm-1", "Cached On Node B", &t1, &r1);
    store(t_shared(), tok, "crm-2", "Tenant Wide Value", &t2, NULL);
    char value[64];
    /* warm node B's key cache */
    cr_assert_eq(t_reveal(&b, tok, t1, value, sizeof(value)), 200);
    cr_assert_eq(t_reveal(&b, tok, t2, value, sizeof(value)), 200);
    char path[160];
    snprintf(path, sizeof(path), "/v1/collections/c/records/%s", r1);
    struct t_resp r;
    cr_assert_eq(t_request(t_shared(), "DELETE", path, tok, NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 204);
    t_resp_free(&r);
    cr_assert_eq(t_reveal(&b, tok, t1, value, sizeof(value)), 410);
    snprintf(path, sizeof(path), "/v1/tenants/%s", id);
    cr_assert_eq(t_request(t_shared(), "DELETE", path, t_operator_token(), NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 204);
    t_resp_free(&r);
    value[0] = '\0';
    long st = t_reveal(&b, tok, t2, value, sizeof(value));
    cr_assert_neq(st, 200, "node B revealed a value of a deleted tenant");
    cr_assert_str_eq(value, "");
    cr_assert_eq(t_stop(&b), 0);
    free(t1);
    free(r1);
    free(t2);
}

Test(keys, a_tenant_recreated_under_the_same_id_gets_new_keys_on_every_node, .timeout = 60)
{
    struct t_server b;
    cr_assert_eq(t_spawn(NULL, 0, &b), 0);
    char id[32];
    char *tok = setup_vault(id);
    char *old = NULL;
    /* node B caches the first incarnation's keys */
    store(&b, tok, "crm-1", "First Incarnation", &old, NULL);
    char value[64];
    cr_assert_eq(t_reveal(&b, tok, old, value, sizeof(value)), 200);
    char path[128];
    snprintf(path, sizeof(path), "/v1/tenants/%s", id);
    struct t_resp r;
    cr_assert_eq(t_request(t_shared(), "DELETE", path, t_operator_token(), NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 204);
    t_resp_free(&r);
    t_tenant_create(t_shared(), id, "Tenant");
    cr_assert_eq(t_json(t_shared(), "PUT", "/v1/collections/c", tok,
                        "{\"fields\":{\"name\":{\"type\":\"name\"},"
                        "\"phone\":{\"type\":\"phone\",\"tokenization\":\"deterministic\"}}}",
                        &r),
                 0);
    t_resp_free(&r);
    cr_assert_eq(t_json(t_shared(), "PUT", "/v1/purposes/support", tok,
                        "{\"lawful_basis\":\"contract\"}", &r),
                 0);
    t_resp_free(&r);
    /* B writes with the new tenant's keys and A reads it, and the other way round */
    char *on_b = NULL, *on_a = NULL;
    store(&b, tok, "crm-2", "Second Incarnation", &on_b, NULL);
    store(t_shared(), tok, "crm-3", "Written On Node A", &on_a, NULL);
    cr_assert_eq(t_reveal(t_shared(), tok, on_b, value, sizeof(value)), 200);
    cr_assert_str_eq(value, "Second Incarnation");
    cr_assert_eq(t_reveal(&b, tok, on_a, value, sizeof(value)), 200);
    cr_assert_str_eq(value, "Written On Node A");
    cr_assert_neq(t_reveal(&b, tok, old, value, sizeof(value)), 200);
    /* deterministic tokens agree across nodes: both use the new token key */
    const char *body = "{\"records\":[{\"subject_id\":\"crm-4\",\"fields\":{\"phone\":\"+14155550123\"}}]}";
    struct t_resp ra, rb;
    cr_assert_eq(t_json(t_shared(), "POST", "/v1/collections/c/records", tok, body, &ra), 0);
    cr_assert_eq(t_json(&b, "POST", "/v1/collections/c/records", tok, body, &rb), 0);
    const char *ta = json_string_value(json_object_get(
        json_object_get(json_array_get(json_object_get(ra.json, "records"), 0), "tokens"),
        "phone"));
    const char *tb = json_string_value(json_object_get(
        json_object_get(json_array_get(json_object_get(rb.json, "records"), 0), "tokens"),
        "phone"));
    cr_assert_str_eq(ta, tb);
    t_resp_free(&ra);
    t_resp_free(&rb);
    cr_assert_eq(t_stop(&b), 0);
    free(old);
    free(on_a);
    free(on_b);
}

Test(tenants, an_idempotency_key_creates_one_tenant_and_rotates_once)
{
    char id[32], other[32], key[64], hdr[96];
    t_tenant_id(id);
    t_tenant_id(other);
    t_tenant_id(key);
    snprintf(hdr, sizeof(hdr), "Idempotency-Key: create-%s", key);
    const char *headers[] = {"Content-Type: application/json", hdr, NULL};
    char body[128], body2[128];
    snprintf(body, sizeof(body), "{\"id\":\"%s\"}", id);
    snprintf(body2, sizeof(body2), "{\"id\":\"%s\"}", other);
    struct t_resp r1, r2, r3;
    cr_assert_eq(t_request(t_shared(), "POST", "/v1/tenants", t_operator_token(), body, headers, &r1), 0);
    cr_assert_eq(r1.status, 201, "%s", r1.body);
    cr_assert_eq(t_request(t_shared(), "POST", "/v1/tenants", t_operator_token(), body, headers, &r2), 0);
    cr_assert_eq(r2.status, 201, "the retry: %s", r2.body);
    cr_assert(json_equal(r1.json, r2.json), "the retry got another answer");
    cr_assert_eq(t_request(t_shared(), "POST", "/v1/tenants", t_operator_token(), body2, headers, &r3), 0);
    cr_assert_eq(r3.status, 409, "the key reused for another tenant: %s", r3.body);
    t_resp_free(&r1);
    t_resp_free(&r2);
    t_resp_free(&r3);
    char path[128];
    snprintf(path, sizeof(path), "/v1/tenants/%s", other);
    cr_assert_eq(t_request(t_shared(), "GET", path, t_operator_token(), NULL, NULL, &r1), 0);
    cr_assert_eq(r1.status, 404);
    t_resp_free(&r1);

    char *tok = t_token(id, "tenant:admin");
    snprintf(hdr, sizeof(hdr), "Idempotency-Key: rotate-%s", key);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(t_request(t_shared(), "POST", "/v1/keys/rotate", tok, NULL, headers, &r1), 0);
        cr_assert_eq(r1.status, 202, "%s", r1.body);
        cr_assert_eq(json_integer_value(json_object_get(r1.json, "version")), 2);
        t_resp_free(&r1);
    }
    json_t *k = get_keys(tok);
    cr_assert_eq(json_integer_value(json_object_get(k, "current_version")), 2);
    json_decref(k);
}

Test(tenants, idempotency_keys_belong_to_their_principal_and_bad_cursors_are_400)
{
    char id[32], key[32], hdr[96];
    t_tenant_id(id);
    t_tenant_id(key);
    t_tenant_create(t_shared(), id, "Tenant");
    snprintf(hdr, sizeof(hdr), "Idempotency-Key: shared-%s", key);
    const char *headers[] = {"Content-Type: application/json", hdr, NULL};
    char *alice = t_token_sub(id, "tenant:admin", "alice");
    char *bob = t_token_sub(id, "tenant:admin", "bob");
    struct t_resp r;
    cr_assert_eq(t_request(t_shared(), "POST", "/v1/keys/rotate", alice, NULL, headers, &r), 0);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "version")), 2);
    t_resp_free(&r);
    /* the same key from another principal is another request: no replay of alice's answer */
    cr_assert_eq(t_request(t_shared(), "POST", "/v1/keys/rotate", bob, NULL, headers, &r), 0);
    cr_assert_eq(r.status, 202);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "version")), 3);
    t_resp_free(&r);
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM audit_log WHERE tenant_id = '%s' AND action LIKE 'keys.rotate%%'",
             id);
    char *n = t_sql(sql);
    cr_assert_str_eq(n, "2");
    free(n);
    const char *bad[] = {"/v1/tenants?cursor=%ff", "/v1/tenants?cursor=%c3%28",
                         "/v1/tenants?cursor=a%27b", "/v1/tenants?limit=0", NULL};
    for (int i = 0; bad[i] != NULL; i++) {
        cr_assert_eq(t_request(t_shared(), "GET", bad[i], t_operator_token(), NULL, NULL, &r), 0);
        cr_assert_eq(r.status, 400, "%s gave %ld", bad[i], r.status);
        t_resp_free(&r);
    }
}

Test(tenants, a_failed_first_statement_does_not_spoil_its_connection)
{
    /* one connection, and the first tenant insert it ever prepares fails (409): the statement
     * it prepared on the way must still be known to exist for the next transaction */
    char taken[32];
    t_tenant_id(taken);
    t_tenant_create(t_shared(), taken, "Tenant");
    const char *env[] = {"CUSTOS_DB_POOL=1", NULL};
    struct t_server s;
    cr_assert_eq(t_spawn(env, 0, &s), 0);
    for (int i = 0; i < 3; i++) {
        char id[32], body[96];
        snprintf(body, sizeof(body), "{\"id\":\"%s\"}", taken);
        struct t_resp r;
        cr_assert_eq(t_json(&s, "POST", "/v1/tenants", t_operator_token(), body, &r), 0);
        cr_assert_eq(r.status, 409, "round %d: %s", i, r.body);
        t_resp_free(&r);
        t_tenant_id(id);
        snprintf(body, sizeof(body), "{\"id\":\"%s\"}", id);
        cr_assert_eq(t_json(&s, "POST", "/v1/tenants", t_operator_token(), body, &r), 0);
        cr_assert_eq(r.status, 201, "round %d: %s", i, r.body);
        t_resp_free(&r);
    }
    cr_assert_eq(t_stop(&s), 0);
}

Test(tenants, problems_say_what_went_wrong_in_fixed_words)
{
    char id[32];
    char *tok = setup_vault(id);
    struct t_resp r;
    const char *no_purpose[] = {"Content-Type: application/json", NULL};
    cr_assert_eq(t_request(t_shared(), "POST", "/v1/detokenize", tok, "{\"tokens\":[\"tok_x\"]}",
                           no_purpose, &r),
                 0);
    cr_assert_eq(r.status, 400);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "detail")),
                     "The X-Purpose header is missing: reading personal data needs one of the "
                     "tenant's declared purposes");
    t_resp_free(&r);
    const char *undeclared[] = {"Content-Type: application/json", "X-Purpose: marketing", NULL};
    cr_assert_eq(t_request(t_shared(), "POST", "/v1/detokenize", tok, "{\"tokens\":[\"tok_x\"]}",
                           undeclared, &r),
                 0);
    cr_assert_eq(r.status, 403);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "detail")),
                     "The X-Purpose is not a declared purpose of this tenant: declare it with PUT "
                     "/v1/purposes/{name}, or send one of GET /v1/purposes");
    t_resp_free(&r);
    char body[96];
    snprintf(body, sizeof(body), "{\"id\":\"%s\"}", id);
    cr_assert_eq(t_json(t_shared(), "POST", "/v1/tenants", t_operator_token(), body, &r), 0);
    cr_assert_eq(r.status, 409);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "detail")),
                     "A tenant with this id exists");
    t_resp_free(&r);
}
