/* tests/unit/test_api_config.c — api/config.c: the coffer-api configuration
 * file.  Table-driven: each bad file must be refused with a message naming
 * the line and the key (and never echoing pg_conninfo); good files set
 * exactly what they say over the defaults.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/config.h"

#define BASE \
	"listen = 127.0.0.1:8443\n" \
	"cert_file = /etc/coffer/api.crt\n" \
	"key_file = /etc/coffer/api.key\n" \
	"people_ca = /var/pki/people/ca.pem\n" \
	"people_crl = /var/pki/people/crl.pem\n" \
	"keys_dir = /etc/coffer/keys\n" \
	"productions_dir = /var/lib/coffer/productions\n"

static int
load(const char *text, api_config *c, char *err, size_t err_len)
{
	char path[] = "/tmp/test_api_config.XXXXXX";
	int fd = mkstemp(path), rc;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	api_config_defaults(c);
	rc = api_config_load(c, path, err, err_len);
	unlink(path);
	return rc;
}

static void
test_defaults_and_base(void **state)
{
	api_config c;
	char err[512];

	(void)state;
	assert_int_equal(load(BASE, &c, err, sizeof(err)), 0);
	assert_string_equal(c.listen, "127.0.0.1:8443");
	assert_string_equal(c.metrics_listen, "");
	assert_int_equal(c.threads, 4);
	assert_int_equal(c.job_threads, 1);
	assert_int_equal(c.max_body_bytes, 1024 * 1024);
	assert_true(c.max_approval_bytes >= c.max_body_bytes);
	assert_true(c.approval_rate > 0 && c.approval_burst > 0);
	assert_string_equal(c.pg_conninfo, "");
}

static void
test_values(void **state)
{
	api_config c;
	char err[512];

	(void)state;
	assert_int_equal(load(BASE
	    "# comment\n"
	    "   \n"
	    "metrics_listen = [::1]:9443   # loopback v6\n"
	    "pg_conninfo = \"host=/run/pg dbname=coffer # not a comment\"\n"
	    "max_body_bytes = 2MiB\n"
	    "max_approval_bytes = 64m\n"
	    "approval_rate = 0.5\n"
	    "threads = 8\n", &c, err, sizeof(err)), 0);
	assert_string_equal(c.metrics_listen, "[::1]:9443");
	assert_string_equal(c.pg_conninfo, "host=/run/pg dbname=coffer # not a comment");
	assert_int_equal(c.max_body_bytes, 2 * 1024 * 1024);
	assert_int_equal(c.max_approval_bytes, 64 * 1024 * 1024);
	assert_true(c.approval_rate == 0.5);
	assert_int_equal(c.threads, 8);
}

static void
test_refusals(void **state)
{
	static const struct {
		const char *text;
		const char *want;      /* substring of the error */
	} cases[] = {
		{ BASE "bogus = 1\n", ":8: unknown key 'bogus'" },
		{ BASE "listen = 127.0.0.1:9\n", "listen given twice" },
		{ "cert_file = x\n", "listen is required" },
		{ BASE "threads = 0\n", "threads: invalid value" },
		{ BASE "threads = 1e3\n", "threads: invalid value" },
		{ BASE "threads = -1\n", "threads: invalid value" },
		{ BASE "threads = 3.5\n", "threads: invalid value" },
		{ BASE "max_body_bytes = 1 TiB\n", "max_body_bytes: invalid value" },
		{ BASE "metrics_listen = 0.0.0.0:9443\n", "loopback" },
		{ BASE "metrics_listen = 10.1.2.3:9443\n", "loopback" },
		{ BASE "metrics_listen = 127.0.0.1:8443\n", "must differ" },
		{ BASE "metrics_listen = nonsense\n", "HOST:PORT" },
		{ BASE "metrics_listen = 127.0.0.1:99999\n", "HOST:PORT" },
		{ BASE "signing_key_file = /k\n", "go together" },
		{ BASE "pg_conninfo = \"password=hunter2\n", "unterminated" },
		{ BASE "= 3\n", "expected 'key = value'" },
		{ BASE "threads 3\n", "expected 'key = value'" },
	};
	api_config c;
	char err[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		if (load(cases[i].text, &c, err, sizeof(err)) == 0)
			fail_msg("case %zu accepted", i);
		if (strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].want);
		/* A secret is never echoed. */
		assert_null(strstr(err, "hunter2"));
	}
}

static void
test_addresses(void **state)
{
	char h[128], p[8];

	(void)state;
	assert_int_equal(api_config_split_addr("127.0.0.1:8443", h, sizeof(h), p,
	    sizeof(p)), 0);
	assert_string_equal(h, "127.0.0.1");
	assert_string_equal(p, "8443");
	assert_int_equal(api_config_split_addr("[::1]:1", h, sizeof(h), p,
	    sizeof(p)), 0);
	assert_string_equal(h, "::1");
	assert_int_not_equal(api_config_split_addr("::1:80", h, sizeof(h), p,
	    sizeof(p)), 0);
	assert_int_not_equal(api_config_split_addr("host:0", h, sizeof(h), p,
	    sizeof(p)), 0);
	assert_int_not_equal(api_config_split_addr("host:", h, sizeof(h), p,
	    sizeof(p)), 0);
	assert_int_not_equal(api_config_split_addr(":80", h, sizeof(h), p,
	    sizeof(p)), 0);
	assert_true(api_config_host_is_loopback("127.0.0.1"));
	assert_true(api_config_host_is_loopback("127.9.9.9"));
	assert_true(api_config_host_is_loopback("::1"));
	assert_true(api_config_host_is_loopback("localhost"));
	assert_false(api_config_host_is_loopback("0.0.0.0"));
	assert_false(api_config_host_is_loopback("::"));
	assert_false(api_config_host_is_loopback("example.com"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_base),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_addresses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
