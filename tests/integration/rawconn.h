/* A raw HTTP/1.1 client connection over a socket or TLS (OpenSSL, verifying the test CA), for
 * tests that must control every byte: libcurl waits for 100 Continue, reads through resets and
 * refuses malformed headers. */
#ifndef CU_TEST_RAWCONN_H
#define CU_TEST_RAWCONN_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <sys/types.h>

struct t_conn {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    int write_errno; /* errno of the last failed plain write */
};

/* Connects to 127.0.0.1:port (TLS when tls), with 60 s send and receive timeouts so a stuck
 * server fails a test instead of hanging it. 0, or -1 (close c anyway). */
int t_conn_open(int port, int tls, struct t_conn *c);
void t_conn_close(struct t_conn *c);
/* Writes everything; -1 when the peer is gone (reset or closed) or stalled past the timeout. */
int t_conn_write(struct t_conn *c, const void *p, size_t len);
/* One read: the bytes read, or -1 at the end of the connection or on an error. */
ssize_t t_conn_read(struct t_conn *c, char *p, size_t n);
/* Reads until the peer closes (1) or timeout_ms pass without a byte (0); -1 on a reset of a
 * plain connection. What was read is appended to out (NUL-terminated, at most cap - 1). */
int t_conn_read_all(struct t_conn *c, char *out, size_t cap, size_t *used, int timeout_ms);

#endif
