/* libpq helpers shared inside storage/ only. */
#ifndef CU_STORAGE_PG_INTERNAL_H
#define CU_STORAGE_PG_INTERNAL_H

#include <libpq-fe.h>

/* A connection with our timeouts and keepalives; password overrides the URL's when set.
 * NULL when it cannot be had (the reason is not kept: libpq messages can echo values). */
PGconn *cu_db_connect(const char *url, const char *password, int timeout_ms,
                      const char *app_name);

#endif
