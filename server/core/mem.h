/* Allocation that aborts on failure (as PostgreSQL and Redis do), wiping, and a request arena.
 * Invariant: an arena wipes every chunk it frees; deferred destructors run in reverse order. */
#ifndef CU_CORE_MEM_H
#define CU_CORE_MEM_H

#include <stddef.h>
#include <stdint.h>

void *cu_xmalloc(size_t n);
void *cu_xcalloc(size_t count, size_t n);
void *cu_xrealloc(void *p, size_t n);
char *cu_xstrdup(const char *s);
char *cu_xstrndup(const char *s, size_t n);

/* Overwrites n bytes in a way the compiler may not elide. */
void cu_wipe(void *p, size_t n);
/* Wipes the whole malloc'd block p (malloc_usable_size) then frees it; NULL is fine. For
 * foreign allocators (jansson's free hook, libmicrohttpd buffers) whose sizes we do not know. */
void cu_free_wiped(void *p);
/* Wipes strlen(s) bytes then frees s; NULL is fine. */
void cu_free_str_wiped(char *s);

typedef void (*cu_defer_fn)(void *);

struct cu_arena;

/* A new empty arena; the caller owns it and releases it with cu_arena_free. */
struct cu_arena *cu_arena_new(void);
/* Runs deferred destructors in reverse, wipes and frees every chunk. NULL is fine. */
void cu_arena_free(struct cu_arena *a);
/* n bytes, zeroed, aligned to 16, owned by the arena. */
void *cu_arena_alloc(struct cu_arena *a, size_t n);
char *cu_arena_strdup(struct cu_arena *a, const char *s);
char *cu_arena_strndup(struct cu_arena *a, const char *s, size_t n);
char *cu_arena_printf(struct cu_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Registers fn(ptr) to run when the arena is freed. */
void cu_arena_defer(struct cu_arena *a, cu_defer_fn fn, void *ptr);

/* A growable byte buffer (heap). Wiped when freed. */
struct cu_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
};

void cu_buf_init(struct cu_buf *b);
void cu_buf_cleanup(struct cu_buf *b);
void cu_buf_append(struct cu_buf *b, const void *p, size_t n);
void cu_buf_append_str(struct cu_buf *b, const char *s);
void cu_buf_printf(struct cu_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Ensures data is NUL-terminated after len (not counted) and returns it as a string. */
const char *cu_buf_cstr(struct cu_buf *b);

#endif
