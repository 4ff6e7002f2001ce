/* Benchmark: ns/op of cu_auth_verify for a token-cache hit and a miss (full libjwt signature
 * check), RS256 and ES256. Self-contained: keys and tokens come from crypto/jwk.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/jwt.h"
#include "core/mem.h"
#include "support/jwk_keys.h"

#define ISS "https://idp.example.com/"
#define AUD "custos"
#define NOW 1700000000LL

static void
die(const char *what)
{
    fprintf(stderr, "bench_jwt: %s: %s\n", what, cu_err_reason());
    exit(1);
}

static void
b64url(struct cu_buf *out, const uint8_t *in, size_t n)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        v |= i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0;
        v |= i + 2 < n ? in[i + 2] : 0;
        char q[4] = {abc[v >> 18], abc[(v >> 12) & 63], abc[(v >> 6) & 63], abc[v & 63]};
        cu_buf_append(out, q, n - i >= 3 ? 4 : n - i + 1);
    }
}

static void
jwk(struct cu_buf *out, const struct mint_keypair *kp, const char *kid)
{
    if (kp->info.kind == CU_JWK_RSA) {
        cu_buf_printf(out, "{\"kty\":\"RSA\",\"kid\":\"%s\",\"n\":\"", kid);
        b64url(out, kp->a, kp->a_len);
        cu_buf_append_str(out, "\",\"e\":\"");
        b64url(out, kp->b, kp->b_len);
    } else {
        cu_buf_printf(out, "{\"kty\":\"EC\",\"kid\":\"%s\",\"crv\":\"P-256\",\"x\":\"", kid);
        b64url(out, kp->a, kp->a_len);
        cu_buf_append_str(out, "\",\"y\":\"");
        b64url(out, kp->b, kp->b_len);
    }
    cu_buf_append_str(out, "\"}");
}

/* "Bearer " + a token for alg signed by kp (heap string). */
static char *
bearer(const struct mint_keypair *kp, const char *alg, const char *kid)
{
    struct cu_buf t;
    cu_buf_init(&t);
    char header[128];
    snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", alg, kid);
    const char *payload = "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"user-1\","
                          "\"tid\":\"acme\",\"scope\":\"records:write detokenize:*.*:masked\","
                          "\"exp\":1700003600,\"iat\":1700000000}";
    b64url(&t, (const uint8_t *)header, strlen(header));
    cu_buf_append_str(&t, ".");
    b64url(&t, (const uint8_t *)payload, strlen(payload));
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    if (mint_jws_sign(kp->priv_pem, alg, t.data, t.len, 0, &sig, &sig_len) != CU_OK) {
        die("sign");
    }
    cu_buf_append_str(&t, ".");
    b64url(&t, sig, sig_len);
    free(sig);
    char *out = cu_xstrdup("Bearer ");
    out = cu_xrealloc(out, 8 + t.len);
    memcpy(out + 7, t.data, t.len);
    out[7 + t.len] = '\0';
    cu_buf_cleanup(&t);
    return out;
}

static double
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Mean ns per cu_auth_verify of header, each with a fresh request arena as in the server. */
static double
run(struct cu_auth *a, const char *header, int iterations)
{
    double start = now_ns();
    for (int i = 0; i < iterations; i++) {
        struct cu_arena *arena = cu_arena_new();
        struct cu_principal who;
        if (cu_auth_verify(a, header, NOW, arena, &who) != CU_OK) {
            die("verify");
        }
        cu_arena_free(arena);
    }
    return (now_ns() - start) / iterations;
}

int
main(void)
{
    struct mint_keypair rsa;
    struct mint_keypair ec;
    if (mint_keypair_generate(CU_JWK_RSA, 2048, CU_CURVE_NONE, &rsa) != CU_OK ||
        mint_keypair_generate(CU_JWK_EC, 0, CU_CURVE_P256, &ec) != CU_OK) {
        die("keygen");
    }
    struct cu_buf jwks;
    cu_buf_init(&jwks);
    cu_buf_append_str(&jwks, "{\"keys\":[");
    jwk(&jwks, &rsa, "rsa1");
    cu_buf_append_str(&jwks, ",");
    jwk(&jwks, &ec, "ec1");
    cu_buf_append_str(&jwks, "]}");
    char path[] = "/tmp/bench-jwks-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, jwks.data, jwks.len) != (ssize_t)jwks.len || close(fd) != 0) {
        die("write jwks");
    }
    cu_buf_cleanup(&jwks);

    struct cu_auth_opts o = {0};
    o.jwks_file = path;
    o.issuer = ISS;
    o.audience = AUD;
    o.leeway_seconds = 60;
    struct cu_auth *cold = NULL;
    struct cu_auth *warm = NULL;
    if (cu_auth_new(&o, &cold) != CU_OK) { /* cache_entries 0: every call is a miss */
        die("auth");
    }
    o.cache_entries = 10000;
    if (cu_auth_new(&o, &warm) != CU_OK) {
        die("auth");
    }
    unlink(path);

    char *rs = bearer(&rsa, "RS256", "rsa1");
    char *es = bearer(&ec, "ES256", "ec1");
    run(cold, rs, 20); /* warm up OpenSSL's lazy initialisation */
    run(cold, es, 20);
    run(warm, rs, 1);
    run(warm, es, 1);
    printf("RS256 miss: %10.0f ns/op\n", run(cold, rs, 500));
    printf("RS256 hit:  %10.0f ns/op\n", run(warm, rs, 200000));
    printf("ES256 miss: %10.0f ns/op\n", run(cold, es, 500));
    printf("ES256 hit:  %10.0f ns/op\n", run(warm, es, 200000));

    free(rs);
    free(es);
    cu_auth_free(cold);
    cu_auth_free(warm);
    mint_keypair_free(&rsa);
    mint_keypair_free(&ec);
    return 0;
}
