/* CSV for exports: RFC 4180 (every cell quoted, quotes doubled, CRLF between records) and safe
 * to open in a spreadsheet: a cell that begins with '=', '+', '-', '@', a tab or a carriage
 * return (which a spreadsheet would run as a formula) gets a leading apostrophe (OWASP CSV
 * injection), so such a value reads e.g. '+14155550100 in the file. */
#ifndef CU_SERVICE_CSV_H
#define CU_SERVICE_CSV_H

#include "core/mem.h"

#include <stddef.h>

/* Appends one cell (s[0..len), borrowed) to b, preceded by a comma unless first. */
void cu_csv_cell(struct cu_buf *b, const char *s, size_t len, int first);
/* Ends a record (CRLF). */
void cu_csv_end(struct cu_buf *b);

#endif
