/* The identifiers the vault accepts from clients. Each check borrows s (NUL-terminated, not NULL)
 * and returns 1 when it is well-formed, else 0. */
#ifndef CU_SERVICE_IDENT_H
#define CU_SERVICE_IDENT_H

/* [a-z][a-z0-9_]{0,62}: collection and field names. */
int cu_ident_ok(const char *s);
/* [a-z][a-z0-9_-]{0,62}: purpose names. */
int cu_purpose_name_ok(const char *s);
/* Subject ids: 1..128 of [A-Za-z0-9._:@+-], case-sensitive, stored as given. */
int cu_subject_id_ok(const char *s);
/* Whether a subject id looks like direct PII, which a subject id must not be (it is stored and
 * audited in clear): an email address (it contains '@') or a phone number (an optional '+', then
 * 7 to 15 digits with only spaces, dashes, dots or parentheses between them, nothing else). */
int cu_subject_id_pii_like(const char *s);
/* Record ids as the vault issues them: "rec_" + 32 lower-case hex digits. */
int cu_record_id_ok(const char *s);

#endif
