/* agent/import/main.c — coffer-import: one export in, gateway NDJSON out.
 *
 *   coffer-import --format FMT --owner OWNER [options] EXPORT
 *
 * Lines go to stdout, or with --spool DIR into DIR/<name>.tmp, fsync'd and
 * renamed to DIR/<name>.ndjson (the agent reads only *.ndjson).  Either
 * way nothing is written unless the whole export was read: lines are
 * gathered in an unlinked temporary file first, so a malformed export
 * leaves no half output.  The report (stderr; --report FILE as JSON)
 * counts what was skipped and why, by line number or record id only.
 *
 * Exit status: 0 the export was read (the report says what was skipped),
 * 1 the export is unusable or the output could not be written, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "agent/import/import.h"
#include "common/util.h"
#include "common/version.h"
#include "gateway/record.h"
#include "vault/mem.h"

static const char usage_text[] =
"usage: coffer-import --format FMT --owner OWNER [options] EXPORT\n"
"\n"
"Turn a chat export into gateway NDJSON record lines (one per message).\n"
"\n"
"formats (--format):\n"
"  whatsapp   WhatsApp \"Export chat\": the .txt, or the .zip with media\n"
"  telegram   Telegram Desktop result.json (media beside it)\n"
"  smsxml     Android \"SMS Backup & Restore\" XML (<smses>)\n"
"  chatdb     iMessage/SMS chat.db (SQLite; --media for attachments)\n"
"  rsmf       RSMF 2.0: .rsmf, rsmf.zip, manifest .json, or a directory\n"
"\n"
"options:\n"
"  --owner OWNER          the device owner's number (+15550100001) or\n"
"                         @handle: sets each message's direction\n"
"  --owner-name NAME      the owner's display name in the export (WhatsApp,\n"
"                         Telegram, RSMF): the owner, without --contacts\n"
"  --default-country CC   country calling code for national numbers (44)\n"
"  --tz ZONE              IANA zone of the export's local times\n"
"                         (Europe/Berlin); default UTC\n"
"  --date-order dmy|mdy   WhatsApp dates when the file does not tell\n"
"  --contacts FILE        CSV name,number: display names to numbers\n"
"  --conversation ID      conversation id instead of the export's own\n"
"  --media DIR            chatdb: directory the attachment paths are under\n"
"  --spool DIR            write DIR/<name>.ndjson atomically, not stdout\n"
"  --report FILE          also write the report as JSON to FILE\n"
"  --max-input BYTES      largest export file (268435456)\n"
"  --max-media BYTES      largest media file carried as data (8388608)\n"
"  --max-messages N       most messages in one export (1000000)\n"
"  --max-line BYTES       longest record line (16777216, the gateway's)\n"
"  --version, --help\n";

static int
usage(void)
{
	fputs(usage_text, stderr);
	return 2;
}

static int
sink_file(void *arg, const char *line, size_t len)
{
	FILE *f = arg;

	if (fwrite(line, 1, len, f) != len || fputc('\n', f) == EOF)
		return -1;
	return 0;
}

static int
copy_out(FILE *from, int fd)
{
	char buf[65536];
	size_t n, off;
	ssize_t w;

	if (fflush(from) != 0 || fseek(from, 0, SEEK_SET) != 0)
		return -1;
	while ((n = fread(buf, 1, sizeof(buf), from)) > 0) {
		for (off = 0; off < n; off += (size_t)w) {
			w = write(fd, buf + off, n - off);
			if (w < 0 && errno == EINTR) {
				w = 0;
				continue;
			}
			if (w <= 0)
				return -1;
		}
	}
	return ferror(from) ? -1 : 0;
}

/* tmp, fsync, rename, fsync the directory; the .tmp is removed on failure. */
static int
spool_write(const char *dir, const char *fmt, FILE *lines, char *err,
    size_t err_len)
{
	char base[128], tmp[4200], fin[4200];
	struct tm tm;
	time_t now = time(NULL);
	int fd, dfd;

	gmtime_r(&now, &tm);
	snprintf(base, sizeof(base), "import-%s-%04d%02d%02dT%02d%02d%02dZ-%ld",
	    fmt, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (long)getpid());
	snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, base);
	snprintf(fin, sizeof(fin), "%s/%s.ndjson", dir, base);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0640)) < 0) {
		snprintf(err, err_len, "--spool: cannot create %.300s: %s", tmp,
		    strerror(errno));
		return -1;
	}
	if (copy_out(lines, fd) != 0 || fsync(fd) != 0) {
		snprintf(err, err_len, "--spool: cannot write %.300s: %s", tmp,
		    strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) != 0 || rename(tmp, fin) != 0) {
		snprintf(err, err_len, "--spool: cannot rename %.300s: %s", tmp,
		    strerror(errno));
		unlink(tmp);
		return -1;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	fprintf(stderr, "coffer-import: wrote %s\n", fin);
	return 0;
}

static int
size_opt(const char *name, const char *v, size_t *out)
{
	uint64_t n;

	if (util_parse_u64(v, 1, (uint64_t)SIZE_MAX / 4, &n) != 0) {
		fprintf(stderr, "coffer-import: %s: not a positive number\n", name);
		return -1;
	}
	*out = (size_t)n;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "owner", required_argument, NULL, 'o' },
		{ "owner-name", required_argument, NULL, 'n' },
		{ "default-country", required_argument, NULL, 'c' },
		{ "tz", required_argument, NULL, 'z' },
		{ "date-order", required_argument, NULL, 'd' },
		{ "contacts", required_argument, NULL, 'k' },
		{ "conversation", required_argument, NULL, 'C' },
		{ "media", required_argument, NULL, 'm' },
		{ "spool", required_argument, NULL, 's' },
		{ "report", required_argument, NULL, 'r' },
		{ "max-input", required_argument, NULL, 1 },
		{ "max-media", required_argument, NULL, 2 },
		{ "max-messages", required_argument, NULL, 3 },
		{ "max-line", required_argument, NULL, 4 },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *fmt = NULL, *contacts_path = NULL, *media_dir = NULL;
	const char *spool = NULL, *report = NULL;
	char err[IMP_ERR_MAX + 256];
	imp_contacts *contacts = NULL;
	imp_media *media = NULL;
	imp_ctx *c = NULL;
	imp_opts o;
	FILE *lines = NULL;
	char *rj;
	int ch, rc = 1, ok;

	memset(&o, 0, sizeof(o));
	err[0] = '\0';
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'f': fmt = optarg; break;
		case 'o': o.owner = optarg; break;
		case 'n': o.owner_name = optarg; break;
		case 'c': o.default_cc = optarg; break;
		case 'z': o.tz = optarg; break;
		case 'd':
			if (strcmp(optarg, "dmy") == 0)
				o.date_order = IMP_DATE_DMY;
			else if (strcmp(optarg, "mdy") == 0)
				o.date_order = IMP_DATE_MDY;
			else {
				fprintf(stderr, "coffer-import: --date-order: dmy or mdy\n");
				return 2;
			}
			break;
		case 'k': contacts_path = optarg; break;
		case 'C': o.conversation = optarg; break;
		case 'm': media_dir = optarg; break;
		case 's': spool = optarg; break;
		case 'r': report = optarg; break;
		case 1: if (size_opt("--max-input", optarg, &o.lim.input_max)) return 2; break;
		case 2: if (size_opt("--max-media", optarg, &o.lim.media_max)) return 2; break;
		case 3: if (size_opt("--max-messages", optarg, &o.lim.messages_max)) return 2; break;
		case 4: if (size_opt("--max-line", optarg, &o.lim.line_max)) return 2; break;
		case 'V': printf("coffer-import %s\n", coffer_version()); return 0;
		case 'h': fputs(usage_text, stdout); return 0;
		default: return usage();
		}
	}
	if (optind != argc - 1 || fmt == NULL)
		return usage();
	if (o.owner == NULL) {
		fprintf(stderr, "coffer-import: --owner is required (the device "
		    "owner's number or @handle)\n");
		return 2;
	}
	if (strcmp(fmt, "whatsapp") != 0 && strcmp(fmt, "telegram") != 0 &&
	    strcmp(fmt, "smsxml") != 0 && strcmp(fmt, "chatdb") != 0 &&
	    strcmp(fmt, "rsmf") != 0) {
		fprintf(stderr, "coffer-import: --format: whatsapp, telegram, "
		    "smsxml, chatdb or rsmf\n");
		return 2;
	}
	if (o.conversation != NULL && (o.conversation[0] == '\0' ||
	    strlen(o.conversation) > 1024)) {
		fprintf(stderr, "coffer-import: --conversation: 1..1024 bytes\n");
		return 2;
	}
	if (vault_init() != 0) {
		fprintf(stderr, "coffer-import: cannot initialise libsodium\n");
		return 1;
	}
	rec_init();
	if (contacts_path != NULL && imp_contacts_file(&contacts, contacts_path,
	    o.default_cc, err, sizeof(err)) != 0)
		goto out;
	o.contacts = contacts;
	if ((lines = tmpfile()) == NULL) {
		snprintf(err, sizeof(err), "cannot make a temporary file: %s",
		    strerror(errno));
		goto out;
	}
	if (imp_ctx_new(&c, fmt, &o, sink_file, lines, err, sizeof(err)) != 0)
		goto out;
	if (media_dir != NULL && imp_media_dir(&media, media_dir, err,
	    sizeof(err)) != 0)
		goto out;
	if (strcmp(fmt, "whatsapp") == 0)
		ok = imp_whatsapp_file(c, argv[optind], err, sizeof(err));
	else if (strcmp(fmt, "smsxml") == 0)
		ok = imp_smsxml_file(c, argv[optind], err, sizeof(err));
	else if (strcmp(fmt, "telegram") == 0)
		ok = imp_telegram_file(c, argv[optind], err, sizeof(err));
	else if (strcmp(fmt, "chatdb") == 0)
		ok = imp_chatdb_file(c, argv[optind], media, err, sizeof(err));
	else
		ok = imp_rsmf_file(c, argv[optind], err, sizeof(err));
	if (ok != 0)
		goto out;
	if (spool != NULL) {
		if (imp_imported(c) > 0 &&
		    spool_write(spool, fmt, lines, err, sizeof(err)) != 0)
			goto out;
	} else if (copy_out(lines, STDOUT_FILENO) != 0) {
		snprintf(err, sizeof(err), "cannot write to stdout: %s",
		    strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (c != NULL) {
		if (rc == 0)
			imp_report_print(c, stderr);
		if (report != NULL && (rj = imp_report_json(c)) != NULL) {
			FILE *rf = fopen(report, "w");

			if (rf == NULL || fprintf(rf, "{\"ok\":%s,\"report\":%s}\n",
			    rc == 0 ? "true" : "false", rj) < 0 || fclose(rf) != 0) {
				fprintf(stderr, "coffer-import: --report: cannot write "
				    "%s\n", report);
				rc = 1;
			}
			free(rj);
		}
	}
	if (rc != 0)
		fprintf(stderr, "coffer-import: %s\n", err[0] ? err : "failed");
	if (lines != NULL)
		fclose(lines);
	imp_ctx_free(&c);
	imp_media_free(&media);
	imp_contacts_free(&contacts);
	return rc;
}
