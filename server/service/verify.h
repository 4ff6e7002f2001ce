/* Verify without reveal (issue 12 item 5): does what a caller says match a token's stored value?
 * The answer is one bit; nothing of the value leaves the vault, and at most a few attempts per
 * token per window are allowed across every node (service/ratelimit.h). */
#ifndef CU_SERVICE_VERIFY_H
#define CU_SERVICE_VERIFY_H

#include "service/ratelimit.h"
#include "service/vault.h"

/* body: {"token": 1..128 bytes, "value": 1..CU_VALUE_MAX bytes}. The candidate is normalized like
 * the stored value's field type (a phone number in any accepted spelling, a card with spaces)
 * and compared with the stored value's normalized form in constant time (SHA-256 digests of both,
 * CRYPTO_memcmp): *out {"match":true|false}. A candidate that is not a valid value of the type
 * does not match. No X-Purpose: nothing is revealed (the scope records:verify is the grant).
 * The request is counted against the principal (s->rate->verify) and the attempt against the
 * token (s->rate->verify_token) before anything else, in the same round trip as the token's
 * lookup (a request the principal's limit refuses still counts as an attempt on the token).
 * Errors: CU_ERR_INVALID + problems (malformed body, nothing counted); CU_ERR_RATE when the
 * principal's limit or the token's attempts are spent (*rate says which and when the next is
 * allowed); CU_ERR_NOT_FOUND (unknown, foreign or undecryptable token, alike);
 * CU_ERR_GONE (erased, deleted or revoked); CU_ERR_CONFLICT (a token shared by several fields);
 * CU_ERR_UNAVAILABLE (database or keyring: fail closed). Every outcome is audited ("verify":
 * match, no_match, rate_limited, not_found, gone, ambiguous; ids only, never the candidate),
 * durable before the answer. *rate: the limit to show the caller: the one that refused, else
 * the one with fewer events left (usually the token's attempts); checked 0 when unlimited. */
enum cu_err cu_verify(struct cu_svc *s, const struct cu_actor *a, json_t *body,
                      struct cu_problems *problems, struct cu_rate_result *rate,
                      json_t **out) CU_WUR;

#endif
