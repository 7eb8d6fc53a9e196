/* agent/import/core.c — what every importer shares: the context and its
 * report, record ids, participants (through vault/blind.h's rules, never a
 * copy of them), local times under an IANA zone, media lookup beneath an
 * export, and the one place a line is made and checked (imp_emit).
 *
 * Trusts: the options (the operator's).  Does not trust: any string or
 * byte count from an export.  The report holds fixed reason strings and
 * references ("line 12", "message 4711"), never content or participants.
 */
#include "agent/import/import.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <sodium.h>

#include "gateway/record.h"

#define IMP_ZONEINFO "/usr/share/zoneinfo"

typedef struct imp_reason {
	char   text[REC_REASON_MAX];
	char   kind;                      /* 's' skipped, 'w' warning */
	size_t count;
	char   refs[IMP_REF_KEEP][48];
	size_t nrefs;
} imp_reason;

typedef struct imp_ord {
	uint64_t key;
	uint32_t n;
} imp_ord;

struct imp_ctx {
	char        fmt[16];
	imp_opts    o;
	char        owner[IMP_PART_MAX];
	imp_sink    sink;
	void       *sink_arg;
	imp_reason  reasons[IMP_REASONS_MAX];
	size_t      nreasons;
	size_t      imported, messages;
	imp_ord    *ord;
	size_t      ord_n, ord_cap;
};

struct imp_contact {
	char *name;
	char  part[IMP_PART_MAX];
};

struct imp_contacts {
	struct imp_contact *v;
	size_t n;
};

struct imp_ent {
	char          *name;
	unsigned char *data;
	size_t         len;
};

struct imp_media {
	int             dirfd;            /* -1 for a zip */
	struct imp_ent *e;
	size_t          n;
};

static void
imp_errf(char *err, size_t err_len, const char *msg)
{
	if (err_len > 0)
		snprintf(err, err_len, "%s", msg);
}

/* A library's message (libarchive's, SQLite's) may end in a newline or
 * quote bytes of the input: printable ASCII only, capped. */
const char *
imp_lib_msg(const char *m, char *buf, size_t cap)
{
	size_t i;

	snprintf(buf, cap, "%.120s", m != NULL && m[0] != '\0' ? m : "unreadable");
	for (i = 0; buf[i] != '\0'; i++)
		if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] >= 0x7f)
			buf[i] = '?';
	while (i > 0 && buf[i - 1] == '?')
		buf[--i] = '\0';
	return buf;
}

/* -- context and report ------------------------------------------------- */

static int
imp_zone_ok(const char *tz)
{
	char path[PATH_MAX];
	struct stat st;
	const char *p;
	int n;

	if (tz[0] == '\0' || tz[0] == '/' || strlen(tz) > 128)
		return 0;
	for (p = tz; *p != '\0'; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '/' || *p == '_' ||
		    *p == '-' || *p == '+'))
			return 0;
	if (strstr(tz, "..") != NULL)
		return 0;
	n = snprintf(path, sizeof(path), "%s/%s", IMP_ZONEINFO, tz);
	if (n < 0 || (size_t)n >= sizeof(path))
		return 0;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int
imp_ctx_new(imp_ctx **out, const char *fmt, const imp_opts *o, imp_sink sink,
    void *sink_arg, char *err, size_t err_len)
{
	imp_ctx *c;
	char why[160];
	size_t olen = 0;

	*out = NULL;
	if (o->owner == NULL || o->owner[0] == '\0') {
		imp_errf(err, err_len, "--owner is required (the device owner's "
		    "number or @handle)");
		return -1;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		imp_errf(err, err_len, "out of memory");
		return -1;
	}
	snprintf(c->fmt, sizeof(c->fmt), "%s", fmt);
	c->o = *o;
	c->sink = sink;
	c->sink_arg = sink_arg;
	if (c->o.lim.input_max == 0)
		c->o.lim.input_max = 256U << 20;
	if (c->o.lim.media_max == 0)
		c->o.lim.media_max = 8U << 20;
	if (c->o.lim.archive_max == 0)
		c->o.lim.archive_max = 512U << 20;
	if (c->o.lim.entries_max == 0)
		c->o.lim.entries_max = 100000;
	if (c->o.lim.messages_max == 0)
		c->o.lim.messages_max = 1000000;
	if (c->o.lim.body_max == 0)
		c->o.lim.body_max = 1U << 20;
	if (c->o.lim.line_max == 0)
		c->o.lim.line_max = 16U << 20;
	if (o->default_cc != NULL) {
		size_t i, n = strlen(o->default_cc);

		for (i = 0; i < n; i++)
			if (o->default_cc[i] < '0' || o->default_cc[i] > '9')
				break;
		if (n < 1 || n > 3 || i != n || o->default_cc[0] == '0') {
			imp_errf(err, err_len, "--default-country: must be a country "
			    "calling code, 1 to 3 digits (44, 1, 353)");
			goto fail;
		}
	}
	if (vault_participant_scope_normalize(o->owner, strlen(o->owner),
	    o->default_cc, c->owner, sizeof(c->owner) - 1, &olen, why,
	    sizeof(why)) != 0) {
		snprintf(err, err_len, "--owner: %s", why);
		goto fail;
	}
	c->owner[olen] = '\0';
	if (o->tz != NULL) {
		if (!imp_zone_ok(o->tz)) {
			imp_errf(err, err_len, "--tz: not an IANA time zone under "
			    IMP_ZONEINFO " (Europe/Berlin, America/New_York, UTC)");
			goto fail;
		}
		if (setenv("TZ", o->tz, 1) != 0) {
			imp_errf(err, err_len, "--tz: cannot set TZ");
			goto fail;
		}
	} else if (setenv("TZ", "UTC", 1) != 0) {
		imp_errf(err, err_len, "cannot set TZ");
		goto fail;
	}
	tzset();
	*out = c;
	return 0;
fail:
	free(c);
	return -1;
}

void
imp_ctx_free(imp_ctx **c)
{
	if (c == NULL || *c == NULL)
		return;
	free((*c)->ord);
	sodium_memzero(*c, sizeof(**c));
	free(*c);
	*c = NULL;
}

const imp_opts *
imp_opts_of(const imp_ctx *c)
{
	return &c->o;
}

const char *
imp_owner(const imp_ctx *c)
{
	return c->owner;
}

size_t
imp_imported(const imp_ctx *c)
{
	return c->imported;
}

static void
imp_note(imp_ctx *c, char kind, const char *reason, const char *ref)
{
	imp_reason *r = NULL;
	size_t i;

	for (i = 0; i < c->nreasons; i++)
		if (c->reasons[i].kind == kind &&
		    strcmp(c->reasons[i].text, reason) == 0) {
			r = &c->reasons[i];
			break;
		}
	if (r == NULL) {
		if (c->nreasons == IMP_REASONS_MAX)
			r = &c->reasons[IMP_REASONS_MAX - 1];   /* lumped, still counted */
		else {
			r = &c->reasons[c->nreasons++];
			r->kind = kind;
			snprintf(r->text, sizeof(r->text), "%s", reason);
		}
	}
	r->count++;
	if (ref != NULL && r->nrefs < IMP_REF_KEEP)
		snprintf(r->refs[r->nrefs++], sizeof(r->refs[0]), "%s", ref);
}

void
imp_skip(imp_ctx *c, const char *reason, const char *ref)
{
	imp_note(c, 's', reason, ref);
}

void
imp_warn(imp_ctx *c, const char *reason, const char *ref)
{
	imp_note(c, 'w', reason, ref);
}

size_t
imp_reason_count(const imp_ctx *c, const char *reason)
{
	size_t i, n = 0;

	for (i = 0; i < c->nreasons; i++)
		if (strcmp(c->reasons[i].text, reason) == 0)
			n += c->reasons[i].count;
	return n;
}

static size_t
imp_total(const imp_ctx *c, char kind)
{
	size_t i, n = 0;

	for (i = 0; i < c->nreasons; i++)
		if (c->reasons[i].kind == kind)
			n += c->reasons[i].count;
	return n;
}

char *
imp_report_json(const imp_ctx *c)
{
	json_t *root, *sk, *wn, *o, *at;
	size_t i, j;
	char *s;

	if ((root = json_object()) == NULL)
		return NULL;
	sk = json_object();
	wn = json_object();
	json_object_set_new(root, "format", json_string(c->fmt));
	json_object_set_new(root, "imported", json_integer((json_int_t)c->imported));
	json_object_set_new(root, "skipped_total",
	    json_integer((json_int_t)imp_total(c, 's')));
	for (i = 0; i < c->nreasons; i++) {
		const imp_reason *r = &c->reasons[i];

		o = json_object();
		at = json_array();
		for (j = 0; j < r->nrefs; j++)
			json_array_append_new(at, json_string(r->refs[j]));
		json_object_set_new(o, "count", json_integer((json_int_t)r->count));
		json_object_set_new(o, "at", at);
		json_object_set_new(r->kind == 's' ? sk : wn, r->text, o);
	}
	json_object_set_new(root, "skipped", sk);
	json_object_set_new(root, "warnings", wn);
	s = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(root);
	return s;
}

void
imp_report_print(const imp_ctx *c, FILE *f)
{
	size_t i, j;

	fprintf(f, "coffer-import: %s: %zu imported, %zu skipped\n", c->fmt,
	    c->imported, imp_total(c, 's'));
	for (i = 0; i < c->nreasons; i++) {
		const imp_reason *r = &c->reasons[i];

		fprintf(f, "  %s: %s: %zu", r->kind == 's' ? "skipped" : "warning",
		    r->text, r->count);
		for (j = 0; j < r->nrefs; j++)
			fprintf(f, "%s%s", j == 0 ? " (" : ", ", r->refs[j]);
		fprintf(f, "%s\n", r->nrefs == 0 ? "" :
		    r->count > r->nrefs ? ", ...)" : ")");
	}
}

/* -- participants --------------------------------------------------------- */

int
imp_participant(const imp_ctx *c, const char *raw, size_t len,
    char out[IMP_PART_MAX])
{
	char why[200];
	size_t olen = 0;

	if (vault_participant_scope_normalize(raw, len, c->o.default_cc, out,
	    IMP_PART_MAX - 1, &olen, why, sizeof(why)) != 0) {
		out[0] = '\0';
		return -1;
	}
	out[olen] = '\0';
	return 0;
}

static int
imp_contact_cmp(const void *a, const void *b)
{
	return strcmp(((const struct imp_contact *)a)->name,
	    ((const struct imp_contact *)b)->name);
}

int
imp_contact_lookup(const imp_ctx *c, const char *name, size_t len,
    char out[IMP_PART_MAX])
{
	const imp_contacts *ct = c->o.contacts;
	struct imp_contact key, *hit;
	char buf[1024];

	out[0] = '\0';
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, name, len);
	buf[len] = '\0';
	if (c->o.owner_name != NULL && strcmp(buf, c->o.owner_name) == 0) {
		memcpy(out, c->owner, sizeof(c->owner));
		return 0;
	}
	if (ct != NULL && ct->n > 0) {
		key.name = buf;
		hit = bsearch(&key, ct->v, ct->n, sizeof(*ct->v), imp_contact_cmp);
		if (hit != NULL) {
			memcpy(out, hit->part, sizeof(hit->part));
			return 0;
		}
	}
	/* A chat with someone not in the address book shows the number. */
	if (buf[0] == '+')
		return imp_participant(c, buf, len, out);
	return -1;
}

static char *
imp_csv_field(const char **pp, const char *end, int *ok)
{
	const char *p = *pp;
	char *v, *w;

	*ok = 0;
	if ((v = malloc((size_t)(end - p) + 1)) == NULL)
		return NULL;
	w = v;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p < end && *p == '"') {
		p++;
		for (;;) {
			if (p >= end) {
				free(v);
				return NULL;
			}
			if (*p == '"') {
				if (p + 1 < end && p[1] == '"') {
					*w++ = '"';
					p += 2;
					continue;
				}
				p++;
				break;
			}
			*w++ = *p++;
		}
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p < end && *p != ',') {
			free(v);
			return NULL;
		}
	} else {
		while (p < end && *p != ',')
			*w++ = *p++;
		while (w > v && (w[-1] == ' ' || w[-1] == '\t' || w[-1] == '\r'))
			w--;
	}
	*w = '\0';
	if (p < end && *p == ',')
		p++;
	*pp = p;
	*ok = 1;
	return v;
}

int
imp_contacts_load(imp_contacts **out, const char *csv, size_t len,
    const char *default_cc, char *err, size_t err_len)
{
	imp_contacts *ct;
	const char *p = csv, *end = csv + len, *eol;
	size_t lineno = 0, olen, i;
	char why[200];
	int ok;

	*out = NULL;
	if ((ct = calloc(1, sizeof(*ct))) == NULL) {
		imp_errf(err, err_len, "out of memory");
		return -1;
	}
	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (p < end) {
		char *name = NULL, *num = NULL;
		struct imp_contact *nv;

		lineno++;
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		if (eol == p || (eol == p + 1 && *p == '\r')) {
			p = eol + (eol < end);
			continue;
		}
		if (memchr(p, '\0', (size_t)(eol - p)) != NULL)
			goto bad;
		name = imp_csv_field(&p, eol, &ok);
		if (!ok)
			goto bad;
		num = imp_csv_field(&p, eol, &ok);
		if (!ok || p != eol) {
			free(name);
			free(num);
			goto bad;
		}
		p = eol + (eol < end);
		if (lineno == 1 && strcmp(name, "name") == 0 &&
		    strcmp(num, "number") == 0) {
			free(name);
			free(num);
			continue;
		}
		if (name[0] == '\0' || num[0] == '\0' || strlen(name) > 512 ||
		    ct->n >= 100000) {
			free(name);
			free(num);
			goto bad;
		}
		if ((nv = realloc(ct->v, (ct->n + 1) * sizeof(*nv))) == NULL) {
			free(name);
			free(num);
			imp_errf(err, err_len, "out of memory");
			goto fail;
		}
		ct->v = nv;
		nv[ct->n].name = name;
		olen = 0;
		if (vault_participant_scope_normalize(num, strlen(num), default_cc,
		    nv[ct->n].part, IMP_PART_MAX - 1, &olen, why, sizeof(why)) != 0) {
			free(name);
			free(num);
			snprintf(err, err_len, "contacts line %zu: %s", lineno, why);
			goto fail;
		}
		nv[ct->n].part[olen] = '\0';
		ct->n++;
		free(num);
	}
	qsort(ct->v, ct->n, sizeof(*ct->v), imp_contact_cmp);
	for (i = 1; i < ct->n; i++)
		if (strcmp(ct->v[i - 1].name, ct->v[i].name) == 0 &&
		    strcmp(ct->v[i - 1].part, ct->v[i].part) != 0) {
			imp_errf(err, err_len, "contacts: one name with two different "
			    "numbers");
			goto fail;
		}
	*out = ct;
	return 0;
bad:
	snprintf(err, err_len, "contacts line %zu: expected name,number", lineno);
fail:
	imp_contacts_free(&ct);
	return -1;
}

int
imp_contacts_file(imp_contacts **out, const char *path, const char *default_cc,
    char *err, size_t err_len)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	if (imp_read_file(path, 16U << 20, &buf, &len, err, err_len) != 0)
		return -1;
	rc = imp_contacts_load(out, (const char *)buf, len, default_cc, err,
	    err_len);
	sodium_memzero(buf, len);
	free(buf);
	return rc;
}

void
imp_contacts_free(imp_contacts **c)
{
	size_t i;

	if (c == NULL || *c == NULL)
		return;
	for (i = 0; i < (*c)->n; i++)
		free((*c)->v[i].name);
	free((*c)->v);
	free(*c);
	*c = NULL;
}

/* -- participant sets ----------------------------------------------------- */

int
imp_pset_add(imp_pset *s, const char *p)
{
	size_t i;
	char **nv;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->v[i], p) == 0)
			return 0;
	if (s->n >= REC_RECIPIENTS_MAX)
		return 0;                 /* a bigger group is cut: the gateway's bound */
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 8;

		if ((nv = realloc(s->v, nc * sizeof(*nv))) == NULL)
			return -1;
		s->v = nv;
		s->cap = nc;
	}
	if ((s->v[s->n] = strdup(p)) == NULL)
		return -1;
	s->n++;
	return 0;
}

void
imp_pset_free(imp_pset *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

int
imp_recipients(const imp_ctx *c, const imp_pset *s, const char *sender,
    const char ***out, size_t *n)
{
	const char **v;
	size_t i, k = 0;
	int owner_seen = 0;

	*out = NULL;
	*n = 0;
	if ((v = calloc(s->n + 1, sizeof(*v))) == NULL)
		return -1;
	for (i = 0; i < s->n; i++) {
		if (strcmp(s->v[i], c->owner) == 0)
			owner_seen = 1;
		if (strcmp(s->v[i], sender) != 0 && k < REC_RECIPIENTS_MAX)
			v[k++] = s->v[i];
	}
	if (!owner_seen && strcmp(sender, c->owner) != 0 && k < REC_RECIPIENTS_MAX)
		v[k++] = c->owner;
	*out = v;
	*n = k;
	return 0;
}

/* -- ids ------------------------------------------------------------------ */

static void
imp_h_part(crypto_generichash_state *st, const char *s)
{
	unsigned char l[4];
	size_t n = s != NULL ? strlen(s) : 0;

	l[0] = (unsigned char)(n >> 24);
	l[1] = (unsigned char)(n >> 16);
	l[2] = (unsigned char)(n >> 8);
	l[3] = (unsigned char)n;
	crypto_generichash_update(st, l, 4);
	if (n > 0)
		crypto_generichash_update(st, (const unsigned char *)s, n);
}

static uint32_t
imp_ordinal(imp_ctx *c, uint64_t key)
{
	size_t i, mask;

	if (c->ord_n * 2 >= c->ord_cap) {
		size_t nc = c->ord_cap ? c->ord_cap * 2 : 1024, j;
		imp_ord *nv = calloc(nc, sizeof(*nv));

		if (nv == NULL)
			abort();          /* 16 bytes per message, bounded by messages_max */
		for (j = 0; j < c->ord_cap; j++) {
			if (c->ord[j].n == 0)
				continue;
			for (i = c->ord[j].key & (nc - 1); nv[i].n != 0; i = (i + 1) & (nc - 1))
				;
			nv[i] = c->ord[j];
		}
		free(c->ord);
		c->ord = nv;
		c->ord_cap = nc;
	}
	mask = c->ord_cap - 1;
	for (i = key & mask; c->ord[i].n != 0; i = (i + 1) & mask)
		if (c->ord[i].key == key)
			return c->ord[i].n++;
	c->ord[i].key = key;
	c->ord[i].n = 1;
	c->ord_n++;
	return 0;
}

void
imp_id(imp_ctx *c, const char *prefix, const char *scope, long long sent_at_us,
    const char *sender, const char *native, char out[80])
{
	crypto_generichash_state st;
	unsigned char h[16], k[8];
	char num[32], hex[33];
	uint64_t key = 0;
	size_t i;

	snprintf(num, sizeof(num), "%lld", sent_at_us);
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	imp_h_part(&st, "coffer-import-1");
	imp_h_part(&st, prefix);
	imp_h_part(&st, scope);
	if (native != NULL) {
		imp_h_part(&st, "native");
		imp_h_part(&st, native);
	} else {
		crypto_generichash_state ks = st;

		imp_h_part(&ks, num);
		imp_h_part(&ks, sender);
		crypto_generichash_final(&ks, k, sizeof(k));
		for (i = 0; i < 8; i++)
			key = key << 8 | k[i];
		snprintf(hex, sizeof(hex), "%u", imp_ordinal(c, key));
		imp_h_part(&st, num);
		imp_h_part(&st, sender);
		imp_h_part(&st, hex);
	}
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	snprintf(out, 80, "%s-%s", prefix, hex);
}

/* -- time ----------------------------------------------------------------- */

static int
imp_days_in(int y, int mo)
{
	static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (mo == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return d[mo - 1];
}

int
imp_local_time(imp_ctx *c, int y, int mo, int d, int h, int mi, int s,
    long long *prev_us, long long *out_us, const char *ref)
{
	struct tm tm, lt;
	time_t t0, cand[2], t;
	long offs[5];
	size_t noffs = 0, ncand = 0, i, j;
	static const long probe[] = { -172800, -86400, 0, 86400, 172800 };

	*out_us = 0;
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 ||
	    d > imp_days_in(y, mo) || h < 0 || h > 23 || mi < 0 || mi > 59 ||
	    s < 0 || s > 60)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s == 60 ? 59 : s;
	t0 = timegm(&tm);
	if (c->o.tz == NULL) {
		*out_us = (long long)t0 * 1000000LL;
		goto done;
	}
	/* Every offset the zone has near this day, then the instants that
	 * read back as this wall-clock time: 1 normally, 2 in a repeated hour,
	 * 0 in a skipped one. */
	for (i = 0; i < 5; i++) {
		t = t0 + probe[i];
		if (localtime_r(&t, &lt) == NULL)
			return -1;
		for (j = 0; j < noffs; j++)
			if (offs[j] == lt.tm_gmtoff)
				break;
		if (j == noffs)
			offs[noffs++] = lt.tm_gmtoff;
	}
	for (i = 0; i < noffs && ncand < 2; i++) {
		t = t0 - offs[i];
		if (localtime_r(&t, &lt) == NULL)
			return -1;
		if (lt.tm_year == tm.tm_year && lt.tm_mon == tm.tm_mon &&
		    lt.tm_mday == tm.tm_mday && lt.tm_hour == tm.tm_hour &&
		    lt.tm_min == tm.tm_min && lt.tm_sec == tm.tm_sec) {
			for (j = 0; j < ncand; j++)
				if (cand[j] == t)
					break;
			if (j == ncand)
				cand[ncand++] = t;
		}
	}
	if (ncand == 1) {
		*out_us = (long long)cand[0] * 1000000LL;
	} else if (ncand == 2) {
		time_t lo = cand[0] < cand[1] ? cand[0] : cand[1];
		time_t hi = cand[0] < cand[1] ? cand[1] : cand[0];

		imp_warn(c, "ambiguous local time (clock went back)", ref);
		*out_us = (long long)lo * 1000000LL;
		if (prev_us != NULL && *out_us < *prev_us)
			*out_us = (long long)hi * 1000000LL;
	} else {
		/* In the gap: the offset in force before it. */
		t = t0 - 86400;
		if (localtime_r(&t, &lt) == NULL)
			return -1;
		imp_warn(c, "nonexistent local time (clock went forward)", ref);
		*out_us = ((long long)t0 - lt.tm_gmtoff) * 1000000LL;
	}
done:
	if (prev_us != NULL && *out_us > *prev_us)
		*prev_us = *out_us;
	return 0;
}

/* -- files and media ------------------------------------------------------ */

static int
imp_read_fd(int fd, size_t max, unsigned char **out, size_t *len)
{
	struct stat st;
	unsigned char *buf;
	size_t got = 0;
	ssize_t r;

	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		return -1;
	if ((uint64_t)st.st_size > max)
		return -2;
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		return -1;
	while (got < (size_t)st.st_size) {
		r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(buf);
			return -1;
		}
		got += (size_t)r;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return 0;
}

int
imp_read_file(const char *path, size_t max, unsigned char **out, size_t *len,
    char *err, size_t err_len)
{
	int fd, rc;

	*out = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0) {
		snprintf(err, err_len, "cannot open %.200s: %s", path,
		    strerror(errno));
		return -1;
	}
	rc = imp_read_fd(fd, max, out, len);
	close(fd);
	if (rc == -2) {
		snprintf(err, err_len, "%.200s: larger than %zu bytes", path, max);
		return -1;
	}
	if (rc != 0) {
		snprintf(err, err_len, "%.200s: not a readable regular file", path);
		return -1;
	}
	return 0;
}

int
imp_media_dir(imp_media **out, const char *dir, char *err, size_t err_len)
{
	imp_media *m;

	*out = NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		imp_errf(err, err_len, "out of memory");
		return -1;
	}
	m->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (m->dirfd < 0) {
		snprintf(err, err_len, "cannot open directory %.200s: %s", dir,
		    strerror(errno));
		free(m);
		return -1;
	}
	*out = m;
	return 0;
}

int
imp_media_zip(imp_media **out, const unsigned char *zip, size_t len,
    const imp_limits *lim, char *err, size_t err_len)
{
	struct archive *a;
	struct archive_entry *ae;
	imp_media *m;
	size_t total = 0;
	char lm[128];
	int r;

	*out = NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		imp_errf(err, err_len, "out of memory");
		return -1;
	}
	m->dirfd = -1;
	if ((a = archive_read_new()) == NULL) {
		free(m);
		imp_errf(err, err_len, "out of memory");
		return -1;
	}
	archive_read_support_format_zip(a);
	archive_read_support_filter_none(a);
	if (archive_read_open_memory(a, zip, len) != ARCHIVE_OK) {
		snprintf(err, err_len, "zip: %s", imp_lib_msg(archive_error_string(a),
		    lm, sizeof(lm)));
		goto fail;
	}
	while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(ae);
		la_int64_t sz = archive_entry_size(ae);
		struct imp_ent *nv;
		unsigned char *buf;
		size_t got = 0, cap, limit;
		la_ssize_t n = 0;

		if (archive_entry_filetype(ae) != AE_IFREG || name == NULL)
			continue;
		if (m->n >= lim->entries_max) {
			snprintf(err, err_len, "zip: more than %zu entries",
			    lim->entries_max);
			goto fail;
		}
		/* the size is the central directory's, or unknown (-1) for an
		 * entry written with a data descriptor: read to the end either
		 * way, never past the bounds */
		limit = lim->input_max < lim->archive_max - total ?
		    lim->input_max : lim->archive_max - total;
		if (sz >= 0 && (uint64_t)sz > limit) {
			snprintf(err, err_len, "zip: entry %zu: more than %zu bytes in "
			    "all", m->n + 1, lim->archive_max);
			goto fail;
		}
		cap = sz >= 0 ? (size_t)sz + 1 : (limit < 65536 ? limit + 1 : 65536);
		if ((buf = malloc(cap + 1)) == NULL) {
			imp_errf(err, err_len, "out of memory");
			goto fail;
		}
		for (;;) {
			if (got == cap) {
				unsigned char *nb;
				size_t nc = cap > (limit + 1) / 2 ? limit + 1 : cap * 2;

				if (got > limit || nc <= cap ||
				    (nb = realloc(buf, nc + 1)) == NULL) {
					free(buf);
					snprintf(err, err_len, "zip: entry %zu: more than %zu "
					    "bytes in all", m->n + 1, lim->archive_max);
					goto fail;
				}
				buf = nb;
				cap = nc;
			}
			n = archive_read_data(a, buf + got, cap - got);
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		if (n < 0 || got > limit || (sz >= 0 && got != (size_t)sz)) {
			free(buf);
			if (got > limit)
				snprintf(err, err_len, "zip: entry %zu: more than %zu "
				    "bytes in all", m->n + 1, lim->archive_max);
			else
				snprintf(err, err_len, "zip: entry %zu: %s", m->n + 1,
				    imp_lib_msg(archive_error_string(a), lm, sizeof(lm)));
			goto fail;
		}
		buf[got] = '\0';
		total += got;
		if ((nv = realloc(m->e, (m->n + 1) * sizeof(*nv))) == NULL ||
		    (nv[m->n].name = strdup(name)) == NULL) {
			if (nv != NULL)
				m->e = nv;
			free(buf);
			imp_errf(err, err_len, "out of memory");
			goto fail;
		}
		m->e = nv;
		nv[m->n].data = buf;
		nv[m->n].len = got;
		m->n++;
	}
	if (r != ARCHIVE_EOF) {
		snprintf(err, err_len, "zip: entry %zu: %s", m->n + 1,
		    imp_lib_msg(archive_error_string(a), lm, sizeof(lm)));
		goto fail;
	}
	archive_read_free(a);
	*out = m;
	return 0;
fail:
	archive_read_free(a);
	imp_media_free(&m);
	return -1;
}

void
imp_media_free(imp_media **m)
{
	size_t i;

	if (m == NULL || *m == NULL)
		return;
	if ((*m)->dirfd >= 0)
		close((*m)->dirfd);
	for (i = 0; i < (*m)->n; i++) {
		free((*m)->e[i].name);
		sodium_memzero((*m)->e[i].data, (*m)->e[i].len);
		free((*m)->e[i].data);
	}
	free((*m)->e);
	free(*m);
	*m = NULL;
}

size_t
imp_media_count(const imp_media *m)
{
	return m != NULL ? m->n : 0;
}

const char *
imp_media_name(const imp_media *m, size_t i)
{
	return m != NULL && i < m->n ? m->e[i].name : NULL;
}

const unsigned char *
imp_media_entry(const imp_media *m, const char *name, size_t *len)
{
	size_t i;

	*len = 0;
	if (m == NULL)
		return NULL;
	for (i = 0; i < m->n; i++)
		if (strcmp(m->e[i].name, name) == 0) {
			*len = m->e[i].len;
			return m->e[i].data;
		}
	return NULL;
}

/* A name the export gives for a media file: relative, no "." or ".."
 * component, no backslash, no control byte.  Returns 1 if acceptable. */
static int
imp_media_name_ok(const char *name)
{
	const char *p = name, *seg;
	size_t n = strlen(name);

	if (n == 0 || n > 1024 || name[0] == '/')
		return 0;
	for (; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == '\\' || *p == 0x7f)
			return 0;
	for (seg = name;;) {
		const char *sl = strchr(seg, '/');
		size_t l = sl != NULL ? (size_t)(sl - seg) : strlen(seg);

		if (l == 0 || (l == 1 && seg[0] == '.') ||
		    (l == 2 && seg[0] == '.' && seg[1] == '.'))
			return 0;
		if (sl == NULL)
			break;
		seg = sl + 1;
	}
	return 1;
}

/* 0 found, 1 missing, 2 too large, -1 error. */
static int
imp_media_get(const imp_media *m, const char *name, size_t max,
    unsigned char **data, size_t *len)
{
	struct open_how how;
	const unsigned char *e;
	int fd, rc;

	*data = NULL;
	*len = 0;
	if (m == NULL)
		return 1;
	if (m->dirfd < 0) {
		if ((e = imp_media_entry(m, name, len)) == NULL)
			return 1;
		if (*len > max)
			return 2;
		if ((*data = malloc(*len + 1)) == NULL)
			return -1;
		memcpy(*data, e, *len);
		return 0;
	}
	/* Beneath the directory, no symlink anywhere on the way; a kernel
	 * without openat2 gets the name checks and O_NOFOLLOW on the file. */
	memset(&how, 0, sizeof(how));
	how.flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
	fd = (int)syscall(SYS_openat2, m->dirfd, name, &how, sizeof(how));
	if (fd < 0 && (errno == ENOSYS || errno == EPERM))
		fd = openat(m->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
		    O_NONBLOCK);
	if (fd < 0)
		return 1;
	rc = imp_read_fd(fd, max, data, len);
	close(fd);
	if (rc == -2)
		return 2;
	return rc == 0 ? 0 : 1;
}

static const struct {
	const char *ext, *type;
} imp_mimes[] = {
	{ "jpg", "image/jpeg" }, { "jpeg", "image/jpeg" }, { "png", "image/png" },
	{ "gif", "image/gif" }, { "webp", "image/webp" }, { "heic", "image/heic" },
	{ "bmp", "image/bmp" }, { "tif", "image/tiff" }, { "tiff", "image/tiff" },
	{ "mp4", "video/mp4" }, { "mov", "video/quicktime" }, { "3gp", "video/3gpp" },
	{ "webm", "video/webm" }, { "mp3", "audio/mpeg" }, { "m4a", "audio/mp4" },
	{ "aac", "audio/aac" }, { "opus", "audio/ogg" }, { "ogg", "audio/ogg" },
	{ "amr", "audio/amr" }, { "wav", "audio/wav" }, { "caf", "audio/x-caf" },
	{ "pdf", "application/pdf" }, { "txt", "text/plain" },
	{ "vcf", "text/vcard" }, { "html", "text/html" }, { "json", "application/json" },
	{ "zip", "application/zip" }, { "doc", "application/msword" },
	{ "docx", "application/vnd.openxmlformats-officedocument."
	  "wordprocessingml.document" },
	{ "xlsx", "application/vnd.openxmlformats-officedocument."
	  "spreadsheetml.sheet" },
	{ "tgs", "application/x-tgsticker" },
};

const char *
imp_mime_of(const char *name)
{
	const char *dot = strrchr(name, '.');
	char ext[8];
	size_t i, n;

	if (dot == NULL || strchr(dot, '/') != NULL)
		return "application/octet-stream";
	n = strlen(dot + 1);
	if (n == 0 || n >= sizeof(ext))
		return "application/octet-stream";
	for (i = 0; i < n; i++)
		ext[i] = (char)((dot[1 + i] >= 'A' && dot[1 + i] <= 'Z') ?
		    dot[1 + i] + 32 : dot[1 + i]);
	ext[n] = '\0';
	for (i = 0; i < sizeof(imp_mimes) / sizeof(imp_mimes[0]); i++)
		if (strcmp(imp_mimes[i].ext, ext) == 0)
			return imp_mimes[i].type;
	return "application/octet-stream";
}

int
imp_attach_bytes(imp_att *out, const char *name, const char *type,
    const unsigned char *data, size_t len)
{
	size_t cap;

	memset(out, 0, sizeof(*out));
	if (len > SIZE_MAX / 2)
		return -1;
	cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	if ((out->name = strdup(name)) == NULL ||
	    (out->data_b64 = malloc(cap)) == NULL) {
		imp_att_clear(out);
		return -1;
	}
	out->type = type != NULL ? type : imp_mime_of(name);
	sodium_bin2base64(out->data_b64, cap, data, len,
	    sodium_base64_VARIANT_ORIGINAL);
	return 0;
}

int
imp_attach(imp_ctx *c, imp_media *m, const char *dir_prefix, const char *name,
    const char *type, imp_att *out, const char *ref)
{
	char path[2100];
	unsigned char *data = NULL;
	size_t len = 0;
	const char *base;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!imp_media_name_ok(name)) {
		imp_warn(c, "attachment name refused (absolute, .. or control "
		    "characters)", ref);
		return 1;
	}
	snprintf(path, sizeof(path), "%s%s%s", dir_prefix ? dir_prefix : "",
	    dir_prefix && dir_prefix[0] ? "/" : "", name);
	base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
	rc = imp_media_get(m, path, c->o.lim.media_max, &data, &len);
	if (rc < 0)
		return -1;
	if (rc == 1)
		imp_warn(c, "media missing (attachment without data)", ref);
	else if (rc == 2)
		imp_warn(c, "media over --max-media (attachment without data)", ref);
	rc = imp_attach_bytes(out, base, type, data, rc == 0 ? len : 0);
	if (data != NULL) {
		sodium_memzero(data, len);
		free(data);
	}
	return rc;
}

int
imp_att_set_type(imp_att *a, const char *type)
{
	size_t nl = strlen(a->name), tl = strlen(type);
	char *both = malloc(nl + 1 + tl + 1);

	if (both == NULL)
		return -1;
	memcpy(both, a->name, nl + 1);
	memcpy(both + nl + 1, type, tl + 1);
	free(a->name);
	a->name = both;
	a->type = both + nl + 1;
	return 0;
}

void
imp_att_clear(imp_att *a)
{
	free(a->name);
	if (a->data_b64 != NULL) {
		sodium_memzero(a->data_b64, strlen(a->data_b64));
		free(a->data_b64);
	}
	memset(a, 0, sizeof(*a));
}

/* -- emitting -------------------------------------------------------------- */

int
imp_count_message(imp_ctx *c, char *err, size_t err_len)
{
	if (++c->messages > c->o.lim.messages_max) {
		snprintf(err, err_len, "more than %zu messages (--max-messages)",
		    c->o.lim.messages_max);
		return -1;
	}
	return 0;
}

static void
imp_time_fmt(long long us, char out[40])
{
	time_t t = (time_t)(us >= 0 ? us / 1000000 : (us - 999999) / 1000000);
	long long frac = us - (long long)t * 1000000LL;
	struct tm tm;
	size_t n;

	gmtime_r(&t, &tm);
	n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	if (frac == 0)
		snprintf(out + n, 40 - n, "Z");
	else if (frac % 1000 == 0)
		snprintf(out + n, 40 - n, ".%03lldZ", frac / 1000);
	else
		snprintf(out + n, 40 - n, ".%06lldZ", frac);
}

int
imp_emit(imp_ctx *c, const imp_msg *m, const char *id, const char *ref,
    char *err, size_t err_len)
{
	json_t *o = NULL, *rc = NULL, *at = NULL, *a;
	char when[40], reason[REC_REASON_MAX];
	rec_checked chk;
	char *line = NULL;
	size_t i, len;
	int ret = -1;

	if (m->n_recipients == 0) {
		imp_skip(c, "no recipient (the only participant is the sender)", ref);
		return 0;
	}
	if (m->body_len > c->o.lim.body_max) {
		imp_skip(c, "body over --max-body", ref);
		return 0;
	}
	imp_time_fmt(m->sent_at_us, when);
	o = json_object();
	rc = json_array();
	if (o == NULL || rc == NULL)
		goto oom;
	for (i = 0; i < m->n_recipients; i++)
		if (json_array_append_new(rc, json_string(m->recipients[i])) != 0)
			goto oom;
	if (json_object_set_new(o, "id", json_string(id)) != 0 ||
	    json_object_set_new(o, "channel", json_string(m->channel)) != 0 ||
	    json_object_set_new(o, "direction", json_string(
	    strcmp(m->sender, c->owner) == 0 ? "out" : "in")) != 0 ||
	    json_object_set_new(o, "sent_at", json_string(when)) != 0 ||
	    json_object_set(o, "recipients", rc) != 0)
		goto oom;
	/* json_stringn refuses invalid UTF-8: such a field is a skip. */
	if ((a = json_stringn(m->conversation, strlen(m->conversation))) == NULL ||
	    json_object_set_new(o, "conversation", a) != 0 ||
	    (a = json_stringn(m->sender, strlen(m->sender))) == NULL ||
	    json_object_set_new(o, "sender", a) != 0 ||
	    (a = json_stringn(m->body != NULL ? m->body : "", m->body_len)) == NULL ||
	    json_object_set_new(o, "body", a) != 0) {
		imp_skip(c, "invalid UTF-8 or NUL in a field", ref);
		ret = 0;
		goto done;
	}
	if (m->n_atts > 0) {
		if ((at = json_array()) == NULL)
			goto oom;
		for (i = 0; i < m->n_atts && i < REC_ATTACHMENTS_MAX; i++) {
			json_t *name = json_string(m->atts[i].name);

			if (name == NULL) {
				imp_skip(c, "invalid UTF-8 or NUL in a field", ref);
				ret = 0;
				goto done;
			}
			if ((a = json_object()) == NULL ||
			    json_object_set_new(a, "name", name) != 0 ||
			    json_object_set_new(a, "type", json_string(m->atts[i].type)) != 0 ||
			    json_object_set_new(a, "data", json_string(m->atts[i].data_b64)) != 0 ||
			    json_array_append_new(at, a) != 0)
				goto oom;
		}
		if (m->n_atts > REC_ATTACHMENTS_MAX)
			imp_warn(c, "more than 256 attachments (the rest dropped)", ref);
		if (json_object_set(o, "attachments", at) != 0)
			goto oom;
	}
	if ((line = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		goto oom;
	len = strlen(line);
	if (len > c->o.lim.line_max && at != NULL) {
		/* the message without its attachments' data rather than not at
		 * all: names and types stay */
		json_t *a2;

		json_array_foreach(at, i, a2)
			if (json_object_set_new(a2, "data", json_string("")) != 0)
				goto oom;
		sodium_memzero(line, len);
		free(line);
		if ((line = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
			goto oom;
		len = strlen(line);
		if (len <= c->o.lim.line_max)
			imp_warn(c, "record over --max-line: attachments without data",
			    ref);
	}
	if (len > c->o.lim.line_max) {
		imp_skip(c, "record over --max-line (the gateway's max_line_bytes)",
		    ref);
		ret = 0;
		goto done;
	}
	if (rec_check(&chk, line, len, "coffer-import", 13, reason,
	    sizeof(reason)) != 0) {
		imp_skip(c, reason, ref);
		ret = 0;
		goto done;
	}
	rec_checked_clear(&chk);
	if (c->sink(c->sink_arg, line, len) != 0) {
		imp_errf(err, err_len, "cannot write the output");
		goto done;
	}
	c->imported++;
	ret = 0;
	goto done;
oom:
	imp_errf(err, err_len, "out of memory");
done:
	if (line != NULL) {
		sodium_memzero(line, strlen(line));
		free(line);
	}
	json_decref(at);
	json_decref(rc);
	json_decref(o);
	return ret;
}
