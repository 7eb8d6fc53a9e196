/* api/auth.h — who is calling: people certificates and their user rows.
 *
 * The TLS layer (libmicrohttpd/GnuTLS) only asks for a client certificate;
 * it does not decide anything.  api_auth_check() verifies the presented
 * chain itself with OpenSSL against the people CA and its CRL (CRL check
 * on the leaf, purpose sslclient, validity, strict X.509, security level 2:
 * no RSA < 2048 bits and no SHA-1, depth 0: issued by the people CA
 * directly), requires EKU clientAuth and KU digitalSignature, then reads the
 * subject: O = tenant, OU = role, CN = name (cofferctl user issue).
 * api_auth_identify() then finds the active user row by the certificate's
 * fingerprint (lower-case hex SHA-256 of the DER) and requires its tenant,
 * role and name to be the ones the certificate states.
 *
 * The CA and CRL files are re-read when they change on disk (checked at
 * most once a second) or on api_auth_reload(), so a revocation takes
 * effect without a restart; a missing, unreadable or expired CRL refuses
 * every certificate (fail closed).
 */
#ifndef COFFER_API_AUTH_H
#define COFFER_API_AUTH_H

#include <stddef.h>

#include <libpq-fe.h>

#include "common/names.h"
#include "common/util.h"

#define API_FPR_HEX_LEN   65U    /* 64 hex digits + NUL */
#define API_SUBJECT_MAX   (NAMES_MAX + 1U)  /* tenant and user names + NUL */
#define API_ROLE_MAX      16U

typedef enum api_cert_status {
	API_CERT_OK = 0,
	API_CERT_NONE,            /* no certificate presented */
	API_CERT_MALFORMED,       /* not DER, trailing bytes, chain too long */
	API_CERT_UNTRUSTED,       /* not issued by the people CA */
	API_CERT_EXPIRED,
	API_CERT_NOT_YET_VALID,
	API_CERT_REVOKED,
	API_CERT_CRL,             /* CRL missing, expired or invalid */
	API_CERT_USAGE,           /* not a clientAuth leaf: EKU clientAuth and KU
	                           * digitalSignature required, no CA */
	API_CERT_SUBJECT,         /* O/OU/CN missing, repeated or malformed */
	API_CERT_SELF_SIGNED,     /* a self-signed certificate */
	API_CERT_CHAIN,           /* an intermediate CA: people certificates are
	                           * issued by the people CA directly */
	API_CERT_INVALID_CA,      /* issued by an intermediate that is not a CA */
	API_CERT_WEAK_KEY,        /* RSA/DSA/DH < 2048 bits, EC < 224 bits */
	API_CERT_WEAK_SIGNATURE,  /* SHA-1, MD5: < 112-bit security */
	API_CERT_CRL_EXPIRED      /* the people CRL is past its nextUpdate */
} api_cert_status;

/* What a presented certificate says.  Strings are "" when absent; they are
 * filled only with values that passed the name rules, so they are safe to
 * log and to put in an audit event even when status is not OK. */
typedef struct api_cert {
	api_cert_status status;
	char            fingerprint[API_FPR_HEX_LEN];
	char            tenant[API_SUBJECT_MAX];
	char            role[API_ROLE_MAX];
	char            name[API_SUBJECT_MAX];
} api_cert;

/* An authenticated person. */
typedef struct api_identity {
	char          fingerprint[API_FPR_HEX_LEN];
	unsigned char tenant_id[UTIL_UUID_BYTES];
	char          tenant_id_str[UTIL_UUID_STRLEN + 1];
	char          tenant[API_SUBJECT_MAX];
	char          user_id[UTIL_UUID_STRLEN + 1];
	char          person_id[UTIL_UUID_STRLEN + 1];  /* the human behind the
	                                         * account (coffer.persons): every
	                                         * "another person" rule compares
	                                         * this, not user_id */
	char          name[API_SUBJECT_MAX];
	char          role[API_ROLE_MAX];      /* admin, legal, custodian, auditor */
	int           custodian_index;         /* 1..255: the index a custodian
	                                        * holds in the current share
	                                        * generation; 0: none (other
	                                        * roles, or a custodian holding
	                                        * no current share) */
} api_identity;

typedef struct api_auth api_auth;   /* trust store; private to auth.c */

int  api_auth_new(api_auth **out, const char *ca_file, const char *crl_file,
                  char *err, size_t err_len) __attribute__((warn_unused_result));
void api_auth_free(api_auth **a);   /* NULL ok; sets *a = NULL */

/* Re-read the CA and CRL now (SIGHUP).  On failure the previous store stays
 * in force only if the files could not be read at all; a CRL that reads but
 * does not verify replaces nothing and err says why. */
int  api_auth_reload(api_auth *a, char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* Verify a presented chain: ders[0] the leaf, the rest untrusted
 * intermediates.  n == 0 gives API_CERT_NONE.  Thread-safe. */
void api_auth_check(api_auth *a, const unsigned char *const *ders,
                    const size_t *lens, size_t n, api_cert *out);

const char *api_cert_status_name(api_cert_status s);

#define API_AUTH_OK       0
#define API_AUTH_REFUSED  1

/* Find the user of a verified certificate (c->status must be API_CERT_OK).
 * API_AUTH_OK: *id filled.  API_AUTH_REFUSED: *reason says why ("unknown
 * certificate", "user revoked", "tenant mismatch", ...).  -1: database
 * failure (err).  Either way, when the tenant the certificate names exists,
 * *tenant_known is 1 and tenant_id holds its id (for auditing a refusal). */
int  api_auth_identify(PGconn *db, const api_cert *c, api_identity *id,
                       int *tenant_known,
                       unsigned char tenant_id[UTIL_UUID_BYTES],
                       const char **reason, char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* Only the tenant lookup (for certificates that did not verify). */
int  api_auth_tenant(PGconn *db, const char *tenant_name, int *known,
                     unsigned char tenant_id[UTIL_UUID_BYTES],
                     char *err, size_t err_len)
     __attribute__((warn_unused_result));

#endif
