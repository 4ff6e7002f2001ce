/* libFuzzer target: the JWT pre-parser (split, strict base64url, header and payload JSON, header
 * rules) on raw bytes, then the whole bearer path of a dev-mode verifier (HS256 secret, no JWKS)
 * on the same bytes. Build line: see scripts/fuzz.sh. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "core/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cu_auth *auth;

static void
init_auth(void)
{
    static const char secret[] = "fuzz-secret-0123456789abcdef-0123456789";
    struct cu_auth_opts o = {0};
    o.issuer = "https://idp.example.com/";
    o.audience = "custos";
    o.dev = 1;
    o.hs256_secret = (const uint8_t *)secret;
    o.hs256_secret_len = sizeof(secret) - 1;
    o.cache_entries = 64;
    o.leeway_seconds = 60;
    if (cu_auth_new(&o, &auth) != CU_OK) {
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (auth == NULL) {
        init_auth();
    }
    struct cu_arena *arena = cu_arena_new();
    struct cu_jwt_parts parts;
    /* the pre-parser takes a length: give it the bytes as they are, no terminator */
    uint8_t *exact = cu_xmalloc(size);
    memcpy(exact, data, size);
    if (cu_jwt_preparse((const char *)exact, size, arena, &parts) == CU_OK) {
        /* what it returns must be consistent with what it was given */
        if (parts.sig_len == 0 || parts.signing_input_len >= size || parts.header == NULL ||
            parts.payload == NULL || parts.alg == CU_JWT_ALG_NONE) {
            abort();
        }
    }
    free(exact);

    char *header = cu_xmalloc(size + 8);
    memcpy(header, "Bearer ", 7);
    memcpy(header + 7, data, size);
    header[size + 7] = '\0';
    struct cu_principal who;
    if (cu_auth_verify(auth, header, 1700000000LL, arena, &who) == CU_OK && who.sub == NULL) {
        abort();
    }
    free(header);
    cu_arena_free(arena);
    return 0;
}
