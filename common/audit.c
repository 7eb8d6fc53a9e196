/* common/audit.c — hash-chained audit events, appended in the caller's
 * transaction (format and locking in audit.h).
 *
 * Trusts: the database to store what it is given (verify checks that it
 * did), libsodium via vault_audit_next.  Does not trust: the caller's
 * strings — they are length- and charset-checked so an event can be logged
 * and displayed safely; detail must parse as JSON (the server checks).
 *
 * Hazards: the event time and the jsonb text are taken from the server, in
 * binary, so the bytes hashed here are exactly the bytes verify reads back;
 * hashing a client-side rendering of either would make honest chains fail.
 */
#include "common/audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pg.h"
#include "common/util.h"
#include "vault/chain.h"

/* µs between 1970-01-01 and 2000-01-01, PostgreSQL's timestamp epoch. */
#define AUDIT_PG_EPOCH_US  946684800000000LL
/* Events up to this size are encoded on the stack. */
#define AUDIT_STACK_BYTES  2048U

_Static_assert(AUDIT_HASH_BYTES == VAULT_HASH_BYTES, "hash size");

static unsigned char *
audit_put64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (unsigned char)(v & 0xffU);
		v >>= 8;
	}
	return p + 8;
}

static uint64_t
audit_get64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

int
audit_event_hash(const unsigned char prev_hash[AUDIT_HASH_BYTES],
    const unsigned char tenant_id[AUDIT_ID_BYTES], uint64_t event_no,
    int64_t at_us, const audit_field fields[AUDIT_NFIELDS],
    unsigned char out[AUDIT_HASH_BYTES])
{
	unsigned char stackbuf[AUDIT_STACK_BYTES], *buf = stackbuf, *p;
	size_t need = 1 + AUDIT_ID_BYTES + 8 + 8, i;
	int rc = -1;

	memset(out, 0, AUDIT_HASH_BYTES);
	for (i = 0; i < AUDIT_NFIELDS; i++) {
		if (fields[i].p == NULL)
			need += 1;
		else if (fields[i].len > UINT32_MAX ||
		    fields[i].len > SIZE_MAX / 2 - need)
			return -1;
		else
			need += 1 + 4 + fields[i].len;
	}
	if (need > sizeof(stackbuf) && (buf = malloc(need)) == NULL)
		return -1;

	p = buf;
	*p++ = AUDIT_EVENT_V1;
	memcpy(p, tenant_id, AUDIT_ID_BYTES);
	p += AUDIT_ID_BYTES;
	p = audit_put64(p, event_no);
	p = audit_put64(p, (uint64_t)at_us);
	for (i = 0; i < AUDIT_NFIELDS; i++) {
		if (fields[i].p == NULL) {
			*p++ = 0;
			continue;
		}
		*p++ = 1;
		*p++ = (unsigned char)(fields[i].len >> 24);
		*p++ = (unsigned char)(fields[i].len >> 16);
		*p++ = (unsigned char)(fields[i].len >> 8);
		*p++ = (unsigned char)fields[i].len;
		if (fields[i].len > 0)
			memcpy(p, fields[i].p, fields[i].len);
		p += fields[i].len;
	}
	if (vault_audit_next(prev_hash, buf, (size_t)(p - buf), out) == 0)
		rc = 0;
	if (buf != stackbuf)
		free(buf);
	return rc;
}

/* Printable ASCII, 1..max bytes (0..max when may_be_empty). */
static int
audit_printable(const char *s, size_t max)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n == 0 || n > max)
		return 0;
	for (; *s != '\0'; s++)
		if (*s < 0x20 || *s > 0x7e)
			return 0;
	return 1;
}

static int
audit_word(const char *s)
{
	if (!audit_printable(s, AUDIT_WORD_MAX))
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		    *s == '.' || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

static int
audit_check(const audit_event *ev, char *err, size_t err_len)
{
	if (!audit_printable(ev->actor, AUDIT_ACTOR_MAX)) {
		snprintf(err, err_len, "audit: actor missing, too long or not printable");
		return -1;
	}
	if (!audit_word(ev->role) || !audit_word(ev->action) ||
	    !audit_word(ev->outcome)) {
		snprintf(err, err_len, "audit: role, action and outcome must be "
		    "1..%u of [a-z0-9._-]", AUDIT_WORD_MAX);
		return -1;
	}
	if (ev->target != NULL && !audit_printable(ev->target, AUDIT_TARGET_MAX)) {
		snprintf(err, err_len, "audit: target too long or not printable");
		return -1;
	}
	if (ev->request_id != NULL &&
	    !audit_printable(ev->request_id, AUDIT_REQID_MAX)) {
		snprintf(err, err_len, "audit: request id too long or not printable");
		return -1;
	}
	if (ev->detail_json != NULL && strlen(ev->detail_json) > AUDIT_DETAIL_MAX) {
		snprintf(err, err_len, "audit: detail larger than %u bytes",
		    AUDIT_DETAIL_MAX);
		return -1;
	}
	return 0;
}

/* Leave the transaction aborted, so that it cannot commit without the
 * event whatever the caller does next.  A statement that already failed
 * did this; a failure on our side of the wire needs one that fails. */
static void
audit_poison(PGconn *c)
{
	char ignored[256];

	if (PQtransactionStatus(c) != PQTRANS_INTRANS)
		return;
	(void)pg_exec(c, "DO $audit$BEGIN RAISE EXCEPTION 'audit event not "
	    "written: transaction aborted'; END$audit$", NULL, ignored,
	    sizeof(ignored));
}

static int
audit_lock(PGconn *c, const unsigned char tenant_id[AUDIT_ID_BYTES],
    char *err, size_t err_len)
{
	pg_params p = PG_PARAMS_INIT;
	char tid[UTIL_UUID_STRLEN + 1], lockkey[16], msg[512];

	util_uuid_format(tid, tenant_id);
	snprintf(lockkey, sizeof(lockkey), "%d", AUDIT_LOCK_CLASS);
	pg_param_text(&p, lockkey);
	pg_param_text(&p, tid);
	if (pg_exec(c, "SELECT pg_catalog.pg_advisory_xact_lock($1::int4, "
	    "pg_catalog.hashtext($2::text))", &p, msg, sizeof(msg)) != 0) {
		snprintf(err, err_len, "audit: locking the chain: %s", msg);
		return -1;
	}
	return 0;
}

int
audit_lock_tenant(PGconn *c, const unsigned char tenant_id[AUDIT_ID_BYTES],
    char *err, size_t err_len)
{
	if (c == NULL || tenant_id == NULL) {
		snprintf(err, err_len, "audit: no connection or tenant");
		return -1;
	}
	if (PQtransactionStatus(c) != PQTRANS_INTRANS) {
		snprintf(err, err_len, "audit: must run inside the caller's open "
		    "transaction");
		return -1;
	}
	if (audit_lock(c, tenant_id, err, err_len) != 0) {
		audit_poison(c);
		return -1;
	}
	return 0;
}

static audit_field
audit_f(const char *s)
{
	audit_field f;

	f.p = s;
	f.len = s != NULL ? strlen(s) : 0;
	return f;
}

int
audit_append(PGconn *c, const audit_event *ev, uint64_t *event_no_out,
    unsigned char hash_out[AUDIT_HASH_BYTES], char *err, size_t err_len)
{
	static const unsigned char zeros[AUDIT_HASH_BYTES];
	unsigned char prev[AUDIT_HASH_BYTES], hash[AUDIT_HASH_BYTES];
	unsigned char at_be[8];
	char eno[24], msg[512];
	const char *detail_text = NULL;
	audit_field f[AUDIT_NFIELDS];
	PGresult *r = NULL;
	uint64_t event_no;
	int64_t at_pg, at_us;
	int rc = -1;

	if (event_no_out != NULL)
		*event_no_out = 0;
	if (hash_out != NULL)
		memset(hash_out, 0, AUDIT_HASH_BYTES);
	if (c == NULL || ev == NULL) {
		snprintf(err, err_len, "audit: no connection or event");
		return -1;
	}
	if (PQtransactionStatus(c) != PQTRANS_INTRANS) {
		snprintf(err, err_len, "audit: must run inside the caller's open "
		    "transaction");
		audit_poison(c);
		return -1;
	}
	if (audit_check(ev, err, err_len) != 0)
		goto fail;
	/* One writer per tenant chain until this transaction ends. */
	if (audit_lock(c, ev->tenant_id, err, err_len) != 0)
		goto fail;

	/* Tail of the chain, the event time and the normalised detail, all
	 * in binary so they hash exactly as verify will read them. */
	{
		pg_params p = PG_PARAMS_INIT;

		p.result_binary = 1;
		pg_param_bin(&p, ev->tenant_id, AUDIT_ID_BYTES);
		pg_param_text(&p, ev->detail_json);
		r = pg_query(c, "SELECT t.event_no, t.event_hash, "
		    "pg_catalog.clock_timestamp(), $2::jsonb::text "
		    "FROM (SELECT 1) AS one LEFT JOIN LATERAL ("
		    "  SELECT a.event_no, a.event_hash FROM coffer.audit_events a "
		    "  WHERE a.tenant_id = $1::uuid "
		    "  ORDER BY a.event_no DESC LIMIT 1) AS t ON true",
		    &p, msg, sizeof(msg));
		if (r == NULL) {
			snprintf(err, err_len, "audit: reading the chain: %s", msg);
			goto fail;
		}
	}
	if (PQntuples(r) != 1 || PQgetlength(r, 0, 2) != 8) {
		snprintf(err, err_len, "audit: unexpected answer reading the chain");
		goto fail;
	}
	if (PQgetisnull(r, 0, 0)) {
		event_no = 1;
		memcpy(prev, zeros, sizeof(prev));
	} else {
		if (PQgetlength(r, 0, 0) != 8 || PQgetisnull(r, 0, 1) ||
		    PQgetlength(r, 0, 1) != AUDIT_HASH_BYTES) {
			snprintf(err, err_len, "audit: malformed chain tail");
			goto fail;
		}
		event_no = audit_get64((const unsigned char *)PQgetvalue(r, 0, 0));
		if (event_no >= (uint64_t)INT64_MAX) {
			snprintf(err, err_len, "audit: chain tail out of range");
			goto fail;
		}
		event_no++;
		memcpy(prev, PQgetvalue(r, 0, 1), AUDIT_HASH_BYTES);
	}
	memcpy(at_be, PQgetvalue(r, 0, 2), 8);
	at_pg = (int64_t)audit_get64(at_be);
	if (__builtin_add_overflow(at_pg, AUDIT_PG_EPOCH_US, &at_us)) {
		snprintf(err, err_len, "audit: server clock out of range");
		goto fail;
	}
	if (!PQgetisnull(r, 0, 3))
		detail_text = PQgetvalue(r, 0, 3);

	f[AUDIT_F_ACTOR] = audit_f(ev->actor);
	f[AUDIT_F_ROLE] = audit_f(ev->role);
	f[AUDIT_F_ACTION] = audit_f(ev->action);
	f[AUDIT_F_TARGET] = audit_f(ev->target);
	f[AUDIT_F_OUTCOME] = audit_f(ev->outcome);
	f[AUDIT_F_REQUEST_ID] = audit_f(ev->request_id);
	f[AUDIT_F_DETAIL].p = detail_text;
	f[AUDIT_F_DETAIL].len = detail_text != NULL ?
	    (size_t)PQgetlength(r, 0, 3) : 0;
	if (audit_event_hash(prev, ev->tenant_id, event_no, at_us, f, hash) != 0) {
		snprintf(err, err_len, "audit: cannot hash the event");
		goto fail;
	}

	{
		pg_params p = PG_PARAMS_INIT;

		snprintf(eno, sizeof(eno), "%llu", (unsigned long long)event_no);
		pg_param_bin(&p, ev->tenant_id, AUDIT_ID_BYTES);   /* $1 */
		pg_param_text(&p, eno);                            /* $2 */
		pg_param_bin(&p, prev, AUDIT_HASH_BYTES);          /* $3 */
		pg_param_bin(&p, hash, AUDIT_HASH_BYTES);          /* $4 */
		pg_param_bin(&p, at_be, 8);                        /* $5 */
		pg_param_text(&p, ev->actor);                      /* $6 */
		pg_param_text(&p, ev->role);                       /* $7 */
		pg_param_text(&p, ev->action);                     /* $8 */
		pg_param_text(&p, ev->target);                     /* $9 */
		pg_param_text(&p, ev->outcome);                    /* $10 */
		pg_param_text(&p, ev->request_id);                 /* $11 */
		pg_param_text(&p, detail_text);                    /* $12 */
		if (pg_exec(c, "INSERT INTO coffer.audit_events (tenant_id, "
		    "event_no, prev_hash, event_hash, at, actor, role, action, "
		    "target, outcome, request_id, detail) VALUES ($1::uuid, "
		    "$2::bigint, $3, $4, $5::timestamptz, $6, $7, $8, $9, $10, "
		    "$11, $12::jsonb)", &p, msg, sizeof(msg)) != 0) {
			snprintf(err, err_len, "audit: writing the event: %s", msg);
			goto fail;
		}
	}
	if (event_no_out != NULL)
		*event_no_out = event_no;
	if (hash_out != NULL)
		memcpy(hash_out, hash, AUDIT_HASH_BYTES);
	rc = 0;

fail:
	PQclear(r);
	if (rc != 0)
		audit_poison(c);
	return rc;
}
