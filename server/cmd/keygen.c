/* `custos keygen`: print a fresh random root key (base64 of 32 bytes). */
#include "cmd/cmd.h"

#include <stdio.h>

#include "core/mem.h"
#include "crypto/keys.h"

int
cu_cmd_keygen(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    char key[64];
    if (cu_keygen_base64(key) != CU_OK) {
        return cu_cmd_fail("could not generate a key");
    }
    printf("%s\n", key);
    cu_wipe(key, sizeof(key));
    return 0;
}
