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

/* random: tok_ + 128 random bits. deterministic: tokd_ + HMAC of the value (per collection and
 * field). format_preserving: the value's format with random digits (card numbers keep the digits
 * their field's keep names), unique per tenant, a new one each time. format_preserving_
 * deterministic: the same format by FF1 under the tenant's FF1 key (per collection and field):
 * equal values get equal tokens, so anyone who can tokenize can test a guess. */
enum cu_tokkind { CU_TOK_RANDOM, CU_TOK_DETERMINISTIC, CU_TOK_FPE, CU_TOK_FPE_DET };
/* The digits a card number's format-preserving token keeps (PCI DSS allows at most the first 6
 * and the last 4). */
enum cu_keep { CU_KEEP_FIRST6_LAST4, CU_KEEP_LAST4 };

struct cu_field_spec {
    const char *name;
    enum cu_ftype type;
    enum cu_tokkind kind;
    enum cu_keep keep; /* card_number with a format-preserving kind; else first6_last4 */
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
/* The same from a collection row read by the caller (cu_store_collection_get's columns; no
 * row: CU_ERR_NOT_FOUND), e.g. as one step of its own pipeline. */
enum cu_err cu_spec_decode(const struct cu_db_result *r, const char *name, struct cu_arena *arena,
                           struct cu_coll_spec *out) CU_WUR;
/* The field called name (borrowed from spec), or NULL. */
const struct cu_field_spec *cu_spec_field(const struct cu_coll_spec *spec, const char *name);
/* The API's JSON of a spec (new reference). */
json_t *cu_spec_json(const struct cu_coll_spec *spec);
/* "random", "deterministic", "format_preserving" or "format_preserving_deterministic"
 * (static). */
const char *cu_tokkind_name(enum cu_tokkind k);
/* Whether tokens of this kind are a function of the value (equal values, equal tokens): such a
 * token may name one value in several records of its field. */
int cu_tokkind_shared(enum cu_tokkind k);
/* Whether tokens of this kind keep the value's format. */
int cu_tokkind_fpe(enum cu_tokkind k);

#endif
