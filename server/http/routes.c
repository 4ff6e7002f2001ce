/* The route table: every endpoint, its handler and what it needs. api/openapi.yaml lists the
 * same routes; a test compares the two. */
#include "http/http.h"

const struct cu_route cu_routes[] = {
    {"GET", "/healthz", cu_h_healthz, CU_ROUTE_PUBLIC},
    {"GET", "/readyz", cu_h_readyz, CU_ROUTE_PUBLIC},
    {"GET", "/metrics", cu_h_metrics, CU_ROUTE_PUBLIC},
    {"POST", "/v1/tenants", cu_h_tenant_create, CU_ROUTE_JSON_BODY},
    {"GET", "/v1/tenants", cu_h_tenant_list, 0},
    {"GET", "/v1/tenants/{id}", cu_h_tenant_get, 0},
    {"DELETE", "/v1/tenants/{id}", cu_h_tenant_delete, 0},
    {"POST", "/v1/keys/rotate", cu_h_keys_rotate, CU_ROUTE_JSON_BODY | CU_ROUTE_OPTIONAL_BODY},
    {"GET", "/v1/keys", cu_h_keys_status, 0},
    {"PUT", "/v1/collections/{name}", cu_h_collection_put, CU_ROUTE_JSON_BODY},
    {"GET", "/v1/collections", cu_h_collection_list, 0},
    {"GET", "/v1/collections/{name}", cu_h_collection_get, 0},
    {"PUT", "/v1/purposes/{name}", cu_h_purpose_put, CU_ROUTE_JSON_BODY},
    {"GET", "/v1/purposes", cu_h_purpose_list, 0},
    {"GET", "/v1/purposes/{name}", cu_h_purpose_get, 0},
    {"POST", "/v1/collections/{c}/records", cu_h_records_create, CU_ROUTE_JSON_BODY},
    {"GET", "/v1/collections/{c}/records/{id}", cu_h_record_get, 0},
    {"PATCH", "/v1/collections/{c}/records/{id}", cu_h_record_patch, CU_ROUTE_JSON_BODY},
    {"DELETE", "/v1/collections/{c}/records/{id}", cu_h_record_delete, 0},
    {"POST", "/v1/collections/{c}/search", cu_h_records_search, CU_ROUTE_JSON_BODY},
    {"POST", "/v1/detokenize", cu_h_detokenize, CU_ROUTE_JSON_BODY},
};

const size_t cu_routes_count = sizeof(cu_routes) / sizeof(cu_routes[0]);
