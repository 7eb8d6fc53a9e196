/* tests/integration/itest_verify.c — the verifier against archives the
 * gateway pipeline really wrote, and randomised tamper trials.
 *
 * Data comes from gateway/ingest.h driven in-process (the gateway's own
 * validation, sealing, group-commit writer, checkpoints and witness files;
 * no TLS), two gateway nodes, three tenants, many small batches and epochs,
 * then a retention purge (tombstones, shredded epochs, audit events) and
 * more ingest after it.
 *
 * Each node runs the gateway's default number of writer lanes, and each
 * lane keeps its own stream and epochs per tenant (gateway/writer.h): a
 * tenant has NNODES x lanes streams, and a record's lane (so its seq and
 * epoch) follows from its dedup token, a keyed hash.  Expectations that
 * depend on streams or epochs are derived from that, or read back from the
 * database; none assumes one stream per node.
 *
 * Modes:
 *   itest_verify                        the harness test: fresh database,
 *                                       data, clean verify, tamper trials
 *   itest_verify --produce DIR --phase N
 *                                       data into $PGDATABASE (phase 1 makes
 *                                       tenants, nodes, devices and key files
 *                                       in DIR; phase 2 appends), for the
 *                                       shell tests
 *   itest_verify --trials N [--witness FILE]...
 *                                       tamper trials on $PGDATABASE
 *   itest_verify --ctl VERB ARGS...     cofferctl verify/retention/hold/
 *                                       purge in-process (until the lead
 *                                       wires them into ctl/main.c)
 *
 * Trials: each opens a transaction as the superuser, disables the evidence
 * tables' triggers inside it (ALTER TABLE … DISABLE TRIGGER is
 * transactional) with session_replication_role = replica, applies one
 * random tamper, runs verify_run() inside that same transaction, and rolls
 * back.  Every fifth trial is a control: an UPDATE that rewrites a row with
 * its own values, which must verify clean.  The seed is printed;
 * COFFER_TEST_SEED replays a run.
 *
 * Not in the random set, because the database alone cannot reveal them
 * (common/verify.h): removing the newest audit events of a tenant, and
 * changing epochs rows (not part of any chain).
 */
#include <errno.h>
#include <glob.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/audit.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/util.h"
#include "common/verify.h"
#include "ctl/archive.h"
#include "gateway/config.h"
#include "gateway/ingest.h"
#include "tests/lib/pgtest.h"
#include "vault/blind.h"
#include "vault/chain.h"
#include "vault/mem.h"
#include "vault/tenant.h"

#define NTENANTS 3
#define NNODES   2
#define EPOCH_RECORDS 12     /* per lane and epoch (node_config) */
#define BATCH_RECORDS 8

static const char *const tenant_names[NTENANTS] = { "acme", "globex", "initech" };
static const char *const node_names[NNODES] = { "gw-a", "gw-b" };
static const char *const channels[] = { "signal", "whatsapp", "telegram",
                                        "sms", "email" };

static int passed, failed;

#define CHECK(cond, ...) do {                                           \
	if (cond) {                                                         \
		passed++;                                                       \
	} else {                                                            \
		failed++;                                                       \
		fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);            \
		fprintf(stderr, __VA_ARGS__);                                   \
		fputc('\n', stderr);                                            \
	}                                                                   \
} while (0)

/* -- rng (xorshift64*) --------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t
rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static unsigned
rndn(unsigned n)
{
	return n == 0 ? 0 : (unsigned)(rnd() % n);
}

/* -- small SQL helpers ----------------------------------------------------------- */

static PGconn *db;

static int
sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int
sql(const char *fmt, ...)
{
	char q[8192], err[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q, sizeof(q), fmt, ap);
	va_end(ap);
	if (pg_exec(db, q, NULL, err, sizeof(err)) != 0) {
		fprintf(stderr, "sql: %.200s: %s\n", q, err);
		return -1;
	}
	return 0;
}

/* First column of the first row (text), or "" (static buffer). */
static const char *
scalar(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *
scalar(const char *fmt, ...)
{
	static char out[4096];
	char q[8192], err[1024];
	PGresult *r;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q, sizeof(q), fmt, ap);
	va_end(ap);
	out[0] = '\0';
	r = pg_query(db, q, NULL, err, sizeof(err));
	if (r == NULL) {
		fprintf(stderr, "scalar: %.200s: %s\n", q, err);
		return out;
	}
	if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
		snprintf(out, sizeof(out), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return out;
}

/* -- producing data through the gateway pipeline --------------------------------- */

typedef struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	int             done, status;
	char           *body;
} waiter;

static void
on_done(void *ctx, int status, unsigned retry, const char *ct, char *body,
    size_t len)
{
	waiter *w = ctx;

	(void)retry;
	(void)ct;
	(void)len;
	pthread_mutex_lock(&w->mu);
	w->done = 1;
	w->status = status;
	w->body = body;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* One request; returns the number of lines answered "stored". */
static int
post(ingest *ig, const char *tenant, const char *device, const char *body)
{
	ingest_peer p;
	waiter w;
	size_t len = strlen(body);
	char *copy = malloc(len + 1), *s;
	int stored = 0;

	if (copy == NULL)
		return -1;
	memcpy(copy, body, len + 1);
	memset(&p, 0, sizeof(p));
	snprintf(p.tenant, sizeof(p.tenant), "%s", tenant);
	snprintf(p.device, sizeof(p.device), "%s", device);
	snprintf(p.fingerprint, sizeof(p.fingerprint), "%064d", 0);
	memset(&w, 0, sizeof(w));
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	ingest_submit(ig, &p, copy, len, on_done, &w);
	pthread_mutex_lock(&w.mu);
	while (!w.done)
		pthread_cond_wait(&w.cv, &w.mu);
	pthread_mutex_unlock(&w.mu);
	pthread_mutex_destroy(&w.mu);
	pthread_cond_destroy(&w.cv);
	if (w.status != 200) {
		fprintf(stderr, "ingest: status %d\n", w.status);
		free(w.body);
		return -1;
	}
	for (s = w.body; s != NULL && (s = strstr(s, "\"stored\"")) != NULL; s++)
		stored++;
	free(w.body);
	return stored;
}

static int
write_secret(const char *path, const void *data, size_t len)
{
	char err[256];

	unlink(path);
	if (util_write_file(path, data, len, 0600, 1, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

/* A tenant with a real k-of-n key (public parts only stored), its BIK file
 * and two devices. */
static int
make_tenant(const char *dir, const char *name)
{
	vault_tenant_keys *k = NULL;
	unsigned char T[32], com[2 * 32], V[32], id[16], *bik = NULL;
	char idstr[UTIL_UUID_STRLEN + 1], err[256], path[1024];
	char comlit[2 * 72 + 4], shlit[3 * 72 + 4], hex[65];
	pg_params p = PG_PARAMS_INIT;
	size_t o;
	unsigned i;
	int rc = -1;

	if (vault_tenant_generate(&k, 2, 3, err, sizeof(err)) != 0)
		goto done;
	vault_tenant_keys_public_key(k, T);
	if (vault_tenant_keys_commitments(k, com, sizeof(com)) != 0)
		goto done;
	o = (size_t)snprintf(comlit, sizeof(comlit), "{");
	for (i = 0; i < 2; i++) {
		util_hex(hex, com + 32 * i, 32);
		o += (size_t)snprintf(comlit + o, sizeof(comlit) - o, "%s\"\\\\x%s\"",
		    i ? "," : "", hex);
	}
	snprintf(comlit + o, sizeof(comlit) - o, "}");
	o = (size_t)snprintf(shlit, sizeof(shlit), "{");
	for (i = 1; i <= 3; i++) {
		if (vault_tenant_keys_public_share(k, i, V) != 0)
			goto done;
		util_hex(hex, V, 32);
		o += (size_t)snprintf(shlit + o, sizeof(shlit) - o, "%s\"\\\\x%s\"",
		    i > 1 ? "," : "", hex);
	}
	snprintf(shlit + o, sizeof(shlit) - o, "}");
	util_uuid_random(id);
	util_uuid_format(idstr, id);
	pg_param_text(&p, idstr);
	pg_param_text(&p, name);
	pg_param_bin(&p, T, 32);
	pg_param_text(&p, comlit);
	pg_param_text(&p, shlit);
	if (pg_exec(db, "WITH t AS (INSERT INTO coffer.tenants (tenant_id, name, "
	    "threshold_k, custodians_n) VALUES ($1::uuid, $2, 2, 3)) "
	    "INSERT INTO coffer.tenant_keys (tenant_id, public_key, commitments, "
	    "public_shares, fingerprint) VALUES ($1::uuid, $3, $4::bytea[], "
	    "$5::bytea[], 'test')", &p, err, sizeof(err)) != 0) {
		fprintf(stderr, "tenant %s: %s\n", name, err);
		goto done;
	}
	/* the peers submit with fingerprint 0…0 (see submit): registered */
	if (sql("INSERT INTO coffer.devices (tenant_id, device_id, "
	    "cert_fingerprint) VALUES ('%s', 'phone-1', repeat('0', 64)), "
	    "('%s', 'phone-2', repeat('0', 64))", idstr, idstr) != 0)
		goto done;
	if (vault_bik_new(&bik) != 0)
		goto done;
	snprintf(path, sizeof(path), "%s/%s.bik", dir, name);
	if (write_secret(path, bik, VAULT_BIK_BYTES) != 0 ||
	    pgtest_write_pin(db, dir, name) != 0)    /* issue 12 */
		goto done;
	rc = 0;
done:
	vault_bik_free(&bik);
	vault_tenant_keys_free(&k);
	return rc;
}

static int
make_node(const char *dir, const char *name)
{
	unsigned char pk[VAULT_SIGN_PK_BYTES], *sk = NULL, id[16];
	char path[1024], idstr[UTIL_UUID_STRLEN + 1], err[256];
	pg_params p = PG_PARAMS_INIT;
	int rc = -1;

	if (vault_sign_keypair(pk, &sk) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%s.key", dir, name);
	if (write_secret(path, sk, VAULT_SIGN_SK_BYTES) != 0)
		goto done;
	util_uuid_random(id);
	util_uuid_format(idstr, id);
	pg_param_text(&p, idstr);
	pg_param_text(&p, name);
	pg_param_bin(&p, pk, sizeof(pk));
	if (pg_exec(db, "INSERT INTO coffer.nodes (node_id, name, "
	    "signing_public_key) VALUES ($1::uuid, $2, $3)", &p, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "node %s: %s\n", name, err);
		goto done;
	}
	rc = 0;
done:
	vault_sign_key_free(&sk);
	return rc;
}

static void
iso_time(char *out, size_t cap, long long us)
{
	time_t s = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&s, &tm);
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, us % 1000000);
}

/* Phase 1's records are RECEIVED 400 days ago: retention runs on the
 * archive's clock (migration 0010), so only records the gateway received
 * long ago can expire.  The harness run re-executes itself under
 * libfaketime with its wall clock read from a file on every call
 * (monotonic clocks untouched); full_run sets it to -400d around phase 1
 * and back to +0.  clock_shift_us is what this process's wall clock lags
 * the real one by; make_body adds it back so that sent_at stays relative
 * to the real now. */
static const char *clock_file;          /* NULL: not under libfaketime */
static long long   clock_shift_us;

static void
clock_reexec(char **argv)
{
	static char path[700];
	const char *tmp = getenv("COFFER_TEST_TMP"), *asan = getenv("ASAN_OPTIONS");
	char asan_opts[1024];
	glob_t g;
	FILE *f;

	clock_file = getenv("ITEST_CLOCK_FILE");
	if (clock_file != NULL)
		return;
	if (glob("/usr/lib/*/faketime/libfaketime.so.1", 0, NULL, &g) != 0 &&
	    glob("/usr/lib/faketime/libfaketime.so.1", 0, NULL, &g) != 0) {
		fprintf(stderr, "itest_verify: libfaketime not found "
		    "(apt-get install faketime)\n");
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/itest_verify.clock.%ld",
	    tmp != NULL ? tmp : "/tmp", (long)getpid());
	f = fopen(path, "w");
	if (f == NULL || fputs("+0\n", f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "itest_verify: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	snprintf(asan_opts, sizeof(asan_opts), "%s%sverify_asan_link_order=0",
	    asan != NULL ? asan : "", asan != NULL && *asan ? ":" : "");
	if (setenv("LD_PRELOAD", g.gl_pathv[0], 1) != 0 ||
	    setenv("FAKETIME_TIMESTAMP_FILE", path, 1) != 0 ||
	    setenv("FAKETIME_NO_CACHE", "1", 1) != 0 ||
	    setenv("FAKETIME_DONT_FAKE_MONOTONIC", "1", 1) != 0 ||
	    setenv("ASAN_OPTIONS", asan_opts, 1) != 0 ||
	    setenv("ITEST_CLOCK_FILE", path, 1) != 0)
		exit(1);
	globfree(&g);
	execv("/proc/self/exe", argv);
	fprintf(stderr, "itest_verify: re-exec under libfaketime: %s\n",
	    strerror(errno));
	exit(1);
}

/* This process's wall clock to `days` days from the real one (<= 0). */
static int
clock_set(int days)
{
	FILE *f;

	if (clock_file == NULL)
		return -1;
	f = fopen(clock_file, "w");
	if (f == NULL)
		return -1;
	if (days == 0)
		fputs("+0\n", f);
	else
		fprintf(f, "%dd\n", days);
	if (fclose(f) != 0)
		return -1;
	clock_shift_us = -(long long)days * 86400LL * 1000000LL;
	return 0;
}

/* n NDJSON lines for (tenant, phase, node, request).  Phase 1 mixes old
 * (400 days), recent (2 days) and future (30 days ahead) sent_at. */
static unsigned body_serial;

static char *
make_body(const char *tenant, int phase, int node, int req, int n)
{
	size_t cap = (size_t)n * 1024 + 1, off = 0;
	char *b = malloc(cap), ts[64];
	long long now = util_now_us() + clock_shift_us, day = 86400LL * 1000000LL;
	int i;

	if (b == NULL)
		return NULL;
	body_serial++;
	for (i = 0; i < n; i++) {
		int k = req * 1000 + i, age = rndn(10);
		long long t;

		if (phase == 1 && (req % 100 == 0 || age < 6))
			t = now - 400 * day + (long long)k * 1000000LL;
		else if (phase == 1 && age < 9)
			t = now - 2 * day + (long long)k * 1000000LL;
		else if (phase == 1)
			t = now + 30 * day;
		else
			t = now - 3600LL * 1000000LL + k;
		iso_time(ts, sizeof(ts), t);
		off += (size_t)snprintf(b + off, cap - off,
		    "{\"id\":\"%s-%d-%d-%d-%u-%llx\",\"channel\":\"%s\","
		    "\"conversation\":"
		    "\"conv-%d\",\"direction\":\"%s\",\"sender\":\"+1555123%04d\","
		    "\"recipients\":[\"+1555124%04d\"%s],\"sent_at\":\"%s\","
		    "\"body\":\"message %d of %s %016llx\"%s}\n",
		    tenant, phase, node, k, body_serial,
		    (unsigned long long)(util_now_us() & 0xffffffffffLL),
		    channels[rndn(5)], k % 4,
		    (k & 1) ? "in" : "out", rndn(50), rndn(50),
		    rndn(3) == 0 ? ",\"alice@example.com\"" : "", ts, k, tenant,
		    (unsigned long long)rnd(),
		    rndn(4) == 0 ? ",\"attachments\":[{\"name\":\"a.txt\",\"type\":"
		    "\"text/plain\",\"data\":\"aGVsbG8gd29ybGQ=\"}]" : "");
	}
	return b;
}

static int bench_mode;   /* production-size batches and epochs */

static void
node_config(gw_config *cfg, const char *dir, int node)
{
	gw_config_defaults(cfg);
	snprintf(cfg->node_name, sizeof(cfg->node_name), "%s", node_names[node]);
	snprintf(cfg->signing_key_file, sizeof(cfg->signing_key_file), "%s/%s.key",
	    dir, node_names[node]);
	snprintf(cfg->keys_dir, sizeof(cfg->keys_dir), "%s", dir);
	snprintf(cfg->witness_file, sizeof(cfg->witness_file),
	    "%s/witness-%s.jsonl", dir, node_names[node]);
	/* The gateway's own least-privilege role (tests/pg-harness.sh). */
	snprintf(cfg->pg_conninfo, sizeof(cfg->pg_conninfo), "dbname=%s user=gw",
	    PQdb(db));
	cfg->max_records_per_request = 20000;
	cfg->max_line_bytes = 64 * 1024;
	if (!bench_mode) {
		cfg->batch_max_records = BATCH_RECORDS;
		cfg->epoch_records = EPOCH_RECORDS;
	}
	cfg->device_refresh_s = 1;
}

/* Phase 1: tenants, nodes, keys in dir, then records; phase 2: more records.
 * per: lines per request. */
static int
produce(const char *dir, int phase, int requests, int per)
{
	ingest *ig[NNODES] = { NULL, NULL };
	char err[512];
	int t, n, q, rc = -1, total = 0;

	if (phase == 1) {
		for (t = 0; t < NTENANTS; t++)
			if (make_tenant(dir, tenant_names[t]) != 0)
				return -1;
		for (n = 0; n < NNODES; n++)
			if (make_node(dir, node_names[n]) != 0)
				return -1;
	}
	for (n = 0; n < NNODES; n++) {
		gw_config cfg;

		node_config(&cfg, dir, n);
		if (ingest_new(&ig[n], &cfg, err, sizeof(err)) != 0 ||
		    ingest_start(ig[n], err, sizeof(err)) != 0) {
			fprintf(stderr, "gateway %s: %s\n", node_names[n], err);
			goto done;
		}
	}
	for (q = 0; q < requests; q++)
		for (t = 0; t < NTENANTS; t++)
			for (n = 0; n < NNODES; n++) {
				char *body = make_body(tenant_names[t], phase, n,
				    q + phase * 100, per);
				int got;

				if (body == NULL)
					goto done;
				got = post(ig[n], tenant_names[t], q & 1 ? "phone-2" :
				    "phone-1", body);
				free(body);
				if (got != per) {
					fprintf(stderr, "ingest: %d of %d stored\n", got, per);
					goto done;
				}
				total += got;
			}
	rc = total;
done:
	for (n = 0; n < NNODES; n++)
		ingest_free(&ig[n]);
	return rc;
}

/* Run a cofferctl verb in-process against $PGDATABASE. */
static int
ctl(int (*fn)(int, char **), ...)
{
	char *argv[32];
	va_list ap;
	int argc = 0;

	va_start(ap, fn);
	while (argc < 31 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	fflush(stdout);
	return fn(argc, argv);
}

/* -- verify helpers ----------------------------------------------------------------- */

static const char *witness[NNODES];
static size_t nwitness;

static int
run_verify(PGconn *c, int in_tx, int with_witness, verify_report *r)
{
	verify_opts o;

	memset(&o, 0, sizeof(o));
	o.in_transaction = in_tx;
	if (with_witness) {
		o.witness = witness;
		o.witness_count = nwitness;
	}
	return verify_run(c, &o, r);
}

/* -- tamper trials -------------------------------------------------------------------- */

typedef struct pick {
	char tenant[40], stream[40];
	long long seq, batch, event_no;
} pick;

/* A random row of a query that returns (tenant_id, stream_id, seq|batch|
 * event_no) in a stable order; 0 or -1 (no rows). */
static int
pick_row(const char *from_order, pick *p)
{
	char q[2048], err[512];
	PGresult *r;
	long n;

	memset(p, 0, sizeof(*p));
	p->seq = p->batch = p->event_no = -1;
	snprintf(q, sizeof(q), "SELECT count(*) FROM (SELECT %s) x", from_order);
	n = atol(scalar("%s", q));
	if (n <= 0)
		return -1;
	snprintf(q, sizeof(q), "SELECT %s OFFSET %u LIMIT 1", from_order,
	    rndn((unsigned)n));
	r = pg_query(db, q, NULL, err, sizeof(err));
	if (r == NULL || PQntuples(r) != 1) {
		fprintf(stderr, "pick: %s\n", r == NULL ? err : "no row");
		PQclear(r);
		return -1;
	}
	snprintf(p->tenant, sizeof(p->tenant), "%s", PQgetvalue(r, 0, 0));
	snprintf(p->stream, sizeof(p->stream), "%s", PQgetvalue(r, 0, 1));
	p->seq = atoll(PQgetvalue(r, 0, 2));
	PQclear(r);
	return 0;
}

#define REC_ROWS  "tenant_id::text, stream_id::text, seq FROM coffer.records ORDER BY 1, 2, 3"
#define BATCH_ROWS "tenant_id::text, stream_id::text, batch_no FROM coffer.batches ORDER BY 1, 2, 3"
#define CP_ROWS   "tenant_id::text, stream_id::text, batch_no FROM coffer.checkpoints ORDER BY 1, 2, 3"
#define TOMB_ROWS "tenant_id::text, stream_id::text, seq FROM coffer.tombstones ORDER BY 1, 2, 3"
#define AUDIT_ROWS "tenant_id::text, '', event_no FROM coffer.audit_events ORDER BY 1, 3"
#define AUDIT_MID_ROWS "a.tenant_id::text, '', a.event_no FROM coffer.audit_events a " \
	"WHERE EXISTS (SELECT 1 FROM coffer.audit_events b WHERE b.tenant_id = a.tenant_id " \
	"AND b.event_no > a.event_no) ORDER BY 1, 3"

#define RKEY "tenant_id = '%s' AND stream_id = '%s' AND seq = %lld"
#define BKEY "tenant_id = '%s' AND stream_id = '%s' AND batch_no = %lld"
#define EKEY "tenant_id = '%s' AND event_no = %lld"

enum expect_loc { LOC_ANY, LOC_TENANT, LOC_STREAM, LOC_SEQ, LOC_BATCH, LOC_EVENT };

typedef struct trial {
	const char     *kind;
	pick            p;
	enum expect_loc loc;
} trial;

static long long
flip_offset(const char *col, const char *table, const char *key)
{
	long long len = atoll(scalar("SELECT octet_length(%s) FROM coffer.%s "
	    "WHERE %s", col, table, key));

	return len > 0 ? (long long)rndn((unsigned)len) : 0;
}

/* Flip one bit of one byte of a bytea column. */
static int
flip(const char *table, const char *col, const char *key)
{
	long long off = flip_offset(col, table, key);

	return sql("UPDATE coffer.%s SET %s = set_byte(%s, %lld, get_byte(%s, "
	    "%lld) # %u) WHERE %s", table, col, col, off, col, off,
	    1U << rndn(8), key);
}

static int
tamper(int kind, trial *t)
{
	char key[400], key2[400];
	pick q;
	const char *v;

	t->loc = LOC_TENANT;
	switch (kind) {
	case 0:         /* one bit of one ciphertext byte */
		t->kind = "ciphertext bit";
		if (pick_row(REC_ROWS, &t->p) != 0)
			return -1;
		t->loc = LOC_SEQ;
		snprintf(key, sizeof(key), RKEY, t->p.tenant, t->p.stream, t->p.seq);
		return flip("records", "ciphertext", key);
	case 1:
		t->kind = "record deleted";
		if (pick_row(REC_ROWS, &t->p) != 0)
			return -1;
		t->loc = LOC_SEQ;
		return sql("DELETE FROM coffer.records WHERE " RKEY, t->p.tenant,
		    t->p.stream, t->p.seq);
	case 2:
		t->kind = "ciphertexts swapped";
		if (pick_row(REC_ROWS, &t->p) != 0 || pick_row(REC_ROWS, &q) != 0)
			return -1;
		if (strcmp(t->p.stream, q.stream) == 0 && t->p.seq == q.seq)
			return -1;
		t->loc = LOC_ANY;
		snprintf(key, sizeof(key), RKEY, t->p.tenant, t->p.stream, t->p.seq);
		snprintf(key2, sizeof(key2), RKEY, q.tenant, q.stream, q.seq);
		return sql("UPDATE coffer.records r SET ciphertext = CASE WHEN r.%s "
		    "THEN (SELECT ciphertext FROM coffer.records WHERE %s) ELSE "
		    "(SELECT ciphertext FROM coffer.records WHERE %s) END WHERE (r.%s) "
		    "OR (r.%s)", key, key2, key, key, key2);
	case 3:
	case 4: {
		static const char *const shifts[] = { "1 microsecond",
		    "-1 microsecond", "1 second", "1 day", "-3 hours" };

		t->kind = kind == 3 ? "sent_at changed" : "received_at changed";
		if (pick_row(REC_ROWS, &t->p) != 0)
			return -1;
		t->loc = LOC_SEQ;
		return sql("UPDATE coffer.records SET %s = %s + interval '%s' WHERE "
		    RKEY, kind == 3 ? "sent_at" : "received_at",
		    kind == 3 ? "sent_at" : "received_at", shifts[rndn(5)],
		    t->p.tenant, t->p.stream, t->p.seq);
	}
	case 5:
		t->kind = "channel changed";
		if (pick_row(REC_ROWS, &t->p) != 0)
			return -1;
		t->loc = LOC_SEQ;
		return sql("UPDATE coffer.records SET channel = CASE WHEN channel = "
		    "'voice' THEN 'other' ELSE 'voice' END WHERE " RKEY, t->p.tenant,
		    t->p.stream, t->p.seq);
	case 6: {
		int how = rndn(4);

		t->kind = "participant tokens changed";
		if (pick_row(REC_ROWS, &t->p) != 0)
			return -1;
		t->loc = LOC_SEQ;
		snprintf(key, sizeof(key), RKEY, t->p.tenant, t->p.stream, t->p.seq);
		if (how == 0) { /* flip a bit of one byte of the first token
		                 * (the same byte read and written: reading
		                 * another one left it unchanged 1 time in 256) */
			unsigned at = rndn(16);

			return sql("UPDATE coffer.records SET participant_tokens[1] = "
			    "set_byte(participant_tokens[1], %u, get_byte("
			    "participant_tokens[1], %u) # 1) WHERE %s", at, at,
			    key) == 0 ? 0 : -1;
		}
		if (how == 1)   /* drop the last token */
			return sql("UPDATE coffer.records SET participant_tokens = "
			    "participant_tokens[1:cardinality(participant_tokens) - 1] "
			    "WHERE %s", key);
		if (how == 2)   /* add one */
			return sql("UPDATE coffer.records SET participant_tokens = "
			    "participant_tokens || '\\x00112233445566778899aabbccddeeff'"
			    "::bytea WHERE %s", key);
		/* reverse (the gateway sorts them: two differ, so order shows) */
		return sql("UPDATE coffer.records SET participant_tokens = ARRAY("
		    "SELECT x FROM unnest(participant_tokens) WITH ORDINALITY u(x, o) "
		    "ORDER BY o DESC) WHERE %s", key);
	}
	case 7:
		t->kind = "conversation token changed";
		if (pick_row(REC_ROWS, &t->p) != 0)
			return -1;
		t->loc = LOC_SEQ;
		if (rndn(2) == 0)
			return sql("UPDATE coffer.records SET conversation_token = NULL "
			    "WHERE " RKEY, t->p.tenant, t->p.stream, t->p.seq);
		snprintf(key, sizeof(key), RKEY, t->p.tenant, t->p.stream, t->p.seq);
		return flip("records", "conversation_token", key);
	case 8:
		t->kind = "size class changed";
		if (pick_row(REC_ROWS, &t->p) != 0)
			return -1;
		t->loc = LOC_SEQ;
		return sql("UPDATE coffer.records SET size_class = (size_class + 1) "
		    "%% 256 WHERE " RKEY, t->p.tenant, t->p.stream, t->p.seq);
	case 9:
		t->kind = "nonce changed";
		if (pick_row(REC_ROWS, &t->p) != 0)
			return -1;
		t->loc = LOC_SEQ;
		snprintf(key, sizeof(key), RKEY, t->p.tenant, t->p.stream, t->p.seq);
		return flip("records", "nonce", key);
	case 10:
		t->kind = "epoch changed";
		if (pick_row(REC_ROWS, &t->p) != 0)
			return -1;
		t->loc = LOC_SEQ;
		v = scalar("SELECT e.epoch_id FROM coffer.epochs e WHERE "
		    "e.tenant_id = '%s' AND e.epoch_id <> (SELECT epoch_id FROM "
		    "coffer.records WHERE " RKEY ") ORDER BY e.epoch_id LIMIT 1",
		    t->p.tenant, t->p.tenant, t->p.stream, t->p.seq);
		if (v[0] == '\0')
			return -1;
		return sql("UPDATE coffer.records SET epoch_id = '%s' WHERE " RKEY, v,
		    t->p.tenant, t->p.stream, t->p.seq);
	case 11:
		t->kind = "dedup token changed";
		if (pick_row(REC_ROWS, &t->p) != 0)
			return -1;
		t->loc = LOC_SEQ;
		snprintf(key, sizeof(key), RKEY, t->p.tenant, t->p.stream, t->p.seq);
		return flip("records", "dedup_token", key);
	case 12:
		t->kind = "stored leaf hash changed";
		if (pick_row(REC_ROWS, &t->p) != 0)
			return -1;
		t->loc = LOC_SEQ;
		snprintf(key, sizeof(key), RKEY, t->p.tenant, t->p.stream, t->p.seq);
		return flip("records", "leaf_hash", key);
	case 13:
		t->kind = "record batch_no changed";
		if (pick_row(REC_ROWS, &t->p) != 0)
			return -1;
		t->loc = LOC_SEQ;
		return sql("UPDATE coffer.records SET batch_no = batch_no + 1 WHERE "
		    RKEY, t->p.tenant, t->p.stream, t->p.seq);
	case 14:
		t->kind = "record moved to a later seq";
		if (pick_row(REC_ROWS, &t->p) != 0)
			return -1;
		t->loc = LOC_SEQ;
		return sql("UPDATE coffer.records SET seq = seq + 1000000 WHERE " RKEY,
		    t->p.tenant, t->p.stream, t->p.seq);
	case 15:
		t->kind = "record inserted after the chain";
		if (pick_row(REC_ROWS, &t->p) != 0)
			return -1;
		t->loc = LOC_STREAM;
		return sql("INSERT INTO coffer.records SELECT tenant_id, stream_id, "
		    "(SELECT max(seq) + 1 FROM coffer.records r2 WHERE r2.tenant_id = "
		    "r.tenant_id AND r2.stream_id = r.stream_id) + 10, epoch_id, "
		    "batch_no, received_at, sent_at, channel, size_class, "
		    "participant_tokens, conversation_token, "
		    "'\\xffeeddccbbaa99887766554433221100'::bytea, nonce, ciphertext, "
		    "leaf_hash FROM coffer.records r WHERE " RKEY, t->p.tenant,
		    t->p.stream, t->p.seq);
	case 16: {
		static const char *const cols[] = { "prev_head", "merkle_root",
		    "new_head" };

		t->kind = "batch hash changed";
		if (pick_row(BATCH_ROWS, &t->p) != 0)
			return -1;
		t->loc = LOC_STREAM;
		snprintf(key, sizeof(key), BKEY, t->p.tenant, t->p.stream, t->p.seq);
		return flip("batches", cols[rndn(3)], key);
	}
	case 17:
		t->kind = "batch range changed";
		if (pick_row(BATCH_ROWS, &t->p) != 0)
			return -1;
		t->loc = LOC_STREAM;
		return sql("UPDATE coffer.batches SET %s WHERE " BKEY,
		    rndn(2) ? "last_seq = last_seq + 1" :
		    "record_count = greatest(record_count - 1, 1), "
		    "last_seq = CASE WHEN record_count = 1 THEN last_seq + 1 ELSE "
		    "last_seq END", t->p.tenant, t->p.stream, t->p.seq);
	case 18:
		t->kind = "batch row deleted";
		if (pick_row(BATCH_ROWS, &t->p) != 0)
			return -1;
		t->loc = LOC_STREAM;
		if (rndn(2))
			(void)sql("DELETE FROM coffer.checkpoints WHERE " BKEY,
			    t->p.tenant, t->p.stream, t->p.seq);
		return sql("DELETE FROM coffer.batches WHERE " BKEY, t->p.tenant,
		    t->p.stream, t->p.seq);
	case 19:
		t->kind = "stream tail truncated (last batch, checkpoint, records)";
		if (pick_row("tenant_id::text, stream_id::text, max(batch_no) FROM "
		    "coffer.batches GROUP BY 1, 2 ORDER BY 1, 2", &t->p) != 0)
			return -1;
		t->loc = LOC_STREAM;
		snprintf(key, sizeof(key), BKEY, t->p.tenant, t->p.stream, t->p.seq);
		return sql("WITH b AS (DELETE FROM coffer.batches WHERE %s RETURNING "
		    "tenant_id, stream_id, first_seq, last_seq), c AS (DELETE FROM "
		    "coffer.checkpoints WHERE %s), t AS (DELETE FROM coffer.tombstones "
		    "x USING b WHERE x.tenant_id = b.tenant_id AND x.stream_id = "
		    "b.stream_id AND x.seq BETWEEN b.first_seq AND b.last_seq) "
		    "DELETE FROM coffer.records r USING b WHERE r.tenant_id = "
		    "b.tenant_id AND r.stream_id = b.stream_id AND r.seq BETWEEN "
		    "b.first_seq AND b.last_seq", key, key);
	case 20:
		t->kind = "checkpoint signature changed";
		if (pick_row(CP_ROWS, &t->p) != 0)
			return -1;
		t->loc = LOC_BATCH;
		snprintf(key, sizeof(key), BKEY, t->p.tenant, t->p.stream, t->p.seq);
		if (rndn(2))
			return flip("checkpoints", "signature", key);
		/* a valid signature, of another checkpoint */
		return sql("UPDATE coffer.checkpoints c SET signature = (SELECT "
		    "signature FROM coffer.checkpoints o WHERE o.signature <> "
		    "c.signature ORDER BY o.batch_no LIMIT 1) WHERE %s", key);
	case 21: {
		static const char *const sets[] = {
			"head = set_byte(head, 0, get_byte(head, 0) # 128)",
			"signed_at = signed_at + interval '1 microsecond'",
			"last_seq = last_seq + 1",
			"node_id = (SELECT n.node_id FROM coffer.nodes n WHERE n.node_id "
			"<> checkpoints.node_id LIMIT 1)",
		};

		t->kind = "checkpoint field changed";
		if (pick_row(CP_ROWS, &t->p) != 0)
			return -1;
		t->loc = LOC_BATCH;
		return sql("UPDATE coffer.checkpoints SET %s WHERE " BKEY,
		    sets[rndn(4)], t->p.tenant, t->p.stream, t->p.seq);
	}
	case 22:
		t->kind = "checkpoint deleted";
		if (pick_row(CP_ROWS, &t->p) != 0)
			return -1;
		t->loc = LOC_BATCH;
		return sql("DELETE FROM coffer.checkpoints WHERE " BKEY, t->p.tenant,
		    t->p.stream, t->p.seq);
	case 23: {
		static const char *const sets[] = {
			"action = action || 'x'",
			"actor = 'someone else'",
			"target = CASE WHEN target IS NULL THEN 'x' ELSE NULL END",
			"outcome = CASE WHEN outcome = 'ok' THEN 'denied' ELSE 'ok' END",
			"request_id = CASE WHEN request_id IS NULL THEN 'r' ELSE NULL END",
			"detail = coalesce(detail, '{}'::jsonb) || '{\"x\": 1}'",
			"at = at + interval '1 microsecond'",
			"role = role || 'x'",
		};

		t->kind = "audit event edited";
		if (pick_row(AUDIT_ROWS, &t->p) != 0)
			return -1;
		t->p.event_no = t->p.seq;
		t->loc = LOC_EVENT;
		return sql("UPDATE coffer.audit_events SET %s WHERE " EKEY,
		    sets[rndn(8)], t->p.tenant, t->p.event_no);
	}
	case 24:
		t->kind = "audit event deleted (not the newest)";
		if (pick_row(AUDIT_MID_ROWS, &t->p) != 0)
			return -1;
		t->p.event_no = t->p.seq;
		t->loc = LOC_EVENT;
		return sql("DELETE FROM coffer.audit_events WHERE " EKEY, t->p.tenant,
		    t->p.event_no);
	case 25:
		t->kind = "audit hash link changed";
		if (pick_row(AUDIT_ROWS, &t->p) != 0)
			return -1;
		t->p.event_no = t->p.seq;
		t->loc = LOC_EVENT;
		snprintf(key, sizeof(key), EKEY, t->p.tenant, t->p.event_no);
		return flip("audit_events", rndn(2) ? "prev_hash" : "event_hash", key);
	case 26:
		t->kind = "tombstone leaf hash changed";
		if (pick_row(TOMB_ROWS, &t->p) != 0)
			return -1;
		t->loc = LOC_STREAM;
		snprintf(key, sizeof(key), RKEY, t->p.tenant, t->p.stream, t->p.seq);
		return flip("tombstones", "leaf_hash", key);
	case 27:
		t->kind = "tombstone deleted";
		if (pick_row(TOMB_ROWS, &t->p) != 0)
			return -1;
		t->loc = LOC_SEQ;
		return sql("DELETE FROM coffer.tombstones WHERE " RKEY, t->p.tenant,
		    t->p.stream, t->p.seq);
	case 28:
		/* The smart DBA: delete a record and leave a tombstone carrying
		 * its leaf hash, so the chain itself still verifies. */
		t->kind = "record replaced by a forged tombstone";
		if (pick_row(REC_ROWS, &t->p) != 0)
			return -1;
		t->loc = LOC_TENANT;
		v = rndn(2) ? scalar("SELECT purge_id FROM coffer.tombstones WHERE "
		    "tenant_id = '%s' LIMIT 1", t->p.tenant) : "";
		return sql("WITH d AS (DELETE FROM coffer.records WHERE " RKEY
		    " RETURNING *) INSERT INTO coffer.tombstones (tenant_id, stream_id, "
		    "seq, batch_no, leaf_hash, reason, policy, authorisation, purge_id, "
		    "epoch_id) SELECT tenant_id, stream_id, seq, batch_no, leaf_hash, "
		    "'retention expired', 'channel *: 1 day', 'forged', %s, epoch_id "
		    "FROM d", t->p.tenant, t->p.stream, t->p.seq,
		    v[0] ? "(SELECT purge_id FROM coffer.tombstones LIMIT 1)" :
		    "gen_random_uuid()");
	case 29:
		t->kind = "node public key replaced";
		t->loc = LOC_ANY;
		return sql("UPDATE coffer.nodes SET signing_public_key = "
		    "(SELECT signing_public_key FROM coffer.nodes n2 WHERE "
		    "n2.node_id <> nodes.node_id LIMIT 1) WHERE node_id = (SELECT "
		    "node_id FROM coffer.nodes ORDER BY node_id LIMIT 1 OFFSET %u)",
		    rndn(2));
	case 30:
		t->kind = "stream re-assigned to another node";
		if (pick_row("tenant_id::text, stream_id::text, 0 FROM coffer.streams "
		    "ORDER BY 1, 2", &t->p) != 0)
			return -1;
		t->loc = LOC_STREAM;
		return sql("UPDATE coffer.streams SET node_id = (SELECT n.node_id "
		    "FROM coffer.nodes n WHERE n.node_id <> streams.node_id LIMIT 1) "
		    "WHERE tenant_id = '%s' AND stream_id = '%s'", t->p.tenant,
		    t->p.stream);
	case 31:
		t->kind = "stream registration deleted";
		if (pick_row("tenant_id::text, stream_id::text, 0 FROM coffer.streams "
		    "ORDER BY 1, 2", &t->p) != 0)
			return -1;
		t->loc = LOC_STREAM;
		return sql("DELETE FROM coffer.streams WHERE tenant_id = '%s' AND "
		    "stream_id = '%s'", t->p.tenant, t->p.stream);
	case 32:
		t->kind = "audit event renumbered";
		if (pick_row(AUDIT_ROWS, &t->p) != 0)
			return -1;
		t->p.event_no = t->p.seq;
		t->loc = LOC_TENANT;
		return sql("UPDATE coffer.audit_events SET event_no = event_no + 1000 "
		    "WHERE " EKEY, t->p.tenant, t->p.event_no);
	}
	return -1;
}
#define NKINDS 33

/* Controls: rewrite a row with its own values; must verify clean. */
static int
control(trial *t)
{
	static const char *const stmts[] = {
		"UPDATE coffer.records SET ciphertext = ciphertext, sent_at = sent_at "
		"WHERE (tenant_id, stream_id, seq) = (SELECT tenant_id, stream_id, seq "
		"FROM coffer.records ORDER BY 1, 2, 3 OFFSET %u LIMIT 1)",
		"UPDATE coffer.batches SET new_head = new_head WHERE (tenant_id, "
		"stream_id, batch_no) = (SELECT tenant_id, stream_id, batch_no FROM "
		"coffer.batches ORDER BY 1, 2, 3 OFFSET %u LIMIT 1)",
		"UPDATE coffer.checkpoints SET signature = signature WHERE (tenant_id, "
		"stream_id, batch_no) = (SELECT tenant_id, stream_id, batch_no FROM "
		"coffer.checkpoints ORDER BY 1, 2, 3 OFFSET %u LIMIT 1)",
		"UPDATE coffer.audit_events SET detail = detail, at = at WHERE "
		"(tenant_id, event_no) = (SELECT tenant_id, event_no FROM "
		"coffer.audit_events ORDER BY 1, 2 OFFSET %u LIMIT 1)",
		"UPDATE coffer.tombstones SET leaf_hash = leaf_hash WHERE (tenant_id, "
		"stream_id, seq) = (SELECT tenant_id, stream_id, seq FROM "
		"coffer.tombstones ORDER BY 1, 2, 3 OFFSET %u LIMIT 1)",
	};
	unsigned which = rndn(5);

	t->kind = "control (no-op rewrite)";
	return sql(stmts[which], rndn(20));
}

static int
trials(int n, unsigned long long seed)
{
	int i, detected = 0, tampered = 0, controls = 0, false_alarms = 0;
	int located = 0, bad_loc = 0;

	rng_state = seed ? seed : 1;
	printf("itest_verify: %d tamper trials, seed %llu (replay with "
	    "COFFER_TEST_SEED=%llu)\n", n, seed, seed);
	for (i = 0; i < n; i++) {
		verify_report r;
		trial t;
		int is_control = (i % 5) == 4, kind = 0, tries, st;

		memset(&t, 0, sizeof(t));
		if (sql("BEGIN") != 0 ||
		    sql("SET LOCAL session_replication_role = replica") != 0 ||
		    sql("ALTER TABLE coffer.records DISABLE TRIGGER USER") != 0 ||
		    sql("ALTER TABLE coffer.batches DISABLE TRIGGER USER") != 0 ||
		    sql("ALTER TABLE coffer.checkpoints DISABLE TRIGGER USER") != 0 ||
		    sql("ALTER TABLE coffer.tombstones DISABLE TRIGGER USER") != 0 ||
		    sql("ALTER TABLE coffer.audit_events DISABLE TRIGGER USER") != 0)
			return -1;
		if (is_control) {
			if (control(&t) != 0) {
				(void)pg_rollback(db);
				return -1;
			}
		} else {
			for (tries = 0; tries < 50; tries++) {
				kind = rndn(NKINDS);
				if (sql("SAVEPOINT s") != 0)
					return -1;
				if (tamper(kind, &t) == 0)
					break;
				if (sql("ROLLBACK TO SAVEPOINT s") != 0)
					return -1;
			}
			if (tries == 50) {
				(void)pg_rollback(db);
				fprintf(stderr, "no tamper applicable\n");
				return -1;
			}
		}
		st = run_verify(db, 1, 1, &r);
		(void)pg_rollback(db);
		if (is_control) {
			controls++;
			if (st != VERIFY_OK) {
				false_alarms++;
				fprintf(stderr, "trial %d: FALSE ALARM after %s: %s\n", i,
				    t.kind, r.message);
			}
			continue;
		}
		tampered++;
		if (st == VERIFY_TAMPERED) {
			int ok = 1;

			detected++;
			if (t.loc != LOC_ANY && strcmp(r.tenant_id, t.p.tenant) != 0)
				ok = 0;
			if ((t.loc == LOC_STREAM || t.loc == LOC_SEQ ||
			    t.loc == LOC_BATCH) && strcmp(r.stream_id, t.p.stream) != 0)
				ok = 0;
			if (t.loc == LOC_SEQ && r.seq != t.p.seq)
				ok = 0;
			if (t.loc == LOC_BATCH && r.batch_no != t.p.seq)
				ok = 0;
			if (t.loc == LOC_EVENT && r.event_no != t.p.event_no)
				ok = 0;
			if (ok) {
				located++;
			} else {
				bad_loc++;
				fprintf(stderr, "trial %d (%s, kind %d): detected but "
				    "located elsewhere than tenant %s stream %s key %lld: "
				    "%s\n", i, t.kind, kind, t.p.tenant, t.p.stream,
				    t.p.seq, r.message);
			}
		} else {
			fprintf(stderr, "trial %d: NOT DETECTED: %s (kind %d, tenant %s "
			    "stream %s key %lld), status %d %s\n", i, t.kind, kind,
			    t.p.tenant, t.p.stream, t.p.seq, st, r.message);
		}
	}
	printf("itest_verify: trials: %d tampered, %d detected (%d located "
	    "exactly), %d controls, %d false alarms\n", tampered, detected,
	    located, controls, false_alarms);
	CHECK(detected == tampered, "%d of %d tampers detected", detected,
	    tampered);
	CHECK(bad_loc == 0, "%d tampers located elsewhere", bad_loc);
	CHECK(false_alarms == 0, "%d false alarms", false_alarms);
	return 0;
}

/* -- the self-contained run ------------------------------------------------------ */

static int
setenv_db(const char *name)
{
	return setenv("PGDATABASE", name, 1);
}

/* Writer lanes per node: the gateway's default `workers` (writer.c). */
static unsigned
lanes_per_node(void)
{
	gw_config cfg;

	gw_config_defaults(&cfg);
	return cfg.workers == 0 ? 1 : cfg.workers;
}

/* An epoch is empty when it held records (it has tombstones) and none is
 * left; its lane is past it when its stream holds a later seq (record or
 * tombstone; a lane uses its epochs one after the other).  Purge must
 * shred exactly the empty epochs their lane is past. */
#define EPOCH_EMPTY "EXISTS (SELECT 1 FROM coffer.tombstones t WHERE " \
	"t.tenant_id = e.tenant_id AND t.epoch_id = e.epoch_id) AND NOT EXISTS " \
	"(SELECT 1 FROM coffer.records r WHERE r.tenant_id = e.tenant_id AND " \
	"r.epoch_id = e.epoch_id)"
#define EPOCH_TOP "(SELECT max(t.seq) FROM coffer.tombstones t WHERE " \
	"t.tenant_id = e.tenant_id AND t.epoch_id = e.epoch_id)"
#define EPOCH_PAST "(EXISTS (SELECT 1 FROM coffer.records r WHERE " \
	"r.tenant_id = e.tenant_id AND r.stream_id = e.stream_id AND r.seq > " \
	EPOCH_TOP ") OR EXISTS (SELECT 1 FROM coffer.tombstones t WHERE " \
	"t.tenant_id = e.tenant_id AND t.stream_id = e.stream_id AND t.seq > " \
	EPOCH_TOP "))"

static int
full_run(int ntrials, unsigned long long seed)
{
	char dbname[PGTEST_DBNAME_MAX], dir[600], w0[700], w1[700], keys[700];
	char saved_db[256];
	const char *tmp = getenv("COFFER_TEST_TMP");
	verify_report r;
	PGconn *aud = NULL;
	unsigned lanes = lanes_per_node();
	/* Phase 1 per (tenant, node): two requests, the first all 400 days old
	 * (make_body).  With more than lanes x EPOCH_RECORDS records in it,
	 * some lane gets more than EPOCH_RECORDS of them: that lane's first
	 * epoch holds old records only and is followed by another.  Globex
	 * (365 days, no hold) thus empties, and shreds, one epoch per node
	 * at least, however the records are spread over the lanes. */
	int per1 = (int)(lanes * EPOCH_RECORDS) + 6;
	int n1, n2, st;

	if (pgtest_fresh_db("itest_verify", dbname, &db) != 0)
		return -1;
	snprintf(saved_db, sizeof(saved_db), "%s", getenv("PGDATABASE") ?
	    getenv("PGDATABASE") : "postgres");
	if (setenv_db(dbname) != 0)
		return -1;
	snprintf(dir, sizeof(dir), "%s/itest_verify.%ld", tmp ? tmp : "/tmp",
	    (long)getpid());
	mkdir(dir, 0700);
	/* issue 13.5: the in-process cofferctl verbs sign their events */
	if (pgtest_audit_signers(db, dir) != 0)
		return -1;
	snprintf(w0, sizeof(w0), "%s/witness-%s.jsonl", dir, node_names[0]);
	snprintf(w1, sizeof(w1), "%s/witness-%s.jsonl", dir, node_names[1]);
	witness[0] = w0;
	witness[1] = w1;
	nwitness = 2;

	CHECK(clock_set(-400) == 0, "clock to -400 days");
	n1 = produce(dir, 1, 2, per1);
	CHECK(clock_set(0) == 0, "clock back to now");
	CHECK(n1 == 2 * NTENANTS * NNODES * per1, "phase 1 stored %d", n1);
	if (n1 < 0)
		return -1;

	/* Retention and a hold, then a purge: tombstones, shredded epochs and
	 * their audit events are part of every later verify. */
	snprintf(keys, sizeof(keys), "%s", dir);
	/* A year is below the default regulatory floor (migration 0009):
	 * lowered by the owner directly, the test-only path. */
	CHECK(pgtest_exec(db, "UPDATE coffer.tenants SET "
	    "retention_floor_days = 30") == 0, "floor lowered");
	CHECK(ctl(ctl_cmd_retention, "retention", "set", "--tenant", "acme",
	    "--days", "365", NULL) == 0, "retention set acme");
	CHECK(ctl(ctl_cmd_retention, "retention", "set", "--tenant", "globex",
	    "--days", "365", NULL) == 0, "retention set globex");
	CHECK(ctl(ctl_cmd_retention, "retention", "set", "--tenant", "initech",
	    "--days", "365", NULL) == 0, "retention set initech");
	CHECK(ctl(ctl_cmd_retention, "retention", "set", "--tenant", "initech",
	    "--channel", "email", "--forever", NULL) == 0,
	    "retention set initech email forever");
	CHECK(ctl(ctl_cmd_hold, "hold", "create", "--tenant", "acme",
	    "--conversation", "conv-1", "--keys-dir", keys, "--reason",
	    "matter 42", NULL) == 0, "hold create");
	CHECK(ctl(ctl_cmd_purge, "purge", "--yes", NULL) == 0, "purge");
	CHECK(atol(scalar("SELECT count(*) FROM coffer.tombstones")) > 0,
	    "purge left tombstones");
	{
		long shred = atol(scalar("SELECT count(*) FROM coffer.epochs "
		    "WHERE wrapped_key IS NULL"));

		CHECK(shred >= NNODES, "purge shredded epochs: %ld, expected at "
		    "least %d (globex, one per node)", shred, NNODES);
		CHECK(shred == atol(scalar("SELECT sum((detail->>"
		    "'epochs_shredded')::int) FROM coffer.audit_events WHERE "
		    "action = 'purge'")), "the purge audited the %ld epochs it "
		    "shredded", shred);
	}
	CHECK(atol(scalar("SELECT count(*) FROM coffer.epochs e WHERE wrapped_key "
	    "IS NULL AND EXISTS (SELECT 1 FROM coffer.records r WHERE r.tenant_id "
	    "= e.tenant_id AND r.epoch_id = e.epoch_id)")) == 0,
	    "no shredded epoch has live records");
	/* ... once its lane has moved on to a later epoch (the newest one may
	 * still be the gateway's current epoch) — and then always. */
	CHECK(atol(scalar("SELECT count(*) FROM coffer.epochs e WHERE wrapped_key "
	    "IS NOT NULL AND " EPOCH_EMPTY " AND " EPOCH_PAST)) == 0,
	    "every purged-empty epoch its lane moved on from is shredded");
	CHECK(atol(scalar("SELECT count(*) FROM coffer.epochs e WHERE wrapped_key "
	    "IS NULL AND NOT " EPOCH_PAST)) == 0,
	    "no epoch is shredded before its lane moved on from it");
	CHECK(atol(scalar("SELECT count(*) FROM coffer.records r JOIN "
	    "coffer.tenants t USING (tenant_id) WHERE t.name = 'initech' AND "
	    "r.channel = 'email' AND r.sent_at < now() - interval '365 days'")) > 0,
	    "initech's old email records are kept forever");

	n2 = produce(dir, 2, 1, 15);
	CHECK(n2 == NTENANTS * NNODES * 15, "phase 2 stored %d", n2);
	{
		audit_event ev;
		char err[256];

		memset(&ev, 0, sizeof(ev));       /* nil tenant: system events */
		ev.actor = "itest";
		ev.role = "operator";
		ev.action = "test.event";
		ev.outcome = "ok";
		ev.detail_json = "{\"b\": [1, 2.50, \"é\"], \"a\": null}";
		CHECK(sql("BEGIN") == 0 &&
		    audit_append(db, &ev, NULL, NULL, err, sizeof(err)) == 0 &&
		    audit_append(db, &ev, NULL, NULL, err, sizeof(err)) == 0 &&
		    sql("COMMIT") == 0, "system audit events");
	}

	st = run_verify(db, 0, 1, &r);
	CHECK(st == VERIFY_OK, "clean archive with witnesses: %d %s", st,
	    r.message);
	printf("itest_verify: clean: %llu records, %llu tombstones, %llu batches, "
	    "%llu audit events, %llu witness lines\n",
	    (unsigned long long)r.records, (unsigned long long)r.tombstones,
	    (unsigned long long)r.batches, (unsigned long long)r.audit_events,
	    (unsigned long long)r.witness_lines);
	/* One stream per tenant, node and writer lane: every lane got records
	 * (each request spreads over all lanes; one left empty by all of a
	 * tenant's requests to a node has odds below 2^-50). */
	CHECK(r.tombstones > 0 && r.witness_lines == r.batches &&
	    r.batches == strtoull(scalar("SELECT count(*) FROM coffer.batches"),
	    NULL, 10) &&
	    r.streams == strtoull(scalar("SELECT count(*) FROM coffer.streams"),
	    NULL, 10) &&
	    r.streams == (uint64_t)NTENANTS * NNODES * lanes,
	    "clean run covered everything (streams %llu of %u x %u x %u lanes, "
	    "batches %llu, witness %llu)", (unsigned long long)r.streams,
	    NTENANTS, NNODES, lanes, (unsigned long long)r.batches,
	    (unsigned long long)r.witness_lines);
	st = run_verify(db, 0, 0, &r);
	CHECK(st == VERIFY_OK, "clean archive without witnesses: %s", r.message);

	aud = pgtest_connect(dbname, "auditor");
	CHECK(aud != NULL, "connect as auditor");
	if (aud != NULL) {
		st = run_verify(aud, 0, 1, &r);
		CHECK(st == VERIFY_OK, "verify as coffer_verify role: %s", r.message);
		pg_close(&aud);
	}

	if (trials(ntrials, seed) != 0)
		CHECK(0, "trials could not run");

	pg_close(&db);
	(void)setenv_db(saved_db);
	pgtest_drop_db(dbname);
	return 0;
}

static unsigned long long
seed_of(void)
{
	const char *s = getenv("COFFER_TEST_SEED");

	if (s != NULL && s[0] != '\0')
		return strtoull(s, NULL, 10);
	return ((unsigned long long)time(NULL) << 16) ^ (unsigned long long)getpid();
}

int
main(int argc, char **argv)
{
	unsigned long long seed = seed_of();
	int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	log_set_quiet(1);           /* the gateway pipeline's info lines */
	if (vault_init() != 0)
		return 1;
	rng_state = seed ? seed : 1;

	if (argc >= 2 && strcmp(argv[1], "--ctl") == 0) {
		if (argc < 3)
			return 2;
		if (strcmp(argv[2], "verify") == 0)
			return ctl_cmd_verify(argc - 2, argv + 2);
		if (strcmp(argv[2], "retention") == 0)
			return ctl_cmd_retention(argc - 2, argv + 2);
		if (strcmp(argv[2], "hold") == 0)
			return ctl_cmd_hold(argc - 2, argv + 2);
		if (strcmp(argv[2], "purge") == 0)
			return ctl_cmd_purge(argc - 2, argv + 2);
		return 2;
	}
	if (argc >= 3 && strcmp(argv[1], "--bench") == 0) {
		/* itest_verify --bench N DIR: N records (in requests of 2000)
		 * into $PGDATABASE, then one timed verify. */
		long want = atol(argv[2]), done = 0;
		verify_report r;
		int n;

		if (argc < 4)
			return 2;
		bench_mode = 1;
		db = pgtest_connect(NULL, NULL);
		if (db == NULL)
			return 1;
		while (done < want) {
			n = produce(argv[3], done == 0 ? 1 : 2, 25, 334);
			if (n < 0)
				return 1;
			done += n;
		}
		printf("bench: %ld records ingested\n", done);
		(void)run_verify(db, 0, 0, &r);
		printf("bench: verify status %d: %llu records in %.2f s = %.0f "
		    "records/s %s\n", r.status, (unsigned long long)r.records,
		    r.seconds, (double)r.records / r.seconds, r.message);
		pg_close(&db);
		return r.status;
	}
	if (argc >= 2 && strcmp(argv[1], "--produce") == 0) {
		int phase = argc >= 5 && strcmp(argv[3], "--phase") == 0 ?
		    atoi(argv[4]) : 1;
		int per = argc >= 7 ? atoi(argv[6]) : 20;
		int reqs = argc >= 6 ? atoi(argv[5]) : 2;
		int n;

		if (argc < 3)
			return 2;
		db = pgtest_connect(NULL, NULL);
		if (db == NULL)
			return 1;
		n = produce(argv[2], phase, reqs, per);
		pg_close(&db);
		if (n < 0)
			return 1;
		printf("produced %d records\n", n);
		return 0;
	}
	if (argc >= 3 && strcmp(argv[1], "--trials") == 0) {
		int n = atoi(argv[2]);

		for (i = 3; i + 1 < argc && nwitness < NNODES; i += 2)
			if (strcmp(argv[i], "--witness") == 0)
				witness[nwitness++] = argv[i + 1];
		db = pgtest_connect(NULL, NULL);
		if (db == NULL)
			return 1;
		if (trials(n, seed) != 0)
			CHECK(0, "trials could not run");
		pg_close(&db);
	} else {
		const char *n;

		clock_reexec(argv);
		n = getenv("COFFER_TAMPER_TRIALS");

		if (full_run(n != NULL ? atoi(n) : 250, seed) != 0)
			CHECK(0, "set-up failed");
	}
	printf("itest_verify: %d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
