/* A small fixture for the vault's integration tests: a fresh tenant with the `customers`
 * collection and the `support` purpose, HTTPS requests whose answers it keeps, and SQL as the
 * superuser or as the service role. Everything it hands out dies in fx_cleanup (a suite's fini). */
#ifndef CU_TEST_VAULT_FIXTURE_H
#define CU_TEST_VAULT_FIXTURE_H

#include "harness.h"

#include <jansson.h>

#define FX_ALL_SCOPES                                                                              \
    "tenant:admin records:write records:delete records:search detokenize:*.*:plain"
#define FX_RECORDS "/v1/collections/customers/records"

struct fx_tenant {
    char id[32];
    char *admin; /* every vault scope of the tenant */
};

/* Creates a tenant (vault:admin) with id t->id when it is set, else a fresh random one. */
void fx_tenant_create(struct fx_tenant *t);
/* A tenant with the collection `customers` (email searchable) and the purpose `support`. */
void fx_vault(struct fx_tenant *t);

/* A request to the shared server; the answer lives until fx_cleanup. purpose: X-Purpose or
 * NULL; body: JSON text or NULL. Fails the test when there is no answer. */
struct t_resp *fx_api(const char *method, const char *path, const char *token, const char *purpose,
                      const char *body);

/* Stores one record {subject, fields (consumed)} and returns records[0] of the 201 answer. */
json_t *fx_tokenize1(const struct fx_tenant *t, const char *subject, json_t *fields);
/* The token of field in a stored record. */
const char *fx_token(json_t *rec, const char *field);
const char *fx_id(json_t *rec);

/* Owned text: printf into the heap, freed by fx_cleanup; dump consumes j. */
char *fx_fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
char *fx_dump(json_t *j);

/* The first column of the first row as a number, run as the superuser (bypasses row-level
 * security) with up to two text parameters. */
long long fx_admin_count(const char *sql, const char *p1, const char *p2);
/* The same as the service role, inside a transaction of tenant (row-level security applies). */
long long fx_app_count(const char *tenant, const char *sql);
/* Runs a statement as the superuser; fails the test on error. */
void fx_admin_exec(const char *sql, const char *p1);

void fx_cleanup(void);

#endif
