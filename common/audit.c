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

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/keyfile.h"
#include "common/log.h"
#include "common/names.h"
#include "common/pg.h"
#include "common/util.h"
#include "vault/chain.h"
#include "vault/mem.h"

/* Events up to this size are encoded on the stack. */
#define AUDIT_STACK_BYTES  2048U

_Static_assert(AUDIT_HASH_BYTES == VAULT_HASH_BYTES, "hash size");
_Static_assert(VAULT_SIGN_SK_BYTES == 64, "audit_signer_set key size");

#define AUDIT_NODE_NAME_MAX NAMES_MAX

/* The process's signer (read by every API worker thread; set at start-up).
 * node_id is looked up at the first append, on the caller's connection. */
static pthread_mutex_t audit_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char          name[AUDIT_NODE_NAME_MAX + 1];
	unsigned char *sk;                        /* guarded memory */
	audit_sign_fn  fn;                        /* or another process's */
	void          *fn_ctx;
	unsigned char pk[VAULT_SIGN_PK_BYTES];
	unsigned char node_id[AUDIT_ID_BYTES];
	int           have_id;
} audit_signer;

/* Witness lines waiting for their transaction's COMMIT. */
typedef struct audit_pending {
	PGconn       *c;
	int           pid;                         /* PQbackendPID */
	uint64_t      xid;
	char          line[512];
} audit_pending;
static char           audit_witness_path[1024];
static audit_pending *audit_pend;
static size_t         audit_npend, audit_pend_cap;

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
	vault_be64_put(p, event_no);
	vault_be64_put(p + 8, (uint64_t)at_us);
	p += 16;
	for (i = 0; i < AUDIT_NFIELDS; i++) {
		if (fields[i].p == NULL) {
			*p++ = 0;
			continue;
		}
		*p++ = 1;
		vault_be32_put(p, (uint32_t)fields[i].len);
		p += 4;
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

/* -- signer ------------------------------------------------------------------- */

int
audit_signer_set(const char *node_name, const unsigned char sk[64], char *err,
    size_t err_len)
{
	unsigned char pk[VAULT_SIGN_PK_BYTES], *nsk = NULL;

	/* The node name goes into the witness line's JSON unescaped. */
	if (node_name == NULL || !names_ok(node_name, strlen(node_name)) ||
	    sk == NULL) {
		snprintf(err, err_len, "audit signer: node name missing or not "
		    "a name (1-%u of [A-Za-z0-9._-], not starting with '.' or "
		    "'-')", NAMES_MAX);
		return -1;
	}
	if (vault_sign_key_from_seed(sk, pk, &nsk) != 0) {
		snprintf(err, err_len, "audit signer: unusable key");
		return -1;
	}
	if (memcmp(pk, sk + VAULT_SIGN_SEED_BYTES, VAULT_SIGN_PK_BYTES) != 0) {
		vault_sign_key_free(&nsk);
		snprintf(err, err_len, "audit signer: the public key does not match "
		    "the seed");
		return -1;
	}
	pthread_mutex_lock(&audit_mu);
	vault_sign_key_free(&audit_signer.sk);
	audit_signer.sk = nsk;
	audit_signer.fn = NULL;
	audit_signer.fn_ctx = NULL;
	memcpy(audit_signer.pk, pk, sizeof(pk));
	snprintf(audit_signer.name, sizeof(audit_signer.name), "%s", node_name);
	audit_signer.have_id = 0;
	pthread_mutex_unlock(&audit_mu);
	return 0;
}

int
audit_signer_load(const char *node_name, const char *key_file, char *err,
    size_t err_len)
{
	unsigned char *data = NULL;
	char msg[512];
	int rc;

	if (key_file == NULL || key_file[0] == '\0') {
		snprintf(err, err_len, "audit signer: no key file");
		return -1;
	}
	if (keyfile_load(key_file, VAULT_SIGN_SK_BYTES, &data, msg,
	    sizeof(msg)) != 0) {
		snprintf(err, err_len, "audit key: %s", msg);
		return -1;
	}
	rc = audit_signer_set(node_name, data, err, err_len);
	vault_secure_free(data);
	return rc;
}

int
audit_signer_remote(const char *node_name, const unsigned char pk[32],
    audit_sign_fn fn, void *ctx, char *err, size_t err_len)
{
	if (node_name == NULL || !names_ok(node_name, strlen(node_name)) ||
	    pk == NULL || fn == NULL) {
		snprintf(err, err_len, "audit signer: node name missing or not "
		    "a name (1-%u of [A-Za-z0-9._-], not starting with '.' or "
		    "'-')", NAMES_MAX);
		return -1;
	}
	pthread_mutex_lock(&audit_mu);
	vault_sign_key_free(&audit_signer.sk);
	audit_signer.fn = fn;
	audit_signer.fn_ctx = ctx;
	memcpy(audit_signer.pk, pk, VAULT_SIGN_PK_BYTES);
	snprintf(audit_signer.name, sizeof(audit_signer.name), "%s", node_name);
	audit_signer.have_id = 0;
	pthread_mutex_unlock(&audit_mu);
	return 0;
}

int
audit_signer_present(void)
{
	int present;

	pthread_mutex_lock(&audit_mu);
	present = audit_signer.sk != NULL || audit_signer.fn != NULL;
	pthread_mutex_unlock(&audit_mu);
	return present;
}

void
audit_signer_clear(void)
{
	pthread_mutex_lock(&audit_mu);
	vault_sign_key_free(&audit_signer.sk);
	memset(&audit_signer, 0, sizeof(audit_signer));
	pthread_mutex_unlock(&audit_mu);
}

/* The signer's node row, once per process: the node must be registered
 * with this very key, or nobody could check what it signs. */
static int
audit_signer_resolve(PGconn *c, unsigned char node_id[AUDIT_ID_BYTES],
    char *name, size_t name_cap, char *err, size_t err_len)
{
	pg_params p = PG_PARAMS_INIT;
	unsigned char pk[VAULT_SIGN_PK_BYTES];
	char msg[512];
	PGresult *r;
	int have;

	pthread_mutex_lock(&audit_mu);
	if (audit_signer.sk == NULL && audit_signer.fn == NULL) {
		pthread_mutex_unlock(&audit_mu);
		snprintf(err, err_len, "audit: no audit signing key (cofferctl: "
		    "COFFER_AUDIT_KEY and COFFER_AUDIT_NODE, purge: "
		    "COFFER_PURGE_KEY and COFFER_PURGE_NODE; coffer-api: "
		    "signing_key_file and node_name): event not written");
		return -1;
	}
	have = audit_signer.have_id;
	memcpy(node_id, audit_signer.node_id, AUDIT_ID_BYTES);
	memcpy(pk, audit_signer.pk, sizeof(pk));
	snprintf(name, name_cap, "%s", audit_signer.name);
	pthread_mutex_unlock(&audit_mu);
	if (have)
		return 0;

	p.result_binary = 1;
	pg_param_text(&p, name);
	r = pg_query(c, "SELECT node_id, signing_public_key FROM coffer.nodes "
	    "WHERE name = $1", &p, msg, sizeof(msg));
	if (r == NULL) {
		snprintf(err, err_len, "audit: looking up signing node %s: %s",
		    name, msg);
		return -1;
	}
	if (PQntuples(r) != 1 || PQgetlength(r, 0, 0) != AUDIT_ID_BYTES ||
	    PQgetlength(r, 0, 1) != VAULT_SIGN_PK_BYTES ||
	    memcmp(PQgetvalue(r, 0, 1), pk, sizeof(pk)) != 0) {
		PQclear(r);
		snprintf(err, err_len, "audit: signing node %s is not registered "
		    "with this audit key (cofferctl node init)", name);
		return -1;
	}
	memcpy(node_id, PQgetvalue(r, 0, 0), AUDIT_ID_BYTES);
	PQclear(r);
	pthread_mutex_lock(&audit_mu);
	if ((audit_signer.sk != NULL || audit_signer.fn != NULL) &&
	    memcmp(audit_signer.pk, pk, sizeof(pk)) == 0) {
		memcpy(audit_signer.node_id, node_id, AUDIT_ID_BYTES);
		audit_signer.have_id = 1;
	}
	pthread_mutex_unlock(&audit_mu);
	return 0;
}

static int
audit_sign(const vault_audit_stmt *st, const unsigned char pk[32],
    unsigned char sig[VAULT_SIG_BYTES])
{
	audit_sign_fn fn = NULL;
	void *ctx = NULL;
	int rc = -1;

	pthread_mutex_lock(&audit_mu);
	/* The key may have been replaced since it was resolved. */
	if (memcmp(audit_signer.pk, pk, VAULT_SIGN_PK_BYTES) == 0) {
		if (audit_signer.sk != NULL)
			rc = vault_audit_stmt_sign(audit_signer.sk, st, sig);
		fn = audit_signer.fn;
		ctx = audit_signer.fn_ctx;
	}
	pthread_mutex_unlock(&audit_mu);
	/* outside the lock: a round trip to the keeper */
	if (rc != 0 && fn != NULL)
		rc = fn(ctx, st, sig);
	return rc;
}

_Static_assert(AUDIT_NODE_MAX >= AUDIT_NODE_NAME_MAX, "node name size");

int
audit_sign_head(PGconn *c, const unsigned char tenant_id[AUDIT_ID_BYTES],
    uint64_t event_no, const unsigned char head[AUDIT_HASH_BYTES],
    const unsigned char redactions[AUDIT_HASH_BYTES],
    char node_name[AUDIT_NODE_MAX + 1], unsigned char node_id[AUDIT_ID_BYTES],
    unsigned char sig[64], char *err, size_t err_len)
{
	unsigned char pk[VAULT_SIGN_PK_BYTES];
	vault_audit_stmt st;

	memset(sig, 0, VAULT_SIG_BYTES);
	if (audit_signer_resolve(c, node_id, node_name, AUDIT_NODE_MAX + 1, err,
	    err_len) != 0)
		return -1;
	pthread_mutex_lock(&audit_mu);
	memcpy(pk, audit_signer.pk, sizeof(pk));
	pthread_mutex_unlock(&audit_mu);
	memset(&st, 0, sizeof(st));
	memcpy(st.tenant_id, tenant_id, AUDIT_ID_BYTES);
	st.event_no = event_no;
	memcpy(st.event_hash, head, AUDIT_HASH_BYTES);
	memcpy(st.node_id, node_id, AUDIT_ID_BYTES);
	memcpy(st.redactions, redactions, AUDIT_HASH_BYTES);
	if (audit_sign(&st, pk, sig) != 0) {
		snprintf(err, err_len, "audit: cannot sign the head");
		return -1;
	}
	return 0;
}

/* -- witness ------------------------------------------------------------------ */

static void
audit_witness_write(const char *path, const char *line)
{
	size_t n = strlen(line);
	ssize_t w;
	int fd;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		log_warn("audit witness %s: %s (head not witnessed)", path,
		    strerror(errno));
		return;
	}
	/* One write(2) per line: O_APPEND keeps concurrent writers' lines
	 * whole. */
	w = write(fd, line, n);
	if (w < 0 || (size_t)w != n)
		log_warn("audit witness %s: short write (head not witnessed)",
		    path);
	else if (fdatasync(fd) != 0)
		log_warn("audit witness %s: fdatasync: %s", path, strerror(errno));
	close(fd);
}

/* Before COMMIT: keep only the lines of this very transaction.  Lines
 * left by an earlier transaction of c that ended without pg_commit or
 * pg_rollback (a raw ROLLBACK) must not be witnessed by this COMMIT. */
static void
audit_txn_precommit(PGconn *c)
{
	char msg[256];
	PGresult *r = NULL;
	uint64_t xid = 0;
	int pid = PQbackendPID(c), have = 0, known = 0;
	size_t i, k;

	pthread_mutex_lock(&audit_mu);
	for (i = 0; i < audit_npend && !have; i++)
		have = audit_pend[i].c == c;
	pthread_mutex_unlock(&audit_mu);
	if (!have)
		return;
	{
		pg_params p = PG_PARAMS_INIT;

		p.result_binary = 1;
		r = pg_query(c, "SELECT pg_catalog.txid_current_if_assigned()", &p,
		    msg, sizeof(msg));
	}
	if (r != NULL && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0) &&
	    PQgetlength(r, 0, 0) == 8) {
		xid = vault_be64_get(PQgetvalue(r, 0, 0));
		known = 1;
	}
	PQclear(r);
	pthread_mutex_lock(&audit_mu);
	for (i = k = 0; i < audit_npend; i++) {
		if (audit_pend[i].c == c && (!known || audit_pend[i].pid != pid ||
		    audit_pend[i].xid != xid))
			continue;
		audit_pend[k++] = audit_pend[i];
	}
	audit_npend = k;
	pthread_mutex_unlock(&audit_mu);
}

static void
audit_txn_end(PGconn *c, int committed)
{
	char path[sizeof(audit_witness_path)];
	char (*lines)[512] = NULL;
	size_t i, j, k, nl = 0;
	int pid;

	if (c == NULL)
		return;
	if (committed < 0) {
		audit_txn_precommit(c);
		return;
	}
	pid = PQbackendPID(c);
	pthread_mutex_lock(&audit_mu);
	snprintf(path, sizeof(path), "%s", audit_witness_path);
	for (i = 0; i < audit_npend; i++)
		if (audit_pend[i].c == c && audit_pend[i].pid == pid)
			nl++;
	if (nl > 0 && committed && path[0] != '\0')
		lines = malloc(nl * sizeof(*lines));
	for (i = j = k = 0; i < audit_npend; i++) {
		if (audit_pend[i].c == c && audit_pend[i].pid == pid) {
			if (lines != NULL)
				memcpy(lines[j++], audit_pend[i].line,
				    sizeof(lines[0]));
			continue;
		}
		audit_pend[k++] = audit_pend[i];
	}
	audit_npend = k;
	pthread_mutex_unlock(&audit_mu);
	if (nl > 0 && committed && path[0] != '\0' && lines == NULL)
		log_warn("audit witness %s: out of memory (heads not witnessed)",
		    path);
	for (i = 0; lines != NULL && i < nl; i++)
		audit_witness_write(path, lines[i]);
	free(lines);
}

int
audit_set_witness(const char *path, char *err, size_t err_len)
{
	if (path != NULL && strlen(path) >= sizeof(audit_witness_path)) {
		snprintf(err, err_len, "audit witness: path too long");
		return -1;
	}
	pthread_mutex_lock(&audit_mu);
	snprintf(audit_witness_path, sizeof(audit_witness_path), "%s",
	    path != NULL ? path : "");
	pthread_mutex_unlock(&audit_mu);
	if (path != NULL && path[0] != '\0')
		pg_set_txn_hook(audit_txn_end);
	return 0;
}

/* Queue the witness line of an event just appended in c's transaction
 * xid; drops lines of c's earlier transactions that ended without
 * pg_commit/pg_rollback (their outcome is unknown: not witnessed). */
static void
audit_witness_queue(PGconn *c, uint64_t xid, const char *line)
{
	int pid = PQbackendPID(c);
	size_t i, k = 0;

	pthread_mutex_lock(&audit_mu);
	if (audit_witness_path[0] == '\0') {
		pthread_mutex_unlock(&audit_mu);
		return;
	}
	for (i = 0; i < audit_npend; i++) {
		if (audit_pend[i].c == c && (audit_pend[i].pid != pid ||
		    audit_pend[i].xid != xid))
			continue;
		audit_pend[k++] = audit_pend[i];
	}
	audit_npend = k;
	if (audit_npend == audit_pend_cap) {
		size_t ncap = audit_pend_cap == 0 ? 16 : audit_pend_cap * 2;
		audit_pending *np = realloc(audit_pend, ncap * sizeof(*np));

		if (np == NULL) {
			pthread_mutex_unlock(&audit_mu);
			log_warn("audit witness: out of memory (head not "
			    "witnessed)");
			return;
		}
		audit_pend = np;
		audit_pend_cap = ncap;
	}
	audit_pend[audit_npend].c = c;
	audit_pend[audit_npend].pid = pid;
	audit_pend[audit_npend].xid = xid;
	snprintf(audit_pend[audit_npend].line, sizeof(audit_pend[0].line), "%s",
	    line);
	audit_npend++;
	pthread_mutex_unlock(&audit_mu);
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
	unsigned char at_be[8], node_id[AUDIT_ID_BYTES], pk[VAULT_SIGN_PK_BYTES];
	unsigned char sig[VAULT_SIG_BYTES];
	char eno[24], msg[512], node[AUDIT_NODE_NAME_MAX + 1];
	const char *detail_text = NULL;
	vault_audit_stmt st;
	uint64_t xid;
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
	/* Unsigned events are refused: verify would call them forged. */
	if (audit_signer_resolve(c, node_id, node, sizeof(node), err,
	    err_len) != 0)
		goto fail;
	pthread_mutex_lock(&audit_mu);
	memcpy(pk, audit_signer.pk, sizeof(pk));
	pthread_mutex_unlock(&audit_mu);
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
		    "pg_catalog.clock_timestamp(), $2::jsonb::text, "
		    "(SELECT pg_catalog.string_agg(x.event_no::text, ',' "
		    "  ORDER BY x.event_no) FROM coffer.audit_redactions x "
		    "  WHERE x.tenant_id = $1::uuid), pg_catalog.txid_current() "
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
	if (PQntuples(r) != 1 || PQgetlength(r, 0, 2) != 8 ||
	    PQgetlength(r, 0, 5) != 8) {
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
		event_no = vault_be64_get(PQgetvalue(r, 0, 0));
		if (event_no >= (uint64_t)INT64_MAX) {
			snprintf(err, err_len, "audit: chain tail out of range");
			goto fail;
		}
		event_no++;
		memcpy(prev, PQgetvalue(r, 0, 1), AUDIT_HASH_BYTES);
	}
	memcpy(at_be, PQgetvalue(r, 0, 2), 8);
	at_pg = (int64_t)vault_be64_get(at_be);
	if (__builtin_add_overflow(at_pg, PG_EPOCH_US, &at_us)) {
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
	memset(&st, 0, sizeof(st));
	memcpy(st.tenant_id, ev->tenant_id, AUDIT_ID_BYTES);
	st.event_no = event_no;
	memcpy(st.event_hash, hash, AUDIT_HASH_BYTES);
	memcpy(st.node_id, node_id, AUDIT_ID_BYTES);
	vault_audit_redactions_hash(PQgetisnull(r, 0, 4) ? NULL :
	    PQgetvalue(r, 0, 4), PQgetisnull(r, 0, 4) ? 0 :
	    (size_t)PQgetlength(r, 0, 4), st.redactions);
	xid = vault_be64_get(PQgetvalue(r, 0, 5));
	if (audit_sign(&st, pk, sig) != 0) {
		snprintf(err, err_len, "audit: cannot sign the event");
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
		pg_param_bin(&p, node_id, AUDIT_ID_BYTES);         /* $13 */
		pg_param_bin(&p, sig, sizeof(sig));                /* $14 */
		if (pg_exec(c, "INSERT INTO coffer.audit_events (tenant_id, "
		    "event_no, prev_hash, event_hash, at, actor, role, action, "
		    "target, outcome, request_id, detail, signer, signature) "
		    "VALUES ($1::uuid, $2::bigint, $3, $4, $5::timestamptz, $6, "
		    "$7, $8, $9, $10, $11, $12::jsonb, $13::uuid, $14)", &p, msg,
		    sizeof(msg)) != 0) {
			snprintf(err, err_len, "audit: writing the event: %s", msg);
			goto fail;
		}
	}
	{
		char line[512], tid[UTIL_UUID_STRLEN + 1];
		char hhex[2 * AUDIT_HASH_BYTES + 1], rhex[2 * AUDIT_HASH_BYTES + 1];
		char shex[2 * VAULT_SIG_BYTES + 1];

		util_uuid_format(tid, ev->tenant_id);
		util_hex(hhex, hash, AUDIT_HASH_BYTES);
		util_hex(rhex, st.redactions, AUDIT_HASH_BYTES);
		util_hex(shex, sig, sizeof(sig));
		if ((size_t)snprintf(line, sizeof(line), "{\"audit\":1,"
		    "\"tenant\":\"%s\",\"event_no\":%llu,\"head\":\"%s\","
		    "\"node\":\"%s\",\"redactions\":\"%s\",\"sig\":\"%s\"}\n",
		    tid, (unsigned long long)event_no, hhex, node, rhex, shex) <
		    sizeof(line))
			audit_witness_queue(c, xid, line);
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

/* -- reading the log ------------------------------------------------------------ */

enum {
	AUDIT_K_SINCE = 0, AUDIT_K_UNTIL, AUDIT_K_ACTION, AUDIT_K_ACTOR,
	AUDIT_K_TARGET, AUDIT_K_AFTER, AUDIT_K_LIMIT, AUDIT_K_N
};
static const char *const audit_filter_keys[AUDIT_K_N] = {
	"since", "until", "action", "actor", "target", "after", "limit"
};

_Static_assert(AUDIT_TIME_MAX >= UTIL_RFC3339_MAX, "time size");

void
audit_filter_init(audit_filter *f, uint64_t limit_max)
{
	memset(f, 0, sizeof(*f));
	f->limit_max = limit_max;
}

int
audit_filter_set(audit_filter *f, const char *key, const char *value,
    char *err, size_t err_len)
{
	char shown[40];
	size_t n;
	int k;

	for (k = 0; k < AUDIT_K_N; k++)
		if (key != NULL && strcmp(key, audit_filter_keys[k]) == 0)
			break;
	if (k == AUDIT_K_N) {
		log_printable(shown, sizeof(shown), key != NULL ? key : "",
		    key != NULL ? strlen(key) : 0);
		snprintf(err, err_len, "unknown filter '%s'", shown);
		return -1;
	}
	if (f->given & (1U << k)) {
		snprintf(err, err_len, "filter '%s' given more than once", key);
		return -1;
	}
	f->given |= 1U << k;
	n = value != NULL ? strlen(value) : 0;
	switch (k) {
	case AUDIT_K_SINCE:
	case AUDIT_K_UNTIL:
		if (value == NULL || n >= AUDIT_TIME_MAX ||
		    !util_rfc3339_ok(value)) {
			snprintf(err, err_len, "%s must be an RFC 3339 date-time "
			    "with an offset, e.g. 2026-01-31T00:00:00Z", key);
			return -1;
		}
		memcpy(k == AUDIT_K_SINCE ? f->since : f->until, value, n + 1);
		return 0;
	case AUDIT_K_ACTION: {
		size_t m = n > 0 && value[n - 1] == '*' ? n - 1 : n;

		if (value == NULL || m == 0 || m > AUDIT_WORD_MAX ||
		    strspn(value, "abcdefghijklmnopqrstuvwxyz0123456789._-") != m) {
			snprintf(err, err_len, "action must be an action name "
			    "(1-%u of [a-z0-9._-]) or a prefix ending in '*', e.g. "
			    "device.*", AUDIT_WORD_MAX);
			return -1;
		}
		memcpy(f->action, value, m);
		f->action[m] = '\0';
		f->action_prefix = m < n;
		return 0;
	}
	case AUDIT_K_ACTOR:
		if (!audit_printable(value, AUDIT_ACTOR_MAX)) {
			snprintf(err, err_len, "actor must be a certificate "
			    "fingerprint or a user name (1-%u printable characters)",
			    AUDIT_ACTOR_MAX);
			return -1;
		}
		memcpy(f->actor, value, n + 1);
		return 0;
	case AUDIT_K_TARGET:
		if (!audit_printable(value, AUDIT_TARGET_MAX)) {
			snprintf(err, err_len, "target must be 1-%u printable "
			    "characters", AUDIT_TARGET_MAX);
			return -1;
		}
		memcpy(f->target, value, n + 1);
		return 0;
	case AUDIT_K_AFTER:
		if (value == NULL || util_parse_u64(value, 0, (uint64_t)INT64_MAX,
		    &f->after) != 0) {
			snprintf(err, err_len, "after must be an event number");
			return -1;
		}
		snprintf(f->after_text, sizeof(f->after_text), "%llu",
		    (unsigned long long)f->after);
		return 0;
	default:
		if (value == NULL || f->limit_max == 0 ||
		    util_parse_u64(value, 1, f->limit_max, &f->limit) != 0) {
			snprintf(err, err_len, "limit must be 1..%llu",
			    (unsigned long long)f->limit_max);
			return -1;
		}
		return 0;
	}
}

/* Append text to sql with "$N" for the parameter just added. */
static int
audit_where_add(char *sql, size_t cap, const char *fmt, int n)
{
	size_t len = strlen(sql);
	int w = snprintf(sql + len, cap - len, fmt, n, n, n);

	return w < 0 || (size_t)w >= cap - len ? -1 : 0;
}

int
audit_filter_where(const audit_filter *f, pg_params *p, char *sql,
    size_t sql_cap)
{
	if (sql_cap == 0)
		return -1;
	if (f->since[0] != '\0') {
		pg_param_text(p, f->since);
		if (audit_where_add(sql, sql_cap, " AND a.at >= $%d::timestamptz",
		    p->n) != 0)
			return -1;
	}
	if (f->until[0] != '\0') {
		pg_param_text(p, f->until);
		if (audit_where_add(sql, sql_cap, " AND a.at < $%d::timestamptz",
		    p->n) != 0)
			return -1;
	}
	if (f->action[0] != '\0') {
		/* a prefix is compared as text, not with LIKE (its '_' would be
		 * a wildcard) */
		pg_param_text(p, f->action);
		if (audit_where_add(sql, sql_cap, f->action_prefix ?
		    " AND pg_catalog.left(a.action, pg_catalog.length($%d::text)) "
		    "= $%d::text" : " AND a.action = $%d", p->n) != 0)
			return -1;
	}
	if (f->actor[0] != '\0') {
		pg_param_text(p, f->actor);
		if (audit_where_add(sql, sql_cap, " AND (a.actor = $%d OR "
		    "a.detail->>'actor_name' = $%d OR EXISTS (SELECT 1 FROM "
		    "coffer.users u WHERE u.tenant_id = a.tenant_id AND "
		    "u.cert_fingerprint = a.actor AND u.name = $%d))", p->n) != 0)
			return -1;
	}
	if (f->target[0] != '\0') {
		pg_param_text(p, f->target);
		if (audit_where_add(sql, sql_cap, " AND a.target = $%d", p->n) != 0)
			return -1;
	}
	if (f->after > 0) {
		pg_param_text(p, f->after_text);
		if (audit_where_add(sql, sql_cap, " AND a.event_no > $%d::bigint",
		    p->n) != 0)
			return -1;
	}
	return p->overflow ? -1 : 0;
}
