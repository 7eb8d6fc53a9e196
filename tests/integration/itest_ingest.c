/* tests/integration/itest_ingest.c — the ingest pipeline (gateway/ingest.c,
 * record.c, writer.c, keys.c) against a real PostgreSQL, driven through
 * gateway/ingest.h without the TLS/HTTP transport (the end-to-end test with
 * curl is tests/integration/gateway_ingest.sh).
 *
 * Works on its own database itest_ingest_<pid>.  The tenant is made here
 * with vault_tenant_generate so the test holds the custodian shares: it
 * can then do what a production does — threshold-unwrap epoch keys and open
 * records — and prove the sealed rows hold exactly the canonical records
 * under the AD of DESIGN.md.  It also re-verifies every leaf hash, Merkle
 * root, chain head and checkpoint signature, and the witness file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/pg.h"
#include "common/util.h"
#include "common/verify.h"
#include "gateway/config.h"
#include "gateway/ingest.h"
#include "tests/lib/pgtest.h"
#include "vault/blind.h"
#include "vault/chain.h"
#include "vault/mem.h"
#include "vault/seal.h"
#include "vault/tenant.h"
#include "vault/threshold.h"

static char               db_name[PGTEST_DBNAME_MAX];
static PGconn            *db;            /* superuser */
static char               dir[512];      /* keys, witness */
static gw_config          cfg;
static ingest            *ig;
static ingest            *ig2;           /* a second gateway node */
static vault_tenant_keys *tk;            /* tenant A's shares (test only) */
static unsigned char      tid_a[16], tid_b[16];
static unsigned char      node_pk[VAULT_SIGN_PK_BYTES];
static unsigned char      node2_pk[VAULT_SIGN_PK_BYTES];
static unsigned char      T_a[32];

#define DEV_A  "phone-a1"
#define DEV_A2 "phone-a2"
#define DEV_B  "phone-b1"

/* -- completion ---------------------------------------------------------------- */

typedef struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	int             done;
	int             status;
	unsigned        retry;
	char           *body;
	size_t          len;
} waiter;

static void
on_done(void *ctx, int status, unsigned retry, const char *ct, char *body,
    size_t len)
{
	waiter *w = ctx;

	(void)ct;
	pthread_mutex_lock(&w->mu);
	if (w->done)
		fail_msg("done called twice");
	w->done = 1;
	w->status = status;
	w->retry = retry;
	w->body = body;
	w->len = len;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static void
peer_of(ingest_peer *p, const char *tenant, const char *device)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->tenant, sizeof(p->tenant), "%s", tenant);
	snprintf(p->device, sizeof(p->device), "%s", device);
	snprintf(p->fingerprint, sizeof(p->fingerprint), "%064d", 0);
}

/* Submit body as (tenant, device) and wait; returns status, *out the body. */
static int
submit_to(ingest *to, const char *tenant, const char *device, const char *body,
    size_t len, char **out, unsigned *retry)
{
	ingest_peer p;
	waiter w;
	char *copy = malloc(len + 1);

	assert_non_null(copy);
	memcpy(copy, body, len);
	copy[len] = '\0';
	memset(&w, 0, sizeof(w));
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	peer_of(&p, tenant, device);
	ingest_submit(to, &p, copy, len, on_done, &w);
	pthread_mutex_lock(&w.mu);
	while (!w.done)
		pthread_cond_wait(&w.cv, &w.mu);
	pthread_mutex_unlock(&w.mu);
	pthread_mutex_destroy(&w.mu);
	pthread_cond_destroy(&w.cv);
	if (retry != NULL)
		*retry = w.retry;
	if (out != NULL)
		*out = w.body;
	else
		free(w.body);
	return w.status;
}

static int
submit(const char *tenant, const char *device, const char *body, size_t len,
    char **out, unsigned *retry)
{
	return submit_to(ig, tenant, device, body, len, out, retry);
}

static char *
record(const char *id, const char *body)
{
	char *s;

	if (asprintf(&s, "{\"id\":\"%s\",\"channel\":\"signal\",\"conversation\":"
	    "\"conv-1\",\"direction\":\"out\",\"sender\":\"+15551230001\","
	    "\"recipients\":[\"+15551230002\",\"+15551230003\"],\"sent_at\":"
	    "\"2026-11-22T10:00:00.25+01:00\",\"body\":\"%s\"}", id, body) < 0)
		fail();
	return s;
}

/* Parse an NDJSON response into an array of objects. */
static json_t *
lines_of(const char *body)
{
	json_t *arr = json_array();
	const char *p = body;

	while (p != NULL && *p != '\0') {
		const char *e = strchr(p, '\n');
		size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
		json_error_t je;
		json_t *o = json_loadb(p, n, 0, &je);

		if (o == NULL)
			fail_msg("response line not JSON: %s", je.text);
		json_array_append_new(arr, o);
		p = e != NULL ? e + 1 : NULL;
	}
	return arr;
}

static const char *
field(json_t *arr, size_t i, const char *key)
{
	json_t *v = json_object_get(json_array_get(arr, i), key);

	return v != NULL && json_is_string(v) ? json_string_value(v) : NULL;
}

static long
count_rows(const char *sql)
{
	char *s = pgtest_scalar(db, sql);
	long n;

	assert_non_null(s);
	n = atol(s);
	free(s);
	return n;
}

/* -- set-up ---------------------------------------------------------------------- */

static void
write_secret(const char *path, const void *data, size_t len)
{
	char err[256];

	unlink(path);
	if (util_write_file(path, data, len, 0600, 1, err, sizeof(err)) != 0)
		fail_msg("%s", err);
}

static int
add_tenant(const char *name, const unsigned char id[16],
    unsigned char T_out[32], vault_tenant_keys **keep)
{
	vault_tenant_keys *k = NULL;
	unsigned char T[32], com[2 * 32], V[32];
	char idstr[UTIL_UUID_STRLEN + 1], err[256], hex[65];
	char comhex[2 * 65 + 1] = "", shhex[3 * 65 + 1] = "";
	unsigned i;
	pg_params p = PG_PARAMS_INIT, q = PG_PARAMS_INIT;

	if (vault_tenant_generate(&k, 2, 3, err, sizeof(err)) != 0)
		return -1;
	vault_tenant_keys_public_key(k, T);
	if (vault_tenant_keys_commitments(k, com, sizeof(com)) != 0)
		return -1;
	for (i = 0; i < 2; i++) {
		util_hex(hex, com + 32 * i, 32);
		strcat(comhex, i ? "," : "");
		strcat(comhex, hex);
	}
	for (i = 1; i <= 3; i++) {
		if (vault_tenant_keys_public_share(k, i, V) != 0)
			return -1;
		util_hex(hex, V, 32);
		strcat(shhex, i > 1 ? "," : "");
		strcat(shhex, hex);
	}
	util_uuid_format(idstr, id);
	pg_param_text(&p, idstr);
	pg_param_text(&p, name);
	if (pg_exec(db, "INSERT INTO coffer.tenants (tenant_id, name, threshold_k, "
	    "custodians_n) VALUES ($1::uuid, $2, 2, 3)", &p, err, sizeof(err)) != 0)
		fail_msg("tenant: %s", err);
	pg_param_text(&q, idstr);
	pg_param_bin(&q, T, 32);
	pg_param_text(&q, comhex);
	pg_param_text(&q, shhex);
	if (pg_exec(db, "INSERT INTO coffer.tenant_keys (tenant_id, public_key, "
	    "commitments, public_shares, fingerprint) VALUES ($1::uuid, $2, "
	    "(SELECT array_agg(decode(x, 'hex') ORDER BY o) FROM "
	    "unnest(string_to_array($3, ',')) WITH ORDINALITY u(x, o)), "
	    "(SELECT array_agg(decode(x, 'hex') ORDER BY o) FROM "
	    "unnest(string_to_array($4, ',')) WITH ORDINALITY u(x, o)), 'fp')",
	    &q, err, sizeof(err)) != 0)
		fail_msg("tenant_keys: %s", err);
	memcpy(T_out, T, 32);
	if (keep != NULL)
		*keep = k;
	else
		vault_tenant_keys_free(&k);
	return 0;
}

static void
add_device(const unsigned char tid[16], const char *device)
{
	char idstr[UTIL_UUID_STRLEN + 1], err[256];
	pg_params p = PG_PARAMS_INIT;

	util_uuid_format(idstr, tid);
	pg_param_text(&p, idstr);
	pg_param_text(&p, device);
	/* registered with the fingerprint peer_of() presents */
	if (pg_exec(db, "INSERT INTO coffer.devices (tenant_id, device_id, "
	    "cert_fingerprint) VALUES ($1::uuid, $2, repeat('0', 64))", &p, err,
	    sizeof(err)) != 0)
		fail_msg("device: %s", err);
}

static int
setup(void **state)
{
	unsigned char *sk = NULL, *bik = NULL, T_b[32];
	char path[600], err[256], idstr[UTIL_UUID_STRLEN + 1];
	const char *tmp = getenv("COFFER_TEST_TMP");
	pg_params p = PG_PARAMS_INIT;

	(void)state;
	if (vault_init() != 0)
		return -1;
	if (pgtest_fresh_db("itest_ingest", db_name, &db) != 0)
		return -1;
	snprintf(dir, sizeof(dir), "%s/itest_ingest.%ld", tmp ? tmp : "/tmp",
	    (long)getpid());
	mkdir(dir, 0700);

	util_uuid_random(tid_a);
	util_uuid_random(tid_b);
	if (add_tenant("acme", tid_a, T_a, &tk) != 0 ||
	    add_tenant("globex", tid_b, T_b, NULL) != 0)
		return -1;
	add_device(tid_a, DEV_A);
	add_device(tid_a, DEV_A2);
	add_device(tid_b, DEV_B);
	/* A tenant whose stored public key is not a valid point: every epoch
	 * for it fails to wrap.  Its records must fail alone. */
	{
		unsigned char tid_x[16];
		char xs[UTIL_UUID_STRLEN + 1], sql[512];

		util_uuid_random(tid_x);
		util_uuid_format(xs, tid_x);
		snprintf(sql, sizeof(sql), "INSERT INTO coffer.tenants (tenant_id, "
		    "name, threshold_k, custodians_n) VALUES ('%s', 'badkey', 1, 1)",
		    xs);
		if (pgtest_exec(db, sql) != 0)
			return -1;
		snprintf(sql, sizeof(sql), "INSERT INTO coffer.tenant_keys "
		    "(tenant_id, public_key, commitments, public_shares, fingerprint) "
		    "VALUES ('%s', decode(repeat('ff', 32), 'hex'), "
		    "ARRAY[decode(repeat('ff', 32), 'hex')], "
		    "ARRAY[decode(repeat('ff', 32), 'hex')], 'x')", xs);
		if (pgtest_exec(db, sql) != 0)
			return -1;
		add_device(tid_x, "phone-x");
	}

	/* Blind-index keys as cofferctl writes them: 32 raw bytes, 0600. */
	if (vault_bik_new(&bik) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/acme.bik", dir);
	write_secret(path, bik, VAULT_BIK_BYTES);
	vault_bik_free(&bik);
	if (vault_bik_new(&bik) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/globex.bik", dir);
	write_secret(path, bik, VAULT_BIK_BYTES);
	snprintf(path, sizeof(path), "%s/badkey.bik", dir);
	write_secret(path, bik, VAULT_BIK_BYTES);
	vault_bik_free(&bik);
	/* Tenant pins as `cofferctl tenant init` writes them (issue 12). */
	if (pgtest_write_pin(db, dir, "acme") != 0 ||
	    pgtest_write_pin(db, dir, "globex") != 0 ||
	    pgtest_write_pin(db, dir, "badkey") != 0)
		return -1;

	/* Node key as `cofferctl node init` writes it. */
	if (vault_sign_keypair(node_pk, &sk) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/node.key", dir);
	write_secret(path, sk, VAULT_SIGN_SK_BYTES);
	vault_sign_key_free(&sk);
	{
		unsigned char nid[16];

		util_uuid_random(nid);
		util_uuid_format(idstr, nid);
	}
	pg_param_text(&p, idstr);
	pg_param_bin(&p, node_pk, sizeof(node_pk));
	if (pg_exec(db, "INSERT INTO coffer.nodes (node_id, name, "
	    "signing_public_key) VALUES ($1::uuid, 'gw-test', $2)", &p, err,
	    sizeof(err)) != 0)
		fail_msg("node: %s", err);

	/* A second node for the cross-gateway race. */
	if (vault_sign_keypair(node2_pk, &sk) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/node2.key", dir);
	write_secret(path, sk, VAULT_SIGN_SK_BYTES);
	vault_sign_key_free(&sk);
	{
		pg_params q = PG_PARAMS_INIT;
		unsigned char nid[16];

		util_uuid_random(nid);
		util_uuid_format(idstr, nid);
		pg_param_text(&q, idstr);
		pg_param_bin(&q, node2_pk, sizeof(node2_pk));
		if (pg_exec(db, "INSERT INTO coffer.nodes (node_id, name, "
		    "signing_public_key) VALUES ($1::uuid, 'gw-test-2', $2)", &q,
		    err, sizeof(err)) != 0)
			fail_msg("node 2: %s", err);
	}

	gw_config_defaults(&cfg);
	snprintf(cfg.node_name, sizeof(cfg.node_name), "gw-test");
	snprintf(cfg.signing_key_file, sizeof(cfg.signing_key_file), "%s/node.key",
	    dir);
	snprintf(cfg.keys_dir, sizeof(cfg.keys_dir), "%s", dir);
	snprintf(cfg.witness_file, sizeof(cfg.witness_file), "%s/witness.jsonl",
	    dir);
	snprintf(cfg.pg_conninfo, sizeof(cfg.pg_conninfo), "dbname=%s user=gw",
	    db_name);
	cfg.max_records_per_request = 6000;
	cfg.max_line_bytes = 64 * 1024;
	cfg.batch_max_records = 500;
	cfg.epoch_records = 700;
	cfg.device_refresh_s = 1;
	cfg.epoch_seconds = 2;
	if (ingest_new(&ig, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "ingest_new: %s\n", err);
		return -1;
	}
	if (ingest_start(ig, err, sizeof(err)) != 0) {
		fprintf(stderr, "ingest_start: %s\n", err);
		return -1;
	}
	{
		gw_config c2 = cfg;

		snprintf(c2.node_name, sizeof(c2.node_name), "gw-test-2");
		snprintf(c2.signing_key_file, sizeof(c2.signing_key_file),
		    "%s/node2.key", dir);
		snprintf(c2.witness_file, sizeof(c2.witness_file), "%s/witness2.jsonl",
		    dir);
		/* A wrong key for a registered node is a start-up error. */
		snprintf(c2.signing_key_file, sizeof(c2.signing_key_file),
		    "%s/node.key", dir);
		if (ingest_new(&ig2, &c2, err, sizeof(err)) != 0 ||
		    ingest_start(ig2, err, sizeof(err)) == 0 ||
		    strstr(err, "does not hold the signing key") == NULL) {
			fprintf(stderr, "node 2 with node 1's key: %s\n", err);
			return -1;
		}
		ingest_free(&ig2);
		snprintf(c2.signing_key_file, sizeof(c2.signing_key_file),
		    "%s/node2.key", dir);
		if (ingest_new(&ig2, &c2, err, sizeof(err)) != 0 ||
		    ingest_start(ig2, err, sizeof(err)) != 0) {
			fprintf(stderr, "ingest 2: %s\n", err);
			return -1;
		}
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	ingest_free(&ig);
	ingest_free(&ig2);
	vault_tenant_keys_free(&tk);
	pg_close(&db);
	pgtest_drop_db(db_name);
	return 0;
}

/* -- tests ------------------------------------------------------------------------ */

static void
test_peer_check(void **state)
{
	ingest_peer p;
	ingest_peer_fault fault = INGEST_PEER_OK;
	char why[256];

	(void)state;
	peer_of(&p, "acme", DEV_A);
	assert_int_equal(ingest_peer_check(ig, &p, NULL, why, sizeof(why)), 0);
	peer_of(&p, "acme", "nobody");
	assert_int_equal(ingest_peer_check(ig, &p, NULL, why, sizeof(why)), -1);
	assert_string_equal(why, "device not registered or not active");
	/* tenant comes from the certificate: a device of B is not one of A */
	peer_of(&p, "acme", DEV_B);
	assert_int_equal(ingest_peer_check(ig, &p, NULL, why, sizeof(why)), -1);
	peer_of(&p, "globex", DEV_A);
	assert_int_equal(ingest_peer_check(ig, &p, NULL, why, sizeof(why)), -1);
	peer_of(&p, "initech", DEV_A);
	assert_int_equal(ingest_peer_check(ig, &p, &fault, why, sizeof(why)), -1);
	assert_string_equal(why, "unknown tenant");
	assert_int_equal(fault, INGEST_PEER_DEVICE);
	/* a device is its key: the registered name with another certificate
	 * (a second one from the same CA, or one a re-issue replaced) */
	peer_of(&p, "acme", DEV_A);
	p.fingerprint[63] = '1';
	assert_int_equal(ingest_peer_check(ig, &p, &fault, why, sizeof(why)), -1);
	assert_int_equal(fault, INGEST_PEER_KEY);
	assert_non_null(strstr(why, "not the certificate registered"));
	/* and the registered one passes */
	peer_of(&p, "acme", DEV_A);
	assert_int_equal(ingest_peer_check(ig, &p, &fault, why, sizeof(why)), 0);
	assert_int_equal(fault, INGEST_PEER_OK);
}

/* A request is checked again against the registered certificate: one from
 * a connection whose certificate is no longer the registered one is 403,
 * nothing stored. */
static void
test_unregistered_key_request(void **state)
{
	ingest_peer p;
	waiter w;
	char *body = record("k-1", "never stored"), *copy;
	size_t len = strlen(body);

	(void)state;
	copy = malloc(len + 1);
	assert_non_null(copy);
	memcpy(copy, body, len + 1);
	memset(&w, 0, sizeof(w));
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	peer_of(&p, "acme", DEV_A);
	memset(p.fingerprint, 'f', 64);
	ingest_submit(ig, &p, copy, len, on_done, &w);
	pthread_mutex_lock(&w.mu);
	while (!w.done)
		pthread_cond_wait(&w.cv, &w.mu);
	pthread_mutex_unlock(&w.mu);
	pthread_mutex_destroy(&w.mu);
	pthread_cond_destroy(&w.cv);
	assert_int_equal(w.status, 403);
	free(w.body);
	free(body);
}

static void
test_three_then_duplicates(void **state)
{
	char *r1 = record("m-1", "canary-body-one"), *r2 = record("m-2", "b2"),
	     *r3 = record("m-3", "b3"), *body, *resp = NULL, *resp2 = NULL;
	json_t *a, *b;
	size_t i;

	(void)state;
	if (asprintf(&body, "%s\n%s\n%s\n", r1, r2, r3) < 0)
		fail();
	assert_int_equal(submit("acme", DEV_A, body, strlen(body), &resp, NULL),
	    200);
	a = lines_of(resp);
	assert_int_equal(json_array_size(a), 3);
	for (i = 0; i < 3; i++) {
		assert_string_equal(field(a, i, "status"), "stored");
		assert_non_null(field(a, i, "receipt"));
		assert_int_equal(json_integer_value(json_object_get(
		    json_array_get(a, i), "line")), (json_int_t)i + 1);
	}
	assert_string_equal(field(a, 0, "id"), "m-1");
	assert_int_equal(count_rows("SELECT count(*) FROM coffer.records"), 3);

	assert_int_equal(submit("acme", DEV_A, body, strlen(body), &resp2, NULL),
	    200);
	b = lines_of(resp2);
	for (i = 0; i < 3; i++) {
		assert_string_equal(field(b, i, "status"), "duplicate");
		assert_string_equal(field(b, i, "receipt"), field(a, i, "receipt"));
	}
	assert_int_equal(count_rows("SELECT count(*) FROM coffer.records"), 3);

	/* Same source ids from another device are other messages. */
	free(resp2);
	assert_int_equal(submit("acme", DEV_A2, body, strlen(body), &resp2, NULL),
	    200);
	json_decref(b);
	b = lines_of(resp2);
	for (i = 0; i < 3; i++)
		assert_string_equal(field(b, i, "status"), "stored");
	assert_int_equal(count_rows("SELECT count(*) FROM coffer.records"), 6);
	json_decref(a);
	json_decref(b);
	free(resp);
	free(resp2);
	free(body);
	free(r1);
	free(r2);
	free(r3);
}

static void
test_mixed_lines(void **state)
{
	char *ok1 = record("mix-1", "x"), *ok2 = record("mix-2", "y"), *big,
	     *body, *resp = NULL;
	json_t *a;
	size_t n = cfg.max_line_bytes + 10;

	(void)state;
	big = malloc(n + 1);
	assert_non_null(big);
	memset(big, 'x', n);
	big[n] = '\0';
	if (asprintf(&body, "%s\n{\"id\":\"bad-1\",\"channel\":\"signal\"}\r\n"
	    "\n%s\r\n%s\nnot json\n%s", ok1, big, ok1, ok2) < 0)
		fail();
	assert_int_equal(submit("acme", DEV_A, body, strlen(body), &resp, NULL),
	    200);
	a = lines_of(resp);
	assert_int_equal(json_array_size(a), 7);
	assert_string_equal(field(a, 0, "status"), "stored");
	assert_string_equal(field(a, 1, "status"), "rejected");
	assert_string_equal(field(a, 1, "error"), "conversation: missing");
	assert_string_equal(field(a, 1, "id"), "bad-1");
	assert_string_equal(field(a, 2, "error"), "empty line");
	assert_string_equal(field(a, 3, "error"), "record too large");
	assert_null(field(a, 3, "id"));
	/* the same record twice in one request: first stored, then its twin */
	assert_string_equal(field(a, 4, "status"), "duplicate");
	assert_string_equal(field(a, 4, "receipt"), field(a, 0, "receipt"));
	assert_string_equal(field(a, 5, "error"), "not valid JSON");
	assert_string_equal(field(a, 6, "status"), "stored");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 6),
	    "line")), 7);
	json_decref(a);
	free(resp);
	free(body);
	free(big);
	free(ok1);
	free(ok2);
}

static void
test_too_many(void **state)
{
	char *line = record("many", "z"), *body, *resp = NULL;
	size_t n = cfg.max_records_per_request + 1, l = strlen(line), i;

	(void)state;
	body = malloc(n * (l + 1) + 1);
	assert_non_null(body);
	for (i = 0; i < n; i++) {
		memcpy(body + i * (l + 1), line, l);
		body[i * (l + 1) + l] = '\n';
	}
	assert_int_equal(submit("acme", DEV_A, body, n * (l + 1), &resp, NULL),
	    413);
	assert_non_null(strstr(resp, "too many records"));
	free(resp);
	/* empty body: nothing to do */
	assert_int_equal(submit("acme", DEV_A, "", 0, &resp, NULL), 200);
	free(resp);
	free(body);
	free(line);
}

struct racer {
	ingest     *to;
	const char *tenant, *device;
	const char *body;
	char       *resp;
	int         status;
};

static void *
race_main(void *arg)
{
	struct racer *r = arg;

	r->status = submit_to(r->to != NULL ? r->to : ig,
	    r->tenant != NULL ? r->tenant : "acme",
	    r->device != NULL ? r->device : DEV_A, r->body, strlen(r->body),
	    &r->resp, NULL);
	return NULL;
}

static void
test_race(void **state)
{
	char *line = record("race-1", "raced");
	struct racer rs[8];
	pthread_t th[8];
	const char *receipt = NULL;
	int i, stored = 0;

	(void)state;
	for (i = 0; i < 8; i++) {
		rs[i].to = NULL;
		rs[i].tenant = rs[i].device = NULL;
		rs[i].body = line;
		rs[i].resp = NULL;
		assert_int_equal(pthread_create(&th[i], NULL, race_main, &rs[i]), 0);
	}
	for (i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < 8; i++) {
		json_t *a;

		assert_int_equal(rs[i].status, 200);
		a = lines_of(rs[i].resp);
		if (strcmp(field(a, 0, "status"), "stored") == 0)
			stored++;
		else
			assert_string_equal(field(a, 0, "status"), "duplicate");
		if (receipt == NULL)
			receipt = strdup(field(a, 0, "receipt"));
		else
			assert_string_equal(receipt, field(a, 0, "receipt"));
		json_decref(a);
		free(rs[i].resp);
	}
	assert_int_equal(stored, 1);
	free((void *)(uintptr_t)receipt);
	free(line);
}

/* The same records through two gateway nodes at once: the loser's unique
 * violation rolls back and re-resolves; each record is stored once, both
 * answers carry the same receipt, and neither stream gets a seq gap. */
static void
test_two_gateways(void **state)
{
	int round, k, stored, total_stored = 0;
	long before = count_rows("SELECT count(*) FROM coffer.records");

	(void)state;
	for (round = 0; round < 20; round++) {
		struct racer rs[4];
		pthread_t th[4];
		char *body = NULL, id[32];
		const char *receipt = NULL;
		size_t off = 0, cap = 64 * 400;
		int j;

		body = malloc(cap);
		assert_non_null(body);
		/* 64 records, the same set to every racer */
		for (j = 0; j < 64; j++) {
			char *l;

			snprintf(id, sizeof(id), "gw2-%d-%d", round, j);
			l = record(id, "two gateways");
			off += (size_t)snprintf(body + off, cap - off, "%s\n", l);
			free(l);
		}
		for (k = 0; k < 4; k++) {
			rs[k].to = k % 2 ? ig2 : ig;
			rs[k].tenant = rs[k].device = NULL;
			rs[k].body = body;
			rs[k].resp = NULL;
			assert_int_equal(pthread_create(&th[k], NULL, race_main,
			    &rs[k]), 0);
		}
		for (k = 0; k < 4; k++)
			pthread_join(th[k], NULL);
		for (j = 0; j < 64; j++) {
			stored = 0;
			receipt = NULL;
			for (k = 0; k < 4; k++) {
				json_t *a;

				assert_int_equal(rs[k].status, 200);
				a = lines_of(rs[k].resp);
				if (strcmp(field(a, (size_t)j, "status"), "stored") == 0)
					stored++;
				if (receipt == NULL)
					receipt = strdup(field(a, (size_t)j, "receipt"));
				else
					assert_string_equal(receipt,
					    field(a, (size_t)j, "receipt"));
				json_decref(a);
			}
			assert_int_equal(stored, 1);
			total_stored += stored;
			free((void *)(uintptr_t)receipt);
		}
		for (k = 0; k < 4; k++)
			free(rs[k].resp);
		free(body);
	}
	assert_int_equal(count_rows("SELECT count(*) FROM coffer.records"),
	    before + total_stored);
}

/* One tenant's records cannot be stored (its key is unusable): the writer
 * halves the batch until they stand alone, and everyone else's records in
 * the same batch are stored. */
static void
test_poison_isolated(void **state)
{
	struct racer rs[6];
	pthread_t th[6];
	char *lines[6];
	int k;

	(void)state;
	for (k = 0; k < 6; k++) {
		char id[32];

		snprintf(id, sizeof(id), "poison-%d", k);
		lines[k] = record(id, "p");
		rs[k].to = NULL;
		rs[k].tenant = k == 2 ? "badkey" : "acme";
		rs[k].device = k == 2 ? "phone-x" : DEV_A;
		rs[k].body = lines[k];
		rs[k].resp = NULL;
	}
	for (k = 0; k < 6; k++)
		assert_int_equal(pthread_create(&th[k], NULL, race_main, &rs[k]), 0);
	for (k = 0; k < 6; k++)
		pthread_join(th[k], NULL);
	for (k = 0; k < 6; k++) {
		if (k == 2) {
			assert_int_equal(rs[k].status, 500);
		} else {
			assert_int_equal(rs[k].status, 200);
			assert_non_null(strstr(rs[k].resp, "\"stored\""));
		}
		free(rs[k].resp);
		free(lines[k]);
	}
}

static void
test_bulk(void **state)
{
	size_t n = 5000, i, off = 0, cap = n * 320;
	char *body = malloc(cap), *resp = NULL, id[32];
	json_t *a;
	long before = count_rows("SELECT count(*) FROM coffer.records");

	(void)state;
	assert_non_null(body);
	for (i = 0; i < n; i++) {
		char *l;

		snprintf(id, sizeof(id), "bulk-%zu", i);
		l = record(id, "bulk body");
		off += (size_t)snprintf(body + off, cap - off, "%s\n", l);
		free(l);
	}
	assert_int_equal(submit("acme", DEV_A, body, off, &resp, NULL), 200);
	a = lines_of(resp);
	assert_int_equal(json_array_size(a), n);
	for (i = 0; i < n; i++)
		assert_string_equal(field(a, i, "status"), "stored");
	assert_int_equal(count_rows("SELECT count(*) FROM coffer.records"),
	    before + (long)n);
	json_decref(a);
	free(resp);
	free(body);
}

static void
test_tenants_apart(void **state)
{
	char *line = record("m-1", "from b"), *resp = NULL;
	json_t *a;
	char idstr[UTIL_UUID_STRLEN + 1], sql[256];

	(void)state;
	/* "m-1" exists in tenant A; in B it is a new message. */
	assert_int_equal(submit("globex", DEV_B, line, strlen(line), &resp, NULL),
	    200);
	a = lines_of(resp);
	assert_string_equal(field(a, 0, "status"), "stored");
	util_uuid_format(idstr, tid_b);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM coffer.records WHERE "
	    "tenant_id = '%s'", idstr);
	assert_int_equal(count_rows(sql), 1);
	json_decref(a);
	free(resp);
	/* a request as (acme, DEV_B) is refused whole */
	assert_int_equal(submit("acme", DEV_B, line, strlen(line), &resp, NULL),
	    403);
	free(resp);
	free(line);
}

/* Every leaf, root, head and checkpoint recomputed from the rows. */
static void
test_chain_verifies(void **state)
{
	PGresult *b, *r;
	int i, j, nb;
	char err[256];

	(void)state;
	b = pg_query(db, "SELECT NULL, stream_id::text, batch_no, first_seq, last_seq, record_count, "
	    "encode(prev_head, 'hex'), encode(merkle_root, 'hex'), "
	    "encode(new_head, 'hex'), tenant_id::text "
	    "FROM coffer.batches ORDER BY tenant_id, stream_id, batch_no", NULL,
	    err, sizeof(err));
	assert_non_null(b);
	nb = PQntuples(b);
	assert_true(nb > 0);
	for (i = 0; i < nb; i++) {
		unsigned char tid[16], sid[16], prev[32], root[32], head[32], calc[32];
		unsigned char *leaves;
		uint64_t bno = strtoull(PQgetvalue(b, i, 2), NULL, 10);
		uint64_t first = strtoull(PQgetvalue(b, i, 3), NULL, 10);
		uint64_t last = strtoull(PQgetvalue(b, i, 4), NULL, 10);
		int cnt = atoi(PQgetvalue(b, i, 5));
		pg_params p = PG_PARAMS_INIT;

		assert_int_equal(util_uuid_parse(tid, PQgetvalue(b, i, 9)), 0);
		assert_int_equal(util_uuid_parse(sid, PQgetvalue(b, i, 1)), 0);
		assert_int_equal(util_unhex(prev, 32, PQgetvalue(b, i, 6), 64), 0);
		assert_int_equal(util_unhex(root, 32, PQgetvalue(b, i, 7), 64), 0);
		assert_int_equal(util_unhex(head, 32, PQgetvalue(b, i, 8), 64), 0);
		assert_int_equal((uint64_t)cnt, last - first + 1);
		if (i > 0 && strcmp(PQgetvalue(b, i, 1), PQgetvalue(b, i - 1, 1)) == 0) {
			assert_int_equal(bno, strtoull(PQgetvalue(b, i - 1, 2), NULL, 10) + 1);
			assert_int_equal(first, strtoull(PQgetvalue(b, i - 1, 4), NULL, 10) + 1);
			assert_string_equal(PQgetvalue(b, i, 6), PQgetvalue(b, i - 1, 8));
		} else {
			assert_int_equal(bno, 1);
			assert_int_equal(first, 1);
			assert_string_equal(PQgetvalue(b, i, 6), "0000000000000000000000000000000000000000000000000000000000000000");
		}
		pg_param_text(&p, PQgetvalue(b, i, 9));
		pg_param_text(&p, PQgetvalue(b, i, 1));
		pg_param_text(&p, PQgetvalue(b, i, 2));
		r = pg_query(db, "SELECT seq, epoch_id::text, "
		    "(extract(epoch FROM received_at) * 1000000)::bigint, "
		    "(extract(epoch FROM sent_at) * 1000000)::bigint, channel, size_class, "
		    "array_to_string(ARRAY(SELECT encode(x, 'hex') FROM "
		    "unnest(participant_tokens) WITH ORDINALITY u(x, o) ORDER BY o), ''), "
		    "encode(conversation_token, 'hex'), encode(dedup_token, 'hex'), "
		    "encode(nonce, 'hex'), encode(ciphertext, 'hex'), "
		    "encode(leaf_hash, 'hex') FROM coffer.records WHERE tenant_id = $1::uuid "
		    "AND stream_id = $2::uuid AND batch_no = $3::bigint ORDER BY seq",
		    &p, err, sizeof(err));
		assert_non_null(r);
		assert_int_equal(PQntuples(r), cnt);
		leaves = malloc((size_t)cnt * 32);
		for (j = 0; j < cnt; j++) {
			vault_leaf lf;
			unsigned char conv[16], *parts, *ct, stored[32];
			size_t np = strlen(PQgetvalue(r, j, 6)) / 32;
			size_t ctl = strlen(PQgetvalue(r, j, 10)) / 2;

			assert_int_equal(strtoull(PQgetvalue(r, j, 0), NULL, 10),
			    first + (uint64_t)j);
			memset(&lf, 0, sizeof(lf));
			memcpy(lf.tenant_id, tid, 16);
			memcpy(lf.stream_id, sid, 16);
			lf.seq = first + (uint64_t)j;
			assert_int_equal(util_uuid_parse(lf.epoch_id, PQgetvalue(r, j, 1)), 0);
			lf.received_at = strtoll(PQgetvalue(r, j, 2), NULL, 10);
			lf.sent_at = strtoll(PQgetvalue(r, j, 3), NULL, 10);
			assert_int_equal(lf.sent_at, 1795338000250000LL);
			lf.channel = PQgetvalue(r, j, 4);
			lf.channel_len = strlen(lf.channel);
			lf.size_class = (uint8_t)atoi(PQgetvalue(r, j, 5));
			parts = malloc(np * 16);
			assert_int_equal(util_unhex(parts, np * 16, PQgetvalue(r, j, 6), np * 32), 0);
			lf.participants = parts;
			lf.participant_count = np;
			assert_int_equal(np, 3);
			assert_int_equal(util_unhex(conv, 16, PQgetvalue(r, j, 7), 32), 0);
			lf.conversation = conv;
			assert_int_equal(util_unhex(lf.dedup, 16, PQgetvalue(r, j, 8), 32), 0);
			assert_int_equal(util_unhex(lf.nonce, 24, PQgetvalue(r, j, 9), 48), 0);
			ct = malloc(ctl);
			assert_int_equal(util_unhex(ct, ctl, PQgetvalue(r, j, 10), 2 * ctl), 0);
			lf.ciphertext = ct;
			lf.ciphertext_len = ctl;
			assert_int_equal(vault_leaf_hash(&lf, leaves + 32 * j), 0);
			assert_int_equal(util_unhex(stored, 32, PQgetvalue(r, j, 11), 64), 0);
			assert_memory_equal(stored, leaves + 32 * j, 32);
			free(parts);
			free(ct);
		}
		PQclear(r);
		assert_int_equal(vault_merkle_root(leaves, (size_t)cnt, calc), 0);
		assert_memory_equal(calc, root, 32);
		assert_int_equal(vault_chain_next(tid, sid, bno, first, last, prev,
		    root, calc), 0);
		assert_memory_equal(calc, head, 32);
		free(leaves);
	}
	PQclear(b);
	/* every batch has a checkpoint by this node that verifies */
	r = pg_query(db, "SELECT c.tenant_id::text, c.stream_id::text, c.batch_no, "
	    "c.last_seq, encode(c.head, 'hex'), (extract(epoch FROM c.signed_at) * "
	    "1000000)::bigint, encode(c.signature, 'hex'), encode(n.signing_public_key, 'hex') "
	    "FROM coffer.checkpoints c JOIN coffer.nodes n USING (node_id)", NULL,
	    err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(PQntuples(r), nb);
	for (i = 0; i < PQntuples(r); i++) {
		vault_checkpoint cp;
		unsigned char sig[64], pk[32];

		memset(&cp, 0, sizeof(cp));
		assert_int_equal(util_unhex(pk, 32, PQgetvalue(r, i, 7), 64), 0);
		assert_true(memcmp(pk, node_pk, 32) == 0 || memcmp(pk, node2_pk, 32) == 0);
		assert_int_equal(util_uuid_parse(cp.tenant_id, PQgetvalue(r, i, 0)), 0);
		assert_int_equal(util_uuid_parse(cp.stream_id, PQgetvalue(r, i, 1)), 0);
		cp.batch_no = strtoull(PQgetvalue(r, i, 2), NULL, 10);
		cp.last_seq = strtoull(PQgetvalue(r, i, 3), NULL, 10);
		assert_int_equal(util_unhex(cp.head, 32, PQgetvalue(r, i, 4), 64), 0);
		cp.signed_at = strtoll(PQgetvalue(r, i, 5), NULL, 10);
		assert_int_equal(util_unhex(sig, 64, PQgetvalue(r, i, 6), 128), 0);
		assert_int_equal(vault_checkpoint_verify(pk, &cp, sig), 0);
	}
	PQclear(r);
}

/* Open records the way a production would: k partials, unwrap, open. */
static void
test_records_open(void **state)
{
	PGresult *r;
	int i, n;
	char err[256];
	unsigned char matter[16];
	int canary = 0;

	(void)state;
	util_uuid_random(matter);
	r = pg_query(db, "SELECT r.stream_id::text, r.seq, r.epoch_id::text, "
	    "(extract(epoch FROM r.received_at) * 1000000)::bigint, "
	    "encode(r.nonce, 'hex'), encode(r.ciphertext, 'hex'), "
	    "encode(e.r_point, 'hex'), encode(e.wrapped_key, 'hex') "
	    "FROM coffer.records r JOIN coffer.epochs e USING (tenant_id, epoch_id) "
	    "WHERE r.tenant_id = (SELECT tenant_id FROM coffer.tenants WHERE name = 'acme') "
	    "AND r.stream_id IN (SELECT s.stream_id FROM coffer.streams s JOIN "
	    "coffer.nodes n USING (node_id) WHERE n.name = 'gw-test' AND "
	    "s.tenant_id = r.tenant_id) ORDER BY r.received_at, r.stream_id, "
	    "r.seq LIMIT 3", NULL, err, sizeof(err));
	assert_non_null(r);
	n = PQntuples(r);
	assert_int_equal(n, 3);
	for (i = 0; i < n; i++) {
		vault_partial parts[2];
		vault_release_ctx rctx;
		vault_epoch *e = NULL;
		vault_record_ad ad;
		unsigned char R[32], S[32], wrapped[VAULT_WRAPPED_EK_BYTES], *ct, *pt;
		size_t ctl = strlen(PQgetvalue(r, i, 5)) / 2, ptl = 0;
		unsigned k;

		memset(&ad, 0, sizeof(ad));
		ad.version = VAULT_RECORD_V1;
		memcpy(ad.tenant_id, tid_a, 16);
		assert_int_equal(util_uuid_parse(ad.stream_id, PQgetvalue(r, i, 0)), 0);
		ad.seq = strtoull(PQgetvalue(r, i, 1), NULL, 10);
		assert_int_equal(util_uuid_parse(ad.epoch_id, PQgetvalue(r, i, 2)), 0);
		ad.received_at = strtoll(PQgetvalue(r, i, 3), NULL, 10);
		assert_int_equal(util_unhex(R, 32, PQgetvalue(r, i, 6), 64), 0);
		assert_int_equal(util_unhex(wrapped, sizeof(wrapped), PQgetvalue(r, i, 7),
		    2 * sizeof(wrapped)), 0);
		vault_release_ctx_init(&rctx, tid_a, matter, ad.epoch_id, NULL);
		for (k = 0; k < 2; k++)
			assert_int_equal(vault_threshold_partial(
			    vault_tenant_keys_share(tk, k + 1), k + 1, &rctx,
			    R, &parts[k], err, sizeof(err)), 0);
		assert_int_equal(vault_threshold_combine(parts, 2, S, err, sizeof(err)), 0);
		assert_int_equal(vault_epoch_unwrap(&e, S, R, T_a, tid_a, ad.epoch_id,
		    wrapped, err, sizeof(err)), 0);
		ct = malloc(ctl);
		pt = malloc(ctl + 1);
		assert_int_equal(util_unhex(ct, ctl, PQgetvalue(r, i, 5), 2 * ctl), 0);
		{
			unsigned char nonce[24];

			assert_int_equal(util_unhex(nonce, 24, PQgetvalue(r, i, 4), 48), 0);
			assert_int_equal(vault_open(e, &ad, nonce, ct, ctl, pt, ctl, &ptl), 0);
			pt[ptl] = '\0';
			/* canonical form, device from the certificate */
			assert_non_null(strstr((char *)pt, "\"device\":\"" DEV_A "\""));
			assert_non_null(strstr((char *)pt, "\"id\":\"m-"));
			if (strstr((char *)pt, "canary-body-one") != NULL)
				canary++;
			/* the same ciphertext under another seq does not open */
			ad.seq++;
			assert_int_equal(vault_open(e, &ad, nonce, ct, ctl, pt, ctl, &ptl), -1);
		}
		vault_epoch_free(&e);
		free(ct);
		free(pt);
	}
	PQclear(r);
	/* the first request's three records, one of them the canary */
	assert_int_equal(canary, 1);
	/* epoch rotation by record count happened (epoch_records = 700) */
	assert_true(count_rows("SELECT count(*) FROM coffer.epochs") >= 8);
}

/* The project's verifier (common/verify.h) accepts what the writer stored,
 * including across the outage, the two-gateway races and both witnesses. */
static void
test_archive_verifies(void **state)
{
	char w1[600], w2[600];
	const char *wit[2] = { w1, w2 };
	verify_opts o;
	verify_report rep;

	(void)state;
	snprintf(w1, sizeof(w1), "%s/witness.jsonl", dir);
	snprintf(w2, sizeof(w2), "%s/witness2.jsonl", dir);
	memset(&o, 0, sizeof(o));
	o.witness = wit;
	o.witness_count = 2;
	o.skip_audit = 1;
	memset(&rep, 0, sizeof(rep));
	if (verify_run(db, &o, &rep) != VERIFY_OK)
		fail_msg("verify: %s", rep.message);
	assert_true(rep.records > 5000);
	assert_int_equal(rep.checkpoints, rep.batches);
}

static void
test_witness(void **state)
{
	char path[600];
	FILE *f;
	char line[2048];
	long n = 0;
	int file;

	(void)state;
	for (file = 0; file < 2; file++) {
	snprintf(path, sizeof(path), file ? "%s/witness2.jsonl" :
	    "%s/witness.jsonl", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		json_error_t je;
		json_t *o = json_loads(line, 0, &je);
		vault_checkpoint cp;
		unsigned char sig[64];
		const char *h, *s;

		assert_non_null(o);
		memset(&cp, 0, sizeof(cp));
		assert_int_equal(util_uuid_parse(cp.tenant_id,
		    json_string_value(json_object_get(o, "tenant"))), 0);
		assert_int_equal(util_uuid_parse(cp.stream_id,
		    json_string_value(json_object_get(o, "stream"))), 0);
		cp.batch_no = (uint64_t)json_integer_value(json_object_get(o, "batch"));
		cp.last_seq = (uint64_t)json_integer_value(json_object_get(o, "last_seq"));
		cp.signed_at = json_integer_value(json_object_get(o, "signed_at"));
		h = json_string_value(json_object_get(o, "head"));
		s = json_string_value(json_object_get(o, "sig"));
		assert_int_equal(util_unhex(cp.head, 32, h, strlen(h)), 0);
		assert_int_equal(util_unhex(sig, 64, s, strlen(s)), 0);
		assert_string_equal(json_string_value(json_object_get(o, "node")),
		    file ? "gw-test-2" : "gw-test");
		assert_int_equal(vault_checkpoint_verify(file ? node2_pk : node_pk,
		    &cp, sig), 0);
		json_decref(o);
		n++;
	}
	fclose(f);
	}
	assert_int_equal(n, count_rows("SELECT count(*) FROM coffer.checkpoints"));
}

static unsigned long long
metric(const char *name)
{
	char buf[16384], *p;
	size_t n = ingest_metrics(ig, buf, sizeof(buf) - 1);

	buf[n] = '\0';
	p = strstr(buf, name);
	while (p != NULL && p > buf && p[-1] != '\n')
		p = strstr(p + 1, name);
	assert_non_null(p);
	return strtoull(p + strlen(name), NULL, 10);
}

/* An idle gateway still retires its epoch key after epoch_seconds, and the
 * next record goes under a new epoch. */
static void
test_epoch_expires_idle(void **state)
{
	char *line = record("epoch-idle", "x"), *resp = NULL;
	unsigned long long rot, created;
	long epochs;

	(void)state;
	assert_int_equal(submit("acme", DEV_A, line, strlen(line), NULL, NULL), 200);
	rot = metric("coffer_gateway_epoch_rotations_total ");
	created = metric("coffer_gateway_epochs_created_total ");
	epochs = count_rows("SELECT count(*) FROM coffer.epochs");
	sleep(3);   /* epoch_seconds = 2; the writer checks every second */
	assert_true(metric("coffer_gateway_epoch_rotations_total ") > rot);
	free(line);
	line = record("epoch-idle-2", "y");
	assert_int_equal(submit("acme", DEV_A, line, strlen(line), &resp, NULL), 200);
	assert_non_null(strstr(resp, "\"stored\""));
	assert_int_equal(metric("coffer_gateway_epochs_created_total "), created + 1);
	assert_int_equal(count_rows("SELECT count(*) FROM coffer.epochs"), epochs + 1);
	free(resp);
	free(line);
}

static void
test_metrics(void **state)
{
	char buf[16384];
	size_t n;

	(void)state;
	n = ingest_metrics(ig, buf, sizeof(buf));
	assert_true(n > 0 && n < sizeof(buf));
	buf[n] = '\0';
	assert_non_null(strstr(buf, "coffer_gateway_records_total{status=\"stored\"}"));
	assert_non_null(strstr(buf, "coffer_gateway_records_total{status=\"rejected\"}"));
	assert_non_null(strstr(buf, "coffer_gateway_commit_seconds_bucket"));
	assert_non_null(strstr(buf, "coffer_gateway_epoch_rotations_total"));
	assert_null(strstr(buf, "canary"));
	/* tiny buffers are never overrun */
	assert_true(ingest_metrics(ig, buf, 10) < 10);
}

static void
test_revoked_device(void **state)
{
	ingest_peer p;
	char why[128];
	int i;

	(void)state;
	assert_int_equal(pgtest_exec(db, "UPDATE coffer.devices SET status = "
	    "'revoked', revoked_at = now() WHERE device_id = '" DEV_A2 "'"), 0);
	ingest_reload(ig);
	peer_of(&p, "acme", DEV_A2);
	for (i = 0; i < 100 && ingest_peer_check(ig, &p, NULL, why, sizeof(why)) == 0; i++)
		usleep(50000);
	assert_int_equal(ingest_peer_check(ig, &p, NULL, why, sizeof(why)), -1);
}

static void
test_db_down(void **state)
{
	const char *ctl = getenv("COFFER_PG_CTL");
	char cmd[1024], *line = record("down-1", "while down"), *resp = NULL;
	unsigned retry = 0;
	int st, i;

	(void)state;
	if (ctl == NULL)
		skip();
	pg_close(&db);
	snprintf(cmd, sizeof(cmd), "%s stop -m fast -w -s >/dev/null 2>&1", ctl);
	assert_int_equal(system(cmd), 0);
	st = submit("acme", DEV_A, line, strlen(line), &resp, &retry);
	assert_int_equal(st, 503);
	assert_true(retry > 0);
	assert_null(strstr(resp, "receipt"));
	free(resp);
	/* fails fast while down, every time */
	assert_int_equal(submit("acme", DEV_A, line, strlen(line), NULL, NULL), 503);
	snprintf(cmd, sizeof(cmd), "%s start -w -t 60 -s >/dev/null 2>&1", ctl);
	assert_int_equal(system(cmd), 0);
	for (i = 0; i < 100; i++) {
		st = submit("acme", DEV_A, line, strlen(line), &resp, NULL);
		if (st == 200)
			break;
		free(resp);
		resp = NULL;
		usleep(100000);
	}
	assert_int_equal(st, 200);
	assert_non_null(strstr(resp, "\"stored\""));
	free(resp);
	db = pgtest_connect(db_name, NULL);
	assert_non_null(db);
	free(line);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_peer_check),
		cmocka_unit_test(test_unregistered_key_request),
		cmocka_unit_test(test_three_then_duplicates),
		cmocka_unit_test(test_mixed_lines),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_race),
		cmocka_unit_test(test_two_gateways),
		cmocka_unit_test(test_poison_isolated),
		cmocka_unit_test(test_bulk),
		cmocka_unit_test(test_tenants_apart),
		cmocka_unit_test(test_db_down),
		cmocka_unit_test(test_chain_verifies),
		cmocka_unit_test(test_records_open),
		cmocka_unit_test(test_witness),
		cmocka_unit_test(test_archive_verifies),
		cmocka_unit_test(test_epoch_expires_idle),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_revoked_device),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
