/* Interactions: the telephony/CTI platform opens one when an agent (a principal) is connected
 * to a customer (a subject) and ends it at wrap-up; it also ends by itself at its expiry. An
 * interaction-bound role reveals only subjects of its principal's live interactions
 * (service/controls.c). */
#include "service/roles.h"

#include "core/id.h"
#include "service/audit.h"
#include "service/idempotency.h"
#include "service/ident.h"
#include "storage/rolestore.h"

#include <string.h>

enum { MIN_EXPIRES = 60, MAX_EXPIRES = 86400, DEFAULT_EXPIRES = 3600, MAX_PRINCIPAL = 255 };

static const char *const channels[] = {"voice", "chat", "email"};

static int
principal_ok(json_t *v)
{
    if (!json_is_string(v) || json_string_length(v) < 1 || json_string_length(v) > MAX_PRINCIPAL) {
        return 0;
    }
    /* as a token's sub: no control characters (it reaches audit rows) */
    for (const unsigned char *c = (const unsigned char *)json_string_value(v); *c; c++) {
        if (*c < 0x20 || *c == 0x7f) {
            return 0;
        }
    }
    return strlen(json_string_value(v)) == json_string_length(v);
}

static int
id_ok(const char *id)
{
    if (id == NULL || strlen(id) != 36 || strncmp(id, "int_", 4) != 0) {
        return 0;
    }
    for (const char *c = id + 4; *c; c++) {
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

enum cu_err
cu_interaction_open(struct cu_svc *s, const struct cu_actor *a, json_t *body,
                    const struct cu_idem *idem, struct cu_problems *problems, json_t **out)
{
    *out = NULL;
    if (!json_is_object(body)) {
        cu_problem_add(problems, "", "must be an object");
        CU_BAIL(CU_ERR_INVALID, "body not an object");
    }
    if (cu_unknown_members(body, (const char *const[]){"principal", "subject_id", "channel",
                                                       "expires_in", NULL}) > 0) {
        cu_problem_add(problems, "", "unknown member");
    }
    json_t *jp = json_object_get(body, "principal");
    if (!principal_ok(jp)) {
        cu_problem_add(problems, "/principal",
                       "must be the agent's sub: 1 to 255 bytes without control characters");
    }
    const char *subject = json_string_value(json_object_get(body, "subject_id"));
    if (subject == NULL || !cu_subject_id_ok(subject)) {
        cu_problem_add(problems, "/subject_id", "must be 1 to 128 of [A-Za-z0-9._:@+-]");
    } else if (cu_subject_id_pii_like(subject)) {
        /* like every other path that takes a subject id: it is audited in clear */
        cu_problem_add(problems, "/subject_id",
                       "must be a pseudonymous id, not an email address or a phone number");
    }
    const char *channel = json_string_value(json_object_get(body, "channel"));
    int channel_ok = 0;
    for (size_t i = 0; channel != NULL && i < sizeof(channels) / sizeof(channels[0]); i++) {
        channel_ok |= strcmp(channel, channels[i]) == 0;
    }
    if (!channel_ok) {
        cu_problem_add(problems, "/channel", "must be voice, chat or email");
    }
    json_t *je = json_object_get(body, "expires_in");
    int expires = DEFAULT_EXPIRES;
    if (je != NULL) {
        if (!json_is_integer(je) || json_integer_value(je) < MIN_EXPIRES ||
            json_integer_value(je) > MAX_EXPIRES) {
            cu_problem_add(problems, "/expires_in", "must be an integer from 60 to 86400");
        } else {
            expires = (int)json_integer_value(je);
        }
    }
    if (problems->errors != NULL) {
        CU_BAIL(CU_ERR_INVALID, "invalid interaction");
    }
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    enum cu_outcome outcome = CU_OUTCOME_CREATED;
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    int hit = 0;
    CU_TRY(cu_idem_check(tx, a->tenant, a->principal, idem, &hit, &outcome, out));
    if (hit) {
        rc = cu_audit_write_commit(
            &tx, a->tenant,
            json_pack("[o]", cu_audit_entry(a, "interaction.open.replay", NULL, NULL, NULL, subject,
                                            NULL, NULL, "allowed")));
        goto out;
    }
    char id[40] = "int_";
    cu_random_hex(id + 4, 16);
    struct cu_db_result *r = NULL;
    rc = cu_store_interaction_open(tx, a->tenant, id, json_string_value(jp), subject, channel,
                                   expires, arena, &r);
    if (rc == CU_ERR_CONFLICT) {
        rc = cu_err_public(CU_ERR_FORBIDDEN, "The tenant of the token does not exist");
    }
    CU_TRY(rc);
    CU_CHECK(cu_res_rows(r) == 1, CU_ERR_INTERNAL, "interaction not returned");
    *out = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", id, "principal", json_string_value(jp),
                     "subject_id", subject, "channel", channel, "expires_at",
                     cu_res_text(r, 0, CU_COL_INTER_EXPIRES_AT));
    CU_TRY(cu_audit_write(tx, a->tenant,
                          json_pack("[o]", cu_audit_entry(a, "interaction.open", NULL, NULL, NULL,
                                                          subject, NULL, NULL, "allowed"))));
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

enum cu_err
cu_interaction_end(struct cu_svc *s, const struct cu_actor *a, const char *id)
{
    CU_ENSURE(id_ok(id), CU_ERR_NOT_FOUND, "malformed interaction id");
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    int found = 0;
    CU_TRY(cu_store_interaction_end(tx, a->tenant, id, &found));
    CU_CHECK(found, CU_ERR_NOT_FOUND, "no such interaction");
    rc = cu_audit_write_commit(&tx, a->tenant,
                               json_pack("[o]", cu_audit_entry(a, "interaction.end", NULL, NULL,
                                                               NULL, NULL, NULL, NULL, "allowed")));
out:
    cu_tx_abort(&tx);
    return rc;
}
