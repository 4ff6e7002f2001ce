/* A crash leaves its reason in the log (core/crash.c): a server that receives a fatal signal
 * writes a "crashed" line and its stack before it dies of that signal. */
#include "harness.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *
slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "no log at %s", path);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

Test(crash, an_abort_leaves_a_crashed_line_and_a_stack_in_the_log, .timeout = 60)
{
    struct t_server s;
    cr_assert_eq(t_spawn(NULL, 0, &s), 0);
    cr_assert_eq(kill(s.pid, SIGABRT), 0);
    int status = 0;
    cr_assert_eq(waitpid(s.pid, &status, 0), s.pid);
    s.pid = 0;
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
              "the server did not die of SIGABRT (status %d)", status);
    const char *log = slurp(s.log_path);
    cr_assert_not_null(strstr(log, "\"msg\":\"crashed\",\"signal\":\"6\""), "%s", log);
    /* backtrace_symbols_fd names the binary in each frame */
    cr_assert_not_null(strstr(log, "custos("), "no stack in the log: %s", log);
}
