/* tests/unit/test_chain.c — leaf hashes, Merkle roots, chain heads,
 * checkpoints and the audit chain (vault/chain.h).
 *
 * Formats are recomputed here from their documentation in chain.h (hand-made
 * byte strings, a recursive RFC 6962 reference), so a change of encoding is
 * a test failure, not a silent break with stored data.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vault/chain.h"
#include "vault/mem.h"

#define HB VAULT_HASH_BYTES

static void
H(unsigned char out[HB], const unsigned char *in, size_t len)
{
	assert_int_equal(crypto_generichash(out, HB, in, len, NULL, 0), 0);
}

static void
node(unsigned char out[HB], const unsigned char l[HB], const unsigned char r[HB])
{
	unsigned char buf[1 + 2 * HB];

	buf[0] = 0x01;
	memcpy(buf + 1, l, HB);
	memcpy(buf + 1 + HB, r, HB);
	H(out, buf, sizeof(buf));
}

/* RFC 6962 section 2.1, written from the definition. */
static void
ref_mth(const unsigned char *leaves, size_t n, unsigned char out[HB])
{
	unsigned char l[HB], r[HB];
	size_t        k = 1;

	assert_true(n > 0);
	if (n == 1) {
		memcpy(out, leaves, HB);
		return;
	}
	while (k * 2 < n)
		k *= 2;
	ref_mth(leaves, k, l);
	ref_mth(leaves + k * HB, n - k, r);
	node(out, l, r);
}

static void
make_leaves(unsigned char *leaves, size_t n, uint32_t salt)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char in[9];

		in[0] = 0x00;
		memcpy(in + 1, &salt, 4);
		memcpy(in + 5, &i, 4);
		H(leaves + i * HB, in, sizeof(in));
	}
}

static void
root_of(const unsigned char *leaves, size_t n, unsigned char out[HB])
{
	assert_int_equal(vault_merkle_root(leaves, n, out), 0);
}

/* n = 1..9 written out as trees, then the same through the reference. */
static void
test_merkle_known_structure(void **state)
{
	unsigned char L[9][HB], want[HB], got[HB];
	unsigned char n01[HB], n23[HB], n45[HB], n67[HB], n0123[HB],
	              n4567[HB], n0_7[HB], t[HB], u[HB];
	size_t        n;

	(void)state;
	make_leaves(&L[0][0], 9, 1);
	node(n01, L[0], L[1]);
	node(n23, L[2], L[3]);
	node(n45, L[4], L[5]);
	node(n67, L[6], L[7]);
	node(n0123, n01, n23);
	node(n4567, n45, n67);
	node(n0_7, n0123, n4567);

	for (n = 1; n <= 9; n++) {
		switch (n) {
		case 1: memcpy(want, L[0], HB); break;
		case 2: memcpy(want, n01, HB); break;
		case 3: node(want, n01, L[2]); break;
		case 4: memcpy(want, n0123, HB); break;
		case 5: node(want, n0123, L[4]); break;
		case 6: node(want, n0123, n45); break;
		case 7: node(t, n45, L[6]); node(want, n0123, t); break;
		case 8: memcpy(want, n0_7, HB); break;
		case 9: node(want, n0_7, L[8]); break;
		}
		root_of(&L[0][0], n, got);
		if (memcmp(got, want, HB) != 0)
			fail_msg("n=%zu: root differs from the written-out tree", n);
		ref_mth(&L[0][0], n, u);
		assert_memory_equal(u, want, HB);
	}
}

static void
test_merkle_matches_reference(void **state)
{
	static const size_t big[] = { 63, 64, 65, 127, 128, 129, 1000, 1023,
	                              1024, 1025, 4097, 100000 };
	unsigned char      *leaves;
	unsigned char       a[HB], b[HB];
	size_t              n, i;

	(void)state;
	leaves = malloc(100000 * HB);
	assert_non_null(leaves);
	make_leaves(leaves, 100000, 2);
	for (n = 1; n <= 70; n++) {
		root_of(leaves, n, a);
		ref_mth(leaves, n, b);
		if (memcmp(a, b, HB) != 0)
			fail_msg("n=%zu differs from reference", n);
	}
	for (i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
		root_of(leaves, big[i], a);
		ref_mth(leaves, big[i], b);
		if (memcmp(a, b, HB) != 0)
			fail_msg("n=%zu differs from reference", big[i]);
	}
	free(leaves);
}

static void
test_merkle_tamper(void **state)
{
	unsigned char leaves[10 * HB], work[10 * HB];
	unsigned char base[HB], got[HB];
	size_t        n, i, j;

	(void)state;
	make_leaves(leaves, 10, 3);
	for (n = 1; n <= 9; n++) {
		root_of(leaves, n, base);
		for (i = 0; i < n; i++) {
			/* change one leaf: first, middle and last bit */
			static const size_t bits[] = { 0, 128, HB * 8 - 1 };
			size_t              b;

			for (b = 0; b < 3; b++) {
				memcpy(work, leaves, n * HB);
				work[i * HB + bits[b] / 8] ^=
				    (unsigned char)(1U << (bits[b] % 8));
				root_of(work, n, got);
				if (memcmp(got, base, HB) == 0)
					fail_msg("n=%zu: changed leaf %zu kept root", n, i);
			}
			/* swap with every other leaf */
			for (j = i + 1; j < n; j++) {
				memcpy(work, leaves, n * HB);
				memcpy(work + i * HB, leaves + j * HB, HB);
				memcpy(work + j * HB, leaves + i * HB, HB);
				root_of(work, n, got);
				if (memcmp(got, base, HB) == 0)
					fail_msg("n=%zu: swap %zu,%zu kept root", n, i, j);
			}
			/* remove leaf i */
			if (n > 1) {
				memcpy(work, leaves, i * HB);
				memcpy(work + i * HB, leaves + (i + 1) * HB,
				       (n - i - 1) * HB);
				root_of(work, n - 1, got);
				if (memcmp(got, base, HB) == 0)
					fail_msg("n=%zu: removing %zu kept root", n, i);
			}
		}
		/* appending a copy of the last leaf (no Bitcoin-style padding) */
		memcpy(work, leaves, n * HB);
		memcpy(work + n * HB, leaves + (n - 1) * HB, HB);
		root_of(work, n + 1, got);
		assert_memory_not_equal(got, base, HB);
	}
}

static void
test_merkle_refuses(void **state)
{
	unsigned char leaves[HB] = { 1 };
	unsigned char root[HB], zero[HB] = { 0 };

	(void)state;
	memset(root, 0xaa, sizeof(root));
	assert_int_equal(vault_merkle_root(leaves, 0, root), -1);
	assert_memory_equal(root, zero, HB);
	assert_int_equal(vault_merkle_root(NULL, 1, root), -1);
	assert_int_equal(vault_merkle_root(leaves, 1, NULL), -1);
	assert_int_equal(vault_merkle_root(leaves, SIZE_MAX, root), -1);
}

/* ---- leaves --------------------------------------------------------------- */

static const unsigned char participants3[3 * VAULT_TOKEN_BYTES] = {
	[0] = 0xa1, [16] = 0xb2, [32] = 0xc3, [47] = 0xff,
};
static const unsigned char conversation_tok[VAULT_TOKEN_BYTES] = {
	0xc0, 0x4e, [15] = 0x01,
};
static const unsigned char ciphertext5[5] = { 9, 8, 7, 6, 5 };

static vault_leaf
base_leaf(void)
{
	vault_leaf l;

	memset(&l, 0, sizeof(l));
	memset(l.tenant_id, 0x11, VAULT_ID_BYTES);
	memset(l.stream_id, 0x22, VAULT_ID_BYTES);
	l.seq = 7;
	memset(l.epoch_id, 0x33, VAULT_ID_BYTES);
	l.received_at = 1795860000000001LL;
	l.sent_at = 1795859999000000LL;
	l.channel = "signal";
	l.channel_len = 6;
	l.size_class = 2;
	l.participants = participants3;
	l.participant_count = 3;
	l.conversation = conversation_tok;
	memset(l.dedup, 0x44, VAULT_TOKEN_BYTES);
	memset(l.nonce, 0x55, VAULT_NONCE_BYTES);
	l.ciphertext = ciphertext5;
	l.ciphertext_len = 5;
	return l;
}

static unsigned char *
be(unsigned char *p, uint64_t v, int n)
{
	int i;

	for (i = n - 1; i >= 0; i--) {
		p[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
	return p + n;
}

/* The documented encoding, byte by byte. */
static void
test_leaf_encoding_known(void **state)
{
	vault_leaf     l = base_leaf();
	unsigned char  buf[512], *p = buf, want[HB], got[HB];

	(void)state;
	*p++ = 0x00;                                  /* RFC 6962 leaf prefix */
	*p++ = 0x01;                                  /* leaf version */
	memcpy(p, l.tenant_id, 16); p += 16;
	memcpy(p, l.stream_id, 16); p += 16;
	p = be(p, 7, 8);
	memcpy(p, l.epoch_id, 16); p += 16;
	p = be(p, (uint64_t)l.received_at, 8);
	p = be(p, (uint64_t)l.sent_at, 8);
	p = be(p, 6, 4);
	memcpy(p, "signal", 6); p += 6;
	*p++ = 2;                                     /* size class */
	p = be(p, 3, 4);
	memcpy(p, participants3, 48); p += 48;
	*p++ = 1;
	memcpy(p, conversation_tok, 16); p += 16;
	memcpy(p, l.dedup, 16); p += 16;
	memcpy(p, l.nonce, 24); p += 24;
	p = be(p, 5, 8);
	memcpy(p, ciphertext5, 5); p += 5;
	H(want, buf, (size_t)(p - buf));

	assert_int_equal(vault_leaf_hash(&l, got), 0);
	assert_memory_equal(got, want, HB);

	/* without a conversation: presence byte 0 and no token */
	l.conversation = NULL;
	p = buf + 1 + 1 + 16 + 16 + 8 + 16 + 8 + 8 + 4 + 6 + 1 + 4 + 48;
	*p++ = 0;
	memcpy(p, l.dedup, 16); p += 16;
	memcpy(p, l.nonce, 24); p += 24;
	p = be(p, 5, 8);
	memcpy(p, ciphertext5, 5); p += 5;
	H(want, buf, (size_t)(p - buf));
	assert_int_equal(vault_leaf_hash(&l, got), 0);
	assert_memory_equal(got, want, HB);
}

/* Each mutation is one way a DBA could alter a stored row. */
enum { M_NONE, M_TENANT, M_STREAM, M_SEQ, M_EPOCH, M_RECEIVED, M_SENT,
       M_CHANNEL_BYTE, M_CHANNEL_LONGER, M_CHANNEL_SHORTER, M_CHANNEL_EMPTY,
       M_SIZE_CLASS, M_PART_BYTE, M_PART_ORDER, M_PART_DROP, M_PART_NONE,
       M_PART_ADD, M_CONV_BYTE, M_CONV_ABSENT, M_CONV_ZERO, M_DEDUP, M_NONCE,
       M_CT_BYTE, M_CT_TRUNC, M_CT_EXTEND, M_CT_EMPTY, M_SEQ_ZERO,
       M_RECEIVED_NEG, M_COUNT };

static unsigned char parts_buf[4 * VAULT_TOKEN_BYTES];
static unsigned char conv_buf[VAULT_TOKEN_BYTES];
static unsigned char ct_buf[6];

static vault_leaf
mutate(int m)
{
	vault_leaf l = base_leaf();

	memcpy(parts_buf, participants3, sizeof(participants3));
	memset(parts_buf + 48, 0xdd, 16);
	memcpy(conv_buf, conversation_tok, sizeof(conv_buf));
	memcpy(ct_buf, ciphertext5, 5);
	ct_buf[5] = 4;
	switch (m) {
	case M_TENANT: l.tenant_id[15] ^= 1; break;
	case M_STREAM: l.stream_id[0] ^= 0x80; break;
	case M_SEQ: l.seq = 8; break;
	case M_SEQ_ZERO: l.seq = 0; break;
	case M_EPOCH: l.epoch_id[7] ^= 4; break;
	case M_RECEIVED: l.received_at++; break;
	case M_RECEIVED_NEG: l.received_at = -l.received_at; break;
	case M_SENT: l.sent_at--; break;
	case M_CHANNEL_BYTE: l.channel = "Signal"; break;
	case M_CHANNEL_LONGER: l.channel = "signal2"; l.channel_len = 7; break;
	case M_CHANNEL_SHORTER: l.channel_len = 5; break;
	case M_CHANNEL_EMPTY: l.channel = NULL; l.channel_len = 0; break;
	case M_SIZE_CLASS: l.size_class = 3; break;
	case M_PART_BYTE:
		parts_buf[20] ^= 1;
		l.participants = parts_buf;
		break;
	case M_PART_ORDER:   /* swap tokens 0 and 1 */
		memcpy(parts_buf, participants3 + 16, 16);
		memcpy(parts_buf + 16, participants3, 16);
		l.participants = parts_buf;
		break;
	case M_PART_DROP: l.participant_count = 2; break;
	case M_PART_NONE: l.participants = NULL; l.participant_count = 0; break;
	case M_PART_ADD:
		l.participants = parts_buf;
		l.participant_count = 4;
		break;
	case M_CONV_BYTE: conv_buf[3] ^= 0x10; l.conversation = conv_buf; break;
	case M_CONV_ABSENT: l.conversation = NULL; break;
	case M_CONV_ZERO:
		memset(conv_buf, 0, sizeof(conv_buf));
		l.conversation = conv_buf;
		break;
	case M_DEDUP: l.dedup[15] ^= 1; break;
	case M_NONCE: l.nonce[23] ^= 0x40; break;
	case M_CT_BYTE: ct_buf[2] ^= 1; l.ciphertext = ct_buf; break;
	case M_CT_TRUNC: l.ciphertext_len = 4; break;
	case M_CT_EXTEND: l.ciphertext = ct_buf; l.ciphertext_len = 6; break;
	case M_CT_EMPTY: l.ciphertext = NULL; l.ciphertext_len = 0; break;
	default: break;
	}
	return l;
}

static void
test_leaf_every_field_counts(void **state)
{
	unsigned char h[M_COUNT][HB];
	int           m, k;

	(void)state;
	for (m = 0; m < M_COUNT; m++) {
		vault_leaf l = mutate(m);

		assert_int_equal(vault_leaf_hash(&l, h[m]), 0);
	}
	/* every mutation differs from the original and from each other */
	for (m = 0; m < M_COUNT; m++)
		for (k = m + 1; k < M_COUNT; k++)
			if (memcmp(h[m], h[k], HB) == 0)
				fail_msg("mutations %d and %d give one hash", m, k);
}

/* Bytes moved across a field boundary change the hash. */
static void
test_leaf_length_prefixes(void **state)
{
	vault_leaf    a = base_leaf(), b = base_leaf();
	unsigned char ha[HB], hb[HB];
	static const unsigned char two[2 * VAULT_TOKEN_BYTES] = { 1, [31] = 2 };

	(void)state;
	/* channel "ab" + size class vs channel "a" ... */
	a.channel = "ab";
	a.channel_len = 2;
	b.channel = "a";
	b.channel_len = 1;
	b.size_class = 'b';
	assert_int_equal(vault_leaf_hash(&a, ha), 0);
	assert_int_equal(vault_leaf_hash(&b, hb), 0);
	assert_memory_not_equal(ha, hb, HB);

	/* two participants and no conversation vs one and a conversation */
	a = base_leaf();
	b = base_leaf();
	a.participants = two;
	a.participant_count = 2;
	a.conversation = NULL;
	b.participants = two;
	b.participant_count = 1;
	b.conversation = two + 16;
	assert_int_equal(vault_leaf_hash(&a, ha), 0);
	assert_int_equal(vault_leaf_hash(&b, hb), 0);
	assert_memory_not_equal(ha, hb, HB);
}

static void
test_leaf_rejects(void **state)
{
	vault_leaf    l;
	unsigned char h[HB], zero[HB] = { 0 };

	(void)state;
	l = base_leaf();
	l.channel = NULL;
	memset(h, 0xaa, HB);
	assert_int_equal(vault_leaf_hash(&l, h), -1);
	assert_memory_equal(h, zero, HB);
	l = base_leaf();
	l.participants = NULL;
	assert_int_equal(vault_leaf_hash(&l, h), -1);
	l = base_leaf();
	l.ciphertext = NULL;
	assert_int_equal(vault_leaf_hash(&l, h), -1);
	l = base_leaf();
	l.channel_len = (size_t)UINT32_MAX + 1;
	assert_int_equal(vault_leaf_hash(&l, h), -1);
	l = base_leaf();
	l.participant_count = (size_t)UINT32_MAX + 1;
	assert_int_equal(vault_leaf_hash(&l, h), -1);
	assert_int_equal(vault_leaf_hash(NULL, h), -1);
	assert_int_equal(vault_leaf_hash(&l, NULL), -1);
}

/* A 1 MiB ciphertext is hashed in place, and every byte of it counts. */
static void
test_leaf_large_ciphertext(void **state)
{
	vault_leaf     l = base_leaf();
	unsigned char *ct = malloc(1U << 20);
	unsigned char  a[HB], b[HB];

	(void)state;
	assert_non_null(ct);
	memset(ct, 0x5c, 1U << 20);
	l.ciphertext = ct;
	l.ciphertext_len = 1U << 20;
	assert_int_equal(vault_leaf_hash(&l, a), 0);
	ct[(1U << 20) - 1] ^= 1;
	assert_int_equal(vault_leaf_hash(&l, b), 0);
	assert_memory_not_equal(a, b, HB);
	free(ct);
}

/* ---- chain heads ---------------------------------------------------------- */

static void
test_chain_head_known(void **state)
{
	unsigned char tenant[16], stream[16], prev[HB] = { 0 }, root[HB];
	unsigned char buf[256], *p = buf, want[HB], got[HB];

	(void)state;
	memset(tenant, 0x11, 16);
	memset(stream, 0x22, 16);
	memset(root, 0x99, HB);
	memcpy(p, "coffer-chain-v1", 15); p += 15;
	memcpy(p, tenant, 16); p += 16;
	memcpy(p, stream, 16); p += 16;
	p = be(p, 1, 8);
	p = be(p, 1, 8);
	p = be(p, 500, 8);
	memcpy(p, prev, HB); p += HB;
	memcpy(p, root, HB); p += HB;
	assert_int_equal((size_t)(p - buf), 135);
	H(want, buf, (size_t)(p - buf));
	assert_int_equal(vault_chain_next(tenant, stream, 1, 1, 500, prev, root,
	                                  got), 0);
	assert_memory_equal(got, want, HB);
}

static void
test_chain_head_inputs(void **state)
{
	unsigned char tenant[16], stream[16], prev[HB], root[HB];
	unsigned char h[9][HB], zero[HB] = { 0 };
	int           i, j;

	(void)state;
	memset(tenant, 0x11, 16);
	memset(stream, 0x22, 16);
	memset(prev, 0, HB);
	memset(root, 0x99, HB);
	assert_int_equal(vault_chain_next(tenant, stream, 5, 10, 20, prev, root,
	                                  h[0]), 0);
	tenant[0] ^= 1;
	assert_int_equal(vault_chain_next(tenant, stream, 5, 10, 20, prev, root,
	                                  h[1]), 0);
	tenant[0] ^= 1;
	stream[15] ^= 1;
	assert_int_equal(vault_chain_next(tenant, stream, 5, 10, 20, prev, root,
	                                  h[2]), 0);
	stream[15] ^= 1;
	assert_int_equal(vault_chain_next(tenant, stream, 6, 10, 20, prev, root,
	                                  h[3]), 0);
	assert_int_equal(vault_chain_next(tenant, stream, 5, 11, 20, prev, root,
	                                  h[4]), 0);
	assert_int_equal(vault_chain_next(tenant, stream, 5, 10, 21, prev, root,
	                                  h[5]), 0);
	prev[31] = 1;
	assert_int_equal(vault_chain_next(tenant, stream, 5, 10, 20, prev, root,
	                                  h[6]), 0);
	prev[31] = 0;
	root[0] ^= 1;
	assert_int_equal(vault_chain_next(tenant, stream, 5, 10, 20, prev, root,
	                                  h[7]), 0);
	root[0] ^= 1;
	/* a single-record batch is allowed */
	assert_int_equal(vault_chain_next(tenant, stream, 5, 10, 10, prev, root,
	                                  h[8]), 0);
	for (i = 0; i < 9; i++)
		for (j = i + 1; j < 9; j++)
			if (memcmp(h[i], h[j], HB) == 0)
				fail_msg("chain inputs %d and %d collide", i, j);

	/* first_seq after last_seq is refused */
	memset(h[0], 0xaa, HB);
	assert_int_equal(vault_chain_next(tenant, stream, 5, 21, 20, prev, root,
	                                  h[0]), -1);
	assert_memory_equal(h[0], zero, HB);
	assert_int_equal(vault_chain_next(tenant, stream, 5, 1, 2, NULL, root,
	                                  h[0]), -1);
}

/* Three batches chained; replaying them in another order, or dropping the
 * middle one, ends at another head. */
static void
test_chain_sequence(void **state)
{
	unsigned char tenant[16] = { 1 }, stream[16] = { 2 };
	unsigned char roots[3][HB], head[HB], other[HB], tmp[HB];
	unsigned char genesis[HB] = { 0 };
	int           i;

	(void)state;
	for (i = 0; i < 3; i++)
		memset(roots[i], 0x10 + i, HB);
	memcpy(head, genesis, HB);
	for (i = 0; i < 3; i++) {
		assert_int_equal(vault_chain_next(tenant, stream, (uint64_t)i + 1,
		    (uint64_t)i * 10 + 1, (uint64_t)i * 10 + 10, head, roots[i],
		    tmp), 0);
		memcpy(head, tmp, HB);
	}
	/* batch 2 and 3 swapped */
	assert_int_equal(vault_chain_next(tenant, stream, 1, 1, 10, genesis,
	                                  roots[0], other), 0);
	assert_int_equal(vault_chain_next(tenant, stream, 2, 11, 20, other,
	                                  roots[2], tmp), 0);
	assert_int_equal(vault_chain_next(tenant, stream, 3, 21, 30, tmp,
	                                  roots[1], other), 0);
	assert_memory_not_equal(head, other, HB);
	/* batch 2 dropped, 3 renumbered */
	assert_int_equal(vault_chain_next(tenant, stream, 1, 1, 10, genesis,
	                                  roots[0], tmp), 0);
	assert_int_equal(vault_chain_next(tenant, stream, 2, 21, 30, tmp,
	                                  roots[2], other), 0);
	assert_memory_not_equal(head, other, HB);
}

/* ---- checkpoints ---------------------------------------------------------- */

static vault_checkpoint
base_checkpoint(void)
{
	vault_checkpoint cp;

	memset(&cp, 0, sizeof(cp));
	memset(cp.tenant_id, 0x11, 16);
	memset(cp.stream_id, 0x22, 16);
	cp.batch_no = 3;
	cp.last_seq = 30;
	memset(cp.head, 0x77, HB);
	cp.signed_at = 1795860000000000LL;
	return cp;
}

static void
test_checkpoint_encoding(void **state)
{
	vault_checkpoint cp = base_checkpoint();
	unsigned char    got[VAULT_CHECKPOINT_MSG_BYTES];
	unsigned char    want[VAULT_CHECKPOINT_MSG_BYTES], *p = want;

	(void)state;
	memcpy(p, "coffer-checkpoint-v1", 20); p += 20;
	memset(p, 0x11, 16); p += 16;
	memset(p, 0x22, 16); p += 16;
	p = be(p, 3, 8);
	p = be(p, 30, 8);
	memset(p, 0x77, HB); p += HB;
	p = be(p, (uint64_t)1795860000000000LL, 8);
	assert_int_equal((size_t)(p - want), VAULT_CHECKPOINT_MSG_BYTES);
	vault_checkpoint_encode(&cp, got);
	assert_memory_equal(got, want, sizeof(want));
}

static void
test_checkpoint_sign_verify(void **state)
{
	vault_checkpoint cp = base_checkpoint(), t;
	unsigned char    pk[VAULT_SIGN_PK_BYTES], pk2[VAULT_SIGN_PK_BYTES];
	unsigned char   *sk = NULL, *sk2 = NULL;
	unsigned char    sig[VAULT_SIG_BYTES], sig2[VAULT_SIG_BYTES];
	unsigned char    msg[VAULT_CHECKPOINT_MSG_BYTES];
	size_t           bit;
	int              field;

	(void)state;
	assert_int_equal(vault_sign_keypair(pk, &sk), 0);
	assert_non_null(sk);
	assert_int_equal(vault_checkpoint_sign(sk, &cp, sig), 0);
	assert_int_equal(vault_checkpoint_verify(pk, &cp, sig), 0);

	/* it is plain Ed25519 over the documented message */
	vault_checkpoint_encode(&cp, msg);
	assert_int_equal(crypto_sign_verify_detached(sig, msg, sizeof(msg), pk), 0);

	/* every field of the message is signed */
	for (field = 0; field < 6; field++) {
		t = cp;
		switch (field) {
		case 0: t.tenant_id[0] ^= 1; break;
		case 1: t.stream_id[15] ^= 1; break;
		case 2: t.batch_no++; break;
		case 3: t.last_seq--; break;
		case 4: t.head[31] ^= 0x80; break;
		case 5: t.signed_at++; break;
		}
		if (vault_checkpoint_verify(pk, &t, sig) != -1)
			fail_msg("field %d not covered by the signature", field);
	}
	/* every bit of the signature matters */
	for (bit = 0; bit < VAULT_SIG_BYTES * 8; bit++) {
		memcpy(sig2, sig, sizeof(sig));
		sig2[bit / 8] ^= (unsigned char)(1U << (bit % 8));
		if (vault_checkpoint_verify(pk, &cp, sig2) != -1)
			fail_msg("signature bit %zu flipped still verifies", bit);
	}
	/* wrong key; tampered key */
	assert_int_equal(vault_sign_keypair(pk2, &sk2), 0);
	assert_int_equal(vault_checkpoint_verify(pk2, &cp, sig), -1);
	memcpy(pk2, pk, sizeof(pk));
	pk2[0] ^= 1;
	assert_int_equal(vault_checkpoint_verify(pk2, &cp, sig), -1);
	/* a signature by another key over the same checkpoint */
	assert_int_equal(vault_checkpoint_sign(sk2, &cp, sig2), 0);
	assert_int_equal(vault_checkpoint_verify(pk, &cp, sig2), -1);
	/* all-zero signature and key */
	memset(sig2, 0, sizeof(sig2));
	assert_int_equal(vault_checkpoint_verify(pk, &cp, sig2), -1);
	memset(pk2, 0, sizeof(pk2));
	assert_int_equal(vault_checkpoint_verify(pk2, &cp, sig2), -1);
	assert_int_equal(vault_checkpoint_verify(NULL, &cp, sig), -1);
	assert_int_equal(vault_checkpoint_verify(pk, NULL, sig), -1);
	assert_int_equal(vault_checkpoint_sign(NULL, &cp, sig2), -1);

	vault_sign_key_free(&sk);
	vault_sign_key_free(&sk2);
	assert_null(sk);
	assert_null(sk2);
	vault_sign_key_free(&sk);
	vault_sign_key_free(NULL);
}

static void
test_sign_key_from_seed(void **state)
{
	vault_checkpoint cp = base_checkpoint();
	unsigned char    seed[VAULT_SIGN_SEED_BYTES];
	unsigned char    pk1[VAULT_SIGN_PK_BYTES], pk2[VAULT_SIGN_PK_BYTES];
	unsigned char   *sk1 = NULL, *sk2 = NULL;
	unsigned char    s1[VAULT_SIG_BYTES], s2[VAULT_SIG_BYTES];

	(void)state;
	memset(seed, 0x42, sizeof(seed));
	assert_int_equal(vault_sign_key_from_seed(seed, pk1, &sk1), 0);
	assert_int_equal(vault_sign_key_from_seed(seed, pk2, &sk2), 0);
	assert_memory_equal(pk1, pk2, sizeof(pk1));
	assert_int_equal(vault_checkpoint_sign(sk1, &cp, s1), 0);
	assert_int_equal(vault_checkpoint_sign(sk2, &cp, s2), 0);
	assert_memory_equal(s1, s2, sizeof(s1));   /* Ed25519 is deterministic */
	assert_int_equal(vault_checkpoint_verify(pk1, &cp, s1), 0);
	vault_sign_key_free(&sk2);
	seed[0] ^= 1;
	assert_int_equal(vault_sign_key_from_seed(seed, pk2, &sk2), 0);
	assert_memory_not_equal(pk1, pk2, sizeof(pk1));
	vault_sign_key_free(&sk1);
	vault_sign_key_free(&sk2);
	assert_int_equal(vault_sign_key_from_seed(NULL, pk2, &sk2), -1);
	assert_null(sk2);
	sodium_memzero(seed, sizeof(seed));
}

/* ---- audit chain ---------------------------------------------------------- */

static void
test_audit_chain(void **state)
{
	static const unsigned char ev1[] = "{\"action\":\"matter.create\",\"id\":1}";
	static const unsigned char ev2[] = "{\"action\":\"approval\",\"id\":2}";
	unsigned char genesis[HB] = { 0 }, h1[HB], h2[HB], h2b[HB], want[HB];
	unsigned char buf[256], *p = buf, zero[HB] = { 0 };

	(void)state;
	memcpy(p, "coffer-audit-v1", 15); p += 15;
	memcpy(p, genesis, HB); p += HB;
	memcpy(p, ev1, sizeof(ev1) - 1); p += sizeof(ev1) - 1;
	H(want, buf, (size_t)(p - buf));
	assert_int_equal(vault_audit_next(genesis, ev1, sizeof(ev1) - 1, h1), 0);
	assert_memory_equal(h1, want, HB);

	assert_int_equal(vault_audit_next(h1, ev2, sizeof(ev2) - 1, h2), 0);
	/* same event after another predecessor, or altered, or reordered */
	assert_int_equal(vault_audit_next(genesis, ev2, sizeof(ev2) - 1, h2b), 0);
	assert_memory_not_equal(h2, h2b, HB);
	assert_int_equal(vault_audit_next(h1, ev2, sizeof(ev2) - 2, h2b), 0);
	assert_memory_not_equal(h2, h2b, HB);
	assert_int_equal(vault_audit_next(genesis, ev2, sizeof(ev2) - 1, h2b), 0);
	assert_int_equal(vault_audit_next(h2b, ev1, sizeof(ev1) - 1, h2b), 0);
	assert_memory_not_equal(h2, h2b, HB);
	/* empty event is allowed; NULL with a length is not */
	assert_int_equal(vault_audit_next(h1, NULL, 0, h2b), 0);
	assert_memory_not_equal(h2, h2b, HB);
	memset(h2b, 0xaa, HB);
	assert_int_equal(vault_audit_next(h1, NULL, 3, h2b), -1);
	assert_memory_equal(h2b, zero, HB);
	assert_int_equal(vault_audit_next(NULL, ev1, 3, h2b), -1);
}

/* Inclusion proofs (issue 13.3): every index of every size up to 70 proves
 * into vault_merkle_root's root; any flipped bit, other index, other size,
 * shortened or lengthened path fails.  (The size is bound by the chain
 * head, first_seq..last_seq, not by the proof.) */
static void
test_merkle_inclusion(void **state)
{
	unsigned char leaves[70 * HB], tree[160 * HB], root[HB], leaf[HB];
	unsigned char path[VAULT_MERKLE_PATH_MAX * HB], bad[VAULT_MERKLE_PATH_MAX * HB];
	size_t n, i, plen;

	(void)state;
	for (i = 0; i < 70; i++)
		H(leaves + i * HB, (const unsigned char *)&i, sizeof(i));
	for (n = 1; n <= 70; n++) {
		assert_true(vault_merkle_tree_nodes(n) <= 2 * n + 7);
		assert_int_equal(vault_merkle_root(leaves, n, root), 0);
		assert_int_equal(vault_merkle_tree(leaves, n, tree), 0);
		assert_memory_equal(tree + (vault_merkle_tree_nodes(n) - 1) * HB,
		    root, HB);
		for (i = 0; i < n; i++) {
			assert_int_equal(vault_merkle_path(tree, n, i, path, &plen), 0);
			assert_int_equal(vault_merkle_verify(leaves + i * HB, i, n, path,
			    plen, root), 0);
			memcpy(leaf, leaves + i * HB, HB);
			leaf[0] ^= 1;
			assert_int_equal(vault_merkle_verify(leaf, i, n, path, plen,
			    root), -1);
			if (n > 1) {
				assert_int_equal(vault_merkle_verify(leaves + i * HB,
				    (i + 1) % n, n, path, plen, root), -1);
				memcpy(bad, path, plen * HB);
				bad[(plen - 1) * HB] ^= 0x80;
				assert_int_equal(vault_merkle_verify(leaves + i * HB, i, n,
				    bad, plen, root), -1);
				assert_int_equal(vault_merkle_verify(leaves + i * HB, i, n,
				    path, plen - 1, root), -1);
			}
			memcpy(bad, path, plen * HB);
			memcpy(bad + plen * HB, root, HB);
			assert_int_equal(vault_merkle_verify(leaves + i * HB, i, n, bad,
			    plen + 1, root), -1);
		}
		assert_int_equal(vault_merkle_path(tree, n, n, path, &plen), -1);
		assert_int_equal(vault_merkle_verify(leaves, n, n, path, 0, root), -1);
	}
}

/* The production statement signature: domain-separated, tamper-evident. */
static void
test_production_sign(void **state)
{
	unsigned char pk[VAULT_SIGN_PK_BYTES], pk2[VAULT_SIGN_PK_BYTES];
	unsigned char sig[VAULT_SIG_BYTES], *sk = NULL, *sk2 = NULL;
	unsigned char stmt[] = "{\"matter_id\":\"x\"}";

	(void)state;
	assert_int_equal(vault_sign_keypair(pk, &sk), 0);
	assert_int_equal(vault_sign_keypair(pk2, &sk2), 0);
	assert_int_equal(vault_production_sign(sk, stmt, sizeof(stmt) - 1, sig), 0);
	assert_int_equal(vault_production_verify(pk, stmt, sizeof(stmt) - 1, sig), 0);
	assert_int_equal(vault_production_verify(pk2, stmt, sizeof(stmt) - 1, sig), -1);
	stmt[3] ^= 1;
	assert_int_equal(vault_production_verify(pk, stmt, sizeof(stmt) - 1, sig), -1);
	stmt[3] ^= 1;
	assert_int_equal(vault_production_verify(pk, stmt, sizeof(stmt) - 2, sig), -1);
	/* a plain Ed25519 signature of the statement is not a production's */
	assert_int_equal(crypto_sign_detached(sig, NULL, stmt, sizeof(stmt) - 1, sk), 0);
	assert_int_equal(vault_production_verify(pk, stmt, sizeof(stmt) - 1, sig), -1);
	vault_sign_key_free(&sk);
	vault_sign_key_free(&sk2);
}

/* The size class is the size's bit length: a factor of two, no closer. */
static void
test_size_class(void **state)
{
	static const struct { size_t len; uint8_t want; } cases[] = {
		{ 0, 0 }, { 1, 1 }, { 2, 2 }, { 3, 2 }, { 4, 3 }, { 7, 3 },
		{ 255, 8 }, { 256, 9 }, { 65535, 16 }, { 65536, 17 },
		{ (size_t)1 << 40, 41 }, { SIZE_MAX, (uint8_t)(8 * sizeof(size_t)) },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(vault_size_class(cases[i].len), cases[i].want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merkle_known_structure),
		cmocka_unit_test(test_merkle_matches_reference),
		cmocka_unit_test(test_merkle_tamper),
		cmocka_unit_test(test_merkle_refuses),
		cmocka_unit_test(test_merkle_inclusion),
		cmocka_unit_test(test_production_sign),
		cmocka_unit_test(test_leaf_encoding_known),
		cmocka_unit_test(test_leaf_every_field_counts),
		cmocka_unit_test(test_leaf_length_prefixes),
		cmocka_unit_test(test_leaf_rejects),
		cmocka_unit_test(test_leaf_large_ciphertext),
		cmocka_unit_test(test_size_class),
		cmocka_unit_test(test_chain_head_known),
		cmocka_unit_test(test_chain_head_inputs),
		cmocka_unit_test(test_chain_sequence),
		cmocka_unit_test(test_checkpoint_encoding),
		cmocka_unit_test(test_checkpoint_sign_verify),
		cmocka_unit_test(test_sign_key_from_seed),
		cmocka_unit_test(test_audit_chain),
	};

	if (vault_init() != 0)
		return 1;
	return cmocka_run_group_tests_name("chain", tests, NULL, NULL);
}
