/* The route table: every endpoint, its handler and what it needs. api/openapi.yaml lists the
 * same routes; a test compares the two. */
#include "http/http.h"

const struct cu_route cu_routes[] = {
    {"GET", "/healthz", cu_h_healthz, CU_ROUTE_PUBLIC},
    {"GET", "/readyz", cu_h_readyz, CU_ROUTE_PUBLIC},
    {"GET", "/metrics", cu_h_metrics, CU_ROUTE_PUBLIC},
};

const size_t cu_routes_count = sizeof(cu_routes) / sizeof(cu_routes[0]);
