/* common/migrate.h — apply migrations/NNNN_name.sql in order.
 *
 * The runner owns coffer.schema_migrations(version, name, checksum,
 * applied_at); checksum is the SHA-256 (hex) of the file's bytes.  Each
 * pending file runs in its own transaction, under a transaction-scoped
 * advisory lock, so concurrent runners serialise and a failed file leaves
 * nothing behind.  The connecting role must be able to create the schema
 * and, for 0001, roles (CREATEROLE): migrations run as the schema owner,
 * never as an application role.
 *
 * Refused, with a message naming the file: a malformed or duplicate file
 * name, an applied file whose bytes changed, an applied version whose file
 * is gone, a pending file older than one already applied, a file that ends
 * the transaction itself (BEGIN/COMMIT inside a migration).
 */
#ifndef COFFER_COMMON_MIGRATE_H
#define COFFER_COMMON_MIGRATE_H

#include <stddef.h>

#include <libpq-fe.h>

#define MIGRATE_FILE_MAX (16U * 1024U * 1024U)   /* bytes per .sql file */

/* Bring the database up to dir's migrations.  verbose: log each file
 * applied.  *applied_count is the number applied by this call (also on
 * failure: those before the failing one stay committed).  0 or -1. */
int migrate_apply(PGconn *c, const char *dir, int verbose, int *applied_count,
                  char *err, size_t err_len) __attribute__((warn_unused_result));

#endif
