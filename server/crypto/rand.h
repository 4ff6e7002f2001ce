/* Random bytes from OpenSSL's DRBG through a small per-thread pool.
 * Invariant: no pooled byte is handed out twice, in this process or in a forked child. */
#ifndef CU_CRYPTO_RAND_H
#define CU_CRYPTO_RAND_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Bytes per pool refill, and the largest request served from the pool. */
#define CU_RAND_POOL_SIZE 512
#define CU_RAND_POOL_DIRECT 128

/* Fills out[0..n) with cryptographically secure random bytes for public or short-lived values
 * (nonces, tokens). Small requests are served from a per-thread pool that is refilled with one
 * RAND_bytes call and wiped as it is consumed; requests over CU_RAND_POOL_DIRECT bytes go straight
 * to RAND_bytes. Fork safety: a pthread_atfork child handler bumps a generation counter, and a
 * pool filled in another generation is discarded, so a child never repeats its parent's bytes
 * (OpenSSL reseeds its own DRBG in the child). A child created by a raw clone(2) without fork(3)
 * is not covered. Returns CU_ERR_CRYPTO when the DRBG fails (out is then zeroed). */
enum cu_err cu_rand_bytes(uint8_t *out, size_t n) CU_WUR;

/* Fills out[0..n) from OpenSSL's private DRBG (RAND_priv_bytes), never through the pool, so that
 * future key bytes do not wait in ordinary memory. For keys. Returns CU_ERR_CRYPTO on failure
 * (out is then zeroed). */
enum cu_err cu_rand_priv_bytes(uint8_t *out, size_t n) CU_WUR;

#endif
