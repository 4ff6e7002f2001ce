/* The identifiers the vault accepts from clients: collection, field and purpose names, subject
 * and record ids. Pure checks, no allocation. */
#include "service/ident.h"

#include <string.h>

int
cu_ident_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || !(s[0] >= 'a' && s[0] <= 'z')) {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
            return 0;
        }
    }
    return 1;
}

int
cu_purpose_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || !(s[0] >= 'a' && s[0] <= 'z')) {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

int
cu_subject_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("._:@+-", c) != NULL)) {
            return 0;
        }
    }
    return 1;
}

int
cu_subject_id_pii_like(const char *s)
{
    if (strchr(s, '@') != NULL) {
        return 1;
    }
    const char *p = s[0] == '+' ? s + 1 : s;
    size_t digits = 0;
    for (; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            digits++;
        } else if (strchr(" -.()", *p) == NULL) {
            return 0;
        }
    }
    return digits >= 7 && digits <= 15;
}

int
cu_record_id_ok(const char *s)
{
    if (strncmp(s, "rec_", 4) != 0 || strlen(s) != 36) {
        return 0;
    }
    for (const char *p = s + 4; *p; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
            return 0;
        }
    }
    return 1;
}
