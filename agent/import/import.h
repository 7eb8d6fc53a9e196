/* agent/import/import.h — importers of chat exports into gateway records.
 *
 * Each importer reads one export (WhatsApp "Export chat", Telegram Desktop
 * result.json, Android "SMS Backup & Restore" XML, an iMessage chat.db,
 * RSMF 2.0) and hands every message, as one NDJSON line in exactly the
 * format of gateway/record.h, to the context's sink.  Every line is run
 * through the gateway's own validator (rec_check) before it leaves, so
 * what coffer-import writes is what the gateway accepts.
 *
 * Record ids are derived from the export's own identity (imp_id): the
 * same export imported twice gives the same lines, byte for byte, and the
 * gateway answers "duplicate" for the second.
 *
 * What is not imported is counted per reason in the report (imp_report),
 * with line numbers or record ids only: never content or participants.
 *
 * Everything an export holds is hostile: sizes and counts are bounded
 * (imp_limits), media named by an export is read only from beneath the
 * export's own directory or archive (imp_media_get), and no parser here is
 * hand-written (libxml2, jansson, libarchive, SQLite).
 */
#ifndef COFFER_AGENT_IMPORT_IMPORT_H
#define COFFER_AGENT_IMPORT_IMPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vault/blind.h"

#define IMP_ERR_MAX        256U
#define IMP_PART_MAX       (VAULT_PARTICIPANT_MAX + 1U)
#define IMP_REF_KEEP       50U      /* line numbers / ids kept per reason */
#define IMP_REASONS_MAX    32U

typedef enum imp_date_order {
	IMP_DATE_AUTO = 0,
	IMP_DATE_DMY = 1,
	IMP_DATE_MDY = 2
} imp_date_order;

typedef struct imp_limits {
	size_t input_max;        /* bytes of one export file (default 256 MiB) */
	size_t media_max;        /* bytes of one media file (8 MiB) */
	size_t archive_max;      /* bytes of all zip entries read (512 MiB) */
	size_t entries_max;      /* zip entries (100000) */
	size_t messages_max;     /* messages of one export (1000000) */
	size_t body_max;         /* bytes of one message body (1 MiB) */
	size_t line_max;         /* bytes of one NDJSON line (16 MiB) */
} imp_limits;

typedef struct imp_contacts imp_contacts;   /* name -> participant */
typedef struct imp_media imp_media;         /* a directory or zip entries */
typedef struct imp_ctx imp_ctx;

/* Options of one import; strings are borrowed for the context's life. */
typedef struct imp_opts {
	const char    *owner;         /* the device owner (number or handle) */
	const char    *owner_name;    /* the owner's display name in the export */
	const char    *default_cc;    /* country calling code for national numbers */
	const char    *tz;            /* IANA zone of local times; NULL: UTC */
	imp_date_order date_order;    /* WhatsApp's numeric dates */
	const char    *conversation;  /* overrides a format's conversation id */
	const imp_contacts *contacts; /* may be NULL */
	imp_limits     lim;           /* zero fields take the defaults */
} imp_opts;

/* Receives each finished line (no newline); 0 or -1 (stops the import). */
typedef int (*imp_sink)(void *arg, const char *line, size_t len);

/* -- context ----------------------------------------------------------- */

/* New context for format fmt ("whatsapp", "telegram", "smsxml", "chatdb",
 * "rsmf").  Checks the owner, the country code and the zone (the zone must
 * exist under /usr/share/zoneinfo; TZ is set for this process).  0 or -1
 * with err. */
int  imp_ctx_new(imp_ctx **out, const char *fmt, const imp_opts *o,
                 imp_sink sink, void *sink_arg, char *err, size_t err_len)
     __attribute__((warn_unused_result));
void imp_ctx_free(imp_ctx **c);

/* The report as JSON (malloc'd, compact, sorted keys) or as text lines. */
char *imp_report_json(const imp_ctx *c);
void  imp_report_print(const imp_ctx *c, FILE *f);
size_t imp_imported(const imp_ctx *c);
/* Count of one skip or warning reason (tests). */
size_t imp_reason_count(const imp_ctx *c, const char *reason);

/* -- importers: 0 (the export was read; some messages may be skipped) or
 * -1 (the export is unusable: err names the line, offset or element; the
 * caller discards whatever the sink got). ----------------------------- */

/* WhatsApp chat text (the export's .txt, or _chat.txt); media beside it
 * when media != NULL.  chat_name identifies the chat (file name without
 * "WhatsApp Chat with " / ".txt") unless opts.conversation is set. */
int imp_whatsapp_txt(imp_ctx *c, const char *text, size_t len,
                     const char *chat_name, imp_media *media,
                     char *err, size_t err_len)
    __attribute__((warn_unused_result));
/* A WhatsApp export file: .zip (text and media) or .txt (media from its
 * directory). */
int imp_whatsapp_file(imp_ctx *c, const char *path, char *err, size_t err_len)
    __attribute__((warn_unused_result));

int imp_smsxml(imp_ctx *c, const char *xml, size_t len, char *err,
               size_t err_len) __attribute__((warn_unused_result));
int imp_smsxml_file(imp_ctx *c, const char *path, char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* Telegram Desktop result.json; media paths are relative to media. */
int imp_telegram(imp_ctx *c, const char *json, size_t len, imp_media *media,
                 char *err, size_t err_len) __attribute__((warn_unused_result));
int imp_telegram_file(imp_ctx *c, const char *path, char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* iMessage chat.db, opened read-only and immutable; attachments are
 * looked up beneath media (may be NULL: every attachment missing). */
int imp_chatdb_file(imp_ctx *c, const char *path, imp_media *media,
                    char *err, size_t err_len)
    __attribute__((warn_unused_result));
/* The NSString of an attributedBody typedstream, or -1 (not one we read). */
int imp_typedstream_text(const unsigned char *p, size_t len,
                         const unsigned char **text, size_t *text_len);

/* RSMF: an .rsmf file, a bare rsmf.zip, a manifest .json, or a directory
 * of them (not recursive). */
int imp_rsmf_file(imp_ctx *c, const char *path, char *err, size_t err_len)
    __attribute__((warn_unused_result));
int imp_rsmf_zip(imp_ctx *c, const unsigned char *zip, size_t len,
                 char *err, size_t err_len) __attribute__((warn_unused_result));
int imp_rsmf_eml(imp_ctx *c, const unsigned char *eml, size_t len,
                 char *err, size_t err_len) __attribute__((warn_unused_result));
/* One file's bytes, told apart as imp_rsmf_file does (zip, manifest, .rsmf). */
int imp_rsmf_buf(imp_ctx *c, const unsigned char *buf, size_t len,
                 char *err, size_t err_len) __attribute__((warn_unused_result));

/* -- contacts ---------------------------------------------------------- */

/* CSV "name,number" (a header line "name,number" is skipped; a name may be
 * double-quoted with "" for a quote).  Numbers are normalised now
 * (default_cc for national ones); a bad one fails with its line. */
int  imp_contacts_load(imp_contacts **out, const char *csv, size_t len,
                       const char *default_cc, char *err, size_t err_len)
     __attribute__((warn_unused_result));
int  imp_contacts_file(imp_contacts **out, const char *path,
                       const char *default_cc, char *err, size_t err_len)
     __attribute__((warn_unused_result));
void imp_contacts_free(imp_contacts **c);

/* -- media ------------------------------------------------------------- */

/* Media beneath a directory (opened now, O_DIRECTORY). */
int  imp_media_dir(imp_media **out, const char *dir, char *err, size_t err_len)
     __attribute__((warn_unused_result));
/* Media from a zip in memory: every regular entry (bounded by lim). */
int  imp_media_zip(imp_media **out, const unsigned char *zip, size_t len,
                   const imp_limits *lim, char *err, size_t err_len)
     __attribute__((warn_unused_result));
void imp_media_free(imp_media **m);
/* Zip entries: how many, the name of the i-th (NULL past the end). */
size_t imp_media_count(const imp_media *m);
const char *imp_media_name(const imp_media *m, size_t i);
/* Entry named exactly name (zip only); NULL if none. */
const unsigned char *imp_media_entry(const imp_media *m, const char *name,
                                     size_t *len);

/* -- for the importers (core.c) ----------------------------------------- */

typedef struct imp_att {
	char          *name;     /* owned */
	const char    *type;     /* static, or after name in name's block
	                          * (imp_att_set_type) */
	char          *data_b64; /* owned; "" when the file was missing */
} imp_att;

typedef struct imp_msg {
	const char  *channel;
	const char  *conversation;
	const char  *sender;                 /* normalised */
	const char **recipients;             /* normalised */
	size_t       n_recipients;
	long long    sent_at_us;
	const char  *body;
	size_t       body_len;
	imp_att     *atts;
	size_t       n_atts;
} imp_msg;

const imp_opts *imp_opts_of(const imp_ctx *c);
const char *imp_owner(const imp_ctx *c);

/* Count a skipped message (or a warning: kind 'w') with its reference
 * ("line 12", "message 4711"); reason is a fixed string. */
void imp_skip(imp_ctx *c, const char *reason, const char *ref);
void imp_warn(imp_ctx *c, const char *reason, const char *ref);

/* Normalise a number or handle as a person writes it (the vault's scope
 * rules: E.164 with default_cc, @handle, network:handle, email). */
int  imp_participant(const imp_ctx *c, const char *raw, size_t len,
                     char out[IMP_PART_MAX]) __attribute__((warn_unused_result));
/* A display name through the contacts, or a name that is a number. */
int  imp_contact_lookup(const imp_ctx *c, const char *name, size_t len,
                        char out[IMP_PART_MAX])
     __attribute__((warn_unused_result));

/* Record id: prefix "-" 32 hex digits of BLAKE2b-128 over the
 * length-prefixed parts; the ordinal counts earlier messages with the same
 * (scope, sent_at, sender) in this import. */
void imp_id(imp_ctx *c, const char *prefix, const char *scope,
            long long sent_at_us, const char *sender, const char *native,
            char out[80]);

/* Local wall-clock time in the context's zone -> µs since the epoch.
 * Ambiguous times (a clock going back) take the earlier instant unless it
 * precedes *prev_us (exports are in order); times in a gap (a clock going
 * forward) are read with the offset before the gap.  Both are warnings.
 * *prev_us is updated.  -1 for impossible fields. */
int  imp_local_time(imp_ctx *c, int y, int mo, int d, int h, int mi, int s,
                    long long *prev_us, long long *out_us, const char *ref)
     __attribute__((warn_unused_result));

/* Attachment from media (base64 of the file) or, when missing, with empty
 * data and a warning.  -1 only when out of memory.  A refused name
 * (absolute, "..", too long) is a warning and gives no attachment: 1. */
int  imp_attach(imp_ctx *c, imp_media *m, const char *dir_prefix,
                const char *name, const char *type, imp_att *out,
                const char *ref) __attribute__((warn_unused_result));
/* Attachment from bytes already in hand. */
int  imp_attach_bytes(imp_att *out, const char *name, const char *type,
                      const unsigned char *data, size_t len)
     __attribute__((warn_unused_result));
/* Copy type into memory the attachment owns (freed with its name). */
int  imp_att_set_type(imp_att *a, const char *type)
     __attribute__((warn_unused_result));
void imp_att_clear(imp_att *a);
const char *imp_mime_of(const char *name);

/* Serialise, check with the gateway's validator, hand to the sink.  A line
 * the validator refuses is skipped with its reason.  -1: the sink failed
 * or out of memory (err set). */
int  imp_emit(imp_ctx *c, const imp_msg *m, const char *id, const char *ref,
              char *err, size_t err_len) __attribute__((warn_unused_result));
/* Count of messages seen; -1 when over messages_max (err set). */
int  imp_count_message(imp_ctx *c, char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* Set of participants of a conversation (normalised strings). */
typedef struct imp_pset {
	char   **v;
	size_t   n, cap;
} imp_pset;
int  imp_pset_add(imp_pset *s, const char *p) __attribute__((warn_unused_result));
void imp_pset_free(imp_pset *s);
/* Recipients: every member of s but sender, the owner included. */
int  imp_recipients(const imp_ctx *c, const imp_pset *s, const char *sender,
                    const char ***out, size_t *n)
     __attribute__((warn_unused_result));

/* m made printable ASCII (others '?', trailing ones dropped), at most 120
 * bytes, in buf; "unreadable" for NULL or empty. */
const char *imp_lib_msg(const char *m, char *buf, size_t cap);

/* Read a whole file of at most max bytes (NUL added). */
int  imp_read_file(const char *path, size_t max, unsigned char **out,
                   size_t *len, char *err, size_t err_len)
     __attribute__((warn_unused_result));

#endif
