/* LRU of verified tokens: chained hash map on the SHA-256 key plus a recency list, one mutex.
 * A principal is stored packed in one block so a hit is one copy into the request arena. */
#include "auth/tokencache.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    uint8_t key[32];
    struct entry *hnext; /* hash chain */
    struct entry *prev;  /* recency: head = most recent */
    struct entry *next;
    struct cu_token_times times;
    struct cu_principal p; /* points into blob */
    void *blob;
    size_t blob_len;
};

struct cu_tokencache {
    pthread_mutex_t lock;
    size_t capacity;
    size_t count;
    size_t nbuckets; /* power of two */
    struct entry **buckets;
    struct entry *head;
    struct entry *tail;
    uint64_t generation;
    uint64_t hits;
    uint64_t misses;
};

/* Bytes needed to pack p: the two pointer arrays, then every string with its NUL. */
static size_t
packed_size(const struct cu_principal *p)
{
    size_t n = (p->nscopes + p->nroles) * sizeof(char *);
    n += strlen(p->sub) + 1;
    n += p->tenant != NULL ? strlen(p->tenant) + 1 : 0;
    for (size_t i = 0; i < p->nscopes; i++) {
        n += strlen(p->scopes[i]) + 1;
    }
    for (size_t i = 0; i < p->nroles; i++) {
        n += strlen(p->roles[i]) + 1;
    }
    return n;
}

static char *
put_str(char **cursor, const char *s)
{
    size_t len = strlen(s) + 1;
    char *d = *cursor;
    memcpy(d, s, len);
    *cursor += len;
    return d;
}

/* Deep-copies src into buf (packed_size(src) bytes, pointer-aligned) and fills dst. */
static void
pack(const struct cu_principal *src, void *buf, struct cu_principal *dst)
{
    const char **ptrs = buf;
    char *cursor = (char *)(ptrs + src->nscopes + src->nroles);
    *dst = *src;
    dst->scopes = src->nscopes > 0 ? ptrs : NULL;
    dst->roles = src->nroles > 0 ? ptrs + src->nscopes : NULL;
    for (size_t i = 0; i < src->nscopes; i++) {
        ptrs[i] = put_str(&cursor, src->scopes[i]);
    }
    for (size_t i = 0; i < src->nroles; i++) {
        ptrs[src->nscopes + i] = put_str(&cursor, src->roles[i]);
    }
    dst->sub = put_str(&cursor, src->sub);
    dst->tenant = src->tenant != NULL ? put_str(&cursor, src->tenant) : NULL;
}

struct cu_tokencache *
cu_tokencache_new(size_t capacity)
{
    struct cu_tokencache *c = cu_xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    c->capacity = capacity;
    c->nbuckets = 16;
    while (c->nbuckets < capacity && c->nbuckets < ((size_t)1 << 30)) {
        c->nbuckets <<= 1;
    }
    c->buckets = cu_xcalloc(c->nbuckets, sizeof(*c->buckets));
    return c;
}

static void
entry_free(struct entry *e)
{
    cu_wipe(e->blob, e->blob_len);
    free(e->blob);
    cu_wipe(e, sizeof(*e));
    free(e);
}

/* The key is already a uniform hash: its first bytes are the bucket index. */
static struct entry **
bucket_of(struct cu_tokencache *c, const uint8_t key[32])
{
    size_t h;
    memcpy(&h, key, sizeof(h));
    return &c->buckets[h & (c->nbuckets - 1)];
}

static void
lru_unlink(struct cu_tokencache *c, struct entry *e)
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
    e->prev = e->next = NULL;
}

static void
lru_push_front(struct cu_tokencache *c, struct entry *e)
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

/* Unlinks e from its chain and the recency list and frees it. Lock held. */
static void
remove_entry(struct cu_tokencache *c, struct entry *e)
{
    for (struct entry **pp = bucket_of(c, e->key); *pp != NULL; pp = &(*pp)->hnext) {
        if (*pp == e) {
            *pp = e->hnext;
            break;
        }
    }
    lru_unlink(c, e);
    c->count--;
    entry_free(e);
}

/* Lock held. The key compare need not be constant-time: the key is a SHA-256 of the token,
 * and learning prefixes of a digest tells nothing about any token. */
static struct entry *
find(struct cu_tokencache *c, const uint8_t key[32])
{
    for (struct entry *e = *bucket_of(c, key); e != NULL; e = e->hnext) {
        if (memcmp(e->key, key, 32) == 0) {
            return e;
        }
    }
    return NULL;
}

int
cu_tokencache_get(struct cu_tokencache *c, const uint8_t key[32], long long now, int leeway,
                  struct cu_arena *arena, struct cu_principal *out, struct cu_token_times *times)
{
    pthread_mutex_lock(&c->lock);
    struct entry *e = find(c, key);
    if (e != NULL && now > e->times.exp + leeway) {
        remove_entry(c, e); /* expired: it can never be valid again on a forward clock */
        e = NULL;
    }
    if (e == NULL) {
        c->misses++;
        pthread_mutex_unlock(&c->lock);
        return 0;
    }
    c->hits++;
    lru_unlink(c, e);
    lru_push_front(c, e);
    pack(&e->p, cu_arena_alloc(arena, e->blob_len), out);
    *times = e->times;
    pthread_mutex_unlock(&c->lock);
    return 1;
}

void
cu_tokencache_put(struct cu_tokencache *c, uint64_t generation, const uint8_t key[32],
                  const struct cu_principal *p, const struct cu_token_times *times)
{
    if (c->capacity == 0) {
        return;
    }
    /* the copy is made outside the lock; it is thrown away if it turns out not to be needed */
    struct entry *e = cu_xcalloc(1, sizeof(*e));
    memcpy(e->key, key, 32);
    e->times = *times;
    e->blob_len = packed_size(p);
    e->blob = cu_xmalloc(e->blob_len);
    pack(p, e->blob, &e->p);

    pthread_mutex_lock(&c->lock);
    if (generation != c->generation || find(c, key) != NULL) {
        pthread_mutex_unlock(&c->lock);
        entry_free(e);
        return;
    }
    while (c->count >= c->capacity && c->tail != NULL) {
        remove_entry(c, c->tail);
    }
    struct entry **b = bucket_of(c, key);
    e->hnext = *b;
    *b = e;
    lru_push_front(c, e);
    c->count++;
    pthread_mutex_unlock(&c->lock);
}

uint64_t
cu_tokencache_generation(struct cu_tokencache *c)
{
    pthread_mutex_lock(&c->lock);
    uint64_t g = c->generation;
    pthread_mutex_unlock(&c->lock);
    return g;
}

static void
clear_locked(struct cu_tokencache *c)
{
    for (struct entry *e = c->head; e != NULL;) {
        struct entry *next = e->next;
        entry_free(e);
        e = next;
    }
    memset(c->buckets, 0, c->nbuckets * sizeof(*c->buckets));
    c->head = c->tail = NULL;
    c->count = 0;
}

void
cu_tokencache_clear(struct cu_tokencache *c)
{
    pthread_mutex_lock(&c->lock);
    clear_locked(c);
    c->generation++;
    pthread_mutex_unlock(&c->lock);
}

void
cu_tokencache_stats(struct cu_tokencache *c, uint64_t *hits, uint64_t *misses, size_t *entries)
{
    pthread_mutex_lock(&c->lock);
    *hits = c->hits;
    *misses = c->misses;
    *entries = c->count;
    pthread_mutex_unlock(&c->lock);
}

void
cu_tokencache_free(struct cu_tokencache *c)
{
    if (c == NULL) {
        return;
    }
    clear_locked(c);
    pthread_mutex_destroy(&c->lock);
    free(c->buckets);
    free(c);
}
