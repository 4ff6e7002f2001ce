/* Benchmark ceiling: the cheapest useful libmicrohttpd server. GET /hello answers
 * {"status":"ok"}; POST /echo reads a small JSON body (up to 4 KiB) and sends it back.
 * Used by scripts/bench.sh to measure, in the same run as the service, what the HTTP layer alone
 * costs under the same load generator.
 *
 *   mhd_trivial [--port N] [--mode epoll|threads] [--threads N] [--tls-cert PEM --tls-key PEM]
 *
 * epoll (default): MHD_USE_EPOLL_INTERNAL_THREAD with a thread pool of --threads (default 2).
 * threads: MHD_USE_THREAD_PER_CONNECTION. Listens on 127.0.0.1 only; stops on SIGINT/SIGTERM.
 * With --tls-cert and --tls-key it serves HTTPS with the service's TLS: the same certificate and
 * key files and the same GnuTLS priority string as server/http/server.c (TLS_PRIORITIES below is
 * a copy: keep the two equal), so the HTTPS ceiling pays the same handshakes and record crypto.
 *
 * Responses are queued on the second access-handler call (the two-call idiom): MHD 0.9.75 answers
 * "Connection: close" to a GET whose response is queued on the first call, and every request would
 * then pay a new TCP connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#define ECHO_MAX 4096

/* server/http/server.c tls_priorities: TLS 1.3 and 1.2, ECDHE with AEAD ciphers only */
#define TLS_PRIORITIES                                                                             \
    "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"        \
    "+CHACHA20-POLY1305:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:-SHA1:%SERVER_PRECEDENCE"

static const char hello_body[] = "{\"status\":\"ok\"}";

struct echo_state {
    size_t len;
    int too_big;
    char buf[ECHO_MAX];
};

/* marks a GET whose first call has been seen */
static int get_marker;

static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned status, const char *body, size_t len,
      enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, mode);
    if (resp == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size,
           void **con_cls)
{
    (void)cls;
    (void)version;
    if (strcmp(method, MHD_HTTP_METHOD_GET) == 0) {
        if (*con_cls == NULL) {
            *con_cls = &get_marker; /* first call: headers only, answer on the next one */
            return MHD_YES;
        }
        if (strcmp(url, "/hello") == 0) {
            return reply(conn, MHD_HTTP_OK, hello_body, sizeof(hello_body) - 1,
                         MHD_RESPMEM_PERSISTENT);
        }
        static const char nf[] = "{\"status\":\"not found\"}";
        return reply(conn, MHD_HTTP_NOT_FOUND, nf, sizeof(nf) - 1, MHD_RESPMEM_PERSISTENT);
    }
    if (strcmp(method, MHD_HTTP_METHOD_POST) == 0 && strcmp(url, "/echo") == 0) {
        struct echo_state *st = *con_cls;
        if (st == NULL) {
            st = calloc(1, sizeof(*st));
            if (st == NULL) {
                return MHD_NO;
            }
            *con_cls = st;
            return MHD_YES;
        }
        if (*upload_data_size > 0) {
            size_t n = *upload_data_size;
            if (st->len + n > sizeof(st->buf)) {
                st->too_big = 1;
            } else {
                memcpy(st->buf + st->len, upload_data, n);
                st->len += n;
            }
            *upload_data_size = 0;
            return MHD_YES;
        }
        if (st->too_big) {
            static const char big[] = "{\"status\":\"too large\"}";
            return reply(conn, 413, big, sizeof(big) - 1,
                         MHD_RESPMEM_PERSISTENT);
        }
        return reply(conn, MHD_HTTP_OK, st->buf, st->len, MHD_RESPMEM_MUST_COPY);
    }
    if (*con_cls == NULL) {
        *con_cls = &get_marker;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        *upload_data_size = 0; /* discard any body */
        return MHD_YES;
    }
    static const char bad[] = "{\"status\":\"method not allowed\"}";
    return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, bad, sizeof(bad) - 1, MHD_RESPMEM_PERSISTENT);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    if (*con_cls != NULL && *con_cls != &get_marker) {
        free(*con_cls);
    }
    *con_cls = NULL;
}

static void
usage(void)
{
    fprintf(stderr, "usage: mhd_trivial [--port N] [--mode epoll|threads] [--threads N] "
                    "[--tls-cert PEM --tls-key PEM]\n");
    exit(2);
}

/* The whole file as a NUL-terminated string (heap), or exits. */
static char *
read_pem(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "mhd_trivial: cannot open %s\n", path);
        exit(1);
    }
    char *buf = malloc(65537);
    if (buf == NULL) {
        exit(1);
    }
    size_t n = fread(buf, 1, 65536, f);
    int too_big = !feof(f);
    fclose(f);
    if (n == 0 || too_big) {
        fprintf(stderr, "mhd_trivial: %s is empty or larger than 64 KiB\n", path);
        exit(1);
    }
    buf[n] = '\0';
    return buf;
}

int
main(int argc, char **argv)
{
    long port = 18080;
    long threads = 2;
    int per_connection = 0;
    const char *cert_file = NULL, *key_file = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tls-cert") == 0 && i + 1 < argc) {
            cert_file = argv[++i];
        } else if (strcmp(argv[i], "--tls-key") == 0 && i + 1 < argc) {
            key_file = argv[++i];
        } else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            port = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            threads = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
            const char *m = argv[++i];
            if (strcmp(m, "threads") == 0) {
                per_connection = 1;
            } else if (strcmp(m, "epoll") != 0) {
                usage();
            }
        } else {
            usage();
        }
    }
    if (port < 1 || port > 65535 || threads < 1 || threads > 256 ||
        (cert_file == NULL) != (key_file == NULL)) {
        usage();
    }
    char *cert_pem = cert_file != NULL ? read_pem(cert_file) : NULL;
    char *key_pem = key_file != NULL ? read_pem(key_file) : NULL;

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGPIPE);
    /* blocked before MHD starts its threads: they inherit the mask, main waits for them */
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    unsigned flags = MHD_USE_ERROR_LOG | MHD_USE_ITC;
    struct MHD_OptionItem opts[12];
    int n = 0;
    if (per_connection) {
        flags |= MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
    } else {
        flags |= MHD_USE_EPOLL_INTERNAL_THREAD;
        if (threads > 1) {
            opts[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, threads, NULL};
        }
    }
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &addr};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, 30, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, 1024, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED,
                                        (intptr_t)(void (*)(void))on_completed, NULL};
    if (cert_pem != NULL) {
        flags |= MHD_USE_TLS;
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, cert_pem};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, key_pem};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES};
    }
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};

    struct MHD_Daemon *d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, NULL,
                                            MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "mhd_trivial: could not listen on 127.0.0.1:%ld\n", port);
        return 1;
    }
    printf("mhd_trivial: listening on %s://127.0.0.1:%ld (%s", cert_pem != NULL ? "https" : "http",
           port, per_connection ? "thread per connection" : "epoll");
    if (!per_connection) {
        printf(", pool of %ld", threads);
    }
    printf(")\n");
    fflush(stdout);

    int sig = 0;
    sigdelset(&set, SIGPIPE);
    while (sigwait(&set, &sig) == 0 && sig != SIGINT && sig != SIGTERM) {
    }
    MHD_stop_daemon(d);
    free(cert_pem);
    free(key_pem);
    return 0;
}
