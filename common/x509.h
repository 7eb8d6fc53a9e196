/* common/x509.h — what is wrong with a client certificate, in the same
 * words for both daemons (the gateway's devices, the API's people).
 *
 * OpenSSL reports a refused chain as one of some fifty verify errors; the
 * daemons refuse for about a dozen reasons, logged and counted by name.
 * The grouping lives here once, so the two cannot drift apart.
 */
#ifndef COFFER_COMMON_X509_H
#define COFFER_COMMON_X509_H

#include <time.h>

#include <openssl/x509.h>

typedef enum x509_fault {
	X509F_OTHER = 0,         /* any other verification failure */
	X509F_UNKNOWN_CA,        /* no path to a trusted CA, bad signature */
	X509F_EXPIRED,
	X509F_NOT_YET_VALID,
	X509F_REVOKED,
	X509F_CRL,               /* no usable CRL: missing, unreadable, not yet
	                          * valid, badly signed */
	X509F_CRL_EXPIRED,       /* the CRL is past its nextUpdate */
	X509F_USAGE,             /* not fit for TLS client authentication */
	X509F_SELF_SIGNED,
	X509F_CHAIN_TOO_LONG,    /* an intermediate: leaves come from the CA
	                          * directly (verify depth 0) */
	X509F_INVALID_CA,        /* an issuer that is not a CA */
	X509F_WEAK_KEY,          /* RSA/DSA/DH < 2048 bits, EC < 224 bits */
	X509F_WEAK_SIGNATURE     /* SHA-1, MD5: < 112-bit security */
} x509_fault;

/* The fault of a chain X509_verify_cert refused.  The depth limit stops a
 * chain before OpenSSL looks at an intermediate's basicConstraints, so an
 * intermediate that is not a CA (X509_check_ca() != 1, as X509_STRICT
 * wants) is named X509F_INVALID_CA rather than X509F_CHAIN_TOO_LONG. */
x509_fault x509_fault_of(X509_STORE_CTX *ctx, const X509 *leaf);

/* What makes leaf unfit for TLS 1.3 client authentication, or NULL: EKU
 * clientAuth and KU digitalSignature must both be present (OpenSSL's
 * sslclient purpose accepts their absence, and keyAgreement alone), and
 * it must not be a CA (x509_claims_ca). */
const char *x509_client_usage_problem(X509 *leaf);

/* 1 when cert is or claims to be a CA: basicConstraints CA:TRUE whatever
 * its keyUsage (X509_check_ca() alone calls CA:TRUE without keyCertSign
 * "not a CA"), or anything else X509_check_ca() takes for one. */
int x509_claims_ca(X509 *cert);

/* An ASN1_TIME (notAfter, a CRL's nextUpdate) as a time_t in UTC;
 * -1 when it cannot be read. */
int x509_time(const ASN1_TIME *a, time_t *out);

/* The notAfter of the first certificate (the leaf) in a PEM buffer of len
 * bytes; -1 when there is none or it cannot be read. */
int x509_pem_not_after(const char *pem, size_t len, time_t *out);

/* One "seconds until" gauge sample for both daemons' pages:
 * "NAME SECONDS\n" (SECONDS = when - now, negative once past) into out
 * (NUL-terminated; name carries any fixed label, never peer input).
 * when 0 means unknown: nothing is written.  The length written, 0 when
 * nothing or when it would not fit in cap. */
size_t x509_until_line(char *out, size_t cap, const char *name, time_t when,
    time_t now);

#endif
