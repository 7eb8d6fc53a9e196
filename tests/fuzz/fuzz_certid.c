/* tests/fuzz/fuzz_certid.c — libFuzzer target for certificate subject to
 * identity mapping: the gateway's tls_subject_entry() (subject O = tenant,
 * CN = device) and the API's api_auth_check() (O = tenant, OU = role,
 * CN = name, against a real people CA made by pki_ca_init()).
 *
 * The first input byte picks the mode:
 *   even: the rest is DER, parsed with d2i_X509 as a peer would send it;
 *   odd:  the rest describes a subject, entry by entry (which attribute,
 *         which ASN.1 string type, whether it joins the previous RDN as a
 *         multi-valued RDN, its bytes, possibly repeated into very long
 *         names), made into a certificate signed by the people CA (or
 *         self-signed) — so embedded NULs, BMPString/UniversalString,
 *         repeated O or CN and 64/128-byte edges are reached directly.
 *
 * Beyond "does not crash": both mappings are checked against an
 * independent reading of the subject.  The gateway accepts a name exactly
 * when there is one entry whose UTF-8 form passes the name rule, and then
 * returns that name, never a cut or rewritten one; the API fills tenant,
 * role and name only with values passing its rules, and for certificates
 * built here it accepts exactly the subjects the rules allow.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "api/auth.h"
#include "ctl/pki.h"
#include "gateway/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define GW_CAP   128U     /* sizeof(ingest_peer.tenant / .device) */
#define MAX_ENTRIES 12

static api_auth *fz_auth;
static EVP_PKEY *fz_ca_key, *fz_leaf_key;
static X509 *fz_ca;

static void
fz_die(const char *what)
{
	fprintf(stderr, "fuzz_certid: %s\n", what);
	abort();
}

static char fz_dir[64];
static int fz_show;

/* The store re-reads the files when they change: keep them to the end. */
static void
fz_cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fz_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_certid: cannot remove %s\n", fz_dir);
}

static void
fz_init(void)
{
	char dir[] = "/tmp/fuzz_certid.XXXXXX", p[256], q[256], err[512];
	FILE *f;

	if (mkdtemp(dir) == NULL)
		fz_die("mkdtemp");
	snprintf(p, sizeof(p), "%s/people", dir);
	if (pki_ca_init(p, "Coffer", "people CA", err, sizeof(err)) != 0)
		fz_die(err);
	snprintf(p, sizeof(p), "%s/people/ca.key", dir);
	if ((f = fopen(p, "r")) == NULL ||
	    (fz_ca_key = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL)
		fz_die("ca.key");
	fclose(f);
	snprintf(p, sizeof(p), "%s/people/ca.pem", dir);
	if ((f = fopen(p, "r")) == NULL ||
	    (fz_ca = PEM_read_X509(f, NULL, NULL, NULL)) == NULL)
		fz_die("ca.pem");
	fclose(f);
	snprintf(q, sizeof(q), "%s/people/crl.pem", dir);
	if (api_auth_new(&fz_auth, p, q, err, sizeof(err)) != 0)
		fz_die(err);
	if ((fz_leaf_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL)
		fz_die("leaf key");
	snprintf(fz_dir, sizeof(fz_dir), "%s", dir);
	fz_show = getenv("FUZZ_SHOW") != NULL;
	atexit(fz_cleanup);
}

static int
fz_name_rule(const unsigned char *s, size_t len, size_t max)
{
	size_t i;

	if (len == 0 || len > max || s[0] == '.' || s[0] == '-')
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' ||
		    s[i] == '-'))
			return 0;
	return 1;
}

/* The unique entry of nid, or NULL (none or several). */
static const ASN1_STRING *
fz_unique(const X509_NAME *nm, int nid)
{
	const ASN1_STRING *found = NULL;
	int i, n = 0;

	for (i = 0; i < X509_NAME_entry_count(nm); i++) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(nm, i);

		if (OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)) == nid) {
			found = X509_NAME_ENTRY_get_data(e);
			n++;
		}
	}
	return n == 1 ? found : NULL;
}

static void
fz_terminated_printable(const char *s, size_t cap)
{
	const char *z = memchr(s, '\0', cap);
	const char *c;

	if (z == NULL)
		abort();
	for (c = s; c < z; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			abort();
}

/* Gateway: tls_subject_entry() against the independent reading. */
static void
fz_gateway(X509_NAME *nm, int nid)
{
	char out[GW_CAP];
	const ASN1_STRING *d = fz_unique(nm, nid);
	unsigned char *u = NULL;
	int ulen = -1, want, got;

	if (d != NULL)
		ulen = ASN1_STRING_to_UTF8(&u, d);
	want = ulen > 0 && fz_name_rule(u, (size_t)ulen, GW_CAP - 1);
	memset(out, 'X', sizeof(out));
	got = tls_subject_entry(nm, nid, out, sizeof(out));
	fz_terminated_printable(out, sizeof(out));
	if (got != want)
		abort();
	if (got && (strlen(out) != (size_t)ulen || memcmp(out, u, (size_t)ulen) != 0))
		abort();
	OPENSSL_free(u);
}

/* What the API must take from one attribute: the value when it is the
 * unique entry, a UTF8/Printable/IA5 string and passes the rule. */
static int
fz_api_want(const X509_NAME *nm, int nid, int is_role, char *out, size_t cap)
{
	static const char *const roles[] = { "admin", "legal", "custodian",
	    "auditor" };
	const ASN1_STRING *d = fz_unique(nm, nid);
	const unsigned char *p;
	size_t len, k;
	int t;

	out[0] = '\0';
	if (d == NULL)
		return 0;
	t = ASN1_STRING_type(d);
	if (t != V_ASN1_UTF8STRING && t != V_ASN1_PRINTABLESTRING &&
	    t != V_ASN1_IA5STRING)
		return 0;
	p = ASN1_STRING_get0_data(d);
	len = (size_t)ASN1_STRING_length(d);
	if (!fz_name_rule(p, len, cap - 1))
		return 0;
	if (is_role) {
		int known = 0;

		for (k = 0; k < sizeof(roles) / sizeof(roles[0]); k++)
			if (strlen(roles[k]) == len && memcmp(roles[k], p, len) == 0)
				known = 1;
		if (!known)
			return 0;
	}
	memcpy(out, p, len);
	out[len] = '\0';
	return 1;
}

/* API: api_auth_check() on der; when built here (exact = 1), the result
 * must be exactly what the rules allow for the subject. */
static void
fz_api(const unsigned char *der, size_t len, int exact)
{
	const unsigned char *ders[1] = { der }, *p = der;
	size_t lens[1] = { len };
	api_cert c;
	X509 *x;
	char wt[API_SUBJECT_MAX], wr[API_ROLE_MAX], wn[API_SUBJECT_MAX];
	int ok_t, ok_r, ok_n;

	memset(&c, 'X', sizeof(c));
	api_auth_check(fz_auth, ders, lens, 1, &c);
	if (fz_show)      /* FUZZ_SHOW=1 fuzz_certid FILE: what the API made of it */
		fprintf(stderr, "api: %s tenant '%s' role '%s' name '%s'\n",
		    api_cert_status_name(c.status), c.tenant, c.role, c.name);
	fz_terminated_printable(c.fingerprint, sizeof(c.fingerprint));
	fz_terminated_printable(c.tenant, sizeof(c.tenant));
	fz_terminated_printable(c.role, sizeof(c.role));
	fz_terminated_printable(c.name, sizeof(c.name));
	if ((c.tenant[0] && !names_ok(c.tenant, strlen(c.tenant))) ||
	    (c.name[0] && !names_ok(c.name, strlen(c.name))))
		abort();
	if (c.status == API_CERT_SUBJECT && (c.role[0] || c.name[0]))
		abort();
	if (c.status != API_CERT_SUBJECT && c.status != API_CERT_MALFORMED &&
	    (!c.tenant[0] || !c.role[0] || !c.name[0]))
		abort();
	if (c.status == API_CERT_NONE)
		abort();
	if (!exact)
		return;
	/* Certificates made here are well-formed DER: the only refusals left
	 * are the subject's and the chain's. */
	x = d2i_X509(NULL, &p, (long)len);
	if (x == NULL || p != der + len) {
		X509_free(x);
		if (c.status != API_CERT_MALFORMED)
			abort();
		return;
	}
	ok_t = fz_api_want(X509_get_subject_name(x), NID_organizationName, 0, wt,
	    sizeof(wt));
	ok_r = fz_api_want(X509_get_subject_name(x), NID_organizationalUnitName,
	    1, wr, sizeof(wr));
	ok_n = fz_api_want(X509_get_subject_name(x), NID_commonName, 0, wn,
	    sizeof(wn));
	X509_free(x);
	if (!(ok_t && ok_r && ok_n)) {
		if (c.status != API_CERT_SUBJECT)
			abort();
		if (strcmp(c.tenant, ok_t ? wt : "") != 0)
			abort();
		return;
	}
	if (c.status == API_CERT_SUBJECT || c.status == API_CERT_MALFORMED ||
	    strcmp(c.tenant, wt) != 0 || strcmp(c.role, wr) != 0 ||
	    strcmp(c.name, wn) != 0)
		abort();
}

static const int fz_nids[8] = {
	NID_organizationName, NID_commonName, NID_organizationalUnitName,
	NID_organizationName, NID_commonName, NID_countryName,
	NID_localityName, NID_serialNumber,
};
static const int fz_types[8] = {
	V_ASN1_UTF8STRING, V_ASN1_PRINTABLESTRING, V_ASN1_IA5STRING,
	V_ASN1_BMPSTRING, V_ASN1_T61STRING, V_ASN1_UNIVERSALSTRING,
	V_ASN1_VISIBLESTRING, V_ASN1_UTF8STRING,
};

/* Entries: header byte h (nid h&7, type (h>>3)&7, h&0x40: join the
 * previous RDN, h&0x80: repeat the bytes 8 times), length byte, bytes. */
static X509_NAME *
fz_subject(const uint8_t *d, size_t n)
{
	X509_NAME *nm = X509_NAME_new();
	unsigned char val[256 * 8];
	size_t off = 0;
	int count = 0;

	if (nm == NULL)
		return NULL;
	while (off + 2 <= n && count < MAX_ENTRIES) {
		unsigned h = d[off], len = d[off + 1], vlen, r;
		X509_NAME_ENTRY *e;

		off += 2;
		if (len > n - off)
			len = (unsigned)(n - off);
		vlen = len;
		memcpy(val, d + off, len);
		off += len;
		if (h & 0x80)
			for (r = 1; r < 8; r++, vlen += len)
				memcpy(val + vlen, d + off - len, len);
		e = X509_NAME_ENTRY_create_by_NID(NULL, fz_nids[h & 7],
		    fz_types[(h >> 3) & 7], val, (int)vlen);
		if (e == NULL)
			continue;
		if (!X509_NAME_add_entry(nm, e, -1, (h & 0x40) && count > 0 ? -1 : 0)) {
			X509_NAME_ENTRY_free(e);
			continue;
		}
		X509_NAME_ENTRY_free(e);
		count++;
	}
	return nm;
}

static int
fz_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	int rc;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if ((e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return -1;
	rc = X509_add_ext(x, e, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(e);
	return rc;
}

/* A leaf with subject nm, signed by the people CA (or self-signed). */
static int
fz_cert(X509_NAME *nm, int self, unsigned char **der, size_t *len)
{
	X509 *x = X509_new();
	int n, rc = -1;

	*der = NULL;
	if (x == NULL || X509_set_version(x, 2) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(x), 7) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 3600) == NULL ||
	    X509_set_subject_name(x, nm) != 1 ||
	    X509_set_issuer_name(x, self ? nm : X509_get_subject_name(fz_ca)) != 1 ||
	    X509_set_pubkey(x, fz_leaf_key) != 1 ||
	    fz_ext(x, self ? x : fz_ca, NID_subject_key_identifier, "hash") != 0 ||
	    fz_ext(x, self ? x : fz_ca, NID_authority_key_identifier,
	    "keyid:always") != 0 ||
	    fz_ext(x, x, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
	    fz_ext(x, x, NID_key_usage, "critical,digitalSignature") != 0 ||
	    fz_ext(x, x, NID_ext_key_usage, "clientAuth") != 0 ||
	    X509_sign(x, self ? fz_leaf_key : fz_ca_key, EVP_sha256()) <= 0)
		goto out;
	if ((n = i2d_X509(x, der)) <= 0)
		goto out;
	*len = (size_t)n;
	rc = 0;
out:
	X509_free(x);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (fz_auth == NULL)
		fz_init();
	if (size < 1)
		return 0;
	if ((data[0] & 1) == 0) {
		const unsigned char *p = data + 1;
		X509 *x = d2i_X509(NULL, &p, (long)(size - 1));

		if (x != NULL) {
			fz_gateway(X509_get_subject_name(x), NID_organizationName);
			fz_gateway(X509_get_subject_name(x), NID_commonName);
			X509_free(x);
		}
		if (size > 1)
			fz_api(data + 1, size - 1, 0);
	} else {
		X509_NAME *nm = fz_subject(data + 1, size - 1);
		unsigned char *der = NULL;
		size_t len = 0;

		if (nm == NULL)
			return 0;
		fz_gateway(nm, NID_organizationName);
		fz_gateway(nm, NID_commonName);
		if (fz_cert(nm, (data[0] & 2) != 0, &der, &len) == 0)
			fz_api(der, len, 1);
		OPENSSL_free(der);
		X509_NAME_free(nm);
	}
	return 0;
}
