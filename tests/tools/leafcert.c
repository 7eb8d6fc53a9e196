/* tests/tools/leafcert.c — TEST ONLY: a device certificate whose subject the
 * openssl CLI refuses to make.
 *
 *   leafcert CA-CERT CA-KEY O CN OUT-CRT OUT-KEY
 *
 * Issues an EC P-256 leaf signed by CA-KEY with subject O=O, CN=CN as
 * UTF8Strings of any length (the CLI enforces the 64-character upper bound
 * of X.520 and so cannot make a 128-character CN), CA:FALSE, KU
 * digitalSignature, EKU clientAuth, valid from an hour ago for 30 days.
 * Everything else about it is what a valid device certificate has, so a
 * refusal can only come from the subject.  Never installed.
 *
 * Exit 0 when both files are written; 1 with a message otherwise.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static int
add_ext(X509 *crt, X509 *ca, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int rc;

	X509V3_set_ctx(&ctx, ca, crt, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return -1;
	rc = X509_add_ext(crt, ext, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(ext);
	return rc;
}

/* V_ASN1_UTF8STRING (not MBSTRING_UTF8): stored as given, no length table. */
static int
add_name(X509_NAME *n, int nid, const char *value)
{
	return X509_NAME_add_entry_by_NID(n, nid, V_ASN1_UTF8STRING,
	    (const unsigned char *)value, (int)strlen(value), -1, 0) == 1 ? 0 : -1;
}

static void *
read_pem(const char *path, int is_key)
{
	FILE *f = fopen(path, "r");
	void *v;

	if (f == NULL)
		return NULL;
	v = is_key ? (void *)PEM_read_PrivateKey(f, NULL, NULL, NULL) :
	    (void *)PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return v;
}

static int
write_pem(const char *path, X509 *crt, EVP_PKEY *key)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (f == NULL)
		return -1;
	ok = crt != NULL ? PEM_write_X509(f, crt) :
	    PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	return (fclose(f) == 0 && ok == 1) ? 0 : -1;
}

int
main(int argc, char **argv)
{
	X509 *ca = NULL, *crt = NULL;
	EVP_PKEY *ca_key = NULL, *key = NULL;
	X509_NAME *subj;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	int rc = 1;

	if (argc != 7) {
		fprintf(stderr, "usage: leafcert CA-CERT CA-KEY O CN OUT-CRT OUT-KEY\n");
		return 2;
	}
	ca = read_pem(argv[1], 0);
	ca_key = read_pem(argv[2], 1);
	key = EVP_EC_gen("P-256");
	crt = X509_new();
	subj = X509_NAME_new();
	if (ca == NULL || ca_key == NULL || key == NULL || crt == NULL ||
	    subj == NULL) {
		fprintf(stderr, "leafcert: cannot read the CA or make a key\n");
		goto out;
	}
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto out;
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(crt)) == NULL ||
	    X509_set_version(crt, 2) != 1 ||
	    add_name(subj, NID_organizationName, argv[3]) != 0 ||
	    add_name(subj, NID_commonName, argv[4]) != 0 ||
	    X509_set_subject_name(crt, subj) != 1 ||
	    X509_set_issuer_name(crt, X509_get_subject_name(ca)) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(crt), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(crt), 30L * 86400) == NULL ||
	    X509_set_pubkey(crt, key) != 1 ||
	    add_ext(crt, ca, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
	    add_ext(crt, ca, NID_key_usage, "critical,digitalSignature") != 0 ||
	    add_ext(crt, ca, NID_ext_key_usage, "clientAuth") != 0 ||
	    add_ext(crt, ca, NID_subject_key_identifier, "hash") != 0 ||
	    add_ext(crt, ca, NID_authority_key_identifier, "keyid:always") != 0 ||
	    X509_sign(crt, ca_key, EVP_sha256()) <= 0) {
		fprintf(stderr, "leafcert: building the certificate failed\n");
		goto out;
	}
	if (write_pem(argv[5], crt, NULL) != 0 || write_pem(argv[6], NULL, key) != 0) {
		fprintf(stderr, "leafcert: cannot write %s or %s\n", argv[5], argv[6]);
		goto out;
	}
	rc = 0;
out:
	BN_free(bn);
	X509_NAME_free(subj);
	X509_free(crt);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca_key);
	return rc;
}
