/* The verbs of the custos binary, one file each (serve.c, migrate.c, ...), and what they share.
 * A verb takes its own argv (argv[0] is the verb), owns everything it opens and returns the
 * process exit status: 0 done, 1 failed (reason on stderr), 2 bad usage. */
#ifndef CU_CMD_CMD_H
#define CU_CMD_CMD_H

#include <stdio.h>

#include "auth/jwt.h"
#include "config/config.h"
#include "service/keyring.h"
#include "service/svc.h"
#include "storage/db.h"

#include <jansson.h>

typedef int (*cu_cmd_fn)(int argc, char **argv);

struct cu_cmd {
    const char *name;    /* the verb as typed */
    const char *args;    /* its options for the usage text, "" when none */
    const char *summary; /* one line for the usage text */
    cu_cmd_fn run;
};

/* The verb called name ("--help" is help), or NULL. Static storage. */
const struct cu_cmd *cu_cmd_find(const char *name);
/* Writes the usage text (every verb with its options) to to. */
void cu_cmd_usage(FILE *to);

int cu_cmd_serve(int argc, char **argv);
int cu_cmd_migrate(int argc, char **argv);
int cu_cmd_keygen(int argc, char **argv);
int cu_cmd_sweep(int argc, char **argv);
int cu_cmd_audit_verify(int argc, char **argv);
int cu_cmd_receipt_verify(int argc, char **argv);
int cu_cmd_rotate_root(int argc, char **argv);
int cu_cmd_dev_token(int argc, char **argv);
int cu_cmd_help(int argc, char **argv);
int cu_cmd_version(int argc, char **argv);

/* Prints "custos: what: <thread's error reason>" to stderr; returns 1 (the exit status). */
int cu_cmd_fail(const char *what);
/* Sets the log level named by cfg->log_level (debug, info, warn, error); others are ignored. */
void cu_cmd_apply_log_level(const struct cu_config *cfg);
/* Fills *o from cfg; o borrows cfg's strings and secret, so it must not outlive cfg. */
void cu_cmd_auth_opts(const struct cu_config *cfg, struct cu_auth_opts *o);
/* For the verbs that work on the database without serving: loads the root key, opens a small
 * pool and verifies the root against the database. *db and *kr are the caller's to free (also
 * after a failure, when they may be set or NULL). Returns 0, or 1 after cu_cmd_fail. */
int cu_cmd_open_keyring(struct cu_config *cfg, struct cu_db **db, struct cu_keyring **kr);
/* The JSON document in file, as an API answer gave it: its member `member` when it has one,
 * else the whole document (a new reference). NULL after "custos <verb>: F is not JSON". */
json_t *cu_cmd_load_answer(const char *verb, const char *file, const char *member);
/* Prints "custos: what: <pointer> <detail>" for the first problem of p (a document handed in
 * that the service refused). */
void cu_cmd_print_problem(const char *what, const struct cu_problems *p);

#endif
