/* The read decision of service/gates.c on given facts: restriction yields only to
 * legal_obligation, consent is needed only by a purpose that rests on consent, and a subject
 * with no facts at all is refused (fail closed). */
#include <criterion/criterion.h>
#include <string.h>

#include "service/gates.h"

static const char *const bases[] = {"consent",         "contract",    "legal_obligation",
                                    "vital_interests", "public_task", "legitimate_interests"};

Test(gates, restriction_yields_only_to_legal_obligation)
{
    for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
        const char *outcome = NULL, *detail = NULL;
        enum cu_err rc = cu_gate_decide(bases[i], 1, 1, &outcome, &detail);
        if (strcmp(bases[i], "legal_obligation") == 0) {
            cr_assert_eq(rc, CU_OK);
            cr_assert_str_eq(outcome, "allowed");
        } else {
            cr_assert_eq(rc, CU_ERR_LOCKED, "%s", bases[i]);
            cr_assert_str_eq(outcome, "denied_restricted");
            cr_assert_not_null(detail);
        }
    }
}

Test(gates, only_a_consent_purpose_needs_a_grant)
{
    for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
        const char *outcome = NULL, *detail = NULL;
        enum cu_err rc = cu_gate_decide(bases[i], 0, 0, &outcome, &detail);
        if (strcmp(bases[i], "consent") == 0) {
            cr_assert_eq(rc, CU_ERR_CONSENT);
            cr_assert(cu_gate_refused(rc));
            cr_assert_str_eq(outcome, "denied_consent");
        } else {
            cr_assert_eq(rc, CU_OK, "%s", bases[i]);
        }
        cr_assert_eq(cu_gate_decide(bases[i], 0, 1, &outcome, &detail), CU_OK, "%s", bases[i]);
    }
}

Test(gates, restriction_is_decided_before_consent)
{
    const char *outcome = NULL, *detail = NULL;
    cr_assert_eq(cu_gate_decide("consent", 1, 0, &outcome, &detail), CU_ERR_LOCKED);
    cr_assert_str_eq(outcome, "denied_restricted");
}
