/* The metrics exposition: every series has a distinct label set, even for two routes that
 * share a path under different methods (GET and DELETE of /v1/tenants/{id}). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/metrics.h"
#include "core/version.h"

/* Each line's label set ("name{labels}") appears once. */
static void
expect_unique_series(const char *text)
{
    char *copy = strdup(text);
    char *lines[512];
    size_t n = 0;
    for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l != NULL && n < 512;
         l = strtok_r(NULL, "\n", &save)) {
        if (l[0] == '#') {
            continue;
        }
        char *space = strrchr(l, ' ');
        if (space != NULL) {
            *space = '\0';
        }
        for (size_t i = 0; i < n; i++) {
            cr_expect_str_neq(lines[i], l, "series repeated: %s", l);
        }
        lines[n++] = l;
    }
    free(copy);
}

Test(metrics, routes_sharing_a_path_carry_their_method)
{
    const char *routes[] = {"/v1/tenants/{id}", "/v1/tenants/{id}"};
    cu_metrics_init(routes, 2);
    cu_metrics_observe(0, "GET", 200, 0.001);
    cu_metrics_observe(1, "DELETE", 204, 0.001);
    cu_metrics_observe(1, "DELETE", 200, 0.001);
    cu_metrics_observe(0, "GET", 200, 0.001);
    cu_metrics_observe(-1, "BREW", 404, 0.001);
    struct cu_buf b;
    cu_buf_init(&b);
    cu_metrics_render(&b);
    const char *text = cu_buf_cstr(&b);
    cr_expect_not_null(strstr(text, "custos_http_requests_total{method=\"GET\",route=\"/v1/tenants/"
                                    "{id}\",status=\"200\"} 2\n"),
                       "%s", text);
    cr_expect_not_null(strstr(text, "custos_http_requests_total{method=\"DELETE\",route=\"/v1/"
                                    "tenants/{id}\",status=\"200\"} 1\n"),
                       "%s", text);
    cr_expect_not_null(strstr(text, "custos_http_request_duration_seconds_count{method=\"DELETE\","
                                    "route=\"/v1/tenants/{id}\"} 2\n"),
                       "%s", text);
    /* an unmatched request's method is the client's word: never a label */
    cr_expect_null(strstr(text, "BREW"), "%s", text);
    expect_unique_series(text);
    cu_buf_cleanup(&b);
}

/* The VERSION file's release is compiled in (the Makefile passes it to core/version.c only) and
 * exported as custos_build_info. Runs from the top of the tree, as make test does. */
Test(metrics, build_info_carries_the_version_file_release)
{
    char want[64] = "";
    FILE *f = fopen("VERSION", "r");
    cr_assert_not_null(f, "run from the top of the tree");
    cr_assert_not_null(fgets(want, sizeof(want), f));
    fclose(f);
    want[strcspn(want, "\n")] = '\0';
    cr_assert_str_eq(cu_version(), want);
    cu_metrics_init(NULL, 0);
    struct cu_buf b;
    cu_buf_init(&b);
    cu_metrics_render(&b);
    char line[160];
    snprintf(line, sizeof(line), "custos_build_info{version=\"%s\",commit=\"%s\"} 1\n", want,
             cu_version_commit());
    cr_assert_not_null(strstr(cu_buf_cstr(&b), line), "%s", cu_buf_cstr(&b));
    cu_buf_cleanup(&b);
}
