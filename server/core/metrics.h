/* Process metrics: requests by route template and status, latency histograms per route.
 * Lock-free counters; labels are methods, route templates and status codes only, never values. */
#ifndef CU_CORE_METRICS_H
#define CU_CORE_METRICS_H

#include "core/mem.h"

#include <stddef.h>

/* Declares the route templates once at start (index = position); not thread-safe. */
void cu_metrics_init(const char *const *routes, size_t nroutes);
/* route: index from cu_metrics_init, or -1 for "unmatched". method: the route's method, a
 * static string (borrowed for the life of the process; ignored for -1), becomes the method
 * label of the route's series. */
void cu_metrics_observe(int route, const char *method, int status, double seconds);
/* A named counter for events (e.g. "reveals_plain"); name must be a static string. */
void cu_metrics_count(const char *name, unsigned long long n);
/* Appends the Prometheus text exposition of everything above to b. */
void cu_metrics_render(struct cu_buf *b);

#endif
