#!/bin/sh
# tests/integration/audit_readable.sh — issue 15.4: an audit log people can
# read.
#   - GET /v1/audit: actor_name and actor_role beside the fingerprint; the
#     filters since, until, action (exact and prefix*), actor (fingerprint
#     or user name), target, after, limit each return exactly the events a
#     psql query over coffer.audit_events returns; an unknown, repeated or
#     malformed filter is 400 bad_request with its exact message
#   - GET /v1/whoami appends no event (a read of one's own identity)
#   - cofferctl audit list: the same filters, table/jsonl/csv
#   - cofferctl audit export: JSONL that `cofferctl audit verify` checks
#     offline (exit 0), and that fails (exit 1, the exact message naming
#     the event) after each edit: changed detail, a deleted middle line,
#     the tail cut (the signed head catches it), the head removed, lines
#     reordered, a forged event signature, a forged head; CSV export has one
#     row per event
# Runs inside tests/pg-harness.sh.  Prints "N passed, M failed".
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/gateway-fixture.sh
. "$HERE/../lib/gateway-fixture.sh"
# shellcheck source=../lib/api-fixture.sh
. "$HERE/../lib/api-fixture.sh"
# shellcheck source=../lib/check.sh
. "$HERE/../lib/check.sh"

GWF_NO_TRAP=1
gwf_init || exit 1
trap 'apf_cleanup; gwf_cleanup' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
T="$GWF_DIR"
CTL="$GWF_CTL"
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"
q() { $PSQL -c "$1"; }

gwf_simple ar-acme ar-phone ar-node || die "gateway with a tenant, device and node"
apf_user ar-acme ar-audrey auditor && apf_user ar-acme ar-lena legal ||
    die "person certificates"
# ~40 audit searches in a row: the search limiter (burst 20 by default)
# is not what this test is about
apf_config "search_burst = 1000" || die "API configuration"
apf_start || die "API start"
TID=$(q "SELECT tenant_id FROM coffer.tenants WHERE name = 'ar-acme'")
FP_LENA=$(q "SELECT cert_fingerprint FROM coffer.users WHERE name = 'ar-lena'")

# some API events: lena lists matters and holds, audrey reads the log
apf_call ar-lena GET /v1/matters
apf_call ar-lena GET /v1/holds
apf_call ar-lena GET /v1/matters
apf_call ar-audrey GET '/v1/audit?limit=1'
check_eq "events to read" 200 "$APF_CODE"

# -- whoami is no action ------------------------------------------------------------
N0=$(q "SELECT count(*) FROM coffer.audit_events WHERE tenant_id = '$TID'")
apf_call ar-lena GET /v1/whoami
check_eq "whoami answers" 200 "$APF_CODE"
apf_call ar-audrey GET /v1/whoami
N1=$(q "SELECT count(*) FROM coffer.audit_events WHERE tenant_id = '$TID'")
check_eq "whoami appends no audit event" "$N0" "$N1"
check_eq "no whoami event at all" 0 \
    "$(q "SELECT count(*) FROM coffer.audit_events WHERE action = 'whoami'")"

# -- GET /v1/audit filters -------------------------------------------------------------
nos() {   # event numbers of the JSONL body, space-separated
	python3 -c '
import json, sys
print(" ".join(str(json.loads(l)["event_no"]) for l in open(sys.argv[1]) if l.strip()))' "$1"
}
# want WHERE: the psql answer, events before the reading call's own event
want() {
	q "SELECT string_agg(event_no::text, ' ' ORDER BY event_no) FROM
	   coffer.audit_events a WHERE tenant_id = '$TID' AND event_no <
	   (SELECT max(event_no) FROM coffer.audit_events WHERE tenant_id = '$TID')
	   AND $1"
}
filt() {   # filt TITLE QUERY WHERE
	apf_call ar-audrey GET "/v1/audit?$2"
	if [ "$APF_CODE" != 200 ]; then
		bad "$1: HTTP $APF_CODE $(cat "$APF_OUT")"
		return
	fi
	got=$(nos "$APF_OUT")
	exp=$(want "$3")
	if [ -n "$exp" ] && [ "$got" = "$exp" ]; then
		ok "$1 ($(echo "$got" | wc -w) events)"
	else
		bad "$1: got '$got', psql '$exp'"
	fi
}
T0=$(q "SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM coffer.audit_events WHERE tenant_id = '$TID' AND action = 'hold.list'")
filt "no filter: the whole chain" "" "true"
filt "action exact" "action=matter.list" "a.action = 'matter.list'"
filt "action prefix" "action=user.*" "a.action LIKE 'user.%'"
filt "actor by user name" "actor=ar-lena" "a.detail->>'actor_name' = 'ar-lena'"
filt "actor by fingerprint" "actor=$FP_LENA" "a.actor = '$FP_LENA'"
filt "target" "target=audit:$TID" "a.target = 'audit:$TID'"
filt "since (inclusive)" "since=$T0" "a.at >= '$T0'"
filt "until (exclusive)" "until=$T0" "a.at < '$T0'"
filt "after and limit" "after=2&limit=3" "a.event_no > 2 AND a.event_no <= 5"
filt "since with an offset" "since=2000-01-01T01:00:00%2B01:00" "true"
filt "filters together" "actor=ar-lena&action=matter.*&since=$T0" \
    "a.action LIKE 'matter.%' AND a.detail->>'actor_name' = 'ar-lena' AND a.at >= '$T0'"

apf_call ar-audrey GET '/v1/audit?action=matter.list'
check_eq "actor_name and actor_role beside the fingerprint" \
    "ar-lena legal $FP_LENA" "$(python3 -c '
import json, sys
l = json.loads(open(sys.argv[1]).readline())
print(l["actor_name"], l["actor_role"], l["actor"])' "$APF_OUT")"
apf_call ar-audrey GET '/v1/audit?action=user.*&limit=1'
check "operator events: actor_role operator" grep -q '"actor_role": *"operator"' "$APF_OUT"

refused() {   # refused TITLE QUERY MESSAGE
	apf_call ar-audrey GET "/v1/audit?$2"
	check_eq "$1" "400 bad_request $3" "$APF_CODE $(apf_get error.code) $(apf_get error.message)"
}
refused "unknown filter: 400" "foo=1" "unknown filter 'foo'"
refused "unknown filter next to good ones: 400" "action=matter.list&Action=x" "unknown filter 'Action'"
refused "repeated filter: 400" "action=a&action=b" "filter 'action' given more than once"
refused "malformed since: 400" "since=yesterday" \
    "since must be an RFC 3339 date-time with an offset, e.g. 2026-01-31T00:00:00Z"
refused "since without an offset: 400" "since=2026-01-31T00:00:00" \
    "since must be an RFC 3339 date-time with an offset, e.g. 2026-01-31T00:00:00Z"
refused "malformed until: 400" "until=" \
    "until must be an RFC 3339 date-time with an offset, e.g. 2026-01-31T00:00:00Z"
refused "malformed action: 400" "action=Matter.list" \
    "action must be an action name (1-64 of [a-z0-9._-]) or a prefix ending in '*', e.g. device.*"
refused "a lone '*': 400" "action=*" \
    "action must be an action name (1-64 of [a-z0-9._-]) or a prefix ending in '*', e.g. device.*"
refused "actor with a control character: 400" "actor=a%01b" \
    "actor must be a certificate fingerprint or a user name (1-256 printable characters)"
refused "empty target: 400" "target=" "target must be 1-512 printable characters"
refused "malformed after: 400" "after=-1" "after must be an event number"
refused "limit 0: 400" "limit=0" "limit must be 1..10000"
refused "SQL in a filter is only a value" "action=x'%20OR%20'1'='1" \
    "action must be an action name (1-64 of [a-z0-9._-]) or a prefix ending in '*', e.g. device.*"
check_eq "the refusals are audited as invalid" 13 \
    "$(q "SELECT count(*) FROM coffer.audit_events WHERE tenant_id = '$TID' AND action = 'audit.export' AND outcome = 'invalid'")"

# -- cofferctl audit list ----------------------------------------------------------------
LAST=$(q "SELECT max(event_no) FROM coffer.audit_events WHERE tenant_id = '$TID'")
ctl_nos() {   # ctl_nos ARGS: event numbers of `audit list --format jsonl`
	"$CTL" audit list --tenant ar-acme --format jsonl "$@" >"$T/list.out" 2>&1 ||
	    { echo "exit $?: $(cat "$T/list.out")"; return; }
	nos "$T/list.out"
}
lwant() {
	q "SELECT string_agg(event_no::text, ' ' ORDER BY event_no) FROM
	   coffer.audit_events a WHERE tenant_id = '$TID' AND event_no <= $LAST AND $1"
}
check_eq "audit list: action prefix" "$(lwant "a.action LIKE 'matter.%'")" \
    "$(ctl_nos --action 'matter.*' --until 2999-01-01T00:00:00Z)"
check_eq "audit list: actor name and since" \
    "$(lwant "a.detail->>'actor_name' = 'ar-lena' AND a.at >= '$T0'")" \
    "$(ctl_nos --actor ar-lena --since "$T0")"
check_eq "audit list: target" "$(lwant "a.target = 'audit:$TID'")" \
    "$(ctl_nos --target "audit:$TID" --until 2999-01-01T00:00:00Z)"
check_eq "audit list: after and limit" "3 4" "$(ctl_nos --after 2 --limit 2)"
"$CTL" audit list --tenant ar-acme --action matter.list >"$T/table.out" 2>&1
check "audit list: a table by default, names beside fingerprints" \
    sh -c "head -1 '$T/table.out' | grep -q '^TENANT  *EVENT  *AT (UTC)  *ACTOR' &&
           grep -q 'ar-lena (' '$T/table.out'"
check_eq "audit list: one table row per event" \
    "$(q "SELECT count(*) + 1 FROM coffer.audit_events WHERE tenant_id = '$TID' AND action = 'matter.list'")" \
    "$(wc -l <"$T/table.out" | tr -d ' ')"
"$CTL" audit list --tenant ar-acme --bogus 1 >"$T/o" 2>&1
check_eq "audit list: unknown option, exit 2" "2 cofferctl: audit list: unknown option --bogus" \
    "$? $(head -1 "$T/o")"
"$CTL" audit list --since 'last week' >"$T/o" 2>&1
check_eq "audit list: malformed --since, exit 2" \
    "2 cofferctl: audit list: since must be an RFC 3339 date-time with an offset, e.g. 2026-01-31T00:00:00Z" \
    "$? $(head -1 "$T/o")"
"$CTL" audit list --tenant nosuch >"$T/o" 2>&1
check_eq "audit list: unknown tenant, exit 1" "1 cofferctl: audit: no tenant nosuch" \
    "$? $(head -1 "$T/o")"

# -- export and offline verify -----------------------------------------------------------
"$CTL" audit export --tenant ar-acme --out "$T/a.jsonl" >"$T/o" 2>&1 ||
    die "audit export: $(cat "$T/o")"
NEV=$(q "SELECT count(*) FROM coffer.audit_events WHERE tenant_id = '$TID'")
check_eq "the export records itself (audit.export by the operator, last event)" \
    "audit.export operator $NEV" \
    "$(q "SELECT action || ' ' || role || ' ' || event_no FROM coffer.audit_events WHERE tenant_id = '$TID' ORDER BY event_no DESC LIMIT 1")"
check_eq "export: header, every event, the signed head" "$((NEV + 2))" \
    "$(wc -l <"$T/a.jsonl" | tr -d ' ')"
check "export: an existing file is not replaced" \
    sh -c "! '$CTL' audit export --tenant ar-acme --out '$T/a.jsonl' >/dev/null 2>&1"

av() {   # av FILE [ARGS]: offline verify, output in $T/av.out, exit in AV
	"$CTL" audit verify "$@" --nodes "$COFFER_NODE_PINS" >"$T/av.out" 2>&1
	AV=$?
}
av "$T/a.jsonl" --keys-dir "$GWF_KEYS"
check_eq "verify the untouched export offline: exit 0" \
    "0 audit verify: OK: $NEV events, $NEV signed by their writer; head event $NEV signed by node harness-ctl" \
    "$AV $(cat "$T/av.out")"
PGHOST=/nonexistent "$CTL" audit verify "$T/a.jsonl" >"$T/o" 2>&1
check_eq "offline: no database needed (PGHOST unusable)" 0 "$?"

# edit LINE-NUMBER PYTHON-EXPR: a copy with event line n changed (o: the
# object; lines: all lines); the expression returns the new list of lines
edit() {
	python3 - "$T/a.jsonl" "$T/e.jsonl" "$1" <<EOF
import json, sys
lines = open(sys.argv[1]).read().splitlines()
n = int(sys.argv[3])
o = json.loads(lines[n]) if 0 <= n < len(lines) else None
$2
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
EOF
}
tampered() {   # tampered TITLE MESSAGE
	av "$T/e.jsonl"
	check_eq "$1" "1 audit verify: TAMPERED: $2" "$AV $(cat "$T/av.out")"
}
edit 3 'o["detail"] = o["detail"].replace("}", ", \"x\": 1}", 1) if o["detail"] else "{}"
lines[3] = json.dumps(o)'
tampered "changed detail of event 3: exit 1, names the event" \
    "event 3: event_hash does not match the stored event: the event was edited"
edit 3 'o["outcome"] = "denied"
lines[3] = json.dumps(o)'
tampered "changed outcome of event 3" \
    "event 3: event_hash does not match the stored event: the event was edited"
edit 4 'del lines[4]'
tampered "deleted middle line (event 4)" \
    "event 4: the audit event is missing (event 3 is followed by event 5)"
edit 0 'del lines[-2]'
tampered "truncated tail (last event cut, head kept): the signed head catches it" \
    "the signed head names event $NEV but the export ends at event $((NEV - 1)) (events removed from the end)"
edit 0 'del lines[-3:]'
tampered "truncated tail and head" \
    "the signed head is missing after event $((NEV - 2)) (the export was truncated)"
edit 0 'lines[3], lines[4] = lines[4], lines[3]'
tampered "reordered lines (events 3 and 4)" \
    "event 3: the audit event is missing (event 2 is followed by event 4)"
edit 2 's = o["signature"]
o["signature"] = ("0" if s[0] != "0" else "1") + s[1:]
lines[2] = json.dumps(o)'
tampered "a forged signature on event 2" \
    "event 2: the signature of node harness-ctl does not verify (the event, its signer or the tenant's redaction list was altered)"
edit 2 'o["signature"] = None
o["signer"] = None
lines[2] = json.dumps(o)'
tampered "a signature removed from event 2" \
    "event 2: the event is not signed but follows signed event 1: not written by a Coffer writer (inserted by a database role)"
edit 0 'h = json.loads(lines[-1])
s = h["head"]["signature"]
h["head"]["signature"] = ("0" if s[0] != "0" else "1") + s[1:]
lines[-1] = json.dumps(h)'
tampered "a forged signed head" \
    "the signed head (event $NEV) is not signed by node harness-ctl (a forged or damaged head)"
edit 0 'lines.append(lines[-1])'
tampered "data after the signed head" \
    "line $((NEV + 3)): data after the signed head (the export was edited)"
edit 3 'lines[3] = lines[3][:-5]'
tampered "a damaged line" "line 4: not a JSON object (the export was edited)"
edit 0 'h = json.loads(lines[0])
for n in h["nodes"]:
    n["public_key"] = "00" * 32
lines[0] = json.dumps(h)'
tampered "a node key in the export that differs from its pin" \
    "node apf-api: the export's signing key differs from its pin in $COFFER_NODE_PINS"
printf 'hello\n' >"$T/e.jsonl"
av "$T/e.jsonl"
check_eq "not an export: exit 2" \
    "2 cofferctl audit verify: could not run: not a Coffer audit export (line 1 is no JSON object)" \
    "$AV $(cat "$T/av.out")"
av "$T/nosuch.jsonl"
check_eq "no file: exit 2" 2 "$AV"

# -- CSV --------------------------------------------------------------------------------
"$CTL" audit export --tenant ar-acme --out "$T/a.csv" --format csv >"$T/o" 2>&1 ||
    die "audit export csv: $(cat "$T/o")"
NEV=$(q "SELECT count(*) FROM coffer.audit_events WHERE tenant_id = '$TID'")
check_eq "CSV export: one row per event (RFC 4180 reader)" "$NEV" "$(python3 -c '
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
assert rows[0][:3] == ["tenant", "event_no", "at"], rows[0]
assert all(len(r) == len(rows[0]) for r in rows)
print(len(rows) - 1)' "$T/a.csv")"
"$CTL" audit list --tenant ar-acme --format csv >"$T/l.csv" 2>&1
check "CSV list: cells never start a formula" python3 -c '
import csv, sys
for r in csv.reader(open(sys.argv[1], newline="")):
    for c in r:
        assert not c[:1] in ("=", "+", "-", "@", "\t", "\r"), c' "$T/l.csv"

finish
