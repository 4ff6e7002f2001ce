/* Scope grammar and detokenize levels: pure functions over a principal's scope strings.
 * Invariant: an unknown or malformed scope string grants nothing and is not an error. */
#ifndef CU_AUTH_SCOPE_H
#define CU_AUTH_SCOPE_H

#include <stddef.h>

#include "core/err.h"

/* Ordered so that a larger value reveals more: max over grants, min against a request. */
enum cu_level { CU_LEVEL_NONE = 0, CU_LEVEL_REDACTED = 1, CU_LEVEL_MASKED = 2, CU_LEVEL_PLAIN = 3 };

/* 1 when scope is one of the simple scopes (vault:admin, tenant:admin, records:write,
 * records:delete, records:search, dsr:manage, consent:write, audit:read, records:verify,
 * interactions:write) and appears exactly in scopes[0..n); 0 otherwise, including for a
 * detokenize scope or an unknown name. Borrows everything. */
int cu_scope_has(const char *const *scopes, size_t n, const char *scope);

/* The highest level granted for collection.field by the well-formed
 * `detokenize:<collection>.<field>:<level>` scopes in scopes[0..n) (`*` matches any name);
 * CU_LEVEL_NONE when none matches. Borrows everything. */
enum cu_level cu_scope_level(const char *const *scopes, size_t n, const char *collection,
                             const char *field);

/* The public detail of a field the scopes do not grant (a per-item 403). */
extern const char cu_scope_field_missing[];
/* 1 when one of scopes[0..n) is a well-formed detokenize grant (of any collection and field):
 * what a record read needs before anything else is decided. */
int cu_scope_any_detokenize(const char *const *scopes, size_t n);
/* The public detail of a token without any such grant (a whole-request 403). */
extern const char cu_scope_detokenize_missing[];

/* "plain" | "masked" | "redacted" -> level. Errors: CU_ERR_INVALID for anything else
 * (including "none" and NULL). */
enum cu_err cu_level_parse(const char *s, enum cu_level *out) CU_WUR;
/* "plain", "masked", "redacted" or "none"; never NULL. */
const char *cu_level_name(enum cu_level level);
enum cu_level cu_level_min(enum cu_level a, enum cu_level b);

/* 1 when s is an identifier [a-z][a-z0-9_]{0,62} (collection and field names). */
int cu_scope_ident_ok(const char *s, size_t len);

#endif
