#!/bin/sh
# tests/integration/import_gateway.sh — issue 18 item 4 end to end: each
# importer's output on the test samples goes through a real gateway (mutual
# TLS, PostgreSQL): every line is stored, and the same export imported and
# sent again is answered `duplicate` line for line with the original
# receipts (deterministic record ids).  Also --spool: the file lands
# atomically (NAME.ndjson, no .tmp left) and holds the same lines.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"
# shellcheck disable=SC2034  # read by fault-fixture.sh
FF_NAME=import_gateway
# shellcheck source=../lib/fault-fixture.sh
. "$HERE/../lib/fault-fixture.sh"

IMP="$BUILD/coffer-import"
[ -x "$IMP" ] || die "$IMP not built"
D="$HERE/../data/import"
gwf_init || exit 1
T="$GWF_DIR"
gwf_server_cert && gwf_tenant imp && gwf_device imp phone-i && gwf_node imp-node ||
    die "set-up"
gwf_config "max_records_per_request = 10000" "device_rate = 10000" \
    "device_burst = 10000" || die "gateway configuration"
gwf_start || die "gateway did not start"

# send FILE: HTTP code; answers in $T/resp
send() {
	gwf_curl phone-i -s -o "$T/resp" -w '%{http_code}' \
	    -H 'Content-Type: application/x-ndjson' --data-binary "@$1" \
	    "$(gwf_url v1/records)"
}
# summary: "N stored M duplicate K rejected"
summary() {
	python3 -c 'import json,sys
s = [json.loads(x)["status"] for x in open(sys.argv[1]) if x.strip()]
print("%d stored %d duplicate %d rejected" % (s.count("stored"), s.count("duplicate"), s.count("rejected")))' "$T/resp"
}
receipts() { python3 -c 'import json,sys
print("\n".join(json.loads(x).get("receipt", "-") for x in open(sys.argv[1]) if x.strip()))' "$T/resp"; }

# one FORMAT NAME ARGS...: import, send, import again, send again
one() {
	fmt=$1
	name=$2
	shift 2
	"$IMP" --format "$fmt" --owner +15550100009 "$@" >"$T/$name.1" 2>"$T/$name.err" ||
	    { bad "$name: coffer-import failed: $(tail -1 "$T/$name.err")"; return; }
	n=$(grep -c . "$T/$name.1")
	[ "$n" -gt 0 ] || { bad "$name: no records"; return; }
	check_eq "$name: $n records stored" "200 $n stored 0 duplicate 0 rejected" \
	    "$(send "$T/$name.1") $(summary)"
	receipts >"$T/$name.r1"
	"$IMP" --format "$fmt" --owner +15550100009 "$@" >"$T/$name.2" 2>/dev/null
	check_eq "$name: the same export again is the same lines" "same" \
	    "$(cmp -s "$T/$name.1" "$T/$name.2" && echo same)"
	check_eq "$name: sent again, every line a duplicate" "200 0 stored $n duplicate 0 rejected" \
	    "$(send "$T/$name.2") $(summary)"
	receipts >"$T/$name.r2"
	check_eq "$name: with the original receipts" "same" \
	    "$(cmp -s "$T/$name.r1" "$T/$name.r2" && echo same)"
}

one whatsapp whatsapp-android --tz America/New_York --default-country 44 --contacts "$D/contacts.csv" \
    "$D/whatsapp/android/WhatsApp Chat with Alice Smith.txt"
one whatsapp whatsapp-ios-zip --tz Europe/London --default-country 44 --contacts "$D/contacts.csv" \
    "$D/whatsapp/WhatsApp Chat - Trip Planning.zip"
one smsxml smsxml "$D/smsxml/backup.xml"
one telegram telegram --default-country 44 --contacts "$D/contacts.csv" "$D/telegram/personal/result.json"
one rsmf rsmf --contacts "$D/rsmf/sample-contacts.csv" "$D/rsmf/slack.rsmf"

TOTAL=$(cat "$T"/*.1 | grep -c .)
check_eq "the archive holds each record once" "$TOTAL" \
    "$($PSQL -c "SELECT count(*) FROM coffer.records r JOIN coffer.tenants t USING (tenant_id) WHERE t.name = 'imp'")"

# --spool: atomic, the same lines
mkdir -p "$T/spool"
"$IMP" --format smsxml --owner +15550100009 --spool "$T/spool" "$D/smsxml/backup.xml" \
    >/dev/null 2>&1 || bad "coffer-import --spool failed"
check_eq "--spool leaves one .ndjson and no .tmp" "1 0" \
    "$(find "$T/spool" -name '*.ndjson' | wc -l) $(find "$T/spool" -name '*.tmp' | wc -l)"
check_eq "holding the lines stdout had" "same" \
    "$(cmp -s "$(find "$T/spool" -name '*.ndjson' | head -1)" "$T/smsxml.1" && echo same)"
if PGUSER=auditor "$BUILD/cofferctl" verify >"$T/verify.out" 2>&1; then
	ok "verify: $(head -1 "$T/verify.out")"
else
	bad "verify: $(tail -2 "$T/verify.out")"
fi

finish
