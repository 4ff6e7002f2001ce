/* A reveal's decision on its principal's facts (service/controls.c), without a database: the
 * MFA cap, the interaction binding, the plain budget and how a refusal reads. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"
#include "service/controls.h"

static const char *const plain_scope[] = {"detokenize:customers.*:plain"};

static struct cu_controls
controls(void)
{
    return (struct cu_controls){.active = 1, .scopes = plain_scope, .nscopes = 1, .budget = -1};
}

Test(controls, mfa_required_caps_plain_at_masked_and_leaves_lower_levels)
{
    struct cu_controls c = controls();
    cr_assert_eq(cu_controls_granted(&c, "customers", "card"), CU_LEVEL_PLAIN);
    c.mfa_required = 1;
    cr_assert_eq(cu_controls_granted(&c, "customers", "card"), CU_LEVEL_MASKED);
    cr_assert_eq(cu_controls_granted(&c, "orders", "card"), CU_LEVEL_NONE);
    const char *const masked[] = {"detokenize:*.*:redacted"};
    c.scopes = masked;
    cr_assert_eq(cu_controls_granted(&c, "customers", "card"), CU_LEVEL_REDACTED);
}

Test(controls, a_bound_principal_reveals_only_subjects_of_its_live_interactions)
{
    struct cu_controls c = controls();
    cr_assert_eq(cu_controls_subject(&c, "crm-2"), CU_OK, "unbound: every subject");
    c.bound = 1;
    c.subjects = json_pack("[s,s]", "crm-1", "crm-3");
    cr_assert_eq(cu_controls_subject(&c, "crm-1"), CU_OK);
    cr_assert_eq(cu_controls_subject(&c, "crm-3"), CU_OK);
    cr_assert_eq(cu_controls_subject(&c, "crm-2"), CU_ERR_FORBIDDEN);
    cr_assert_eq(cu_controls_subject(&c, "crm-1 "), CU_ERR_FORBIDDEN, "exact match only");
    cr_assert_eq(cu_controls_subject(&c, NULL), CU_ERR_FORBIDDEN);
    cr_assert_str_eq(cu_controls_outcome(CU_ERR_FORBIDDEN), "denied_interaction");
    cu_controls_cleanup(&c);
    cr_assert_null(c.subjects);
    c.subjects = json_array();
    cr_assert_eq(cu_controls_subject(&c, "crm-1"), CU_ERR_FORBIDDEN, "no live interaction");
    cu_controls_cleanup(&c);
}

Test(controls, the_budget_counts_plain_reveals_only_and_refuses_past_it_with_a_wait)
{
    struct cu_controls c = controls();
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(cu_controls_take(&c, CU_LEVEL_PLAIN), CU_OK, "no budget: no limit");
    }
    c.budget = 2;
    c.used = 0;
    cu_err_clear();
    cr_assert_eq(cu_controls_take(&c, CU_LEVEL_MASKED), CU_OK);
    cr_assert_eq(cu_controls_take(&c, CU_LEVEL_REDACTED), CU_OK);
    cr_assert_eq(c.used, 0, "masked and redacted are free");
    cr_assert_eq(cu_controls_take(&c, CU_LEVEL_PLAIN), CU_OK);
    cr_assert_eq(cu_controls_take(&c, CU_LEVEL_PLAIN), CU_OK);
    cr_assert_eq(cu_err_retry_hint(), 0);
    cr_assert_eq(cu_controls_take(&c, CU_LEVEL_PLAIN), CU_ERR_RATE);
    cr_assert(c.retry_after >= 1 && c.retry_after <= 3660, "%lld", c.retry_after);
    cr_assert(c.spent);
    cr_assert_eq(cu_err_retry_hint(), 0, "nothing asked before the answer goes out");
    cr_assert_null(cu_err_public_detail(), "a later failure must not carry this refusal");
    cu_controls_answered(&c);
    cr_assert_eq(cu_err_retry_hint(), c.retry_after, "the HTTP layer's Retry-After");
    cr_assert_eq(cu_controls_take(&c, CU_LEVEL_MASKED), CU_OK, "masked still allowed");
    cr_assert_str_eq(cu_controls_outcome(CU_ERR_RATE), "denied_budget");
    json_t *e = cu_controls_item_error(&c, CU_ERR_RATE);
    cr_assert_eq(json_integer_value(json_object_get(e, "status")), 429);
    cr_assert_eq(json_integer_value(json_object_get(e, "retry_after")), c.retry_after);
    json_decref(e);
    /* a wait the database computed (the oldest counted minute leaving the window) is kept */
    c.retry_after = 17;
    cr_assert_eq(cu_controls_take(&c, CU_LEVEL_PLAIN), CU_ERR_RATE);
    cr_assert_eq(c.retry_after, 17);
    c.budget = 0;
    c.used = 0;
    cr_assert_eq(cu_controls_take(&c, CU_LEVEL_PLAIN), CU_ERR_RATE, "a budget of 0: no plain");
    cu_err_clear();
    cr_assert_eq(cu_err_retry_hint(), 0);
}

Test(controls, only_plain_reveals_of_a_budgeted_principal_are_marked_for_the_count)
{
    struct cu_controls c = controls();
    json_t *e = json_object();
    cu_controls_count(&c, CU_LEVEL_PLAIN, e);
    cr_assert_null(json_object_get(e, "budget"), "no budget: no mark");
    c.budget = 5;
    cu_controls_count(&c, CU_LEVEL_MASKED, e);
    cr_assert_null(json_object_get(e, "budget"));
    cu_controls_count(&c, CU_LEVEL_PLAIN, e);
    cr_assert(json_is_true(json_object_get(e, "budget")));
    char *js = json_dumps(e, JSON_COMPACT);
    /* the text storage/vaultstore.c looks for to pick the counting statement */
    cr_assert_not_null(strstr(js, "\"budget\":true"), "%s", js);
    free(js);
    json_decref(e);
}

Test(controls, the_roles_claim_travels_as_a_json_array)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_actor a = {.tenant = "acme", .principal = "agent-7"};
    cr_assert_null(cu_controls_roles_json(&a, arena), "no roles: no facts step");
    const char *const roles[] = {"agent", "quote\"d"};
    a.roles = roles;
    a.nroles = 2;
    cr_assert_str_eq(cu_controls_roles_json(&a, arena), "[\"agent\",\"quote\\\"d\"]");
    struct cu_controls c;
    cr_assert_eq(cu_controls_load(&c, &a, NULL, arena), CU_OK);
    cr_assert_eq(c.active, 0);
    cr_assert_eq(c.budget, -1);
    cr_assert_eq(c.nscopes, 0);
    cu_arena_free(arena);
}
