/* ctl/pki.h — certificate authorities for devices, people and servers.
 *
 * Three kinds of CA live under the PKI directory (`--pki DIR`, else
 * $COFFER_PKI, else ./var/pki):
 *
 *   devices/<tenant>/   one CA per tenant; leaves are endpoint devices
 *                       (O = tenant, CN = device id, EKU clientAuth)
 *   people/             the operator's people CA; leaves are users of the
 *                       API (O = tenant, OU = role, CN = name, clientAuth)
 *   server/             the operator's server CA; leaves are TLS servers
 *                       (CN = name, SAN DNS/IP, EKU serverAuth)
 *
 * Each CA directory (mode 0755 when created: the services that rely on a
 * CA read its ca.pem and crl.pem, possibly as another user) holds:
 *   ca.pem    CA certificate (0644)
 *   ca.key    CA private key, PEM PKCS#8, unencrypted, 0600
 *   crl.pem   CRL v2 with CRL number and AKI, nextUpdate now + 30 days (0644)
 *   index     every certificate the CA ever issued, one a line (0600):
 *             "<V|R> <serial hex> <notAfter> <revokedAt|-> <subject key>"
 *             times as YYYYMMDDHHMMSSZ (UTC); the subject key is the device
 *             id, "<tenant>/<name>" for people, the server name for servers.
 *             The CRL is always regenerated from this file.
 *   lock      flock(2) target serialising every writer of the CA
 *
 * Keys are ECDSA P-256; serials 128 random bits; signatures SHA-256.
 * Fingerprints are lower-case hex SHA-256 of the certificate's DER, no
 * separators — the form stored in coffer.devices and coffer.users.
 *
 * The pki_* functions touch files and OpenSSL only, never the database;
 * ctl/device.c and ctl/user.c add registration in PostgreSQL (and share
 * ctl_pki_tenant()).
 */
#ifndef COFFER_CTL_PKI_H
#define COFFER_CTL_PKI_H

#include <stddef.h>
#include <time.h>

#include <libpq-fe.h>

#include "common/names.h"
#include "common/util.h"

#define PKI_NAME_MAX            NAMES_MAX  /* device ids, tenant and user names */
#define PKI_SERIAL_BYTES        16U
#define PKI_SERIAL_HEX_LEN      (2U * PKI_SERIAL_BYTES + 1U)
#define PKI_FPR_HEX_LEN         (2U * 32U + 1U)
#define PKI_LEAF_DAYS_DEFAULT   365
#define PKI_LEAF_DAYS_MAX       825
#define PKI_CA_DAYS             3650
#define PKI_CRL_DAYS            30
#define PKI_BACKDATE_SECONDS    300   /* default notBefore = now - 5 min */

/* -- cofferctl entry points (argv[0] is the verb) ----------------------- */
int ctl_cmd_device(int argc, char **argv);  /* ctl/device.c */
int ctl_cmd_pki(int argc, char **argv);     /* ctl/pki.c */
int ctl_cmd_user(int argc, char **argv);    /* ctl/user.c */

/* Look up tenant `name`: its id (uuid text) and, if custodians_n is not
 * NULL, its number of custodians.  "unknown tenant NAME" when absent.
 * Shared by ctl/device.c (where it lives) and ctl/user.c. */
int  ctl_pki_tenant(PGconn *db, const char *name,
                    char id[UTIL_UUID_STRLEN + 1], int *custodians_n,
                    char *err, size_t err_len)
     __attribute__((warn_unused_result));
/* ctl_connect(config), then ctl_pki_tenant(tenant): the connection, or
 * NULL with the message printed. */
PGconn *ctl_pki_connect(const char *config, const char *tenant,
                        char id[UTIL_UUID_STRLEN + 1], int *custodians_n)
        __attribute__((warn_unused_result));

/* -- times ------------------------------------------------------------- */

/* ISO 8601 UTC: "YYYY-MM-DDTHH:MM:SSZ" or "YYYY-MM-DD" (midnight UTC). */
int pki_parse_time(const char *s, time_t *out)
    __attribute__((warn_unused_result));

/* The PKI root: explicit (from --pki) if not NULL, else $COFFER_PKI, else
 * "./var/pki".  Returns a borrowed string. */
const char *pki_root(const char *explicit_dir);

/* dst = root "/" a ["/" b]; -1 if it does not fit. */
int pki_path(char *dst, size_t cap, const char *root, const char *a,
             const char *b) __attribute__((warn_unused_result));

/* -- certificate authorities -------------------------------------------- */

typedef struct pki_ca pki_ca;       /* certificate, key, lock: pki.c only */

/* 1 when dir already holds a ca.pem or a ca.key. */
int  pki_ca_exists(const char *dir);

/* Create dir (and missing parents, 0755) and a new CA in it: key, self-signed
 * certificate valid PKI_CA_DAYS (subject O = org if not NULL, CN = cn),
 * empty index and an empty CRL.  Refuses when dir already holds a CA
 * ("... already initialised"). */
int  pki_ca_init(const char *dir, const char *org, const char *cn, char *err,
                 size_t err_len) __attribute__((warn_unused_result));

/* Load the CA of dir (key file checked for owner and mode, key matched to
 * the certificate) and take its lock until pki_ca_close. */
int  pki_ca_open(pki_ca **out, const char *dir, char *err, size_t err_len)
     __attribute__((warn_unused_result));
void pki_ca_close(pki_ca **ca);       /* wipes, frees, unlocks; NULL ok */

/* -- leaf certificates -------------------------------------------------- */

typedef enum pki_usage {
	PKI_USAGE_CLIENT = 1,       /* EKU clientAuth: devices, people */
	PKI_USAGE_SERVER = 2        /* EKU serverAuth + SAN: servers */
} pki_usage;

typedef struct pki_leaf {
	pki_usage          usage;
	const char        *org;         /* subject O, NULL for none */
	const char        *ou;          /* subject OU, NULL for none */
	const char        *cn;          /* subject CN, required */
	const char        *key;         /* subject key in the index, required */
	const char *const *dns;         /* SAN dNSNames (servers) */
	size_t             n_dns;
	const char *const *ips;         /* SAN iPAddresses (servers) */
	size_t             n_ips;
	time_t             not_before;
	time_t             not_after;   /* <= CA notAfter, span <= 825 days */
	/* The subject's own public key (an EVP_PKEY *, borrowed: enrollment,
	 * where the private key never leaves the device); NULL: pki_issue
	 * makes the key pair. */
	void              *pubkey;
} pki_leaf;

typedef struct pki_issued pki_issued;   /* certificate + key: pki.c only */

/* Validity from --days (0 = default 365): [now - 5 min, now + days]. */
int  pki_validity_days(int days, time_t *not_before, time_t *not_after,
                       char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* Make a key pair and a certificate signed by ca, and record its serial in
 * the CA's index before returning, so every certificate that can leave
 * this process can also be revoked.  Nothing is written besides the index. */
int  pki_issue(pki_ca *ca, const pki_leaf *req, pki_issued **out, char *err,
               size_t err_len) __attribute__((warn_unused_result));
const char *pki_issued_serial(const pki_issued *is);       /* hex */
const char *pki_issued_fingerprint(const pki_issued *is);  /* hex */
/* dir/base.key (0600) then dir/base.crt (0644), each atomically, creating
 * dir (0700) if missing; replaces earlier files of the same name
 * (re-issue).  If the certificate cannot be written the key is removed. */
int  pki_issued_write(const pki_issued *is, const char *dir, const char *base,
                      char *err, size_t err_len)
     __attribute__((warn_unused_result));
void pki_issued_unlink(const char *dir, const char *base);
/* EST (RFC 7030 4.1.3, 4.2.3): a certs-only PKCS#7 (a degenerate signedData)
 * holding the issued certificate, or the CA's, as base64 DER with line
 * breaks.  malloc'd, NUL-terminated; NULL on failure. */
char *pki_issued_p7_b64(const pki_issued *is);
/* ... and the CA certificate of dir (dir/ca.pem), without opening the CA
 * (no key read, no lock). */
char *pki_ca_dir_p7_b64(const char *dir);
void pki_issued_free(pki_issued **is);   /* wipes the key; NULL ok */

/* -- revocation --------------------------------------------------------- */

/* For `device list` and `user list`: the notAfter of each row of r, its
 * serial (hex, as in the database) in column serial_col, from the index of
 * the CA in ca_dir, read as it is (no lock, no CA key): a malloc'd array of PQntuples(r) + 1
 * (0 where unknown; "cofferctl: WHAT: expiry unknown: …" on stderr when
 * the index cannot be read), or NULL (out of memory, said on stderr). */
time_t *pki_list_not_after(const char *ca_dir, const PGresult *r,
                           int serial_col, const char *what);
/* Mark every still-valid index entry of subject key as revoked now and
 * re-sign the CRL.  *n_revoked = entries newly revoked (0 is not an
 * error: the CRL is re-signed anyway). */
int  pki_revoke(pki_ca *ca, const char *key, size_t *n_revoked, char *err,
                size_t err_len) __attribute__((warn_unused_result));

/* Re-sign the CRL from the index with lastUpdate now and nextUpdate
 * now + PKI_CRL_DAYS. */
int  pki_crl_refresh(pki_ca *ca, char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* -- enrollment (ctl/device.c, ctl/enroll.c) ---------------------------- */

/* SHA-256 of an enrollment code as typed: letters upper-cased, '-' and
 * blanks dropped (ctl/enroll.c). */
void ctl_enroll_code_hash(const char *code, unsigned char out[32]);
/* Issue tenant's device a certificate for its own public key (an
 * EVP_PKEY *) inside db's open transaction: registered (or re-issued, at
 * once) and audited device.enroll.  0: *is_out and *ca_out (locked: close
 * it after the commit); -1: err, a short reason for the log. */
int  ctl_device_enroll_issue(PGconn *db, const char *pki, const char *tenant,
                             const char *tid, const char *device,
                             void *pubkey, int days, pki_ca **ca_out,
                             pki_issued **is_out, char *err, size_t err_len)
     __attribute__((warn_unused_result));
/* The CSR of body (base64 DER, line breaks allowed; hostile input): its
 * public key (an EVP_PKEY *, the caller frees) when its signature verifies
 * and the key is EC P-256; NULL with *why, a fixed reason. */
void *ctl_enroll_csr_key(const char *body, size_t len, const char **why);
/* `cofferctl device enroll-serve`: runs until SIGTERM or SIGINT. */
int  ctl_enroll_serve(const char *tenant, const char *listen,
                      const char *cert, const char *key, const char *pki,
                      const char *config, int days);

#endif
