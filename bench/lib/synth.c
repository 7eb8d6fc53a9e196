/* bench/lib/synth.c — deterministic synthetic message records (synth.h).
 *
 * Every random choice is a pure function of (seed, what, index): records
 * can be made in any order, by any thread, and come out the same.  The
 * generator is splitmix64, which is plenty for picking words and numbers
 * and costs a few nanoseconds: the load generator shares two cores with
 * the gateway and PostgreSQL, so its own cost must stay small.
 *
 * Trusts nothing from outside but its configuration; produces only
 * printable, JSON-safe strings (no quote, backslash or control byte), so the
 * lines need no escaping.
 */
#include "bench/lib/synth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#define SYNTH_CONTACTS      120U  /* contact book of one device */
#define SYNTH_CONVS         96U   /* conversations of one device */
#define SYNTH_EXT_PER_DEV   100U  /* outside people per device, shared pool */
#define SYNTH_BASE_US       1767225600000000LL   /* 2026-01-01T00:00:00Z */
#define SYNTH_STEP_US       20000LL              /* 50 records/s overall */

/* Salts: one per kind of choice, so two choices never share a stream. */
enum {
	S_PERSON = 1, S_CONTACT, S_CONV, S_RECORD, S_BODY, S_ATTACH
};

static const char *const words[] = {
	"the", "meeting", "is", "moved", "to", "tomorrow", "please", "confirm",
	"client", "order", "price", "trade", "settlement", "call", "me", "when",
	"you", "can", "ok", "thanks", "sent", "the", "deck", "review", "numbers",
	"for", "Q3", "before", "noon", "lunch", "at", "one", "desk", "bond",
	"yield", "spread", "update", "on", "the", "deal", "signed", "term",
	"sheet", "counterparty", "risk", "limits", "approved", "pending", "hold",
	"market", "opens", "at", "nine", "we", "should", "talk", "about", "it",
	"later", "see", "attached", "draft", "fine", "by", "me", "agreed",
	"Zürich", "office", "café", "€", "budget", "déjà", "vu", "naïve",
	"straße", "日本", "市场", "👍", "🙂", "✅", "FX", "EUR/USD", "hedge",
	"notional", "5m", "10bp", "EOD", "T+2", "confirmations", "booked",
	"cancelled", "amended", "ticket", "compliance", "check", "KYC", "docs",
	"invoice", "overdue", "shipment", "arrives", "Monday", "Friday",
	"flight", "landed", "traffic", "running", "late", "sorry", "np",
	"will", "do", "call", "back", "in", "5", "min", "can't", "talk", "now",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

static const char *const firsts[] = {
	"anna", "ben", "carla", "dev", "elena", "farid", "grace", "hiro",
	"ines", "jonas", "kavya", "liam", "mei", "nico", "olga", "pedro",
	"quinn", "rosa", "sam", "tariq", "uma", "victor", "wen", "yusuf",
};
static const char *const lasts[] = {
	"meyer", "okafor", "rossi", "tanaka", "silva", "novak", "dubois",
	"kowalski", "haddad", "lindqvist", "chen", "murphy", "garcia", "ivanova",
	"schmidt", "patel",
};
static const char *const domains[] = {
	"partner.example", "client-bank.example", "fund.example",
	"broker.example", "mail.example", "law-firm.example",
};

typedef struct chan {
	const char *name;
	const char *prefix;
	unsigned    weight;   /* out of 1000 */
} chan;

static const chan channels[] = {
	{ "whatsapp", "wa",  330 },
	{ "signal",   "sg",  160 },
	{ "sms",      "sms", 140 },
	{ "telegram", "tg",  100 },
	{ "rcs",      "rcs",  80 },
	{ "imessage", "im",   70 },
	{ "wechat",   "wc",   50 },
	{ "email",    "em",   40 },
	{ "voice",    "vc",   20 },
	{ "mms",      "mms",  10 },
};
#define NCHANNELS (sizeof(channels) / sizeof(channels[0]))

/* Country code and how many national digits follow (mobile ranges). */
typedef struct cc {
	const char *prefix;
	unsigned    digits;
	unsigned    weight;   /* out of 100 */
} cc;

static const cc countries[] = {
	{ "+1",    10, 45 },
	{ "+447",   9, 20 },
	{ "+4915",  9, 10 },
	{ "+336",   8,  8 },
	{ "+8529",  7,  9 },
	{ "+659",   7,  8 },
};
#define NCOUNTRIES (sizeof(countries) / sizeof(countries[0]))

uint64_t
synth_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t
h3(uint64_t seed, uint64_t salt, uint64_t a, uint64_t b)
{
	return synth_mix(synth_mix(synth_mix(seed ^ (salt << 56)) ^ a) ^
	    (b * 0x2545f4914f6cdd1dULL));
}

/* Next value of a splitmix stream. */
static uint64_t
next(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ULL;
	return synth_mix(*s);
}

int
synth_cfg_check(const synth_cfg *c, char *err, size_t err_len)
{
	if (c->devices == 0 || c->devices > 1000000) {
		snprintf(err, err_len, "devices must be 1..1000000");
		return -1;
	}
	if (c->batch == 0) {
		snprintf(err, err_len, "batch must be at least 1");
		return -1;
	}
	if (c->body_size < 16 || c->body_size > 4U * 1024U * 1024U) {
		snprintf(err, err_len, "size must be 16..4194304 bytes");
		return -1;
	}
	if (c->attach_pct > 100) {
		snprintf(err, err_len, "attachment share must be 0..100 %%");
		return -1;
	}
	if (c->attach_pct > 0 &&
	    (c->attach_bytes == 0 || c->attach_bytes > 8U * 1024U * 1024U)) {
		snprintf(err, err_len, "attachment bytes must be 1..8388608");
		return -1;
	}
	return 0;
}

unsigned
synth_device_of(const synth_cfg *c, uint64_t index)
{
	return (unsigned)((index / c->batch) % c->devices);
}

void
synth_device_name(unsigned device, char *out, size_t cap)
{
	snprintf(out, cap, "bench-dev-%05u", device);
}

/* People: 0..devices-1 are the device owners (colleagues), the others are
 * outside contacts from a pool shared by all devices. */
static uint64_t
person_external(const synth_cfg *c, uint64_t h)
{
	uint64_t pool = (uint64_t)c->devices * SYNTH_EXT_PER_DEV;

	return c->devices + h % pool;
}

static void
person_phone(const synth_cfg *c, uint64_t person, char *out, size_t cap)
{
	uint64_t h = h3(c->seed, S_PERSON, person, 1);
	unsigned w = (unsigned)(h % 100), acc = 0, i, k;
	const cc *ct = &countries[0];
	size_t len;

	for (i = 0; i < NCOUNTRIES; i++) {
		acc += countries[i].weight;
		if (w < acc) {
			ct = &countries[i];
			break;
		}
	}
	len = (size_t)snprintf(out, cap, "%s", ct->prefix);
	h = synth_mix(h);
	for (k = 0; k < ct->digits && len + 1 < cap; k++) {
		unsigned d = (unsigned)(h % 10);

		/* NANP: area code and exchange never start with 0 or 1. */
		if (ct->prefix[1] == '1' && ct->prefix[2] == '\0' &&
		    (k == 0 || k == 3) && d < 2)
			d += 2;
		out[len++] = (char)('0' + d);
		h /= 10;
		if (h < 10)
			h = synth_mix(h + k);
	}
	out[len] = '\0';
}

static void
person_email(const synth_cfg *c, uint64_t person, char *out, size_t cap)
{
	uint64_t h = h3(c->seed, S_PERSON, person, 2);
	const char *first = firsts[h % (sizeof(firsts) / sizeof(firsts[0]))];
	const char *last = lasts[(h >> 16) % (sizeof(lasts) / sizeof(lasts[0]))];

	if (person < c->devices)
		snprintf(out, cap, "%s.%s%llu@corp.example", first, last,
		    (unsigned long long)person);
	else
		snprintf(out, cap, "%s.%s%llu@%s", first, last,
		    (unsigned long long)person,
		    domains[(h >> 32) % (sizeof(domains) / sizeof(domains[0]))]);
}

void
synth_owner(const synth_cfg *c, unsigned device, char *phone,
    size_t phone_cap, char *email, size_t email_cap)
{
	person_phone(c, device, phone, phone_cap);
	person_email(c, device, email, email_cap);
}

/* Contact j of device d (a person id, never the owner). */
static uint64_t
contact_of(const synth_cfg *c, unsigned d, unsigned j)
{
	uint64_t h = h3(c->seed, S_CONTACT, d, j);

	if (c->devices > 1 && h % 100 < 30) {
		uint64_t p = (h >> 8) % c->devices;

		return p == d ? (p + 1) % c->devices : p;
	}
	return person_external(c, h >> 8);
}

typedef struct conv {
	const chan *ch;
	unsigned    nmembers;                  /* contacts besides the owner */
	uint64_t    members[SYNTH_PARTS_MAX - 1];
	uint64_t    h;
} conv;

static void
conv_of(const synth_cfg *c, unsigned d, unsigned ci, conv *cv)
{
	uint64_t h = h3(c->seed, S_CONV, d, ci), s = h;
	unsigned w = (unsigned)(h % 1000), acc = 0, i;

	cv->ch = &channels[0];
	for (i = 0; i < NCHANNELS; i++) {
		acc += channels[i].weight;
		if (w < acc) {
			cv->ch = &channels[i];
			break;
		}
	}
	cv->h = h;
	/* A fifth are groups of 2..7 contacts (voice calls stay 1:1). */
	if (next(&s) % 100 < 20 && strcmp(cv->ch->name, "voice") != 0)
		cv->nmembers = 2 + (unsigned)(next(&s) % 6);
	else
		cv->nmembers = 1;
	for (i = 0; i < cv->nmembers; i++)
		cv->members[i] = contact_of(c, d,
		    (unsigned)(next(&s) % SYNTH_CONTACTS));
}

static void
addr(const synth_cfg *c, const conv *cv, uint64_t person, char *out,
    size_t cap)
{
	if (strcmp(cv->ch->name, "email") == 0)
		person_email(c, person, out, cap);
	else
		person_phone(c, person, out, cap);
}

static int
ensure(synth_rec *r, size_t need)
{
	char *p;
	size_t cap;

	if (need <= r->line_cap)
		return 0;
	cap = r->line_cap ? r->line_cap : 4096;
	while (cap < need)
		cap *= 2;
	p = realloc(r->line, cap);
	if (p == NULL)
		return -1;
	r->line = p;
	r->line_cap = cap;
	return 0;
}

static void
put(synth_rec *r, const char *s, size_t n)
{
	memcpy(r->line + r->line_len, s, n);
	r->line_len += n;
}

static void
puts_(synth_rec *r, const char *s)
{
	put(r, s, strlen(s));
}

int
synth_make(const synth_cfg *c, uint64_t index, synth_rec *r)
{
	uint64_t s = h3(c->seed, S_RECORD, index, 0), u;
	unsigned d = synth_device_of(c, index), ci, i, att;
	size_t body_target, b64_len = 0, need;
	char ts[64];
	struct tm tm;
	time_t secs;
	conv cv;

	r->device = d;
	snprintf(r->id, sizeof(r->id), "%llx-%llu",
	    (unsigned long long)(c->seed & 0xffffffffULL),
	    (unsigned long long)index);
	/* Skewed: a few conversations carry most of the traffic. */
	u = next(&s) % 1000000;
	{
		double x = (double)u / 1e6;

		ci = (unsigned)(x * x * x * SYNTH_CONVS);
	}
	conv_of(c, d, ci, &cv);
	r->channel = cv.ch->name;
	snprintf(r->conversation, sizeof(r->conversation), "%s-%05u-%016llx",
	    cv.ch->prefix, d, (unsigned long long)cv.h);
	r->outgoing = next(&s) % 100 < 45;
	if (r->outgoing) {
		addr(c, &cv, d, r->parts[0], SYNTH_ADDR_MAX);
		for (i = 0; i < cv.nmembers; i++)
			addr(c, &cv, cv.members[i], r->parts[1 + i], SYNTH_ADDR_MAX);
		r->nparts = 1 + cv.nmembers;
	} else {
		unsigned from = (unsigned)(next(&s) % cv.nmembers), k = 1;

		addr(c, &cv, cv.members[from], r->parts[0], SYNTH_ADDR_MAX);
		addr(c, &cv, d, r->parts[k++], SYNTH_ADDR_MAX);
		for (i = 0; i < cv.nmembers; i++)
			if (i != from)
				addr(c, &cv, cv.members[i], r->parts[k++],
				    SYNTH_ADDR_MAX);
		r->nparts = k;
	}
	r->sent_at_us = SYNTH_BASE_US + (long long)index * SYNTH_STEP_US +
	    (long long)(next(&s) % 5000);
	secs = (time_t)(r->sent_at_us / 1000000);
	if (gmtime_r(&secs, &tm) == NULL)
		return -1;
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, (long long)(r->sent_at_us % 1000000));

	body_target = c->body_size * 3 / 4 +
	    (size_t)(next(&s) % (c->body_size / 2 + 1));
	att = c->attach_pct > 0 && next(&s) % 100 < c->attach_pct;
	if (att)
		b64_len = sodium_base64_ENCODED_LEN(c->attach_bytes,
		    sodium_base64_VARIANT_ORIGINAL);
	need = 512 + r->nparts * (SYNTH_ADDR_MAX + 4) + body_target + 32 +
	    b64_len + 128;
	if (ensure(r, need) != 0)
		return -1;

	r->line_len = 0;
	puts_(r, "{\"id\":\"");
	puts_(r, r->id);
	puts_(r, "\",\"channel\":\"");
	puts_(r, r->channel);
	puts_(r, "\",\"conversation\":\"");
	puts_(r, r->conversation);
	puts_(r, r->outgoing ? "\",\"direction\":\"out\",\"sender\":\"" :
	    "\",\"direction\":\"in\",\"sender\":\"");
	puts_(r, r->parts[0]);
	puts_(r, "\",\"recipients\":[");
	for (i = 1; i < r->nparts; i++) {
		if (i > 1)
			put(r, ",", 1);
		put(r, "\"", 1);
		puts_(r, r->parts[i]);
		put(r, "\"", 1);
	}
	puts_(r, "],\"sent_at\":\"");
	puts_(r, ts);
	puts_(r, "\",\"body\":\"");
	{
		size_t start = r->line_len;
		uint64_t bs = h3(c->seed, S_BODY, index, 0);

		while (r->line_len - start < body_target) {
			uint64_t x = next(&bs);
			const char *w = words[x % NWORDS];

			if (r->line_len != start)
				put(r, (x >> 32) % 11 == 0 ? ". " : " ", (x >> 32) % 11 == 0 ? 2 : 1);
			puts_(r, w);
		}
		r->body_len = r->line_len - start;
	}
	put(r, "\"", 1);
	if (att) {
		uint64_t as = h3(c->seed, S_ATTACH, index, 0);
		size_t k;

		if (r->scratch_cap < c->attach_bytes) {
			unsigned char *p = realloc(r->scratch, c->attach_bytes);

			if (p == NULL)
				return -1;
			r->scratch = p;
			r->scratch_cap = c->attach_bytes;
		}
		for (k = 0; k < c->attach_bytes; k += 8) {
			uint64_t x = next(&as);
			size_t n = c->attach_bytes - k < 8 ? c->attach_bytes - k : 8;

			memcpy(r->scratch + k, &x, n);
		}
		puts_(r, ",\"attachments\":[{\"name\":\"IMG_");
		{
			char num[24];

			snprintf(num, sizeof(num), "%04u", (unsigned)(as % 10000));
			puts_(r, num);
		}
		puts_(r, ".jpg\",\"type\":\"image/jpeg\",\"data\":\"");
		sodium_bin2base64(r->line + r->line_len, b64_len, r->scratch,
		    c->attach_bytes, sodium_base64_VARIANT_ORIGINAL);
		r->line_len += b64_len - 1;          /* without its NUL */
		puts_(r, "\"}]");
	}
	put(r, "}", 1);
	r->line[r->line_len] = '\0';
	return 0;
}

void
synth_rec_clear(synth_rec *r)
{
	free(r->line);
	free(r->scratch);
	memset(r, 0, sizeof(*r));
}
