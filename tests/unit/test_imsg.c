/* tests/unit/test_imsg.c — common/imsg.c and the sealer's peer block
 * (gateway/sealer.c): the typed messages between the gateway's network
 * and sealer processes, over a real socketpair.
 *
 * A message goes through whole (header, parts, id); the end of the stream
 * before a header is a clean end (0), inside a header or a payload a
 * protocol error (EPROTO); every size rule refuses with its exact message;
 * a peer block whose field has no NUL is refused; the sealer's check of a
 * SUBMIT refuses a batch over its bound before reading it, a message too
 * short for a peer block and a batch header, a field without its NUL,
 * lines that break gateway/batch.h's layout, and a batch cut short.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/imsg.h"
#include "gateway/batch.h"
#include "gateway/record.h"
#include "gateway/sealer.h"

static void
pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
}

static void
test_round_trip(void **state)
{
	struct iovec iov[2] = { { (void *)"abc", 3 }, { (void *)"defgh", 5 } };
	char buf[16] = { 0 };
	imsg_hdr h;
	int sv[2];

	(void)state;
	pair(sv);
	assert_int_equal(imsg_write(sv[0], IMSG_SUBMIT, 0x1234567890ULL, iov, 2),
	    0);
	assert_int_equal(imsg_write(sv[0], IMSG_RELOAD, 7, NULL, 0), 0);
	close(sv[0]);
	assert_int_equal(imsg_read_hdr(sv[1], &h), 1);
	assert_int_equal(h.type, IMSG_SUBMIT);
	assert_int_equal(h.len, 8);
	assert_true(h.id == 0x1234567890ULL);
	assert_int_equal(imsg_read(sv[1], buf, h.len), 0);
	assert_memory_equal(buf, "abcdefgh", 8);
	assert_int_equal(imsg_read_hdr(sv[1], &h), 1);
	assert_int_equal(h.type, IMSG_RELOAD);
	assert_int_equal(h.len, 0);
	assert_true(h.id == 7);
	/* the other end closed between messages: a clean end */
	assert_int_equal(imsg_read_hdr(sv[1], &h), 0);
	close(sv[1]);
}

static void
test_cut_short(void **state)
{
	unsigned char part[7] = { 1, 0, 0, 0, 9, 0, 0 };
	char buf[16];
	imsg_hdr h;
	int sv[2];

	(void)state;
	/* a header cut short */
	pair(sv);
	assert_int_equal(write(sv[0], part, sizeof(part)), (ssize_t)sizeof(part));
	close(sv[0]);
	errno = 0;
	assert_int_equal(imsg_read_hdr(sv[1], &h), -1);
	assert_int_equal(errno, EPROTO);
	close(sv[1]);
	/* a payload cut short */
	pair(sv);
	{
		struct iovec iov = { (void *)"0123456789", 10 };

		assert_int_equal(imsg_write(sv[0], IMSG_DONE, 1, &iov, 1), 0);
	}
	close(sv[0]);
	assert_int_equal(imsg_read_hdr(sv[1], &h), 1);
	assert_int_equal(imsg_read(sv[1], buf, 10), 0);
	errno = 0;
	assert_int_equal(imsg_read(sv[1], buf, 1), -1);
	assert_int_equal(errno, EPROTO);
	close(sv[1]);
}

static void
test_expect(void **state)
{
	imsg_hdr h = { IMSG_SUBMIT, 12, 0 };
	char err[160];

	(void)state;
	assert_int_equal(imsg_expect(&h, IMSG_SUBMIT, 12, 12, err, sizeof(err)),
	    0);
	assert_int_equal(imsg_expect(&h, IMSG_SUBMIT, 321, 1000, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "SUBMIT of 12 bytes, want 321..1000");
	assert_int_equal(imsg_expect(&h, IMSG_SUBMIT, 4, 4, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "SUBMIT of 12 bytes, want 4");
	assert_int_equal(imsg_expect(&h, IMSG_DONE, 0, 100, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "message of type SUBMIT (1), want DONE");
	h.type = 4242;
	assert_int_equal(imsg_expect(&h, IMSG_PEER, 0, 1000, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "message of type unknown (4242), want PEER");
	assert_string_equal(imsg_name(IMSG_READY), "READY");
	assert_string_equal(imsg_name(IMSG_METRICS_R), "METRICS_R");
}

static void
test_too_many_parts(void **state)
{
	struct iovec iov[IMSG_IOV_MAX + 1];
	int sv[2];

	(void)state;
	pair(sv);
	memset(iov, 0, sizeof(iov));
	errno = 0;
	assert_int_equal(imsg_write(sv[0], IMSG_DONE, 1, iov, IMSG_IOV_MAX + 1),
	    -1);
	assert_int_equal(errno, EINVAL);
	close(sv[0]);
	close(sv[1]);
}

static void
test_peer_block(void **state)
{
	unsigned char blk[SEALER_PEER_BYTES];
	ingest_peer p, q;

	(void)state;
	memset(&p, 0, sizeof(p));
	snprintf(p.tenant, sizeof(p.tenant), "acme");
	snprintf(p.device, sizeof(p.device), "phone-1");
	memset(p.fingerprint, 'a', 64);
	sealer_peer_put(blk, &p);
	assert_int_equal(sealer_peer_get(&q, blk), 0);
	assert_string_equal(q.tenant, "acme");
	assert_string_equal(q.device, "phone-1");
	assert_int_equal(strlen(q.fingerprint), 64);
	/* each field must end inside itself */
	memset(blk, 'x', SEALER_NAME_BYTES);
	assert_int_equal(sealer_peer_get(&q, blk), -1);
	assert_string_equal(q.tenant, "");
	sealer_peer_put(blk, &p);
	memset(blk + SEALER_NAME_BYTES, 'x', SEALER_NAME_BYTES);
	assert_int_equal(sealer_peer_get(&q, blk), -1);
	sealer_peer_put(blk, &p);
	memset(blk + 2 * SEALER_NAME_BYTES, 'f', SEALER_FPR_BYTES);
	assert_int_equal(sealer_peer_get(&q, blk), -1);
}

/* The sealer's check of a SUBMIT, as a hostile network process sends it. */
static void
test_read_submit(void **state)
{
	static const char line[] = "{\"id\":\"m1\",\"channel\":\"sms\","
	    "\"conversation\":\"c\",\"direction\":\"in\",\"sender\":\"+15551230001\","
	    "\"recipients\":[\"+15551230002\"],\"sent_at\":\"2026-01-01T00:00:00Z\","
	    "\"body\":\"hi\"}\n";
	const batch_limits lim = { 1024, 1024, 10 };
	unsigned char blk[SEALER_PEER_BYTES], *enc = NULL;
	struct iovec iov[2];
	char err[160];
	ingest_peer p;
	size_t elen = 0;
	batch b;
	imsg_hdr h;
	char line_err[160];
	int sv[2];

	(void)state;
	memset(&p, 0, sizeof(p));
	snprintf(p.tenant, sizeof(p.tenant), "acme");
	snprintf(p.device, sizeof(p.device), "phone-1");
	sealer_peer_put(blk, &p);
	assert_int_equal(batch_build(line, sizeof(line) - 1, "phone-1", 7, &lim,
	    &enc, &elen, err, sizeof(err)), 0);
	iov[0].iov_base = blk;
	iov[0].iov_len = sizeof(blk);
	iov[1].iov_base = enc;
	iov[1].iov_len = elen;
	assert_int_equal(sealer_submit_max(&lim),
	    SEALER_PEER_BYTES + BATCH_HDR_BYTES + 10 * BATCH_LINE_SLACK + 2048);
	/* a good one */
	pair(sv);
	assert_int_equal(imsg_write(sv[0], IMSG_SUBMIT, 5, iov, 2), 0);
	assert_int_equal(imsg_read_hdr(sv[1], &h), 1);
	assert_int_equal(sealer_read_submit(sv[1], &h, &lim, &p, &b, err,
	    sizeof(err)), 0);
	assert_int_equal(b.nlines, 1);
	assert_int_equal(b.body_bytes, sizeof(line) - 1);
	assert_int_equal(b.lines[0].kind, BATCH_ACCEPTED);
	assert_memory_equal(b.lines[0].f.id, "m1", 2);
	assert_string_equal(p.device, "phone-1");
	batch_free(&b);
	/* over the bound: refused before a byte of it is read */
	{
		const batch_limits tiny = { 16, 16, 0 };

		assert_int_equal(imsg_write(sv[0], IMSG_SUBMIT, 6, iov, 2), 0);
		assert_int_equal(imsg_read_hdr(sv[1], &h), 1);
		assert_int_equal(sealer_read_submit(sv[1], &h, &tiny, &p, &b, err,
		    sizeof(err)), -1);
		snprintf(line_err, sizeof(line_err), "SUBMIT of %zu bytes, want "
		    "333..365", SEALER_PEER_BYTES + elen);
		assert_string_equal(err, line_err);
		assert_null(b.buf);
		assert_null(b.lines);
	}
	close(sv[0]);
	close(sv[1]);
	/* too short for a peer block and a batch header */
	pair(sv);
	assert_int_equal(imsg_write(sv[0], IMSG_SUBMIT, 7, iov + 1, 1), 0);
	assert_int_equal(imsg_read_hdr(sv[1], &h), 1);
	assert_int_equal(sealer_read_submit(sv[1], &h, &lim, &p, &b, err,
	    sizeof(err)), -1);
	snprintf(line_err, sizeof(line_err), "SUBMIT of %zu bytes, want "
	    "333..12621", elen);
	assert_string_equal(err, line_err);
	close(sv[0]);
	close(sv[1]);
	/* a peer field without its NUL */
	pair(sv);
	memset(blk + SEALER_NAME_BYTES, 'd', SEALER_NAME_BYTES);
	assert_int_equal(imsg_write(sv[0], IMSG_SUBMIT, 8, iov, 2), 0);
	assert_int_equal(imsg_read_hdr(sv[1], &h), 1);
	assert_int_equal(sealer_read_submit(sv[1], &h, &lim, &p, &b, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "SUBMIT peer field without NUL");
	close(sv[0]);
	close(sv[1]);
	/* lines that break the layout: batch_decode's refusal, as the sealer
	 * sees it (test_batch has every one) */
	pair(sv);
	sealer_peer_put(blk, &p);
	enc[BATCH_HDR_BYTES] = 9;
	assert_int_equal(imsg_write(sv[0], IMSG_SUBMIT, 9, iov, 2), 0);
	assert_int_equal(imsg_read_hdr(sv[1], &h), 1);
	assert_int_equal(sealer_read_submit(sv[1], &h, &lim, &p, &b, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "SUBMIT line 1: unknown kind 9");
	assert_null(b.buf);
	close(sv[0]);
	close(sv[1]);
	/* a batch cut short: the network process died mid-message */
	pair(sv);
	{
		unsigned char hdr[IMSG_HDR_BYTES];
		uint32_t t = IMSG_SUBMIT, len = SEALER_PEER_BYTES + 100;
		uint64_t id = 9;

		memcpy(hdr, &t, 4);
		memcpy(hdr + 4, &len, 4);
		memcpy(hdr + 8, &id, 8);
		assert_int_equal(write(sv[0], hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
		assert_int_equal(write(sv[0], blk, sizeof(blk)), (ssize_t)sizeof(blk));
		assert_int_equal(write(sv[0], "abc", 3), 3);
	}
	close(sv[0]);
	assert_int_equal(imsg_read_hdr(sv[1], &h), 1);
	assert_int_equal(sealer_read_submit(sv[1], &h, &lim, &p, &b, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "SUBMIT: Protocol error");
	assert_null(b.buf);
	close(sv[1]);
	free(enc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_cut_short),
		cmocka_unit_test(test_expect),
		cmocka_unit_test(test_too_many_parts),
		cmocka_unit_test(test_peer_block),
		cmocka_unit_test(test_read_submit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
