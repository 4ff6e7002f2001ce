/* Helpers every use case shares: validation problems, tenant ids, unknown members, pages,
 * per-item problem objects and the reveal counters. */
#include "service/svc.h"

#include "core/metrics.h"

#include "storage/db.h"
#include "storage/keystore.h"

#include <stdio.h>

#include <string.h>

void
cu_problem_add(struct cu_problems *p, const char *pointer, const char *detail)
{
    if (p->errors == NULL) {
        p->errors = json_array();
    }
    if (json_array_size(p->errors) >= CU_MAX_PROBLEMS) {
        return;
    }
    json_array_append_new(p->errors, json_pack("{s:s, s:s}", "pointer", pointer, "detail", detail));
}

int
cu_tenant_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || n > 63) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && c == '-');
        if (!ok) {
            return 0;
        }
    }
    return 1;
}

size_t
cu_unknown_members(json_t *obj, const char *const *allowed)
{
    size_t unknown = 0;
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        size_t i = 0;
        while (allowed[i] != NULL && strcmp(allowed[i], key) != 0) {
            i++;
        }
        unknown += allowed[i] == NULL;
    }
    return unknown;
}

json_t *
cu_page_json(const struct cu_db_result *r, int limit, const char *key, int cursor_col,
             json_t *(*row)(const struct cu_db_result *r, int i, void *ctx), void *ctx)
{
    json_t *list = json_array();
    int n = cu_res_rows(r);
    for (int i = 0; i < n && i < limit; i++) {
        json_t *item = row(r, i, ctx);
        if (item != NULL) {
            json_array_append_new(list, item);
        }
    }
    json_t *next = n > limit ? json_string(cu_res_text(r, limit - 1, cursor_col)) : json_null();
    return json_pack("{s:o, s:o}", key, list, "next_cursor", next);
}

void
cu_count_reveal(enum cu_level level)
{
    static const char *const names[] = {"reveals_none", "reveals_redacted", "reveals_masked",
                                        "reveals_plain"};
    cu_metrics_count(names[level], 1);
}

json_t *
cu_item_error(enum cu_err e, const char *detail, json_t *errors)
{
    char type[96];
    snprintf(type, sizeof(type), "https://custos.dev/problems/%s", cu_err_slug(e));
    json_t *o = json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title", cu_err_title(e), "status",
                          cu_err_status(e), "detail", detail != NULL ? detail : cu_err_title(e));
    if (errors != NULL) {
        json_object_set_new(o, "errors", errors);
    }
    return o;
}

enum cu_err
cu_tenants_each(struct cu_svc *s, cu_tenant_fn fn, void *ctx)
{
    enum { PAGE = 200 };
    char after[64] = "";
    for (;;) {
        struct cu_tx *tx = NULL;
        struct cu_arena *arena = cu_arena_new();
        struct cu_db_result *r = NULL;
        enum cu_err rc = cu_tx_begin(s->db, NULL, &tx);
        if (rc == CU_OK) {
            rc = cu_store_tenant_list(tx, after, PAGE, arena, &r);
        }
        cu_tx_abort(&tx);
        int n = rc == CU_OK ? cu_res_rows(r) : 0;
        for (int i = 0; rc == CU_OK && i < n; i++) {
            if (fn(s, cu_res_text(r, i, CU_COL_TENANT_ID), ctx) == CU_ERR_UNAVAILABLE) {
                rc = CU_ERR_UNAVAILABLE;
            }
        }
        if (rc == CU_OK && n > 0) {
            snprintf(after, sizeof(after), "%s", cu_res_text(r, n - 1, CU_COL_TENANT_ID));
        }
        cu_arena_free(arena);
        if (rc != CU_OK || n < PAGE) {
            return rc;
        }
    }
}
