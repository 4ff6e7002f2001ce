/* Secrets on OpenSSL's secure heap; the only allocator for key material in Custos. */
#include "crypto/secret.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/mem.h"

/* Written once by cu_secure_heap_init before threads start, read afterwards. */
static bool secure_heap_active;

bool
cu_secure_heap_init(size_t size)
{
    if (CRYPTO_secure_malloc_initialized()) {
        secure_heap_active = true;
        return true;
    }
    /* CRYPTO_secure_malloc_init wants a power of two. */
    size_t rounded = 4096;
    while (rounded < size && rounded <= SIZE_MAX / 2) {
        rounded *= 2;
    }
    /* 1 = locked heap, 2 = heap without mlock (RLIMIT_MEMLOCK): both usable. 0 = none, and
     * OpenSSL then serves secure allocations from the ordinary heap, which we tolerate. */
    int rc = CRYPTO_secure_malloc_init(rounded, 16);
    secure_heap_active = rc == 1 || rc == 2;
    return secure_heap_active;
}

bool
cu_secure_heap_active(void)
{
    return secure_heap_active;
}

struct cu_secret *
cu_secret_new(size_t len)
{
    struct cu_secret *s = cu_xmalloc(sizeof(*s));
    /* Never a zero-byte allocation, so data is always a valid pointer. */
    size_t n = len ? len : 1;
    s->data = OPENSSL_secure_zalloc(n);
    if (s->data == NULL) {
        /* The secure heap is full: an ordinary allocation is still wiped on free
         * (OPENSSL_secure_clear_free recognises pointers outside the secure heap). */
        s->data = OPENSSL_zalloc(n);
    }
    if (s->data == NULL) {
        abort();
    }
    s->len = len;
    return s;
}

struct cu_secret *
cu_secret_new_copy(const uint8_t *p, size_t len)
{
    struct cu_secret *s = cu_secret_new(len);
    if (len > 0) {
        memcpy(s->data, p, len);
    }
    return s;
}

struct cu_secret *
cu_secret_dup(const struct cu_secret *s)
{
    return cu_secret_new_copy(s->data, s->len);
}

void
cu_secret_free(struct cu_secret *s)
{
    if (s == NULL) {
        return;
    }
    OPENSSL_secure_clear_free(s->data, s->len ? s->len : 1);
    s->data = NULL;
    s->len = 0;
    free(s);
}

void
cu_secret_freep(struct cu_secret **p)
{
    cu_secret_free(*p);
    *p = NULL;
}

bool
cu_ct_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}
