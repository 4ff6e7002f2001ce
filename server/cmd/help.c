/* `custos help`: the verbs and every configuration variable. */
#include "cmd/cmd.h"

int
cu_cmd_help(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cu_cmd_usage(stdout);
    cu_config_print_help();
    return 0;
}
