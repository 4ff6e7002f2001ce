/* `custos rotate-root --new-key-file F`: re-wrap every tenant key under a new root key, all or
 * nothing. */
#include "cmd/cmd.h"

#include <getopt.h>
#include <stdio.h>

#include "crypto/keys.h"
#include "crypto/secret.h"

int
cu_cmd_rotate_root(int argc, char **argv)
{
    const char *new_file = NULL;
    static const struct option longopts[] = {{"new-key-file", required_argument, NULL, 'n'},
                                             {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c != 'n') {
            cu_cmd_usage(stderr);
            return 2;
        }
        new_file = optarg;
    }
    if (new_file == NULL) {
        fprintf(stderr, "custos: rotate-root needs --new-key-file\n");
        return 2;
    }
    struct cu_config cfg;
    if (cu_config_load(&cfg, CU_NEED_DB | CU_NEED_ROOT_KEY) != CU_OK) {
        cu_config_cleanup(&cfg);
        return 1;
    }
    struct cu_db *db = NULL;
    struct cu_keyring *kr = NULL;
    struct cu_secret *new_root = NULL;
    int status = cu_cmd_open_keyring(&cfg, &db, &kr);
    if (status == 0 && cu_root_key_load_file(new_file, &new_root) != CU_OK) {
        status = cu_cmd_fail("could not load the new root key");
    }
    int tenants = 0;
    if (status == 0 && cu_keyring_rotate_root(kr, db, new_root, &tenants) != CU_OK) {
        status = cu_cmd_fail("root key rotation failed; nothing was changed");
    }
    if (status == 0) {
        printf("re-wrapped the keys of %d tenants under the new root key; point "
               "CUSTOS_ROOT_KEY_FILE at it and restart every node\n",
               tenants);
    }
    cu_secret_free(new_root);
    cu_db_free(db);
    cu_keyring_free(kr);
    cu_config_cleanup(&cfg);
    return status;
}
