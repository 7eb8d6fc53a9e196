/* vault/production.c — sealed production container, encrypted spools and
 * production key files (formats in production.h).
 *
 * What it does: streams plaintext through crypto_secretstream in fixed-size
 * chunks, with the stream key sealed (crypto_box_seal) to a legal user's
 * X25519 key for productions, or held in guarded memory for the builder's
 * temporary spools; opens such streams again, refusing anything that is not
 * exactly what a writer produced: other magic or version, other recipient,
 * a chunk that does not authenticate, a missing FINAL chunk, trailing bytes.
 *
 * What it trusts: libsodium, and the sink callbacks of its callers.  It does
 * not trust container or key-file bytes: every header field is checked
 * before use (chunk size bounded before any allocation, KDF limits bounded
 * before any derivation).
 *
 * Secrets: stream keys, stream states and plaintext chunk buffers live in
 * sodium_malloc memory and are wiped on every path; a chunk of plaintext
 * handed to a sink is wiped as soon as the sink returns.  Error messages
 * carry sizes, counts and key ids — never key bytes or content.
 */
#include "vault/production.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vault/codec.h"
#include "vault/err.h"
#include "vault/mem.h"
#include "vault/pwbox.h"
#include "vault/sharefile.h"

#define PR_OFF_VERSION   14U
#define PR_OFF_FLAGS     15U
#define PR_OFF_CHUNK     16U
#define PR_OFF_KEYID     20U
#define PR_OFF_SEALED    36U
#define PR_SEALED_BYTES  (crypto_secretstream_xchacha20poly1305_KEYBYTES + \
                          crypto_box_SEALBYTES)
#define PR_OFF_SSHDR     (PR_OFF_SEALED + PR_SEALED_BYTES)
#define PR_KEYID_PERSONAL "coffer-prodkid-1"

#define KF_MAGIC         "COFFER-XSKEY"
#define KF_MAGIC_LEN     12U
#define KF_OFF_VERSION   12U
#define KF_OFF_ZERO      13U
#define KF_OFF_TENANT    16U
#define KF_OFF_USER      32U
#define KF_OFF_PK        48U
#define KF_OFF_OPS       80U
#define KF_OFF_MEM       88U
#define KF_OFF_SALT      96U
#define KF_OFF_NONCE     112U
#define KF_OFF_CT        136U
#define KF_HEADER_LEN    KF_OFF_CT
#define KF_CT_LEN        (VAULT_BOX_SK_BYTES + \
                          crypto_aead_xchacha20poly1305_ietf_ABYTES)
#define KF_WHAT          "key file"     /* names it in pwbox messages */

typedef crypto_secretstream_xchacha20poly1305_state pr_state;

_Static_assert(sizeof(VAULT_PROD_MAGIC) - 1 == VAULT_PROD_MAGIC_BYTES,
    "magic size");
_Static_assert(PR_OFF_SSHDR + crypto_secretstream_xchacha20poly1305_HEADERBYTES ==
    VAULT_PROD_HEADER_BYTES, "container header size");
_Static_assert(VAULT_SPOOL_HEADER_BYTES ==
    crypto_secretstream_xchacha20poly1305_HEADERBYTES, "spool header size");
_Static_assert(VAULT_PROD_CHUNK_OVERHEAD ==
    crypto_secretstream_xchacha20poly1305_ABYTES, "chunk overhead");
_Static_assert(VAULT_BOX_PK_BYTES == crypto_box_PUBLICKEYBYTES, "box pk size");
_Static_assert(VAULT_BOX_SK_BYTES == crypto_box_SECRETKEYBYTES, "box sk size");
_Static_assert(sizeof(PR_KEYID_PERSONAL) - 1 ==
    crypto_generichash_blake2b_PERSONALBYTES, "personal size");
_Static_assert(KF_OFF_SALT + crypto_pwhash_argon2id_SALTBYTES == KF_OFF_NONCE,
    "salt size");
_Static_assert(KF_OFF_NONCE + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES ==
    KF_OFF_CT, "nonce size");
_Static_assert(KF_OFF_CT + KF_CT_LEN == VAULT_KEYFILE_BYTES, "key file size");
_Static_assert(KF_OFF_SALT + VAULT_PWBOX_TAIL_BYTES == KF_HEADER_LEN,
    "header ends in the pwbox salt and nonce");

enum pr_kind { PR_PROD = 1, PR_SPOOL = 2 };
enum pr_phase { PH_HEADER = 0, PH_BODY, PH_DONE, PH_FAILED };

struct vault_spool_key {
	unsigned char *key;         /* guarded, secretstream KEYBYTES */
};

struct vault_stream_writer {
	vault_sink_fn      sink;
	void              *arg;
	pr_state          *st;      /* guarded */
	unsigned char     *buf;     /* guarded: plaintext of the open chunk */
	unsigned char     *out;     /* u32 length ‖ ciphertext of one chunk */
	unsigned char      ad[VAULT_PROD_HEADER_BYTES];
	size_t             ad_len;
	size_t             chunk;
	size_t             fill;
	unsigned long long total;
	int                phase;
};

struct vault_stream_reader {
	vault_sink_fn      sink;
	void              *arg;
	int                kind;
	const vault_spool_key *spool;   /* borrowed, spool readers only */
	pr_state          *st;      /* guarded */
	unsigned char     *sk;      /* guarded copy, production only, until the
	                               header is parsed */
	unsigned char     *buf;     /* guarded: plaintext of one chunk */
	unsigned char     *in;      /* ciphertext of one chunk */
	unsigned char      hdr[VAULT_PROD_HEADER_BYTES];
	size_t             hdr_len;  /* bytes expected */
	size_t             hdr_fill;
	size_t             chunk;
	unsigned char      lenb[VAULT_PROD_CHUNK_LEN_BYTES];
	size_t             len_fill;  /* bytes of the length read */
	size_t             need;      /* ciphertext bytes of this chunk, 0: none */
	size_t             fill;      /* of them, read */
	unsigned long long nchunks;
	unsigned long long total;
	int                phase;
};

static void
store_u64_le(unsigned char *p, unsigned long long v)
{
	size_t i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static unsigned long long
load_u64_le(const unsigned char *p)
{
	unsigned long long v = 0;
	size_t             i;

	for (i = 8; i-- > 0;)
		v = (v << 8) | p[i];
	return v;
}

static void
hex16(char out[2 * VAULT_BOX_KEYID_BYTES + 1],
    const unsigned char id[VAULT_BOX_KEYID_BYTES])
{
	sodium_bin2hex(out, 2 * VAULT_BOX_KEYID_BYTES + 1, id,
	    VAULT_BOX_KEYID_BYTES);
}

/* -- writers ------------------------------------------------------------ */

static vault_stream_writer *
writer_alloc(vault_sink_fn sink, void *arg, char *err, size_t err_len)
{
	vault_stream_writer *w;

	if (sink == NULL) {
		vault_err_set(err, err_len, "stream writer: missing sink");
		return NULL;
	}
	if (vault_init() != 0) {
		vault_err_set(err, err_len, "libsodium initialisation failed");
		return NULL;
	}
	if ((w = calloc(1, sizeof *w)) == NULL) {
		vault_err_set(err, err_len, "stream writer: out of memory");
		return NULL;
	}
	w->sink = sink;
	w->arg = arg;
	w->chunk = VAULT_PROD_CHUNK_BYTES;
	w->st = vault_secure_alloc(sizeof *w->st);
	w->buf = vault_secure_alloc(w->chunk);
	w->out = malloc(VAULT_PROD_CHUNK_LEN_BYTES + w->chunk +
	    VAULT_PROD_CHUNK_OVERHEAD);
	if (w->st == NULL || w->buf == NULL || w->out == NULL) {
		vault_err_set(err, err_len, "stream writer: cannot allocate secure memory");
		vault_stream_writer_free(&w);
		return NULL;
	}
	return w;
}

void
vault_stream_writer_free(vault_stream_writer **wp)
{
	vault_stream_writer *w;

	if (wp == NULL || (w = *wp) == NULL)
		return;
	if (w->st != NULL)
		vault_secure_free(w->st);       /* sodium_free wipes */
	if (w->buf != NULL)
		vault_secure_free(w->buf);
	free(w->out);                       /* ciphertext only */
	sodium_memzero(w, sizeof *w);
	free(w);
	*wp = NULL;
}

static int
writer_emit(vault_stream_writer *w, unsigned char tag, char *err, size_t err_len)
{
	unsigned long long clen = 0;

	if (crypto_secretstream_xchacha20poly1305_push(w->st,
	    w->out + VAULT_PROD_CHUNK_LEN_BYTES, &clen, w->buf, w->fill, w->ad,
	    w->ad_len, tag) != 0) {
		sodium_memzero(w->buf, w->fill);
		w->phase = PH_FAILED;
		vault_err_set(err, err_len, "stream writer: encryption failed");
		return -1;
	}
	sodium_memzero(w->buf, w->fill);
	w->fill = 0;
	vault_be32_put(w->out, (uint32_t)clen);
	if (w->sink(w->arg, w->out,
	    VAULT_PROD_CHUNK_LEN_BYTES + (size_t)clen) != 0) {
		w->phase = PH_FAILED;
		vault_err_set(err, err_len, "stream writer: output failed");
		return -1;
	}
	return 0;
}

int
vault_stream_write(vault_stream_writer *w, const void *data, size_t len,
    char *err, size_t err_len)
{
	const unsigned char *p = data;
	size_t n;

	if (w == NULL || (data == NULL && len != 0)) {
		vault_err_set(err, err_len, "stream writer: missing argument");
		return -1;
	}
	if (w->phase != PH_BODY) {
		vault_err_set(err, err_len, "stream writer: %s",
		    w->phase == PH_DONE ? "already finished" : "stream failed earlier");
		return -1;
	}
	while (len > 0) {
		/* A full chunk goes out only once more data exists, so the
		 * last chunk is always the FINAL one. */
		if (w->fill == w->chunk &&
		    writer_emit(w, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
		    err, err_len) != 0)
			return -1;
		n = w->chunk - w->fill;
		if (n > len)
			n = len;
		memcpy(w->buf + w->fill, p, n);
		w->fill += n;
		w->total += n;
		p += n;
		len -= n;
	}
	return 0;
}

int
vault_stream_finish(vault_stream_writer *w, char *err, size_t err_len)
{
	if (w == NULL) {
		vault_err_set(err, err_len, "stream writer: missing argument");
		return -1;
	}
	if (w->phase != PH_BODY) {
		vault_err_set(err, err_len, "stream writer: %s",
		    w->phase == PH_DONE ? "already finished" : "stream failed earlier");
		return -1;
	}
	if (writer_emit(w, crypto_secretstream_xchacha20poly1305_TAG_FINAL,
	    err, err_len) != 0)
		return -1;
	w->phase = PH_DONE;
	return 0;
}

unsigned long long
vault_stream_written(const vault_stream_writer *w)
{
	return w == NULL ? 0 : w->total;
}

int
vault_prod_writer_header(const vault_stream_writer *w,
    unsigned char out[VAULT_PROD_HEADER_BYTES])
{
	if (w == NULL || out == NULL || w->ad_len != VAULT_PROD_HEADER_BYTES)
		return -1;
	memcpy(out, w->ad, VAULT_PROD_HEADER_BYTES);
	return 0;
}

void
vault_box_key_id(const unsigned char pk[VAULT_BOX_PK_BYTES],
    unsigned char id_out[VAULT_BOX_KEYID_BYTES])
{
	if (vault_init() != 0 ||
	    crypto_generichash_blake2b_salt_personal(id_out, VAULT_BOX_KEYID_BYTES,
	    pk, VAULT_BOX_PK_BYTES, NULL, 0, NULL,
	    (const unsigned char *)PR_KEYID_PERSONAL) != 0)
		memset(id_out, 0, VAULT_BOX_KEYID_BYTES);
}

int
vault_prod_writer_new(vault_stream_writer **out,
    const unsigned char recipient_pk[VAULT_BOX_PK_BYTES],
    vault_sink_fn sink, void *arg, char *err, size_t err_len)
{
	vault_stream_writer *w = NULL;
	unsigned char *key = NULL;
	unsigned char *h;

	if (out == NULL)
		return -1;
	*out = NULL;
	if (recipient_pk == NULL) {
		vault_err_set(err, err_len, "production: missing recipient key");
		return -1;
	}
	if ((w = writer_alloc(sink, arg, err, err_len)) == NULL)
		return -1;
	if ((key = vault_secure_alloc(
	    crypto_secretstream_xchacha20poly1305_KEYBYTES)) == NULL) {
		vault_err_set(err, err_len, "production: cannot allocate secure memory");
		goto fail;
	}
	h = w->ad;
	memcpy(h, VAULT_PROD_MAGIC, VAULT_PROD_MAGIC_BYTES);
	h[PR_OFF_VERSION] = (unsigned char)VAULT_PROD_VERSION;
	h[PR_OFF_FLAGS] = 0;
	vault_be32_put(h + PR_OFF_CHUNK, (uint32_t)w->chunk);
	vault_box_key_id(recipient_pk, h + PR_OFF_KEYID);
	crypto_secretstream_xchacha20poly1305_keygen(key);
	/* crypto_box_seal refuses low-order public keys (all-zero shared
	 * secret), so a junk key cannot make K public. */
	if (crypto_box_seal(h + PR_OFF_SEALED, key,
	    crypto_secretstream_xchacha20poly1305_KEYBYTES, recipient_pk) != 0) {
		vault_err_set(err, err_len, "production: the recipient's public key is "
		    "not a usable X25519 key");
		goto fail;
	}
	if (crypto_secretstream_xchacha20poly1305_init_push(w->st,
	    h + PR_OFF_SSHDR, key) != 0) {
		vault_err_set(err, err_len, "production: stream initialisation failed");
		goto fail;
	}
	vault_secure_free(key);
	key = NULL;
	w->ad_len = VAULT_PROD_HEADER_BYTES;
	if (w->sink(w->arg, h, VAULT_PROD_HEADER_BYTES) != 0) {
		vault_err_set(err, err_len, "production: output failed");
		goto fail;
	}
	w->phase = PH_BODY;
	*out = w;
	return 0;
fail:
	vault_secure_free(key);
	vault_stream_writer_free(&w);
	return -1;
}

/* -- readers ------------------------------------------------------------ */

void
vault_stream_reader_free(vault_stream_reader **rp)
{
	vault_stream_reader *r;

	if (rp == NULL || (r = *rp) == NULL)
		return;
	if (r->st != NULL)
		vault_secure_free(r->st);
	if (r->sk != NULL)
		vault_secure_free(r->sk);
	if (r->buf != NULL)
		vault_secure_free(r->buf);
	free(r->in);
	sodium_memzero(r, sizeof *r);
	free(r);
	*rp = NULL;
}

static vault_stream_reader *
reader_alloc(int kind, vault_sink_fn sink, void *arg, char *err, size_t err_len)
{
	vault_stream_reader *r;

	if (sink == NULL) {
		vault_err_set(err, err_len, "stream reader: missing sink");
		return NULL;
	}
	if (vault_init() != 0) {
		vault_err_set(err, err_len, "libsodium initialisation failed");
		return NULL;
	}
	if ((r = calloc(1, sizeof *r)) == NULL) {
		vault_err_set(err, err_len, "stream reader: out of memory");
		return NULL;
	}
	r->kind = kind;
	r->sink = sink;
	r->arg = arg;
	r->hdr_len = kind == PR_PROD ? VAULT_PROD_HEADER_BYTES :
	    VAULT_SPOOL_HEADER_BYTES;
	if ((r->st = vault_secure_alloc(sizeof *r->st)) == NULL) {
		vault_err_set(err, err_len, "stream reader: cannot allocate secure memory");
		vault_stream_reader_free(&r);
		return NULL;
	}
	return r;
}

/* Chunk buffers, once the chunk size is known (and bounded). */
static int
reader_buffers(vault_stream_reader *r, char *err, size_t err_len)
{
	if (r->buf != NULL && r->in != NULL)
		return 0;                /* a restarted spool reader */
	r->buf = vault_secure_alloc(r->chunk);
	r->in = malloc(r->chunk + VAULT_PROD_CHUNK_OVERHEAD);
	if (r->buf == NULL || r->in == NULL) {
		vault_err_set(err, err_len, "stream reader: cannot allocate secure memory");
		return -1;
	}
	return 0;
}

int
vault_prod_header_key_id(const unsigned char *data, size_t len,
    unsigned char id_out[VAULT_BOX_KEYID_BYTES], char *err, size_t err_len)
{
	size_t m;
	uint32_t chunk;

	memset(id_out, 0, VAULT_BOX_KEYID_BYTES);
	if (data == NULL || len == 0) {
		vault_err_set(err, err_len, "the production is empty");
		return -1;
	}
	m = len < VAULT_PROD_MAGIC_BYTES ? len : VAULT_PROD_MAGIC_BYTES;
	if (memcmp(data, VAULT_PROD_MAGIC, m) != 0) {
		vault_err_set(err, err_len, "not a Coffer production (bad magic)");
		return -1;
	}
	if (len <= PR_OFF_VERSION) {
		vault_err_set(err, err_len, "the production is truncated: header incomplete "
		    "(%zu of %u bytes)", len, VAULT_PROD_HEADER_BYTES);
		return -1;
	}
	if (data[PR_OFF_VERSION] != VAULT_PROD_VERSION) {
		vault_err_set(err, err_len, "unsupported production version %u (this build "
		    "reads version %u)", (unsigned int)data[PR_OFF_VERSION],
		    VAULT_PROD_VERSION);
		return -1;
	}
	if (len < PR_OFF_SEALED) {
		vault_err_set(err, err_len, "the production is truncated: header incomplete "
		    "(%zu of %u bytes)", len, VAULT_PROD_HEADER_BYTES);
		return -1;
	}
	if (data[PR_OFF_FLAGS] != 0) {
		vault_err_set(err, err_len, "unsupported production flags 0x%02x",
		    (unsigned int)data[PR_OFF_FLAGS]);
		return -1;
	}
	chunk = vault_be32_get(data + PR_OFF_CHUNK);
	if (chunk < VAULT_PROD_CHUNK_MIN || chunk > VAULT_PROD_CHUNK_MAX) {
		vault_err_set(err, err_len, "production header: chunk size %u outside "
		    "%u..%u", (unsigned int)chunk, VAULT_PROD_CHUNK_MIN,
		    VAULT_PROD_CHUNK_MAX);
		return -1;
	}
	memcpy(id_out, data + PR_OFF_KEYID, VAULT_BOX_KEYID_BYTES);
	return 0;
}

static int
reader_header(vault_stream_reader *r, char *err, size_t err_len)
{
	unsigned char *key = NULL;
	unsigned char pk[VAULT_BOX_PK_BYTES];
	unsigned char mine[VAULT_BOX_KEYID_BYTES], theirs[VAULT_BOX_KEYID_BYTES];
	char hm[2 * VAULT_BOX_KEYID_BYTES + 1], ht[2 * VAULT_BOX_KEYID_BYTES + 1];
	int rc = -1;

	if (r->kind == PR_SPOOL) {
		r->chunk = VAULT_PROD_CHUNK_BYTES;
		if (crypto_secretstream_xchacha20poly1305_init_pull(r->st, r->hdr,
		    r->spool->key) != 0) {
			vault_err_set(err, err_len, "spool header is corrupted");
			return -1;
		}
		return reader_buffers(r, err, err_len);
	}

	if (vault_prod_header_key_id(r->hdr, r->hdr_len, theirs, err, err_len) != 0)
		return -1;
	crypto_scalarmult_base(pk, r->sk);
	vault_box_key_id(pk, mine);
	if (sodium_memcmp(mine, theirs, VAULT_BOX_KEYID_BYTES) != 0) {
		hex16(hm, mine);
		hex16(ht, theirs);
		vault_err_set(err, err_len, "this production is sealed to a different key "
		    "(production key id %s, this key %s)", ht, hm);
		goto out;
	}
	r->chunk = vault_be32_get(r->hdr + PR_OFF_CHUNK);
	if ((key = vault_secure_alloc(
	    crypto_secretstream_xchacha20poly1305_KEYBYTES)) == NULL) {
		vault_err_set(err, err_len, "production: cannot allocate secure memory");
		goto out;
	}
	if (crypto_box_seal_open(key, r->hdr + PR_OFF_SEALED, PR_SEALED_BYTES,
	    pk, r->sk) != 0) {
		vault_err_set(err, err_len, "cannot open the production key: the header "
		    "is corrupted or was not sealed to this key");
		goto out;
	}
	if (crypto_secretstream_xchacha20poly1305_init_pull(r->st,
	    r->hdr + PR_OFF_SSHDR, key) != 0) {
		vault_err_set(err, err_len, "production header is corrupted");
		goto out;
	}
	if (reader_buffers(r, err, err_len) != 0)
		goto out;
	rc = 0;
out:
	vault_secure_free(key);
	vault_secure_free(r->sk);      /* not needed any more, either way */
	r->sk = NULL;
	sodium_memzero(pk, sizeof pk);
	return rc;
}

static const char *
reader_what(const vault_stream_reader *r)
{
	return r->kind == PR_PROD ? "production" : "spool";
}

static int
reader_open_chunk(vault_stream_reader *r, char *err, size_t err_len)
{
	unsigned long long mlen = 0;
	unsigned char tag = 0;
	int rc;

	if (crypto_secretstream_xchacha20poly1305_pull(r->st, r->buf, &mlen, &tag,
	    r->in, r->fill, r->hdr, r->hdr_len) != 0) {
		vault_err_set(err, err_len, "the %s is corrupted: chunk %llu does not "
		    "authenticate (tampered with or reordered)", reader_what(r),
		    r->nchunks + 1);
		return -1;
	}
	r->nchunks++;
	if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
		r->phase = PH_DONE;
	} else if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE ||
	    mlen != r->chunk) {
		/* Authentic, so a writer made it: not one of ours. */
		sodium_memzero(r->buf, (size_t)mlen);
		vault_err_set(err, err_len, "the %s is malformed: chunk %llu is short and "
		    "not the last", reader_what(r), r->nchunks);
		return -1;
	}
	r->fill = 0;
	r->need = 0;
	r->len_fill = 0;
	rc = mlen == 0 ? 0 : r->sink(r->arg, r->buf, (size_t)mlen);
	sodium_memzero(r->buf, (size_t)mlen);
	if (rc != 0) {
		vault_err_set(err, err_len, "output failed");
		return -1;
	}
	r->total += mlen;
	return 0;
}

/* The checks a partial header allows (a full one gets them all again). */
static int
prod_prefix_check(const unsigned char *h, size_t n, char *err, size_t err_len)
{
	unsigned char id[VAULT_BOX_KEYID_BYTES];
	size_t m = n < VAULT_PROD_MAGIC_BYTES ? n : VAULT_PROD_MAGIC_BYTES;

	if (memcmp(h, VAULT_PROD_MAGIC, m) != 0) {
		vault_err_set(err, err_len, "not a Coffer production (bad magic)");
		return -1;
	}
	if (n > PR_OFF_VERSION && h[PR_OFF_VERSION] != VAULT_PROD_VERSION) {
		vault_err_set(err, err_len, "unsupported production version %u (this build "
		    "reads version %u)", (unsigned int)h[PR_OFF_VERSION],
		    VAULT_PROD_VERSION);
		return -1;
	}
	if (n >= PR_OFF_SEALED)
		return vault_prod_header_key_id(h, n, id, err, err_len);
	return 0;
}

static int
reader_push(vault_stream_reader *r, const void *data, size_t len,
    char *err, size_t err_len)
{
	const unsigned char *p = data;
	size_t n, cap;

	if (r == NULL || (data == NULL && len != 0)) {
		vault_err_set(err, err_len, "stream reader: missing argument");
		return -1;
	}
	if (r->phase == PH_FAILED) {
		vault_err_set(err, err_len, "stream reader: stream failed earlier");
		return -1;
	}
	while (len > 0) {
		switch (r->phase) {
		case PH_HEADER:
			n = r->hdr_len - r->hdr_fill;
			if (n > len)
				n = len;
			memcpy(r->hdr + r->hdr_fill, p, n);
			r->hdr_fill += n;
			p += n;
			len -= n;
			/* Fail early on a wrong magic or version. */
			if (r->kind == PR_PROD && r->hdr_fill < r->hdr_len &&
			    prod_prefix_check(r->hdr, r->hdr_fill, err,
			    err_len) != 0)
				goto fail;
			if (r->hdr_fill == r->hdr_len) {
				if (reader_header(r, err, err_len) != 0)
					goto fail;
				r->phase = PH_BODY;
			}
			break;
		case PH_BODY:
			if (r->need == 0) {
				n = VAULT_PROD_CHUNK_LEN_BYTES - r->len_fill;
				if (n > len)
					n = len;
				memcpy(r->lenb + r->len_fill, p, n);
				r->len_fill += n;
				p += n;
				len -= n;
				if (r->len_fill < VAULT_PROD_CHUNK_LEN_BYTES)
					break;
				cap = vault_be32_get(r->lenb);
				if (cap < VAULT_PROD_CHUNK_OVERHEAD ||
				    cap > r->chunk + VAULT_PROD_CHUNK_OVERHEAD) {
					vault_err_set(err, err_len, "the %s is corrupted: chunk "
					    "%llu has an impossible length %zu",
					    reader_what(r), r->nchunks + 1, cap);
					goto fail;
				}
				r->need = cap;
				r->fill = 0;
				break;
			}
			n = r->need - r->fill;
			if (n > len)
				n = len;
			memcpy(r->in + r->fill, p, n);
			r->fill += n;
			p += n;
			len -= n;
			if (r->fill == r->need &&
			    reader_open_chunk(r, err, err_len) != 0)
				goto fail;
			break;
		case PH_DONE:
		default:
			vault_err_set(err, err_len, "the %s has %zu unexpected bytes after its "
			    "end", reader_what(r), len);
			goto fail;
		}
	}
	return 0;
fail:
	r->phase = PH_FAILED;
	return -1;
}

static int
reader_finish(vault_stream_reader *r, char *err, size_t err_len)
{
	const char *what;

	if (r == NULL) {
		vault_err_set(err, err_len, "stream reader: missing argument");
		return -1;
	}
	what = reader_what(r);
	switch (r->phase) {
	case PH_DONE:
		return 0;
	case PH_HEADER:
		if (r->hdr_fill == 0)
			vault_err_set(err, err_len, "the %s is empty", what);
		else
			vault_err_set(err, err_len, "the %s is truncated: header incomplete "
			    "(%zu of %zu bytes)", what, r->hdr_fill, r->hdr_len);
		break;
	case PH_BODY:
		if (r->need > 0 || r->len_fill > 0)
			vault_err_set(err, err_len, "the %s is truncated: chunk %llu is "
			    "incomplete (%zu of %zu bytes)", what, r->nchunks + 1,
			    r->need > 0 ? r->fill : r->len_fill,
			    r->need > 0 ? r->need : (size_t)VAULT_PROD_CHUNK_LEN_BYTES);
		else
			vault_err_set(err, err_len, "the %s is truncated: the end-of-stream "
			    "chunk is missing after %llu chunks", what, r->nchunks);
		break;
	default:
		vault_err_set(err, err_len, "stream reader: stream failed earlier");
		break;
	}
	r->phase = PH_FAILED;
	return -1;
}

int
vault_prod_reader_new(vault_stream_reader **out,
    const unsigned char recipient_sk[VAULT_BOX_SK_BYTES],
    vault_sink_fn sink, void *arg, char *err, size_t err_len)
{
	vault_stream_reader *r;

	if (out == NULL)
		return -1;
	*out = NULL;
	if (recipient_sk == NULL) {
		vault_err_set(err, err_len, "production: missing secret key");
		return -1;
	}
	if ((r = reader_alloc(PR_PROD, sink, arg, err, err_len)) == NULL)
		return -1;
	if ((r->sk = vault_secure_alloc(VAULT_BOX_SK_BYTES)) == NULL) {
		vault_err_set(err, err_len, "production: cannot allocate secure memory");
		vault_stream_reader_free(&r);
		return -1;
	}
	memcpy(r->sk, recipient_sk, VAULT_BOX_SK_BYTES);
	*out = r;
	return 0;
}

int
vault_stream_read(vault_stream_reader *r, const void *data, size_t len,
    char *err, size_t err_len)
{
	return reader_push(r, data, len, err, err_len);
}

int
vault_stream_read_finish(vault_stream_reader *r, char *err, size_t err_len)
{
	return reader_finish(r, err, err_len);
}

unsigned long long
vault_stream_read_total(const vault_stream_reader *r)
{
	return r == NULL ? 0 : r->total;
}

/* -- spools ------------------------------------------------------------- */

int
vault_spool_key_new(vault_spool_key **out, char *err, size_t err_len)
{
	vault_spool_key *k;

	if (out == NULL)
		return -1;
	*out = NULL;
	if (vault_init() != 0) {
		vault_err_set(err, err_len, "libsodium initialisation failed");
		return -1;
	}
	if ((k = calloc(1, sizeof *k)) == NULL ||
	    (k->key = vault_secure_alloc(
	    crypto_secretstream_xchacha20poly1305_KEYBYTES)) == NULL) {
		free(k);
		vault_err_set(err, err_len, "spool: cannot allocate secure memory");
		return -1;
	}
	crypto_secretstream_xchacha20poly1305_keygen(k->key);
	*out = k;
	return 0;
}

void
vault_spool_key_free(vault_spool_key **kp)
{
	if (kp == NULL || *kp == NULL)
		return;
	vault_secure_free((*kp)->key);
	free(*kp);
	*kp = NULL;
}

int
vault_spool_writer_new(vault_stream_writer **out, const vault_spool_key *k,
    vault_sink_fn sink, void *arg, char *err, size_t err_len)
{
	vault_stream_writer *w;

	if (out == NULL)
		return -1;
	*out = NULL;
	if (k == NULL) {
		vault_err_set(err, err_len, "spool: missing key");
		return -1;
	}
	if ((w = writer_alloc(sink, arg, err, err_len)) == NULL)
		return -1;
	if (crypto_secretstream_xchacha20poly1305_init_push(w->st, w->ad,
	    k->key) != 0) {
		vault_err_set(err, err_len, "spool: stream initialisation failed");
		vault_stream_writer_free(&w);
		return -1;
	}
	w->ad_len = VAULT_SPOOL_HEADER_BYTES;
	if (w->sink(w->arg, w->ad, w->ad_len) != 0) {
		vault_err_set(err, err_len, "spool: output failed");
		vault_stream_writer_free(&w);
		return -1;
	}
	w->phase = PH_BODY;
	*out = w;
	return 0;
}

int
vault_spool_reader_new(vault_stream_reader **out, const vault_spool_key *k,
    vault_sink_fn sink, void *arg, char *err, size_t err_len)
{
	vault_stream_reader *r;

	if (out == NULL)
		return -1;
	*out = NULL;
	if (k == NULL) {
		vault_err_set(err, err_len, "spool: missing key");
		return -1;
	}
	if ((r = reader_alloc(PR_SPOOL, sink, arg, err, err_len)) == NULL)
		return -1;
	r->spool = k;
	*out = r;
	return 0;
}

int
vault_spool_writer_restart(vault_stream_writer *w, const vault_spool_key *k,
    char *err, size_t err_len)
{
	if (w == NULL || k == NULL || w->ad_len != VAULT_SPOOL_HEADER_BYTES) {
		vault_err_set(err, err_len, "spool: cannot restart this writer");
		return -1;
	}
	sodium_memzero(w->buf, w->fill);
	w->fill = 0;
	w->total = 0;
	w->phase = PH_FAILED;
	if (crypto_secretstream_xchacha20poly1305_init_push(w->st, w->ad,
	    k->key) != 0) {
		vault_err_set(err, err_len, "spool: stream initialisation failed");
		return -1;
	}
	if (w->sink(w->arg, w->ad, w->ad_len) != 0) {
		vault_err_set(err, err_len, "spool: output failed");
		return -1;
	}
	w->phase = PH_BODY;
	return 0;
}

int
vault_spool_reader_restart(vault_stream_reader *r, vault_sink_fn sink,
    void *arg, char *err, size_t err_len)
{
	if (r == NULL || r->kind != PR_SPOOL || sink == NULL) {
		vault_err_set(err, err_len, "spool: cannot restart this reader");
		return -1;
	}
	if (r->buf != NULL)
		sodium_memzero(r->buf, r->chunk);
	r->sink = sink;
	r->arg = arg;
	r->hdr_fill = 0;
	r->len_fill = 0;
	r->need = 0;
	r->fill = 0;
	r->nchunks = 0;
	r->total = 0;
	r->phase = PH_HEADER;
	return 0;
}

unsigned long long
vault_spool_sealed_size(unsigned long long n)
{
	unsigned long long chunks = n == 0 ? 1 :
	    (n + VAULT_PROD_CHUNK_BYTES - 1) / VAULT_PROD_CHUNK_BYTES;

	return VAULT_SPOOL_HEADER_BYTES + n + chunks *
	    (VAULT_PROD_CHUNK_LEN_BYTES + VAULT_PROD_CHUNK_OVERHEAD);
}

/* -- production keys ---------------------------------------------------- */

int
vault_box_keypair(unsigned char pk_out[VAULT_BOX_PK_BYTES],
    unsigned char **sk_out)
{
	unsigned char *sk;

	if (sk_out == NULL)
		return -1;
	*sk_out = NULL;
	if (pk_out == NULL || vault_init() != 0)
		return -1;
	if ((sk = vault_secure_alloc(VAULT_BOX_SK_BYTES)) == NULL)
		return -1;
	if (crypto_box_keypair(pk_out, sk) != 0) {
		vault_secure_free(sk);
		memset(pk_out, 0, VAULT_BOX_PK_BYTES);
		return -1;
	}
	*sk_out = sk;
	return 0;
}

void
vault_box_key_free(unsigned char **sk)
{
	if (sk == NULL || *sk == NULL)
		return;
	vault_secure_free(*sk);
	*sk = NULL;
}

static int
kf_limits_check(const vault_keyfile_info *info, char *err, size_t err_len)
{
	return vault_pwbox_limits_check(KF_WHAT, info->opslimit, info->memlimit,
	    err, err_len);
}

static int
kf_parse(const unsigned char *file, size_t file_len, vault_keyfile_info *info,
    char *err, size_t err_len)
{
	size_t m;

	memset(info, 0, sizeof *info);
	if (file == NULL || file_len == 0) {
		vault_err_set(err, err_len, "key file is empty");
		return -1;
	}
	m = file_len < KF_MAGIC_LEN ? file_len : KF_MAGIC_LEN;
	if (memcmp(file, KF_MAGIC, m) != 0) {
		vault_err_set(err, err_len, "not a Coffer production key file (bad magic)");
		return -1;
	}
	if (file_len <= KF_OFF_VERSION) {
		vault_err_set(err, err_len, "key file truncated: %zu of %u bytes", file_len,
		    VAULT_KEYFILE_BYTES);
		return -1;
	}
	if (file[KF_OFF_VERSION] != VAULT_KEYFILE_VERSION) {
		vault_err_set(err, err_len, "unsupported key file version %u (this build "
		    "reads version %u)", (unsigned int)file[KF_OFF_VERSION],
		    VAULT_KEYFILE_VERSION);
		return -1;
	}
	if (file_len < VAULT_KEYFILE_BYTES) {
		vault_err_set(err, err_len, "key file truncated: %zu of %u bytes", file_len,
		    VAULT_KEYFILE_BYTES);
		return -1;
	}
	if (file_len > VAULT_KEYFILE_BYTES) {
		vault_err_set(err, err_len, "key file has %zu unexpected trailing bytes",
		    file_len - VAULT_KEYFILE_BYTES);
		return -1;
	}
	if (file[KF_OFF_ZERO] != 0 || file[KF_OFF_ZERO + 1] != 0 ||
	    file[KF_OFF_ZERO + 2] != 0) {
		vault_err_set(err, err_len, "key file: reserved bytes are not zero");
		return -1;
	}
	memcpy(info->tenant_id, file + KF_OFF_TENANT, VAULT_ID_BYTES);
	memcpy(info->user_id, file + KF_OFF_USER, VAULT_ID_BYTES);
	memcpy(info->pk, file + KF_OFF_PK, VAULT_BOX_PK_BYTES);
	info->opslimit = load_u64_le(file + KF_OFF_OPS);
	info->memlimit = load_u64_le(file + KF_OFF_MEM);
	if (kf_limits_check(info, err, err_len) != 0) {
		memset(info, 0, sizeof *info);
		return -1;
	}
	return 0;
}

int
vault_keyfile_seal(const vault_keyfile_info *info,
    const unsigned char sk[VAULT_BOX_SK_BYTES],
    const char *passphrase, size_t passphrase_len,
    unsigned char *out, size_t out_cap, size_t *out_len,
    char *err, size_t err_len)
{
	unsigned char pk[VAULT_BOX_PK_BYTES];
	int rc = -1;

	memset(pk, 0, sizeof pk);
	if (out_len != NULL)
		*out_len = 0;
	if (out != NULL && out_cap > 0)
		memset(out, 0, out_cap);
	if (info == NULL || sk == NULL || out == NULL || out_len == NULL) {
		vault_err_set(err, err_len, "key file: missing argument");
		goto fail;
	}
	if (out_cap < VAULT_KEYFILE_BYTES) {
		vault_err_set(err, err_len, "key file: output buffer of %zu bytes, need %u",
		    out_cap, VAULT_KEYFILE_BYTES);
		goto fail;
	}
	if (kf_limits_check(info, err, err_len) != 0)
		goto fail;
	if (passphrase == NULL || passphrase_len == 0) {
		vault_err_set(err, err_len, "key file: passphrase must not be empty");
		goto fail;
	}
	if (vault_init() != 0) {
		vault_err_set(err, err_len, "libsodium initialisation failed");
		goto fail;
	}
	crypto_scalarmult_base(pk, sk);
	if (sodium_memcmp(pk, info->pk, VAULT_BOX_PK_BYTES) != 0) {
		vault_err_set(err, err_len, "key file: public key does not belong to the "
		    "secret key");
		goto fail;
	}
	memcpy(out, KF_MAGIC, KF_MAGIC_LEN);
	out[KF_OFF_VERSION] = (unsigned char)VAULT_KEYFILE_VERSION;
	memcpy(out + KF_OFF_TENANT, info->tenant_id, VAULT_ID_BYTES);
	memcpy(out + KF_OFF_USER, info->user_id, VAULT_ID_BYTES);
	memcpy(out + KF_OFF_PK, info->pk, VAULT_BOX_PK_BYTES);
	store_u64_le(out + KF_OFF_OPS, info->opslimit);
	store_u64_le(out + KF_OFF_MEM, info->memlimit);
	/* salt, nonce and ciphertext; the header so far is the AD */
	if (vault_pwbox_seal(out, KF_HEADER_LEN, sk, VAULT_BOX_SK_BYTES,
	    passphrase, passphrase_len, info->opslimit, info->memlimit, KF_WHAT,
	    err, err_len) != 0)
		goto fail;
	*out_len = VAULT_KEYFILE_BYTES;
	rc = 0;
fail:
	if (rc != 0 && out != NULL && out_cap > 0)
		sodium_memzero(out, out_cap);
	return rc;
}

int
vault_keyfile_inspect(const unsigned char *file, size_t file_len,
    vault_keyfile_info *info_out, char *err, size_t err_len)
{
	if (info_out == NULL) {
		vault_err_set(err, err_len, "key file: missing argument");
		return -1;
	}
	return kf_parse(file, file_len, info_out, err, err_len);
}

int
vault_keyfile_open(const unsigned char *file, size_t file_len,
    const char *passphrase, size_t passphrase_len,
    vault_keyfile_info *info_out, unsigned char **sk_out,
    char *err, size_t err_len)
{
	vault_keyfile_info info;
	unsigned char pk[VAULT_BOX_PK_BYTES];
	unsigned char *sk = NULL;
	int rc = -1;

	memset(pk, 0, sizeof pk);
	memset(&info, 0, sizeof info);
	if (info_out != NULL)
		memset(info_out, 0, sizeof *info_out);
	if (sk_out != NULL)
		*sk_out = NULL;
	if (info_out == NULL || sk_out == NULL ||
	    (passphrase == NULL && passphrase_len != 0)) {
		vault_err_set(err, err_len, "key file: missing argument");
		goto fail;
	}
	if (kf_parse(file, file_len, &info, err, err_len) != 0)
		goto fail;
	if (vault_init() != 0) {
		vault_err_set(err, err_len, "libsodium initialisation failed");
		goto fail;
	}
	if ((sk = vault_secure_alloc(VAULT_BOX_SK_BYTES)) == NULL) {
		vault_err_set(err, err_len, "key file: cannot allocate secure memory");
		goto fail;
	}
	if (vault_pwbox_open(file, KF_HEADER_LEN, sk, VAULT_BOX_SK_BYTES,
	    passphrase, passphrase_len, info.opslimit, info.memlimit, KF_WHAT,
	    err, err_len) != 0)
		goto fail;
	crypto_scalarmult_base(pk, sk);
	if (sodium_memcmp(pk, info.pk, VAULT_BOX_PK_BYTES) != 0) {
		vault_err_set(err, err_len, "key file holds a secret key that does not "
		    "match its public key");
		goto fail;
	}
	*info_out = info;
	*sk_out = sk;
	sk = NULL;
	rc = 0;
fail:
	vault_secure_free(sk);
	return rc;
}
