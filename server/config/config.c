/* Table-driven environment configuration. Each variable is parsed and checked; all problems
 * are reported, one line each, before start-up fails. */
#include "config/config.h"

#include "core/mem.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum var_kind { V_STR, V_INT, V_BOOL, V_LISTEN, V_FILE };

struct var {
    const char *name;
    enum var_kind kind;
    size_t offset;
    const char *def;
    long min, max;
    unsigned need; /* required when any of these bits is asked */
    const char *help;
};

#define OFF(f) offsetof(struct cu_config, f)

static const struct var vars[] = {
    {"CUSTOS_LISTEN", V_LISTEN, 0, "127.0.0.1:8443", 0, 0, 0, "host:port to listen on"},
    {"CUSTOS_TLS_CERT_FILE", V_FILE, OFF(tls_cert_file), NULL, 0, 0, 0,
     "PEM certificate chain; HTTPS when set (with the key)"},
    {"CUSTOS_TLS_KEY_FILE", V_FILE, OFF(tls_key_file), NULL, 0, 0, 0, "PEM private key"},
    {"CUSTOS_DATABASE_URL", V_STR, OFF(database_url), NULL, 0, 0, CU_NEED_DB,
     "libpq connection string of the service role"},
    {"CUSTOS_MIGRATE_DATABASE_URL", V_STR, OFF(migrate_database_url), NULL, 0, 0, 0,
     "connection string of the schema owner for `custos migrate` (default: CUSTOS_DATABASE_URL)"},
    {"CUSTOS_ROOT_KEY_FILE", V_FILE, OFF(root_key_file), NULL, 0, 0, CU_NEED_ROOT_KEY,
     "file holding the 32-byte root key, base64"},
    {"CUSTOS_ROOT_KEY_NEXT_FILE", V_STR, OFF(root_key_next_file), NULL, 0, 0, 0,
     "where the next root key will be (may not exist yet): a running node takes it when "
     "`custos rotate-root` has made it the database's root key"},
    {"CUSTOS_JWKS_FILE", V_FILE, OFF(jwks_file), NULL, 0, 0, 0,
     "JWKS with the identity provider's public keys (re-read on SIGHUP)"},
    {"CUSTOS_JWKS_URL", V_STR, OFF(jwks_url), NULL, 0, 0, 0,
     "https URL of the identity provider's JWKS, fetched and refreshed (instead of the file)"},
    {"CUSTOS_OIDC_DISCOVERY", V_BOOL, OFF(oidc_discovery), "0", 0, 1, 0,
     "1: the JWKS URL from <CUSTOS_JWT_ISSUER>/.well-known/openid-configuration (jwks_uri)"},
    {"CUSTOS_JWKS_CA_FILE", V_FILE, OFF(jwks_ca_file), NULL, 0, 0, 0,
     "PEM CA bundle trusted for the identity provider (default: the system's)"},
    {"CUSTOS_JWKS_REFRESH", V_INT, OFF(jwks_refresh_s), "300", 1, 86400, 0,
     "seconds between refreshes of the JWKS fetched by URL"},
    {"CUSTOS_JWKS_MIN_REFETCH", V_INT, OFF(jwks_min_refetch_s), "30", 0, 3600, 0,
     "least seconds between two fetches asked for by tokens with an unknown kid"},
    {"CUSTOS_JWKS_TIMEOUT_MS", V_INT, OFF(jwks_timeout_ms), "2000", 100, 60000, 0,
     "bound of each request to the identity provider, and of a request's wait for a refetch"},
    {"CUSTOS_JWT_ISSUER", V_STR, OFF(jwt_issuer), NULL, 0, 0, CU_NEED_AUTH, "required iss"},
    {"CUSTOS_JWT_AUDIENCE", V_STR, OFF(jwt_audience), NULL, 0, 0, CU_NEED_AUTH, "required aud"},
    {"CUSTOS_JWT_TENANT_CLAIM", V_STR, OFF(jwt_tenant_claim), "tid", 0, 0, 0,
     "claim naming the tenant"},
    {"CUSTOS_DEV", V_BOOL, OFF(dev), "0", 0, 1, 0, "1 enables development features (HS256)"},
    {"CUSTOS_MAX_BODY_BYTES", V_INT, OFF(max_body_bytes), "1048576", 1024, 1L << 30, 0,
     "largest request body accepted"},
    {"CUSTOS_LINGER_BYTES", V_INT, OFF(linger_bytes), "33554432", 0, 1L << 34, 0,
     "most body bytes read and discarded after an early refusal, so the client gets the "
     "answer; a client that announces or sends more is cut"},
    {"CUSTOS_LINGER_SECONDS", V_INT, OFF(linger_s), "30", 1, 3600, 0,
     "longest time spent discarding a refused request's body"},
    {"CUSTOS_THREADS", V_INT, OFF(threads), "16", 1, 256, 0, "HTTP worker threads"},
    {"CUSTOS_DB_POOL", V_INT, OFF(db_pool), "16", 1, 256, 0, "database connections"},
    {"CUSTOS_DB_PREPARED", V_BOOL, OFF(db_prepared), "1", 0, 1, 0,
     "1: named prepared statements, prepared once per connection (fastest, direct connections); "
     "0: unnamed statements only, no session state (behind PgBouncer in transaction mode)"},
    {"CUSTOS_CONNECTION_TIMEOUT", V_INT, OFF(connection_timeout_s), "30", 1, 3600, 0,
     "seconds an idle or stalled client connection is kept"},
    {"CUSTOS_HEADER_TIMEOUT", V_INT, OFF(header_timeout_s), "10", 1, 3600, 0,
     "seconds a connection has to deliver a request's headers (from its start or the end of "
     "the previous answer) before it is closed"},
    {"CUSTOS_BODY_MIN_RATE", V_INT, OFF(body_min_rate), "1024", 0, 1L << 30, 0,
     "bytes per second a request body must average once CUSTOS_HEADER_TIMEOUT has passed, or "
     "the connection is closed (0: no minimum)"},
    {"CUSTOS_PER_IP_CONNECTIONS", V_INT, OFF(per_ip_connections), "128", 1, 100000, 0,
     "concurrent connections allowed from one client address"},
    {"CUSTOS_MAX_CONNECTIONS", V_INT, OFF(max_connections), "1024", 8, 100000, 0,
     "concurrent client connections in all"},
    {"CUSTOS_DB_TIMEOUT_MS", V_INT, OFF(db_timeout_ms), "3000", 100, 60000, 0,
     "longest wait for a database connection or statement before 503"},
    {"CUSTOS_SWEEP_INTERVAL", V_INT, OFF(sweep_interval_s), "60", 0, 86400, 0,
     "seconds between background sweeps in serve (0: none on this node; run custos sweep)"},
    {"CUSTOS_JWT_CACHE_ENTRIES", V_INT, OFF(jwt_cache_entries), "10000", 0, 10000000, 0,
     "verified-token cache capacity (0 disables)"},
    /* rate limits per principal and tenant, shared by every node (issue 12 item 7); 0: none */
    {"CUSTOS_RATE_TOKENIZE", V_INT, OFF(rate_tokenize), "20000", 0, 100000000, 0,
     "records a principal may tokenize per CUSTOS_RATE_TOKENIZE_WINDOW (0: no limit)"},
    {"CUSTOS_RATE_TOKENIZE_WINDOW", V_INT, OFF(rate_tokenize_window_s), "3600", 1, 86400, 0,
     "seconds of the tokenize limit's sliding window"},
    {"CUSTOS_RATE_SEARCH", V_INT, OFF(rate_search), "1000", 0, 100000000, 0,
     "searches a principal may run per CUSTOS_RATE_SEARCH_WINDOW (0: no limit)"},
    {"CUSTOS_RATE_SEARCH_WINDOW", V_INT, OFF(rate_search_window_s), "3600", 1, 86400, 0,
     "seconds of the search limit's sliding window"},
    {"CUSTOS_RATE_VERIFY", V_INT, OFF(rate_verify), "600", 0, 100000000, 0,
     "verify requests a principal may make per CUSTOS_RATE_VERIFY_WINDOW (0: no limit)"},
    {"CUSTOS_RATE_VERIFY_WINDOW", V_INT, OFF(rate_verify_window_s), "3600", 1, 86400, 0,
     "seconds of the verify limit's sliding window"},
    {"CUSTOS_VERIFY_ATTEMPTS", V_INT, OFF(verify_attempts), "5", 1, 1000, 0,
     "verify attempts per token (any principal) per CUSTOS_VERIFY_WINDOW"},
    {"CUSTOS_VERIFY_WINDOW", V_INT, OFF(verify_window_s), "900", 1, 86400, 0,
     "seconds of the verify attempts' sliding window"},
    {"CUSTOS_LOG_LEVEL", V_STR, OFF(log_level), "info", 0, 0, 0, "debug, info, warn or error"},
    {"CUSTOS_HTTP_MODE", V_STR, OFF(http_mode), "epoll", 0, 0, 0,
     "epoll (a pool of CUSTOS_THREADS) or threads (one per connection)"},
};

static int
problem(const char *name, const char *what)
{
    fprintf(stderr, "custos: invalid configuration: %s %s\n", name, what);
    return 1;
}

static int
parse_listen(struct cu_config *cfg, const char *v)
{
    const char *colon = strrchr(v, ':');
    if (colon == NULL || colon == v) {
        return 0;
    }
    char *end = NULL;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno != 0 || end == colon + 1 || *end != '\0' || port < 1 || port > 65535) {
        return 0;
    }
    const char *host = v;
    size_t host_len = (size_t)(colon - v);
    if (host[0] == '[' && host_len > 2 && host[host_len - 1] == ']') {
        host++;
        host_len -= 2;
    }
    cfg->listen_host = cu_xstrndup(host, host_len);
    cfg->listen_port = (int)port;
    return 1;
}

static int
set_var(struct cu_config *cfg, const struct var *v, const char *value)
{
    char *base = (char *)cfg;
    switch (v->kind) {
    case V_STR:
        if (value[0] == '\0') {
            return problem(v->name, "must not be empty");
        }
        *(char **)(base + v->offset) = cu_xstrdup(value);
        return 0;
    case V_FILE: {
        struct stat st;
        if (stat(value, &st) != 0 || !S_ISREG(st.st_mode)) {
            return problem(v->name, "does not name a readable file");
        }
        *(char **)(base + v->offset) = cu_xstrdup(value);
        return 0;
    }
    case V_INT: {
        char *end = NULL;
        errno = 0;
        long n = strtol(value, &end, 10);
        if (errno != 0 || end == value || *end != '\0' || n < v->min || n > v->max) {
            char msg[96];
            snprintf(msg, sizeof(msg), "must be an integer from %ld to %ld", v->min, v->max);
            return problem(v->name, msg);
        }
        if (v->offset == OFF(max_body_bytes) || v->offset == OFF(linger_bytes)) {
            *(long *)(base + v->offset) = n;
        } else {
            *(int *)(base + v->offset) = (int)n;
        }
        return 0;
    }
    case V_BOOL:
        if (strcmp(value, "1") == 0 || strcmp(value, "true") == 0) {
            *(int *)(base + v->offset) = 1;
        } else if (strcmp(value, "0") == 0 || strcmp(value, "false") == 0) {
            *(int *)(base + v->offset) = 0;
        } else {
            return problem(v->name, "must be 0 or 1");
        }
        return 0;
    case V_LISTEN:
        return parse_listen(cfg, value) ? 0 : problem(v->name, "must be host:port");
    }
    return 1;
}

/* A secret held in a file: first line, without its line ending. NULL + problem on error. */
static int
load_secret_file(const char *var, char **out)
{
    const char *path = getenv(var);
    if (path == NULL) {
        return 0;
    }
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return problem(var, "does not name a readable file");
    }
    char buf[1024];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    n = strcspn(buf, "\r\n");
    if (n == 0) {
        cu_wipe(buf, sizeof(buf));
        return problem(var, "names an empty file");
    }
    *out = cu_xstrndup(buf, n);
    cu_wipe(buf, sizeof(buf));
    return 0;
}

/* The dev HMAC secret: from a file (preferred) or the variable of API.md. */
static int
load_hs256_secret(struct cu_config *cfg)
{
    const char *file = getenv("CUSTOS_JWT_HS256_SECRET_FILE");
    const char *value = getenv("CUSTOS_JWT_HS256_SECRET");
    if (file == NULL && value == NULL) {
        return 0;
    }
    if (!cfg->dev) {
        return problem("CUSTOS_JWT_HS256_SECRET", "is refused unless CUSTOS_DEV=1");
    }
    if (file != NULL) {
        FILE *f = fopen(file, "rb");
        if (f == NULL) {
            return problem("CUSTOS_JWT_HS256_SECRET_FILE", "does not name a readable file");
        }
        uint8_t buf[512];
        size_t n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
            n--;
        }
        if (n < 32) {
            cu_wipe(buf, sizeof(buf));
            return problem("CUSTOS_JWT_HS256_SECRET_FILE", "must hold at least 32 bytes");
        }
        cfg->hs256_secret = cu_xmalloc(n);
        memcpy(cfg->hs256_secret, buf, n);
        cfg->hs256_secret_len = n;
        cu_wipe(buf, sizeof(buf));
        return 0;
    }
    size_t n = strlen(value);
    if (n < 32) {
        return problem("CUSTOS_JWT_HS256_SECRET", "must be at least 32 bytes");
    }
    cfg->hs256_secret = (uint8_t *)cu_xstrdup(value);
    cfg->hs256_secret_len = n;
    return 0;
}

enum cu_err
cu_config_load(struct cu_config *cfg, unsigned need)
{
    memset(cfg, 0, sizeof(*cfg));
    int problems = 0;
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        const struct var *v = &vars[i];
        const char *value = getenv(v->name);
        if (value == NULL) {
            value = v->def;
        }
        if (value == NULL) {
            if (v->need & need) {
                problems += problem(v->name, "is required");
            }
            continue;
        }
        problems += set_var(cfg, v, value);
    }
    if ((cfg->tls_cert_file == NULL) != (cfg->tls_key_file == NULL)) {
        problems += problem("CUSTOS_TLS_CERT_FILE", "and CUSTOS_TLS_KEY_FILE must be set together");
    }
    problems += load_hs256_secret(cfg);
    problems += load_secret_file("CUSTOS_DATABASE_PASSWORD_FILE", &cfg->database_password);
    problems += load_secret_file("CUSTOS_MIGRATE_DATABASE_PASSWORD_FILE",
                                 &cfg->migrate_database_password);
    problems += load_secret_file("CUSTOS_APP_DB_PASSWORD_FILE", &cfg->app_db_password);
    int sources = (cfg->jwks_file != NULL) + (cfg->jwks_url != NULL) + (cfg->oidc_discovery != 0);
    if ((need & CU_NEED_AUTH) && sources == 0 && cfg->hs256_secret == NULL) {
        problems += problem("CUSTOS_JWKS_FILE",
                            "is required (or CUSTOS_JWKS_URL, CUSTOS_OIDC_DISCOVERY=1, or a dev "
                            "HS256 secret)");
    }
    if (sources > 1) {
        problems += problem("CUSTOS_JWKS_FILE",
                            ", CUSTOS_JWKS_URL and CUSTOS_OIDC_DISCOVERY=1: set only one");
    }
    if (cfg->jwks_url != NULL && strncmp(cfg->jwks_url, "https://", 8) != 0) {
        problems += problem("CUSTOS_JWKS_URL", "must be an https:// URL");
    }
    if (cfg->oidc_discovery && cfg->jwt_issuer != NULL &&
        strncmp(cfg->jwt_issuer, "https://", 8) != 0) {
        problems += problem("CUSTOS_OIDC_DISCOVERY", "needs an https:// CUSTOS_JWT_ISSUER");
    }
    if (cfg->migrate_database_url == NULL && cfg->database_url != NULL) {
        cfg->migrate_database_url = cu_xstrdup(cfg->database_url);
    }
    if ((need & CU_NEED_MIGRATE_DB) && cfg->migrate_database_url == NULL) {
        problems += problem("CUSTOS_MIGRATE_DATABASE_URL", "or CUSTOS_DATABASE_URL is required");
    }
    if (cfg->log_level != NULL && strcmp(cfg->log_level, "debug") != 0 &&
        strcmp(cfg->log_level, "info") != 0 && strcmp(cfg->log_level, "warn") != 0 &&
        strcmp(cfg->log_level, "error") != 0) {
        problems += problem("CUSTOS_LOG_LEVEL", "must be debug, info, warn or error");
    }
    if (cfg->http_mode != NULL && strcmp(cfg->http_mode, "epoll") != 0 &&
        strcmp(cfg->http_mode, "threads") != 0) {
        problems += problem("CUSTOS_HTTP_MODE", "must be epoll or threads");
    }
    if (problems > 0) {
        return cu_err_set(CU_ERR_CONFIG, __FILE__, __LINE__, "%d configuration problems",
                          problems);
    }
    return CU_OK;
}

void
cu_config_cleanup(struct cu_config *cfg)
{
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        const struct var *v = &vars[i];
        if (v->kind == V_STR || v->kind == V_FILE) {
            char **p = (char **)((char *)cfg + v->offset);
            free(*p);
            *p = NULL;
        }
    }
    free(cfg->listen_host);
    cu_free_str_wiped(cfg->database_password);
    cu_free_str_wiped(cfg->migrate_database_password);
    cu_free_str_wiped(cfg->app_db_password);
    if (cfg->hs256_secret != NULL) {
        cu_wipe(cfg->hs256_secret, cfg->hs256_secret_len);
        free(cfg->hs256_secret);
    }
    memset(cfg, 0, sizeof(*cfg));
}

void
cu_config_print_help(void)
{
    printf("Environment:\n");
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        printf("  %-28s %s%s%s%s\n", vars[i].name, vars[i].help, vars[i].def ? " (default " : "",
               vars[i].def ? vars[i].def : "", vars[i].def ? ")" : "");
    }
    printf("  %-28s %s\n", "CUSTOS_JWT_HS256_SECRET_FILE",
           "dev HS256 secret from a file (only with CUSTOS_DEV=1)");
    printf("  %-28s %s\n", "CUSTOS_DATABASE_PASSWORD_FILE", "password of the service role");
    printf("  %-28s %s\n", "CUSTOS_MIGRATE_DATABASE_PASSWORD_FILE", "password of the schema owner");
    printf("  %-28s %s\n", "CUSTOS_APP_DB_PASSWORD_FILE",
           "migrate sets this password on the custos_app role");
}
