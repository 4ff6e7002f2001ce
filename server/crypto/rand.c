/* A per-thread pool over RAND_bytes: one DRBG call per 512 bytes instead of one per nonce. */
#include "crypto/rand.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/rand.h>

#include "crypto/secret.h"

struct rand_pool {
    uint8_t buf[CU_RAND_POOL_SIZE];
    size_t avail;        /* unread bytes are buf[CU_RAND_POOL_SIZE - avail ..] */
    unsigned generation; /* fork generation the pool was filled in */
    bool registered;     /* the thread-exit wipe is registered */
};

static _Thread_local struct rand_pool pool;

/* Bumped in every fork child so that an inherited pool is recognised and discarded. */
static atomic_uint fork_generation;
static pthread_once_t rand_once = PTHREAD_ONCE_INIT;
static pthread_key_t pool_key;
static bool pool_key_ok;

static void
pool_wipe(void *p)
{
    struct rand_pool *rp = p;
    cu_wipe(rp->buf, sizeof(rp->buf));
    rp->avail = 0;
}

static void
on_fork_child(void)
{
    atomic_fetch_add_explicit(&fork_generation, 1, memory_order_relaxed);
}

static void
rand_init_once(void)
{
    /* If either fails the pool is unsafe across fork or unwiped at thread exit: the pool is then
     * bypassed (see use_pool). */
    pool_key_ok = pthread_key_create(&pool_key, pool_wipe) == 0 &&
                  pthread_atfork(NULL, NULL, on_fork_child) == 0;
}

static enum cu_err
direct(uint8_t *out, size_t n)
{
    while (n > 0) {
        int chunk = n > INT_MAX ? INT_MAX : (int)n;
        if (RAND_bytes(out, chunk) != 1) {
            return CU_ERR_CRYPTO;
        }
        out += chunk;
        n -= (size_t)chunk;
    }
    return CU_OK;
}

static bool
use_pool(void)
{
    pthread_once(&rand_once, rand_init_once);
    if (!pool_key_ok) {
        return false;
    }
    if (!pool.registered) {
        if (pthread_setspecific(pool_key, &pool) != 0) {
            return false;
        }
        pool.registered = true;
    }
    unsigned gen = atomic_load_explicit(&fork_generation, memory_order_relaxed);
    if (pool.generation != gen) {
        pool_wipe(&pool);
        pool.generation = gen;
    }
    return true;
}

enum cu_err
cu_rand_bytes(uint8_t *out, size_t n)
{
    enum cu_err rc = CU_OK;
    if (n > CU_RAND_POOL_DIRECT || !use_pool()) {
        CU_TRY(direct(out, n));
        return CU_OK;
    }
    size_t done = 0;
    while (done < n) {
        if (pool.avail == 0) {
            CU_TRY(direct(pool.buf, sizeof(pool.buf)));
            pool.avail = sizeof(pool.buf);
        }
        size_t take = n - done < pool.avail ? n - done : pool.avail;
        uint8_t *src = pool.buf + (sizeof(pool.buf) - pool.avail);
        memcpy(out + done, src, take);
        /* Handed-out bytes must not linger: wipe them where they were. */
        cu_wipe(src, take);
        pool.avail -= take;
        done += take;
    }
    return CU_OK;
out:
    cu_wipe(out, n);
    pool_wipe(&pool);
    CU_BAIL(rc, "could not generate random bytes: RAND_bytes failed");
}

enum cu_err
cu_rand_priv_bytes(uint8_t *out, size_t n)
{
    uint8_t *p = out;
    size_t left = n;
    while (left > 0) {
        int chunk = left > INT_MAX ? INT_MAX : (int)left;
        if (RAND_priv_bytes(p, chunk) != 1) {
            cu_wipe(out, n);
            CU_BAIL(CU_ERR_CRYPTO, "could not generate key bytes: RAND_priv_bytes failed");
        }
        p += chunk;
        left -= (size_t)chunk;
    }
    return CU_OK;
}
