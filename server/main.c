/* custos: process hardening and allocator set-up in start-up order, then verb dispatch; each
 * verb lives in server/cmd/<verb>.c. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "cmd/cmd.h"
#include "core/mem.h"
#include "crypto/secret.h"

/* Core dumps could hold keys and customer data. */
static void
harden_process(void)
{
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        cu_cmd_usage(stderr);
        return 2;
    }
    harden_process();
    cu_secure_heap_init(1 << 20);
    /* jansson holds request values (plaintext PII) in its own strings: wipe them when freed */
    json_set_alloc_funcs(malloc, cu_free_wiped);
    const struct cu_cmd *cmd = cu_cmd_find(argv[1]);
    if (cmd == NULL) {
        fprintf(stderr, "custos: unknown verb %s\n", argv[1]);
        cu_cmd_usage(stderr);
        return 2;
    }
    return cmd->run(argc - 1, argv + 1);
}
