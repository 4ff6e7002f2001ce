/* LRU key cache: a chained hash table keyed by SipHash-2-4 (random key per cache, so ids chosen
 * by clients cannot flood one bucket) and a doubly linked recency list; get and put are O(1). */
#include "crypto/keycache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "crypto/rand.h"

struct entry {
    struct entry *prev;  /* recency list, towards the most recently used */
    struct entry *next;  /* recency list, towards the least recently used */
    struct entry *chain; /* next entry in the same bucket */
    uint64_t hash;
    uint64_t expires;
    struct cu_secret *key;
    size_t id_len;
    char id[CU_KEYCACHE_MAX_ID + 1];
};

struct cu_keycache {
    pthread_mutex_t lock;
    struct entry **buckets;
    size_t n_buckets;   /* a power of two, at least twice the capacity */
    struct entry *head; /* most recently used */
    struct entry *tail; /* least recently used */
    size_t size;
    size_t capacity;
    uint64_t ttl;
    uint8_t sip_key[16];
};

static uint64_t
rotl(uint64_t x, int b)
{
    return x << b | x >> (64 - b);
}

static uint64_t
load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = rotl(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = rotl(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = rotl(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = rotl(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = rotl(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = rotl(v2, 32);                                                                         \
    } while (0)

/* SipHash-2-4 (Aumasson and Bernstein, reference implementation). */
static uint64_t
siphash(const uint8_t key[16], const uint8_t *in, size_t len)
{
    uint64_t k0 = load_le64(key);
    uint64_t k1 = load_le64(key + 8);
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
    uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
    uint64_t v3 = 0x7465646279746573ULL ^ k1;
    size_t full = len - len % 8;
    for (size_t i = 0; i < full; i += 8) {
        uint64_t m = load_le64(in + i);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t last = (uint64_t)len << 56;
    for (size_t i = 0; i < len % 8; i++) {
        last |= (uint64_t)in[full + i] << (8 * i);
    }
    v3 ^= last;
    SIPROUND;
    SIPROUND;
    v0 ^= last;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

struct cu_keycache *
cu_keycache_new(size_t capacity, uint64_t ttl_seconds)
{
    struct cu_keycache *c = cu_xcalloc(1, sizeof(*c));
    c->capacity = capacity ? capacity : 1;
    c->ttl = ttl_seconds;
    c->n_buckets = 16;
    while (c->n_buckets < 2 * c->capacity) {
        c->n_buckets *= 2;
    }
    c->buckets = cu_xcalloc(c->n_buckets, sizeof(*c->buckets));
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        abort();
    }
    /* A hash key is no secret worth failing over: without the DRBG the table still works, only
     * less resistant to chosen ids. */
    if (cu_rand_bytes(c->sip_key, sizeof(c->sip_key)) != CU_OK) {
        memset(c->sip_key, 0x5a, sizeof(c->sip_key));
    }
    return c;
}

static void
list_unlink(struct cu_keycache *c, struct entry *e)
{
    if (e->prev != NULL) {
        e->prev->next = e->next;
    } else {
        c->head = e->next;
    }
    if (e->next != NULL) {
        e->next->prev = e->prev;
    } else {
        c->tail = e->prev;
    }
    e->prev = NULL;
    e->next = NULL;
}

static void
list_push_front(struct cu_keycache *c, struct entry *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head != NULL) {
        c->head->prev = e;
    }
    c->head = e;
    if (c->tail == NULL) {
        c->tail = e;
    }
}

static struct entry **
bucket_of(struct cu_keycache *c, uint64_t hash)
{
    return &c->buckets[hash & (c->n_buckets - 1)];
}

/* The slot pointing at the entry for id, or at the NULL ending its chain. */
static struct entry **
find_slot(struct cu_keycache *c, const char *id, size_t id_len, uint64_t hash)
{
    struct entry **slot = bucket_of(c, hash);
    while (*slot != NULL) {
        struct entry *e = *slot;
        if (e->hash == hash && e->id_len == id_len && memcmp(e->id, id, id_len) == 0) {
            return slot;
        }
        slot = &e->chain;
    }
    return slot;
}

/* Unlinks e from its bucket and the recency list, wipes and frees it. */
static void
entry_destroy(struct cu_keycache *c, struct entry *e)
{
    struct entry **slot = bucket_of(c, e->hash);
    while (*slot != e) {
        slot = &(*slot)->chain;
    }
    *slot = e->chain;
    list_unlink(c, e);
    cu_secret_free(e->key);
    /* Ids name tenants and subjects: wipe them too. */
    cu_wipe(e, sizeof(*e));
    free(e);
    c->size--;
}

void
cu_keycache_free(struct cu_keycache *c)
{
    if (c == NULL) {
        return;
    }
    cu_keycache_clear(c);
    pthread_mutex_destroy(&c->lock);
    free(c->buckets);
    cu_wipe(c->sip_key, sizeof(c->sip_key));
    free(c);
}

enum cu_err
cu_keycache_get(struct cu_keycache *c, const char *id, uint64_t now, struct cu_secret **out)
{
    *out = NULL;
    size_t id_len = strnlen(id, CU_KEYCACHE_MAX_ID + 1);
    if (id_len == 0 || id_len > CU_KEYCACHE_MAX_ID) {
        return CU_ERR_NOT_FOUND;
    }
    uint64_t hash = siphash(c->sip_key, (const uint8_t *)id, id_len);
    pthread_mutex_lock(&c->lock);
    struct entry *e = *find_slot(c, id, id_len, hash);
    if (e != NULL && now >= e->expires) {
        entry_destroy(c, e);
        e = NULL;
    }
    if (e != NULL) {
        list_unlink(c, e);
        list_push_front(c, e);
        *out = cu_secret_dup(e->key);
    }
    pthread_mutex_unlock(&c->lock);
    return e != NULL ? CU_OK : CU_ERR_NOT_FOUND;
}

enum cu_err
cu_keycache_put(struct cu_keycache *c, const char *id, const struct cu_secret *key, uint64_t now)
{
    size_t id_len = strnlen(id, CU_KEYCACHE_MAX_ID + 1);
    CU_ENSURE(id_len > 0 && id_len <= CU_KEYCACHE_MAX_ID, CU_ERR_INVALID,
              "could not cache key: id empty or longer than %d bytes", CU_KEYCACHE_MAX_ID);
    uint64_t hash = siphash(c->sip_key, (const uint8_t *)id, id_len);
    /* Copy outside the lock: the secure heap has a lock of its own. */
    struct cu_secret *copy = cu_secret_dup(key);
    uint64_t expires = now + c->ttl < now ? UINT64_MAX : now + c->ttl;

    pthread_mutex_lock(&c->lock);
    struct entry **slot = find_slot(c, id, id_len, hash);
    struct entry *e = *slot;
    if (e != NULL) {
        cu_secret_free(e->key);
        list_unlink(c, e);
    } else {
        if (c->size == c->capacity) {
            entry_destroy(c, c->tail);
            /* The eviction may have changed the chain the slot points into. */
            slot = find_slot(c, id, id_len, hash);
        }
        e = cu_xcalloc(1, sizeof(*e));
        e->hash = hash;
        e->id_len = id_len;
        memcpy(e->id, id, id_len);
        e->chain = NULL;
        *slot = e;
        c->size++;
    }
    e->key = copy;
    e->expires = expires;
    list_push_front(c, e);
    pthread_mutex_unlock(&c->lock);
    return CU_OK;
}

void
cu_keycache_remove(struct cu_keycache *c, const char *id)
{
    size_t id_len = strnlen(id, CU_KEYCACHE_MAX_ID + 1);
    if (id_len == 0 || id_len > CU_KEYCACHE_MAX_ID) {
        return;
    }
    uint64_t hash = siphash(c->sip_key, (const uint8_t *)id, id_len);
    pthread_mutex_lock(&c->lock);
    struct entry *e = *find_slot(c, id, id_len, hash);
    if (e != NULL) {
        entry_destroy(c, e);
    }
    pthread_mutex_unlock(&c->lock);
}

size_t
cu_keycache_remove_prefix(struct cu_keycache *c, const char *prefix)
{
    size_t plen = strlen(prefix);
    size_t removed = 0;
    pthread_mutex_lock(&c->lock);
    struct entry *e = c->head;
    while (e != NULL) {
        struct entry *next = e->next;
        if (e->id_len >= plen && memcmp(e->id, prefix, plen) == 0) {
            entry_destroy(c, e);
            removed++;
        }
        e = next;
    }
    pthread_mutex_unlock(&c->lock);
    return removed;
}

void
cu_keycache_clear(struct cu_keycache *c)
{
    pthread_mutex_lock(&c->lock);
    while (c->tail != NULL) {
        entry_destroy(c, c->tail);
    }
    pthread_mutex_unlock(&c->lock);
}

size_t
cu_keycache_size(struct cu_keycache *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->size;
    pthread_mutex_unlock(&c->lock);
    return n;
}
