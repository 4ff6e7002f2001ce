/* Tokens from the test identity provider that scripts/test.sh created (CUSTOS_TEST_IDP). */
#ifndef CU_TEST_IDP_H
#define CU_TEST_IDP_H

#include "support/jwt_mint.h"

/* The key with this kid ("rsa-1", "ec-256", "ec-384", "ec-521"), loaded once per process. */
struct mint_key *t_idp_key(const char *kid);

/* A valid RS256 token for tenant (NULL: no tenant claim) with the scope string, sub, and
 * one hour of life. Owned by jwt_mint (mint_free_all). */
char *t_token(const char *tenant, const char *scope);
char *t_token_sub(const char *tenant, const char *scope, const char *sub);
/* Signs an arbitrary payload with kid's key under alg (header {"alg","typ":"JWT","kid"}). */
char *t_token_raw(const char *kid, const char *alg, const char *payload_json);
/* The standard claims with exp = now + ttl (negative for expired), as JSON text (heap). */
char *t_claims(const char *tenant, const char *scope, const char *sub, long long ttl,
               const char *extra);

#endif
