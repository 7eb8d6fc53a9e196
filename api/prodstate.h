/* api/prodstate.h — the state of one production build (struct prod) and
 * the types its parts share: epochs and their key cache, checkpoints,
 * batches and the proofs of the rows in flight,
 * spools, the writer queue, the current RSMF group, text buffers.
 *
 * Private to the build.  api/production.c makes a prod, runs the build
 * and frees it; api/prodscope.c (matter, scope, keys), api/spool.c (output
 * and spools), api/prodtext.c (text) and api/rsmf.c (RSMF) each fill or
 * read their part of it, on the build's one thread (the writer thread
 * owns only what pr_wq says).  Nothing else includes this header.
 *
 * Errors: a part that fails returns -1 (or NULL) after PERR, which fills
 * the caller's buffer once; messages carry ids and counts only, never
 * content, tokens or key material (api/production.h).
 */
#ifndef COFFER_API_PRODSTATE_H
#define COFFER_API_PRODSTATE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <archive.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/evp.h>

#include "api/prodopts.h"
#include "common/util.h"
#include "vault/blind.h"
#include "vault/chain.h"
#include "vault/err.h"
#include "vault/production.h"
#include "vault/seal.h"
#include "vault/threshold.h"
#include "vault/wrap.h"

#define PR_EPOCH_CACHE    32U                /* open epoch keys at once */
#define PR_IO_BYTES       (VAULT_PROD_CHUNK_BYTES + VAULT_PROD_CHUNK_LEN_BYTES + \
                           VAULT_PROD_CHUNK_OVERHEAD)
#define PR_B64_IN         57U                /* 76 base64 characters a line */
#define PR_UUID_LIT       (UTIL_UUID_STRLEN + 1U)
#define PR_CHANNEL_MAX    16U
#define PR_CK_JSON        1024U
#define PR_PARTS_MAX      999999U            /* records.jsonl.NNNNNN */
#define PR_PART_MIN       512U               /* smallest part size */

/* An in-scope record's key from the build's one pass over the scope, in
 * production order (api/production.c, pr_scan_keys): the row is read by
 * it later.  Ids and times only, no content. */
typedef struct pr_key {
	unsigned char  stream[VAULT_ID_BYTES];
	unsigned char  seq[8];             /* int8, binary (network order) */
	unsigned char  received[8];        /* timestamptz, binary */
	uint32_t       epoch;              /* index into prod.sepochs */
} pr_key;

typedef struct pr_epoch {
	unsigned char  id[VAULT_ID_BYTES];
	unsigned char  R[VAULT_POINT_BYTES];
	unsigned char  wrapped[VAULT_WRAPPED_EK_BYTES];
	vault_partial *partials;           /* K of them once approved */
	unsigned int   npartials;
	int            approved;
	size_t         s_index;            /* its S in prod.S */
	vault_release_ctx ctx;             /* tenant, matter, epoch, recipient */
	unsigned char  Rb[VAULT_POINT_BYTES]; /* R' = ρ·R, from the seed */
	unsigned char  pk[VAULT_POINT_BYTES]; /* the T it was wrapped to */
	unsigned int   g;                  /* its share generation: prod.gens[g] */
} pr_epoch;

/* A share generation whose approvals open some of the matter's epochs
 * (issue 16: one per key the epochs use). */
typedef struct pr_gen {
	unsigned int   generation;
	unsigned int   k;
	unsigned char  pk[VAULT_POINT_BYTES];
	unsigned char *public_shares;     /* n * 32, index i at (i-1)*32 */
	unsigned int   nshares;
	unsigned int   approvals;
} pr_gen;

typedef struct pr_slot {
	size_t             epoch;         /* index into epochs[] */
	vault_epoch       *e;
	unsigned long long used;
} pr_slot;

typedef struct pr_ckpt {
	unsigned char      stream[VAULT_ID_BYTES];
	unsigned long long batch_no;
	unsigned long long last_seq;
	char               json[768];     /* {"batch_no":..,"head":..,...} */
} pr_ckpt;

/* A batch of records in flight: what its proofs carry. */
typedef struct pr_batch {
	unsigned char      stream[VAULT_ID_BYTES];
	unsigned long long batch_no, first_seq, last_seq;
	unsigned char     *tree;        /* vault_merkle_tree, NULL: evicted */
	size_t             n;
	unsigned long long used;        /* FETCH generation */
	unsigned long long tree_used;
	char               json[PR_CK_JSON * 2];  /* "batch":{..},"checkpoint":.. */
	char               ck[PR_CK_JSON];        /* the checkpoint or "null" */
} pr_batch;

/* A batch a FETCH's rows need that is not held: read ahead for all of
 * them in two queries (api/production.c, pr_batches_ahead) instead of two
 * a batch. */
typedef struct pr_ahead {
	unsigned char      stream[VAULT_ID_BYTES];
	unsigned long long batch_no;
	int                row;              /* in ah_rows; -1: none */
	int                lstart, lcount;   /* its leaves in ah_leaves */
} pr_ahead;

/* One row of the FETCH being processed: its batch and inclusion path. */
typedef struct pr_rowproof {
	size_t        batch;
	size_t        leaf_index;
	size_t        path_len;
	unsigned char path[VAULT_MERKLE_PATH_MAX * VAULT_HASH_BYTES];
} pr_rowproof;

/* A spool keeps its content in guarded memory up to mem_cap bytes and
 * only past that moves it to a sealed temporary file: the many small RSMF
 * groups never touch the disk, the big streams (records.jsonl, manifest)
 * do, encrypted. */
struct prod;

typedef struct pr_spool {
	struct prod         *owner;
	int                  fd;          /* -1 until the first spill */
	vault_stream_writer *w;           /* created at the first spill */
	vault_stream_reader *rd;          /* reused for every read-back */
	int                  spilled;     /* content is in the file */
	unsigned char       *mem;         /* guarded */
	size_t               mem_len;
	size_t               mem_cap;
	unsigned long long   size;        /* plaintext bytes held */
	unsigned long long   file;        /* ciphertext bytes in the file */
	int                  io_errno;
} pr_spool;

typedef struct pr_b64 {
	unsigned char carry[PR_B64_IN];
	size_t        n;
} pr_b64;

typedef struct pr_group {
	int                active;
	unsigned char      conv[VAULT_TOKEN_BYTES];
	int                has_conv;
	char               channel[PR_CHANNEL_MAX];
	long long          day;           /* -1: whole conversation */
	unsigned long long ordinal;
	unsigned long long events;
	unsigned long long attachments;
	long long          first_us;
	long long          last_us;
	json_t            *pmap;          /* participant -> index */
	json_t            *plist;         /* participants in order */
	json_t            *conv_display;  /* conversation id (string) */
	struct archive    *zip;
	pr_b64             b64;
} pr_group;

/* Plaintext bound for a sealed stream (the production container, a
 * spilled spool) goes through a small queue to one writer thread, which
 * seals it (vault_stream_write) and whose sinks write the ciphertext: the
 * encryption, write(2) and the output's SHA-256 run beside the build
 * instead of in it (issue 17.4).  So do the per-file BLAKE2b and SHA-256
 * of the tar's files (fh, fsha, files, sha_files): the build reads those
 * only after wq_drain.  Slots are guarded memory, wiped once
 * sealed; the build fills one slot for one stream before it hands it over
 * (a spool's many small lines cost one wake-up per PR_IO_BYTES).  A stream's writer is used by the thread alone while anything
 * is queued; the build touches it (finish, restart) only after wq_drain. */
#define PR_WQ_SLOTS 128

typedef struct pr_wq {
	pthread_t            th;
	pthread_mutex_t      mu;
	pthread_cond_t       cv;
	unsigned char       *buf[PR_WQ_SLOTS];   /* guarded */
	size_t               len[PR_WQ_SLOTS];
	vault_stream_writer *w[PR_WQ_SLOTS];
	int                  kind[PR_WQ_SLOTS];  /* seal, hash, file start,
	                                            file end (api/spool.c) */
	struct prod         *owner;     /* the build: its file hashes */
	size_t               head, n;       /* published: head .. head+n-1 */
	int                  open;          /* slot oslot is being filled */
	size_t               oslot;         /* = head+n, which the thread
	                                       never moves */
	int                  started, stop, err;
	char                 emsg[256];         /* the failed write's error */
	EVP_MD_CTX          *sha;   /* the production's: out_sink's */
} pr_wq;

/* Text assembled in guarded memory: lines of records.jsonl and the
 * manifest, RSMF events.  Values that come from a record are encoded by
 * tx_json: strings by jtext_escape (json_dumpb's exact bytes, one copy of
 * the rule in common/jtext.c), anything else by json_dumpb. */
typedef struct pr_text {
	unsigned char *p;
	size_t         len;
	size_t         cap;
} pr_text;

typedef struct prod {
	PGconn              *db;
	char                *err;
	size_t               err_len;
	const api_production_opts *opts;
	unsigned char        tenant_id[VAULT_ID_BYTES];
	unsigned char        matter_id[VAULT_ID_BYTES];
	char                 tid[PR_UUID_LIT];
	char                 mid[PR_UUID_LIT];
	long long            now_us;

	/* matter */
	unsigned char        requester_pk[VAULT_BOX_PK_BYTES]; /* frozen in
	                                       the matter at creation */
	unsigned char       *seed;             /* blinding seed (guarded) */
	unsigned char       *Sb;               /* S' scratch, in seed's block */
	char                 blind_text[UTIL_UUID_STRLEN + 1];
	unsigned char        tenant_pk[VAULT_POINT_BYTES];
	unsigned char       *public_shares;  /* n * 32, index i at (i-1)*32 */
	unsigned int         nshares;
	unsigned int         k;               /* K of generation */
	unsigned int         generation;      /* the newest generation used */
	pr_gen              *gens;            /* one per key the epochs use */
	size_t               ngens;
	char                 time_from[8], time_to[8];
	int                  has_from, has_to;
	int                  closed;
	char                *lit_channels;   /* text[] literal or NULL */
	char                *lit_parts;      /* bytea[] literal or NULL */
	char                *lit_convs;
	json_t              *scope_summary;
	unsigned int        *custodians;     /* indices used */
	unsigned int         ncustodians;

	/* the scope, read once (pr_scan_keys): every in-scope record's key
	 * and the distinct epochs they are sealed under */
	pr_key              *keys;
	size_t               nkeys, keys_cap;
	unsigned char       *sepochs;        /* nsepochs * VAULT_ID_BYTES */
	unsigned char       *sapproved;      /* per sepoch: 1 if approved */
	size_t               nsepochs, sepochs_cap;
	char                *lit_sepochs;    /* uuid[] literal of sepochs */

	/* epochs */
	pr_epoch            *epochs;
	size_t               nepochs;
	size_t               napproved;
	unsigned char       *S;              /* guarded, nepochs * 32 */
	pr_slot              cache[PR_EPOCH_CACHE];
	unsigned long long   tick;
	char                *lit_epochs;     /* uuid[] of approved epochs */

	pr_ckpt             *ckpts;
	size_t               nckpts;
	pr_batch            *batches;
	size_t               nbatches, cap_batches;
	size_t               last_batch;     /* index of the last hit */
	size_t               tree_bytes;     /* the trees held */
	unsigned long long   gen;
	pr_rowproof         *rowp;
	size_t               rowp_cap;
	unsigned char       *lbuf;           /* one batch's leaf hashes */
	size_t               lbuf_cap;
	pr_ahead            *ah;             /* read ahead for this FETCH
	                                        (rowp_cap entries) */
	size_t               nah;
	PGresult            *ah_rows, *ah_leaves;
	/* the signed statement */
	vault_hasher        *fh;
	int                  fh_active;
	int                  hash_here;   /* tar_hash_here: fh and fsha are
	                                     the build thread's until
	                                     pr_file_end */
	char                 fname[192];
	unsigned long long   fsize;
	json_t              *files;

	/* output */
	int                  out_fd;
	char                *tmp_path;
	pr_wq                wq;
	unsigned long long   out_bytes;
	int                  out_errno;
	vault_stream_writer *container;
	struct archive      *tar;
	char                 tar_err[512];
	vault_spool_key     *skey;
	char                *dir;
	pr_spool             manifest;
	/* records.jsonl, in parts (issue 17.4): the tar entries
	 * records.jsonl.000001, ... of at most rpart_cap bytes each, emitted
	 * as they fill, so it is never sealed to a temporary file and read
	 * back.  The statement and the manifest list the whole file:
	 * rh, rsha and rsize run across the parts on the writer thread
	 * (in_part: the current tar file is a part). */
	unsigned char       *rpart;           /* guarded */
	size_t               rpart_len, rpart_cap;
	unsigned int         rparts;          /* parts in the tar */
	vault_hasher        *rh;
	EVP_MD_CTX          *rsha;
	unsigned long long   rsize;
	int                  in_part;
	pr_spool             events;
	pr_spool             zipsp;
	pr_group             g;
	unsigned long long   ordinal;
	/* review files (issue 15.3): transcripts of the current conversation,
	 * the load file, per-file SHA-256 for the cover sheet and manifest */
	pr_spool             trhtml;
	pr_spool             trtxt;
	pr_spool             loadcsv;
	unsigned long long   tr_ordinal;      /* conversation of the open transcript */
	int                  tr_active;
	unsigned long long   tr_messages;
	json_t              *tr_parts;        /* participants seen (set) */
	json_t              *tr_conv;         /* its display (string) or NULL */
	char                 tr_channel[PR_CHANNEL_MAX];
	json_t              *conversations;   /* manifest "conversations" */
	json_t              *ratt;            /* this record's attachments */
	char                 control[24];     /* this record's control number */
	EVP_MD_CTX          *fsha;            /* SHA-256 of the current file */
	json_t              *sha_files;       /* {"name","size","sha256"} */
	json_t              *approvers;       /* who approved, when */
	json_t              *matter;          /* title, legal basis, requester,
	                                         approvals (cover sheet) */

	/* per record */
	unsigned char       *pt;             /* guarded */
	size_t               pt_cap;
	unsigned char       *js;             /* guarded, jtext_load's scratch */
	size_t               js_cap;
	unsigned char       *tok;            /* the row's participant tokens */
	size_t               tok_cap;
	unsigned char       *att;            /* guarded, decoded attachment slice */
	size_t               att_cap;
	unsigned char       *iobuf;          /* PR_IO_BYTES, sealed spool reads */
	pr_text              evtext;         /* one serialised event */
	pr_text              ltext;          /* one records.jsonl/manifest line */
	pr_text              vtext;          /* one transcript entry or CSV row */
	unsigned char        last_stream[VAULT_ID_BYTES];
	char                 last_sid[PR_UUID_LIT];
	unsigned char        last_epoch[VAULT_ID_BYTES];
	char                 last_eid[PR_UUID_LIT];
	char                *line;           /* event/manifest line buffer */
	size_t               line_cap;

	char                 errbuf[256];    /* when the caller passed none */
	int                  aborting;       /* archive callbacks write nothing */
	api_progress_fn      progress;
	void                *progress_arg;
	unsigned long long   total;
	api_production_result res;
} prod;

#define PERR(P, ...) vault_err_set((P)->err, (P)->err_len, __VA_ARGS__)

#endif
