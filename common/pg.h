/* common/pg.h — libpq helpers: connect safely, run parameterised statements,
 * transactions, SQLSTATEs.
 *
 * Every helper returns 0/-1 (or a result/NULL) and writes a one-line message
 * to the caller's err buffer.  Messages carry the server's primary error text
 * and SQLSTATE only — never the conninfo, a password, parameter values, or the
 * DETAIL line (which can quote key values such as tokens).  After a failure,
 * pg_last_sqlstate() says which class of error it was, errno-style (thread
 * local).
 *
 * All Coffer tables live in schema `coffer`; pg_connect sets
 * search_path = coffer, pg_catalog.  Queries should still schema-qualify:
 * behind PgBouncer in transaction mode a session SET is not guaranteed to
 * follow the client from one server connection to the next.
 */
#ifndef COFFER_COMMON_PG_H
#define COFFER_COMMON_PG_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "vault/codec.h"

#define PG_SQLSTATE_SIZE 6U   /* five characters and a NUL */
#define PG_PARAMS_MAX    64

/* SQLSTATEs Coffer code reacts to. */
#define PG_SQLSTATE_UNIQUE_VIOLATION       "23505"
#define PG_SQLSTATE_CHECK_VIOLATION        "23514"
#define PG_SQLSTATE_FK_VIOLATION           "23503"
#define PG_SQLSTATE_INSUFFICIENT_PRIVILEGE "42501"
#define PG_SQLSTATE_SERIALIZATION_FAILURE  "40001"
#define PG_SQLSTATE_DEADLOCK               "40P01"
#define PG_SQLSTATE_RAISE_EXCEPTION        "P0001"   /* append-only triggers */
/* Set by the helpers themselves when the connection is unusable (libpq
 * reports no SQLSTATE then): callers map it to "database unavailable". */
#define PG_SQLSTATE_CONNECTION_FAILURE     "08006"

/* Positional parameters for one statement, built on the caller's stack:
 *
 *   pg_params p = PG_PARAMS_INIT;
 *   pg_param_text(&p, tenant_str);
 *   pg_param_bin(&p, leaf_hash, 32);
 *
 * The pointers are borrowed and must outlive the statement.  Adding more than
 * PG_PARAMS_MAX parameters marks the set invalid and the statement fails
 * without being sent.  result_binary = 1 asks for binary result columns
 * (bytea as raw bytes, integers big-endian). */
typedef struct pg_params {
	int         n;
	int         overflow;
	int         result_binary;
	const char *values[PG_PARAMS_MAX];
	int         lengths[PG_PARAMS_MAX];
	int         formats[PG_PARAMS_MAX];
} pg_params;
#define PG_PARAMS_INIT { 0, 0, 0, { 0 }, { 0 }, { 0 } }

/* -- binary formats -------------------------------------------------------- */

/* PostgreSQL's binary timestamp (and timestamptz) is µs since 2000-01-01
 * UTC; this is that instant in Unix µs.  unix_us = pg_us + PG_EPOCH_US. */
#define PG_EPOCH_US 946684800000000LL

/* Binary integers (int8, int4, and COPY BINARY's fields) are big-endian:
 * vault_be64_put/get and vault_be32_put/get (vault/codec.h, included
 * here); check PQgetlength() before reading. */

/* Array parameters in PostgreSQL's text form, for a $n cast to bytea[] or
 * text[]: n items of item_len bytes each as {"\\x<hex>",...}, or n strings
 * as {"a","b"} (double quotes and backslashes escaped).  malloc'd; NULL when out of
 * memory or too large; n == 0 gives "{}". */
char *pg_bytea_array(const unsigned char *items, size_t item_len, size_t n);
char *pg_text_array(const char *const *items, size_t n);

void pg_param_text(pg_params *p, const char *s);              /* NULL: SQL NULL */
void pg_param_bin(pg_params *p, const void *data, size_t len); /* bytea etc.    */
void pg_param_null(pg_params *p);

/* Connect.  conninfo NULL or "" uses libpq's defaults (PG* environment);
 * otherwise it may be a keyword string or a URI (expanded like dbname).
 * Sets client_encoding UTF8, fallback_application_name (the program name),
 * connect_timeout 10 s unless PGCONNECT_TIMEOUT or the conninfo says
 * otherwise, then search_path = coffer, pg_catalog.  Server NOTICEs are
 * dropped; WARNINGs are logged (primary text only).  NULL on failure. */
PGconn *pg_connect(const char *conninfo, char *err, size_t err_len)
        __attribute__((warn_unused_result));
/* The same with an explicit application_name (NULL: the program name). */
PGconn *pg_connect_app(const char *conninfo, const char *app_name,
                       char *err, size_t err_len)
        __attribute__((warn_unused_result));
/* Closes; accepts NULL and *c == NULL; sets *c = NULL. */
void    pg_close(PGconn **c);

/* One statement, extended protocol (so exactly one statement: no stacked
 * queries), p may be NULL.  Success: command or rows, result discarded.
 * (Not warn_unused_result: deliberately failing a transaction, e.g. to
 * poison it, is a legitimate use whose result is of no interest.) */
int pg_exec(PGconn *c, const char *sql, const pg_params *p,
            char *err, size_t err_len);

/* One statement; returns its result (PGRES_TUPLES_OK or PGRES_COMMAND_OK),
 * which the caller PQclear()s, or NULL on failure. */
PGresult *pg_query(PGconn *c, const char *sql, const pg_params *p,
                   char *err, size_t err_len) __attribute__((warn_unused_result));

/* A trusted multi-statement script (migrations only) via the simple query
 * protocol.  On failure err holds the message and *err_pos (if non-NULL) the
 * 1-based character position in sql that the server blamed, or 0. */
int pg_exec_script(PGconn *c, const char *sql, int *err_pos,
                   char *err, size_t err_len) __attribute__((warn_unused_result));

int pg_begin(PGconn *c, char *err, size_t err_len)
    __attribute__((warn_unused_result));
/* COMMIT, and fail if the server answered ROLLBACK (the transaction had
 * already failed) — a caller must never acknowledge data on that path.  If
 * the connection drops during COMMIT the outcome is unknown: treat it as
 * not committed and let idempotent retries (dedup tokens) sort it out. */
int pg_commit(PGconn *c, char *err, size_t err_len)
    __attribute__((warn_unused_result));
/* ROLLBACK if a transaction is open; harmless otherwise.  0 or -1.  Leaves
 * pg_last_sqlstate() as it was, so callers can roll back first and look
 * at the failure after. */
int pg_rollback(PGconn *c);
/* fn(c, -1) runs in pg_commit just before COMMIT is sent (fn may run
 * queries), fn(c, committed) at the end of every pg_commit (1 only when
 * the server answered COMMIT) and pg_rollback; NULL: none. */
void pg_set_txn_hook(void (*fn)(PGconn *c, int committed));

/* SQLSTATE of the last failed helper call in this thread ("" if the last
 * call succeeded or failed before reaching the server). */
const char *pg_last_sqlstate(void);
/* SQLSTATE of a result ("" if none). */
const char *pg_result_sqlstate(const PGresult *r);
/* 1 if the last failure in this thread had SQLSTATE state. */
int pg_last_sqlstate_is(const char *state);

#endif
