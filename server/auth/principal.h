/* Who a verified bearer token speaks for, and the time claims that bound it. Plain data shared
 * by claims (which fills it), the token cache (which copies it) and the HTTP layer (which reads
 * it); it includes nothing from auth/, so that none of them depends on another through it. */
#ifndef CU_AUTH_PRINCIPAL_H
#define CU_AUTH_PRINCIPAL_H

#include <stddef.h>

struct cu_principal {
    const char *sub;     /* arena-owned */
    const char *tenant;  /* NULL only with vault:admin */
    const char **scopes; /* from `scope` (space separated) or `scp` (array of strings) */
    size_t nscopes;
    const char **roles; /* optional `roles` array */
    size_t nroles;
    int mfa; /* "mfa" in amr */
    long long exp;
};

/* Time claims of a token, kept with a cache entry so a hit re-checks them against the
 * caller's clock. */
struct cu_token_times {
    long long exp;
    long long nbf; /* LLONG_MIN when absent */
    long long iat; /* LLONG_MIN when absent */
};

#endif
