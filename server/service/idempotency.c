/* Idempotency-Keys: a retried request with the same key and body gets the first answer and
 * outcome; the same key with another request is a conflict. Tenant keys, or platform keys per
 * principal. */
#include "service/idempotency.h"

#include "crypto/encode.h"
#include "storage/vaultstore.h"

#include <stdlib.h>

enum cu_err
cu_idem_check(struct cu_tx *tx, const char *tenant, const char *principal, const struct cu_idem *k,
              int *hit, enum cu_outcome *outcome, json_t **out)
{
    *hit = 0;
    if (k == NULL || k->key == NULL) {
        return CU_OK;
    }
    struct cu_arena *arena = cu_arena_new();
    struct cu_db_result *r = NULL;
    enum cu_err rc = tenant != NULL ? cu_store_idem_get(tx, tenant, principal, k->key, arena, &r)
                                    : cu_store_pidem_get(tx, principal, k->key, arena, &r);
    CU_TRY(rc);
    if (cu_res_rows(r) == 1) {
        uint8_t *h = NULL;
        size_t hl = 0;
        CU_TRY(cu_res_bytea(r, 0, CU_COL_IDEM_REQUEST_HASH, arena, &h, &hl));
        if (hl != 32 || !cu_ct_equal(h, k->hash, 32)) {
            cu_err_public(CU_ERR_CONFLICT, "This Idempotency-Key was used with another request");
            CU_FAIL(CU_ERR_CONFLICT, "idempotency key reused with another request");
        }
        long long stored = cu_res_int(r, 0, CU_COL_IDEM_STATUS);
        CU_CHECK(stored >= CU_OUTCOME_DONE && stored <= CU_OUTCOME_ACCEPTED, CU_ERR_INTERNAL,
                 "stored outcome %lld is unknown", stored);
        *outcome = (enum cu_outcome)stored;
        *out = json_loads(cu_res_text(r, 0, CU_COL_IDEM_RESPONSE), 0, NULL);
        CU_CHECK(*out != NULL, CU_ERR_INTERNAL, "stored answer is not JSON");
        *hit = 1;
    }
out:
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_idem_store(struct cu_tx *tx, const char *tenant, const char *principal, const struct cu_idem *k,
              enum cu_outcome outcome, json_t *answer)
{
    if (k == NULL || k->key == NULL) {
        return CU_OK;
    }
    char *js = json_dumps(answer, JSON_COMPACT);
    CU_ENSURE(js != NULL, CU_ERR_INTERNAL, "could not encode the answer");
    enum cu_err rc =
        tenant != NULL
            ? cu_store_idem_put(tx, tenant, principal, k->key, k->hash, 32, (int)outcome, js)
            : cu_store_pidem_put(tx, principal, k->key, k->hash, 32, (int)outcome, js);
    free(js);
    return rc;
}
