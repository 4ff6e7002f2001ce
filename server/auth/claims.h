/* JWT claims of a signature-checked payload -> a principal: times, iss, aud, sub, scope or scp,
 * roles, amr, the tenant claim. Invariant: no reason set here contains a claim value. */
#ifndef CU_AUTH_CLAIMS_H
#define CU_AUTH_CLAIMS_H

#include <jansson.h>

#include "auth/principal.h"
#include "core/err.h"
#include "core/mem.h"

/* 9999-12-31T23:59:59Z: later times are garbage, and the bound keeps exp + leeway in range. */
#define CU_JWT_MAX_TIME 253402300799LL
/* Upper bound of the clock leeway, in seconds. */
#define CU_JWT_MAX_LEEWAY 300

/* What this deployment requires of a token; borrowed strings. */
struct cu_claims_rules {
    const char *issuer;       /* iss must equal it */
    const char *audience;     /* aud must be it or an array containing it */
    const char *tenant_claim; /* name of the tenant claim, e.g. "tid" */
    int leeway;               /* 0..CU_JWT_MAX_LEEWAY seconds */
};

/* Validates every claim of payload (a JSON object whose signature was checked) against rules
 * at unix time now, and fills *out (strings in arena) and *times.
 * Errors: CU_ERR_UNAUTHORIZED with a reason naming the claim (never its value). */
enum cu_err cu_claims_check(const struct cu_claims_rules *rules, json_t *payload, long long now,
                            struct cu_arena *arena, struct cu_principal *out,
                            struct cu_token_times *times) CU_WUR;

/* Checks exp, nbf and iat of t against now with leeway (a cache hit re-checks with this).
 * Errors: CU_ERR_UNAUTHORIZED (expired, not valid yet, issued in the future). */
enum cu_err cu_claims_check_times(const struct cu_token_times *t, long long now, int leeway) CU_WUR;

#endif
