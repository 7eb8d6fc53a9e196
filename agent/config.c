/* agent/config.c — coffer-agent's option table, value syntax and wording
 * of every error; the file, line and key machinery is common/conf.c.
 *
 * Trusts: nothing in the file.  Values are length- and range-checked
 * before they reach the struct; an error echoes at most a short printable
 * prefix of a value.
 */
#include "agent/config.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/util.h"

#define ACF_FILE_MAX  (256U * 1024U)
#define ACF_LINE_MAX  4096U

typedef enum acf_kind {
	ACF_STR,        /* char[len], absolute path or URL checked later */
	ACF_PATH,       /* char[len], an absolute path */
	ACF_URL,        /* char[len], https://HOST:PORT */
	ACF_SIZE,       /* size_t, optional binary suffix */
	ACF_UINT,       /* unsigned */
	ACF_BOOL        /* int 0/1 */
} acf_kind;

#define OFF(f)  offsetof(agent_config, f)
#define LEN(f)  sizeof(((agent_config *)0)->f)
#define KIB     1024.0
#define MIB     (1024.0 * 1024.0)
#define GIB     (1024.0 * 1024.0 * 1024.0)

static const conf_opt acf_opts[] = {
	{ "gateway_url",        ACF_URL,  OFF(gateway_url), LEN(gateway_url), 0, 0, 1 },
	{ "server_ca_file",     ACF_PATH, OFF(server_ca_file), LEN(server_ca_file), 0, 0, 1 },
	{ "cert_file",          ACF_PATH, OFF(cert_file), LEN(cert_file), 0, 0, 1 },
	{ "key_file",           ACF_PATH, OFF(key_file), LEN(key_file), 0, 0, 1 },
	{ "spool_dir",          ACF_PATH, OFF(spool_dir), LEN(spool_dir), 0, 0, 1 },
	{ "state_dir",          ACF_PATH, OFF(state_dir), LEN(state_dir), 0, 0, 1 },
	{ "capture_seq",        ACF_BOOL, OFF(capture_seq), 0, 0, 1, 0 },
	{ "heartbeat",          ACF_BOOL, OFF(heartbeat), 0, 0, 1, 0 },
	{ "heartbeat_s",        ACF_UINT, OFF(heartbeat_s), 0, 1, 86400, 0 },
	{ "batch_max_records",  ACF_UINT, OFF(batch_max_records), 0, 1, 100000, 0 },
	{ "batch_max_bytes",    ACF_SIZE, OFF(batch_max_bytes), 0, 1 * KIB, 1 * GIB, 0 },
	{ "outbox_max_records", ACF_UINT, OFF(outbox_max_records), 0, 1, 100000000, 0 },
	{ "outbox_max_bytes",   ACF_SIZE, OFF(outbox_max_bytes), 0, 1 * KIB, 64 * GIB, 0 },
	{ "retry_min_ms",       ACF_UINT, OFF(retry_min_ms), 0, 10, 60000, 0 },
	{ "retry_max_s",        ACF_UINT, OFF(retry_max_s), 0, 1, 86400, 0 },
	{ "request_timeout_s",  ACF_UINT, OFF(request_timeout_s), 0, 1, 3600, 0 },
	{ "spool_poll_ms",      ACF_UINT, OFF(spool_poll_ms), 0, 10, 60000, 0 },
};

void
agent_config_defaults(agent_config *c)
{
	memset(c, 0, sizeof(*c));
	c->capture_seq = 1;
	c->heartbeat = 1;
	c->heartbeat_s = 60;
	c->batch_max_records = 500;
	c->batch_max_bytes = 4U * 1024U * 1024U;
	c->outbox_max_records = 1000000;
	c->outbox_max_bytes = 256U * 1024U * 1024U;
	c->retry_min_ms = 500;
	c->retry_max_s = 300;
	c->request_timeout_s = 60;
	c->spool_poll_ms = 500;
}

int
agent_config_url_ok(const char *url)
{
	const char *h, *p, *end;
	size_t i, plen;
	unsigned long port = 0;

	if (strncmp(url, "https://", 8) != 0)
		return -1;
	h = url + 8;
	if (*h == '[') {
		end = strchr(h, ']');
		if (end == NULL || end == h + 1 || end[1] != ':')
			return -1;
		p = end + 2;
	} else {
		end = strrchr(h, ':');
		if (end == NULL || end == h)
			return -1;
		for (i = 0; h + i < end; i++) {
			unsigned char ch = (unsigned char)h[i];
			if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			    (ch >= '0' && ch <= '9') || ch == '.' || ch == '-'))
				return -1;
		}
		p = end + 1;
	}
	plen = strlen(p);
	if (plen == 0 || plen > 5)
		return -1;
	for (i = 0; i < plen; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		port = port * 10 + (unsigned long)(p[i] - '0');
	}
	return port >= 1 && port <= 65535 ? 0 : -1;
}

static const char *
acf_show(char *buf, size_t cap, const char *s)
{
	return log_printable(buf, cap, s, strlen(s));
}

static void
acf_fmt_num(char *buf, size_t cap, double d)
{
	snprintf(buf, cap, "%.0f", d);
}

static int
acf_set(void *c, const conf_opt *o, const char *val, const char *path,
    unsigned lineno, char *err, size_t err_len)
{
	char *base = c;
	char shown[64], lo[32], hi[32];
	double d = 0;
	int b = 0;

	switch (o->kind) {
	case ACF_STR:
	case ACF_PATH:
	case ACF_URL:
		if (strlen(val) >= o->len) {
			snprintf(err, err_len, "%s:%u: %s: value longer than %zu bytes",
			    path, lineno, o->name, o->len - 1);
			return -1;
		}
		if (o->kind == ACF_PATH && val[0] != '/') {
			snprintf(err, err_len, "%s:%u: %s: '%s' is not an absolute "
			    "path", path, lineno, o->name,
			    acf_show(shown, sizeof(shown), val));
			return -1;
		}
		if (o->kind == ACF_URL && agent_config_url_ok(val) != 0) {
			snprintf(err, err_len, "%s:%u: %s: '%s' is not "
			    "https://HOST:PORT (IPv6 as [ADDR], no path)", path,
			    lineno, o->name, acf_show(shown, sizeof(shown), val));
			return -1;
		}
		memcpy(base + o->off, val, strlen(val) + 1);
		return 0;
	case ACF_BOOL:
		if (conf_parse_bool(val, &b) != 0) {
			snprintf(err, err_len, "%s:%u: %s: '%s' is not a boolean "
			    "(use 0/1, yes/no, true/false, on/off)", path, lineno,
			    o->name, acf_show(shown, sizeof(shown), val));
			return -1;
		}
		*(int *)(void *)(base + o->off) = b;
		return 0;
	case ACF_SIZE:
	case ACF_UINT:
		if (conf_parse_number(val, o->kind == ACF_SIZE, &d) != 0) {
			snprintf(err, err_len, "%s:%u: %s: '%s' is not a %s", path,
			    lineno, o->name, acf_show(shown, sizeof(shown), val),
			    o->kind == ACF_SIZE ? "size (bytes, optional k/M/G suffix)" :
			    "whole number");
			return -1;
		}
		if (d < o->min || d > o->max) {
			acf_fmt_num(lo, sizeof(lo), o->min);
			acf_fmt_num(hi, sizeof(hi), o->max);
			snprintf(err, err_len, "%s:%u: %s: %s is out of range (%s..%s)",
			    path, lineno, o->name, acf_show(shown, sizeof(shown), val),
			    lo, hi);
			return -1;
		}
		if (o->kind == ACF_SIZE)
			*(size_t *)(void *)(base + o->off) = (size_t)d;
		else
			*(unsigned *)(void *)(base + o->off) = (unsigned)d;
		return 0;
	}
	return -1;
}

static const conf_parser acf_parser = {
	.opts = acf_opts,
	.nopts = sizeof(acf_opts) / sizeof(acf_opts[0]),
	.max_file = ACF_FILE_MAX,
	.max_line = ACF_LINE_MAX,
	.flags = CONF_STRIP_CR,
	.set = acf_set,
	.fault = conf_fault_message,
};

int
agent_config_load(agent_config *c, const char *path, char *err,
    size_t err_len)
{
	if (conf_load(&acf_parser, c, path, err, err_len) != 0)
		return -1;
	if (strcmp(c->spool_dir, c->state_dir) == 0) {
		snprintf(err, err_len, "%s: spool_dir and state_dir must differ",
		    path);
		return -1;
	}
	if (c->batch_max_records > c->outbox_max_records) {
		snprintf(err, err_len, "%s: batch_max_records (%u) must not exceed "
		    "outbox_max_records (%u)", path, c->batch_max_records,
		    c->outbox_max_records);
		return -1;
	}
	if (c->batch_max_bytes > c->outbox_max_bytes) {
		snprintf(err, err_len, "%s: batch_max_bytes (%zu) must not exceed "
		    "outbox_max_bytes (%zu)", path, c->batch_max_bytes,
		    c->outbox_max_bytes);
		return -1;
	}
	if ((unsigned long long)c->retry_min_ms > 1000ULL * c->retry_max_s) {
		snprintf(err, err_len, "%s: retry_min_ms (%u) must not exceed "
		    "retry_max_s (%u) in milliseconds", path, c->retry_min_ms,
		    c->retry_max_s);
		return -1;
	}
	return 0;
}
