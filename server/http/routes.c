/* The route table: every endpoint, its handler and its policy (scope, tenant, audit action,
 * success status). api/openapi.yaml lists the same routes; a test compares the two, and
 * tests/integration/test_routes.c walks this table to prove the policy is enforced. */
#include "http/http.h"

enum {
    J = CU_ROUTE_JSON_BODY,
    T = CU_ROUTE_TENANT,
    P = CU_ROUTE_PUBLIC,
    F = CU_ROUTE_FORM_BODY,
    G = CU_ROUTE_PAGE,
};

const struct cu_route cu_routes[] = {
    {"GET", "/healthz", cu_h_healthz, P, NULL, NULL, 200},
    {"GET", "/readyz", cu_h_readyz, P, NULL, NULL, 200},
    {"GET", "/metrics", cu_h_metrics, P, NULL, NULL, 200},
    {"POST", "/v1/tenants", cu_h_tenant_create, J, "vault:admin", NULL, 201},
    {"GET", "/v1/tenants", cu_h_tenant_list, 0, "vault:admin", NULL, 200},
    {"GET", "/v1/tenants/{id}", cu_h_tenant_get, 0, "vault:admin", NULL, 200},
    {"DELETE", "/v1/tenants/{id}", cu_h_tenant_delete, 0, "vault:admin", NULL, 204},
    {"POST", "/v1/keys/rotate", cu_h_keys_rotate, T | J | CU_ROUTE_OPTIONAL_BODY, "tenant:admin",
     "keys.rotate", 202},
    {"GET", "/v1/keys", cu_h_keys_status, T, "tenant:admin", "keys.status", 200},
    {"PUT", "/v1/collections/{name}", cu_h_collection_put, T | J, "tenant:admin",
     "collection.put", 200},
    {"GET", "/v1/collections", cu_h_collection_list, T, "tenant:admin", "collection.list", 200},
    {"GET", "/v1/collections/{name}", cu_h_collection_get, T, "tenant:admin", "collection.get",
     200},
    {"PUT", "/v1/purposes/{name}", cu_h_purpose_put, T | J, "tenant:admin", "purpose.put", 200},
    {"GET", "/v1/purposes", cu_h_purpose_list, T, "tenant:admin", "purpose.list", 200},
    {"GET", "/v1/purposes/{name}", cu_h_purpose_get, T, "tenant:admin", "purpose.get", 200},
    {"PUT", "/v1/roles/{role}", cu_h_role_put, T | J, "tenant:admin", "role.put", 200},
    {"GET", "/v1/roles", cu_h_role_list, T, "tenant:admin", "role.list", 200},
    {"GET", "/v1/roles/{role}", cu_h_role_get, T, "tenant:admin", "role.get", 200},
    {"POST", "/v1/interactions", cu_h_interaction_open, T | J, "interactions:write",
     "interaction.open", 201},
    {"DELETE", "/v1/interactions/{id}", cu_h_interaction_end, T, "interactions:write",
     "interaction.end", 204},
    {"POST", "/v1/collections/{c}/records", cu_h_records_create, T | J, "records:write",
     "tokenize", 201},
    /* no route scope: the record read needs some detokenize grant, its roles' included, which
     * it reads in its own round trip (a 403 like the routes' below when there is none) */
    {"GET", "/v1/collections/{c}/records/{id}", cu_h_record_get, T, NULL, "record.read", 200},
    {"PATCH", "/v1/collections/{c}/records/{id}", cu_h_record_patch, T | J, "records:write",
     "record.rectify", 200},
    {"DELETE", "/v1/collections/{c}/records/{id}", cu_h_record_delete, T, "records:delete",
     "record.delete", 204},
    {"POST", "/v1/collections/{c}/search", cu_h_records_search, T | J, "records:search",
     "records.search", 200},
    /* no whole-request scope: API.md answers a token without any grant 200 with a 403 per
     * item (and the service audits each); the per-field decision is the service's */
    {"POST", "/v1/detokenize", cu_h_detokenize, T | J, NULL, "detokenize", 200},
    {"POST", "/v1/verify", cu_h_verify, T | J, "records:verify", "verify", 200},
    {"GET", "/v1/audit", cu_h_audit_list, T, "audit:read", "audit.query", 200},
    {"GET", "/v1/audit/verify", cu_h_audit_verify, T, "audit:read", "audit.verify", 200},
    {"POST", "/v1/audit/verify", cu_h_audit_verify, T | J, "audit:read",
     "audit.verify.checkpoint", 200},
    {"GET", "/v1/audit/exposure", cu_h_audit_exposure, T, "audit:read", "audit.exposure", 200},
    {"GET", "/v1/alerts", cu_h_alerts, T, "audit:read", "audit.alerts", 200},
    {"GET", "/v1/audit/checkpoint", cu_h_audit_checkpoint, T, "audit:read", "audit.checkpoint",
     200},
    /* data subjects and their requests (issue 11) */
    {"GET", "/v1/subjects/{sid}", cu_h_subject_get, T, "dsr:manage", "subject.view", 200},
    {"DELETE", "/v1/subjects/{sid}", cu_h_subject_erase, T, "dsr:manage", "subject.erase", 200},
    {"GET", "/v1/subjects/{sid}/export", cu_h_subject_export, T, "dsr:manage", "subject.export",
     200},
    {"POST", "/v1/subjects/{sid}/legal-hold", cu_h_subject_hold, T | J, "dsr:manage",
     "subject.hold", 201},
    {"DELETE", "/v1/subjects/{sid}/legal-hold", cu_h_subject_unhold, T, "dsr:manage",
     "subject.unhold", 204},
    {"POST", "/v1/receipts/verify", cu_h_receipt_verify, T | J, "dsr:manage", "receipt.verify",
     200},
    {"POST", "/v1/dsr", cu_h_dsr_create, T | J, "dsr:manage", "dsr.create", 201},
    {"GET", "/v1/dsr", cu_h_dsr_list, T, "dsr:manage", "dsr.list", 200},
    {"GET", "/v1/dsr/{id}", cu_h_dsr_get, T, "dsr:manage", "dsr.read", 200},
    {"POST", "/v1/dsr/{id}/extend", cu_h_dsr_extend, T | J, "dsr:manage", "dsr.extend", 200},
    {"POST", "/v1/dsr/{id}/execute", cu_h_dsr_execute, T | J | CU_ROUTE_OPTIONAL_BODY,
     "dsr:manage", "dsr.execute", 200},
    {"GET", "/v1/dsr/{id}/result", cu_h_dsr_result, T, "dsr:manage", "dsr.result", 200},
    {"POST", "/v1/subjects/{sid}/restriction", cu_h_restriction_post,
     T | J | CU_ROUTE_OPTIONAL_BODY, "dsr:manage", "restriction.set", 200},
    {"DELETE", "/v1/subjects/{sid}/restriction", cu_h_restriction_delete, T, "dsr:manage",
     "restriction.clear", 204},
    {"PUT", "/v1/subjects/{sid}/consents/{purpose}", cu_h_consent_put, T | J, "consent:write",
     "consent.put", 200},
    {"GET", "/v1/subjects/{sid}/consents", cu_h_consents_get, T, "dsr:manage", "consent.list",
     200},
    {"GET", "/v1/reports/processing", cu_h_report_processing, T, "tenant:admin",
     "report.processing", 200},
    {"POST", "/v1/capture-sessions", cu_h_capture_create, T | J, "records:write",
     "capture.create", 201},
    {"GET", "/v1/capture-sessions/{id}", cu_h_capture_get, T, "records:write", "capture.get", 200},
    /* the customer's page: the secret in the path is the only credential; the service audits
     * each use in the session's tenant (capture.open, capture.submit) */
    {"GET", "/capture/{secret}", cu_h_capture_page, P | G, NULL, NULL, 200},
    {"POST", "/capture/{secret}", cu_h_capture_submit, P | G | F, NULL, NULL, 200},
    {"GET", "/capture.css", cu_h_capture_css, P | G, NULL, NULL, 200},
};

const size_t cu_routes_count = sizeof(cu_routes) / sizeof(cu_routes[0]);

/* Rate limits (issue 12 item 7): the oracle routes, limited per principal and tenant. */
const struct cu_route_rate cu_route_rates[] = {
    {"POST", "/v1/collections/{c}/records", "tokenize", CU_RATE_PER_RECORD},
    {"POST", "/v1/collections/{c}/search", "search", CU_RATE_PER_REQUEST},
    {"POST", "/v1/verify", "verify", CU_RATE_IN_SERVICE},
};

const size_t cu_route_rates_count = sizeof(cu_route_rates) / sizeof(cu_route_rates[0]);
