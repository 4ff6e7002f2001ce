/* Bounded LRU of verified tokens keyed by SHA-256 of the token, holding a copy of the principal.
 * Invariant: an entry is only ever put after full verification under the current generation;
 * cu_tokencache_clear bumps the generation so a verification that raced a key reload cannot
 * re-insert a token checked with the old keys. */
#ifndef CU_AUTH_TOKENCACHE_H
#define CU_AUTH_TOKENCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "auth/principal.h"
#include "core/mem.h"

struct cu_tokencache;

/* A cache of at most capacity entries (0: every lookup misses, nothing is stored). The caller
 * owns it and releases it with cu_tokencache_free (which wipes the principals). */
struct cu_tokencache *cu_tokencache_new(size_t capacity);
void cu_tokencache_free(struct cu_tokencache *c);

/* The current generation, to be passed back to cu_tokencache_put. */
uint64_t cu_tokencache_generation(struct cu_tokencache *c);

/* Looks key up. On a hit, copies the principal into arena (*out) and the time claims into
 * *times, moves the entry to the front and returns 1. Entries with now > exp + leeway are
 * dropped and count as a miss. Returns 0 on a miss. Thread-safe. */
int cu_tokencache_get(struct cu_tokencache *c, const uint8_t key[32], long long now, int leeway,
                      struct cu_arena *arena, struct cu_principal *out,
                      struct cu_token_times *times);

/* Stores a heap copy of p under key unless generation is stale; evicts the least recently
 * used entry when full. Thread-safe. */
void cu_tokencache_put(struct cu_tokencache *c, uint64_t generation, const uint8_t key[32],
                       const struct cu_principal *p, const struct cu_token_times *times);

/* Drops every entry and starts a new generation. Thread-safe. */
void cu_tokencache_clear(struct cu_tokencache *c);

void cu_tokencache_stats(struct cu_tokencache *c, uint64_t *hits, uint64_t *misses,
                         size_t *entries);

#endif
