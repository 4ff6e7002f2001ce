/* Secure capture (issue 12 item 6): an agent's app asks for a single-use link; the customer
 * opens it and types a value (a card number) that the agent never hears or sees; the value is
 * validated and stored through tokenize, and the agent's app reads the record's tokens.
 * Invariants: the link's secret (256 CSPRNG bits, base64url) is stored only as its SHA-256 and
 * never logged or audited; a session completes at most once, in the transaction that stores its
 * record; no value is ever echoed (problems are fixed texts). Services know no HTTP: the caller
 * renders the page. */
#ifndef CU_SERVICE_CAPTURE_H
#define CU_SERVICE_CAPTURE_H

#include "service/vault.h"

#include <jansson.h>

enum {
    CU_CAPTURE_EXPIRES_MIN = 60,
    CU_CAPTURE_EXPIRES_MAX = 86400,
    CU_CAPTURE_EXPIRES_DEFAULT = 600,
    CU_CAPTURE_SECRET_LEN = 43, /* base64url of 32 bytes */
};

/* POST /v1/capture-sessions (records:write): body {"collection","subject_id","fields":[...],
 * "expires_in"}. *out {"id","url","expires_at","status"} (new reference). CU_ERR_INVALID with
 * problems (also an unknown collection or field, or a required field of the collection left
 * out); audited (capture.create), refusals too. */
enum cu_err cu_capture_create(struct cu_svc *s, const struct cu_actor *a, json_t *body,
                              struct cu_problems *problems, json_t **out) CU_WUR;
/* GET /v1/capture-sessions/{id}: {"id","status","collection","subject_id","fields",
 * "created_at","expires_at","record":{"id","tokens"}|null}. CU_ERR_NOT_FOUND (also another
 * tenant's id); audited (capture.get). */
enum cu_err cu_capture_get(struct cu_svc *s, const struct cu_actor *a, const char *id,
                           json_t **out) CU_WUR;

/* What the capture page shows: the fields to ask for (names and type names, arena). */
struct cu_capture_page {
    const char *id;
    const char *tenant;
    const char *collection;
    const char *subject_id;
    const char **fields;
    const char **types;
    size_t nfields;
};

/* GET /capture/<secret>: the session's page. CU_ERR_NOT_FOUND for an unknown or malformed
 * secret; CU_ERR_GONE for a used or expired session. Audited in the session's tenant
 * (capture.open, principal "capture:<id>"). */
enum cu_err cu_capture_open(struct cu_svc *s, const char *secret, const char *request_id,
                            struct cu_arena *arena, struct cu_capture_page *page) CU_WUR;

/* One submitted form field (borrowed; value bytes, not NUL-terminated for the service). */
struct cu_capture_input {
    const char *name;
    const char *value;
    size_t len;
};
/* POST /capture/<secret>: validates the inputs against the session's fields (each exactly once,
 * not empty, no other name) and the collection's value rules, then stores the record through
 * tokenize and completes the session in the same transaction. page is filled as for
 * cu_capture_open whenever the session was found. CU_ERR_INVALID with problems whose pointers
 * are "/fields/<name>" (or "/" for the form itself), nothing stored; CU_ERR_NOT_FOUND;
 * CU_ERR_GONE (used or expired, also when another node completed it first). Audited. */
enum cu_err cu_capture_submit(struct cu_svc *s, const char *secret, const char *request_id,
                              const struct cu_capture_input *in, size_t n, struct cu_arena *arena,
                              struct cu_capture_page *page, struct cu_problems *problems) CU_WUR;

#endif
