/* What protects a value at rest and stands for it outside: the tenant keys a batch needs, the
 * subject key of a read, AES-256-GCM seal/open of a value, its token by kind (random,
 * deterministic, FF1) and its blind index. */
#include "service/seal.h"

#include "crypto/aead.h"
#include "crypto/encode.h"
#include "crypto/ff1.h"
#include "crypto/hmac.h"
#include "crypto/rand.h"
#include "crypto/token.h"

#include <stdlib.h>
#include <string.h>

/* ---- keys ---- */

enum cu_err
cu_tenant_keys_load(struct cu_svc *s, struct cu_tx *tx, const char *tenant,
                    const struct cu_coll_spec *spec, struct cu_tenant_keys *k)
{
    memset(k, 0, sizeof(*k));
    int need_index = 0, need_token = 0, need_ff1 = 0;
    for (size_t i = 0; i < spec->nfields; i++) {
        need_index |= spec->fields[i].searchable;
        need_token |= spec->fields[i].kind == CU_TOK_DETERMINISTIC;
        need_ff1 |= spec->fields[i].kind == CU_TOK_FPE_DET;
    }
    if (need_index) {
        CU_GUARD(
            cu_keyring_tenant_key(s->keyring, tx, tenant, spec->inc, CU_TKEY_INDEX, &k->index));
    }
    if (need_token) {
        CU_GUARD(
            cu_keyring_tenant_key(s->keyring, tx, tenant, spec->inc, CU_TKEY_TOKEN, &k->token));
    }
    if (need_ff1) {
        CU_GUARD(cu_keyring_tenant_key(s->keyring, tx, tenant, spec->inc, CU_TKEY_FF1, &k->ff1));
    }
    return CU_OK;
}

void
cu_tenant_keys_cleanup(struct cu_tenant_keys *k)
{
    cu_secret_free(k->index);
    cu_secret_free(k->token);
    cu_secret_free(k->ff1);
    memset(k, 0, sizeof(*k));
}

enum cu_err
cu_subject_key_for_read(struct cu_svc *s, struct cu_tx *tx, const char *tenant, const char *inc,
                        const char *subject, int version, int kek_version, const uint8_t *wrapped,
                        size_t len, struct cu_secret **out)
{
    enum cu_err rc = cu_keyring_subject_key_unwrap(s->keyring, tx, tenant, inc, subject, version,
                                                   kek_version, wrapped, len, out);
    if (rc == CU_OK || rc == CU_ERR_UNAVAILABLE) {
        return rc;
    }
    return cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__,
                      "could not get a subject key for a read: %s", cu_err_name(rc));
}

/* ---- values ---- */

static char *
value_aad(struct cu_arena *arena, const char *tenant, const char *collection, const char *record_id,
          const char *field, int key_version)
{
    return cu_arena_printf(arena, "custos:value:v1|%s|%s|%s|%s|%d", tenant, collection, record_id,
                           field, key_version);
}

enum cu_err
cu_value_seal(const struct cu_secret *key, const char *tenant, const char *collection,
              const char *record_id, const char *field, int key_version, const char *pt, size_t len,
              struct cu_arena *arena, char **hex)
{
    const char *aad = value_aad(arena, tenant, collection, record_id, field, key_version);
    size_t out_len = cu_aead_sealed_len(len);
    uint8_t *sealed = cu_arena_alloc(arena, out_len);
    CU_GUARD(cu_aead_seal(key->data, (const uint8_t *)aad, strlen(aad), (const uint8_t *)pt, len,
                          sealed, &out_len));
    size_t hex_len = 0;
    char *h = cu_hex_encode(sealed, out_len, &hex_len);
    *hex = cu_arena_strndup(arena, h, hex_len);
    free(h);
    return CU_OK;
}

enum cu_err
cu_value_open(const struct cu_secret *key, const char *tenant, const char *collection,
              const char *record_id, const char *field, int key_version, const uint8_t *ct,
              size_t ct_len, struct cu_arena *arena, char **pt, size_t *len)
{
    *pt = NULL;
    const char *aad = value_aad(arena, tenant, collection, record_id, field, key_version);
    size_t n = cu_aead_opened_len(ct_len);
    uint8_t *buf = cu_arena_alloc(arena, n + 1);
    size_t out_len = 0;
    CU_GUARD(cu_aead_open(key->data, (const uint8_t *)aad, strlen(aad), ct, ct_len, buf, &out_len));
    buf[out_len] = '\0';
    *pt = (char *)buf;
    *len = out_len;
    return CU_OK;
}

/* Random decimal digits into out[0..n) from the CSPRNG, uniform (rejection of bytes >= 250). */
static enum cu_err
random_digits(char *out, size_t n)
{
    size_t have = 0;
    while (have < n) {
        uint8_t b[32];
        CU_GUARD(cu_rand_bytes(b, sizeof(b)));
        for (size_t i = 0; i < sizeof(b) && have < n; i++) {
            if (b[i] < 250) {
                out[have++] = (char)('0' + b[i] % 10);
            }
        }
        cu_wipe(b, sizeof(b));
    }
    return CU_OK;
}

/* Card tokens keep the first 6 and last 4 digits (keep first6_last4) or the last 4 only (keep
 * last4); the digits in between but one are random (format_preserving) or FF1 encrypted
 * (format_preserving_deterministic; the tweak binds tenant, collection, field, keep and the kept
 * digits), and the last of them is chosen so that the Luhn check fails: a token is never a
 * valid card number. */
static enum cu_err
card_token(const struct cu_field_spec *f, const struct cu_tenant_keys *k, const char *tweak,
           const char *pan, size_t n, struct cu_arena *arena, char **token, const char **problem)
{
    if (n < 13) {
        *problem = "card numbers under 13 digits cannot have a format-preserving token";
        return cu_err_set(CU_ERR_INVALID, __FILE__, __LINE__, "card too short for fpe");
    }
    size_t lead = f->keep == CU_KEEP_LAST4 ? 0 : 6;
    size_t free_len = n - lead - 4 - 1;
    char *t = cu_arena_strndup(arena, pan, n);
    char enc[24];
    if (f->kind == CU_TOK_FPE) {
        CU_GUARD(random_digits(enc, free_len));
    } else {
        char mid[24];
        memcpy(mid, pan + lead, free_len);
        mid[free_len] = '\0';
        char *tw = lead ? cu_arena_printf(arena, "%s|%.6s|%.4s", tweak, pan, pan + n - 4)
                        : cu_arena_printf(arena, "%s|last4|%.4s", tweak, pan + n - 4);
        enum cu_err rc =
            cu_ff1_encrypt_small_digits(k->ff1->data, (const uint8_t *)tw, strlen(tw), mid, enc);
        cu_wipe(mid, sizeof(mid));
        CU_GUARD(rc);
    }
    memcpy(t + lead, enc, free_len);
    cu_wipe(enc, sizeof(enc));
    size_t pos = lead + free_len;
    int valid = 0;
    for (char d = '0'; d <= '9'; d++) {
        t[pos] = d;
        if (cu_luhn_valid(t, n)) {
            valid = d - '0';
            break;
        }
    }
    if (f->kind == CU_TOK_FPE) {
        /* any of the nine digits that fail the check */
        char r = '0';
        CU_GUARD(random_digits(&r, 1));
        while (r == '9') {
            CU_GUARD(random_digits(&r, 1));
        }
        t[pos] = (char)('0' + (valid + 1 + (r - '0')) % 10);
    } else {
        t[pos] = (char)('0' + (valid + 1) % 10);
    }
    *token = t;
    return CU_OK;
}

enum cu_err
cu_value_token(const struct cu_field_spec *f, const struct cu_tenant_keys *k, const char *tenant,
               const char *collection, const char *normalized, size_t len, struct cu_arena *arena,
               char **token, const char **problem)
{
    char buf[CU_TOKEN_BUF];
    char *context = cu_arena_printf(arena, "%s|%s|%s", tenant, collection, f->name);
    switch (f->kind) {
    case CU_TOK_RANDOM:
        CU_GUARD(cu_token_random(buf));
        *token = cu_arena_strdup(arena, buf);
        return CU_OK;
    case CU_TOK_DETERMINISTIC:
        CU_GUARD(
            cu_token_deterministic(k->token->data, context, (const uint8_t *)normalized, len, buf));
        *token = cu_arena_strdup(arena, buf);
        return CU_OK;
    case CU_TOK_FPE:
    case CU_TOK_FPE_DET:
        break;
    }
    if (f->type == CU_FT_CARD) {
        return card_token(f, k, context, normalized, len, arena, token, problem);
    }
    /* ssn "AAA-GG-SSSS" and phone "+digits": random or FF1 digits, punctuation kept */
    char digits[32];
    size_t nd = 0;
    for (size_t i = 0; i < len && nd + 1 < sizeof(digits); i++) {
        if (normalized[i] >= '0' && normalized[i] <= '9') {
            digits[nd++] = normalized[i];
        }
    }
    digits[nd] = '\0';
    char enc[32];
    enum cu_err rc = CU_OK;
    if (nd < 6) {
        rc = cu_err_set(CU_ERR_INVALID, __FILE__, __LINE__, "fpe refused: under 6 digits");
    } else if (f->kind == CU_TOK_FPE) {
        rc = random_digits(enc, nd);
        enc[nd] = '\0';
    } else {
        rc = cu_ff1_encrypt_digits(k->ff1->data, (const uint8_t *)context, strlen(context), digits,
                                   enc);
    }
    cu_wipe(digits, sizeof(digits));
    if (rc == CU_ERR_CRYPTO) {
        return rc;
    }
    if (rc != CU_OK) {
        *problem = "the value is too short for a format-preserving token";
        return cu_err_set(CU_ERR_INVALID, __FILE__, __LINE__, "fpe refused");
    }
    char *t = cu_arena_strndup(arena, normalized, len);
    size_t j = 0;
    for (size_t i = 0; i < len; i++) {
        if (t[i] >= '0' && t[i] <= '9') {
            t[i] = enc[j++];
        }
    }
    cu_wipe(enc, sizeof(enc));
    *token = t;
    return CU_OK;
}

enum cu_err
cu_value_blind_index(const struct cu_tenant_keys *k, const char *collection, const char *field,
                     const char *normalized, size_t len, uint8_t out[32])
{
    uint8_t lc[4], lf[4];
    cu_put_be32(lc, (uint32_t)strlen(collection));
    cu_put_be32(lf, (uint32_t)strlen(field));
    struct cu_part parts[] = {{lc, 4},
                              {collection, strlen(collection)},
                              {lf, 4},
                              {field, strlen(field)},
                              {normalized, len}};
    return cu_hmac_sha256_parts(k->index->data, k->index->len, parts, 5, out);
}
