/* api/auth.c — client certificate verification and user lookup.
 *
 * Trusts: the people CA certificate and CRL files named in the
 * configuration, and the coffer.users rows.  Does not trust: anything the
 * peer sent — the chain is parsed from DER here and verified with OpenSSL
 * whatever GnuTLS thought of it (it was only asked to request a
 * certificate), and subject fields are checked against the same name rules
 * cofferctl applies when issuing, so they are safe to log.
 *
 * Hazards: a CRL that cannot be read or has expired must refuse everyone,
 * not be skipped — X509_V_FLAG_CRL_CHECK makes OpenSSL fail the chain then,
 * and a failed reload installs no store at all.  The store is swapped under
 * a mutex and reference-counted, so a verification in flight keeps the one
 * it started with.
 */
#include "api/auth.h"
#include "api/metrics.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "common/pg.h"
#include "common/util.h"
#include "common/x509.h"

#define AUTH_CHAIN_MAX     4U
#define AUTH_DER_MAX       (16U * 1024U)
#define AUTH_FILE_MAX      (4U * 1024U * 1024U)

typedef struct auth_stamp {
	int             present;
	dev_t           dev;
	ino_t           ino;
	off_t           size;
	struct timespec mtime;
} auth_stamp;

struct api_auth {
	pthread_mutex_t mu;
	X509_STORE     *store;        /* NULL: refuse everyone */
	char           *ca_file;
	char           *crl_file;
	auth_stamp      ca_stamp, crl_stamp;
	long long       checked_at;     /* util_mono_us() / 1e6 */
};

static const char *const auth_roles[] = { "admin", "legal", "custodian",
                                          "auditor" };

const char *
api_cert_status_name(api_cert_status s)
{
	switch (s) {
	case API_CERT_OK:            return "ok";
	case API_CERT_NONE:          return "no-certificate";
	case API_CERT_MALFORMED:     return "malformed";
	case API_CERT_UNTRUSTED:     return "untrusted";
	case API_CERT_EXPIRED:       return "expired";
	case API_CERT_NOT_YET_VALID: return "not-yet-valid";
	case API_CERT_REVOKED:       return "revoked";
	case API_CERT_CRL:           return "crl-unavailable";
	case API_CERT_USAGE:         return "bad-usage";
	case API_CERT_SUBJECT:       return "bad-subject";
	case API_CERT_SELF_SIGNED:   return "self-signed";
	case API_CERT_CHAIN:         return "chain-too-long";
	case API_CERT_INVALID_CA:    return "invalid-ca";
	case API_CERT_WEAK_KEY:      return "weak-key";
	case API_CERT_WEAK_SIGNATURE: return "weak-signature";
	case API_CERT_CRL_EXPIRED:   return "crl-expired";
	}
	return "unknown";
}

static void
auth_stamp_of(const char *path, auth_stamp *st)
{
	struct stat sb;

	memset(st, 0, sizeof(*st));
	if (stat(path, &sb) != 0)
		return;
	st->present = 1;
	st->dev = sb.st_dev;
	st->ino = sb.st_ino;
	st->size = sb.st_size;
	st->mtime = sb.st_mtim;
}

static int
auth_stamp_eq(const auth_stamp *a, const auth_stamp *b)
{
	return a->present == b->present && a->dev == b->dev &&
	    a->ino == b->ino && a->size == b->size &&
	    a->mtime.tv_sec == b->mtime.tv_sec &&
	    a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static BIO *
auth_bio_file(const char *path, char *err, size_t err_len)
{
	unsigned char *data = NULL;
	size_t len = 0;
	BIO *bio;
	char msg[256];

	if (util_read_file(path, AUTH_FILE_MAX, &data, &len, msg,
	    sizeof(msg)) != 0) {
		snprintf(err, err_len, "%s", msg);
		return NULL;
	}
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || BIO_write(bio, data, (int)len) != (int)len) {
		BIO_free(bio);
		free(data);
		snprintf(err, err_len, "%s: out of memory", path);
		return NULL;
	}
	free(data);
	return bio;
}

/* The soonest of *soonest and when (0: none yet). */
static void
auth_soonest(time_t *soonest, const ASN1_TIME *a)
{
	time_t t;

	if (x509_time(a, &t) == 0 && (*soonest == 0 || t < *soonest))
		*soonest = t;
}

/* A new store holding every certificate of ca_file and every CRL of
 * crl_file; the expiry gauges follow what it holds. */
static X509_STORE *
auth_load(const char *ca_file, const char *crl_file, char *err,
    size_t err_len)
{
	X509_STORE *store = NULL;
	BIO *bio = NULL;
	X509 *x;
	X509_CRL *crl;
	int n_ca = 0, n_crl = 0;
	time_t ca_na = 0, crl_next = 0;

	if ((store = X509_STORE_new()) == NULL) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	if ((bio = auth_bio_file(ca_file, err, err_len)) == NULL)
		goto fail;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(store, x) != 1) {
			X509_free(x);
			snprintf(err, err_len, "%s: cannot add certificate", ca_file);
			goto fail;
		}
		auth_soonest(&ca_na, X509_get0_notAfter(x));
		X509_free(x);
		n_ca++;
	}
	BIO_free(bio);
	bio = NULL;
	if (n_ca == 0) {
		snprintf(err, err_len, "%s: no PEM certificate", ca_file);
		goto fail;
	}
	if ((bio = auth_bio_file(crl_file, err, err_len)) == NULL)
		goto fail;
	while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_crl(store, crl) != 1) {
			X509_CRL_free(crl);
			snprintf(err, err_len, "%s: cannot add CRL", crl_file);
			goto fail;
		}
		auth_soonest(&crl_next, X509_CRL_get0_nextUpdate(crl));
		X509_CRL_free(crl);
		n_crl++;
	}
	BIO_free(bio);
	bio = NULL;
	if (n_crl == 0) {
		snprintf(err, err_len, "%s: no PEM CRL", crl_file);
		goto fail;
	}
	ERR_clear_error();
	X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_X509_STRICT);
	api_metrics_people_pki(ca_na, crl_next);
	return store;
fail:
	ERR_clear_error();
	BIO_free(bio);
	X509_STORE_free(store);
	api_metrics_people_pki(0, 0);      /* nothing loaded: no series */
	return NULL;
}

/* Install a fresh store from the files; on failure install none (fail
 * closed) and say why. */
static int
auth_reload_locked(api_auth *a, char *err, size_t err_len)
{
	X509_STORE *s;

	auth_stamp_of(a->ca_file, &a->ca_stamp);
	auth_stamp_of(a->crl_file, &a->crl_stamp);
	s = auth_load(a->ca_file, a->crl_file, err, err_len);
	X509_STORE_free(a->store);
	a->store = s;
	return s != NULL ? 0 : -1;
}

int
api_auth_new(api_auth **out, const char *ca_file, const char *crl_file,
    char *err, size_t err_len)
{
	api_auth *a;

	*out = NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	if (pthread_mutex_init(&a->mu, NULL) != 0) {
		free(a);
		snprintf(err, err_len, "mutex");
		return -1;
	}
	a->ca_file = strdup(ca_file);
	a->crl_file = strdup(crl_file);
	if (a->ca_file == NULL || a->crl_file == NULL) {
		snprintf(err, err_len, "out of memory");
		api_auth_free(&a);
		return -1;
	}
	if (auth_reload_locked(a, err, err_len) != 0) {
		api_auth_free(&a);
		return -1;
	}
	a->checked_at = util_mono_us() / 1000000;
	*out = a;
	return 0;
}

void
api_auth_free(api_auth **ap)
{
	api_auth *a;

	if (ap == NULL || (a = *ap) == NULL)
		return;
	X509_STORE_free(a->store);
	free(a->ca_file);
	free(a->crl_file);
	pthread_mutex_destroy(&a->mu);
	free(a);
	*ap = NULL;
}

int
api_auth_reload(api_auth *a, char *err, size_t err_len)
{
	int rc;

	pthread_mutex_lock(&a->mu);
	rc = auth_reload_locked(a, err, err_len);
	a->checked_at = util_mono_us() / 1000000;
	pthread_mutex_unlock(&a->mu);
	return rc;
}

/* The current store with a reference of the caller's, reloading first when
 * a file changed.  NULL: no usable store. */
static X509_STORE *
auth_store_get(api_auth *a)
{
	X509_STORE *s = NULL;
	long long now = util_mono_us() / 1000000;

	pthread_mutex_lock(&a->mu);
	if (now != a->checked_at) {
		auth_stamp ca, crl;

		a->checked_at = now;
		auth_stamp_of(a->ca_file, &ca);
		auth_stamp_of(a->crl_file, &crl);
		if (!auth_stamp_eq(&ca, &a->ca_stamp) ||
		    !auth_stamp_eq(&crl, &a->crl_stamp)) {
			char err[512];

			if (auth_reload_locked(a, err, sizeof(err)) == 0)
				log_info("people CA/CRL changed on disk: reloaded");
			else
				log_error("people CA/CRL reload failed, refusing every "
				    "client certificate until fixed: %s", err);
		}
	}
	if (a->store != NULL && X509_STORE_up_ref(a->store) == 1)
		s = a->store;
	pthread_mutex_unlock(&a->mu);
	return s;
}

/* Exactly one entry of nid, in a string type, passing the name rule (or,
 * for roles, one of the four words). */
static int
auth_subject_one(const X509_NAME *nm, int nid, int is_role, char *out,
    size_t cap)
{
	const X509_NAME_ENTRY *e;
	const ASN1_STRING *d;
	const unsigned char *p;
	int i, len, type;
	size_t k;

	out[0] = '\0';
	if ((i = X509_NAME_get_index_by_NID(nm, nid, -1)) < 0 ||
	    X509_NAME_get_index_by_NID(nm, nid, i) >= 0)
		return -1;
	if ((e = X509_NAME_get_entry(nm, i)) == NULL ||
	    (d = X509_NAME_ENTRY_get_data(e)) == NULL)
		return -1;
	type = ASN1_STRING_type(d);
	if (type != V_ASN1_UTF8STRING && type != V_ASN1_PRINTABLESTRING &&
	    type != V_ASN1_IA5STRING)
		return -1;
	len = ASN1_STRING_length(d);
	p = ASN1_STRING_get0_data(d);
	if (len <= 0 || (size_t)len >= cap ||
	    !names_ok((const char *)p, (size_t)len))
		return -1;
	if (is_role) {
		int known = 0;

		for (k = 0; k < sizeof(auth_roles) / sizeof(auth_roles[0]); k++)
			if (strlen(auth_roles[k]) == (size_t)len &&
			    memcmp(auth_roles[k], p, (size_t)len) == 0)
				known = 1;
		if (!known)
			return -1;
	}
	memcpy(out, p, (size_t)len);
	out[len] = '\0';
	return 0;
}

/* A certificate fault (common/x509.h) -> the API's status. */
static const api_cert_status auth_status_of[] = {
	[X509F_OTHER]          = API_CERT_UNTRUSTED,
	[X509F_UNKNOWN_CA]     = API_CERT_UNTRUSTED,
	[X509F_EXPIRED]        = API_CERT_EXPIRED,
	[X509F_NOT_YET_VALID]  = API_CERT_NOT_YET_VALID,
	[X509F_REVOKED]        = API_CERT_REVOKED,
	[X509F_CRL]            = API_CERT_CRL,
	[X509F_CRL_EXPIRED]    = API_CERT_CRL_EXPIRED,
	[X509F_USAGE]          = API_CERT_USAGE,
	[X509F_SELF_SIGNED]    = API_CERT_SELF_SIGNED,
	[X509F_CHAIN_TOO_LONG] = API_CERT_CHAIN,
	[X509F_INVALID_CA]     = API_CERT_INVALID_CA,
	[X509F_WEAK_KEY]       = API_CERT_WEAK_KEY,
	[X509F_WEAK_SIGNATURE] = API_CERT_WEAK_SIGNATURE,
};

void
api_auth_check(api_auth *a, const unsigned char *const *ders,
    const size_t *lens, size_t n, api_cert *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	const unsigned char *p;
	X509 *leaf = NULL;
	STACK_OF(X509) *chain = NULL;
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	const X509_NAME *subj;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (n == 0 || ders == NULL || lens == NULL) {
		out->status = API_CERT_NONE;
		return;
	}
	out->status = API_CERT_MALFORMED;
	if (n > AUTH_CHAIN_MAX || lens[0] == 0 || lens[0] > AUTH_DER_MAX ||
	    lens[0] > (size_t)INT32_MAX)
		return;
	if (EVP_Digest(ders[0], lens[0], md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		goto out;
	util_hex(out->fingerprint, md, 32);

	p = ders[0];
	leaf = d2i_X509(NULL, &p, (long)lens[0]);
	if (leaf == NULL || p != ders[0] + lens[0])
		goto out;
	/* The claimed identity first: a refusal is audited under it. */
	subj = X509_get_subject_name(leaf);
	if (subj == NULL ||
	    auth_subject_one(subj, NID_organizationName, 0, out->tenant,
	    sizeof(out->tenant)) != 0 ||
	    auth_subject_one(subj, NID_organizationalUnitName, 1, out->role,
	    sizeof(out->role)) != 0 ||
	    auth_subject_one(subj, NID_commonName, 0, out->name,
	    sizeof(out->name)) != 0) {
		char keep[API_SUBJECT_MAX];

		/* Keep the tenant claim only if it alone was well formed. */
		memcpy(keep, out->tenant, sizeof(keep));
		out->role[0] = out->name[0] = '\0';
		memcpy(out->tenant, keep, sizeof(keep));
		out->status = API_CERT_SUBJECT;
		goto out;
	}
	if ((chain = sk_X509_new_null()) == NULL)
		goto out;
	for (i = 1; i < n; i++) {
		X509 *x;

		if (lens[i] == 0 || lens[i] > AUTH_DER_MAX)
			goto out;
		p = ders[i];
		x = d2i_X509(NULL, &p, (long)lens[i]);
		if (x == NULL || p != ders[i] + lens[i] || !sk_X509_push(chain, x)) {
			X509_free(x);
			goto out;
		}
	}
	if (x509_claims_ca(leaf)) {
		out->status = API_CERT_USAGE;
		goto out;
	}
	if ((store = auth_store_get(a)) == NULL) {
		out->status = API_CERT_CRL;
		goto out;
	}
	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(ctx, store, leaf, chain) != 1 ||
	    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT) != 1) {
		out->status = API_CERT_UNTRUSTED;
		goto out;
	}
	/* security level 2 (112 bits: RSA >= 2048, no SHA-1), and no
	 * intermediate between the people CA and the leaf */
	X509_VERIFY_PARAM_set_auth_level(X509_STORE_CTX_get0_param(ctx), 2);
	X509_VERIFY_PARAM_set_depth(X509_STORE_CTX_get0_param(ctx), 0);
	if (X509_verify_cert(ctx) != 1)
		out->status = auth_status_of[x509_fault_of(ctx, leaf)];
	else if (x509_client_usage_problem(leaf) != NULL)
		out->status = API_CERT_USAGE;
	else
		out->status = API_CERT_OK;
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	sk_X509_pop_free(chain, X509_free);
	X509_free(leaf);
}

int
api_auth_tenant(PGconn *db, const char *tenant_name, int *known,
    unsigned char tenant_id[UTIL_UUID_BYTES], char *err, size_t err_len)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *r;
	int rc = -1;

	*known = 0;
	memset(tenant_id, 0, UTIL_UUID_BYTES);
	if (tenant_name == NULL || !names_ok(tenant_name,
	    strlen(tenant_name)))
		return 0;
	pg_param_text(&p, tenant_name);
	r = pg_query(db, "SELECT tenant_id::text FROM coffer.tenants "
	    "WHERE name = $1", &p, err, err_len);
	if (r == NULL)
		return -1;
	if (PQntuples(r) == 1) {
		if (util_uuid_parse(tenant_id, PQgetvalue(r, 0, 0)) != 0) {
			snprintf(err, err_len, "malformed tenant id");
			goto out;
		}
		*known = 1;
	}
	rc = 0;
out:
	PQclear(r);
	return rc;
}

int
api_auth_identify(PGconn *db, const api_cert *c, api_identity *id,
    int *tenant_known, unsigned char tenant_id[UTIL_UUID_BYTES],
    const char **reason, char *err, size_t err_len)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *r = NULL;
	int rc = -1, idx;

	memset(id, 0, sizeof(*id));
	*reason = "unknown certificate";
	*tenant_known = 0;
	memset(tenant_id, 0, UTIL_UUID_BYTES);
	if (c->status != API_CERT_OK) {
		*reason = api_cert_status_name(c->status);
		goto tenant_only;
	}
	pg_param_text(&p, c->fingerprint);
	r = pg_query(db, "SELECT u.tenant_id::text, u.user_id::text, u.name, "
	    "u.role, coalesce(u.custodian_index, 0), u.status, t.name, "
	    "u.person_id::text "
	    "FROM coffer.users u JOIN coffer.tenants t ON t.tenant_id = u.tenant_id "
	    "WHERE u.cert_fingerprint = $1", &p, err, err_len);
	if (r == NULL)
		return -1;
	if (PQntuples(r) != 1) {
		*reason = "unknown certificate";
		PQclear(r);
		goto tenant_only;
	}
	if (strcmp(PQgetvalue(r, 0, 6), c->tenant) != 0) {
		/* Audit under the tenant the certificate claims, not the row's. */
		*reason = "tenant mismatch";
		PQclear(r);
		goto tenant_only;
	}
	if (util_uuid_parse(tenant_id, PQgetvalue(r, 0, 0)) != 0) {
		snprintf(err, err_len, "malformed tenant id");
		goto out;
	}
	*tenant_known = 1;
	if (strcmp(PQgetvalue(r, 0, 5), "active") != 0) {
		*reason = "user revoked";
		rc = API_AUTH_REFUSED;
		goto out;
	}
	if (strcmp(PQgetvalue(r, 0, 3), c->role) != 0) {
		*reason = "role mismatch";
		rc = API_AUTH_REFUSED;
		goto out;
	}
	if (strcmp(PQgetvalue(r, 0, 2), c->name) != 0) {
		*reason = "name mismatch";
		rc = API_AUTH_REFUSED;
		goto out;
	}
	/* Only custodians hold an index; since migration 0014 a custodian
	 * may hold none of the current generation (0: retired, or new before
	 * a re-share completes) — every route that needs a share refuses it
	 * (409 no_current_share). */
	idx = atoi(PQgetvalue(r, 0, 4));
	if (idx < 0 || idx > 255 ||
	    (strcmp(c->role, "custodian") != 0 && idx != 0)) {
		*reason = "custodian index on another role";
		rc = API_AUTH_REFUSED;
		goto out;
	}
	memcpy(id->fingerprint, c->fingerprint, sizeof(id->fingerprint));
	memcpy(id->tenant_id, tenant_id, UTIL_UUID_BYTES);
	util_uuid_format(id->tenant_id_str, tenant_id);
	snprintf(id->tenant, sizeof(id->tenant), "%s", c->tenant);
	snprintf(id->user_id, sizeof(id->user_id), "%s", PQgetvalue(r, 0, 1));
	snprintf(id->person_id, sizeof(id->person_id), "%s", PQgetvalue(r, 0, 7));
	snprintf(id->name, sizeof(id->name), "%s", c->name);
	snprintf(id->role, sizeof(id->role), "%s", c->role);
	id->custodian_index = idx;
	*reason = NULL;
	rc = API_AUTH_OK;
out:
	PQclear(r);
	return rc;

tenant_only:
	if (api_auth_tenant(db, c->tenant, tenant_known, tenant_id, err,
	    err_len) != 0)
		return -1;
	return API_AUTH_REFUSED;
}
