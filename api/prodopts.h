/* api/prodopts.h — what a production build is given and gives back: its
 * options, its result and its progress callback (the build and its
 * contract are in api/production.h, which includes this).
 *
 * Its own header so that the build's parts (api/prodstate.h) can hold
 * these types without including api/production.h, which would make the
 * build and its parts include each other.
 */
#ifndef COFFER_API_PRODOPTS_H
#define COFFER_API_PRODOPTS_H

#define API_PRODUCTION_FETCH_ROWS     500
#define API_PRODUCTION_PART_BYTES     (512U * 1024U)

typedef void (*api_progress_fn)(void *arg, unsigned long long done,
                                unsigned long long total);

typedef struct api_production_opts {
	int           fetch_rows;           /* 0: API_PRODUCTION_FETCH_ROWS */
	int           rsmf_deflate;         /* 1: deflate rsmf_manifest.json in
	                                       rsmf.zip (about a third smaller
	                                       production, a quarter slower);
	                                       0: stored, like attachments */
	const char   *pins_dir;             /* issue 12: tenant keys checked
	                                       against <pins_dir>/<tenant>.pin
	                                       before anything is unwrapped
	                                       (NULL: not checked) */
	const char   *node_pins_file;       /* and node keys (NULL/"": not) */
	const char   *blind_dir;            /* the matters' blinding seeds,
	                                       <dir>/<matter>.seed
	                                       (api/blind.h); required */
	const unsigned char *sign_sk;       /* issue 13.3: the API node's
	                                       Ed25519 key (VAULT_SIGN_SK_BYTES,
	                                       borrowed); required */
	const char   *node_name;            /* its name in the node pins */
	size_t        records_part_bytes;   /* records.jsonl goes into the tar
	                                       in parts of this many bytes
	                                       (0: API_PRODUCTION_PART_BYTES;
	                                       tests set small ones) */
} api_production_opts;

typedef struct api_production_result {
	unsigned long long records;          /* decrypted and produced */
	unsigned long long excluded_records; /* in scope, epoch not approved */
	unsigned long long epochs;           /* epoch keys unwrapped */
	unsigned long long rsmf_files;
	unsigned long long attachments;
	unsigned long long sealed_bytes;     /* size of out_path */
	unsigned char      sealed_sha256[32];/* SHA-256 of out_path */
	/* Wall time of the build's phases, in ms (the log's "ready" line):
	 * scope, keys and checkpoints; the records; the files after them
	 * (records.jsonl, load file, cover, manifest, statement) to the
	 * fsync'd output. */
	unsigned long long ms_setup, ms_records, ms_finish;
	unsigned long long records_parts;    /* records.jsonl's parts */
} api_production_result;

#endif
