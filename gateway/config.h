/* gateway/config.h — coffer-gateway configuration.
 *
 * File format: one `key = value` per line, '#' starts a comment, unknown
 * keys and malformed values are start-up errors naming the line.  Every
 * option has a safe default (gw_config_defaults) and is documented in the
 * README ("Gateway configuration"); a test compares the two lists.
 */
#ifndef COFFER_GATEWAY_CONFIG_H
#define COFFER_GATEWAY_CONFIG_H

#include <stddef.h>

#define GW_PATH_MAX 1024

typedef struct gw_config {
	/* network */
	char     listen[128];            /* "127.0.0.1:8443" */
	char     metrics_listen[128];    /* "127.0.0.1:9443"; "" disables */
	char     user[64];               /* drop to this user after binding when root */
	/* TLS: server identity and the device CAs */
	char     cert_file[GW_PATH_MAX]; /* server certificate chain (PEM) */
	char     key_file[GW_PATH_MAX];  /* server private key (PEM, 0600) */
	char     device_ca_dir[GW_PATH_MAX]; /* <dir>/<tenant>/ca.pem and crl.pem */
	int      crl_required;           /* 1: missing/expired CRL refuses (default 1) */
	/* identity of this node and the secrets it holds */
	char     node_name[64];          /* registered with `cofferctl node init` */
	char     signing_key_file[GW_PATH_MAX]; /* Ed25519 checkpoint key (0600) */
	char     keys_dir[GW_PATH_MAX];  /* <dir>/<tenant>.bik blind-index keys (0600) */
	char     witness_file[GW_PATH_MAX]; /* checkpoints appended here; "" disables */
	int      privsep;                /* 1: keys only in a sealer process,
	                                  * the network process sandboxed
	                                  * (default 1; 0 for measurement) */
	int      landlock_required;      /* 1: refuse to start without Landlock
	                                  * (default 0: seccomp alone, logged) */
	/* database */
	char     pg_conninfo[1024];      /* "" = libpq defaults (PG* environment) */
	/* limits */
	size_t   max_header_bytes;       /* 16 KiB */
	size_t   max_body_bytes;         /* 64 MiB */
	size_t   max_line_bytes;         /* 16 MiB */
	unsigned max_records_per_request;/* 10000 */
	unsigned max_connections;        /* 10000 */
	unsigned max_connections_per_address; /* from one peer address, 256;
	                                 * 0 = no per-address limit */
	unsigned idle_timeout_s;         /* 60 */
	unsigned header_timeout_s;       /* 10 */
	unsigned body_timeout_s;         /* 60 */
	double   device_rate;            /* requests/s per device, 50 */
	unsigned device_burst;           /* 100 */
	/* pipeline */
	unsigned workers;                /* parsing/sealing threads, 2 */
	unsigned batch_max_records;      /* group commit size bound, 2000 */
	unsigned batch_max_ms;           /* group commit time bound, 5 */
	unsigned epoch_seconds;          /* 60 */
	unsigned epoch_records;          /* 100000 */
	unsigned device_refresh_s;       /* device cache refresh, 30 */
	unsigned capture_metrics_s;      /* capture report for metrics, 300; 0 off */
	unsigned capture_silence_s;      /* a device silent after, 3600 */
} gw_config;

void gw_config_defaults(gw_config *c);
int  gw_config_load(gw_config *c, const char *path, char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* Split a listen address "HOST:PORT" or "[V6]:PORT" (port 1..65535) into
 * its parts; 0 or -1.  Used by the loader to validate `listen` and
 * `metrics_listen`, and by net.c to bind them. */
int  gw_config_split_addr(const char *addr, char *host, size_t host_cap,
                          char *port, size_t port_cap)
     __attribute__((warn_unused_result));

#endif
