/* Group commit of audit entries: a request's entries go to a unit writer
 * (service/unit_commit.h) as a unit of one INSERT, joined with the entries of the same tenant's
 * concurrent requests (one INSERT per tenant and batch), and the request waits until they are
 * durable. Fail closed: CU_OK only after the entries are committed; when the batch's
 * transaction fails, each request's entries are written once more alone (a tenant's failure
 * never fails another's entries beyond that retry), and entries that could not be written give
 * CU_ERR_UNAVAILABLE (503): the access they record must not be answered. */
#ifndef CU_SERVICE_GROUP_COMMIT_H
#define CU_SERVICE_GROUP_COMMIT_H

#include "core/err.h"

#include <jansson.h>

struct cu_actor;
struct cu_tx;

/* A request's audit entries (a JSON array, taken), durable on return (CU_OK) or not written
 * (CU_ERR_UNAVAILABLE or CU_ERR_INTERNAL): through s->audit_writer when there is one, else in a
 * transaction of their own. The caller must hold no pooled connection (the writer needs one). */
struct cu_svc;
enum cu_err cu_audit_durable(struct cu_svc *s, const char *tenant, json_t *entries) CU_WUR;

/* Records a refusal that leaves a trace (outcome: "denied_purpose" for an undeclared X-Purpose,
 * whose name is not stored, "rate_limited", ...): ends *tx first when tx is not NULL (its
 * connection goes back), then writes the entry through the group commit. collection and
 * record_id are raw path segments (borrowed), each stored only when well-formed. Best effort:
 * the request is refused either way. */
void cu_audit_refusal(struct cu_svc *s, struct cu_tx **tx, const struct cu_actor *a,
                      const char *action, const char *collection, const char *record_id,
                      const char *outcome);

#endif
