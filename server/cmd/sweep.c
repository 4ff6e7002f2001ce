/* `custos sweep`: one pass of the background jobs (re-wrap subject keys, destroy retired key
 * versions past their grace, seal the audit trail, erase records past their retention), then
 * exit. */
#include "cmd/cmd.h"

#include <stdio.h>

#include "core/log.h"
#include "service/audit_chain.h"
#include "service/subjects.h"
#include "service/tenants.h"

int
cu_cmd_sweep(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    struct cu_config cfg;
    if (cu_config_load(&cfg, CU_NEED_DB | CU_NEED_ROOT_KEY) != CU_OK) {
        cu_config_cleanup(&cfg);
        return 1;
    }
    cu_cmd_apply_log_level(&cfg);
    struct cu_db *db = NULL;
    struct cu_keyring *kr = NULL;
    int status = cu_cmd_open_keyring(&cfg, &db, &kr);
    if (status == 0) {
        struct cu_svc svc = {.db = db, .keyring = kr};
        int rewrapped = 0, destroyed = 0;
        if (cu_keys_sweep(&svc, &rewrapped, &destroyed) != CU_OK) {
            status = cu_cmd_fail("sweep failed");
        } else {
            printf("re-wrapped %d subject keys, destroyed %d key versions\n", rewrapped, destroyed);
        }
        long long sealed = 0;
        if (status == 0 && cu_audit_seal_all(&svc, &sealed) != CU_OK) {
            status = cu_cmd_fail("audit sealing failed");
        } else if (status == 0) {
            printf("sealed %lld audit entries\n", sealed);
        }
        long long expired = 0;
        if (status == 0 && cu_retention_sweep_all(&svc, &expired) != CU_OK) {
            status = cu_cmd_fail("retention sweep failed");
        } else if (status == 0) {
            printf("erased %lld records past their retention\n", expired);
        }
    }
    cu_db_free(db);
    cu_keyring_free(kr);
    cu_config_cleanup(&cfg);
    return status;
}
