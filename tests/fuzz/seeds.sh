#!/bin/sh
# tests/fuzz/seeds.sh — (re)generate the committed seed corpus
# tests/fuzz/corpus/<target>/ (small valid and near-valid inputs).
#
#   sh tests/fuzz/seeds.sh          seeds that need no database: written by
#                                   the targets' own fixtures (FUZZ_WRITE_SEEDS),
#                                   openssl, production_helpers.py gen, printf
#   BUILD=/tmp/x/build sh tests/pg-harness.sh --shell sh tests/fuzz/seeds.sh --pg
#                                   also the seeds made by the real tools
#                                   against PostgreSQL: share files from
#                                   `cofferctl tenant init`, and a whole
#                                   production (gateway ingest, approvals,
#                                   build, `cofferctl export open`) whose
#                                   files become fuzz_manifest seeds
#
# `make fuzz` does not run this: the corpus is committed.  Keep it small
# (well under 200 KiB in all).
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$(pwd)
C=tests/fuzz/corpus
B=build-fuzz
SEP='
#--coffer-fuzz-file--#
'

seeds_plain() {
	FUZZ_BUILD_ONLY=1 sh tests/fuzz/run.sh tests/fuzz/fuzz_partial.c \
	    tests/fuzz/fuzz_sharefile.c tests/fuzz/fuzz_auditlog.c \
	    tests/fuzz/fuzz_reshare.c >/dev/null ||
	    return 1
	for t in fuzz_partial fuzz_sharefile fuzz_auditlog fuzz_reshare; do
		mkdir -p "$C/$t"
		FUZZ_WRITE_SEEDS="$C/$t" "$B/$t" >/dev/null 2>&1 || return 1
	done

	# records: lines as devices send them, and near misses
	mkdir -p "$C/fuzz_record"
	python3 tests/integration/production_helpers.py gen "$B/sent.ndjson" || return 1
	for n in 1 2 17 29; do
		sed -n "${n}p" "$B/sent.ndjson" | tr -d '\n' >"$C/fuzz_record/line-$n"
	done
	sed -n 1p "$B/sent.ndjson" | sed 's/"channel"/"chanel"/' | tr -d '\n' \
	    >"$C/fuzz_record/unknown-field"
	sed -n 1p "$B/sent.ndjson" | cut -c1-80 >"$C/fuzz_record/truncated"

	# gateway HTTP: first byte is the mode (routes, answers, read size)
	mkdir -p "$C/fuzz_http"
	ln=$(sed -n 1p "$B/sent.ndjson")
	len=$(printf '%s\n' "$ln" | wc -c)
	printf '\030POST /v1/records HTTP/1.1\r\nHost: gw\r\nContent-Type: application/x-ndjson\r\nContent-Length: %s\r\n\r\n%s\n' \
	    "$len" "$ln" >"$C/fuzz_http/post-records"
	printf '\010POST /v1/records HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n5\r\n{"a":\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n' \
	    >"$C/fuzz_http/chunked-pipelined"
	printf '\001GET /metrics HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n' \
	    >"$C/fuzz_http/metrics"
	printf '\000POST /v1/records HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello' \
	    >"$C/fuzz_http/double-length"

	# API front door: request heads (api/frontdoor.c)
	mkdir -p "$C/fuzz_frontdoor"
	printf 'GET /v1/whoami HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' \
	    >"$C/fuzz_frontdoor/get"
	printf 'POST /v1/matters HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n' \
	    >"$C/fuzz_frontdoor/cl-te"
	printf 'POST /v1/matters HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 12\r\n\r\n' \
	    >"$C/fuzz_frontdoor/expect"
	printf 'GET /v1/%%77hoami?a=%%41 HTTP/1.1\r\nHost: x\r\n\r\n' \
	    >"$C/fuzz_frontdoor/percent"
	printf 'POST /v1/matters HTTP/1.1\r\nHost: x\r\nContent-Length: 5\0006\r\n\r\n' \
	    >"$C/fuzz_frontdoor/cl-nul"

	# certificates: DER as a peer sends it (mode byte 0), and structured
	# subjects (mode byte 1: entries of header, length, bytes)
	mkdir -p "$C/fuzz_certid"
	k="$B/seed.key"
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$k" \
	    2>/dev/null || return 1
	der() {   # der NAME SUBJECT [openssl req options]
		n=$1 s=$2
		shift 2
		{ printf '\000'; openssl req -new -x509 -key "$k" -days 1 -subj "$s" \
		    -outform DER "$@" 2>/dev/null; } >"$C/fuzz_certid/$n"
	}
	der der-person "/O=acme/OU=legal/CN=lisa"
	der der-device "/O=acme/CN=phone-a"
	der der-two-cn "/O=acme/CN=a/CN=b"
	der der-multi-rdn "/O=acme+CN=phone-a"
	der der-utf8 "/O=acme/CN=phöne-a" -utf8
	printf '\001\000\004acme\002\005legal\001\004lisa' >"$C/fuzz_certid/subj-person"
	printf '\001\000\004acme\001\007phone-a' >"$C/fuzz_certid/subj-device"
	printf '\003\000\004acme\031\016\000p\000h\000o\000n\000e\000-\000a' \
	    >"$C/fuzz_certid/subj-bmp-cn"
	printf '\001\000\004acme\201\020aaaaaaaaaaaaaaaa' >"$C/fuzz_certid/subj-long-cn"
	printf '\001\000\004acme\001\007pho\000e-a' >"$C/fuzz_certid/subj-nul"
	printf '\001\000\004acme\100\004evil\001\001x' >"$C/fuzz_certid/subj-multi-o"

	# containers and key files: headers only (the key is random per run)
	mkdir -p "$C/fuzz_container"
	printf '\001COFFER-PROD-1\n\001\000\000\001\000\000' >"$C/fuzz_container/header"
	printf '\000COFFER-XSKEY\001\000\000\000' >"$C/fuzz_container/keyfile-head"

	# manifests: the smallest production that opens, and near misses
	mkdir -p "$C/fuzz_manifest"
	h='{"matter_id":"m","tenant_id":"26ced924-f91f-491d-8575-4bb01e2c285e","record_count":0,"checkpoints":[],"records":['
	printf '\001%s\n]}\n%s' "$h" "$SEP" >"$C/fuzz_manifest/empty"
	printf '\001%s\n{"stream":"s","seq":1,"leaf_hash":"00","checkpoint":null}\n]}\n%s{"stream":"s","seq":1,"leaf_hash":"00","receipt":"s:1:00","record":{}}\n' \
	    "$h" "$SEP" >"$C/fuzz_manifest/one-receipt"
}

# importers: the unit tests' sample exports behind a mode byte
# (tests/fuzz/fuzz_import.h: zone and date order; bit 7 for the zip and
# database forms), and a small chat.db made with the sqlite3 CLI
seeds_import() {
	D=tests/data/import
	seed() {   # seed TARGET NAME MODE-OCTAL FILE
		mkdir -p "$C/$1"
		{ printf '%b' "\\0$3"; cat "$4"; } >"$C/$1/$2"
	}
	seed fuzz_import_whatsapp android 001 "$D/whatsapp/android/WhatsApp Chat with Alice Smith.txt"
	seed fuzz_import_whatsapp dotted 000 "$D/whatsapp/dotted/WhatsApp Chat with Bob Example.txt"
	seed fuzz_import_whatsapp ios-zip 201 "$D/whatsapp/WhatsApp Chat - Trip Planning.zip"
	seed fuzz_import_smsxml backup 000 "$D/smsxml/backup.xml"
	seed fuzz_import_smsxml doctype 000 "$D/smsxml/doctype.xml"
	seed fuzz_import_telegram personal 001 "$D/telegram/personal/result.json"
	seed fuzz_import_telegram account 002 "$D/telegram/account/result.json"
	seed fuzz_import_rsmf slack 002 "$D/rsmf/slack.rsmf"
	seed fuzz_import_rsmf sample 000 "$D/rsmf/dir/a-sample.rsmf"
	seed fuzz_import_rsmf zip 000 "$D/rsmf/dir/b-slack.zip"
	mkdir -p "$C/fuzz_import_chatdb"
	printf '\000\004\013streamtyped\201\350\003\204\001@\204\204\204\022NSAttributedString\000\204\204\010NSObject\000\205\222\204\204\204\010NSString\001\224\204\001+\005hello\206' \
	    >"$C/fuzz_import_chatdb/typedstream"
	rm -f "$B/seed-chat.db"
	sqlite3 "$B/seed-chat.db" <<'SQL' || return 1
PRAGMA page_size = 512;
CREATE TABLE handle (ROWID INTEGER PRIMARY KEY, id TEXT, service TEXT);
CREATE TABLE chat (ROWID INTEGER PRIMARY KEY, guid TEXT);
CREATE TABLE attachment (ROWID INTEGER PRIMARY KEY, filename TEXT, mime_type TEXT, transfer_name TEXT);
CREATE TABLE chat_handle_join (chat_id INTEGER, handle_id INTEGER);
CREATE TABLE chat_message_join (chat_id INTEGER, message_id INTEGER);
CREATE TABLE message_attachment_join (message_id INTEGER, attachment_id INTEGER);
CREATE TABLE message (ROWID INTEGER PRIMARY KEY, guid TEXT, text TEXT, attributedBody BLOB, handle_id INTEGER, service TEXT, date INTEGER, is_from_me INTEGER);
INSERT INTO handle VALUES (1, '+15550100001', 'iMessage'), (2, 'bob@example.com', 'iMessage');
INSERT INTO chat VALUES (1, 'iMessage;+;chat1');
INSERT INTO chat_handle_join VALUES (1, 1), (1, 2);
INSERT INTO message VALUES (1, 'G1', 'hello', NULL, 1, 'iMessage', 725751665000000000, 0);
INSERT INTO message VALUES (2, 'G2', NULL, X'040B73747265616D747970656481E803840140848484124E5341747472696275746564537472696E67008484084E534F626A65637400859284848408' || X'4E53537472696E67019484012B026869', 0, 'iMessage', 725751725000000000, 1);
INSERT INTO message VALUES (3, 'G3', 'pic', NULL, 2, 'SMS', 600000000, 0);
INSERT INTO chat_message_join VALUES (1, 1), (1, 2), (1, 3);
INSERT INTO attachment VALUES (1, '~/Library/Messages/Attachments/a/b.jpg', 'image/jpeg', 'b.jpg');
INSERT INTO message_attachment_join VALUES (3, 1);
SQL
	{ printf '\200'; cat "$B/seed-chat.db"; } >"$C/fuzz_import_chatdb/chat-db"
}

seeds_pg() {
	CTL="$BUILD/cofferctl"
	HELP="$BUILD/tests/itest_production"
	PYH="$ROOT/tests/integration/production_helpers.py"
	. "$ROOT/tests/lib/gateway-fixture.sh"
	GWF_NO_TRAP=1
	API_PID=""
	trap '[ -n "$API_PID" ] && kill "$API_PID"; gwf_cleanup' EXIT
	# shellcheck disable=SC2119
	gwf_init && gwf_server_cert && gwf_tenant acme && gwf_device acme phone-a &&
	    gwf_node gw-seed && gwf_config && gwf_start phone-a || return 1
	T="$GWF_DIR/seed"
	mkdir -p "$T" && chmod 0700 "$T"
	cp "$GWF_DIR/tenants/acme/out/acme-custodian-1.share" \
	    "$C/fuzz_sharefile/real-custodian-1" &&
	    chmod 0644 "$C/fuzz_sharefile/real-custodian-1" || return 1

	# a small production: six records, two custodians, export open
	python3 "$PYH" gen "$T/all.ndjson" && head -6 "$T/all.ndjson" >"$T/sent.ndjson"
	gwf_curl phone-a --data-binary @"$T/sent.ndjson" "$(gwf_url v1/records)" \
	    >/dev/null || return 1
	TID=$(psql -XAtc "SELECT tenant_id FROM coffer.tenants WHERE name = 'acme'")
	for u in "legal lisa" "custodian cus1 1" "custodian cus2 2"; do
		# shellcheck disable=SC2086
		set -- $u
		"$CTL" user issue --role "$1" --tenant acme --name "$2" \
		    --out "$T/people" ${3:+--custodian-index "$3"} >/dev/null || return 1
	done
	printf 'seed passphrase\n' >"$T/lisa.pass" && chmod 0600 "$T/lisa.pass"
	"$CTL" keygen --tenant acme --name lisa --out "$T/lisa.key" \
	    --passphrase-file "$T/lisa.pass" >/dev/null || return 1
	MID=$("$HELP" --helper matter "$TID" lisa "$GWF_KEYS/acme.bik" \
	    2026-03-10T00:00:00Z 2026-03-12T23:59:59Z +15550100001) || return 1
	"$CTL" pki server --name seedapi --dns localhost --ip 127.0.0.1 \
	    --out "$T/srv" >/dev/null || return 1
	python3 "$PYH" serve --port-file "$T/api.port" --cert "$T/srv/seedapi.crt" \
	    --key "$T/srv/seedapi.key" --people-ca "$COFFER_PKI/people/ca.pem" \
	    --helper "$HELP" >"$T/api.log" 2>&1 &
	API_PID=$!
	i=0
	while [ ! -s "$T/api.port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	COFFER_API_URL="https://127.0.0.1:$(cat "$T/api.port")"
	COFFER_CA="$COFFER_PKI/server/ca.pem"
	export COFFER_API_URL COFFER_CA
	for i in 1 2; do
		"$CTL" approve --matter "$MID" --share \
		    "$GWF_DIR/tenants/acme/out/acme-custodian-$i.share" \
		    --passphrase-file "$GWF_DIR/tenants/acme/pass$i" \
		    --cert "$T/people/cus$i.crt" --key "$T/people/cus$i.key" --yes \
		    >/dev/null || return 1
	done
	# productions are signed by the API node (issue 13.3)
	"$CTL" node init --name seed-api --key-out "$T/api-node.key" \
	    --pins "$COFFER_NODE_PINS" >/dev/null || return 1
	COFFER_API_NODE_KEY="$T/api-node.key" COFFER_API_NODE_NAME=seed-api \
	    "$HELP" --helper build "$TID" "$MID" "$T/p.coffer" 3 >/dev/null || return 1
	"$CTL" export open --in "$T/p.coffer" --key "$T/lisa.key" --out "$T/o" \
	    --passphrase-file "$T/lisa.pass" || return 1
	python3 - "$T/o" "$C/fuzz_manifest" "$SEP" <<'EOF' || return 1
import io, os, sys, tarfile
src, dst, sep = sys.argv[1], sys.argv[2], sys.argv[3].encode()
rd = lambda p: open(os.path.join(src, p), "rb").read()
rsmf = sorted(os.listdir(os.path.join(src, "rsmf")))
parts = [rd("manifest.json"), rd("records.jsonl")] + [rd("rsmf/" + r) for r in rsmf]
open(os.path.join(dst, "real-production"), "wb").write(b"\x01" + sep.join(parts))
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
    t.add(os.path.join(src, "rsmf"), "rsmf/", recursive=False)
    for r in rsmf:
        t.add(os.path.join(src, "rsmf", r), "rsmf/" + r)
    t.add(os.path.join(src, "records.jsonl"), "records.jsonl")
    t.add(os.path.join(src, "manifest.json"), "manifest.json")
open(os.path.join(dst, "real-production-tar"), "wb").write(b"\x00" + buf.getvalue())
# issue 17.4: records.jsonl in three parts, as a build writes it
rj = rd("records.jsonl")
k = (len(rj) + 2) // 3
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
    t.add(os.path.join(src, "rsmf"), "rsmf/", recursive=False)
    for i in range(3):
        ti = tarfile.TarInfo("records.jsonl.%06d" % (i + 1))
        ti.size = len(rj[i * k:(i + 1) * k])
        t.addfile(ti, io.BytesIO(rj[i * k:(i + 1) * k]))
    for r in rsmf:
        t.add(os.path.join(src, "rsmf", r), "rsmf/" + r)
    t.add(os.path.join(src, "manifest.json"), "manifest.json")
open(os.path.join(dst, "real-production-parts"), "wb").write(b"\x00" + buf.getvalue())
EOF
	echo "seeds: real share file and production written"
}

seeds_plain || { echo "seeds: failed" >&2; exit 1; }
seeds_import || { echo "seeds: importer part failed" >&2; exit 1; }
if [ "${1:-}" = --pg ]; then
	seeds_pg || { echo "seeds: --pg part failed" >&2; exit 1; }
fi
du -sh "$C"
