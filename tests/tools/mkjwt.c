/* mkjwt IDP_DIR ISS AUD TENANT SCOPE N: prints N distinct RS256 JWTs (one a line), signed with
 * the rsa-1 key of an identity provider made by mkidp, each with its own sub and jti, one hour of
 * life. For `make bench`: one token for the warm-cache runs, many for the cold-cache runs (every
 * request a token the server has not verified yet). */
#include "support/jwt_mint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int
main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: mkjwt IDP_DIR ISS AUD TENANT SCOPE N\n");
        return 2;
    }
    char path[512];
    snprintf(path, sizeof(path), "%s/rsa-1.pem", argv[1]);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "mkjwt: no key %s\n", path);
        return 1;
    }
    static char pem[16384];
    size_t n = fread(pem, 1, sizeof(pem) - 1, f);
    fclose(f);
    pem[n] = '\0';
    struct mint_key k;
    memset(&k, 0, sizeof(k));
    snprintf(k.kid, sizeof(k.kid), "rsa-1");
    if (mint_keypair_from_pem(pem, &k.kp) != CU_OK) {
        fprintf(stderr, "mkjwt: bad key %s\n", path);
        return 1;
    }
    long count = strtol(argv[6], NULL, 10);
    long long now = (long long)time(NULL);
    const char *header = "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"rsa-1\"}";
    for (long i = 0; i < count; i++) {
        char payload[1024];
        snprintf(payload, sizeof(payload),
                 "{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"bench-%ld\",\"tid\":\"%s\","
                 "\"scope\":\"%s\",\"iat\":%lld,\"exp\":%lld,\"jti\":\"j%lld-%ld\"}",
                 argv[2], argv[3], i, argv[4], argv[5], now, now + 3600, now, i);
        char *t = mint_sign(&k, "RS256", header, payload);
        puts(t);
        if (i % 1000 == 999) {
            mint_free_all(); /* the minted strings are the module's until then */
        }
    }
    mint_free_all();
    mint_keypair_free(&k.kp);
    return 0;
}
