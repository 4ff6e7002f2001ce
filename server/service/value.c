/* Validation and normalization of field values, one checker per type in a table.
 * Invariant: every problem text is a string literal; no value ever reaches a problem or a log. */
#include "service/value.h"

#include <string.h>

/* RFC 5321 section 4.5.3.1 limits, as errata 1690 reads them for the whole address. */
enum {
    EMAIL_MAX = 254,
    EMAIL_LOCAL_MAX = 64,
    EMAIL_DOMAIN_MAX = 253,
    EMAIL_LABEL_MAX = 63,
    PHONE_MIN_DIGITS = 8,
    PHONE_MAX_DIGITS = 15,
    CARD_MIN_DIGITS = 12,
    CARD_MAX_DIGITS = 19,
};

typedef enum cu_err (*check_fn)(const char *in, size_t len, struct cu_arena *arena, char **out,
                                size_t *out_len, const char **problem);

struct ftype_info {
    const char *name;
    check_fn check;
    int layout; /* tab, LF and CR allowed: free text and multi-line addresses */
    int digits; /* format-preserving tokenization applies */
};

static enum cu_err check_short(const char *, size_t, struct cu_arena *, char **, size_t *,
                               const char **);
static enum cu_err check_address(const char *, size_t, struct cu_arena *, char **, size_t *,
                                 const char **);
static enum cu_err check_text(const char *, size_t, struct cu_arena *, char **, size_t *,
                              const char **);
static enum cu_err check_email(const char *, size_t, struct cu_arena *, char **, size_t *,
                               const char **);
static enum cu_err check_phone(const char *, size_t, struct cu_arena *, char **, size_t *,
                               const char **);
static enum cu_err check_card(const char *, size_t, struct cu_arena *, char **, size_t *,
                              const char **);
static enum cu_err check_ssn(const char *, size_t, struct cu_arena *, char **, size_t *,
                             const char **);
static enum cu_err check_date(const char *, size_t, struct cu_arena *, char **, size_t *,
                              const char **);

static const struct ftype_info ftypes[CU_FT__COUNT] = {
    [CU_FT_STRING] = {"string", check_short, 0, 0},
    [CU_FT_NAME] = {"name", check_short, 0, 0},
    [CU_FT_EMAIL] = {"email", check_email, 0, 0},
    [CU_FT_PHONE] = {"phone", check_phone, 0, 1},
    [CU_FT_CARD] = {"card_number", check_card, 0, 1},
    [CU_FT_SSN] = {"ssn", check_ssn, 0, 1},
    [CU_FT_DATE] = {"date", check_date, 0, 0},
    [CU_FT_ADDRESS] = {"address", check_address, 1, 0},
    [CU_FT_TEXT] = {"text", check_text, 1, 0},
};

/* Hands the fixed text to the caller and, as the reason, to the log: both see only the text. */
static enum cu_err
invalid(const char **problem, const char *text, const char *file, int line)
{
    if (problem != NULL) {
        *problem = text;
    }
    return cu_err_set(CU_ERR_INVALID, file, line, "invalid value: %s", text);
}

#define INVALID(text) invalid(problem, (text), __FILE__, __LINE__)

static int
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int
is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* RFC 5322 atext; the NUL test keeps strchr from matching the terminator. */
static int
is_atext(char c)
{
    return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static int
to_int(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static void
emit(struct cu_arena *arena, const char *s, size_t n, char **out, size_t *out_len)
{
    *out = cu_arena_strndup(arena, s, n);
    *out_len = n;
}

int
cu_utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t cp;
        uint32_t min;
        /* C0, C1 (always overlong) and F5..FF (beyond U+10FFFF) never lead a sequence */
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            cp = c & 0x1F;
            min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            cp = c & 0x0F;
            min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            return 0;
        }
        if (n - i - 1 < need) {
            return 0;
        }
        for (size_t k = 1; k <= need; k++) {
            uint8_t b = p[i + k];
            if ((b & 0xC0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (b & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return 0;
        }
        i += need + 1;
    }
    return 1;
}

/* Unicode category Cc: C0, DEL and C1 (U+0080..U+009F, encoded C2 80..C2 9F). The input is
 * already valid UTF-8, so a C2 byte is always a lead byte with a continuation after it. */
static int
has_control(const uint8_t *p, size_t n, int layout)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c < 0x20) {
            if (layout && (c == '\t' || c == '\n' || c == '\r')) {
                continue;
            }
            return 1;
        }
        if (c == 0x7F || (c == 0xC2 && i + 1 < n && p[i + 1] <= 0x9F)) {
            return 1;
        }
    }
    return 0;
}

static void
trim_spaces(const char **in, size_t *len)
{
    while (*len > 0 && (*in)[0] == ' ') {
        (*in)++;
        (*len)--;
    }
    while (*len > 0 && (*in)[*len - 1] == ' ') {
        (*len)--;
    }
}

static enum cu_err
check_short(const char *in, size_t len, struct cu_arena *arena, char **out, size_t *out_len,
            const char **problem)
{
    trim_spaces(&in, &len);
    if (len == 0) {
        return INVALID("value is empty");
    }
    if (len > CU_VALUE_SHORT_MAX) {
        return INVALID("value is longer than 1024 bytes");
    }
    emit(arena, in, len, out, out_len);
    return CU_OK;
}

static enum cu_err
check_address(const char *in, size_t len, struct cu_arena *arena, char **out, size_t *out_len,
              const char **problem)
{
    trim_spaces(&in, &len);
    if (len == 0) {
        return INVALID("value is empty");
    }
    emit(arena, in, len, out, out_len);
    return CU_OK;
}

static enum cu_err
check_text(const char *in, size_t len, struct cu_arena *arena, char **out, size_t *out_len,
           const char **problem)
{
    (void)problem;
    emit(arena, in, len, out, out_len);
    return CU_OK;
}

static enum cu_err
check_email_local(const char *s, size_t n, const char **problem)
{
    if (n == 0 || n > EMAIL_LOCAL_MAX) {
        return INVALID("email local part must be 1 to 64 characters");
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') {
            if (i == 0 || i == n - 1 || s[i - 1] == '.') {
                return INVALID("email local part has a leading, trailing or double dot");
            }
            continue;
        }
        if (!is_atext(s[i])) {
            return INVALID("email local part contains a character that is not allowed");
        }
    }
    return CU_OK;
}

static enum cu_err
check_email_domain(const char *s, size_t n, const char **problem)
{
    if (n == 0 || n > EMAIL_DOMAIN_MAX) {
        return INVALID("email domain must be 1 to 253 characters");
    }
    size_t labels = 0;
    size_t start = 0;
    /* i == n closes the last label, as a dot closes the others */
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.') {
            if (!is_alnum(s[i]) && s[i] != '-') {
                return INVALID("email domain contains a character that is not allowed");
            }
            continue;
        }
        size_t label = i - start;
        if (label == 0 || label > EMAIL_LABEL_MAX) {
            return INVALID("email domain label must be 1 to 63 characters");
        }
        if (s[start] == '-' || s[i - 1] == '-') {
            return INVALID("email domain label must not start or end with '-'");
        }
        labels++;
        start = i + 1;
    }
    if (labels < 2) {
        return INVALID("email domain must contain at least one dot");
    }
    return CU_OK;
}

static enum cu_err
check_email(const char *in, size_t len, struct cu_arena *arena, char **out, size_t *out_len,
            const char **problem)
{
    for (size_t i = 0; i < len; i++) {
        if ((uint8_t)in[i] >= 0x80) {
            return INVALID("email addresses with non-ASCII characters are not supported");
        }
    }
    if (in[0] == '"') {
        return INVALID("quoted email local parts are not supported");
    }
    if (len > EMAIL_MAX) {
        return INVALID("email address is longer than 254 characters");
    }
    const char *at = memchr(in, '@', len);
    if (at == NULL || memchr(at + 1, '@', len - (size_t)(at - in) - 1) != NULL) {
        return INVALID("email address must contain exactly one '@'");
    }
    size_t local_len = (size_t)(at - in);
    CU_GUARD(check_email_local(in, local_len, problem));
    CU_GUARD(check_email_domain(at + 1, len - local_len - 1, problem));

    emit(arena, in, len, out, out_len);
    /* DNS names are case-insensitive; a local part may not be (RFC 5321 2.4), so it is kept */
    for (size_t i = local_len + 1; i < len; i++) {
        if ((*out)[i] >= 'A' && (*out)[i] <= 'Z') {
            (*out)[i] = (char)((*out)[i] - 'A' + 'a');
        }
    }
    return CU_OK;
}

static int
is_phone_separator(char c)
{
    return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')';
}

static enum cu_err
check_phone(const char *in, size_t len, struct cu_arena *arena, char **out, size_t *out_len,
            const char **problem)
{
    size_t i = 0;
    while (i < len && in[i] == ' ') {
        i++;
    }
    /* no '+', no country code: guessing one would file numbers under the wrong country */
    if (i == len || in[i] != '+') {
        return INVALID("phone number must start with '+' and the country code");
    }
    size_t body = ++i;
    size_t digits = 0;
    char first = '\0';
    for (; i < len; i++) {
        if (is_digit(in[i])) {
            first = digits == 0 ? in[i] : first;
            digits++;
            continue;
        }
        if (!is_phone_separator(in[i])) {
            return INVALID("phone number contains a character that is not allowed");
        }
    }
    if (digits < PHONE_MIN_DIGITS || digits > PHONE_MAX_DIGITS) {
        return INVALID("phone number must have 8 to 15 digits");
    }
    if (first == '0') {
        return INVALID("phone number country code must not start with 0");
    }
    char *p = cu_arena_alloc(arena, digits + 2);
    size_t n = 0;
    p[n++] = '+';
    for (i = body; i < len; i++) {
        if (is_digit(in[i])) {
            p[n++] = in[i];
        }
    }
    *out = p;
    *out_len = n;
    return CU_OK;
}

static enum cu_err
check_card(const char *in, size_t len, struct cu_arena *arena, char **out, size_t *out_len,
           const char **problem)
{
    size_t digits = 0;
    for (size_t i = 0; i < len; i++) {
        if (is_digit(in[i])) {
            digits++;
            continue;
        }
        if (in[i] != ' ' && in[i] != '-') {
            return INVALID("card number contains a character that is not allowed");
        }
    }
    if (digits < CARD_MIN_DIGITS || digits > CARD_MAX_DIGITS) {
        return INVALID("card number must have 12 to 19 digits");
    }
    char *p = cu_arena_alloc(arena, digits + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (is_digit(in[i])) {
            p[n++] = in[i];
        }
    }
    if (!cu_luhn_valid(p, n)) {
        /* the arena would wipe it too, but a rejected number should not outlive this call */
        cu_wipe(p, n);
        return INVALID("not a valid card number (Luhn check failed)");
    }
    *out = p;
    *out_len = n;
    return CU_OK;
}

static enum cu_err
check_ssn(const char *in, size_t len, struct cu_arena *arena, char **out, size_t *out_len,
          const char **problem)
{
    /* where the nine digits sit in "AAA-GG-SSSS" and in "AAAGGSSSS" */
    static const size_t dashed[9] = {0, 1, 2, 4, 5, 7, 8, 9, 10};
    static const size_t plain[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    const size_t *at;
    if (len == 11 && in[3] == '-' && in[6] == '-') {
        at = dashed;
    } else if (len == 9) {
        at = plain;
    } else {
        return INVALID("ssn must be AAA-GG-SSSS or 9 digits");
    }
    int area = 0;
    int group = 0;
    int serial = 0;
    for (size_t k = 0; k < 9; k++) {
        char c = in[at[k]];
        if (!is_digit(c)) {
            return INVALID("ssn must be AAA-GG-SSSS or 9 digits");
        }
        int *part = k < 3 ? &area : k < 5 ? &group : &serial;
        *part = *part * 10 + (c - '0');
    }
    /* SSA never issues area 000, 666 or 900-999 (the last are ITINs), group 00 or serial 0000 */
    if (area == 0 || area == 666 || area >= 900) {
        return INVALID("ssn area number is not valid");
    }
    if (group == 0) {
        return INVALID("ssn group number must not be 00");
    }
    if (serial == 0) {
        return INVALID("ssn serial number must not be 0000");
    }
    char *p = cu_arena_alloc(arena, 12);
    for (size_t k = 0; k < 9; k++) {
        p[dashed[k]] = in[at[k]];
    }
    p[3] = '-';
    p[6] = '-';
    *out = p;
    *out_len = 11;
    return CU_OK;
}

static int
is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static enum cu_err
check_date(const char *in, size_t len, struct cu_arena *arena, char **out, size_t *out_len,
           const char **problem)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (len != 10 || in[4] != '-' || in[7] != '-') {
        return INVALID("date must be YYYY-MM-DD");
    }
    for (size_t i = 0; i < len; i++) {
        if (i != 4 && i != 7 && !is_digit(in[i])) {
            return INVALID("date must be YYYY-MM-DD");
        }
    }
    int year = to_int(in, 4);
    int month = to_int(in + 5, 2);
    int day = to_int(in + 8, 2);
    if (year < 1) {
        return INVALID("date year must be 0001 to 9999");
    }
    if (month < 1 || month > 12) {
        return INVALID("date month must be 01 to 12");
    }
    int last = days[month - 1] + (month == 2 && is_leap(year));
    if (day < 1 || day > last) {
        return INVALID("date day does not exist in that month");
    }
    emit(arena, in, len, out, out_len);
    return CU_OK;
}

enum cu_err
cu_value_normalize(enum cu_ftype t, const char *in, size_t len, struct cu_arena *arena, char **out,
                   size_t *out_len, const char **problem)
{
    *out = NULL;
    *out_len = 0;
    if (problem != NULL) {
        *problem = NULL;
    }
    if ((unsigned)t >= CU_FT__COUNT) {
        if (problem != NULL) {
            *problem = "unknown field type";
        }
        return cu_err_set(CU_ERR_INTERNAL, __FILE__, __LINE__, "field type %d out of range",
                          (int)t);
    }
    const struct ftype_info *ft = &ftypes[t];
    if (len == 0) {
        return INVALID("value is empty");
    }
    if (len > CU_VALUE_MAX) {
        return INVALID("value is longer than 65536 bytes");
    }
    if (memchr(in, '\0', len) != NULL) {
        return INVALID("value contains a NUL byte");
    }
    if (!cu_utf8_valid((const uint8_t *)in, len)) {
        return INVALID("value is not valid UTF-8");
    }
    if (has_control((const uint8_t *)in, len, ft->layout)) {
        return INVALID("value contains a control character");
    }
    return ft->check(in, len, arena, out, out_len, problem);
}

const char *
cu_value_index_form(enum cu_ftype t, const char *norm, size_t len, struct cu_arena *arena,
                    size_t *out_len)
{
    *out_len = len;
    if (t != CU_FT_EMAIL) {
        return norm;
    }
    char *folded = NULL;
    emit(arena, norm, len, &folded, out_len);
    for (size_t i = 0; i < len; i++) {
        if (folded[i] >= 'A' && folded[i] <= 'Z') {
            folded[i] = (char)(folded[i] - 'A' + 'a');
        }
    }
    return folded;
}

enum cu_err
cu_ftype_parse(const char *name, enum cu_ftype *out)
{
    CU_ENSURE(name != NULL, CU_ERR_INVALID, "field type missing");
    for (size_t i = 0; i < CU_FT__COUNT; i++) {
        if (strcmp(name, ftypes[i].name) == 0) {
            *out = (enum cu_ftype)i;
            return CU_OK;
        }
    }
    /* the name comes from the client; the log learns only that it was not one of ours */
    return cu_err_set(CU_ERR_INVALID, __FILE__, __LINE__, "unknown field type");
}

const char *
cu_ftype_name(enum cu_ftype t)
{
    if ((unsigned)t >= CU_FT__COUNT) {
        return "unknown";
    }
    return ftypes[t].name;
}

int
cu_ftype_digits(enum cu_ftype t)
{
    if ((unsigned)t >= CU_FT__COUNT) {
        return 0;
    }
    return ftypes[t].digits;
}

/* The Luhn sum of digits[0..n) modulo 10, doubling every second digit from the right, starting
 * with the rightmost when double_last is set; -1 when a byte is not a digit. */
static int
luhn_sum(const char *digits, size_t n, int double_last)
{
    int sum = 0;
    int dbl = double_last;
    for (size_t i = n; i-- > 0;) {
        if (!is_digit(digits[i])) {
            return -1;
        }
        int d = digits[i] - '0';
        if (dbl) {
            d = d * 2 > 9 ? d * 2 - 9 : d * 2;
        }
        sum += d;
        dbl = !dbl;
    }
    return sum % 10;
}

int
cu_luhn_valid(const char *digits, size_t n)
{
    return n > 0 && luhn_sum(digits, n, 0) == 0;
}

char
cu_luhn_check_digit(const char *digits, size_t n)
{
    /* the digit to append sits rightmost, so the current rightmost digit gets doubled */
    int sum = luhn_sum(digits, n, 1);
    if (sum < 0) {
        return '\0';
    }
    return (char)('0' + (10 - sum) % 10);
}
