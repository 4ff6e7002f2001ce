/* The root key at start-up and its rotation: a wrong, missing or malformed root key stops
 * `serve` and `migrate` with a message naming it before anything is written; `rotate-root`
 * re-wraps every tenant KEK so that only the new key opens the data. Runs alone (it changes the
 * root key of the shared database and puts it back). */
#include "harness.h"
#include "idp.h"
#include "tenant.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static void
fini(void)
{
    mint_free_all();
}

TestSuite(root, .fini = fini);

/* Runs the binary with extra environment; returns the exit status and its output (heap). */
static int
run(const char *env, const char *args, char **output)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "env %s timeout 20 %s %s 2>&1", env, t_env("CUSTOS_TEST_BIN"),
             args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t cap = 65536, used = 0, n;
    char *out = malloc(cap);
    while ((n = fread(out + used, 1, cap - used - 1, p)) > 0) {
        used += n;
    }
    out[used] = '\0';
    int status = pclose(p);
    if (output != NULL) {
        *output = out;
    } else {
        free(out);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *
write_file(const char *name, const char *content)
{
    char *path = malloc(512);
    snprintf(path, 512, "%s/%s", t_env("CUSTOS_TEST_WORKDIR"), name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(content, f);
    fclose(f);
    return path;
}

static char *
new_key_file(const char *name)
{
    char *key = NULL;
    cr_assert_eq(run("", "keygen", &key), 0);
    char *path = write_file(name, key);
    free(key);
    return path;
}

/* Rows in every table: compared before and after a refused start. */
static char *
fingerprint(void)
{
    return t_sql("SELECT (SELECT count(*) FROM tenants) || '/' || (SELECT count(*) FROM "
                 "tenant_keys) || '/' || (SELECT count(*) FROM subject_keys) || '/' || "
                 "(SELECT count(*) FROM records) || '/' || (SELECT count(*) FROM audit_log) || "
                 "'/' || (SELECT md5(string_agg(encode(root_kcv, 'hex'), '')) FROM "
                 "service_state) || '/' || (SELECT count(*) FROM schema_migrations)");
}

Test(root, a_wrong_root_key_stops_serve_and_migrate_and_changes_nothing)
{
    char *before = fingerprint();
    char *wrong = new_key_file("wrong.key");
    char env[1024];
    snprintf(env, sizeof(env), "CUSTOS_ROOT_KEY_FILE=%s CUSTOS_LISTEN=127.0.0.1:1", wrong);
    char *out = NULL;
    int st = run(env, "serve", &out);
    cr_assert_neq(st, 0, "serve started with a wrong root key");
    cr_assert_not_null(strstr(out, "root key"), "no message naming the root key: %s", out);
    free(out);
    st = run(env, "migrate", &out);
    cr_assert_neq(st, 0, "migrate ran with a wrong root key");
    cr_assert_not_null(strstr(out, "root key"), "%s", out);
    free(out);
    st = run(env, "sweep", &out);
    cr_assert_neq(st, 0);
    free(out);
    char *after = fingerprint();
    cr_assert_str_eq(before, after);
    free(before);
    free(after);
    free(wrong);
}

Test(root, a_missing_or_malformed_root_key_file_stops_start_up_with_its_own_message)
{
    char *bad64 = write_file("bad64.key", "not*base64!\n");
    char *short_key = write_file("short.key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n");
    struct {
        const char *path;
        const char *want;
    } cases[] = {{"/nonexistent/root.key", "CUSTOS_ROOT_KEY_FILE"},
                 {bad64, "base64"},
                 {short_key, "32 bytes"}};
    for (size_t i = 0; i < 3; i++) {
        char env[1024];
        snprintf(env, sizeof(env), "CUSTOS_ROOT_KEY_FILE=%s CUSTOS_LISTEN=127.0.0.1:1",
                 cases[i].path);
        char *out = NULL;
        cr_assert_neq(run(env, "serve", &out), 0);
        cr_assert_not_null(strstr(out, cases[i].want), "%s: %s", cases[i].path, out);
        free(out);
    }
    free(bad64);
    free(short_key);
}

Test(root, rotate_root_rewraps_every_tenant_key_under_the_new_root, .timeout = 90)
{
    struct t_server s;
    cr_assert_eq(t_spawn(NULL, 0, &s), 0);
    char id[32];
    t_tenant_id(id);
    t_tenant_create(&s, id, "Root rotation");
    char *tok = t_token(id, "tenant:admin records:write detokenize:*.*:plain");
    t_collection_put(&s, tok, "c", "{\"fields\":{\"name\":{\"type\":\"name\"}}}");
    t_purpose_put(&s, tok, "support", "support", "contract");
    struct t_resp r;
    cr_assert_eq(t_json(&s, "POST", "/v1/collections/c/records", tok,
                        "{\"records\":[{\"subject_id\":\"s1\",\"fields\":{\"name\":\"Kept "
                        "Across Rotation\"}}]}",
                        &r),
                 0);
    cr_assert_eq(r.status, 201);
    char token[64];
    snprintf(token, sizeof(token), "%s",
             json_string_value(json_object_get(
                 json_object_get(json_array_get(json_object_get(r.json, "records"), 0), "tokens"),
                 "name")));
    t_resp_free(&r);
    cr_assert_eq(t_stop(&s), 0);

    const char *old_key = t_env("CUSTOS_ROOT_KEY_FILE");
    char *new_key = new_key_file("new-root.key");
    char args[1024];
    snprintf(args, sizeof(args), "rotate-root --new-key-file %s", new_key);
    char *out = NULL;
    cr_assert_eq(run("", args, &out), 0, "%s", out);
    free(out);

    /* the old key no longer starts the service; the new one does and opens the data */
    char env_old[600], env_new[600];
    snprintf(env_old, sizeof(env_old), "CUSTOS_ROOT_KEY_FILE=%s CUSTOS_LISTEN=127.0.0.1:1",
             old_key);
    cr_assert_neq(run(env_old, "serve", &out), 0);
    free(out);
    snprintf(env_new, sizeof(env_new), "CUSTOS_ROOT_KEY_FILE=%s", new_key);
    const char *spawn_env[] = {env_new, NULL};
    cr_assert_eq(t_spawn(spawn_env, 0, &s), 0);
    char value[64] = "";
    cr_assert_eq(t_reveal(&s, tok, token, value, sizeof(value)), 200);
    cr_assert_str_eq(value, "Kept Across Rotation");
    cr_assert_eq(t_json(&s, "POST", "/v1/keys/rotate", tok, NULL, &r), 0);
    cr_assert_eq(r.status, 202, "%s", r.body);
    t_resp_free(&r);
    cr_assert_eq(t_stop(&s), 0);

    /* and back, so the suites after this one find the database as they left it */
    char env_back[600];
    snprintf(env_back, sizeof(env_back), "CUSTOS_ROOT_KEY_FILE=%s", new_key);
    snprintf(args, sizeof(args), "rotate-root --new-key-file %s", old_key);
    cr_assert_eq(run(env_back, args, &out), 0, "%s", out);
    free(out);
    cr_assert_eq(t_spawn(NULL, 0, &s), 0);
    cr_assert_eq(t_reveal(&s, tok, token, value, sizeof(value)), 200);
    cr_assert_eq(t_stop(&s), 0);
    free(new_key);
}
