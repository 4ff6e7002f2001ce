/* Random identifiers from the kernel CSPRNG (request ids, record ids): no OpenSSL needed here. */
#ifndef CU_CORE_ID_H
#define CU_CORE_ID_H

#include <stddef.h>

/* Writes 2*nbytes lowercase hex digits and a NUL to out (size 2*nbytes+1); aborts if the
 * kernel cannot give randomness. */
void cu_random_hex(char *out, size_t nbytes);

#endif
