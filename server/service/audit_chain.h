/* The sealed audit chain, per tenant incarnation: the sealer, verification, signed checkpoints
 * (audit_chain.c) and queries (audit_query.c).
 *
 * Chain: the sealer takes a tenant's committed, unsealed entries in seq order and gives each the
 * next position; hash = HMAC-SHA-256(audit key, "custos-audit-v1" || prev_hash || tenant ||
 * incarnation || seq || ts || principal || action || collection || fields || record_id ||
 * subject_id || purpose || redaction || outcome || request_id), each field length-prefixed with
 * a NULL flag; the first prev_hash is 32 zero bytes. The audit key is the tenant data key of
 * purpose 'audit' (wrapped by the tenant's KEK), so write access to the database alone cannot
 * forge a sealed entry. Several sealers at once: a per-tenant advisory lock, the loser skips. */
#ifndef CU_SERVICE_AUDIT_CHAIN_H
#define CU_SERVICE_AUDIT_CHAIN_H

#include "service/svc.h"
#include "service/vault.h"

#include <jansson.h>

/* Seals tenant's unsealed entries (all of them, in batches). *sealed = how many (0 also when
 * another sealer holds the tenant). CU_ERR_NOT_FOUND when the tenant is gone. */
enum cu_err cu_audit_seal_tenant(struct cu_svc *s, const char *tenant, long long *sealed) CU_WUR;
/* One sealing pass over every tenant (sweep and serve's timer), each followed by its alert check
 * (cu_audit_alerts_scan); updates the seal-lag gauges. */
enum cu_err cu_audit_seal_all(struct cu_svc *s, long long *sealed) CU_WUR;
/* The seal-lag gauges of the last pass in this process: entries found unsealed and the age in
 * milliseconds of the oldest of them, both the largest over the tenants. */
void cu_audit_seal_lag(long long *unsealed, long long *lag_ms);

/* Seals what is committed, then walks the chain: {"valid":true,"entries":N,"head":hex|null,
 * "unsealed":U} or {"valid":false,"entries":N (verified before),"seq","position","reason"}
 * with reason changed | missing | reordered | inserted | truncated. checkpoint (borrowed, may be
 * NULL): an object from cu_audit_checkpoint; the chain must still hold its head at its
 * position. CU_ERR_INVALID with problems when the checkpoint is malformed or not this
 * tenant's. */
enum cu_err cu_audit_verify(struct cu_svc *s, const struct cu_actor *a, json_t *checkpoint,
                            struct cu_problems *problems, json_t **out) CU_WUR;
/* Seals, then {"checkpoint":{"tenant","position","seq","hash","time","mac"}}: the head, MAC'd
 * under the audit key, for an auditor to keep outside the vault. */
enum cu_err cu_audit_checkpoint(struct cu_svc *s, const struct cu_actor *a, json_t **out) CU_WUR;

/* GET /v1/audit: entries in (ts, seq) order, {"entries":[...],"next_cursor"}. Query members
 * borrowed, NULL when absent; CU_ERR_INVALID with problems for a malformed one. */
struct cu_audit_query {
    const char *from, *to, *principal, *subject_id, *action, *outcome, *cursor;
    int limit;
};
enum cu_err cu_audit_list(struct cu_svc *s, const struct cu_actor *a,
                          const struct cu_audit_query *q, struct cu_problems *problems,
                          json_t **out) CU_WUR;

#endif
