/* Fatal-signal report: see crash.h. The handler only calls async-signal-safe functions (write,
 * raise) and backtrace(3), which is primed at install so that it does not load libgcc inside a
 * handler. */
#include "core/crash.h"

#include <execinfo.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void
on_fatal(int sig)
{
    char line[96];
    int n = snprintf(line, sizeof(line),
                     "{\"level\":\"fatal\",\"msg\":\"crashed\",\"signal\":\"%d\"}\n", sig);
    if (n > 0 && write(STDERR_FILENO, line, (size_t)n) < 0) {
        /* nothing more to try */
    }
    void *frames[64];
    int depth = backtrace(frames, 64);
    backtrace_symbols_fd(frames, depth, STDERR_FILENO);
    /* SA_RESETHAND restored the default action: die of the signal itself */
    raise(sig);
}

void
cu_crash_report_install(void)
{
    void *prime[1];
    (void)backtrace(prime, 1);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_fatal;
    sa.sa_flags = SA_RESETHAND | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGABRT, &sa, NULL);
#ifndef __SANITIZE_ADDRESS__
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGFPE, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
#endif
}
