/* Erasure receipts: made under the tenant's audit key, verified against it (receipt.h for the
 * canonical encoding). A receipt carries ids, a time, a count and a MAC: no value. */
#include "service/receipt.h"

#include "crypto/encode.h"
#include "crypto/hmac.h"
#include "crypto/secret.h"
#include "service/audit.h"
#include "service/ident.h"
#include "storage/keystore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char receipt_domain[] = "custos-erasure-receipt-v1\n";

static void
put(struct cu_buf *b, const char *s)
{
    uint8_t len[4];
    cu_put_be32(len, (uint32_t)strlen(s));
    cu_buf_append(b, len, 4);
    cu_buf_append(b, s, strlen(s));
}

static enum cu_err
receipt_mac(const struct cu_secret *key, const char *tenant, const char *subject,
            const char *erased_at, long long records, long long seq, uint8_t out[CU_SHA256_LEN])
{
    char n1[24], n2[24];
    snprintf(n1, sizeof(n1), "%lld", records);
    snprintf(n2, sizeof(n2), "%lld", seq);
    struct cu_buf b;
    cu_buf_init(&b);
    cu_buf_append(&b, receipt_domain, sizeof(receipt_domain) - 1);
    put(&b, tenant);
    put(&b, subject);
    put(&b, erased_at);
    put(&b, n1);
    put(&b, n2);
    enum cu_err rc = cu_hmac_sha256(key->data, key->len, b.data, b.len, out);
    cu_buf_cleanup(&b);
    return rc;
}

/* The tenant's audit key, read in tx. */
static enum cu_err
audit_key(struct cu_svc *s, struct cu_tx *tx, const char *tenant, struct cu_secret **key)
{
    int version = 0;
    char inc[CU_INC_LEN];
    CU_GUARD(cu_store_tenant_lock_kek(tx, tenant, 0, &version, inc));
    return cu_keyring_tenant_key(s->keyring, tx, tenant, inc, CU_TKEY_AUDIT, key);
}

enum cu_err
cu_receipt_make(struct cu_svc *s, struct cu_tx *tx, const char *tenant, const char *subject,
                const char *erased_at, long long records, long long audit_seq, json_t **out)
{
    struct cu_secret *key = NULL;
    CU_GUARD(audit_key(s, tx, tenant, &key));
    uint8_t mac[CU_SHA256_LEN];
    enum cu_err rc = receipt_mac(key, tenant, subject, erased_at, records, audit_seq, mac);
    cu_secret_free(key);
    CU_GUARD(rc);
    size_t hex_len = 0;
    char *hex = cu_hex_encode(mac, sizeof(mac), &hex_len);
    *out = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "tenant", tenant, "subject_id", subject,
                     "erased_at", erased_at, "records", (json_int_t)records, "audit_seq",
                     (json_int_t)audit_seq, "mac", hex);
    free(hex);
    return *out != NULL ? CU_OK : CU_ERR_AT(CU_ERR_INTERNAL, "could not build a receipt");
}

static int
is_hex64(const char *s)
{
    if (strlen(s) != 64) {
        return 0;
    }
    for (const char *p = s; *p; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

/* The receipt's members, checked for shape. */
struct parsed {
    const char *tenant, *subject, *erased_at, *mac;
    long long records, seq;
};

static enum cu_err
parse(json_t *r, struct cu_problems *problems, struct parsed *p)
{
    static const char *const members[] = {"tenant",    "subject_id", "erased_at", "records",
                                          "audit_seq", "mac",        NULL};
    if (!json_is_object(r)) {
        cu_problem_add(problems, "/receipt", "must be an erasure receipt object");
        CU_BAIL(CU_ERR_INVALID, "receipt is not an object");
    }
    if (cu_unknown_members(r, members) > 0) {
        cu_problem_add(problems, "/receipt", "unknown member");
    }
    json_t *t = json_object_get(r, "tenant"), *sub = json_object_get(r, "subject_id");
    json_t *at = json_object_get(r, "erased_at"), *n = json_object_get(r, "records");
    json_t *seq = json_object_get(r, "audit_seq"), *mac = json_object_get(r, "mac");
    if (!json_is_string(t) || !cu_tenant_id_ok(json_string_value(t))) {
        cu_problem_add(problems, "/receipt/tenant", "must be a tenant id");
    }
    if (!json_is_string(sub) || !cu_subject_id_ok(json_string_value(sub)) ||
        cu_subject_id_pii_like(json_string_value(sub))) {
        cu_problem_add(problems, "/receipt/subject_id", "must be a subject id");
    }
    if (!json_is_string(at) || json_string_length(at) < 1 || json_string_length(at) > 40) {
        cu_problem_add(problems, "/receipt/erased_at", "must be a timestamp");
    }
    if (!json_is_integer(n) || json_integer_value(n) < 0) {
        cu_problem_add(problems, "/receipt/records", "must be an integer >= 0");
    }
    if (!json_is_integer(seq) || json_integer_value(seq) < 1) {
        cu_problem_add(problems, "/receipt/audit_seq", "must be an integer >= 1");
    }
    if (!json_is_string(mac) || !is_hex64(json_string_value(mac))) {
        cu_problem_add(problems, "/receipt/mac", "must be 64 lower-case hex digits");
    }
    CU_ENSURE(problems->errors == NULL, CU_ERR_INVALID, "malformed receipt");
    *p = (struct parsed){json_string_value(t),   json_string_value(sub), json_string_value(at),
                         json_string_value(mac), json_integer_value(n),  json_integer_value(seq)};
    return CU_OK;
}

enum cu_err
cu_receipt_verify(struct cu_svc *s, const struct cu_actor *a, json_t *receipt,
                  struct cu_problems *problems, int *valid)
{
    *valid = 0;
    struct parsed p = {0};
    CU_GUARD(parse(receipt, problems, &p));
    struct cu_tx *tx = NULL;
    struct cu_secret *key = NULL;
    enum cu_err rc = CU_OK;
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    CU_TRY(audit_key(s, tx, a->tenant, &key));
    uint8_t want[CU_SHA256_LEN];
    CU_TRY(receipt_mac(key, p.tenant, p.subject, p.erased_at, p.records, p.seq, want));
    uint8_t *got = NULL;
    size_t got_len = 0;
    CU_TRY(cu_hex_decode(p.mac, 64, &got, &got_len));
    /* another tenant's receipt is not this tenant's to vouch for */
    *valid = strcmp(p.tenant, a->tenant) == 0 && got_len == sizeof(want) &&
             cu_ct_equal(got, want, sizeof(want));
    free(got);
    json_t *audit = json_array();
    json_array_append_new(audit, cu_audit_entry(a, "receipt.verify", NULL, NULL, NULL,
                                                p.subject, NULL, NULL,
                                                *valid ? "valid" : "invalid"));
    CU_TRY(cu_audit_write(tx, a->tenant, audit));
    rc = cu_tx_commit(&tx);
out:
    cu_tx_abort(&tx);
    cu_secret_free(key);
    if (rc != CU_OK) {
        *valid = 0;
    }
    return rc;
}
