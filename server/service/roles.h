/* Contact-center controls of principals (issue 12 items 1-4): roles (scopes, MFA step-up for
 * plain, an hourly plain-reveal budget, interaction binding), the interactions the telephony/CTI
 * platform opens and ends, and the expansion of a token's `roles` claim into scopes. Role
 * definitions are read from the database on every request that names roles (no per-process
 * cache), so a change holds on the next request on every node. The decision a reveal takes on
 * these facts is service/controls.h. */
#ifndef CU_SERVICE_ROLES_H
#define CU_SERVICE_ROLES_H

#include "service/vault.h"

/* Roles (tenant:admin). body: {"scopes":[...],"plain_requires_mfa":bool,
 * "plain_reveals_per_hour":N|null,"interaction_bound":bool}; name [a-z][a-z0-9_-]{0,62}.
 * *outcome: CU_OUTCOME_CREATED or CU_OUTCOME_DONE (replaced). CU_ERR_INVALID + problems. */
enum cu_err cu_role_put(struct cu_svc *s, const struct cu_actor *a, const char *name, json_t *body,
                        struct cu_problems *problems, json_t **out,
                        enum cu_outcome *outcome) CU_WUR;
/* CU_ERR_NOT_FOUND when unknown. */
enum cu_err cu_role_get(struct cu_svc *s, const struct cu_actor *a, const char *name,
                        json_t **out) CU_WUR;
enum cu_err cu_role_list(struct cu_svc *s, const struct cu_actor *a, const char *cursor, int limit,
                         json_t **out) CU_WUR;

/* The scopes of the token's roles (those that exist in tenant), read now: *out (arena) holds
 * scopes[0..nscopes) followed by the roles' scopes, *n their count. One read; nothing when the
 * token names no roles. CU_ERR_UNAVAILABLE when the database cannot answer. */
enum cu_err cu_roles_expand(struct cu_svc *s, const char *tenant, const char *const *roles,
                            size_t nroles, const char *const *scopes, size_t nscopes,
                            struct cu_arena *arena, const char ***out, size_t *n) CU_WUR;

/* Interactions (interactions:write). body: {"principal","subject_id","channel":"voice|chat|
 * email","expires_in":60..86400 (default 3600)} → {"id","principal","subject_id","channel",
 * "expires_at"}; idem as for tokenize. */
enum cu_err cu_interaction_open(struct cu_svc *s, const struct cu_actor *a, json_t *body,
                                const struct cu_idem *idem, struct cu_problems *problems,
                                json_t **out) CU_WUR;
/* Ends it (idempotent for an ended one); CU_ERR_NOT_FOUND when unknown in this tenant. */
enum cu_err cu_interaction_end(struct cu_svc *s, const struct cu_actor *a, const char *id) CU_WUR;

#endif
