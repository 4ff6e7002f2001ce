/* The bench's SQL (tests/bench/sql/) runs the service's statements: each statement a bench file
 * claims to run is the service's own text with its parameters replaced as the file documents,
 * in the service's order. A statement changed in the service and not in the bench fails here.
 *
 * The statement table is read as compiled: the storage files are included here, so that the
 * statements they keep to themselves (static) are reachable without widening their interface.
 * This object then defines every function of those files, and the linker takes none of their
 * objects from the library.
 *
 * Every file of tests/bench/sql/ is checked: the service-SQL ceilings statement by statement, the
 * bare ceilings (bare_*.sql) for the shape of tokens they stand for. */
#include "storage/keystore.c"
#include "storage/ratestore.c"
#include "storage/vaultstore.c"

#include <criterion/criterion.h>
#include <dirent.h>
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

/* A bench file's text as the tests compare it: squeezed, and the ':' of the timestamp format,
 * which pgbench would read as a variable and the files spell \x3a, back to ':'. */
static char *
bench_text(const char *file)
{
    char *raw = slurp(file);
    char *b = replace(raw, "E'YYYY-MM-DD\"T\"HH24\\x3aMI\\x3aSS.MS\"Z\"'",
                      "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'");
    free(raw);
    return squeeze(b);
}

enum { MAX_PARAMS = 9 };

/* The length of the expression that stands for a parameter at t: at least one character,
 * balanced in parentheses, quotes kept whole, ended by stop at depth 0 (the statement's next
 * character after the parameter). 0 when there is none. */
static size_t
expr_len(const char *t, char stop)
{
    int depth = 0;
    const char *p = t;
    for (;;) {
        if (*p == '\0') {
            return 0;
        }
        if (p > t && depth == 0 && *p == stop) {
            return (size_t)(p - t);
        }
        if (*p == '\'') {
            const char *q = strchr(p + 1, '\'');
            if (q == NULL) {
                return 0;
            }
            p = q + 1;
            continue;
        }
        if (*p == '(') {
            depth++;
        } else if (*p == ')') {
            if (depth == 0) {
                return 0;
            }
            depth--;
        } else if (*p == ';' && depth == 0) {
            return 0; /* not past the end of the bench's statement */
        }
        p++;
    }
}

/* Whether the statement sql matches the text at t: $n is the parameter's given text, or with
 * none given, any expression, the same at every occurrence of $n. Sets *end past the match. */
static int
match_at(const char *sql, const char *t, const char *const *given, const char **end)
{
    const char *bound[MAX_PARAMS + 1] = {0};
    size_t blen[MAX_PARAMS + 1] = {0};
    const char *s = sql;
    while (*s != '\0') {
        if (*s == '$' && s[1] >= '1' && s[1] <= '9') {
            int n = s[1] - '0';
            s += 2;
            if (bound[n] == NULL && given[n] != NULL) {
                bound[n] = given[n];
                blen[n] = strlen(given[n]);
            }
            if (bound[n] == NULL) {
                size_t len = expr_len(t, *s);
                if (len == 0) {
                    return 0;
                }
                bound[n] = t;
                blen[n] = len;
            } else if (strncmp(t, bound[n], blen[n]) != 0) {
                return 0;
            }
            t += blen[n];
            continue;
        }
        if (*s != *t) {
            return 0;
        }
        s++;
        t++;
    }
    *end = t;
    return 1;
}

/* Asserts that the bench file text (bench_text) runs stmt, with $n replaced by params[n - 1]
 * (NULL: the file's own expression, one per parameter), somewhere at or after *from; moves *from
 * past it, so that successive calls check the service's order. */
static void
assert_runs(const char *text, const char *file, const struct cu_stmt *st, const char **from,
            const char *const *params, int nparams)
{
    cr_assert_leq(nparams, MAX_PARAMS);
    const char *given[MAX_PARAMS + 1] = {0};
    for (int i = 0; i < nparams; i++) {
        given[i + 1] = params[i];
    }
    char *want = squeeze(strdup(st->sql));
    const char *end = NULL;
    for (const char *t = *from; *t != '\0'; t++) {
        if (*t == *want && match_at(want, t, given, &end)) {
            *from = end;
            free(want);
            return;
        }
    }
    int anywhere = 0;
    for (const char *t = text; *t != '\0' && !anywhere; t++) {
        anywhere = *t == *want && match_at(want, t, given, &end);
    }
    cr_assert_fail("%s does not run the service's %s%s:\n%s", file, st->name,
                   anywhere ? " in the service's order" : "", want);
}

#define RUNS(text, file, stmt, from, ...)                                                          \
    do {                                                                                           \
        const char *const ps_[] = {__VA_ARGS__};                                                   \
        assert_runs(text, file, stmt, from, ps_, (int)(sizeof(ps_) / sizeof(ps_[0])));             \
    } while (0)

/* The matcher itself: a parameter given, one taken from the file and the same at each use, an
 * expression that stops where the statement goes on. */
Test(bench_sql, matcher)
{
    const char *f = "select f(replace('a:b', '@R@', :r)::json) where x = :tenant;";
    const char *e = NULL;
    const char *const p[MAX_PARAMS + 1] = {NULL, ":tenant"};
    cr_assert(match_at("select f($2::json) where x = $1", f, p, &e));
    cr_assert_str_eq(e, ";");
    cr_assert_not(match_at("select f($2::json) where x = $2", f, p, &e));
    const char *const q[MAX_PARAMS + 1] = {NULL, ":other"};
    cr_assert_not(match_at("select f($2::json) where x = $1", f, q, &e));
    cr_assert_not(match_at("select g($2::json) where x = $1", f, p, &e));
}

/* The statements the bench reaches through cu_store_stmt are the ones included here. */
Test(bench_sql, statement_table)
{
    cr_assert_eq(cu_store_stmt("write_batch"), &q_write_batch);
    cr_assert_eq(cu_store_stmt("detokenize"), &q_detokenize);
    cr_assert_eq(cu_store_stmt("reveal_gates"), &cu_q_reveal_gates);
}

Test(bench_sql, detokenize_runs_the_services_statements)
{
    const char *f = "tests/bench/sql/detokenize.sql";
    char *t = bench_text(f);
    const char *at = t;
    RUNS(t, f, &q_purpose_get, &at, ":tenant", "'support'");
    RUNS(t, f, &cu_q_reveal_gates, &at, ":tenant", "'support'",
         "(SELECT b.tokens FROM bench_tokens b WHERE b.i = :i)");
    RUNS(t, f, &q_detokenize, &at, ":tenant",
         "(SELECT b.tokens FROM bench_tokens b WHERE b.i = :i)");
    RUNS(t, f, &q_audit_insert, &at, ":tenant",
         "(SELECT b.audit FROM bench_tokens b WHERE b.i = :i)");
    free(t);
}

Test(bench_sql, detokenize_batch_runs_the_services_statements)
{
    const char *f = "tests/bench/sql/detokenize_batch.sql";
    char *t = bench_text(f);
    const char *at = t;
    RUNS(t, f, &q_purpose_get, &at, ":tenant", "'support'");
    RUNS(t, f, &cu_q_reveal_gates, &at, ":tenant", "'support'",
         "(SELECT b.tokens FROM bench_batches b WHERE b.i = :i)");
    RUNS(t, f, &q_detokenize, &at, ":tenant",
         "(SELECT b.tokens FROM bench_batches b WHERE b.i = :i)");
    RUNS(t, f, &q_audit_insert, &at, ":tenant",
         "(SELECT b.audit FROM bench_batches b WHERE b.i = :i)");
    free(t);
}

/* tokenize: the rate limit's transaction (server/http/dispatch.c rate_check), then the
 * collection, the subject keys, the tenant's lock and the one write of records, values, tokens,
 * token names and audit entries (server/service/tokenize.c). */
static void
assert_tokenize(const char *f, const char *cost)
{
    char *t = bench_text(f);
    const char *at = t;
    RUNS(t, f, &q_rate_async, &at, NULL);
    RUNS(t, f, &q_rate_hit, &at, ":tenant", "'tokenize'", "'bench-client'", ":ratewindow",
         ":ratelimit", cost);
    RUNS(t, f, &q_coll_get_share, &at, ":tenant", "'c'");
    RUNS(t, f, &q_sk_use_batch, &at, ":tenant", NULL);
    RUNS(t, f, &q_tenant_lock_share, &at, ":tenant");
    RUNS(t, f, &q_sk_insert_batch, &at, ":tenant", NULL);
    RUNS(t, f, &q_write_batch, &at, ":tenant", NULL, NULL, NULL, NULL);
    free(t);
}

Test(bench_sql, tokenize_runs_the_services_statements)
{
    assert_tokenize("tests/bench/sql/tokenize.sql", "1");
}

Test(bench_sql, tokenize_batch_runs_the_services_statements)
{
    assert_tokenize("tests/bench/sql/tokenize_batch.sql", "100");
}

/* The plan check of scripts/bench.sh prepares the service's statements under their own names. */
Test(bench_sql, plan_check_prepares_the_services_statements)
{
    const char *f = "scripts/bench.sh";
    char *raw = bench_text(f);
    char *t = replace(raw, "\\$", "$"); /* the heredoc escapes them */
    const char *at = t;
    RUNS(t, f, &q_sk_use_batch, &at, "$1", "$2");
    RUNS(t, f, &q_detokenize, &at, "$1", "$2");
    free(raw);
    free(t);
}

/* "INSERT INTO <table> (<columns>)" of sql with its column list, or NULL (heap). */
static char *
insert_columns(const char *sql, const char *table)
{
    char head[64];
    snprintf(head, sizeof(head), "INSERT INTO %s (", table);
    const char *p = strstr(sql, head);
    if (p == NULL) {
        return NULL;
    }
    const char *q = strchr(p + strlen(head), ')');
    if (q == NULL) {
        return NULL;
    }
    return strndup(p + strlen(head), (size_t)(q - p - strlen(head)));
}

/* The bare ceilings write and read bench_bare (scripts/bench.sh: LIKE tokens, the same primary
 * key) with the columns the service writes to tokens, and read it by the key the service's
 * detokenize probes: a column added to or dropped from the service's INSERT fails here. */
Test(bench_sql, bare_ceilings_use_the_shape_of_tokens)
{
    char *want = insert_columns(q_write_batch.sql, "tokens");
    cr_assert_not_null(want, "the service's write_batch has no INSERT INTO tokens (...)");
    const char *files[] = {"tests/bench/sql/bare_insert.sql", "tests/bench/sql/bare_insert_batch.sql"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char *t = bench_text(files[i]);
        char *got = insert_columns(t, "bench_bare");
        cr_assert_not_null(got, "%s inserts nothing into bench_bare", files[i]);
        cr_assert_str_eq(got, want, "%s inserts (%s), the service inserts into tokens (%s)", files[i],
                         got, want);
        free(got);
        free(t);
    }
    free(want);
    char *sel = bench_text("tests/bench/sql/bare_select.sql");
    cr_assert_not_null(strstr(q_detokenize.sql, "t.tenant_id = $1 AND t.token = "),
                       "the service's detokenize no longer probes tokens by (tenant_id, token)");
    cr_assert_not_null(strstr(sel, "FROM bench_bare WHERE tenant_id = 'bench' AND token = "),
                       "bare_select.sql does not probe bench_bare by (tenant_id, token)");
    free(sel);
    char *sh = slurp("scripts/bench.sh");
    cr_assert_not_null(strstr(sh, "CREATE TABLE bench_bare (LIKE tokens INCLUDING DEFAULTS);"));
    cr_assert_not_null(strstr(sh, "ALTER TABLE bench_bare ADD PRIMARY KEY (tenant_id, token, record_id, field);"));
    free(sh);
}

/* Every SQL file of the bench is one the tests above check: a new file needs its test. */
Test(bench_sql, every_sql_file_is_checked)
{
    static const char *const checked[] = {
        "detokenize.sql", "detokenize_batch.sql", "tokenize.sql", "tokenize_batch.sql",
        "bare_select.sql", "bare_insert.sql",     "bare_insert_batch.sql",
    };
    DIR *d = opendir("tests/bench/sql");
    cr_assert_not_null(d, "cannot open tests/bench/sql (run from the repository root)");
    int n = 0;
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 4, ".sql") != 0) {
            continue;
        }
        int found = 0;
        for (size_t i = 0; i < sizeof(checked) / sizeof(checked[0]); i++) {
            found |= strcmp(e->d_name, checked[i]) == 0;
        }
        cr_expect(found, "tests/bench/sql/%s is checked by no test of test_bench_sql.c", e->d_name);
        n++;
    }
    closedir(d);
    cr_assert_eq(n, (int)(sizeof(checked) / sizeof(checked[0])), "a checked bench SQL file is missing");
}
