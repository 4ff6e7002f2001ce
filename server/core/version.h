/* The version of this binary: the VERSION file's release and the git commit it was built from,
 * fixed at build time (the Makefile passes them to version.c only). */
#ifndef CU_CORE_VERSION_H
#define CU_CORE_VERSION_H

/* "0.15.0": static storage. */
const char *cu_version(void);
/* The abbreviated git commit, or "unknown" when built outside a git checkout: static storage. */
const char *cu_version_commit(void);

#endif
