/* agent/import/chatdb.c — iMessage/SMS chat.db (macOS ~/Library/Messages,
 * or sms.db from an iOS backup).
 *
 * Opened as "file:<path>?mode=ro&immutable=1" (read-only, no journal, no
 * lock, nothing written beside it), with the schema untrusted
 * (SQLITE_DBCONFIG_TRUSTED_SCHEMA off, defensive mode on, no extension
 * loading): message, handle, chat, chat_message_join, chat_handle_join,
 * attachment and message_attachment_join must be tables, not views, and a
 * progress handler bounds the work any query can do.  SQLite reads the
 * file; a corrupt one is refused with SQLite's own message.
 *
 *   id            "imsg-" + hash of message.guid (globally unique)
 *   channel       message.service: iMessage -> imessage, SMS -> sms,
 *                 RCS -> rcs, anything else -> other
 *   conversation  "imessage:" + chat.guid ("iMessage;-;+15550100001",
 *                 "iMessage;+;chat123…"); a message in no chat:
 *                 "imessage:" + service ";-;" + its handle
 *   sender        the owner when is_from_me, else the message's handle
 *                 (E.164 numbers and email addresses, as Messages keeps
 *                 them, through the vault's rules)
 *   recipients    the chat's handles and the owner, but the sender
 *   sent_at       date: seconds since 2001-01-01 in older databases,
 *                 nanoseconds since macOS 10.13 (told apart by magnitude)
 *   body          text; when text is NULL, the NSString inside
 *                 attributedBody (a typedstream; imp_typedstream_text reads
 *                 only that one string, bounds-checked, and a message it
 *                 cannot read is skipped: "attributedBody not readable")
 *   attachments   attachment.filename ("~/Library/Messages/Attachments/…")
 *                 looked up beneath --media (default: the database's own
 *                 directory, which is ~/Library/Messages); the name is
 *                 transfer_name, the type mime_type
 */
#include "agent/import/import.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

#define CD_APPLE_EPOCH 978307200LL
#define CD_STEPS_MAX   200000000LL    /* VM steps per statement x 1000 */

static const char *const cd_tables[] = {
	"message", "handle", "chat", "chat_message_join", "chat_handle_join",
	"attachment", "message_attachment_join"
};

/* The NSString of an NSAttributedString typedstream:
 *   04 0b "streamtyped" ... "NSString" ... 01 (94|95) 84 01 '+' LEN BYTES
 * LEN: one byte below 0x80, or 0x81 + u16le, or 0x82 + u32le.  Only that
 * string is read; everything else (attributes, ranges) is ignored. */
int
imp_typedstream_text(const unsigned char *p, size_t len,
    const unsigned char **text, size_t *text_len)
{
	static const char hdr[] = "\x04\x0bstreamtyped";
	static const char cls[] = "NSString";
	size_t i, k, n;

	*text = NULL;
	*text_len = 0;
	if (p == NULL || len < sizeof(hdr) - 1 ||
	    memcmp(p, hdr, sizeof(hdr) - 1) != 0)
		return -1;
	for (i = sizeof(hdr) - 1; i + sizeof(cls) - 1 <= len && i < 512; i++)
		if (memcmp(p + i, cls, sizeof(cls) - 1) == 0)
			break;
	if (i + sizeof(cls) - 1 > len || i >= 512)
		return -1;
	i += sizeof(cls) - 1;
	for (k = 0; k < 16 && i + k < len; k++)
		if (p[i + k] == '+')
			break;
	if (k == 16 || i + k >= len)
		return -1;
	i += k + 1;
	if (i >= len)
		return -1;
	if (p[i] < 0x80) {
		n = p[i];
		i += 1;
	} else if (p[i] == 0x81) {
		if (i + 3 > len)
			return -1;
		n = (size_t)p[i + 1] | (size_t)p[i + 2] << 8;
		i += 3;
	} else if (p[i] == 0x82) {
		if (i + 5 > len)
			return -1;
		n = (size_t)p[i + 1] | (size_t)p[i + 2] << 8 |
		    (size_t)p[i + 3] << 16 | (size_t)p[i + 4] << 24;
		i += 5;
	} else
		return -1;
	if (n > len - i)
		return -1;
	*text = p + i;
	*text_len = n;
	return 0;
}

static int
cd_progress(void *arg)
{
	long long *steps = arg;

	return ++*steps > CD_STEPS_MAX / 1000;
}

/* "file:" URI of a path: everything but unreserved bytes and '/'
 * percent-encoded. */
static int
cd_uri(const char *path, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0, i;

	o = (size_t)snprintf(out, cap, "file:");
	for (i = 0; path[i] != '\0'; i++) {
		unsigned char ch = (unsigned char)path[i];

		if (o + 4 >= cap)
			return -1;
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '/' || ch == '-' ||
		    ch == '_' || ch == '.' || ch == '~') {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	if (o + 32 >= cap)
		return -1;
	snprintf(out + o, cap - o, "?mode=ro&immutable=1");
	return 0;
}

static int
cd_has_column(sqlite3 *db, const char *table, const char *col)
{
	sqlite3_stmt *st;
	char q[128];
	int found = 0;

	snprintf(q, sizeof(q), "SELECT name FROM pragma_table_info('%s')", table);
	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
		return 0;
	while (sqlite3_step(st) == SQLITE_ROW)
		if (sqlite3_column_text(st, 0) != NULL &&
		    strcmp((const char *)sqlite3_column_text(st, 0), col) == 0)
			found = 1;
	sqlite3_finalize(st);
	return found;
}

static const char *
cd_channel(const char *svc)
{
	if (svc == NULL)
		return "imessage";
	if (strcmp(svc, "iMessage") == 0)
		return "imessage";
	if (strcmp(svc, "SMS") == 0)
		return "sms";
	if (strcmp(svc, "RCS") == 0)
		return "rcs";
	return "other";
}

/* Participants of chat chat_id (its handles, normalised) into ps. */
static int
cd_chat_handles(imp_ctx *c, sqlite3_stmt *hs, long long chat_id, imp_pset *ps,
    long long *steps, const char *ref)
{
	char part[IMP_PART_MAX];
	int r;

	sqlite3_reset(hs);
	sqlite3_bind_int64(hs, 1, chat_id);
	*steps = 0;
	while ((r = sqlite3_step(hs)) == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(hs, 0);

		if (h == NULL || strlen(h) > 300)
			continue;
		if (imp_participant(c, h, strlen(h), part) != 0) {
			imp_warn(c, "chat handle not a number or address (left out)",
			    ref);
			continue;
		}
		if (imp_pset_add(ps, part) != 0)
			return -1;
	}
	return r == SQLITE_DONE ? 0 : -2;
}

/* attachment.filename -> a path beneath the Messages directory */
static const char *
cd_rel(const char *fn)
{
	static const char *const roots[] = { "Library/Messages/", "Library/SMS/" };
	const char *p;
	size_t i;

	if (strncmp(fn, "~/", 2) == 0)
		fn += 2;
	for (i = 0; i < 2; i++)
		if ((p = strstr(fn, roots[i])) != NULL)
			return p + strlen(roots[i]);
	return fn;
}

static int
cd_atts(imp_ctx *c, sqlite3_stmt *as, long long mid, imp_media *media,
    imp_att *atts, size_t *natt, long long *steps, const char *ref)
{
	int r, ar;

	*natt = 0;
	*steps = 0;
	sqlite3_reset(as);
	sqlite3_bind_int64(as, 1, mid);
	while ((r = sqlite3_step(as)) == SQLITE_ROW) {
		const char *fn = (const char *)sqlite3_column_text(as, 0);
		const char *mt = (const char *)sqlite3_column_text(as, 1);
		const char *tn = (const char *)sqlite3_column_text(as, 2);
		imp_att *a = &atts[*natt];

		if (*natt >= 256) {
			imp_warn(c, "more than 256 attachments (the rest dropped)", ref);
			break;
		}
		if (mt != NULL && (strlen(mt) > 100 || strchr(mt, '/') == NULL))
			mt = NULL;
		if (fn == NULL || fn[0] == '\0') {
			ar = imp_attach_bytes(a, tn != NULL && tn[0] &&
			    strchr(tn, '/') == NULL ? tn : "attachment", mt, NULL, 0);
			imp_warn(c, "media missing (attachment without data)", ref);
		} else {
			ar = imp_attach(c, media, NULL, cd_rel(fn), mt, a, ref);
			if (ar == 0 && tn != NULL && tn[0] != '\0' &&
			    strchr(tn, '/') == NULL && strlen(tn) <= 255) {
				char *nn = strdup(tn);

				if (nn == NULL) {
					imp_att_clear(a);
					return -1;
				}
				free(a->name);
				a->name = nn;
				if (mt == NULL)
					a->type = imp_mime_of(tn);
			}
		}
		if (ar < 0)
			return -1;
		/* the row's strings die at the next step: the type is copied */
		if (ar == 0 && mt != NULL && imp_att_set_type(a, mt) != 0) {
			imp_att_clear(a);
			return -1;
		}
		if (ar == 0)
			(*natt)++;
	}
	return r == SQLITE_DONE || r == SQLITE_ROW ? 0 : -2;
}

int
imp_chatdb_file(imp_ctx *c, const char *path, imp_media *media, char *err,
    size_t err_len)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *ms = NULL, *hs = NULL, *as = NULL, *ts = NULL;
	imp_media *own = NULL;
	char uri[8192], q[1024], ref[48], id[80], conv[1100], lm[128];
	long long steps = 0, last_mid = 0;
	int has_ab, r, rc = -1, ok, any = 0;
	size_t i;
	imp_att atts[257];

	if (cd_uri(path, uri, sizeof(uri)) != 0) {
		snprintf(err, err_len, "chat.db path too long");
		return -1;
	}
	if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI |
	    SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE, NULL) != SQLITE_OK) {
		snprintf(err, err_len, "%.200s: cannot open: %s", path,
		    imp_lib_msg(db ? sqlite3_errmsg(db) : "out of memory", lm,
		    sizeof(lm)));
		goto done;
	}
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, (int *)NULL);
	sqlite3_limit(db, SQLITE_LIMIT_LENGTH, (int)(imp_opts_of(c)->lim.media_max +
	    imp_opts_of(c)->lim.body_max + 1024 < 0x7fffffff ?
	    imp_opts_of(c)->lim.media_max + imp_opts_of(c)->lim.body_max + 1024 :
	    0x7fffffff));
	sqlite3_progress_handler(db, 1000, cd_progress, &steps);
	/* the seven tables, as tables */
	if (sqlite3_prepare_v2(db, "SELECT type FROM sqlite_master WHERE name = ?1",
	    -1, &ts, NULL) != SQLITE_OK) {
		snprintf(err, err_len, "%.200s: not an SQLite database: %s", path,
		    imp_lib_msg(sqlite3_errmsg(db), lm, sizeof(lm)));
		goto done;
	}
	for (i = 0; i < sizeof(cd_tables) / sizeof(cd_tables[0]); i++) {
		sqlite3_reset(ts);
		sqlite3_bind_text(ts, 1, cd_tables[i], -1, SQLITE_STATIC);
		r = sqlite3_step(ts);
		if (r == SQLITE_ROW && sqlite3_column_text(ts, 0) != NULL &&
		    strcmp((const char *)sqlite3_column_text(ts, 0), "table") == 0)
			continue;
		if (r == SQLITE_ROW || r == SQLITE_DONE)
			snprintf(err, err_len, "%.200s: not an iMessage chat.db (no "
			    "table %s)", path, cd_tables[i]);
		else
			snprintf(err, err_len, "%.200s: not an SQLite database: %s",
			    path, imp_lib_msg(sqlite3_errmsg(db), lm, sizeof(lm)));
		goto done;
	}
	has_ab = cd_has_column(db, "message", "attributedBody");
	snprintf(q, sizeof(q),
	    "SELECT m.ROWID, m.guid, m.text, %s, m.service, m.date, m.is_from_me,"
	    " h.id, cmj.chat_id, ch.guid"
	    " FROM message m"
	    " LEFT JOIN handle h ON h.ROWID = m.handle_id"
	    " LEFT JOIN chat_message_join cmj ON cmj.message_id = m.ROWID"
	    " LEFT JOIN chat ch ON ch.ROWID = cmj.chat_id"
	    " ORDER BY m.date, m.ROWID, cmj.chat_id", has_ab ? "m.attributedBody" : "NULL");
	if (sqlite3_prepare_v2(db, q, -1, &ms, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT h.id FROM chat_handle_join chj"
	    " JOIN handle h ON h.ROWID = chj.handle_id WHERE chj.chat_id = ?1"
	    " ORDER BY h.ROWID", -1, &hs, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT a.filename, a.mime_type, a.transfer_name"
	    " FROM message_attachment_join maj JOIN attachment a"
	    " ON a.ROWID = maj.attachment_id WHERE maj.message_id = ?1"
	    " ORDER BY a.ROWID", -1, &as, NULL) != SQLITE_OK) {
		snprintf(err, err_len, "%.200s: not an iMessage chat.db: %s", path,
		    imp_lib_msg(sqlite3_errmsg(db), lm, sizeof(lm)));
		goto done;
	}
	if (media == NULL) {
		char dir[4096];

		snprintf(dir, sizeof(dir), "%s", path);
		if (strrchr(dir, '/') != NULL)
			*strrchr(dir, '/') = '\0';
		else
			snprintf(dir, sizeof(dir), ".");
		if (imp_media_dir(&own, dir, err, err_len) != 0)
			goto done;
		media = own;
	}
	/* the work bound is per step of a statement: a big honest database
	 * passes, a schema made to loop does not */
	while ((steps = 0, r = sqlite3_step(ms)) == SQLITE_ROW) {
		long long mid = sqlite3_column_int64(ms, 0);
		const char *guid = (const char *)sqlite3_column_text(ms, 1);
		const char *text = (const char *)sqlite3_column_text(ms, 2);
		size_t tlen = (size_t)sqlite3_column_bytes(ms, 2);
		const char *svc = (const char *)sqlite3_column_text(ms, 4);
		long long date = sqlite3_column_int64(ms, 5);
		int from_me = sqlite3_column_int(ms, 6) != 0;
		const char *hid = (const char *)sqlite3_column_text(ms, 7);
		int in_chat = sqlite3_column_type(ms, 8) != SQLITE_NULL;
		long long chat_id = sqlite3_column_int64(ms, 8);
		const char *cguid = (const char *)sqlite3_column_text(ms, 9);
		char sender[IMP_PART_MAX];
		imp_pset ps = { NULL, 0, 0 };
		const char **rcp = NULL;
		size_t nrcp = 0, natt = 0, k;
		imp_msg im;

		snprintf(ref, sizeof(ref), "message %lld", mid);
		/* a message joined to two chats comes twice, side by side: the
		 * first chat (lowest id) keeps it */
		if (any && mid == last_mid) {
			imp_warn(c, "message in more than one chat (the first kept)",
			    ref);
			continue;
		}
		any = 1;
		last_mid = mid;
		if (imp_count_message(c, err, err_len) != 0)
			goto done;
		if (guid == NULL || guid[0] == '\0' || strlen(guid) > 200) {
			imp_skip(c, "message without a guid", ref);
			continue;
		}
		if (text == NULL && has_ab &&
		    sqlite3_column_type(ms, 3) != SQLITE_NULL) {
			const unsigned char *t;

			if (imp_typedstream_text(sqlite3_column_blob(ms, 3),
			    (size_t)sqlite3_column_bytes(ms, 3), &t, &tlen) != 0) {
				imp_skip(c, "attributedBody not readable", ref);
				continue;
			}
			text = (const char *)t;
		}
		if (text != NULL && memchr(text, '\0', tlen) != NULL) {
			imp_skip(c, "invalid UTF-8 or NUL in a field", ref);
			continue;
		}
		memset(&im, 0, sizeof(im));
		/* nanoseconds past ~1e11 (3170 years of seconds) */
		if (date > 100000000000LL || date < -100000000000LL)
			im.sent_at_us = date / 1000 + CD_APPLE_EPOCH * 1000000LL;
		else
			im.sent_at_us = (date + CD_APPLE_EPOCH) * 1000000LL;
		if (imp_pset_add(&ps, imp_owner(c)) != 0)
			goto oom_msg;
		if (in_chat) {
			ok = cd_chat_handles(c, hs, chat_id, &ps, &steps, ref);
			if (ok == -1)
				goto oom_msg;
			if (ok == -2)
				goto sql_msg;
		}
		if (from_me) {
			snprintf(sender, sizeof(sender), "%s", imp_owner(c));
		} else if (hid == NULL || strlen(hid) > 300 ||
		    imp_participant(c, hid, strlen(hid), sender) != 0) {
			imp_skip(c, "message without a usable handle", ref);
			imp_pset_free(&ps);
			continue;
		}
		if (imp_pset_add(&ps, sender) != 0)
			goto oom_msg;
		if (!from_me || !in_chat) {
			char peer[IMP_PART_MAX];

			if (hid != NULL && strlen(hid) <= 300 &&
			    imp_participant(c, hid, strlen(hid), peer) == 0 &&
			    imp_pset_add(&ps, peer) != 0)
				goto oom_msg;
		}
		if (imp_opts_of(c)->conversation != NULL)
			snprintf(conv, sizeof(conv), "%s", imp_opts_of(c)->conversation);
		else if (cguid != NULL && cguid[0] != '\0')
			snprintf(conv, sizeof(conv), "imessage:%.1000s", cguid);
		else
			snprintf(conv, sizeof(conv), "imessage:%.20s;-;%.300s",
			    svc ? svc : "iMessage", hid ? hid : "unknown");
		ok = cd_atts(c, as, mid, media, atts, &natt, &steps, ref);
		if (ok == -1)
			goto oom_msg;
		if (ok == -2)
			goto sql_msg;
		if ((text == NULL || tlen == 0) && natt == 0) {
			imp_skip(c, "no text and no attachment (a status item)", ref);
			imp_pset_free(&ps);
			continue;
		}
		if (imp_recipients(c, &ps, sender, &rcp, &nrcp) != 0)
			goto oom_msg;
		imp_id(c, "imsg", "chatdb", 0, NULL, guid, id);
		im.channel = cd_channel(svc);
		im.conversation = conv;
		im.sender = sender;
		im.recipients = rcp;
		im.n_recipients = nrcp;
		im.body = text != NULL ? text : "";
		im.body_len = text != NULL ? tlen : 0;
		im.atts = atts;
		im.n_atts = natt;
		ok = imp_emit(c, &im, id, ref, err, err_len);
		free(rcp);
		for (k = 0; k < natt; k++)
			imp_att_clear(&atts[k]);
		imp_pset_free(&ps);
		if (ok != 0)
			goto done;
		continue;
oom_msg:
		for (k = 0; k < natt; k++)
			imp_att_clear(&atts[k]);
		imp_pset_free(&ps);
		snprintf(err, err_len, "out of memory");
		goto done;
sql_msg:
		for (k = 0; k < natt; k++)
			imp_att_clear(&atts[k]);
		imp_pset_free(&ps);
		snprintf(err, err_len, "%s: %s", ref,
		    imp_lib_msg(sqlite3_errmsg(db), lm, sizeof(lm)));
		goto done;
	}
	if (r != SQLITE_DONE) {
		if (steps > CD_STEPS_MAX / 1000)
			snprintf(err, err_len, "%.200s: query over its work bound "
			    "(hostile schema?)", path);
		else
			snprintf(err, err_len, "%.200s: %s", path,
			    imp_lib_msg(sqlite3_errmsg(db), lm, sizeof(lm)));
		goto done;
	}
	rc = 0;
done:
	sqlite3_finalize(ts);
	sqlite3_finalize(ms);
	sqlite3_finalize(hs);
	sqlite3_finalize(as);
	sqlite3_close_v2(db);
	imp_media_free(&own);
	return rc;
}
