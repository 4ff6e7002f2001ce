/* Metrics registry: a fixed matrix of routes x statuses plus per-route histograms. A route is
 * one method on one path, so every series carries both (two routes may share a path). */
#include "core/metrics.h"

#include "core/version.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

enum { MAX_ROUTES = 96, MAX_COUNTERS = 32 };

static const int statuses[] = {200, 201, 202, 204, 400, 401, 403, 404, 405, 409, 410,
                               413, 415, 422, 423, 429, 431, 500, 503, 0};
enum { NSTATUS = sizeof(statuses) / sizeof(statuses[0]) };
static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                 0.05,   0.1,   0.25,   0.5,   1.0,  2.5};
enum { NBUCKET = sizeof(buckets) / sizeof(buckets[0]) };

struct route_metrics {
    const char *name;
    _Atomic(const char *) method; /* the route's method, a static string; NULL for unmatched */
    _Atomic unsigned long long by_status[NSTATUS];
    _Atomic unsigned long long hist[NBUCKET + 1];
    _Atomic unsigned long long count;
    _Atomic unsigned long long sum_us;
};

struct counter {
    _Atomic(const char *) name;
    _Atomic unsigned long long value;
};

static struct route_metrics routes_m[MAX_ROUTES + 1];
static size_t nroutes_m;
static struct counter counters[MAX_COUNTERS];

void
cu_metrics_init(const char *const *routes, size_t nroutes)
{
    nroutes_m = nroutes < MAX_ROUTES ? nroutes : MAX_ROUTES;
    for (size_t i = 0; i < nroutes_m; i++) {
        routes_m[i].name = routes[i];
    }
    routes_m[nroutes_m].name = "unmatched";
}

void
cu_metrics_observe(int route, const char *method, int status, double seconds)
{
    struct route_metrics *m = &routes_m[(route < 0 || (size_t)route >= nroutes_m) ? nroutes_m
                                                                                  : (size_t)route];
    if (m != &routes_m[nroutes_m] && method != NULL && atomic_load(&m->method) == NULL) {
        atomic_store(&m->method, method);
    }
    size_t s = NSTATUS - 1;
    for (size_t i = 0; i + 1 < NSTATUS; i++) {
        if (statuses[i] == status) {
            s = i;
            break;
        }
    }
    atomic_fetch_add_explicit(&m->by_status[s], 1, memory_order_relaxed);
    size_t b = NBUCKET;
    for (size_t i = 0; i < NBUCKET; i++) {
        if (seconds <= buckets[i]) {
            b = i;
            break;
        }
    }
    atomic_fetch_add_explicit(&m->hist[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->sum_us, (unsigned long long)(seconds * 1e6),
                              memory_order_relaxed);
}

void
cu_metrics_count(const char *name, unsigned long long n)
{
    for (size_t i = 0; i < MAX_COUNTERS; i++) {
        const char *cur = atomic_load(&counters[i].name);
        if (cur == NULL) {
            const char *expected = NULL;
            if (atomic_compare_exchange_strong(&counters[i].name, &expected, name)) {
                cur = name;
            } else {
                cur = expected;
            }
        }
        if (cur == name || strcmp(cur, name) == 0) {
            atomic_fetch_add_explicit(&counters[i].value, n, memory_order_relaxed);
            return;
        }
    }
}

/* method="GET",route="/v1/tenants/{id}"; unmatched requests carry no method (it is whatever
 * the client sent). */
static void
labels(size_t r, char *out, size_t n)
{
    const char *method = atomic_load(&routes_m[r].method);
    if (method == NULL) {
        snprintf(out, n, "route=\"%s\"", routes_m[r].name);
    } else {
        snprintf(out, n, "method=\"%s\",route=\"%s\"", method, routes_m[r].name);
    }
}

void
cu_metrics_render(struct cu_buf *b)
{
    cu_buf_printf(b,
                  "# HELP custos_build_info The release and commit of this binary (always 1).\n"
                  "# TYPE custos_build_info gauge\n"
                  "custos_build_info{version=\"%s\",commit=\"%s\"} 1\n",
                  cu_version(), cu_version_commit());
    cu_buf_append_str(b, "# HELP custos_http_requests_total HTTP requests by method, route and "
                         "status.\n"
                         "# TYPE custos_http_requests_total counter\n");
    for (size_t r = 0; r <= nroutes_m; r++) {
        for (size_t s = 0; s < NSTATUS; s++) {
            unsigned long long v = atomic_load(&routes_m[r].by_status[s]);
            if (v == 0) {
                continue;
            }
            char lbl[192];
            labels(r, lbl, sizeof(lbl));
            if (statuses[s] == 0) {
                cu_buf_printf(b, "custos_http_requests_total{%s,status=\"other\"} %llu\n", lbl, v);
            } else {
                cu_buf_printf(b, "custos_http_requests_total{%s,status=\"%d\"} %llu\n", lbl,
                              statuses[s], v);
            }
        }
    }
    cu_buf_append_str(b, "# HELP custos_http_request_duration_seconds Request latency by route.\n"
                         "# TYPE custos_http_request_duration_seconds histogram\n");
    for (size_t r = 0; r <= nroutes_m; r++) {
        unsigned long long count = atomic_load(&routes_m[r].count);
        if (count == 0) {
            continue;
        }
        char lbl[192];
        labels(r, lbl, sizeof(lbl));
        unsigned long long cum = 0;
        for (size_t i = 0; i < NBUCKET; i++) {
            cum += atomic_load(&routes_m[r].hist[i]);
            cu_buf_printf(b, "custos_http_request_duration_seconds_bucket{%s,le=\"%g\"} %llu\n",
                          lbl, buckets[i], cum);
        }
        cu_buf_printf(b,
                      "custos_http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %llu\n"
                      "custos_http_request_duration_seconds_sum{%s} %.6f\n"
                      "custos_http_request_duration_seconds_count{%s} %llu\n",
                      lbl, count, lbl, (double)atomic_load(&routes_m[r].sum_us) / 1e6, lbl, count);
    }
    for (size_t i = 0; i < MAX_COUNTERS; i++) {
        const char *name = atomic_load(&counters[i].name);
        if (name == NULL) {
            break;
        }
        cu_buf_printf(b, "# TYPE custos_%s_total counter\ncustos_%s_total %llu\n", name, name,
                      atomic_load(&counters[i].value));
    }
}
