/* `custos migrate`: apply the embedded migrations as the owner role, recording the root key's
 * check value so that serve can refuse a wrong root key. */
#include "cmd/cmd.h"

#include <stdint.h>

#include "crypto/keys.h"
#include "crypto/secret.h"

int
cu_cmd_migrate(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    struct cu_config cfg;
    if (cu_config_load(&cfg, CU_NEED_MIGRATE_DB | CU_NEED_ROOT_KEY) != CU_OK) {
        cu_config_cleanup(&cfg);
        return 1;
    }
    struct cu_secret *root = NULL;
    uint8_t kcv[32];
    if (cu_root_key_load_file(cfg.root_key_file, &root) != CU_OK ||
        cu_key_check_value(root, kcv) != CU_OK) {
        cu_secret_free(root);
        cu_config_cleanup(&cfg);
        return cu_cmd_fail("could not load the root key");
    }
    cu_secret_free(root);
    int status = 0;
    const char *owner_password =
        cfg.migrate_database_password ? cfg.migrate_database_password : cfg.database_password;
    if (cu_migrate(cfg.migrate_database_url, owner_password, cfg.database_url,
                   cfg.app_db_password, kcv, cfg.db_timeout_ms) != CU_OK) {
        status = cu_cmd_fail("migration failed");
    }
    cu_config_cleanup(&cfg);
    return status;
}
