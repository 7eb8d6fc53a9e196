/* api/prodview.c — what a reviewer reads in a production (issue 15.3;
 * contract in api/prodview.h): per conversation a transcript in HTML and
 * plain text, one load file row per record, and the cover sheet.
 *
 * Trusts: the decrypted record only as JSON that common/jtext.c or jansson
 * parsed; every value is escaped for where it goes (vx_escape): HTML
 * entities, '?' for control characters in text and CSV (a terminal or
 * spreadsheet must not act on them), RFC 4180 quoting, and a leading '
 * for a CSV cell that a spreadsheet would take as a formula.  The HTML is
 * self-contained: no script, no external resource, and a
 * Content-Security-Policy that allows none; links go only to names we made
 * (attachments/<control>-<nn>-<safe>).
 *
 * Does not: hold a transcript or the load file in memory (spools, as the
 * RSMF events), log anything, or name a tar entry after content
 * (transcripts/cNNNNNN.*, fixed names; see api/production.c).
 */
#include "api/prodview.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/prodtext.h"
#include "api/spool.h"
#include "vault/mem.h"

/* Guarded memory of a transcript before it spills to a sealed file
 * (about 1 KB a message and format: a conversation of some 1 000
 * messages stays in memory), and of the load file (which spills for any
 * large production). */
#define PR_SPOOL_MEM_VIEW (1024U * 1024U)
#define PR_SPOOL_MEM_CSV  (256U * 1024U)

enum vx_mode { VX_HTML = PR_VIEW_HTML, VX_TEXT = PR_VIEW_TEXT,
               VX_LINE = PR_VIEW_LINE, VX_CSV = PR_VIEW_CSV };

static const char vx_css[] =
    "body{font-family:sans-serif;margin:2em}"
    "table{border-collapse:collapse}"
    "td,th{border:1px solid #999;padding:4px;vertical-align:top;"
    "text-align:left}td.b{white-space:pre-wrap}";

static const char vx_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
    "'none'; style-src 'unsafe-inline'\">\n";

/* The ASCII bytes each mode replaces, as bits (bit c of word c / 64):
 * controls and DEL everywhere but TAB and LF where a mode keeps them, and
 * the mode's own specials.  Any other byte is copied in a run. */
#define VX_B(c)    (1ULL << (c))
#define VX_CTRL    0xffffffffULL
static const unsigned long long vx_special[4] = {
	[VX_HTML] = (VX_CTRL & ~(VX_B('\t') | VX_B('\n'))) | VX_B('"') |
	    VX_B('&') | VX_B('\'') | VX_B('<') | VX_B('>'),
	[VX_TEXT] = VX_CTRL & ~VX_B('\t'),
	[VX_LINE] = VX_CTRL,
	[VX_CSV]  = (VX_CTRL & ~(VX_B('\t') | VX_B('\n'))) | VX_B('"'),
};

/* The same, one byte per byte value (1: replaced), made once from
 * vx_special: the scan is a load and a test per byte. */
static unsigned char vx_tab[4][256];
static pthread_once_t vx_tab_once = PTHREAD_ONCE_INIT;

static void
vx_tab_init(void)
{
	int m, c;

	for (m = 0; m < 4; m++)
		for (c = 0; c < 256; c++)
			vx_tab[m][c] = (unsigned char)(c == 0x7f ||
			    (c < 0x40 && (vx_special[m] >> c & 1U)));
}

/* s (n bytes, valid UTF-8 from jansson or ours) escaped for mode. */
static int
vx_escape(prod *P, pr_text *t, const char *s, size_t n, enum vx_mode mode)
{
	const unsigned char *tab;
	size_t i, run = 0;

	(void)pthread_once(&vx_tab_once, vx_tab_init);
	tab = vx_tab[mode];
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		const char *rep = NULL;

		if (!tab[ch])
			continue;
		if (mode == VX_HTML) {
			switch (ch) {
			case '&': rep = "&amp;"; break;
			case '<': rep = "&lt;"; break;
			case '>': rep = "&gt;"; break;
			case '"': rep = "&quot;"; break;
			case '\'': rep = "&#39;"; break;
			default: break;
			}
		} else if (mode == VX_CSV && ch == '"') {
			rep = "\"\"";
		} else if (mode == VX_TEXT && ch == '\n') {
			rep = "\n    ";          /* a body cannot start a line */
		}
		if (rep == NULL)
			rep = "?";      /* a control character or DEL */
		if (i > run && tx_put(P, t, s + run, i - run) != 0)
			return -1;
		if (tx_str(P, t, rep) != 0)
			return -1;
		run = i + 1;
	}
	return n > run ? tx_put(P, t, s + run, n - run) : 0;
}

int
pr_view_escape(prod *P, pr_text *t, const char *s, size_t n, int mode)
{
	if (mode < PR_VIEW_HTML || mode > PR_VIEW_CSV) {
		PERR(P, "unknown escaping");
		return -1;
	}
	return vx_escape(P, t, s, n, (enum vx_mode)mode);
}

static int
vx_str(prod *P, pr_text *t, const char *s, enum vx_mode mode)
{
	return vx_escape(P, t, s, strlen(s), mode);
}

static int
vx_json(prod *P, pr_text *t, const json_t *v, enum vx_mode mode)
{
	if (!json_is_string(v))
		return 0;
	return vx_escape(P, t, json_string_value(v), json_string_length(v), mode);
}

/* A spreadsheet runs a cell starting with = + - @ (and TAB or CR before
 * one): such a cell gets a leading '. */
static int
vx_formula(const char *s, size_t n)
{
	return n > 0 && (s[0] == '=' || s[0] == '+' || s[0] == '-' ||
	    s[0] == '@' || s[0] == '\t' || s[0] == '\r');
}

/* One CSV cell from the strings of arr (or their member key), joined by
 * "; ".  first: no comma before it. */
static int
vx_cell_list(prod *P, pr_text *t, const json_t *arr, const char *key,
    int first)
{
	size_t i, k = 0;
	json_t *v;

	if (tx_str(P, t, first ? "\"" : ",\"") != 0)
		return -1;
	json_array_foreach(arr, i, v) {
		json_t *s = key != NULL ? json_object_get(v, key) : v;
		const char *p;
		size_t n;

		if (!json_is_string(s))
			continue;
		p = json_string_value(s);
		n = json_string_length(s);
		if ((k == 0 && vx_formula(p, n) && tx_str(P, t, "'") != 0) ||
		    (k > 0 && tx_str(P, t, "; ") != 0) ||
		    vx_escape(P, t, p, n, VX_CSV) != 0)
			return -1;
		k++;
	}
	return tx_str(P, t, "\"");
}

int
pr_view_cell(prod *P, pr_text *t, const char *s, int first)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (tx_str(P, t, first ? "\"" : ",\"") != 0 ||
	    (vx_formula(s, n) && tx_str(P, t, "'") != 0) ||
	    (n > 0 && vx_escape(P, t, s, n, VX_CSV) != 0))
		return -1;
	return tx_str(P, t, "\"");
}

static int
vx_cell_json(prod *P, pr_text *t, const json_t *v)
{
	if (!json_is_string(v))
		return tx_str(P, t, ",\"\"");
	if (tx_str(P, t, ",\"") != 0 ||
	    (vx_formula(json_string_value(v), json_string_length(v)) &&
	    tx_str(P, t, "'") != 0) || vx_json(P, t, v, VX_CSV) != 0)
		return -1;
	return tx_str(P, t, "\"");
}

/* t's content to spool s, then cleared. */
static int
vx_flush(prod *P, pr_text *t, pr_spool *s)
{
	int rc = spool_put(P, s, t->p, t->len);

	tx_clear(t);
	return rc;
}

/* A spool into the tar as name, then emptied for its next use. */
static int
vx_emit(prod *P, pr_spool *s, const char *name)
{
	if (spool_seal(P, s) != 0 || tar_entry(P, name, spool_size(s), 0) != 0 ||
	    spool_copy(P, s, tar_sink, P) != 0 || pr_file_end(P) != 0)
		return -1;
	return spool_reset(P, s);
}

int
pr_view_open(prod *P)
{
	static const char hdr[] = "\"control\",\"conversation_id\","
	    "\"conversation\",\"sent_at\",\"sender\",\"recipients\",\"channel\","
	    "\"direction\",\"attachment_names\",\"attachment_types\","
	    "\"attachment_files\",\"attachment_sha256\",\"leaf_hash\","
	    "\"receipt\",\"source_id\"\r\n";

	if ((P->conversations = json_array()) == NULL ||
	    (P->ratt = json_array()) == NULL ||
	    (P->sha_files = json_array()) == NULL ||
	    (P->fsha = EVP_MD_CTX_new()) == NULL) {
		PERR(P, "out of memory");
		return -1;
	}
	if (spool_open(P, &P->trhtml, PR_SPOOL_MEM_VIEW) != 0 ||
	    spool_open(P, &P->trtxt, PR_SPOOL_MEM_VIEW) != 0 ||
	    spool_open(P, &P->loadcsv, PR_SPOOL_MEM_CSV) != 0)
		return -1;
	return spool_put(P, &P->loadcsv, hdr, sizeof(hdr) - 1);
}

void
pr_view_free(prod *P)
{
	spool_close(&P->trhtml);
	spool_close(&P->trtxt);
	spool_close(&P->loadcsv);
	json_decref(P->tr_parts);
	json_decref(P->tr_conv);
	json_decref(P->conversations);
	json_decref(P->ratt);
	json_decref(P->sha_files);
	json_decref(P->matter);
	json_decref(P->approvers);
	P->approvers = NULL;
	P->tr_parts = P->tr_conv = P->conversations = P->ratt = NULL;
	P->sha_files = P->matter = NULL;
	EVP_MD_CTX_free(P->fsha);
	P->fsha = NULL;
	tx_free(&P->vtext);
}

/* -- transcripts ------------------------------------------------------------ */

static int
vx_tr_start(prod *P, json_t *rec, const char *channel)
{
	pr_text *t = &P->vtext;
	json_t *conv = json_object_get(rec, "conversation");
	char id[24];

	P->tr_active = 1;
	P->tr_ordinal = P->ordinal;
	P->tr_messages = 0;
	snprintf(P->tr_channel, sizeof(P->tr_channel), "%s", channel);
	json_decref(P->tr_conv);
	P->tr_conv = json_is_string(conv) ? json_incref(conv) : NULL;
	json_decref(P->tr_parts);
	if ((P->tr_parts = json_object()) == NULL) {
		PERR(P, "out of memory");
		return -1;
	}
	snprintf(id, sizeof(id), "c%06llu", P->tr_ordinal);
	if (tx_str(P, t, vx_head) != 0 || tx_str(P, t, "<title>Conversation ") != 0 ||
	    tx_str(P, t, id) != 0 || tx_str(P, t, "</title>\n<style>") != 0 ||
	    tx_str(P, t, vx_css) != 0 ||
	    tx_str(P, t, "</style>\n</head><body>\n<h1>Conversation ") != 0 ||
	    tx_str(P, t, id) != 0 || tx_str(P, t, ": ") != 0 ||
	    vx_json(P, t, P->tr_conv, VX_HTML) != 0 ||
	    tx_str(P, t, "</h1>\n<p>Channel: ") != 0 ||
	    vx_str(P, t, channel, VX_HTML) != 0 ||
	    tx_str(P, t, ". Matter ") != 0 || tx_str(P, t, P->mid) != 0 ||
	    tx_str(P, t, ". Times are UTC, in the order sent.</p>\n<table><thead>"
	    "<tr><th>Control</th><th>Sent (UTC)</th><th>Direction</th>"
	    "<th>From</th><th>To</th><th>Message</th><th>Attachments</th></tr>"
	    "</thead><tbody>\n") != 0 || vx_flush(P, t, &P->trhtml) != 0)
		return -1;
	if (tx_str(P, t, "Conversation ") != 0 || tx_str(P, t, id) != 0 ||
	    tx_str(P, t, ": ") != 0 || vx_json(P, t, P->tr_conv, VX_LINE) != 0 ||
	    tx_str(P, t, "\nChannel: ") != 0 || vx_str(P, t, channel, VX_LINE) != 0 ||
	    tx_str(P, t, "\nMatter: ") != 0 || tx_str(P, t, P->mid) != 0 ||
	    tx_str(P, t, "\nTimes are UTC, in the order sent.\n\n") != 0 ||
	    vx_flush(P, t, &P->trtxt) != 0)
		return -1;
	return 0;
}

static int
vx_part(prod *P, const json_t *v)
{
	if (!json_is_string(v))
		return 0;
	if (json_object_getn(P->tr_parts, json_string_value(v),
	    json_string_length(v)) != NULL)
		return 0;
	if (json_object_setn_new(P->tr_parts, json_string_value(v),
	    json_string_length(v), json_true()) != 0) {
		PERR(P, "record participant is not valid UTF-8");
		return -1;
	}
	return 0;
}

int
pr_view_finish(prod *P)
{
	pr_text *t = &P->vtext;
	const char *k;
	json_t *v, *o;
	char id[24], html[64], txt[64];
	int first = 1;

	if (!P->tr_active)
		return 0;
	P->tr_active = 0;
	snprintf(id, sizeof(id), "c%06llu", P->tr_ordinal);
	snprintf(html, sizeof(html), "transcripts/%s.html", id);
	snprintf(txt, sizeof(txt), "transcripts/%s.txt", id);
	if (tx_str(P, t, "</tbody></table>\n<h2>Participants</h2>\n<ul>\n") != 0)
		return -1;
	json_object_foreach(P->tr_parts, k, v) {
		if (tx_str(P, t, "<li>") != 0 || vx_str(P, t, k, VX_HTML) != 0 ||
		    tx_str(P, t, "</li>\n") != 0)
			return -1;
	}
	if (tx_str(P, t, "</ul>\n<p>") != 0 || tx_u64(P, t, P->tr_messages) != 0 ||
	    tx_str(P, t, " messages.</p>\n</body></html>\n") != 0 ||
	    vx_flush(P, t, &P->trhtml) != 0)
		return -1;
	if (tx_str(P, t, "Participants: ") != 0)
		return -1;
	json_object_foreach(P->tr_parts, k, v) {
		if ((!first && tx_str(P, t, ", ") != 0) ||
		    vx_str(P, t, k, VX_LINE) != 0)
			return -1;
		first = 0;
	}
	if (tx_str(P, t, "\nMessages: ") != 0 || tx_u64(P, t, P->tr_messages) != 0 ||
	    tx_str(P, t, "\n") != 0 || vx_flush(P, t, &P->trtxt) != 0)
		return -1;
	if (vx_emit(P, &P->trhtml, html) != 0 || vx_emit(P, &P->trtxt, txt) != 0)
		return -1;
	o = json_pack("{s:s,s:O*,s:s,s:I,s:s,s:s}", "id", id,
	    "display", P->tr_conv, "channel", P->tr_channel,
	    "messages", (json_int_t)P->tr_messages, "transcript_html", html,
	    "transcript_text", txt);
	if (o == NULL || json_array_append_new(P->conversations, o) != 0) {
		PERR(P, "out of memory");
		return -1;
	}
	return 0;
}

/* One message of the transcripts. */
static int
vx_tr_message(prod *P, const json_t *rec, const char *sent)
{
	pr_text *t = &P->vtext;
	const json_t *recips = json_object_get(rec, "recipients"), *v, *a;
	const json_t *sender = json_object_get(rec, "sender");
	const json_t *dir = json_object_get(rec, "direction");
	const json_t *body = json_object_get(rec, "body");
	size_t i;

	if (vx_part(P, sender) != 0)
		return -1;
	json_array_foreach(recips, i, v)
		if (vx_part(P, v) != 0)
			return -1;
	/* HTML row */
	if (tx_str(P, t, "<tr id=\"") != 0 || tx_str(P, t, P->control) != 0 ||
	    tx_str(P, t, "\"><td>") != 0 || tx_str(P, t, P->control) != 0 ||
	    tx_str(P, t, "</td><td>") != 0 || tx_str(P, t, sent) != 0 ||
	    tx_str(P, t, "</td><td>") != 0 || vx_json(P, t, dir, VX_HTML) != 0 ||
	    tx_str(P, t, "</td><td>") != 0 || vx_json(P, t, sender, VX_HTML) != 0 ||
	    tx_str(P, t, "</td><td>") != 0)
		return -1;
	json_array_foreach(recips, i, v)
		if ((i > 0 && tx_str(P, t, "<br>") != 0) ||
		    vx_json(P, t, v, VX_HTML) != 0)
			return -1;
	if (tx_str(P, t, "</td><td class=\"b\">") != 0 ||
	    vx_json(P, t, body, VX_HTML) != 0 || tx_str(P, t, "</td><td>") != 0)
		return -1;
	json_array_foreach(P->ratt, i, a) {
		/* "file" is ours: [A-Za-z0-9._/-] only, no escaping needed */
		if ((i > 0 && tx_str(P, t, "<br>") != 0) ||
		    tx_str(P, t, "<a href=\"../") != 0 ||
		    tx_str(P, t, json_string_value(json_object_get(a, "file"))) != 0 ||
		    tx_str(P, t, "\">") != 0 ||
		    vx_json(P, t, json_object_get(a, "name"), VX_HTML) != 0 ||
		    tx_str(P, t, "</a> (") != 0 ||
		    vx_json(P, t, json_object_get(a, "content_type"), VX_HTML) != 0 ||
		    tx_str(P, t, ", ") != 0 ||
		    tx_u64(P, t, (unsigned long long)json_integer_value(
		    json_object_get(a, "size"))) != 0 ||
		    tx_str(P, t, " bytes)") != 0)
			return -1;
	}
	if (tx_str(P, t, "</td></tr>\n") != 0 || vx_flush(P, t, &P->trhtml) != 0)
		return -1;
	/* text */
	if (tx_str(P, t, "[") != 0 || tx_str(P, t, sent) != 0 ||
	    tx_str(P, t, "] ") != 0 || tx_str(P, t, P->control) != 0 ||
	    tx_str(P, t, " ") != 0 || vx_json(P, t, dir, VX_LINE) != 0 ||
	    tx_str(P, t, "\n  From: ") != 0 || vx_json(P, t, sender, VX_LINE) != 0 ||
	    tx_str(P, t, "\n  To: ") != 0)
		return -1;
	json_array_foreach(recips, i, v)
		if ((i > 0 && tx_str(P, t, ", ") != 0) ||
		    vx_json(P, t, v, VX_LINE) != 0)
			return -1;
	if (tx_str(P, t, "\n    ") != 0 || vx_json(P, t, body, VX_TEXT) != 0 ||
	    tx_str(P, t, "\n") != 0)
		return -1;
	json_array_foreach(P->ratt, i, a) {
		if (tx_str(P, t, "  Attachment: ") != 0 ||
		    vx_json(P, t, json_object_get(a, "name"), VX_LINE) != 0 ||
		    tx_str(P, t, " (") != 0 ||
		    vx_json(P, t, json_object_get(a, "content_type"), VX_LINE) != 0 ||
		    tx_str(P, t, ") -> ../") != 0 ||
		    tx_str(P, t, json_string_value(json_object_get(a, "file"))) != 0 ||
		    tx_str(P, t, "\n") != 0)
			return -1;
	}
	if (tx_str(P, t, "\n") != 0 || vx_flush(P, t, &P->trtxt) != 0)
		return -1;
	P->tr_messages++;
	return 0;
}

int
pr_view_record(prod *P, json_t *rec, const char *channel, long long sent_us,
    const char *receipt, const char *leaf)
{
	pr_text *t = &P->vtext;
	char sent[PR_TIME_MAX], conv[24];

	if (P->tr_active && P->tr_ordinal != P->ordinal && pr_view_finish(P) != 0)
		return -1;
	if (!P->tr_active && vx_tr_start(P, rec, channel) != 0)
		return -1;
	pr_time(sent, sent_us);
	if (vx_tr_message(P, rec, sent) != 0)
		return -1;
	/* load file row */
	snprintf(conv, sizeof(conv), "c%06llu", P->tr_ordinal);
	if (pr_view_cell(P, t, P->control, 1) != 0 ||
	    pr_view_cell(P, t, conv, 0) != 0 ||
	    vx_cell_json(P, t, json_object_get(rec, "conversation")) != 0 ||
	    pr_view_cell(P, t, sent, 0) != 0 ||
	    vx_cell_json(P, t, json_object_get(rec, "sender")) != 0 ||
	    vx_cell_list(P, t, json_object_get(rec, "recipients"), NULL, 0) != 0 ||
	    pr_view_cell(P, t, channel, 0) != 0 ||
	    vx_cell_json(P, t, json_object_get(rec, "direction")) != 0 ||
	    vx_cell_list(P, t, P->ratt, "name", 0) != 0 ||
	    vx_cell_list(P, t, P->ratt, "content_type", 0) != 0 ||
	    vx_cell_list(P, t, P->ratt, "file", 0) != 0 ||
	    vx_cell_list(P, t, P->ratt, "sha256", 0) != 0 ||
	    pr_view_cell(P, t, leaf, 0) != 0 || pr_view_cell(P, t, receipt, 0) != 0 ||
	    vx_cell_json(P, t, json_object_get(rec, "id")) != 0 ||
	    tx_str(P, t, "\r\n") != 0 || vx_flush(P, t, &P->loadcsv) != 0)
		return -1;
	return 0;
}

int
pr_view_loadfile(prod *P)
{
	if (pr_view_finish(P) != 0)
		return -1;
	return vx_emit(P, &P->loadcsv, "loadfile.csv");
}

/* -- cover sheet ------------------------------------------------------------- */

/* A "label: value" line in text, a table row in HTML. */
static int
vx_field(prod *P, pr_text *t, int html, const char *label, const char *v,
    size_t n)
{
	if (html)
		return tx_str(P, t, "<tr><th>") != 0 || tx_str(P, t, label) != 0 ||
		    tx_str(P, t, "</th><td>") != 0 ||
		    vx_escape(P, t, v, n, VX_HTML) != 0 ||
		    tx_str(P, t, "</td></tr>\n") != 0 ? -1 : 0;
	return tx_str(P, t, label) != 0 || tx_str(P, t, ": ") != 0 ||
	    vx_escape(P, t, v, n, VX_LINE) != 0 || tx_str(P, t, "\n") != 0 ? -1 : 0;
}

static int
vx_field_json(prod *P, pr_text *t, int html, const char *label, const json_t *v)
{
	return vx_field(P, t, html, label, json_is_string(v) ?
	    json_string_value(v) : "", json_is_string(v) ? json_string_length(v) : 0);
}

static int
vx_cover_doc(prod *P, int html, size_t nfiles)
{
	pr_text *t = &P->vtext;
	const json_t *m = P->matter, *req = json_object_get(m, "requester");
	json_t *v;
	char *scope = NULL, num[256];
	size_t i;
	int rc = -1;

	if (html && (tx_str(P, t, vx_head) != 0 ||
	    tx_str(P, t, "<title>Production cover sheet</title>\n<style>") != 0 ||
	    tx_str(P, t, vx_css) != 0 ||
	    tx_str(P, t, "</style>\n</head><body>\n<h1>Production cover sheet"
	    "</h1>\n<table>\n") != 0))
		goto out;
	if (!html && tx_str(P, t, "PRODUCTION COVER SHEET\n\n") != 0)
		goto out;
	if (vx_field_json(P, t, html, "Matter", json_object_get(m, "title")) != 0 ||
	    vx_field(P, t, html, "Matter id", P->mid, strlen(P->mid)) != 0 ||
	    vx_field(P, t, html, "Tenant id", P->tid, strlen(P->tid)) != 0 ||
	    vx_field_json(P, t, html, "Legal basis",
	    json_object_get(m, "legal_basis")) != 0 ||
	    vx_field_json(P, t, html, "Requester", json_object_get(req, "name")) != 0 ||
	    vx_field_json(P, t, html, "Requester id",
	    json_object_get(req, "user_id")) != 0 ||
	    vx_field_json(P, t, html, "Built", json_object_get(m, "built_at")) != 0)
		goto out;
	if ((scope = json_dumps(P->scope_summary, JSON_COMPACT | JSON_SORT_KEYS))
	    == NULL) {
		PERR(P, "out of memory");
		goto out;
	}
	if (vx_field(P, t, html, "Scope", scope, strlen(scope)) != 0)
		goto out;
	snprintf(num, sizeof(num), "%llu records (%llu in scope but not released), "
	    "%zu conversations, %llu RSMF files, %llu attachments, %llu epochs",
	    P->res.records, P->res.excluded_records,
	    json_array_size(P->conversations), P->res.rsmf_files,
	    P->res.attachments, P->res.epochs);
	if (vx_field(P, t, html, "Counts", num, strlen(num)) != 0)
		goto out;
	snprintf(num, sizeof(num), "%u of the tenant's custodians", P->k);
	if (vx_field(P, t, html, "Approvals needed", num, strlen(num)) != 0 ||
	    tx_str(P, t, html ? "</table>\n<h2>Approving custodians</h2>\n<table>\n"
	    "<tr><th>Index</th><th>Name</th><th>Approved at (UTC)</th></tr>\n" :
	    "\nApproving custodians:\n") != 0)
		goto out;
	json_array_foreach(json_object_get(m, "approvals"), i, v) {
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(
		    json_object_get(v, "custodian_index")));
		if (tx_str(P, t, html ? "<tr><td>" : "  custodian ") != 0 ||
		    tx_str(P, t, num) != 0 || tx_str(P, t, html ? "</td><td>" : " ") != 0 ||
		    vx_json(P, t, json_object_get(v, "name"), html ? VX_HTML : VX_LINE) != 0 ||
		    tx_str(P, t, html ? "</td><td>" : " at ") != 0 ||
		    vx_json(P, t, json_object_get(v, "approved_at"), VX_LINE) != 0 ||
		    tx_str(P, t, html ? "</td></tr>\n" : "\n") != 0)
			goto out;
	}
	if (tx_str(P, t, html ? "</table>\n<h2>Files (SHA-256)</h2>\n<table>\n"
	    "<tr><th>SHA-256</th><th>Bytes</th><th>File</th></tr>\n" :
	    "\nFiles (SHA-256, bytes, name):\n") != 0 ||
	    vx_flush(P, t, &P->loadcsv) != 0)
		goto out;
	/* one line per file: flushed as it goes (bounded memory) */
	json_array_foreach(P->sha_files, i, v) {
		if (i >= nfiles)
			break;
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(
		    json_object_get(v, "size")));
		if (tx_str(P, t, html ? "<tr><td><code>" : "  ") != 0 ||
		    vx_json(P, t, json_object_get(v, "sha256"), VX_LINE) != 0 ||
		    tx_str(P, t, html ? "</code></td><td>" : "  ") != 0 ||
		    tx_str(P, t, num) != 0 || tx_str(P, t, html ? "</td><td>" : "  ") != 0 ||
		    vx_json(P, t, json_object_get(v, "name"), VX_LINE) != 0 ||
		    tx_str(P, t, html ? "</td></tr>\n" : "\n") != 0 ||
		    vx_flush(P, t, &P->loadcsv) != 0)
			goto out;
	}
	if (tx_str(P, t, html ? "</table>\n<p>" : "\n") != 0 ||
	    tx_str(P, t, "The cover sheets, manifest.json and manifest.sig are not "
	    "listed here: manifest.json lists every file with its SHA-256 (the "
	    "cover sheets too), and manifest.sig, the API node's signature, covers "
	    "every file. Check with cofferctl export open.") != 0 ||
	    tx_str(P, t, html ? "</p>\n</body></html>\n" : "\n") != 0 ||
	    vx_flush(P, t, &P->loadcsv) != 0)
		goto out;
	rc = vx_emit(P, &P->loadcsv, html ? "cover.html" : "cover.txt");
out:
	tx_clear(t);
	if (scope != NULL)
		vault_wipe(scope, strlen(scope));
	free(scope);
	return rc;
}

int
pr_view_cover(prod *P)
{
	char at[PR_TIME_MAX];
	size_t n;

	pr_time(at, P->now_us);
	if (P->matter == NULL ||
	    json_object_set_new(P->matter, "built_at", json_string(at)) != 0) {
		PERR(P, "production: no matter details for the cover sheet");
		return -1;
	}
	/* both sheets list the same files: the ones before them (hashed on
	 * the writer thread: read once it is idle) */
	if (wq_drain(&P->wq) != 0) {
		PERR(P, "%s: %s", P->tmp_path, wq_error(&P->wq));
		return -1;
	}
	n = json_array_size(P->sha_files);
	return vx_cover_doc(P, 0, n) == 0 && vx_cover_doc(P, 1, n) == 0 ? 0 : -1;
}
