/* api/config.h — coffer-api configuration.
 *
 * File format: one `key = value` per line, '#' starts a comment; unknown
 * keys, a key given twice, malformed or out-of-range values and missing
 * required keys are start-up errors naming the file, the line and the key.
 * Every option is listed in api_config_defaults() and documented in the
 * README ("API configuration").
 */
#ifndef COFFER_API_CONFIG_H
#define COFFER_API_CONFIG_H

#include <stddef.h>

#define API_PATH_MAX 1024U

typedef struct api_config {
	/* network */
	char     listen[128];             /* "HOST:PORT", required (TLS) */
	char     metrics_listen[128];     /* loopback "HOST:PORT"; "" disables */
	char     user[64];                /* drop to this user when started as root */
	/* TLS: the server identity and the people CA */
	char     cert_file[API_PATH_MAX]; /* server certificate chain (PEM) */
	char     key_file[API_PATH_MAX];  /* server private key (PEM, 0600) */
	char     people_ca[API_PATH_MAX]; /* PKI/people/ca.pem */
	char     people_crl[API_PATH_MAX];/* PKI/people/crl.pem (required: fail closed) */
	/* secrets and storage */
	char     keys_dir[API_PATH_MAX];  /* <dir>/<tenant>.bik blind-index keys */
	char     productions_dir[API_PATH_MAX]; /* sealed productions are written here */
	char     blind_dir[API_PATH_MAX]; /* matters' blinding seeds (keeper only);
	                                     "" = <productions_dir>.blind, beside it:
	                                     never inside, the front reads that */
	char     signing_key_file[API_PATH_MAX];/* Ed25519 node key (kind api): signs
	                                     every audit event (required to run) */
	char     node_name[64];           /* with signing_key_file: the API node name */
	char     audit_witness_file[API_PATH_MAX]; /* optional: signed audit heads
	                                     appended after COMMIT */
	char     node_pins_file[API_PATH_MAX]; /* optional: node keys pinned (issue 12) */
	char     pg_conninfo[1024];       /* "" = libpq defaults (PG* environment) */
	int      landlock_required;       /* 1: refuse to start without Landlock */
	/* concurrency */
	unsigned threads;                 /* request threads (MHD pool), 4 */
	unsigned job_threads;             /* concurrent production builds, 1 */
	unsigned db_connections;          /* pooled connections for requests, 8 */
	unsigned max_connections;         /* concurrent TLS connections, 256 */
	unsigned connection_timeout_s;    /* idle/slow client bound, 30 */
	/* limits */
	size_t   max_body_bytes;          /* request bodies, 1 MiB */
	size_t   max_approval_bytes;      /* approval bodies (one partial per epoch), 16 MiB */
	unsigned audit_page_max;          /* events per GET /v1/audit, 10000 */
	unsigned possession_window_days;  /* a proof of possession counts this
	                                     long (GET /v1/possession), 90 */
	/* per-user token buckets: rate per minute and burst */
	double   approval_rate;           /* 6/min */
	unsigned approval_burst;          /* 3 */
	double   search_rate;             /* matter create/show/list, audit, verify: 60/min */
	unsigned search_burst;            /* 20 */
	/* per client address, for refused requests (probes) */
	double   refusal_rate;            /* 60/min */
	unsigned refusal_burst;           /* 60 */
} api_config;

void api_config_defaults(api_config *c);

/* Load path over the defaults.  0, or -1 with "FILE:LINE: message". */
int  api_config_load(api_config *c, const char *path, char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* "HOST:PORT" or "[V6]:PORT" (port 1..65535) into its parts; 0 or -1. */
int  api_config_split_addr(const char *addr, char *host, size_t host_cap,
                           char *port, size_t port_cap)
     __attribute__((warn_unused_result));

/* 1 when host is "localhost", an IPv4 address in 127/8 or "::1". */
int  api_config_host_is_loopback(const char *host);

#endif
