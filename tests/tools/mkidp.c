/* mkidp DIR: a test identity provider — RSA-2048 and EC P-256/384/521 key pairs (private PEM
 * files DIR/<kid>.pem) and DIR/jwks.json with their public JWKs, for the integration tests. */
#include "support/jwt_mint.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

struct idp_key {
    const char *kid;
    enum cu_jwk_kind kind;
    int bits;
    enum cu_jwk_curve curve;
};

static const struct idp_key keys[] = {
    {"rsa-1", CU_JWK_RSA, 2048, CU_CURVE_NONE},
    {"ec-256", CU_JWK_EC, 0, CU_CURVE_P256},
    {"ec-384", CU_JWK_EC, 0, CU_CURVE_P384},
    {"ec-521", CU_JWK_EC, 0, CU_CURVE_P521},
};

static int
write_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return -1;
    }
    int ok = fputs(content, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mkidp DIR\n");
        return 2;
    }
    mkdir(argv[1], 0700);
    enum { N = sizeof(keys) / sizeof(keys[0]) };
    struct mint_key mk[N];
    const char *jwks[N];
    char path[512];
    for (size_t i = 0; i < N; i++) {
        memset(&mk[i], 0, sizeof(mk[i]));
        snprintf(mk[i].kid, sizeof(mk[i].kid), "%s", keys[i].kid);
        if (mint_keypair_generate(keys[i].kind, keys[i].bits, keys[i].curve, &mk[i].kp) !=
            CU_OK) {
            fprintf(stderr, "mkidp: could not generate %s\n", keys[i].kid);
            return 1;
        }
        snprintf(path, sizeof(path), "%s/%s.pem", argv[1], keys[i].kid);
        if (write_file(path, mk[i].kp.priv_pem) != 0) {
            fprintf(stderr, "mkidp: could not write %s\n", path);
            return 1;
        }
        jwks[i] = mint_jwk_json(&mk[i], "\"use\":\"sig\"");
    }
    snprintf(path, sizeof(path), "%s/jwks.json", argv[1]);
    if (write_file(path, mint_jwks_json(jwks, N)) != 0) {
        fprintf(stderr, "mkidp: could not write %s\n", path);
        return 1;
    }
    for (size_t i = 0; i < N; i++) {
        mint_keypair_free(&mk[i].kp);
    }
    mint_free_all();
    return 0;
}
