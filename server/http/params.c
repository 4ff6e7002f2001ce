/* Request helpers shared by the handlers: the acting principal, validation problems and a thin
 * handler's reply, paging and the Idempotency-Key. Authorization is not here: the dispatcher
 * enforces the route table. */
#include "http/http.h"

#include "auth/jwt.h"
#include "crypto/hmac.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum cu_err
cu_req_problems(struct cu_req *req, enum cu_err rc, struct cu_problems *p)
{
    if (p->errors != NULL) {
        if (req->problem_errors != NULL) {
            json_decref(req->problem_errors);
        }
        req->problem_errors = p->errors;
        p->errors = NULL;
    }
    return rc;
}

enum cu_err
cu_req_reply(struct cu_req *req, enum cu_err rc, struct cu_problems *p, json_t *out)
{
    if (p != NULL) {
        rc = cu_req_problems(req, rc, p);
    }
    if (rc != CU_OK) {
        json_decref(out);
        return rc;
    }
    cu_resp_json(req, 0, out);
    return CU_OK;
}

enum cu_err
cu_req_page(struct cu_req *req, int *limit, const char **cursor)
{
    *limit = 100;
    *cursor = cu_req_query(req, "cursor");
    if (*cursor != NULL) {
        /* cursors are ids and names: anything else is no cursor this server gave out */
        size_t n = strlen(*cursor);
        int ok = n >= 1 && n <= 128;
        for (const char *p = *cursor; ok && *p; p++) {
            char c = *p;
            ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_';
        }
        if (!ok) {
            cu_err_set(CU_ERR_BAD_REQUEST, __FILE__, __LINE__, "malformed cursor");
            return cu_err_public(CU_ERR_BAD_REQUEST, "cursor is not one this server returned");
        }
    }
    const char *l = cu_req_query(req, "limit");
    if (l == NULL) {
        return CU_OK;
    }
    char *end = NULL;
    errno = 0;
    long v = strtol(l, &end, 10);
    if (errno != 0 || end == l || *end != '\0' || v < 1 || v > 1000) {
        cu_err_set(CU_ERR_BAD_REQUEST, __FILE__, __LINE__, "malformed limit");
        return cu_err_public(CU_ERR_BAD_REQUEST, "limit must be an integer from 1 to 1000");
    }
    *limit = (int)v;
    return CU_OK;
}

void
cu_req_actor(const struct cu_req *req, struct cu_actor *a)
{
    a->tenant = req->tenant;
    a->principal = req->principal->sub;
    a->scopes = req->principal->scopes;
    a->nscopes = req->principal->nscopes;
    a->request_id = req->request_id;
    a->roles = req->principal->roles;
    a->nroles = req->principal->nroles;
    a->mfa = req->principal->mfa;
}

/* SHA-256 over method, path and body: what an Idempotency-Key stands for. */
static enum cu_err
request_hash(const struct cu_req *req, uint8_t out[32])
{
    struct cu_sha256_ctx c = {0};
    enum cu_err rc = cu_sha256_init(&c);
    if (rc == CU_OK) {
        rc = cu_sha256_update(&c, req->method, strlen(req->method) + 1);
    }
    if (rc == CU_OK) {
        rc = cu_sha256_update(&c, req->path, strlen(req->path) + 1);
    }
    if (rc == CU_OK) {
        rc = cu_sha256_update(&c, req->body, req->body_len);
    }
    if (rc == CU_OK) {
        rc = cu_sha256_final(&c, out);
    }
    cu_sha256_cleanup(&c);
    return rc;
}

enum cu_err
cu_req_idem(struct cu_req *req, struct cu_idem *out)
{
    memset(out, 0, sizeof(*out));
    const char *k = cu_req_header(req, "Idempotency-Key");
    if (k == NULL) {
        return CU_OK;
    }
    size_t n = strlen(k);
    int ok = n >= 1 && n <= 255;
    for (const unsigned char *p = (const unsigned char *)k; ok && *p; p++) {
        ok = *p >= 0x21 && *p <= 0x7e;
    }
    if (!ok) {
        cu_err_set(CU_ERR_BAD_REQUEST, __FILE__, __LINE__, "malformed idempotency key");
        return cu_err_public(CU_ERR_BAD_REQUEST,
                             "Idempotency-Key must be 1 to 255 printable characters");
    }
    out->key = k;
    return request_hash(req, out->hash);
}
