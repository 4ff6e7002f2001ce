/* Masked and redacted forms of normalized values, the levels below `plain` in a reveal.
 * Invariant: a mask shows at most the last 4 digits or code points (plus an email's first
 * character and domain), never more than the value's policy allows. */
#ifndef CU_SERVICE_MASK_H
#define CU_SERVICE_MASK_H

#include <stddef.h>

#include "core/err.h"
#include "core/mem.h"
#include "service/value.h"

/* Writes the masked form of normalized[0..len), a value of type t as cu_value_normalize left it:
 *   card_number   every digit but the last 4 becomes '*'   4111111111111111 -> ************1111
 *   ssn           area and group become '*'                123-45-6789 -> ***-**-6789
 *   email         first character, "***", '@' and domain   john@example.com -> j***@example.com
 *   phone         '+' and the last 4 digits kept           +14155550100 -> +*******0100
 *   other types   8 or more code points: the last 4 kept, each earlier one becomes '*';
 *                 fewer than 8: one '*' per code point.
 * A card, ssn, email or phone value not in its normalized shape is masked as "other types", so
 * a malformed stored value never shows more than 4 code points. Borrows normalized (NULL is
 * fine when len is 0). On success *out is a NUL-terminated string owned by arena. Returns
 * CU_ERR_INTERNAL, with *out NULL, when t is out of range. */
enum cu_err cu_mask(enum cu_ftype t, const char *normalized, size_t len, struct cu_arena *arena,
                    char **out) CU_WUR;

/* The redacted form of any value: the static string "[REDACTED]". */
const char *cu_redacted(void);

#endif
