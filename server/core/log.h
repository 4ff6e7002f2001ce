/* JSON-lines logging on stderr. Invariant: no format here ever takes customer data;
 * callers pass identifiers, codes and numbers only, and every string is JSON-escaped. */
#ifndef CU_CORE_LOG_H
#define CU_CORE_LOG_H

enum cu_log_level { CU_LOG_DEBUG, CU_LOG_INFO, CU_LOG_WARN, CU_LOG_ERROR };

void cu_log_set_level(enum cu_log_level level);

/* Writes {"ts":..,"level":..,"msg":msg, k1:v1, ...} as one line. The variadic part is
 * NULL-terminated pairs of (const char *key, const char *value); values are strings. */
void cu_log(enum cu_log_level level, const char *msg, ...) __attribute__((sentinel));

/* A request line: numbers stay numbers. */
void cu_log_request(const char *request_id, const char *method, const char *route, int status,
                    double duration_ms, const char *tenant, const char *error_reason);

#endif
