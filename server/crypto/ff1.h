/* NIST SP 800-38G (rev. 1) FF1 format-preserving encryption over AES-128/192/256.
 * Invariant: a numeral string never leaves this module in a buffer that is not wiped. */
#ifndef CU_CRYPTO_FF1_H
#define CU_CRYPTO_FF1_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define CU_FF1_MIN_RADIX 2
#define CU_FF1_MAX_RADIX 36
/* Longest numeral string accepted: far above card and account numbers, far below 2^32. */
#define CU_FF1_MAX_LEN 56
/* SP 800-38G rev. 1: radix^minlen must be at least one million. */
#define CU_FF1_MIN_DOMAIN 1000000u

/* Shortest numeral string allowed for radix (6 for radix 10, 4 for radix 36), or 0 when the
 * radix is out of range. */
size_t cu_ff1_min_len(unsigned radix);

/* FF1-encrypts the numerals in[0..n) (each < radix) under an AES key of 16, 24 or 32 bytes with
 * the tweak tweak[0..tweak_len) (any length below 2^32; NULL when 0), writing n numerals to out
 * (may equal in). Borrows every input. Returns CU_ERR_INVALID when the radix is outside
 * 2..36, n is outside cu_ff1_min_len(radix)..CU_FF1_MAX_LEN or a numeral is >= radix;
 * CU_ERR_CRYPTO when the key length is wrong or OpenSSL fails. out is zeroed on failure. */
enum cu_err cu_ff1_encrypt(const uint8_t *key, size_t key_len, const uint8_t *tweak,
                           size_t tweak_len, unsigned radix, const uint8_t *in, size_t n,
                           uint8_t *out) CU_WUR;
/* The inverse of cu_ff1_encrypt, with the same arguments and errors. */
enum cu_err cu_ff1_decrypt(const uint8_t *key, size_t key_len, const uint8_t *tweak,
                           size_t tweak_len, unsigned radix, const uint8_t *in, size_t n,
                           uint8_t *out) CU_WUR;

/* FF1-AES-256 over a decimal string: digits (NUL-terminated, '0'..'9' only) to out, which holds
 * strlen(digits) + 1 bytes; the result is a decimal string of the same length. Returns
 * CU_ERR_INVALID for a non-digit or a length outside 6..CU_FF1_MAX_LEN, CU_ERR_CRYPTO when
 * OpenSSL fails. out is an empty string on failure. */
enum cu_err cu_ff1_encrypt_digits(const uint8_t key[32], const uint8_t *tweak, size_t tweak_len,
                                  const char *digits, char *out) CU_WUR;
/* The inverse of cu_ff1_encrypt_digits, with the same arguments and errors. */
enum cu_err cu_ff1_decrypt_digits(const uint8_t key[32], const uint8_t *tweak, size_t tweak_len,
                                  const char *digits, char *out) CU_WUR;

/* The same over 2..5 digits too: below rev. 1's one-million floor, at the 2016 edition's
 * radix^minlen >= 100. Only for the free middle digits of a card token, whose domain is fixed by
 * the product (first 6 and last 4 digits kept, one digit spent to fail the Luhn check): no
 * construction that keeps those digits can have a larger domain. */
enum cu_err cu_ff1_encrypt_small_digits(const uint8_t key[32], const uint8_t *tweak,
                                        size_t tweak_len, const char *digits, char *out) CU_WUR;
enum cu_err cu_ff1_decrypt_small_digits(const uint8_t key[32], const uint8_t *tweak,
                                        size_t tweak_len, const char *digits, char *out) CU_WUR;

#endif
