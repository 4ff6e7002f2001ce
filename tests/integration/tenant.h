/* Tenant set-up for any integration test, on the shared server or a spawned one: the platform
 * operator's token, a tenant, a collection, a purpose, and revealing one token. Each call
 * asserts its success (201 / 200); tokens are owned by jwt_mint (mint_free_all). */
#ifndef CU_TEST_TENANT_H
#define CU_TEST_TENANT_H

#include <stddef.h>

#include "harness.h"

/* A token of the platform operator (scope vault:admin, no tenant). */
char *t_operator_token(void);
/* POST /v1/tenants {id, name} on s. */
void t_tenant_create(const struct t_server *s, const char *id, const char *name);
/* PUT /v1/collections/{name} with the JSON definition def. */
void t_collection_put(const struct t_server *s, const char *token, const char *name,
                      const char *def);
/* PUT /v1/purposes/{name} with a description and a lawful basis. */
void t_purpose_put(const struct t_server *s, const char *token, const char *name,
                   const char *description, const char *lawful_basis);
/* Detokenizes one token for the purpose `support`: 200 with the plain value copied into
 * value (n bytes; value may be NULL), else the HTTP status or the item's error status. */
long t_reveal(const struct t_server *s, const char *bearer, const char *token, char *value,
              size_t n);

#endif
