/* JWKS (a file, or bytes fetched from the IdP) -> refcounted key set. Reasons name the key by position, never by its bytes. */
#include "auth/jwks.h"

#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "auth/jose.h"
#include "core/mem.h"
#include "crypto/encode.h"

struct cu_jwks {
    atomic_size_t refs;
    size_t nkeys;
    size_t skipped;
    struct cu_jwks_key *keys;
};

static void
jwks_free(struct cu_jwks *ks)
{
    for (size_t i = 0; i < ks->nkeys; i++) {
        free(ks->keys[i].kid);
        free(ks->keys[i].jwk_alg);
        free(ks->keys[i].pem);
    }
    free(ks->keys);
    free(ks);
}

struct cu_jwks *
cu_jwks_ref(struct cu_jwks *ks)
{
    if (ks != NULL) {
        atomic_fetch_add_explicit(&ks->refs, 1, memory_order_relaxed);
    }
    return ks;
}

void
cu_jwks_unref(struct cu_jwks *ks)
{
    if (ks != NULL && atomic_fetch_sub_explicit(&ks->refs, 1, memory_order_acq_rel) == 1) {
        jwks_free(ks);
    }
}

const struct cu_jwks_key *
cu_jwks_find(const struct cu_jwks *ks, const char *kid)
{
    /* a handful of keys: a linear scan beats hashing and compares exact bytes */
    for (size_t i = 0; ks != NULL && kid != NULL && i < ks->nkeys; i++) {
        if (strcmp(ks->keys[i].kid, kid) == 0) {
            return &ks->keys[i];
        }
    }
    return NULL;
}

size_t
cu_jwks_count(const struct cu_jwks *ks)
{
    return ks != NULL ? ks->nkeys : 0;
}

size_t
cu_jwks_skipped(const struct cu_jwks *ks)
{
    return ks != NULL ? ks->skipped : 0;
}

/* Reads the whole file (≤ CU_JWKS_MAX_FILE) into a heap buffer. */
static enum cu_err
read_file(const char *path, char **data, size_t *len)
{
    enum cu_err rc = CU_OK;
    char *buf = NULL;
    FILE *f = fopen(path, "rb");
    CU_ENSURE(f != NULL, CU_ERR_CONFIG, "could not open jwks file: %s", strerror(errno));
    struct stat st;
    CU_CHECK(fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode), CU_ERR_CONFIG,
             "jwks file is not a regular file");
    CU_CHECK(st.st_size > 0 && st.st_size <= CU_JWKS_MAX_FILE, CU_ERR_CONFIG,
             "jwks file is empty or larger than %d bytes", CU_JWKS_MAX_FILE);
    buf = cu_xmalloc((size_t)st.st_size);
    size_t got = fread(buf, 1, (size_t)st.st_size, f);
    CU_CHECK(got == (size_t)st.st_size, CU_ERR_CONFIG, "could not read jwks file");
    *data = buf;
    *len = got;
    buf = NULL;
out:
    free(buf);
    fclose(f);
    return rc;
}

/* Decodes the base64url string member name of jwk into a heap buffer. */
static enum cu_err
b64_member(json_t *jwk, const char *name, size_t index, uint8_t **out, size_t *out_len)
{
    const char *s = json_string_value(json_object_get(jwk, name));
    CU_ENSURE(s != NULL, CU_ERR_CONFIG, "jwks key %zu: missing \"%s\"", index, name);
    if (cu_base64url_decode(s, strlen(s), out, out_len) != CU_OK || *out_len == 0) {
        free(*out);
        *out = NULL;
        CU_BAIL(CU_ERR_CONFIG, "jwks key %zu: \"%s\" is not base64url", index, name);
    }
    return CU_OK;
}

/* The JWS algs a key of this kind and curve may verify (jose.c's allow-list, HS256 never). */
static bool
alg_fits(const char *alg, const struct cu_jwk_info *info)
{
    const struct cu_jwt_alg_def *d = cu_jwt_alg_by_name(alg);
    if (d == NULL || d->kind == CU_JWK_NONE || d->kind != info->kind) {
        return false;
    }
    return d->kind == CU_JWK_RSA || d->curve == info->curve;
}

static int
kid_ok(const char *kid)
{
    size_t len = strlen(kid);
    if (len == 0 || len > CU_JWT_MAX_KID) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (kid[i] < 0x21 || kid[i] > 0x7e) {
            return 0;
        }
    }
    return 1;
}

/* Converts one RSA or EC JWK; *usable = 0 when it is to be skipped rather than refused. */
static enum cu_err
load_key(json_t *jwk, size_t index, struct cu_jwks_key *key, int *usable)
{
    enum cu_err rc = CU_OK;
    uint8_t *a = NULL;
    uint8_t *b = NULL;
    size_t a_len = 0;
    size_t b_len = 0;
    *usable = 0;
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    const char *kid = json_string_value(json_object_get(jwk, "kid"));
    json_t *use = json_object_get(jwk, "use");
    json_t *alg = json_object_get(jwk, "alg");
    CU_CHECK(kty != NULL, CU_ERR_CONFIG, "jwks key %zu: missing kty", index);
    CU_CHECK(use == NULL || json_is_string(use), CU_ERR_CONFIG, "jwks key %zu: bad use", index);
    CU_CHECK(alg == NULL || json_is_string(alg), CU_ERR_CONFIG, "jwks key %zu: bad alg", index);
    if ((strcmp(kty, "RSA") != 0 && strcmp(kty, "EC") != 0) || kid == NULL ||
        (use != NULL && strcmp(json_string_value(use), "sig") != 0)) {
        goto out; /* oct, OKP, encryption keys, unselectable keys: skipped, counted */
    }
    CU_CHECK(kid_ok(kid), CU_ERR_CONFIG, "jwks key %zu: kid empty, over %d bytes or not printable",
             index, CU_JWT_MAX_KID);
    if (strcmp(kty, "RSA") == 0) {
        CU_TRY(b64_member(jwk, "n", index, &a, &a_len));
        CU_TRY(b64_member(jwk, "e", index, &b, &b_len));
        rc = cu_jwk_rsa_pem(a, a_len, b, b_len, &key->pem, &key->info);
    } else {
        const char *crv = json_string_value(json_object_get(jwk, "crv"));
        enum cu_jwk_curve curve = cu_jwk_curve_parse(crv);
        CU_CHECK(curve != CU_CURVE_NONE, CU_ERR_CONFIG, "jwks key %zu: unsupported crv", index);
        CU_TRY(b64_member(jwk, "x", index, &a, &a_len));
        CU_TRY(b64_member(jwk, "y", index, &b, &b_len));
        rc = cu_jwk_ec_pem(curve, a, a_len, b, b_len, &key->pem, &key->info);
    }
    /* keep the converter's reason, but as a configuration error of this file */
    CU_CHECK(rc == CU_OK, CU_ERR_CONFIG, "jwks key %zu: invalid %s key", index, kty);
    if (alg != NULL && !alg_fits(json_string_value(alg), &key->info)) {
        free(key->pem);
        key->pem = NULL;
        goto out; /* e.g. RSA-OAEP or PS256: not a key we verify with */
    }
    key->pem_len = strlen(key->pem);
    key->kid = cu_xstrdup(kid);
    key->jwk_alg = alg != NULL ? cu_xstrdup(json_string_value(alg)) : NULL;
    *usable = 1;
out:
    free(a);
    free(b);
    return rc;
}

enum cu_err
cu_jwks_parse(const char *data, size_t len, struct cu_jwks **out)
{
    enum cu_err rc = CU_OK;
    json_t *root = NULL;
    struct cu_jwks *ks = cu_xcalloc(1, sizeof(*ks));
    atomic_init(&ks->refs, 1);

    CU_CHECK(len > 0 && len <= CU_JWKS_MAX_FILE, CU_ERR_CONFIG,
             "jwks is empty or larger than %d bytes", CU_JWKS_MAX_FILE);
    json_error_t jerr;
    root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    CU_CHECK(root != NULL, CU_ERR_CONFIG, "jwks is not json (line %d, column %d)", jerr.line,
             jerr.column);
    json_t *keys = json_object_get(root, "keys");
    CU_CHECK(json_is_object(root) && json_is_array(keys), CU_ERR_CONFIG,
             "jwks has no \"keys\" array");
    size_t n = json_array_size(keys);
    CU_CHECK(n <= CU_JWKS_MAX_KEYS, CU_ERR_CONFIG, "jwks has more than %d keys",
             CU_JWKS_MAX_KEYS);
    ks->keys = cu_xcalloc(n > 0 ? n : 1, sizeof(*ks->keys));
    for (size_t i = 0; i < n; i++) {
        json_t *jwk = json_array_get(keys, i);
        CU_CHECK(json_is_object(jwk), CU_ERR_CONFIG, "jwks key %zu is not an object", i);
        /* a repeated kid is ambiguous whichever entry is usable: refuse the whole set */
        const char *kid = json_string_value(json_object_get(jwk, "kid"));
        for (size_t j = 0; kid != NULL && j < i; j++) {
            const char *other = json_string_value(json_object_get(json_array_get(keys, j), "kid"));
            CU_CHECK(other == NULL || strcmp(kid, other) != 0, CU_ERR_CONFIG,
                     "jwks keys %zu and %zu have the same kid", j, i);
        }
        int usable = 0;
        CU_TRY(load_key(jwk, i, &ks->keys[ks->nkeys], &usable));
        if (usable) {
            ks->nkeys++;
        } else {
            ks->skipped++;
        }
    }
    CU_CHECK(ks->nkeys > 0, CU_ERR_CONFIG, "jwks has no usable signature key");
    *out = ks;
    ks = NULL;
out:
    if (ks != NULL) {
        jwks_free(ks);
    }
    json_decref(root);
    return rc;
}

enum cu_err
cu_jwks_load(const char *path, struct cu_jwks **out)
{
    char *data = NULL;
    size_t len = 0;
    CU_ENSURE(path != NULL, CU_ERR_CONFIG, "no jwks file configured");
    CU_GUARD(read_file(path, &data, &len));
    enum cu_err rc = cu_jwks_parse(data, len, out);
    free(data);
    return rc;
}
