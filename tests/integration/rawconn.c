/* A raw HTTP/1.1 client connection over a socket or TLS: see rawconn.h. */
#include "rawconn.h"

#include "harness.h"

#include <errno.h>
#include <openssl/err.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int
t_conn_open(int port, int tls, struct t_conn *c)
{
    memset(c, 0, sizeof(*c));
    c->fd = t_open_idle(port, NULL);
    if (c->fd < 0) {
        return -1;
    }
    struct timeval tv = {.tv_sec = 60};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (!tls) {
        return 0;
    }
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (c->ctx == NULL ||
        SSL_CTX_load_verify_locations(c->ctx, t_env("CUSTOS_TEST_CA"), NULL) != 1) {
        return -1;
    }
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    c->ssl = SSL_new(c->ctx);
    if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1 || SSL_connect(c->ssl) != 1) {
        return -1;
    }
    return 0;
}

void
t_conn_close(struct t_conn *c)
{
    if (c->ssl != NULL) {
        SSL_free(c->ssl);
    }
    if (c->ctx != NULL) {
        SSL_CTX_free(c->ctx);
    }
    if (c->fd >= 0) {
        close(c->fd);
    }
    ERR_clear_error();
    memset(c, 0, sizeof(*c));
    c->fd = -1;
}

int
t_conn_write(struct t_conn *c, const void *p, size_t len)
{
    const char *b = p;
    while (len > 0) {
        ssize_t n;
        if (c->ssl != NULL) {
            int w = SSL_write(c->ssl, b, len > INT32_MAX ? INT32_MAX : (int)len);
            n = w > 0 ? w : -1;
        } else {
            n = send(c->fd, b, len, MSG_NOSIGNAL);
        }
        if (n <= 0) {
            c->write_errno = errno;
            return -1;
        }
        b += n;
        len -= (size_t)n;
    }
    return 0;
}

ssize_t
t_conn_read(struct t_conn *c, char *p, size_t n)
{
    if (c->ssl != NULL) {
        int r = SSL_read(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
        return r > 0 ? r : -1;
    }
    ssize_t r = recv(c->fd, p, n, 0);
    return r > 0 ? r : -1;
}

int
t_conn_read_all(struct t_conn *c, char *out, size_t cap, size_t *used, int timeout_ms)
{
    for (;;) {
        if (c->ssl == NULL || SSL_pending(c->ssl) == 0) {
            struct pollfd p = {.fd = c->fd, .events = POLLIN};
            if (poll(&p, 1, timeout_ms) == 0) {
                return 0;
            }
        }
        char buf[4096];
        ssize_t n;
        if (c->ssl != NULL) {
            int r = SSL_read(c->ssl, buf, sizeof(buf));
            n = r > 0 ? r : (SSL_get_error(c->ssl, r) == SSL_ERROR_ZERO_RETURN ? 0 : -1);
        } else {
            n = recv(c->fd, buf, sizeof(buf), 0);
        }
        if (n == 0) {
            return 1;
        }
        if (n < 0) {
            return errno == ECONNRESET || c->ssl != NULL ? 1 : -1;
        }
        size_t k = (size_t)n < cap - 1 - *used ? (size_t)n : cap - 1 - *used;
        memcpy(out + *used, buf, k);
        *used += k;
        out[*used] = '\0';
    }
}
