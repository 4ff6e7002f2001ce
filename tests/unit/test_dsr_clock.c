/* DSR due dates (service/dsr_clock.c): GDPR one calendar month clamped to the month's last day,
 * leap years, the extension to three months from receipt; CCPA 45 days and 90 when extended; due
 * at the end of the due day, UTC. And CSV cells (service/csv.c): RFC 4180 quoting and formula
 * neutralization. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/mem.h"
#include "service/csv.h"
#include "service/dsr_clock.h"

/* seconds since the epoch of a UTC date and time */
static long long
at(int y, int m, int d, int hh, int mm)
{
    struct tm t = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = hh, .tm_min = mm};
    return (long long)timegm(&t);
}

static void
assert_due(long long due, int y, int m, int d)
{
    cr_assert_eq(due, at(y, m, d, 23, 59) + 59, "due %lld, want %04d-%02d-%02d 23:59:59", due, y, m,
                 d);
}

Test(dsr_clock, gdpr_is_due_on_the_same_date_of_the_next_month)
{
    assert_due(cu_dsr_due(CU_DSR_GDPR, at(2025, 3, 15, 10, 30), 0), 2025, 4, 15);
    assert_due(cu_dsr_due(CU_DSR_GDPR, at(2025, 12, 5, 0, 0), 0), 2026, 1, 5);
}

Test(dsr_clock, gdpr_received_on_31_january_is_due_on_the_last_day_of_february)
{
    assert_due(cu_dsr_due(CU_DSR_GDPR, at(2025, 1, 31, 12, 0), 0), 2025, 2, 28);
    assert_due(cu_dsr_due(CU_DSR_GDPR, at(2024, 1, 31, 12, 0), 0), 2024, 2, 29);
    assert_due(cu_dsr_due(CU_DSR_GDPR, at(2024, 1, 30, 12, 0), 0), 2024, 2, 29);
    assert_due(cu_dsr_due(CU_DSR_GDPR, at(2100, 1, 29, 12, 0), 0), 2100, 2, 28);
    assert_due(cu_dsr_due(CU_DSR_GDPR, at(2000, 1, 31, 12, 0), 0), 2000, 2, 29);
    assert_due(cu_dsr_due(CU_DSR_GDPR, at(2025, 3, 31, 12, 0), 0), 2025, 4, 30);
    assert_due(cu_dsr_due(CU_DSR_GDPR, at(2024, 2, 29, 12, 0), 0), 2024, 3, 29);
}

Test(dsr_clock, gdpr_extension_counts_three_months_from_receipt)
{
    assert_due(cu_dsr_due(CU_DSR_GDPR, at(2025, 1, 31, 12, 0), 1), 2025, 4, 30);
    assert_due(cu_dsr_due(CU_DSR_GDPR, at(2023, 11, 30, 12, 0), 1), 2024, 2, 29);
    assert_due(cu_dsr_due(CU_DSR_GDPR, at(2025, 10, 15, 12, 0), 1), 2026, 1, 15);
}

Test(dsr_clock, ccpa_is_45_days_and_90_when_extended)
{
    assert_due(cu_dsr_due(CU_DSR_CCPA, at(2025, 1, 1, 8, 0), 0), 2025, 2, 15);
    assert_due(cu_dsr_due(CU_DSR_CCPA, at(2024, 2, 1, 8, 0), 0), 2024, 3, 17);
    assert_due(cu_dsr_due(CU_DSR_CCPA, at(2025, 1, 1, 8, 0), 1), 2025, 4, 1);
    assert_due(cu_dsr_due(CU_DSR_CCPA, at(2025, 12, 20, 23, 59), 0), 2026, 2, 3);
}

Test(dsr_clock, the_day_is_taken_in_utc)
{
    /* 23:59:59 on 31 January is still 31 January; one second later it is 1 February */
    assert_due(cu_dsr_due(CU_DSR_GDPR, at(2025, 1, 31, 23, 59) + 59, 0), 2025, 2, 28);
    assert_due(cu_dsr_due(CU_DSR_GDPR, at(2025, 2, 1, 0, 0), 0), 2025, 3, 1);
}

Test(dsr_clock, months_have_their_lengths)
{
    cr_assert_eq(cu_days_in_month(2024, 2), 29);
    cr_assert_eq(cu_days_in_month(2023, 2), 28);
    cr_assert_eq(cu_days_in_month(1900, 2), 28);
    cr_assert_eq(cu_days_in_month(2000, 2), 29);
    cr_assert_eq(cu_days_in_month(2025, 4), 30);
    cr_assert_eq(cu_days_in_month(2025, 12), 31);
}

static const char *
csv_of(const char *s)
{
    static char out[256];
    struct cu_buf b;
    cu_buf_init(&b);
    cu_csv_cell(&b, s, strlen(s), 1);
    snprintf(out, sizeof(out), "%s", cu_buf_cstr(&b));
    cu_buf_cleanup(&b);
    return out;
}

Test(csv, quotes_every_cell_and_doubles_quotes)
{
    cr_assert_str_eq(csv_of("plain"), "\"plain\"");
    cr_assert_str_eq(csv_of("a,b"), "\"a,b\"");
    cr_assert_str_eq(csv_of("say \"hi\""), "\"say \"\"hi\"\"\"");
    cr_assert_str_eq(csv_of("two\r\nlines"), "\"two\r\nlines\"");
    cr_assert_str_eq(csv_of(""), "\"\"");
}

Test(csv, neutralizes_cells_a_spreadsheet_would_run_as_formulas)
{
    cr_assert_str_eq(csv_of("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
    cr_assert_str_eq(csv_of("+14155550100"), "\"'+14155550100\"");
    cr_assert_str_eq(csv_of("-2+3"), "\"'-2+3\"");
    cr_assert_str_eq(csv_of("@SUM(A1)"), "\"'@SUM(A1)\"");
    cr_assert_str_eq(csv_of("\tx"), "\"'\tx\"");
    cr_assert_str_eq(csv_of("a=b"), "\"a=b\"");
}

Test(csv, separates_cells_with_commas_and_records_with_crlf)
{
    struct cu_buf b;
    cu_buf_init(&b);
    cu_csv_cell(&b, "a", 1, 1);
    cu_csv_cell(&b, "b", 1, 0);
    cu_csv_end(&b);
    cr_assert_str_eq(cu_buf_cstr(&b), "\"a\",\"b\"\r\n");
    cu_buf_cleanup(&b);
}
