/* Group commit of write units (see unit_commit.h). A batch is one transaction: the steps of all
 * its units, where steps that may be merged (cu_step.merge) are: equal reads and locks run once,
 * and the JSON arrays of row-writing statements are joined, so that N requests' rows of one
 * tenant go in one INSERT. Merged statements run in the order they first appear; every unit's
 * check then reads the results of its steps' statements, and the COMMIT follows (in the same
 * round trip when no unit has a check). */
#include "service/unit_commit.h"

#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cu_unit_commit {
    struct cu_db *db;
    struct cu_writer *writer;
};

enum { MAX_PARAMS = 32 };
/* The bytes of joinable parameters one batch may send (a larger unit goes alone): libpq keeps
 * a connection's buffers at the largest message it carried, and the pool's connections take
 * turns at the writer's batches (unbounded, a full make bench grew the server's RSS by 9-14
 * MiB); 128 KiB still holds some 80 single-record tokenizes. */
enum { MAX_BATCH_BYTES = 128 * 1024 };

/* One statement of a batch: the steps merged into it. */
struct stmt_group {
    const struct cu_step *first;
    const char *tenant;       /* the units' whose steps it holds */
    struct cu_params p;       /* first's, with the joined arrays */
    char *joined[MAX_PARAMS]; /* heap: the joined arrays (NULL: first's own) */
    size_t len[MAX_PARAMS];
    struct cu_db_result *res;
};

static int
param_equal(const struct cu_params *a, const struct cu_params *b, int i)
{
    if (a->formats[i] != b->formats[i]) {
        return 0;
    }
    if (a->values[i] == NULL || b->values[i] == NULL) {
        return a->values[i] == b->values[i];
    }
    if (a->formats[i] == 1) {
        return a->lens[i] == b->lens[i] &&
               memcmp(a->values[i], b->values[i], (size_t)a->lens[i]) == 0;
    }
    return strcmp(a->values[i], b->values[i]) == 0;
}

/* Whether step s (of tenant) may join group g: same statement, tenant and merge bits, and equal
 * in every parameter not joined. */
static int
joins(const struct stmt_group *g, const struct cu_step *s, const char *tenant)
{
    if (s->merge == 0 || s->merge != g->first->merge || s->stmt != g->first->stmt ||
        strcmp(g->tenant, tenant) != 0 || s->p->n != g->first->p->n) {
        return 0;
    }
    for (int i = 0; i < s->p->n; i++) {
        if (!(s->merge & (1u << i)) && !param_equal(s->p, g->first->p, i)) {
            return 0;
        }
    }
    return 1;
}

/* Appends the JSON array add to parameter i of g: "[a,b]" + "[c]" -> "[a,b,c]". */
static void
join_array(struct stmt_group *g, int i, const char *add)
{
    size_t n = strlen(add);
    if (n <= 2) {
        return; /* "[]" */
    }
    if (g->joined[i] == NULL) {
        const char *own = g->p.values[i];
        g->len[i] = strlen(own);
        g->joined[i] = cu_xmalloc(g->len[i] + 1);
        memcpy(g->joined[i], own, g->len[i] + 1);
    }
    size_t at = g->len[i];
    g->joined[i] = realloc(g->joined[i], at + n + 1);
    if (g->joined[i] == NULL) {
        abort();
    }
    if (at <= 2) {
        memcpy(g->joined[i], add, n + 1); /* the first was "[]" */
        g->len[i] = n;
    } else {
        g->joined[i][at - 1] = ',';
        memcpy(g->joined[i] + at, add + 1, n - 1);
        g->len[i] = at + n - 1;
        g->joined[i][g->len[i]] = '\0';
    }
    g->p.values[i] = g->joined[i];
}

/* The units in one transaction: their merged steps in one pipeline, their checks, the COMMIT. */
static enum cu_err
run_units(struct cu_db *db, struct cu_unit *const *units, int n)
{
    int nsteps = 0;
    for (int u = 0; u < n; u++) {
        nsteps += units[u]->n;
    }
    struct stmt_group *groups = cu_xcalloc((size_t)nsteps, sizeof(*groups));
    struct stmt_group *of[CU_WRITER_MAX_JOBS][CU_UNIT_MAX_STEPS];
    int ng = 0;
    for (int u = 0; u < n; u++) {
        for (int j = 0; j < units[u]->n; j++) {
            const struct cu_step *s = &units[u]->steps[j];
            int g = 0;
            while (g < ng && !joins(&groups[g], s, units[u]->tenant)) {
                g++;
            }
            if (g == ng) {
                groups[ng++] =
                    (struct stmt_group){.first = s, .tenant = units[u]->tenant, .p = *s->p};
            } else {
                for (int i = 0; i < s->p->n && (s->merge & ~CU_STEP_ONCE) != 0; i++) {
                    if (s->merge & (1u << i)) {
                        join_array(&groups[g], i, s->p->values[i]);
                    }
                }
            }
            of[u][j] = &groups[g];
        }
    }
    struct cu_step steps[CU_DB_MAX_STEPS];
    for (int g = 0; g < ng; g++) {
        /* row-level security: each statement as its units' tenant */
        steps[g] =
            (struct cu_step){.stmt = groups[g].first->stmt,
                             .p = &groups[g].p,
                             .tenant = g == 0 || strcmp(groups[g].tenant, groups[g - 1].tenant) != 0
                                           ? groups[g].tenant
                                           : NULL,
                             .out = &groups[g].res};
    }
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    int checks = 0;
    for (int u = 0; u < n; u++) {
        checks |= units[u]->check != NULL;
    }
    CU_TRY(cu_tx_begin(db, units[0]->tenant, &tx));
    if (!checks) {
        /* nothing to look at before the COMMIT: it goes in the same round trip */
        rc = cu_tx_exec_steps_commit_in(&tx, steps, ng, arena);
        goto out;
    }
    CU_TRY(cu_tx_exec_steps(tx, steps, ng, arena));
    for (int u = 0; u < n; u++) {
        for (int j = 0; j < units[u]->n; j++) {
            if (units[u]->steps[j].out != NULL) {
                *units[u]->steps[j].out = of[u][j]->res;
            }
        }
        if (units[u]->check != NULL) {
            CU_TRY(units[u]->check(units[u]->ctx));
        }
    }
    rc = cu_tx_commit(&tx);
out:
    cu_tx_abort(&tx);
    cu_arena_free(arena);
    for (int g = 0; g < ng; g++) {
        for (int i = 0; i < MAX_PARAMS; i++) {
            free(groups[g].joined[i]);
        }
    }
    free(groups);
    return rc;
}

static int
write_batch(void *ctx, struct cu_writer_job **jobs, int n)
{
    struct cu_unit_commit *uc = ctx;
    struct cu_unit *units[CU_WRITER_MAX_JOBS] = {0};
    for (int i = 0; i < n; i++) {
        units[i] = jobs[i]->item;
    }
    enum cu_err rc = run_units(uc->db, units, n);
    /* alone once more, unless the database is gone (each would wait out the timeout again) */
    int alone = rc != CU_OK && rc != CU_ERR_UNAVAILABLE && n > 1;
    int committed = rc == CU_OK, failed = 0;
    for (int i = 0; i < n; i++) {
        jobs[i]->rc = alone ? run_units(uc->db, &units[i], 1) : rc;
        committed += alone && jobs[i]->rc == CU_OK;
        /* a conflict is the unit's own (its request is redone), not the writer's failure */
        failed += jobs[i]->rc != CU_OK && jobs[i]->rc != CU_ERR_CONFLICT;
    }
    if (failed > 0) {
        char count[16];
        snprintf(count, sizeof(count), "%d", failed);
        cu_log(CU_LOG_ERROR, "group commit failed", "requests", count, "reason", cu_err_reason(),
               NULL);
    }
    return committed;
}

enum cu_err
cu_unit_commit_new(struct cu_db *db, struct cu_unit_commit **out)
{
    struct cu_unit_commit *uc = cu_xcalloc(1, sizeof(*uc));
    uc->db = db;
    /* a batch holds at most as many steps as one pipeline takes, were none merged */
    enum cu_err rc = cu_writer_new(write_batch, uc, CU_DB_MAX_STEPS, MAX_BATCH_BYTES, &uc->writer);
    if (rc != CU_OK) {
        free(uc);
        return rc;
    }
    *out = uc;
    return CU_OK;
}

void
cu_unit_commit_free(struct cu_unit_commit *uc)
{
    if (uc == NULL) {
        return;
    }
    cu_writer_free(uc->writer);
    free(uc);
}

enum cu_err
cu_unit_commit_run(struct cu_unit_commit *uc, struct cu_unit *u)
{
    CU_ENSURE(u->n >= 1 && u->n <= CU_UNIT_MAX_STEPS, CU_ERR_INTERNAL, "bad unit of %d steps",
              u->n);
    struct cu_writer_job job = {.item = u, .weight = u->n};
    for (int j = 0; j < u->n; j++) {
        for (int i = 0; i < u->steps[j].p->n && i < 31; i++) {
            if ((u->steps[j].merge & (1u << i)) && u->steps[j].p->values[i] != NULL) {
                job.size += strlen(u->steps[j].p->values[i]);
            }
        }
    }
    enum cu_err rc = cu_writer_run(uc->writer, &job);
    switch (rc) {
    case CU_OK:
        return CU_OK;
    case CU_ERR_CONFLICT:
        return cu_err_set(rc, __FILE__, __LINE__, "a concurrent write conflicts with this one");
    case CU_ERR_UNAVAILABLE:
        return cu_err_set(rc, __FILE__, __LINE__, "could not write the unit");
    default:
        return cu_err_set(rc, __FILE__, __LINE__, "the unit failed");
    }
}

void
cu_unit_commit_stats(struct cu_unit_commit *uc, struct cu_writer_stats *out)
{
    cu_writer_stats(uc->writer, out);
}
