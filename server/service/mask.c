/* Masking of normalized values, one masker per field type in a table.
 * Invariant: a masker that does not recognize its input's shape falls back to the generic mask. */
#include "service/mask.h"

#include <string.h>

typedef char *(*mask_fn)(const char *s, size_t n, struct cu_arena *arena);

enum {
    KEEP = 4,       /* digits or code points left visible at the end */
    GENERIC_MIN = 8 /* fewer code points than this and nothing is left visible */
};

static int
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int
all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i])) {
            return 0;
        }
    }
    return 1;
}

/* A UTF-8 code point starts at every byte that is not a continuation byte. */
static int
starts_code_point(char c)
{
    return ((unsigned char)c & 0xC0) != 0x80;
}

static char *
mask_generic(const char *s, size_t n, struct cu_arena *arena)
{
    size_t points = 0;
    for (size_t i = 0; i < n; i++) {
        points += starts_code_point(s[i]);
    }
    size_t stars = points;
    size_t tail = n; /* byte offset of the visible tail */
    if (points >= GENERIC_MIN) {
        stars = points - KEEP;
        for (size_t kept = 0; kept < KEEP;) {
            tail--;
            kept += starts_code_point(s[tail]);
        }
    }
    char *p = cu_arena_alloc(arena, stars + (n - tail) + 1);
    memset(p, '*', stars);
    memcpy(p + stars, s + tail, n - tail);
    return p;
}

/* A normalized card number is 12..19 ASCII digits, on which the generic mask is exactly
 * "all but the last 4 digits become '*'"; shorter strays lose their last 4 digits too. */
static char *
mask_card(const char *s, size_t n, struct cu_arena *arena)
{
    return mask_generic(s, n, arena);
}

static char *
mask_ssn(const char *s, size_t n, struct cu_arena *arena)
{
    if (n != 11 || s[3] != '-' || s[6] != '-' || !all_digits(s, 3) || !all_digits(s + 4, 2) ||
        !all_digits(s + 7, 4)) {
        return mask_generic(s, n, arena);
    }
    char *p = cu_arena_alloc(arena, 12);
    memcpy(p, "***-**-", 7);
    memcpy(p + 7, s + 7, 4);
    return p;
}

static char *
mask_phone(const char *s, size_t n, struct cu_arena *arena)
{
    if (n < 1 + GENERIC_MIN || s[0] != '+' || !all_digits(s + 1, n - 1)) {
        return mask_generic(s, n, arena);
    }
    char *p = cu_arena_alloc(arena, n + 1);
    p[0] = '+';
    memset(p + 1, '*', n - 1 - KEEP);
    memcpy(p + n - KEEP, s + n - KEEP, KEEP);
    return p;
}

static char *
mask_email(const char *s, size_t n, struct cu_arena *arena)
{
    const char *at = memrchr(s, '@', n);
    if (at == NULL || at == s || at == s + n - 1 || (unsigned char)s[0] >= 0x80) {
        return mask_generic(s, n, arena);
    }
    size_t domain = n - (size_t)(at - s); /* with the '@' */
    char *p = cu_arena_alloc(arena, 4 + domain + 1);
    p[0] = s[0];
    /* a fixed "***" hides the local part's length as well as its text */
    memcpy(p + 1, "***", 3);
    memcpy(p + 4, at, domain);
    return p;
}

static const mask_fn maskers[CU_FT__COUNT] = {
    [CU_FT_STRING] = mask_generic, [CU_FT_NAME] = mask_generic,    [CU_FT_EMAIL] = mask_email,
    [CU_FT_PHONE] = mask_phone,    [CU_FT_CARD] = mask_card,       [CU_FT_SSN] = mask_ssn,
    [CU_FT_DATE] = mask_generic,   [CU_FT_ADDRESS] = mask_generic, [CU_FT_TEXT] = mask_generic,
};

enum cu_err
cu_mask(enum cu_ftype t, const char *normalized, size_t len, struct cu_arena *arena, char **out)
{
    *out = NULL;
    CU_ENSURE((unsigned)t < CU_FT__COUNT, CU_ERR_INTERNAL, "field type %d out of range", (int)t);
    if (len == 0) {
        *out = cu_arena_strdup(arena, "");
        return CU_OK;
    }
    *out = maskers[t](normalized, len, arena);
    return CU_OK;
}

const char *
cu_redacted(void)
{
    return "[REDACTED]";
}
