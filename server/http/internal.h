/* Internals shared by the files of the HTTP layer (server, framing, request, dispatch,
 * respond): the daemon and the state libmicrohttpd carries between access-handler calls of one
 * request. Handlers never see these; they use http.h. */
#ifndef CU_HTTP_INTERNAL_H
#define CU_HTTP_INTERNAL_H

#include "http/http.h"

#include <microhttpd.h>

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

struct cu_http_track;

struct cu_server {
    struct MHD_Daemon *daemon;
    struct cu_app *app;
    char *cert_pem;
    char *key_pem;
    _Atomic int in_flight;
    long max_body;
    long linger_bytes; /* most body bytes read and discarded after an early refusal */
    int linger_s;      /* longest time spent discarding them */
    int header_timeout_s; /* watchdog.c: headers must arrive within this */
    int body_min_rate;    /* watchdog.c: bytes per second a body must average after that */

    /* watchdog.c: every open connection, and the thread that cuts slow ones */
    pthread_mutex_t watch_mu;
    pthread_cond_t watch_cv;
    pthread_t watch_thread;
    struct cu_http_track *watch_head;
    int watch_ready;   /* watch_mu and watch_cv are initialised */
    int watch_running; /* watch_thread runs */
    int watch_stop;
};

/* A request whose body or answer reaches this many bytes asks for a trim. */
#define CU_HTTP_TRIM_BYTES (16 * 1024)
/* Asks the watchdog to give freed memory back: call it after freeing a large buffer, never
 * before (a trim that runs between the request and the free would miss it, and nothing would
 * ask again). */
void cu_http_trim_due(void);

/* One request, from its headers to the completion callback (which frees it). */
struct cu_http_state {
    struct cu_req req;
    struct cu_server *server;
    struct cu_buf body; /* only for admitted requests, never over max_body */
    struct timespec started;
    struct cu_http_track *track; /* the connection's watchdog entry (NULL if untracked) */

    /* an early refusal: decided on the headers, answered once the body is discarded */
    enum cu_err refusal;
    const char *refusal_detail; /* fixed text */
    const char *refusal_reason; /* arena copy of the log reason */
    unsigned long long discarded;

    int close;     /* answer with Connection: close */
    int responded; /* a response is queued */
};

/* ---- framing.c: what the headers say about the message ---- */

enum cu_http_body { CU_BODY_NONE, CU_BODY_LENGTH, CU_BODY_CHUNKED };

enum cu_http_headers {
    CU_HEADERS_OK,
    CU_HEADERS_MALFORMED, /* a field name that is not a token, a control in a value, obs-fold */
    CU_HEADERS_FRAMING,   /* Content-Length, Transfer-Encoding or Host missing, repeated or
                             conflicting (RFC 9112 §6.3) */
    CU_HEADERS_DUPLICATE, /* X-Purpose, Idempotency-Key or Content-Type repeated */
};
/* Checks the header fields on the first access-handler call. MALFORMED and FRAMING: answer
 * 400 and close (the body's extent is unknown); DUPLICATE: 400, the body can be drained. */
enum cu_http_headers cu_http_headers_check(struct MHD_Connection *conn, const char *version);
/* How the body is framed; *len is the Content-Length for CU_BODY_LENGTH. Call after
 * cu_http_headers_check. */
enum cu_http_body cu_http_body_kind(struct MHD_Connection *conn, unsigned long long *len);
/* 1 when the client waits for 100 Continue before sending its body. */
int cu_http_expects_continue(struct MHD_Connection *conn);
/* 1 for application/json, optionally with charset=utf-8. */
int cu_http_is_json(const char *content_type);
/* 1 for application/x-www-form-urlencoded, optionally with charset=utf-8. */
int cu_http_is_form(const char *content_type);

/* ---- dispatch.c: the route table's policy and the handler call ---- */

/* On the headers, before any body byte: route (404/405), bearer token (401), readiness (503),
 * tenant and scope (403, audited for tenant routes), declared size (413), media type (415).
 * Returns the refusal with its public detail attached (cu_err_public), or CU_OK. */
enum cu_err cu_http_admit(struct cu_http_state *st, enum cu_http_body body,
                          unsigned long long len) CU_WUR;
/* With the whole body: parses JSON for routes that take it and runs the handler. */
enum cu_err cu_http_dispatch(struct cu_http_state *st) CU_WUR;

/* ---- respond.c ---- */

/* Queues the response for err (CU_OK: the handler's response), records metrics and the
 * request log line. MHD_NO when MHD refuses (the connection is then closed). */
enum MHD_Result cu_http_send(struct cu_http_state *st, struct MHD_Connection *conn,
                             enum cu_err err);
/* Seconds since the request's headers arrived. */
double cu_http_elapsed(const struct cu_http_state *st);

/* ---- request.c ---- */

/* libmicrohttpd's access handler and completion callback (cls: the cu_server). */
enum MHD_Result cu_http_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version,
                                   const char *upload_data, size_t *upload_data_size,
                                   void **con_cls);
/* libmicrohttpd's URI log callback: sees the raw request target before MHD decodes it, and
 * marks one carrying whitespace or a control character for a 400 (returns the initial
 * *con_cls). */
void *cu_http_on_uri(void *cls, const char *uri, struct MHD_Connection *conn);
void cu_http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                          enum MHD_RequestTerminationCode toe);

/* ---- watchdog.c: slow clients ---- */

enum cu_http_phase {
    CU_PHASE_HEADERS, /* waiting for a request's headers: header_timeout_s */
    CU_PHASE_BODY,    /* receiving a body: body_min_rate after header_timeout_s */
    CU_PHASE_BUSY,    /* handling or answering: no bound here */
};

/* Initialises the connection list and starts the watchdog thread; call before the daemon
 * starts. CU_ERR_INTERNAL when the thread cannot start (cu_http_watch_free still needed). */
enum cu_err cu_http_watch_start(struct cu_server *s) CU_WUR;
/* Stops the thread (idempotent); cu_http_watch_free after MHD_stop_daemon frees the rest. */
void cu_http_watch_stop(struct cu_server *s);
void cu_http_watch_free(struct cu_server *s);
/* libmicrohttpd's NOTIFY_CONNECTION callback (cls: the cu_server): tracks each connection
 * from STARTED to CLOSED; the entry is the connection's socket context. */
void cu_http_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                           enum MHD_ConnectionNotificationCode code);
/* The connection's entry (owned by watchdog.c until CLOSED), or NULL. */
struct cu_http_track *cu_http_track_of(struct MHD_Connection *conn);
/* Enters a phase now (a NULL entry is ignored). */
void cu_http_track_phase(struct cu_server *s, struct cu_http_track *t, enum cu_http_phase phase);
/* Counts body bytes received in CU_PHASE_BODY. */
void cu_http_track_bytes(struct cu_server *s, struct cu_http_track *t, size_t n);

#endif
