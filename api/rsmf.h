/* api/rsmf.h — a production's RSMF 2.0 files: records grouped by
 * conversation, channel and UTC day, each group's events and attachments
 * in its rsmf.zip, base64 in a MIME body behind RFC 5322 headers, written
 * into the tar as rsmf/cNNNNNN_YYYY-MM-DD.rsmf (attachments also as
 * attachments/<control>-<nn>).
 * Part of the build (api/prodstate.h).
 *
 * Record values reach the output only encoded by jansson; entry names and
 * headers hold ordinals, days and counts only (see api/production.c).
 */
#ifndef COFFER_API_RSMF_H
#define COFFER_API_RSMF_H

#include <jansson.h>

#include "api/prodstate.h"


/* Does this record start a new group?  Opens it (closing the last). */
/* An attachment's file name made safe for a disk: bytes outside
 * [A-Za-z0-9._-] and a leading '.' become '_', at most PR_SAFE_MAX bytes,
 * "file" when empty.  out holds PR_SAFE_MAX + 1 bytes. */
#define PR_SAFE_MAX 80U
void pr_safe_name(char *out, const char *name, size_t n);

int  pr_group_for(prod *P, const unsigned char *conv, const char *channel,
                  long long sent_us);
/* One record as an RSMF event of the current group. */
int  pr_event(prod *P, json_t *rec, const char *event_id,
              const char *receipt, long long sent_us);
/* Close the current group's zip and write its .rsmf into the tar. */
int  pr_group_finish(prod *P);
/* Forget the current group: a zip still open (only after a failure) is
 * freed unwritten, its callbacks doing nothing. */
void pr_group_clear(prod *P);

#endif
