/* The schema migrations compiled into the binary (generated from migrations/NNNN_name.sql). */
#ifndef CU_STORAGE_MIGRATIONS_H
#define CU_STORAGE_MIGRATIONS_H

struct cu_migration {
    int version;
    const char *name;
    const char *sql;
};

extern const struct cu_migration cu_migrations[];
extern const int cu_migrations_count;

#endif
