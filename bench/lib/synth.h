/* bench/lib/synth.h — deterministic synthetic message records for the load
 * generator and the benchmark baselines.
 *
 * The same (seed, devices, batch, size, attachments) always yields the same
 * records, so the gateway run and the in-process baselines store identical
 * content: record i belongs to device (i / batch) % devices, exactly the
 * device whose connection sends that batch in ops/loadgen.
 *
 * The shape imitates an archive of managed phones: each device has an owner
 * (an E.164 number), a contact book mixing colleagues (other devices'
 * owners, so participant tokens repeat across devices) and outside
 * contacts, and a skewed set of conversations, each on one channel (mostly
 * WhatsApp, Signal, SMS, Telegram; some RCS, iMessage, WeChat, email,
 * voice), a fifth of them groups.  Bodies are word salad of about `size`
 * bytes (±25 %, a little non-ASCII UTF-8); a chosen share of records carries
 * one base64 attachment.  Every value is fictional and JSON-safe.
 *
 * Nothing here is secret; nothing here is thread-shared except the const
 * synth_cfg, so one synth_rec per thread is all the locking needed.
 */
#ifndef COFFER_BENCH_SYNTH_H
#define COFFER_BENCH_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#define SYNTH_PARTS_MAX  9U     /* sender + at most 8 recipients */
#define SYNTH_ADDR_MAX   64U    /* one participant, NUL-terminated */
#define SYNTH_ID_MAX     48U

typedef struct synth_cfg {
	uint64_t seed;
	unsigned devices;          /* >= 1 */
	unsigned batch;            /* records per device batch, >= 1 */
	size_t   body_size;        /* mean body bytes, >= 16 */
	unsigned attach_pct;       /* 0..100: records with one attachment */
	size_t   attach_bytes;     /* raw bytes of that attachment */
} synth_cfg;

typedef struct synth_rec {
	unsigned    device;                    /* 0..devices-1 */
	char        id[SYNTH_ID_MAX];          /* source message id */
	const char *channel;                   /* static string */
	char        conversation[SYNTH_ID_MAX];
	int         outgoing;                  /* 1: sender is the device owner */
	char        parts[SYNTH_PARTS_MAX][SYNTH_ADDR_MAX]; /* [0] is the sender */
	size_t      nparts;
	long long   sent_at_us;                /* µs since 1970, UTC */
	size_t      body_len;
	/* The whole NDJSON line (no newline), as an agent would send it. */
	char       *line;
	size_t      line_len;
	size_t      line_cap;
	unsigned char *scratch;                /* attachment bytes (private) */
	size_t      scratch_cap;
} synth_rec;

/* Check a configuration; 0 or -1 with err set. */
int  synth_cfg_check(const synth_cfg *c, char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* Device that owns record index (the batch round-robin above). */
unsigned synth_device_of(const synth_cfg *c, uint64_t index);

/* Device id used when no certificate names it ("bench-dev-0007"). */
void synth_device_name(unsigned device, char *out, size_t cap);

/* The owner of a device as the records name them: E.164 number and email
 * address (every record of the device has one of them as a participant). */
void synth_owner(const synth_cfg *c, unsigned device, char *phone,
                 size_t phone_cap, char *email, size_t email_cap);

/* Fill r with record `index` (r->line grows as needed; reuse r across
 * calls).  0, or -1 when out of memory. */
int  synth_make(const synth_cfg *c, uint64_t index, synth_rec *r)
     __attribute__((warn_unused_result));

/* Free r's buffers; r can be reused after. Accepts a zeroed rec. */
void synth_rec_clear(synth_rec *r);

/* Small, fast, deterministic generator shared by the tools (splitmix64). */
uint64_t synth_mix(uint64_t x);

#endif
