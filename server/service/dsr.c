/* The DSR workflow: requests received with their statutory due date (dsr_clock.c), extended
 * once, executed (access and portability produce an export made when it is fetched, erasure a
 * receipt or `blocked` with the hold's reason), listed by status and overdue; every step is
 * audited. The open requests past due and due within 7 days across tenants are counted for
 * /metrics by the sweep (cu_dsr_count_all). */
#include "service/subjects.h"

#include "core/id.h"
#include "service/audit.h"
#include "service/dsr_clock.h"
#include "service/gates.h"
#include "service/idempotency.h"
#include "service/ident.h"
#include "storage/subjectstore.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const types[] = {"access",      "portability", "rectification",
                                    "erasure",     "restriction", "opt_out",
                                    NULL};
static const char *const statuses[] = {"received", "completed", "blocked", NULL};

static int
one_of(const char *s, const char *const *set)
{
    for (size_t i = 0; s != NULL && set[i] != NULL; i++) {
        if (strcmp(s, set[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static int
dsr_id_ok(const char *id)
{
    if (strlen(id) != 36 || strncmp(id, "dsr_", 4) != 0) {
        return 0;
    }
    for (const char *p = id + 4; *p; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

static json_t *
opt_str(const struct cu_db_result *r, int i, int col)
{
    const char *v = cu_res_text(r, i, col);
    return v[0] ? json_string(v) : json_null();
}

static json_t *
dsr_json(const struct cu_db_result *r, int i, void *ctx)
{
    (void)ctx;
    const char *receipt = cu_res_text(r, i, CU_COL_DSR_RECEIPT);
    json_t *rj = receipt[0] ? json_loads(receipt, 0, NULL) : NULL;
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b}", "id", cu_res_text(r, i, CU_COL_DSR_ID),
        "subject_id", cu_res_text(r, i, CU_COL_DSR_SUBJECT_ID), "type",
        cu_res_text(r, i, CU_COL_DSR_TYPE), "regulation", cu_res_text(r, i, CU_COL_DSR_REGULATION),
        "status", cu_res_text(r, i, CU_COL_DSR_STATUS), "received_at",
        cu_res_text(r, i, CU_COL_DSR_RECEIVED_AT), "due_at", cu_res_text(r, i, CU_COL_DSR_DUE_AT),
        "extended", cu_res_text(r, i, CU_COL_DSR_EXTENDED_AT)[0] != '\0', "overdue",
        cu_res_text(r, i, CU_COL_DSR_OVERDUE)[0] == 't');
    json_object_set_new(o, "extension_reason", opt_str(r, i, CU_COL_DSR_EXTENSION_REASON));
    json_object_set_new(o, "blocked_reason", opt_str(r, i, CU_COL_DSR_BLOCKED_REASON));
    json_object_set_new(o, "completed_at", opt_str(r, i, CU_COL_DSR_COMPLETED_AT));
    json_object_set_new(o, "receipt", rj != NULL ? rj : json_null());
    return o;
}

static json_t *
entry(const struct cu_actor *a, const char *action, const char *subject, const char *outcome)
{
    return cu_audit_entry(a, action, NULL, NULL, NULL, subject, NULL, NULL, outcome);
}

enum cu_err
cu_dsr_create(struct cu_svc *s, const struct cu_actor *a, json_t *body,
              const struct cu_idem *idem, struct cu_problems *problems, json_t **out)
{
    json_t *sub = json_object_get(body, "subject_id"), *type = json_object_get(body, "type");
    json_t *reg = json_object_get(body, "regulation");
    if (!json_is_object(body) ||
        cu_unknown_members(body, (const char *const[]){"subject_id", "type", "regulation", NULL})) {
        cu_problem_add(problems, "", "must be {\"subject_id\",\"type\",\"regulation\"}");
    }
    if (!json_is_string(sub) || !cu_subject_id_ok(json_string_value(sub))) {
        cu_problem_add(problems, "/subject_id", "must be a subject id (1 to 128 of A-Za-z0-9._:@+-)");
    } else if (cu_subject_id_pii_like(json_string_value(sub))) {
        /* stored and audited in clear: never an email or a phone (as at tokenize) */
        cu_problem_add(problems, "/subject_id",
                       "must be a pseudonymous id, not an email address or a phone number");
    }
    if (!json_is_string(type) || !one_of(json_string_value(type), types)) {
        cu_problem_add(problems, "/type",
                       "must be access, portability, rectification, erasure, restriction or "
                       "opt_out");
    }
    if (!json_is_string(reg) || !one_of(json_string_value(reg), (const char *const[]){"gdpr",
                                                                                     "ccpa", NULL})) {
        cu_problem_add(problems, "/regulation", "must be gdpr or ccpa");
    }
    CU_ENSURE(problems->errors == NULL, CU_ERR_INVALID, "invalid dsr body");
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    int hit = 0;
    enum cu_outcome outcome = CU_OUTCOME_CREATED;
    CU_TRY(cu_idem_check(tx, a->tenant, a->principal, idem, &hit, &outcome, out));
    if (hit) {
        goto out;
    }
    char id[37] = "dsr_";
    cu_random_hex(id + 4, 16);
    long long now = (long long)time(NULL);
    enum cu_dsr_reg r = strcmp(json_string_value(reg), "ccpa") == 0 ? CU_DSR_CCPA : CU_DSR_GDPR;
    struct cu_db_result *row = NULL;
    CU_TRY(cu_store_dsr_insert(tx, a->tenant, id, json_string_value(sub), json_string_value(type),
                               json_string_value(reg), now, cu_dsr_due(r, now, 0), a->principal,
                               arena, &row));
    json_t *audit = json_array();
    json_array_append_new(audit, entry(a, "dsr.create", json_string_value(sub), "received"));
    CU_TRY(cu_audit_write(tx, a->tenant, audit));
    *out = dsr_json(row, 0, NULL);
    CU_TRY(cu_idem_store(tx, a->tenant, a->principal, idem, CU_OUTCOME_CREATED, *out));
    rc = cu_tx_commit(&tx);
out:
    if (rc != CU_OK && *out != NULL) {
        json_decref(*out);
        *out = NULL;
    }
    cu_tx_abort(&tx);
    cu_arena_free(arena);
    return rc;
}

/* Reads request id in a new transaction (*tx, the caller's). */
static enum cu_err
load(struct cu_svc *s, const struct cu_actor *a, const char *id, int lock, struct cu_tx **tx,
     struct cu_arena *arena, struct cu_db_result **r)
{
    CU_ENSURE(dsr_id_ok(id), CU_ERR_NOT_FOUND, "malformed dsr id");
    CU_GUARD(cu_tx_begin(s->db, a->tenant, tx));
    enum cu_err rc = cu_store_dsr_get(*tx, a->tenant, id, lock, arena, r);
    if (rc == CU_OK && cu_res_rows(*r) != 1) {
        rc = CU_ERR_AT(CU_ERR_NOT_FOUND, "no such dsr");
    }
    if (rc != CU_OK) {
        cu_tx_abort(tx);
    }
    return rc;
}

enum cu_err
cu_dsr_get(struct cu_svc *s, const struct cu_actor *a, const char *id, json_t **out)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    struct cu_db_result *r = NULL;
    enum cu_err rc = CU_OK;
    CU_TRY(load(s, a, id, 0, &tx, arena, &r));
    json_t *audit = json_array();
    json_array_append_new(audit, entry(a, "dsr.read", cu_res_text(r, 0, CU_COL_DSR_SUBJECT_ID),
                                       "allowed"));
    CU_TRY(cu_audit_write_commit(&tx, a->tenant, audit));
    *out = dsr_json(r, 0, NULL);
out:
    cu_tx_abort(&tx);
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_dsr_list(struct cu_svc *s, const struct cu_actor *a, const char *status, int overdue,
            const char *cursor, int limit, json_t **out)
{
    if (status != NULL && !one_of(status, statuses)) {
        return cu_err_public(CU_ERR_AT(CU_ERR_BAD_REQUEST, "unknown status"),
                             "status must be received, completed or blocked");
    }
    if (cursor != NULL && !dsr_id_ok(cursor)) {
        return cu_err_public(CU_ERR_AT(CU_ERR_BAD_REQUEST, "bad cursor"), "Malformed cursor");
    }
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    struct cu_db_result *r = NULL;
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    CU_TRY(cu_store_dsr_list(tx, a->tenant, status, overdue, cursor, limit + 1, arena, &r));
    CU_TRY(cu_audit_one(tx, a, a->tenant, "dsr.list"));
    CU_TRY(cu_tx_commit(&tx));
    *out = cu_page_json(r, limit, "requests", CU_COL_DSR_ID, dsr_json, NULL);
out:
    cu_tx_abort(&tx);
    cu_arena_free(arena);
    return rc;
}

static enum cu_err
reason_of(json_t *body, struct cu_problems *problems, const char **reason)
{
    json_t *r = json_object_get(body, "reason");
    if (!json_is_object(body) || cu_unknown_members(body, (const char *const[]){"reason", NULL})) {
        cu_problem_add(problems, "", "must be {\"reason\"}");
    }
    if (!json_is_string(r) || json_string_length(r) < 1 || json_string_length(r) > 500) {
        cu_problem_add(problems, "/reason", "must be a string of 1 to 500 bytes");
    }
    CU_ENSURE(problems->errors == NULL, CU_ERR_INVALID, "invalid reason");
    *reason = json_string_value(r);
    return CU_OK;
}

enum cu_err
cu_dsr_extend(struct cu_svc *s, const struct cu_actor *a, const char *id, json_t *body,
              struct cu_problems *problems, json_t **out)
{
    const char *reason = NULL;
    CU_GUARD(reason_of(body, problems, &reason));
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    struct cu_db_result *r = NULL;
    enum cu_err rc = CU_OK;
    CU_TRY(load(s, a, id, 1, &tx, arena, &r));
    const char *subject = cu_res_text(r, 0, CU_COL_DSR_SUBJECT_ID);
    if (strcmp(cu_res_text(r, 0, CU_COL_DSR_STATUS), "received") != 0 ||
        cu_res_text(r, 0, CU_COL_DSR_EXTENDED_AT)[0] != '\0') {
        json_t *audit = json_array();
        json_array_append_new(audit, entry(a, "dsr.extend", subject, "denied_conflict"));
        enum cu_err ignored = cu_audit_write_commit(&tx, a->tenant, audit);
        (void)ignored;
        rc = cu_err_public(CU_ERR_AT(CU_ERR_CONFLICT, "dsr not extendable"),
                           "A request is extended once, while it is open");
        goto out;
    }
    enum cu_dsr_reg reg = strcmp(cu_res_text(r, 0, CU_COL_DSR_REGULATION), "ccpa") == 0
                              ? CU_DSR_CCPA
                              : CU_DSR_GDPR;
    long long received = cu_res_int(r, 0, CU_COL_DSR_OVERDUE + 1);
    CU_TRY(cu_store_dsr_extend(tx, a->tenant, id, cu_dsr_due(reg, received, 1), reason));
    json_t *audit = json_array();
    json_array_append_new(audit, entry(a, "dsr.extend", subject, "extended"));
    CU_TRY(cu_audit_write(tx, a->tenant, audit));
    CU_TRY(cu_store_dsr_get(tx, a->tenant, id, 0, arena, &r));
    CU_TRY(cu_tx_commit(&tx));
    *out = dsr_json(r, 0, NULL);
out:
    cu_tx_abort(&tx);
    cu_arena_free(arena);
    return rc;
}

/* What executing a request of some types does inside the transaction that closes it. */
typedef enum cu_err (*perform_fn)(struct cu_tx *tx, const struct cu_actor *a, const char *subject,
                                  const char *id);

/* restriction: the subject is restricted (audited restriction.set), the request named as why */
static enum cu_err
perform_restriction(struct cu_tx *tx, const struct cu_actor *a, const char *subject,
                    const char *id)
{
    char reason[64];
    snprintf(reason, sizeof(reason), "data-subject request %s", id);
    int created = 0;
    return cu_restriction_set(tx, a, subject, reason, &created, NULL);
}

/* opt_out: every consent the subject grants is withdrawn (audited consent.withdraw_all), the
 * request as evidence */
static enum cu_err
perform_opt_out(struct cu_tx *tx, const struct cu_actor *a, const char *subject, const char *id)
{
    int withdrawn = 0;
    return cu_consent_withdraw_all(tx, a, subject, "dsr", id, &withdrawn);
}

/* Ends request id with status (re-checked open under a row lock), after perform (may be NULL) in
 * the same transaction, audited; *out its JSON. */
static enum cu_err
finish(struct cu_svc *s, const struct cu_actor *a, const char *id, const char *status,
       const char *blocked_reason, json_t *receipt, perform_fn perform, json_t **out)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    struct cu_db_result *r = NULL;
    enum cu_err rc = CU_OK;
    char *rj = receipt != NULL ? json_dumps(receipt, JSON_COMPACT) : NULL;
    CU_TRY(load(s, a, id, 1, &tx, arena, &r));
    CU_CHECK(strcmp(cu_res_text(r, 0, CU_COL_DSR_STATUS), "received") == 0, CU_ERR_CONFLICT,
             "executed concurrently");
    if (perform != NULL) {
        CU_TRY(perform(tx, a, cu_res_text(r, 0, CU_COL_DSR_SUBJECT_ID), id));
    }
    CU_TRY(cu_store_dsr_finish(tx, a->tenant, id, status, blocked_reason, rj));
    json_t *audit = json_array();
    json_array_append_new(audit, entry(a, "dsr.execute", cu_res_text(r, 0, CU_COL_DSR_SUBJECT_ID),
                                       status));
    CU_TRY(cu_audit_write(tx, a->tenant, audit));
    CU_TRY(cu_store_dsr_get(tx, a->tenant, id, 0, arena, &r));
    CU_TRY(cu_tx_commit(&tx));
    *out = dsr_json(r, 0, NULL);
out:
    free(rj);
    cu_tx_abort(&tx);
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_dsr_execute(struct cu_svc *s, const struct cu_actor *a, const char *id, json_t *body,
               struct cu_problems *problems, json_t **out)
{
    if (body != NULL && (!json_is_object(body) || json_object_size(body) > 0)) {
        cu_problem_add(problems, "", "must be empty or {}");
        CU_BAIL(CU_ERR_INVALID, "execute takes no members");
    }
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    struct cu_db_result *r = NULL;
    json_t *receipt = NULL;
    enum cu_err rc = CU_OK;
    CU_TRY(load(s, a, id, 0, &tx, arena, &r));
    const char *subject = cu_res_text(r, 0, CU_COL_DSR_SUBJECT_ID);
    const char *type = cu_res_text(r, 0, CU_COL_DSR_TYPE);
    if (strcmp(cu_res_text(r, 0, CU_COL_DSR_STATUS), "received") != 0) {
        json_t *audit = json_array();
        json_array_append_new(audit, entry(a, "dsr.execute", subject, "denied_conflict"));
        enum cu_err ignored = cu_audit_write_commit(&tx, a->tenant, audit);
        (void)ignored;
        rc = cu_err_public(CU_ERR_AT(CU_ERR_CONFLICT, "dsr not open"),
                           "The request has already been executed");
        goto out;
    }
    cu_tx_abort(&tx);
    if (strcmp(type, "restriction") == 0 || strcmp(type, "opt_out") == 0) {
        rc = finish(s, a, id, "completed", NULL, NULL,
                    type[0] == 'r' ? perform_restriction : perform_opt_out, out);
        goto out;
    }
    if (strcmp(type, "erasure") == 0) {
        const char *held = NULL;
        rc = cu_subject_erase(s, a, "dsr.erase", subject, arena, &held, &receipt);
        if (rc == CU_ERR_CONFLICT && held != NULL) {
            cu_err_clear();
            rc = finish(s, a, id, "blocked", cu_arena_printf(arena, "legal hold: %s", held),
                        NULL, NULL, out);
            goto out;
        }
        if (rc == CU_ERR_NOT_FOUND) {
            /* nothing of the subject was ever held: the erasure is complete without a receipt */
            rc = CU_OK;
        }
        CU_TRY(rc);
    }
    /* access and portability: the export is made when fetched (GET /v1/dsr/{id}/result), so no
     * plain value rests in the database; rectification: the values are rectified with PATCH on
     * each record (audited as record.rectify), and executing closes the request */
    rc = finish(s, a, id, "completed", NULL, receipt, NULL, out);
out:
    json_decref(receipt);
    cu_tx_abort(&tx);
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_dsr_result(struct cu_svc *s, const struct cu_actor *a, const char *id, const char *purpose,
              int csv, json_t **out, struct cu_buf *csv_out)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    struct cu_db_result *r = NULL;
    enum cu_err rc = CU_OK;
    CU_TRY(load(s, a, id, 0, &tx, arena, &r));
    cu_tx_abort(&tx);
    const char *type = cu_res_text(r, 0, CU_COL_DSR_TYPE);
    if (strcmp(type, "access") != 0 && strcmp(type, "portability") != 0) {
        rc = cu_err_public(CU_ERR_AT(CU_ERR_NOT_FOUND, "no result"),
                           "Only access and portability requests have a result");
        goto out;
    }
    if (strcmp(cu_res_text(r, 0, CU_COL_DSR_STATUS), "completed") != 0) {
        rc = cu_err_public(CU_ERR_AT(CU_ERR_CONFLICT, "not completed"),
                           "The request has not been executed");
        goto out;
    }
    rc = cu_subject_export(s, a, "dsr.result", cu_res_text(r, 0, CU_COL_DSR_SUBJECT_ID), purpose,
                           1, csv, out, csv_out);
out:
    cu_tx_abort(&tx);
    cu_arena_free(arena);
    return rc;
}

static _Atomic long long overdue_total, due7_total;

void
cu_dsr_counts(long long *overdue, long long *due_7d)
{
    *overdue = atomic_load(&overdue_total);
    *due_7d = atomic_load(&due7_total);
}

struct counts {
    long long overdue, due7;
};

static enum cu_err
count_one(struct cu_svc *s, const char *tenant, void *ctx)
{
    struct counts *c = ctx;
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    struct cu_db_result *r = NULL;
    enum cu_err rc = CU_OK;
    CU_TRY(cu_tx_begin_read(s->db, tenant, &tx));
    CU_TRY(cu_store_dsr_counts(tx, tenant, arena, &r));
    c->overdue += cu_res_int(r, 0, 0);
    c->due7 += cu_res_int(r, 0, 1);
out:
    cu_tx_abort(&tx);
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_dsr_count_all(struct cu_svc *s)
{
    struct counts c = {0};
    CU_GUARD(cu_tenants_each(s, count_one, &c));
    atomic_store(&overdue_total, c.overdue);
    atomic_store(&due7_total, c.due7);
    return CU_OK;
}
