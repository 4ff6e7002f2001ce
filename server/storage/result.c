/* Statement parameters and result accessors: the only code that reads a PGresult's cells. */
#include "storage/pg_internal.h"

#include <stdlib.h>
#include <string.h>

void
cu_params_init(struct cu_params *p)
{
    memset(p, 0, sizeof(*p));
}

void
cu_params_text(struct cu_params *p, const char *value)
{
    if (p->n >= 32) {
        abort(); /* a programming error: statements here never take more */
    }
    p->values[p->n] = value;
    p->lens[p->n] = 0;
    p->formats[p->n] = 0;
    p->n++;
}

void
cu_params_bin(struct cu_params *p, const uint8_t *data, size_t len)
{
    if (p->n >= 32) {
        abort();
    }
    p->values[p->n] = (const char *)data;
    p->lens[p->n] = (int)len;
    p->formats[p->n] = 1;
    p->n++;
}

void
cu_params_int(struct cu_params *p, struct cu_arena *arena, long long v)
{
    cu_params_text(p, cu_arena_printf(arena, "%lld", v));
}

int
cu_res_rows(const struct cu_db_result *r)
{
    return PQntuples(r->res);
}

int
cu_res_isnull(const struct cu_db_result *r, int row, int col)
{
    return PQgetisnull(r->res, row, col);
}

const char *
cu_res_text(const struct cu_db_result *r, int row, int col)
{
    return PQgetvalue(r->res, row, col);
}

long long
cu_res_int(const struct cu_db_result *r, int row, int col)
{
    return strtoll(PQgetvalue(r->res, row, col), NULL, 10);
}

enum cu_err
cu_res_bytea(const struct cu_db_result *r, int row, int col, struct cu_arena *arena,
             uint8_t **out, size_t *out_len)
{
    size_t n = 0;
    unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r->res, row, col), &n);
    CU_ENSURE(raw != NULL, CU_ERR_INTERNAL, "could not decode bytea");
    uint8_t *copy = cu_arena_alloc(arena, n ? n : 1);
    memcpy(copy, raw, n);
    cu_wipe(raw, n);
    PQfreemem(raw);
    *out = copy;
    *out_len = n;
    return CU_OK;
}

long long
cu_res_affected(const struct cu_db_result *r)
{
    return strtoll(PQcmdTuples(r->res), NULL, 10);
}
