/* gateway/tls.c — TLS 1.3 server with device client certificates.
 *
 * Protocol: TLS 1.3 only (min = max), so every suite is AEAD with (EC)DHE:
 * forward secret by construction.  No session tickets and no session
 * cache, so there is no resumption and every connection runs the full
 * certificate check against the current CRLs.  No renegotiation (absent in
 * 1.3 anyway), no compression, no 0-RTT.  The list of acceptable CAs is not
 * sent, so an unauthenticated scanner does not learn the tenant names.
 *
 * Client certificates: SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
 * issued by a tenant CA directly (<device_ca_dir>/<tenant>/ca.pem, the only
 * trust anchors; verify depth 0, so any intermediate is refused),
 * X509_V_FLAG_CRL_CHECK with <tenant>/crl.pem, X509_V_FLAG_X509_STRICT,
 * security level 2 (no RSA/DSA key under 2048 bits, no SHA-1 or MD5
 * signature).  With
 * crl_required = 0 a missing or expired CRL is tolerated with a warning;
 * with 1 (default) such a handshake fails.  After OpenSSL's verification
 * (in the cert-verify callback, so a refusal fails the handshake itself):
 * EKU clientAuth and KU digitalSignature present, leaf not a CA, exactly
 * one subject O (tenant) and CN (device) of [A-Za-z0-9._-], the chain's
 * trust anchor is a CA loaded for *that* tenant (a tenant A CA cannot
 * mint O=B certificates), then sl_peer_check() (registered, active,
 * and the certificate's SHA-256 the one registered for the device: any
 * other certificate the tenant CA issued with that CN, including the one
 * a re-issue replaced, is unregistered_key).
 * Every refusal is logged as "handshake refused: ... reason=R
 * fingerprint=F ... detail=..." with R a stable name (metrics_refusal_name(),
 * also the metrics label) mapped from OpenSSL's error in
 * tls_refusal_of[] (common/x509.h), never OpenSSL's text alone.
 *
 * Trusts: the files under device_ca_dir (the operator's), OpenSSL's
 * verification.  Not the peer: its subject strings are checked before use
 * and pass through log_printable() on every log line.
 */
#include "gateway/tls.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "common/names.h"
#include "common/sslerr.h"
#include "common/util.h"
#include "common/x509.h"

#define TLS_NAME_MAX        128U
#define TLS_PEM_MAX         (4U * 1024U * 1024U)
#define TLS_LOG_BURST       50.0     /* refusal log lines, then 10/s */
#define TLS_LOG_RATE        10.0

typedef struct tls_tenant {
	char            name[TLS_NAME_MAX];
	STACK_OF(X509) *cas;
	char            crl_note[96];   /* "" or what is wrong with crl.pem */
	time_t          ca_not_after;   /* soonest of its CAs, 0: unknown */
	time_t          crl_next;       /* soonest nextUpdate of its signed
	                                 * CRLs, 0: none */
} tls_tenant;

typedef struct tls_gen {
	SSL_CTX    *ctx;
	tls_tenant *tenants;
	size_t      n_tenants;
	unsigned    refs;            /* connections + 1 while current */
	tls_server *srv;
} tls_gen;

struct tls_server {
	const gw_config *cfg;
	sealer_link     *ig;
	metrics         *m;
	X509            *cert;
	STACK_OF(X509)  *chain;
	EVP_PKEY        *key;
	tls_gen         *cur;
	/* refusal log lines: a client hammering us with a bad certificate
	 * must not flood the log (metrics still count every one) */
	log_limit        rlog;
	long long        crl_warned;     /* util_mono_us(), 0: never */
};

struct tls_conn {
	SSL         *ssl;
	tls_gen     *gen;
	tls_server  *srv;
	char         addr[64];
	ingest_peer  peer;
	int          have_fpr;
	int          accepted;      /* our checks passed */
	int          cert_seen;     /* the verify callback ran */
	gw_refusal   reason;
	char         detail[160];
	char         claim_tenant[TLS_NAME_MAX];
	char         claim_device[TLS_NAME_MAX];
	int          done;
};

static int tls_conn_idx = -1;

/* ------------------------------------------------------------------------ */
/* helpers                                                                  */

/* err = what ": " err, for errors that must name the option */
static void
tls_prefix(char *err, size_t err_len, const char *what)
{
	char tmp[1024];

	snprintf(tmp, sizeof(tmp), "%s", err);
	snprintf(err, err_len, "%s: %s", what, tmp);
}

static void
tls_refuse(tls_conn *c, gw_refusal r, const char *detail)
{
	if (c->reason != GW_REFUSE_COUNT)   /* first reason wins */
		return;
	c->reason = r;
	log_printable(c->detail, sizeof(c->detail), detail, strlen(detail));
}

/* A certificate fault (common/x509.h) -> the stable reason name of the
 * log line and the metrics label (metrics_refusal_name()). */
static const gw_refusal tls_refusal_of[] = {
	[X509F_OTHER]          = GW_REFUSE_BAD_CERT,
	[X509F_UNKNOWN_CA]     = GW_REFUSE_UNKNOWN_CA,
	[X509F_EXPIRED]        = GW_REFUSE_EXPIRED,
	[X509F_NOT_YET_VALID]  = GW_REFUSE_NOT_YET_VALID,
	[X509F_REVOKED]        = GW_REFUSE_REVOKED,
	[X509F_CRL]            = GW_REFUSE_CRL,
	[X509F_CRL_EXPIRED]    = GW_REFUSE_CRL_EXPIRED,
	[X509F_USAGE]          = GW_REFUSE_BAD_USAGE,
	[X509F_SELF_SIGNED]    = GW_REFUSE_SELF_SIGNED,
	[X509F_CHAIN_TOO_LONG] = GW_REFUSE_CHAIN_TOO_LONG,
	[X509F_INVALID_CA]     = GW_REFUSE_INVALID_CA,
	[X509F_WEAK_KEY]       = GW_REFUSE_WEAK_KEY,
	[X509F_WEAK_SIGNATURE] = GW_REFUSE_WEAK_SIGNATURE,
};

/* Exactly one entry of nid in the subject, of the allowed charset. */
int
tls_subject_entry(X509_NAME *name, int nid, char *out, size_t cap)
{
	X509_NAME_ENTRY *e;
	unsigned char *utf8 = NULL;
	int idx, len, ok = 0;

	out[0] = '\0';
	idx = X509_NAME_get_index_by_NID(name, nid, -1);
	if (idx < 0 || X509_NAME_get_index_by_NID(name, nid, idx) >= 0)
		return 0;
	e = X509_NAME_get_entry(name, idx);
	len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
	if (len > 0 && (size_t)len < cap && names_ok((char *)utf8, (size_t)len)) {
		memcpy(out, utf8, (size_t)len);
		out[len] = '\0';
		ok = 1;
	} else if (len > 0) {
		log_printable(out, cap < 65 ? cap : 65, (char *)utf8, (size_t)len);
	}
	OPENSSL_free(utf8);
	return ok;
}

static const tls_tenant *
tls_find_tenant(const tls_gen *g, const char *name)
{
	size_t i;

	for (i = 0; i < g->n_tenants; i++)
		if (strcmp(g->tenants[i].name, name) == 0)
			return &g->tenants[i];
	return NULL;
}

/* The tenant one of whose CAs issued cert (never a name the peer claims). */
static const tls_tenant *
tls_tenant_of_issuer(const tls_gen *g, X509 *cert)
{
	size_t i;
	int k;

	for (i = 0; cert != NULL && i < g->n_tenants; i++)
		for (k = 0; k < sk_X509_num(g->tenants[i].cas); k++)
			if (X509_check_issued(sk_X509_value(g->tenants[i].cas, k),
			    cert) == X509_V_OK)
				return &g->tenants[i];
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* verification callbacks                                                   */

static tls_conn *
tls_conn_of_store(X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs,
	    SSL_get_ex_data_X509_STORE_CTX_idx());

	return ssl != NULL ? SSL_get_ex_data(ssl, tls_conn_idx) : NULL;
}

/* Per-certificate callback: only relaxes the two CRL availability errors
 * when crl_required = 0. */
static int
tls_verify_cb(int ok, X509_STORE_CTX *xs)
{
	tls_conn *c;
	int e;

	if (ok)
		return 1;
	e = X509_STORE_CTX_get_error(xs);
	c = tls_conn_of_store(xs);
	if (c == NULL)
		return 0;
	if (!c->srv->cfg->crl_required &&
	    (e == X509_V_ERR_UNABLE_TO_GET_CRL || e == X509_V_ERR_CRL_HAS_EXPIRED)) {
		long long now = util_mono_us();

		if (c->srv->crl_warned == 0 ||
		    now - c->srv->crl_warned >= 60LL * 1000000) {
			c->srv->crl_warned = now;
			log_warn("accepting a certificate without a current CRL "
			    "(%s; crl_required = 0)", X509_verify_cert_error_string(e));
		}
		return 1;
	}
	return 0;
}

/* Refusal for a chain OpenSSL did not verify: its first error as a stable
 * reason, with a detail naming the actual defect where OpenSSL's own text
 * is vague. */
static void
tls_refuse_verify(tls_conn *c, X509_STORE_CTX *xs, X509 *leaf)
{
	int e = X509_STORE_CTX_get_error(xs);
	int depth = X509_STORE_CTX_get_error_depth(xs);
	X509 *at = X509_STORE_CTX_get_current_cert(xs);
	gw_refusal r = tls_refusal_of[x509_fault_of(xs, leaf)];
	const char *what = X509_verify_cert_error_string(e);
	const char *problem;
	const tls_tenant *t;
	char detail[160];

	snprintf(detail, sizeof(detail), "%s", what);
	switch (r) {
	case GW_REFUSE_INVALID_CA:
		if (e == X509_V_ERR_CERT_CHAIN_TOO_LONG)
			snprintf(detail, sizeof(detail), "issued by an intermediate "
			    "that is not a CA (no basicConstraints CA:TRUE)");
		break;
	case GW_REFUSE_CHAIN_TOO_LONG:
		snprintf(detail, sizeof(detail), "%s: devices are issued by "
		    "the tenant CA directly, never via an intermediate", what);
		break;
	case GW_REFUSE_BAD_USAGE:
		if (depth == 0 && (problem = x509_client_usage_problem(leaf)) != NULL)
			snprintf(detail, sizeof(detail), "%s: %s", what, problem);
		break;
	case GW_REFUSE_CRL:
	case GW_REFUSE_CRL_EXPIRED:
		t = tls_tenant_of_issuer(c->gen, at);
		if (t != NULL && t->crl_note[0] != '\0')
			snprintf(detail, sizeof(detail), "%s (%s)", what, t->crl_note);
		break;
	default:
		break;
	}
	tls_refuse(c, r, detail);
}

static int
tls_cert_verify(X509_STORE_CTX *xs, void *arg)
{
	tls_conn *c = tls_conn_of_store(xs);
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);
	STACK_OF(X509) *chain;
	const tls_tenant *t;
	X509 *top;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char why[160];
	const char *problem;
	ingest_peer_fault fault = INGEST_PEER_DEVICE;
	int i, anchored = 0, subj_ok;

	(void)arg;
	if (c == NULL || leaf == NULL)
		return 0;
	c->cert_seen = 1;
	if (X509_digest(leaf, EVP_sha256(), md, &mdlen) == 1 && mdlen == 32) {
		util_hex(c->peer.fingerprint, md, 32);
		c->have_fpr = 1;
	}
	{
		/* On failure peer.tenant/device hold only a printable claim for
		 * the log, which may itself look like a name (an over-long one
		 * cut short): the identity is what tls_subject_entry accepted. */
		X509_NAME *subj = X509_get_subject_name(leaf);
		subj_ok = tls_subject_entry(subj, NID_organizationName,
		    c->peer.tenant, sizeof(c->peer.tenant));
		snprintf(c->claim_tenant, sizeof(c->claim_tenant), "%s",
		    c->peer.tenant[0] ? c->peer.tenant : "-");
		if (!tls_subject_entry(subj, NID_commonName, c->peer.device,
		    sizeof(c->peer.device)))
			subj_ok = 0;
		snprintf(c->claim_device, sizeof(c->claim_device), "%s",
		    c->peer.device[0] ? c->peer.device : "-");
	}

	if (X509_verify_cert(xs) != 1) {
		tls_refuse_verify(c, xs, leaf);
		goto refuse;
	}

	/* usage: EKU clientAuth and KU digitalSignature must be present */
	if ((problem = x509_client_usage_problem(leaf)) != NULL) {
		tls_refuse(c, GW_REFUSE_BAD_USAGE, problem);
		goto refuse;
	}

	/* identity: one O (tenant) and one CN (device) */
	if (!subj_ok) {
		tls_refuse(c, GW_REFUSE_BAD_SUBJECT,
		    "subject needs exactly one O and one CN of [A-Za-z0-9._-]");
		goto refuse;
	}

	/* the anchor of the verified chain must be a CA of the tenant in O */
	t = tls_find_tenant(c->gen, c->peer.tenant);
	chain = X509_STORE_CTX_get0_chain(xs);
	if (t == NULL || chain == NULL || sk_X509_num(chain) < 2) {
		tls_refuse(c, GW_REFUSE_TENANT_MISMATCH,
		    "no device CA configured for the tenant in subject O");
		goto refuse;
	}
	top = sk_X509_value(chain, sk_X509_num(chain) - 1);
	for (i = 0; i < sk_X509_num(t->cas); i++)
		if (X509_cmp(top, sk_X509_value(t->cas, i)) == 0)
			anchored = 1;
	if (!anchored) {
		tls_refuse(c, GW_REFUSE_TENANT_MISMATCH,
		    "issued by another tenant's CA than the one in subject O");
		goto refuse;
	}

	/* registered and active device, and this certificate its registered
	 * one: a device is its key, not its name */
	why[0] = '\0';
	if (c->srv->ig == NULL) {
		tls_refuse(c, GW_REFUSE_DEVICE, "no device registry");
		goto refuse;
	}
	if (sl_peer_check(c->srv->ig, &c->peer, &fault, why,
	    sizeof(why)) != 0) {
		if (fault == INGEST_PEER_KEY)
			tls_refuse(c, GW_REFUSE_UNREGISTERED_KEY, why[0] ? why :
			    "not the certificate registered for this device");
		else
			tls_refuse(c, GW_REFUSE_DEVICE, why[0] ? why :
			    "device not registered or not active");
		goto refuse;
	}
	c->accepted = 1;
	return 1;
refuse:
	if (X509_STORE_CTX_get_error(xs) == X509_V_OK)
		X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
	return 0;
}

static int
tls_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char h11[] = "http/1.1";
	unsigned int i = 0;

	(void)ssl;
	(void)arg;
	while (i < inlen) {
		unsigned int l = in[i];
		if (i + 1 + l > inlen)
			break;
		if (l == 8 && memcmp(in + i + 1, h11, 8) == 0) {
			*out = in + i + 1;
			*outlen = 8;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + l;
	}
	return SSL_TLSEXT_ERR_NOACK;   /* carry on without ALPN */
}

/* ------------------------------------------------------------------------ */
/* loading                                                                  */

static int
tls_read_pem_certs(const char *path, STACK_OF(X509) **out, char *err,
    size_t err_len)
{
	unsigned char *data = NULL;
	size_t len = 0;
	BIO *bio = NULL;
	STACK_OF(X509) *sk = NULL;
	X509 *x;
	int rc = -1;

	*out = NULL;
	if (util_read_file(path, TLS_PEM_MAX, &data, &len, err, err_len) != 0)
		return -1;
	if ((bio = BIO_new_mem_buf(data, (int)len)) == NULL ||
	    (sk = sk_X509_new_null()) == NULL) {
		snprintf(err, err_len, "%s: out of memory", path);
		goto fail;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			snprintf(err, err_len, "%s: out of memory", path);
			goto fail;
		}
	}
	ERR_clear_error();          /* end of input shows up as an error */
	if (sk_X509_num(sk) == 0) {
		snprintf(err, err_len, "%s: no PEM certificate", path);
		goto fail;
	}
	*out = sk;
	sk = NULL;
	rc = 0;
fail:
	sk_X509_pop_free(sk, X509_free);
	BIO_free(bio);
	free(data);
	return rc;
}

static int
tls_load_identity(tls_server *s, char *err, size_t err_len)
{
	STACK_OF(X509) *certs = NULL;
	unsigned char *kdata = NULL;
	size_t klen = 0;
	BIO *bio = NULL;
	int rc = -1;

	if (tls_read_pem_certs(s->cfg->cert_file, &certs, err, err_len) != 0) {
		tls_prefix(err, err_len, "cert_file");
		return -1;
	}
	s->cert = sk_X509_shift(certs);
	s->chain = certs;
	certs = NULL;
	if (util_check_secret_file(s->cfg->key_file, err, err_len) != 0 ||
	    util_read_file(s->cfg->key_file, 1024 * 1024, &kdata, &klen, err,
	    err_len) != 0) {
		tls_prefix(err, err_len, "key_file");
		goto fail;
	}
	if ((bio = BIO_new_mem_buf(kdata, (int)klen)) == NULL ||
	    (s->key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL) {
		char what[GW_PATH_MAX + 64];
		snprintf(what, sizeof(what), "key_file: %s: not a PEM private key "
		    "(unencrypted)", s->cfg->key_file);
		sslerr_set(err, err_len, what, NULL);
		goto fail;
	}
	if (X509_check_private_key(s->cert, s->key) != 1) {
		snprintf(err, err_len, "key_file: %s does not match the certificate "
		    "in cert_file %s", s->cfg->key_file, s->cfg->cert_file);
		ERR_clear_error();
		goto fail;
	}
	rc = 0;
fail:
	BIO_free(bio);
	if (kdata != NULL) {
		OPENSSL_cleanse(kdata, klen);
		free(kdata);
	}
	return rc;
}

static void
tls_gen_free(tls_gen *g)
{
	size_t i;

	if (g == NULL)
		return;
	for (i = 0; i < g->n_tenants; i++)
		sk_X509_pop_free(g->tenants[i].cas, X509_free);
	free(g->tenants);
	SSL_CTX_free(g->ctx);
	free(g);
}

static void
tls_gen_unref(tls_gen *g)
{
	if (g != NULL && --g->refs == 0)
		tls_gen_free(g);
}

/* Load <dir>/<tenant>/crl.pem into the store; problems are warnings (the
 * handshake then fails closed when crl_required). */
static void
tls_load_crl(tls_server *s, X509_STORE *store, tls_tenant *t,
    const char *path)
{
	unsigned char *data = NULL;
	size_t len = 0;
	char err[512];
	BIO *bio = NULL;
	X509_CRL *crl;
	time_t when;
	int n = 0, i;
	const char *consequence = s->cfg->crl_required ?
	    "its devices are refused (crl_required = 1)" :
	    "revocation is not checked (crl_required = 0)";

	t->crl_note[0] = '\0';
	t->crl_next = 0;
	if (util_read_file(path, TLS_PEM_MAX, &data, &len, err, sizeof(err)) != 0) {
		log_warn("tenant %s: no CRL (%s); %s", t->name, err, consequence);
		snprintf(t->crl_note, sizeof(t->crl_note), "crl.pem missing or "
		    "unreadable");
		return;
	}
	bio = BIO_new_mem_buf(data, (int)len);
	while (bio != NULL &&
	    (crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL) {
		int signed_ok = 0;
		const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);

		for (i = 0; i < sk_X509_num(t->cas); i++) {
			X509 *ca = sk_X509_value(t->cas, i);
			if (X509_NAME_cmp(X509_CRL_get_issuer(crl),
			    X509_get_subject_name(ca)) == 0 &&
			    X509_CRL_verify(crl, X509_get0_pubkey(ca)) == 1)
				signed_ok = 1;
		}
		if (!signed_ok) {
			log_error("tenant %s: %s: a CRL not signed by this tenant's "
			    "CA is ignored", t->name, path);
			snprintf(t->crl_note, sizeof(t->crl_note), "crl.pem not "
			    "signed by the tenant CA, ignored");
		} else {
			if (next != NULL && X509_cmp_current_time(next) < 0) {
				log_warn("tenant %s: %s has expired (nextUpdate passed); "
				    "%s", t->name, path, consequence);
				snprintf(t->crl_note, sizeof(t->crl_note), "crl.pem past "
				    "its nextUpdate, re-sign it: cofferctl pki crl-refresh");
			}
			if (X509_STORE_add_crl(store, crl) == 1)
				n++;
			if (x509_time(next, &when) == 0 &&
			    (t->crl_next == 0 || when < t->crl_next))
				t->crl_next = when;
		}
		X509_CRL_free(crl);
	}
	ERR_clear_error();
	if (n == 0) {
		log_warn("tenant %s: %s holds no usable CRL; %s", t->name, path,
		    consequence);
		if (t->crl_note[0] == '\0')
			snprintf(t->crl_note, sizeof(t->crl_note), "crl.pem holds no "
			    "CRL");
	}
	BIO_free(bio);
	free(data);
}

/* dst = dir "/" name ["/" file]; -1 when it does not fit */
static int
tls_path(char *dst, size_t cap, const char *dir, const char *name,
    const char *file)
{
	int n = file != NULL ?
	    snprintf(dst, cap, "%s/%s/%s", dir, name, file) :
	    snprintf(dst, cap, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static int
tls_tenant_cmp(const void *a, const void *b)
{
	return strcmp(((const tls_tenant *)a)->name, ((const tls_tenant *)b)->name);
}

/* Read every tenant directory: CAs into tenants[] and the store. */
static int
tls_load_tenants(tls_server *s, tls_gen *g, X509_STORE *store, char *err,
    size_t err_len)
{
	const char *dir = s->cfg->device_ca_dir;
	DIR *d = NULL;
	struct dirent *de;
	size_t cap = 0, i, j;
	char path[GW_PATH_MAX + 2 * TLS_NAME_MAX];
	int rc = -1, k, l;

	d = opendir(dir);
	if (d == NULL) {
		snprintf(err, err_len, "device_ca_dir: %s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		tls_tenant *t;
		char e2[512];

		if (de->d_name[0] == '.')
			continue;
		if (!names_ok(de->d_name, strlen(de->d_name))) {
			char shown[80];
			log_warn("device_ca_dir: skipping '%s' (not a tenant name)",
			    log_printable(shown, sizeof(shown), de->d_name,
			    strlen(de->d_name)));
			continue;
		}
		if (tls_path(path, sizeof(path), dir, de->d_name, NULL) != 0 ||
		    stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
			continue;
		if (tls_path(path, sizeof(path), dir, de->d_name, "ca.pem") != 0 ||
		    access(path, F_OK) != 0) {
			log_warn("tenant %s: no ca.pem, skipped", de->d_name);
			continue;
		}
		if (g->n_tenants == cap) {
			size_t ncap = cap ? 2 * cap : 16;
			tls_tenant *nt = realloc(g->tenants, ncap * sizeof(*nt));
			if (nt == NULL) {
				snprintf(err, err_len, "out of memory");
				goto fail;
			}
			g->tenants = nt;
			cap = ncap;
		}
		t = &g->tenants[g->n_tenants];
		memset(t, 0, sizeof(*t));
		memcpy(t->name, de->d_name, strlen(de->d_name) + 1); /* < 128 */
		if (tls_read_pem_certs(path, &t->cas, e2, sizeof(e2)) != 0) {
			snprintf(err, err_len, "device_ca_dir: tenant %s: %s", t->name, e2);
			goto fail;
		}
		g->n_tenants++;
		for (k = 0; k < sk_X509_num(t->cas); k++) {
			X509 *ca = sk_X509_value(t->cas, k);
			time_t na;

			if (x509_time(X509_get0_notAfter(ca), &na) == 0 &&
			    (t->ca_not_after == 0 || na < t->ca_not_after))
				t->ca_not_after = na;
			if (X509_check_ca(ca) < 1) {
				snprintf(err, err_len, "tenant %s: %s holds a certificate "
				    "that is not a CA", t->name, path);
				goto fail;
			}
			if (X509_STORE_add_cert(store, ca) != 1) {
				sslerr_set(err, err_len, "adding a tenant CA", NULL);
				goto fail;
			}
		}
	}
	/* one CA must never belong to two tenants: it could mint both */
	for (i = 0; i < g->n_tenants; i++)
		for (j = i + 1; j < g->n_tenants; j++)
			for (k = 0; k < sk_X509_num(g->tenants[i].cas); k++)
				for (l = 0; l < sk_X509_num(g->tenants[j].cas); l++)
					if (X509_cmp(sk_X509_value(g->tenants[i].cas, k),
					    sk_X509_value(g->tenants[j].cas, l)) == 0) {
						snprintf(err, err_len, "tenants %s and %s share a "
						    "CA certificate; refusing to load",
						    g->tenants[i].name, g->tenants[j].name);
						goto fail;
					}
	if (g->n_tenants > 1)
		qsort(g->tenants, g->n_tenants, sizeof(*g->tenants), tls_tenant_cmp);
	for (i = 0; i < g->n_tenants; i++) {
		if (tls_path(path, sizeof(path), dir, g->tenants[i].name,
		    "crl.pem") == 0)
			tls_load_crl(s, store, &g->tenants[i], path);
	}
	if (g->n_tenants == 0)
		log_warn("device_ca_dir %s: no tenant CA found; every device will "
		    "be refused", dir);
	rc = 0;
fail:
	closedir(d);
	return rc;
}

static int
tls_gen_new(tls_server *s, tls_gen **out, char *err, size_t err_len)
{
	tls_gen *g;
	SSL_CTX *ctx;
	X509_STORE *store;
	/* CLEANSE_PLAINTEXT: records are decrypted in place in OpenSSL's read
	 * buffer, which RELEASE_BUFFERS frees after each read; without it the
	 * heap keeps request plaintext (message content) */
	const long opts = SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_CLEANSE_PLAINTEXT;

	*out = NULL;
	g = calloc(1, sizeof(*g));
	if (g == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	g->srv = s;
	g->refs = 1;
	ctx = g->ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		sslerr_set(err, err_len, "SSL_CTX_new", NULL);
		goto fail;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, "TLS_AES_256_GCM_SHA384:"
	    "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256") != 1 ||
	    SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384") != 1) {
		sslerr_set(err, err_len, "TLS protocol settings", NULL);
		goto fail;
	}
	SSL_CTX_set_security_level(ctx, 2);
	SSL_CTX_set_options(ctx, (uint64_t)opts);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_max_early_data(ctx, 0);
	/* idle connections must be cheap: give the record buffers back */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
	    SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_use_cert_and_key(ctx, s->cert, s->key, s->chain, 1) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		sslerr_set(err, err_len, "server certificate and key", NULL);
		goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
	    tls_verify_cb);
	/* devices are issued by their tenant CA directly: no intermediate CA
	 * (depth 0 = leaf and trust anchor only; more is chain_too_long) */
	SSL_CTX_set_verify_depth(ctx, 0);
	SSL_CTX_set_cert_verify_callback(ctx, tls_cert_verify, g);
	SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_select, NULL);
	SSL_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);

	store = X509_STORE_new();
	if (store == NULL) {
		sslerr_set(err, err_len, "X509_STORE_new", NULL);
		goto fail;
	}
	SSL_CTX_set_cert_store(ctx, store);     /* ctx owns the store now */
	if (tls_load_tenants(s, g, store, err, err_len) != 0)
		goto fail;
	/* X509_STRICT: RFC 5280 conformance checks on every certificate of
	 * the chain (cofferctl issues conforming ones) */
	X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_X509_STRICT);
	X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx),
	    X509_V_FLAG_CRL_CHECK | X509_V_FLAG_X509_STRICT);
	*out = g;
	return 0;
fail:
	tls_gen_free(g);
	return -1;
}

/* ------------------------------------------------------------------------ */
/* server                                                                   */

/* The expiry gauges (metrics_pki): the server certificate, and the
 * soonest tenant CA and CRL of the current generation; no tenant name. */
static void
tls_report_expiry(const tls_server *s)
{
	metrics_pki_times pt;
	size_t i;

	if (s->m == NULL)
		return;
	memset(&pt, 0, sizeof(pt));
	if (x509_time(X509_get0_notAfter(s->cert), &pt.server_not_after) != 0)
		pt.server_not_after = 0;
	for (i = 0; i < s->cur->n_tenants; i++) {
		const tls_tenant *t = &s->cur->tenants[i];

		if (t->ca_not_after != 0 && (pt.ca_not_after == 0 ||
		    t->ca_not_after < pt.ca_not_after))
			pt.ca_not_after = t->ca_not_after;
		if (t->crl_next == 0)
			pt.tenants_without_crl++;
		else if (pt.crl_next_update == 0 ||
		    t->crl_next < pt.crl_next_update)
			pt.crl_next_update = t->crl_next;
	}
	metrics_pki(s->m, &pt);
}

int
tls_server_new(tls_server **out, const gw_config *cfg, sealer_link *ig, metrics *m,
    char *err, size_t err_len)
{
	tls_server *s;

	*out = NULL;
	if (tls_conn_idx < 0) {
		tls_conn_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
		if (tls_conn_idx < 0) {
			sslerr_set(err, err_len, "SSL_get_ex_new_index", NULL);
			return -1;
		}
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	s->cfg = cfg;
	s->ig = ig;
	s->m = m;
	log_limit_init(&s->rlog, TLS_LOG_RATE, TLS_LOG_BURST,
	    "handshake refusals");
	if (tls_load_identity(s, err, err_len) != 0 ||
	    tls_gen_new(s, &s->cur, err, err_len) != 0) {
		tls_server_free(&s);
		return -1;
	}
	tls_report_expiry(s);
	*out = s;
	return 0;
}

int
tls_server_reload(tls_server *s, char *err, size_t err_len)
{
	tls_gen *g = NULL;

	if (tls_gen_new(s, &g, err, err_len) != 0) {
		if (s->m != NULL)
			metrics_reload(s->m, 0);
		return -1;
	}
	tls_gen_unref(s->cur);
	s->cur = g;
	tls_report_expiry(s);
	if (s->m != NULL)
		metrics_reload(s->m, 1);
	return 0;
}

size_t
tls_server_tenant_count(const tls_server *s)
{
	return s->cur != NULL ? s->cur->n_tenants : 0;
}

void
tls_server_free(tls_server **sp)
{
	tls_server *s;

	if (sp == NULL || *sp == NULL)
		return;
	s = *sp;
	tls_gen_unref(s->cur);
	X509_free(s->cert);
	sk_X509_pop_free(s->chain, X509_free);
	EVP_PKEY_free(s->key);
	free(s);
	*sp = NULL;
}

/* ------------------------------------------------------------------------ */
/* connections                                                              */

int
tls_conn_new(tls_conn **out, tls_server *s, int fd, const char *peer_addr)
{
	tls_conn *c;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -1;
	c->srv = s;
	c->gen = s->cur;
	c->reason = GW_REFUSE_COUNT;
	snprintf(c->addr, sizeof(c->addr), "%s", peer_addr ? peer_addr : "-");
	c->ssl = SSL_new(c->gen->ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, fd) != 1 ||
	    SSL_set_ex_data(c->ssl, tls_conn_idx, c) != 1) {
		ERR_clear_error();
		SSL_free(c->ssl);
		free(c);
		return -1;
	}
	SSL_set_accept_state(c->ssl);
	c->gen->refs++;
	*out = c;
	return 0;
}

static void
tls_log_refusal(tls_conn *c)
{
	char t[80], d[80];

	if (c->srv->m != NULL)
		metrics_handshake_fail(c->srv->m, c->reason);
	if (!log_limit_allow(&c->srv->rlog))
		return;
	if (c->have_fpr)
		log_warn("handshake refused: peer=%s reason=%s fingerprint=%s "
		    "tenant=%s device=%s detail=\"%s\"", c->addr,
		    metrics_refusal_name(c->reason), c->peer.fingerprint,
		    log_printable(t, sizeof(t), c->claim_tenant,
		    strlen(c->claim_tenant)),
		    log_printable(d, sizeof(d), c->claim_device,
		    strlen(c->claim_device)), c->detail);
	else
		log_warn("handshake refused: peer=%s reason=%s fingerprint=none "
		    "detail=\"%s\"", c->addr, metrics_refusal_name(c->reason),
		    c->detail);
}

/* Classify a failed handshake from OpenSSL's error queue. */
static void
tls_classify_failure(tls_conn *c, int sslerr)
{
	unsigned long e = ERR_peek_error();
	int reason = ERR_GET_REASON(e);
	char buf[160];

	if (c->reason != GW_REFUSE_COUNT)    /* our verify callback decided */
		return;
	if (!c->cert_seen && reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
		tls_refuse(c, GW_REFUSE_NO_CERT, "no client certificate");
		return;
	}
	switch (reason) {
	case SSL_R_UNSUPPORTED_PROTOCOL:
	case SSL_R_WRONG_VERSION_NUMBER:
	case SSL_R_VERSION_TOO_LOW:
	case SSL_R_VERSION_TOO_HIGH:
	case SSL_R_NO_SHARED_CIPHER:
	case SSL_R_NO_SUITABLE_KEY_SHARE:
	case SSL_R_NO_SHARED_GROUPS:
	case SSL_R_HTTP_REQUEST:
	case SSL_R_HTTPS_PROXY_REQUEST:
	case SSL_R_UNKNOWN_PROTOCOL:
	case SSL_R_NO_PROTOCOLS_AVAILABLE:
		snprintf(buf, sizeof(buf), "%s", ERR_reason_error_string(e) ?
		    ERR_reason_error_string(e) : "protocol mismatch");
		tls_refuse(c, GW_REFUSE_PROTOCOL, buf);
		return;
	default:
		break;
	}
	if (e != 0) {
		snprintf(buf, sizeof(buf), "%s", ERR_reason_error_string(e) ?
		    ERR_reason_error_string(e) : "TLS error");
		tls_refuse(c, GW_REFUSE_TLS, buf);
	} else if (sslerr == SSL_ERROR_SYSCALL || sslerr == SSL_ERROR_ZERO_RETURN) {
		tls_refuse(c, GW_REFUSE_TLS, "peer closed during the handshake");
	} else {
		tls_refuse(c, GW_REFUSE_TLS, "handshake failed");
	}
}

tls_io
tls_conn_handshake(tls_conn *c)
{
	int r, e;
	char t[80], d[80];

	if (c->done)
		return TLS_IO_OK;
	ERR_clear_error();
	r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		if (!c->accepted || SSL_version(c->ssl) != TLS1_3_VERSION) {
			/* cannot happen with FAIL_IF_NO_PEER_CERT; refuse anyway */
			tls_refuse(c, GW_REFUSE_BAD_CERT, "peer not verified");
			tls_log_refusal(c);
			return TLS_IO_ERROR;
		}
		c->done = 1;
		if (c->srv->m != NULL)
			metrics_handshake_ok(c->srv->m);
		log_info("device connected: peer=%s tenant=%s device=%s "
		    "fingerprint=%s", c->addr,
		    log_printable(t, sizeof(t), c->peer.tenant, strlen(c->peer.tenant)),
		    log_printable(d, sizeof(d), c->peer.device, strlen(c->peer.device)),
		    c->peer.fingerprint);
		return TLS_IO_OK;
	}
	e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ)
		return TLS_IO_WANT_READ;
	if (e == SSL_ERROR_WANT_WRITE)
		return TLS_IO_WANT_WRITE;
	tls_classify_failure(c, e);
	tls_log_refusal(c);
	ERR_clear_error();
	return TLS_IO_ERROR;
}

void
tls_conn_handshake_timeout(tls_conn *c)
{
	if (c->done)
		return;
	tls_refuse(c, GW_REFUSE_TIMEOUT, "handshake not completed in time");
	tls_log_refusal(c);
}

static tls_io
tls_io_result(tls_conn *c, int r)
{
	int e = SSL_get_error(c->ssl, r);

	switch (e) {
	case SSL_ERROR_WANT_READ:
		return TLS_IO_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return TLS_IO_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		return TLS_IO_EOF;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		return TLS_IO_EOF;
	case SSL_ERROR_SSL:
		/* OpenSSL 3 reports an EOF without close_notify here */
		if (ERR_GET_REASON(ERR_peek_error()) ==
		    SSL_R_UNEXPECTED_EOF_WHILE_READING) {
			ERR_clear_error();
			return TLS_IO_EOF;
		}
		ERR_clear_error();
		return TLS_IO_ERROR;
	default:
		ERR_clear_error();
		return TLS_IO_ERROR;
	}
}

tls_io
tls_conn_read(tls_conn *c, void *buf, size_t cap, size_t *got)
{
	int r;

	*got = 0;
	ERR_clear_error();
	r = SSL_read_ex(c->ssl, buf, cap, got);
	if (r == 1)
		return TLS_IO_OK;
	return tls_io_result(c, r);
}

tls_io
tls_conn_write(tls_conn *c, const void *buf, size_t len, size_t *put)
{
	int r;

	*put = 0;
	ERR_clear_error();
	r = SSL_write_ex(c->ssl, buf, len, put);
	if (r == 1)
		return TLS_IO_OK;
	return tls_io_result(c, r);
}

int
tls_conn_pending(const tls_conn *c)
{
	return SSL_has_pending(c->ssl);
}

void
tls_conn_shutdown(tls_conn *c)
{
	if (c == NULL || c->ssl == NULL || !c->done)
		return;
	ERR_clear_error();
	(void)SSL_shutdown(c->ssl);
	ERR_clear_error();
}

const ingest_peer *
tls_conn_peer(const tls_conn *c)
{
	return &c->peer;
}

const char *
tls_conn_addr(const tls_conn *c)
{
	return c->addr;
}

void
tls_conn_free(tls_conn **cp)
{
	tls_conn *c;

	if (cp == NULL || *cp == NULL)
		return;
	c = *cp;
	SSL_free(c->ssl);
	tls_gen_unref(c->gen);
	free(c);
	*cp = NULL;
}
