/* `custos receipt-verify --file F`: verifies an erasure receipt (the answer of DELETE
 * /v1/subjects/{sid}, or its inner "receipt" object) against the audit key of the tenant it
 * names, read from the database. Prints {"valid":true|false}; exit 0 when valid, 1 when not (or
 * when verification could not run), 2 bad usage. Audited as principal "cli:receipt-verify". */
#include "cmd/cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/receipt.h"
#include "service/subjects.h"

int
cu_cmd_receipt_verify(int argc, char **argv)
{
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--file") == 0 && i + 1 < argc) {
            file = argv[++i];
        } else {
            fprintf(stderr, "custos receipt-verify: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    if (file == NULL) {
        fprintf(stderr, "custos receipt-verify: --file F (an erasure receipt, JSON) is required\n");
        return 2;
    }
    /* the answer of DELETE /v1/subjects/{sid}, or its inner object */
    json_t *receipt = cu_cmd_load_answer("receipt-verify", file, "receipt");
    if (receipt == NULL) {
        return 2;
    }
    const char *tenant = json_string_value(json_object_get(receipt, "tenant"));
    if (tenant == NULL || !cu_tenant_id_ok(tenant)) {
        fprintf(stderr, "custos receipt-verify: the receipt names no valid tenant\n");
        json_decref(receipt);
        return 2;
    }
    struct cu_config cfg;
    if (cu_config_load(&cfg, CU_NEED_DB | CU_NEED_ROOT_KEY) != CU_OK) {
        cu_config_cleanup(&cfg);
        json_decref(receipt);
        return 1;
    }
    cu_cmd_apply_log_level(&cfg);
    struct cu_db *db = NULL;
    struct cu_keyring *kr = NULL;
    int status = cu_cmd_open_keyring(&cfg, &db, &kr);
    if (status == 0) {
        struct cu_svc svc = {.db = db, .keyring = kr};
        struct cu_actor a = {.tenant = tenant, .principal = "cli:receipt-verify"};
        struct cu_problems p = {0};
        int valid = 0;
        enum cu_err rc = cu_receipt_verify(&svc, &a, receipt, &p, &valid);
        if (rc == CU_ERR_INVALID) {
            cu_cmd_print_problem("not an erasure receipt", &p);
            status = 2;
        } else if (rc == CU_ERR_NOT_FOUND) {
            fprintf(stderr, "custos: no tenant %s\n", tenant);
            status = 1;
        } else if (rc != CU_OK) {
            status = cu_cmd_fail("receipt verification failed");
        } else {
            printf("{\"valid\":%s}\n", valid ? "true" : "false");
            if (!valid) {
                fprintf(stderr, "custos: the receipt was not issued by this vault as it stands\n");
                status = 1;
            }
        }
        json_decref(p.errors);
    }
    json_decref(receipt);
    cu_db_free(db);
    cu_keyring_free(kr);
    cu_config_cleanup(&cfg);
    return status;
}
