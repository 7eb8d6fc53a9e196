/* tests/integration/itest_production.c — api_production_build() against a
 * real archive: records ingested through the gateway pipeline in-process
 * (gateway/ingest.h: the gateway's own validation, blind indexing, sealing
 * under rotating epoch keys, group commit, signed checkpoints), a matter
 * and custodian approvals with real threshold partials, then the sealed
 * production opened with the requester's key and checked record by record.
 *
 * Modes:
 *   itest_production             the harness test (fresh database): scope
 *                                filtering (participant, time, tenant),
 *                                RSMF split per day, attachments, receipts
 *                                and checkpoints against the database,
 *                                late records in unapproved epochs, one
 *                                approval short, a replayed partial, an
 *                                unknown scope field, a requester without
 *                                key, an empty matter, a wrong key, a
 *                                tampered row.  COFFER_PROD_BENCH=N also
 *                                times a production of N records.
 *   itest_production --helper CMD ...
 *                                small steps for tests/integration/
 *                                production.sh on $PGDATABASE (see
 *                                helper_usage below).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "api/blind.h"
#include "api/pins.h"
#include "api/production.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/util.h"
#include "gateway/config.h"
#include "gateway/ingest.h"
#include "tests/lib/pgtest.h"
#include "vault/blind.h"
#include "vault/chain.h"
#include "vault/mem.h"
#include "vault/production.h"
#include "vault/sharefile.h"
#include "vault/tenant.h"
#include "vault/threshold.h"
#include "vault/threshold.h"


static PGconn *db;
static int failures;

#define CHECK(cond, ...) do {                                             \
	if (!(cond)) {                                                    \
		failures++;                                               \
		fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);      \
		fprintf(stderr, __VA_ARGS__);                             \
		fputc('\n', stderr);                                      \
	}                                                                 \
} while (0)
static int failures_seen;
#define OK(name) do {                                                     \
	printf("%s - %s\n", failures == failures_seen ? "ok  " : "FAIL", name); \
	failures_seen = failures;                                         \
} while (0)

static int sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
sql(const char *fmt, ...)
{
	char q[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q, sizeof(q), fmt, ap);
	va_end(ap);
	return pgtest_exec(db, q);
}

/* -- fixture: tenants, users, node, in-process gateway ----------------------- */

typedef struct tenant_fx {
	const char        *name;
	char               id[UTIL_UUID_STRLEN + 1];
	unsigned char      tid[16];
	vault_tenant_keys *keys;
	unsigned char     *bik;
} tenant_fx;

static char scratch[512];
static tenant_fx ta = { "acme", "", { 0 }, NULL, NULL };
static tenant_fx tb = { "globex", "", { 0 }, NULL, NULL };
static unsigned char lisa_pk[VAULT_BOX_PK_BYTES], *lisa_sk;
static char lisa_id[UTIL_UUID_STRLEN + 1], lena_id[UTIL_UUID_STRLEN + 1];
static char cust_id[4][UTIL_UUID_STRLEN + 1];
static unsigned char node_pk[VAULT_SIGN_PK_BYTES];

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

static int
bytea_array(char *out, size_t cap, const unsigned char *pts, size_t n)
{
	size_t o = 0, i;
	char hex[65];

	o += (size_t)snprintf(out + o, cap - o, "{");
	for (i = 0; i < n; i++) {
		util_hex(hex, pts + 32 * i, 32);
		o += (size_t)snprintf(out + o, cap - o, "%s\"\\\\x%s\"", i ? "," : "",
		    hex);
	}
	o += (size_t)snprintf(out + o, cap - o, "}");
	return o < cap ? 0 : -1;
}

static int
make_tenant(tenant_fx *t)
{
	unsigned char T[32], com[2 * 32], V[3 * 32];
	char comlit[256], shlit[512], err[256], path[1200];
	pg_params p = PG_PARAMS_INIT;
	unsigned i;

	if (vault_tenant_generate(&t->keys, 2, 3, err, sizeof(err)) != 0)
		return -1;
	vault_tenant_keys_public_key(t->keys, T);
	if (vault_tenant_keys_commitments(t->keys, com, sizeof(com)) != 0)
		return -1;
	for (i = 1; i <= 3; i++)
		if (vault_tenant_keys_public_share(t->keys, i, V + 32 * (i - 1)) != 0)
			return -1;
	if (bytea_array(comlit, sizeof(comlit), com, 2) != 0 ||
	    bytea_array(shlit, sizeof(shlit), V, 3) != 0)
		return -1;
	util_uuid_random(t->tid);
	util_uuid_format(t->id, t->tid);
	pg_param_text(&p, t->id);
	pg_param_text(&p, t->name);
	pg_param_bin(&p, T, 32);
	pg_param_text(&p, comlit);
	pg_param_text(&p, shlit);
	if (pg_exec(db, "WITH t AS (INSERT INTO coffer.tenants (tenant_id, name, "
	    "threshold_k, custodians_n) VALUES ($1::uuid, $2, 2, 3)) "
	    "INSERT INTO coffer.tenant_keys (tenant_id, public_key, commitments, "
	    "public_shares, fingerprint) VALUES ($1::uuid, $3, $4::bytea[], "
	    "$5::bytea[], 'test')", &p, err, sizeof(err)) != 0) {
		fprintf(stderr, "tenant %s: %s\n", t->name, err);
		return -1;
	}
	/* the peer submits with fingerprint 0…0: registered */
	if (sql("INSERT INTO coffer.devices (tenant_id, device_id, "
	    "cert_fingerprint) VALUES ('%s', 'phone-1', repeat('0', 64))",
	    t->id) != 0)
		return -1;
	if (vault_bik_new(&t->bik) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%s.bik", scratch, t->name);
	if (pgtest_write_pin(db, scratch, t->name) != 0)    /* issue 12 */
		return -1;
	return write_secret(path, t->bik, VAULT_BIK_BYTES);
}

static int
make_user(const tenant_fx *t, const char *name, const char *role, int index,
    const unsigned char *pk, char id[UTIL_UUID_STRLEN + 1])
{
	pg_params p = PG_PARAMS_INIT;
	unsigned char u[16];
	char err[256], idx[8];

	util_uuid_random(u);
	util_uuid_format(id, u);
	snprintf(idx, sizeof(idx), "%d", index);
	pg_param_text(&p, t->id);
	pg_param_text(&p, id);
	pg_param_text(&p, name);
	pg_param_text(&p, role);
	pg_param_text(&p, index > 0 ? idx : NULL);
	if (pk != NULL)
		pg_param_bin(&p, pk, VAULT_BOX_PK_BYTES);
	else
		pg_param_null(&p);
	if (pg_exec(db, "INSERT INTO coffer.users (tenant_id, user_id, name, role, "
	    "custodian_index, x25519_public_key) VALUES ($1::uuid, $2::uuid, $3, "
	    "$4, $5::integer, $6)", &p, err, sizeof(err)) != 0) {
		fprintf(stderr, "user %s: %s\n", name, err);
		return -1;
	}
	return 0;
}

static int
make_node(const char *name)
{
	unsigned char *sk = NULL, id[16];
	char path[1200], idstr[UTIL_UUID_STRLEN + 1], err[256];
	pg_params p = PG_PARAMS_INIT;
	int rc = -1;

	if (vault_sign_keypair(node_pk, &sk) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%s.key", scratch, name);
	if (write_secret(path, sk, VAULT_SIGN_SK_BYTES) != 0)
		goto done;
	util_uuid_random(id);
	util_uuid_format(idstr, id);
	pg_param_text(&p, idstr);
	pg_param_text(&p, name);
	pg_param_bin(&p, node_pk, sizeof(node_pk));
	if (pg_exec(db, "INSERT INTO coffer.nodes (node_id, name, "
	    "signing_public_key) VALUES ($1::uuid, $2, $3)", &p, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "node: %s\n", err);
		goto done;
	}
	rc = 0;
done:
	vault_sign_key_free(&sk);
	return rc;
}

static ingest *
gateway_start(unsigned epoch_records, unsigned batch)
{
	gw_config cfg;
	ingest *ig = NULL;
	char err[512];

	gw_config_defaults(&cfg);
	snprintf(cfg.node_name, sizeof(cfg.node_name), "gw-prod");
	snprintf(cfg.signing_key_file, sizeof(cfg.signing_key_file), "%s/gw-prod.key",
	    scratch);
	snprintf(cfg.keys_dir, sizeof(cfg.keys_dir), "%s", scratch);
	cfg.witness_file[0] = '\0';
	snprintf(cfg.pg_conninfo, sizeof(cfg.pg_conninfo), "dbname=%s user=gw",
	    PQdb(db));
	cfg.max_records_per_request = 20000;
	cfg.max_line_bytes = 1024 * 1024;
	cfg.batch_max_records = batch;
	cfg.epoch_records = epoch_records;
	cfg.device_refresh_s = 1;
	if (ingest_new(&ig, &cfg, err, sizeof(err)) != 0 ||
	    ingest_start(ig, err, sizeof(err)) != 0) {
		fprintf(stderr, "gateway: %s\n", err);
		ingest_free(&ig);
		return NULL;
	}
	return ig;
}

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

/* One request of NDJSON lines; returns the response body (malloc'd). */
static char *
post(ingest *ig, const char *tenant, const char *body, size_t len)
{
	ingest_peer p;
	waiter w;
	char *copy = malloc(len + 1);

	if (copy == NULL)
		return NULL;
	memcpy(copy, body, len + 1);
	memset(&p, 0, sizeof(p));
	snprintf(p.tenant, sizeof(p.tenant), "%s", tenant);
	snprintf(p.device, sizeof(p.device), "phone-1");
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
		return NULL;
	}
	return w.body;
}

typedef struct membuf {
	unsigned char *p;
	size_t         len, cap;
} membuf;

static int
mem_sink(void *arg, const unsigned char *d, size_t n)
{
	membuf *b = arg;

	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 65536;
		unsigned char *np;

		while (cap < b->len + n + 1)
			cap *= 2;
		if ((np = realloc(b->p, cap)) == NULL)
			return -1;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
	b->p[b->len] = 0;
	return 0;
}

/* -- the records -------------------------------------------------------------- */

#define ALICE "+15550100001"
#define BOB   "+15550100002"
#define CAROL "+15550100003"
#define DAVE  "+15550100004"
#define T0    1773100800000000LL        /* 2026-03-10T00:00:00Z in µs */
#define DAY   86400000000LL
#define NMAX  128

typedef struct sent_rec {
	char      id[64];
	char      tenant[16];
	char      conv[32];
	char      channel[16];
	char      sender[32];
	char      body[96];
	char      att[64];              /* base64, "" for none */
	long long sent_us;
	int       in_scope;
	int       late;
	char      receipt[160];
} sent_rec;

static sent_rec recs[NMAX];
static int nrecs;

static void
iso(char *out, size_t cap, long long us)
{
	time_t s = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&s, &tm);
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, us % 1000000);
}

static sent_rec *
add(const char *tenant, const char *conv, const char *channel,
    const char *sender, long long sent_us, int in_scope, int att)
{
	sent_rec *r = &recs[nrecs];

	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "src-%d-%s", nrecs, tenant);
	snprintf(r->tenant, sizeof(r->tenant), "%s", tenant);
	snprintf(r->conv, sizeof(r->conv), "%s", conv);
	snprintf(r->channel, sizeof(r->channel), "%s", channel);
	snprintf(r->sender, sizeof(r->sender), "%s", sender);
	snprintf(r->body, sizeof(r->body), "message %d: \"quoted\" \\ ünïcode %s",
	    nrecs, conv);
	if (att) {
		unsigned char raw[20];
		size_t k;

		for (k = 0; k < sizeof(raw); k++)
			raw[k] = (unsigned char)(nrecs * 31 + k * 7);
		/* 20 bytes: padded base64 of 28 characters */
		EVP_EncodeBlock((unsigned char *)r->att, raw, (int)(nrecs % 2 ? 20 : 19));
	}
	r->sent_us = sent_us;
	r->in_scope = in_scope;
	nrecs++;
	return r;
}

static const char *
peer_of(const sent_rec *r, int which)
{
	/* Recipients: everyone of the conversation but the sender. */
	static const char *const ab[] = { ALICE, BOB };
	static const char *const cd[] = { CAROL, DAVE };
	static const char *const g[] = { ALICE, CAROL, DAVE };
	const char *const *set = strncmp(r->conv, "c-ab", 4) == 0 ? ab :
	    strncmp(r->conv, "c-cd", 4) == 0 ? cd : g;
	size_t n = set == g ? 3 : 2, i;
	int k = 0;

	for (i = 0; i < n; i++) {
		if (strcmp(set[i], r->sender) == 0)
			continue;
		if (k++ == which)
			return set[i];
	}
	return NULL;
}

/* Ingest recs[from..to) of one tenant; fills their receipts. */
static int
ingest_recs(ingest *ig, const char *tenant, int from, int to)
{
	membuf body;
	char *resp, *line, *save;
	int i, stored = 0;

	memset(&body, 0, sizeof(body));
	for (i = from; i < to; i++) {
		sent_rec *r = &recs[i];
		const char *p2 = peer_of(r, 1);
		json_t *o, *rcpt;
		char ts[64], name[32], *s;

		if (strcmp(r->tenant, tenant) != 0)
			continue;
		iso(ts, sizeof(ts), r->sent_us);
		rcpt = json_pack("[s]", peer_of(r, 0));
		if (p2 != NULL)
			json_array_append_new(rcpt, json_string(p2));
		o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:s,s:s}", "id", r->id,
		    "channel", r->channel, "conversation", r->conv, "direction",
		    strcmp(r->sender, ALICE) == 0 ? "out" : "in", "sender", r->sender,
		    "recipients", rcpt, "sent_at", ts, "body", r->body);
		if (r->att[0] != '\0') {
			/* A hostile file name: the RSMF zip must flatten it. */
			snprintf(name, sizeof(name), "../pic %d.png", i);
			json_object_set_new(o, "attachments", json_pack("[{s:s,s:s,s:s}]",
			    "name", name, "type", "image/png", "data", r->att));
		}
		s = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		if (s == NULL || mem_sink(&body, (const unsigned char *)s,
		    strlen(s)) != 0 || mem_sink(&body, (const unsigned char *)"\n",
		    1) != 0)
			return -1;
		free(s);
	}
	if ((resp = post(ig, tenant, (const char *)body.p, body.len)) == NULL) {
		free(body.p);
		return -1;
	}
	for (line = strtok_r(resp, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		json_error_t je;
		json_t *o = json_loads(line, 0, &je);
		const char *id = json_string_value(json_object_get(o, "id"));
		const char *st = json_string_value(json_object_get(o, "status"));
		const char *rc = json_string_value(json_object_get(o, "receipt"));

		if (id != NULL && st != NULL && strcmp(st, "stored") == 0 && rc != NULL)
			for (i = from; i < to; i++)
				if (strcmp(recs[i].id, id) == 0) {
					snprintf(recs[i].receipt, sizeof(recs[i].receipt), "%s",
					    rc);
					stored++;
				}
		if (st == NULL || strcmp(st, "stored") != 0)
			fprintf(stderr, "ingest: %s\n", line);
		json_decref(o);
	}
	free(resp);
	free(body.p);
	return stored;
}

/* -- matters and approvals ------------------------------------------------------ */

/* Where the API keeps matters' blinding seeds (api/blind.h): the scratch
 * directory here, $COFFER_PRODUCTIONS_DIR in helper mode. */
/* The API node key of in-process builds (productions are signed). */
static unsigned char *api_sk;
static unsigned char  api_pk[VAULT_SIGN_PK_BYTES];
#define API_NODE "itest-api"

static const char *
pdir(void)
{
	const char *d = getenv("COFFER_PRODUCTIONS_DIR");

	return d != NULL ? d : scratch;
}

/* What the API does at matter creation: freeze the requester's production
 * key into the matter and make its blinding seed. */
static int
seed_matter(const char *midstr)
{
	unsigned char bid[16], *seed = NULL;
	char err[256], bt[UTIL_UUID_STRLEN + 1];
	pg_params p = PG_PARAMS_INIT;

	if (api_blind_create(pdir(), midstr, bid, &seed, err, sizeof(err)) != 0) {
		fprintf(stderr, "seed: %s\n", err);
		return -1;
	}
	vault_secure_free(seed);
	util_uuid_format(bt, bid);
	pg_param_text(&p, midstr);
	pg_param_text(&p, bt);
	if (pg_exec(db, "UPDATE coffer.matters m SET blind_id = $2::uuid, "
	    "recipient_key = u.x25519_public_key FROM coffer.users u "
	    "WHERE m.matter_id = $1::uuid AND u.tenant_id = m.tenant_id "
	    "AND u.user_id = m.requester_user_id", &p, err, sizeof(err)) != 0) {
		fprintf(stderr, "seed: %s\n", err);
		return -1;
	}
	return 0;
}

/* The matter's seed (guarded), recipient key and blind id text. */
static int
matter_blind(const char *midstr, unsigned char **seed,
    unsigned char recipient[32], char bt[UTIL_UUID_STRLEN + 1])
{
	unsigned char bid[16];
	char err[256];
	pg_params p = PG_PARAMS_INIT;
	PGresult *r;
	int rc = -1;

	*seed = NULL;
	pg_param_text(&p, midstr);
	r = pg_query(db, "SELECT blind_id::text, encode(recipient_key, 'hex') "
	    "FROM coffer.matters WHERE matter_id = $1::uuid", &p, err, sizeof(err));
	if (r == NULL || PQntuples(r) != 1 || PQgetisnull(r, 0, 0) ||
	    PQgetisnull(r, 0, 1) || util_uuid_parse(bid, PQgetvalue(r, 0, 0)) != 0 ||
	    util_unhex(recipient, 32, PQgetvalue(r, 0, 1), 64) != 0) {
		fprintf(stderr, "matter blind: %s\n", r ? "no seed" : err);
		goto out;
	}
	snprintf(bt, UTIL_UUID_STRLEN + 1, "%s", PQgetvalue(r, 0, 0));
	if (api_blind_load(pdir(), midstr, bid, seed, err, sizeof(err)) != 0) {
		fprintf(stderr, "matter blind: seed file missing\n");
		goto out;
	}
	rc = 0;
out:
	PQclear(r);
	return rc;
}

static int
make_matter(const tenant_fx *t, const char *requester, const char *scope_extra,
    const char *participant, unsigned char mid[16])
{
	unsigned char tok[VAULT_TOKEN_BYTES];
	char hex[33], err[256], scope[512], midstr[UTIL_UUID_STRLEN + 1];
	char from[64], to[64];
	pg_params p = PG_PARAMS_INIT;

	if (vault_participant_token(t->bik, participant, strlen(participant), tok,
	    err, sizeof(err)) != 0)
		return -1;
	util_hex(hex, tok, sizeof(tok));
	iso(from, sizeof(from), T0);
	iso(to, sizeof(to), T0 + 3 * DAY - 1);
	snprintf(scope, sizeof(scope), "{\"channels\":[],\"conversations\":[],"
	    "\"from\":\"%s\",\"participants\":[\"%s\"],\"to\":\"%s\"%s}", from, hex,
	    to, scope_extra);
	util_uuid_random(mid);
	util_uuid_format(midstr, mid);
	pg_param_text(&p, t->id);
	pg_param_text(&p, midstr);
	pg_param_text(&p, requester);
	pg_param_text(&p, scope);
	pg_param_text(&p, from);
	pg_param_text(&p, to);
	if (pg_exec(db, "INSERT INTO coffer.matters (tenant_id, matter_id, title, "
	    "legal_basis, requester_user_id, scope, time_from, time_to, state) "
	    "VALUES ($1::uuid, $2::uuid, 'Test matter', 'Subpoena 1', $3::uuid, "
	    "$4::jsonb, $5::timestamptz, $6::timestamptz, 'approved')", &p, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "matter: %s\n", err);
		return -1;
	}
	return seed_matter(midstr);
}

/* Custodian `index` approves matter `mid` with partials computed for
 * `bind_mid` (normally the same; another matter's id makes a replay).
 * as_array: the POST body's array form instead of the API's stored form. */
static int
approve(const tenant_fx *t, const unsigned char mid[16],
    const unsigned char bind_mid[16], unsigned index, int as_array)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *r;
	json_t *doc = as_array ? json_array() : json_object();
	char err[256], midstr[UTIL_UUID_STRLEN + 1], idx[8], *text = NULL;
	char bt[UTIL_UUID_STRLEN + 1];
	unsigned char *seed = NULL, recipient[32];
	int i, rc = -1;

	util_uuid_format(midstr, mid);
	if (matter_blind(midstr, &seed, recipient, bt) != 0) {
		json_decref(doc);
		return -1;
	}
	pg_param_bin(&p, t->tid, 16);
	pg_param_bin(&p, mid, 16);
	p.result_binary = 1;
	/* The matter's epochs, with the builder's own count query semantics. */
	r = pg_query(db, "SELECT e.epoch_id, e.r_point FROM coffer.epochs e "
	    "WHERE e.tenant_id = $1::uuid AND e.epoch_id IN (SELECT r.epoch_id "
	    "FROM coffer.records r, coffer.matters m WHERE m.tenant_id = $1::uuid "
	    "AND m.matter_id = $2::uuid AND r.tenant_id = $1::uuid "
	    "AND (m.time_from IS NULL OR r.sent_at >= m.time_from) "
	    "AND (m.time_to IS NULL OR r.sent_at <= m.time_to) "
	    "AND r.participant_tokens && ARRAY(SELECT pg_catalog.decode(x, 'hex') "
	    "FROM jsonb_array_elements_text(m.scope->'participants') x))",
	    &p, err, sizeof(err));
	if (r == NULL || doc == NULL) {
		fprintf(stderr, "epochs: %s\n", err);
		goto out;
	}
	for (i = 0; i < PQntuples(r); i++) {
		vault_partial part;
		vault_release_ctx rctx;
		unsigned char Rb[32], bp[64];
		char eid[UTIL_UUID_STRLEN + 1], ph[65], c[65], z[65], proof[129];
		char rbh[65], bph[129];
		json_t *o;

		util_uuid_format(eid, (const unsigned char *)PQgetvalue(r, i, 0));
		/* As the API and cofferctl approve do: the custodian answers
		 * R' = ρ·R, bound to bind_mid (another id: a replay). */
		vault_release_ctx_init(&rctx, t->tid, bind_mid,
		    (const unsigned char *)PQgetvalue(r, i, 0), recipient);
		if (vault_blind_point(seed, &rctx,
		    (const unsigned char *)PQgetvalue(r, i, 1), Rb, bp, err,
		    sizeof(err)) != 0 ||
		    vault_threshold_partial(vault_tenant_keys_share(t->keys, index),
		    index, &rctx, Rb, &part, err, sizeof(err)) != 0) {
			fprintf(stderr, "partial: %s\n", err);
			goto out;
		}
		util_hex(ph, part.P, 32);
		util_hex(c, part.proof, 32);
		util_hex(z, part.proof + 32, 32);
		util_hex(proof, part.proof, 64);
		util_hex(rbh, Rb, 32);
		util_hex(bph, bp, 64);
		if (as_array)
			json_array_append_new(doc, json_pack("{s:s,s:s,s:s,s:s}",
			    "epoch_id", eid, "p", ph, "c", c, "z", z));
		else {
			o = json_pack("{s:s,s:s,s:s,s:s}", "p", ph, "proof", proof,
			    "rb", rbh, "bp", bph);
			json_object_set_new(doc, eid, o);
		}
	}
	if (as_array) {
		/* The schema wants an object: the array goes under "partials". */
		json_t *w = json_pack("{s:o}", "partials", doc);

		doc = w;
	}
	text = json_dumps(doc, JSON_COMPACT);
	snprintf(idx, sizeof(idx), "%u", index);
	{
		pg_params q = PG_PARAMS_INIT;

		pg_param_text(&q, t->id);
		pg_param_text(&q, midstr);
		pg_param_text(&q, idx);
		pg_param_text(&q, cust_id[index]);
		pg_param_text(&q, text);
		pg_param_text(&q, bt);
		if (pg_exec(db, "INSERT INTO coffer.approvals (tenant_id, matter_id, "
		    "custodian_index, user_id, partials, blind_id) VALUES ($1::uuid, "
		    "$2::uuid, $3::integer, $4::uuid, $5::jsonb, $6::uuid)", &q, err,
		    sizeof(err)) != 0) {
			fprintf(stderr, "approval: %s\n", err);
			goto out;
		}
	}
	rc = 0;
out:
	if (seed != NULL)
		vault_secure_free(seed);
	free(text);
	json_decref(doc);
	PQclear(r);
	return rc;
}

/* -- opening a production in memory ------------------------------------------------ */

static int
read_whole(const char *path, membuf *out)
{
	unsigned char buf[65536];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	memset(out, 0, sizeof(*out));
	if (fd < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (mem_sink(out, buf, (size_t)n) != 0)
			break;
	close(fd);
	return n == 0 ? 0 : -1;
}

static int
open_production(const char *path, const unsigned char *sk, membuf *tar,
    char *err, size_t err_len)
{
	vault_stream_reader *r = NULL;
	membuf ct;
	int rc = -1;

	memset(tar, 0, sizeof(*tar));
	if (read_whole(path, &ct) != 0) {
		snprintf(err, err_len, "cannot read %s", path);
		return -1;
	}
	if (vault_prod_reader_new(&r, sk, mem_sink, tar, err, err_len) == 0 &&
	    vault_stream_read(r, ct.p, ct.len, err, err_len) == 0 &&
	    vault_stream_read_finish(r, err, err_len) == 0)
		rc = 0;
	vault_stream_reader_free(&r);
	free(ct.p);
	return rc;
}

typedef struct entry {
	char          name[128];
	unsigned char *data;
	size_t        len;
} entry;

#define MAXENT 256

static int
untar(const membuf *tar, entry *ents, int max, const char *fmt)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int n = 0;

	if (strcmp(fmt, "zip") == 0)
		archive_read_support_format_zip(a);
	else
		archive_read_support_format_tar(a);
	if (archive_read_open_memory(a, tar->p, tar->len) != ARCHIVE_OK) {
		archive_read_free(a);
		return -1;
	}
	while (n < max && archive_read_next_header(a, &e) == ARCHIVE_OK) {
		la_int64_t sz = archive_entry_size(e);

		snprintf(ents[n].name, sizeof(ents[n].name), "%s",
		    archive_entry_pathname(e));
		ents[n].len = sz > 0 ? (size_t)sz : 0;
		ents[n].data = malloc(ents[n].len + 1);
		if (ents[n].data == NULL)
			break;
		if (ents[n].len > 0 && archive_read_data(a, ents[n].data,
		    ents[n].len) != (la_ssize_t)ents[n].len)
			break;
		ents[n].data[ents[n].len] = 0;
		n++;
	}
	archive_read_free(a);
	return n;
}

static void
free_entries(entry *ents, int n)
{
	while (n-- > 0)
		free(ents[n].data);
}

static const entry *
find_entry(const entry *ents, int n, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(ents[i].name, name) == 0)
			return &ents[i];
	return NULL;
}

/* The rsmf.zip of an .rsmf file, decoded. */
static int
rsmf_zip(const entry *e, membuf *zip, long *events)
{
	const char *s = (const char *)e->data, *p, *end;
	char *clean;
	size_t k = 0, i;
	int got, pad = 0;

	memset(zip, 0, sizeof(*zip));
	p = strstr(s, "X-RSMF-EventCount: ");
	if (p == NULL || strstr(s, "X-RSMF-Version: 2.0.0\r\n") == NULL ||
	    strstr(s, "X-RSMF-BeginDate: ") == NULL ||
	    strstr(s, "X-RSMF-EndDate: ") == NULL)
		return -1;
	*events = strtol(p + 19, NULL, 10);
	p = strstr(s, "Content-Transfer-Encoding: base64\r\n\r\n");
	if (p == NULL)
		return -1;
	p += strlen("Content-Transfer-Encoding: base64\r\n\r\n");
	end = strstr(p, "--coffer-rsmf-boundary");
	if (end == NULL || (clean = malloc((size_t)(end - p) + 1)) == NULL)
		return -1;
	for (; p < end; p++)
		if (*p != '\r' && *p != '\n')
			clean[k++] = *p;
	for (i = k; i > 0 && clean[i - 1] == '='; i--)
		pad++;
	zip->p = malloc(k / 4 * 3 + 1);
	got = zip->p ? EVP_DecodeBlock(zip->p, (unsigned char *)clean, (int)k) : -1;
	free(clean);
	if (got < 0)
		return -1;
	zip->len = (size_t)got - (size_t)pad;
	return 0;
}

/* -- the checks of one opened production --------------------------------------------- */

static int seen_parts;          /* records.jsonl's parts in the last check */

/* records.jsonl from its parts (issue 17.4): records.jsonl.000001, ...
 * in tar order, each the next; NULL if there are none or one is out of
 * order.  The caller frees it. */
static char *
records_from_parts(const entry *ents, int n, size_t *len)
{
	char want[64], *all = NULL, *nall;
	int i;

	*len = 0;
	seen_parts = 0;
	for (i = 0; i < n; i++) {
		if (strncmp(ents[i].name, "records.jsonl", 13) != 0)
			continue;
		snprintf(want, sizeof(want), "records.jsonl.%06d", seen_parts + 1);
		if (strcmp(ents[i].name, want) != 0) {
			free(all);
			return NULL;
		}
		if ((nall = realloc(all, *len + ents[i].len + 1)) == NULL) {
			free(all);
			return NULL;
		}
		all = nall;
		memcpy(all + *len, ents[i].data, ents[i].len);
		*len += ents[i].len;
		all[*len] = '\0';
		seen_parts++;
	}
	return all;
}

static const sent_rec *
rec_by_receipt(const char *receipt)
{
	int i;

	for (i = 0; i < nrecs; i++)
		if (strcmp(recs[i].receipt, receipt) == 0)
			return &recs[i];
	return NULL;
}

static void
check_production(const char *path, int want_records, int want_excluded,
    int want_rsmf, const api_production_result *res)
{
	entry ents[MAXENT], zents[MAXENT];
	membuf tar, zip;
	char err[512];
	const entry *mj;
	char *line, *save, *copy, *rj;
	size_t rlen;
	json_error_t je;
	json_t *head = NULL;
	int n, i, lines = 0, rsmf = 0, seen_in_scope = 0;
	long events_total = 0;

	CHECK(open_production(path, lisa_sk, &tar, err, sizeof(err)) == 0,
	    "open: %s", err);
	n = untar(&tar, ents, MAXENT, "tar");
	CHECK(n > 0, "production is not a tar");
	rj = records_from_parts(ents, n, &rlen);
	mj = find_entry(ents, n, "manifest.json");
	CHECK(rj != NULL && mj != NULL, "records.jsonl's parts (in order from "
	    "records.jsonl.000001) or manifest.json missing");
	CHECK(find_entry(ents, n, "records.jsonl") == NULL, "records.jsonl is a "
	    "single entry, not parts");
	if (rj == NULL || mj == NULL) {
		free(rj);
		goto out;
	}
	CHECK(strlen(rj) == rlen, "records.jsonl has a NUL byte");

	/* records.jsonl: exactly the in-scope records, as sent. */
	copy = rj;
	for (line = strtok_r(copy, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		json_t *o = json_loads(line, 0, &je), *rec = json_object_get(o, "record");
		const char *rc = json_string_value(json_object_get(o, "receipt"));
		const sent_rec *s = rc ? rec_by_receipt(rc) : NULL;
		char ts[64];

		lines++;
		CHECK(s != NULL, "records.jsonl has an unknown record %s", rc ? rc : "?");
		if (s != NULL) {
			CHECK(s->in_scope && !s->late, "out-of-scope record %s produced",
			    s->id);
			seen_in_scope++;
			CHECK(strcmp(json_string_value(json_object_get(rec, "body")),
			    s->body) == 0, "body of %s differs", s->id);
			CHECK(strcmp(json_string_value(json_object_get(rec, "id")),
			    s->id) == 0, "id of %s differs", s->id);
			iso(ts, sizeof(ts), s->sent_us);
			CHECK(strncmp(json_string_value(json_object_get(o, "sent_at")), ts,
			    19) == 0, "sent_at of %s differs", s->id);
			if (s->att[0] != '\0')
				CHECK(strcmp(json_string_value(json_object_get(json_array_get(
				    json_object_get(rec, "attachments"), 0), "data")),
				    s->att) == 0, "attachment of %s differs", s->id);
		}
		json_decref(o);
	}
	free(copy);
	CHECK(lines == want_records, "records.jsonl has %d records, want %d", lines,
	    want_records);
	CHECK(seen_in_scope == want_records, "in-scope records seen %d",
	    seen_in_scope);

	/* manifest: header counts, receipts equal to the database's. */
	copy = strdup((const char *)mj->data);
	line = strtok_r(copy, "\n", &save);
	{
		size_t hl = strlen(line);
		char *h = malloc(hl + 3);

		memcpy(h, line, hl);
		memcpy(h + hl, "]}", 3);
		head = json_loads(h, 0, &je);
		free(h);
	}
	CHECK(head != NULL, "manifest header is not JSON");
	CHECK(json_integer_value(json_object_get(head, "record_count")) ==
	    want_records, "manifest record_count");
	CHECK(json_integer_value(json_object_get(head, "excluded_records")) ==
	    want_excluded, "manifest excluded_records %lld, want %d",
	    (long long)json_integer_value(json_object_get(head,
	    "excluded_records")), want_excluded);
	CHECK(json_integer_value(json_object_get(head, "rsmf_files")) == want_rsmf,
	    "manifest rsmf_files");
	{
		json_t *cp;
		size_t k;

		json_array_foreach(json_object_get(head, "checkpoints"), k, cp) {
			vault_checkpoint ck;
			unsigned char sig[64];

			memset(&ck, 0, sizeof(ck));
			memcpy(ck.tenant_id, ta.tid, 16);
			CHECK(util_uuid_parse(ck.stream_id, json_string_value(
			    json_object_get(cp, "stream"))) == 0, "checkpoint stream");
			ck.batch_no = (uint64_t)json_integer_value(json_object_get(cp,
			    "batch_no"));
			ck.last_seq = (uint64_t)json_integer_value(json_object_get(cp,
			    "last_seq"));
			ck.signed_at = json_integer_value(json_object_get(cp,
			    "signed_at_us"));
			CHECK(util_unhex(ck.head, 32, json_string_value(json_object_get(cp,
			    "head")), 64) == 0 && util_unhex(sig, 64, json_string_value(
			    json_object_get(cp, "signature")), 128) == 0, "checkpoint hex");
			CHECK(vault_checkpoint_verify(node_pk, &ck, sig) == 0,
			    "checkpoint signature does not verify under the node key");
		}
	}
	i = 0;
	while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
		size_t l = strlen(line);
		json_t *o;
		char q[512];
		const char *stream, *leaf;
		long long seq;
		char *dbleaf;

		if (strcmp(line, "]}") == 0)
			break;
		if (line[l - 1] == ',')
			line[l - 1] = '\0';
		o = json_loads(line, 0, &je);
		stream = json_string_value(json_object_get(o, "stream"));
		leaf = json_string_value(json_object_get(o, "leaf_hash"));
		seq = (long long)json_integer_value(json_object_get(o, "seq"));
		CHECK(o != NULL && stream && leaf, "manifest line %d", i);
		if (o == NULL || stream == NULL || leaf == NULL) {
			json_decref(o);
			continue;
		}
		snprintf(q, sizeof(q), "SELECT encode(leaf_hash, 'hex') FROM "
		    "coffer.records WHERE tenant_id = '%s' AND stream_id = '%s' "
		    "AND seq = %lld", ta.id, stream, seq);
		dbleaf = pgtest_scalar(db, q);
		CHECK(dbleaf != NULL && strcmp(dbleaf, leaf) == 0,
		    "manifest receipt %s:%lld differs from the database", stream, seq);
		free(dbleaf);
		CHECK(json_is_object(json_object_get(o, "checkpoint")) &&
		    json_integer_value(json_object_get(json_object_get(o, "checkpoint"),
		    "last_seq")) >= seq, "record %lld without a covering checkpoint",
		    seq);
		json_decref(o);
		i++;
	}
	free(copy);
	CHECK(i == want_records, "manifest lists %d receipts", i);

	/* RSMF files: headers, zip, manifest events, attachments. */
	for (i = 0; i < n; i++) {
		long events = 0;
		int zn;
		const entry *man;
		json_t *m;

		if (strncmp(ents[i].name, "rsmf/", 5) != 0 || ents[i].len == 0)
			continue;
		rsmf++;
		CHECK(rsmf_zip(&ents[i], &zip, &events) == 0, "%s: not RSMF",
		    ents[i].name);
		zn = untar(&zip, zents, MAXENT, "zip");
		man = find_entry(zents, zn, "rsmf_manifest.json");
		CHECK(man != NULL, "%s: no rsmf_manifest.json", ents[i].name);
		m = man ? json_loads((const char *)man->data, 0, &je) : NULL;
		CHECK(m != NULL, "%s: manifest not JSON (%s)", ents[i].name, je.text);
		CHECK((long)json_array_size(json_object_get(m, "events")) == events,
		    "%s: event count header %ld", ents[i].name, events);
		CHECK(strcmp(json_string_value(json_object_get(m, "version")),
		    "2.0.0") == 0, "version");
		{
			json_t *ev, *at;
			size_t k, j;

			json_array_foreach(json_object_get(m, "events"), k, ev)
				json_array_foreach(json_object_get(ev, "attachments"), j, at) {
					const entry *z = find_entry(zents, zn,
					    json_string_value(json_object_get(at, "id")));

					CHECK(z != NULL && (json_int_t)z->len ==
					    json_integer_value(json_object_get(at, "size")),
					    "%s: attachment %s missing or wrong size",
					    ents[i].name, json_string_value(json_object_get(at,
					    "id")));
					CHECK(strchr(json_string_value(json_object_get(at, "id")),
					    '/') == NULL, "attachment name with a slash");
				}
		}
		events_total += events;
		json_decref(m);
		free_entries(zents, zn);
		free(zip.p);
	}
	CHECK(rsmf == want_rsmf, "%d RSMF files, want %d", rsmf, want_rsmf);
	CHECK(events_total == want_records, "RSMF events %ld", events_total);
	if (res != NULL) {
		CHECK(res->records == (unsigned long long)want_records, "result records");
		CHECK(res->excluded_records == (unsigned long long)want_excluded,
		    "result excluded %llu", res->excluded_records);
		CHECK(res->rsmf_files == (unsigned long long)want_rsmf, "result rsmf");
	}
out:
	json_decref(head);
	free_entries(ents, n > 0 ? n : 0);
	free(tar.p);
}

typedef struct progress_seen {
	unsigned long long calls, last_done, last_total;
} progress_seen;

static void
progress_cb(void *arg, unsigned long long done, unsigned long long total)
{
	progress_seen *p = arg;

	p->calls++;
	p->last_done = done;
	p->last_total = total;
}

static int build_fetch_rows;    /* 0: the default */

static int
build(const unsigned char mid[16], const char *out, unsigned long split,
    api_production_result *res, char *err, size_t err_len)
{
	api_production_opts o;
	PGconn *c = pgtest_connect(PQdb(db), "api");   /* the API's role */
	int rc;

	if (c == NULL) {
		snprintf(err, err_len, "cannot connect as api");
		return -1;
	}
	memset(&o, 0, sizeof(o));
	o.sign_sk = api_sk;
	o.node_name = API_NODE;
	o.rsmf_deflate = split != 0;       /* the split builds also deflate */
	o.fetch_rows = build_fetch_rows;
	o.records_part_bytes = split != 0 ? 3000 : 0;  /* and cut records.jsonl
	                                                  into many parts */
	o.blind_dir = pdir();
	rc = api_production_build_ex(c, ta.tid, mid, out, NULL, NULL, &o, res, err,
	    err_len);
	pg_close(&c);
	return rc;
}

static int
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* -- bench ------------------------------------------------------------------------ */

static long
rss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static void
bench(long n)
{
	tenant_fx tc = { "bench", "", { 0 }, NULL, NULL };
	char *body, *resp, ts[64], path[1200], err[512], lid[UTIL_UUID_STRLEN + 1];
	unsigned char mid[16];
	ingest *ig;
	api_production_result res;
	api_production_opts bo;
	struct timespec a, b;
	long i, off = 0, per = 5000, sent = 0, rss0;
	double secs;
	progress_seen ps;
	PGconn *c;

	if (make_tenant(&tc) != 0 ||
	    make_user(&tc, "lisa", "legal", 0, lisa_pk, lid) != 0 ||
	    make_user(&tc, "c1", "custodian", 1, NULL, cust_id[1]) != 0 ||
	    make_user(&tc, "c2", "custodian", 2, NULL, cust_id[2]) != 0) {
		CHECK(0, "bench fixture");
		return;
	}
	if ((ig = gateway_start(100000, 2000)) == NULL) {
		CHECK(0, "bench gateway");
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	body = malloc((size_t)per * 700);
	while (sent < n) {
		long k = n - sent < per ? n - sent : per;

		off = 0;
		for (i = 0; i < k; i++) {
			long j = sent + i;

			iso(ts, sizeof(ts), T0 + j * 1000000LL);
			off += sprintf(body + off, "{\"id\":\"b-%ld\",\"channel\":\"%s\","
			    "\"conversation\":\"conv-%ld\",\"direction\":\"out\","
			    "\"sender\":\"+1555%07ld\",\"recipients\":[\"+15550000000\","
			    "\"+1556%07ld\"],\"sent_at\":\"%s\",\"body\":\"Lorem ipsum "
			    "dolor sit amet, consectetur adipiscing elit, sed do eiusmod "
			    "tempor incididunt ut labore et dolore magna aliqua %ld\"%s}\n",
			    j, j % 3 ? "signal" : "whatsapp", j % 1000, j % 5000,
			    (j * 7) % 5000, ts, j, j % 10 == 0 ? ",\"attachments\":"
			    "[{\"name\":\"scan.jpg\",\"type\":\"image/jpeg\",\"data\":"
			    "\"/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgG"
			    "BgUGCQgKCgkICQkKDA8MCgsOCwkJDRENDg8QEBEQCgwSExIQEw8QEBD/\"}]" :
			    "");
		}
		if ((resp = post(ig, "bench", body, (size_t)off)) == NULL) {
			CHECK(0, "bench ingest");
			break;
		}
		free(resp);
		sent += k;
	}
	free(body);
	ingest_free(&ig);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("bench: ingested %ld records in %.2f s\n", sent,
	    (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
	(void)sql("ANALYZE coffer.records");

	/* Matter: the compliance bot takes part in every conversation. */
	{
		unsigned char tok[16];
		char hex[33], scope[512], midstr[UTIL_UUID_STRLEN + 1];
		pg_params p = PG_PARAMS_INIT;

		if (vault_participant_token(tc.bik, "+15550000000", 12, tok, err,
		    sizeof(err)) != 0)
			return;
		util_hex(hex, tok, 16);
		snprintf(scope, sizeof(scope), "{\"participants\":[\"%s\"]}", hex);
		util_uuid_random(mid);
		util_uuid_format(midstr, mid);
		pg_param_text(&p, tc.id);
		pg_param_text(&p, midstr);
		pg_param_text(&p, lid);
		pg_param_text(&p, scope);
		if (pg_exec(db, "INSERT INTO coffer.matters (tenant_id, matter_id, "
		    "title, legal_basis, requester_user_id, scope) VALUES ($1::uuid, "
		    "$2::uuid, 'Bench', 'Bench', $3::uuid, $4::jsonb)", &p, err,
		    sizeof(err)) != 0) {
			CHECK(0, "bench matter: %s", err);
			return;
		}
		if (seed_matter(midstr) != 0) {
			CHECK(0, "bench matter seed");
			return;
		}
	}
	if (approve(&tc, mid, mid, 1, 0) != 0 || approve(&tc, mid, mid, 2, 0) != 0) {
		CHECK(0, "bench approvals");
		return;
	}
	snprintf(path, sizeof(path), "%s/bench.coffer", scratch);
	memset(&ps, 0, sizeof(ps));
	rss0 = rss_kb();
	c = pgtest_connect(PQdb(db), "api");
	clock_gettime(CLOCK_MONOTONIC, &a);
	memset(&bo, 0, sizeof(bo));
	bo.blind_dir = pdir();
	bo.sign_sk = api_sk;
	bo.node_name = API_NODE;
	if (api_production_build_ex(c, tc.tid, mid, path, progress_cb, &ps, &bo,
	    &res, err, sizeof(err)) != 0) {
		CHECK(0, "bench build: %s", err);
		pg_close(&c);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	pg_close(&c);
	secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	printf("bench: production of %llu records (%llu RSMF files, %llu "
	    "attachments, %llu epochs) in %.2f s = %.0f records/s; sealed %.1f MB; "
	    "peak RSS %ld MB before, %ld MB after\n", res.records, res.rsmf_files,
	    res.attachments, res.epochs, secs, (double)res.records / secs,
	    (double)res.sealed_bytes / 1e6, rss0 / 1024, rss_kb() / 1024);
	CHECK(res.records == (unsigned long long)n, "bench produced %llu of %ld",
	    res.records, n);
	if (getenv("COFFER_PROD_KEEP") != NULL) {
		char ms[UTIL_UUID_STRLEN + 1];

		util_uuid_format(ms, mid);
		printf("bench: kept database %s: tenant %s matter %s\n", PQdb(db),
		    tc.id, ms);
	}
	CHECK(ps.last_done == res.records && ps.last_total == res.records,
	    "bench progress");
	vault_tenant_keys_free(&tc.keys);
	vault_bik_free(&tc.bik);
}

/* -- the harness test --------------------------------------------------------------- */

static void
seed(void)
{
	int d, i;

	/* acme: alice-bob on signal over three days (24 in scope), carol-dave
	 * on sms (not in scope), a whatsapp group with alice (6 in scope),
	 * alice-bob before the window (4 not in scope).  globex: alice-bob in
	 * the window (other tenant). */
	for (d = 0; d < 3; d++)
		for (i = 0; i < 8; i++)
			add("acme", "c-ab", "signal", i % 2 ? BOB : ALICE,
			    T0 + d * DAY + i * 3600000000LL + 123456, 1, i % 5 == 0);
	for (i = 0; i < 10; i++)
		add("acme", "c-cd", "sms", i % 2 ? DAVE : CAROL,
		    T0 + DAY + i * 60000000LL, 0, 0);
	for (i = 0; i < 6; i++)
		add("acme", "g-1", "whatsapp", i % 3 == 0 ? ALICE : i % 3 == 1 ? CAROL :
		    DAVE, T0 + 2 * DAY + i * 1000000LL, 1, i == 2);
	for (i = 0; i < 4; i++)
		add("acme", "c-ab", "signal", ALICE, T0 - 5 * DAY + i, 0, 0);
	for (i = 0; i < 5; i++)
		add("globex", "c-ab", "signal", ALICE, T0 + DAY + i, 0, 0);
}

static void
run_tests(void)
{
	unsigned char m1[16], m2[16], m3[16], m4[16], m5[16], m6[16];
	unsigned char other_pk[32], *other_sk = NULL;
	char out[1200], err[512];
	api_production_result res;
	membuf tar;
	ingest *ig;
	int first_late, i, stored;

	seed();
	if ((ig = gateway_start(7, 5)) == NULL) {
		CHECK(0, "gateway");
		return;
	}
	stored = ingest_recs(ig, "acme", 0, nrecs) + ingest_recs(ig, "globex", 0,
	    nrecs);
	ingest_free(&ig);
	CHECK(stored == nrecs, "ingested %d of %d", stored, nrecs);
	OK("records ingested through the gateway pipeline");

	/* M1: alice, three days; custodians 1 (stored form) and 2 (array). */
	CHECK(make_matter(&ta, lisa_id, "", ALICE, m1) == 0, "matter");
	CHECK(approve(&ta, m1, m1, 1, 0) == 0 && approve(&ta, m1, m1, 2, 1) == 0,
	    "approvals");

	/* Late records (new gateway run: a new epoch nobody approved). */
	first_late = nrecs;
	for (i = 0; i < 3; i++)
		add("acme", "c-ab", "signal", ALICE, T0 + DAY + 7200000000LL + i, 1,
		    0)->late = 1;
	if ((ig = gateway_start(7, 5)) == NULL) {
		CHECK(0, "gateway");
		return;
	}
	CHECK(ingest_recs(ig, "acme", first_late, nrecs) == 3, "late ingest");
	ingest_free(&ig);

	snprintf(out, sizeof(out), "%s/m1.coffer", scratch);
	CHECK(build(m1, out, 10, &res, err, sizeof(err)) == 0, "build m1: %s", err);
	/* Issue 13.3: no API signing key, or one the node pins do not name:
	 * refused before anything is written. */
	{
		api_production_opts o;
		char nout[1300], pins[1300], e2[512];
		PGconn *c = pgtest_connect(PQdb(db), "api");
		FILE *pf;

		snprintf(nout, sizeof(nout), "%s/unsigned.coffer", scratch);
		memset(&o, 0, sizeof(o));
		o.blind_dir = pdir();
		CHECK(c != NULL && api_production_build_ex(c, ta.tid, m1, nout, NULL,
		    NULL, &o, NULL, e2, sizeof(e2)) != 0 && strcmp(e2, "production: "
		    "no API signing key (set signing_key_file and node_name in the "
		    "API configuration; cofferctl node init makes the key): "
		    "productions are signed by the API") == 0 && !exists(nout),
		    "unsigned build: %s", e2);
		snprintf(pins, sizeof(pins), "%s/other.pins", scratch);
		if ((pf = fopen(pins, "w")) != NULL) {
			fprintf(pf, "node " API_NODE " %064d\n", 7);
			fclose(pf);
		}
		o.sign_sk = api_sk;
		o.node_name = API_NODE;
		o.node_pins_file = pins;
		CHECK(c != NULL && api_production_build_ex(c, ta.tid, m1, nout, NULL,
		    NULL, &o, NULL, e2, sizeof(e2)) != 0 && strstr(e2, "production: "
		    "node " API_NODE " is not pinned in ") != NULL && strstr(e2,
		    " with the key of signing_key_file: nobody could open its "
		    "productions") != NULL && !exists(nout), "unpinned build: %s", e2);
		pg_close(&c);
		OK("a build without the API signing key, or with a key its pin "
		    "does not name, is refused");
	}
	{
		char tmp[1300];

		snprintf(tmp, sizeof(tmp), "%s.tmp", out);
		CHECK(!exists(tmp), "temporary file left behind");
	}
	{
		struct stat st;

		CHECK(stat(out, &st) == 0 && (st.st_mode & 077) == 0 &&
		    (unsigned long long)st.st_size == res.sealed_bytes,
		    "output mode or size");
	}
	/* 24 + 6 in scope; 3 late ones excluded; c-ab split in 3 days + g-1. */
	check_production(out, 30, 3, 4, &res);
	CHECK(seen_parts > 10, "records.jsonl in %d parts of 3000 bytes, want "
	    "more than 10", seen_parts);
	OK("production: exactly the in-scope records, RSMF per day, receipts and "
	    "checkpoints match the database, late epoch excluded; records.jsonl "
	    "in more than 10 parts, in order");

	CHECK(vault_box_keypair(other_pk, &other_sk) == 0, "keypair");
	CHECK(open_production(out, other_sk, &tar, err, sizeof(err)) != 0 &&
	    strstr(err, "sealed to a different key") != NULL,
	    "another key opened the production: %s", err);
	free(tar.p);
	vault_box_key_free(&other_sk);
	OK("another key cannot open it");

	/* One approval short. */
	CHECK(make_matter(&ta, lisa_id, "", ALICE, m2) == 0 &&
	    approve(&ta, m2, m2, 1, 0) == 0, "m2");
	snprintf(out, sizeof(out), "%s/m2.coffer", scratch);
	CHECK(build(m2, out, 0, &res, err, sizeof(err)) != 0 &&
	    strstr(err, "has 1 of the 2 approvals") != NULL, "m2: %s", err);
	CHECK(!exists(out), "m2 output exists");
	OK("one approval of two: refused, nothing written");

	/* Custodian 2's partials replayed from matter m1. */
	CHECK(make_matter(&ta, lisa_id, "", ALICE, m3) == 0 &&
	    approve(&ta, m3, m3, 1, 0) == 0 && approve(&ta, m3, m1, 2, 0) == 0,
	    "m3");
	snprintf(out, sizeof(out), "%s/m3.coffer", scratch);
	CHECK(build(m3, out, 0, &res, err, sizeof(err)) != 0 &&
	    strstr(err, "custodian 2") != NULL, "m3: %s", err);
	CHECK(!exists(out), "m3 output exists");
	OK("partials replayed from another matter: refused, custodian named");

	/* A scope the builder does not understand. */
	CHECK(make_matter(&ta, lisa_id, ",\"senders\":[]", ALICE, m4) == 0 &&
	    approve(&ta, m4, m4, 1, 0) == 0 && approve(&ta, m4, m4, 2, 0) == 0,
	    "m4");
	snprintf(out, sizeof(out), "%s/m4.coffer", scratch);
	CHECK(build(m4, out, 0, &res, err, sizeof(err)) != 0 &&
	    strstr(err, "unknown field 'senders'") != NULL, "m4: %s", err);
	OK("unknown scope field: refused");

	/* Requester without a production key: nothing frozen, nothing to
	 * approve or build (the API refuses such a matter at creation). */
	CHECK(make_matter(&ta, lena_id, "", ALICE, m5) == 0, "m5");
	CHECK(approve(&ta, m5, m5, 1, 0) != 0, "m5 approved without a recipient");
	snprintf(out, sizeof(out), "%s/m5.coffer", scratch);
	CHECK(build(m5, out, 0, &res, err, sizeof(err)) != 0 &&
	    strstr(err, "no production recipient key was frozen") != NULL,
	    "m5: %s", err);
	OK("requester without a production key: refused");

	/* The requester's key replaced after the matter was made (a database
	 * owner, or `user keygen --replace`): the production is still sealed
	 * to the key frozen at creation, never to the new one. */
	{
		unsigned char mrk[16], new_pk[VAULT_BOX_PK_BYTES], *new_sk = NULL;
		char newhex[65];
		pg_params p = PG_PARAMS_INIT;

		CHECK(vault_box_keypair(new_pk, &new_sk) == 0, "keypair");
		util_hex(newhex, new_pk, sizeof(new_pk));
		CHECK(make_matter(&ta, lisa_id, "", ALICE, mrk) == 0 &&
		    approve(&ta, mrk, mrk, 1, 0) == 0 && approve(&ta, mrk, mrk, 2, 0) == 0,
		    "mrk");
		pg_param_text(&p, lisa_id);
		pg_param_text(&p, newhex);
		CHECK(pg_exec(db, "UPDATE coffer.users SET x25519_public_key = "
		    "decode($2, 'hex') WHERE user_id = $1::uuid", &p, err,
		    sizeof(err)) == 0, "replace key: %s", err);
		snprintf(out, sizeof(out), "%s/mrk.coffer", scratch);
		CHECK(build(mrk, out, 0, &res, err, sizeof(err)) == 0, "mrk: %s", err);
		CHECK(open_production(out, new_sk, &tar, err, sizeof(err)) != 0 &&
		    strstr(err, "sealed to a different key") != NULL,
		    "the replacement key opened mrk: %s", err);
		free(tar.p);
		memset(&tar, 0, sizeof(tar));
		CHECK(open_production(out, lisa_sk, &tar, err, sizeof(err)) == 0,
		    "the frozen key does not open mrk: %s", err);
		free(tar.p);
		memset(&tar, 0, sizeof(tar));
		/* and the frozen key itself swapped in the matter row: every
		 * partial's proof names the old recipient, so the build stops */
		{
			unsigned char mrq[16];
			char mrqs[UTIL_UUID_STRLEN + 1];
			pg_params q = PG_PARAMS_INIT;

			p = (pg_params)PG_PARAMS_INIT;
			pg_param_text(&p, lisa_id);
			util_hex(newhex, lisa_pk, sizeof(lisa_pk));
			pg_param_text(&p, newhex);
			CHECK(pg_exec(db, "UPDATE coffer.users SET x25519_public_key = "
			    "decode($2, 'hex') WHERE user_id = $1::uuid", &p, err,
			    sizeof(err)) == 0, "restore key: %s", err);
			CHECK(make_matter(&ta, lisa_id, "", ALICE, mrq) == 0 &&
			    approve(&ta, mrq, mrq, 1, 0) == 0 &&
			    approve(&ta, mrq, mrq, 2, 0) == 0, "mrq");
			util_uuid_format(mrqs, mrq);
			util_hex(newhex, new_pk, sizeof(new_pk));
			pg_param_text(&q, mrqs);
			pg_param_text(&q, newhex);
			CHECK(pg_exec(db, "UPDATE coffer.matters SET recipient_key = "
			    "decode($2, 'hex') WHERE matter_id = $1::uuid", &q, err,
			    sizeof(err)) == 0, "swap frozen key: %s", err);
			snprintf(out, sizeof(out), "%s/mrq.coffer", scratch);
			CHECK(build(mrq, out, 0, &res, err, sizeof(err)) != 0 &&
			    strstr(err, "partial proof does not verify") != NULL,
			    "mrq built with a swapped recipient: %s", err);
			CHECK(!exists(out), "mrq output exists");
		}
		vault_box_key_free(&new_sk);
	}
	OK("recipient key replaced after creation: sealed to the frozen key; "
	    "the frozen key swapped: refused");

	/* Nothing in scope: an empty but valid production. */
	CHECK(make_matter(&ta, lisa_id, "", "+15559999999", m6) == 0 &&
	    approve(&ta, m6, m6, 1, 0) == 0 && approve(&ta, m6, m6, 2, 0) == 0,
	    "m6");
	snprintf(out, sizeof(out), "%s/m6.coffer", scratch);
	CHECK(build(m6, out, 0, &res, err, sizeof(err)) == 0, "m6: %s", err);
	check_production(out, 0, 0, 0, &res);
	CHECK(seen_parts == 1, "an empty records.jsonl is one empty part, not %d",
	    seen_parts);
	OK("empty matter: valid production with no records (records.jsonl: one "
	    "empty part)");

	/* A tampered in-scope ciphertext (triggers off, as a superuser
	 * could): recs[0] is alice's first message. */
	{
		char stream[UTIL_UUID_STRLEN + 1];
		long long seq;

		CHECK(sscanf(recs[0].receipt, "%36[^:]:%lld:", stream, &seq) == 2,
		    "receipt");
		/* First its batch_no only (issue 17.4: a batch's leaves are
		 * read by its seq range): the row left its batch's leaves, or
		 * claims a batch whose range does not hold it. */
		CHECK(sql("ALTER TABLE coffer.records DISABLE TRIGGER "
		    "records_append_only") == 0 && sql("UPDATE coffer.records SET "
		    "batch_no = batch_no + 1 WHERE tenant_id = '%s' AND "
		    "stream_id = '%s' AND seq = %lld", ta.id, stream, seq) == 0,
		    "tamper batch_no");
		snprintf(out, sizeof(out), "%s/m1-batchno.coffer", scratch);
		CHECK(build(m1, out, 0, &res, err, sizeof(err)) != 0 &&
		    (strstr(err, " leaves for seq ") != NULL ||
		    strstr(err, " is not a leaf of its batch ") != NULL ||
		    strstr(err, ": no batch row (tampered?)") != NULL) &&
		    strstr(err, "(tampered?)") != NULL, "batch_no: %s", err);
		CHECK(!exists(out), "batch_no: output exists");
		CHECK(sql("UPDATE coffer.records SET batch_no = batch_no - 1 "
		    "WHERE tenant_id = '%s' AND stream_id = '%s' AND seq = %lld",
		    ta.id, stream, seq) == 0 && sql("ALTER TABLE coffer.records "
		    "ENABLE ALWAYS TRIGGER records_append_only") == 0, "restore");
		OK("tampered batch_no: the build stops");
		/* Issue 17.4: the batches a FETCH needs are read ahead, all in
		 * two queries.  The database owner alters a batch row (its
		 * Merkle root, its chain head) or a leaf of it: the build
		 * stops with the same error whether the batch is read alone
		 * (one row a FETCH) or ahead with the others (500 a FETCH). */
		{
			static const struct {
				const char *set, *undo, *want, *name;
			} tz[] = {
				{ "UPDATE coffer.batches SET merkle_root = "
				  "set_byte(merkle_root, 0, get_byte(merkle_root, 0) # 1)",
				  "UPDATE coffer.batches SET merkle_root = "
				  "set_byte(merkle_root, 0, get_byte(merkle_root, 0) # 1)",
				  "the Merkle root of its leaves differs from the stored "
				  "root (tampered?)", "merkle_root" },
				{ "UPDATE coffer.batches SET new_head = "
				  "set_byte(new_head, 5, get_byte(new_head, 5) # 128)",
				  "UPDATE coffer.batches SET new_head = "
				  "set_byte(new_head, 5, get_byte(new_head, 5) # 128)",
				  "the chain head does not recompute (tampered?)",
				  "new_head" },
			};
			size_t ti;
			int fr;

			for (ti = 0; ti < sizeof(tz) / sizeof(tz[0]); ti++) {
				CHECK(sql("ALTER TABLE coffer.batches DISABLE TRIGGER "
				    "batches_append_only") == 0 && sql("%s WHERE tenant_id = "
				    "'%s' AND (stream_id, batch_no) = (SELECT stream_id, "
				    "batch_no FROM coffer.records WHERE tenant_id = '%s' AND "
				    "stream_id = '%s' AND seq = %lld)", tz[ti].set, ta.id,
				    ta.id, stream, seq) == 0, "tamper %s", tz[ti].name);
				for (fr = 0; fr < 2; fr++) {
					build_fetch_rows = fr == 0 ? 1 : 0;
					snprintf(out, sizeof(out), "%s/m1-%s-%d.coffer",
					    scratch, tz[ti].name, fr);
					CHECK(build(m1, out, 0, &res, err, sizeof(err)) != 0 &&
					    strstr(err, tz[ti].want) != NULL, "%s (%s): %s",
					    tz[ti].name, fr == 0 ? "alone" : "ahead", err);
					CHECK(!exists(out), "%s: output exists", tz[ti].name);
				}
				build_fetch_rows = 0;
				CHECK(sql("%s WHERE tenant_id = '%s' AND (stream_id, "
				    "batch_no) = (SELECT stream_id, batch_no FROM "
				    "coffer.records WHERE tenant_id = '%s' AND stream_id = "
				    "'%s' AND seq = %lld)", tz[ti].undo, ta.id, ta.id, stream,
				    seq) == 0 && sql("ALTER TABLE coffer.batches ENABLE "
				    "ALWAYS TRIGGER batches_append_only") == 0, "restore %s",
				    tz[ti].name);
			}
			/* and the two paths agree on a sound archive */
			snprintf(out, sizeof(out), "%s/m1-alone.coffer", scratch);
			build_fetch_rows = 1;
			CHECK(build(m1, out, 0, &res, err, sizeof(err)) == 0,
			    "one row a FETCH: %s", err);
			build_fetch_rows = 0;
			check_production(out, 30, 3, 4, &res);
		}
		OK("tampered batch rows (Merkle root, chain head): the build stops "
		    "with the batch's error, read alone or ahead; restored, both "
		    "build");
		/* Its participant tokens with a 17-byte token appended (the
		 * CHECK dropped, as the database owner could): the build reads
		 * the array itself (issue 17.4) and refuses the row. */
		CHECK(sql("ALTER TABLE coffer.records DISABLE TRIGGER "
		    "records_append_only") == 0 && sql("ALTER TABLE coffer.records "
		    "DROP CONSTRAINT records_participant_tokens_check") == 0 &&
		    sql("UPDATE coffer.records SET participant_tokens = "
		    "pg_catalog.array_append(participant_tokens, "
		    "'\\x00112233445566778899aabbccddeeff00'::bytea) "
		    "WHERE tenant_id = '%s' AND stream_id = '%s' AND seq = %lld",
		    ta.id, stream, seq) == 0, "tamper participant_tokens");
		snprintf(out, sizeof(out), "%s/m1-tokens.coffer", scratch);
		CHECK(build(m1, out, 0, &res, err, sizeof(err)) != 0 &&
		    strstr(err, ": malformed record row") != NULL &&
		    strncmp(err, "tenant ", 7) == 0, "participant_tokens: %s", err);
		CHECK(!exists(out), "participant_tokens: output exists");
		CHECK(sql("UPDATE coffer.records SET participant_tokens = "
		    "participant_tokens[1:pg_catalog.array_length("
		    "participant_tokens, 1) - 1] WHERE tenant_id = '%s' AND "
		    "stream_id = '%s' AND seq = %lld", ta.id, stream, seq) == 0 &&
		    sql("ALTER TABLE coffer.records ADD CONSTRAINT "
		    "records_participant_tokens_check CHECK "
		    "(coffer.bytea_array_ok(participant_tokens, 16))") == 0 &&
		    sql("ALTER TABLE coffer.records ENABLE ALWAYS TRIGGER "
		    "records_append_only") == 0, "restore participant_tokens");
		OK("tampered participant tokens (a 17-byte token): \"malformed "
		    "record row\"");
		CHECK(sql("ALTER TABLE coffer.records DISABLE TRIGGER "
		    "records_append_only") == 0 && sql("UPDATE coffer.records SET "
		    "ciphertext = set_byte(ciphertext, 3, get_byte(ciphertext, 3) # 1) "
		    "WHERE tenant_id = '%s' AND stream_id = '%s' AND seq = %lld", ta.id,
		    stream, seq) == 0 && sql("ALTER TABLE coffer.records ENABLE ALWAYS "
		    "TRIGGER records_append_only") == 0, "tamper");
		snprintf(out, sizeof(out), "%s/m1-tampered.coffer", scratch);
		CHECK(build(m1, out, 0, &res, err, sizeof(err)) != 0 &&
		    strstr(err, "does not decrypt") != NULL, "tampered: %s", err);
		CHECK(!exists(out), "tampered output exists");
	}
	OK("tampered record: the build stops");
}

/* -- helper mode for production.sh --------------------------------------------------- */

static const char helper_usage[] =
    "usage: itest_production --helper CMD ...\n"
    "  matter TENANT-ID REQUESTER-NAME BIK-FILE FROM TO PARTICIPANT...\n"
    "         insert a matter (state open) and print its id\n"
    "  matter-json TENANT-ID MATTER-ID   GET /v1/matters/{id} as the API answers\n"
    "  approve-store TENANT-ID MATTER-ID FINGERPRINT < BODY\n"
    "         verify a POSTed approval like the API and store it\n"
    "  build TENANT-ID MATTER-ID OUT [SPLIT]   api_production_build_ex\n"
    "  seal KEYFILE IN OUT   seal IN to the public key in KEYFILE\n"
    "  forge KEYFILE DIR OUT [APIKEY NODE]   tar DIR's production files and\n"
    "         seal them to KEYFILE's public key; with APIKEY, sign a fresh\n"
    "         statement for this container as NODE\n";

static int
h_matter(int argc, char **argv)
{
	unsigned char *bik = NULL, tok[16], mid[16];
	char err[256], midstr[UTIL_UUID_STRLEN + 1], hex[33];
	json_t *parts = json_array(), *scope;
	char *text;
	size_t blen;
	pg_params p = PG_PARAMS_INIT;
	int i;

	if (argc < 6)
		return 2;
	if (util_read_file(argv[2], 64, &bik, &blen, err, sizeof(err)) != 0 ||
	    blen != VAULT_BIK_BYTES) {
		fprintf(stderr, "bik: %s\n", err);
		return 1;
	}
	for (i = 5; i < argc; i++) {
		if (vault_participant_token(bik, argv[i], strlen(argv[i]), tok, err,
		    sizeof(err)) != 0) {
			fprintf(stderr, "participant: %s\n", err);
			return 1;
		}
		util_hex(hex, tok, 16);
		json_array_append_new(parts, json_string(hex));
	}
	scope = json_pack("{s:[],s:[],s:s,s:o,s:s}", "channels", "conversations",
	    "from", argv[3], "participants", parts, "to", argv[4]);
	text = json_dumps(scope, JSON_COMPACT | JSON_SORT_KEYS);
	util_uuid_random(mid);
	util_uuid_format(midstr, mid);
	pg_param_text(&p, argv[0]);
	pg_param_text(&p, midstr);
	pg_param_text(&p, argv[1]);
	pg_param_text(&p, text);
	pg_param_text(&p, argv[3]);
	pg_param_text(&p, argv[4]);
	if (pg_exec(db, "INSERT INTO coffer.matters (tenant_id, matter_id, title, "
	    "legal_basis, requester_user_id, scope, time_from, time_to) "
	    "SELECT $1::uuid, $2::uuid, 'Matter Ω: \"Acme v. Bob\"', "
	    "'Subpoena 2026-17 (court order)', u.user_id, $4::jsonb, "
	    "$5::timestamptz, $6::timestamptz FROM coffer.users u "
	    "WHERE u.tenant_id = $1::uuid AND u.name = $3 AND u.status = 'active'",
	    &p, err, sizeof(err)) != 0) {
		fprintf(stderr, "matter: %s\n", err);
		return 1;
	}
	if (seed_matter(midstr) != 0)
		return 1;
	printf("%s\n", midstr);
	free(text);
	json_decref(scope);
	vault_wipe(bik, blen);
	free(bik);
	return 0;
}

static int
h_matter_json(int argc, char **argv)
{
	unsigned char tid[16], mid[16];
	unsigned long long nrec = 0, nep = 0;
	char err[256], q[1024], bt[UTIL_UUID_STRLEN + 1];
	unsigned char *seed = NULL, recipient[32];
	pg_params p = PG_PARAMS_INIT;
	PGresult *r;
	json_t *out, *eps = json_array(), *aps = json_array();
	int i;

	if (argc != 2 || util_uuid_parse(tid, argv[0]) != 0 ||
	    util_uuid_parse(mid, argv[1]) != 0)
		return 2;
	if (api_production_count(db, tid, mid, &nrec, &nep, err, sizeof(err)) != 0) {
		fprintf(stderr, "count: %s\n", err);
		return 1;
	}
	pg_param_text(&p, argv[0]);
	pg_param_text(&p, argv[1]);
	r = pg_query(db, "SELECT m.title, m.legal_basis, m.state, "
	    "to_char(m.time_from AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
	    "to_char(m.time_to AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
	    "jsonb_array_length(m.scope->'participants'), t.threshold_k "
	    "FROM coffer.matters m JOIN coffer.tenants t USING (tenant_id) "
	    "WHERE m.tenant_id = $1::uuid AND m.matter_id = $2::uuid", &p, err,
	    sizeof(err));
	if (r == NULL || PQntuples(r) != 1) {
		fprintf(stderr, "matter: %s\n", r ? "not found" : err);
		PQclear(r);
		return 1;
	}
	out = json_pack("{s:s,s:s,s:s,s:s,s:s,s:{s:[],s:s,s:s,s:s,s:i,s:i},s:I,s:i}",
	    "matter_id", argv[1], "tenant_id", argv[0], "title", PQgetvalue(r, 0, 0),
	    "legal_basis", PQgetvalue(r, 0, 1), "state", PQgetvalue(r, 0, 2),
	    "scope", "channels", "from", PQgetvalue(r, 0, 3), "to",
	    PQgetvalue(r, 0, 4), "time_clock", "sent_at or received_at",
	    "participants", atoi(PQgetvalue(r, 0, 5)),
	    "conversations", 0, "record_count", (json_int_t)nrec, "threshold",
	    atoi(PQgetvalue(r, 0, 6)));
	PQclear(r);
	/* The epochs of the in-scope records, with the builder's predicate. */
	snprintf(q, sizeof(q), "SELECT e.epoch_id::text, encode(e.r_point, 'hex') "
	    "FROM coffer.epochs e WHERE e.tenant_id = '%s' AND e.epoch_id IN "
	    "(SELECT r.epoch_id FROM coffer.records r, coffer.matters m "
	    "WHERE m.tenant_id = '%s' AND m.matter_id = '%s' AND r.tenant_id = "
	    "m.tenant_id AND r.sent_at BETWEEN m.time_from AND m.time_to AND "
	    "r.participant_tokens && ARRAY(SELECT decode(x, 'hex') FROM "
	    "jsonb_array_elements_text(m.scope->'participants') x)) ORDER BY 1",
	    argv[0], argv[0], argv[1]);
	if (matter_blind(argv[1], &seed, recipient, bt) != 0)
		return 1;
	r = pg_query(db, q, NULL, err, sizeof(err));
	for (i = 0; r != NULL && i < PQntuples(r); i++) {
		unsigned char eid[16], R[32], Rb[32], bp[64];
		char rbh[65], bph[129];
		vault_release_ctx rctx;

		if (util_uuid_parse(eid, PQgetvalue(r, i, 0)) != 0 ||
		    util_unhex(R, 32, PQgetvalue(r, i, 1), 64) != 0)
			continue;
		vault_release_ctx_init(&rctx, tid, mid, eid, recipient);
		if (vault_blind_point(seed, &rctx, R, Rb, bp, err, sizeof(err)) != 0)
			continue;
		util_hex(rbh, Rb, 32);
		util_hex(bph, bp, 64);
		json_array_append_new(eps, json_pack("{s:s,s:s,s:s,s:s}", "epoch_id",
		    PQgetvalue(r, i, 0), "r", PQgetvalue(r, i, 1), "rb", rbh,
		    "bp", bph));
	}
	vault_secure_free(seed);
	PQclear(r);
	{
		char rh[65];

		util_hex(rh, recipient, 32);
		json_object_set_new(out, "recipient_key", json_string(rh));
	}
	CHECK((unsigned long long)json_array_size(eps) == nep, "epoch count");
	snprintf(q, sizeof(q), "SELECT custodian_index FROM coffer.approvals "
	    "WHERE tenant_id = '%s' AND matter_id = '%s' ORDER BY 1", argv[0],
	    argv[1]);
	r = pg_query(db, q, NULL, err, sizeof(err));
	for (i = 0; r != NULL && i < PQntuples(r); i++)
		json_array_append_new(aps, json_pack("{s:i}", "custodian_index",
		    atoi(PQgetvalue(r, i, 0))));
	PQclear(r);
	json_object_set_new(out, "epochs", eps);
	json_object_set_new(out, "approvals", aps);
	/* What the API adds for cofferctl approve's pin checks (issue 12). */
	if (api_pins_matter_json(db, argv[0], out, err, sizeof(err)) != 0) {
		fprintf(stderr, "matter keys: %s\n", err);
		json_decref(out);
		return 1;
	}
	{
		char *s = json_dumps(out, JSON_COMPACT);

		printf("%s\n", s);
		free(s);
	}
	json_decref(out);
	return 0;
}

/* What the API does with POST /v1/matters/{id}/approvals: every proof
 * verified against the custodian's public share, one per epoch. */
static int
h_approve_store(int argc, char **argv)
{
	unsigned char tid[16], mid[16];
	char err[512], q[1024], buf[1 << 16], idx[8], proof[129];
	char bt[UTIL_UUID_STRLEN + 1];
	unsigned char *seed = NULL, recipient[32];
	json_t *body, *parts, *e, *stored = json_object();
	json_error_t je;
	size_t n = 0, i;
	ssize_t got;
	PGresult *r;
	char *user, *text;
	pg_params p = PG_PARAMS_INIT;
	json_int_t index;

	if (argc != 3 || util_uuid_parse(tid, argv[0]) != 0 ||
	    util_uuid_parse(mid, argv[1]) != 0)
		return 2;
	while ((got = read(0, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)got;
	buf[n] = 0;
	body = json_loads(buf, 0, &je);
	parts = json_object_get(body, "partials");
	index = json_integer_value(json_object_get(body, "custodian_index"));
	snprintf(q, sizeof(q), "SELECT user_id::text FROM coffer.users WHERE "
	    "tenant_id = '%s' AND cert_fingerprint = '%s' AND role = 'custodian' "
	    "AND custodian_index = %lld AND status = 'active'", argv[0], argv[2],
	    (long long)index);
	if ((user = pgtest_scalar(db, q)) == NULL) {
		printf("{\"error\":{\"code\":\"forbidden\",\"message\":\"not "
		    "custodian %lld\"}}\n", (long long)index);
		return 1;
	}
	if (matter_blind(argv[1], &seed, recipient, bt) != 0)
		return 1;
	json_array_foreach(parts, i, e) {
		vault_partial vp;
		vault_release_ctx rctx;
		unsigned char eid[16], V[32], R[32], Rb[32], bp[64];
		char rbh[65], bph[129];
		const char *es = json_string_value(json_object_get(e, "epoch_id"));
		char *vh, *rh;

		memset(&vp, 0, sizeof(vp));
		vp.index = (unsigned)index;
		snprintf(q, sizeof(q), "SELECT encode(public_shares[%lld], 'hex') FROM "
		    "coffer.tenant_keys WHERE tenant_id = '%s'", (long long)index,
		    argv[0]);
		vh = pgtest_scalar(db, q);
		snprintf(q, sizeof(q), "SELECT encode(r_point, 'hex') FROM "
		    "coffer.epochs WHERE tenant_id = '%s' AND epoch_id = '%s'",
		    argv[0], es ? es : "00000000-0000-0000-0000-000000000000");
		rh = es ? pgtest_scalar(db, q) : NULL;
		if (es == NULL || util_uuid_parse(eid, es) != 0 || vh == NULL ||
		    rh == NULL || util_unhex(V, 32, vh, 64) != 0 ||
		    util_unhex(R, 32, rh, 64) != 0 ||
		    util_unhex(vp.P, 32, json_string_value(json_object_get(e, "p")),
		    64) != 0 ||
		    util_unhex(vp.proof, 32, json_string_value(json_object_get(e,
		    "c")), 64) != 0 ||
		    util_unhex(vp.proof + 32, 32, json_string_value(json_object_get(e,
		    "z")), 64) != 0 ||
		    (vault_release_ctx_init(&rctx, tid, mid, eid, recipient),
		    vault_blind_point(seed, &rctx, R, Rb, bp, err, sizeof(err))) != 0 ||
		    vault_threshold_verify(&vp, V, &rctx, Rb, err,
		    sizeof(err)) != 0) {
			printf("{\"error\":{\"code\":\"invalid_partial\",\"message\":"
			    "\"partial %zu: %s\"}}\n", i, err);
			free(vh);
			free(rh);
			return 1;
		}
		free(vh);
		free(rh);
		util_hex(proof, vp.proof, 64);
		util_hex(rbh, Rb, 32);
		util_hex(bph, bp, 64);
		json_object_set_new(stored, es, json_pack("{s:s,s:s,s:s,s:s}", "p",
		    json_string_value(json_object_get(e, "p")), "proof", proof,
		    "rb", rbh, "bp", bph));
	}
	text = json_dumps(stored, JSON_COMPACT | JSON_SORT_KEYS);
	snprintf(idx, sizeof(idx), "%lld", (long long)index);
	pg_param_text(&p, argv[0]);
	pg_param_text(&p, argv[1]);
	pg_param_text(&p, idx);
	pg_param_text(&p, user);
	pg_param_text(&p, text);
	pg_param_text(&p, bt);
	vault_secure_free(seed);
	r = pg_query(db, "INSERT INTO coffer.approvals (tenant_id, matter_id, "
	    "custodian_index, user_id, partials, blind_id) VALUES ($1::uuid, "
	    "$2::uuid, $3::integer, $4::uuid, $5::jsonb, $6::uuid) RETURNING 1",
	    &p, err, sizeof(err));
	if (r == NULL) {
		printf("{\"error\":{\"code\":\"conflict\",\"message\":\"%s\"}}\n",
		    pg_last_sqlstate_is(PG_SQLSTATE_UNIQUE_VIOLATION) ?
		    "already approved" : "database");
		return 1;
	}
	PQclear(r);
	printf("{\"custodian_index\":%lld,\"partials\":%zu}\n", (long long)index,
	    json_array_size(parts));
	free(text);
	free(user);
	json_decref(stored);
	json_decref(body);
	return 0;
}

/* CPU seconds the server process behind c has used (Linux /proc). */
static double
backend_cpu(PGconn *c)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", PQbackendPID(c));
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (p == NULL || (p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int
h_build(int argc, char **argv)
{
	unsigned char tid[16], mid[16];
	api_production_opts o;
	api_production_result res;
	progress_seen ps;
	char err[512], sha[65];
	struct timespec c0, c1, w0, w1;
	double b0, b1;

	if (argc < 3 || util_uuid_parse(tid, argv[0]) != 0 ||
	    util_uuid_parse(mid, argv[1]) != 0)
		return 2;
	memset(&o, 0, sizeof(o));
	memset(&ps, 0, sizeof(ps));
	o.blind_dir = pdir();
	/* production.sh's API node: its key file, name and the pins */
	if (getenv("COFFER_API_NODE_KEY") != NULL &&
	    api_production_load_signer(getenv("COFFER_API_NODE_KEY"), &api_sk,
	    err, sizeof(err)) != 0) {
		fprintf(stderr, "build: %s\n", err);
		return 1;
	}
	o.sign_sk = api_sk;
	o.node_name = getenv("COFFER_API_NODE_NAME");
	o.node_pins_file = getenv("COFFER_NODE_PINS");
	/* argv[3], the former RSMF split, is ignored: RSMF files are per day.
	 * COFFER_TEST_PART_BYTES: records.jsonl in parts of that size */
	if (getenv("COFFER_TEST_PART_BYTES") != NULL)
		o.records_part_bytes = strtoul(getenv("COFFER_TEST_PART_BYTES"),
		    NULL, 10);
	b0 = backend_cpu(db);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
	clock_gettime(CLOCK_MONOTONIC, &w0);
	if (api_production_build_ex(db, tid, mid, argv[2], progress_cb, &ps, &o,
	    &res, err, sizeof(err)) != 0) {
		fprintf(stderr, "build: %s\n", err);
		return 1;
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
	clock_gettime(CLOCK_MONOTONIC, &w1);
	b1 = backend_cpu(db);
	util_hex(sha, res.sealed_sha256, 32);
	printf("{\"records\":%llu,\"excluded_records\":%llu,\"epochs\":%llu,"
	    "\"rsmf_files\":%llu,\"attachments\":%llu,\"bytes\":%llu,"
	    "\"sha256\":\"%s\",\"progress_calls\":%llu,\"progress_done\":%llu,"
	    "\"wall_s\":%.3f,\"build_thread_cpu_s\":%.3f,"
	    "\"db_backend_cpu_s\":%.2f,\"records_parts\":%llu}\n",
	    res.records, res.excluded_records, res.epochs, res.rsmf_files,
	    res.attachments, res.sealed_bytes, sha, ps.calls, ps.last_done,
	    (double)(w1.tv_sec - w0.tv_sec) + (double)(w1.tv_nsec - w0.tv_nsec) / 1e9,
	    (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9,
	    b0 >= 0 && b1 >= 0 ? b1 - b0 : -1.0, res.records_parts);
	return 0;
}

static int
file_sink(void *arg, const unsigned char *d, size_t n)
{
	return fwrite(d, 1, n, arg) == n ? 0 : -1;
}

static int
h_seal(int argc, char **argv)
{
	vault_keyfile_info info;
	vault_stream_writer *w = NULL;
	membuf kf, in;
	char err[256];
	FILE *f;

	if (argc != 3 || read_whole(argv[0], &kf) != 0 ||
	    vault_keyfile_inspect(kf.p, kf.len, &info, err, sizeof(err)) != 0 ||
	    read_whole(argv[1], &in) != 0 || (f = fopen(argv[2], "wb")) == NULL)
		return 1;
	if (vault_prod_writer_new(&w, info.pk, file_sink, f, err, sizeof(err)) != 0 ||
	    vault_stream_write(w, in.p, in.len, err, sizeof(err)) != 0 ||
	    vault_stream_finish(w, err, sizeof(err)) != 0) {
		fprintf(stderr, "seal: %s\n", err);
		return 1;
	}
	vault_stream_writer_free(&w);
	fclose(f);
	free(kf.p);
	free(in.p);
	return 0;
}


/* forge KEYFILE DIR OUT [APIKEY NODE]: the attacker's packer (issue 13.3,
 * tests/integration/forged_production.sh).  Tars DIR's production files
 * (rsmf/NNN.rsmf, records.jsonl, manifest.json and, if present,
 * manifest.sig) and seals them to the public key in KEYFILE — all anyone
 * needs who knows a legal user's public key.  With APIKEY (a node key file)
 * and NODE it also writes a fresh manifest.sig for this very container, as
 * only the API key holder can: the forgeries that get past the signature
 * show that each later check holds on its own. */
typedef struct fg_file {
	char               name[300];
	membuf             data;
} fg_file;

static int
fg_add(fg_file **v, size_t *n, const char *dir, const char *name)
{
	char path[1400];
	fg_file *nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (nv == NULL)
		return -1;
	*v = nv;
	memset(&nv[*n], 0, sizeof(nv[*n]));
	snprintf(nv[*n].name, sizeof(nv[*n].name), "%s", name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (read_whole(path, &nv[*n].data) != 0)
		return -1;
	(*n)++;
	return 0;
}

static int
fg_cmp(const void *a, const void *b)
{
	return strcmp(((const fg_file *)a)->name, ((const fg_file *)b)->name);
}

typedef struct fg_out {
	vault_stream_writer *w;
	char                 err[256];
} fg_out;

static la_ssize_t
fg_write_cb(struct archive *a, void *client, const void *buf, size_t len)
{
	fg_out *o = client;

	(void)a;
	return vault_stream_write(o->w, buf, len, o->err, sizeof(o->err)) == 0 ?
	    (la_ssize_t)len : -1;
}

static int
fg_entry(struct archive *a, const char *name, const unsigned char *p,
    size_t len)
{
	struct archive_entry *e = archive_entry_new();
	int rc = 0;

	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0600);
	archive_entry_set_size(e, (la_int64_t)len);
	if (archive_write_header(a, e) != ARCHIVE_OK || (len > 0 &&
	    archive_write_data(a, p, len) != (la_ssize_t)len))
		rc = -1;
	archive_entry_free(e);
	return rc;
}

/* FORGE_PARTS="1,3,2": records.jsonl cut into as many equal parts as the
 * largest number says (or FORGE_PARTS_OF), written as records.jsonl.NNNNNN
 * in the order listed (0: the whole file as plain records.jsonl).  The statement
 * still lists the whole file. */
static int
fg_parts(struct archive *a, const membuf *d, const char *spec)
{
	unsigned long k = 0, j, ps;
	const char *p;
	char *end, name[64];

	for (p = spec; *p != '\0'; p = *end == ',' ? end + 1 : end) {
		j = strtoul(p, &end, 10);
		if (end == p)
			return -1;
		if (j > k)
			k = j;
	}
	if (getenv("FORGE_PARTS_OF") != NULL &&       /* cut into that many */
	    getenv("FORGE_PARTS_OF")[0] != '\0')
		k = strtoul(getenv("FORGE_PARTS_OF"), NULL, 10);
	ps = k > 0 ? (d->len + k - 1) / k : 0;
	for (p = spec; *p != '\0'; p = *end == ',' ? end + 1 : end) {
		size_t from, to;

		j = strtoul(p, &end, 10);
		if (j == 0) {
			if (fg_entry(a, "records.jsonl", d->p, d->len) != 0)
				return -1;
			continue;
		}
		from = (j - 1) * ps < d->len ? (j - 1) * ps : d->len;
		to = j * ps < d->len ? j * ps : d->len;
		snprintf(name, sizeof(name), "records.jsonl.%06lu", j);
		if (fg_entry(a, name, d->p + from, to - from) != 0)
			return -1;
	}
	return 0;
}

static int
h_forge(int argc, char **argv)
{
	vault_keyfile_info info;
	fg_out o;
	fg_file *files = NULL;
	size_t nf = 0, i, nrsmf;
	membuf kf;
	struct archive *a = NULL;
	char err[256], path[1400];
	unsigned char *sk = NULL, hdr[VAULT_PROD_HEADER_BYTES];
	int rc = 1, have_sig = 0;
	FILE *f = NULL;
	DIR *d;
	struct dirent *de;

	memset(&o, 0, sizeof(o));
	if ((argc != 3 && argc != 5) || read_whole(argv[0], &kf) != 0 ||
	    vault_keyfile_inspect(kf.p, kf.len, &info, err, sizeof(err)) != 0)
		return 2;
	if (argc == 5 && api_production_load_signer(argv[3], &sk, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "forge: %s\n", err);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/rsmf", argv[1]);
	if ((d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.') {
				char nm[300];

				snprintf(nm, sizeof(nm), "rsmf/%.250s", de->d_name);
				if (fg_add(&files, &nf, argv[1], nm) != 0)
					goto out;
			}
		closedir(d);
	}
	nrsmf = nf;
	qsort(files, nf, sizeof(*files), fg_cmp);
	/* issue 15.3: attachments (back under their entry names,
	 * attachments/<control>-<nn>: export open renamed them), transcripts,
	 * load file and cover sheets, when DIR has them */
	{
		static const char *const sub[] = { "attachments", "transcripts" };
		size_t si;

		for (si = 0; si < 2; si++) {
			snprintf(path, sizeof(path), "%s/%s", argv[1], sub[si]);
			if ((d = opendir(path)) == NULL)
				continue;
			while ((de = readdir(d)) != NULL) {
				char nm[300], tn[300];

				if (de->d_name[0] == '.')
					continue;
				snprintf(nm, sizeof(nm), "%s/%.250s", sub[si], de->d_name);
				if (fg_add(&files, &nf, argv[1], nm) != 0) {
					closedir(d);
					goto out;
				}
				if (si == 0 && strlen(de->d_name) > 13) {
					snprintf(tn, sizeof(tn), "attachments/%.13s", de->d_name);
					snprintf(files[nf - 1].name, sizeof(files[nf - 1].name),
					    "%s", tn);
				}
			}
			closedir(d);
		}
		static const char *const top[] = { "loadfile.csv", "cover.txt",
		    "cover.html" };
		for (si = 0; si < 3; si++) {
			snprintf(path, sizeof(path), "%s/%s", argv[1], top[si]);
			if (access(path, F_OK) == 0 &&
			    fg_add(&files, &nf, argv[1], top[si]) != 0)
				goto out;
		}
	}
	if (fg_add(&files, &nf, argv[1], "records.jsonl") != 0 ||
	    fg_add(&files, &nf, argv[1], "manifest.json") != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/manifest.sig", argv[1]);
	if (sk == NULL && access(path, F_OK) == 0) {
		if (fg_add(&files, &nf, argv[1], "manifest.sig") != 0)
			goto out;
		have_sig = 1;
	}
	(void)have_sig;
	(void)nrsmf;
	if ((f = fopen(argv[2], "wb")) == NULL ||
	    vault_prod_writer_new(&o.w, info.pk, file_sink, f, err,
	    sizeof(err)) != 0)
		goto out;
	if (sk != NULL) {
		/* the statement of this container, signed with the API key */
		unsigned char h[VAULT_HASH_BYTES], kid[VAULT_BOX_KEYID_BYTES];
		unsigned char sig[VAULT_SIG_BYTES];
		char hex[2 * VAULT_SIG_BYTES + 1], *stmt;
		vault_hasher *hs = NULL;
		json_t *st, *list = json_array();
		FILE *mf = NULL;
		json_t *mh;
		json_error_t je;
		char line[1 << 16];

		if (vault_hasher_new(&hs) != 0 ||
		    vault_prod_writer_header(o.w, hdr) != 0)
			goto out;
		for (i = 0; i < nf; i++) {
			vault_hasher_update(hs, files[i].data.p, files[i].data.len);
			vault_hasher_final(hs, h);
			util_hex(hex, h, sizeof(h));
			json_array_append_new(list, json_pack("{s:s,s:I,s:s}", "name",
			    files[i].name, "size", (json_int_t)files[i].data.len,
			    "blake2b", hex));
		}
		vault_hasher_update(hs, hdr, sizeof(hdr));
		vault_hasher_final(hs, h);
		vault_hasher_free(&hs);
		/* tenant, matter and count as the (maybe edited) manifest says */
		snprintf(path, sizeof(path), "%s/manifest.json", argv[1]);
		if ((mf = fopen(path, "r")) == NULL ||
		    fgets(line, sizeof(line), mf) == NULL) {
			if (mf != NULL)
				fclose(mf);
			goto out;
		}
		fclose(mf);
		line[strcspn(line, "\n")] = '\0';
		if (strlen(line) > 11 && strcmp(line + strlen(line) - 11,
		    "\"records\":[") == 0)
			strcpy(line + strlen(line) - 11, "\"records\":[]}");
		if ((mh = json_loads(line, 0, &je)) == NULL) {
			fprintf(stderr, "forge: manifest head: %s\n", je.text);
			goto out;
		}
		util_hex(hex, h, sizeof(h));
		vault_box_key_id(info.pk, kid);
		{
			char kh[2 * VAULT_BOX_KEYID_BYTES + 1];

			util_hex(kh, kid, sizeof(kid));
			st = json_pack("{s:s,s:s,s:O,s:O,s:s,s:s,s:O,s:o}",
			    "format", "coffer-production-statement-1", "node_name",
			    argv[4], "tenant_id", json_object_get(mh, "tenant_id"),
			    "matter_id", json_object_get(mh, "matter_id"),
			    "recipient_key_id", kh, "container_header", hex,
			    "record_count", json_object_get(mh, "record_count"),
			    "files", list);
		}
		json_decref(mh);
		stmt = st != NULL ? json_dumps(st, JSON_COMPACT |
		    JSON_PRESERVE_ORDER) : NULL;
		json_decref(st);
		if (stmt == NULL || vault_production_sign(sk,
		    (const unsigned char *)stmt, strlen(stmt), sig) != 0)
			goto out;
		util_hex(hex, sig, sizeof(sig));
		{
			fg_file *nv = realloc(files, (nf + 1) * sizeof(*files));
			size_t sl = strlen(stmt);

			if (nv == NULL)
				goto out;
			files = nv;
			memset(&files[nf], 0, sizeof(files[nf]));
			snprintf(files[nf].name, sizeof(files[nf].name), "manifest.sig");
			files[nf].data.p = malloc(sl + 2 * VAULT_SIG_BYTES + 2);
			memcpy(files[nf].data.p, stmt, sl);
			files[nf].data.p[sl] = '\n';
			memcpy(files[nf].data.p + sl + 1, hex, 2 * VAULT_SIG_BYTES);
			files[nf].data.p[sl + 1 + 2 * VAULT_SIG_BYTES] = '\n';
			files[nf].data.len = sl + 2 * VAULT_SIG_BYTES + 2;
			nf++;
		}
		free(stmt);
	}
	if ((a = archive_write_new()) == NULL ||
	    archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
	    archive_write_open2(a, &o, NULL, fg_write_cb, NULL, NULL) != ARCHIVE_OK)
		goto out;
	for (i = 0; i < nf; i++) {
		if (strcmp(files[i].name, "records.jsonl") == 0 &&
		    getenv("FORGE_PARTS") != NULL) {
			if (fg_parts(a, &files[i].data, getenv("FORGE_PARTS")) != 0)
				goto out;
			continue;
		}
		if (fg_entry(a, files[i].name, files[i].data.p,
		    files[i].data.len) != 0)
			goto out;
	}
	if (archive_write_close(a) != ARCHIVE_OK ||
	    vault_stream_finish(o.w, err, sizeof(err)) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "forge: failed%s%s\n", o.err[0] ? ": " : "", o.err);
	if (a != NULL)
		archive_write_free(a);
	vault_stream_writer_free(&o.w);
	if (f != NULL)
		fclose(f);
	for (i = 0; i < nf; i++)
		free(files[i].data.p);
	free(files);
	free(kf.p);
	vault_sign_key_free(&sk);
	return rc;
}

static int
helper(int argc, char **argv)
{
	int rc = 2;

	if ((db = pgtest_connect(NULL, NULL)) == NULL)
		return 1;
	if (argc >= 1 && strcmp(argv[0], "matter") == 0)
		rc = h_matter(argc - 1, argv + 1);
	else if (argc >= 1 && strcmp(argv[0], "matter-json") == 0)
		rc = h_matter_json(argc - 1, argv + 1);
	else if (argc >= 1 && strcmp(argv[0], "approve-store") == 0)
		rc = h_approve_store(argc - 1, argv + 1);
	else if (argc >= 1 && strcmp(argv[0], "build") == 0)
		rc = h_build(argc - 1, argv + 1);
	else if (argc >= 1 && strcmp(argv[0], "seal") == 0)
		rc = h_seal(argc - 1, argv + 1);
	else if (argc >= 1 && strcmp(argv[0], "forge") == 0)
		rc = h_forge(argc - 1, argv + 1);
	if (rc == 2)
		fputs(helper_usage, stderr);
	pg_close(&db);
	return rc;
}

int
main(int argc, char **argv)
{
	char dbname[PGTEST_DBNAME_MAX];
	const char *tmp = getenv("COFFER_TEST_TMP");
	const char *bench_n = getenv("COFFER_PROD_BENCH");

	log_init("itest_production");
	log_set_quiet(1);
	if (vault_init() != 0)
		return 1;
	api_production_init();
	if (argc >= 2 && strcmp(argv[1], "--helper") == 0)
		return helper(argc - 2, argv + 2);

	snprintf(scratch, sizeof(scratch), "%s/itest_production.XXXXXX",
	    tmp ? tmp : "/tmp");
	if (mkdtemp(scratch) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	if (pgtest_fresh_db("itest_production", dbname, &db) != 0)
		return 1;
	if (make_tenant(&ta) != 0 || make_tenant(&tb) != 0 ||
	    make_node("gw-prod") != 0 ||
	    vault_sign_keypair(api_pk, &api_sk) != 0 ||
	    vault_box_keypair(lisa_pk, &lisa_sk) != 0 ||
	    make_user(&ta, "lisa", "legal", 0, lisa_pk, lisa_id) != 0 ||
	    make_user(&ta, "lena", "legal", 0, NULL, lena_id) != 0 ||
	    make_user(&ta, "c1", "custodian", 1, NULL, cust_id[1]) != 0 ||
	    make_user(&ta, "c2", "custodian", 2, NULL, cust_id[2]) != 0 ||
	    make_user(&ta, "c3", "custodian", 3, NULL, cust_id[3]) != 0) {
		fprintf(stderr, "fixture failed\n");
		return 1;
	}
	run_tests();
	if (bench_n != NULL && atol(bench_n) > 0) {
		/* The bench tenant has its own custodians 1 and 2. */
		bench(atol(bench_n));
	}
	vault_box_key_free(&lisa_sk);
	vault_sign_key_free(&api_sk);
	vault_tenant_keys_free(&ta.keys);
	vault_tenant_keys_free(&tb.keys);
	vault_bik_free(&ta.bik);
	vault_bik_free(&tb.bik);
	pg_close(&db);
	if (failures == 0 && getenv("COFFER_PROD_KEEP") == NULL) {
		pgtest_drop_db(dbname);
		{
			char cmd[1200];

			snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch);
			if (system(cmd) != 0)
				fprintf(stderr, "could not remove %s\n", scratch);
		}
	}
	printf("itest_production: %s (%d failure%s)\n", failures ? "FAILED" : "ok",
	    failures, failures == 1 ? "" : "s");
	return failures ? 1 : 0;
}
