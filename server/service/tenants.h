/* Tenants (platform operator) and their keys (tenant admin): create, read, list, delete with
 * crypto-shredding (tenants.c); rotation, its progress and the background re-wrap
 * (tenant_keys.c). */
#ifndef CU_SERVICE_TENANTS_H
#define CU_SERVICE_TENANTS_H

#include "service/svc.h"
#include "service/vault.h"

/* body: {"id","name"}. The tenant in *out (new reference), *outcome CU_OUTCOME_CREATED (or the
 * first answer's for a replayed Idempotency-Key, kept per principal). CU_ERR_INVALID with
 * problems, CU_ERR_CONFLICT when the id is taken or the key stood for another request. */
enum cu_err cu_tenant_create(struct cu_svc *s, const struct cu_actor *a, json_t *body,
                             const struct cu_idem *idem, struct cu_problems *problems,
                             enum cu_outcome *outcome, json_t **out) CU_WUR;
enum cu_err cu_tenant_get(struct cu_svc *s, const char *id, json_t **out) CU_WUR;
/* {"tenants":[...],"next_cursor":...}; cursor is the last id of the previous page. */
enum cu_err cu_tenant_list(struct cu_svc *s, const char *cursor, int limit, json_t **out) CU_WUR;
/* Destroys the tenant's keys and rows. Its audit entries stay, tied to its incarnation, so that
 * a tenant created later under the same id starts with an empty trail; the deletion's own
 * entry belongs to no incarnation (platform side). CU_ERR_NOT_FOUND when absent. Creation,
 * deletion and rotation are audited in the tenant. */
enum cu_err cu_tenant_delete(struct cu_svc *s, const struct cu_actor *a, const char *id) CU_WUR;

/* A new KEK version for tenant; {"version":N,...}. Its outcome is always CU_OUTCOME_ACCEPTED
 * (subject keys are re-wrapped in the background). */
enum cu_err cu_keys_rotate(struct cu_svc *s, const struct cu_actor *a, const struct cu_idem *idem,
                           json_t **out) CU_WUR;
/* {"current_version","versions":[...],"rewrap":{"pending","done"}}. */
enum cu_err cu_keys_status(struct cu_svc *s, const char *tenant, json_t **out) CU_WUR;

/* One pass of the key jobs over every tenant: re-wrap stale subject keys, destroy unused
 * retired KEKs. Counts what it did. */
enum cu_err cu_keys_sweep(struct cu_svc *s, int *rewrapped, int *destroyed) CU_WUR;

#endif
