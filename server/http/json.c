/* JSON request bodies: a depth pre-scan (jansson allows 2048 levels), then jansson with
 * duplicate keys rejected. jansson itself rejects invalid UTF-8, lone surrogates and \u0000. */
#include "http/http.h"

#include <string.h>

static void
json_decref_fn(void *p)
{
    json_decref(p);
}

/* Nesting depth of the document, counting only brackets outside strings. Stops early once
 * past the limit so a megabyte of '[' costs one pass. */
static int
depth_exceeds(const uint8_t *p, size_t len, int limit)
{
    int depth = 0;
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = p[i];
        if (in_string) {
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                in_string = 0;
            }
            continue;
        }
        if (c == '"') {
            in_string = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > limit) {
                return 1;
            }
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return 0;
}

enum cu_err
cu_json_parse(struct cu_arena *arena, const uint8_t *data, size_t len, json_t **out,
              const char **detail)
{
    *detail = NULL;
    if (len == 0) {
        *detail = "the body is empty";
        return cu_err_set(CU_ERR_BAD_JSON, __FILE__, __LINE__, "empty body");
    }
    if (depth_exceeds(data, len, CU_JSON_MAX_DEPTH)) {
        *detail = "the JSON nests too deeply";
        return cu_err_set(CU_ERR_BAD_JSON, __FILE__, __LINE__, "json deeper than %d",
                          CU_JSON_MAX_DEPTH);
    }
    json_error_t jerr;
    json_t *j = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL) {
        /* jansson's text can quote input; only its position and code go out */
        *detail = cu_arena_printf(arena, "invalid JSON at line %d column %d", jerr.line,
                                  jerr.column);
        return cu_err_set(CU_ERR_BAD_JSON, __FILE__, __LINE__, "json error code %d at %d:%d",
                          (int)json_error_code(&jerr), jerr.line, jerr.column);
    }
    cu_arena_defer(arena, json_decref_fn, j);
    *out = j;
    return CU_OK;
}
