/* tests/unit/test_outbox.c — agent/journal.c and agent/outbox.c: the
 * agent's durable outbox and receipts journal.
 *
 *   - records survive a reopen with their capture_seq; the high-water is
 *     kept across reopen, delivery of everything and compaction, so a
 *     capture_seq is never handed out twice
 *   - a torn tail (cut anywhere inside the last entry, zeros after it, a
 *     flipped byte in the last entry) is cut at open, the entries before
 *     it kept; a read-only open skips it without cutting
 *   - a checksum mismatch with entries after it is refused, never cut
 *   - compaction when delivered entries dominate: smaller file, pending
 *     records, spool positions and the high-water kept
 *   - a receipt fsync'd without its DONE (crash in between) counts once:
 *     the DONE is written at open, a second receipt for it is not kept
 *   - spool positions from ADD entries and SPOOL/SPOOL_GONE entries
 *   - obx_replay_mem and jnl_scan on hostile images: refused, not misread
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/daemon.h"
#include "agent/journal.h"
#include "agent/outbox.h"
#include "vault/mem.h"

static char dir[64];
static char err[512];

static int
setup(void **state)
{
	(void)state;
	if (vault_init() != 0)
		return -1;
	snprintf(dir, sizeof(dir), "/tmp/test_outbox.XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static void
wipe_dir(void)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/outbox.journal", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/receipts.journal", dir);
	unlink(p);
}

static off_t
fsize(const char *name)
{
	char p[128];
	struct stat sb;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (stat(p, &sb) != 0)
		return -1;
	return sb.st_size;
}

static void
truncate_to(const char *name, off_t len)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_int_equal(truncate(p, len), 0);
}

static void
patch(const char *name, off_t at, const void *b, size_t n)
{
	char p[128];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, b, n, at), (ssize_t)n);
	close(fd);
}

static outbox *
open_rw(void)
{
	outbox *o = NULL;

	if (obx_open(&o, dir, 0, err, sizeof(err)) != 0)
		fail_msg("obx_open: %s", err);
	return o;
}

/* Add n records "{"id":"r<i>"}" from spool file f.ndjson, then sync. */
static void
add_n(outbox *o, int n, int first)
{
	char line[64];
	uint64_t seq;
	int i;

	for (i = 0; i < n; i++) {
		int l = snprintf(line, sizeof(line), "{\"id\":\"r%d\"}", first + i);
		assert_int_equal(obx_add(o, "f.ndjson", 42, (uint64_t)(first + i + 1) * 100,
		    (const unsigned char *)line, (size_t)l, &seq, err, sizeof(err)), 0);
	}
	assert_int_equal(obx_sync(o, err, sizeof(err)), 0);
}

static void
deliver_first(outbox *o, size_t n)
{
	obx_rec **r;
	size_t k, i;

	obx_batch(o, n, (size_t)-1, &r, &k);
	assert_int_equal(k, n);
	for (i = 0; i < k; i++) {
		char j[64];
		int l = snprintf(j, sizeof(j), "{\"capture_seq\":%llu}",
		    (unsigned long long)r[i]->seq);
		assert_int_equal(obx_receipt(o, r[i]->seq, j, (size_t)l, 1, err,
		    sizeof(err)), 0);
	}
	for (i = 0; i < k; i++)
		assert_int_equal(obx_done(o, r[i]->seq, 'd', err, sizeof(err)), 0);
	assert_int_equal(obx_sync(o, err, sizeof(err)), 0);
}

static void
test_reopen_and_seq(void **state)
{
	outbox *o;
	obx_stats st;
	obx_rec **r;
	size_t k;

	(void)state;
	wipe_dir();
	o = open_rw();
	add_n(o, 5, 0);
	obx_close(&o);
	assert_null(o);

	o = open_rw();
	obx_stats_get(o, &st);
	assert_int_equal(st.pending, 5);
	assert_int_equal(st.seq_high, 5);
	obx_batch(o, 10, (size_t)-1, &r, &k);
	assert_int_equal(k, 5);
	assert_int_equal(r[0]->seq, 1);
	assert_int_equal(r[4]->seq, 5);
	assert_memory_equal(r[2]->data, "{\"id\":\"r2\"}", r[2]->len);
	assert_int_equal(obx_spool_offset(o, "f.ndjson", 42), 500);
	assert_int_equal(obx_spool_offset(o, "f.ndjson", 43), 0);
	/* everything delivered, compacted: the next number is still 6 */
	deliver_first(o, 5);
	assert_int_equal(obx_compact(o, 1, err, sizeof(err)), 0);
	obx_close(&o);
	o = open_rw();
	obx_stats_get(o, &st);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.seq_high, 5);
	assert_int_equal(st.receipts, 5);
	add_n(o, 1, 100);
	obx_batch(o, 10, (size_t)-1, &r, &k);
	assert_int_equal(k, 1);
	assert_int_equal(r[0]->seq, 6);
	obx_close(&o);
	/* the outbox lost (an operator's rm): the receipts still hold 1..5 */
	{
		char p[128];

		snprintf(p, sizeof(p), "%s/outbox.journal", dir);
		assert_int_equal(unlink(p), 0);
	}
	o = open_rw();
	obx_stats_get(o, &st);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.seq_high, 5);
	add_n(o, 1, 200);
	obx_batch(o, 10, (size_t)-1, &r, &k);
	assert_int_equal(r[0]->seq, 6);
	obx_close(&o);
}

static void
test_torn_tail(void **state)
{
	static const unsigned char zeros[100] = { 0 };
	outbox *o;
	obx_stats st;
	off_t full, cut;
	unsigned char x = 0x5a;

	(void)state;
	wipe_dir();
	o = open_rw();
	add_n(o, 3, 0);
	obx_close(&o);
	full = fsize("outbox.journal");
	/* every cut inside the third entry: two records stay, file cut */
	for (cut = full - 1; cut > full - (off_t)jnl_frame_size(17 + 8 + 11); cut -= 7) {
		wipe_dir();
		o = open_rw();
		add_n(o, 3, 0);
		obx_close(&o);
		truncate_to("outbox.journal", cut);
		/* read-only sees two, cuts nothing */
		assert_int_equal(obx_open(&o, dir, 1, err, sizeof(err)), 0);
		obx_stats_get(o, &st);
		assert_int_equal(st.pending, 2);
		assert_int_equal(st.outbox_torn, 1);
		obx_close(&o);
		assert_int_equal(fsize("outbox.journal"), cut);
		o = open_rw();
		obx_stats_get(o, &st);
		assert_int_equal(st.pending, 2);
		assert_int_equal(st.seq_high, 2);
		assert_int_equal(st.outbox_torn, 1);
		obx_close(&o);
		assert_true(fsize("outbox.journal") < cut);
	}
	/* zeros after the last entry (file system preallocation) */
	wipe_dir();
	o = open_rw();
	add_n(o, 3, 0);
	obx_close(&o);
	full = fsize("outbox.journal");
	patch("outbox.journal", full, zeros, sizeof(zeros));
	o = open_rw();
	obx_stats_get(o, &st);
	assert_int_equal(st.pending, 3);
	obx_close(&o);
	assert_int_equal(fsize("outbox.journal"), full);
	/* a flipped byte in the last entry, nothing after it: torn, cut */
	patch("outbox.journal", full - 20, &x, 1);
	o = open_rw();
	obx_stats_get(o, &st);
	assert_int_equal(st.pending, 2);
	obx_close(&o);
}

static void
test_checksum_mismatch_refused(void **state)
{
	outbox *o = NULL;
	unsigned char x = 'Z';
	off_t before;

	(void)state;
	wipe_dir();
	o = open_rw();
	add_n(o, 3, 0);
	obx_close(&o);
	before = fsize("outbox.journal");
	/* a payload byte of the first entry: two good entries follow */
	patch("outbox.journal", JNL_HDR_BYTES + 17 + 8 + 3, &x, 1);
	assert_int_equal(obx_open(&o, dir, 0, err, sizeof(err)), -1);
	assert_null(o);
	assert_non_null(strstr(err, "checksum mismatch at offset 0"));
	assert_non_null(strstr(err, "damaged, not torn"));
	assert_int_equal(obx_open(&o, dir, 1, err, sizeof(err)), -1);
	assert_int_equal(fsize("outbox.journal"), before);     /* not cut */
	/* a header byte (the seq) of the second entry */
	wipe_dir();
	o = open_rw();
	add_n(o, 3, 0);
	obx_close(&o);
	x = 9;
	patch("outbox.journal", (off_t)jnl_frame_size(17 + 8 + 11) + 12, &x, 1);
	assert_int_equal(obx_open(&o, dir, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "checksum mismatch"));
}

static void
test_compaction(void **state)
{
	outbox *o;
	obx_stats st;
	obx_rec **r;
	size_t k;
	off_t big, small;

	(void)state;
	wipe_dir();
	o = open_rw();
	add_n(o, 20000, 0);
	deliver_first(o, 19990);
	assert_int_equal(obx_spool_pos(o, "g.ndjson", 7, 1234, err, sizeof(err)), 0);
	assert_int_equal(obx_sync(o, err, sizeof(err)), 0);
	big = fsize("outbox.journal");
	assert_true(big > 1024 * 1024);
	/* not forced: delivered entries dominate a file over 1 MiB */
	assert_int_equal(obx_compact(o, 0, err, sizeof(err)), 0);
	small = fsize("outbox.journal");
	assert_true(small < big / 50);
	assert_int_equal(fsize("outbox.journal.tmp"), -1);
	/* a second call has nothing to do */
	assert_int_equal(obx_compact(o, 0, err, sizeof(err)), 0);
	assert_int_equal(fsize("outbox.journal"), small);
	obx_close(&o);
	o = open_rw();
	obx_stats_get(o, &st);
	assert_int_equal(st.pending, 10);
	assert_int_equal(st.seq_high, 20000);
	assert_int_equal(st.receipts, 19990);
	assert_int_equal(obx_spool_offset(o, "g.ndjson", 7), 1234);
	assert_int_equal(obx_spool_offset(o, "f.ndjson", 42), 2000000);
	obx_batch(o, 100, (size_t)-1, &r, &k);
	assert_int_equal(k, 10);
	assert_int_equal(r[0]->seq, 19991);
	assert_memory_equal(r[9]->data, "{\"id\":\"r19999\"}", r[9]->len);
	/* the journal appends after the compacted image */
	add_n(o, 1, 5);
	obx_close(&o);
	o = open_rw();
	obx_stats_get(o, &st);
	assert_int_equal(st.pending, 11);
	assert_int_equal(st.seq_high, 20001);
	obx_close(&o);
}

static void
test_receipt_without_done(void **state)
{
	outbox *o;
	obx_stats st;
	obx_rec **r;
	size_t k;
	off_t ob;

	(void)state;
	wipe_dir();
	o = open_rw();
	add_n(o, 2, 0);
	ob = fsize("outbox.journal");
	obx_batch(o, 1, (size_t)-1, &r, &k);
	assert_int_equal(obx_receipt(o, r[0]->seq, "{}", 2, 1, err, sizeof(err)), 0);
	assert_int_equal(obx_done(o, r[0]->seq, 'd', err, sizeof(err)), 0);
	assert_int_equal(obx_sync(o, err, sizeof(err)), 0);
	obx_close(&o);
	/* the crash: the DONE never reached the disk */
	truncate_to("outbox.journal", ob);
	o = open_rw();
	obx_stats_get(o, &st);
	assert_int_equal(st.pending, 1);
	assert_int_equal(st.receipts, 1);
	obx_batch(o, 10, (size_t)-1, &r, &k);
	assert_int_equal(k, 1);
	assert_int_equal(r[0]->seq, 2);
	obx_close(&o);
	o = open_rw();
	obx_stats_get(o, &st);
	assert_int_equal(st.pending, 1);
	assert_int_equal(st.receipts, 1);
	obx_close(&o);
	/* a duplicate receipt for a pending record is kept once */
	o = open_rw();
	assert_int_equal(obx_receipt(o, 2, "{}", 2, 1, err, sizeof(err)), 0);
	assert_int_equal(obx_receipt(o, 2, "{}", 2, 1, err, sizeof(err)), 0);
	assert_int_equal(obx_has_receipt(o, 2), 1);
	assert_int_equal(obx_sync(o, err, sizeof(err)), 0);
	obx_close(&o);
	o = open_rw();
	obx_stats_get(o, &st);
	assert_int_equal(st.receipts, 2);
	assert_int_equal(st.pending, 0);
	/* done twice, or an unknown seq: refused */
	assert_int_equal(obx_done(o, 2, 'd', err, sizeof(err)), -1);
	assert_int_equal(obx_done(o, 99, 'd', err, sizeof(err)), -1);
	obx_close(&o);
}

static void
test_spool_positions(void **state)
{
	outbox *o;

	(void)state;
	wipe_dir();
	o = open_rw();
	assert_int_equal(obx_spool_pos(o, "a.ndjson", 1, 10, err, sizeof(err)), 0);
	assert_int_equal(obx_spool_pos(o, "b.ndjson", 2, 20, err, sizeof(err)), 0);
	assert_int_equal(obx_spool_gone(o, "a.ndjson", err, sizeof(err)), 0);
	assert_int_equal(obx_spool_pos(o, "../x", 2, 20, err, sizeof(err)), -1);
	assert_int_equal(obx_sync(o, err, sizeof(err)), 0);
	obx_close(&o);
	o = open_rw();
	assert_int_equal(obx_spool_offset(o, "a.ndjson", 1), 0);
	assert_int_equal(obx_spool_offset(o, "b.ndjson", 2), 20);
	/* positions of files no longer in the spool are forgotten, durably */
	{
		char *names[] = { "c.ndjson", "d.ndjson" };
		size_t dropped = 0;

		assert_int_equal(obx_spool_pos(o, "c.ndjson", 3, 30, err, sizeof(err)), 0);
		assert_int_equal(obx_spool_pos(o, "e.ndjson", 5, 50, err, sizeof(err)), 0);
		assert_int_equal(obx_spool_prune(o, names, 2, &dropped, err,
		    sizeof(err)), 0);
		assert_int_equal(dropped, 2);
		assert_int_equal(obx_sync(o, err, sizeof(err)), 0);
	}
	obx_close(&o);
	o = open_rw();
	assert_int_equal(obx_spool_offset(o, "b.ndjson", 2), 0);
	assert_int_equal(obx_spool_offset(o, "e.ndjson", 5), 0);
	assert_int_equal(obx_spool_offset(o, "c.ndjson", 3), 30);
	obx_close(&o);
}

static void
test_lock(void **state)
{
	outbox *o = open_rw(), *o2 = NULL, *ro = NULL;

	(void)state;
	assert_int_equal(obx_open(&o2, dir, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "held by another coffer-agent"));
	assert_int_equal(obx_open(&ro, dir, 1, err, sizeof(err)), 0);
	obx_close(&ro);
	obx_close(&o);
}

static void
test_hostile_images(void **state)
{
	unsigned char buf[4096];
	obx_stats st;
	size_t n;

	(void)state;
	/* an ADD whose name length runs past its payload */
	memset(buf, 0, sizeof(buf));
	{
		unsigned char p[40];
		memset(p, 0, sizeof(p));
		p[0] = 200;     /* name length */
		jnl_encode(buf, OBX_ADD, 1, p, sizeof(p));
		n = jnl_frame_size(sizeof(p));
		assert_int_equal(obx_replay_mem(buf, n, &st, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "malformed"));
	}
	/* capture_seq going backwards */
	{
		unsigned char p[18] = { 0 };
		size_t a;
		p[17] = '{';
		jnl_encode(buf, OBX_ADD, 5, p, sizeof(p));
		a = jnl_frame_size(sizeof(p));
		jnl_encode(buf + a, OBX_ADD, 5, p, sizeof(p));
		assert_int_equal(obx_replay_mem(buf, 2 * a, &st, err, sizeof(err)), -1);
	}
	/* a DONE for nothing, an unknown type */
	{
		unsigned char d = 'd';
		jnl_encode(buf, OBX_DONE, 3, &d, 1);
		assert_int_equal(obx_replay_mem(buf, jnl_frame_size(1), &st, err,
		    sizeof(err)), -1);
		jnl_encode(buf, 77, 3, &d, 1);
		assert_int_equal(obx_replay_mem(buf, jnl_frame_size(1), &st, err,
		    sizeof(err)), -1);
	}
	/* a length past JNL_PAYLOAD_MAX followed by data: damaged */
	memset(buf, 0, sizeof(buf));
	jnl_encode(buf, OBX_BASE, 1, NULL, 0);
	buf[8] = 0xff; buf[9] = 0xff; buf[10] = 0xff; buf[11] = 0x7f;
	buf[100] = 1;
	assert_int_equal(obx_replay_mem(buf, 200, &st, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "length out of range"));
	/* the same with only zeros after its header: torn, nothing taken */
	buf[100] = 0;
	memset(buf + JNL_HDR_BYTES, 0, JNL_SUM_BYTES);
	assert_int_equal(obx_replay_mem(buf, 200, &st, err, sizeof(err)), 0);
	assert_int_equal(st.outbox_torn, 1);
	assert_int_equal(st.seq_high, 0);
}

/* the line as sent: capture_seq first when on, the stored bytes when off */
static void
test_line_out(void **state)
{
	static const char rec[] = "{\"id\":\"x\",\"body\":\"{}\"}";
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0;
	const char *want = "{\"capture_seq\":7,\"id\":\"x\",\"body\":\"{}\"}\n"
	    "{\"id\":\"x\",\"body\":\"{}\"}\n";

	(void)state;
	assert_int_equal(agent_line_out(&buf, &len, &cap,
	    (const unsigned char *)rec, strlen(rec), 7, 1), 0);
	assert_int_equal(agent_line_out(&buf, &len, &cap,
	    (const unsigned char *)rec, strlen(rec), 8, 0), 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(buf, want, len);
	/* a stored line that is not an object is never sent with a seq */
	assert_int_equal(agent_line_out(&buf, &len, &cap,
	    (const unsigned char *)"[1]", 3, 9, 1), -1);
	vault_free_wiped(buf, cap);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reopen_and_seq),
		cmocka_unit_test(test_torn_tail),
		cmocka_unit_test(test_checksum_mismatch_refused),
		cmocka_unit_test(test_compaction),
		cmocka_unit_test(test_receipt_without_done),
		cmocka_unit_test(test_spool_positions),
		cmocka_unit_test(test_lock),
		cmocka_unit_test(test_hostile_images),
		cmocka_unit_test(test_line_out),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
