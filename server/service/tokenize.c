/* Tokenize: a batch of 1..1000 records stored in one transaction with their values sealed,
 * their tokens and blind indexes, and one audit entry each; invalid records get per-item errors.
 * A fixed number of statements whatever the batch size.
 *
 * With a unit writer (service/unit_commit.h) the writes of concurrent requests share a
 * transaction: the request reads what it needs (nothing locked, nothing written), seals, and
 * hands its writes to the writer as one unit, whose check finds what a concurrent write changed
 * meanwhile (a subject key created, replaced or erased, the KEK rotated; a token or the
 * Idempotency-Key taken: unique violations). Such a conflict undoes only that unit; the request
 * is then done once more on its own, the way that waits for and takes what the other wrote. */
#include "service/vault.h"

#include "core/id.h"
#include "core/metrics.h"
#include "service/audit.h"
#include "service/group_commit.h"
#include "service/idempotency.h"
#include "service/ident.h"
#include "service/intake.h"
#include "service/unit_commit.h"
#include "storage/keystore.h"
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

/* A group-committed tokenize's unit and what its check reads. */
struct tok_unit {
    struct cu_unit u;
    struct cu_params p[CU_UNIT_MAX_STEPS];
    struct cu_db_result *coll, *lock, *inserted, *used;
    const struct cu_coll_spec *spec;
    const struct cu_subject_key_plan *plan;
    const struct cu_subject_key_req *reqs;
    size_t nreqs;
};

static enum cu_err
tok_unit_check(void *ctx)
{
    const struct tok_unit *t = ctx;
    /* the records were checked against the spec read: it must still be the collection's */
    CU_ENSURE(cu_res_rows(t->coll) == 1 &&
                  strcmp(cu_res_text(t->coll, 0, CU_COL_COLL_UPDATED_AT), t->spec->updated_at) == 0,
              CU_ERR_CONFLICT, "the collection was changed meanwhile");
    return cu_keyring_subject_keys_plan_check(t->plan, t->reqs, t->nreqs, t->lock, t->inserted,
                                              t->used);
}

/* The unit of writes: the collection's share lock, the KEK's and the fresh subject keys, the counts
 * of the existing ones, the rows and audit entries, the Idempotency-Key's answer. */
static void
tok_unit_build(struct tok_unit *t, const struct cu_actor *a, const struct cu_idem *idem,
               enum cu_outcome outcome, const char *answer, const char *rj, const char *vj,
               const char *tj, const char *aj, struct cu_arena *arena)
{
    struct cu_unit *u = &t->u;
    u->tenant = a->tenant;
    u->check = tok_unit_check;
    u->ctx = t;
    cu_store_collection_get_step(a->tenant, t->spec->name, CU_SPEC_WRITE, &t->p[u->n], &t->coll,
                                 &u->steps[u->n]);
    u->n++;
    if (t->plan->nfresh > 0) {
        cu_store_tenant_lock_kek_step(a->tenant, &t->p[u->n], &t->lock, &u->steps[u->n]);
        u->n++;
        cu_store_subject_keys_insert_step(a->tenant, t->plan->insert_json, &t->p[u->n],
                                          &t->inserted, &u->steps[u->n]);
        u->n++;
    }
    if (t->plan->nuse > 0) {
        cu_store_subject_keys_use_step(a->tenant, t->plan->use_json, &t->p[u->n], &t->used,
                                       &u->steps[u->n]);
        u->n++;
    }
    cu_store_write_batch_step(a->tenant, rj, vj, tj, aj, &t->p[u->n], &u->steps[u->n]);
    u->n++;
    if (idem != NULL && idem->key != NULL) {
        cu_store_idem_put_step(a->tenant, a->principal, idem->key, idem->hash, 32, (int)outcome,
                               answer, arena, &t->p[u->n], &u->steps[u->n]);
        u->n++;
    }
}

/* What a grouped tokenize reads, in one round trip: the collection (the unit checks under its
 * share lock that it is unchanged), the keys of the subjects named in the body (the well-formed
 * ones, once each: a record refused later only makes the read larger) and the KEK version, for
 * the plan of its subject keys. */
static enum cu_err
read_for_unit(struct cu_tx *tx, const char *tenant, const char *collection, json_t *list,
              struct cu_arena *arena, struct cu_coll_spec *spec, struct cu_subject_key_plan *plan)
{
    json_t *seen = json_object(), *subjects = json_array();
    for (size_t i = 0; i < json_array_size(list); i++) {
        const char *subject =
            json_string_value(json_object_get(json_array_get(list, i), "subject_id"));
        if (subject != NULL && cu_subject_id_ok(subject) && json_object_get(seen, subject) == NULL) {
            json_object_set_new(seen, subject, json_true());
            json_array_append_new(subjects, json_pack("{s:s, s:i}", "subject_id", subject, "n", 0));
        }
    }
    char *js = json_dumps(subjects, JSON_COMPACT);
    json_decref(seen);
    json_decref(subjects);
    CU_ENSURE(js != NULL, CU_ERR_INTERNAL, "could not encode subjects");
    struct cu_params p[3];
    struct cu_step steps[3];
    struct cu_db_result *coll = NULL, *keys = NULL, *kek = NULL;
    cu_store_collection_get_step(tenant, collection, CU_SPEC_READ, &p[0], &coll, &steps[0]);
    cu_store_subject_keys_get_step(tenant, js, &p[1], &keys, &steps[1]);
    cu_store_tenant_kek_version_step(tenant, &p[2], &kek, &steps[2]);
    enum cu_err rc = cu_tx_exec_steps(tx, steps, 3, arena);
    free(js);
    CU_GUARD(rc);
    plan->read_keys = keys;
    plan->read_kek = kek;
    return cu_spec_decode(coll, collection, arena, spec);
}

/* Writes entries and ends what was read: in tx, or, for a grouped request that read without a
 * transaction, through the audit writer. Takes entries. */
static enum cu_err
audit_and_end(struct cu_svc *s, struct cu_tx **tx, const char *tenant, json_t *entries, int grouped)
{
    if (grouped) {
        cu_tx_abort(tx);
        return cu_audit_durable(s, tenant, entries);
    }
    CU_GUARD(cu_audit_write(*tx, tenant, entries));
    return cu_tx_commit(tx);
}

/* grouped: the writes go to s->unit_writer as one unit; *redo is set when a concurrent write
 * undid it (CU_ERR_CONFLICT): the caller does the request again, not grouped. */
static enum cu_err
create(struct cu_svc *s, const struct cu_actor *a, const char *collection, json_t *body,
       const struct cu_idem *idem, const struct cu_records_hook *hook, int grouped,
       struct cu_problems *problems, enum cu_outcome *outcome, json_t **out, int *redo)
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
    struct cu_subject_key_plan plan = {0};
    char *answer = NULL;
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
    /* grouped: only reads here, each round trip an implicit read-only transaction */
    CU_TRY(grouped ? cu_tx_begin_read(s->db, a->tenant, &tx) : cu_tx_begin(s->db, a->tenant, &tx));
    int hit = 0;
    CU_TRY(cu_idem_check(tx, a->tenant, a->principal, idem, &hit, outcome, out));
    if (hit) {
        json_t *replay = json_array();
        json_array_append_new(replay, cu_audit_entry(a, "tokenize.replay", collection, NULL, NULL,
                                                     NULL, NULL, NULL, "allowed"));
        rc = audit_and_end(s, &tx, a->tenant, replay, grouped);
        goto out;
    }
    struct cu_coll_spec spec;
    if (grouped) {
        CU_TRY(read_for_unit(tx, a->tenant, collection, list, arena, &spec, &plan));
    } else {
        CU_TRY(cu_spec_load(tx, a->tenant, collection, CU_SPEC_WRITE, arena, &spec));
    }
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
        if (grouped) {
            /* the drawn format-preserving tokens are named by the write itself: one already
             * issued fails it (a unique violation), and the request is done again, reserving */
            CU_TRY(
                cu_intake_subject_keys(s, tx, a->tenant, spec.inc, recs, n, &plan, &reqs, &nreqs));
        } else {
            CU_TRY(cu_intake_reserve(tx, a->tenant, collection, &keys, recs, n, arena));
            CU_TRY(
                cu_intake_subject_keys(s, tx, a->tenant, spec.inc, recs, n, NULL, &reqs, &nreqs));
        }
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
        rc = audit_and_end(s, &tx, a->tenant, audit, grouped); /* takes audit */
        audit = NULL;
        CU_TRY(rc);
        CU_FAIL(CU_ERR_INVALID, "no valid record");
    }
    *outcome = good == n ? CU_OUTCOME_CREATED : CU_OUTCOME_PARTIAL;
    *out = json_pack("{s:O}", "records", result);
    {
        char *rj = json_dumps(records_b, JSON_COMPACT);
        char *vj = json_dumps(values_b, JSON_COMPACT);
        char *tj = json_dumps(tokens_b, JSON_COMPACT);
        char *aj = json_dumps(audit, JSON_COMPACT);
        /* the answer an Idempotency-Key remembers, for the unit (the other path stores it) */
        int remembered = grouped && idem != NULL && idem->key != NULL;
        answer = remembered ? json_dumps(*out, JSON_COMPACT) : NULL;
        /* without an Idempotency-Key to remember, the writes end the transaction: one round
         * trip for them and COMMIT (the call ends tx either way) */
        int last = (idem == NULL || idem->key == NULL) && hook == NULL;
        if (!(rj && vj && tj && aj) || (remembered && answer == NULL)) {
            rc = cu_err_set(CU_ERR_INTERNAL, __FILE__, __LINE__, "could not encode the rows");
        } else if (grouped) {
            /* what was read ends here (nothing was written: no commit to wait for) */
            rc = cu_tx_commit(&tx);
            struct tok_unit t = {.spec = &spec, .plan = &plan, .reqs = reqs, .nreqs = nreqs};
            tok_unit_build(&t, a, idem, *outcome, answer, rj, vj, tj, aj, arena);
            rc = rc != CU_OK ? rc : cu_unit_commit_run(s->unit_writer, &t.u);
            *redo = rc == CU_ERR_CONFLICT;
            if (rc == CU_OK) {
                cu_keyring_subject_keys_plan_done(s->keyring, &plan, reqs, nreqs);
            }
        } else if (last) {
            rc = cu_store_write_batch_commit(&tx, a->tenant, rj, vj, tj, aj);
        } else {
            rc = cu_store_write_batch(tx, a->tenant, rj, vj, tj, aj);
        }
        free(rj);
        free(vj);
        free(tj);
        free(aj);
        if (rc == CU_ERR_CONFLICT && !grouped) {
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
    free(answer);
    cu_keyring_subject_keys_plan_cleanup(&plan);
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

enum cu_err
cu_records_create_hooked(struct cu_svc *s, const struct cu_actor *a, const char *collection,
                         json_t *body, const struct cu_idem *idem,
                         const struct cu_records_hook *hook, struct cu_problems *problems,
                         enum cu_outcome *outcome, json_t **out)
{
    /* a hook's statements need the records' own transaction */
    if (s->unit_writer != NULL && hook == NULL) {
        int redo = 0;
        enum cu_err rc =
            create(s, a, collection, body, idem, NULL, 1, problems, outcome, out, &redo);
        if (!redo) {
            return rc;
        }
        cu_metrics_count("tokenize_redone", 1);
    }
    int unused = 0;
    return create(s, a, collection, body, idem, hook, 0, problems, outcome, out, &unused);
}
