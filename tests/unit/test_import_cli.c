/* tests/unit/test_import_cli.c — coffer-import as a program, and the
 * shared parts of agent/import/core.c.
 *
 * The binary (next to this test's directory: build/coffer-import) runs on
 * the samples: stdout, --spool (one .ndjson, no .tmp left, same lines as
 * stdout), --report JSON, and every refusal with its exit status and
 * exact message: a malformed export leaves the spool empty, usage errors
 * exit 2.  Then contacts CSV parsing, the zone check, the owner check,
 * local times around DST changes, and record ids.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/import_fixture.h"

static char bin[PATH_MAX + 32];
static char tmp[64];

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = calloc(1, (size_t)n + 1);
	if (b != NULL && fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	fclose(f);
	if (len != NULL)
		*len = (size_t)n;
	return b;
}

/* Run coffer-import with args (shell words); stdout and stderr kept. */
static int
run(const char *args, char **out, char **err)
{
	char cmd[PATH_MAX + 8192], o[128], e[128];
	int st;

	snprintf(o, sizeof(o), "%s/out", tmp);
	snprintf(e, sizeof(e), "%s/err", tmp);
	snprintf(cmd, sizeof(cmd), "'%s' %s >'%s' 2>'%s'", bin, args, o, e);
	st = system(cmd);
	*out = slurp(o, NULL);
	*err = slurp(e, NULL);
	assert_non_null(*out);
	assert_non_null(*err);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static size_t
count_dir(const char *d, const char *suffix, char *first, size_t cap)
{
	DIR *dp = opendir(d);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(dp);
	while ((de = readdir(dp)) != NULL) {
		size_t l = strlen(de->d_name), sl = strlen(suffix);

		if (de->d_name[0] == '.' || l < sl ||
		    strcmp(de->d_name + l - sl, suffix) != 0)
			continue;
		if (n++ == 0 && first != NULL)
			snprintf(first, cap, "%s/%s", d, de->d_name);
	}
	closedir(dp);
	return n;
}

static int
cli_setup(void **state)
{
	char self[PATH_MAX], *sl;
	ssize_t n;

	if (imf_setup(state) != 0)
		return -1;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -1;
	self[n] = '\0';
	if ((sl = strrchr(self, '/')) == NULL)
		return -1;
	*sl = '\0';
	snprintf(bin, sizeof(bin), "%s/../coffer-import", self);
	snprintf(tmp, sizeof(tmp), "/tmp/coffer-import-cli.XXXXXX");
	return mkdtemp(tmp) == NULL ? -1 : 0;
}

static int
cli_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

#define WA_ANDROID "'" IMF_DATA "whatsapp/android/WhatsApp Chat with Alice Smith.txt'"
#define WA_ARGS "--format whatsapp --owner +15550100009 --tz America/New_York " \
	"--default-country 44 --contacts " IMF_DATA "contacts.csv "

static void
test_stdout_spool_report(void **state)
{
	char *out, *err, *out2, *err2, spool[128], args[1024], file[512];
	char *spooled, *rep;

	(void)state;
	assert_int_equal(run(WA_ARGS WA_ANDROID, &out, &err), 0);
	assert_non_null(strstr(out, "\"body\":\"Thanks!\\nSee you tomorrow\\nat 10\""));
	assert_string_equal(err, "coffer-import: whatsapp: 7 imported, 1 skipped\n"
	    "  skipped: system message: 1 (line 1)\n"
	    "  warning: media omitted by the export: 1 (line 7)\n");
	/* the same as the library's expected output */
	spooled = slurp(IMF_DATA "whatsapp/android.expected.ndjson", NULL);
	assert_non_null(spooled);
	assert_string_equal(out, spooled);
	free(spooled);

	snprintf(spool, sizeof(spool), "%s/spool", tmp);
	assert_int_equal(mkdir(spool, 0700), 0);
	snprintf(args, sizeof(args), WA_ARGS "--spool '%s' --report '%s/r.json' "
	    WA_ANDROID, spool, tmp);
	assert_int_equal(run(args, &out2, &err2), 0);
	assert_string_equal(out2, "");
	assert_int_equal(count_dir(spool, ".ndjson", file, sizeof(file)), 1);
	assert_int_equal(count_dir(spool, ".tmp", NULL, 0), 0);
	assert_non_null(strstr(err2, "coffer-import: wrote "));
	spooled = slurp(file, NULL);
	assert_string_equal(spooled, out);
	free(spooled);
	snprintf(file, sizeof(file), "%s/r.json", tmp);
	rep = slurp(file, NULL);
	assert_string_equal(rep, "{\"ok\":true,\"report\":{\"format\":\"whatsapp\","
	    "\"imported\":7,\"skipped\":{\"system message\":{\"at\":[\"line 1\"],"
	    "\"count\":1}},\"skipped_total\":1,\"warnings\":{\"media omitted by "
	    "the export\":{\"at\":[\"line 7\"],\"count\":1}}}}\n");
	free(rep);
	free(out);
	free(err);
	free(out2);
	free(err2);
}

static void
test_refusals(void **state)
{
	static const struct {
		const char *args;
		int status;
		const char *err;          /* exact stderr */
	} t[] = {
		{ WA_ARGS "'" IMF_DATA "whatsapp/malformed/WhatsApp Chat with Alice "
		  "Smith.txt'", 1, "coffer-import: line 1: not a WhatsApp chat line "
		  "(expected a date and time such as \"31/12/2023, 21:41 - \" or "
		  "\"[31/12/2023, 21:41:05] \")\n" },
		{ "--format smsxml --owner +15550100009 " IMF_DATA "smsxml/malformed.xml",
		  1, "coffer-import: line 5: XML not well-formed: Opening and ending "
		  "tag mismatch: sms line 4 and smses\n" },
		{ "--format telegram --owner +15550100009 " IMF_DATA
		  "telegram/malformed/result.json", 1,
		  "coffer-import: line 4 column 31: not valid JSON\n" },
		{ "--format rsmf --owner +15550100009 " IMF_DATA "rsmf/nozip.rsmf", 1,
		  "coffer-import: file 1: no rsmf.zip attachment\n" },
		{ "--format whatsapp " WA_ANDROID, 2, "coffer-import: --owner is "
		  "required (the device owner's number or @handle)\n" },
		{ "--format whatsapp", 2, NULL },
		{ "--format fax --owner +15550100009 x", 2, "coffer-import: --format: "
		  "whatsapp, telegram, smsxml, chatdb or rsmf\n" },
		{ "--format whatsapp --owner +15550100009 --date-order ymd x", 2,
		  "coffer-import: --date-order: dmy or mdy\n" },
		{ "--format whatsapp --owner +15550100009 --max-media 0 x", 2,
		  "coffer-import: --max-media: not a positive number\n" },
		{ "--format whatsapp --owner 'Dana' x", 1, NULL },
		{ "--format whatsapp --owner +15550100009 --tz Mars/Olympus_Mons x", 1,
		  "coffer-import: --tz: not an IANA time zone under /usr/share/zoneinfo "
		  "(Europe/Berlin, America/New_York, UTC)\n" },
		{ "--format whatsapp --owner +15550100009 --tz ../../etc/passwd x", 1,
		  "coffer-import: --tz: not an IANA time zone under /usr/share/zoneinfo "
		  "(Europe/Berlin, America/New_York, UTC)\n" },
		{ "--format whatsapp --owner +15550100009 --default-country 0044 x", 1,
		  "coffer-import: --default-country: must be a country calling code, "
		  "1 to 3 digits (44, 1, 353)\n" },
		{ "--format whatsapp --owner +15550100009 --contacts " IMF_DATA
		  "contacts.csv " WA_ANDROID, 1, "coffer-import: contacts line 4: number "
		  "without '+' and no default country code (cofferctl tenant "
		  "set-country)\n" },
		{ "--format whatsapp --owner +15550100009 /nonexistent.txt", 1,
		  "coffer-import: cannot open /nonexistent.txt: No such file or "
		  "directory\n" },
	};
	char spool[128], args[2048], *out, *err;
	size_t i;

	(void)state;
	snprintf(spool, sizeof(spool), "%s/spool2", tmp);
	assert_int_equal(mkdir(spool, 0700), 0);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(args, sizeof(args), "--spool '%s' %s", spool, t[i].args);
		assert_int_equal(run(args, &out, &err), t[i].status);
		if (t[i].err != NULL)
			assert_string_equal(err, t[i].err);
		else if (t[i].status == 2)
			assert_non_null(strstr(err, "usage: coffer-import"));
		else
			assert_non_null(strstr(err, "coffer-import: --owner: "));
		assert_string_equal(out, "");
		/* nothing half-written */
		assert_int_equal(count_dir(spool, "", NULL, 0), 0);
		free(out);
		free(err);
	}
}

static void
test_contacts(void **state)
{
	static const struct {
		const char *csv;
		const char *want;          /* NULL: loads */
	} t[] = {
		{ "name,number\nA,+15550100001\n\"B, \"\"the\"\" C\",+15550100002\r\n", NULL },
		{ "\xef\xbb\xbfname,number\nA,+15550100001\n", NULL },
		{ "A\n", "contacts line 1: expected name,number" },
		{ "A,+15550100001,extra\n", "contacts line 1: expected name,number" },
		{ "\"A,+15550100001\n", "contacts line 1: expected name,number" },
		{ ",+15550100001\n", "contacts line 1: expected name,number" },
		{ "A,+1555\n", NULL },       /* the vault's message, checked below */
		{ "A,+15550100001\nA,+15550100002\n", "contacts: one name with two "
		  "different numbers" },
	};
	imp_contacts *ct = NULL;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc = imp_contacts_load(&ct, t[i].csv, strlen(t[i].csv), NULL, err,
		    sizeof(err));

		if (i == 6) {
			assert_int_equal(rc, -1);
			assert_non_null(strstr(err, "contacts line 1: "));
			assert_null(strstr(err, "1555"));
			continue;
		}
		if (t[i].want == NULL) {
			assert_int_equal(rc, 0);
			imp_contacts_free(&ct);
		} else {
			assert_int_equal(rc, -1);
			assert_string_equal(err, t[i].want);
			assert_null(ct);
		}
	}
}

static void
test_lookup_and_ids(void **state)
{
	imf r;
	imp_opts o;
	char p[IMP_PART_MAX], a[80], b[80], c2[80], d[80];

	(void)state;
	memset(&o, 0, sizeof(o));
	o.owner = "+44 (0)20 7946 0958";
	o.default_cc = "44";
	assert_int_equal(imf_ctx(&r, "whatsapp", &o, IMF_DATA "contacts.csv"), 0);
	assert_string_equal(imp_owner(r.c), "+442079460958");
	assert_int_equal(imp_contact_lookup(r.c, "Carol Jones", 11, p), 0);
	assert_string_equal(p, "+447700900123");
	assert_int_equal(imp_contact_lookup(r.c, "\xd9\x85\xd8\xad\xd9\x85\xd8\xaf",
	    8, p), 0);
	assert_string_equal(p, "+971501234567");
	/* a name that is a number */
	assert_int_equal(imp_contact_lookup(r.c, "+1 555 010 0007", 15, p), 0);
	assert_string_equal(p, "+15550100007");
	assert_int_equal(imp_contact_lookup(r.c, "Nobody", 6, p), -1);
	/* ids: ordinal per (scope, time, sender); native ids ignore both */
	imp_id(r.c, "wa", "conv", 1000000, "A", NULL, a);
	imp_id(r.c, "wa", "conv", 1000000, "A", NULL, b);
	imp_id(r.c, "wa", "conv", 1000000, "B", NULL, c2);
	assert_string_not_equal(a, b);
	assert_string_not_equal(a, c2);
	assert_int_equal(strlen(a), 35);
	assert_memory_equal(a, "wa-", 3);
	imp_id(r.c, "tg", "conv", 1, "x", "42", c2);
	imp_id(r.c, "tg", "conv", 2, "y", "42", d);
	assert_string_equal(c2, d);
	imp_id(r.c, "tg", "conv2", 2, "y", "42", d);
	assert_string_not_equal(c2, d);
	imf_free(&r);
}

/* Local times: every case around the 2023 changes of two zones. */
static void
test_local_time(void **state)
{
	static const struct {
		const char *tz;
		int y, mo, d, h, mi, s;
		long long prev;            /* µs, 0: none */
		const char *want;          /* NULL: refused */
	} t[] = {
		{ "Europe/Berlin", 2023, 3, 26, 1, 59, 59, 0, "2023-03-26T00:59:59Z" },
		{ "Europe/Berlin", 2023, 3, 26, 2, 30, 0, 0, "2023-03-26T01:30:00Z" },
		{ "Europe/Berlin", 2023, 3, 26, 3, 0, 0, 0, "2023-03-26T01:00:00Z" },
		{ "Europe/Berlin", 2023, 10, 29, 2, 30, 0, 0, "2023-10-29T00:30:00Z" },
		{ "Europe/Berlin", 2023, 10, 29, 2, 30, 0, 1698541200000000LL,
		  "2023-10-29T01:30:00Z" },
		{ "America/New_York", 2023, 3, 12, 2, 30, 0, 0, "2023-03-12T07:30:00Z" },
		{ "America/New_York", 2023, 11, 5, 1, 30, 0, 0, "2023-11-05T05:30:00Z" },
		{ "Australia/Lord_Howe", 2023, 4, 2, 1, 45, 0, 0, "2023-04-01T14:45:00Z" },
		{ NULL, 2024, 2, 29, 23, 59, 60, 0, "2024-02-29T23:59:59Z" },
		{ NULL, 2023, 2, 29, 12, 0, 0, 0, NULL },
		{ NULL, 2023, 13, 1, 12, 0, 0, 0, NULL },
		{ NULL, 2023, 1, 1, 24, 0, 0, 0, NULL },
		{ NULL, 1969, 12, 31, 0, 0, 0, 0, NULL },
	};
	size_t i;
	imf r;
	imp_opts o;
	long long us, prev;
	char got[40];

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(&o, 0, sizeof(o));
		o.owner = IMF_OWNER;
		o.tz = t[i].tz;
		assert_int_equal(imf_ctx(&r, "whatsapp", &o, NULL), 0);
		prev = t[i].prev;
		if (t[i].want == NULL) {
			assert_int_equal(imp_local_time(r.c, t[i].y, t[i].mo, t[i].d,
			    t[i].h, t[i].mi, t[i].s, &prev, &us, "x"), -1);
		} else {
			time_t tt;
			struct tm tm;

			assert_int_equal(imp_local_time(r.c, t[i].y, t[i].mo, t[i].d,
			    t[i].h, t[i].mi, t[i].s, &prev, &us, "x"), 0);
			tt = (time_t)(us / 1000000);
			gmtime_r(&tt, &tm);
			strftime(got, sizeof(got), "%Y-%m-%dT%H:%M:%SZ", &tm);
			assert_string_equal(got, t[i].want);
		}
		imf_free(&r);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stdout_spool_report),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_contacts),
		cmocka_unit_test(test_lookup_and_ids),
		cmocka_unit_test(test_local_time),
	};

	return cmocka_run_group_tests(tests, cli_setup, cli_teardown);
}
