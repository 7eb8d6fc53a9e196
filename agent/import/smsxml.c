/* agent/import/smsxml.c — Android "SMS Backup & Restore" XML.
 *
 *   <smses count="N">
 *     <sms address="+1555…" date="<ms since 1970>" type="1|2" body="…"/>
 *     <mms date="<ms>" msg_box="1|2" …>
 *       <parts><part seq="0" ct="text/plain" text="…"/>
 *              <part ct="image/jpeg" cl="IMG.jpg" data="<base64>"/></parts>
 *       <addrs><addr address="…" type="137"/>          137 from, 151 to,
 *              <addr address="…" type="151"/></addrs>  130 cc, 129 bcc
 *     </mms>
 *   </smses>
 *
 * sms type 1 is received, 2 sent; drafts, outbox, failed and queued ones
 * (3..6) are skipped.  An mms's sender is its type-137 address (the owner
 * when it is "insert-address-token" or msg_box is 2).  A thread is its
 * set of numbers other than the owner's: the conversation is
 * "sms:" and those numbers, sorted, comma-separated (a hash past 1000
 * bytes), the same for the thread's SMS and MMS.
 *
 * Hostile input: libxml2's streaming xmlReader, without entity
 * substitution (no XML_PARSE_NOENT), DTD loading or network access
 * (XML_PARSE_NONET, an external entity loader that refuses everything),
 * and a document with a DOCTYPE is refused outright, so no entity but the
 * five predefined ones can be referenced.  XML_PARSE_HUGE lets an MMS
 * carry a video in one attribute; the file itself is bounded by
 * --max-input, each media by --max-media, parts and addresses by the
 * gateway's counts.
 */
#include "agent/import/import.h"

#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xmlreader.h>
#include <sodium.h>

#include "gateway/record.h"

#define SX_PARTS_MAX 300U
#define SX_ADDRS_MAX 1000U

typedef struct sx_err {
	int  set;
	int  line;
	char msg[160];
} sx_err;

static void
sx_on_error(void *arg, xmlErrorPtr e)
{
	sx_err *se = arg;
	size_t i;

	if (se->set || e == NULL || e->level < XML_ERR_ERROR)
		return;
	se->set = 1;
	se->line = e->line;
	snprintf(se->msg, sizeof(se->msg), "%.100s", e->message ? e->message : "");
	for (i = 0; se->msg[i] != '\0'; i++)
		if ((unsigned char)se->msg[i] < 0x20 || (unsigned char)se->msg[i] >= 0x7f)
			se->msg[i] = se->msg[i] == '\n' ? '\0' : '?';
}

static xmlParserInputPtr
sx_no_entities(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
	(void)url;
	(void)id;
	(void)ctxt;
	return NULL;
}

/* Attribute or NULL; "null" (the app's own absent value) is NULL too. */
static char *
sx_attr(xmlTextReaderPtr r, const char *name)
{
	xmlChar *v = xmlTextReaderGetAttribute(r, (const xmlChar *)name);

	if (v != NULL && strcmp((const char *)v, "null") == 0) {
		xmlFree(v);
		return NULL;
	}
	return (char *)v;
}

static int
sx_ms(const char *s, long long *us)
{
	long long v = 0;
	size_t i;

	if (s == NULL || s[0] == '\0' || strlen(s) > 15)
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*us = v * 1000LL;
	return 0;
}

/* A number as the phone stored it; alphanumeric senders ("ACME") and short
 * codes become the handle "sms:<as written>". */
static int
sx_party(imp_ctx *c, const char *addr, char out[IMP_PART_MAX], const char *ref)
{
	char h[300];

	if (addr == NULL || addr[0] == '\0' || strlen(addr) > 250)
		return -1;
	if (imp_participant(c, addr, strlen(addr), out) == 0 &&
	    out[0] == '+')
		return 0;
	snprintf(h, sizeof(h), "sms:%s", addr);
	if (imp_participant(c, h, strlen(h), out) != 0)
		return -1;
	imp_warn(c, "address not a phone number (kept as sms:<address>)", ref);
	return 0;
}

static int
sx_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "sms:" + the thread's numbers but the owner's, sorted. */
static void
sx_conversation(imp_ctx *c, const imp_pset *ps, char out[1100])
{
	const char *v[REC_RECIPIENTS_MAX + 1];
	size_t i, n = 0, off;

	for (i = 0; i < ps->n && n < REC_RECIPIENTS_MAX; i++)
		if (strcmp(ps->v[i], imp_owner(c)) != 0)
			v[n++] = ps->v[i];
	qsort(v, n, sizeof(v[0]), sx_cmp);
	off = (size_t)snprintf(out, 1100, "sms:");
	for (i = 0; i < n; i++) {
		size_t l = strlen(v[i]);

		if (off + l + 2 > 1000)
			break;
		off += (size_t)snprintf(out + off, 1100 - off, "%s%s", i ? "," : "",
		    v[i]);
	}
	if (i < n) {
		crypto_generichash_state st;
		unsigned char hh[16];
		char hex[33];

		crypto_generichash_init(&st, NULL, 0, sizeof(hh));
		for (i = 0; i < n; i++)
			crypto_generichash_update(&st, (const unsigned char *)v[i],
			    strlen(v[i]) + 1);
		crypto_generichash_final(&st, hh, sizeof(hh));
		sodium_bin2hex(hex, sizeof(hex), hh, sizeof(hh));
		snprintf(out, 1100, "sms:h:%s", hex);
	}
}

static int
sx_emit(imp_ctx *c, const char *channel, imp_pset *ps, const char *sender,
    long long us, const char *body, imp_att *atts, size_t natt,
    const char *ref, char *err, size_t err_len)
{
	char conv[1100], id[80];
	const char **rcp = NULL;
	size_t nrcp = 0;
	imp_msg m;
	int rc;

	sx_conversation(c, ps, conv);
	if (imp_recipients(c, ps, sender, &rcp, &nrcp) != 0) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	memset(&m, 0, sizeof(m));
	m.channel = channel;
	m.conversation = conv;
	m.sender = sender;
	m.recipients = rcp;
	m.n_recipients = nrcp;
	m.sent_at_us = us;
	m.body = body != NULL ? body : "";
	m.body_len = strlen(m.body);
	m.atts = atts;
	m.n_atts = natt;
	imp_id(c, "sms", conv, us, sender, NULL, id);
	rc = imp_emit(c, &m, id, ref, err, err_len);
	free(rcp);
	return rc;
}

static int
sx_sms(imp_ctx *c, xmlTextReaderPtr r, const char *ref, char *err,
    size_t err_len)
{
	char *addr = sx_attr(r, "address"), *date = sx_attr(r, "date");
	char *type = sx_attr(r, "type"), *body = sx_attr(r, "body");
	char party[IMP_PART_MAX];
	imp_pset ps = { NULL, 0, 0 };
	long long us;
	int rc = 0, out;

	if (sx_ms(date, &us) != 0) {
		imp_skip(c, "sms without a valid date", ref);
		goto done;
	}
	if (type == NULL || (strcmp(type, "1") != 0 && strcmp(type, "2") != 0)) {
		imp_skip(c, "sms not received or sent (draft, outbox, failed)", ref);
		goto done;
	}
	out = strcmp(type, "2") == 0;
	if (sx_party(c, addr, party, ref) != 0) {
		imp_skip(c, "sms without a usable address", ref);
		goto done;
	}
	if (imp_pset_add(&ps, imp_owner(c)) != 0 || imp_pset_add(&ps, party) != 0) {
		snprintf(err, err_len, "out of memory");
		rc = -1;
		goto done;
	}
	rc = sx_emit(c, "sms", &ps, out ? imp_owner(c) : party, us, body, NULL, 0,
	    ref, err, err_len);
done:
	imp_pset_free(&ps);
	xmlFree(addr);
	xmlFree(date);
	xmlFree(type);
	xmlFree(body);
	return rc;
}

/* A media part: its base64 checked and re-encoded (the app wraps it). */
static int
sx_part_att(imp_ctx *c, xmlTextReaderPtr r, const char *ct, imp_att *att,
    const char *ref)
{
	char *name = sx_attr(r, "name"), *cl = sx_attr(r, "cl"),
	    *fn = sx_attr(r, "fn"), *data = sx_attr(r, "data");
	const char *nm = cl ? cl : name ? name : fn ? fn : "attachment";
	unsigned char *bin = NULL;
	size_t blen = 0, dlen = data ? strlen(data) : 0, cap;
	int rc = -1;

	if (strchr(nm, '/') != NULL)
		nm = strrchr(nm, '/') + 1;
	if (nm[0] == '\0')
		nm = "attachment";
	if (data == NULL) {
		imp_warn(c, "media missing (attachment without data)", ref);
	} else if (dlen / 4 * 3 > imp_opts_of(c)->lim.media_max) {
		imp_warn(c, "media over --max-media (attachment without data)", ref);
	} else {
		cap = dlen / 4 * 3 + 3;
		if ((bin = malloc(cap)) == NULL)
			goto done;
		if (sodium_base642bin(bin, cap, data, dlen, " \t\r\n", &blen, NULL,
		    sodium_base64_VARIANT_ORIGINAL) != 0) {
			imp_warn(c, "attachment data not base64 (attachment without "
			    "data)", ref);
			blen = 0;
		}
	}
	rc = imp_attach_bytes(att, nm, NULL, bin, blen);
	if (rc == 0 && ct != NULL && strlen(ct) <= 100 && strchr(ct, '/') != NULL) {
		if (imp_att_set_type(att, ct) != 0) {
			imp_att_clear(att);
			rc = -1;
		}
	}
done:
	if (bin != NULL) {
		sodium_memzero(bin, blen);
		free(bin);
	}
	xmlFree(name);
	xmlFree(cl);
	xmlFree(fn);
	xmlFree(data);
	return rc;
}

static int
sx_mms(imp_ctx *c, xmlTextReaderPtr r, const char *ref, char *err,
    size_t err_len)
{
	char *date = sx_attr(r, "date"), *box = sx_attr(r, "msg_box");
	int depth = xmlTextReaderDepth(r), empty = xmlTextReaderIsEmptyElement(r);
	imp_pset ps = { NULL, 0, 0 };
	char sender[IMP_PART_MAX], party[IMP_PART_MAX];
	imp_att atts[SX_PARTS_MAX];
	size_t natt = 0, naddr = 0, i, blen = 0;
	char *body = NULL;
	int rc = -1, ret, bad = 0, has_from = 0;
	long long us = 0;

	sender[0] = '\0';
	if (imp_pset_add(&ps, imp_owner(c)) != 0)
		goto oom;
	while (!empty && (ret = xmlTextReaderRead(r)) == 1) {
		const char *nm = (const char *)xmlTextReaderConstName(r);
		int type = xmlTextReaderNodeType(r);

		if (type == XML_READER_TYPE_END_ELEMENT &&
		    xmlTextReaderDepth(r) == depth)
			break;
		if (type != XML_READER_TYPE_ELEMENT || nm == NULL)
			continue;
		if (strcmp(nm, "part") == 0) {
			char *ct = sx_attr(r, "ct"), *text;

			if (ct != NULL && strcmp(ct, "application/smil") == 0) {
				xmlFree(ct);
				continue;
			}
			if (ct != NULL && strcmp(ct, "text/plain") == 0) {
				xmlFree(ct);
				if ((text = sx_attr(r, "text")) == NULL)
					continue;
				size_t tl = strlen(text);
				char *nb = realloc(body, blen + tl + 2);

				if (nb == NULL) {
					xmlFree(text);
					goto oom;
				}
				body = nb;
				if (blen > 0)
					body[blen++] = '\n';
				memcpy(body + blen, text, tl + 1);
				blen += tl;
				xmlFree(text);
				continue;
			}
			if (natt >= SX_PARTS_MAX) {
				xmlFree(ct);
				bad = 1;
				continue;
			}
			ret = sx_part_att(c, r, ct, &atts[natt], ref);
			xmlFree(ct);
			if (ret != 0)
				goto oom;
			natt++;
		} else if (strcmp(nm, "addr") == 0) {
			char *a = sx_attr(r, "address"), *t = sx_attr(r, "type");

			if (++naddr > SX_ADDRS_MAX) {
				bad = 1;
			} else if (a != NULL && strcmp(a, "insert-address-token") == 0) {
				if (t != NULL && strcmp(t, "137") == 0) {
					snprintf(sender, sizeof(sender), "%s", imp_owner(c));
					has_from = 1;
				}
			} else if (sx_party(c, a, party, ref) == 0) {
				if (imp_pset_add(&ps, party) != 0) {
					xmlFree(a);
					xmlFree(t);
					goto oom;
				}
				if (t != NULL && strcmp(t, "137") == 0 && !has_from) {
					memcpy(sender, party, sizeof(party));
					has_from = 1;
				}
			}
			xmlFree(a);
			xmlFree(t);
		}
	}
	if (!empty && ret != 1) {
		rc = 1;                  /* the reader's error: the caller reports */
		goto done;
	}
	if (bad) {
		imp_skip(c, "mms with too many parts or addresses", ref);
		rc = 0;
		goto done;
	}
	if (sx_ms(date, &us) != 0) {
		imp_skip(c, "mms without a valid date", ref);
		rc = 0;
		goto done;
	}
	if (box != NULL && strcmp(box, "2") == 0) {
		snprintf(sender, sizeof(sender), "%s", imp_owner(c));
	} else if (box == NULL || strcmp(box, "1") != 0) {
		imp_skip(c, "mms not received or sent (draft, outbox, failed)", ref);
		rc = 0;
		goto done;
	} else if (!has_from) {
		imp_skip(c, "mms without a sender address", ref);
		rc = 0;
		goto done;
	}
	rc = sx_emit(c, "mms", &ps, sender, us, body, atts, natt, ref, err,
	    err_len);
	goto done;
oom:
	snprintf(err, err_len, "out of memory");
	rc = -1;
done:
	for (i = 0; i < natt; i++)
		imp_att_clear(&atts[i]);
	if (body != NULL) {
		sodium_memzero(body, blen);
		free(body);
	}
	imp_pset_free(&ps);
	xmlFree(date);
	xmlFree(box);
	return rc;
}

int
imp_smsxml(imp_ctx *c, const char *xml, size_t len, char *err, size_t err_len)
{
	xmlTextReaderPtr r;
	sx_err se;
	char ref[48];
	int ret, rc = -1, root = 0, n;

	memset(&se, 0, sizeof(se));
	if (len == 0) {
		snprintf(err, err_len, "empty file: not an SMS Backup & Restore "
		    "file");
		return -1;
	}
	if (len > (size_t)INT32_MAX) {
		snprintf(err, err_len, "XML larger than 2 GiB");
		return -1;
	}
	xmlInitParser();
	xmlSetExternalEntityLoader(sx_no_entities);
	r = xmlReaderForMemory(xml, (int)len, NULL, NULL, XML_PARSE_NONET |
	    XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_HUGE);
	if (r == NULL) {
		snprintf(err, err_len, "cannot start the XML reader");
		return -1;
	}
	xmlTextReaderSetStructuredErrorHandler(r, sx_on_error, &se);
	while ((ret = xmlTextReaderRead(r)) == 1) {
		int type = xmlTextReaderNodeType(r);
		const char *nm = (const char *)xmlTextReaderConstName(r);
		xmlNodePtr cur = xmlTextReaderCurrentNode(r);
		long nl = cur != NULL ? xmlGetLineNo(cur) : -1;
		int line = nl > 0 && nl < INT32_MAX ? (int)nl :
		    xmlTextReaderGetParserLineNumber(r);

		if (type == XML_READER_TYPE_DOCUMENT_TYPE) {
			snprintf(err, err_len, "DOCTYPE not allowed in an SMS backup "
			    "(no DTD, no entities)");
			goto done;
		}
		if (type != XML_READER_TYPE_ELEMENT || nm == NULL)
			continue;
		if (!root) {
			if (strcmp(nm, "smses") != 0) {
				snprintf(err, err_len, "line %d: not an SMS Backup & "
				    "Restore file (root element is not <smses>)", line);
				goto done;
			}
			root = 1;
			continue;
		}
		if (xmlTextReaderDepth(r) != 1)
			continue;
		snprintf(ref, sizeof(ref), "line %d", line);
		if (strcmp(nm, "sms") == 0) {
			if (imp_count_message(c, err, err_len) != 0 ||
			    sx_sms(c, r, ref, err, err_len) != 0)
				goto done;
		} else if (strcmp(nm, "mms") == 0) {
			if (imp_count_message(c, err, err_len) != 0)
				goto done;
			n = sx_mms(c, r, ref, err, err_len);
			if (n < 0)
				goto done;
			if (n > 0) {
				ret = -1;
				break;
			}
		} else {
			imp_skip(c, "unknown element (not sms or mms)", ref);
		}
	}
	if (ret != 0 || se.set) {
		if (se.set)
			snprintf(err, err_len, "line %d: XML not well-formed: %s",
			    se.line, se.msg);
		else
			snprintf(err, err_len, "line %d: XML not well-formed",
			    xmlTextReaderGetParserLineNumber(r));
		goto done;
	}
	if (!root) {
		snprintf(err, err_len, "line 1: not an SMS Backup & Restore file "
		    "(no <smses>)");
		goto done;
	}
	rc = 0;
done:
	xmlFreeTextReader(r);
	return rc;
}

int
imp_smsxml_file(imp_ctx *c, const char *path, char *err, size_t err_len)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int rc;

	if (imp_read_file(path, imp_opts_of(c)->lim.input_max, &buf, &len, err,
	    err_len) != 0)
		return -1;
	rc = imp_smsxml(c, (const char *)buf, len, err, err_len);
	sodium_memzero(buf, len);
	free(buf);
	return rc;
}
