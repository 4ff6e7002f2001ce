/* The bench's SQL (tests/bench/sql/) runs the service's statements: each statement a bench file
 * claims to run is the service's own text (storage/vaultstore.c) with its parameters replaced
 * as the file documents. A statement changed in the service and not in the bench fails here. */
#include "storage/vaultstore.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *
slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s (run from the repository root)", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

/* s with every occurrence of from replaced by to (heap). */
static char *
replace(const char *s, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), n = 0;
    for (const char *p = strstr(s, from); p != NULL; p = strstr(p + fl, from)) {
        n++;
    }
    char *out = malloc(strlen(s) + n * (tl > fl ? tl - fl : 0) + 1);
    char *o = out;
    for (const char *p = s;;) {
        const char *q = strstr(p, from);
        if (q == NULL) {
            strcpy(o, p);
            break;
        }
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, to, tl);
        o += tl;
        p = q + fl;
    }
    return out;
}

/* Runs of spaces become one, in place (outside literals they mean nothing to SQL; the service's
 * statements are indented across C string pieces). */
static char *
squeeze(char *s)
{
    char *o = s;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p == ' ' && o > s && o[-1] == ' ') {
            continue;
        }
        *o++ = *p;
    }
    *o = '\0';
    return s;
}

/* Asserts that file holds statement name with $1, $2 and $3 replaced by p1, p2 and p3. */
static void
assert_runs3(const char *file, const char *name, const char *p1, const char *p2, const char *p3)
{
    const struct cu_stmt *st = cu_store_stmt(name);
    cr_assert_not_null(st, "no statement %s", name);
    char *a0 = replace(st->sql, "$3", p3);
    char *a = replace(a0, "$1", p1);
    free(a0);
    char *want = replace(a, "$2", p2);
    /* pgbench reads ':' as a variable: the files spell the one in a format string \x3a */
    char *raw = slurp(file);
    char *b = replace(raw, "E'YYYY-MM-DD\"T\"HH24\\x3aMI\\x3aSS.MS\"Z\"'",
                      "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'");
    squeeze(want);
    squeeze(b);
    cr_assert_not_null(strstr(b, want), "%s does not run the service's %s:\n%s", file, name, want);
    free(a);
    free(want);
    free(raw);
    free(b);
}

static void
assert_runs(const char *file, const char *name, const char *p1, const char *p2)
{
    assert_runs3(file, name, p1, p2, "$3");
}

Test(bench_sql, detokenize_runs_the_services_statements)
{
    const char *f = "tests/bench/sql/detokenize.sql";
    assert_runs(f, "purpose_get", ":tenant", "'support'");
    assert_runs(f, "detokenize", ":tenant", "(SELECT b.tokens FROM bench_tokens b WHERE b.i = :i)");
    assert_runs3(f, "reveal_gates", ":tenant", "'support'",
                 "(SELECT b.tokens FROM bench_tokens b WHERE b.i = :i)");
    assert_runs(f, "audit_insert", ":tenant",
                "(SELECT b.audit FROM bench_tokens b WHERE b.i = :i)");
}

Test(bench_sql, detokenize_batch_runs_the_services_statements)
{
    const char *f = "tests/bench/sql/detokenize_batch.sql";
    assert_runs(f, "purpose_get", ":tenant", "'support'");
    assert_runs(f, "detokenize", ":tenant",
                "(SELECT b.tokens FROM bench_batches b WHERE b.i = :i)");
    assert_runs3(f, "reveal_gates", ":tenant", "'support'",
                 "(SELECT b.tokens FROM bench_batches b WHERE b.i = :i)");
    assert_runs(f, "audit_insert", ":tenant",
                "(SELECT b.audit FROM bench_batches b WHERE b.i = :i)");
}
