/* tests/unit/test_agent_config.c — coffer-agent configuration
 * (agent/config.c over common/conf.c).
 *
 * Defaults, a complete good file (comments, quoting, suffixes, CRLF), and
 * a table of bad files, each with the exact error message: every kind of
 * fault the parser reports, every value kind's refusal, every range, and
 * the cross-key rules.
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

#include "agent/config.h"

static char tmpdir[] = "/tmp/coffer-agentconfig-XXXXXX";
static char path[256];

#define REQUIRED \
	"gateway_url = https://gw.example:8443\n" \
	"server_ca_file = /etc/coffer-agent/ca.pem\n" \
	"cert_file = /etc/coffer-agent/dev.crt\n" \
	"key_file = /etc/coffer-agent/dev.key\n" \
	"spool_dir = /var/spool/coffer\n" \
	"state_dir = /var/lib/coffer-agent\n"

static void
write_conf(const char *text)
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
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/agent.conf", tmpdir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(path);
	return rmdir(tmpdir);
}

static void
test_defaults(void **state)
{
	agent_config c;

	(void)state;
	memset(&c, 0x5a, sizeof(c));
	agent_config_defaults(&c);
	assert_string_equal(c.gateway_url, "");
	assert_int_equal(c.capture_seq, 1);
	assert_int_equal(c.heartbeat, 1);
	assert_int_equal(c.heartbeat_s, 60);
	assert_int_equal(c.batch_max_records, 500);
	assert_int_equal(c.batch_max_bytes, 4 * 1024 * 1024);
	assert_int_equal(c.outbox_max_records, 1000000);
	assert_int_equal(c.outbox_max_bytes, 256 * 1024 * 1024);
	assert_int_equal(c.retry_min_ms, 500);
	assert_int_equal(c.retry_max_s, 300);
	assert_int_equal(c.request_timeout_s, 60);
	assert_int_equal(c.spool_poll_ms, 500);
}

static void
test_good(void **state)
{
	agent_config c;
	char err[512];

	(void)state;
	write_conf("# coffer-agent\r\n"
	    "gateway_url = https://[::1]:8443   # loopback\r\n"
	    "server_ca_file = \"/etc/coffer agent/ca.pem\"\n"
	    "cert_file = /etc/coffer-agent/dev.crt\n"
	    "key_file = /etc/coffer-agent/dev.key\n"
	    "spool_dir = /var/spool/coffer\n"
	    "state_dir = /var/lib/coffer-agent\n"
	    "capture_seq = no\n"
	    "heartbeat = off\n"
	    "heartbeat_s = 5\n"
	    "batch_max_records = 100\n"
	    "batch_max_bytes = 1M\n"
	    "outbox_max_records = 1000\n"
	    "outbox_max_bytes = 2GiB\n"
	    "retry_min_ms = 100\n"
	    "retry_max_s = 30\n"
	    "request_timeout_s = 10\n"
	    "spool_poll_ms = 250\n");
	agent_config_defaults(&c);
	if (agent_config_load(&c, path, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(c.gateway_url, "https://[::1]:8443");
	assert_string_equal(c.server_ca_file, "/etc/coffer agent/ca.pem");
	assert_int_equal(c.capture_seq, 0);
	assert_int_equal(c.heartbeat, 0);
	assert_int_equal(c.heartbeat_s, 5);
	assert_int_equal(c.batch_max_bytes, 1024 * 1024);
	assert_int_equal(c.outbox_max_bytes, 2ULL * 1024 * 1024 * 1024);
	assert_int_equal(c.spool_poll_ms, 250);
}

static const struct {
	const char *text;       /* after REQUIRED, unless it starts with '!' */
	const char *want;       /* the message after "PATH" */
} bad[] = {
	{ "bogus = 1\n", ":7: unknown option 'bogus'" },
	{ "capture_seq = yes\ncapture_seq = no\n", ":8: option 'capture_seq' is set twice" },
	{ "just words\n", ":7: expected 'key = value'" },
	{ "cert_file = \"/x\n", ":7: cert_file: unterminated quoted value" },
	{ "cert_file = \"/x\" y\n", ":7: cert_file: unexpected text after the quoted value" },
	{ "capture_seq = maybe\n", ":7: capture_seq: 'maybe' is not a boolean (use 0/1, yes/no, true/false, on/off)" },
	{ "heartbeat = 2\n", ":7: heartbeat: '2' is not a boolean (use 0/1, yes/no, true/false, on/off)" },
	{ "heartbeat_s = 0\n", ":7: heartbeat_s: 0 is out of range (1..86400)" },
	{ "heartbeat_s = 86401\n", ":7: heartbeat_s: 86401 is out of range (1..86400)" },
	{ "heartbeat_s = -1\n", ":7: heartbeat_s: '-1' is not a whole number" },
	{ "heartbeat_s = 1k\n", ":7: heartbeat_s: '1k' is not a whole number" },
	{ "batch_max_records = 0\n", ":7: batch_max_records: 0 is out of range (1..100000)" },
	{ "batch_max_bytes = 1000\n", ":7: batch_max_bytes: 1000 is out of range (1024..1073741824)" },
	{ "batch_max_bytes = 4X\n", ":7: batch_max_bytes: '4X' is not a size (bytes, optional k/M/G suffix)" },
	{ "batch_max_bytes = 99999999999999999999999\n", ":7: batch_max_bytes: '99999999999999999999999' is not a size (bytes, optional k/M/G suffix)" },
	{ "outbox_max_records = 0\n", ":7: outbox_max_records: 0 is out of range (1..100000000)" },
	{ "outbox_max_bytes = 65G\n", ":7: outbox_max_bytes: 65G is out of range (1024..68719476736)" },
	{ "retry_min_ms = 9\n", ":7: retry_min_ms: 9 is out of range (10..60000)" },
	{ "retry_max_s = 0\n", ":7: retry_max_s: 0 is out of range (1..86400)" },
	{ "request_timeout_s = 3601\n", ":7: request_timeout_s: 3601 is out of range (1..3600)" },
	{ "spool_poll_ms = 1\n", ":7: spool_poll_ms: 1 is out of range (10..60000)" },
	{ "!gateway_url = http://gw:80\n", ":1: gateway_url: 'http://gw:80' is not https://HOST:PORT (IPv6 as [ADDR], no path)" },
	{ "!gateway_url = https://gw\n", ":1: gateway_url: 'https://gw' is not https://HOST:PORT (IPv6 as [ADDR], no path)" },
	{ "!gateway_url = https://gw:8443/v1\n", ":1: gateway_url: 'https://gw:8443/v1' is not https://HOST:PORT (IPv6 as [ADDR], no path)" },
	{ "!gateway_url = https://gw:0\n", ":1: gateway_url: 'https://gw:0' is not https://HOST:PORT (IPv6 as [ADDR], no path)" },
	{ "!gateway_url = https://gw:65536\n", ":1: gateway_url: 'https://gw:65536' is not https://HOST:PORT (IPv6 as [ADDR], no path)" },
	{ "!gateway_url = https://::1:8443\n", ":1: gateway_url: 'https://::1:8443' is not https://HOST:PORT (IPv6 as [ADDR], no path)" },
	{ "!gateway_url = https://user@gw:8443\n", ":1: gateway_url: 'https://user@gw:8443' is not https://HOST:PORT (IPv6 as [ADDR], no path)" },
	{ "!spool_dir = spool\n", ":1: spool_dir: 'spool' is not an absolute path" },
	{ "!state_dir = \n", ":1: state_dir: '' is not an absolute path" },
	{ "!gateway_url = https://gw:1\n", ": missing required option 'server_ca_file'" },
	{ "!" REQUIRED "spool_dir = /var/lib/coffer-agent\n", ":7: option 'spool_dir' is set twice" },
	{ "batch_max_records = 11\noutbox_max_records = 10\n", ": batch_max_records (11) must not exceed outbox_max_records (10)" },
	{ "batch_max_bytes = 2M\noutbox_max_bytes = 1M\n", ": batch_max_bytes (2097152) must not exceed outbox_max_bytes (1048576)" },
	{ "retry_min_ms = 2000\nretry_max_s = 1\n", ": retry_min_ms (2000) must not exceed retry_max_s (1) in milliseconds" },
};

static void
test_bad(void **state)
{
	char text[4096], err[512], want[600];
	agent_config c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (bad[i].text[0] == '!')
			snprintf(text, sizeof(text), "%s", bad[i].text + 1);
		else
			snprintf(text, sizeof(text), "%s%s", REQUIRED, bad[i].text);
		write_conf(text);
		agent_config_defaults(&c);
		err[0] = '\0';
		if (agent_config_load(&c, path, err, sizeof(err)) == 0)
			fail_msg("case %zu accepted: %s", i, bad[i].text);
		snprintf(want, sizeof(want), "%s%s", path, bad[i].want);
		if (strcmp(err, want) != 0)
			fail_msg("case %zu:\n  got  %s\n  want %s", i, err, want);
	}
	/* a path longer than the field */
	memset(text, 0, sizeof(text));
	memcpy(text, "key_file = /", 12);
	memset(text + 12, 'a', 1100);
	text[12 + 1100] = '\n';
	write_conf(text);
	agent_config_defaults(&c);
	assert_int_equal(agent_config_load(&c, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:1: key_file: value longer than 1023 bytes",
	    path);
	assert_string_equal(err, want);
	/* a spool and a state directory that are one */
	write_conf("gateway_url = https://gw:1\nserver_ca_file = /a\ncert_file = /b\n"
	    "key_file = /c\nspool_dir = /d\nstate_dir = /d\n");
	agent_config_defaults(&c);
	assert_int_equal(agent_config_load(&c, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: spool_dir and state_dir must differ", path);
	assert_string_equal(err, want);
	/* a file that is not there, one with a NUL */
	unlink(path);
	assert_int_equal(agent_config_load(&c, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, path));
	{
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		fwrite("a = 1\n\0", 1, 7, f);
		fclose(f);
	}
	assert_int_equal(agent_config_load(&c, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: contains a NUL byte", path);
	assert_string_equal(err, want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
