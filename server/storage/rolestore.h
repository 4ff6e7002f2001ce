/* Roles, interactions and the facts about a principal that a reveal decides on (issue 12):
 * the SQL, with a column enum next to each statement. Every statement names its tenant;
 * row-level security is the second line. Results are owned by the arena. */
#ifndef CU_STORAGE_ROLESTORE_H
#define CU_STORAGE_ROLESTORE_H

#include "storage/db.h"

/* Roles. Columns: name, scopes (JSON array text), plain_requires_mfa ("t"/"f"),
 * plain_reveals_per_hour ("" when none), interaction_bound ("t"/"f"), created_at, updated_at. */
enum cu_col_role {
    CU_COL_ROLE_NAME,
    CU_COL_ROLE_SCOPES,
    CU_COL_ROLE_MFA,
    CU_COL_ROLE_BUDGET,
    CU_COL_ROLE_BOUND,
    CU_COL_ROLE_CREATED_AT,
    CU_COL_ROLE_UPDATED_AT,
};
/* Inserts or replaces; scopes_json: a JSON array of strings; budget < 0: none. *created = 1
 * when it was new. CU_ERR_CONFLICT when the tenant does not exist. */
enum cu_err cu_store_role_put(struct cu_tx *tx, const char *tenant, const char *name,
                              const char *scopes_json, int mfa, long long budget, int bound,
                              int *created) CU_WUR;
enum cu_err cu_store_role_get(struct cu_tx *tx, const char *tenant, const char *name,
                              struct cu_arena *arena, struct cu_db_result **out) CU_WUR;
enum cu_err cu_store_role_list(struct cu_tx *tx, const char *tenant, const char *after, int limit,
                               struct cu_arena *arena, struct cu_db_result **out) CU_WUR;
/* The scopes of the roles named in roles_json (a JSON array of strings) that exist: one row,
 * column 0 a JSON array text of the distinct scopes ("[]" when none). */
enum cu_err cu_store_role_scopes(struct cu_tx *tx, const char *tenant, const char *roles_json,
                                 struct cu_arena *arena, struct cu_db_result **out) CU_WUR;

/* Interactions. Opens one live for expires_in seconds; row 0 columns: id, expires_at.
 * CU_ERR_CONFLICT when the id is taken or the tenant does not exist. */
enum cu_col_interaction {
    CU_COL_INTER_ID,
    CU_COL_INTER_EXPIRES_AT,
};
enum cu_err cu_store_interaction_open(struct cu_tx *tx, const char *tenant, const char *id,
                                      const char *principal, const char *subject_id,
                                      const char *channel, int expires_in, struct cu_arena *arena,
                                      struct cu_db_result **out) CU_WUR;
/* Ends it now (an ended one keeps its first end). *found = 0 when unknown. */
enum cu_err cu_store_interaction_end(struct cu_tx *tx, const char *tenant, const char *id,
                                     int *found) CU_WUR;

/* What a reveal needs to know of its principal, as one more step of the reveal's pipeline
 * (cu_store_reveal) or alone (cu_store_principal_facts): one row. Columns: the union of the
 * scopes of the token's roles that exist (JSON array text), whether any of them requires MFA
 * for plain ("t"/"f"), the smallest plain_reveals_per_hour of them ("" when none), whether any
 * is interaction_bound ("t"/"f"), the subjects with a live interaction of the principal (JSON
 * array text; "[]" unless bound), the plain reveals counted in the sliding hour (0 unless
 * budgeted), and the seconds until the count falls below the budget (while below it: until
 * the oldest counted minute leaves the window; 0 when none is counted). */
enum cu_col_principal {
    CU_COL_PRIN_SCOPES,
    CU_COL_PRIN_MFA,
    CU_COL_PRIN_BUDGET,
    CU_COL_PRIN_BOUND,
    CU_COL_PRIN_SUBJECTS,
    CU_COL_PRIN_USED,
    CU_COL_PRIN_RETRY,
};
/* The statement as a pipeline step of cu_store_reveal: fills *step and *p (the caller's, alive
 * until the step runs; the strings are borrowed); the result goes to *out. */
void cu_store_principal_step(struct cu_step *step, struct cu_params *p, const char *tenant,
                             const char *principal, const char *roles_json,
                             struct cu_db_result **out);
enum cu_err cu_store_principal_facts(struct cu_tx *tx, const char *tenant, const char *principal,
                                     const char *roles_json, struct cu_arena *arena,
                                     struct cu_db_result **out) CU_WUR;

/* Reveals refused for a budget in the last hour, per principal. Columns: principal, refusals,
 * first, last (timestamps). */
enum cu_col_budget_alert {
    CU_COL_BALERT_PRINCIPAL,
    CU_COL_BALERT_REFUSALS,
    CU_COL_BALERT_FIRST,
    CU_COL_BALERT_LAST,
};
enum cu_err cu_store_budget_alerts(struct cu_tx *tx, const char *tenant, struct cu_arena *arena,
                                   struct cu_db_result **out) CU_WUR;

#endif
