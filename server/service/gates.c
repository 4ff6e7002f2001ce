/* Restriction of processing (Art. 18) and the consent ledger: their writes, their reads for the
 * export, and the decision a read of a subject's data passes (see gates.h for the rules). */
#include "service/gates.h"

#include "service/audit.h"
#include "service/ident.h"
#include "storage/gatestore.h"
#include "storage/vaultstore.h"

#include <string.h>

enum { REASON_MAX = 500 };

static const char *const statuses[] = {"granted", "withdrawn", NULL};
static const char *const sources[] = {"ivr", "agent", "web", "dsr", NULL};

/* A subject id the vault can hold: well-formed, and not direct PII (an email address or a phone
 * number would be stored and audited in clear; tokenize refuses them too, so none has data). */
static int
subject_ok(const char *subject)
{
    return cu_subject_id_ok(subject) && !cu_subject_id_pii_like(subject);
}

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

/* Printable text of at most max bytes (UTF-8 already checked by jansson): no control bytes. */
static int
text_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            return 0;
        }
    }
    return 1;
}

static enum cu_err
audit_one(struct cu_tx *tx, const struct cu_actor *a, const char *action, const char *subject,
          const char *purpose, const char *outcome)
{
    json_t *entries = json_array();
    json_array_append_new(
        entries, cu_audit_entry(a, action, NULL, NULL, NULL, subject, purpose, NULL, outcome));
    return cu_audit_write(tx, a->tenant, entries);
}

static json_t *
restriction_json(const char *subject, const struct cu_db_result *r)
{
    return json_pack("{s:s, s:b, s:s, s:s, s:s}", "subject_id", subject, "restricted", 1, "reason",
                     cu_res_text(r, 0, CU_COL_RESTR_REASON), "since",
                     cu_res_text(r, 0, CU_COL_RESTR_CREATED_AT), "by",
                     cu_res_text(r, 0, CU_COL_RESTR_PRINCIPAL));
}

static json_t *
event_json(const struct cu_db_result *r, int i, const char *subject)
{
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "seq",
                     (json_int_t)cu_res_int(r, i, CU_COL_CONSENT_SEQ), "subject_id", subject,
                     "purpose", cu_res_text(r, i, CU_COL_CONSENT_PURPOSE), "status",
                     cu_res_text(r, i, CU_COL_CONSENT_STATUS), "source",
                     cu_res_text(r, i, CU_COL_CONSENT_SOURCE), "evidence",
                     cu_res_text(r, i, CU_COL_CONSENT_EVIDENCE), "principal",
                     cu_res_text(r, i, CU_COL_CONSENT_PRINCIPAL), "recorded_at",
                     cu_res_text(r, i, CU_COL_CONSENT_RECORDED_AT));
}

enum cu_err
cu_restriction_set(struct cu_tx *tx, const struct cu_actor *a, const char *subject,
                   const char *reason, int *created, json_t **out)
{
    CU_ENSURE(subject_ok(subject), CU_ERR_NOT_FOUND, "malformed subject id");
    struct cu_arena *arena = cu_arena_new();
    enum cu_err rc = CU_OK;
    struct cu_db_result *r = NULL;
    CU_TRY(cu_store_restriction_set(tx, a->tenant, subject, reason ? reason : "", a->principal,
                                    arena, &r));
    CU_CHECK(cu_res_rows(r) == 1, CU_ERR_INTERNAL, "restriction neither placed nor found");
    *created = cu_res_text(r, 0, CU_COL_RESTR_CREATED)[0] == 't';
    CU_TRY(audit_one(tx, a, "restriction.set", subject, NULL, *created ? "allowed" : "unchanged"));
    if (out != NULL) {
        *out = restriction_json(subject, r);
    }
out:
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_restriction_clear(struct cu_tx *tx, const struct cu_actor *a, const char *subject, int *lifted)
{
    CU_ENSURE(subject_ok(subject), CU_ERR_NOT_FOUND, "malformed subject id");
    CU_GUARD(cu_store_restriction_clear(tx, a->tenant, subject, lifted));
    return audit_one(tx, a, "restriction.clear", subject, NULL, *lifted ? "allowed" : "not_found");
}

enum cu_err
cu_restriction_get(struct cu_tx *tx, const char *tenant, const char *subject, int *restricted)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_db_result *r = NULL;
    enum cu_err rc = cu_store_restriction_get(tx, tenant, subject, arena, &r);
    if (rc == CU_OK) {
        *restricted = cu_res_rows(r) > 0;
    }
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_consent_record(struct cu_tx *tx, const struct cu_actor *a, const char *subject,
                  const char *purpose, const char *status, const char *source, const char *evidence,
                  json_t **out)
{
    CU_ENSURE(subject_ok(subject), CU_ERR_NOT_FOUND, "malformed subject id");
    CU_ENSURE(one_of(status, statuses), CU_ERR_INVALID, "bad consent status");
    CU_ENSURE(one_of(source, sources), CU_ERR_INVALID, "bad consent source");
    CU_ENSURE(evidence == NULL || text_ok(evidence, CU_CONSENT_EVIDENCE_MAX), CU_ERR_INVALID,
              "bad consent evidence");
    if (!cu_purpose_name_ok(purpose)) {
        cu_err_set(CU_ERR_NOT_FOUND, __FILE__, __LINE__, "malformed purpose");
        return cu_err_public(CU_ERR_NOT_FOUND, "The purpose is not a declared purpose of this "
                                               "tenant");
    }
    struct cu_arena *arena = cu_arena_new();
    enum cu_err rc = CU_OK;
    struct cu_db_result *pr = NULL, *r = NULL;
    CU_TRY(cu_store_purpose_get(tx, a->tenant, purpose, arena, &pr));
    if (cu_res_rows(pr) != 1) {
        cu_err_public(CU_ERR_NOT_FOUND, "The purpose is not a declared purpose of this tenant");
        CU_FAIL(CU_ERR_NOT_FOUND, "undeclared purpose");
    }
    CU_TRY(cu_store_consent_append(tx, a->tenant, subject, purpose, status, source, evidence,
                                   a->principal, a->request_id, arena, &r));
    CU_CHECK(cu_res_rows(r) == 1, CU_ERR_INTERNAL, "consent event not returned");
    CU_TRY(audit_one(tx, a, "consent.put", subject, purpose, "allowed"));
    if (out != NULL) {
        *out = event_json(r, 0, subject);
    }
out:
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_consent_withdraw_all(struct cu_tx *tx, const struct cu_actor *a, const char *subject,
                        const char *source, const char *evidence, int *withdrawn)
{
    CU_ENSURE(subject_ok(subject), CU_ERR_NOT_FOUND, "malformed subject id");
    CU_ENSURE(one_of(source, sources), CU_ERR_INVALID, "bad consent source");
    CU_ENSURE(evidence == NULL || text_ok(evidence, CU_CONSENT_EVIDENCE_MAX), CU_ERR_INVALID,
              "bad consent evidence");
    struct cu_arena *arena = cu_arena_new();
    enum cu_err rc = CU_OK;
    struct cu_db_result *r = NULL;
    CU_TRY(cu_store_consent_withdraw_all(tx, a->tenant, subject, source, evidence, a->principal,
                                         a->request_id, arena, &r));
    *withdrawn = cu_res_rows(r);
    json_t *entries = json_array();
    for (int i = 0; i < cu_res_rows(r); i++) {
        json_array_append_new(
            entries, cu_audit_entry(a, "consent.withdraw_all", NULL, NULL, NULL, subject,
                                    cu_res_text(r, i, CU_COL_CONSENT_PURPOSE), NULL, "allowed"));
    }
    if (json_array_size(entries) == 0) {
        json_array_append_new(entries, cu_audit_entry(a, "consent.withdraw_all", NULL, NULL, NULL,
                                                      subject, NULL, NULL, "unchanged"));
    }
    CU_TRY(cu_audit_write(tx, a->tenant, entries));
out:
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_consent_subject_json(struct cu_tx *tx, const char *tenant, const char *subject, json_t **out)
{
    struct cu_arena *arena = cu_arena_new();
    enum cu_err rc = CU_OK;
    struct cu_db_result *cur = NULL, *hist = NULL;
    CU_TRY(cu_store_consent_current(tx, tenant, subject, arena, &cur));
    CU_TRY(
        cu_store_consent_history(tx, tenant, subject, 0, CU_CONSENT_HISTORY_MAX + 1, arena, &hist));
    json_t *consents = json_array(), *history = json_array();
    for (int i = 0; i < cu_res_rows(cur); i++) {
        json_array_append_new(consents, event_json(cur, i, subject));
    }
    int n = cu_res_rows(hist);
    for (int i = 0; i < n && i < CU_CONSENT_HISTORY_MAX; i++) {
        json_array_append_new(history, event_json(hist, i, subject));
    }
    *out = json_pack("{s:s, s:o, s:o, s:b}", "subject_id", subject, "consents", consents, "history",
                     history, "history_truncated", n > CU_CONSENT_HISTORY_MAX);
out:
    cu_arena_free(arena);
    return rc;
}

/* ---- the decision ---- */

int
cu_gate_refused(enum cu_err rc)
{
    return rc == CU_ERR_LOCKED || rc == CU_ERR_CONSENT;
}

enum cu_err
cu_gate_decide(const char *basis, int restricted, int consented, const char **outcome,
               const char **detail)
{
    if (restricted && strcmp(basis, "legal_obligation") != 0) {
        *outcome = "denied_restricted";
        *detail = "Processing of this subject's data is restricted; only a purpose with lawful "
                  "basis legal_obligation may read it";
        return CU_ERR_LOCKED;
    }
    if (!consented && strcmp(basis, "consent") == 0) {
        *outcome = "denied_consent";
        *detail = "The subject has not consented to this purpose: record the subject's consent "
                  "for it, or read under a purpose whose lawful basis is not consent";
        return CU_ERR_CONSENT;
    }
    *outcome = "allowed";
    *detail = NULL;
    return CU_OK;
}

static int
is_t(const struct cu_db_result *r, int row, int col)
{
    return cu_res_text(r, row, col)[0] == 't';
}

enum cu_err
cu_gate_subject(struct cu_tx *tx, const char *tenant, const char *subject, const char *purpose,
                const char *basis, const char **outcome, const char **detail)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_db_result *r = NULL;
    enum cu_err rc = cu_store_subject_gates(tx, tenant, subject, purpose, arena, &r);
    if (rc == CU_OK && cu_res_rows(r) != 1) {
        rc = CU_ERR_AT(CU_ERR_INTERNAL, "subject gates: %d rows", cu_res_rows(r));
    }
    if (rc == CU_OK) {
        rc = cu_gate_decide(basis, is_t(r, 0, CU_COL_GATE_RESTRICTED),
                            is_t(r, 0, CU_COL_GATE_CONSENTED), outcome, detail);
    }
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_gate_reveal(const struct cu_db_result *facts, const char *subject, const char *basis,
               const char **outcome, const char **detail)
{
    int lo = 0, hi = cu_res_rows(facts);
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (strcmp(cu_res_text(facts, mid, CU_COL_GATE_SUBJECT_ID), subject) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo >= cu_res_rows(facts) ||
        strcmp(cu_res_text(facts, lo, CU_COL_GATE_SUBJECT_ID), subject) != 0) {
        /* no facts: no restriction in the tenant and a purpose not resting on consent (see
         * gates.h); a consent purpose still needs its grant */
        return cu_gate_decide(basis, 0, 0, outcome, detail);
    }
    return cu_gate_decide(basis, is_t(facts, lo, CU_COL_GATE_RESTRICTED),
                          is_t(facts, lo, CU_COL_GATE_CONSENTED), outcome, detail);
}

/* ---- HTTP use cases ---- */

enum cu_err
cu_gates_restrict_api(struct cu_svc *s, const struct cu_actor *a, const char *subject, json_t *body,
                      struct cu_problems *problems, json_t **out, enum cu_outcome *outcome)
{
    const char *reason = "";
    if (body != NULL) {
        if (!json_is_object(body)) {
            cu_problem_add(problems, "", "must be an object");
            CU_BAIL(CU_ERR_INVALID, "restriction body not an object");
        }
        if (cu_unknown_members(body, (const char *const[]){"reason", NULL}) > 0) {
            cu_problem_add(problems, "", "unknown member; the only member is reason");
        }
        json_t *jr = json_object_get(body, "reason");
        if (jr != NULL && (!json_is_string(jr) || !text_ok(json_string_value(jr), REASON_MAX))) {
            cu_problem_add(problems, "/reason",
                           "must be a string of at most 500 bytes without control characters");
        } else if (jr != NULL) {
            reason = json_string_value(jr);
        }
        CU_ENSURE(problems->errors == NULL, CU_ERR_INVALID, "invalid restriction body");
    }
    CU_ENSURE(subject_ok(subject), CU_ERR_NOT_FOUND, "malformed subject id");
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    int created = 0;
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    CU_TRY(cu_restriction_set(tx, a, subject, reason, &created, out));
    CU_TRY(cu_tx_commit(&tx));
    *outcome = created ? CU_OUTCOME_CREATED : CU_OUTCOME_DONE;
out:
    cu_tx_abort(&tx);
    return rc;
}

enum cu_err
cu_gates_unrestrict_api(struct cu_svc *s, const struct cu_actor *a, const char *subject)
{
    CU_ENSURE(subject_ok(subject), CU_ERR_NOT_FOUND, "malformed subject id");
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    int lifted = 0;
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    CU_TRY(cu_restriction_clear(tx, a, subject, &lifted));
    /* the not_found entry is kept: a refused request is audited too */
    CU_TRY(cu_tx_commit(&tx));
    if (!lifted) {
        cu_err_public(CU_ERR_NOT_FOUND, "The subject is not restricted");
        CU_FAIL(CU_ERR_NOT_FOUND, "no restriction to lift");
    }
out:
    cu_tx_abort(&tx);
    return rc;
}

enum cu_err
cu_gates_consent_put_api(struct cu_svc *s, const struct cu_actor *a, const char *subject,
                         const char *purpose, json_t *body, struct cu_problems *problems,
                         json_t **out)
{
    if (!json_is_object(body)) {
        cu_problem_add(problems, "", "must be an object");
        CU_BAIL(CU_ERR_INVALID, "consent body not an object");
    }
    if (cu_unknown_members(body, (const char *const[]){"status", "source", "evidence", NULL}) > 0) {
        cu_problem_add(problems, "", "unknown member; members are status, source and evidence");
    }
    const char *status = json_string_value(json_object_get(body, "status"));
    const char *source = json_string_value(json_object_get(body, "source"));
    json_t *je = json_object_get(body, "evidence");
    if (!one_of(status, statuses)) {
        cu_problem_add(problems, "/status", "must be granted or withdrawn");
    }
    if (!one_of(source, sources) || strcmp(source, "dsr") == 0) {
        cu_problem_add(problems, "/source", "must be ivr, agent or web");
    }
    if (je != NULL &&
        (!json_is_string(je) || !text_ok(json_string_value(je), CU_CONSENT_EVIDENCE_MAX))) {
        cu_problem_add(problems, "/evidence",
                       "must be a string of at most 1000 bytes without control characters");
    }
    CU_ENSURE(problems->errors == NULL, CU_ERR_INVALID, "invalid consent body");
    CU_ENSURE(subject_ok(subject), CU_ERR_NOT_FOUND, "malformed subject id");
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    CU_TRY(cu_consent_record(tx, a, subject, purpose, status, source, json_string_value(je), out));
    CU_TRY(cu_tx_commit(&tx));
out:
    cu_tx_abort(&tx);
    return rc;
}

enum cu_err
cu_gates_consents_api(struct cu_svc *s, const struct cu_actor *a, const char *subject, json_t **out)
{
    CU_ENSURE(subject_ok(subject), CU_ERR_NOT_FOUND, "malformed subject id");
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    CU_TRY(cu_consent_subject_json(tx, a->tenant, subject, out));
    rc = audit_one(tx, a, "consent.list", subject, NULL, "allowed");
    if (rc == CU_OK) {
        rc = cu_tx_commit(&tx);
    }
    if (rc != CU_OK) {
        json_decref(*out);
        *out = NULL;
    }
out:
    cu_tx_abort(&tx);
    return rc;
}
