/* Secure capture: sessions are created and read by the agent's app in its tenant; the page
 * finds its session by the secret's SHA-256 (a platform-level read, the only one that crosses
 * tenants, and it needs the secret), and a submission stores its record through tokenize with
 * the session's completion in the same transaction (cu_records_create_hooked). */
#include "service/capture.h"

#include "core/id.h"
#include "crypto/encode.h"
#include "crypto/hmac.h"
#include "crypto/rand.h"
#include "service/audit.h"
#include "service/ident.h"
#include "service/intake.h"
#include "service/spec.h"
#include "storage/capturestore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
capture_id_ok(const char *id)
{
    if (id == NULL || strlen(id) != 36 || strncmp(id, "cap_", 4) != 0) {
        return 0;
    }
    for (const char *p = id + 4; *p; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

static int
secret_ok(const char *s)
{
    if (s == NULL || strlen(s) != CU_CAPTURE_SECRET_LEN) {
        return 0;
    }
    for (const char *p = s; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_')) {
            return 0;
        }
    }
    return 1;
}

/* Body checks of a create; problems added, names borrowed from body. */
static void
check_create(json_t *body, struct cu_problems *problems, const char **coll, const char **subject,
             json_t **fields, int *expires_in)
{
    *coll = NULL;
    *subject = NULL;
    *fields = NULL;
    *expires_in = CU_CAPTURE_EXPIRES_DEFAULT;
    if (!json_is_object(body)) {
        cu_problem_add(problems, "", "must be an object");
        return;
    }
    if (cu_unknown_members(body, (const char *const[]){"collection", "subject_id", "fields",
                                                       "expires_in", NULL}) > 0) {
        cu_problem_add(problems, "",
                       "unknown member: allowed are collection, subject_id, "
                       "fields and expires_in");
    }
    *coll = json_string_value(json_object_get(body, "collection"));
    if (*coll == NULL || !cu_ident_ok(*coll)) {
        cu_problem_add(problems, "/collection", "must be a collection name");
        *coll = NULL;
    }
    *subject = json_string_value(json_object_get(body, "subject_id"));
    if (*subject == NULL || !cu_subject_id_ok(*subject)) {
        cu_problem_add(problems, "/subject_id",
                       "must be 1 to 128 characters of A-Z a-z 0-9 . _ : @ + -");
        *subject = NULL;
    } else if (cu_subject_id_pii_like(*subject)) {
        cu_problem_add(problems, "/subject_id",
                       "must be a pseudonymous id, not an email address or a phone number");
        *subject = NULL;
    }
    json_t *f = json_object_get(body, "fields");
    if (!json_is_array(f) || json_array_size(f) < 1 || json_array_size(f) > CU_MAX_FIELDS) {
        cu_problem_add(problems, "/fields", "must be an array of 1 to 64 field names");
    } else {
        int ok = 1;
        for (size_t i = 0; i < json_array_size(f); i++) {
            const char *name = json_string_value(json_array_get(f, i));
            if (name == NULL || !cu_ident_ok(name)) {
                cu_problem_add(problems, "/fields", "must hold field names only");
                ok = 0;
                break;
            }
            for (size_t j = 0; j < i; j++) {
                if (strcmp(name, json_string_value(json_array_get(f, j))) == 0) {
                    cu_problem_add(problems, "/fields", "must not name a field twice");
                    ok = 0;
                    break;
                }
            }
            if (!ok) {
                break;
            }
        }
        *fields = ok ? f : NULL;
    }
    json_t *e = json_object_get(body, "expires_in");
    if (e != NULL) {
        if (!json_is_integer(e) || json_integer_value(e) < CU_CAPTURE_EXPIRES_MIN ||
            json_integer_value(e) > CU_CAPTURE_EXPIRES_MAX) {
            cu_problem_add(problems, "/expires_in", "must be an integer of seconds, 60 to 86400");
        } else {
            *expires_in = (int)json_integer_value(e);
        }
    }
}

/* A refusal's audit entry, best effort (the request is refused either way). */
static void
audit_refusal(struct cu_svc *s, const struct cu_actor *a, const char *action,
              const char *collection, const char *subject, const char *outcome)
{
    struct cu_tx *tx = NULL;
    if (a->tenant == NULL || cu_tx_begin(s->db, a->tenant, &tx) != CU_OK) {
        return;
    }
    json_t *entries = json_array();
    json_array_append_new(
        entries, cu_audit_entry(a, action, collection, NULL, NULL, subject, NULL, NULL, outcome));
    enum cu_err ignored = cu_audit_write_commit(&tx, a->tenant, entries);
    (void)ignored;
}

enum cu_err
cu_capture_create(struct cu_svc *s, const struct cu_actor *a, json_t *body,
                  struct cu_problems *problems, json_t **out)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    uint8_t secret[32], hash[CU_SHA256_LEN];
    char *secret_text = NULL;
    char *fields_json = NULL;
    enum cu_err rc = CU_OK;
    *out = NULL;

    const char *coll, *subject;
    json_t *fields;
    int expires_in;
    check_create(body, problems, &coll, &subject, &fields, &expires_in);
    if (problems->errors != NULL) {
        audit_refusal(s, a, "capture.create", coll, subject, "invalid");
        CU_FAIL(CU_ERR_INVALID, "bad capture session body");
    }
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    struct cu_coll_spec spec;
    rc = cu_spec_load(tx, a->tenant, coll, CU_SPEC_READ, arena, &spec);
    if (rc == CU_ERR_NOT_FOUND) {
        cu_problem_add(problems, "/collection", "no such collection");
    } else if (rc != CU_OK) {
        goto out;
    } else {
        for (size_t i = 0; i < json_array_size(fields); i++) {
            if (cu_spec_field(&spec, json_string_value(json_array_get(fields, i))) == NULL) {
                cu_problem_add(problems, cu_arena_printf(arena, "/fields/%zu", i),
                               "not a field of the collection");
            }
        }
        for (size_t i = 0; i < spec.nfields; i++) {
            int listed = 0;
            for (size_t j = 0; j < json_array_size(fields) && !listed; j++) {
                listed =
                    strcmp(spec.fields[i].name, json_string_value(json_array_get(fields, j))) == 0;
            }
            if (spec.fields[i].required && !listed) {
                cu_problem_add(problems, "/fields",
                               "must list every required field of the collection");
                break;
            }
        }
    }
    rc = CU_OK;
    if (problems->errors != NULL) {
        cu_tx_abort(&tx);
        audit_refusal(s, a, "capture.create", coll, subject, "invalid");
        CU_FAIL(CU_ERR_INVALID, "capture session names an unknown collection or field");
    }
    CU_TRY(cu_rand_bytes(secret, sizeof(secret)));
    size_t slen = 0;
    secret_text = cu_base64url_encode(secret, sizeof(secret), &slen);
    CU_CHECK(secret_text != NULL && slen == CU_CAPTURE_SECRET_LEN, CU_ERR_INTERNAL,
             "could not encode the capture secret");
    /* the hash of the URL's text, which is what the page is given back */
    CU_TRY(cu_sha256((const uint8_t *)secret_text, slen, hash));
    char id[40], hex[33];
    cu_random_hex(hex, 16);
    snprintf(id, sizeof(id), "cap_%s", hex);
    fields_json = json_dumps(fields, JSON_COMPACT);
    CU_CHECK(fields_json != NULL, CU_ERR_INTERNAL, "could not encode fields");
    struct cu_db_result *r = NULL;
    CU_TRY(cu_store_capture_insert(tx, a->tenant, id, hash, coll, subject, fields_json,
                                   a->principal ? a->principal : "", expires_in, arena, &r));
    json_t *entries = json_array();
    json_array_append_new(entries, cu_audit_entry(a, "capture.create", coll, json_copy(fields),
                                                  NULL, subject, NULL, NULL, "allowed"));
    CU_TRY(cu_audit_write(tx, a->tenant, entries));
    *out = json_pack("{s:s, s:s, s:s, s:s}", "id", id, "url",
                     cu_arena_printf(arena, "/capture/%s", secret_text), "expires_at",
                     cu_res_text(r, 0, CU_COL_CAPINS_EXPIRES_AT), "status", "pending");
    rc = cu_tx_commit(&tx);
out:
    if (rc != CU_OK && *out != NULL) {
        json_decref(*out);
        *out = NULL;
    }
    cu_tx_abort(&tx);
    cu_wipe(secret, sizeof(secret));
    if (secret_text != NULL) {
        cu_free_wiped(secret_text);
    }
    free(fields_json);
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_capture_get(struct cu_svc *s, const struct cu_actor *a, const char *id, json_t **out)
{
    *out = NULL;
    if (!capture_id_ok(id)) {
        audit_refusal(s, a, "capture.get", NULL, NULL, "not_found");
        cu_err_set(CU_ERR_NOT_FOUND, __FILE__, __LINE__, "malformed capture session id");
        return cu_err_public(CU_ERR_NOT_FOUND, "No such capture session");
    }
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    struct cu_db_result *r = NULL;
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    CU_TRY(cu_store_capture_get(tx, a->tenant, id, arena, &r));
    json_t *entries = json_array();
    if (cu_res_rows(r) != 1) {
        json_array_append_new(entries, cu_audit_entry(a, "capture.get", NULL, NULL, NULL, NULL,
                                                      NULL, NULL, "not_found"));
        CU_TRY(cu_audit_write_commit(&tx, a->tenant, entries));
        rc = cu_err_public(CU_ERR_NOT_FOUND, "No such capture session");
        CU_FAIL(rc, "no capture session with this id in the tenant");
    }
    const char *record_id = cu_res_text(r, 0, CU_COL_CAP_RECORD_ID);
    json_array_append_new(
        entries, cu_audit_entry(a, "capture.get", cu_res_text(r, 0, CU_COL_CAP_COLLECTION), NULL,
                                record_id[0] ? record_id : NULL,
                                cu_res_text(r, 0, CU_COL_CAP_SUBJECT_ID), NULL, NULL, "allowed"));
    CU_TRY(cu_audit_write_commit(&tx, a->tenant, entries));
    json_t *fields = json_loads(cu_res_text(r, 0, CU_COL_CAP_FIELDS), 0, NULL);
    json_t *record = json_null();
    const char *tokens = cu_res_text(r, 0, CU_COL_CAP_TOKENS);
    if (record_id[0] != '\0') {
        json_t *t = tokens[0] ? json_loads(tokens, 0, NULL) : NULL;
        record = json_pack("{s:s, s:o}", "id", record_id, "tokens", t ? t : json_object());
    }
    *out = json_pack(
        "{s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:o}", "id", cu_res_text(r, 0, CU_COL_CAP_ID),
        "status", cu_res_text(r, 0, CU_COL_CAP_STATUS), "collection",
        cu_res_text(r, 0, CU_COL_CAP_COLLECTION), "subject_id",
        cu_res_text(r, 0, CU_COL_CAP_SUBJECT_ID), "fields", fields ? fields : json_array(),
        "created_at", cu_res_text(r, 0, CU_COL_CAP_CREATED_AT), "expires_at",
        cu_res_text(r, 0, CU_COL_CAP_EXPIRES_AT), "record", record);
    CU_CHECK(*out != NULL, CU_ERR_INTERNAL, "could not encode the capture session");
out:
    cu_tx_abort(&tx);
    cu_arena_free(arena);
    return rc;
}

/* Finds the session of secret: its tenant and fields into page, its state into *status. */
static enum cu_err
find_session(struct cu_svc *s, const char *secret, struct cu_arena *arena,
             struct cu_capture_page *page, const char **status, uint8_t hash[CU_SHA256_LEN])
{
    memset(page, 0, sizeof(*page));
    if (!secret_ok(secret)) {
        CU_BAIL(CU_ERR_NOT_FOUND, "malformed capture secret");
    }
    CU_GUARD(cu_sha256((const uint8_t *)secret, CU_CAPTURE_SECRET_LEN, hash));
    struct cu_tx *tx = NULL;
    struct cu_db_result *r = NULL;
    enum cu_err rc = CU_OK;
    /* the page knows no tenant: a platform-level read of the one row this hash names */
    CU_TRY(cu_tx_begin_read(s->db, NULL, &tx));
    CU_TRY(cu_store_capture_by_secret(tx, hash, arena, &r));
    if (cu_res_rows(r) != 1) {
        CU_FAIL(CU_ERR_NOT_FOUND, "no capture session for this secret");
    }
    page->id = cu_arena_strdup(arena, cu_res_text(r, 0, CU_COL_CAP_ID));
    page->tenant = cu_arena_strdup(arena, cu_res_text(r, 0, CU_COL_CAP_TENANT));
    page->collection = cu_arena_strdup(arena, cu_res_text(r, 0, CU_COL_CAP_COLLECTION));
    page->subject_id = cu_arena_strdup(arena, cu_res_text(r, 0, CU_COL_CAP_SUBJECT_ID));
    *status = cu_arena_strdup(arena, cu_res_text(r, 0, CU_COL_CAP_STATUS));
    json_t *f = json_loads(cu_res_text(r, 0, CU_COL_CAP_FIELDS), 0, NULL);
    if (!json_is_array(f)) {
        json_decref(f);
        CU_FAIL(CU_ERR_INTERNAL, "capture session fields unreadable");
    }
    page->nfields = json_array_size(f);
    page->fields = cu_arena_alloc(arena, (page->nfields + 1) * sizeof(*page->fields));
    page->types = cu_arena_alloc(arena, (page->nfields + 1) * sizeof(*page->types));
    for (size_t i = 0; i < page->nfields; i++) {
        page->fields[i] = cu_arena_strdup(arena, json_string_value(json_array_get(f, i)));
        page->types[i] = "string";
    }
    json_decref(f);
out:
    cu_tx_abort(&tx);
    return rc;
}

/* Fills page->types from the collection's spec, in tx. */
static enum cu_err
spec_types(struct cu_tx *tx, struct cu_capture_page *page, struct cu_arena *arena)
{
    struct cu_coll_spec spec;
    CU_GUARD(cu_spec_load(tx, page->tenant, page->collection, CU_SPEC_READ, arena, &spec));
    for (size_t i = 0; i < page->nfields; i++) {
        const struct cu_field_spec *f = cu_spec_field(&spec, page->fields[i]);
        page->types[i] = f != NULL ? cu_ftype_name(f->type) : "string";
    }
    return CU_OK;
}

/* The field types of a page re-rendered with its problems (a read of its own: a submit that
 * passes never needs them; tokenize reads the spec it writes with). */
static enum cu_err
read_types(struct cu_svc *s, struct cu_capture_page *page, struct cu_arena *arena)
{
    struct cu_tx *tx = NULL;
    CU_GUARD(cu_tx_begin_read(s->db, page->tenant, &tx));
    enum cu_err rc = spec_types(tx, page, arena);
    cu_tx_abort(&tx);
    return rc;
}

static void
page_actor(const struct cu_capture_page *page, const char *request_id, struct cu_arena *arena,
           struct cu_actor *a)
{
    memset(a, 0, sizeof(*a));
    a->tenant = page->tenant;
    a->principal = cu_arena_printf(arena, "capture:%s", page->id);
    a->request_id = request_id;
}

static json_t *
fields_json(const struct cu_capture_page *page)
{
    json_t *f = json_array();
    for (size_t i = 0; i < page->nfields; i++) {
        json_array_append_new(f, json_string(page->fields[i]));
    }
    return f;
}

enum cu_err
cu_capture_open(struct cu_svc *s, const char *secret, const char *request_id,
                struct cu_arena *arena, struct cu_capture_page *page)
{
    const char *status = NULL;
    uint8_t hash[CU_SHA256_LEN];
    CU_GUARD(find_session(s, secret, arena, page, &status, hash));
    struct cu_actor a;
    page_actor(page, request_id, arena, &a);
    int gone = strcmp(status, "pending") != 0;
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    CU_TRY(cu_tx_begin(s->db, page->tenant, &tx));
    if (!gone) {
        CU_TRY(spec_types(tx, page, arena));
    }
    json_t *entries = json_array();
    json_array_append_new(entries, cu_audit_entry(&a, "capture.open", page->collection,
                                                  fields_json(page), NULL, page->subject_id, NULL,
                                                  NULL, gone ? status : "allowed"));
    CU_TRY(cu_audit_write_commit(&tx, page->tenant, entries));
    if (gone) {
        CU_FAIL(CU_ERR_GONE, "capture session used or expired");
    }
out:
    cu_tx_abort(&tx);
    return rc;
}

struct complete_ctx {
    const struct cu_capture_page *page;
    const struct cu_actor *actor;
    const uint8_t *hash;
};

/* In the records' transaction: the session moves to completed, or the whole write is undone. */
static enum cu_err
complete_session(struct cu_tx *tx, void *ctx, const char *record_id)
{
    struct complete_ctx *c = ctx;
    int done = 0;
    CU_GUARD(cu_store_capture_complete(tx, c->page->tenant, c->hash, record_id, &done));
    if (!done) {
        CU_BAIL(CU_ERR_GONE, "capture session completed or expired meanwhile");
    }
    json_t *entries = json_array();
    json_array_append_new(entries, cu_audit_entry(c->actor, "capture.submit", c->page->collection,
                                                  fields_json(c->page), record_id,
                                                  c->page->subject_id, NULL, NULL, "allowed"));
    return cu_audit_write(tx, c->page->tenant, entries);
}

/* The form's own problems: every session field exactly once and not empty, nothing else. */
static void
check_inputs(const struct cu_capture_page *page, const struct cu_capture_input *in, size_t n,
             struct cu_arena *arena, struct cu_problems *problems)
{
    for (size_t i = 0; i < n; i++) {
        int known = 0;
        for (size_t j = 0; j < page->nfields && !known; j++) {
            known = strcmp(in[i].name, page->fields[j]) == 0;
        }
        if (!known) {
            cu_problem_add(problems, "/", "the form holds a field this page does not ask for");
            return;
        }
    }
    for (size_t j = 0; j < page->nfields; j++) {
        const struct cu_capture_input *v = NULL;
        for (size_t i = 0; i < n && v == NULL; i++) {
            v = strcmp(in[i].name, page->fields[j]) == 0 ? &in[i] : NULL;
        }
        size_t blank = 0;
        while (v != NULL && blank < v->len && (v->value[blank] == ' ' || v->value[blank] == '\t')) {
            blank++;
        }
        if (v == NULL || blank == v->len) {
            cu_problem_add(problems, cu_arena_printf(arena, "/fields/%s", page->fields[j]),
                           "must not be empty");
        }
    }
}

enum cu_err
cu_capture_submit(struct cu_svc *s, const char *secret, const char *request_id,
                  const struct cu_capture_input *in, size_t n, struct cu_arena *arena,
                  struct cu_capture_page *page, struct cu_problems *problems)
{
    const char *status = NULL;
    uint8_t hash[CU_SHA256_LEN];
    CU_GUARD(find_session(s, secret, arena, page, &status, hash));
    struct cu_actor a;
    page_actor(page, request_id, arena, &a);
    enum cu_err rc = CU_OK;
    json_t *body = NULL, *out = NULL;
    struct cu_problems inner = {0};
    /* the session's state first: a used or expired one reads nothing more */
    if (strcmp(status, "pending") != 0) {
        audit_refusal(s, &a, "capture.submit", page->collection, page->subject_id, status);
        CU_BAIL(CU_ERR_GONE, "capture session used or expired");
    }
    check_inputs(page, in, n, arena, problems);
    if (problems->errors != NULL) {
        CU_GUARD(read_types(s, page, arena));
        audit_refusal(s, &a, "capture.submit", page->collection, page->subject_id, "invalid");
        CU_BAIL(CU_ERR_INVALID, "capture form incomplete");
    }
    json_t *fields = json_object();
    for (size_t i = 0; i < n; i++) {
        /* json_stringn copies the value into jansson's heap, which main.c wipes on free */
        json_t *v = json_stringn_nocheck(in[i].value, in[i].len);
        json_object_set_new(fields, in[i].name, v != NULL ? v : json_null());
    }
    body =
        json_pack("{s:[{s:s, s:o}]}", "records", "subject_id", page->subject_id, "fields", fields);
    if (body == NULL) {
        CU_BAIL(CU_ERR_INTERNAL, "could not build the record");
    }
    struct complete_ctx ctx = {page, &a, hash};
    struct cu_records_hook hook = {complete_session, &ctx};
    enum cu_outcome outcome = CU_OUTCOME_CREATED;
    rc = cu_records_create_hooked(s, &a, page->collection, body, NULL, &hook, &inner, &outcome,
                                  &out);
    if (rc == CU_ERR_INVALID) {
        /* "/records/0/fields/<name>" -> "/fields/<name>"; the details are fixed texts */
        for (size_t i = 0; i < json_array_size(inner.errors); i++) {
            json_t *e = json_array_get(inner.errors, i);
            const char *p = json_string_value(json_object_get(e, "pointer"));
            const char *f = p != NULL ? strstr(p, "/fields/") : NULL;
            cu_problem_add(problems, f != NULL ? f : "/",
                           json_string_value(json_object_get(e, "detail")));
        }
        if (problems->errors == NULL) {
            cu_problem_add(problems, "/", "the value breaks the collection's schema");
        }
        enum cu_err typed = read_types(s, page, arena);
        audit_refusal(s, &a, "capture.submit", page->collection, page->subject_id, "invalid");
        rc = typed != CU_OK ? typed : rc;
    } else if (rc == CU_ERR_GONE) {
        audit_refusal(s, &a, "capture.submit", page->collection, page->subject_id, "completed");
    }
    json_decref(inner.errors);
    json_decref(out);
    json_decref(body);
    return rc;
}
