/* The HTTP client and the owned-resource model of the integration tests: requests to the shared
 * server in one call, problem+json assertions, and what the database holds, read as the
 * superuser. Built on harness.h (t_request); any test file may use it.
 * Ownership: every string, response and connection these return belongs to this module until
 * cleanup_all(), which each suite runs as its .fini; tests never free them. Failures are
 * criterion assertions: a helper that returns has succeeded. */
#ifndef CU_TEST_CLIENT_H
#define CU_TEST_CLIENT_H

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

/* ---- answers ---- */

/* 1 when the errors[] of a problem has an entry for this JSON pointer. */
int has_pointer(json_t *errors, const char *pointer);
/* A problem answer with this status and, when pointer is set, an errors[] entry for it. */
void assert_problem(const struct t_resp *r, long status, const char *pointer);
/* The answer carries `Cache-Control: no-store`. */
void assert_no_store(const struct t_resp *r);

/* A counter of server s's /metrics (custos_db_round_trips_total, ...): what a request costs,
 * counted by the server, never timed. */
unsigned long long t_metric(const struct t_server *s, const char *name);
/* The same, or absent when the server has not counted it yet (a named counter appears in
 * /metrics once it is first counted). */
unsigned long long t_metric_or(const struct t_server *s, const char *name,
                               unsigned long long absent);

/* ---- the database, as the superuser: what is stored ---- */

/* A connection to the URL in environment variable env, owned. */
PGconn *db_open(const char *env);
/* The first column of the first row of a query with up to two parameters, as a number. */
long long db_count2(PGconn *c, const char *sql, const char *p1, const char *p2);
long long db_count(PGconn *c, const char *sql, const char *p1);

#endif
