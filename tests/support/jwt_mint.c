/* Test helper: JWT and JWKS minting for the auth tests (see jwt_mint.h). */
#include "support/jwt_mint.h"

#include <dirent.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"

struct garbage {
    struct garbage *next;
    void *p;
    int kind; /* 0 heap, 1 key, 2 file path */
};

static struct garbage *garbage;

static void *
keep(void *p, int kind)
{
    struct garbage *g = cu_xcalloc(1, sizeof(*g));
    g->p = p;
    g->kind = kind;
    g->next = garbage;
    garbage = g;
    return p;
}

void
mint_free_all(void)
{
    while (garbage != NULL) {
        struct garbage *g = garbage;
        garbage = g->next;
        if (g->kind == 1) {
            mint_keypair_free(&((struct mint_key *)g->p)->kp);
        } else if (g->kind == 2) {
            unlink(g->p);
        }
        free(g->p);
        free(g);
    }
}

static void
die(const char *what)
{
    fprintf(stderr, "jwt_mint: %s\n", what);
    abort();
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

static char *
fmt(const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    char *s = NULL;
    if (vasprintf(&s, f, ap) < 0) {
        die("vasprintf");
    }
    va_end(ap);
    return keep(s, 0);
}

/* RSA keygen costs ~0.4 s here and criterion runs every test in a fresh process, so keys are
 * cached as PEM files for the life of one test run: in a directory named after the runner
 * (our parent), removed by mint_cache_remove() from the runner's POST_ALL hook. */
static void
cache_path(char *buf, size_t n, long runner, const char *name)
{
    snprintf(buf, n, "/tmp/custos-mint-%ld-%ld%s%s", (long)getuid(), runner,
             name != NULL ? "/" : "", name != NULL ? name : "");
}

static char *
read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    char *buf = cu_xcalloc(1, 16384);
    size_t n = fread(buf, 1, 16383, f);
    fclose(f);
    if (n == 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static struct mint_key *
cached_key(const char *kid, enum cu_jwk_kind kind, int bits, enum cu_jwk_curve curve)
{
    struct mint_key *k = cu_xcalloc(1, sizeof(*k));
    snprintf(k->kid, sizeof(k->kid), "%s", kid);
    keep(k, 1);
    char name[128];
    char path[256];
    snprintf(name, sizeof(name), "%d-%d-%d-%s", (int)kind, bits, (int)curve, kid);
    cache_path(path, sizeof(path), (long)getppid(), name);
    char *pem = read_all(path);
    if (pem != NULL) {
        enum cu_err rc = mint_keypair_from_pem(pem, &k->kp);
        cu_free_str_wiped(pem);
        if (rc == CU_OK) {
            return k;
        }
    }
    if (mint_keypair_generate(kind, bits, curve, &k->kp) != CU_OK) {
        die("keygen");
    }
    char dir[256];
    char tmp[300];
    cache_path(dir, sizeof(dir), (long)getppid(), NULL);
    mkdir(dir, 0700);
    snprintf(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (f != NULL) {
        int ok = fputs(k->kp.priv_pem, f) >= 0;
        ok = fclose(f) == 0 && ok;
        /* rename is atomic: a parallel worker reads the old file or the new, never half */
        if (!ok || rename(tmp, path) != 0) {
            unlink(tmp);
        }
    }
    return k;
}

void
mint_cache_remove(long runner)
{
    char dir[256];
    cache_path(dir, sizeof(dir), runner, NULL);
    DIR *d = opendir(dir);
    if (d == NULL) {
        return;
    }
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        if (e->d_name[0] != '.') {
            char path[600];
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
    rmdir(dir);
}

struct mint_key *
mint_key_rsa(const char *kid, int bits)
{
    return cached_key(kid, CU_JWK_RSA, bits, CU_CURVE_NONE);
}

struct mint_key *
mint_key_ec(const char *kid, enum cu_jwk_curve curve)
{
    return cached_key(kid, CU_JWK_EC, 0, curve);
}

char *
mint_b64url(const void *p, size_t n)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const uint8_t *in = p;
    char *out = cu_xmalloc(n * 4 / 3 + 4);
    size_t o = 0;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = abc[v >> 18];
        out[o++] = abc[(v >> 12) & 63];
        out[o++] = abc[(v >> 6) & 63];
        out[o++] = abc[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = abc[v >> 18];
        out[o++] = abc[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = abc[v >> 18];
        out[o++] = abc[(v >> 12) & 63];
        out[o++] = abc[(v >> 6) & 63];
    }
    out[o] = '\0';
    return keep(out, 0);
}

char *
mint_b64url_str(const char *s)
{
    return mint_b64url(s, strlen(s));
}

static const char *
crv_name(enum cu_jwk_curve c)
{
    return c == CU_CURVE_P256 ? "P-256" : c == CU_CURVE_P384 ? "P-384" : "P-521";
}

char *
mint_jwk_json(const struct mint_key *k, const char *extra)
{
    const char *sep = extra != NULL ? "," : "";
    extra = extra != NULL ? extra : "";
    if (k->kp.info.kind == CU_JWK_RSA) {
        return fmt("{\"kty\":\"RSA\",\"kid\":\"%s\",\"n\":\"%s\",\"e\":\"%s\"%s%s}", k->kid,
                   mint_b64url(k->kp.a, k->kp.a_len), mint_b64url(k->kp.b, k->kp.b_len), sep,
                   extra);
    }
    return fmt("{\"kty\":\"EC\",\"kid\":\"%s\",\"crv\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"%s%s}",
               k->kid, crv_name(k->kp.info.curve), mint_b64url(k->kp.a, k->kp.a_len),
               mint_b64url(k->kp.b, k->kp.b_len), sep, extra);
}

char *
mint_jwks_json(const char *const *jwks, size_t n)
{
    char *s = fmt("{\"keys\":[");
    for (size_t i = 0; i < n; i++) {
        s = fmt("%s%s%s", s, i > 0 ? "," : "", jwks[i]);
    }
    return fmt("%s]}", s);
}

void
mint_rewrite(const char *path, const char *content)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || fputs(content, f) < 0 || fclose(f) != 0) {
        die("write file");
    }
}

char *
mint_write_file(const char *content)
{
    char *path = cu_xstrdup("/tmp/custos-jwks-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) {
        die("mkstemp");
    }
    close(fd);
    keep(path, 2);
    mint_rewrite(path, content);
    return path;
}

static char *
signing_input(const char *header_json, const char *payload_json)
{
    return fmt("%s.%s", mint_b64url_str(header_json), mint_b64url_str(payload_json));
}

static char *
sign_as(const struct mint_key *k, const char *alg, const char *header_json,
        const char *payload_json, int der)
{
    char *input = signing_input(header_json, payload_json);
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    if (mint_jws_sign(k->kp.priv_pem, alg, input, strlen(input), der, &sig, &sig_len) != CU_OK) {
        die("sign");
    }
    keep(sig, 0);
    return fmt("%s.%s", input, mint_b64url(sig, sig_len));
}

char *
mint_sign(const struct mint_key *k, const char *alg, const char *header_json,
          const char *payload_json)
{
    return sign_as(k, alg, header_json, payload_json, 0);
}

char *
mint_sign_der(const struct mint_key *k, const char *alg, const char *header_json,
              const char *payload_json)
{
    return sign_as(k, alg, header_json, payload_json, 1);
}

char *
mint_hs256(const void *key, size_t key_len, const char *header_json, const char *payload_json)
{
    char *input = signing_input(header_json, payload_json);
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    /* an empty key is a legitimate attack input: give HMAC a valid pointer anyway */
    static const uint8_t empty[1];
    if (HMAC(EVP_sha256(), key_len > 0 ? key : empty, (int)key_len, (const uint8_t *)input,
             strlen(input), mac, &mac_len) == NULL) {
        die("hmac");
    }
    return fmt("%s.%s", input, mint_b64url(mac, mac_len));
}

char *
mint_join(const char *a, const char *b, const char *c)
{
    return fmt("%s.%s.%s", a, b, c);
}

char *
mint_bearer(const char *token)
{
    return fmt("Bearer %s", token);
}

char *
mint_libjwt(const struct mint_key *k, const char *alg, const char *payload_json)
{
    jwt_t *jwt = NULL;
    if (jwt_new(&jwt) != 0 || jwt_add_grants_json(jwt, payload_json) != 0 ||
        jwt_add_header(jwt, "kid", k->kid) != 0 ||
        jwt_set_alg(jwt, jwt_str_alg(alg), (const unsigned char *)k->kp.priv_pem,
                    (int)strlen(k->kp.priv_pem)) != 0) {
        die("libjwt setup");
    }
    char *token = jwt_encode_str(jwt);
    jwt_free(jwt);
    if (token == NULL) {
        die("libjwt encode");
    }
    return keep(token, 0);
}
