/* The vocabulary of the vault's integration tests (test_collections.c … test_rls.c): requests
 * to the shared server, a tenant with the `customers` collection and the `support` purpose,
 * tokenize / detokenize / search / rectify in one call each, checks on token shapes, and what
 * the database holds, read as the superuser.
 * Ownership: every string, response and connection these return belongs to this module until
 * cleanup_all(), which each suite runs as its .fini; tests never free them. Failures are
 * criterion assertions: a helper that returns has succeeded. */
#ifndef CU_TEST_VAULT_H
#define CU_TEST_VAULT_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

#include "harness.h"
#include "idp.h"

/* ---- owned resources ---- */

/* Takes ownership of the heap string s (aborts on NULL); returns s. */
char *own(char *s);
/* printf into an owned string. */
char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
/* Compact JSON text of j, which it consumes. */
char *dump(json_t *j);
/* For messages: the JSON text of a borrowed value ("(null)" for NULL). */
const char *show(json_t *j);
/* n copies of c. */
char *repeat(char c, size_t n);
/* n random bytes as lower-case hex. */
char *random_hex(size_t bytes);
/* Frees everything above, every response and connection, and the minted tokens. */
void cleanup_all(void);

/* ---- HTTP to the shared server ---- */

/* An empty response record, owned. */
struct t_resp *new_resp(void);
/* Sends a request; every header argument may be NULL (not sent). Asserts that an answer came
 * back (a transport failure fails the test with curl's error text). */
struct t_resp *send_req(const char *method, const char *path, const char *token,
                        const char *purpose, const char *idem, const char *ctype, const char *body);
/* send_req with a JSON body (Content-Type set when body is not NULL). */
struct t_resp *api(const char *method, const char *path, const char *token, const char *body);
/* api with an X-Purpose header. */
struct t_resp *api_p(const char *method, const char *path, const char *token, const char *purpose,
                     const char *body);
/* 1 when the errors[] of a problem has an entry for this JSON pointer. */
int has_pointer(json_t *errors, const char *pointer);
/* A problem answer with this status and, when pointer is set, an errors[] entry for it. */
void assert_problem(const struct t_resp *r, long status, const char *pointer);
/* The answer carries `Cache-Control: no-store`. */
void assert_no_store(const struct t_resp *r);

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

/* ---- the database, as the superuser: what is stored ---- */

/* A connection to the URL in environment variable env, owned. */
PGconn *db_open(const char *env);
/* The first column of the first row of a query with up to two parameters, as a number. */
long long db_count2(PGconn *c, const char *sql, const char *p1, const char *p2);
long long db_count(PGconn *c, const char *sql, const char *p1);
/* The tenant's rows in `records`. */
long long stored_records(const struct vt *t);

#endif
