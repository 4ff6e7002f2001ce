/* The identity provider's keys by URL: a JWKS fetched over HTTPS with libcurl from
 * CUSTOS_JWKS_URL, or from the jwks_uri of the issuer's OpenID discovery document
 * (CUSTOS_OIDC_DISCOVERY=1), refreshed by a thread of its own on a timer and, rate-limited, when
 * a token names a kid the set does not hold. A failed or refused fetch keeps the last good set.
 * Invariant: no fetch happens on a request thread; a request waits for one for at most
 * timeout_ms, and only when the rate limit lets a refetch start (or one is under way). */
#ifndef CU_AUTH_IDP_H
#define CU_AUTH_IDP_H

#include <stdint.h>

#include "auth/jwks.h"
#include "core/err.h"

struct cu_idp_opts {
    const char *jwks_url; /* https URL of the JWKS; NULL with discovery */
    const char *issuer;   /* discovery: <issuer>/.well-known/openid-configuration */
    int discovery;        /* 1: find the JWKS by OpenID discovery from the issuer */
    const char *ca_file;  /* PEM bundle to trust instead of the system's (NULL: system) */
    int refresh_s;        /* seconds between refreshes of a good set */
    int min_refetch_s;    /* least seconds between two fetches an unknown kid asks for */
    int timeout_ms;       /* bound of each HTTPS request, and of a request's wait for a refetch */
};

/* Installs a fetched set: takes the reference. Called from the fetching thread (or from
 * cu_idp_new), never with an idp lock held. */
typedef void (*cu_idp_install_fn)(void *ctx, struct cu_jwks *ks);

struct cu_idp;

/* Copies opts and fetches once (bounded by timeout_ms per request). A failed first fetch is not
 * an error (the IdP may be down at start): it is logged, nothing is installed, and the refresher
 * retries every few seconds. CU_ERR_CONFIG for bad options (no https URL, no issuer). */
enum cu_err cu_idp_new(const struct cu_idp_opts *opts, cu_idp_install_fn install, void *ctx,
                       struct cu_idp **out) CU_WUR;
/* Starts the refresher thread (after the process has blocked its signals). */
enum cu_err cu_idp_start(struct cu_idp *idp) CU_WUR;
/* Stops and joins the thread, frees. NULL is fine. */
void cu_idp_free(struct cu_idp *idp);

/* A token named a kid the set lacks: asks for a refetch when none ran in the last
 * min_refetch_s and waits (timeout_ms at most) for it, or for the one under way. 1 when a fetch
 * completed meanwhile (the caller looks the kid up again), 0 when rate-limited or timed out. */
int cu_idp_refetch_for_kid(struct cu_idp *idp);
/* Fetches as soon as possible, whatever the rate limit (SIGHUP). Does not wait. */
void cu_idp_refresh_now(struct cu_idp *idp);

struct cu_idp_status {
    int loaded;              /* a set was installed at least once */
    long long age_ms;        /* since the last successful fetch (-1: never) */
    uint64_t fetches;        /* attempts */
    uint64_t failures;       /* attempts that kept the previous set */
    uint64_t kid_refetches;  /* attempts an unknown kid asked for */
};
void cu_idp_status(struct cu_idp *idp, struct cu_idp_status *out);

#endif
