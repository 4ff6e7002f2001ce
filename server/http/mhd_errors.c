/* libmicrohttpd's own refusals as problem+json. MHD 0.9.75 answers some malformed requests
 * itself (400 for a Content-Length that is not a number, 414 for a target past the header
 * buffer, 431 for headers past it, 505 for an unknown HTTP version) with fixed HTML bodies and
 * no request id, before the access handler runs, and offers no option to change them.
 *
 * It queues them through its exported MHD_queue_response, called through the PLT, so the
 * definition below (in the executable) takes its place for the library too — ELF symbol
 * interposition. A response of 400 or more without an X-Request-Id header can only be MHD's
 * (respond.c sets one on every answer): it is replaced by a problem+json answer with a fresh
 * request id, logged and counted like any other; everything else goes to the real function.
 * Invariant: nothing else in the program defines MHD_queue_response. */
#include "http/internal.h"

#include "core/id.h"
#include "core/log.h"
#include "core/metrics.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum MHD_Result (*cu_mhd_queue_fn)(struct MHD_Connection *conn, unsigned int status,
                                           struct MHD_Response *resp);

static cu_mhd_queue_fn real_queue;
static pthread_once_t real_once = PTHREAD_ONCE_INIT;

static void
find_real_queue(void)
{
    real_queue = (cu_mhd_queue_fn)dlsym(RTLD_NEXT, "MHD_queue_response");
}

struct own_refusal {
    unsigned int status;
    const char *slug;
    const char *title;
    const char *detail;
};

static const struct own_refusal own_refusals[] = {
    {400, "bad-request", "The request is malformed",
     "The request line or a header is malformed (for example, a Content-Length that is not a "
     "number)"},
    {413, "payload-too-large", "The request body is too large",
     "The request body is larger than allowed"},
    {414, "uri-too-long", "The request target is too long",
     "The request target does not fit the header buffer"},
    {431, "header-fields-too-large", "The request headers are too large",
     "The request headers do not fit the header buffer"},
    {505, "http-version-not-supported", "HTTP version not supported",
     "Only HTTP/1.0 and HTTP/1.1 are served"},
};

static struct MHD_Response *
problem_response(unsigned int status, const char *request_id)
{
    const struct own_refusal *o = NULL;
    for (size_t i = 0; i < sizeof(own_refusals) / sizeof(own_refusals[0]); i++) {
        if (own_refusals[i].status == status) {
            o = &own_refusals[i];
        }
    }
    char *body = NULL;
    int n = 0;
    if (o != NULL) {
        n = asprintf(&body,
                     "{\"type\":\"https://custos.dev/problems/%s\",\"title\":\"%s\",\"status\":%u,"
                     "\"detail\":\"%s\",\"request_id\":\"%s\"}",
                     o->slug, o->title, status, o->detail, request_id);
    } else {
        n = asprintf(&body,
                     "{\"type\":\"https://custos.dev/problems/internal\",\"title\":\"Internal "
                     "error\",\"status\":%u,\"detail\":\"Internal error\",\"request_id\":\"%s\"}",
                     status, request_id);
    }
    if (n < 0) {
        return NULL;
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(body);
        return NULL;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/problem+json");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Request-Id", request_id);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    return r;
}

enum MHD_Result
MHD_queue_response(struct MHD_Connection *conn, unsigned int status, struct MHD_Response *resp)
{
    pthread_once(&real_once, find_real_queue);
    if (real_queue == NULL) {
        abort(); /* libmicrohttpd is linked: cannot happen */
    }
    if (status < 400 || resp == NULL || MHD_get_response_header(resp, "X-Request-Id") != NULL) {
        return real_queue(conn, status, resp);
    }
    char rid[33];
    cu_random_hex(rid, 16);
    struct MHD_Response *mine = problem_response(status, rid);
    if (mine == NULL) {
        return real_queue(conn, status, resp);
    }
    enum MHD_Result r = real_queue(conn, status, mine);
    MHD_destroy_response(mine);
    cu_metrics_observe(-1, NULL, (int)status, 0.0);
    cu_log_request(rid, "-", "unmatched", (int)status, 0.0, NULL,
                   "libmicrohttpd refused the request before the access handler");
    return r;
}
