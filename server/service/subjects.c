/* Data subjects: the masked subject view, the Art. 15/20 export (JSON or CSV), erasure by
 * crypto-shredding with a receipt, and legal holds. Each is one transaction with its audit
 * entries (ids only). Erasure, holds and the retention sweep serialize per subject on an
 * advisory lock (storage/subjectstore.h). */
#include "service/subjects.h"

#include "service/audit.h"
#include "service/csv.h"
#include "service/gates.h"
#include "service/group_commit.h"
#include "service/ident.h"
#include "service/mask.h"
#include "service/purpose.h"
#include "service/receipt.h"
#include "service/seal.h"
#include "storage/gatestore.h"
#include "storage/subjectstore.h"
#include "storage/vaultstore.h"

#include <string.h>

/* Entries of the subject's access history in an export, at most. */
enum { ACCESS_MAX = 10000 };

/* A subject id the vault can hold: well-formed and pseudonymous (tokenize refuses an email or a
 * phone number as a subject id, so none can have data; refusing them here also keeps them out of
 * holds and audit entries). */
static int
subject_ok(const char *s)
{
    return cu_subject_id_ok(s) && !cu_subject_id_pii_like(s);
}

static json_t *
entry(const struct cu_actor *a, const char *action, const char *subject, const char *purpose,
      const char *redaction, const char *outcome)
{
    return cu_audit_entry(a, action, NULL, NULL, NULL, subject, purpose, redaction, outcome);
}

/* Writes one entry and commits (consumes *tx): for refusals that still leave a trace. */
static void
audit_refusal(struct cu_tx **tx, const struct cu_actor *a, const char *action, const char *subject,
              const char *purpose, const char *outcome)
{
    json_t *e = json_array();
    json_array_append_new(e, entry(a, action, subject, purpose, NULL, outcome));
    enum cu_err ignored = cu_audit_write_commit(tx, a->tenant, e);
    (void)ignored;
}

/* The subject key of the rows being read: rows with the same version and wrapped bytes (all of a
 * subject's values, mostly) reuse it rather than asking the keyring once per value. */
struct keyslot {
    int version;
    uint8_t *wrapped;
    size_t len;
    struct cu_secret *key;
};

static void
keyslot_cleanup(struct keyslot *k)
{
    cu_secret_free(k->key);
    k->key = NULL;
}

/* The value of row i, opened (plain, or masked when masked), as a new JSON string. */
static enum cu_err
open_value(struct cu_svc *s, struct cu_tx *tx, const char *tenant, const char *subject,
           const struct cu_db_result *r, int i, int masked, struct cu_arena *arena,
           struct keyslot *slot, json_t **out)
{
    CU_ENSURE(!cu_res_isnull(r, i, CU_COL_SV_WRAPPED), CU_ERR_GONE, "subject key erased");
    uint8_t *wrapped = NULL, *ct = NULL;
    size_t wl = 0, cl = 0;
    CU_GUARD(cu_res_bytea(r, i, CU_COL_SV_WRAPPED, arena, &wrapped, &wl));
    CU_GUARD(cu_res_bytea(r, i, CU_COL_SV_CIPHERTEXT, arena, &ct, &cl));
    int version = (int)cu_res_int(r, i, CU_COL_SV_KEY_VERSION);
    if (slot->key == NULL || slot->version != version || slot->len != wl ||
        memcmp(slot->wrapped, wrapped, wl) != 0) {
        keyslot_cleanup(slot);
        CU_GUARD(cu_subject_key_for_read(s, tx, tenant, cu_res_text(r, i, CU_COL_SV_INC), subject,
                                         version, (int)cu_res_int(r, i, CU_COL_SV_KEK_VERSION),
                                         wrapped, wl, &slot->key));
        *slot = (struct keyslot){version, wrapped, wl, slot->key};
    }
    char *pt = NULL;
    size_t len = 0;
    enum cu_err rc =
        cu_value_open(slot->key, tenant, cu_res_text(r, i, CU_COL_SV_COLLECTION),
                      cu_res_text(r, i, CU_COL_SV_RECORD_ID), cu_res_text(r, i, CU_COL_SV_FIELD),
                      version, ct, cl, arena, &pt, &len);
    if (rc == CU_ERR_CRYPTO) {
        CU_BAIL(CU_ERR_INTERNAL, "a value of the subject did not open");
    }
    CU_GUARD(rc);
    if (!masked) {
        *out = json_stringn(pt, len);
        return CU_OK;
    }
    enum cu_ftype type;
    CU_GUARD(cu_ftype_parse(cu_res_text(r, i, CU_COL_SV_TYPE), &type));
    char *m = NULL;
    CU_GUARD(cu_mask(type, pt, len, arena, &m));
    *out = json_string(m);
    return CU_OK;
}

/* The records of the subject from its value rows: [{"collection","id","created_at","fields",
 * "tokens"}] appended to records. */
static enum cu_err
collect(struct cu_svc *s, struct cu_tx *tx, const char *tenant, const char *subject,
        const struct cu_db_result *r, int masked, struct cu_arena *arena, json_t *records)
{
    json_t *fields = NULL, *tokens = NULL;
    const char *cur = NULL;
    struct keyslot slot = {0};
    enum cu_err rc = CU_OK;
    for (int i = 0; i < cu_res_rows(r); i++) {
        const char *id = cu_res_text(r, i, CU_COL_SV_RECORD_ID);
        if (cur == NULL || strcmp(cur, id) != 0) {
            cur = id;
            fields = json_object();
            tokens = json_object();
            json_array_append_new(records,
                                  json_pack("{s:s, s:s, s:s, s:o, s:o}", "collection",
                                            cu_res_text(r, i, CU_COL_SV_COLLECTION), "id", id,
                                            "created_at", cu_res_text(r, i, CU_COL_SV_CREATED_AT),
                                            "fields", fields, "tokens", tokens));
        }
        if (cu_res_isnull(r, i, CU_COL_SV_FIELD)) {
            continue;
        }
        const char *field = cu_res_text(r, i, CU_COL_SV_FIELD);
        json_t *v = NULL;
        CU_TRY(open_value(s, tx, tenant, subject, r, i, masked, arena, &slot, &v));
        json_object_set_new(fields, field, v);
        json_object_set_new(tokens, field, json_string(cu_res_text(r, i, CU_COL_SV_TOKEN)));
    }
out:
    keyslot_cleanup(&slot);
    return rc;
}

/* The gates of a read of the subject's data (service/gates.h): the purpose, the consent rule and
 * restriction; audited when refused (consumes *tx then). restriction_exempt: the package of a
 * received access or portability request, which goes to the subject itself (Art. 18(2): a
 * restricted subject's data may still be processed at its own request); consent still applies.
 * CU_OK: the read may go on. */
static enum cu_err
may_read(struct cu_svc *s, struct cu_tx **tx, const struct cu_actor *a, const char *action,
         const char *subject, const char *purpose, int restriction_exempt, struct cu_arena *arena)
{
    const char *basis = NULL;
    enum cu_err rc = cu_purpose_check(*tx, a->tenant, purpose, arena, &basis);
    if (rc == CU_ERR_FORBIDDEN) {
        cu_audit_refusal(s, tx, a, action, NULL, NULL, "denied_purpose");
        return rc;
    }
    CU_GUARD(rc);
    const char *outcome = NULL, *detail = NULL;
    if (restriction_exempt) {
        struct cu_db_result *g = NULL;
        CU_GUARD(cu_store_subject_gates(*tx, a->tenant, subject, purpose, arena, &g));
        CU_ENSURE(cu_res_rows(g) == 1, CU_ERR_INTERNAL, "subject gates: %d rows", cu_res_rows(g));
        rc = cu_gate_decide(basis, 0, cu_res_text(g, 0, CU_COL_GATE_CONSENTED)[0] == 't', &outcome,
                            &detail);
    } else {
        rc = cu_gate_subject(*tx, a->tenant, subject, purpose, basis, &outcome, &detail);
    }
    if (cu_gate_refused(rc)) {
        audit_refusal(tx, a, action, subject, purpose, outcome);
        cu_err_public(rc, detail);
        CU_BAIL(rc, "%s", outcome);
    }
    return rc;
}

enum cu_err
cu_subject_view(struct cu_svc *s, const struct cu_actor *a, const char *subject,
                const char *purpose, json_t **out)
{
    CU_ENSURE(subject_ok(subject), CU_ERR_NOT_FOUND, "malformed subject id");
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    json_t *records = json_array();
    enum cu_err rc = CU_OK;
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    CU_TRY(may_read(s, &tx, a, "subject.view", subject, purpose, 0, arena));
    struct cu_db_result *r = NULL;
    CU_TRY(cu_store_subject_values(tx, a->tenant, subject, arena, &r));
    if (cu_res_rows(r) == 0) {
        audit_refusal(&tx, a, "subject.view", subject, purpose, "not_found");
        CU_FAIL(CU_ERR_NOT_FOUND, "no live record of the subject");
    }
    CU_TRY(collect(s, tx, a->tenant, subject, r, 1, arena, records));
    json_t *audit = json_array();
    json_array_append_new(audit, entry(a, "subject.view", subject, purpose, "masked", "allowed"));
    CU_TRY(cu_audit_write(tx, a->tenant, audit));
    CU_TRY(cu_tx_commit(&tx));
    cu_count_reveal(CU_LEVEL_MASKED);
    *out = json_pack("{s:s, s:O}", "subject_id", subject, "records", records);
out:
    cu_tx_abort(&tx);
    json_decref(records);
    cu_arena_free(arena);
    return rc;
}

static json_t *
access_row(const struct cu_db_result *r, int i)
{
    json_t *fields = json_null();
    if (cu_res_text(r, i, CU_COL_SA_FIELDS)[0] != '\0') {
        fields = json_loads(cu_res_text(r, i, CU_COL_SA_FIELDS), 0, NULL);
    }
    json_t *e = json_pack(
        "{s:I, s:s, s:s, s:s, s:o}", "seq", (json_int_t)cu_res_int(r, i, CU_COL_SA_SEQ), "ts",
        cu_res_text(r, i, CU_COL_SA_TS), "principal", cu_res_text(r, i, CU_COL_SA_PRINCIPAL),
        "action", cu_res_text(r, i, CU_COL_SA_ACTION), "fields",
        fields != NULL ? fields : json_null());
    static const struct {
        const char *name;
        int col;
    } opt[] = {{"collection", CU_COL_SA_COLLECTION},
               {"record_id", CU_COL_SA_RECORD_ID},
               {"purpose", CU_COL_SA_PURPOSE},
               {"redaction", CU_COL_SA_REDACTION},
               {"outcome", CU_COL_SA_OUTCOME}};
    for (size_t k = 0; k < sizeof(opt) / sizeof(opt[0]); k++) {
        const char *v = cu_res_text(r, i, opt[k].col);
        json_object_set_new(e, opt[k].name, v[0] ? json_string(v) : json_null());
    }
    return e;
}

/* Purposes with their lawful bases, and retention of the collections the subject has records
 * in. */
static enum cu_err
context(struct cu_tx *tx, const char *tenant, json_t *records, struct cu_arena *arena,
        json_t *purposes, json_t *retention)
{
    struct cu_db_result *p = NULL, *c = NULL;
    CU_GUARD(cu_store_purpose_list(tx, tenant, "", 1000, arena, &p));
    for (int i = 0; i < cu_res_rows(p); i++) {
        json_array_append_new(
            purposes, json_pack("{s:s, s:s, s:s}", "name", cu_res_text(p, i, CU_COL_PURPOSE_NAME),
                                "lawful_basis", cu_res_text(p, i, CU_COL_PURPOSE_LAWFUL_BASIS),
                                "description", cu_res_text(p, i, CU_COL_PURPOSE_DESCRIPTION)));
    }
    CU_GUARD(cu_store_collection_list(tx, tenant, "", 1000, arena, &c));
    for (int i = 0; i < cu_res_rows(c); i++) {
        const char *name = cu_res_text(c, i, CU_COL_COLL_NAME);
        int used = 0;
        for (size_t k = 0; k < json_array_size(records) && !used; k++) {
            used =
                strcmp(json_string_value(json_object_get(json_array_get(records, k), "collection")),
                       name) == 0;
        }
        if (!used) {
            continue;
        }
        const char *days = cu_res_text(c, i, CU_COL_COLL_RETENTION_DAYS);
        json_array_append_new(
            retention,
            json_pack("{s:s, s:o}", "collection", name, "retention_days",
                      days[0] ? json_integer(cu_res_int(c, i, CU_COL_COLL_RETENTION_DAYS))
                              : json_null()));
    }
    return CU_OK;
}

/* One CSV row per value: collection, record_id, created_at, field, value. */
static void
to_csv(json_t *records, struct cu_buf *b)
{
    static const char *const head[] = {"collection", "record_id", "created_at", "field", "value"};
    for (size_t k = 0; k < 5; k++) {
        cu_csv_cell(b, head[k], strlen(head[k]), k == 0);
    }
    cu_csv_end(b);
    for (size_t i = 0; i < json_array_size(records); i++) {
        json_t *rec = json_array_get(records, i);
        const char *key;
        json_t *v;
        json_object_foreach(json_object_get(rec, "fields"), key, v)
        {
            const char *cells[] = {json_string_value(json_object_get(rec, "collection")),
                                   json_string_value(json_object_get(rec, "id")),
                                   json_string_value(json_object_get(rec, "created_at")), key};
            for (size_t k = 0; k < 4; k++) {
                cu_csv_cell(b, cells[k], strlen(cells[k]), k == 0);
            }
            cu_csv_cell(b, json_string_value(v), json_string_length(v), 0);
            cu_csv_end(b);
        }
    }
}

enum cu_err
cu_subject_export(struct cu_svc *s, const struct cu_actor *a, const char *action,
                  const char *subject, const char *purpose, int for_dsr, int csv, json_t **out,
                  struct cu_buf *csv_out)
{
    *out = NULL;
    CU_ENSURE(subject_ok(subject), CU_ERR_NOT_FOUND, "malformed subject id");
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    json_t *records = json_array(), *purposes = json_array(), *retention = json_array();
    json_t *access = json_array(), *consents = NULL;
    enum cu_err rc = CU_OK;
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    CU_TRY(may_read(s, &tx, a, action, subject, purpose, for_dsr, arena));
    struct cu_db_result *r = NULL, *h = NULL;
    CU_TRY(cu_store_subject_values(tx, a->tenant, subject, arena, &r));
    if (cu_res_rows(r) == 0) {
        audit_refusal(&tx, a, action, subject, purpose, "not_found");
        CU_FAIL(CU_ERR_NOT_FOUND, "no live record of the subject");
    }
    CU_TRY(collect(s, tx, a->tenant, subject, r, 0, arena, records));
    CU_TRY(context(tx, a->tenant, records, arena, purposes, retention));
    CU_TRY(cu_store_subject_access(tx, a->tenant, subject, ACCESS_MAX, arena, &h));
    for (int i = 0; i < cu_res_rows(h); i++) {
        json_array_append_new(access, access_row(h, i));
    }
    CU_TRY(cu_consent_subject_json(tx, a->tenant, subject, &consents));
    json_t *audit = json_array();
    json_array_append_new(audit, entry(a, action, subject, purpose, "plain", "allowed"));
    CU_TRY(cu_audit_write(tx, a->tenant, audit));
    CU_TRY(cu_tx_commit(&tx));
    cu_count_reveal(CU_LEVEL_PLAIN);
    if (csv) {
        to_csv(records, csv_out);
    } else {
        *out = json_pack("{s:s, s:O, s:O, s:O, s:O}", "subject_id", subject, "records", records,
                         "purposes", purposes, "retention", retention, "access", access);
        json_object_set(*out, "consents", json_object_get(consents, "consents"));
        json_object_set(*out, "consent_history", json_object_get(consents, "history"));
        if (json_is_true(json_object_get(consents, "history_truncated"))) {
            json_object_set_new(*out, "consent_history_truncated", json_true());
        }
    }
out:
    cu_tx_abort(&tx);
    json_decref(records);
    json_decref(purposes);
    json_decref(retention);
    json_decref(access);
    json_decref(consents);
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_subject_erase(struct cu_svc *s, const struct cu_actor *a, const char *action,
                 const char *subject, struct cu_arena *arena, const char **held_reason,
                 json_t **out)
{
    CU_ENSURE(subject_ok(subject), CU_ERR_NOT_FOUND, "malformed subject id");
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    CU_TRY(cu_store_subject_lock(tx, a->tenant, subject));
    struct cu_db_result *h = NULL, *e = NULL, *seq = NULL;
    CU_TRY(cu_store_hold_get(tx, a->tenant, subject, arena, &h));
    if (cu_res_rows(h) == 1) {
        if (held_reason != NULL) {
            *held_reason = cu_arena_strdup(arena, cu_res_text(h, 0, CU_COL_HOLD_REASON));
        }
        audit_refusal(&tx, a, action, subject, NULL, "denied_legal_hold");
        rc = cu_err_public(CU_ERR_AT(CU_ERR_CONFLICT, "subject under legal hold"),
                           "The subject is under legal hold: nothing was erased");
        goto out;
    }
    CU_TRY(cu_store_subject_erase(tx, a->tenant, subject, arena, &e));
    if (cu_res_int(e, 0, CU_COL_ERASE_TOTAL) == 0) {
        audit_refusal(&tx, a, action, subject, NULL, "not_found");
        CU_FAIL(CU_ERR_NOT_FOUND, "unknown subject");
    }
    long long n = cu_res_int(e, 0, CU_COL_ERASE_RECORDS);
    json_t *audit = json_array();
    json_array_append_new(audit, entry(a, action, subject, NULL, NULL, "erased"));
    char *aj = json_dumps(audit, JSON_COMPACT);
    json_decref(audit);
    rc = cu_store_audit_insert_seq(tx, a->tenant, aj, arena, &seq);
    free(aj);
    CU_TRY(rc);
    CU_CHECK(cu_res_rows(seq) == 1, CU_ERR_INTERNAL, "no audit entry for the erasure");
    CU_TRY(cu_receipt_make(s, tx, a->tenant, subject, cu_res_text(e, 0, CU_COL_ERASE_AT), n,
                           cu_res_int(seq, 0, 0), out));
    rc = cu_tx_commit(&tx);
    if (rc != CU_OK) {
        json_decref(*out);
        *out = NULL;
    }
out:
    cu_tx_abort(&tx);
    return rc;
}

enum cu_err
cu_hold_put(struct cu_svc *s, const struct cu_actor *a, const char *subject, json_t *body,
            struct cu_problems *problems, enum cu_outcome *outcome, json_t **out)
{
    CU_ENSURE(subject_ok(subject), CU_ERR_NOT_FOUND, "malformed subject id");
    json_t *reason = json_object_get(body, "reason");
    if (!json_is_object(body) || cu_unknown_members(body, (const char *const[]){"reason", NULL})) {
        cu_problem_add(problems, "", "must be {\"reason\"}");
    }
    if (!json_is_string(reason) || json_string_length(reason) < 1 ||
        json_string_length(reason) > 500) {
        cu_problem_add(problems, "/reason", "must be a string of 1 to 500 bytes");
    }
    CU_ENSURE(problems->errors == NULL, CU_ERR_INVALID, "invalid hold body");
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    int created = 0;
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    CU_TRY(cu_store_subject_lock(tx, a->tenant, subject));
    CU_TRY(cu_store_hold_put(tx, a->tenant, subject, json_string_value(reason), a->principal,
                             &created));
    struct cu_db_result *h = NULL;
    CU_TRY(cu_store_hold_get(tx, a->tenant, subject, arena, &h));
    json_t *audit = json_array();
    json_array_append_new(audit, entry(a, "subject.hold", subject, NULL, NULL, "held"));
    CU_TRY(cu_audit_write(tx, a->tenant, audit));
    CU_TRY(cu_tx_commit(&tx));
    *outcome = created ? CU_OUTCOME_CREATED : CU_OUTCOME_DONE;
    *out = json_pack("{s:s, s:b, s:s, s:s}", "subject_id", subject, "held", 1, "reason",
                     json_string_value(reason), "since", cu_res_text(h, 0, CU_COL_HOLD_CREATED_AT));
out:
    cu_tx_abort(&tx);
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_hold_delete(struct cu_svc *s, const struct cu_actor *a, const char *subject)
{
    CU_ENSURE(subject_ok(subject), CU_ERR_NOT_FOUND, "malformed subject id");
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    int deleted = 0;
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    CU_TRY(cu_store_subject_lock(tx, a->tenant, subject));
    CU_TRY(cu_store_hold_delete(tx, a->tenant, subject, &deleted));
    if (!deleted) {
        audit_refusal(&tx, a, "subject.unhold", subject, NULL, "not_found");
        CU_FAIL(CU_ERR_NOT_FOUND, "no hold on the subject");
    }
    json_t *audit = json_array();
    json_array_append_new(audit, entry(a, "subject.unhold", subject, NULL, NULL, "released"));
    rc = cu_audit_write_commit(&tx, a->tenant, audit);
out:
    cu_tx_abort(&tx);
    return rc;
}
