/* Route matching over the table in routes.c: literal segments and {param} segments.
 * Paths are matched as sent: no decoding, no dot-segment folding; anything odd is a 404. */
#include "http/http.h"

#include <string.h>

/* Matches one pattern; fills params on success. */
static int
match(const char *pattern, const char *path, struct cu_req *req)
{
    int n = 0;
    const char *p = pattern;
    const char *s = path;
    while (*p != '\0' && *s != '\0') {
        if (*p != '/' || *s != '/') {
            return 0;
        }
        p++;
        s++;
        const char *pe = strchrnul(p, '/');
        const char *se = strchrnul(s, '/');
        size_t plen = (size_t)(pe - p);
        size_t slen = (size_t)(se - s);
        if (plen > 2 && p[0] == '{' && p[plen - 1] == '}') {
            if (slen == 0 || slen > 256 || n >= CU_MAX_PATH_PARAMS) {
                return 0;
            }
            if (req != NULL) {
                req->param_names[n] = cu_arena_strndup(req->arena, p + 1, plen - 2);
                req->param_values[n] = cu_arena_strndup(req->arena, s, slen);
            }
            n++;
        } else if (plen != slen || memcmp(p, s, plen) != 0) {
            return 0;
        }
        p = pe;
        s = se;
    }
    if (*p != '\0' || *s != '\0') {
        return 0;
    }
    if (req != NULL) {
        req->nparams = n;
    }
    return 1;
}

int
cu_router_match(const char *method, const char *path, struct cu_req *req, int *method_mismatch)
{
    *method_mismatch = 0;
    for (size_t i = 0; i < cu_routes_count; i++) {
        if (!match(cu_routes[i].pattern, path, NULL)) {
            continue;
        }
        if (strcmp(cu_routes[i].method, method) != 0) {
            *method_mismatch = 1;
            continue;
        }
        match(cu_routes[i].pattern, path, req);
        return (int)i;
    }
    return -1;
}

const char *
cu_req_param(const struct cu_req *req, const char *name)
{
    for (int i = 0; i < req->nparams; i++) {
        if (strcmp(req->param_names[i], name) == 0) {
            return req->param_values[i];
        }
    }
    return NULL;
}

void
cu_router_allow(const char *path, char *out, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < cu_routes_count; i++) {
        if (!match(cu_routes[i].pattern, path, NULL)) {
            continue;
        }
        int w = snprintf(out + used, n - used, "%s%s", used ? ", " : "", cu_routes[i].method);
        if (w < 0 || (size_t)w >= n - used) {
            return;
        }
        used += (size_t)w;
    }
}

const struct cu_route_rate *
cu_route_rate_of(const struct cu_route *route)
{
    for (size_t i = 0; i < cu_route_rates_count; i++) {
        if (strcmp(cu_route_rates[i].method, route->method) == 0 &&
            strcmp(cu_route_rates[i].pattern, route->pattern) == 0) {
            return &cu_route_rates[i];
        }
    }
    return NULL;
}
