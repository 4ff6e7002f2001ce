/* Configuration from the environment: one table of variables, validated as a whole at start.
 * Invariant: after cu_config_load succeeds every field is valid; secrets come from files. */
#ifndef CU_CONFIG_CONFIG_H
#define CU_CONFIG_CONFIG_H

#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

struct cu_config {
    char *listen_host;
    int listen_port;
    char *tls_cert_file;
    char *tls_key_file;
    char *database_url;
    char *migrate_database_url; /* defaults to database_url */
    char *database_password;    /* from CUSTOS_DATABASE_PASSWORD_FILE, or NULL */
    char *migrate_database_password; /* from CUSTOS_MIGRATE_DATABASE_PASSWORD_FILE, or NULL */
    char *app_db_password;      /* CUSTOS_APP_DB_PASSWORD_FILE: set on custos_app by migrate */
    char *root_key_file;
    char *root_key_next_file; /* CUSTOS_ROOT_KEY_NEXT_FILE: taken after a rotation, or NULL */
    char *jwks_file;
    char *jwks_url;        /* CUSTOS_JWKS_URL: the JWKS fetched over HTTPS, or NULL */
    int oidc_discovery;    /* CUSTOS_OIDC_DISCOVERY: jwks_uri from the issuer's discovery */
    char *jwks_ca_file;    /* CA bundle for the IdP, or NULL (system) */
    int jwks_refresh_s;
    int jwks_min_refetch_s;
    int jwks_timeout_ms;
    char *jwt_issuer;
    char *jwt_audience;
    char *jwt_tenant_claim;
    uint8_t *hs256_secret; /* from CUSTOS_JWT_HS256_SECRET_FILE or CUSTOS_JWT_HS256_SECRET */
    size_t hs256_secret_len;
    int dev;
    long max_body_bytes;
    long linger_bytes; /* body bytes discarded after an early refusal (issue 13) */
    int linger_s;
    int threads;
    int db_pool;
    int db_prepared; /* 0: unnamed statements only (PgBouncer in transaction mode) */
    int connection_timeout_s;
    int header_timeout_s; /* a request's headers must arrive within this (issue 14) */
    int body_min_rate;    /* bytes per second a body must average after header_timeout_s */
    int per_ip_connections;
    int max_connections;
    int db_timeout_ms;
    int sweep_interval_s;
    int jwt_cache_entries;
    /* rate limits (issue 12 items 5 and 7): a limit of 0 is none */
    int rate_tokenize, rate_tokenize_window_s;
    int rate_search, rate_search_window_s;
    int rate_verify, rate_verify_window_s;
    int verify_attempts, verify_window_s;
    char *log_level;
    char *http_mode; /* "epoll" (thread pool) or "threads" (one per connection) */
};

/* What a verb needs: serve checks everything, migrate only the database and root key. */
enum cu_config_need {
    CU_NEED_DB = 1 << 0,
    CU_NEED_MIGRATE_DB = 1 << 1,
    CU_NEED_ROOT_KEY = 1 << 2,
    CU_NEED_AUTH = 1 << 3,
};

/* Reads the environment into cfg (caller storage, released by cu_config_cleanup). Every
 * problem is printed to stderr as one line; returns CU_ERR_CONFIG if there was any. */
enum cu_err cu_config_load(struct cu_config *cfg, unsigned need) CU_WUR;
void cu_config_cleanup(struct cu_config *cfg);

/* Prints the variable table (name, default, meaning) for `custos help`. */
void cu_config_print_help(void);

#endif
