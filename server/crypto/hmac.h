/* HMAC-SHA-256 and SHA-256 (one-shot, over parts, and streaming for the audit chain).
 * Invariant: MACs are compared only with cu_ct_equal (secret.h). */
#ifndef CU_CRYPTO_HMAC_H
#define CU_CRYPTO_HMAC_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define CU_SHA256_LEN 32

/* One piece of a structured message: MAC'd as if all parts were concatenated in order. */
struct cu_part {
    const void *data;
    size_t len;
};

/* HMAC-SHA-256 of msg[0..msg_len) under key[0..key_len) into out (32 bytes). Borrows its inputs.
 * Returns CU_ERR_CRYPTO when OpenSSL fails (out is then zeroed). */
enum cu_err cu_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len,
                           uint8_t out[CU_SHA256_LEN]) CU_WUR;
/* HMAC-SHA-256 of the concatenation of parts[0..n_parts), without concatenating. Callers that
 * MAC several variable-length fields must length-prefix them (see cu_put_be32) so that the
 * boundaries are unambiguous. Returns CU_ERR_CRYPTO when OpenSSL fails (out is then zeroed). */
enum cu_err cu_hmac_sha256_parts(const uint8_t *key, size_t key_len, const struct cu_part *parts,
                                 size_t n_parts, uint8_t out[CU_SHA256_LEN]) CU_WUR;

/* SHA-256 of msg[0..len) into out. Returns CU_ERR_CRYPTO when OpenSSL fails. */
enum cu_err cu_sha256(const uint8_t *msg, size_t len, uint8_t out[CU_SHA256_LEN]) CU_WUR;

/* A streaming SHA-256 in caller storage; md is owned by it (OpenSSL type, kept opaque). */
struct cu_sha256_ctx {
    struct evp_md_ctx_st *md;
};
/* Starts a hash in c. Pair with cu_sha256_cleanup, also after a failure. Returns CU_ERR_CRYPTO
 * when OpenSSL fails. */
enum cu_err cu_sha256_init(struct cu_sha256_ctx *c) CU_WUR;
/* Feeds data[0..len). Returns CU_ERR_CRYPTO when OpenSSL fails or c was not initialised. */
enum cu_err cu_sha256_update(struct cu_sha256_ctx *c, const void *data, size_t len) CU_WUR;
/* Writes the digest; c may then only be cleaned up or initialised again. Returns CU_ERR_CRYPTO
 * when OpenSSL fails. */
enum cu_err cu_sha256_final(struct cu_sha256_ctx *c, uint8_t out[CU_SHA256_LEN]) CU_WUR;
/* Releases c's state. Safe on a zeroed or already cleaned-up c. */
void cu_sha256_cleanup(struct cu_sha256_ctx *c);

/* Writes v as 4 big-endian bytes: the length prefix for cu_hmac_sha256_parts callers. */
void cu_put_be32(uint8_t out[4], uint32_t v);

#endif
