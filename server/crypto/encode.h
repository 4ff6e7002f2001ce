/* Strict base64 (RFC 4648 section 4, padded), base64url (section 5, unpadded) and hex.
 * Invariant: a decoder accepts exactly the strings its encoder produces, nothing else. */
#ifndef CU_CRYPTO_ENCODE_H
#define CU_CRYPTO_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Length of the padded base64 of n bytes, without the terminating NUL. */
size_t cu_base64_encoded_len(size_t n);
/* Length of the unpadded base64url of n bytes, without the terminating NUL. */
size_t cu_base64url_encoded_len(size_t n);

/* The padded base64 of in[0..len), NUL-terminated, on the heap (cu_xmalloc); the caller frees it
 * (wiping it first when `in` is secret). *out_len receives its length without the NUL. */
char *cu_base64_encode(const uint8_t *in, size_t len, size_t *out_len);
/* Writes the padded base64 of in[0..len) and a NUL to out, which holds
 * cu_base64_encoded_len(len) + 1 bytes. For fixed buffers (key output). */
void cu_base64_encode_to(const uint8_t *in, size_t len, char *out);
/* As cu_base64_encode, in the URL-safe alphabet without padding. */
char *cu_base64url_encode(const uint8_t *in, size_t len, size_t *out_len);
/* Lower-case hex of in[0..len), NUL-terminated, on the heap; the caller frees it. */
char *cu_hex_encode(const uint8_t *in, size_t len, size_t *out_len);

/* Decodes padded base64 in[0..in_len). Rejects characters outside the alphabet (whitespace
 * included), missing or misplaced padding, a length that is not a multiple of 4 and non-zero
 * unused bits. On success *out is a heap buffer (cu_xmalloc, never NULL) the caller frees, of
 * *out_len bytes. Returns CU_ERR_INVALID otherwise, with *out NULL. */
enum cu_err cu_base64_decode(const char *in, size_t in_len, uint8_t **out, size_t *out_len) CU_WUR;
/* As cu_base64_decode for unpadded base64url: '=' is rejected, as is a length of 1 mod 4. */
enum cu_err cu_base64url_decode(const char *in, size_t in_len, uint8_t **out,
                                size_t *out_len) CU_WUR;
/* The same decoder into caller storage: out holds in_len * 3 / 4 bytes (an arena buffer, a
 * stack array). On failure out is wiped and CU_ERR_INVALID returned. The only base64url
 * decoder in Custos: JWT parts and JWKS members use it too. */
enum cu_err cu_base64url_decode_to(const char *in, size_t in_len, uint8_t *out,
                                   size_t *out_len) CU_WUR;
/* Decodes hex (either case) of even length. Returns CU_ERR_INVALID otherwise, *out NULL. */
enum cu_err cu_hex_decode(const char *in, size_t in_len, uint8_t **out, size_t *out_len) CU_WUR;

#endif
