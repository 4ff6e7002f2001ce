/* Group commit of audit entries: one writer thread collects the entries of concurrent requests
 * and writes them in one transaction per batch (one INSERT per tenant, one round trip with the
 * COMMIT), then wakes every request of the batch. Fail closed: cu_group_commit_append returns
 * CU_OK only after the request's entries are durable; when the batch's transaction fails, its
 * tenants are retried one by one (a tenant's failure never fails another's entries beyond that
 * retry), and a request whose entries could not be written gets CU_ERR_UNAVAILABLE (503). */
#ifndef CU_SERVICE_GROUP_COMMIT_H
#define CU_SERVICE_GROUP_COMMIT_H

#include "core/err.h"
#include "storage/db.h"

#include <jansson.h>

struct cu_group_commit;

/* Starts the writer; it writes through db (one pooled connection while a batch is written). */
enum cu_err cu_group_commit_new(struct cu_db *db, struct cu_group_commit **out) CU_WUR;
/* Writes what is queued, then stops the writer and frees it. NULL is fine. */
void cu_group_commit_free(struct cu_group_commit *gc);
/* Appends tenant's entries (takes the JSON array, which may be empty) and waits until they
 * are durable (CU_OK) or could not be written (CU_ERR_UNAVAILABLE). The caller must hold no
 * pooled connection while it waits (the writer needs one). */
enum cu_err cu_group_commit_append(struct cu_group_commit *gc, const char *tenant,
                                   json_t *entries) CU_WUR;

/* A request's audit entries, durable on return (CU_OK) or not written (CU_ERR_UNAVAILABLE or
 * CU_ERR_INTERNAL): through s->audit_writer when there is one, else in a transaction of their
 * own. Takes entries. */
struct cu_svc;
enum cu_err cu_audit_durable(struct cu_svc *s, const char *tenant, json_t *entries) CU_WUR;

struct cu_group_commit_stats {
    unsigned long long batches;  /* transactions committed */
    unsigned long long requests; /* requests whose entries they held */
    unsigned long long failures; /* requests answered CU_ERR_UNAVAILABLE */
};
void cu_group_commit_stats(struct cu_group_commit *gc, struct cu_group_commit_stats *out);

#endif
