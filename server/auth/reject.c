/* The refusal vocabulary of bearer tokens (reject.h): table look-ups. */
#include "auth/reject.h"

#include <stddef.h>

static const struct {
    const char *phrase;
    const char *detail;
} rejects[] = {
#define CU_X(name, phrase, hint) {phrase, phrase ": " hint},
    CU_AUTH_REJECT_TABLE(CU_X)
#undef CU_X
};

static enum cu_auth_reject
valid(enum cu_auth_reject why)
{
    return (unsigned)why < CU_AUTH_REJECT__COUNT ? why : CU_AUTH_MALFORMED;
}

const char *
cu_auth_reject_phrase(enum cu_auth_reject why)
{
    return rejects[valid(why)].phrase;
}

const char *
cu_auth_reject_detail(enum cu_auth_reject why)
{
    return rejects[valid(why)].detail;
}

enum cu_err
cu_auth_reject(enum cu_auth_reject why)
{
    return cu_err_public(CU_ERR_UNAUTHORIZED, cu_auth_reject_detail(why));
}

int
cu_auth_reject_of(const char *detail)
{
    for (int i = 0; detail != NULL && i < CU_AUTH_REJECT__COUNT; i++) {
        if (rejects[i].detail == detail) {
            return i;
        }
    }
    return -1;
}
