/* Claims of a verified JWT -> struct cu_principal (see claims.h). Each rule is one small
 * function; cu_claims_check reads as the list of rules. */
#include "auth/claims.h"

#include <limits.h>
#include <string.h>

#include "auth/jose.h"
#include "auth/reject.h"
#include "auth/scope.h"

#define MAX_AMR 64

static enum cu_err
time_claim(json_t *payload, const char *name, int required, long long *out)
{
    json_t *v = json_object_get(payload, name);
    *out = LLONG_MIN;
    if (v == NULL) {
        CU_AUTH_ENSURE(!required, CU_AUTH_MISSING_CLAIM, "claim %s missing", name);
        return CU_OK;
    }
    CU_AUTH_ENSURE(json_is_integer(v), CU_AUTH_BAD_CLAIM, "claim %s is not an integer", name);
    json_int_t t = json_integer_value(v);
    CU_AUTH_ENSURE(t >= 0 && t <= CU_JWT_MAX_TIME, CU_AUTH_BAD_CLAIM, "claim %s out of range",
                   name);
    *out = t;
    return CU_OK;
}

enum cu_err
cu_claims_check_times(const struct cu_token_times *t, long long now, int leeway)
{
    /* each side is bounded by CU_JWT_MAX_TIME and CU_JWT_MAX_LEEWAY, so no sum overflows */
    CU_AUTH_ENSURE(now <= t->exp + leeway, CU_AUTH_EXPIRED, "token expired");
    CU_AUTH_ENSURE(t->nbf == LLONG_MIN || t->nbf - leeway <= now, CU_AUTH_NOT_YET_VALID,
                   "token not valid yet (nbf)");
    CU_AUTH_ENSURE(t->iat == LLONG_MIN || t->iat - leeway <= now, CU_AUTH_NOT_YET_VALID,
                   "token issued in the future (iat)");
    return CU_OK;
}

static int
tenant_ok(const char *s, size_t len)
{
    if (len < 2 || len > 63) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && c == '-');
        if (!ok) {
            return 0;
        }
    }
    return 1;
}

static int
scope_word_ok(const char *s, size_t len)
{
    return len > 0 && len <= CU_JWT_MAX_SCOPE_LEN && cu_jwt_printable(s, len);
}

/* A JSON array of well-formed words (scp, roles) -> arena strings. */
static enum cu_err
word_array(struct cu_arena *arena, json_t *arr, const char *name, const char ***out, size_t *n)
{
    CU_AUTH_ENSURE(json_is_array(arr), CU_AUTH_BAD_CLAIM, "claim %s is not an array", name);
    size_t count = json_array_size(arr);
    CU_AUTH_ENSURE(count <= CU_JWT_MAX_SCOPES, CU_AUTH_BAD_CLAIM, "claim %s has over %d entries",
                   name, CU_JWT_MAX_SCOPES);
    const char **words = cu_arena_alloc(arena, (count + 1) * sizeof(*words));
    for (size_t i = 0; i < count; i++) {
        json_t *w = json_array_get(arr, i);
        CU_AUTH_ENSURE(json_is_string(w) &&
                           scope_word_ok(json_string_value(w), json_string_length(w)),
                       CU_AUTH_BAD_CLAIM, "claim %s entry %zu is not a printable word", name, i);
        words[i] = cu_arena_strdup(arena, json_string_value(w));
    }
    *out = words;
    *n = count;
    return CU_OK;
}

/* `scope` (RFC 8693: space-separated) -> arena strings; empty words are malformed. */
static enum cu_err
scope_string(struct cu_arena *arena, json_t *v, const char ***out, size_t *n)
{
    CU_AUTH_ENSURE(json_is_string(v), CU_AUTH_BAD_CLAIM, "claim scope is not a string");
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    size_t count = 0;
    const char **words = cu_arena_alloc(arena, (CU_JWT_MAX_SCOPES + 1) * sizeof(*words));
    for (size_t i = 0; i < len;) {
        const char *sp = memchr(s + i, ' ', len - i);
        size_t wlen = sp != NULL ? (size_t)(sp - (s + i)) : len - i;
        CU_AUTH_ENSURE(scope_word_ok(s + i, wlen), CU_AUTH_BAD_CLAIM,
                       "claim scope word %zu is empty, too long or not printable", count);
        CU_AUTH_ENSURE(count < CU_JWT_MAX_SCOPES, CU_AUTH_BAD_CLAIM,
                       "claim scope has over %d words", CU_JWT_MAX_SCOPES);
        words[count++] = cu_arena_strndup(arena, s + i, wlen);
        i += wlen + 1;
        CU_AUTH_ENSURE(sp == NULL || i < len, CU_AUTH_BAD_CLAIM, "claim scope ends with a space");
    }
    *out = words;
    *n = count;
    return CU_OK;
}

static enum cu_err
check_aud(json_t *aud, const char *want)
{
    CU_AUTH_ENSURE(aud != NULL, CU_AUTH_AUDIENCE, "claim aud missing");
    if (json_is_string(aud)) {
        CU_AUTH_ENSURE(strcmp(json_string_value(aud), want) == 0, CU_AUTH_AUDIENCE,
                       "claim aud is not this audience");
        return CU_OK;
    }
    CU_AUTH_ENSURE(json_is_array(aud), CU_AUTH_AUDIENCE, "claim aud is neither string nor array");
    int found = 0;
    size_t i;
    json_t *v;
    json_array_foreach(aud, i, v)
    {
        CU_AUTH_ENSURE(json_is_string(v), CU_AUTH_AUDIENCE, "claim aud entry %zu is not a string",
                       i);
        found |= strcmp(json_string_value(v), want) == 0;
    }
    CU_AUTH_ENSURE(found, CU_AUTH_AUDIENCE, "claim aud does not contain this audience");
    return CU_OK;
}

static enum cu_err
check_amr(json_t *amr, int *mfa)
{
    *mfa = 0;
    if (amr == NULL) {
        return CU_OK;
    }
    CU_AUTH_ENSURE(json_is_array(amr) && json_array_size(amr) <= MAX_AMR, CU_AUTH_BAD_CLAIM,
                   "claim amr is not an array of at most %d entries", MAX_AMR);
    size_t i;
    json_t *v;
    json_array_foreach(amr, i, v)
    {
        CU_AUTH_ENSURE(json_is_string(v), CU_AUTH_BAD_CLAIM, "claim amr entry %zu is not a string",
                       i);
        *mfa |= strcmp(json_string_value(v), "mfa") == 0;
    }
    return CU_OK;
}

enum cu_err
cu_claims_check(const struct cu_claims_rules *r, json_t *payload, long long now,
                struct cu_arena *arena, struct cu_principal *out, struct cu_token_times *t)
{
    CU_GUARD(time_claim(payload, "exp", 1, &t->exp));
    CU_GUARD(time_claim(payload, "nbf", 0, &t->nbf));
    CU_GUARD(time_claim(payload, "iat", 0, &t->iat));
    CU_GUARD(cu_claims_check_times(t, now, r->leeway));

    json_t *iss = json_object_get(payload, "iss");
    CU_AUTH_ENSURE(json_is_string(iss) && strcmp(json_string_value(iss), r->issuer) == 0,
                   CU_AUTH_ISSUER, "claim iss missing or not the configured issuer");
    CU_GUARD(check_aud(json_object_get(payload, "aud"), r->audience));

    json_t *sub = json_object_get(payload, "sub");
    size_t sub_len = json_string_length(sub);
    CU_AUTH_ENSURE(json_is_string(sub) && sub_len > 0 && sub_len <= CU_JWT_MAX_SUB,
                   CU_AUTH_BAD_CLAIM, "claim sub missing, empty or over %d bytes", CU_JWT_MAX_SUB);
    for (const unsigned char *c = (const unsigned char *)json_string_value(sub); *c != '\0'; c++) {
        /* control characters in an identity end up in logs and audit rows */
        CU_AUTH_ENSURE(*c >= 0x20 && *c != 0x7f, CU_AUTH_BAD_CLAIM, "claim sub has control bytes");
    }

    json_t *scope = json_object_get(payload, "scope");
    json_t *scp = json_object_get(payload, "scp");
    CU_AUTH_ENSURE(scope == NULL || scp == NULL, CU_AUTH_BAD_CLAIM,
                   "claims scope and scp both set");
    if (scope != NULL) {
        CU_GUARD(scope_string(arena, scope, &out->scopes, &out->nscopes));
    } else if (scp != NULL) {
        CU_GUARD(word_array(arena, scp, "scp", &out->scopes, &out->nscopes));
    }
    json_t *roles = json_object_get(payload, "roles");
    if (roles != NULL) {
        CU_GUARD(word_array(arena, roles, "roles", &out->roles, &out->nroles));
    }
    CU_GUARD(check_amr(json_object_get(payload, "amr"), &out->mfa));

    json_t *tenant = json_object_get(payload, r->tenant_claim);
    if (tenant != NULL) {
        CU_AUTH_ENSURE(json_is_string(tenant) &&
                           tenant_ok(json_string_value(tenant), json_string_length(tenant)),
                       CU_AUTH_BAD_TENANT, "tenant claim is not a tenant id");
        out->tenant = cu_arena_strdup(arena, json_string_value(tenant));
    } else {
        CU_AUTH_ENSURE(cu_scope_has(out->scopes, out->nscopes, "vault:admin"),
                       CU_AUTH_MISSING_TENANT, "tenant claim missing without vault:admin");
    }
    out->sub = cu_arena_strdup(arena, json_string_value(sub));
    out->exp = t->exp;
    return CU_OK;
}
