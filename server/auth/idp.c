/* The identity provider's keys by URL (idp.h): OpenID discovery and the JWKS over HTTPS with
 * libcurl (https only, peer verified, size and time bounded), and the refresher thread with its
 * rate-limited refetch for unknown kids. Reasons name the step and curl's error, never a key. */
#include "auth/idp.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/mem.h"
#include "crypto/hmac.h"

/* a set that failed to come (or never came) is retried this often, at most */
#define RETRY_MS 2000LL
#define MAX_DOC 65536

struct cu_idp {
    char *jwks_url;
    char *issuer;
    int discovery;
    char *ca_file;
    long long refresh_ms;
    long long min_refetch_ms;
    int timeout_ms;
    cu_idp_install_fn install;
    void *ctx;
    uint8_t digest[CU_SHA256_LEN]; /* of the installed document: an unchanged one is not
                                      re-installed (that would empty the token cache) */

    pthread_mutex_t mu;
    pthread_cond_t cv;      /* the thread waits on it for work */
    pthread_cond_t done_cv; /* waiters for a fetch wait on it */
    pthread_t thread;
    int started;
    int stop;
    int wanted;             /* a refetch is asked for */
    int in_flight;
    int last_ok;
    int loaded;
    long long last_attempt_ms; /* end of the last attempt (0: none) */
    long long last_ok_ms;
    uint64_t fetches, failures, kid_refetches;
};

static long long
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- one HTTPS GET ---- */

struct body {
    char *data;
    size_t len;
    size_t max;
};

static size_t
on_data(char *p, size_t size, size_t n, void *ud)
{
    struct body *b = ud;
    size_t add = size * n;
    if (add > b->max - b->len) {
        return 0; /* too large: curl stops with a write error */
    }
    b->data = cu_xrealloc(b->data, b->len + add + 1);
    memcpy(b->data + b->len, p, add);
    b->len += add;
    b->data[b->len] = '\0';
    return add;
}

/* GETs url (https only, redirects to https only) into a heap buffer of at most max bytes. */
static enum cu_err
get(const struct cu_idp *idp, const char *what, const char *url, size_t max, struct body *b)
{
    enum cu_err rc = CU_OK;
    memset(b, 0, sizeof(*b));
    b->max = max;
    CURL *c = curl_easy_init();
    CU_ENSURE(c != NULL, CU_ERR_UNAVAILABLE, "could not start a fetch of the %s", what);
    struct curl_slist *hdr = curl_slist_append(NULL, "Accept: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)idp->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)idp->timeout_ms);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (idp->ca_file != NULL) {
        curl_easy_setopt(c, CURLOPT_CAINFO, idp->ca_file);
    }
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "custos");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    CU_CHECK(cc == CURLE_OK, CU_ERR_UNAVAILABLE, "fetching the %s: %s", what,
             cc == CURLE_WRITE_ERROR || cc == CURLE_FILESIZE_EXCEEDED
                 ? "larger than allowed"
                 : curl_easy_strerror(cc));
    CU_CHECK(status == 200, CU_ERR_UNAVAILABLE, "fetching the %s: HTTP status %ld", what, status);
    CU_CHECK(b->len > 0, CU_ERR_UNAVAILABLE, "fetching the %s: empty answer", what);
out:
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    if (rc != CU_OK) {
        free(b->data);
        memset(b, 0, sizeof(*b));
    }
    return rc;
}

/* The jwks_uri of the issuer's discovery document, which must name the same issuer (OpenID
 * Connect Discovery 1.0 §4.3). *uri is heap. */
static enum cu_err
discover(const struct cu_idp *idp, char **uri)
{
    enum cu_err rc = CU_OK;
    json_t *doc = NULL;
    struct body b = {0};
    size_t n = strlen(idp->issuer);
    while (n > 0 && idp->issuer[n - 1] == '/') {
        n--;
    }
    char url[2048];
    CU_ENSURE(n + 40 < sizeof(url), CU_ERR_CONFIG, "the issuer is too long for discovery");
    snprintf(url, sizeof(url), "%.*s/.well-known/openid-configuration", (int)n, idp->issuer);
    CU_TRY(get(idp, "discovery document", url, MAX_DOC, &b));
    json_error_t jerr;
    doc = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, &jerr);
    CU_CHECK(json_is_object(doc), CU_ERR_UNAVAILABLE, "the discovery document is not a JSON object");
    const char *iss = json_string_value(json_object_get(doc, "issuer"));
    CU_CHECK(iss != NULL && strcmp(iss, idp->issuer) == 0, CU_ERR_UNAVAILABLE,
             "the discovery document names another issuer than CUSTOS_JWT_ISSUER");
    const char *jwks = json_string_value(json_object_get(doc, "jwks_uri"));
    CU_CHECK(jwks != NULL && strncmp(jwks, "https://", 8) == 0 && strlen(jwks) < 2048,
             CU_ERR_UNAVAILABLE, "the discovery document has no https jwks_uri");
    *uri = cu_xstrdup(jwks);
out:
    json_decref(doc);
    free(b.data);
    return rc;
}

/* One attempt: discovery when configured, the JWKS, its checks. *ks is new (caller's) or NULL
 * when the document is the one installed already (*same = 1). */
static enum cu_err
fetch(struct cu_idp *idp, struct cu_jwks **ks, int *same)
{
    enum cu_err rc = CU_OK;
    char *uri = NULL;
    struct body b = {0};
    *ks = NULL;
    *same = 0;
    if (idp->discovery) {
        CU_TRY(discover(idp, &uri));
    }
    CU_TRY(get(idp, "jwks", uri != NULL ? uri : idp->jwks_url, CU_JWKS_MAX_FILE, &b));
    uint8_t digest[CU_SHA256_LEN];
    CU_TRY(cu_sha256((const uint8_t *)b.data, b.len, digest));
    if (idp->loaded && memcmp(digest, idp->digest, sizeof(digest)) == 0) {
        *same = 1;
        goto out;
    }
    rc = cu_jwks_parse(b.data, b.len, ks);
    if (rc != CU_OK) {
        /* a refused document is the IdP's fault as seen from here, not this node's
         * configuration; the reason is copied first (it is rewritten by the next one) */
        char why[256];
        snprintf(why, sizeof(why), "%s", cu_err_reason());
        CU_FAIL(CU_ERR_UNAVAILABLE, "the fetched jwks was refused: %s", why);
    }
    memcpy(idp->digest, digest, sizeof(digest));
out:
    free(uri);
    free(b.data);
    return rc;
}

/* Runs one attempt (no lock held) and records its outcome; wakes the waiters. */
static void
attempt(struct cu_idp *idp, int for_kid)
{
    struct cu_jwks *ks = NULL;
    int same = 0;
    enum cu_err rc = fetch(idp, &ks, &same);
    if (rc == CU_OK && ks != NULL) {
        char n[24];
        snprintf(n, sizeof(n), "%zu", cu_jwks_count(ks));
        idp->install(idp->ctx, ks);
        cu_log(CU_LOG_INFO, "loaded the identity provider's keys", "keys", n, "source",
               idp->discovery ? "discovery" : "CUSTOS_JWKS_URL", NULL);
    } else if (rc != CU_OK) {
        cu_log(CU_LOG_WARN,
               idp->loaded ? "kept the last good keys: could not fetch the identity provider's"
                           : "could not fetch the identity provider's keys; not ready until one "
                             "fetch succeeds",
               "reason", cu_err_reason(), NULL);
    }
    pthread_mutex_lock(&idp->mu);
    idp->fetches++;
    idp->kid_refetches += for_kid ? 1 : 0;
    idp->last_attempt_ms = mono_ms();
    idp->last_ok = rc == CU_OK;
    if (rc == CU_OK) {
        idp->last_ok_ms = idp->last_attempt_ms;
        idp->loaded = 1;
    } else {
        idp->failures++;
    }
    pthread_cond_broadcast(&idp->done_cv);
    pthread_mutex_unlock(&idp->mu);
}

static void *
refresher(void *arg)
{
    struct cu_idp *idp = arg;
    pthread_mutex_lock(&idp->mu);
    while (!idp->stop) {
        long long now = mono_ms();
        long long due = idp->last_attempt_ms + (idp->last_ok ? idp->refresh_ms : RETRY_MS);
        if (idp->wanted || now >= due) {
            int for_kid = idp->wanted;
            idp->wanted = 0;
            idp->in_flight = 1;
            pthread_mutex_unlock(&idp->mu);
            attempt(idp, for_kid);
            pthread_mutex_lock(&idp->mu);
            idp->in_flight = 0;
            pthread_cond_broadcast(&idp->done_cv);
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        long long wait = due - now;
        ts.tv_sec += wait / 1000;
        ts.tv_nsec += (wait % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&idp->cv, &idp->mu, &ts);
    }
    pthread_mutex_unlock(&idp->mu);
    return NULL;
}

/* ---- lifecycle ---- */

static void
global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

enum cu_err
cu_idp_new(const struct cu_idp_opts *o, cu_idp_install_fn install, void *ctx, struct cu_idp **out)
{
    *out = NULL;
    CU_ENSURE(o->discovery || (o->jwks_url != NULL && strncmp(o->jwks_url, "https://", 8) == 0),
              CU_ERR_CONFIG, "CUSTOS_JWKS_URL must be an https URL");
    CU_ENSURE(!o->discovery || (o->issuer != NULL && strncmp(o->issuer, "https://", 8) == 0),
              CU_ERR_CONFIG, "OpenID discovery needs an https CUSTOS_JWT_ISSUER");
    CU_ENSURE(o->refresh_s > 0 && o->min_refetch_s >= 0 && o->timeout_ms > 0, CU_ERR_CONFIG,
              "jwks refresh, refetch interval and timeout must be positive");
    /* once, before any thread: libcurl's global state is not thread-safe to set up */
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, global_init);
    struct cu_idp *idp = cu_xcalloc(1, sizeof(*idp));
    idp->jwks_url = o->jwks_url != NULL ? cu_xstrdup(o->jwks_url) : NULL;
    idp->issuer = o->issuer != NULL ? cu_xstrdup(o->issuer) : NULL;
    idp->discovery = o->discovery;
    idp->ca_file = o->ca_file != NULL ? cu_xstrdup(o->ca_file) : NULL;
    idp->refresh_ms = (long long)o->refresh_s * 1000;
    idp->min_refetch_ms = (long long)o->min_refetch_s * 1000;
    idp->timeout_ms = o->timeout_ms;
    idp->install = install;
    idp->ctx = ctx;
    pthread_mutex_init(&idp->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&idp->cv, &ca);
    pthread_cond_init(&idp->done_cv, &ca);
    pthread_condattr_destroy(&ca);
    attempt(idp, 0);
    *out = idp;
    return CU_OK;
}

enum cu_err
cu_idp_start(struct cu_idp *idp)
{
    CU_ENSURE(pthread_create(&idp->thread, NULL, refresher, idp) == 0, CU_ERR_INTERNAL,
              "could not start the jwks refresher");
    idp->started = 1;
    return CU_OK;
}

void
cu_idp_free(struct cu_idp *idp)
{
    if (idp == NULL) {
        return;
    }
    if (idp->started) {
        pthread_mutex_lock(&idp->mu);
        idp->stop = 1;
        pthread_cond_broadcast(&idp->cv);
        pthread_mutex_unlock(&idp->mu);
        pthread_join(idp->thread, NULL);
    }
    pthread_cond_destroy(&idp->cv);
    pthread_cond_destroy(&idp->done_cv);
    pthread_mutex_destroy(&idp->mu);
    free(idp->jwks_url);
    free(idp->issuer);
    free(idp->ca_file);
    free(idp);
}

/* ---- requests ---- */

int
cu_idp_refetch_for_kid(struct cu_idp *idp)
{
    pthread_mutex_lock(&idp->mu);
    long long now = mono_ms();
    if (!idp->started || idp->stop ||
        (!idp->in_flight && !idp->wanted &&
         now - idp->last_attempt_ms < idp->min_refetch_ms)) {
        pthread_mutex_unlock(&idp->mu);
        return 0; /* a fetch ran a moment ago: the kid is not there, no wait */
    }
    /* the attempt that ends after this one started counts (one in flight may have begun
     * before the IdP published the key; the caller then asks again after the interval) */
    uint64_t target = idp->fetches + 1;
    if (!idp->in_flight) {
        idp->wanted = 1;
        pthread_cond_signal(&idp->cv);
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long wait = idp->timeout_ms;
    ts.tv_sec += wait / 1000;
    ts.tv_nsec += (wait % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    while (idp->fetches < target && !idp->stop) {
        if (pthread_cond_timedwait(&idp->done_cv, &idp->mu, &ts) != 0) {
            break;
        }
    }
    int done = idp->fetches >= target;
    pthread_mutex_unlock(&idp->mu);
    return done;
}

void
cu_idp_refresh_now(struct cu_idp *idp)
{
    pthread_mutex_lock(&idp->mu);
    idp->wanted = 1;
    pthread_cond_signal(&idp->cv);
    pthread_mutex_unlock(&idp->mu);
}

void
cu_idp_status(struct cu_idp *idp, struct cu_idp_status *out)
{
    pthread_mutex_lock(&idp->mu);
    out->loaded = idp->loaded;
    out->age_ms = idp->loaded ? mono_ms() - idp->last_ok_ms : -1;
    out->fetches = idp->fetches;
    out->failures = idp->failures;
    out->kid_refetches = idp->kid_refetches;
    pthread_mutex_unlock(&idp->mu);
}
