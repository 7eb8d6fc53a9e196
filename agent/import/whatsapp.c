/* agent/import/whatsapp.c — WhatsApp "Export chat": the chat text, alone or
 * in the .zip with its media.
 *
 * A message starts on a line with a date and a time:
 *   Android  12/31/23, 9:41 PM - Name: text      (also 31/12/2023, 21:41 -
 *            and 31.12.23, 21:41 -; U+202F before AM/PM)
 *   iOS      [31/12/2023, 21:41:05] Name: text   (U+200E marks before the
 *            bracket and before attachments and system texts)
 * Every other line continues the message above it.  A line with no
 * "Name: " is a system line ("X added Y", "Messages and calls are
 * end-to-end encrypted"), as is an iOS text that starts with U+200E and
 * is not an attachment; both are skipped and counted.
 *
 * Dates are numeric and their order is the phone's locale: the whole file
 * decides (a first field above 12 is a day, a second one above 12 is a
 * day), or --date-order when no date tells.  Times are local: --tz.
 *
 * Names are display names: --contacts maps them to numbers; a name that is
 * itself a number ("+44 7700 900123") is taken as one.  Messages from an
 * unmapped name are skipped ("sender not in --contacts"), so fixing the
 * contacts and importing again adds exactly them (ids do not depend on the
 * mapping).
 *
 * Trusts nothing in the text: line and body lengths are bounded, media
 * names go through imp_attach (no path leaves the export).
 */
#include "agent/import/import.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

typedef struct wa_hdr {
	int    f[3];           /* date fields as written */
	int    ndig[3];        /* digits of each */
	char   dsep;           /* '/', '.', '-' */
	int    h, mi, s;
	int    ampm;           /* 0 none, 1 AM, 2 PM */
	size_t rest;           /* offset of "Name: text" in the line */
} wa_hdr;

typedef struct wa_msg {
	size_t lineno;
	wa_hdr hdr;
	const char *name;      /* into the text */
	size_t name_len;
	const char *b0;        /* first line's text */
	size_t b0_len;
	const char *cont;      /* continuation lines, raw, or NULL */
	size_t cont_len;
	int    system;
} wa_msg;

/* Bidi and direction marks WhatsApp puts around names and lines. */
static size_t
wa_mark(const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)p;

	if (n >= 3 && u[0] == 0xe2 && u[1] == 0x80 &&
	    (u[2] == 0x8e || u[2] == 0x8f || (u[2] >= 0xaa && u[2] <= 0xae)))
		return 3;
	if (n >= 3 && u[0] == 0xe2 && u[1] == 0x81 && u[2] >= 0xa6 && u[2] <= 0xa9)
		return 3;
	if (n >= 3 && u[0] == 0xef && u[1] == 0xbb && u[2] == 0xbf)   /* BOM */
		return 3;
	return 0;
}

static size_t
wa_skip_marks(const char *p, size_t n)
{
	size_t k = 0, m;

	while ((m = wa_mark(p + k, n - k)) > 0)
		k += m;
	return k;
}

static int
wa_num(const char *p, size_t n, size_t *i, int maxdig, int *val, int *ndig)
{
	int v = 0, d = 0;

	while (*i < n && p[*i] >= '0' && p[*i] <= '9' && d < maxdig) {
		v = v * 10 + (p[*i] - '0');
		(*i)++;
		d++;
	}
	if (d == 0)
		return -1;
	*val = v;
	if (ndig != NULL)
		*ndig = d;
	return 0;
}

/* A space as WhatsApp writes one: ' ', U+00A0, U+202F. */
static size_t
wa_space(const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)p;

	if (n >= 1 && u[0] == ' ')
		return 1;
	if (n >= 2 && u[0] == 0xc2 && u[1] == 0xa0)
		return 2;
	if (n >= 3 && u[0] == 0xe2 && u[1] == 0x80 && u[2] == 0xaf)
		return 3;
	return 0;
}

/* 1 when line starts with a message header, filling h. */
static int
wa_header(const char *p, size_t n, wa_hdr *h)
{
	size_t i = wa_skip_marks(p, n), k;
	int bracket = 0, j;

	memset(h, 0, sizeof(*h));
	if (i < n && p[i] == '[') {
		bracket = 1;
		i++;
	}
	for (j = 0; j < 3; j++) {
		if (wa_num(p, n, &i, 4, &h->f[j], &h->ndig[j]) != 0)
			return 0;
		if (j < 2) {
			if (i >= n || (p[i] != '/' && p[i] != '.' && p[i] != '-'))
				return 0;
			if (j == 0)
				h->dsep = p[i];
			else if (p[i] != h->dsep)
				return 0;
			i++;
		}
	}
	if (i < n && p[i] == '.')      /* "31.12.23." */
		i++;
	if (i >= n || p[i] != ',')
		return 0;
	i++;
	if ((k = wa_space(p + i, n - i)) == 0)
		return 0;
	i += k;
	if (wa_num(p, n, &i, 2, &h->h, NULL) != 0 || i >= n || p[i] != ':')
		return 0;
	i++;
	if (wa_num(p, n, &i, 2, &h->mi, NULL) != 0)
		return 0;
	h->s = 0;
	if (i < n && p[i] == ':') {
		i++;
		if (wa_num(p, n, &i, 2, &h->s, NULL) != 0)
			return 0;
	}
	if ((k = wa_space(p + i, n - i)) > 0) {
		const char *a = p + i + k;
		size_t an = n - i - k;

		if (an >= 2 && (a[0] == 'A' || a[0] == 'a' || a[0] == 'P' ||
		    a[0] == 'p') && (a[1] == 'M' || a[1] == 'm')) {
			h->ampm = (a[0] == 'A' || a[0] == 'a') ? 1 : 2;
			i += k + 2;
		} else if (an >= 4 && (a[0] == 'a' || a[0] == 'p') && a[1] == '.' &&
		    a[2] == 'm' && a[3] == '.') {
			h->ampm = a[0] == 'a' ? 1 : 2;
			i += k + 4;
		}
	}
	if (bracket) {
		if (i >= n || p[i] != ']')
			return 0;
		i++;
		if ((k = wa_space(p + i, n - i)) == 0)
			return 0;
		i += k;
	} else {
		if ((k = wa_space(p + i, n - i)) == 0)
			return 0;
		i += k;
		if (i + 2 > n || p[i] != '-' || (k = wa_space(p + i + 1,
		    n - i - 1)) == 0)
			return 0;
		i += 1 + k;
	}
	if (h->ampm != 0 && (h->h < 1 || h->h > 12))
		return 0;
	if (h->ampm == 1 && h->h == 12)
		h->h = 0;
	else if (h->ampm == 2 && h->h != 12)
		h->h += 12;
	h->rest = i;
	return 1;
}

static int
wa_has(const char *p, size_t n, const char *needle)
{
	size_t l = strlen(needle), i;

	for (i = 0; i + l <= n; i++)
		if (memcmp(p + i, needle, l) == 0)
			return 1;
	return 0;
}

/* Split "Name: text"; a system line has no sender.  The text of system
 * lines with a colon ("X changed the subject from "a: b"") is caught by
 * their phrases. */
static void
wa_split(wa_msg *m, const char *rest, size_t n)
{
	static const char *const sys[] = {
		" changed the subject", " changed the group description",
		" changed this group's", " created group",
		" joined using this group's invite link",
		" changed their phone number",
	};
	size_t i, k;

	m->system = 1;
	for (i = 0; i + 1 < n; i++)
		if (rest[i] == ':' && rest[i + 1] == ' ')
			break;
	if (i + 1 >= n) {
		/* "Name:" with an empty text is a message */
		if (n > 0 && rest[n - 1] == ':') {
			m->name = rest;
			m->name_len = n - 1;
			m->b0 = rest + n;
			m->b0_len = 0;
			m->system = 0;
		}
		return;
	}
	for (k = 0; k < sizeof(sys) / sizeof(sys[0]); k++)
		if (wa_has(rest, i, sys[k]))
			return;
	if (i == 0 || i > 200)
		return;
	m->name = rest;
	m->name_len = i;
	m->b0 = rest + i + 2;
	m->b0_len = n - i - 2;
	/* iOS: a system text is written by the chat itself, after U+200E */
	k = wa_mark(m->b0, m->b0_len);
	if (k == 3 && (unsigned char)m->b0[2] == 0x8e) {
		const char *t = m->b0 + 3;
		size_t tl = m->b0_len - 3;

		if (!(tl >= 11 && memcmp(t, "<attached: ", 11) == 0) &&
		    !wa_has(t, tl, " omitted") && !wa_has(t, tl, "deleted")) {
			m->system = 1;
			return;
		}
	}
	m->system = 0;
	/* names: no marks around them */
	k = wa_skip_marks(m->name, m->name_len);
	m->name += k;
	m->name_len -= k;
	while (m->name_len >= 3 && wa_mark(m->name + m->name_len - 3, 3) == 3)
		m->name_len -= 3;
}

typedef struct wa_state {
	imp_ctx    *c;
	wa_msg     *v;
	size_t      n, cap;
} wa_state;

static int
wa_collect(wa_state *st, const char *text, size_t len, char *err,
    size_t err_len)
{
	const char *p = text, *end = text + len, *eol;
	size_t lineno = 0, ln;
	wa_msg *cur = NULL;
	wa_hdr h;

	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	for (; p < end; p = eol + (eol < end)) {
		lineno++;
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		ln = (size_t)(eol - p);
		if (ln > 0 && p[ln - 1] == '\r')
			ln--;
		if (memchr(p, '\0', ln) != NULL) {
			snprintf(err, err_len, "line %zu: NUL byte: not a WhatsApp "
			    "chat export", lineno);
			return -1;
		}
		if (wa_header(p, ln, &h)) {
			if (st->n == st->cap) {
				size_t nc = st->cap ? st->cap * 2 : 256;
				wa_msg *nv;

				if (nc > imp_opts_of(st->c)->lim.messages_max + 1)
					nc = imp_opts_of(st->c)->lim.messages_max + 1;
				if (st->n >= nc) {
					snprintf(err, err_len, "line %zu: more than %zu "
					    "messages (--max-messages)", lineno,
					    imp_opts_of(st->c)->lim.messages_max);
					return -1;
				}
				if ((nv = realloc(st->v, nc * sizeof(*nv))) == NULL) {
					snprintf(err, err_len, "out of memory");
					return -1;
				}
				st->v = nv;
				st->cap = nc;
			}
			cur = &st->v[st->n++];
			memset(cur, 0, sizeof(*cur));
			cur->lineno = lineno;
			cur->hdr = h;
			wa_split(cur, p + h.rest, ln - h.rest);
			continue;
		}
		if (cur == NULL) {
			if (ln == 0 || wa_skip_marks(p, ln) == ln)
				continue;
			snprintf(err, err_len, "line %zu: not a WhatsApp chat line "
			    "(expected a date and time such as \"31/12/2023, 21:41 - "
			    "\" or \"[31/12/2023, 21:41:05] \")", lineno);
			return -1;
		}
		if (cur->cont == NULL)
			cur->cont = p;
		cur->cont_len = (size_t)(p + ln - cur->cont);
		if (cur->cont_len > imp_opts_of(st->c)->lim.body_max + 4096) {
			snprintf(err, err_len, "line %zu: message longer than %zu "
			    "bytes (--max-body)", lineno,
			    imp_opts_of(st->c)->lim.body_max);
			return -1;
		}
	}
	if (st->n == 0) {
		snprintf(err, err_len, "line 1: no message: not a WhatsApp chat "
		    "export");
		return -1;
	}
	return 0;
}

/* 0: day first, 1: month first, 2: year first. */
static int
wa_order(const wa_state *st, imp_date_order given, char *err, size_t err_len)
{
	int dmy = 0, mdy = 0, ymd = 0, dot = 0;
	size_t i;

	for (i = 0; i < st->n; i++) {
		const wa_hdr *h = &st->v[i].hdr;

		if (h->ndig[0] == 4)
			ymd = 1;
		else if (h->f[0] > 12)
			dmy = 1;
		else if (h->f[1] > 12)
			mdy = 1;
		if (h->dsep == '.')
			dot = 1;
	}
	if (ymd)
		return 2;
	if (dmy && mdy) {
		snprintf(err, err_len, "line %zu: dates in both day-first and "
		    "month-first order: not one export", st->v[st->n - 1].lineno);
		return -1;
	}
	if (given == IMP_DATE_DMY) {
		if (mdy) {
			snprintf(err, err_len, "--date-order dmy: the file has a "
			    "month above 12 in the second field");
			return -1;
		}
		return 0;
	}
	if (given == IMP_DATE_MDY) {
		if (dmy) {
			snprintf(err, err_len, "--date-order mdy: the file has a "
			    "month above 12 in the first field");
			return -1;
		}
		return 1;
	}
	if (dmy || dot)
		return 0;
	if (mdy)
		return 1;
	snprintf(err, err_len, "date order is ambiguous (no day above 12 in "
	    "the file): give --date-order dmy or mdy");
	return -1;
}

/* Body of m (continuation lines joined with '\n', '\r' before them
 * dropped) into a malloc'd string. */
static char *
wa_body(const char *b0, size_t b0_len, const char *cont, size_t cont_len,
    size_t *out_len)
{
	char *b, *w;
	size_t i;

	if ((b = malloc(b0_len + cont_len + 2)) == NULL)
		return NULL;
	memcpy(b, b0, b0_len);
	w = b + b0_len;
	if (cont != NULL) {
		*w++ = '\n';
		for (i = 0; i < cont_len; i++) {
			if (cont[i] == '\r' && i + 1 < cont_len && cont[i + 1] == '\n')
				continue;
			*w++ = cont[i];
		}
	}
	*w = '\0';
	*out_len = (size_t)(w - b);
	return b;
}

static int
wa_attachment_name(const char *b, size_t n, size_t *name_off, size_t *name_len)
{
	static const char att[] = "<attached: ";
	static const char fa[] = " (file attached)";
	size_t k = wa_skip_marks(b, n), e;
	const char *nl = memchr(b, '\n', n);
	size_t first = nl ? (size_t)(nl - b) : n;

	if (first - k > sizeof(att) - 1 && memcmp(b + k, att, sizeof(att) - 1) == 0) {
		for (e = k + sizeof(att) - 1; e < first && b[e] != '>'; e++)
			;
		if (e < first) {
			*name_off = k + sizeof(att) - 1;
			*name_len = e - *name_off;
			return *name_len > 0;
		}
	}
	if (first - k > sizeof(fa) - 1 &&
	    memcmp(b + first - (sizeof(fa) - 1), fa, sizeof(fa) - 1) == 0) {
		*name_off = k;
		*name_len = first - (sizeof(fa) - 1) - k;
		return *name_len > 0;
	}
	return 0;
}

int
imp_whatsapp_txt(imp_ctx *c, const char *text, size_t len,
    const char *chat_name, imp_media *media, char *err, size_t err_len)
{
	const imp_opts *o = imp_opts_of(c);
	wa_state st = { c, NULL, 0, 0 };
	imp_pset ps = { NULL, 0, 0 };
	char conv[1100], ref[48], id[80], part[IMP_PART_MAX];
	char (*parts)[IMP_PART_MAX] = NULL;
	unsigned char *mapped = NULL;
	long long prev = 0;
	size_t i, k;
	int order, rc = -1;

	if (wa_collect(&st, text, len, err, err_len) != 0)
		goto done;
	if ((order = wa_order(&st, o->date_order, err, err_len)) < 0)
		goto done;
	if (o->conversation != NULL)
		snprintf(conv, sizeof(conv), "%s", o->conversation);
	else
		snprintf(conv, sizeof(conv), "whatsapp:%.1000s",
		    chat_name != NULL && chat_name[0] ? chat_name : "chat");
	parts = calloc(st.n, sizeof(*parts));
	mapped = calloc(st.n, 1);
	if (parts == NULL || mapped == NULL) {
		snprintf(err, err_len, "out of memory");
		goto done;
	}
	/* Everyone who speaks, and the chat's own name for a 1:1 chat. */
	if (imp_pset_add(&ps, imp_owner(c)) != 0)
		goto oom;
	if (chat_name != NULL && imp_contact_lookup(c, chat_name,
	    strlen(chat_name), part) == 0 && imp_pset_add(&ps, part) != 0)
		goto oom;
	for (i = 0; i < st.n; i++) {
		if (st.v[i].system)
			continue;
		if (imp_contact_lookup(c, st.v[i].name, st.v[i].name_len,
		    parts[i]) == 0) {
			mapped[i] = 1;
			if (imp_pset_add(&ps, parts[i]) != 0)
				goto oom;
		}
	}
	/* Each unmapped name once, by the line where it first speaks. */
	for (i = 0; i < st.n; i++) {
		if (st.v[i].system || mapped[i])
			continue;
		for (k = 0; k < i; k++)
			if (!st.v[k].system && !mapped[k] &&
			    st.v[k].name_len == st.v[i].name_len &&
			    memcmp(st.v[k].name, st.v[i].name, st.v[i].name_len) == 0)
				break;
		if (k == i) {
			snprintf(ref, sizeof(ref), "line %zu", st.v[i].lineno);
			imp_warn(c, "name not in --contacts (first line it speaks)", ref);
		}
	}
	for (i = 0; i < st.n; i++) {
		wa_msg *m = &st.v[i];
		const wa_hdr *h = &m->hdr;
		int y, mo, d;
		imp_msg im;
		imp_att att;
		char *body = NULL, sender_name[256];
		size_t blen = 0, noff, nlen;
		const char **rcp = NULL;
		size_t nrcp = 0;

		snprintf(ref, sizeof(ref), "line %zu", m->lineno);
		if (imp_count_message(c, err, err_len) != 0)
			goto done;
		if (m->system) {
			imp_skip(c, "system message", ref);
			continue;
		}
		if (!mapped[i]) {
			imp_skip(c, "sender not in --contacts", ref);
			continue;
		}
		if (order == 2) {
			y = h->f[0]; mo = h->f[1]; d = h->f[2];
		} else if (order == 0) {
			d = h->f[0]; mo = h->f[1]; y = h->f[2];
		} else {
			mo = h->f[0]; d = h->f[1]; y = h->f[2];
		}
		if (y < 100)
			y += 2000;
		memset(&im, 0, sizeof(im));
		if (imp_local_time(c, y, mo, d, h->h, h->mi, h->s, &prev,
		    &im.sent_at_us, ref) != 0) {
			imp_skip(c, "impossible date or time", ref);
			continue;
		}
		if ((body = wa_body(m->b0, m->b0_len, m->cont, m->cont_len,
		    &blen)) == NULL)
			goto oom;
		memset(&att, 0, sizeof(att));
		im.body = body;
		im.body_len = blen;
		if (wa_attachment_name(body, blen, &noff, &nlen)) {
			char name[1100];
			const char *nl = memchr(body, '\n', blen);
			int ar;

			snprintf(name, sizeof(name), "%.*s", (int)(nlen < 1024 ? nlen :
			    1024), body + noff);
			ar = imp_attach(c, media, NULL, name, NULL, &att, ref);
			if (ar < 0) {
				free(body);
				goto oom;
			}
			if (ar == 0) {
				im.atts = &att;
				im.n_atts = 1;
			}
			/* the caption is the body */
			im.body = nl != NULL ? nl + 1 : "";
			im.body_len = nl != NULL ? blen - (size_t)(nl + 1 - body) : 0;
		} else {
			size_t k2 = wa_skip_marks(body, blen);

			if (wa_has(body + k2, blen - k2, "<Media omitted>") ||
			    (blen - k2 < 40 && wa_has(body + k2, blen - k2, " omitted")))
				imp_warn(c, "media omitted by the export", ref);
		}
		snprintf(sender_name, sizeof(sender_name), "%.*s",
		    (int)(m->name_len < 255 ? m->name_len : 255), m->name);
		if (imp_recipients(c, &ps, parts[i], &rcp, &nrcp) != 0) {
			imp_att_clear(&att);
			free(body);
			goto oom;
		}
		im.channel = "whatsapp";
		im.conversation = conv;
		im.sender = parts[i];
		im.recipients = rcp;
		im.n_recipients = nrcp;
		imp_id(c, "wa", conv, im.sent_at_us, sender_name, NULL, id);
		rc = imp_emit(c, &im, id, ref, err, err_len);
		free(rcp);
		imp_att_clear(&att);
		sodium_memzero(body, blen);
		free(body);
		if (rc != 0)
			goto done;
		rc = -1;
	}
	rc = 0;
	goto done;
oom:
	snprintf(err, err_len, "out of memory");
done:
	free(parts);
	free(mapped);
	imp_pset_free(&ps);
	free(st.v);
	return rc;
}

/* "WhatsApp Chat with NAME.txt", "WhatsApp Chat - NAME.zip" -> NAME */
static void
wa_chat_name(const char *path, char *out, size_t cap)
{
	const char *b = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	static const char *const pre[] = { "WhatsApp Chat with ",
	    "WhatsApp Chat - ", "WhatsApp-Chat mit ", "Chat de WhatsApp con " };
	size_t i, n;

	for (i = 0; i < sizeof(pre) / sizeof(pre[0]); i++)
		if (strncmp(b, pre[i], strlen(pre[i])) == 0) {
			b += strlen(pre[i]);
			break;
		}
	snprintf(out, cap, "%s", b);
	n = strlen(out);
	if (n > 4 && (strcmp(out + n - 4, ".txt") == 0 ||
	    strcmp(out + n - 4, ".zip") == 0))
		out[n - 4] = '\0';
}

int
imp_whatsapp_file(imp_ctx *c, const char *path, char *err, size_t err_len)
{
	const imp_opts *o = imp_opts_of(c);
	unsigned char *buf = NULL;
	imp_media *media = NULL;
	char name[512], dir[4096];
	size_t len = 0, n = strlen(path);
	int rc = -1;

	wa_chat_name(path, name, sizeof(name));
	if (imp_read_file(path, o->lim.input_max, &buf, &len, err, err_len) != 0)
		return -1;
	if (len >= 4 && memcmp(buf, "PK\003\004", 4) == 0) {
		const unsigned char *txt = NULL;
		size_t tlen = 0;

		if (imp_media_zip(&media, buf, len, &o->lim, err, err_len) != 0)
			goto done;
		if ((txt = imp_media_entry(media, "_chat.txt", &tlen)) == NULL) {
			char want[600];

			snprintf(want, sizeof(want), "WhatsApp Chat with %s.txt", name);
			txt = imp_media_entry(media, want, &tlen);
		}
		if (txt == NULL) {
			/* a renamed zip: its one top-level .txt, named after the chat */
			const char *only = NULL;
			size_t i2, k2 = 0;

			for (i2 = 0; i2 < imp_media_count(media); i2++) {
				const char *en = imp_media_name(media, i2);
				size_t el = strlen(en);

				if (el > 4 && strcmp(en + el - 4, ".txt") == 0 &&
				    strchr(en, '/') == NULL) {
					only = en;
					k2++;
				}
			}
			if (k2 == 1) {
				txt = imp_media_entry(media, only, &tlen);
				wa_chat_name(only, name, sizeof(name));
			}
		}
		if (txt == NULL) {
			snprintf(err, err_len, "%.200s: no _chat.txt or \"WhatsApp "
			    "Chat with <name>.txt\" in the zip", path);
			goto done;
		}
		rc = imp_whatsapp_txt(c, (const char *)txt, tlen, name, media, err,
		    err_len);
		goto done;
	}
	if (n > 4 && strcmp(path + n - 4, ".zip") == 0) {
		snprintf(err, err_len, "%.200s: not a zip archive", path);
		goto done;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	if (strrchr(dir, '/') != NULL)
		*strrchr(dir, '/') = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	if (imp_media_dir(&media, dir, err, err_len) != 0)
		goto done;
	rc = imp_whatsapp_txt(c, (const char *)buf, len, name, media, err,
	    err_len);
done:
	imp_media_free(&media);
	if (buf != NULL) {
		sodium_memzero(buf, len);
		free(buf);
	}
	return rc;
}
