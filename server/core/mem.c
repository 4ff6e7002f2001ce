/* Aborting allocators, wiping, the request arena and byte buffers. */
#include "core/mem.h"

#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
oom(size_t n)
{
    fprintf(stderr, "{\"level\":\"fatal\",\"msg\":\"out of memory\",\"bytes\":%zu}\n", n);
    abort();
}

void *
cu_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        oom(n);
    }
    return p;
}

void *
cu_xcalloc(size_t count, size_t n)
{
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (p == NULL) {
        oom(count * n);
    }
    return p;
}

void *
cu_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL) {
        oom(n);
    }
    return q;
}

char *
cu_xstrdup(const char *s)
{
    return cu_xstrndup(s, strlen(s));
}

char *
cu_xstrndup(const char *s, size_t n)
{
    char *p = cu_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void
cu_wipe(void *p, size_t n)
{
    if (p != NULL && n > 0) {
        explicit_bzero(p, n);
    }
}

void
cu_free_wiped(void *p)
{
    if (p != NULL) {
        cu_wipe(p, malloc_usable_size(p));
        free(p);
    }
}

void
cu_free_str_wiped(char *s)
{
    if (s == NULL) {
        return;
    }
    cu_wipe(s, strlen(s));
    free(s);
}

/* ---- arena ---- */

struct arena_chunk {
    struct arena_chunk *next;
    size_t size;
    size_t used;
    _Alignas(16) uint8_t data[];
};

struct arena_defer {
    struct arena_defer *next;
    cu_defer_fn fn;
    void *ptr;
};

struct cu_arena {
    struct arena_chunk *chunks;
    struct arena_defer *defers;
};

enum { ARENA_CHUNK = 8192 };

struct cu_arena *
cu_arena_new(void)
{
    return cu_xcalloc(1, sizeof(struct cu_arena));
}

void
cu_arena_free(struct cu_arena *a)
{
    if (a == NULL) {
        return;
    }
    /* defers are pushed at the head, so this runs them in reverse order of registration */
    for (struct arena_defer *d = a->defers; d != NULL;) {
        struct arena_defer *next = d->next;
        d->fn(d->ptr);
        d = next;
    }
    for (struct arena_chunk *c = a->chunks; c != NULL;) {
        struct arena_chunk *next = c->next;
        cu_wipe(c->data, c->used);
        free(c);
        c = next;
    }
    free(a);
}

void *
cu_arena_alloc(struct cu_arena *a, size_t n)
{
    size_t need = (n + 15) & ~(size_t)15;
    if (need < n) {
        oom(n);
    }
    struct arena_chunk *c = a->chunks;
    if (c == NULL || c->size - c->used < need) {
        size_t size = need > ARENA_CHUNK ? need : ARENA_CHUNK;
        c = cu_xmalloc(sizeof(*c) + size);
        c->size = size;
        c->used = 0;
        /* a big one-off allocation goes behind the current chunk so its free space is kept */
        if (need > ARENA_CHUNK && a->chunks != NULL) {
            c->next = a->chunks->next;
            a->chunks->next = c;
        } else {
            c->next = a->chunks;
            a->chunks = c;
        }
    }
    void *p = c->data + c->used;
    c->used += need;
    memset(p, 0, need);
    return p;
}

char *
cu_arena_strndup(struct cu_arena *a, const char *s, size_t n)
{
    char *p = cu_arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *
cu_arena_strdup(struct cu_arena *a, const char *s)
{
    return cu_arena_strndup(a, s, strlen(s));
}

char *
cu_arena_printf(struct cu_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return cu_arena_strdup(a, "");
    }
    char *p = cu_arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void
cu_arena_defer(struct cu_arena *a, cu_defer_fn fn, void *ptr)
{
    struct arena_defer *d = cu_arena_alloc(a, sizeof(*d));
    d->fn = fn;
    d->ptr = ptr;
    d->next = a->defers;
    a->defers = d;
}

/* ---- buf ---- */

void
cu_buf_init(struct cu_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void
cu_buf_cleanup(struct cu_buf *b)
{
    if (b->data != NULL) {
        cu_wipe(b->data, b->cap);
        free(b->data);
    }
    cu_buf_init(b);
}

static void
buf_reserve(struct cu_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap) {
        return;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        cap *= 2;
    }
    /* grow by copy so the old block can be wiped: it may hold customer data */
    uint8_t *p = cu_xmalloc(cap);
    if (b->len > 0) {
        memcpy(p, b->data, b->len);
    }
    if (b->data != NULL) {
        cu_wipe(b->data, b->cap);
        free(b->data);
    }
    b->data = p;
    b->cap = cap;
}

void
cu_buf_append(struct cu_buf *b, const void *p, size_t n)
{
    buf_reserve(b, n);
    if (n > 0) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    b->data[b->len] = '\0';
}

void
cu_buf_append_str(struct cu_buf *b, const char *s)
{
    cu_buf_append(b, s, strlen(s));
}

void
cu_buf_printf(struct cu_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0) {
        return;
    }
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

const char *
cu_buf_cstr(struct cu_buf *b)
{
    buf_reserve(b, 0);
    b->data[b->len] = '\0';
    return (const char *)b->data;
}
