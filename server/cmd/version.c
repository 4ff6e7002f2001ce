/* `custos version`: the release and the commit of this binary, one line, for bug reports and
 * deployment checks (the same values as the custos_build_info metric). */
#include "cmd/cmd.h"

#include <stdio.h>

#include "core/version.h"

int
cu_cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("custos %s (commit %s)\n", cu_version(), cu_version_commit());
    return 0;
}
