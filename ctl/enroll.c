/* ctl/enroll.c — `cofferctl device enroll-serve`: device self-enrollment
 * over server-authenticated TLS, after EST (RFC 7030):
 *
 *   GET  /.well-known/est[/<tenant>]/cacerts       the device CA (4.1)
 *   POST /.well-known/est[/<tenant>]/simpleenroll  a certificate (4.2)
 *
 * simpleenroll: HTTP Basic authentication with the device id as user name
 * and a one-time code from `cofferctl device enroll-code` as password (EST
 * 3.2.3 allows HTTP-based client authentication); the body is the device's
 * PKCS#10 CSR, base64 DER (application/pkcs10).  The CSR's signature is
 * its proof of possession; its key must be EC P-256 (the gateway's device
 * keys).  The answer is a certs-only PKCS#7, base64 DER.  The private key
 * is made on the device and never sent: the server sees only the CSR.
 *
 * The code is consumed, the device registered (or re-issued, at once) and
 * the act audited (device.enroll) in one transaction; every refusal of a
 * code — unknown, expired, used, another device's or another tenant's — is
 * audited (device.enroll_refused) in the tenant named by the URL (and in
 * the code's own tenant when that differs), answered 401 with the reason,
 * after a second's pause.
 *
 * It runs where the tenants' device CA keys are (the PKI directory of
 * cofferctl): the CA key never moves to a network-facing daemon.  One
 * thread per connection, a connection per request to the database.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "common/log.h"
#include "common/names.h"
#include "common/pg.h"
#include "common/util.h"
#include "ctl/common.h"
#include "ctl/ctl.h"
#include "ctl/pki.h"
#include "vault/mem.h"

#define EN_BODY_MAX   16384U
#define EN_ERR        512U
#define EN_PEM_MAX    (1024U * 1024U)
#define EN_PREFIX     "/.well-known/est/"
/* Database sessions at once: the cluster's connections are shared with
 * the gateway and the API, and anyone can open connections here. */
#define EN_DB_MAX     4U

static sem_t en_db_sem;

typedef struct en_srv {
	const char *tenant;          /* the one tenant served, or "ALL" */
	const char *pki;
	const char *config;
	int         days;
} en_srv;

typedef struct en_req {
	char   body[EN_BODY_MAX];
	size_t len;
	int    too_big;
} en_req;

void
ctl_enroll_code_hash(const char *code, unsigned char out[32])
{
	char norm[128];
	size_t i, n = 0;

	for (i = 0; code[i] != '\0' && n < sizeof(norm); i++) {
		char c = code[i];

		if (c == '-' || c == ' ' || c == '\t')
			continue;
		norm[n++] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
	}
	crypto_hash_sha256(out, (const unsigned char *)norm, n);
	vault_wipe(norm, sizeof(norm));
}

static enum MHD_Result
en_reply(struct MHD_Connection *c, unsigned status, const char *type,
    const char *body, int auth)
{
	struct MHD_Response *r;
	enum MHD_Result rc;

	r = MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body,
	    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "Strict-Transport-Security",
	    "max-age=63072000");
	if (strncmp(type, "application/pkcs7-mime", 22) == 0)
		MHD_add_response_header(r, "Content-Transfer-Encoding", "base64");
	if (auth)
		MHD_add_response_header(r, "WWW-Authenticate",
		    "Basic realm=\"coffer enrollment\"");
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result
en_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
	char *s;
	json_t *o = json_pack("{s:s}", "error", msg);
	enum MHD_Result rc;

	s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	rc = en_reply(c, status, "application/json", s != NULL ? s :
	    "{\"error\":\"internal error\"}", status == 401);
	free(s);
	return rc;
}

void *
ctl_enroll_csr_key(const char *body, size_t len, const char **why)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	char *clean = NULL;
	X509_REQ *req = NULL;
	EVP_PKEY *k = NULL, *out = NULL;
	size_t i, n = 0;
	int dlen;
	char curve[32];

	*why = "the body is not a base64 PKCS#10 CSR";
	if (len == 0 || (clean = malloc(len + 1)) == NULL ||
	    (der = malloc(len)) == NULL)
		goto out;
	for (i = 0; i < len; i++)
		if (body[i] != '\r' && body[i] != '\n' && body[i] != ' ')
			clean[n++] = body[i];
	if (n == 0 || n % 4 != 0)
		goto out;
	if ((dlen = EVP_DecodeBlock(der, (const unsigned char *)clean,
	    (int)n)) <= 0)
		goto out;
	/* EVP_DecodeBlock counts padding as zero bytes */
	if (clean[n - 1] == '=')
		dlen--;
	if (clean[n - 2] == '=')
		dlen--;
	p = der;
	if ((req = d2i_X509_REQ(NULL, &p, dlen)) == NULL ||
	    p != der + dlen)
		goto out;
	*why = "the CSR's signature does not verify (no proof of possession)";
	if ((k = X509_REQ_get_pubkey(req)) == NULL ||
	    X509_REQ_verify(req, k) != 1)
		goto out;
	*why = "the CSR's key must be EC P-256";
	if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC ||
	    EVP_PKEY_get_utf8_string_param(k, "group", curve, sizeof(curve),
	    NULL) != 1 || strcmp(curve, "prime256v1") != 0)
		goto out;
	out = k;
	k = NULL;
	*why = NULL;
out:
	EVP_PKEY_free(k);
	X509_REQ_free(req);
	free(der);
	free(clean);
	return out;
}

/* Audit a refusal in its own transaction (tid may be NULL: none). */
static void
en_refused_audit(PGconn *db, const char *tid, const char *device,
    const char *reason)
{
	char err[EN_ERR], target[PKI_NAME_MAX + 8];
	json_t *d;

	if (tid == NULL || tid[0] == '\0')
		return;
	snprintf(target, sizeof(target), "device:%s", device);
	d = json_pack("{s:s, s:s, s:s}", "device", device, "reason", reason,
	    "via", "enroll-serve");
	if (d == NULL)
		return;
	if (pg_begin(db, err, sizeof(err)) != 0 ||
	    ctl_admin_audit(db, tid, "device.enroll_refused", target, "refused",
	    d, err, sizeof(err)) != 0 || pg_commit(db, err, sizeof(err)) != 0) {
		fprintf(stderr, "enroll: refusal not audited: %s\n", err);
		if (PQtransactionStatus(db) != PQTRANS_IDLE)
			(void)pg_rollback(db);
	}
	json_decref(d);
}

static enum MHD_Result
en_enroll(const en_srv *s, struct MHD_Connection *c, const char *tenant,
    const en_req *q)
{
	char tid[UTIL_UUID_STRLEN + 1], err[EN_ERR], shown[PKI_NAME_MAX + 1];
	char code_tid[UTIL_UUID_STRLEN + 1] = "";
	unsigned char h[32];
	const char *why = NULL, *refuse = NULL;
	char *user = NULL, *pass = NULL, *p7 = NULL;
	pg_params p = PG_PARAMS_INIT, p2 = PG_PARAMS_INIT;
	EVP_PKEY *pub = NULL;
	PGconn *db = NULL;
	PGresult *r = NULL;
	pki_issued *is = NULL;
	pki_ca *ca = NULL;
	enum MHD_Result rc;
	int held = 0;

	/* Everything that needs no database first; then a bounded number of
	 * sessions, none held through a refusal's pause. */
	user = MHD_basic_auth_get_username_password(c, &pass);
	if (user == NULL || pass == NULL || pass[0] == '\0') {
		rc = en_error(c, 401, "HTTP Basic authentication with the device "
		    "id and its enrollment code is required");
		goto out;
	}
	if (names_check("device id", user, err, sizeof(err)) != 0) {
		rc = en_error(c, 400, "the user name is not a valid device id");
		goto out;
	}
	if (q->too_big) {
		rc = en_error(c, 413, "the CSR is too large");
		goto out;
	}
	if ((pub = ctl_enroll_csr_key(q->body, q->len, &why)) == NULL) {
		rc = en_error(c, 400, why);
		goto out;
	}
	while (sem_wait(&en_db_sem) != 0)
		;                        /* EINTR */
	held = 1;
	if ((db = ctl_connect(s->config)) == NULL) {
		rc = en_error(c, 503, "database unavailable");
		goto out;
	}
	if (ctl_pki_tenant(db, tenant, tid, NULL, err, sizeof(err)) != 0) {
		rc = en_error(c, 404, "unknown tenant");
		goto out;
	}
	ctl_enroll_code_hash(pass, h);
	pg_param_bin(&p, h, sizeof(h));
	if (pg_begin(db, err, sizeof(err)) != 0) {
		rc = en_error(c, 503, "database unavailable");
		goto out;
	}
	r = pg_query(db, "SELECT tenant_id::text, device_id, used_at IS NOT NULL, "
	    "expires_at <= now() FROM coffer.enroll_codes WHERE code_hash = $1 "
	    "FOR UPDATE", &p, err, sizeof(err));
	if (r == NULL) {
		rc = en_error(c, 503, "database unavailable");
		goto out;
	}
	if (PQntuples(r) != 1)
		refuse = "unknown enrollment code";
	else {
		snprintf(code_tid, sizeof(code_tid), "%s", PQgetvalue(r, 0, 0));
		if (strcmp(code_tid, tid) != 0)
			refuse = "the enrollment code belongs to another tenant";
		else if (strcmp(PQgetvalue(r, 0, 1), user) != 0)
			refuse = "the enrollment code belongs to another device";
		else if (PQgetvalue(r, 0, 2)[0] == 't')
			refuse = "the enrollment code was already used";
		else if (PQgetvalue(r, 0, 3)[0] == 't')
			refuse = "the enrollment code has expired";
	}
	PQclear(r);
	r = NULL;
	if (refuse != NULL) {
		(void)pg_rollback(db);
		/* A code that exists was given to someone: its misuse is
		 * audited.  An unknown one is not (logged only): anyone on the
		 * network could otherwise write the tenant's audit log. */
		if (code_tid[0] != '\0')
			en_refused_audit(db, tid, user, refuse);
		if (code_tid[0] != '\0' && strcmp(code_tid, tid) != 0)
			en_refused_audit(db, code_tid, user, refuse);
		fprintf(stderr, "enroll: tenant %s device %s: refused: %s\n",
		    tenant, log_printable(shown, sizeof(shown), user,
		    strlen(user)), refuse);
		/* the pause without the database session */
		pg_close(&db);
		(void)sem_post(&en_db_sem);
		held = 0;
		sleep(1);
		rc = en_error(c, 401, refuse);
		goto out;
	}
	if (ctl_device_enroll_issue(db, s->pki, tenant, tid, user, pub, s->days,
	    &ca, &is, err, sizeof(err)) != 0) {
		(void)pg_rollback(db);
		fprintf(stderr, "enroll: tenant %s device %s: not issued: %s\n",
		    tenant, user, err);
		rc = en_error(c, strcmp(err, "device revoked") == 0 ? 403 : 500,
		    strcmp(err, "device revoked") == 0 ? "the device is revoked" :
		    "the certificate could not be issued");
		goto out;
	}
	pg_param_bin(&p2, h, sizeof(h));
	pg_param_text(&p2, pki_issued_fingerprint(is));
	if (pg_exec(db, "UPDATE coffer.enroll_codes SET used_at = now(), "
	    "fingerprint = $2 WHERE code_hash = $1", &p2, err,
	    sizeof(err)) != 0 || (p7 = pki_issued_p7_b64(is)) == NULL ||
	    pg_commit(db, err, sizeof(err)) != 0) {
		(void)pg_rollback(db);
		fprintf(stderr, "enroll: tenant %s device %s: not issued: %s\n",
		    tenant, user, err);
		rc = en_error(c, 503, "database unavailable");
		goto out;
	}
	fprintf(stderr, "enroll: tenant %s device %s: enrolled, certificate %s\n",
	    tenant, user, pki_issued_fingerprint(is));
	rc = en_reply(c, 200, "application/pkcs7-mime; smime-type=certs-only", p7,
	    0);
out:
	vault_wipe(h, sizeof(h));
	if (pass != NULL) {
		vault_wipe(pass, strlen(pass));
		MHD_free(pass);
	}
	if (user != NULL)
		MHD_free(user);
	free(p7);
	PQclear(r);
	EVP_PKEY_free(pub);
	pki_issued_free(&is);
	pki_ca_close(&ca);
	pg_close(&db);
	if (held)
		(void)sem_post(&en_db_sem);
	return rc;
}

static enum MHD_Result
en_cacerts(const en_srv *s, struct MHD_Connection *c, const char *tenant)
{
	char dir[4096], *p7;
	enum MHD_Result rc;

	/* the certificate only: neither the CA key nor its lock */
	if (pki_path(dir, sizeof(dir), pki_root(s->pki), "devices", tenant) != 0 ||
	    !pki_ca_exists(dir))
		return en_error(c, 404, "unknown tenant");
	p7 = pki_ca_dir_p7_b64(dir);
	if (p7 == NULL)
		return en_error(c, 500, "internal error");
	rc = en_reply(c, 200, "application/pkcs7-mime", p7, 0);
	free(p7);
	return rc;
}

static enum MHD_Result
en_access(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *data,
    size_t *data_len, void **ctx)
{
	const en_srv *s = cls;
	en_req *q = *ctx;
	char tenant[PKI_NAME_MAX + 1], err[EN_ERR];
	const char *rest, *op, *slash;
	int post = strcmp(method, "POST") == 0;

	(void)version;
	if (q == NULL) {
		if ((q = calloc(1, sizeof(*q))) == NULL)
			return MHD_NO;
		*ctx = q;
		return MHD_YES;
	}
	if (*data_len > 0) {
		if (q->len + *data_len > sizeof(q->body))
			q->too_big = 1;
		else {
			memcpy(q->body + q->len, data, *data_len);
			q->len += *data_len;
		}
		*data_len = 0;
		return MHD_YES;
	}
	if (strncmp(url, EN_PREFIX, strlen(EN_PREFIX)) != 0)
		return en_error(c, 404, "not found");
	rest = url + strlen(EN_PREFIX);
	/* [<tenant>/]<operation> */
	if ((slash = strchr(rest, '/')) != NULL) {
		size_t n = (size_t)(slash - rest);

		if (n == 0 || n >= sizeof(tenant))
			return en_error(c, 404, "not found");
		memcpy(tenant, rest, n);
		tenant[n] = '\0';
		op = slash + 1;
	} else {
		if (strcmp(s->tenant, "ALL") == 0)
			return en_error(c, 404, "name the tenant: "
			    EN_PREFIX "<tenant>/...");
		snprintf(tenant, sizeof(tenant), "%s", s->tenant);
		op = rest;
	}
	if (names_check("tenant name", tenant, err, sizeof(err)) != 0 ||
	    (strcmp(s->tenant, "ALL") != 0 && strcmp(tenant, s->tenant) != 0))
		return en_error(c, 404, "unknown tenant");
	if (strcmp(op, "cacerts") == 0) {
		if (strcmp(method, "GET") != 0)
			return en_error(c, 405, "method not allowed");
		return en_cacerts(s, c, tenant);
	}
	if (strcmp(op, "simpleenroll") == 0) {
		if (!post)
			return en_error(c, 405, "method not allowed");
		return en_enroll(s, c, tenant, q);
	}
	return en_error(c, 404, "not found");
}

static void
en_completed(void *cls, struct MHD_Connection *c, void **ctx,
    enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	if (*ctx != NULL) {
		vault_wipe(*ctx, sizeof(en_req));
		free(*ctx);
		*ctx = NULL;
	}
}

/* "IP:PORT" or "[IPv6]:PORT", numeric only. */
static int
en_addr(const char *s, struct sockaddr_storage *ss)
{
	char host[128];
	const char *colon = strrchr(s, ':'), *h = s;
	size_t hl;
	struct addrinfo hints, *ai = NULL;

	if (colon == NULL || colon[1] == '\0')
		return -1;
	hl = (size_t)(colon - s);
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
		h = s + 1;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0 || ai == NULL)
		return -1;
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	return 0;
}

static char *
en_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *b;
	size_t n;

	if (f == NULL)
		return NULL;
	if ((b = malloc(EN_PEM_MAX + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	n = fread(b, 1, EN_PEM_MAX, f);
	fclose(f);
	if (n == 0 || n == EN_PEM_MAX) {
		vault_wipe(b, EN_PEM_MAX);
		free(b);
		return NULL;
	}
	b[n] = '\0';
	*len = n;
	return b;
}

int
ctl_enroll_serve(const char *tenant, const char *listen, const char *cert,
    const char *key, const char *pki, const char *config, int days)
{
	char err[EN_ERR];
	char *cert_pem = NULL, *key_pem = NULL;
	size_t cl = 0, kl = 0;
	struct MHD_Daemon *d = NULL;
	struct sockaddr_storage ss;
	sigset_t set;
	en_srv s;
	int sig = 0, rc = CTL_EXIT_FAIL;

	if (strcmp(tenant, "ALL") != 0 &&
	    names_check("tenant name", tenant, err, sizeof(err)) != 0) {
		ctl_fail("%s", err);
		return CTL_EXIT_USAGE;
	}
	if (en_addr(listen, &ss) != 0) {
		ctl_fail("device: --listen must be HOST:PORT (an IP address and "
		    "a port)");
		return CTL_EXIT_USAGE;
	}
	if ((cert_pem = en_read(cert, &cl)) == NULL) {
		ctl_fail("device: cannot read the server certificate %s", cert);
		return CTL_EXIT_FAIL;
	}
	if ((key_pem = en_read(key, &kl)) == NULL) {
		ctl_fail("device: cannot read the server key %s", key);
		free(cert_pem);
		return CTL_EXIT_FAIL;
	}
	if (sem_init(&en_db_sem, 0, EN_DB_MAX) != 0) {
		ctl_fail("device: enroll-serve: %s", strerror(errno));
		vault_wipe(key_pem, kl);
		free(key_pem);
		free(cert_pem);
		return CTL_EXIT_FAIL;
	}
	s.tenant = tenant;
	s.pki = pki;
	s.config = config;
	s.days = days;
	/* signals for sigwait, blocked before any thread exists */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	d = MHD_start_daemon(MHD_USE_TLS | MHD_USE_THREAD_PER_CONNECTION |
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL,
	    en_access, &s,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_HTTPS_MEM_CERT, cert_pem,
	    MHD_OPTION_HTTPS_MEM_KEY, key_pem,
	    MHD_OPTION_HTTPS_PRIORITIES,
	    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:%SERVER_PRECEDENCE",
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)8,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
	    MHD_OPTION_NOTIFY_COMPLETED, en_completed, NULL,
	    MHD_OPTION_END);
	if (d == NULL) {
		ctl_fail("device: enroll-serve cannot listen on %s (in use, or the "
		    "certificate and key do not match)", listen);
		goto out;
	}
	printf("enroll-serve: tenant %s, https://%s%s%s%s{cacerts,simpleenroll}\n",
	    tenant, listen, EN_PREFIX, strcmp(tenant, "ALL") == 0 ? "<tenant>" :
	    tenant, "/");
	fflush(stdout);
	while (sigwait(&set, &sig) == 0 && sig == SIGHUP)
		;
	rc = CTL_EXIT_OK;
out:
	if (d != NULL)
		MHD_stop_daemon(d);
	vault_wipe(key_pem, kl);
	free(key_pem);
	free(cert_pem);
	return rc;
}
