/* The audit trail's reads and the sealer's writes in PostgreSQL (appends stay in vaultstore.c,
 * with the accesses they record). Every statement names its tenant; row-level security keeps
 * to the tenant's current incarnation. Results are owned by the arena. */
#ifndef CU_STORAGE_AUDITSTORE_H
#define CU_STORAGE_AUDITSTORE_H

#include "storage/db.h"

/* Takes the tenant's sealing lock for the rest of tx (several serve processes and sweeps may
 * seal at once: one wins, the others skip the tenant). *got = 1 when taken. */
enum cu_err cu_store_audit_seal_lock(struct cu_tx *tx, const char *tenant, int *got) CU_WUR;

/* The chain's head: one row, none when the tenant is gone. Columns: the tenant's incarnation,
 * the head's position (0: empty chain), its hash (NULL when empty). */
enum cu_col_audit_head {
    CU_COL_AHEAD_INC,
    CU_COL_AHEAD_POS,
    CU_COL_AHEAD_HASH,
};
enum cu_err cu_store_audit_head(struct cu_tx *tx, const char *tenant, struct cu_arena *arena,
                                struct cu_db_result **out) CU_WUR;
/* The backlog: one row, columns: unsealed entries, age in seconds of the oldest (0 if none). */
enum cu_col_audit_backlog {
    CU_COL_ABACK_UNSEALED,
    CU_COL_ABACK_LAG_S,
};
enum cu_err cu_store_audit_backlog(struct cu_tx *tx, const char *tenant, struct cu_arena *arena,
                                   struct cu_db_result **out) CU_WUR;

/* Entries. Columns (all reads of entries): seq, ts (UTC, microseconds), principal, action,
 * collection, fields (JSON array text or NULL), record_id, subject_id, purpose, redaction,
 * outcome, request_id, chain_pos (NULL unsealed), prev_hash, hash (bytea, NULL unsealed),
 * cursor ("<ts in microseconds>-<seq>"). */
enum cu_col_audit {
    CU_COL_AUD_SEQ,
    CU_COL_AUD_TS,
    CU_COL_AUD_PRINCIPAL,
    CU_COL_AUD_ACTION,
    CU_COL_AUD_COLLECTION,
    CU_COL_AUD_FIELDS,
    CU_COL_AUD_RECORD_ID,
    CU_COL_AUD_SUBJECT_ID,
    CU_COL_AUD_PURPOSE,
    CU_COL_AUD_REDACTION,
    CU_COL_AUD_OUTCOME,
    CU_COL_AUD_REQUEST_ID,
    CU_COL_AUD_CHAIN_POS,
    CU_COL_AUD_PREV_HASH,
    CU_COL_AUD_HASH,
    CU_COL_AUD_CURSOR,
    CU_COL_AUD_COUNT_ /* number of columns */
};
/* Up to limit unsealed entries in seq order. */
enum cu_err cu_store_audit_unsealed(struct cu_tx *tx, const char *tenant, int limit,
                                    struct cu_arena *arena, struct cu_db_result **out) CU_WUR;
/* Seals: seals_json = [{"seq","pos","prev" (hex),"hash" (hex)}]; *sealed = rows updated. */
enum cu_err cu_store_audit_seal(struct cu_tx *tx, const char *tenant, const char *seals_json,
                                long long *sealed) CU_WUR;
/* Up to limit sealed entries after position `after`, in chain order. */
enum cu_err cu_store_audit_chain(struct cu_tx *tx, const char *tenant, long long after, int limit,
                                 struct cu_arena *arena, struct cu_db_result **out) CU_WUR;
/* How many entries of the tenant carry this hash (to tell a reordered entry from a lost one). */
enum cu_err cu_store_audit_hash_known(struct cu_tx *tx, const char *tenant, const uint8_t *hash,
                                      size_t len, long long *n) CU_WUR;

/* A query of entries in (ts, seq) order; NULL members are not filtered on. from/to: RFC 3339
 * (to exclusive); after_us/after_seq: the cursor (after_seq < 0: from the start). Reads
 * limit + 1 rows (a next page exists when there are more than limit). */
struct cu_audit_filter {
    const char *from, *to, *principal, *subject_id, *action, *outcome;
    long long after_us, after_seq;
};
enum cu_err cu_store_audit_query(struct cu_tx *tx, const char *tenant,
                                 const struct cu_audit_filter *f, int limit, struct cu_arena *arena,
                                 struct cu_db_result **out) CU_WUR;

/* What principal received between from and to (RFC 3339 or NULL; to exclusive): allowed
 * reveals (detokenize, record.read) at level plain or masked, one row per (level, subject,
 * collection, field), plain first. Reads at most limit + 1 rows. Columns: redaction, subject_id,
 * collection, field, count, first, last. */
enum cu_col_exposure {
    CU_COL_EXPO_REDACTION,
    CU_COL_EXPO_SUBJECT_ID,
    CU_COL_EXPO_COLLECTION,
    CU_COL_EXPO_FIELD,
    CU_COL_EXPO_COUNT,
    CU_COL_EXPO_FIRST,
    CU_COL_EXPO_LAST,
};
enum cu_err cu_store_audit_exposure(struct cu_tx *tx, const char *tenant, const char *principal,
                                    const char *from, const char *to, int limit,
                                    struct cu_arena *arena, struct cu_db_result **out) CU_WUR;

/* Reveal anomalies: per principal, allowed reveals (detokenize, record.read at any level) in
 * the hour before now against its hourly mean over the baseline_hours before that; a row for
 * each principal with at least min_reveals in the hour and more than factor times its mean.
 * Columns: principal, reveals in the hour, the baseline mean per hour (text, 2 decimals), the
 * window's start and end. */
enum cu_col_alert {
    CU_COL_ALERT_PRINCIPAL,
    CU_COL_ALERT_REVEALS,
    CU_COL_ALERT_BASELINE,
    CU_COL_ALERT_FROM,
    CU_COL_ALERT_TO,
};
enum cu_err cu_store_audit_alerts(struct cu_tx *tx, const char *tenant, int baseline_hours,
                                  int min_reveals, int factor, struct cu_arena *arena,
                                  struct cu_db_result **out) CU_WUR;

/* Principals that rate limits refused (outcome "rate_limited") at least min_refusals times in
 * the hour before now. Columns: principal, refusals, the actions refused (comma-separated,
 * sorted), the window's start and end. At most 100 rows, most refused first. */
enum cu_col_rate_alert {
    CU_COL_RATE_ALERT_PRINCIPAL,
    CU_COL_RATE_ALERT_REFUSALS,
    CU_COL_RATE_ALERT_ACTIONS,
    CU_COL_RATE_ALERT_FROM,
    CU_COL_RATE_ALERT_TO,
};
enum cu_err cu_store_audit_rate_alerts(struct cu_tx *tx, const char *tenant, int min_refusals,
                                       struct cu_arena *arena, struct cu_db_result **out) CU_WUR;

#endif
