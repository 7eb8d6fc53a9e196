/* common/x509.c — client certificate faults (see x509.h). */
#include "common/x509.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

static x509_fault
x509_fault_of_error(int e)
{
	switch (e) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return X509F_EXPIRED;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return X509F_NOT_YET_VALID;
	case X509_V_ERR_CERT_REVOKED:
		return X509F_REVOKED;
	case X509_V_ERR_CRL_HAS_EXPIRED:
		return X509F_CRL_EXPIRED;
	case X509_V_ERR_UNABLE_TO_GET_CRL:
	case X509_V_ERR_CRL_NOT_YET_VALID:
	case X509_V_ERR_CRL_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
	case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
	case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
	case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
	case X509_V_ERR_DIFFERENT_CRL_SCOPE:
	case X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION:
	case X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
		return X509F_CRL;
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		return X509F_SELF_SIGNED;
	case X509_V_ERR_CERT_CHAIN_TOO_LONG:
	case X509_V_ERR_PATH_LENGTH_EXCEEDED:
		return X509F_CHAIN_TOO_LONG;
	case X509_V_ERR_INVALID_CA:
	case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
		return X509F_INVALID_CA;
	case X509_V_ERR_EE_KEY_TOO_SMALL:
	case X509_V_ERR_CA_KEY_TOO_SMALL:
		return X509F_WEAK_KEY;
	case X509_V_ERR_CA_MD_TOO_WEAK:
		return X509F_WEAK_SIGNATURE;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
	case X509_V_ERR_CERT_UNTRUSTED:
	case X509_V_ERR_CERT_REJECTED:
	case X509_V_ERR_AKID_SKID_MISMATCH:
	case X509_V_ERR_AKID_ISSUER_SERIAL_MISMATCH:
		return X509F_UNKNOWN_CA;
	case X509_V_ERR_INVALID_PURPOSE:
	case X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE:
		return X509F_USAGE;
	default:
		return X509F_OTHER;
	}
}

x509_fault
x509_fault_of(X509_STORE_CTX *ctx, const X509 *leaf)
{
	int e = X509_STORE_CTX_get_error(ctx);
	X509 *at = X509_STORE_CTX_get_current_cert(ctx);
	x509_fault f = x509_fault_of_error(e);

	if (f == X509F_CHAIN_TOO_LONG && at != NULL && at != leaf &&
	    X509_STORE_CTX_get_error_depth(ctx) > 0 && X509_check_ca(at) != 1)
		return X509F_INVALID_CA;
	return f;
}

const char *
x509_client_usage_problem(X509 *leaf)
{
	uint32_t fl = X509_get_extension_flags(leaf);

	if (!(fl & EXFLAG_XKUSAGE) ||
	    !(X509_get_extended_key_usage(leaf) & XKU_SSL_CLIENT))
		return "no extendedKeyUsage clientAuth";
	if (!(fl & EXFLAG_KUSAGE) ||
	    !(X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE))
		return "no keyUsage digitalSignature";
	if (x509_claims_ca(leaf))
		return "a CA certificate as a leaf";
	return NULL;
}

int
x509_claims_ca(X509 *leaf)
{
	/* X509_check_ca() answers 0 for basicConstraints CA:TRUE when keyUsage
	 * is present without keyCertSign: such a certificate still says it is
	 * a CA, and a leaf that says so is refused whatever its keyUsage. */
	if (X509_get_extension_flags(leaf) & EXFLAG_CA)
		return 1;
	return X509_check_ca(leaf) != 0;
}

int
x509_time(const ASN1_TIME *a, time_t *out)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (a == NULL || ASN1_TIME_to_tm(a, &tm) != 1)
		return -1;
	*out = timegm(&tm);
	return *out == (time_t)-1 ? -1 : 0;
}

size_t
x509_until_line(char *out, size_t cap, const char *name, time_t when,
    time_t now)
{
	int n;

	if (cap > 0)
		out[0] = '\0';
	if (when == 0 || cap == 0)
		return 0;
	n = snprintf(out, cap, "%s %lld\n", name, (long long)(when - now));
	if (n < 0 || (size_t)n >= cap) {
		out[0] = '\0';
		return 0;
	}
	return (size_t)n;
}

int
x509_pem_not_after(const char *pem, size_t len, time_t *out)
{
	BIO *bio;
	X509 *x = NULL;
	int rc = -1;

	*out = 0;
	if (len > INT32_MAX ||
	    (bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return -1;
	if ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		rc = x509_time(X509_get0_notAfter(x), out);
	X509_free(x);
	BIO_free(bio);
	ERR_clear_error();
	if (rc != 0)
		*out = 0;
	return rc;
}
