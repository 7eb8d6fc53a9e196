/* tests/unit/test_changes.c — common/changes.c: the change listener.
 *
 * The payload of migration 0012's NOTIFY maps to its kind (tenant and
 * tenant_key are one kind); anything else, a missing payload or a kind
 * without its ':' counts as "everything changed", so a listener never
 * misses a reload by misreading.  A listener whose database is down keeps
 * trying without calling back (nothing was heard), and stops at once when
 * asked.  (The real LISTEN, its notifications and a killed connection:
 * tests/integration/live_changes.sh.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <unistd.h>

#include "common/changes.h"
#include "common/log.h"
#include "common/util.h"

static void
test_kinds(void **state)
{
	static const struct { const char *payload; unsigned mask; } t[] = {
		{ "tenant:6f1c7a52-0d7e-4c1e-9a57-6a3f3e7b2a10", CHANGES_TENANT },
		{ "tenant_key:6f1c7a52-0d7e-4c1e-9a57-6a3f3e7b2a10", CHANGES_TENANT },
		{ "device:6f1c7a52-0d7e-4c1e-9a57-6a3f3e7b2a10", CHANGES_DEVICE },
		{ "user:6f1c7a52-0d7e-4c1e-9a57-6a3f3e7b2a10", CHANGES_USER },
		{ "device:", CHANGES_DEVICE },
		{ "device", CHANGES_ALL },           /* no ':' */
		{ "devices:x", CHANGES_ALL },
		{ "Device:x", CHANGES_ALL },
		{ "", CHANGES_ALL },
		{ "matter:x", CHANGES_ALL },
		{ NULL, CHANGES_ALL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(changes_kind(t[i].payload), t[i].mask);
}

static atomic_int calls;

static void
count_call(void *ctx, unsigned mask)
{
	(void)ctx;
	(void)mask;
	atomic_fetch_add(&calls, 1);
}

static void
test_database_down(void **state)
{
	changes *c = NULL;
	char err[256];
	long long t0;

	(void)state;
	atomic_store(&calls, 0);
	/* a socket directory that does not exist: every connect fails at once */
	assert_int_equal(changes_start(&c, "host=/nonexistent/coffer port=1 "
	    "dbname=x connect_timeout=1", "test-changes", "test", count_call,
	    NULL, err, sizeof(err)), 0);
	assert_non_null(c);
	usleep(1200 * 1000);                 /* a few attempts, with backoff */
	assert_int_equal(atomic_load(&calls), 0);
	t0 = util_mono_us();
	changes_stop(&c);
	assert_null(c);
	/* stopping does not wait out a backoff pause */
	assert_true(util_mono_us() - t0 < 500000);
	changes_stop(&c);                    /* NULL: nothing */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_database_down),
	};

	log_init("test_changes");
	log_set_quiet(1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
