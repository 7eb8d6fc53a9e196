/* api/config.c — the coffer-api configuration file.
 *
 * Format, one setting a line:
 *
 *     # a comment line
 *     key = value            # an inline comment after blank space
 *     key = "quoted value"   # keeps blanks and '#'; \" and \\ escape
 *     key =                  # empty string (e.g. disables metrics_listen)
 *
 * Sizes accept a binary suffix (k/K/KiB, m/M/MiB, g/G/GiB); rates are
 * decimal numbers per minute; other numbers plain decimal.
 *
 * The file, line and key machinery is common/conf.c; this file holds the
 * option table, the value syntax and the API's wording of every error.
 *
 * Trusts: nothing in the file.  Values are length- and range-checked before
 * they reach the struct; errors quote at most a short printable prefix of a
 * value and never pg_conninfo (it may hold a password).
 */
#include "api/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/conf.h"
#include "common/log.h"

#define CFG_FILE_MAX  (1024U * 1024U)
#define CFG_LINE_MAX  4096U

typedef enum cfg_kind {
	CFG_STR,       /* char[len] */
	CFG_ADDR,      /* char[len], "" or HOST:PORT */
	CFG_SECRET,    /* char[len], never echoed */
	CFG_SIZE,      /* size_t, optional binary suffix */
	CFG_UINT,      /* unsigned */
	CFG_RATE,      /* double */
	CFG_BOOL       /* int 0/1 (common/conf.h's words) */
} cfg_kind;

#define OFF(f) offsetof(api_config, f)
#define LEN(f) sizeof(((api_config *)0)->f)
#define KIB    1024.0
#define MIB    (1024.0 * 1024.0)
#define GIB    (1024.0 * 1024.0 * 1024.0)

static const conf_opt cfg_opts[] = {
	{ "listen",               CFG_ADDR,   OFF(listen), LEN(listen), 0, 0, 1 },
	{ "metrics_listen",       CFG_ADDR,   OFF(metrics_listen), LEN(metrics_listen), 0, 0, 0 },
	{ "user",                 CFG_STR,    OFF(user), LEN(user), 0, 0, 0 },
	{ "cert_file",            CFG_STR,    OFF(cert_file), LEN(cert_file), 0, 0, 1 },
	{ "key_file",             CFG_STR,    OFF(key_file), LEN(key_file), 0, 0, 1 },
	{ "people_ca",            CFG_STR,    OFF(people_ca), LEN(people_ca), 0, 0, 1 },
	{ "people_crl",           CFG_STR,    OFF(people_crl), LEN(people_crl), 0, 0, 1 },
	{ "keys_dir",             CFG_STR,    OFF(keys_dir), LEN(keys_dir), 0, 0, 1 },
	{ "productions_dir",      CFG_STR,    OFF(productions_dir), LEN(productions_dir), 0, 0, 1 },
	{ "blind_dir",            CFG_STR,    OFF(blind_dir), LEN(blind_dir), 0, 0, 0 },
	{ "signing_key_file",     CFG_STR,    OFF(signing_key_file), LEN(signing_key_file), 0, 0, 0 },
	{ "node_name",            CFG_STR,    OFF(node_name), LEN(node_name), 0, 0, 0 },
	{ "node_pins_file",       CFG_STR,    OFF(node_pins_file), LEN(node_pins_file), 0, 0, 0 },
	{ "audit_witness_file",   CFG_STR,    OFF(audit_witness_file), LEN(audit_witness_file), 0, 0, 0 },
	{ "pg_conninfo",          CFG_SECRET, OFF(pg_conninfo), LEN(pg_conninfo), 0, 0, 0 },
	{ "landlock_required",    CFG_BOOL,   OFF(landlock_required), 0, 0, 1, 0 },
	{ "threads",              CFG_UINT,   OFF(threads), 0, 1, 64, 0 },
	{ "job_threads",          CFG_UINT,   OFF(job_threads), 0, 1, 16, 0 },
	{ "db_connections",       CFG_UINT,   OFF(db_connections), 0, 1, 256, 0 },
	{ "max_connections",      CFG_UINT,   OFF(max_connections), 0, 1, 100000, 0 },
	{ "connection_timeout_s", CFG_UINT,   OFF(connection_timeout_s), 0, 1, 3600, 0 },
	{ "max_body_bytes",       CFG_SIZE,   OFF(max_body_bytes), 0, 1 * KIB, 64 * MIB, 0 },
	{ "max_approval_bytes",   CFG_SIZE,   OFF(max_approval_bytes), 0, 1 * KIB, 1 * GIB, 0 },
	{ "audit_page_max",       CFG_UINT,   OFF(audit_page_max), 0, 1, 1000000, 0 },
	{ "possession_window_days", CFG_UINT, OFF(possession_window_days), 0, 1, 3650, 0 },
	{ "approval_rate",        CFG_RATE,   OFF(approval_rate), 0, 0.01, 100000, 0 },
	{ "approval_burst",       CFG_UINT,   OFF(approval_burst), 0, 1, 100000, 0 },
	{ "search_rate",          CFG_RATE,   OFF(search_rate), 0, 0.01, 100000, 0 },
	{ "search_burst",         CFG_UINT,   OFF(search_burst), 0, 1, 100000, 0 },
	{ "refusal_rate",         CFG_RATE,   OFF(refusal_rate), 0, 0.01, 100000, 0 },
	{ "refusal_burst",        CFG_UINT,   OFF(refusal_burst), 0, 1, 100000, 0 },
};

void
api_config_defaults(api_config *c)
{
	memset(c, 0, sizeof(*c));
	c->threads = 4;
	c->job_threads = 1;
	c->db_connections = 8;
	c->max_connections = 256;
	c->connection_timeout_s = 30;
	c->max_body_bytes = 1024U * 1024U;
	c->max_approval_bytes = 16U * 1024U * 1024U;
	c->audit_page_max = 10000;
	c->possession_window_days = 90;
	c->approval_rate = 6.0;
	c->approval_burst = 3;
	c->search_rate = 60.0;
	c->search_burst = 20;
	c->refusal_rate = 60.0;
	c->refusal_burst = 60;
}

int
api_config_split_addr(const char *addr, char *host, size_t host_cap,
    char *port, size_t port_cap)
{
	const char *colon, *h, *end;
	size_t hl, pl, i;
	long v;

	if (host_cap > 0)
		host[0] = '\0';
	if (port_cap > 0)
		port[0] = '\0';
	if (addr == NULL || addr[0] == '\0')
		return -1;
	if (addr[0] == '[') {
		end = strchr(addr, ']');
		if (end == NULL || end[1] != ':')
			return -1;
		h = addr + 1;
		hl = (size_t)(end - h);
		colon = end + 1;
	} else {
		colon = strrchr(addr, ':');
		if (colon == NULL || memchr(addr, ':', (size_t)(colon - addr)) != NULL)
			return -1;
		h = addr;
		hl = (size_t)(colon - addr);
	}
	pl = strlen(colon + 1);
	if (hl == 0 || hl >= host_cap || pl == 0 || pl > 5 || pl >= port_cap)
		return -1;
	for (i = 0; i < pl; i++)
		if (colon[1 + i] < '0' || colon[1 + i] > '9')
			return -1;
	v = strtol(colon + 1, NULL, 10);
	if (v < 1 || v > 65535)
		return -1;
	for (i = 0; i < hl; i++)
		if ((unsigned char)h[i] <= 0x20 || (unsigned char)h[i] >= 0x7f)
			return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	memcpy(port, colon + 1, pl);
	port[pl] = '\0';
	return 0;
}

int
api_config_host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (strcmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

static int
cfg_err(char *err, size_t err_len, const char *path, unsigned line,
    const char *fmt, const char *a, const char *b)
{
	char msg[512];

	snprintf(msg, sizeof(msg), fmt, a != NULL ? a : "", b != NULL ? b : "");
	if (line > 0)
		snprintf(err, err_len, "%s:%u: %s", path, line, msg);
	else
		snprintf(err, err_len, "%s: %s", path, msg);
	return -1;
}

/* Parse a decimal number with an optional binary suffix (sizes only). */
static int
cfg_number(const char *s, int allow_suffix, int allow_fraction, double *out)
{
	char *end;
	double v;
	unsigned long long mul = 1;

	if (*s == '\0' || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || !isfinite(v))
		return -1;
	if (!allow_fraction && v != floor(v))
		return -1;
	if (strncasecmp(s, "0x", 2) == 0 || strchr(s, 'e') != NULL ||
	    strchr(s, 'E') != NULL || strchr(s, 'n') != NULL ||
	    strchr(s, 'N') != NULL)
		return -1;
	if (*end != '\0') {
		if (!allow_suffix)
			return -1;
		if (conf_size_suffix(end, &mul) != 0)
			return -1;
	}
	*out = v * (double)mul;
	return 0;
}

static int
cfg_set(void *c, const conf_opt *o, const char *val, const char *path,
    unsigned line, char *err, size_t err_len)
{
	char shown[40], host[128], port[8];
	char *base = (char *)c + o->off;
	double v;
	int b;

	switch (o->kind) {
	case CFG_STR:
	case CFG_ADDR:
	case CFG_SECRET:
		if (strlen(val) >= o->len) {
			snprintf(shown, sizeof(shown), "%zu", o->len - 1);
			return cfg_err(err, err_len, path, line,
			    "%s: value longer than %s bytes", o->name, shown);
		}
		if (o->kind == CFG_ADDR && val[0] != '\0' &&
		    api_config_split_addr(val, host, sizeof(host), port,
		    sizeof(port)) != 0)
			return cfg_err(err, err_len, path, line,
			    "%s: '%s' is not HOST:PORT or [V6]:PORT", o->name,
			    log_printable(shown, sizeof(shown), val, strlen(val)));
		memcpy(base, val, strlen(val) + 1);
		return 0;
	case CFG_BOOL:
		if (conf_parse_bool(val, &b) != 0)
			return cfg_err(err, err_len, path, line, "%s: not a boolean "
			    "(use 0/1, yes/no, true/false, on/off)%s", o->name, NULL);
		*(int *)(void *)(base + o->off) = b;
		return 0;
	case CFG_SIZE:
	case CFG_UINT:
	case CFG_RATE:
		if (cfg_number(val, o->kind == CFG_SIZE, o->kind == CFG_RATE,
		    &v) != 0 || v < o->min || v > o->max) {
			char range[64];

			snprintf(range, sizeof(range), "%.10g..%.10g", o->min, o->max);
			return cfg_err(err, err_len, path, line,
			    "%s: invalid value (expected a number in %s)", o->name,
			    range);
		}
		if (o->kind == CFG_SIZE)
			*(size_t *)(void *)base = (size_t)v;
		else if (o->kind == CFG_UINT)
			*(unsigned *)(void *)base = (unsigned)v;
		else
			*(double *)(void *)base = v;
		return 0;
	}
	return -1;
}

static void
cfg_fault(conf_fault f, const char *path, unsigned lineno, const char *key,
    size_t max_line, char *err, size_t err_len)
{
	char shown[65];
	const char *fmt = NULL, *arg = NULL;

	(void)max_line;
	switch (f) {
	case CONF_READ:
		/* util_read_file's message, capped as it always was */
		if (err_len > 256)
			err[255] = '\0';
		return;
	case CONF_NUL:          fmt = "NUL byte in file%s%s"; break;
	case CONF_LINE_LONG:    fmt = "line too long%s%s"; break;
	case CONF_SYNTAX:       fmt = "expected 'key = value'%s%s"; break;
	case CONF_UNTERMINATED: fmt = "unterminated quoted value%s%s"; break;
	case CONF_AFTER_QUOTE:  fmt = "text after the quoted value%s%s"; break;
	case CONF_CONTROL:      fmt = "control character in value%s%s"; break;
	case CONF_UNKNOWN:
		arg = log_printable(shown, sizeof(shown), key, strlen(key));
		fmt = "unknown key '%s'%s";
		break;
	case CONF_TWICE:        fmt = "%s given twice%s"; arg = key; break;
	case CONF_REQUIRED:     fmt = "%s is required%s"; arg = key; break;
	}
	if (fmt != NULL)
		cfg_err(err, err_len, path, lineno, fmt, arg, NULL);
}

static const conf_parser cfg_parser = {
	.opts = cfg_opts,
	.nopts = sizeof(cfg_opts) / sizeof(cfg_opts[0]),
	.max_file = CFG_FILE_MAX,
	.max_line = CFG_LINE_MAX - 1,
	.flags = CONF_CR_IN_VALUE,
	.set = cfg_set,
	.fault = cfg_fault,
};

int
api_config_load(api_config *c, const char *path, char *err, size_t err_len)
{
	char host[128], port[8];

	if (conf_load(&cfg_parser, c, path, err, err_len) != 0)
		return -1;
	if (c->metrics_listen[0] != '\0') {
		if (api_config_split_addr(c->metrics_listen, host, sizeof(host),
		    port, sizeof(port)) != 0 || !api_config_host_is_loopback(host)) {
			cfg_err(err, err_len, path, 0, "metrics_listen must be a "
			    "loopback address (127.0.0.0/8, ::1 or localhost)%s%s",
			    NULL, NULL);
			return -1;
		}
		if (strcmp(c->metrics_listen, c->listen) == 0) {
			cfg_err(err, err_len, path, 0, "metrics_listen must differ "
			    "from listen%s%s", NULL, NULL);
			return -1;
		}
	}
	if ((c->signing_key_file[0] != '\0') != (c->node_name[0] != '\0')) {
		cfg_err(err, err_len, path, 0, "signing_key_file and node_name go "
		    "together%s%s", NULL, NULL);
		return -1;
	}
	if (c->max_approval_bytes < c->max_body_bytes)
		c->max_approval_bytes = c->max_body_bytes;
	/* the seeds beside productions_dir, never inside it: the front may
	 * read everything beneath productions_dir (downloads) */
	if (c->blind_dir[0] == '\0' &&
	    (size_t)snprintf(c->blind_dir, sizeof(c->blind_dir), "%s.blind",
	    c->productions_dir) >= sizeof(c->blind_dir)) {
		cfg_err(err, err_len, path, 0, "blind_dir: path too long%s%s",
		    NULL, NULL);
		return -1;
	}
	return 0;
}
