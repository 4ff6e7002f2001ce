/* `custos dev-token`: mint an HS256 development token with the dev secret (CUSTOS_DEV=1 only). */
#include "cmd/cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/mem.h"

int
cu_cmd_dev_token(int argc, char **argv)
{
    const char *tenant = NULL;
    const char *scope = NULL;
    const char *sub = "dev-user";
    const char *claims = NULL;
    long long ttl = 3600;
    static const struct option longopts[] = {{"tenant", required_argument, NULL, 't'},
                                             {"scope", required_argument, NULL, 's'},
                                             {"sub", required_argument, NULL, 'u'},
                                             {"ttl", required_argument, NULL, 'l'},
                                             {"claims", required_argument, NULL, 'c'},
                                             {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            tenant = optarg;
            break;
        case 's':
            scope = optarg;
            break;
        case 'u':
            sub = optarg;
            break;
        case 'l':
            ttl = strtoll(optarg, NULL, 10);
            break;
        case 'c':
            claims = optarg;
            break;
        default:
            cu_cmd_usage(stderr);
            return 2;
        }
    }
    if (scope == NULL || ttl <= 0 || ttl > 86400 * 30) {
        fprintf(stderr, "custos: dev-token needs --scope and a --ttl from 1 to 2592000\n");
        return 2;
    }
    struct cu_config cfg;
    if (cu_config_load(&cfg, CU_NEED_AUTH) != CU_OK) {
        cu_config_cleanup(&cfg);
        return 1;
    }
    struct cu_auth_opts ao;
    cu_cmd_auth_opts(&cfg, &ao);
    char *token = NULL;
    int status = 0;
    if (cu_auth_mint_dev_claims(&ao, tenant, scope, sub, claims, (long long)time(NULL), ttl,
                                &token) != CU_OK) {
        status = cu_cmd_fail("could not mint a dev token");
    } else {
        printf("%s\n", token);
        cu_free_str_wiped(token);
    }
    cu_config_cleanup(&cfg);
    return status;
}
