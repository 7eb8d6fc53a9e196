/* agent/import/rsmf.c — RSMF 2.0 (Relativity Short Message Format).
 *
 * An .rsmf file is an RFC 5322 message whose attachment rsmf.zip holds
 * rsmf_manifest.json and the files its events name.  GMime parses the
 * message (at most 32 multipart levels: counted before GMime sees it, so
 * its recursion stays bounded), libarchive the zip, jansson the manifest.
 * Also accepted: a bare rsmf.zip, a manifest .json (no attachment data),
 * or a directory of those (its entries in name order, not recursive).
 *
 *   events        of type "message"; the others (join, leave, disclaimer,
 *                 history, unknown) are skipped and counted
 *   conversation  "rsmf:<platform>:<conversation id>" (or --conversation)
 *   id            "rsmf-" + hash of the conversation and the event id
 *                 (events without one: of timestamp, participant, ordinal)
 *   sender and    each manifest participant, by the first that works of:
 *   recipients    a "phone" custom field, email, account_id ("+…", "@…",
 *                 else "<platform>:<account_id>"), --contacts by display
 *                 name; recipients are the conversation's participants
 *                 and the owner, but the sender
 *   sent_at       timestamp: with "Z" or an offset as it says; without
 *                 one, local time under --tz
 *   body          body; "[reply to rsmf-<id>]" before it when the event
 *                 has a parent, "[deleted]" when deleted is true
 *   attachments   by reference: attachments[].id is the file in rsmf.zip,
 *                 display its name; absent from the zip: without data
 */
#include "agent/import/import.h"

#include <ctype.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <gmime/gmime.h>
#include <jansson.h>
#include <sodium.h>

#include "gateway/record.h"

#define RS_MULTIPART_MAX 32U
#define RS_DIR_MAX       10000U

typedef struct rs_part {
	const char *id;
	char        p[IMP_PART_MAX];
	int         ok;
} rs_part;

static const char *
rs_str(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int
rs_map(imp_ctx *c, json_t *p, const char *platform, char out[IMP_PART_MAX])
{
	json_t *cu = json_object_get(p, "custom"), *e;
	const char *v;
	char h[400];
	size_t i;

	json_array_foreach(cu, i, e) {
		const char *n = rs_str(e, "name"), *val = rs_str(e, "value");

		if (n != NULL && val != NULL && (strcasecmp(n, "phone") == 0 ||
		    strcasecmp(n, "phone_number") == 0 ||
		    strcasecmp(n, "mobile") == 0) &&
		    imp_participant(c, val, strlen(val), out) == 0)
			return 0;
	}
	if ((v = rs_str(p, "email")) != NULL &&
	    imp_participant(c, v, strlen(v), out) == 0)
		return 0;
	if ((v = rs_str(p, "account_id")) != NULL && v[0] != '\0' &&
	    strlen(v) < 300) {
		if ((v[0] == '+' || v[0] == '@') &&
		    imp_participant(c, v, strlen(v), out) == 0)
			return 0;
		snprintf(h, sizeof(h), "%.60s:%s", platform, v);
		if (imp_participant(c, h, strlen(h), out) == 0)
			return 0;
	}
	if ((v = rs_str(p, "display")) != NULL &&
	    imp_contact_lookup(c, v, strlen(v), out) == 0)
		return 0;
	return -1;
}

/* The platform when it names one of the gateway's channels, else other. */
static const char *
rs_channel(const char *platform)
{
	static const char *const ch[] = { "signal", "whatsapp", "telegram",
	    "wechat", "sms", "mms", "rcs", "imessage", "email", "voice" };
	size_t i;

	for (i = 0; i < sizeof(ch) / sizeof(ch[0]); i++)
		if (strcasecmp(platform, ch[i]) == 0)
			return ch[i];
	return "other";
}

static rs_part *
rs_find(rs_part *ps, size_t n, const char *id)
{
	size_t i;

	for (i = 0; id != NULL && i < n; i++)
		if (ps[i].id != NULL && strcmp(ps[i].id, id) == 0)
			return &ps[i];
	return NULL;
}

/* "2013-01-10T15:53:00" (local) or with Z / an offset (RFC 3339) */
static int
rs_time(imp_ctx *c, const char *ts, long long *prev, long long *us,
    const char *ref)
{
	const char *why;
	int y, mo, d, h, mi, s, n = 0;
	size_t l;

	if (ts == NULL || (l = strlen(ts)) < 19 || l > 40)
		return -1;
	if (ts[l - 1] == 'Z' || ts[l - 1] == 'z' || ((ts[l - 6] == '+' ||
	    ts[l - 6] == '-') && ts[l - 3] == ':'))
		return rec_parse_time(ts, l, us, &why);
	if (sscanf(ts, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s,
	    &n) != 6 || n < 19)
		return -1;
	if (ts[n] == '.') {
		for (n++; ts[n] >= '0' && ts[n] <= '9'; n++)
			;
	}
	if ((size_t)n != l)
		return -1;
	return imp_local_time(c, y, mo, d, h, mi, s, prev, us, ref);
}

/* One manifest; media are the zip's entries (NULL: none). */
static int
rs_manifest(imp_ctx *c, const char *json, size_t len, imp_media *media,
    size_t file_no, char *err, size_t err_len)
{
	json_error_t je;
	json_t *root, *parts, *convs, *events, *e, *conv;
	rs_part *ps = NULL;
	size_t np = 0, i, k;
	long long prev = 0;
	int rc = -1;

	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		snprintf(err, err_len, "file %zu: rsmf_manifest.json line %d column "
		    "%d: not valid JSON", file_no, je.line, je.column);
		return -1;
	}
	parts = json_object_get(root, "participants");
	convs = json_object_get(root, "conversations");
	events = json_object_get(root, "events");
	if (!json_is_object(root) || !json_is_array(parts) ||
	    !json_is_array(convs) || !json_is_array(events)) {
		snprintf(err, err_len, "file %zu: not an RSMF manifest (no "
		    "participants, conversations and events arrays)", file_no);
		goto done;
	}
	if (!json_is_string(json_object_get(root, "version")) ||
	    strncmp(rs_str(root, "version"), "2.", 2) != 0) {
		snprintf(err, err_len, "file %zu: RSMF version not 2.x", file_no);
		goto done;
	}
	np = json_array_size(parts);
	if ((ps = calloc(np + 1, sizeof(*ps))) == NULL)
		goto oom;
	json_array_foreach(events, i, e) {
		json_t *attl, *a, *pid;
		const char *type, *cid, *platform = "rsmf", *body;
		char ref[64], convs_id[1100], id[80], pre[120];
		char sender[IMP_PART_MAX];
		imp_pset set = { NULL, 0, 0 };
		imp_att atts[REC_ATTACHMENTS_MAX];
		size_t natt = 0, plen = 0, blen;
		const char **rcp = NULL;
		size_t nrcp = 0;
		rs_part *sp;
		char *full = NULL;
		imp_msg im;
		json_t *cv;
		size_t j;
		int ok;

		snprintf(ref, sizeof(ref), "file %zu event %zu", file_no, i + 1);
		if (imp_count_message(c, err, err_len) != 0)
			goto done;
		type = rs_str(e, "type");
		if (type == NULL || strcmp(type, "message") != 0) {
			imp_skip(c, "event not a message (join, leave, disclaimer, "
			    "history)", ref);
			continue;
		}
		cid = rs_str(e, "conversation");
		conv = NULL;
		json_array_foreach(convs, j, cv)
			if (cid != NULL && rs_str(cv, "id") != NULL &&
			    strcmp(rs_str(cv, "id"), cid) == 0) {
				conv = cv;
				break;
			}
		if (conv == NULL) {
			imp_skip(c, "event's conversation not in the manifest", ref);
			continue;
		}
		if (rs_str(conv, "platform") != NULL && rs_str(conv, "platform")[0] &&
		    strlen(rs_str(conv, "platform")) <= 60)
			platform = rs_str(conv, "platform");
		/* participants mapped lazily, per platform of first use */
		for (j = 0; j < np; j++) {
			json_t *p = json_array_get(parts, j);

			if (ps[j].id == NULL && json_is_object(p) &&
			    rs_str(p, "id") != NULL) {
				ps[j].id = rs_str(p, "id");
				ps[j].ok = rs_map(c, p, platform, ps[j].p) == 0;
			}
		}
		sp = rs_find(ps, np, rs_str(e, "participant"));
		if (sp == NULL || !sp->ok) {
			imp_skip(c, "participant not mappable (no phone, email, "
			    "account_id or --contacts entry)", ref);
			continue;
		}
		memcpy(sender, sp->p, sizeof(sender));
		memset(&im, 0, sizeof(im));
		if (rs_time(c, rs_str(e, "timestamp"), &prev, &im.sent_at_us,
		    ref) != 0) {
			imp_skip(c, "event without a valid timestamp", ref);
			continue;
		}
		if (imp_opts_of(c)->conversation != NULL)
			snprintf(convs_id, sizeof(convs_id), "%s",
			    imp_opts_of(c)->conversation);
		else
			snprintf(convs_id, sizeof(convs_id), "rsmf:%s:%.900s",
			    platform, cid);
		if (imp_pset_add(&set, imp_owner(c)) != 0 ||
		    imp_pset_add(&set, sender) != 0)
			goto oom_ev;
		pid = json_object_get(conv, "participants");
		json_array_foreach(pid, j, a) {
			rs_part *q = json_is_string(a) ?
			    rs_find(ps, np, json_string_value(a)) : NULL;

			if (q != NULL && q->ok && imp_pset_add(&set, q->p) != 0)
				goto oom_ev;
		}
		pre[0] = '\0';
		if (rs_str(e, "parent") != NULL && strlen(rs_str(e, "parent")) < 200) {
			char pidbuf[80];

			imp_id(c, "rsmf", convs_id, 0, NULL, rs_str(e, "parent"), pidbuf);
			plen += (size_t)snprintf(pre + plen, sizeof(pre) - plen,
			    "[reply to %s]\n", pidbuf);
		}
		if (json_is_true(json_object_get(e, "deleted")))
			plen += (size_t)snprintf(pre + plen, sizeof(pre) - plen,
			    "[deleted]\n");
		body = rs_str(e, "body") != NULL ? rs_str(e, "body") : "";
		blen = json_string_length(json_object_get(e, "body"));
		if ((full = malloc(plen + blen + 1)) == NULL)
			goto oom_ev;
		memcpy(full, pre, plen);
		memcpy(full + plen, body, blen);
		full[plen + blen] = '\0';
		attl = json_object_get(e, "attachments");
		json_array_foreach(attl, j, a) {
			const char *aid = rs_str(a, "id"), *disp = rs_str(a, "display");

			if (natt >= REC_ATTACHMENTS_MAX) {
				imp_warn(c, "more than 256 attachments (the rest dropped)",
				    ref);
				break;
			}
			if (aid == NULL)
				continue;
			ok = imp_attach(c, media, NULL, aid, NULL, &atts[natt], ref);
			if (ok < 0)
				goto oom_ev;
			if (ok != 0)
				continue;
			if (disp != NULL && disp[0] != '\0' && strlen(disp) <= 255 &&
			    strchr(disp, '/') == NULL) {
				const char *t = atts[natt].type;
				char *nn = strdup(disp);

				if (nn == NULL) {
					imp_att_clear(&atts[natt]);
					goto oom_ev;
				}
				free(atts[natt].name);
				atts[natt].name = nn;
				atts[natt].type = t;    /* static: from the id's extension */
			}
			natt++;
		}
		if (imp_recipients(c, &set, sender, &rcp, &nrcp) != 0)
			goto oom_ev;
		if (rs_str(e, "id") != NULL && strlen(rs_str(e, "id")) < 200)
			imp_id(c, "rsmf", convs_id, 0, NULL, rs_str(e, "id"), id);
		else
			imp_id(c, "rsmf", convs_id, im.sent_at_us, sender, NULL, id);
		im.channel = rs_channel(platform);
		im.conversation = convs_id;
		im.sender = sender;
		im.recipients = rcp;
		im.n_recipients = nrcp;
		im.body = full;
		im.body_len = plen + blen;
		im.atts = atts;
		im.n_atts = natt;
		ok = imp_emit(c, &im, id, ref, err, err_len);
		free(rcp);
		for (k = 0; k < natt; k++)
			imp_att_clear(&atts[k]);
		free(full);
		imp_pset_free(&set);
		if (ok != 0)
			goto done;
		continue;
oom_ev:
		for (k = 0; k < natt; k++)
			imp_att_clear(&atts[k]);
		free(full);
		imp_pset_free(&set);
		goto oom;
	}
	rc = 0;
	goto done;
oom:
	snprintf(err, err_len, "out of memory");
done:
	free(ps);
	json_decref(root);
	return rc;
}

static int
rs_zip(imp_ctx *c, const unsigned char *zip, size_t len, size_t file_no,
    char *err, size_t err_len)
{
	imp_media *m = NULL;
	const unsigned char *man;
	size_t mlen;
	char e2[IMP_ERR_MAX];
	int rc;

	if (imp_media_zip(&m, zip, len, &imp_opts_of(c)->lim, e2,
	    sizeof(e2)) != 0) {
		snprintf(err, err_len, "file %zu: rsmf.zip: %s", file_no, e2);
		return -1;
	}
	if ((man = imp_media_entry(m, "rsmf_manifest.json", &mlen)) == NULL) {
		snprintf(err, err_len, "file %zu: no rsmf_manifest.json in rsmf.zip",
		    file_no);
		imp_media_free(&m);
		return -1;
	}
	rc = rs_manifest(c, (const char *)man, mlen, m, file_no, err, err_len);
	imp_media_free(&m);
	return rc;
}

int
imp_rsmf_zip(imp_ctx *c, const unsigned char *zip, size_t len, char *err,
    size_t err_len)
{
	return rs_zip(c, zip, len, 1, err, err_len);
}

/* Lines that open a multipart: a bound on GMime's nesting. */
static size_t
rs_multiparts(const unsigned char *p, size_t len)
{
	static const char ct[] = "content-type:";
	size_t i, n = 0, k;

	for (i = 0; i + sizeof(ct) - 1 < len; i++) {
		if (i != 0 && p[i - 1] != '\n')
			continue;
		for (k = 0; k < sizeof(ct) - 1; k++)
			if (tolower(p[i + k]) != ct[k])
				break;
		if (k != sizeof(ct) - 1)
			continue;
		for (k = i + k; k < len && p[k] != '\n'; k++)
			if ((p[k] == 'm' || p[k] == 'M') && k + 9 <= len &&
			    strncasecmp((const char *)p + k, "multipart", 9) == 0) {
				n++;
				break;
			}
	}
	return n;
}

static int
rs_eml(imp_ctx *c, const unsigned char *eml, size_t len, size_t file_no,
    char *err, size_t err_len)
{
	static int inited;
	GMimeStream *st = NULL, *out = NULL;
	GMimeParser *parser = NULL;
	GMimeMessage *msg = NULL;
	GMimePartIter *it = NULL;
	GByteArray *arr;
	int rc = -1, found = 0;

	if (rs_multiparts(eml, len) > RS_MULTIPART_MAX) {
		snprintf(err, err_len, "file %zu: more than %u multipart parts",
		    file_no, RS_MULTIPART_MAX);
		return -1;
	}
	if (!inited) {
		g_mime_init();
		inited = 1;
	}
	st = g_mime_stream_mem_new_with_buffer((const char *)eml, len);
	parser = g_mime_parser_new_with_stream(st);
	msg = g_mime_parser_construct_message(parser, NULL);
	if (msg == NULL || !GMIME_IS_MULTIPART(g_mime_message_get_mime_part(msg))) {
		snprintf(err, err_len, "file %zu: not an RSMF message (no "
		    "multipart/mixed body)", file_no);
		goto done;
	}
	it = g_mime_part_iter_new((GMimeObject *)msg);
	do {
		GMimeObject *o = g_mime_part_iter_get_current(it);
		const char *fn;

		if (o == NULL || !GMIME_IS_PART(o))
			continue;
		fn = g_mime_part_get_filename((GMimePart *)o);
		if (fn == NULL || strcmp(fn, "rsmf.zip") != 0)
			continue;
		out = g_mime_stream_mem_new();
		if (g_mime_part_get_content((GMimePart *)o) == NULL ||
		    g_mime_data_wrapper_write_to_stream(
		    g_mime_part_get_content((GMimePart *)o), out) < 0) {
			snprintf(err, err_len, "file %zu: rsmf.zip part unreadable",
			    file_no);
			goto done;
		}
		arr = g_mime_stream_mem_get_byte_array((GMimeStreamMem *)out);
		found = 1;
		rc = rs_zip(c, arr->data, arr->len, file_no, err, err_len);
		break;
	} while (g_mime_part_iter_next(it));
	if (!found)
		snprintf(err, err_len, "file %zu: no rsmf.zip attachment", file_no);
done:
	if (it != NULL)
		g_mime_part_iter_free(it);
	if (out != NULL)
		g_object_unref(out);
	if (msg != NULL)
		g_object_unref(msg);
	if (parser != NULL)
		g_object_unref(parser);
	if (st != NULL)
		g_object_unref(st);
	return rc;
}

int
imp_rsmf_eml(imp_ctx *c, const unsigned char *eml, size_t len, char *err,
    size_t err_len)
{
	return rs_eml(c, eml, len, 1, err, err_len);
}

static int
rs_one(imp_ctx *c, const unsigned char *b, size_t len, size_t file_no,
    char *err, size_t err_len)
{
	size_t i = 0;

	if (len >= 4 && memcmp(b, "PK\003\004", 4) == 0)
		return rs_zip(c, b, len, file_no, err, err_len);
	while (i < len && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' ||
	    b[i] == '\t'))
		i++;
	if (i < len && b[i] == '{')
		return rs_manifest(c, (const char *)b, len, NULL, file_no, err,
		    err_len);
	return rs_eml(c, b, len, file_no, err, err_len);
}

int
imp_rsmf_buf(imp_ctx *c, const unsigned char *buf, size_t len, char *err,
    size_t err_len)
{
	return rs_one(c, buf, len, 1, err, err_len);
}

static int
rs_path(imp_ctx *c, const char *path, size_t file_no, char *err,
    size_t err_len)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int rc;

	if (imp_read_file(path, imp_opts_of(c)->lim.input_max, &buf, &len, err,
	    err_len) != 0)
		return -1;
	rc = rs_one(c, buf, len, file_no, err, err_len);
	sodium_memzero(buf, len);
	free(buf);
	return rc;
}

static int
rs_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
imp_rsmf_file(imp_ctx *c, const char *path, char *err, size_t err_len)
{
	struct stat st;
	struct dirent *de;
	char **names = NULL, full[4200];
	size_t n = 0, i;
	DIR *d;
	int rc = -1;

	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return rs_path(c, path, 1, err, err_len);
	if ((d = opendir(path)) == NULL) {
		snprintf(err, err_len, "cannot open directory %.200s", path);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		char **nv;

		if (de->d_name[0] == '.' || l < 5 ||
		    (strcmp(de->d_name + l - 5, ".rsmf") != 0 &&
		    strcmp(de->d_name + l - 4, ".zip") != 0 &&
		    strcmp(de->d_name + l - 5, ".json") != 0))
			continue;
		if (n >= RS_DIR_MAX) {
			snprintf(err, err_len, "%.200s: more than %u RSMF files", path,
			    RS_DIR_MAX);
			goto done;
		}
		if ((nv = realloc(names, (n + 1) * sizeof(*nv))) == NULL)
			goto oom;
		names = nv;
		if ((names[n] = strdup(de->d_name)) == NULL)
			goto oom;
		n++;
	}
	if (n == 0) {
		snprintf(err, err_len, "%.200s: no .rsmf, .zip or .json file", path);
		goto done;
	}
	qsort(names, n, sizeof(*names), rs_name_cmp);
	for (i = 0; i < n; i++) {
		snprintf(full, sizeof(full), "%s/%s", path, names[i]);
		if (rs_path(c, full, i + 1, err, err_len) != 0)
			goto done;
	}
	rc = 0;
	goto done;
oom:
	snprintf(err, err_len, "out of memory");
done:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return rc;
}
