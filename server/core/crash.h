/* A crash leaves its reason in the log: a fatal signal writes one JSON line and the stack (raw
 * return addresses and symbols, no data) to stderr, then the process dies of that signal as it
 * would have. */
#ifndef CU_CORE_CRASH_H
#define CU_CORE_CRASH_H

/* Installs the handlers (SIGABRT always; SIGSEGV, SIGBUS, SIGFPE and SIGILL only outside
 * AddressSanitizer builds, whose own report is better). Call once, early. */
void cu_crash_report_install(void);

#endif
