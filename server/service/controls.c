/* A reveal's decision on its principal's facts: role scopes, MFA step-up, interaction binding
 * and the plain-reveal budget (see controls.h). Pure functions over the facts row, but the
 * alerts. */
#include "service/controls.h"

#include "storage/rolestore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *
cu_controls_roles_json(const struct cu_actor *a, struct cu_arena *arena)
{
    if (a->nroles == 0) {
        return NULL;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < a->nroles; i++) {
        json_array_append_new(arr, json_string(a->roles[i]));
    }
    char *js = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    const char *out = cu_arena_strdup(arena, js != NULL ? js : "[]");
    free(js);
    return out;
}

enum cu_err
cu_controls_load(struct cu_controls *c, const struct cu_actor *a, const struct cu_db_result *r,
                 struct cu_arena *arena)
{
    *c = (struct cu_controls){.scopes = a->scopes, .nscopes = a->nscopes, .budget = -1};
    if (r == NULL) {
        return CU_OK;
    }
    CU_ENSURE(cu_res_rows(r) == 1, CU_ERR_INTERNAL, "principal facts: %d rows", cu_res_rows(r));
    c->active = 1;
    json_t *scopes = json_loads(cu_res_text(r, 0, CU_COL_PRIN_SCOPES), 0, NULL);
    c->subjects = json_loads(cu_res_text(r, 0, CU_COL_PRIN_SUBJECTS), 0, NULL);
    if (!json_is_array(scopes) || !json_is_array(c->subjects)) {
        json_decref(scopes);
        cu_controls_cleanup(c);
        CU_BAIL(CU_ERR_INTERNAL, "principal facts: malformed arrays");
    }
    size_t extra = json_array_size(scopes);
    const char **all = cu_arena_alloc(arena, (a->nscopes + extra + 1) * sizeof(*all));
    for (size_t i = 0; i < a->nscopes; i++) {
        all[i] = a->scopes[i];
    }
    for (size_t i = 0; i < extra; i++) {
        const char *sc = json_string_value(json_array_get(scopes, i));
        all[a->nscopes + i] = cu_arena_strdup(arena, sc != NULL ? sc : "");
    }
    json_decref(scopes);
    c->scopes = all;
    c->nscopes = a->nscopes + extra;
    c->mfa_required = cu_res_text(r, 0, CU_COL_PRIN_MFA)[0] == 't' && !a->mfa;
    const char *budget = cu_res_text(r, 0, CU_COL_PRIN_BUDGET);
    c->budget = budget[0] != '\0' ? strtoll(budget, NULL, 10) : -1;
    c->used = cu_res_int(r, 0, CU_COL_PRIN_USED);
    c->retry_after = cu_res_int(r, 0, CU_COL_PRIN_RETRY);
    c->bound = cu_res_text(r, 0, CU_COL_PRIN_BOUND)[0] == 't';
    return CU_OK;
}

void
cu_controls_cleanup(struct cu_controls *c)
{
    json_decref(c->subjects);
    c->subjects = NULL;
}

enum cu_level
cu_controls_granted(const struct cu_controls *c, const char *collection, const char *field)
{
    enum cu_level l = cu_scope_level(c->scopes, c->nscopes, collection, field);
    if (c->mfa_required && l == CU_LEVEL_PLAIN) {
        return CU_LEVEL_MASKED;
    }
    return l;
}

enum cu_err
cu_controls_subject(const struct cu_controls *c, const char *subject)
{
    if (!c->bound) {
        return CU_OK;
    }
    size_t i;
    json_t *v;
    json_array_foreach(c->subjects, i, v)
    {
        const char *s = json_string_value(v);
        if (subject != NULL && s != NULL && strcmp(s, subject) == 0) {
            return CU_OK;
        }
    }
    return CU_ERR_FORBIDDEN;
}

const char *
cu_controls_detail(enum cu_err e)
{
    return e == CU_ERR_RATE ? "The role's plain reveals per hour are spent"
                            : "The role reveals only subjects of a live interaction of its "
                              "principal";
}

void
cu_controls_answered(const struct cu_controls *c)
{
    if (c->spent) {
        cu_err_retry_after(c->retry_after);
    }
}

enum cu_err
cu_controls_take(struct cu_controls *c, enum cu_level level)
{
    if (c->budget < 0 || level != CU_LEVEL_PLAIN) {
        return CU_OK;
    }
    if (c->used >= c->budget) {
        /* the window's buckets are minutes: a count reached by this request itself frees up
         * when the current minute leaves the window */
        if (c->retry_after <= 0) {
            c->retry_after = 61 * 60 - (long long)(time(NULL) % 60);
        }
        c->spent = 1;
        return CU_ERR_RATE;
    }
    c->used++;
    return CU_OK;
}

void
cu_controls_count(const struct cu_controls *c, enum cu_level level, json_t *entry)
{
    if (c->budget >= 0 && level == CU_LEVEL_PLAIN) {
        json_object_set_new(entry, "budget", json_true());
    }
}

json_t *
cu_controls_item_error(const struct cu_controls *c, enum cu_err e)
{
    json_t *o = cu_item_error(e, cu_controls_detail(e), NULL);
    if (e == CU_ERR_RATE) {
        json_object_set_new(o, "retry_after", json_integer(c->retry_after));
    }
    return o;
}

const char *
cu_controls_outcome(enum cu_err e)
{
    return e == CU_ERR_RATE ? "denied_budget" : "denied_interaction";
}

enum cu_err
cu_controls_alerts(struct cu_tx *tx, const char *tenant, json_t *list)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_db_result *r = NULL;
    enum cu_err rc = cu_store_budget_alerts(tx, tenant, arena, &r);
    for (int i = 0; rc == CU_OK && i < cu_res_rows(r); i++) {
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:I, s:s, s:s}", "type", "budget_exceeded", "principal",
                            cu_res_text(r, i, CU_COL_BALERT_PRINCIPAL), "refusals",
                            (json_int_t)cu_res_int(r, i, CU_COL_BALERT_REFUSALS), "from",
                            cu_res_text(r, i, CU_COL_BALERT_FIRST), "to",
                            cu_res_text(r, i, CU_COL_BALERT_LAST)));
    }
    cu_arena_free(arena);
    return rc;
}
