/* tests/unit/test_import_chatdb.c — agent/import/chatdb.c on chat.db files
 * this test writes with SQLite's C API (the schema's tables and columns
 * as Messages has them, trimmed to what is read): a 1:1 iMessage chat
 * (emoji, a reply whose text is only in attributedBody), a group with an
 * email handle and a picture present under Attachments/, a missing
 * attachment, a "~/Library/Messages/../../../etc/passwd" attachment, an
 * SMS chat with an old seconds-since-2001 date, an unreadable
 * attributedBody and a status item (both skipped); then the typedstream
 * decoder's bounds, a file that is not a database, a database without
 * the tables, one whose "message" is a view, and a second import that is
 * byte-identical.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "tests/unit/import_fixture.h"

static char dir[64];
static char dbpath[128];

#define TS_HEAD "\x04\x0bstreamtyped\x81\xe8\x03\x84\x01@\x84\x84\x84\x12" \
	"NSAttributedString\x00\x84\x84\x08NSObject\x00\x85\x92\x84\x84\x84\x08" \
	"NSString\x01\x94\x84\x01+"
#define TS_TAIL "\x86\x84\x02iI\x01\x1a\x92\x84\x84\x84\x0cNSDictionary\x00"

/* Apple epoch ns of a Unix time */
#define NS(unix) (((long long)(unix) - 978307200LL) * 1000000000LL)

static void
exec(sqlite3 *db, const char *sql)
{
	char *e = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &e) != SQLITE_OK) {
		fprintf(stderr, "sqlite: %s\n", e);
		fail();
	}
}

static void
msg(sqlite3 *db, int rowid, const char *guid, const char *text,
    const void *ab, int ab_len, int handle, const char *svc, long long date,
    int from_me, int chat)
{
	sqlite3_stmt *st;
	char q[160];

	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO message (ROWID, guid,"
	    " text, attributedBody, handle_id, service, date, is_from_me)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int(st, 1, rowid);
	sqlite3_bind_text(st, 2, guid, -1, SQLITE_STATIC);
	if (text != NULL)
		sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
	if (ab != NULL)
		sqlite3_bind_blob(st, 4, ab, ab_len, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, handle);
	sqlite3_bind_text(st, 6, svc, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, date);
	sqlite3_bind_int(st, 8, from_me);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	snprintf(q, sizeof(q), "INSERT INTO chat_message_join VALUES (%d, %d, 0)",
	    chat, rowid);
	exec(db, q);
}

static void
make_db(const char *path, int view)
{
	static const char reply[] = "Reply via attributedBody \xe2\x9c\x93";
	unsigned char ab[256];
	size_t n = 0;
	sqlite3 *db;
	FILE *f;

	memcpy(ab, TS_HEAD, sizeof(TS_HEAD) - 1);
	n = sizeof(TS_HEAD) - 1;
	ab[n++] = (unsigned char)(sizeof(reply) - 1);
	memcpy(ab + n, reply, sizeof(reply) - 1);
	n += sizeof(reply) - 1;
	memcpy(ab + n, TS_TAIL, sizeof(TS_TAIL) - 1);
	n += sizeof(TS_TAIL) - 1;

	unlink(path);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	exec(db,
	    "CREATE TABLE handle (ROWID INTEGER PRIMARY KEY AUTOINCREMENT UNIQUE,"
	    " id TEXT NOT NULL, country TEXT, service TEXT NOT NULL,"
	    " uncanonicalized_id TEXT, person_centric_id TEXT);"
	    "CREATE TABLE chat (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT"
	    " UNIQUE NOT NULL, style INTEGER, state INTEGER, account_id TEXT,"
	    " chat_identifier TEXT, service_name TEXT, display_name TEXT);"
	    "CREATE TABLE attachment (ROWID INTEGER PRIMARY KEY AUTOINCREMENT,"
	    " guid TEXT UNIQUE NOT NULL, created_date INTEGER DEFAULT 0,"
	    " filename TEXT, uti TEXT, mime_type TEXT, transfer_state INTEGER,"
	    " is_outgoing INTEGER, transfer_name TEXT, total_bytes INTEGER);"
	    "CREATE TABLE chat_handle_join (chat_id INTEGER, handle_id INTEGER,"
	    " UNIQUE(chat_id, handle_id));"
	    "CREATE TABLE chat_message_join (chat_id INTEGER, message_id INTEGER,"
	    " message_date INTEGER DEFAULT 0, PRIMARY KEY (chat_id, message_id));"
	    "CREATE TABLE message_attachment_join (message_id INTEGER,"
	    " attachment_id INTEGER, UNIQUE(message_id, attachment_id));");
	if (view)
		exec(db, "CREATE TABLE m0 (ROWID INTEGER PRIMARY KEY, guid TEXT);"
		    "CREATE VIEW message AS SELECT * FROM m0;");
	else
		exec(db, "CREATE TABLE message (ROWID INTEGER PRIMARY KEY"
		    " AUTOINCREMENT, guid TEXT UNIQUE NOT NULL, text TEXT,"
		    " replace INTEGER DEFAULT 0, service_center TEXT, handle_id"
		    " INTEGER DEFAULT 0, subject TEXT, country TEXT, attributedBody"
		    " BLOB, version INTEGER DEFAULT 0, type INTEGER DEFAULT 0,"
		    " service TEXT, account TEXT, date INTEGER, date_read INTEGER,"
		    " is_from_me INTEGER DEFAULT 0, item_type INTEGER DEFAULT 0,"
		    " cache_has_attachments INTEGER DEFAULT 0);");
	exec(db,
	    "INSERT INTO handle VALUES (1, '+15550100001', 'us', 'iMessage', NULL, NULL);"
	    "INSERT INTO handle VALUES (2, 'Bob@Example.com', 'us', 'iMessage', NULL, NULL);"
	    "INSERT INTO handle VALUES (3, '+15550100002', 'us', 'SMS', NULL, NULL);"
	    "INSERT INTO chat VALUES (1, 'iMessage;-;+15550100001', 45, 3, 'a',"
	    " '+15550100001', 'iMessage', NULL);"
	    "INSERT INTO chat VALUES (2, 'iMessage;+;chat987654321', 43, 3, 'a',"
	    " 'chat987654321', 'iMessage', 'Trip');"
	    "INSERT INTO chat VALUES (3, 'SMS;-;+15550100002', 45, 3, 'a',"
	    " '+15550100002', 'SMS', NULL);"
	    "INSERT INTO chat_handle_join VALUES (1, 1), (2, 1), (2, 2), (3, 3);"
	    "INSERT INTO attachment VALUES (1, 'AT1', 0, '~/Library/Messages/"
	    "Attachments/ab/01/AT1/IMG_0001.HEIC', 'public.heic', 'image/heic', 5,"
	    " 1, 'IMG_0001.HEIC', 12);"
	    "INSERT INTO attachment VALUES (2, 'AT2', 0, '~/Library/Messages/"
	    "Attachments/cd/02/AT2/lost.jpg', 'public.jpeg', 'image/jpeg', 5, 0,"
	    " 'lost.jpg', 999);"
	    "INSERT INTO attachment VALUES (3, 'AT3', 0, '~/Library/Messages/../../"
	    "../etc/passwd', 'public.data', NULL, 5, 0, 'passwd', 10);"
	    "INSERT INTO message_attachment_join VALUES (4, 1), (5, 2), (6, 3);");
	if (!view) {
		msg(db, 1, "A1-GUID", "Hello from Alice \xf0\x9f\x91\x8b", NULL, 0, 1,
		    "iMessage", NS(1704058865), 0, 1);
		msg(db, 2, "A2-GUID", NULL, ab, (int)n, 1, "iMessage",
		    NS(1704058925), 1, 1);
		msg(db, 3, "A3-GUID", "group hi", NULL, 0, 2, "iMessage",
		    NS(1704058985) + 123456789, 0, 2);
		msg(db, 4, "A4-GUID", "", NULL, 0, 0, "iMessage", NS(1704059045), 1, 2);
		msg(db, 5, "A5-GUID", "missing pic", NULL, 0, 1, "iMessage",
		    NS(1704059105), 0, 1);
		msg(db, 6, "A6-GUID", "sneaky", NULL, 0, 1, "iMessage",
		    NS(1704059165), 0, 1);
		/* an old database: seconds since 2001 */
		msg(db, 7, "A7-GUID", "old sms", NULL, 0, 3, "SMS", 600000000LL, 0, 3);
		msg(db, 8, "A8-GUID", NULL, "\x04\x0bstreamtyped junk", 18, 1,
		    "iMessage", NS(1704059225), 0, 1);
		msg(db, 9, "A9-GUID", NULL, NULL, 0, 1, "iMessage", NS(1704059285), 0, 1);
		/* message 1 joined to a second chat as well */
		exec(db, "INSERT INTO chat_message_join VALUES (3, 1, 0);");
	}
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	if (!view) {
		char p[256];

		snprintf(p, sizeof(p), "%s/Attachments/ab/01/AT1", dir);
		assert_int_equal(system("true"), 0);
		snprintf(p, sizeof(p), "mkdir -p '%s/Attachments/ab/01/AT1'", dir);
		assert_int_equal(system(p), 0);
		snprintf(p, sizeof(p), "%s/Attachments/ab/01/AT1/IMG_0001.HEIC", dir);
		assert_non_null(f = fopen(p, "wb"));
		fwrite("heic-bytes!!", 1, 12, f);
		fclose(f);
	}
}

static int
cd_setup(void **state)
{
	if (imf_setup(state) != 0)
		return -1;
	snprintf(dir, sizeof(dir), "/tmp/coffer-chatdb.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(dbpath, sizeof(dbpath), "%s/chat.db", dir);
	return 0;
}

static int
cd_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int
cd_run(imf *r, const char *path)
{
	imp_opts o;

	memset(&o, 0, sizeof(o));
	o.owner = IMF_OWNER;
	if (imf_ctx(r, "chatdb", &o, NULL) != 0)
		return -1;
	r->rc = imp_chatdb_file(r->c, path, NULL, r->err, sizeof(r->err));
	return r->rc;
}

static void
test_chatdb(void **state)
{
	imf r, again;
	char b[512];

	(void)state;
	make_db(dbpath, 0);
	if (cd_run(&r, dbpath) != 0)
		fprintf(stderr, "err: %s\n", r.err);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.n, 7);
	/* ordered by date: the 2020 SMS first */
	assert_string_equal(imf_str(&r, 0, "channel"), "sms");
	assert_string_equal(imf_str(&r, 0, "sent_at"), "2020-01-06T10:40:00Z");
	assert_string_equal(imf_str(&r, 0, "conversation"), "imessage:SMS;-;+15550100002");
	assert_string_equal(imf_str(&r, 0, "sender"), "+15550100002");
	assert_string_equal(imf_str(&r, 1, "channel"), "imessage");
	assert_string_equal(imf_str(&r, 1, "sent_at"), "2023-12-31T21:41:05Z");
	assert_string_equal(imf_str(&r, 1, "body"), "Hello from Alice \xf0\x9f\x91\x8b");
	assert_string_equal(imf_str(&r, 1, "conversation"),
	    "imessage:iMessage;-;+15550100001");
	assert_string_equal(imf_rcpt(&r, 1, b, sizeof(b)), IMF_OWNER);
	/* attributedBody, from me */
	assert_string_equal(imf_str(&r, 2, "body"), "Reply via attributedBody \xe2\x9c\x93");
	assert_string_equal(imf_str(&r, 2, "direction"), "out");
	assert_string_equal(imf_rcpt(&r, 2, b, sizeof(b)), "+15550100001");
	/* group, email handle lower-cased, nanoseconds to microseconds */
	assert_string_equal(imf_str(&r, 3, "sender"), "bob@example.com");
	assert_string_equal(imf_str(&r, 3, "sent_at"), "2023-12-31T21:43:05.123456Z");
	assert_string_equal(imf_rcpt(&r, 3, b, sizeof(b)), IMF_OWNER ",+15550100001");
	assert_string_equal(imf_str(&r, 3, "conversation"),
	    "imessage:iMessage;+;chat987654321");
	assert_string_equal(imf_att_str(&r, 4, 0, "name"), "IMG_0001.HEIC");
	assert_string_equal(imf_att_str(&r, 4, 0, "type"), "image/heic");
	assert_string_equal(imf_att_str(&r, 4, 0, "data"), "aGVpYy1ieXRlcyEh");
	assert_string_equal(imf_rcpt(&r, 4, b, sizeof(b)),
	    "+15550100001,bob@example.com");
	assert_string_equal(imf_att_str(&r, 5, 0, "name"), "lost.jpg");
	assert_string_equal(imf_att_str(&r, 5, 0, "data"), "");
	assert_string_equal(imf_str(&r, 6, "body"), "sneaky");
	assert_null(imf_att(&r, 6, 0));
	assert_int_equal(imp_reason_count(r.c, "attributedBody not readable"), 1);
	assert_int_equal(imp_reason_count(r.c,
	    "message in more than one chat (the first kept)"), 1);
	assert_int_equal(imp_reason_count(r.c,
	    "no text and no attachment (a status item)"), 1);
	assert_int_equal(imp_reason_count(r.c,
	    "media missing (attachment without data)"), 1);
	assert_int_equal(imp_reason_count(r.c, "attachment name refused "
	    "(absolute, .. or control characters)"), 1);
	assert_true(imf_same_as(&r, IMF_DATA "chatdb/chatdb.expected.ndjson"));
	assert_int_equal(cd_run(&again, dbpath), 0);
	assert_int_equal(again.out_len, r.out_len);
	assert_memory_equal(again.out, r.out, r.out_len);
	imf_free(&again);
	imf_free(&r);
}

static void
test_refusals(void **state)
{
	char p[160], want[320];
	FILE *f;
	sqlite3 *db;
	imf r;

	(void)state;
	snprintf(p, sizeof(p), "%s/notadb.db", dir);
	assert_non_null(f = fopen(p, "wb"));
	fputs("this is not a database, it is a text file long enough to look at\n", f);
	fclose(f);
	assert_int_equal(cd_run(&r, p), -1);
	snprintf(want, sizeof(want), "%s: not an SQLite database: file is not a "
	    "database", p);
	assert_string_equal(r.err, want);
	imf_free(&r);

	snprintf(p, sizeof(p), "%s/empty.db", dir);
	assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
	exec(db, "CREATE TABLE other (x INTEGER);");
	sqlite3_close(db);
	assert_int_equal(cd_run(&r, p), -1);
	snprintf(want, sizeof(want), "%s: not an iMessage chat.db (no table "
	    "message)", p);
	assert_string_equal(r.err, want);
	imf_free(&r);

	snprintf(p, sizeof(p), "%s/view.db", dir);
	make_db(p, 1);
	assert_int_equal(cd_run(&r, p), -1);
	snprintf(want, sizeof(want), "%s: not an iMessage chat.db (no table "
	    "message)", p);
	assert_string_equal(r.err, want);
	imf_free(&r);

	snprintf(p, sizeof(p), "%s/none.db", dir);
	assert_int_equal(cd_run(&r, p), -1);
	snprintf(want, sizeof(want), "%s: cannot open: unable to open database "
	    "file", p);
	assert_string_equal(r.err, want);
	imf_free(&r);
}

static void
test_typedstream(void **state)
{
	static const unsigned char good[] = TS_HEAD "\x05hello" TS_TAIL;
	static const unsigned char long16[] = TS_HEAD "\x81\x03\x00" "abc";
	static const unsigned char over[] = TS_HEAD "\x09hello";
	static const unsigned char big32[] = TS_HEAD "\x82\xff\xff\xff\x7f";
	static const unsigned char nohdr[] = "\x04\x0bstreamtypeX NSString +\x01a";
	static const unsigned char badlen[] = TS_HEAD "\x83\x01";
	const unsigned char *t;
	size_t n;

	(void)state;
	assert_int_equal(imp_typedstream_text(good, sizeof(good) - 1, &t, &n), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(t, "hello", 5);
	assert_int_equal(imp_typedstream_text(long16, sizeof(long16) - 1, &t, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(imp_typedstream_text(over, sizeof(over) - 1, &t, &n), -1);
	assert_int_equal(imp_typedstream_text(big32, sizeof(big32) - 1, &t, &n), -1);
	assert_int_equal(imp_typedstream_text(nohdr, sizeof(nohdr) - 1, &t, &n), -1);
	assert_int_equal(imp_typedstream_text(badlen, sizeof(badlen) - 1, &t, &n), -1);
	assert_int_equal(imp_typedstream_text(good, 20, &t, &n), -1);
	assert_int_equal(imp_typedstream_text(NULL, 0, &t, &n), -1);
	assert_null(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chatdb),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_typedstream),
	};

	return cmocka_run_group_tests(tests, cd_setup, cd_teardown);
}
