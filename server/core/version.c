/* The build's version and commit, from the compiler's command line (Makefile: CU_VERSION from
 * the VERSION file, CU_COMMIT from git or COMMIT=); both are plain tokens, never user input. */
#include "core/version.h"

#ifndef CU_VERSION
#define CU_VERSION "unknown"
#endif
#ifndef CU_COMMIT
#define CU_COMMIT "unknown"
#endif

const char *
cu_version(void)
{
    return CU_VERSION;
}

const char *
cu_version_commit(void)
{
    return CU_COMMIT;
}
