/* Key material on OpenSSL's secure heap, wiped on free; constant-time comparison and wiping.
 * Invariant: every byte of a struct cu_secret is zeroed before its memory is released. */
#ifndef CU_CRYPTO_SECRET_H
#define CU_CRYPTO_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/mem.h" /* cu_wipe: the one wipe, for secrets too */

struct cu_secret {
    uint8_t *data; /* on the secure heap when it is active, else the ordinary heap */
    size_t len;
};

/* Sets up OpenSSL's secure heap (mlock'ed, excluded from core dumps) of at least `size` bytes,
 * rounded up to a power of two. Call once, before threads start. A failure is tolerated: secrets
 * then live on the ordinary heap (still wiped on free) and the function returns false.
 * Returns true when the secure heap is in use. */
bool cu_secure_heap_init(size_t size);
/* Whether cu_secure_heap_init succeeded. */
bool cu_secure_heap_active(void);

/* A zeroed secret of `len` bytes; the caller owns it and releases it with cu_secret_free.
 * When the secure heap is full it falls back to the ordinary heap; aborts when out of memory. */
struct cu_secret *cu_secret_new(size_t len);
/* A new secret holding a copy of p[0..len); the caller owns it. The caller still owns p. */
struct cu_secret *cu_secret_new_copy(const uint8_t *p, size_t len);
/* A copy of s, owned by the caller. */
struct cu_secret *cu_secret_dup(const struct cu_secret *s);
/* Wipes and frees s. NULL is fine. */
void cu_secret_free(struct cu_secret *s);
/* For __attribute__((cleanup)): frees *p. */
void cu_secret_freep(struct cu_secret **p);
/* A function-scope secret pointer freed (wiped) however the scope is left:
 * `CU_SECRET_AUTO struct cu_secret *k = NULL;` */
#define CU_SECRET_AUTO __attribute__((cleanup(cu_secret_freep)))

/* Constant-time equality of a[0..n) and b[0..n) (CRYPTO_memcmp): true when equal. */
bool cu_ct_equal(const void *a, const void *b, size_t n);

#endif
