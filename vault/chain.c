/* vault/chain.c — leaf hashes, Merkle roots, chain heads, checkpoints and
 * the audit-event chain (formats documented in chain.h).
 *
 * Nothing here is secret except the Ed25519 signing key, which lives in
 * sodium_malloc memory and is only handed to libsodium. The hashes make
 * tampering evident only together with signed checkpoints kept outside the
 * database: a DBA can recompute an unsigned chain. Trusts libsodium for
 * BLAKE2b and Ed25519 (whose verify rejects non-canonical and small-order
 * inputs). No I/O besides randomness for key generation.
 */
#include "vault/chain.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vault/codec.h"
#include "vault/mem.h"

#define LEAF_PREFIX  0x00U
#define NODE_PREFIX  0x01U

static const char CHAIN_DOMAIN[] = "coffer-chain-v1";
static const char CHECKPOINT_DOMAIN[] = "coffer-checkpoint-v1";
static const char AUDIT_DOMAIN[] = "coffer-audit-v1";

#define CHAIN_DOMAIN_LEN       (sizeof(CHAIN_DOMAIN) - 1)
#define CHECKPOINT_DOMAIN_LEN  (sizeof(CHECKPOINT_DOMAIN) - 1)
#define AUDIT_DOMAIN_LEN       (sizeof(AUDIT_DOMAIN) - 1)

_Static_assert(VAULT_SIGN_PK_BYTES == crypto_sign_PUBLICKEYBYTES, "pk size");
_Static_assert(VAULT_SIGN_SK_BYTES == crypto_sign_SECRETKEYBYTES, "sk size");
_Static_assert(VAULT_SIGN_SEED_BYTES == crypto_sign_SEEDBYTES, "seed size");
_Static_assert(VAULT_SIG_BYTES == crypto_sign_BYTES, "signature size");
_Static_assert(VAULT_CHECKPOINT_MSG_BYTES ==
               sizeof(CHECKPOINT_DOMAIN) - 1 + 2 * VAULT_ID_BYTES + 3 * 8 +
               VAULT_HASH_BYTES, "checkpoint message size");

/* vault_be*_put, returning where the next field goes. */
static unsigned char *
put64(unsigned char *p, uint64_t v)
{
	vault_be64_put(p, v);
	return p + 8;
}

static unsigned char *
put32(unsigned char *p, uint32_t v)
{
	vault_be32_put(p, v);
	return p + 4;
}

static unsigned char *
put(unsigned char *p, const void *src, size_t n)
{
	memcpy(p, src, n);
	return p + n;
}

uint8_t
vault_size_class(size_t plaintext_len)
{
	uint8_t c = 0;

	while (plaintext_len != 0) {
		c++;
		plaintext_len >>= 1;
	}
	return c;
}

int
vault_leaf_hash(const vault_leaf *leaf, unsigned char out[VAULT_HASH_BYTES])
{
	crypto_generichash_state st;
	/* prefix, version, tenant, stream, seq, epoch, received, sent, u32 */
	unsigned char            head[1 + 1 + 16 + 16 + 8 + 16 + 8 + 8 + 4];
	/* size class, u32 count */
	unsigned char            mid[1 + 4];
	/* presence, conversation, dedup, nonce, u64 ciphertext length */
	unsigned char            tail[1 + VAULT_TOKEN_BYTES + VAULT_TOKEN_BYTES +
	                              VAULT_NONCE_BYTES + 8];
	unsigned char           *p;
	int                      rc = -1;

	if (out == NULL)
		return -1;
	sodium_memzero(out, VAULT_HASH_BYTES);
	if (leaf == NULL)
		goto fail;
	if ((leaf->channel == NULL && leaf->channel_len > 0) ||
	    (leaf->participants == NULL && leaf->participant_count > 0) ||
	    (leaf->ciphertext == NULL && leaf->ciphertext_len > 0))
		goto fail;
	if ((uint64_t)leaf->channel_len > UINT32_MAX ||
	    (uint64_t)leaf->participant_count > UINT32_MAX)
		goto fail;

	p = head;
	*p++ = LEAF_PREFIX;
	*p++ = VAULT_LEAF_V1;
	p = put(p, leaf->tenant_id, VAULT_ID_BYTES);
	p = put(p, leaf->stream_id, VAULT_ID_BYTES);
	p = put64(p, leaf->seq);
	p = put(p, leaf->epoch_id, VAULT_ID_BYTES);
	p = put64(p, (uint64_t)leaf->received_at);
	p = put64(p, (uint64_t)leaf->sent_at);
	p = put32(p, (uint32_t)leaf->channel_len);

	p = mid;
	*p++ = leaf->size_class;
	p = put32(p, (uint32_t)leaf->participant_count);

	p = tail;
	if (leaf->conversation != NULL) {
		*p++ = 1;
		p = put(p, leaf->conversation, VAULT_TOKEN_BYTES);
	} else {
		*p++ = 0;
	}
	p = put(p, leaf->dedup, VAULT_TOKEN_BYTES);
	p = put(p, leaf->nonce, VAULT_NONCE_BYTES);
	p = put64(p, (uint64_t)leaf->ciphertext_len);

	if (crypto_generichash_init(&st, NULL, 0, VAULT_HASH_BYTES) != 0 ||
	    crypto_generichash_update(&st, head, sizeof(head)) != 0 ||
	    (leaf->channel_len > 0 &&
	     crypto_generichash_update(&st,
	                               (const unsigned char *)leaf->channel,
	                               leaf->channel_len) != 0) ||
	    crypto_generichash_update(&st, mid, sizeof(mid)) != 0 ||
	    (leaf->participant_count > 0 &&
	     crypto_generichash_update(&st, leaf->participants,
	                               (unsigned long long)leaf->participant_count *
	                               VAULT_TOKEN_BYTES) != 0) ||
	    crypto_generichash_update(&st, tail, (size_t)(p - tail)) != 0 ||
	    (leaf->ciphertext_len > 0 &&
	     crypto_generichash_update(&st, leaf->ciphertext,
	                               leaf->ciphertext_len) != 0) ||
	    crypto_generichash_final(&st, out, VAULT_HASH_BYTES) != 0)
		goto fail;
	rc = 0;

fail:
	if (rc != 0)
		sodium_memzero(out, VAULT_HASH_BYTES);
	return rc;
}

static void
node_hash(const unsigned char left[VAULT_HASH_BYTES],
          const unsigned char right[VAULT_HASH_BYTES],
          unsigned char out[VAULT_HASH_BYTES])
{
	unsigned char buf[1 + 2 * VAULT_HASH_BYTES];

	buf[0] = NODE_PREFIX;
	memcpy(buf + 1, left, VAULT_HASH_BYTES);
	memcpy(buf + 1 + VAULT_HASH_BYTES, right, VAULT_HASH_BYTES);
	/* cannot fail for these lengths */
	(void)crypto_generichash(out, VAULT_HASH_BYTES, buf, sizeof(buf), NULL, 0);
}

/*
 * One pass, left to right, keeping the roots of the perfect subtrees seen so
 * far (a "Merkle mountain range"): after leaf i the stack holds one root per
 * set bit of i + 1, largest first, so it never exceeds the bit width of
 * size_t. RFC 6962 splits at the largest power of two below n, which makes
 * the final root a right fold of that stack:
 *   n = 2^a + 2^b + 2^c (a > b > c):  root = N(P_a, N(P_b, P_c)).
 */
int
vault_merkle_root(const unsigned char *leaf_hashes, size_t n,
                  unsigned char root[VAULT_HASH_BYTES])
{
	unsigned char stack[sizeof(size_t) * 8 + 1][VAULT_HASH_BYTES];
	size_t        depth = 0, i, merged;

	if (root == NULL)
		return -1;
	if (leaf_hashes == NULL || n == 0 || n > SIZE_MAX / VAULT_HASH_BYTES) {
		sodium_memzero(root, VAULT_HASH_BYTES);
		return -1;
	}

	for (i = 0; i < n; i++) {
		memcpy(stack[depth++], leaf_hashes + i * VAULT_HASH_BYTES,
		       VAULT_HASH_BYTES);
		/* one merge per trailing zero bit of i + 1 */
		for (merged = i + 1; (merged & 1U) == 0; merged >>= 1) {
			node_hash(stack[depth - 2], stack[depth - 1],
			          stack[depth - 2]);
			depth--;
		}
	}
	while (depth > 1) {
		node_hash(stack[depth - 2], stack[depth - 1], stack[depth - 2]);
		depth--;
	}
	memcpy(root, stack[0], VAULT_HASH_BYTES);   /* root may alias a leaf */
	return 0;
}

int
vault_chain_next(const unsigned char tenant_id[VAULT_ID_BYTES],
                 const unsigned char stream_id[VAULT_ID_BYTES],
                 uint64_t batch_no, uint64_t first_seq, uint64_t last_seq,
                 const unsigned char prev_head[VAULT_HASH_BYTES],
                 const unsigned char merkle_root[VAULT_HASH_BYTES],
                 unsigned char new_head[VAULT_HASH_BYTES])
{
	unsigned char  buf[CHAIN_DOMAIN_LEN + 2 * VAULT_ID_BYTES + 3 * 8 +
	                   2 * VAULT_HASH_BYTES];
	unsigned char *p = buf;

	if (new_head == NULL)
		return -1;
	if (tenant_id == NULL || stream_id == NULL || prev_head == NULL ||
	    merkle_root == NULL || first_seq > last_seq)
		goto fail;

	/* everything is read before new_head is written: it may be prev_head */
	p = put(p, CHAIN_DOMAIN, CHAIN_DOMAIN_LEN);
	p = put(p, tenant_id, VAULT_ID_BYTES);
	p = put(p, stream_id, VAULT_ID_BYTES);
	p = put64(p, batch_no);
	p = put64(p, first_seq);
	p = put64(p, last_seq);
	p = put(p, prev_head, VAULT_HASH_BYTES);
	p = put(p, merkle_root, VAULT_HASH_BYTES);
	if (crypto_generichash(new_head, VAULT_HASH_BYTES, buf,
	                       (size_t)(p - buf), NULL, 0) != 0)
		goto fail;
	return 0;

fail:
	sodium_memzero(new_head, VAULT_HASH_BYTES);
	return -1;
}

void
vault_checkpoint_encode(const vault_checkpoint *cp,
                        unsigned char out[VAULT_CHECKPOINT_MSG_BYTES])
{
	unsigned char *p = out;

	p = put(p, CHECKPOINT_DOMAIN, CHECKPOINT_DOMAIN_LEN);
	p = put(p, cp->tenant_id, VAULT_ID_BYTES);
	p = put(p, cp->stream_id, VAULT_ID_BYTES);
	p = put64(p, cp->batch_no);
	p = put64(p, cp->last_seq);
	p = put(p, cp->head, VAULT_HASH_BYTES);
	(void)put64(p, (uint64_t)cp->signed_at);
}

static int
sign_key_alloc(unsigned char **sk_out)
{
	*sk_out = NULL;
	if (vault_init() != 0)
		return -1;
	*sk_out = vault_secure_alloc(VAULT_SIGN_SK_BYTES);
	return *sk_out == NULL ? -1 : 0;
}

int
vault_sign_keypair(unsigned char pk_out[VAULT_SIGN_PK_BYTES],
                   unsigned char **sk_out)
{
	unsigned char *sk = NULL;

	if (sk_out == NULL || pk_out == NULL)
		return -1;
	*sk_out = NULL;
	sodium_memzero(pk_out, VAULT_SIGN_PK_BYTES);
	if (sign_key_alloc(&sk) != 0)
		goto fail;
	if (crypto_sign_keypair(pk_out, sk) != 0)
		goto fail;
	*sk_out = sk;
	return 0;

fail:
	vault_secure_free(sk);
	sodium_memzero(pk_out, VAULT_SIGN_PK_BYTES);
	return -1;
}

int
vault_sign_key_from_seed(const unsigned char seed[VAULT_SIGN_SEED_BYTES],
                         unsigned char pk_out[VAULT_SIGN_PK_BYTES],
                         unsigned char **sk_out)
{
	unsigned char *sk = NULL;

	if (sk_out == NULL || pk_out == NULL)
		return -1;
	*sk_out = NULL;
	sodium_memzero(pk_out, VAULT_SIGN_PK_BYTES);
	if (seed == NULL || sign_key_alloc(&sk) != 0)
		goto fail;
	if (crypto_sign_seed_keypair(pk_out, sk, seed) != 0)
		goto fail;
	*sk_out = sk;
	return 0;

fail:
	vault_secure_free(sk);
	sodium_memzero(pk_out, VAULT_SIGN_PK_BYTES);
	return -1;
}

void
vault_sign_key_free(unsigned char **sk)
{
	if (sk == NULL || *sk == NULL)
		return;
	vault_secure_free(*sk);
	*sk = NULL;
}

int
vault_checkpoint_sign(const unsigned char sk[VAULT_SIGN_SK_BYTES],
                      const vault_checkpoint *cp,
                      unsigned char sig_out[VAULT_SIG_BYTES])
{
	unsigned char msg[VAULT_CHECKPOINT_MSG_BYTES];

	if (sig_out == NULL)
		return -1;
	sodium_memzero(sig_out, VAULT_SIG_BYTES);
	if (sk == NULL || cp == NULL)
		return -1;
	vault_checkpoint_encode(cp, msg);
	if (crypto_sign_detached(sig_out, NULL, msg, sizeof(msg), sk) != 0) {
		sodium_memzero(sig_out, VAULT_SIG_BYTES);
		return -1;
	}
	return 0;
}

int
vault_checkpoint_verify(const unsigned char pk[VAULT_SIGN_PK_BYTES],
                        const vault_checkpoint *cp,
                        const unsigned char sig[VAULT_SIG_BYTES])
{
	unsigned char msg[VAULT_CHECKPOINT_MSG_BYTES];

	if (pk == NULL || cp == NULL || sig == NULL)
		return -1;
	vault_checkpoint_encode(cp, msg);
	return crypto_sign_verify_detached(sig, msg, sizeof(msg), pk) == 0 ?
	    0 : -1;
}

#define EPOCH_DOMAIN      "coffer-epoch-v1"
#define EPOCH_DOMAIN_LEN  15U
#define WRAPPED_DOMAIN    "coffer-wrapped-v1"

void
vault_wrapped_hash(const unsigned char *wrapped, size_t len,
    unsigned char out[VAULT_HASH_BYTES])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, VAULT_HASH_BYTES);
	crypto_generichash_update(&st, (const unsigned char *)WRAPPED_DOMAIN,
	    sizeof(WRAPPED_DOMAIN) - 1);
	if (len > 0)
		crypto_generichash_update(&st, wrapped, len);
	crypto_generichash_final(&st, out, VAULT_HASH_BYTES);
}

void
vault_epoch_stmt_encode(const vault_epoch_stmt *e,
    unsigned char out[VAULT_EPOCH_MSG_BYTES])
{
	unsigned char *p = out;

	p = put(p, EPOCH_DOMAIN, EPOCH_DOMAIN_LEN);
	*p++ = 0;
	p = put(p, e->tenant_id, VAULT_ID_BYTES);
	p = put(p, e->stream_id, VAULT_ID_BYTES);
	p = put(p, e->epoch_id, VAULT_ID_BYTES);
	p = put(p, e->node_id, VAULT_ID_BYTES);
	p = put(p, e->R, VAULT_POINT_BYTES);
	p = put(p, e->tenant_pk, VAULT_POINT_BYTES);
	p = put(p, e->wrapped_hash, VAULT_HASH_BYTES);
	(void)put64(p, (uint64_t)e->signed_at);
}

int
vault_epoch_stmt_sign(const unsigned char sk[VAULT_SIGN_SK_BYTES],
    const vault_epoch_stmt *e, unsigned char sig_out[VAULT_SIG_BYTES])
{
	unsigned char msg[VAULT_EPOCH_MSG_BYTES];

	if (sig_out == NULL)
		return -1;
	sodium_memzero(sig_out, VAULT_SIG_BYTES);
	if (sk == NULL || e == NULL)
		return -1;
	vault_epoch_stmt_encode(e, msg);
	if (crypto_sign_detached(sig_out, NULL, msg, sizeof(msg), sk) != 0) {
		sodium_memzero(sig_out, VAULT_SIG_BYTES);
		return -1;
	}
	return 0;
}

int
vault_epoch_stmt_verify(const unsigned char pk[VAULT_SIGN_PK_BYTES],
    const vault_epoch_stmt *e, const unsigned char sig[VAULT_SIG_BYTES])
{
	unsigned char msg[VAULT_EPOCH_MSG_BYTES];

	if (pk == NULL || e == NULL || sig == NULL)
		return -1;
	vault_epoch_stmt_encode(e, msg);
	return crypto_sign_verify_detached(sig, msg, sizeof(msg), pk) == 0 ?
	    0 : -1;
}

#define AUDITSIG_DOMAIN      "coffer-auditsig-v1"
#define AUDITSIG_DOMAIN_LEN  18U
#define REDACTIONS_DOMAIN    "coffer-redactions-v1"

_Static_assert(AUDITSIG_DOMAIN_LEN + 1 + VAULT_ID_BYTES + 8 +
    VAULT_HASH_BYTES + VAULT_ID_BYTES + VAULT_HASH_BYTES ==
    VAULT_AUDIT_MSG_BYTES, "audit statement size");

void
vault_audit_redactions_hash(const char *list, size_t len,
    unsigned char out[VAULT_HASH_BYTES])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, VAULT_HASH_BYTES);
	crypto_generichash_update(&st, (const unsigned char *)REDACTIONS_DOMAIN,
	    sizeof(REDACTIONS_DOMAIN) - 1);
	if (list != NULL && len > 0)
		crypto_generichash_update(&st, (const unsigned char *)list, len);
	crypto_generichash_final(&st, out, VAULT_HASH_BYTES);
}

void
vault_audit_stmt_encode(const vault_audit_stmt *a,
    unsigned char out[VAULT_AUDIT_MSG_BYTES])
{
	unsigned char *p = out;

	p = put(p, AUDITSIG_DOMAIN, AUDITSIG_DOMAIN_LEN);
	*p++ = 0;
	p = put(p, a->tenant_id, VAULT_ID_BYTES);
	p = put64(p, a->event_no);
	p = put(p, a->event_hash, VAULT_HASH_BYTES);
	p = put(p, a->node_id, VAULT_ID_BYTES);
	(void)put(p, a->redactions, VAULT_HASH_BYTES);
}

int
vault_audit_stmt_sign(const unsigned char sk[VAULT_SIGN_SK_BYTES],
    const vault_audit_stmt *a, unsigned char sig_out[VAULT_SIG_BYTES])
{
	unsigned char msg[VAULT_AUDIT_MSG_BYTES];

	if (sig_out == NULL)
		return -1;
	sodium_memzero(sig_out, VAULT_SIG_BYTES);
	if (sk == NULL || a == NULL)
		return -1;
	vault_audit_stmt_encode(a, msg);
	if (crypto_sign_detached(sig_out, NULL, msg, sizeof(msg), sk) != 0) {
		sodium_memzero(sig_out, VAULT_SIG_BYTES);
		return -1;
	}
	return 0;
}

int
vault_audit_stmt_verify(const unsigned char pk[VAULT_SIGN_PK_BYTES],
    const vault_audit_stmt *a, const unsigned char sig[VAULT_SIG_BYTES])
{
	unsigned char msg[VAULT_AUDIT_MSG_BYTES];

	if (pk == NULL || a == NULL || sig == NULL)
		return -1;
	vault_audit_stmt_encode(a, msg);
	return crypto_sign_verify_detached(sig, msg, sizeof(msg), pk) == 0 ?
	    0 : -1;
}

int
vault_audit_next(const unsigned char prev_hash[VAULT_HASH_BYTES],
                 const unsigned char *event, size_t event_len,
                 unsigned char out[VAULT_HASH_BYTES])
{
	crypto_generichash_state st;

	if (out == NULL)
		return -1;
	if (prev_hash == NULL || (event == NULL && event_len > 0))
		goto fail;
	/* prev_hash is absorbed before out is written: they may alias */
	if (crypto_generichash_init(&st, NULL, 0, VAULT_HASH_BYTES) != 0 ||
	    crypto_generichash_update(&st, (const unsigned char *)AUDIT_DOMAIN,
	                              AUDIT_DOMAIN_LEN) != 0 ||
	    crypto_generichash_update(&st, prev_hash, VAULT_HASH_BYTES) != 0 ||
	    (event_len > 0 &&
	     crypto_generichash_update(&st, event, event_len) != 0) ||
	    crypto_generichash_final(&st, out, VAULT_HASH_BYTES) != 0)
		goto fail;
	return 0;

fail:
	sodium_memzero(out, VAULT_HASH_BYTES);
	return -1;
}

/* -- productions ------------------------------------------------------------ */

size_t
vault_merkle_tree_nodes(size_t n)
{
	size_t total = 0, w = n;

	if (n == 0 || n > SIZE_MAX / (2 * VAULT_HASH_BYTES))
		return 0;
	for (;;) {
		total += w;
		if (w == 1)
			return total;
		w = (w + 1) / 2;
	}
}

int
vault_merkle_tree(const unsigned char *leaf_hashes, size_t n,
                  unsigned char *tree)
{
	size_t w = n, base = 0, i;

	if (leaf_hashes == NULL || tree == NULL || vault_merkle_tree_nodes(n) == 0)
		return -1;
	memmove(tree, leaf_hashes, n * VAULT_HASH_BYTES);
	while (w > 1) {
		unsigned char *lv = tree + base * VAULT_HASH_BYTES;
		unsigned char *up = lv + w * VAULT_HASH_BYTES;

		for (i = 0; i + 1 < w; i += 2)
			node_hash(lv + i * VAULT_HASH_BYTES,
			          lv + (i + 1) * VAULT_HASH_BYTES,
			          up + (i / 2) * VAULT_HASH_BYTES);
		if (w & 1U)          /* a lone last node moves up unchanged */
			memcpy(up + (w / 2) * VAULT_HASH_BYTES,
			       lv + (w - 1) * VAULT_HASH_BYTES, VAULT_HASH_BYTES);
		base += w;
		w = (w + 1) / 2;
	}
	return 0;
}

int
vault_merkle_path(const unsigned char *tree, size_t n, size_t index,
                  unsigned char path[VAULT_MERKLE_PATH_MAX * VAULT_HASH_BYTES],
                  size_t *path_len)
{
	size_t w = n, base = 0, k = 0, sib;

	if (path_len == NULL)
		return -1;
	*path_len = 0;
	if (tree == NULL || path == NULL || index >= n ||
	    vault_merkle_tree_nodes(n) == 0)
		return -1;
	while (w > 1) {
		sib = index ^ 1U;
		if (sib < w) {
			if (k == VAULT_MERKLE_PATH_MAX)
				return -1;
			memcpy(path + k * VAULT_HASH_BYTES,
			       tree + (base + sib) * VAULT_HASH_BYTES, VAULT_HASH_BYTES);
			k++;
		}
		base += w;
		w = (w + 1) / 2;
		index /= 2;
	}
	*path_len = k;
	return 0;
}

int
vault_merkle_verify(const unsigned char leaf[VAULT_HASH_BYTES],
                    uint64_t index, uint64_t n,
                    const unsigned char *path, size_t path_len,
                    const unsigned char root[VAULT_HASH_BYTES])
{
	unsigned char r[VAULT_HASH_BYTES];
	uint64_t fn, sn;
	size_t i;

	if (leaf == NULL || root == NULL || (path == NULL && path_len > 0) ||
	    n == 0 || index >= n || path_len > VAULT_MERKLE_PATH_MAX)
		return -1;
	fn = index;
	sn = n - 1;
	memcpy(r, leaf, sizeof(r));
	for (i = 0; i < path_len; i++) {
		const unsigned char *p = path + i * VAULT_HASH_BYTES;

		if (sn == 0)
			return -1;
		if ((fn & 1U) || fn == sn) {
			node_hash(p, r, r);
			if (!(fn & 1U))
				while (!(fn & 1U) && fn != 0) {
					fn >>= 1;
					sn >>= 1;
				}
		} else {
			node_hash(r, p, r);
		}
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 && sodium_memcmp(r, root, sizeof(r)) == 0 ? 0 : -1;
}

#define PRODUCTION_DOMAIN      "coffer-production-v1"
#define PRODUCTION_DOMAIN_LEN  20U
_Static_assert(sizeof(PRODUCTION_DOMAIN) - 1 == PRODUCTION_DOMAIN_LEN,
               "production domain");

static unsigned char *
production_msg(const unsigned char *stmt, size_t stmt_len, size_t *len)
{
	unsigned char *m;

	if (stmt == NULL || stmt_len > SIZE_MAX - PRODUCTION_DOMAIN_LEN - 1 ||
	    (m = malloc(PRODUCTION_DOMAIN_LEN + 1 + stmt_len)) == NULL)
		return NULL;
	memcpy(m, PRODUCTION_DOMAIN, PRODUCTION_DOMAIN_LEN);
	m[PRODUCTION_DOMAIN_LEN] = 0;
	memcpy(m + PRODUCTION_DOMAIN_LEN + 1, stmt, stmt_len);
	*len = PRODUCTION_DOMAIN_LEN + 1 + stmt_len;
	return m;
}

int
vault_production_sign(const unsigned char sk[VAULT_SIGN_SK_BYTES],
                      const unsigned char *stmt, size_t stmt_len,
                      unsigned char sig_out[VAULT_SIG_BYTES])
{
	unsigned char *m;
	size_t len = 0;
	int rc;

	if (sig_out == NULL)
		return -1;
	memset(sig_out, 0, VAULT_SIG_BYTES);
	if (sk == NULL || (m = production_msg(stmt, stmt_len, &len)) == NULL)
		return -1;
	rc = crypto_sign_detached(sig_out, NULL, m, len, sk) == 0 ? 0 : -1;
	free(m);
	return rc;
}

int
vault_production_verify(const unsigned char pk[VAULT_SIGN_PK_BYTES],
                        const unsigned char *stmt, size_t stmt_len,
                        const unsigned char sig[VAULT_SIG_BYTES])
{
	unsigned char *m;
	size_t len = 0;
	int rc;

	if (pk == NULL || sig == NULL ||
	    (m = production_msg(stmt, stmt_len, &len)) == NULL)
		return -1;
	rc = crypto_sign_verify_detached(sig, m, len, pk) == 0 ? 0 : -1;
	free(m);
	return rc;
}

struct vault_hasher {
	crypto_generichash_state st;
};

int
vault_hasher_new(vault_hasher **out)
{
	vault_hasher *h;

	if (out == NULL)
		return -1;
	*out = NULL;
	if (sodium_init() < 0 ||
	    (h = sodium_malloc(sizeof(*h))) == NULL)
		return -1;
	vault_hasher_reset(h);
	*out = h;
	return 0;
}

void
vault_hasher_reset(vault_hasher *h)
{
	if (h != NULL)
		(void)crypto_generichash_init(&h->st, NULL, 0, VAULT_HASH_BYTES);
}

void
vault_hasher_update(vault_hasher *h, const void *data, size_t len)
{
	if (h != NULL && len > 0)
		(void)crypto_generichash_update(&h->st, data, len);
}

void
vault_hasher_final(vault_hasher *h, unsigned char out[VAULT_HASH_BYTES])
{
	if (h == NULL || crypto_generichash_final(&h->st, out,
	    VAULT_HASH_BYTES) != 0)
		memset(out, 0, VAULT_HASH_BYTES);
	vault_hasher_reset(h);
}

void
vault_hasher_free(vault_hasher **h)
{
	if (h == NULL || *h == NULL)
		return;
	sodium_free(*h);     /* wipes: the state follows plaintext */
	*h = NULL;
}
