/* api/openapi.yaml and the route table (server/http/routes.c) list the same (method, path) pairs.
 * The spec is read with a small line-based parser: under the top-level `paths:` key, paths are
 * keys at 2-space indent and operations are method keys at 4-space indent. The spec's location is
 * api/openapi.yaml relative to the working directory (the repo root), or $CUSTOS_OPENAPI. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

enum { MAX_OPS = 512, MAX_PATH_LEN = 512, MAX_LINE = 4096 };

struct op {
    char method[8]; /* upper case, as in the route table */
    char path[MAX_PATH_LEN];
    int line;
};

struct spec {
    struct op ops[MAX_OPS];
    size_t n;
    int has_paths; /* a top-level `paths:` key was seen */
};

/* OpenAPI's operation keys; the route table only uses the first five, but a spec that lists any
 * of the others must fail too. */
static const char *const spec_methods[] = {"get",    "put",  "post",    "patch",
                                           "delete", "head", "options", "trace"};

static int
is_method(const char *key)
{
    for (size_t i = 0; i < sizeof(spec_methods) / sizeof(spec_methods[0]); i++) {
        if (strcmp(key, spec_methods[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Reads the mapping key that starts at s (plain, 'single' or "double" quoted) into out. Returns 1
 * when s holds `key:` followed by the end of the line, a space or a comment. */
static int
read_key(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    const char *p = s;
    if (*p == '\'' || *p == '"') {
        char quote = *p++;
        while (*p != '\0' && *p != quote) {
            if (n + 1 >= cap) {
                return 0;
            }
            out[n++] = *p++;
        }
        if (*p != quote) {
            return 0;
        }
        p++;
    } else {
        while (*p != '\0' && *p != ':' && *p != ' ') {
            if (n + 1 >= cap) {
                return 0;
            }
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    if (n == 0 || *p != ':') {
        return 0;
    }
    p++;
    return *p == '\0' || *p == ' ' || *p == '#';
}

static void
chomp(char *line)
{
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ')) {
        line[--n] = '\0';
    }
}

/* Fills spec from the YAML text in f. Fails the test on a line too long or too many
 * operations rather than miscounting. */
static void
parse_spec(FILE *f, struct spec *spec)
{
    char line[MAX_LINE];
    char path[MAX_PATH_LEN] = "";
    int in_paths = 0;
    int lineno = 0;
    memset(spec, 0, sizeof(*spec));
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        cr_assert(strchr(line, '\n') != NULL || feof(f), "line %d is longer than %d bytes", lineno,
                  MAX_LINE - 2);
        chomp(line);
        size_t indent = strspn(line, " ");
        if (line[indent] == '\0' || line[indent] == '#') {
            continue;
        }
        if (indent == 0) {
            char key[64];
            in_paths = read_key(line, key, sizeof(key)) && strcmp(key, "paths") == 0;
            spec->has_paths |= in_paths;
            path[0] = '\0';
            continue;
        }
        if (!in_paths) {
            continue;
        }
        char key[MAX_PATH_LEN];
        if (indent == 2) {
            if (!read_key(line + indent, key, sizeof(key)) || key[0] != '/') {
                path[0] = '\0'; /* an extension (x-...) or something else: not a path */
                continue;
            }
            snprintf(path, sizeof(path), "%s", key);
            continue;
        }
        if (indent != 4 || path[0] == '\0' || !read_key(line + indent, key, sizeof(key)) ||
            !is_method(key)) {
            continue;
        }
        cr_assert_lt(spec->n, (size_t)MAX_OPS, "more than %d operations in the spec", MAX_OPS);
        struct op *op = &spec->ops[spec->n++];
        for (size_t i = 0; key[i] != '\0' && i + 1 < sizeof(op->method); i++) {
            op->method[i] = (char)toupper((unsigned char)key[i]);
        }
        snprintf(op->path, sizeof(op->path), "%s", path);
        op->line = lineno;
    }
}

static void
parse_text(const char *text, struct spec *spec)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    cr_assert_not_null(f, "could not open the text as a stream");
    parse_spec(f, spec);
    fclose(f);
}

static const char *
spec_file(void)
{
    const char *env = getenv("CUSTOS_OPENAPI");
    return env != NULL && env[0] != '\0' ? env : "api/openapi.yaml";
}

static struct spec *spec;

static void
load_spec(void)
{
    spec = calloc(1, sizeof(*spec));
    cr_assert_not_null(spec);
    const char *file = spec_file();
    FILE *f = fopen(file, "r");
    cr_assert_not_null(f, "could not open %s (run from the repo root or set CUSTOS_OPENAPI)", file);
    parse_spec(f, spec);
    fclose(f);
}

static void
free_spec(void)
{
    free(spec);
    spec = NULL;
}

static int
spec_has(const struct spec *s, const char *method, const char *path)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->ops[i].method, method) == 0 && strcmp(s->ops[i].path, path) == 0) {
            return 1;
        }
    }
    return 0;
}

static int
table_has(const char *method, const char *path)
{
    for (size_t i = 0; i < cu_routes_count; i++) {
        if (strcmp(cu_routes[i].method, method) == 0 && strcmp(cu_routes[i].pattern, path) == 0) {
            return 1;
        }
    }
    return 0;
}

TestSuite(routes_spec, .init = load_spec, .fini = free_spec);

Test(routes_spec, the_spec_has_a_paths_section_with_operations)
{
    cr_assert(spec->has_paths, "%s has no top-level paths: key", spec_file());
    cr_assert_gt(spec->n, 0, "%s lists no operations under paths:", spec_file());
}

Test(routes_spec, every_route_in_the_table_is_in_the_spec)
{
    for (size_t i = 0; i < cu_routes_count; i++) {
        cr_expect(spec_has(spec, cu_routes[i].method, cu_routes[i].pattern),
                  "route %s %s (routes.c) is missing from %s", cu_routes[i].method,
                  cu_routes[i].pattern, spec_file());
    }
}

Test(routes_spec, every_operation_in_the_spec_is_in_the_table)
{
    for (size_t i = 0; i < spec->n; i++) {
        cr_expect(table_has(spec->ops[i].method, spec->ops[i].path),
                  "%s %s (%s line %d) has no route in routes.c", spec->ops[i].method,
                  spec->ops[i].path, spec_file(), spec->ops[i].line);
    }
}

Test(routes_spec, the_spec_and_the_table_count_the_same_operations)
{
    cr_assert_eq(spec->n, cu_routes_count, "%s lists %zu operations, routes.c has %zu routes",
                 spec_file(), spec->n, cu_routes_count);
}

Test(routes_spec, no_route_is_listed_twice_in_the_table)
{
    for (size_t i = 0; i < cu_routes_count; i++) {
        for (size_t j = i + 1; j < cu_routes_count; j++) {
            cr_expect(strcmp(cu_routes[i].method, cu_routes[j].method) != 0 ||
                          strcmp(cu_routes[i].pattern, cu_routes[j].pattern) != 0,
                      "routes %zu and %zu are both %s %s", i, j, cu_routes[i].method,
                      cu_routes[i].pattern);
        }
    }
}

Test(routes_spec, no_operation_is_listed_twice_in_the_spec)
{
    for (size_t i = 0; i < spec->n; i++) {
        for (size_t j = i + 1; j < spec->n; j++) {
            cr_expect(strcmp(spec->ops[i].method, spec->ops[j].method) != 0 ||
                          strcmp(spec->ops[i].path, spec->ops[j].path) != 0,
                      "%s %s is listed at lines %d and %d", spec->ops[i].method, spec->ops[i].path,
                      spec->ops[i].line, spec->ops[j].line);
        }
    }
}

/* The parser itself, on small documents. */

Test(routes_spec_parser, reads_methods_under_paths_and_ignores_other_keys)
{
    static const char text[] = "openapi: 3.0.3\n"
                               "info:\n"
                               "  title: t\n"
                               "  /not/a/path:\n"
                               "    get:\n"
                               "paths:\n"
                               "  # a comment\n"
                               "  /healthz:\n"
                               "    get:\n"
                               "      summary: x\n"
                               "      parameters:\n"
                               "        - in: query\n"
                               "  '/v1/tenants/{id}':\n"
                               "    parameters:\n"
                               "      - $ref: '#/components/parameters/TenantId'\n"
                               "    delete:\n"
                               "\n"
                               "    get: # trailing comment\r\n"
                               "  x-extension:\n"
                               "    post:\n"
                               "components:\n"
                               "  /also/not/a/path:\n"
                               "    put:\n";
    struct spec *s = calloc(1, sizeof(*s));
    cr_assert_not_null(s);
    parse_text(text, s);
    cr_assert(s->has_paths);
    cr_assert_eq(s->n, 3);
    cr_expect(spec_has(s, "GET", "/healthz"));
    cr_expect(spec_has(s, "DELETE", "/v1/tenants/{id}"));
    cr_expect(spec_has(s, "GET", "/v1/tenants/{id}"));
    cr_expect(!spec_has(s, "GET", "/not/a/path"));
    cr_expect(!spec_has(s, "PUT", "/also/not/a/path"));
    free(s);
}

Test(routes_spec_parser, finds_nothing_without_a_paths_section)
{
    static const char text[] = "openapi: 3.0.3\n"
                               "  /healthz:\n"
                               "    get:\n";
    struct spec *s = calloc(1, sizeof(*s));
    cr_assert_not_null(s);
    parse_text(text, s);
    cr_expect(!s->has_paths);
    cr_expect_eq(s->n, 0);
    free(s);
}

Test(routes_spec_parser, counts_an_operation_the_table_lacks_as_a_difference)
{
    static const char text[] = "paths:\n"
                               "  /v1/no-such-route-exists:\n"
                               "    put:\n";
    struct spec *s = calloc(1, sizeof(*s));
    cr_assert_not_null(s);
    parse_text(text, s);
    cr_assert_eq(s->n, 1);
    cr_expect_str_eq(s->ops[0].method, "PUT");
    cr_expect(!table_has(s->ops[0].method, s->ops[0].path));
    free(s);
}
