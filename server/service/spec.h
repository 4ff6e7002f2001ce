/* Collection specs: the fields of a collection, each with a type, a tokenization kind and its
 * searchable / required flags. A spec and everything it points to live in the arena it was
 * parsed or loaded into. */
#ifndef CU_SERVICE_SPEC_H
#define CU_SERVICE_SPEC_H

#include "core/mem.h"
#include "service/svc.h"
#include "service/value.h"
#include "storage/db.h"

#include <jansson.h>

enum cu_tokkind { CU_TOK_RANDOM, CU_TOK_DETERMINISTIC, CU_TOK_FPE };

struct cu_field_spec {
    const char *name;
    enum cu_ftype type;
    enum cu_tokkind kind;
    int searchable;
    int required;
};

struct cu_coll_spec {
    const char *name;
    struct cu_field_spec *fields;
    size_t nfields;
    int retention_days; /* 0: none */
    int has_data;
    const char *created_at;
    const char *updated_at;
    const char *inc; /* the tenant's incarnation, for key cache ids */
};

enum { CU_MAX_FIELDS = 64 };

/* Parses a collection's "fields" object (borrowed) into *out (arena); problems under pointer
 * "/fields/<name>/...". CU_ERR_INVALID when any field is invalid. */
enum cu_err cu_spec_parse(json_t *fields, struct cu_arena *arena, struct cu_coll_spec *out,
                          struct cu_problems *problems) CU_WUR;
/* Loads a collection's spec in tx into *out (arena), with the lock asked for: none (read), the
 * collection row shared (a write of records: its spec cannot change meanwhile) or exclusive (a
 * change of the spec). CU_ERR_NOT_FOUND when there is none (or the name is malformed). */
enum cu_spec_lock { CU_SPEC_READ = 0, CU_SPEC_WRITE = -1, CU_SPEC_CHANGE = 1 };
enum cu_err cu_spec_load(struct cu_tx *tx, const char *tenant, const char *name,
                         enum cu_spec_lock lock, struct cu_arena *arena,
                         struct cu_coll_spec *out) CU_WUR;
/* The field called name (borrowed from spec), or NULL. */
const struct cu_field_spec *cu_spec_field(const struct cu_coll_spec *spec, const char *name);
/* The API's JSON of a spec (new reference). */
json_t *cu_spec_json(const struct cu_coll_spec *spec);
/* "random", "deterministic" or "format_preserving" (static). */
const char *cu_tokkind_name(enum cu_tokkind k);

#endif
