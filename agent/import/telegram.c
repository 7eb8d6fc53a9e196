/* agent/import/telegram.c — Telegram Desktop "Export chat history" /
 * "Export Telegram data" in JSON (result.json).
 *
 * One chat ({"name", "type", "id", "messages": [...]}) or a whole account
 * ({"chats": {"list": [chat...]}, "left_chats": {"list": [...]}}).  Each
 * message of type "message" is a record; "service" ones (joins, pins,
 * calls, group creation) are skipped and counted.
 *
 *   conversation  "telegram:<chat id>" (or --conversation)
 *   id            "tg-" + hash of the conversation and the message id
 *   sender        from_id ("user123456") through --contacts (by from_id,
 *                 then by the display name "from"), else "@user123456"
 *   recipients    everyone who speaks in the chat, the peer of a personal
 *                 chat and the owner, but the sender
 *   sent_at       date_unixtime; "date" (local, --tz) when it is absent
 *   body          text, a string or an array of strings and entities
 *                 ({"type": "link", "text": "…"}), concatenated; a reply,
 *                 a forward and an edit are noted in lines before it:
 *                   [reply to tg-<id of the message replied to>]
 *                   [forwarded from <name as exported>]
 *                   [edited <RFC 3339 time>]
 *                 (the gateway's line has no fields for them; the body is
 *                 sealed, so the name is as safe there as the text)
 *   attachments   "photo" and "file" (relative paths beneath result.json's
 *                 directory; mime_type when given); "(File not included…)"
 *                 or an absent file is an attachment without data.
 *
 * jansson parses (bounded depth, duplicate keys rejected); sizes and
 * counts are bounded; parse errors name the line and column only.
 */
#include "agent/import/import.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

static const char *
tg_str(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* text: string, or array of strings and {"text": ...} objects */
static char *
tg_text(json_t *t, size_t max, size_t *len)
{
	size_t i, n = 0, cap = 256;
	char *b = malloc(cap);
	json_t *e;

	*len = 0;
	if (b == NULL)
		return NULL;
	b[0] = '\0';
	if (json_is_string(t)) {
		free(b);
		b = strndup(json_string_value(t), json_string_length(t));
		if (b != NULL)
			*len = json_string_length(t);
		return b;
	}
	if (!json_is_array(t))
		return b;
	json_array_foreach(t, i, e) {
		const char *s = NULL;
		size_t l = 0;

		if (json_is_string(e)) {
			s = json_string_value(e);
			l = json_string_length(e);
		} else if (json_is_object(e) &&
		    json_is_string(json_object_get(e, "text"))) {
			s = json_string_value(json_object_get(e, "text"));
			l = json_string_length(json_object_get(e, "text"));
		}
		if (s == NULL)
			continue;
		if (n + l > max + 1)
			l = max + 1 - n;     /* over the bound: the caller skips it */
		if (n + l + 1 > cap) {
			char *nb;

			while (n + l + 1 > cap)
				cap *= 2;
			if ((nb = realloc(b, cap)) == NULL) {
				free(b);
				return NULL;
			}
			b = nb;
		}
		memcpy(b + n, s, l);
		n += l;
		b[n] = '\0';
	}
	*len = n;
	return b;
}

static int
tg_sender(imp_ctx *c, json_t *m, char out[IMP_PART_MAX])
{
	const char *fid = tg_str(m, "from_id"), *from = tg_str(m, "from");
	char h[300];

	if (fid != NULL && imp_contact_lookup(c, fid, strlen(fid), out) == 0)
		return 0;
	if (from != NULL && imp_contact_lookup(c, from, strlen(from), out) == 0)
		return 0;
	if (fid == NULL || fid[0] == '\0' || strlen(fid) > 200)
		return -1;
	snprintf(h, sizeof(h), "@%s", fid);
	return imp_participant(c, h, strlen(h), out);
}

static int
tg_time(imp_ctx *c, json_t *m, const char *ukey, const char *lkey,
    long long *prev, long long *us, const char *ref)
{
	const char *u = tg_str(m, ukey), *l = tg_str(m, lkey);
	int y, mo, d, h, mi, s, n = 0;

	if (u != NULL && u[0] != '\0' && strlen(u) <= 12 &&
	    strspn(u, "0123456789") == strlen(u)) {
		*us = strtoll(u, NULL, 10) * 1000000LL;
		return 0;
	}
	if (l != NULL && sscanf(l, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h,
	    &mi, &s, &n) == 6 && (size_t)n == strlen(l))
		return imp_local_time(c, y, mo, d, h, mi, s, prev, us, ref);
	return -1;
}

static void
tg_fmt_time(long long us, char out[32])
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int
tg_chat(imp_ctx *c, json_t *chat, size_t chat_no, imp_media *media,
    char *err, size_t err_len)
{
	json_t *msgs = json_object_get(chat, "messages"), *m, *idv;
	char conv[1100], ref[48], id[80], part[IMP_PART_MAX];
	imp_pset ps = { NULL, 0, 0 };
	long long prev = 0;
	size_t i;
	int rc = -1;

	if (!json_is_array(msgs)) {
		snprintf(ref, sizeof(ref), "chat %zu", chat_no);
		imp_skip(c, "chat without a messages array", ref);
		return 0;
	}
	idv = json_object_get(chat, "id");
	if (imp_opts_of(c)->conversation != NULL)
		snprintf(conv, sizeof(conv), "%s", imp_opts_of(c)->conversation);
	else if (json_is_integer(idv))
		snprintf(conv, sizeof(conv), "telegram:%lld",
		    (long long)json_integer_value(idv));
	else {
		snprintf(ref, sizeof(ref), "chat %zu", chat_no);
		imp_skip(c, "chat without a numeric id", ref);
		return 0;
	}
	if (imp_pset_add(&ps, imp_owner(c)) != 0)
		goto oom;
	/* the peer of a personal chat, then everyone who speaks */
	if (json_is_integer(idv) && tg_str(chat, "type") != NULL &&
	    strcmp(tg_str(chat, "type"), "personal_chat") == 0) {
		const char *nm = tg_str(chat, "name");
		char uid[40];

		/* as tg_sender: by from_id, by the name, else @user<id> */
		snprintf(uid, sizeof(uid), "user%lld",
		    (long long)json_integer_value(idv));
		if (imp_contact_lookup(c, uid, strlen(uid), part) != 0 &&
		    (nm == NULL || imp_contact_lookup(c, nm, strlen(nm), part) != 0)) {
			snprintf(uid, sizeof(uid), "@user%lld",
			    (long long)json_integer_value(idv));
			if (imp_participant(c, uid, strlen(uid), part) != 0)
				part[0] = '\0';
		}
		if (part[0] != '\0' && imp_pset_add(&ps, part) != 0)
			goto oom;
	}
	json_array_foreach(msgs, i, m) {
		if (json_is_object(m) && tg_str(m, "type") != NULL &&
		    strcmp(tg_str(m, "type"), "message") == 0 &&
		    tg_sender(c, m, part) == 0 && imp_pset_add(&ps, part) != 0)
			goto oom;
	}
	json_array_foreach(msgs, i, m) {
		json_t *mid = json_object_get(m, "id"), *rt;
		const char *type, *fwd, *photo, *file;
		char native[32], pre[400], sender[IMP_PART_MAX];
		char *text = NULL, *body = NULL;
		size_t tlen = 0, plen = 0;
		imp_att atts[2];
		size_t natt = 0, k;
		const char **rcp = NULL;
		size_t nrcp = 0;
		imp_msg im;
		int ar;

		if (imp_count_message(c, err, err_len) != 0)
			goto done;
		if (json_is_integer(mid))
			snprintf(ref, sizeof(ref), "chat %zu message %lld", chat_no,
			    (long long)json_integer_value(mid));
		else
			snprintf(ref, sizeof(ref), "chat %zu index %zu", chat_no, i);
		if (!json_is_object(m) || !json_is_integer(mid)) {
			imp_skip(c, "message without a numeric id", ref);
			continue;
		}
		type = tg_str(m, "type");
		if (type == NULL || strcmp(type, "message") != 0) {
			imp_skip(c, "service message", ref);
			continue;
		}
		if (tg_sender(c, m, sender) != 0) {
			imp_skip(c, "message without a usable from_id", ref);
			continue;
		}
		memset(&im, 0, sizeof(im));
		if (tg_time(c, m, "date_unixtime", "date", &prev, &im.sent_at_us,
		    ref) != 0) {
			imp_skip(c, "message without a valid date", ref);
			continue;
		}
		if ((text = tg_text(json_object_get(m, "text"),
		    imp_opts_of(c)->lim.body_max, &tlen)) == NULL)
			goto oom;
		/* reply, forward, edit: lines before the text */
		pre[0] = '\0';
		rt = json_object_get(m, "reply_to_message_id");
		if (json_is_integer(rt)) {
			char rid[80], rn[32];

			snprintf(rn, sizeof(rn), "%lld", (long long)json_integer_value(rt));
			imp_id(c, "tg", conv, 0, NULL, rn, rid);
			plen += (size_t)snprintf(pre + plen, sizeof(pre) - plen,
			    "[reply to %s]\n", rid);
		}
		if ((fwd = tg_str(m, "forwarded_from")) != NULL)
			plen += (size_t)snprintf(pre + plen, sizeof(pre) - plen,
			    "[forwarded from %.200s]\n", fwd);
		if (json_object_get(m, "edited") != NULL) {
			long long eus = 0;
			char when[32];

			if (tg_time(c, m, "edited_unixtime", "edited", NULL, &eus,
			    ref) == 0) {
				tg_fmt_time(eus, when);
				plen += (size_t)snprintf(pre + plen, sizeof(pre) - plen,
				    "[edited %s]\n", when);
			}
		}
		if (plen >= sizeof(pre))
			plen = sizeof(pre) - 1;
		if ((body = malloc(plen + tlen + 1)) == NULL) {
			free(text);
			goto oom;
		}
		memcpy(body, pre, plen);
		memcpy(body + plen, text, tlen + 1);
		free(text);
		text = NULL;
		/* media */
		photo = tg_str(m, "photo");
		file = tg_str(m, "file");
		for (k = 0; k < 2; k++) {
			const char *p = k == 0 ? photo : file;
			const char *mt = k == 1 ? tg_str(m, "mime_type") : NULL;

			if (p == NULL)
				continue;
			if (strncmp(p, "(File not included", 18) == 0) {
				const char *fn = tg_str(m, "file_name");

				imp_warn(c, "media not included in the export (attachment "
				    "without data)", ref);
				ar = imp_attach_bytes(&atts[natt], fn != NULL && fn[0] &&
				    strchr(fn, '/') == NULL ? fn : (k == 0 ? "photo.jpg" :
				    "file"), mt, NULL, 0);
				if (ar != 0)
					goto att_oom;
				natt++;
				continue;
			}
			if (mt != NULL && (strlen(mt) > 100 || strchr(mt, '/') == NULL))
				mt = NULL;
			ar = imp_attach(c, media, NULL, p, mt, &atts[natt], ref);
			if (ar < 0)
				goto att_oom;
			if (ar == 0)
				natt++;
		}
		if (imp_recipients(c, &ps, sender, &rcp, &nrcp) != 0)
			goto att_oom;
		snprintf(native, sizeof(native), "%lld",
		    (long long)json_integer_value(mid));
		imp_id(c, "tg", conv, 0, NULL, native, id);
		im.channel = "telegram";
		im.conversation = conv;
		im.sender = sender;
		im.recipients = rcp;
		im.n_recipients = nrcp;
		im.body = body;
		im.body_len = plen + tlen;
		im.atts = atts;
		im.n_atts = natt;
		rc = imp_emit(c, &im, id, ref, err, err_len);
		free(rcp);
		for (k = 0; k < natt; k++)
			imp_att_clear(&atts[k]);
		sodium_memzero(body, plen + tlen);
		free(body);
		if (rc != 0)
			goto done;
		rc = -1;
		continue;
att_oom:
		for (k = 0; k < natt; k++)
			imp_att_clear(&atts[k]);
		free(body);
		goto oom;
	}
	rc = 0;
	goto done;
oom:
	snprintf(err, err_len, "out of memory");
done:
	imp_pset_free(&ps);
	return rc;
}

int
imp_telegram(imp_ctx *c, const char *json, size_t len, imp_media *media,
    char *err, size_t err_len)
{
	json_error_t je;
	json_t *root, *chats, *list, *chat;
	size_t i, n = 0;
	int rc = -1, k;

	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		snprintf(err, err_len, "line %d column %d: not valid JSON",
		    je.line, je.column);
		return -1;
	}
	if (!json_is_object(root)) {
		snprintf(err, err_len, "not a Telegram Desktop export (the top level "
		    "is not an object)");
		goto done;
	}
	if (json_is_array(json_object_get(root, "messages"))) {
		rc = tg_chat(c, root, 1, media, err, err_len);
		goto done;
	}
	chats = json_object_get(root, "chats");
	if (!json_is_object(chats) ||
	    !json_is_array(json_object_get(chats, "list"))) {
		snprintf(err, err_len, "not a Telegram Desktop export (no "
		    "\"messages\" or \"chats\".\"list\")");
		goto done;
	}
	for (k = 0; k < 2; k++) {
		chats = json_object_get(root, k == 0 ? "chats" : "left_chats");
		list = json_is_object(chats) ? json_object_get(chats, "list") : NULL;
		if (!json_is_array(list))
			continue;
		json_array_foreach(list, i, chat) {
			n++;
			if (!json_is_object(chat)) {
				char ref[48];

				snprintf(ref, sizeof(ref), "chat %zu", n);
				imp_skip(c, "chat not an object", ref);
				continue;
			}
			if (tg_chat(c, chat, n, media, err, err_len) != 0)
				goto done;
		}
	}
	rc = 0;
done:
	json_decref(root);
	return rc;
}

int
imp_telegram_file(imp_ctx *c, const char *path, char *err, size_t err_len)
{
	unsigned char *buf = NULL;
	imp_media *media = NULL;
	char dir[4096];
	size_t len = 0;
	int rc = -1;

	if (imp_read_file(path, imp_opts_of(c)->lim.input_max, &buf, &len, err,
	    err_len) != 0)
		return -1;
	snprintf(dir, sizeof(dir), "%s", path);
	if (strrchr(dir, '/') != NULL)
		*strrchr(dir, '/') = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	if (imp_media_dir(&media, dir, err, err_len) == 0)
		rc = imp_telegram(c, (const char *)buf, len, media, err, err_len);
	imp_media_free(&media);
	sodium_memzero(buf, len);
	free(buf);
	return rc;
}
