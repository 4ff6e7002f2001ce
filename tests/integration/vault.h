/* The vocabulary of the vault's integration tests (test_collections.c … test_rls.c): a tenant
 * with the `customers` collection and the `support` purpose, tokenize / detokenize / search /
 * rectify in one call each, and checks on token shapes. Built on client.h, whose ownership rule
 * holds here too: nothing returned is freed by the caller; cleanup_all() in each suite's fini. */
#ifndef CU_TEST_VAULT_H
#define CU_TEST_VAULT_H

#include <jansson.h>
#include <stddef.h>

#include "client.h"

/* ---- a tenant and its set-up ---- */

#define ALL_SCOPES "tenant:admin records:write records:delete records:search detokenize:*.*:plain"
#define RECORDS "/v1/collections/customers/records"

struct vt {
    char id[32];
    char *admin; /* a token with every vault scope of the tenant */
};

/* The definition of `customers`: name, email (searchable), phone (deterministic, searchable),
 * card and ssn (format preserving), note, dob. */
extern const char customers_def[];

/* A fresh tenant and its admin token. */
void tenant_create(struct vt *t);
/* A tenant with the collection `customers` and the purpose `support` (contract). */
void vault_setup(struct vt *t);

/* ---- records and tokens ---- */

/* The path of record id in `customers`. */
const char *rec_path(const char *id);
/* Every field of `customers` with fixed values and this phone. */
json_t *std_fields(const char *phone);
/* A tokenize body of one record (fields consumed). */
char *records_body(const char *subject, json_t *fields);
/* A tokenize body of n records (10 subjects), names and emails tagged with tag. */
char *batch_body(size_t n, const char *tag);
/* Stores one record (fields consumed); records[0] of the 201 answer. */
json_t *tokenize1(const struct vt *t, const char *subject, json_t *fields);
/* The token of field in a stored record. */
const char *tok(json_t *rec, const char *field);
/* The id of a stored record. */
const char *rid(json_t *rec);
/* PATCH of a record's fields (consumed); the answer. */
struct t_resp *patch(const struct vt *t, const char *id, json_t *fields);
/* The records of a 200 search answer on `customers`. */
json_t *search(const char *bearer, const char *field, const char *value);

/* ---- detokenize ---- */

/* POST /v1/detokenize for purpose `support` (tokens consumed; redaction NULL: the default);
 * the results of the 200 answer, one per token. */
json_t *detok(const char *bearer, const char *redaction, json_t *tokens);
/* The one result for one token. */
json_t *detok1(const char *bearer, const char *token, const char *redaction);
/* The value of a result item, which must not be an error. */
const char *value_of(json_t *item);
/* The per-item error's status (0 when the item has none); an error item never has a value. */
long item_status(json_t *item);
/* The plain value of a token, revealed with the tenant's admin token. */
const char *plain(const struct vt *t, const char *token);

/* ---- checks on tokens ---- */

int is_base62(const char *s, size_t n);
/* prefix followed by 22 base62 characters. */
int is_token(const char *s, const char *prefix);
int all_digits(const char *s);
int luhn_ok(const char *d);
/* NNN-NN-NNNN */
int is_ssn_shape(const char *s);

/* ---- what is stored ---- */

/* The tenant's rows in `records`. */
long long stored_records(const struct vt *t);

#endif
