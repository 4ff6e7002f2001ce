/* Field types and the validation and normalization of their values, table-driven and pure.
 * Invariant: a problem text is a fixed string that never contains (part of) the value. */
#ifndef CU_SERVICE_VALUE_H
#define CU_SERVICE_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/mem.h"

/* Longest value of any type, in bytes, before normalization. */
#define CU_VALUE_MAX 65536
/* Longest `string` or `name` value, in bytes, after trimming. */
#define CU_VALUE_SHORT_MAX 1024

/* The order is part of no contract (types are stored by name, see cu_ftype_name). */
enum cu_ftype {
    CU_FT_STRING,
    CU_FT_NAME,
    CU_FT_EMAIL,
    CU_FT_PHONE,
    CU_FT_CARD,
    CU_FT_SSN,
    CU_FT_DATE,
    CU_FT_ADDRESS,
    CU_FT_TEXT,
    CU_FT__COUNT
};

/* Sets *out to the type named name (exactly one of: string name email phone card_number ssn
 * date address text; case-sensitive). Borrows name (NULL is fine). Returns CU_ERR_INVALID for
 * any other name, leaving *out untouched. */
enum cu_err cu_ftype_parse(const char *name, enum cu_ftype *out) CU_WUR;

/* The API name of t ("card_number" for CU_FT_CARD), a static string; "unknown" when t is out
 * of range. Never NULL. */
const char *cu_ftype_name(enum cu_ftype t);

/* 1 when values of t are digit strings that format-preserving tokenization may encrypt
 * (phone, card_number, ssn), else 0. */
int cu_ftype_digits(enum cu_ftype t);

/* Validates the len bytes at in as a value of type t and writes its normalized form:
 *   all types     valid UTF-8 (no overlong forms, surrogates, code points above U+10FFFF or
 *                 truncated sequences), no NUL, no control character (C0, DEL, C1) except
 *                 tab, LF and CR in address and text; 1..CU_VALUE_MAX bytes.
 *   string, name  leading and trailing ASCII spaces trimmed, then 1..CU_VALUE_SHORT_MAX bytes.
 *   address       leading and trailing ASCII spaces trimmed, then not empty.
 *   text          kept as is.
 *   email         addr-spec subset: dot-atom local part of 1..64 bytes (quoted local parts
 *                 and non-ASCII addresses are rejected), '@', a domain of two or more LDH
 *                 labels of 1..63 bytes, at most 254 bytes in all; the domain is lower-cased,
 *                 the local part keeps its case (its blind index does not: cu_value_index_form).
 *   phone         E.164: '+' (after optional spaces) and 8..15 digits, the first not 0, with
 *                 spaces, '-', '.', '(' and ')' as separators; normalized "+<digits>".
 *   card_number   12..19 digits with optional spaces and dashes, passing Luhn; digits only.
 *   ssn           "AAA-GG-SSSS" or 9 digits, area not 000, 666 or 9xx, group not 00, serial
 *                 not 0000; normalized "AAA-GG-SSSS".
 *   date          ISO 8601 calendar date "YYYY-MM-DD", years 0001..9999, proleptic Gregorian.
 * Text is stored byte-exact, with no Unicode normalization: the blind index therefore tells
 * NFC "Zoë" from NFD "Zoe\u0308", and a search must send the form that was stored.
 * Borrows in (NULL is fine when len is 0). On success *out is a NUL-terminated copy owned by
 * arena (wiped with it) and *out_len its length without the NUL. Returns CU_ERR_INVALID for an
 * invalid value, with *problem (when problem is not NULL) set to a fixed English text that
 * never contains the value, and *out NULL; CU_ERR_INTERNAL when t is out of range. */
enum cu_err cu_value_normalize(enum cu_ftype t, const char *in, size_t len, struct cu_arena *arena,
                               char **out, size_t *out_len, const char **problem) CU_WUR;

/* The form of a normalized value of type t that its blind index (search) is taken over:
 * for email the whole address ASCII case-folded (a caller spells "ADA@EXAMPLE.COM" for a stored
 * "Ada@example.com"; the stored value keeps its case); for every other type the normalized value
 * itself. Borrows norm (NUL-terminated, len bytes); the result is norm itself or a copy owned by
 * arena (wiped with it), *out_len its length. Never fails. */
const char *cu_value_index_form(enum cu_ftype t, const char *norm, size_t len,
                                struct cu_arena *arena, size_t *out_len);

/* 1 when digits[0..n) is a non-empty string of ASCII digits whose last digit is a correct
 * Luhn (ISO/IEC 7812-1) check digit, else 0. Borrows digits. */
int cu_luhn_valid(const char *digits, size_t n);

/* The Luhn check digit ('0'..'9') that makes digits[0..n) followed by it valid, or '\0' when
 * digits holds a non-digit. Borrows digits. The tokenizer uses it to pick a last digit that
 * makes a card token fail Luhn. */
char cu_luhn_check_digit(const char *digits, size_t n);

/* 1 when p[0..n) is well-formed UTF-8 (Unicode 15, table 3-7: no overlong forms, no
 * surrogates, nothing above U+10FFFF, no truncated sequence), else 0. NUL bytes are valid
 * UTF-8 here; cu_value_normalize rejects them separately. Borrows p (NULL is fine when n is 0). */
int cu_utf8_valid(const uint8_t *p, size_t n);

#endif
