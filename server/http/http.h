/* The HTTP layer's view of a request and its response, shared by the server, the router and
 * the handlers. Invariant: everything reachable from a cu_req is owned by its arena and dies,
 * wiped, with the request. */
#ifndef CU_HTTP_HTTP_H
#define CU_HTTP_HTTP_H

#include "config/config.h"
#include "core/err.h"
#include "core/mem.h"
#include "service/ratelimit.h"
#include "service/svc.h"
#include "service/vault.h"
#include "storage/db.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct cu_auth;

/* Process-scope objects the handlers use; created in main.c. */
struct cu_app {
    const struct cu_config *cfg;
    struct cu_db *db;
    struct cu_auth *auth;
    struct cu_svc *svc;
    int schema_latest;
    volatile int ready;
};

enum { CU_MAX_PATH_PARAMS = 4 };

struct cu_req {
    struct cu_arena *arena;
    struct cu_app *app;
    void *conn; /* struct MHD_Connection *, for header and query look-ups */
    const char *method;
    const char *path;
    const char *request_id;
    const char *route; /* template, for logs and metrics */
    int route_index;
    const char *param_names[CU_MAX_PATH_PARAMS];
    const char *param_values[CU_MAX_PATH_PARAMS];
    int nparams;
    const uint8_t *body;
    size_t body_len;
    json_t *json; /* parsed body for routes that take JSON (borrowed from the arena) */
    struct cu_form *form; /* parsed body for routes that take a form (arena) */

    /* set by the auth step for routes that need it */
    struct cu_principal *principal;
    const char *tenant;

    /* the response */
    int status;
    json_t *resp_json;        /* owned: decref'd after sending */
    const char *resp_text;    /* alternative body (arena) */
    size_t resp_text_len;
    const char *resp_type;    /* Content-Type for resp_text */
    const char *retry_after;  /* seconds, for 429/503 */
    struct cu_rate_result rate; /* the rate limit checked, for the RateLimit-* fields */
    const char *location;
    const char *challenge;    /* WWW-Authenticate of a 401/403 refused by the dispatcher */

    /* validation problems for an error return; the public detail travels with the error
     * code itself (cu_err_public, core/err.h) */
    json_t *problem_errors; /* [{"pointer","detail"}] */
};

typedef enum cu_err (*cu_handler_fn)(struct cu_req *req);

/* Path parameter by name (NULL if absent), query parameter (NULL if absent), header. */
const char *cu_req_param(const struct cu_req *req, const char *name);
const char *cu_req_query(const struct cu_req *req, const char *name);
const char *cu_req_header(const struct cu_req *req, const char *name);

/* Sets a JSON response (steals the reference). status 0: the route's success status. */
void cu_resp_json(struct cu_req *req, int status, json_t *body);
/* Sets a text response; body is copied into the arena. */
void cu_resp_text(struct cu_req *req, int status, const char *type, const char *body, size_t len);
/* Adds one validation problem (pointer is a JSON pointer, detail a fixed text). */
void cu_req_add_error(struct cu_req *req, const char *pointer, const char *detail);

/* Parses a JSON body: UTF-8, no NUL, no duplicate keys, nesting at most CU_JSON_MAX_DEPTH.
 * CU_ERR_BAD_JSON with a detail naming the position only (never the content). The result is
 * owned by arena. */
enum { CU_JSON_MAX_DEPTH = 32 };
enum cu_err cu_json_parse(struct cu_arena *arena, const uint8_t *data, size_t len, json_t **out,
                          const char **detail) CU_WUR;

/* A form body (application/x-www-form-urlencoded) decoded by cu_form_parse (http/form.c):
 * names and NUL-terminated values in the arena; a value may hold any byte but NUL. */
enum { CU_FORM_MAX_FIELDS = 64, CU_FORM_MAX_NAME = 64 };
struct cu_form_field {
    const char *name;
    const char *value;
    size_t len;
};
struct cu_form {
    struct cu_form_field *fields;
    size_t n;
};
/* Parses data into *out (arena). Empty pairs are skipped; a pair without '=' has an empty
 * value. CU_ERR_BAD_REQUEST with a fixed *detail (never the content) for a malformed or cut
 * percent-escape, a NUL byte, a name outside [A-Za-z0-9_.-]{1,64}, a repeated name or more
 * than CU_FORM_MAX_FIELDS fields. */
enum cu_err cu_form_parse(struct cu_arena *arena, const uint8_t *data, size_t len,
                          struct cu_form *out, const char **detail) CU_WUR;

/* The route table and the server. */
enum cu_route_flags {
    CU_ROUTE_PUBLIC = 1 << 0,    /* no bearer token needed */
    CU_ROUTE_JSON_BODY = 1 << 1, /* body must be application/json, parsed into req->json */
    CU_ROUTE_OPTIONAL_BODY = 1 << 2,
    CU_ROUTE_TENANT = 1 << 3, /* the token must name a tenant; denials go to its audit trail */
    CU_ROUTE_FORM_BODY = 1 << 4, /* body must be application/x-www-form-urlencoded: req->form */
    CU_ROUTE_PAGE = 1 << 5, /* a browser page: every answer carries a strict CSP, no framing and
                               no referrer (respond.c) */
};

/* One endpoint and its policy, enforced by the dispatcher (http/dispatch.c) before the body is
 * read: a protected route needs a valid bearer token, scope (NULL: none), a tenant when
 * CU_ROUTE_TENANT; a refused tenant route is audited as audit_action. A handler that answers
 * without choosing a status answers success. */
struct cu_route {
    const char *method;
    const char *pattern; /* "/v1/tenants/{id}" */
    cu_handler_fn handler;
    unsigned flags;
    const char *scope;
    const char *audit_action; /* tenant routes: the action recorded for a denial */
    int success;              /* 200, 201, 202 or 204 */
};

extern const struct cu_route cu_routes[];
extern const size_t cu_routes_count;

/* The rate limits per principal and tenant (service/ratelimit.h), by route (method and
 * pattern of a cu_routes entry): checked by the dispatcher once the body is parsed, before the
 * handler, in a round trip of its own; or, for CU_RATE_IN_SERVICE, by the service in the
 * pipeline it runs anyway (no round trip of its own). */
enum cu_rate_cost {
    CU_RATE_PER_REQUEST = 0,
    CU_RATE_PER_RECORD = 1, /* the cost is the number of the body's "records" (tokenize) */
    CU_RATE_IN_SERVICE = 2, /* the service counts it (verify, with the token's lookup) */
};
struct cu_route_rate {
    const char *method;
    const char *pattern;
    const char *bucket; /* "tokenize", "search", "verify" */
    enum cu_rate_cost cost;
};
extern const struct cu_route_rate cu_route_rates[];
extern const size_t cu_route_rates_count;
/* The rate limit of a route, or NULL. */
const struct cu_route_rate *cu_route_rate_of(const struct cu_route *route);

/* Finds the route for method and path. Returns the index, or -1 with *method_mismatch set
 * when the path exists under another method (405), or -1 with it clear (404). */
int cu_router_match(const char *method, const char *path, struct cu_req *req, int *method_mismatch);
/* The methods routed for path, comma-separated, for a 405's Allow header. */
void cu_router_allow(const char *path, char *out, size_t n);

struct cu_server;
enum cu_err cu_server_start(struct cu_app *app, struct cu_server **out) CU_WUR;
/* Stops accepting, lets in-flight requests finish (up to grace_ms), then stops. */
void cu_server_stop(struct cu_server *s, int grace_ms);

/* The acting principal for a service call (the request must be authenticated). */
void cu_req_actor(const struct cu_req *req, struct cu_actor *a);
/* Validation problems from a service become the problem's "errors". */
enum cu_err cu_req_problems(struct cu_req *req, enum cu_err rc, struct cu_problems *p) CU_WUR;
/* The end of a thin handler (decode → service → encode): the service's rc with its problems
 * (p may be NULL), then out as the route's success answer; on failure rc, and out is dropped. */
enum cu_err cu_req_reply(struct cu_req *req, enum cu_err rc, struct cu_problems *p,
                         json_t *out) CU_WUR;
/* The Idempotency-Key header (out->key NULL when absent); 400 when malformed. */
enum cu_err cu_req_idem(struct cu_req *req, struct cu_idem *out) CU_WUR;
/* limit (default 100, 1..1000) and cursor query parameters; 400 when malformed. */
enum cu_err cu_req_page(struct cu_req *req, int *limit, const char **cursor) CU_WUR;

/* Handlers (http/handlers/) */
enum cu_err cu_h_healthz(struct cu_req *req) CU_WUR;
enum cu_err cu_h_readyz(struct cu_req *req) CU_WUR;
enum cu_err cu_h_metrics(struct cu_req *req) CU_WUR;
enum cu_err cu_h_tenant_create(struct cu_req *req) CU_WUR;
enum cu_err cu_h_tenant_list(struct cu_req *req) CU_WUR;
enum cu_err cu_h_tenant_get(struct cu_req *req) CU_WUR;
enum cu_err cu_h_tenant_delete(struct cu_req *req) CU_WUR;
enum cu_err cu_h_keys_rotate(struct cu_req *req) CU_WUR;
enum cu_err cu_h_keys_status(struct cu_req *req) CU_WUR;
enum cu_err cu_h_collection_put(struct cu_req *req) CU_WUR;
enum cu_err cu_h_collection_get(struct cu_req *req) CU_WUR;
enum cu_err cu_h_collection_list(struct cu_req *req) CU_WUR;
enum cu_err cu_h_purpose_put(struct cu_req *req) CU_WUR;
enum cu_err cu_h_purpose_get(struct cu_req *req) CU_WUR;
enum cu_err cu_h_purpose_list(struct cu_req *req) CU_WUR;
/* handlers/roles.c: roles and interactions */
enum cu_err cu_h_role_put(struct cu_req *req) CU_WUR;
enum cu_err cu_h_role_get(struct cu_req *req) CU_WUR;
enum cu_err cu_h_role_list(struct cu_req *req) CU_WUR;
enum cu_err cu_h_interaction_open(struct cu_req *req) CU_WUR;
enum cu_err cu_h_interaction_end(struct cu_req *req) CU_WUR;
enum cu_err cu_h_records_create(struct cu_req *req) CU_WUR;
enum cu_err cu_h_record_get(struct cu_req *req) CU_WUR;
enum cu_err cu_h_record_patch(struct cu_req *req) CU_WUR;
enum cu_err cu_h_record_delete(struct cu_req *req) CU_WUR;
enum cu_err cu_h_records_search(struct cu_req *req) CU_WUR;
enum cu_err cu_h_detokenize(struct cu_req *req) CU_WUR;
enum cu_err cu_h_audit_list(struct cu_req *req) CU_WUR;
enum cu_err cu_h_audit_verify(struct cu_req *req) CU_WUR;
enum cu_err cu_h_audit_checkpoint(struct cu_req *req) CU_WUR;
enum cu_err cu_h_audit_exposure(struct cu_req *req) CU_WUR;
enum cu_err cu_h_alerts(struct cu_req *req) CU_WUR;
enum cu_err cu_h_subject_get(struct cu_req *req) CU_WUR;
enum cu_err cu_h_subject_export(struct cu_req *req) CU_WUR;
enum cu_err cu_h_subject_erase(struct cu_req *req) CU_WUR;
enum cu_err cu_h_subject_hold(struct cu_req *req) CU_WUR;
enum cu_err cu_h_subject_unhold(struct cu_req *req) CU_WUR;
enum cu_err cu_h_receipt_verify(struct cu_req *req) CU_WUR;
enum cu_err cu_h_dsr_create(struct cu_req *req) CU_WUR;
enum cu_err cu_h_dsr_list(struct cu_req *req) CU_WUR;
enum cu_err cu_h_dsr_get(struct cu_req *req) CU_WUR;
enum cu_err cu_h_dsr_extend(struct cu_req *req) CU_WUR;
enum cu_err cu_h_dsr_execute(struct cu_req *req) CU_WUR;
enum cu_err cu_h_dsr_result(struct cu_req *req) CU_WUR;
/* gates.c: restriction, consents, record of processing */
enum cu_err cu_h_restriction_post(struct cu_req *req) CU_WUR;
enum cu_err cu_h_restriction_delete(struct cu_req *req) CU_WUR;
enum cu_err cu_h_consent_put(struct cu_req *req) CU_WUR;
enum cu_err cu_h_consents_get(struct cu_req *req) CU_WUR;
enum cu_err cu_h_report_processing(struct cu_req *req) CU_WUR;
enum cu_err cu_h_verify(struct cu_req *req) CU_WUR;
enum cu_err cu_h_capture_create(struct cu_req *req) CU_WUR;
enum cu_err cu_h_capture_get(struct cu_req *req) CU_WUR;
enum cu_err cu_h_capture_page(struct cu_req *req) CU_WUR;
enum cu_err cu_h_capture_submit(struct cu_req *req) CU_WUR;
enum cu_err cu_h_capture_css(struct cu_req *req) CU_WUR;

#endif
