/* The error macros: what each one returns and the reason it records. */
#include <criterion/criterion.h>
#include <string.h>

#include "core/err.h"

static enum cu_err
bails(void)
{
    CU_BAIL(CU_ERR_CONFIG, "could not read %s", "the thing");
}

static enum cu_err
ensures(int ok)
{
    CU_ENSURE(ok, CU_ERR_INVALID, "the condition failed");
    return CU_OK;
}

static enum cu_err
fails_to_out(int *released)
{
    enum cu_err rc = CU_OK;
    CU_FAIL(CU_ERR_CRYPTO, "could not do %d things", 3);
out:
    *released = 1;
    return rc;
}

Test(core_err, bail_returns_the_code_and_records_file_line_and_reason)
{
    cu_err_clear();
    cr_assert_eq(bails(), CU_ERR_CONFIG);
    cr_assert_not_null(strstr(cu_err_reason(), "test_core_err.c:"));
    cr_assert_not_null(strstr(cu_err_reason(), ": could not read the thing"));
}

Test(core_err, ensure_returns_only_when_the_condition_fails)
{
    cu_err_clear();
    cr_assert_eq(ensures(1), CU_OK);
    cr_assert_str_empty(cu_err_reason());
    cr_assert_eq(ensures(0), CU_ERR_INVALID);
    cr_assert_not_null(strstr(cu_err_reason(), "the condition failed"));
}

Test(core_err, fail_sets_rc_and_runs_the_out_label)
{
    int released = 0;
    cu_err_clear();
    cr_assert_eq(fails_to_out(&released), CU_ERR_CRYPTO);
    cr_assert_eq(released, 1);
    cr_assert_not_null(strstr(cu_err_reason(), "could not do 3 things"));
}

Test(core_err, unknown_codes_map_to_internal)
{
    cr_assert_eq(cu_err_status((enum cu_err)999), 500);
    cr_assert_str_eq(cu_err_slug((enum cu_err)999), "internal");
}
