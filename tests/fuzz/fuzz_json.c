/* libFuzzer target: request bodies through the JSON gate (depth pre-scan + jansson). */
#include "http/http.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cu_arena *arena = cu_arena_new();
    json_t *j = NULL;
    const char *detail = NULL;
    enum cu_err rc = cu_json_parse(arena, data, size, &j, &detail);
    if (rc == CU_OK && j == NULL) {
        __builtin_trap();
    }
    if (rc != CU_OK && detail == NULL) {
        __builtin_trap();
    }
    cu_arena_free(arena);
    return 0;
}
