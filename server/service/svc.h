/* The services' shared context: process-scope objects every use case needs. Created in main.c.
 * Use cases take it plus the request's arena and principal; they know nothing of HTTP. */
#ifndef CU_SERVICE_SVC_H
#define CU_SERVICE_SVC_H

#include "core/err.h"
#include "core/mem.h"
#include "service/keyring.h"
#include "storage/db.h"

#include <jansson.h>

struct cu_svc {
    struct cu_db *db;
    struct cu_keyring *keyring;
};

/* A problem found while validating input: appended by services, rendered by the HTTP layer. */
struct cu_problems {
    json_t *errors; /* array of {"pointer","detail"}; NULL when none */
};

void cu_problem_add(struct cu_problems *p, const char *pointer, const char *detail);

/* ^[a-z0-9][a-z0-9-]{1,62}$ */
int cu_tenant_id_ok(const char *s);

#endif
