/* gateway/config.c — coffer-gateway configuration file.
 *
 * Format, one setting a line:
 *
 *     # a comment line
 *     key = value            # an inline comment after blank space
 *     key = "quoted value"   # keeps blanks and '#'; \" and \\ escape
 *     key =                  # empty string (e.g. disables metrics_listen)
 *
 * Sizes accept a binary suffix (k/K/KiB, m/M/MiB, g/G/GiB); other numbers
 * are plain decimal.  crl_required and privsep take 0/1, yes/no, true/false, on/off.
 * Unknown keys, a key given twice, malformed or out-of-range values and
 * missing required options are errors that name the file, the line and the
 * option, so a bad configuration stops the gateway at start-up.
 *
 * The file, line and key machinery is common/conf.c; this file holds the
 * option table, the value syntax and the gateway's wording of every error.
 *
 * Trusts: nothing in the file; values are length- and range-checked before
 * they reach the struct.  Errors never echo more than a short, printable
 * prefix of a value (pg_conninfo may hold a password: it is never echoed).
 */
#include "gateway/config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "common/log.h"

#define CFG_FILE_MAX   (1024U * 1024U)
#define CFG_LINE_MAX   4096U

typedef enum cfg_kind {
	CFG_STR,        /* char[len] */
	CFG_ADDR,       /* char[len], "" or HOST:PORT */
	CFG_SIZE,       /* size_t, optional binary suffix */
	CFG_UINT,       /* unsigned */
	CFG_DOUBLE,     /* double */
	CFG_BOOL,       /* int 0/1 */
	CFG_SECRET      /* char[len], never echoed in errors */
} cfg_kind;

#define OFF(f)   offsetof(gw_config, f)
#define LEN(f)   sizeof(((gw_config *)0)->f)
#define KIB      1024.0
#define MIB      (1024.0 * 1024.0)
#define GIB      (1024.0 * 1024.0 * 1024.0)

static const conf_opt cfg_opts[] = {
	{ "listen",                  CFG_ADDR,   OFF(listen), LEN(listen), 0, 0, 1 },
	{ "metrics_listen",          CFG_ADDR,   OFF(metrics_listen), LEN(metrics_listen), 0, 0, 0 },
	{ "user",                    CFG_STR,    OFF(user), LEN(user), 0, 0, 0 },
	{ "cert_file",               CFG_STR,    OFF(cert_file), LEN(cert_file), 0, 0, 1 },
	{ "key_file",                CFG_STR,    OFF(key_file), LEN(key_file), 0, 0, 1 },
	{ "device_ca_dir",           CFG_STR,    OFF(device_ca_dir), LEN(device_ca_dir), 0, 0, 1 },
	{ "crl_required",            CFG_BOOL,   OFF(crl_required), 0, 0, 1, 0 },
	{ "node_name",               CFG_STR,    OFF(node_name), LEN(node_name), 0, 0, 1 },
	{ "signing_key_file",        CFG_STR,    OFF(signing_key_file), LEN(signing_key_file), 0, 0, 1 },
	{ "keys_dir",                CFG_STR,    OFF(keys_dir), LEN(keys_dir), 0, 0, 1 },
	{ "privsep",                 CFG_BOOL,   OFF(privsep), 0, 0, 1, 0 },
	{ "landlock_required",       CFG_BOOL,   OFF(landlock_required), 0, 0, 1, 0 },
	{ "witness_file",            CFG_STR,    OFF(witness_file), LEN(witness_file), 0, 0, 0 },
	{ "pg_conninfo",             CFG_SECRET, OFF(pg_conninfo), LEN(pg_conninfo), 0, 0, 0 },
	{ "max_header_bytes",        CFG_SIZE,   OFF(max_header_bytes), 0, 1 * KIB, 1 * MIB, 0 },
	{ "max_body_bytes",          CFG_SIZE,   OFF(max_body_bytes), 0, 1 * KIB, 1 * GIB, 0 },
	{ "max_line_bytes",          CFG_SIZE,   OFF(max_line_bytes), 0, 1 * KIB, 1 * GIB, 0 },
	{ "max_records_per_request", CFG_UINT,   OFF(max_records_per_request), 0, 1, 1000000, 0 },
	{ "max_connections",         CFG_UINT,   OFF(max_connections), 0, 1, 1000000, 0 },
	{ "max_connections_per_address", CFG_UINT, OFF(max_connections_per_address), 0, 0, 1000000, 0 },
	{ "idle_timeout_s",          CFG_UINT,   OFF(idle_timeout_s), 0, 1, 3600, 0 },
	{ "header_timeout_s",        CFG_UINT,   OFF(header_timeout_s), 0, 1, 600, 0 },
	{ "body_timeout_s",          CFG_UINT,   OFF(body_timeout_s), 0, 1, 3600, 0 },
	{ "device_rate",             CFG_DOUBLE, OFF(device_rate), 0, 0.01, 1000000, 0 },
	{ "device_burst",            CFG_UINT,   OFF(device_burst), 0, 1, 1000000, 0 },
	{ "workers",                 CFG_UINT,   OFF(workers), 0, 1, 256, 0 },
	{ "batch_max_records",       CFG_UINT,   OFF(batch_max_records), 0, 1, 100000, 0 },
	{ "batch_max_ms",            CFG_UINT,   OFF(batch_max_ms), 0, 0, 10000, 0 },
	{ "epoch_seconds",           CFG_UINT,   OFF(epoch_seconds), 0, 1, 86400, 0 },
	{ "epoch_records",           CFG_UINT,   OFF(epoch_records), 0, 1, 100000000, 0 },
	{ "device_refresh_s",        CFG_UINT,   OFF(device_refresh_s), 0, 1, 86400, 0 },
	{ "capture_metrics_s",       CFG_UINT,   OFF(capture_metrics_s), 0, 0, 86400, 0 },
	{ "capture_silence_s",       CFG_UINT,   OFF(capture_silence_s), 0, 1, 31622400, 0 },
};


void
gw_config_defaults(gw_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->listen, sizeof(c->listen), "127.0.0.1:8443");
	snprintf(c->metrics_listen, sizeof(c->metrics_listen), "127.0.0.1:9443");
	c->crl_required = 1;
	c->privsep = 1;
	c->max_header_bytes = 16U * 1024U;
	c->max_body_bytes = 64U * 1024U * 1024U;
	c->max_line_bytes = 16U * 1024U * 1024U;
	c->max_records_per_request = 10000;
	c->max_connections = 10000;
	c->max_connections_per_address = 256;
	c->idle_timeout_s = 60;
	c->header_timeout_s = 10;
	c->body_timeout_s = 60;
	c->device_rate = 50.0;
	c->device_burst = 100;
	c->workers = 2;
	c->batch_max_records = 2000;
	c->batch_max_ms = 5;
	c->epoch_seconds = 60;
	c->epoch_records = 100000;
	c->device_refresh_s = 30;
	c->capture_metrics_s = 300;
	c->capture_silence_s = 3600;
}

int
gw_config_split_addr(const char *addr, char *host, size_t host_cap,
    char *port, size_t port_cap)
{
	const char *colon, *h;
	size_t hlen, plen, i;
	unsigned long pn;

	if (host_cap > 0)
		host[0] = '\0';
	if (port_cap > 0)
		port[0] = '\0';
	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');
		if (close == NULL || close[1] != ':')
			return -1;
		h = addr + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(addr, ':');
		if (colon == NULL)
			return -1;
		h = addr;
		hlen = (size_t)(colon - addr);
		if (memchr(h, ':', hlen) != NULL)   /* bare IPv6 needs brackets */
			return -1;
	}
	if (hlen == 0 || hlen >= host_cap)
		return -1;
	for (i = 0; i < hlen; i++) {
		unsigned char ch = (unsigned char)h[i];
		if (ch <= 0x20 || ch >= 0x7f || ch == '/' || ch == '[' || ch == ']')
			return -1;
	}
	plen = strlen(colon + 1);
	if (plen == 0 || plen > 5 || plen >= port_cap)
		return -1;
	for (i = 0; i < plen; i++)
		if (colon[1 + i] < '0' || colon[1 + i] > '9')
			return -1;
	pn = strtoul(colon + 1, NULL, 10);
	if (pn < 1 || pn > 65535)
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memcpy(port, colon + 1, plen + 1);
	return 0;
}

/* Short printable rendering of a peer/file-supplied value for an error. */
static const char *
cfg_show(char *buf, size_t cap, const char *s)
{
	return log_printable(buf, cap, s, strlen(s));
}

static int
cfg_parse_double(const char *v, double *out)
{
	char *end = NULL;
	double d;
	size_t i;

	/* digits and at most one '.', nothing else (no sign, exponent, inf) */
	for (i = 0; v[i] != '\0'; i++)
		if ((v[i] < '0' || v[i] > '9') && v[i] != '.')
			return -1;
	if (v[0] == '\0' || v[0] == '.' || strchr(v, '.') != strrchr(v, '.'))
		return -1;
	errno = 0;
	d = strtod(v, &end);
	if (errno != 0 || end == v || *end != '\0' || !isfinite(d))
		return -1;
	*out = d;
	return 0;
}

/* Format a range bound without trailing zeros ("0.01", "1048576"). */
static void
cfg_fmt_num(char *buf, size_t cap, double d)
{
	if (d == floor(d) && d < 1e18)
		snprintf(buf, cap, "%.0f", d);
	else
		snprintf(buf, cap, "%g", d);
}

static int
cfg_set(void *c, const conf_opt *o, const char *val, const char *path,
    unsigned lineno, char *err, size_t err_len)
{
	char *base = c;
	char shown[64], lo[32], hi[32];
	double d = 0;
	int b = 0;

	switch (o->kind) {
	case CFG_STR:
	case CFG_SECRET:
	case CFG_ADDR:
		if (strlen(val) >= o->len) {
			snprintf(err, err_len, "%s:%u: %s: value longer than %zu bytes",
			    path, lineno, o->name, o->len - 1);
			return -1;
		}
		if (o->kind == CFG_ADDR && val[0] != '\0') {
			char h[128], p[8];
			if (gw_config_split_addr(val, h, sizeof(h), p, sizeof(p)) != 0) {
				snprintf(err, err_len, "%s:%u: %s: '%s' is not HOST:PORT "
				    "(IPv6 as [ADDR]:PORT, port 1..65535)", path, lineno,
				    o->name, cfg_show(shown, sizeof(shown), val));
				return -1;
			}
		}
		memcpy(base + o->off, val, strlen(val) + 1);
		return 0;
	case CFG_BOOL:
		if (conf_parse_bool(val, &b) != 0) {
			snprintf(err, err_len, "%s:%u: %s: '%s' is not a boolean "
			    "(use 0/1, yes/no, true/false, on/off)", path, lineno,
			    o->name, cfg_show(shown, sizeof(shown), val));
			return -1;
		}
		*(int *)(void *)(base + o->off) = b;
		return 0;
	case CFG_SIZE:
	case CFG_UINT:
	case CFG_DOUBLE:
		if ((o->kind == CFG_DOUBLE && cfg_parse_double(val, &d) != 0) ||
		    (o->kind != CFG_DOUBLE &&
		    conf_parse_number(val, o->kind == CFG_SIZE, &d) != 0)) {
			snprintf(err, err_len, "%s:%u: %s: '%s' is not a %s", path,
			    lineno, o->name, cfg_show(shown, sizeof(shown), val),
			    o->kind == CFG_SIZE ? "size (bytes, optional k/M/G suffix)" :
			    o->kind == CFG_DOUBLE ? "decimal number" : "whole number");
			return -1;
		}
		if (d < o->min || d > o->max) {
			cfg_fmt_num(lo, sizeof(lo), o->min);
			cfg_fmt_num(hi, sizeof(hi), o->max);
			snprintf(err, err_len, "%s:%u: %s: %s is out of range (%s..%s)",
			    path, lineno, o->name, cfg_show(shown, sizeof(shown), val),
			    lo, hi);
			return -1;
		}
		if (o->kind == CFG_SIZE)
			*(size_t *)(void *)(base + o->off) = (size_t)d;
		else if (o->kind == CFG_UINT)
			*(unsigned *)(void *)(base + o->off) = (unsigned)d;
		else
			*(double *)(void *)(base + o->off) = d;
		return 0;
	}
	return -1;
}

static const conf_parser cfg_parser = {
	.opts = cfg_opts,
	.nopts = sizeof(cfg_opts) / sizeof(cfg_opts[0]),
	.max_file = CFG_FILE_MAX,
	.max_line = CFG_LINE_MAX,
	.flags = CONF_STRIP_CR,
	.set = cfg_set,
	.fault = conf_fault_message,
};

int
gw_config_load(gw_config *c, const char *path, char *err, size_t err_len)
{
	if (conf_load(&cfg_parser, c, path, err, err_len) != 0)
		return -1;
	if (c->max_line_bytes > c->max_body_bytes) {
		snprintf(err, err_len, "%s: max_line_bytes (%zu) must not exceed "
		    "max_body_bytes (%zu)", path, c->max_line_bytes,
		    c->max_body_bytes);
		return -1;
	}
	if (c->metrics_listen[0] != '\0' &&
	    strcmp(c->metrics_listen, c->listen) == 0) {
		snprintf(err, err_len, "%s: metrics_listen must differ from listen",
		    path);
		return -1;
	}
	return 0;
}
