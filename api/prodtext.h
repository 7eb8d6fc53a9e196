/* api/prodtext.h — the text of a production: RFC 3339 time stamps, and
 * text assembled in guarded memory (pr_text: records.jsonl and manifest
 * lines, RSMF events) or grown there (pr_grow: plaintext, attachments,
 * leaf hashes).  Part of the build (api/prodstate.h).
 *
 * Buffers are vault_secure_alloc'd and wiped when they grow or are
 * cleared; none of these functions logs or copies what it holds.
 */
#ifndef COFFER_API_PRODTEXT_H
#define COFFER_API_PRODTEXT_H

#include <stddef.h>

#include <jansson.h>

#include "api/prodstate.h"

#define PR_TIME_MAX       96U

/* RFC 3339 UTC with microseconds when they are not zero (formatted by
 * hand: it runs several times per record). */
void pr_time(char out[PR_TIME_MAX], long long unix_us);

/* *buf (guarded, *cap bytes) made at least need bytes: doubled, the old
 * content wiped and dropped (not copied).  0, or -1 after PERR. */
int  pr_grow(prod *P, unsigned char **buf, size_t *cap, size_t need);

/* Room for more bytes after t's content (which is kept).  0 or -1. */
int  tx_reserve(prod *P, pr_text *t, size_t more);
/* Append n bytes, a C string, a decimal number.  0 or -1. */
int  tx_put(prod *P, pr_text *t, const void *d, size_t n);
int  tx_str(prod *P, pr_text *t, const char *str);
int  tx_u64(prod *P, pr_text *t, unsigned long long v);
/* A JSON value of the record, encoded (strings quoted and escaped). */
int  tx_json(prod *P, pr_text *t, const json_t *v);
/* Wipe the content and keep the buffer for the next line. */
void tx_clear(pr_text *t);
/* Wipe and free the buffer (t may be empty). */
void tx_free(pr_text *t);

#endif
