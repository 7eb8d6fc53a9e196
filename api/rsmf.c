/* api/rsmf.c — a production's RSMF 2.0 files (api/rsmf.h): one group
 * of records at a time (one UTC day of a conversation and channel,
 * rsmf/c<conversation>_<YYYY-MM-DD>.rsmf), its events and attachments in
 * rsmf.zip, its manifest, and the .rsmf — RFC 5322 headers and the zip in
 * base64 — into the tar.  Each attachment is also a file of the tar of its
 * own (attachments/<control>-<nn>), its name and type in P->ratt.
 *
 * Trusts: the decrypted record only as JSON that jansson parsed: values
 * reach the output encoded by jansson (tx_json), attachments must be
 * padded standard base64 and are decoded in bounded slices into guarded
 * memory.  Entry names and headers never derive from content: fixed
 * names, ordinals, days of the plaintext sent_at column, att<n>-<j>; an
 * attachment's file name goes only into the manifest's "display" (see
 * api/production.c on libarchive's unwiped copies).  Participants are
 * shown as P<n>, keyed by their normalised form (vault/blind.h).
 */
#include "api/rsmf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <archive.h>
#include <openssl/evp.h>

#include "api/prodtext.h"
#include "api/spool.h"
#include "common/util.h"
#include "vault/blind.h"
#include "vault/mem.h"

#define PR_DAY_US         86400000000LL
#define PR_HDR_MAX        2048U
#define PR_GENERATOR      "Coffer"
#define PR_BOUNDARY       "coffer-rsmf-boundary-7f3e9c"

/* -- RFC 5322 times and UTC days ----------------------------------------- */

/* RFC 5322 date-time, independent of the process locale. */
static void
pr_time_5322(char out[PR_TIME_MAX], long long unix_us)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	                                    "Fri", "Sat" };
	static const char *const mons[] = { "Jan", "Feb", "Mar", "Apr", "May",
	                                    "Jun", "Jul", "Aug", "Sep", "Oct",
	                                    "Nov", "Dec" };
	long long secs = unix_us / 1000000LL;
	struct tm tm;
	time_t t;

	if (unix_us < 0 && unix_us % 1000000LL != 0)
		secs -= 1;
	t = (time_t)secs;
	memset(&tm, 0, sizeof(tm));
	if (gmtime_r(&t, &tm) == NULL || tm.tm_wday < 0 || tm.tm_wday > 6 ||
	    tm.tm_mon < 0 || tm.tm_mon > 11) {
		snprintf(out, PR_TIME_MAX, "Thu, 01 Jan 1970 00:00:00 +0000");
		return;
	}
	snprintf(out, PR_TIME_MAX, "%s, %02d %s %04d %02d:%02d:%02d +0000",
	    days[tm.tm_wday], tm.tm_mday, mons[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static long long
pr_day(long long unix_us)
{
	return unix_us >= 0 ? unix_us / PR_DAY_US :
	    -((-unix_us + PR_DAY_US - 1) / PR_DAY_US);
}

static void
pr_date(char out[PR_TIME_MAX], long long day)
{
	char full[PR_TIME_MAX];

	pr_time(full, day * PR_DAY_US);
	snprintf(out, PR_TIME_MAX, "%.10s", full);
}

/* -- RSMF groups --------------------------------------------------------------------- */

static int
pr_group_start(prod *P, const unsigned char *conv, const char *channel,
    long long day, int new_conversation)
{
	pr_group *g = &P->g;

	memset(g, 0, sizeof(*g));
	g->active = 1;
	if (conv != NULL) {
		g->has_conv = 1;
		memcpy(g->conv, conv, VAULT_TOKEN_BYTES);
	}
	snprintf(g->channel, sizeof(g->channel), "%s", channel);
	g->day = day;
	if (new_conversation)
		P->ordinal++;
	g->ordinal = P->ordinal;
	g->pmap = json_object();
	g->plist = json_array();
	if (g->pmap == NULL || g->plist == NULL) {
		PERR(P, "out of memory");
		return -1;
	}
	if ((g->zip = archive_write_new()) == NULL ||
	    archive_write_set_format_zip(g->zip) != ARCHIVE_OK ||
	    archive_write_set_format_option(g->zip, "zip", "compression-level",
	    "1") != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(g->zip, 0) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(g->zip, 1) != ARCHIVE_OK ||
	    archive_write_open2(g->zip, P, NULL, zip_write_cb, NULL, NULL) !=
	    ARCHIVE_OK)
		return zip_fail(P, "open");
	return 0;
}

void
pr_group_clear(prod *P)
{
	pr_group *g = &P->g;

	if (g->zip != NULL) {
		/* Only after a failure: libarchive closes on free (and frees
		 * its buffers only then), so the callbacks become no-ops. */
		P->aborting = 1;
		archive_write_free(g->zip);
	}
	json_decref(g->pmap);
	json_decref(g->plist);
	json_decref(g->conv_display);
	vault_wipe(g->b64.carry, sizeof(g->b64.carry));
	memset(g, 0, sizeof(*g));
}

/* "P<n>" for a participant, adding it on first sight.  The key is the
 * normalised form (vault/blind.h), so spellings of one number meet. */
static int
pr_participant(prod *P, const char *raw, char id[24])
{
	pr_group *g = &P->g;
	char norm[VAULT_PARTICIPANT_MAX + 1], e2[128];
	size_t nlen = 0, rlen = strlen(raw);
	json_t *v;

	if (vault_participant_normalize(vault_participant_classify(raw, rlen), raw,
	    rlen, norm, sizeof(norm) - 1, &nlen, e2, sizeof(e2)) != 0) {
		nlen = rlen < VAULT_PARTICIPANT_MAX ? rlen : VAULT_PARTICIPANT_MAX;
		memcpy(norm, raw, nlen);
	}
	norm[nlen] = '\0';
	if ((v = json_object_getn(g->pmap, norm, nlen)) != NULL) {
		snprintf(id, 24, "P%lld", (long long)json_integer_value(v));
		vault_wipe(norm, sizeof(norm));
		return 0;
	}
	if (json_array_append_new(g->plist, json_stringn(norm, nlen)) != 0 ||
	    json_object_setn_new(g->pmap, norm, nlen,
	    json_integer((json_int_t)json_array_size(g->plist))) != 0) {
		vault_wipe(norm, sizeof(norm));
		PERR(P, "record participant is not valid UTF-8");
		return -1;
	}
	snprintf(id, 24, "P%zu", json_array_size(g->plist));
	vault_wipe(norm, sizeof(norm));
	return 0;
}

/* Attachment file name inside rsmf.zip: unique, and ours only.  The
 * record's file name is content: libarchive copies an entry name into its
 * own allocations (the entry, the zip central directory) and frees them
 * unwiped, so the name goes only into the manifest's "display" (written
 * through our wiped buffers); the RSMF 2.0 schema keys an attachment by
 * "id" (the zip entry) and shows "display". */
static void
pr_att_name(char *out, size_t cap, unsigned long long n, size_t j)
{
	snprintf(out, cap, "att%06llu-%02zu", n, j);
}

/* The on-disk name of an attachment's original file name (issue 15.3):
 * bytes outside [A-Za-z0-9._-] (path separators, blanks, controls,
 * non-ASCII) become '_', a leading '.' too, at most PR_SAFE_MAX bytes,
 * "file" when nothing is left.  Prefixed by "<control>-<n>-" it is unique
 * and never a path: `export open` renames the entry to it after the
 * production verified (it also checks the character set). */
void
pr_safe_name(char *out, const char *name, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n && o < PR_SAFE_MAX; i++) {
		unsigned char ch = (unsigned char)name[i];

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		    (ch == '.' && o > 0))
			out[o++] = (char)ch;
		else
			out[o++] = '_';
	}
	if (o == 0) {
		memcpy(out, "file", 4);
		o = 4;
	}
	out[o] = '\0';
}

/* Decoded size of validated, padded standard base64. */
static size_t
pr_b64_decoded_len(const char *s, size_t n)
{
	size_t pad = 0;

	if (n == 0 || n % 4 != 0)
		return 0;
	if (s[n - 1] == '=')
		pad++;
	if (s[n - 2] == '=')
		pad++;
	return n / 4 * 3 - pad;
}

/* One attachment into the zip and, as its own file, into the tar
 * (attachments/<control>-<nn>), decoded in slices (bounded memory); its
 * entry {"id","display","size"} appended to the event text, and its
 * original name, type, size, SHA-256 and file names to P->ratt (the
 * manifest, load file and transcripts). */
static int
pr_attachment(prod *P, json_t *att, size_t j, pr_text *ev)
{
	json_t *jdata = json_object_get(att, "data"), *jname, *jtype, *info;
	const char *data = json_string_value(jdata);
	size_t n = data ? json_string_length(jdata) : 0;
	size_t size = pr_b64_decoded_len(data, n), off, slice, out;
	char zname[48], entry[64], file[64 + PR_SAFE_MAX + 1];
	char safe[PR_SAFE_MAX + 1], shex[65];
	unsigned char sh[32];
	unsigned int mdlen = 0;
	EVP_MD_CTX *sha = NULL;
	int rc = -1;

	if (data == NULL || n % 4 != 0) {
		PERR(P, "record attachment %zu is not base64", j);
		return -1;
	}
	memset(safe, 0, sizeof(safe));
	memset(file, 0, sizeof(file));
	jname = json_object_get(att, "name");
	jtype = json_object_get(att, "type");
	P->g.attachments++;
	P->res.attachments++;
	pr_att_name(zname, sizeof(zname), P->g.attachments, j);
	snprintf(entry, sizeof(entry), "attachments/%s-%02zu", P->control, j + 1);
	if (json_is_string(jname))
		pr_safe_name(safe, json_string_value(jname), json_string_length(jname));
	else
		pr_safe_name(safe, "", 0);
	snprintf(file, sizeof(file), "%s-%s", entry, safe);
	if ((sha = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(sha, EVP_sha256(), NULL) != 1) {
		PERR(P, "SHA-256 failed");
		goto out;
	}
	if (zip_entry(P, zname, size, 1) != 0 || tar_entry(P, entry, size, 0) != 0)
		goto out;
	for (off = 0; off < n; off += slice) {
		int got;

		slice = n - off < P->att_cap / 3 * 4 ? n - off : P->att_cap / 3 * 4;
		got = EVP_DecodeBlock(P->att, (const unsigned char *)data + off,
		    (int)slice);
		if (got < 0) {
			vault_wipe(P->att, P->att_cap);
			PERR(P, "record attachment %zu is not base64", j);
			return -1;
		}
		out = (size_t)got;
		if (off + slice == n)
			out = size - (off / 4 * 3);     /* drop the padding bytes */
		if (zip_put(P, P->att, out) != 0 || tar_put(P, P->att, out) != 0 ||
		    EVP_DigestUpdate(sha, P->att, out) != 1) {
			vault_wipe(P->att, P->att_cap);
			goto out;
		}
		vault_wipe(P->att, out);
	}
	if (pr_file_end(P) != 0)
		goto out;
	if (EVP_DigestFinal_ex(sha, sh, &mdlen) != 1 || mdlen != 32) {
		PERR(P, "SHA-256 failed");
		goto out;
	}
	util_hex(shex, sh, sizeof(sh));
	info = json_pack("{s:I,s:O*,s:O*,s:I,s:s,s:s,s:s}",
	    "n", (json_int_t)(j + 1),
	    "name", json_is_string(jname) ? jname : NULL,
	    "content_type", json_is_string(jtype) ? jtype : NULL,
	    "size", (json_int_t)size, "sha256", shex, "entry", entry,
	    "file", file);
	if (info == NULL || json_array_append_new(P->ratt, info) != 0) {
		PERR(P, "out of memory");
		goto out;
	}
	if (tx_str(P, ev, j > 0 ? ",{\"id\":\"" : "{\"id\":\"") != 0 ||
	    tx_str(P, ev, zname) != 0 || tx_str(P, ev, "\"") != 0)
		goto out;
	if (json_is_string(jname) && (tx_str(P, ev, ",\"display\":") != 0 ||
	    tx_json(P, ev, jname) != 0))
		goto out;
	if (tx_str(P, ev, ",\"size\":") != 0 || tx_u64(P, ev, size) != 0 ||
	    tx_str(P, ev, "}") != 0)
		goto out;
	rc = 0;
out:
	/* the safe name derives from the record's file name: content */
	vault_wipe(safe, sizeof(safe));
	vault_wipe(file, sizeof(file));
	EVP_MD_CTX_free(sha);
	return rc;
}

/* {"name":NAME,"value":<record value>} when the value is a non-empty
 * string (the schema wants 1+ characters). */
static int
pr_custom(prod *P, pr_text *ev, int *first, const char *name, const json_t *v)
{
	if (!json_is_string(v) || json_string_length(v) == 0)
		return 0;
	if (tx_str(P, ev, *first ? "{\"name\":\"" : ",{\"name\":\"") != 0 ||
	    tx_str(P, ev, name) != 0 || tx_str(P, ev, "\",\"value\":") != 0 ||
	    tx_json(P, ev, v) != 0 || tx_str(P, ev, "}") != 0)
		return -1;
	*first = 0;
	return 0;
}

/* One record as an RSMF event of the current group. */
int
pr_event(prod *P, json_t *rec, const char *event_id, const char *receipt,
    long long sent_us)
{
	pr_group *g = &P->g;
	pr_text *ev = &P->evtext;
	json_t *atts, *v, *recips, *body;
	char pid[24], ts[PR_TIME_MAX];
	const char *sender;
	size_t j;
	int rc = -1, first = 1;

	sender = json_string_value(json_object_get(rec, "sender"));
	if (sender == NULL) {
		PERR(P, "record %s has no sender", event_id);
		return -1;
	}
	if (pr_participant(P, sender, pid) != 0)
		return -1;
	recips = json_object_get(rec, "recipients");
	json_array_foreach(recips, j, v) {
		char rid[24];

		if (json_is_string(v) && pr_participant(P,
		    json_string_value(v), rid) != 0)
			return -1;
	}
	if (g->conv_display == NULL && json_is_string(json_object_get(rec,
	    "conversation")))
		g->conv_display = json_incref(json_object_get(rec, "conversation"));
	pr_time(ts, sent_us);

	tx_clear(ev);
	if (tx_str(P, ev, g->events > 0 ? ",{\"id\":\"" : "{\"id\":\"") != 0 ||
	    tx_str(P, ev, event_id) != 0 ||
	    tx_str(P, ev, "\",\"type\":\"message\",\"participant\":\"") != 0 ||
	    tx_str(P, ev, pid) != 0 ||
	    tx_str(P, ev, "\",\"conversation\":\"C1\",\"timestamp\":\"") != 0 ||
	    tx_str(P, ev, ts) != 0 || tx_str(P, ev, "\"") != 0)
		goto out;
	body = json_object_get(rec, "body");
	if (json_is_string(body) && (tx_str(P, ev, ",\"body\":") != 0 ||
	    tx_json(P, ev, body) != 0))
		goto out;
	atts = json_object_get(rec, "attachments");
	if (json_is_array(atts) && json_array_size(atts) > 0) {
		if (tx_str(P, ev, ",\"attachments\":[") != 0)
			goto out;
		json_array_foreach(atts, j, v)
			if (pr_attachment(P, v, j, ev) != 0)
				goto out;
		if (tx_str(P, ev, "]") != 0)
			goto out;
	}
	/* The receipt is ours (hex, digits, a uuid): no encoding needed. */
	if (tx_str(P, ev, ",\"custom\":[{\"name\":\"coffer_receipt\",\"value\":\"") != 0 ||
	    tx_str(P, ev, receipt) != 0 || tx_str(P, ev, "\"}") != 0)
		goto out;
	first = 0;
	if (pr_custom(P, ev, &first, "direction", json_object_get(rec,
	    "direction")) != 0 ||
	    pr_custom(P, ev, &first, "source_id", json_object_get(rec, "id")) != 0 ||
	    pr_custom(P, ev, &first, "device", json_object_get(rec, "device")) != 0 ||
	    tx_str(P, ev, "]}") != 0)
		goto out;
	if (spool_put(P, &P->events, ev->p, ev->len) != 0)
		goto out;
	if (g->events == 0)
		g->first_us = sent_us;
	g->last_us = sent_us;
	g->events++;
	rc = 0;
out:
	tx_clear(ev);
	return rc;
}

/* Close the current group's zip and write its .rsmf into the tar. */
int
pr_group_finish(prod *P)
{
	pr_group *g = &P->g;
	json_t *head = NULL, *conv = NULL, *parts = NULL, *ids = NULL, *v;
	char *prefix = NULL, hdr[PR_HDR_MAX], path[160], date[PR_TIME_MAX];
	char begin[PR_TIME_MAX], end[PR_TIME_MAX], d5322[PR_TIME_MAX];
	/* The base64 lines end in CRLF, so the close delimiter follows. */
	static const char trailer[] = "--" PR_BOUNDARY "--\r\n";
	size_t plen, j;
	unsigned long long msize;
	int hlen, rc = -1;

	if (!g->active)
		return 0;
	/* Manifest head: everything but the events, which are spooled. */
	parts = json_array();
	ids = json_array();
	if (parts == NULL || ids == NULL)
		goto oom;
	json_array_foreach(g->plist, j, v) {
		char pid[24];
		json_t *o;

		snprintf(pid, sizeof(pid), "P%zu", j + 1);
		o = json_pack("{s:s,s:O,s:O}", "id", pid, "display", v,
		    "account_id", v);
		if (o == NULL || json_array_append_new(parts, o) != 0 ||
		    json_array_append_new(ids, json_string(pid)) != 0)
			goto oom;
	}
	conv = json_pack("{s:s,s:O*,s:s,s:s,s:O}", "id", "C1",
	    "display", g->conv_display, "platform", g->channel,
	    "type", json_array_size(g->plist) <= 2 ? "direct" : "channel",
	    "participants", ids);
	head = json_pack("{s:s,s:O,s:[O]}", "version", "2.0.0",
	    "participants", parts, "conversations", conv);
	if (conv == NULL || head == NULL)
		goto oom;
	plen = json_dumpb(head, NULL, 0, JSON_COMPACT);
	if (plen < 2 || (prefix = malloc(plen + 16)) == NULL ||
	    json_dumpb(head, prefix, plen, JSON_COMPACT) != plen)
		goto oom;
	/* "{...}" becomes "{...,"events":[" */
	memcpy(prefix + plen - 1, ",\"events\":[", 11);
	plen += 10;
	if (spool_seal(P, &P->events) != 0)
		goto out;
	msize = plen + spool_size(&P->events) + 2;
	if (zip_entry(P, "rsmf_manifest.json", msize,
	    P->opts == NULL || !P->opts->rsmf_deflate) != 0 ||
	    zip_put(P, prefix, plen) != 0 ||
	    spool_copy(P, &P->events, zip_sink, P) != 0 ||
	    zip_put(P, "]}", 2) != 0)
		goto out;
	if (archive_write_close(g->zip) != ARCHIVE_OK) {
		zip_fail(P, "close");
		goto out;
	}
	archive_write_free(g->zip);
	g->zip = NULL;
	if (b64_finish(P, &g->b64) != 0 || spool_seal(P, &P->zipsp) != 0)
		goto out;

	/* The RFC 5322 message around it. */
	pr_time(begin, g->first_us);
	pr_time(end, g->last_us);
	pr_time_5322(d5322, g->first_us);
	hlen = snprintf(hdr, sizeof(hdr),
	    "From: Coffer <coffer@coffer.invalid>\r\n"
	    "Date: %s\r\n"
	    "Subject: Coffer production %s, conversation %06llu (%s)\r\n"
	    "MIME-Version: 1.0\r\n"
	    "X-RSMF-Version: 2.0.0\r\n"
	    "X-RSMF-Generator: " PR_GENERATOR "\r\n"
	    "X-RSMF-EventCount: %llu\r\n"
	    "X-RSMF-BeginDate: %s\r\n"
	    "X-RSMF-EndDate: %s\r\n"
	    "X-RSMF-AttachmentCount: %llu\r\n"
	    "Content-Type: multipart/mixed; boundary=\"" PR_BOUNDARY "\"\r\n"
	    "\r\n"
	    "--" PR_BOUNDARY "\r\n"
	    "Content-Type: text/plain; charset=\"us-ascii\"\r\n"
	    "\r\n"
	    "Relativity Short Message Format 2.0 file made by Coffer: %llu "
	    "events on %s from %s to %s.\r\n"
	    "\r\n"
	    "--" PR_BOUNDARY "\r\n"
	    "Content-Type: application/octet-stream; name=\"rsmf.zip\"\r\n"
	    "Content-Disposition: attachment; filename=\"rsmf.zip\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "\r\n",
	    d5322, P->mid, g->ordinal, g->channel, g->events, begin, end,
	    g->attachments, g->events, g->channel, begin, end);
	if (hlen < 0 || (size_t)hlen >= sizeof(hdr)) {
		PERR(P, "RSMF header too long");
		goto out;
	}
	if (g->day >= 0) {
		pr_date(date, g->day);
		snprintf(path, sizeof(path), "rsmf/c%06llu_%.10s.rsmf", g->ordinal,
		    date);
	} else {
		snprintf(path, sizeof(path), "rsmf/c%06llu.rsmf", g->ordinal);
	}
	if (tar_entry(P, path, (unsigned long long)hlen + spool_size(&P->zipsp) +
	    sizeof(trailer) - 1, 0) != 0 ||
	    tar_put(P, hdr, (size_t)hlen) != 0 ||
	    spool_copy(P, &P->zipsp, tar_sink, P) != 0 ||
	    tar_put(P, trailer, sizeof(trailer) - 1) != 0)
		goto out;
	P->res.rsmf_files++;
	if (spool_reset(P, &P->events) != 0 || spool_reset(P, &P->zipsp) != 0)
		goto out;
	rc = 0;
	goto out;
oom:
	PERR(P, "out of memory");
out:
	if (prefix != NULL) {
		vault_wipe(prefix, plen);
		free(prefix);
	}
	json_decref(head);
	json_decref(conv);
	json_decref(parts);
	json_decref(ids);
	pr_group_clear(P);
	return rc;
}

/* Does this record start a new group?  Opens it (closing the last). */
int
pr_group_for(prod *P, const unsigned char *conv, const char *channel,
    long long sent_us)
{
	pr_group *g = &P->g;
	/* One RSMF per conversation and UTC day (Relativity's advice; issue
	 * 15.3): every conversation is split by day. */
	long long day = pr_day(sent_us);
	int same_conv;

	same_conv = g->active && g->has_conv == (conv != NULL) &&
	    (conv == NULL || memcmp(g->conv, conv, VAULT_TOKEN_BYTES) == 0) &&
	    strcmp(g->channel, channel) == 0;
	if (same_conv && g->day == day)
		return 0;
	if (pr_group_finish(P) != 0)
		return -1;
	return pr_group_start(P, conv, channel, day, !same_conv);
}
