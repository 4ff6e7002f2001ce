/* GET /v1/audit: the trail of the tenant's current incarnation, filtered, in (ts, seq) order,
 * a page at a time. Reading the trail is itself audited (action audit.query). */
#include "service/audit_chain.h"
#include "service/audit_report.h"

#include "crypto/encode.h"
#include "service/audit.h"
#include "service/ident.h"
#include "storage/auditstore.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* RFC 3339 with a zone: 2026-12-01T10:00:00Z, ...:00.123+02:00. Checked here so that
 * PostgreSQL never sees a string it would refuse (that would be a 500). */
int
cu_audit_time_ok(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    size_t n = strlen(s);
    if (n < sizeof(shape) || n > 40) {
        return 0;
    }
    for (size_t i = 0; i + 1 < sizeof(shape); i++) {
        if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i]) {
            return 0;
        }
    }
    const char *p = s + sizeof(shape) - 1;
    if (*p == '.') {
        p++;
        const char *d = p;
        while (isdigit((unsigned char)*p)) {
            p++;
        }
        if (p == d || p - d > 6) {
            return 0;
        }
    }
    if (strcmp(p, "Z") == 0) {
        return 1;
    }
    return (p[0] == '+' || p[0] == '-') && isdigit((unsigned char)p[1]) &&
           isdigit((unsigned char)p[2]) && p[3] == ':' && isdigit((unsigned char)p[4]) &&
           isdigit((unsigned char)p[5]) && p[6] == '\0' && atoi(s + 5) >= 1 && atoi(s + 5) <= 12 &&
           atoi(s + 8) >= 1 && atoi(s + 8) <= 31 && atoi(s + 11) <= 23 && atoi(s + 14) <= 59 &&
           atoi(s + 17) <= 60;
}

/* Actions and outcomes: lower-case words joined by '.' or '_' (tokenize, record.read, denied). */
static int
word_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64) {
        return 0;
    }
    for (const char *p = s; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_')) {
            return 0;
        }
    }
    return 1;
}

static int
cursor_parse(const char *c, long long *us, long long *seq)
{
    char *end = NULL;
    errno = 0;
    *us = strtoll(c, &end, 10);
    if (errno != 0 || end == c || *end != '-') {
        return 0;
    }
    const char *s = end + 1;
    *seq = strtoll(s, &end, 10);
    return errno == 0 && end != s && *end == '\0' && *seq >= 0 && isdigit((unsigned char)*s);
}

static json_t *
text_or_null(const struct cu_db_result *r, int i, int col)
{
    return cu_res_isnull(r, i, col) ? json_null() : json_string(cu_res_text(r, i, col));
}

static json_t *
hex_or_null(const struct cu_db_result *r, int i, int col)
{
    if (cu_res_isnull(r, i, col)) {
        return json_null();
    }
    /* bytea in text form: \x followed by hex */
    const char *t = cu_res_text(r, i, col);
    return json_string(strncmp(t, "\\x", 2) == 0 ? t + 2 : t);
}

static json_t *
entry_json(const struct cu_db_result *r, int i, void *ctx)
{
    const char *tenant = ctx;
    json_t *fields = NULL;
    if (!cu_res_isnull(r, i, CU_COL_AUD_FIELDS)) {
        fields = json_loads(cu_res_text(r, i, CU_COL_AUD_FIELDS), 0, NULL);
    }
    return json_pack(
        "{s:I, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:o, s:o, s:o}", "seq",
        (json_int_t)cu_res_int(r, i, CU_COL_AUD_SEQ), "ts", cu_res_text(r, i, CU_COL_AUD_TS),
        "tenant", tenant, "principal", cu_res_text(r, i, CU_COL_AUD_PRINCIPAL), "action",
        cu_res_text(r, i, CU_COL_AUD_ACTION), "collection",
        text_or_null(r, i, CU_COL_AUD_COLLECTION), "fields", fields != NULL ? fields : json_null(),
        "record_id", text_or_null(r, i, CU_COL_AUD_RECORD_ID), "subject_id",
        text_or_null(r, i, CU_COL_AUD_SUBJECT_ID), "purpose",
        text_or_null(r, i, CU_COL_AUD_PURPOSE), "redaction",
        text_or_null(r, i, CU_COL_AUD_REDACTION), "outcome", cu_res_text(r, i, CU_COL_AUD_OUTCOME),
        "request_id", text_or_null(r, i, CU_COL_AUD_REQUEST_ID), "prev_hash",
        hex_or_null(r, i, CU_COL_AUD_PREV_HASH), "hash", hex_or_null(r, i, CU_COL_AUD_HASH));
}

enum cu_err
cu_audit_list(struct cu_svc *s, const struct cu_actor *a, const struct cu_audit_query *q,
              struct cu_problems *problems, json_t **out)
{
    *out = NULL;
    struct cu_audit_filter f = {.from = q->from,
                                .to = q->to,
                                .principal = q->principal,
                                .subject_id = q->subject_id,
                                .action = q->action,
                                .outcome = q->outcome,
                                .after_us = 0,
                                .after_seq = -1};
    if (q->from != NULL && !cu_audit_time_ok(q->from)) {
        cu_problem_add(problems, "/query/from", "must be an RFC 3339 time with a zone");
    }
    if (q->to != NULL && !cu_audit_time_ok(q->to)) {
        cu_problem_add(problems, "/query/to", "must be an RFC 3339 time with a zone");
    }
    if (q->principal != NULL && (q->principal[0] == '\0' || strlen(q->principal) > 256)) {
        cu_problem_add(problems, "/query/principal", "must be 1 to 256 characters");
    }
    if (q->subject_id != NULL && !cu_subject_id_ok(q->subject_id)) {
        cu_problem_add(problems, "/query/subject_id", "is not a valid subject id");
    }
    if (q->action != NULL && !word_ok(q->action)) {
        cu_problem_add(problems, "/query/action", "is not an action name");
    }
    if (q->outcome != NULL && !word_ok(q->outcome)) {
        cu_problem_add(problems, "/query/outcome", "is not an outcome");
    }
    if (q->cursor != NULL && !cursor_parse(q->cursor, &f.after_us, &f.after_seq)) {
        cu_problem_add(problems, "/query/cursor", "is not a cursor this server returned");
    }
    if (problems->errors != NULL) {
        return cu_err_public(CU_ERR_AT(CU_ERR_BAD_REQUEST, "bad audit query"),
                             "The query parameters are malformed");
    }
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    struct cu_db_result *r = NULL;
    CU_TRY(cu_store_audit_query(tx, a->tenant, &f, q->limit, arena, &r));
    CU_TRY(cu_audit_one(tx, a, a->tenant, "audit.query"));
    CU_TRY(cu_tx_commit(&tx));
    *out = cu_page_json(r, q->limit, "entries", CU_COL_AUD_CURSOR, entry_json, (void *)a->tenant);
out:
    cu_tx_abort(&tx);
    cu_arena_free(arena);
    return rc;
}
