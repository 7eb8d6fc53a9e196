/* gateway/batch.c — see batch.h.
 *
 * batch_build runs in the network process on the untrusted body (through
 * rec_check, which trusts no byte of it).  batch_decode runs in the sealer
 * and trusts nothing it reads either: every length is checked against its
 * bound and against the bytes that remain before it is used, so a hostile
 * network process can make it refuse a payload (the sealer then exits),
 * never read past one.  Both wipe what they free: entries hold message
 * content.
 */
#include "gateway/batch.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/channels.h"
#include "vault/mem.h"

size_t
batch_max(const batch_limits *lim)
{
	return BATCH_HDR_BYTES +
	    (size_t)lim->max_records * BATCH_LINE_SLACK +
	    2 * lim->max_body_bytes;
}

/* -- encoding (the network process) --------------------------------------- */

typedef struct bbuf {
	unsigned char *p;
	size_t         len, cap, max;
	int            fail;             /* out of memory or over max */
	int            over;             /* over max */
} bbuf;

static unsigned char *
bb_room(bbuf *b, size_t n)
{
	size_t cap;
	unsigned char *p;

	if (b->fail)
		return NULL;
	if (n > b->max - b->len) {
		b->fail = b->over = 1;
		return NULL;
	}
	if (b->len + n > b->cap) {
		cap = b->cap;
		while (cap < b->len + n)
			cap = cap > b->max / 2 ? b->max : 2 * cap;
		if ((p = vault_grow(b->p, b->len, b->cap, cap)) == NULL) {
			b->fail = 1;
			return NULL;
		}
		b->p = p;
		b->cap = cap;
	}
	p = b->p + b->len;
	b->len += n;
	return p;
}

static void
bb_put(bbuf *b, const void *s, size_t n)
{
	unsigned char *p = bb_room(b, n);

	if (p != NULL && n > 0)
		memcpy(p, s, n);
}

static void
bb_rejected(bbuf *b, const char *id, const char *reason)
{
	unsigned char *p;
	size_t ilen = strlen(id), rlen = strlen(reason), i;
	uint16_t i16;

	if (rlen == 0) {
		reason = "rejected";
		rlen = strlen(reason);
	}
	if (rlen > REC_REASON_MAX - 1)
		rlen = REC_REASON_MAX - 1;
	if (ilen > REC_ID_MAX)
		ilen = 0;
	if ((p = bb_room(b, BATCH_REJECTED_FIXED + ilen + rlen)) == NULL)
		return;
	i16 = (uint16_t)ilen;
	p[0] = BATCH_REJECTED;
	p[1] = (unsigned char)rlen;
	memcpy(p + 2, &i16, 2);
	memcpy(p + 4, id, ilen);
	/* our reasons are ASCII; anything else the answer shows as '?'
	 * anyway (ingest.c's sb_json), so the client sees the same bytes */
	for (i = 0; i < rlen; i++) {
		unsigned char c = (unsigned char)reason[i];

		p[4 + ilen + i] = c >= 0x20 && c < 0x7f ? c : '?';
	}
}

static void
bb_accepted(bbuf *b, const rec_fields *f)
{
	unsigned char *p;
	uint16_t idl = (uint16_t)f->id_len, cl = (uint16_t)f->conversation_len,
	    np = (uint16_t)f->n_participants;
	uint32_t pl = (uint32_t)f->participants_len,
	    tl = (uint32_t)f->plaintext_len;
	int64_t at = f->sent_at_us, cs = f->capture_seq;

	if ((p = bb_room(b, BATCH_ACCEPTED_FIXED)) == NULL)
		return;
	p[0] = BATCH_ACCEPTED;
	p[1] = (unsigned char)f->channel;
	memcpy(p + 2, &idl, 2);
	memcpy(p + 4, &cl, 2);
	memcpy(p + 6, &np, 2);
	memcpy(p + 8, &pl, 4);
	memcpy(p + 12, &tl, 4);
	memcpy(p + 16, &at, 8);
	memcpy(p + 24, &cs, 8);
	bb_put(b, f->id, f->id_len);
	bb_put(b, f->conversation, f->conversation_len);
	bb_put(b, f->participants, f->participants_len);
	bb_put(b, f->plaintext, f->plaintext_len);
}

static void
bb_heartbeat(bbuf *b, const rec_heartbeat *hb)
{
	unsigned char *p;
	int64_t v[3];

	if ((p = bb_room(b, BATCH_HEARTBEAT_FIXED)) == NULL)
		return;
	v[0] = hb->seq_high;
	v[1] = hb->outbox;
	v[2] = hb->clock_us;
	p[0] = BATCH_HEARTBEAT;
	p[1] = p[2] = p[3] = 0;
	memcpy(p + 4, v, sizeof(v));
}

int
batch_build(const char *body, size_t body_len, const char *device,
    size_t device_len, const batch_limits *lim, unsigned char **out,
    size_t *out_len, char *err, size_t err_len)
{
	const char *p, *end, *nl;
	char reason[REC_REASON_MAX];
	bbuf b = { 0 };
	uint64_t bb;
	uint32_t n32;
	size_t n = 0, i;

	*out = NULL;
	*out_len = 0;
	if (body == NULL)
		body_len = 0;
	p = body;
	end = body != NULL ? body + body_len : body;
	bb = body_len;
	for (nl = p; nl < end; nl++) {
		nl = memchr(nl, '\n', (size_t)(end - nl));
		if (nl == NULL)
			break;
		n++;
	}
	if (body_len > 0 && body[body_len - 1] != '\n')
		n++;
	if (body_len > lim->max_body_bytes || n > UINT32_MAX) {
		snprintf(err, err_len, "a body of %zu bytes over the limit",
		    body_len);
		return -1;
	}
	b.max = batch_max(lim);
	b.cap = BATCH_HDR_BYTES;
	if (n <= lim->max_records)
		b.cap += body_len + body_len / 4 + n * (64 + 2 * device_len);
	if (b.cap > b.max)
		b.cap = b.max;
	if ((b.p = malloc(b.cap)) == NULL) {
		snprintf(err, err_len, "out of memory for a %zu-byte batch", b.cap);
		return -1;
	}
	n32 = (uint32_t)n;
	bb_put(&b, &bb, 8);
	bb_put(&b, &n32, 4);
	for (i = 0; n <= lim->max_records && i < n && !b.fail; i++) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		size_t len = e != NULL ? (size_t)(e - p) : (size_t)(end - p);
		rec_checked c;

		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (len > lim->max_line_bytes) {
			static const unsigned char tl[BATCH_REJECTED_FIXED] = {
				BATCH_TOO_LARGE, 0, 0, 0
			};

			bb_put(&b, tl, sizeof(tl));
		} else if (rec_check(&c, p, len, device, device_len, reason,
		    sizeof(reason)) != 0) {
			bb_rejected(&b, c.id, reason);
			vault_wipe(&c, sizeof(c));
		} else {
			if (c.heartbeat)
				bb_heartbeat(&b, &c.hb);
			else
				bb_accepted(&b, &c.f);
			rec_checked_clear(&c);
		}
		p = e != NULL ? e + 1 : end;
	}
	if (b.fail) {
		snprintf(err, err_len, b.over ?
		    "a batch over its bound of %zu bytes" :
		    "out of memory for a batch (bound %zu bytes)", b.max);
		vault_free_wiped(b.p, b.cap);
		return -1;
	}
	*out = b.p;
	*out_len = b.len;
	return 0;
}

/* -- decoding (the sealer) ------------------------------------------------ */

static int
batch_printable(const unsigned char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] >= 0x7f)
			return 0;
	return 1;
}

/* One entry at buf[*off..len): 0 and *off past it, or -1 with err. */
static int
batch_entry(batch_line *l, const unsigned char *buf, size_t len, size_t *off,
    size_t line, const batch_limits *lim, char *err, size_t err_len)
{
	const unsigned char *p = buf + *off, *q;
	size_t left = len - *off, need, k, walked;
	uint16_t idl, cl, np, rl, plen;
	uint32_t pl, tl;
	int64_t at, cs;

	memset(l, 0, sizeof(*l));
	if (left < BATCH_REJECTED_FIXED) {
		snprintf(err, err_len, "SUBMIT line %zu: cut short", line);
		return -1;
	}
	switch (p[0]) {
	case BATCH_TOO_LARGE:
		if (p[1] != 0 || p[2] != 0 || p[3] != 0) {
			snprintf(err, err_len, "SUBMIT line %zu: too-large entry "
			    "with data", line);
			return -1;
		}
		l->kind = BATCH_TOO_LARGE;
		*off += BATCH_REJECTED_FIXED;
		return 0;
	case BATCH_REJECTED:
		rl = p[1];
		memcpy(&idl, p + 2, 2);
		if (rl < 1 || rl > REC_REASON_MAX - 1) {
			snprintf(err, err_len, "SUBMIT line %zu: reason of %u bytes, "
			    "want 1..%u", line, (unsigned)rl, REC_REASON_MAX - 1);
			return -1;
		}
		if (idl > REC_ID_MAX) {
			snprintf(err, err_len, "SUBMIT line %zu: id of %u bytes, want "
			    "0..%u", line, (unsigned)idl, REC_ID_MAX);
			return -1;
		}
		need = BATCH_REJECTED_FIXED + (size_t)idl + rl;
		if (need > left) {
			snprintf(err, err_len, "SUBMIT line %zu: cut short", line);
			return -1;
		}
		if (!batch_printable(p + 4, idl)) {
			snprintf(err, err_len, "SUBMIT line %zu: id not printable "
			    "ASCII", line);
			return -1;
		}
		if (!batch_printable(p + 4 + idl, rl)) {
			snprintf(err, err_len, "SUBMIT line %zu: reason not "
			    "printable ASCII", line);
			return -1;
		}
		l->kind = BATCH_REJECTED;
		l->id = (const char *)p + 4;
		l->id_len = idl;
		l->reason = (const char *)p + 4 + idl;
		l->reason_len = rl;
		*off += need;
		return 0;
	case BATCH_HEARTBEAT: {
		int64_t v[3];

		if (p[1] != 0 || p[2] != 0 || p[3] != 0 ||
		    left < BATCH_HEARTBEAT_FIXED) {
			snprintf(err, err_len, "SUBMIT line %zu: malformed "
			    "heartbeat", line);
			return -1;
		}
		memcpy(v, p + 4, sizeof(v));
		if (v[0] < 0 || v[0] > REC_CAPTURE_SEQ_MAX || v[1] < 0 ||
		    v[1] > REC_CAPTURE_SEQ_MAX || v[2] < REC_SENT_AT_MIN_US ||
		    v[2] > REC_SENT_AT_MAX_US) {
			snprintf(err, err_len, "SUBMIT line %zu: heartbeat value "
			    "out of range", line);
			return -1;
		}
		l->kind = BATCH_HEARTBEAT;
		l->hb.seq_high = v[0];
		l->hb.outbox = v[1];
		l->hb.clock_us = v[2];
		*off += BATCH_HEARTBEAT_FIXED;
		return 0;
	}
	case BATCH_ACCEPTED:
		break;
	default:
		snprintf(err, err_len, "SUBMIT line %zu: unknown kind %u", line,
		    (unsigned)p[0]);
		return -1;
	}
	if (left < BATCH_ACCEPTED_FIXED) {
		snprintf(err, err_len, "SUBMIT line %zu: cut short", line);
		return -1;
	}
	memcpy(&idl, p + 2, 2);
	memcpy(&cl, p + 4, 2);
	memcpy(&np, p + 6, 2);
	memcpy(&pl, p + 8, 4);
	memcpy(&tl, p + 12, 4);
	memcpy(&at, p + 16, 8);
	memcpy(&cs, p + 24, 8);
	if (cs < 0 || cs > REC_CAPTURE_SEQ_MAX) {
		snprintf(err, err_len, "SUBMIT line %zu: capture_seq out of range",
		    line);
		return -1;
	}
	if (p[1] >= channels_count()) {
		snprintf(err, err_len, "SUBMIT line %zu: channel %u out of range",
		    line, (unsigned)p[1]);
		return -1;
	}
	if (idl < 1 || idl > REC_ID_MAX) {
		snprintf(err, err_len, "SUBMIT line %zu: id of %u bytes, want "
		    "1..%u", line, (unsigned)idl, REC_ID_MAX);
		return -1;
	}
	if (cl < 1 || cl > REC_CONVERSATION_MAX) {
		snprintf(err, err_len, "SUBMIT line %zu: conversation of %u bytes, "
		    "want 1..%u", line, (unsigned)cl, REC_CONVERSATION_MAX);
		return -1;
	}
	if (np < 2 || np > REC_PARTICIPANTS_MAX) {
		snprintf(err, err_len, "SUBMIT line %zu: %u participants, want "
		    "2..%u", line, (unsigned)np, REC_PARTICIPANTS_MAX);
		return -1;
	}
	if (pl < 3U * np || pl > (2U + VAULT_PARTICIPANT_MAX) * np) {
		snprintf(err, err_len, "SUBMIT line %zu: participants of %u bytes "
		    "for %u", line, (unsigned)pl, (unsigned)np);
		return -1;
	}
	if (tl < 1 || tl > lim->max_line_bytes + BATCH_LINE_SLACK) {
		snprintf(err, err_len, "SUBMIT line %zu: plaintext of %u bytes, "
		    "want 1..%zu", line, (unsigned)tl,
		    lim->max_line_bytes + BATCH_LINE_SLACK);
		return -1;
	}
	if (at < REC_SENT_AT_MIN_US || at > REC_SENT_AT_MAX_US) {
		snprintf(err, err_len, "SUBMIT line %zu: sent_at out of range",
		    line);
		return -1;
	}
	need = BATCH_ACCEPTED_FIXED + (size_t)idl + cl + pl + tl;
	if (need > left) {
		snprintf(err, err_len, "SUBMIT line %zu: %zu bytes, %zu left",
		    line, need, left);
		return -1;
	}
	/* the list must be exactly pl bytes of np bounded entries */
	q = p + BATCH_ACCEPTED_FIXED + idl + cl;
	for (k = 0, walked = 0; k < np; k++) {
		if (pl - walked < 2) {
			snprintf(err, err_len, "SUBMIT line %zu: participant %zu cut "
			    "short", line, k);
			return -1;
		}
		memcpy(&plen, q + walked, 2);
		if (plen < 1 || plen > VAULT_PARTICIPANT_MAX) {
			snprintf(err, err_len, "SUBMIT line %zu: participant %zu of %u "
			    "bytes, want 1..%u", line, k, (unsigned)plen,
			    VAULT_PARTICIPANT_MAX);
			return -1;
		}
		if (plen > pl - walked - 2) {
			snprintf(err, err_len, "SUBMIT line %zu: participant %zu cut "
			    "short", line, k);
			return -1;
		}
		walked += 2 + (size_t)plen;
	}
	if (walked != pl) {
		snprintf(err, err_len, "SUBMIT line %zu: participants of %u bytes "
		    "hold %zu", line, (unsigned)pl, walked);
		return -1;
	}
	l->kind = BATCH_ACCEPTED;
	l->f.channel = p[1];
	l->f.sent_at_us = at;
	l->f.capture_seq = cs;
	l->f.id = (const char *)p + BATCH_ACCEPTED_FIXED;
	l->f.id_len = idl;
	l->f.conversation = l->f.id + idl;
	l->f.conversation_len = cl;
	l->f.participants = q;
	l->f.participants_len = pl;
	l->f.n_participants = np;
	l->f.plaintext = q + pl;
	l->f.plaintext_len = tl;
	*off += need;
	return 0;
}

int
batch_decode(batch *b, unsigned char *buf, size_t len,
    const batch_limits *lim, char *err, size_t err_len)
{
	uint64_t bb;
	uint32_t n32;
	size_t off = BATCH_HDR_BYTES, i;

	memset(b, 0, sizeof(*b));
	if (len < BATCH_HDR_BYTES) {
		snprintf(err, err_len, "SUBMIT batch of %zu bytes, shorter than "
		    "its header", len);
		goto fail;
	}
	if (len > batch_max(lim)) {
		snprintf(err, err_len, "SUBMIT batch of %zu bytes, above %zu",
		    len, batch_max(lim));
		goto fail;
	}
	memcpy(&bb, buf, 8);
	memcpy(&n32, buf + 8, 4);
	if (bb > lim->max_body_bytes) {
		snprintf(err, err_len, "SUBMIT body of %llu bytes, above %zu",
		    (unsigned long long)bb, lim->max_body_bytes);
		goto fail;
	}
	if (n32 > bb) {
		snprintf(err, err_len, "SUBMIT of %u lines for a %llu-byte body",
		    (unsigned)n32, (unsigned long long)bb);
		goto fail;
	}
	b->buf = buf;
	b->len = len;
	b->body_bytes = (size_t)bb;
	b->nlines = n32;
	if (n32 > 0 && n32 <= lim->max_records) {
		if ((b->lines = calloc(n32, sizeof(*b->lines))) == NULL) {
			snprintf(err, err_len, "out of memory for %u lines",
			    (unsigned)n32);
			goto fail;
		}
		for (i = 0; i < n32; i++)
			if (batch_entry(&b->lines[i], buf, len, &off, i + 1, lim,
			    err, err_len) != 0)
				goto fail;
	}
	if (off != len) {
		snprintf(err, err_len, "SUBMIT: %zu bytes after the last line",
		    len - off);
		goto fail;
	}
	return 0;
fail:
	free(b->lines);
	memset(b, 0, sizeof(*b));
	vault_free_wiped(buf, len);
	return -1;
}

void
batch_free(batch *b)
{
	if (b == NULL)
		return;
	free(b->lines);
	if (b->buf != NULL)
		vault_free_wiped(b->buf, b->len);
	memset(b, 0, sizeof(*b));
}
