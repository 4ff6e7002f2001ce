/* Tokenize: a batch of 1..1000 records stored in one transaction with their values sealed,
 * their tokens and blind indexes, and one audit entry each; invalid records get per-item errors.
 * A fixed number of statements whatever the batch size. */
#include "service/vault.h"

#include "core/id.h"
#include "core/metrics.h"
#include "service/audit.h"
#include "service/idempotency.h"
#include "service/ident.h"
#include "service/intake.h"
#include "storage/vaultstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum cu_err
cu_records_create(struct cu_svc *s, const struct cu_actor *a, const char *collection, json_t *body,
                  const struct cu_idem *idem, struct cu_problems *problems,
                  enum cu_outcome *outcome, json_t **out)
{
    return cu_records_create_hooked(s, a, collection, body, idem, NULL, problems, outcome, out);
}

enum cu_err
cu_records_create_hooked(struct cu_svc *s, const struct cu_actor *a, const char *collection,
                         json_t *body, const struct cu_idem *idem,
                         const struct cu_records_hook *hook, struct cu_problems *problems,
                         enum cu_outcome *outcome, json_t **out)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    struct cu_tenant_keys keys = {0};
    struct cu_subject_key_req *reqs = NULL;
    size_t nreqs = 0;
    struct cu_in_record *recs = NULL;
    size_t n = 0;
    json_t *records_b = json_array(), *values_b = json_array(), *tokens_b = json_array();
    json_t *audit = json_array();
    json_t *result = NULL;
    enum cu_err rc = CU_OK;
    *out = NULL;

    json_t *list = json_object_get(body, "records");
    if (!json_is_object(body) || json_object_size(body) != 1 || !json_is_array(list) ||
        json_array_size(list) < 1 || json_array_size(list) > CU_MAX_BATCH) {
        cu_problem_add(problems, "/records", "must be the only member: an array of 1 to 1000");
        CU_FAIL(CU_ERR_INVALID, "bad records body");
    }
    size_t nvalues = 0;
    for (size_t i = 0; i < json_array_size(list); i++) {
        nvalues += json_object_size(json_object_get(json_array_get(list, i), "fields"));
    }
    if (nvalues > CU_MAX_BATCH_VALUES) {
        cu_problem_add(problems, "/records",
                       "at most 8000 field values per request (records x fields): split the batch");
        CU_FAIL(CU_ERR_INVALID, "too many values in one request");
    }
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    int hit = 0;
    CU_TRY(cu_idem_check(tx, a->tenant, a->principal, idem, &hit, outcome, out));
    if (hit) {
        json_t *replay = json_array();
        json_array_append_new(replay, cu_audit_entry(a, "tokenize.replay", collection, NULL, NULL,
                                                     NULL, NULL, NULL, "allowed"));
        CU_TRY(cu_audit_write(tx, a->tenant, replay));
        rc = cu_tx_commit(&tx);
        goto out;
    }
    struct cu_coll_spec spec;
    CU_TRY(cu_spec_load(tx, a->tenant, collection, CU_SPEC_WRITE, arena, &spec));
    CU_TRY(cu_tenant_keys_load(s, tx, a->tenant, &spec, &keys));

    n = json_array_size(list);
    recs = cu_arena_alloc(arena, n * sizeof(*recs));
    size_t good = 0;
    for (size_t i = 0; i < n; i++) {
        struct cu_in_record *r = &recs[i];
        json_t *item = json_array_get(list, i);
        r->ok = 1;
        if (!json_is_object(item)) {
            cu_in_problem(r, arena, i, "", "must be an object");
            continue;
        }
        if (cu_unknown_members(item, (const char *const[]){"subject_id", "fields", NULL}) > 0) {
            cu_in_problem(r, arena, i, "", "unknown member");
        }
        r->subject = json_string_value(json_object_get(item, "subject_id"));
        if (r->subject == NULL || !cu_subject_id_ok(r->subject)) {
            cu_in_problem(r, arena, i, "/subject_id",
                          "must be 1 to 128 characters of A-Z a-z 0-9 . _ : @ + -");
        } else if (cu_subject_id_pii_like(r->subject)) {
            /* the subject id is stored and audited in clear: never an email or a phone */
            cu_in_problem(r, arena, i, "/subject_id",
                          "must be a pseudonymous id, not an email address (contains '@') or a "
                          "phone number (optional '+', then 7 to 15 digits with only spaces, "
                          "dashes, dots or parentheses)");
        }
        cu_intake_fields(r, i, json_object_get(item, "fields"), &spec, &keys, a->tenant, 1, arena);
        if (!r->ok) {
            continue;
        }
        char hex[33];
        cu_random_hex(hex, 16);
        snprintf(r->id, sizeof(r->id), "rec_%s", hex);
        good++;
    }
    if (good > 0) {
        CU_TRY(cu_intake_reserve(tx, a->tenant, collection, &keys, recs, n, arena));
        CU_TRY(cu_intake_subject_keys(s, tx, a->tenant, spec.inc, recs, n, &reqs, &nreqs));
        CU_TRY(
            cu_intake_seal(recs, n, reqs, nreqs, a->tenant, collection, arena, values_b, tokens_b));
    }
    result = json_array();
    for (size_t i = 0; i < n; i++) {
        struct cu_in_record *r = &recs[i];
        if (!r->ok) {
            json_array_append_new(result, json_pack("{s:I, s:o}", "index", (json_int_t)i, "error",
                                                    cu_item_error(CU_ERR_INVALID,
                                                                  "The record breaks "
                                                                  "the collection's schema",
                                                                  json_incref(r->errors))));
            if (n == 1 || good == 0) {
                for (size_t k = 0; k < json_array_size(r->errors); k++) {
                    json_t *e = json_array_get(r->errors, k);
                    cu_problem_add(problems, json_string_value(json_object_get(e, "pointer")),
                                   json_string_value(json_object_get(e, "detail")));
                }
            }
            json_decref(r->errors);
            r->errors = NULL;
            continue;
        }
        json_array_append_new(records_b, json_pack("{s:s, s:s, s:s}", "id", r->id, "collection",
                                                   collection, "subject_id", r->subject));
        json_t *toks = json_object();
        json_t *fields = json_array();
        for (size_t j = 0; j < r->nvalues; j++) {
            json_object_set_new(toks, r->values[j].f->name, json_string(r->values[j].token));
            json_array_append_new(fields, json_string(r->values[j].f->name));
        }
        json_array_append_new(result, json_pack("{s:s, s:s, s:o}", "id", r->id, "subject_id",
                                                r->subject, "tokens", toks));
        json_array_append_new(audit, cu_audit_entry(a, "tokenize", collection, fields, r->id,
                                                    r->subject, NULL, NULL, "allowed"));
    }
    if (good == 0) {
        /* nothing stored: the whole request is refused, the refusal audited */
        json_array_append_new(audit, cu_audit_entry(a, "tokenize", collection, NULL, NULL, NULL,
                                                    NULL, NULL, "invalid"));
        rc = cu_audit_write(tx, a->tenant, audit); /* takes audit, also on failure */
        audit = NULL;
        CU_TRY(rc);
        CU_TRY(cu_tx_commit(&tx));
        CU_FAIL(CU_ERR_INVALID, "no valid record");
    }
    {
        char *rj = json_dumps(records_b, JSON_COMPACT);
        char *vj = json_dumps(values_b, JSON_COMPACT);
        char *tj = json_dumps(tokens_b, JSON_COMPACT);
        char *aj = json_dumps(audit, JSON_COMPACT);
        /* without an Idempotency-Key to remember, the writes end the transaction: one round
         * trip for them and COMMIT (the call ends tx either way) */
        int last = (idem == NULL || idem->key == NULL) && hook == NULL;
        rc = !(rj && vj && tj && aj) ? CU_ERR_INTERNAL
             : last                  ? cu_store_write_batch_commit(&tx, a->tenant, rj, vj, tj, aj)
                                     : cu_store_write_batch(tx, a->tenant, rj, vj, tj, aj);
        free(rj);
        free(vj);
        free(tj);
        free(aj);
        if (rc == CU_ERR_CONFLICT) {
            /* a deterministic token already named by another field (token_names, migrations/
             * 0010): unshared tokens were reserved, record ids are 128 random bits */
            rc = cu_err_public(CU_ERR_CONFLICT,
                               "The token of a value in this request is already issued to "
                               "another field: format_preserving_deterministic fields of a "
                               "tenant share one token space");
        }
        if (rc != CU_OK) {
            /* fail closed: nothing is stored without its audit entries */
            goto out;
        }
    }
    if (hook != NULL) {
        /* the hook's statements join the records' transaction: both commit or neither */
        for (size_t i = 0; i < n; i++) {
            if (recs[i].ok) {
                CU_TRY(hook->fn(tx, hook->ctx, recs[i].id));
                break;
            }
        }
    }
    *outcome = good == n ? CU_OUTCOME_CREATED : CU_OUTCOME_PARTIAL;
    *out = json_pack("{s:O}", "records", result);
    if (tx != NULL) {
        CU_TRY(cu_idem_store(tx, a->tenant, a->principal, idem, *outcome, *out));
        rc = cu_tx_commit(&tx);
    }
    if (rc == CU_OK) {
        cu_metrics_count("values_tokenized", json_array_size(values_b));
    }
out:
    if (rc != CU_OK && *out != NULL) {
        json_decref(*out);
        *out = NULL;
    }
    cu_tx_abort(&tx);
    cu_tenant_keys_cleanup(&keys);
    cu_intake_free_keys(reqs, nreqs);
    for (size_t i = 0; recs != NULL && i < n; i++) {
        json_decref(recs[i].errors);
    }
    json_decref(records_b);
    json_decref(values_b);
    json_decref(tokens_b);
    json_decref(audit);
    json_decref(result);
    cu_arena_free(arena);
    return rc;
}
