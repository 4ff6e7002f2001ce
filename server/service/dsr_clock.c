/* Due dates of data-subject requests: calendar arithmetic on UTC days (see dsr_clock.h). */
#include "service/dsr_clock.h"

/* Days since 1970-01-01 of a civil date, and back (H. Hinnant's algorithms, exact for the
 * proleptic Gregorian calendar). */
static long long
days_from_civil(long long y, int m, int d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void
civil_from_days(long long z, long long *y, int *m, int *d)
{
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

int
cu_days_in_month(long long y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) {
        return 29;
    }
    return days[m - 1];
}

static long long
floor_div(long long a, long long b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

long long
cu_dsr_due(enum cu_dsr_reg reg, long long received, int extended)
{
    long long day = floor_div(received, 86400);
    long long due_day;
    if (reg == CU_DSR_CCPA) {
        due_day = day + (extended ? 90 : 45);
    } else {
        long long y;
        int m, d;
        civil_from_days(day, &y, &m, &d);
        int add = extended ? 3 : 1;
        long long months = y * 12 + (m - 1) + add;
        long long ty = floor_div(months, 12);
        int tm = (int)(months - ty * 12) + 1;
        int last = cu_days_in_month(ty, tm);
        due_day = days_from_civil(ty, tm, d <= last ? d : last);
    }
    return due_day * 86400 + 86399;
}
