/* Slow clients and memory. A connection must deliver a request's headers within header_timeout_s
 * (from its start, or from the end of the previous answer) and then its body at body_min_rate bytes
 * per second on average, or it is closed. MHD 0.9.75's connection timeout is an idle timeout
 * that every byte resets, so a client trickling a header line every few seconds held a
 * connection (and a per-address slot) forever.
 *
 * Every connection is tracked from MHD's NOTIFY_CONNECTION STARTED to CLOSED. A thread wakes
 * four times a second and shuts down (shutdown(2), not close: the descriptor stays MHD's) the
 * socket of a connection past its bound; MHD then sees the end of the stream and closes it.
 * Invariant: an entry leaves the list under the mutex in NOTIFY_CLOSED, which MHD calls before
 * it closes the descriptor, so the thread never shuts down a reused descriptor.
 *
 * The same thread gives memory back: after a request with a large body, glibc keeps the freed
 * body and JSON tree in the worker thread's arena (RSS stayed at a burst's peak: 22 MB idle,
 * 320 MB after 144 batches of 1,000 × 64 fields), so at most once a second, off the request
 * path, malloc_trim(0) returns free pages of every arena to the kernel. */
#include "http/internal.h"

#include "core/log.h"
#include "core/metrics.h"

#include <malloc.h>
#include <stdlib.h>
#include <sys/socket.h>

struct cu_http_track {
    MHD_socket fd;
    enum cu_http_phase phase;
    struct timespec since;    /* start of the phase */
    unsigned long long bytes; /* body bytes received in CU_PHASE_BODY */
    int cut;
    struct cu_http_track *prev;
    struct cu_http_track *next;
};

static double
seconds_since(const struct timespec *t, const struct timespec *now)
{
    return (double)(now->tv_sec - t->tv_sec) + (double)(now->tv_nsec - t->tv_nsec) / 1e9;
}

/* Under the mutex: 1 when the connection is past its bound. */
static int
overdue(const struct cu_server *s, const struct cu_http_track *t, const struct timespec *now)
{
    double secs = seconds_since(&t->since, now);
    switch (t->phase) {
    case CU_PHASE_HEADERS:
        return secs > (double)s->header_timeout_s;
    case CU_PHASE_BODY:
        return s->body_min_rate > 0 && secs > (double)s->header_timeout_s &&
               (double)t->bytes < (double)s->body_min_rate * secs;
    case CU_PHASE_BUSY:
        return 0;
    }
    return 0;
}

/* Set after a large buffer is freed; the watchdog trims at most once a second. */
static _Atomic int trim_due;

void
cu_http_trim_due(void)
{
    atomic_store(&trim_due, 1);
}

static void *
watch(void *arg)
{
    struct cu_server *s = arg;
    struct timespec last_trim = {0};
    pthread_mutex_lock(&s->watch_mu);
    while (!s->watch_stop) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int headers = 0, bodies = 0;
        for (struct cu_http_track *t = s->watch_head; t != NULL; t = t->next) {
            if (t->cut || !overdue(s, t, &now)) {
                continue;
            }
            shutdown(t->fd, SHUT_RDWR);
            t->cut = 1;
            headers += t->phase == CU_PHASE_HEADERS;
            bodies += t->phase == CU_PHASE_BODY;
        }
        if (headers > 0) {
            cu_metrics_count("http_slow_headers_cut", (unsigned long long)headers);
        }
        if (bodies > 0) {
            cu_metrics_count("http_slow_body_cut", (unsigned long long)bodies);
        }
        if (atomic_load(&trim_due) && seconds_since(&last_trim, &now) >= 1.0) {
            atomic_store(&trim_due, 0);
            last_trim = now;
            pthread_mutex_unlock(&s->watch_mu); /* connections come and go meanwhile */
            malloc_trim(0);
            pthread_mutex_lock(&s->watch_mu);
            cu_metrics_count("http_malloc_trims", 1);
        }
        struct timespec until = now;
        until.tv_nsec += 250 * 1000 * 1000;
        if (until.tv_nsec >= 1000 * 1000 * 1000) {
            until.tv_sec++;
            until.tv_nsec -= 1000 * 1000 * 1000;
        }
        pthread_cond_timedwait(&s->watch_cv, &s->watch_mu, &until);
    }
    pthread_mutex_unlock(&s->watch_mu);
    return NULL;
}

enum cu_err
cu_http_watch_start(struct cu_server *s)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->watch_cv, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&s->watch_mu, NULL);
    s->watch_ready = 1;
    s->watch_stop = 0;
    if (pthread_create(&s->watch_thread, NULL, watch, s) != 0) {
        return cu_err_set(CU_ERR_INTERNAL, __FILE__, __LINE__, "could not start the watchdog");
    }
    s->watch_running = 1;
    return CU_OK;
}

void
cu_http_watch_stop(struct cu_server *s)
{
    if (!s->watch_running) {
        return;
    }
    pthread_mutex_lock(&s->watch_mu);
    s->watch_stop = 1;
    pthread_cond_signal(&s->watch_cv);
    pthread_mutex_unlock(&s->watch_mu);
    pthread_join(s->watch_thread, NULL);
    s->watch_running = 0;
}

void
cu_http_watch_free(struct cu_server *s)
{
    if (s->watch_ready) {
        /* MHD_stop_daemon has reported every connection closed; anything left is freed */
        while (s->watch_head != NULL) {
            struct cu_http_track *t = s->watch_head;
            s->watch_head = t->next;
            free(t);
        }
        pthread_cond_destroy(&s->watch_cv);
        pthread_mutex_destroy(&s->watch_mu);
    }
}

void
cu_http_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                      enum MHD_ConnectionNotificationCode code)
{
    struct cu_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (info == NULL) {
            return;
        }
        struct cu_http_track *t = cu_xcalloc(1, sizeof(*t));
        t->fd = info->connect_fd;
        t->phase = CU_PHASE_HEADERS;
        clock_gettime(CLOCK_MONOTONIC, &t->since);
        pthread_mutex_lock(&s->watch_mu);
        t->next = s->watch_head;
        if (s->watch_head != NULL) {
            s->watch_head->prev = t;
        }
        s->watch_head = t;
        pthread_mutex_unlock(&s->watch_mu);
        *socket_context = t;
        return;
    }
    struct cu_http_track *t = *socket_context;
    if (code != MHD_CONNECTION_NOTIFY_CLOSED || t == NULL) {
        return;
    }
    pthread_mutex_lock(&s->watch_mu);
    if (t->prev != NULL) {
        t->prev->next = t->next;
    } else {
        s->watch_head = t->next;
    }
    if (t->next != NULL) {
        t->next->prev = t->prev;
    }
    pthread_mutex_unlock(&s->watch_mu);
    free(t);
    *socket_context = NULL;
}

struct cu_http_track *
cu_http_track_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info != NULL ? info->socket_context : NULL;
}

void
cu_http_track_phase(struct cu_server *s, struct cu_http_track *t, enum cu_http_phase phase)
{
    if (t == NULL) {
        return;
    }
    pthread_mutex_lock(&s->watch_mu);
    t->phase = phase;
    t->bytes = 0;
    clock_gettime(CLOCK_MONOTONIC, &t->since);
    pthread_mutex_unlock(&s->watch_mu);
}

void
cu_http_track_bytes(struct cu_server *s, struct cu_http_track *t, size_t n)
{
    if (t == NULL) {
        return;
    }
    pthread_mutex_lock(&s->watch_mu);
    t->bytes += n;
    pthread_mutex_unlock(&s->watch_mu);
}
