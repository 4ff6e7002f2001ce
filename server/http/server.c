/* The libmicrohttpd daemon: TLS, connection limits, path decoding and MHD's own log; the
 * requests themselves are request.c's, slow clients watchdog.c's. */
#include "http/internal.h"

#include "core/log.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* TLS 1.3 and 1.2 only, ECDHE with AEAD ciphers only (Mozilla "intermediate"). */
static const char tls_priorities[] =
    "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"
    "+CHACHA20-POLY1305:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:-SHA1:%SERVER_PRECEDENCE";

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    /* MHD's own messages name no request data beyond addresses; keep them, one line each */
    char msg[256];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) {
        msg[--n] = '\0';
    }
    cu_log(CU_LOG_DEBUG, "libmicrohttpd", "detail", msg, NULL);
}

static int
hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Decodes %XX once, in place, for the path and query arguments — except NUL and '/', which
 * stay encoded: a decoded NUL would cut the string short ("/healthz%00x" must not become
 * "/healthz") and a decoded '/' would move segment boundaries. Such paths then match no route. */
static size_t
on_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    char *w = s;
    for (const char *r = s; *r != '\0'; r++) {
        if (r[0] == '%' && hex_value(r[1]) >= 0 && hex_value(r[2]) >= 0) {
            int v = hex_value(r[1]) * 16 + hex_value(r[2]);
            if (v != 0 && v != '/') {
                *w++ = (char)v;
                r += 2;
                continue;
            }
        }
        *w++ = *r;
    }
    *w = '\0';
    return (size_t)(w - s);
}

static char *
read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    struct cu_buf b;
    cu_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        cu_buf_append(&b, chunk, n);
    }
    fclose(f);
    cu_wipe(chunk, sizeof(chunk));
    char *s = cu_xstrndup(cu_buf_cstr(&b), b.len);
    cu_buf_cleanup(&b);
    return s;
}

enum cu_err
cu_server_start(struct cu_app *app, struct cu_server **out)
{
    const struct cu_config *cfg = app->cfg;
    struct cu_server *s = cu_xcalloc(1, sizeof(*s));
    s->app = app;
    s->max_body = cfg->max_body_bytes;
    s->linger_bytes = cfg->linger_bytes;
    s->linger_s = cfg->linger_s;
    s->header_timeout_s = cfg->header_timeout_s;
    s->body_min_rate = cfg->body_min_rate;
    enum cu_err rc = CU_OK;

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char port[8];
    snprintf(port, sizeof(port), "%d", cfg->listen_port);
    if (getaddrinfo(cfg->listen_host, port, &hints, &ai) != 0 || ai == NULL) {
        CU_FAIL(CU_ERR_CONFIG, "could not resolve listen address %s", cfg->listen_host);
    }
    /* epoll with a thread pool measured fastest (README, Performance); thread-per-connection
     * stays selectable for comparison */
    int per_connection = strcmp(cfg->http_mode, "threads") == 0;
    unsigned flags = (per_connection ? MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD
                                     : MHD_USE_EPOLL_INTERNAL_THREAD) |
                     MHD_USE_ERROR_LOG | MHD_USE_ITC;
    if (ai->ai_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    struct MHD_OptionItem opts[20];
    int n = 0;
    if (!per_connection) {
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, cfg->threads, NULL};
    }
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT,
                                        cfg->connection_timeout_s, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                        cfg->per_ip_connections, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections, NULL};
    /* header buffer per connection: headers and the JWT fit; bodies stream to us */
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT, 64 * 1024, NULL};
    /* 0, not 1: at 1 MHD answers a missing Host or a space in the target itself, in HTML and
     * without a request id; request.c and framing.c refuse those (and more) as problem+json */
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_STRICT_FOR_CLIENT, 0, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)cu_http_on_uri,
                                        NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, ai->ai_addr};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)cu_http_on_completed,
                                        s};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION,
                                        (intptr_t)cu_http_on_connection, s};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)on_unescape, NULL};
    if (cfg->tls_cert_file != NULL) {
        s->cert_pem = read_file(cfg->tls_cert_file);
        s->key_pem = read_file(cfg->tls_key_file);
        if (s->cert_pem == NULL || s->key_pem == NULL) {
            CU_FAIL(CU_ERR_CONFIG, "could not read the TLS certificate or key");
        }
        flags |= MHD_USE_TLS;
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->cert_pem};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->key_pem};
        opts[n++] =
            (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)tls_priorities};
    }
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};

    CU_TRY(cu_http_watch_start(s));
    s->daemon = MHD_start_daemon(flags, (uint16_t)cfg->listen_port, NULL, NULL, cu_http_on_request, s,
                                 MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (s->daemon == NULL) {
        CU_FAIL(CU_ERR_CONFIG, "could not start the HTTP server on %s:%d (address in use, or a "
                               "bad TLS certificate or key)",
                cfg->listen_host, cfg->listen_port);
    }
    *out = s;
out:
    if (ai != NULL) {
        freeaddrinfo(ai);
    }
    if (rc != CU_OK) {
        cu_http_watch_stop(s);
        cu_http_watch_free(s);
        cu_free_str_wiped(s->key_pem);
        free(s->cert_pem);
        free(s);
    }
    return rc;
}

void
cu_server_stop(struct cu_server *s, int grace_ms)
{
    if (s == NULL) {
        return;
    }
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET) {
        close(fd);
    }
    for (int waited = 0; atomic_load(&s->in_flight) > 0 && waited < grace_ms; waited += 10) {
        usleep(10 * 1000);
    }
    cu_http_watch_stop(s);
    MHD_stop_daemon(s->daemon);
    cu_http_watch_free(s);
    cu_free_str_wiped(s->key_pem);
    free(s->cert_pem);
    free(s);
}
