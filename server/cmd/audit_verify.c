/* `custos audit-verify --tenant T [--checkpoint FILE]`: seals what is committed, walks the
 * tenant's audit chain and prints the answer of GET /v1/audit/verify (against the checkpoint in
 * FILE, as GET /v1/audit/checkpoint gave it, when named). Exit 0 when the chain is valid, 1 when
 * it is not (the first bad entry on stderr) or verification could not run, 2 bad usage. The
 * verification itself is audited, as principal "cli:audit-verify". */
#include "cmd/cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/audit_chain.h"

int
cu_cmd_audit_verify(int argc, char **argv)
{
    const char *tenant = NULL, *cp_file = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tenant") == 0 && i + 1 < argc) {
            tenant = argv[++i];
        } else if (strcmp(argv[i], "--checkpoint") == 0 && i + 1 < argc) {
            cp_file = argv[++i];
        } else {
            fprintf(stderr, "custos audit-verify: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    if (tenant == NULL || !cu_tenant_id_ok(tenant)) {
        fprintf(stderr, "custos audit-verify: --tenant T (a valid tenant id) is required\n");
        return 2;
    }
    json_t *cp = NULL;
    if (cp_file != NULL) {
        /* the answer of GET /v1/audit/checkpoint, or its inner object */
        cp = cu_cmd_load_answer("audit-verify", cp_file, "checkpoint");
        if (cp == NULL) {
            return 2;
        }
    }
    struct cu_config cfg;
    if (cu_config_load(&cfg, CU_NEED_DB | CU_NEED_ROOT_KEY) != CU_OK) {
        cu_config_cleanup(&cfg);
        json_decref(cp);
        return 1;
    }
    cu_cmd_apply_log_level(&cfg);
    struct cu_db *db = NULL;
    struct cu_keyring *kr = NULL;
    int status = cu_cmd_open_keyring(&cfg, &db, &kr);
    if (status == 0) {
        struct cu_svc svc = {.db = db, .keyring = kr};
        struct cu_actor a = {.tenant = tenant, .principal = "cli:audit-verify"};
        struct cu_problems p = {0};
        json_t *out = NULL;
        enum cu_err rc = cu_audit_verify(&svc, &a, cp, &p, &out);
        if (rc == CU_ERR_INVALID) {
            cu_cmd_print_problem("the checkpoint is not valid", &p);
            status = 1;
        } else if (rc == CU_ERR_NOT_FOUND) {
            fprintf(stderr, "custos: no tenant %s\n", tenant);
            status = 1;
        } else if (rc != CU_OK) {
            status = cu_cmd_fail("audit verification failed");
        } else {
            char *js = json_dumps(out, JSON_COMPACT);
            printf("%s\n", js != NULL ? js : "");
            free(js);
            if (!json_is_true(json_object_get(out, "valid"))) {
                fprintf(stderr, "custos: the audit chain of %s is broken at seq %lld: %s\n", tenant,
                        (long long)json_integer_value(json_object_get(out, "seq")),
                        json_string_value(json_object_get(out, "reason")));
                status = 1;
            }
        }
        json_decref(out);
        json_decref(p.errors);
    }
    json_decref(cp);
    cu_db_free(db);
    cu_keyring_free(kr);
    cu_config_cleanup(&cfg);
    return status;
}
