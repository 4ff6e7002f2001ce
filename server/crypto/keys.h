/* Key generation, wrapping (AES-256-GCM, layout of cu_aead_seal), the root key file and its
 * key-check value. Invariant: no error reason and no log line ever carries key bytes. */
#ifndef CU_CRYPTO_KEYS_H
#define CU_CRYPTO_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "crypto/secret.h"

#define CU_KEY_LEN 32
/* Largest root key file read; anything longer is refused unread. */
#define CU_ROOT_KEY_FILE_MAX 1024
/* Base64 of 32 bytes (44 characters) and its NUL fit in this buffer. */
#define CU_KEYGEN_BUF 64

/* A new key of len random bytes from the private DRBG, in *out, which the caller owns and frees
 * with cu_secret_free. Returns CU_ERR_CRYPTO when the DRBG fails (*out is then NULL). */
enum cu_err cu_key_generate(size_t len, struct cu_secret **out) CU_WUR;

/* Encrypts key under kek (32 bytes) with aad (NUL-terminated; it names what the key belongs to,
 * e.g. "tenant/<id>/kek/1", so a wrapped key cannot be moved to another owner). *out is a heap
 * buffer (cu_xmalloc) of *out_len bytes that the caller frees; it holds no secret in clear.
 * Borrows kek, aad and key. Returns CU_ERR_CRYPTO when kek is not 32 bytes or encryption fails
 * (*out is then NULL). */
enum cu_err cu_key_wrap(const struct cu_secret *kek, const char *aad, const struct cu_secret *key,
                        uint8_t **out, size_t *out_len) CU_WUR;
/* Decrypts in[0..in_len) wrapped by cu_key_wrap under kek with the same aad into *out, a secret
 * the caller owns. Returns CU_ERR_CRYPTO on any failure (wrong kek or aad, tampering, bad
 * length or version); *out is then NULL and no key byte is released. */
enum cu_err cu_key_unwrap(const struct cu_secret *kek, const char *aad, const uint8_t *in,
                          size_t in_len, struct cu_secret **out) CU_WUR;

/* HMAC-SHA-256(root, "custos key check v1") into out: stored at first start to recognise the
 * root key later without storing anything that reveals it. Returns CU_ERR_CRYPTO on failure. */
enum cu_err cu_key_check_value(const struct cu_secret *root, uint8_t out[32]) CU_WUR;

/* Reads the root key file at path: at most 1 KiB of base64 (standard alphabet, padded) with
 * optional whitespace around it, decoding to exactly 32 bytes. *out is a new secret the caller
 * owns. Every intermediate buffer is wiped. Returns CU_ERR_CONFIG with the reason "could not read
 * root key file ...", "root key file is larger than 1 KiB", "root key file is not valid base64"
 * or "root key must be 32 bytes, got N" (reasons name the path, never key bytes); *out is then
 * NULL. */
enum cu_err cu_root_key_load_file(const char *path, struct cu_secret **out) CU_WUR;

/* Writes a fresh random 32-byte key as base64 and a NUL to out (for `custos keygen`); the caller
 * wipes out after use. Returns CU_ERR_CRYPTO when the DRBG fails (out is then ""). */
enum cu_err cu_keygen_base64(char out[CU_KEYGEN_BUF]) CU_WUR;

#endif
