/* Hex for tests: test vectors in, identifiers and dump-shaped bytes out. Shared by unit and
 * integration tests (no network, no database). */
#ifndef CU_TEST_HEX_H
#define CU_TEST_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Decodes the hex digits of hex (either case, even length) into out, which holds
 * strlen(hex) / 2 bytes; returns that count. A malformed test vector aborts the test. */
size_t t_unhex(const char *hex, uint8_t *out);

/* Lower-case hex of n bytes into out, which holds 2 * n + 1 chars (NUL-terminated). */
void t_hex(const void *in, size_t n, char *out);

/* Lower-case hex of n random bytes into out (2 * n + 1 chars). */
void t_random_hex(size_t n, char *out);

#endif
