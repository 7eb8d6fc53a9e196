/* api/spool.h — where a production's bytes go: the writer thread (pr_wq:
 * sealing, writes and the output's SHA-256), spools (guarded memory, then
 * a sealed temporary file), the tar streamed through the sealed
 * container, and the base64 of an RSMF's zip.  Part of the build
 * (api/prodstate.h).
 *
 * Plaintext stays in guarded or wiped memory, or is sealed before it
 * reaches a file: the writer's queue holds it in guarded slots, wiped
 * once sealed.
 */
#ifndef COFFER_API_SPOOL_H
#define COFFER_API_SPOOL_H

#include <stddef.h>

#include <archive.h>

#include "api/prodstate.h"
#include "vault/production.h"

/* -- the writer thread --------------------------------------------------- */

/* Start the thread (q zeroed before).  0, or -1: wq_stop and wq_free
 * still clean up. */
int  wq_start(pr_wq *q);
/* Wait until everything queued is written.  0, or -1 with errno. */
int  wq_drain(pr_wq *q);
/* What the writer thread's failed write said, after a -1. */
const char *wq_error(pr_wq *q);
/* Stop the thread once the published slots are written (a slot still
 * being filled is dropped: wq_drain first to keep it). */
void wq_stop(pr_wq *q);
/* After wq_stop. */
void wq_free(pr_wq *q);

/* -- spools -------------------------------------------------------------- */

/* An empty spool of mem_cap bytes of guarded memory.  0 or -1. */
int  spool_open(prod *P, pr_spool *s, size_t mem_cap);
/* Append (spilling to the sealed file past mem_cap).  0 or -1. */
int  spool_put(prod *P, pr_spool *s, const void *data, size_t len);
/* Plaintext bytes held. */
unsigned long long spool_size(const pr_spool *s);
/* Finish the sealed file, if any, before spool_copy.  0 or -1. */
int  spool_seal(prod *P, pr_spool *s);
/* Hand the content to sink: from memory, or the sealed file read back. */
int  spool_copy(prod *P, pr_spool *s, vault_sink_fn sink, void *arg);
/* Empty the spool for its next use. */
int  spool_reset(prod *P, pr_spool *s);
/* Free everything, wiping the memory (s opened, or fd -1; closes it). */
void spool_close(pr_spool *s);

/* -- output: file, SHA-256, container, tar -------------------------------- */

/* The container's sink (arg: the prod): ciphertext written to the output,
 * counted in out_bytes and hashed (on the writer thread, or the build's
 * when the queue is drained). */
int  out_sink(void *arg, const unsigned char *data, size_t len);
/* libarchive's write callback for the tar (client: the prod). */
la_ssize_t tar_write_cb(struct archive *a, void *client, const void *buf,
                        size_t len);
/* PERR for a tar failure (what: "header", "write", ...); returns -1. */
int  tar_fail(prod *P, const char *what);
/* Close the statement's hash of the current tar file, if one is open. */
int  pr_file_end(prod *P);
/* A tar entry (a file of size bytes, or a directory), hashed for the
 * statement from here on.  0 or -1. */
int  tar_entry(prod *P, const char *path, unsigned long long size, int dir);
/* The current entry's file hashes on the build's thread from here to its
 * pr_file_end (after the queue drains): for a file copied from a spool,
 * where the build only reads and opens while the writer thread seals
 * and writes, it takes two of the writer's five passes over the bytes.
 * 0 or -1. */
int  tar_hash_here(prod *P);
/* The current entry's bytes; tar_sink is the same as a vault_sink_fn. */
int  tar_put(prod *P, const void *data, size_t len);
int  tar_sink(void *arg, const unsigned char *data, size_t len);

/* -- records.jsonl in parts (issue 17.4) ---------------------------------- */

/* Append to records.jsonl: whenever P->rpart_cap bytes are held, they go
 * into the tar as its next part, records.jsonl.NNNNNN (000001 first).
 * Call only between tar entries.  0 or -1. */
int  rec_put(prod *P, const void *data, size_t len);
/* The last part (one empty part if there was none), and records.jsonl's
 * hashes over all its parts into the statement's and manifest's lists.
 * 0 or -1. */
int  rec_finish(prod *P);

/* -- base64 into the zip spool (MIME lines of 76 characters, CRLF) -------- */

/* The last short line, and the carry wiped.  0 or -1. */
int  b64_finish(prod *P, pr_b64 *b);
/* libarchive's write callback for P->g.zip: base64 into P->zipsp. */
la_ssize_t zip_write_cb(struct archive *a, void *client, const void *buf,
                        size_t len);
/* PERR for a zip failure unless one is set already; returns -1. */
int  zip_fail(prod *P, const char *what);
/* The current zip entry's bytes; zip_sink is the same as a
 * vault_sink_fn. */
int  zip_put(prod *P, const void *data, size_t len);
int  zip_sink(void *arg, const unsigned char *data, size_t len);
/* A zip entry of size bytes, stored or deflated.  0 or -1. */
int  zip_entry(prod *P, const char *name, unsigned long long size,
               int store);

#endif
