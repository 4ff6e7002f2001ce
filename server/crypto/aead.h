/* AES-256-GCM: raw operations for known-answer tests and the product layout
 * version (1) | nonce (12) | ciphertext | tag (16).
 * Invariant: a failed open releases no plaintext. */
#ifndef CU_CRYPTO_AEAD_H
#define CU_CRYPTO_AEAD_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define CU_AEAD_KEY_LEN 32
#define CU_AEAD_NONCE_LEN 12
#define CU_AEAD_TAG_LEN 16
#define CU_AEAD_VERSION 0x01
#define CU_AEAD_OVERHEAD (1 + CU_AEAD_NONCE_LEN + CU_AEAD_TAG_LEN)
/* Inputs larger than this are refused (EVP takes int lengths). */
#define CU_AEAD_MAX_LEN ((size_t)1 << 30)

/* AES-256-GCM encryption with a caller-chosen IV of any length >= 1 (for known-answer tests; the
 * product uses cu_aead_seal). Borrows every input. ct_out holds pt_len bytes (may equal pt);
 * tag_out holds 16. Returns CU_ERR_CRYPTO when OpenSSL fails or a length is out of range. */
enum cu_err cu_aead_encrypt_raw(const uint8_t key[CU_AEAD_KEY_LEN], const uint8_t *iv,
                                size_t iv_len, const uint8_t *aad, size_t aad_len,
                                const uint8_t *pt, size_t pt_len, uint8_t *ct_out,
                                uint8_t tag_out[CU_AEAD_TAG_LEN]) CU_WUR;
/* The inverse of cu_aead_encrypt_raw; pt_out holds ct_len bytes. Returns CU_ERR_CRYPTO when the
 * tag does not verify or OpenSSL fails; pt_out[0..ct_len) is then zeroed. */
enum cu_err cu_aead_decrypt_raw(const uint8_t key[CU_AEAD_KEY_LEN], const uint8_t *iv,
                                size_t iv_len, const uint8_t *aad, size_t aad_len,
                                const uint8_t *ct, size_t ct_len,
                                const uint8_t tag[CU_AEAD_TAG_LEN], uint8_t *pt_out) CU_WUR;

/* Bytes cu_aead_seal writes for pt_len bytes of plaintext. */
size_t cu_aead_sealed_len(size_t pt_len);
/* Bytes of plaintext in a sealed message of in_len bytes (0 when it is too short). */
size_t cu_aead_opened_len(size_t in_len);

/* Encrypts pt under key with a fresh random 96-bit nonce, binding aad, and writes
 * version | nonce | ciphertext | tag to out, which must hold cu_aead_sealed_len(pt_len) bytes;
 * *out_len receives that length. Borrows every input. A key must not seal more than 2^32
 * messages (random-nonce bound of SP 800-38D); per-subject keys stay far below.
 * Returns CU_ERR_CRYPTO when the DRBG or OpenSSL fails or pt_len > CU_AEAD_MAX_LEN. */
enum cu_err cu_aead_seal(const uint8_t key[CU_AEAD_KEY_LEN], const uint8_t *aad, size_t aad_len,
                         const uint8_t *pt, size_t pt_len, uint8_t *out, size_t *out_len) CU_WUR;
/* Checks the version byte and length, decrypts and verifies in[0..in_len) sealed under key with
 * aad, writing the plaintext to out, which must hold cu_aead_opened_len(in_len) bytes; *out_len
 * receives that length. On any failure returns CU_ERR_CRYPTO, sets *out_len to 0 and leaves
 * out[0..cu_aead_opened_len(in_len)) zeroed. */
enum cu_err cu_aead_open(const uint8_t key[CU_AEAD_KEY_LEN], const uint8_t *aad, size_t aad_len,
                         const uint8_t *in, size_t in_len, uint8_t *out, size_t *out_len) CU_WUR;

#endif
