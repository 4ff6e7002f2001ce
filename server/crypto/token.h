/* Opaque tokens: random `tok_` + 22 base62 characters (128 random bits), and deterministic
 * `tokd_` + 22 base62 characters (first 128 bits of an HMAC), so the two kinds never collide. */
#ifndef CU_CRYPTO_TOKEN_H
#define CU_CRYPTO_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define CU_TOKEN_PREFIX "tok_"
#define CU_TOKEN_DET_PREFIX "tokd_"
/* Base62 digits of a 128-bit value: 62^22 > 2^128 > 62^21. */
#define CU_TOKEN_BODY_LEN 22
#define CU_TOKEN_LEN (4 + CU_TOKEN_BODY_LEN)     /* "tok_" + body */
#define CU_TOKEN_DET_LEN (5 + CU_TOKEN_BODY_LEN) /* "tokd_" + body */
/* Buffer size that holds either kind and its NUL. */
#define CU_TOKEN_BUF (CU_TOKEN_DET_LEN + 1)

/* Writes a random token "tok_" + base62(16 random bytes) and a NUL to out. The 16 bytes are read
 * as one 128-bit big-endian number and written as exactly 22 base62 digits (leading zeros kept):
 * the mapping is a bijection onto its image, so all 128 bits survive and every token is equally
 * likely. Returns CU_ERR_CRYPTO when the DRBG fails (out is then ""). */
enum cu_err cu_token_random(char out[CU_TOKEN_BUF]) CU_WUR;

/* Writes "tokd_" + base62(first 16 bytes of HMAC-SHA-256(key, be32(strlen(context)) || context
 * || value)) and a NUL to out. Same key, context and value give the same token; the length prefix
 * keeps (context, value) pairs unambiguous. Borrows its inputs. Returns CU_ERR_CRYPTO when
 * OpenSSL fails (out is then ""). */
enum cu_err cu_token_deterministic(const uint8_t key[32], const char *context, const uint8_t *value,
                                   size_t len, char out[CU_TOKEN_BUF]) CU_WUR;

/* Whether s is a token of either kind that one of the functions above can produce: the prefix,
 * exactly 22 characters of [0-9A-Za-z], encoding a value below 2^128, and nothing after. */
bool cu_token_is_wellformed(const char *s);
/* Whether s is a well-formed deterministic ("tokd_") token. */
bool cu_token_is_deterministic(const char *s);

#endif
