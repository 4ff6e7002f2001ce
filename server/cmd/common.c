/* What the verbs share: the verb table and usage, error reporting, and turning configuration
 * into the options of the objects they open. */
#include "cmd/cmd.h"

#include <string.h>

#include "core/log.h"
#include "crypto/keys.h"
#include "crypto/secret.h"

/* The verbs, in the order `custos help` lists them. */
static const struct cu_cmd cmds[] = {
    {"serve", "", "run the HTTPS service", cu_cmd_serve},
    {"migrate", "", "apply database migrations", cu_cmd_migrate},
    {"keygen", "", "print a fresh base64 root key", cu_cmd_keygen},
    {"sweep", "", "one pass of the background jobs, then exit", cu_cmd_sweep},
    {"audit-verify", "--tenant T [--checkpoint FILE]",
     "seal and verify a tenant's audit chain (against a checkpoint)", cu_cmd_audit_verify},
    {"receipt-verify", "--file F", "verify an erasure receipt against its tenant's audit key",
     cu_cmd_receipt_verify},
    {"rotate-root", "--new-key-file F", "re-wrap every tenant key under a new root key",
     cu_cmd_rotate_root},
    {"dev-token", "--tenant T --scope S [--sub S] [--ttl N] [--claims JSON]",
     "mint a development JWT (CUSTOS_DEV=1)", cu_cmd_dev_token},
    {"version", "", "print the release and commit of this binary", cu_cmd_version},
    {"help", "", "this text and the configuration variables", cu_cmd_help},
};

const struct cu_cmd *
cu_cmd_find(const char *name)
{
    if (name != NULL && strcmp(name, "--help") == 0) {
        name = "help";
    }
    if (name != NULL && strcmp(name, "--version") == 0) {
        name = "version";
    }
    for (size_t i = 0; name != NULL && i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if (strcmp(cmds[i].name, name) == 0) {
            return &cmds[i];
        }
    }
    return NULL;
}

void
cu_cmd_usage(FILE *to)
{
    fprintf(to, "usage: custos <verb> [options]\n");
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        const struct cu_cmd *c = &cmds[i];
        int width = (int)strlen(c->name) + (c->args[0] ? 1 + (int)strlen(c->args) : 0);
        if (width <= 26) {
            fprintf(to, "  %s%s%s%*s %s\n", c->name, c->args[0] ? " " : "", c->args, 26 - width, "",
                    c->summary);
        } else {
            fprintf(to, "  %s %s\n  %26s %s\n", c->name, c->args, "", c->summary);
        }
    }
}

int
cu_cmd_fail(const char *what)
{
    const char *reason = cu_err_reason();
    fprintf(stderr, "custos: %s%s%s\n", what, reason[0] ? ": " : "", reason);
    return 1;
}

void
cu_cmd_apply_log_level(const struct cu_config *cfg)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        if (cfg->log_level != NULL && strcmp(cfg->log_level, names[i]) == 0) {
            cu_log_set_level((enum cu_log_level)i);
        }
    }
}

void
cu_cmd_auth_opts(const struct cu_config *cfg, struct cu_auth_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->jwks_file = cfg->jwks_file;
    o->issuer = cfg->jwt_issuer;
    o->audience = cfg->jwt_audience;
    o->tenant_claim = cfg->jwt_tenant_claim;
    o->hs256_secret = cfg->hs256_secret;
    o->hs256_secret_len = cfg->hs256_secret_len;
    o->dev = cfg->dev;
    o->cache_entries = (size_t)cfg->jwt_cache_entries;
    o->leeway_seconds = 60;
    o->jwks_url = cfg->jwks_url;
    o->oidc_discovery = cfg->oidc_discovery;
    o->jwks_ca_file = cfg->jwks_ca_file;
    o->jwks_refresh_s = cfg->jwks_refresh_s;
    o->jwks_min_refetch_s = cfg->jwks_min_refetch_s;
    o->jwks_timeout_ms = cfg->jwks_timeout_ms;
}

int
cu_cmd_open_keyring(struct cu_config *cfg, struct cu_db **db, struct cu_keyring **kr)
{
    struct cu_secret *root = NULL;
    if (cu_root_key_load_file(cfg->root_key_file, &root) != CU_OK) {
        return cu_cmd_fail("could not load the root key");
    }
    *kr = cu_keyring_new(root, 1000, 60);
    cu_keyring_set_root_files(*kr, cfg->root_key_file, cfg->root_key_next_file);
    struct cu_db_opts dbo = {.url = cfg->database_url,
                             .password = cfg->database_password,
                             .pool_size = 2,
                             .timeout_ms = cfg->db_timeout_ms,
                             .unnamed = !cfg->db_prepared};
    if (cu_db_new(&dbo, db) != CU_OK) {
        return cu_cmd_fail("could not set up the database pool");
    }
    if (cu_keyring_verify_root(*kr, *db) != CU_OK) {
        return cu_cmd_fail("could not verify the root key");
    }
    return 0;
}

json_t *
cu_cmd_load_answer(const char *verb, const char *file, const char *member)
{
    json_error_t jerr;
    json_t *doc = json_load_file(file, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        fprintf(stderr, "custos %s: %s is not JSON\n", verb, file);
        return NULL;
    }
    json_t *inner = json_object_get(doc, member);
    json_t *out = json_incref(inner != NULL ? inner : doc);
    json_decref(doc);
    return out;
}

void
cu_cmd_print_problem(const char *what, const struct cu_problems *p)
{
    json_t *e = json_array_get(p->errors, 0);
    fprintf(stderr, "custos: %s: %s %s\n", what,
            json_string_value(json_object_get(e, "pointer")),
            json_string_value(json_object_get(e, "detail")));
}
