/* api/keeper.c — coffer-api's key process (see keeper.h).
 *
 * Trusts nothing the front sends: each request's size is checked against
 * its type before the payload is read (keeper_expect), every inner length
 * against what is left, and a request that does not add up ends the
 * process.  Answers carry fixed texts.
 */
#include "api/keeper.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "api/blind.h"
#include "api/jobs.h"
#include "api/keys.h"
#include "api/metrics.h"
#include "api/production.h"
#include "common/audit.h"
#include "common/imsg.h"
#include "common/log.h"
#include "common/names.h"
#include "common/pg.h"
#include "common/util.h"
#include "vault/blind.h"
#include "vault/chain.h"
#include "vault/mem.h"
#include "vault/threshold.h"

#define KEEPER_ERR 512U

struct keeper {
	const api_config *cfg;
	api_keys         *keys;
	api_jobs         *jobs;
	unsigned char    *sign_sk;          /* guarded; NULL: none */
	unsigned char     sign_pk[VAULT_SIGN_PK_BYTES];
};

/* -- answers -------------------------------------------------------------- */

static int
kp_reply(int fd, uint64_t id, int32_t status, const void *a, size_t alen,
    const void *b, size_t blen)
{
	struct iovec v[3];

	v[0].iov_base = &status;
	v[0].iov_len = sizeof(status);
	v[1].iov_base = (void *)(uintptr_t)a;
	v[1].iov_len = alen;
	v[2].iov_base = (void *)(uintptr_t)b;
	v[2].iov_len = blen;
	return imsg_write(fd, IMSG_KREPLY, id, v, 3);
}

static int
kp_fail(int fd, uint64_t id, const char *text)
{
	return kp_reply(fd, id, -1, text, strlen(text), NULL, 0);
}

/* -- requests -------------------------------------------------------------- */

int
keeper_expect(uint32_t type, uint32_t len, char *err, size_t err_len)
{
	imsg_hdr h;
	size_t min, max;

	switch (type) {
	case IMSG_KTOKENS:
		min = 12 + 1;
		max = KEEPER_MSG_MAX;
		break;
	case IMSG_KSEED_NEW:
	case IMSG_KSEED_DESTROY:
		min = max = 16;
		break;
	case IMSG_KSEED_HAS:
		min = max = 32;
		break;
	case IMSG_KBLIND:
		min = KEEPER_BLIND_FIXED + 48;
		max = KEEPER_BLIND_FIXED + (size_t)KEEPER_EPOCHS_MAX * 48;
		break;
	case IMSG_KAUDIT_SIGN:
		min = max = KEEPER_AUDIT_STMT;
		break;
	case IMSG_KHEAD_SIGN:
		min = max = KEEPER_HEAD_REQ;
		break;
	case IMSG_KBUILD:
		min = max = 32;
		break;
	case IMSG_KMETRICS:
		min = max = 0;
		break;
	case IMSG_KENTERED_SEAL:
		min = KEEPER_ENTERED_FIXED + 1;
		max = KEEPER_ENTERED_FIXED + API_ENTERED_MAX;
		break;
	case IMSG_KENTERED_OPEN:
		min = KEEPER_ENTERED_FIXED + API_ENTERED_OVERHEAD + 1;
		max = KEEPER_ENTERED_FIXED + API_ENTERED_OVERHEAD + API_ENTERED_MAX;
		break;
	default:
		snprintf(err, err_len, "message of type %s (%u), not a keeper "
		    "request", imsg_name(type), (unsigned)type);
		return -1;
	}
	h.type = type;
	h.len = len;
	h.id = 0;
	return imsg_expect(&h, type, min, max, err, err_len);
}

static uint32_t
kp_u32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static int
kp_tokens(struct keeper *k, int fd, uint64_t id, const unsigned char *p,
    size_t len, char *err, size_t err_len)
{
	char tenant[NAMES_MAX + 1], why[KEEPER_ERR], msg[KEEPER_ERR];
	const unsigned char *bik;
	unsigned char *tok = NULL;
	uint32_t kind, count, tlen, vlen, i;
	size_t off;
	int rc, unavailable;

	kind = kp_u32(p);
	count = kp_u32(p + 4);
	tlen = kp_u32(p + 8);
	off = 12;
	if (kind > 1 || count < 1 || count > KEEPER_TOKENS_MAX || tlen < 1 ||
	    tlen > NAMES_MAX || tlen > len - off) {
		snprintf(err, err_len, "KTOKENS: bad kind, count or tenant");
		return -1;
	}
	memcpy(tenant, p + off, tlen);
	tenant[tlen] = '\0';
	off += tlen;
	if (!names_ok(tenant, tlen)) {
		snprintf(err, err_len, "KTOKENS: tenant is not a name");
		return -1;
	}
	/* The whole frame first: a request that does not add up is refused
	 * before any value is hashed. */
	{
		size_t o = off;

		for (i = 0; i < count; i++) {
			if (len - o < 4 || (vlen = kp_u32(p + o)) >
			    KEEPER_VALUE_MAX || vlen > len - o - 4) {
				snprintf(err, err_len, "KTOKENS: value %u overruns the "
				    "message", (unsigned)i);
				return -1;
			}
			o += 4 + vlen;
		}
		if (o != len) {
			snprintf(err, err_len, "KTOKENS: %zu bytes after the last "
			    "value", len - o);
			return -1;
		}
	}
	if ((bik = api_keys_bik(k->keys, tenant, &unavailable, msg,
	    sizeof(msg))) == NULL) {
		if (!unavailable) {
			log_error("keeper: %s", msg);
			return kp_fail(fd, id, "no usable blind-index key for the "
			    "tenant");
		}
		/* the operator's to fix: the log names the path and why, the
		 * client the file and what to do (keys_dir's place on this
		 * host is not the client's business) */
		log_warn("keeper: %s; the tenant's scopes get 503 "
		    "tenant_key_unavailable until it is installed", msg);
		snprintf(why, sizeof(why), "the tenant's key file %s.bik is missing "
		    "or unreadable in keys_dir; install it (see cofferctl tenant "
		    "init output)", tenant);
		return kp_reply(fd, id, KEEPER_KEY_UNAVAILABLE, why, strlen(why),
		    NULL, 0);
	}
	if ((tok = calloc(count, VAULT_TOKEN_BYTES)) == NULL)
		return kp_fail(fd, id, "out of memory");
	for (i = 0; i < count; i++) {
		vlen = kp_u32(p + off);
		if (kind == 1)
			rc = vault_conversation_token(bik, (const char *)p + off + 4,
			    vlen, tok + (size_t)i * VAULT_TOKEN_BYTES, why,
			    sizeof(why));
		else
			rc = vault_participant_token(bik, (const char *)p + off + 4,
			    vlen, tok + (size_t)i * VAULT_TOKEN_BYTES, why,
			    sizeof(why));
		if (rc != 0) {
			/* vault's reasons never repeat the value */
			vault_wipe(tok, (size_t)count * VAULT_TOKEN_BYTES);
			free(tok);
			return kp_reply(fd, id, 1, &i, sizeof(i), why, strlen(why));
		}
		off += 4 + vlen;
	}
	rc = kp_reply(fd, id, 0, tok, (size_t)count * VAULT_TOKEN_BYTES, NULL, 0);
	vault_wipe(tok, (size_t)count * VAULT_TOKEN_BYTES);
	free(tok);
	return rc;
}

/* The seed of matter p[0..16], generation p[16..32], into *seed (guarded;
 * vault_secure_free).  0; or 1 with the request answered here (1: no seed
 * of that generation; -1: unreadable) and *sent what kp_reply gave. */
static int
kp_seed_get(struct keeper *k, int fd, uint64_t id, const unsigned char *p,
    unsigned char **seed, int *sent)
{
	char mid[UTIL_UUID_STRLEN + 1], msg[KEEPER_ERR];
	int rc;

	util_uuid_format(mid, p);
	rc = api_blind_load(k->cfg->blind_dir, mid, p + 16, seed, msg,
	    sizeof(msg));
	if (rc == 0)
		return 0;
	if (rc < 0) {
		log_error("keeper: %s", msg);
		*sent = kp_fail(fd, id, "the matter's blinding seed is unreadable");
	} else {
		*sent = kp_reply(fd, id, 1, NULL, 0, NULL, 0);
	}
	return 1;
}

static int
kp_blind(struct keeper *k, int fd, uint64_t id, const unsigned char *p,
    size_t len, char *err, size_t err_len)
{
	char msg[KEEPER_ERR];
	unsigned char *seed = NULL, *out = NULL;
	vault_release_ctx ctx;
	uint32_t count, i;
	int rc;

	count = kp_u32(p + 96);
	if (count < 1 || count > KEEPER_EPOCHS_MAX ||
	    len != KEEPER_BLIND_FIXED + (size_t)count * 48) {
		snprintf(err, err_len, "KBLIND: %u epochs in %zu bytes",
		    (unsigned)count, len);
		return -1;
	}
	if (kp_seed_get(k, fd, id, p, &seed, &rc) != 0)
		return rc;
	if ((out = malloc((size_t)count * 96)) == NULL) {
		vault_secure_free(seed);
		return kp_fail(fd, id, "out of memory");
	}
	for (i = 0; i < count; i++) {
		const unsigned char *e = p + KEEPER_BLIND_FIXED + (size_t)i * 48;

		vault_release_ctx_init(&ctx, p + 32, p, e, p + 48);
		if (vault_blind_point(seed, &ctx, e + 16, out + (size_t)i * 96,
		    out + (size_t)i * 96 + 32, msg, sizeof(msg)) != 0) {
			vault_secure_free(seed);
			free(out);
			return kp_fail(fd, id, "an epoch's point is not usable");
		}
	}
	vault_secure_free(seed);
	rc = kp_reply(fd, id, 0, out, (size_t)count * 96, NULL, 0);
	free(out);
	return rc;
}

static int
kp_seed(struct keeper *k, int fd, uint32_t type, uint64_t id,
    const unsigned char *p)
{
	char mid[UTIL_UUID_STRLEN + 1], msg[KEEPER_ERR];
	unsigned char bid[API_BLIND_ID_BYTES], *seed = NULL;
	int rc;

	util_uuid_format(mid, p);
	switch (type) {
	case IMSG_KSEED_NEW:
		if (api_blind_create(k->cfg->blind_dir, mid, bid, &seed, msg,
		    sizeof(msg)) != 0) {
			log_error("keeper: %s", msg);
			return kp_fail(fd, id, "cannot write a blinding seed");
		}
		vault_secure_free(seed);
		return kp_reply(fd, id, 0, bid, sizeof(bid), NULL, 0);
	case IMSG_KSEED_HAS:
		rc = api_blind_load(k->cfg->blind_dir, mid, p + 16, &seed,
		    msg, sizeof(msg));
		vault_secure_free(seed);
		if (rc < 0) {
			log_error("keeper: %s", msg);
			return kp_fail(fd, id, "the matter's blinding seed is "
			    "unreadable");
		}
		return kp_reply(fd, id, rc, NULL, 0, NULL, 0);
	default:                                   /* IMSG_KSEED_DESTROY */
		api_blind_destroy(k->cfg->blind_dir, mid);
		return kp_reply(fd, id, 0, NULL, 0, NULL, 0);
	}
}

/* KENTERED_SEAL / KENTERED_OPEN: the sizes are keeper_expect's; the
 * plaintext list is wiped before its buffer goes. */
static int
kp_entered(struct keeper *k, int fd, uint32_t type, uint64_t id,
    const unsigned char *p, size_t len)
{
	char msg[KEEPER_ERR];
	unsigned char *seed = NULL, *out;
	size_t cap, olen;
	int rc;

	if (kp_seed_get(k, fd, id, p, &seed, &rc) != 0)
		return rc;
	len -= KEEPER_ENTERED_FIXED;
	cap = type == IMSG_KENTERED_SEAL ? len + API_ENTERED_OVERHEAD : len;
	if ((out = malloc(cap)) == NULL) {
		vault_secure_free(seed);
		return kp_fail(fd, id, "out of memory");
	}
	rc = api_blind_entered(type == IMSG_KENTERED_SEAL, seed, p + 32, p,
	    p + KEEPER_ENTERED_FIXED, len, out, cap, &olen, msg, sizeof(msg));
	vault_secure_free(seed);
	if (rc != 0)
		rc = type == IMSG_KENTERED_SEAL ? kp_fail(fd, id, "sealing the "
		    "participants as entered failed") : kp_reply(fd, id,
		    KEEPER_ENTERED_SHUT, NULL, 0, NULL, 0);
	else
		rc = kp_reply(fd, id, 0, out, olen, NULL, 0);
	vault_free_wiped(out, cap);
	return rc;
}

static int
kp_audit_sign(struct keeper *k, int fd, uint64_t id, const unsigned char *p)
{
	vault_audit_stmt st;
	unsigned char sig[VAULT_SIG_BYTES];

	if (k->sign_sk == NULL)
		return kp_fail(fd, id, "no signing key");
	memcpy(st.tenant_id, p, 16);
	memcpy(&st.event_no, p + 16, 8);
	memcpy(st.event_hash, p + 24, 32);
	memcpy(st.node_id, p + 56, 16);
	memcpy(st.redactions, p + 72, 32);
	if (vault_audit_stmt_sign(k->sign_sk, &st, sig) != 0)
		return kp_fail(fd, id, "signing failed");
	return kp_reply(fd, id, 0, sig, sizeof(sig), NULL, 0);
}

static int
kp_head_sign(struct keeper *k, int fd, uint64_t id, const unsigned char *p)
{
	vault_checkpoint cp;
	unsigned char sig[VAULT_SIG_BYTES];
	int64_t at;

	if (k->sign_sk == NULL)
		return kp_reply(fd, id, 1, NULL, 0, NULL, 0);
	memset(&cp, 0, sizeof(cp));
	memcpy(cp.tenant_id, p, 16);
	memcpy(&cp.batch_no, p + 16, 8);
	cp.last_seq = cp.batch_no;
	memcpy(cp.head, p + 24, 32);
	/* the keeper's clock, not the front's */
	cp.signed_at = at = util_now_us();
	if (vault_checkpoint_sign(k->sign_sk, &cp, sig) != 0)
		return kp_fail(fd, id, "signing failed");
	return kp_reply(fd, id, 0, &at, sizeof(at), sig, sizeof(sig));
}

static int
kp_build(struct keeper *k, int fd, uint64_t id, const unsigned char *p)
{
	char tid[UTIL_UUID_STRLEN + 1], mid[UTIL_UUID_STRLEN + 1];

	util_uuid_format(tid, p);
	util_uuid_format(mid, p + 16);
	if (api_jobs_submit(k->jobs, tid, mid) != 0)
		return kp_fail(fd, id, "the build queue is full");
	return kp_reply(fd, id, 0, NULL, 0, NULL, 0);
}

int
keeper_handle(struct keeper *k, int fd, uint32_t type, uint64_t id,
    const unsigned char *p, size_t len, char *err, size_t err_len)
{
	int rc;

	switch (type) {
	case IMSG_KTOKENS:
		rc = kp_tokens(k, fd, id, p, len, err, err_len);
		break;
	case IMSG_KSEED_NEW:
	case IMSG_KSEED_HAS:
	case IMSG_KSEED_DESTROY:
		rc = kp_seed(k, fd, type, id, p);
		break;
	case IMSG_KBLIND:
		rc = kp_blind(k, fd, id, p, len, err, err_len);
		break;
	case IMSG_KENTERED_SEAL:
	case IMSG_KENTERED_OPEN:
		rc = kp_entered(k, fd, type, id, p, len);
		break;
	case IMSG_KAUDIT_SIGN:
		rc = kp_audit_sign(k, fd, id, p);
		break;
	case IMSG_KHEAD_SIGN:
		rc = kp_head_sign(k, fd, id, p);
		break;
	case IMSG_KBUILD:
		rc = kp_build(k, fd, id, p);
		break;
	case IMSG_KMETRICS: {
		unsigned long long v[API_PROD_COUNT];

		api_metrics_production_get(v);
		rc = kp_reply(fd, id, 0, v, sizeof(v), NULL, 0);
		break;
	}
	default:
		snprintf(err, err_len, "unexpected %s", imsg_name(type));
		return -1;
	}
	if (rc != 0 && err[0] == '\0')
		snprintf(err, err_len, "the front is gone: %s", strerror(errno));
	return rc;
}

/* -- the process ----------------------------------------------------------- */

static int
kp_load(struct keeper *k, const api_config *cfg, char *err, size_t err_len)
{
	char msg[KEEPER_ERR];

	memset(k, 0, sizeof(*k));
	k->cfg = cfg;
	if (api_keys_new(&k->keys, cfg->keys_dir, msg, sizeof(msg)) != 0) {
		snprintf(err, err_len, "keys: %s", msg);
		return -1;
	}
	if (cfg->signing_key_file[0] == '\0' || cfg->node_name[0] == '\0') {
		snprintf(err, err_len, "signing_key_file and node_name are "
		    "required: the API signs every audit event it writes "
		    "(cofferctl node init --kind api)");
		return -1;
	}
	if (api_production_load_signer(cfg->signing_key_file, &k->sign_sk, msg,
	    sizeof(msg)) != 0) {
		snprintf(err, err_len, "signing_key_file: %s", msg);
		return -1;
	}
	memcpy(k->sign_pk, k->sign_sk + VAULT_SIGN_SEED_BYTES,
	    VAULT_SIGN_PK_BYTES);
	/* issue 13.5: every audit event this process appends is signed */
	if (audit_signer_load(cfg->node_name, cfg->signing_key_file, msg,
	    sizeof(msg)) != 0) {
		snprintf(err, err_len, "signing_key_file: %s", msg);
		return -1;
	}
	if (audit_set_witness(cfg->audit_witness_file, msg, sizeof(msg)) != 0) {
		snprintf(err, err_len, "audit_witness_file: %s", msg);
		return -1;
	}
	return 0;
}

static void
kp_unload(struct keeper *k)
{
	api_jobs_free(&k->jobs);
	api_keys_free(&k->keys);
	vault_sign_key_free(&k->sign_sk);
	audit_signer_clear();
}

int
keeper_new_bare(struct keeper **out, const api_config *cfg, char *err,
    size_t err_len)
{
	struct keeper *k;

	*out = NULL;
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	k->cfg = cfg;
	if (api_keys_new(&k->keys, cfg->keys_dir, err, err_len) != 0) {
		free(k);
		return -1;
	}
	*out = k;
	return 0;
}

void
keeper_free_bare(struct keeper **kp)
{
	if (kp == NULL || *kp == NULL)
		return;
	api_keys_free(&(*kp)->keys);
	free(*kp);
	*kp = NULL;
}

int
keeper_check(const api_config *cfg, char *err, size_t err_len)
{
	struct keeper k;
	int rc;

	rc = kp_load(&k, cfg, err, err_len);
	kp_unload(&k);
	return rc;
}

/* Load the BIK of every tenant in the database whose key file exists, so
 * the keeper needs no access to keys_dir after dropping privileges
 * (tenants added later load on first use); then destroy the seeds a crash
 * left and queue the builds a stop interrupted. */
static void
kp_start(struct keeper *k, PGconn *c)
{
	char err[KEEPER_ERR];
	PGresult *r;
	int i, loaded = 0;

	r = pg_query(c, "SELECT name FROM coffer.tenants ORDER BY name", NULL,
	    err, sizeof(err));
	if (r == NULL) {
		log_warn("keeper: preloading blind-index keys: %s", err);
	} else {
		for (i = 0; i < PQntuples(r); i++) {
			if (api_keys_bik(k->keys, PQgetvalue(r, i, 0), NULL, err,
			    sizeof(err)) != NULL)
				loaded++;
			else
				log_warn("keeper: %s", err);
		}
		PQclear(r);
		log_info("keeper: blind-index keys loaded for %d tenant(s)",
		    loaded);
	}
	if (api_jobs_resume(k->jobs, c, err, sizeof(err)) != 0)
		log_warn("keeper: resuming interrupted production builds: %s",
		    err);
}

static int
kp_serve(struct keeper *k, int fd)
{
	char err[KEEPER_ERR];
	unsigned char *p;
	imsg_hdr h;
	int rc;

	for (;;) {
		err[0] = '\0';
		rc = imsg_read_hdr(fd, &h);
		if (rc == 0)
			return 0;                    /* the front closed: stop */
		if (rc < 0) {
			snprintf(err, sizeof(err), "%s", strerror(errno));
			break;
		}
		if (keeper_expect(h.type, h.len, err, sizeof(err)) != 0)
			break;
		if ((p = malloc(h.len > 0 ? h.len : 1)) == NULL) {
			snprintf(err, sizeof(err), "out of memory for a %s",
			    imsg_name(h.type));
			break;
		}
		if (imsg_read(fd, p, h.len) != 0) {
			snprintf(err, sizeof(err), "%s cut short", imsg_name(h.type));
			free(p);
			break;
		}
		rc = keeper_handle(k, fd, h.type, h.id, p, h.len, err, sizeof(err));
		/* values to tokenise are participant identifiers */
		vault_wipe(p, h.len);
		free(p);
		if (rc != 0)
			break;
	}
	log_error("keeper: %s; exiting", err);
	return -1;
}

void
keeper_main(const api_config *cfg, int fd, const priv_target *pw,
    pid_t parent)
{
	struct keeper k;
	char err[KEEPER_ERR];
	PGconn *c;
	int rc;

	(void)prctl(PR_SET_NAME, "coffer-keeper", 0, 0, 0);
	if (kp_load(&k, cfg, err, sizeof(err)) != 0) {
		log_error("keeper: %s", err);
		kp_unload(&k);
		_exit(1);
	}
	if (api_jobs_new(&k.jobs, cfg, err, sizeof(err)) != 0) {
		log_error("keeper: jobs: %s", err);
		kp_unload(&k);
		_exit(1);
	}
	if ((c = pg_connect_app(cfg->pg_conninfo, "coffer-api-keeper", err,
	    sizeof(err))) == NULL) {
		log_warn("keeper: no database at start (%s): builds resume at the "
		    "next start", err);
	} else {
		kp_start(&k, c);
		pg_close(&c);
	}
	if (pw != NULL && priv_drop(pw, err, sizeof(err)) != 0) {
		log_error("keeper: %s", err);
		kp_unload(&k);
		_exit(1);
	}
	/* As the account (the directory is its own): the seeds live where
	 * the front cannot read (README "coffer-api: front and keeper");
	 * ones made before blind_dir existed are moved there first. */
	if (api_blind_migrate(cfg->productions_dir, cfg->blind_dir, err,
	    sizeof(err)) != 0 ||
	    api_blind_dir_init(cfg->blind_dir, err, sizeof(err)) != 0) {
		log_error("keeper: blind_dir: %s", err);
		kp_unload(&k);
		_exit(1);
	}
	/* after the drop, which clears it: die with the front */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 ||
	    getppid() != parent) {
		log_error("keeper: the front process is gone");
		_exit(1);
	}
	{
		struct iovec v = { k.sign_pk, sizeof(k.sign_pk) };

		if (imsg_write(fd, IMSG_KREADY, 0, &v, 1) != 0) {
			log_error("keeper: the front process is gone");
			_exit(1);
		}
	}
	log_info("keeper: running (pid %ld): blind-index keys, signing key, "
	    "blinding seeds and builds here; the front holds none",
	    (long)getpid());
	rc = kp_serve(&k, fd);
	/* running builds finish (api_jobs_free joins them) */
	kp_unload(&k);
	log_info("keeper: exit");
	_exit(rc == 0 ? 0 : 1);
}
