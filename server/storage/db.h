/* PostgreSQL access: a bounded connection pool, tenant-scoped transactions, prepared
 * statements and results. The only layer that includes libpq. Invariants: every wait (connect,
 * send, flush, result) is bounded by the pool's timeout (a dead or frozen server gives
 * CU_ERR_UNAVAILABLE, never a hang); tenant context is set with SET LOCAL inside the transaction
 * only, so nothing survives on a pooled connection; the pool refuses a role that is a superuser
 * or has BYPASSRLS (row-level security would not apply); libpq messages are never logged (they
 * can echo values), only SQLSTATEs.
 * Implemented by storage/pool.c (pool, connect, role check), wire.c (flush, results, error
 * mapping, all against deadlines), tx.c (transactions and pipelining), result.c (parameters
 * and result cells), migrate.c (migrations). */
#ifndef CU_STORAGE_DB_H
#define CU_STORAGE_DB_H

#include "core/err.h"
#include "core/mem.h"

#include <stddef.h>
#include <stdint.h>

struct cu_db;
struct cu_tx;
struct cu_db_result;

struct cu_db_opts {
    const char *url;  /* libpq connection string */
    const char *password; /* overrides the URL's, or NULL */
    int pool_size;    /* connections at most */
    int timeout_ms;   /* longest wait for a connection, a connect or a statement */
    /* 0: each statement is PREPAREd (named) on a connection at its first use there and then
     * only bound and executed: the fastest when connected to PostgreSQL directly. 1: unnamed
     * statements only (parse, bind and execute in the same pipeline, every time), so that no
     * state outlives a transaction: required behind a pooler in transaction mode (PgBouncer
     * 1.18 does not track protocol-level prepared statements: named ones fail there with 42P05
     * or 26000). */
    int unnamed;
};

/* A statement: declare one `static const struct cu_stmt` per query in storage/. It is
 * prepared on each connection the first time it is used there (or sent unnamed every time, see
 * cu_db_opts.unnamed). */
struct cu_stmt {
    const char *name;
    const char *sql;
};

/* Creates the pool (connections are opened lazily). The caller frees it with cu_db_free. */
enum cu_err cu_db_new(const struct cu_db_opts *opts, struct cu_db **out) CU_WUR;
void cu_db_free(struct cu_db *db);

/* Begins a transaction on a pooled connection. tenant: validated tenant id, set as
 * custos.tenant for row-level security, or NULL for platform-level work (custos.platform=on).
 * CU_ERR_UNAVAILABLE when no connection can be had in time. The caller must end the
 * transaction with cu_tx_commit, cu_tx_exec_commit or cu_tx_abort, which also return the
 * connection.
 *
 * The functions that end a transaction consume it: they take the caller's pointer and set it
 * to NULL on success and on failure alike, so the idiom is
 *
 *     struct cu_tx *tx = NULL;
 *     CU_TRY(cu_tx_begin(db, tenant, &tx));
 *     CU_TRY(...statements on tx...);
 *     rc = cu_tx_commit(&tx);
 * out:
 *     cu_tx_abort(&tx);   (does nothing once tx is NULL)
 */
enum cu_err cu_tx_begin(struct cu_db *db, const char *tenant, struct cu_tx **out) CU_WUR;
/* A read: no BEGIN and no COMMIT. Each round trip (the settings, then the statements, then a
 * sync) is one implicit read-only transaction of its own, so several statements that must see
 * one snapshot go together in one cu_tx_exec_steps; cu_tx_commit and cu_tx_abort only return
 * the connection. Nothing of it outlives its round trip (safe behind a pooler). */
enum cu_err cu_tx_begin_read(struct cu_db *db, const char *tenant, struct cu_tx **out) CU_WUR;
/* Commits; on failure the transaction is rolled back. Always ends *tx and sets it to NULL. */
enum cu_err cu_tx_commit(struct cu_tx **tx) CU_WUR;
/* Rolls back (if still open) and releases; *tx NULL (or tx NULL) is fine. Sets *tx to NULL. */
void cu_tx_abort(struct cu_tx **tx);

/* Parameter lists: text values (NULL = SQL NULL) or binary (bytea) when lens[i] >= 0 and
 * bin[i] is set. Results are owned by arena. Errors: CU_ERR_CONFLICT on unique violation,
 * CU_ERR_UNAVAILABLE on a lost connection or timeout, CU_ERR_INTERNAL otherwise. */
struct cu_params {
    int n;
    const char *values[32];
    int lens[32];
    int formats[32];
};

void cu_params_init(struct cu_params *p);
void cu_params_text(struct cu_params *p, const char *value);
void cu_params_bin(struct cu_params *p, const uint8_t *data, size_t len);
void cu_params_int(struct cu_params *p, struct cu_arena *arena, long long v);

enum cu_err cu_tx_exec(struct cu_tx *tx, const struct cu_stmt *stmt, const struct cu_params *p,
                       struct cu_arena *arena, struct cu_db_result **out) CU_WUR;
/* Several statements in one round trip (pipelined, in order, in the transaction; the first
 * failure fails the call and the statements after it do not run). A step with a tenant first
 * switches custos.tenant to it (row-level security follows) for itself and the steps after.
 * Results go to each step's out (may be NULL), owned by arena. */
enum { CU_DB_MAX_STEPS = 256 };
struct cu_step {
    const struct cu_stmt *stmt;
    const struct cu_params *p;
    const char *tenant;
    struct cu_db_result **out;
    /* For a group commit (service/unit_commit.h), set by the step's builder: steps of the same
     * statement whose other parameters are equal may run as one statement, whose result each
     * of them gets; bit i (i < 31): parameter i is a JSON array, joined. CU_STEP_ONCE alone: a
     * read or a lock, run once for equal steps. 0: always a statement of its own. */
    unsigned merge;
};
#define CU_STEP_ONCE (1u << 31)
enum cu_err cu_tx_exec_steps(struct cu_tx *tx, const struct cu_step *steps, int n,
                             struct cu_arena *arena) CU_WUR;
/* The same as the transaction's last statements, with COMMIT in the same round trip; ends the
 * transaction like cu_tx_exec_commit. */
enum cu_err cu_tx_exec_steps_commit(struct cu_tx **tx, const struct cu_step *steps, int n) CU_WUR;
/* The same, with the steps' results (their out) kept in arena: a write that answers. */
enum cu_err cu_tx_exec_steps_commit_in(struct cu_tx **tx, const struct cu_step *steps, int n,
                                       struct cu_arena *arena) CU_WUR;
/* Runs the transaction's last statement and COMMIT in one round trip; like cu_tx_commit it
 * always ends the transaction (rolled back on failure), returns the connection and sets *tx to
 * NULL. */
enum cu_err cu_tx_exec_commit(struct cu_tx **tx, const struct cu_stmt *stmt,
                              const struct cu_params *p) CU_WUR;
/* The same outside an explicit transaction (for readiness and migrations). */
enum cu_err cu_db_exec_once(struct cu_db *db, const struct cu_stmt *stmt,
                            const struct cu_params *p, struct cu_arena *arena,
                            struct cu_db_result **out) CU_WUR;

int cu_res_rows(const struct cu_db_result *r);
int cu_res_isnull(const struct cu_db_result *r, int row, int col);
/* Text of a column ("" for NULL); owned by the result. */
const char *cu_res_text(const struct cu_db_result *r, int row, int col);
long long cu_res_int(const struct cu_db_result *r, int row, int col);
/* Decodes a bytea column in text form (\x...) into arena memory. */
enum cu_err cu_res_bytea(const struct cu_db_result *r, int row, int col, struct cu_arena *arena,
                         uint8_t **out, size_t *out_len) CU_WUR;
/* Affected rows of an INSERT/UPDATE/DELETE. */
long long cu_res_affected(const struct cu_db_result *r);

struct cu_db_stats {
    int size;
    int in_use;
    int open;
    unsigned long long connect_failures;
    unsigned long long timeouts;
    unsigned long long round_trips; /* pipelines and simple commands sent */
    unsigned long long commits;     /* explicit COMMITs sent (a read's implicit ones are not) */
};
void cu_db_stats(struct cu_db *db, struct cu_db_stats *out);

/* Applies the embedded migrations in order, each once, in a transaction, under an advisory
 * lock (several replicas may run it at once). url/password: the schema owner; service_url (may
 * be NULL: custos_app): the service's connection string, whose role must be neither a superuser
 * nor BYPASSRLS (CU_ERR_CONFIG before anything is applied); app_password,
 * when set, becomes the password of the custos_app role. root_kcv: the root key's check value;
 * when the database holds another one, nothing is applied (CU_ERR_CONFIG); when it holds none,
 * it is stored after the migrations. Prints one line per migration
 * applied to stdout. */
enum cu_err cu_migrate(const char *url, const char *password, const char *service_url,
                       const char *app_password, const uint8_t root_kcv[32],
                       int timeout_ms) CU_WUR;
/* The newest migration version compiled into this binary. */
int cu_migrate_latest(void);
/* Reads max(version) from schema_migrations (0 when none). */
enum cu_err cu_db_schema_version(struct cu_db *db, int *out) CU_WUR;

#endif
