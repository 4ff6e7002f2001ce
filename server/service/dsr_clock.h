/* The statutory clock of data-subject requests, as pure arithmetic on UTC seconds (no clock,
 * no database: tests/unit/test_dsr_clock.c). GDPR Art. 12(3) with Regulation 1182/71 Art. 3:
 * one month ends on the day of the next month with the date of receipt, or on that month's last
 * day when it has no such date (received 31 January → due 28 or 29 February); an extension by
 * two further months counts three months from receipt. CCPA (Cal. Civ. Code 1798.130(a)(2)):
 * 45 calendar days, extended once by 45 more. A request is due at the end (23:59:59 UTC) of its
 * due day. */
#ifndef CU_SERVICE_DSR_CLOCK_H
#define CU_SERVICE_DSR_CLOCK_H

enum cu_dsr_reg { CU_DSR_GDPR, CU_DSR_CCPA };

/* The due time (seconds since the epoch) of a request received at received (seconds since the
 * epoch, UTC); extended: 0 or 1. */
long long cu_dsr_due(enum cu_dsr_reg reg, long long received, int extended);

/* Days in month m (1..12) of year y (proleptic Gregorian). */
int cu_days_in_month(long long y, int m);

#endif
