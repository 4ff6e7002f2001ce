/* A bounded, thread-safe LRU cache of unwrapped keys with a time-to-live, so the hot path does
 * not unwrap a key per request. Invariant: an entry leaves the cache wiped (cu_secret_free). */
#ifndef CU_CRYPTO_KEYCACHE_H
#define CU_CRYPTO_KEYCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "crypto/secret.h"

/* Longest id, e.g. "tenant/subject/version". */
#define CU_KEYCACHE_MAX_ID 200

struct cu_keycache;

/* A cache of at most capacity entries (0 is taken as 1), each served for ttl_seconds after it was
 * put (an entry put at `now` expires once now >= put time + ttl; 0 disables serving). Times are
 * caller-supplied monotonic seconds. The caller owns the cache; free it with cu_keycache_free.
 * Aborts when out of memory. */
struct cu_keycache *cu_keycache_new(size_t capacity, uint64_t ttl_seconds);
/* Wipes every entry and frees c. NULL is fine. */
void cu_keycache_free(struct cu_keycache *c);

/* Looks id up at time now. On a hit, marks the entry most recently used and sets *out to a copy
 * the caller owns and frees with cu_secret_free. Returns CU_ERR_NOT_FOUND (without recording a
 * reason: a miss is ordinary) when id is absent or expired (an expired entry is removed then);
 * *out is then NULL. */
enum cu_err cu_keycache_get(struct cu_keycache *c, const char *id, uint64_t now,
                            struct cu_secret **out) CU_WUR;
/* Stores a copy of key under id at time now (the caller keeps key), replacing an entry with the
 * same id and evicting the least recently used entry when full. Returns CU_ERR_INVALID when id is
 * empty or longer than CU_KEYCACHE_MAX_ID bytes. */
enum cu_err cu_keycache_put(struct cu_keycache *c, const char *id, const struct cu_secret *key,
                            uint64_t now) CU_WUR;
/* Removes id if present. */
void cu_keycache_remove(struct cu_keycache *c, const char *id);
/* Removes every entry whose id starts with prefix (e.g. "tenant/" when a tenant is deleted).
 * Returns the number removed. O(size). */
size_t cu_keycache_remove_prefix(struct cu_keycache *c, const char *prefix);
/* Removes every entry. */
void cu_keycache_clear(struct cu_keycache *c);
/* The number of entries held (expired ones included until they are looked up or evicted). */
size_t cu_keycache_size(struct cu_keycache *c);

#endif
