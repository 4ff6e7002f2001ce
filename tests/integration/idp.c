/* Test tokens signed with the test identity provider's private keys. */
#include "idp.h"

#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct mint_key *
t_idp_key(const char *kid)
{
    static struct mint_key keys[8];
    static int nkeys;
    for (int i = 0; i < nkeys; i++) {
        if (strcmp(keys[i].kid, kid) == 0) {
            return &keys[i];
        }
    }
    if (nkeys == 8) {
        abort();
    }
    char path[512];
    snprintf(path, sizeof(path), "%s/%s.pem", t_env("CUSTOS_TEST_IDP"), kid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "idp: no key %s\n", path);
        abort();
    }
    char pem[8192];
    size_t n = fread(pem, 1, sizeof(pem) - 1, f);
    fclose(f);
    pem[n] = '\0';
    struct mint_key *k = &keys[nkeys];
    snprintf(k->kid, sizeof(k->kid), "%s", kid);
    if (mint_keypair_from_pem(pem, &k->kp) != CU_OK) {
        fprintf(stderr, "idp: bad key %s\n", path);
        abort();
    }
    nkeys++;
    return k;
}

char *
t_claims(const char *tenant, const char *scope, const char *sub, long long ttl, const char *extra)
{
    long long now = (long long)time(NULL);
    json_t *c = json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", t_env("CUSTOS_JWT_ISSUER"), "aud",
                          t_env("CUSTOS_JWT_AUDIENCE"), "sub", sub, "iat", (json_int_t)now,
                          "exp", (json_int_t)(now + ttl));
    if (tenant != NULL) {
        json_object_set_new(c, "tid", json_string(tenant));
    }
    if (scope != NULL) {
        json_object_set_new(c, "scope", json_string(scope));
    }
    if (extra != NULL) {
        json_t *e = json_loads(extra, 0, NULL);
        if (e != NULL) {
            json_object_update(c, e);
            json_decref(e);
        }
    }
    char *s = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    return s;
}

char *
t_token_raw(const char *kid, const char *alg, const char *payload_json)
{
    char header[256];
    snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", alg, kid);
    return mint_sign(t_idp_key(kid), alg, header, payload_json);
}

char *
t_token_sub(const char *tenant, const char *scope, const char *sub)
{
    char *claims = t_claims(tenant, scope, sub, 3600, NULL);
    char *tok = t_token_raw("rsa-1", "RS256", claims);
    free(claims);
    return tok;
}

char *
t_token(const char *tenant, const char *scope)
{
    return t_token_sub(tenant, scope, "test-user");
}
