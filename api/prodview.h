/* api/prodview.h — what a reviewer reads in a production (issue 15.3):
 * per conversation a transcript (transcripts/cNNNNNN.html and .txt), the
 * load file (loadfile.csv, one row per record) and the cover sheet
 * (cover.txt, cover.html).  Part of the build (api/prodstate.h), over
 * api/spool.c and api/prodtext.c.
 *
 * Record values are hostile: HTML is escaped (& < > " '), control
 * characters become '?' in text and CSV, CSV cells are RFC 4180-quoted and
 * a cell starting with = + - @ TAB or CR gets a leading ' (formula
 * injection).  Text is assembled in guarded memory and held in spools
 * (bounded memory); nothing is logged.
 */
#ifndef COFFER_API_PRODVIEW_H
#define COFFER_API_PRODVIEW_H

#include <jansson.h>

#include "api/prodstate.h"

/* Escaping, for what goes where (exposed for tests/unit/test_production.c):
 * HTML entities for & < > " '; a body's newline followed by 4 blanks in
 * TEXT; '"' doubled in CSV; control characters (but newline and TAB outside
 * LINE) and DEL as '?' in every mode.  Appends to t.  0 or -1. */
enum { PR_VIEW_HTML, PR_VIEW_TEXT, PR_VIEW_LINE, PR_VIEW_CSV };
int  pr_view_escape(prod *P, pr_text *t, const char *s, size_t n, int mode);
/* One RFC 4180 cell ("," before it unless first): quoted, a leading ' when
 * it starts with = + - @ TAB or CR.  0 or -1. */
int  pr_view_cell(prod *P, pr_text *t, const char *s, int first);

/* Spools and lists; 0 or -1 after PERR. */
int  pr_view_open(prod *P);
/* One record (after its RSMF event: P->control and P->ratt are set) into
 * the transcript of conversation P->ordinal (closing the last one) and the
 * load file.  0 or -1. */
int  pr_view_record(prod *P, json_t *rec, const char *channel,
                    long long sent_us, const char *receipt, const char *leaf);
/* The open transcript into the tar (no-op when none).  0 or -1. */
int  pr_view_finish(prod *P);
/* loadfile.csv, then cover.txt and cover.html into the tar.  0 or -1. */
int  pr_view_loadfile(prod *P);
int  pr_view_cover(prod *P);
/* The cover fields of the manifest (borrowed by the caller). */
void pr_view_free(prod *P);

#endif
