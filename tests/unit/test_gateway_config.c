/* tests/unit/test_gateway_config.c — coffer-gateway configuration (gateway/config.c).
 *
 * Defaults, a complete good file (comments, quoting, suffixes, CRLF), and a
 * table of bad files, each with the exact error message expected: unknown
 * key, malformed and out-of-range values, repeats, missing options.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gateway/config.h"

static char tmpdir[] = "/tmp/coffer-gwconfig-XXXXXX";

/* the options without a default, so a file is complete */
#define REQUIRED \
	"cert_file = /etc/coffer/gw.crt\n" \
	"key_file = /etc/coffer/gw.key\n" \
	"device_ca_dir = /etc/coffer/devices\n" \
	"node_name = node-a\n" \
	"signing_key_file = /etc/coffer/node.key\n" \
	"keys_dir = /etc/coffer/keys\n"

static void
write_conf(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char p[256];

	(void)state;
	snprintf(p, sizeof(p), "%s/gw.conf", tmpdir);
	unlink(p);
	return rmdir(tmpdir);
}

static void
test_defaults(void **state)
{
	gw_config c;

	(void)state;
	memset(&c, 0x5a, sizeof(c));
	gw_config_defaults(&c);
	assert_string_equal(c.listen, "127.0.0.1:8443");
	assert_string_equal(c.metrics_listen, "127.0.0.1:9443");
	assert_string_equal(c.user, "");
	assert_string_equal(c.cert_file, "");
	assert_string_equal(c.pg_conninfo, "");
	assert_string_equal(c.witness_file, "");
	assert_int_equal(c.crl_required, 1);
	assert_int_equal(c.max_header_bytes, 16 * 1024);
	assert_int_equal(c.max_body_bytes, 64 * 1024 * 1024);
	assert_int_equal(c.max_line_bytes, 16 * 1024 * 1024);
	assert_int_equal(c.max_records_per_request, 10000);
	assert_int_equal(c.max_connections, 10000);
	assert_int_equal(c.max_connections_per_address, 256);
	assert_int_equal(c.idle_timeout_s, 60);
	assert_int_equal(c.header_timeout_s, 10);
	assert_int_equal(c.body_timeout_s, 60);
	assert_true(c.device_rate == 50.0);
	assert_int_equal(c.device_burst, 100);
	assert_int_equal(c.workers, 2);
	assert_int_equal(c.batch_max_records, 2000);
	assert_int_equal(c.batch_max_ms, 5);
	assert_int_equal(c.epoch_seconds, 60);
	assert_int_equal(c.epoch_records, 100000);
	assert_int_equal(c.device_refresh_s, 30);
}

static void
test_good_file(void **state)
{
	char path[256], err[512] = "";
	gw_config c;

	(void)state;
	snprintf(path, sizeof(path), "%s/gw.conf", tmpdir);
	write_conf(path,
	    "# Coffer gateway\n"
	    "\n"
	    "   # indented comment\n"
	    "listen = 0.0.0.0:8443\n"
	    "metrics_listen=[::1]:9100   # inline comment\n"
	    "user\t=\tcoffer\n"
	    "cert_file = \"/etc/coffer/gw cert.pem\"  # quoted: blanks kept\n"
	    "key_file = /etc/coffer/gw.key\r\n"
	    "device_ca_dir = /etc/coffer/devices\n"
	    "crl_required = no\n"
	    "node_name = node-a\n"
	    "signing_key_file = /etc/coffer/node.key\n"
	    "keys_dir = /etc/coffer/keys\n"
	    "witness_file = \"/var/lib/coffer/wit#ness\"\n"
	    "pg_conninfo = \"host=/run/postgresql dbname=coffer \\\"x\\\" \\\\\"\n"
	    "max_header_bytes = 32k\n"
	    "max_body_bytes = 128MiB\n"
	    "max_line_bytes = 1G\n"
	    "max_records_per_request = 500\n"
	    "max_connections = 20000\n"
	    "idle_timeout_s = 120\n"
	    "header_timeout_s = 5\n"
	    "body_timeout_s = 300\n"
	    "device_rate = 2.5\n"
	    "device_burst = 10\n"
	    "workers = 4\n"
	    "batch_max_records = 500\n"
	    "batch_max_ms = 0\n"
	    "epoch_seconds = 30\n"
	    "epoch_records = 5000\n"
	    "device_refresh_s = 10\n");
	gw_config_defaults(&c);
	/* max_line_bytes 1G > max_body_bytes 128MiB: refused as a whole */
	assert_int_equal(gw_config_load(&c, path, err, sizeof(err)), -1);

	write_conf(path,
	    "listen = 0.0.0.0:8443\n"
	    "metrics_listen=[::1]:9100   # inline comment\n"
	    "user\t=\tcoffer\n"
	    "cert_file = \"/etc/coffer/gw cert.pem\"  # quoted: blanks kept\n"
	    "key_file = /etc/coffer/gw.key\r\n"
	    "device_ca_dir = /etc/coffer/devices\n"
	    "crl_required = no\n"
	    "node_name = node-a\n"
	    "signing_key_file = /etc/coffer/node.key\n"
	    "keys_dir = /etc/coffer/keys\n"
	    "witness_file = \"/var/lib/coffer/wit#ness\"\n"
	    "pg_conninfo = \"host=/run/postgresql dbname=coffer \\\"x\\\" \\\\\"\n"
	    "max_header_bytes = 32k\n"
	    "max_body_bytes = 128MiB\n"
	    "max_line_bytes = 16M\n"
	    "max_records_per_request = 500\n"
	    "max_connections = 20000\n"
	    "max_connections_per_address = 50\n"
	    "idle_timeout_s = 120\n"
	    "header_timeout_s = 5\n"
	    "body_timeout_s = 300\n"
	    "device_rate = 2.5\n"
	    "device_burst = 10\n"
	    "workers = 4\n"
	    "batch_max_records = 500\n"
	    "batch_max_ms = 0\n"
	    "epoch_seconds = 30\n"
	    "epoch_records = 5000\n"
	    "device_refresh_s = 10");                 /* no final newline */
	gw_config_defaults(&c);
	if (gw_config_load(&c, path, err, sizeof(err)) != 0)
		fail_msg("good file refused: %s", err);
	assert_string_equal(c.listen, "0.0.0.0:8443");
	assert_string_equal(c.metrics_listen, "[::1]:9100");
	assert_string_equal(c.user, "coffer");
	assert_string_equal(c.cert_file, "/etc/coffer/gw cert.pem");
	assert_string_equal(c.key_file, "/etc/coffer/gw.key");
	assert_int_equal(c.crl_required, 0);
	assert_string_equal(c.witness_file, "/var/lib/coffer/wit#ness");
	assert_string_equal(c.pg_conninfo,
	    "host=/run/postgresql dbname=coffer \"x\" \\");
	assert_int_equal(c.max_header_bytes, 32 * 1024);
	assert_int_equal(c.max_body_bytes, 128 * 1024 * 1024);
	assert_int_equal(c.max_line_bytes, 16 * 1024 * 1024);
	assert_int_equal(c.max_records_per_request, 500);
	assert_int_equal(c.max_connections, 20000);
	assert_int_equal(c.max_connections_per_address, 50);
	assert_int_equal(c.idle_timeout_s, 120);
	assert_int_equal(c.header_timeout_s, 5);
	assert_int_equal(c.body_timeout_s, 300);
	assert_true(c.device_rate == 2.5);
	assert_int_equal(c.device_burst, 10);
	assert_int_equal(c.workers, 4);
	assert_int_equal(c.batch_max_records, 500);
	assert_int_equal(c.batch_max_ms, 0);
	assert_int_equal(c.epoch_seconds, 30);
	assert_int_equal(c.epoch_records, 5000);
	assert_int_equal(c.device_refresh_s, 10);

	/* only the required options: everything else keeps its default */
	write_conf(path, REQUIRED "metrics_listen =\n");
	gw_config_defaults(&c);
	assert_int_equal(gw_config_load(&c, path, err, sizeof(err)), 0);
	assert_string_equal(c.listen, "127.0.0.1:8443");
	assert_string_equal(c.metrics_listen, "");       /* disabled */
	assert_int_equal(c.max_connections, 10000);
	assert_int_equal(c.max_connections_per_address, 256);
}

/* max_connections_per_address: 0 turns the limit off (a gateway behind a
 * TCP load balancer sees one address); above max_connections is allowed
 * (it then never triggers) so that lowering max_connections alone never
 * turns a working file into an error. */
static void
test_per_address_limit(void **state)
{
	static const struct {
		const char *line;
		unsigned    want;
	} t[] = {
		{ "max_connections_per_address = 0\n", 0 },
		{ "max_connections_per_address = 1\n", 1 },
		{ "max_connections_per_address = 1000000\n", 1000000 },
		{ "max_connections = 100\nmax_connections_per_address = 500\n", 500 },
	};
	char path[256], err[512], text[1024];
	size_t i;

	(void)state;
	snprintf(path, sizeof(path), "%s/gw.conf", tmpdir);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		gw_config c;

		snprintf(text, sizeof(text), "%s" REQUIRED, t[i].line);
		write_conf(path, text);
		gw_config_defaults(&c);
		err[0] = '\0';
		if (gw_config_load(&c, path, err, sizeof(err)) != 0)
			fail_msg("'%s' refused: %s", t[i].line, err);
		assert_int_equal(c.max_connections_per_address, t[i].want);
	}
}

typedef struct bad_case {
	const char *text;       /* the file */
	const char *want;       /* expected message; %s is the file's path */
} bad_case;

static const bad_case bad_cases[] = {
	{ "bogus = 1\n" REQUIRED, "%s:1: unknown option 'bogus'" },
	{ REQUIRED "\n# fine\nmax_conections = 5\n", "%s:9: unknown option 'max_conections'" },
	{ "Listen = 127.0.0.1:1\n" REQUIRED, "%s:1: expected 'key = value'" },
	{ "just words\n" REQUIRED, "%s:1: expected 'key = value'" },
	{ "listen 127.0.0.1:1\n" REQUIRED, "%s:1: expected 'key = value'" },
	{ "max_connections = abc\n" REQUIRED,
	  "%s:1: max_connections: 'abc' is not a whole number" },
	{ "max_connections = -5\n" REQUIRED,
	  "%s:1: max_connections: '-5' is not a whole number" },
	{ "max_connections = 10k\n" REQUIRED,
	  "%s:1: max_connections: '10k' is not a whole number" },
	{ "max_connections = 0\n" REQUIRED,
	  "%s:1: max_connections: 0 is out of range (1..1000000)" },
	{ "max_connections = 99999999999999999999999\n" REQUIRED,
	  "%s:1: max_connections: '99999999999999999999999' is not a whole number" },
	{ "max_connections_per_address = 1000001\n" REQUIRED,
	  "%s:1: max_connections_per_address: 1000001 is out of range (0..1000000)" },
	{ "max_connections_per_address = -1\n" REQUIRED,
	  "%s:1: max_connections_per_address: '-1' is not a whole number" },
	{ "max_connections_per_address = 1k\n" REQUIRED,
	  "%s:1: max_connections_per_address: '1k' is not a whole number" },
	{ "max_connections_per_address = 2.5\n" REQUIRED,
	  "%s:1: max_connections_per_address: '2.5' is not a whole number" },
	{ "max_connections_per_address =\n" REQUIRED,
	  "%s:1: max_connections_per_address: '' is not a whole number" },
	{ "max_connections_per_address = off\n" REQUIRED,
	  "%s:1: max_connections_per_address: 'off' is not a whole number" },
	{ REQUIRED "max_connections_per_address = 8\nmax_connections_per_address = 9\n",
	  "%s:8: option 'max_connections_per_address' is set twice" },
	{ "max_connection_per_address = 8\n" REQUIRED,
	  "%s:1: unknown option 'max_connection_per_address'" },
	{ "max_header_bytes = 12x\n" REQUIRED,
	  "%s:1: max_header_bytes: '12x' is not a size (bytes, optional k/M/G suffix)" },
	{ "max_header_bytes = 512\n" REQUIRED,
	  "%s:1: max_header_bytes: 512 is out of range (1024..1048576)" },
	{ "max_body_bytes = 2G\n" REQUIRED,
	  "%s:1: max_body_bytes: 2G is out of range (1024..1073741824)" },
	{ "idle_timeout_s = 3601\n" REQUIRED,
	  "%s:1: idle_timeout_s: 3601 is out of range (1..3600)" },
	{ "header_timeout_s = 0\n" REQUIRED,
	  "%s:1: header_timeout_s: 0 is out of range (1..600)" },
	{ "workers = 1000\n" REQUIRED, "%s:1: workers: 1000 is out of range (1..256)" },
	{ "device_rate = -1\n" REQUIRED, "%s:1: device_rate: '-1' is not a decimal number" },
	{ "device_rate = 1e3\n" REQUIRED, "%s:1: device_rate: '1e3' is not a decimal number" },
	{ "device_rate = 1.2.3\n" REQUIRED, "%s:1: device_rate: '1.2.3' is not a decimal number" },
	{ "device_rate = 0\n" REQUIRED, "%s:1: device_rate: 0 is out of range (0.01..1000000)" },
	{ "crl_required = maybe\n" REQUIRED,
	  "%s:1: crl_required: 'maybe' is not a boolean (use 0/1, yes/no, true/false, on/off)" },
	{ "crl_required =\n" REQUIRED,
	  "%s:1: crl_required: '' is not a boolean (use 0/1, yes/no, true/false, on/off)" },
	{ "listen = localhost\n" REQUIRED,
	  "%s:1: listen: 'localhost' is not HOST:PORT (IPv6 as [ADDR]:PORT, port 1..65535)" },
	{ "listen = 127.0.0.1:70000\n" REQUIRED,
	  "%s:1: listen: '127.0.0.1:70000' is not HOST:PORT (IPv6 as [ADDR]:PORT, port 1..65535)" },
	{ "metrics_listen = ::1:9100\n" REQUIRED,
	  "%s:1: metrics_listen: '::1:9100' is not HOST:PORT (IPv6 as [ADDR]:PORT, port 1..65535)" },
	{ "listen =\n" REQUIRED, "%s: missing required option 'listen'" },
	{ "workers = 2\nworkers = 3\n" REQUIRED, "%s:2: option 'workers' is set twice" },
	{ "node_name = \"node-a\n" REQUIRED, "%s:1: node_name: unterminated quoted value" },
	{ "node_name = \"a\" b\n" REQUIRED, "%s:1: node_name: unexpected text after the quoted value" },
	{ "node_name = 0123456789012345678901234567890123456789012345678901234567890123\n"
	  "cert_file = a\nkey_file = b\ndevice_ca_dir = c\nsigning_key_file = d\nkeys_dir = e\n",
	  "%s:1: node_name: value longer than 63 bytes" },
	{ "cert_file = a\nkey_file = b\ndevice_ca_dir = c\nnode_name = n\nsigning_key_file = d\n",
	  "%s: missing required option 'keys_dir'" },
	{ "max_body_bytes = 1M\nmax_line_bytes = 2M\n" REQUIRED,
	  "%s: max_line_bytes (2097152) must not exceed max_body_bytes (1048576)" },
	{ "metrics_listen = 127.0.0.1:8443\n" REQUIRED,
	  "%s: metrics_listen must differ from listen" },
};

static void
test_bad_files(void **state)
{
	char path[256], err[512], want[512];
	size_t i;

	(void)state;
	snprintf(path, sizeof(path), "%s/gw.conf", tmpdir);
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		gw_config c;

		write_conf(path, bad_cases[i].text);
		gw_config_defaults(&c);
		err[0] = '\0';
		snprintf(want, sizeof(want), bad_cases[i].want, path);
		if (gw_config_load(&c, path, err, sizeof(err)) != -1 ||
		    strcmp(err, want) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err, want);
	}
}

static void
test_unreadable(void **state)
{
	char path[256], err[512] = "", want[512];
	gw_config c;

	(void)state;
	snprintf(path, sizeof(path), "%s/absent.conf", tmpdir);
	gw_config_defaults(&c);
	assert_int_equal(gw_config_load(&c, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	assert_string_equal(err, want);

	/* a NUL byte in the file */
	snprintf(path, sizeof(path), "%s/gw.conf", tmpdir);
	{
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		assert_int_equal(fwrite("workers = 2\0\n", 1, 13, f), 13);
		assert_int_equal(fclose(f), 0);
	}
	assert_int_equal(gw_config_load(&c, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: contains a NUL byte", path);
	assert_string_equal(err, want);
}

/* a secret value never appears in an error about its line */
static void
test_no_secret_echo(void **state)
{
	char path[256], err[512] = "";
	gw_config c;
	char big[1200];

	(void)state;
	snprintf(path, sizeof(path), "%s/gw.conf", tmpdir);
	memset(big, 'p', sizeof(big));
	memcpy(big, "pg_conninfo = password=hunter2", 30);
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = '\0';
	write_conf(path, big);
	gw_config_defaults(&c);
	assert_int_equal(gw_config_load(&c, path, err, sizeof(err)), -1);
	assert_null(strstr(err, "hunter2"));
	assert_non_null(strstr(err, "pg_conninfo: value longer than 1023 bytes"));
}

static void
test_split_addr(void **state)
{
	static const struct {
		const char *in;
		int ok;
		const char *host, *port;
	} t[] = {
		{ "127.0.0.1:8443", 0, "127.0.0.1", "8443" },
		{ "[::1]:9100", 0, "::1", "9100" },
		{ "localhost:1", 0, "localhost", "1" },
		{ "0.0.0.0:65535", 0, "0.0.0.0", "65535" },
		{ "127.0.0.1:0", -1, NULL, NULL },
		{ "127.0.0.1:65536", -1, NULL, NULL },
		{ "127.0.0.1:", -1, NULL, NULL },
		{ ":8443", -1, NULL, NULL },
		{ "::1:8443", -1, NULL, NULL },
		{ "[::1]8443", -1, NULL, NULL },
		{ "host name:80", -1, NULL, NULL },
		{ "127.0.0.1:+80", -1, NULL, NULL },
		{ "127.0.0.1:080808", -1, NULL, NULL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char h[128], p[8];
		int rc = gw_config_split_addr(t[i].in, h, sizeof(h), p, sizeof(p));
		if (rc != t[i].ok)
			fail_msg("'%s': rc %d", t[i].in, rc);
		if (rc == 0) {
			assert_string_equal(h, t[i].host);
			assert_string_equal(p, t[i].port);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_good_file),
		cmocka_unit_test(test_per_address_limit),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_unreadable),
		cmocka_unit_test(test_no_secret_echo),
		cmocka_unit_test(test_split_addr),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
