/* Scope grammar: a table of simple scopes and the detokenize:<c>.<f>:<level> form. */
#include "auth/scope.h"

#include <string.h>

const char cu_scope_field_missing[] =
    "The token lacks a detokenize:<collection>.<field>:<level> scope for this field";
const char cu_scope_detokenize_missing[] =
    "The token lacks the scope detokenize:<collection>.<field>:<level>";

static const char *const simple_scopes[] = {
    "vault:admin", "tenant:admin",  "records:write", "records:delete", "records:search",
    "dsr:manage",  "consent:write", "audit:read",    "records:verify", "interactions:write",
};

static const struct {
    const char *name;
    enum cu_level level;
} levels[] = {
    {"plain", CU_LEVEL_PLAIN},
    {"masked", CU_LEVEL_MASKED},
    {"redacted", CU_LEVEL_REDACTED},
};

static int
is_simple_scope(const char *scope)
{
    for (size_t i = 0; i < sizeof(simple_scopes) / sizeof(simple_scopes[0]); i++) {
        if (strcmp(simple_scopes[i], scope) == 0) {
            return 1;
        }
    }
    return 0;
}

int
cu_scope_has(const char *const *scopes, size_t n, const char *scope)
{
    if (scope == NULL || !is_simple_scope(scope)) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (scopes[i] != NULL && strcmp(scopes[i], scope) == 0) {
            return 1;
        }
    }
    return 0;
}

int
cu_scope_ident_ok(const char *s, size_t len)
{
    if (s == NULL || len == 0 || len > 63 || s[0] < 'a' || s[0] > 'z') {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')) {
            return 0;
        }
    }
    return 1;
}

static int
pattern_ok(const char *s, size_t len)
{
    return (len == 1 && s[0] == '*') || cu_scope_ident_ok(s, len);
}

static int
pattern_matches(const char *pat, size_t len, const char *name)
{
    return (len == 1 && pat[0] == '*') || (strlen(name) == len && memcmp(pat, name, len) == 0);
}

static enum cu_level
level_of(const char *s, size_t len)
{
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        if (strlen(levels[i].name) == len && memcmp(levels[i].name, s, len) == 0) {
            return levels[i].level;
        }
    }
    return CU_LEVEL_NONE;
}

/* The level one scope grants to collection.field (collection NULL: to any name); NONE when it
 * is not a well-formed detokenize scope or does not match. */
static enum cu_level
scope_grant(const char *scope, const char *collection, const char *field)
{
    static const char prefix[] = "detokenize:";
    if (strncmp(scope, prefix, sizeof(prefix) - 1) != 0) {
        return CU_LEVEL_NONE;
    }
    const char *c = scope + sizeof(prefix) - 1;
    const char *dot = strchr(c, '.');
    if (dot == NULL) {
        return CU_LEVEL_NONE;
    }
    const char *f = dot + 1;
    const char *colon = strchr(f, ':');
    if (colon == NULL) {
        return CU_LEVEL_NONE;
    }
    const char *l = colon + 1;
    size_t c_len = (size_t)(dot - c);
    size_t f_len = (size_t)(colon - f);
    enum cu_level level = level_of(l, strlen(l));
    /* the whole scope must be well-formed before any part of it grants anything */
    if (level == CU_LEVEL_NONE || !pattern_ok(c, c_len) || !pattern_ok(f, f_len)) {
        return CU_LEVEL_NONE;
    }
    if (collection == NULL) {
        return level; /* any name: the scope is a well-formed grant */
    }
    if (!pattern_matches(c, c_len, collection) || !pattern_matches(f, f_len, field)) {
        return CU_LEVEL_NONE;
    }
    return level;
}

enum cu_level
cu_scope_level(const char *const *scopes, size_t n, const char *collection, const char *field)
{
    enum cu_level best = CU_LEVEL_NONE;
    if (collection == NULL || field == NULL) {
        return best;
    }
    for (size_t i = 0; i < n; i++) {
        if (scopes[i] == NULL) {
            continue;
        }
        enum cu_level l = scope_grant(scopes[i], collection, field);
        if (l > best) {
            best = l;
        }
    }
    return best;
}

enum cu_err
cu_level_parse(const char *s, enum cu_level *out)
{
    CU_ENSURE(s != NULL, CU_ERR_INVALID, "missing redaction level");
    enum cu_level l = level_of(s, strlen(s));
    CU_ENSURE(l != CU_LEVEL_NONE, CU_ERR_INVALID, "unknown redaction level");
    *out = l;
    return CU_OK;
}

const char *
cu_level_name(enum cu_level level)
{
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        if (levels[i].level == level) {
            return levels[i].name;
        }
    }
    return "none";
}

enum cu_level
cu_level_min(enum cu_level a, enum cu_level b)
{
    return a < b ? a : b;
}

int
cu_scope_any_detokenize(const char *const *scopes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (scopes[i] != NULL && scope_grant(scopes[i], NULL, NULL) != CU_LEVEL_NONE) {
            return 1;
        }
    }
    return 0;
}
