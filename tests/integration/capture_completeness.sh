#!/bin/sh
# tests/integration/capture_completeness.sh — issue 18 item 2: the gateway
# notes each device's capture sequence numbers (capture_seq) in the
# records' transaction and its heartbeats; `cofferctl capture report`
# shows per device missing numbers, duplicates, silence and clock skew.
# Real gateway, real PostgreSQL, real TLS (curl with device certificates).
#
#   - a device that skips numbers (1-5, 8-10): missing 6-7
#   - one whose heartbeat says it numbered up to 14: missing 11-14 too
#   - one that delivers a gap late: missing 4-5, then complete
#   - one that reuses a number under another record id: 1 duplicate
#   - one that goes silent (and one never seen): silent
#   - a heartbeat with the device clock an hour ahead: skew ~3 600 000 ms
#   - a record sent again (same id): duplicate receipt, no new number
#   - every rejection of capture_seq and of heartbeat lines, exact reason
#   - the report's --json and --check, GET /v1/capture (admin, auditor;
#     legal refused; audited); the gateway's heartbeat and capture metrics
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"
# shellcheck disable=SC2034  # read by fault-fixture.sh
FF_NAME=capture_completeness
# shellcheck source=../lib/fault-fixture.sh
. "$HERE/../lib/fault-fixture.sh"

# shellcheck source=../lib/api-fixture.sh
. "$HERE/../lib/api-fixture.sh"
gwf_init || exit 1
trap 'apf_cleanup; ff_cleanup' EXIT
T="$GWF_DIR"
CTL="$BUILD/cofferctl"

gwf_server_cert && gwf_tenant cap || die "tenant"
for d in skip tail late dup quiet never clock; do
	gwf_device cap "dev-$d" || die "device $d"
done
gwf_node cap-node || die "node"
gwf_config "batch_max_ms = 5" "device_refresh_s = 1" "capture_metrics_s = 1" ||
    die "gateway configuration"
gwf_start || die "gateway did not start"

# rec ID SEQ: one record line with capture_seq SEQ ("-" for none)
rec() {
	cs=""
	[ "$2" = - ] || cs=",\"capture_seq\":$2"
	printf '{"id":"%s","channel":"sms","conversation":"c1","direction":"out","sender":"+15551230001","recipients":["+15551230002"],"sent_at":"2026-11-22T10:00:00Z","body":"b"%s}\n' "$1" "$cs"
}
# send DEVICE FILE: HTTP code; response in $T/resp
send() {
	gwf_curl "dev-$1" -s -o "$T/resp" -w '%{http_code}' \
	    -H 'Content-Type: application/x-ndjson' --data-binary "@$2" \
	    "$(gwf_url v1/records)"
}
# seqs DEVICE FIRST LAST [PREFIX]: records FIRST..LAST numbered alike
seqs() {
	: >"$T/body"
	i=$2
	while [ "$i" -le "$3" ]; do
		rec "${4:-r}-$i" "$i" >>"$T/body"
		i=$((i + 1))
	done
	send "$1" "$T/body"
}
statuses() {
	python3 -c 'import json,sys
print(" ".join(json.loads(x)["status"] for x in open(sys.argv[1]) if x.strip()))' "$T/resp"
}
reasons() {
	python3 -c 'import json,sys
print("|".join(json.loads(x).get("error", "-") for x in open(sys.argv[1]) if x.strip()))' "$T/resp"
}
# report COL DEVICE: one column of the report's JSON for a device
report() {
	"$CTL" capture report --tenant cap --silence "${SILENCE:-1h}" --json \
	    >"$T/report.json" 2>"$T/report.err" || { echo "report failed: $(cat "$T/report.err")"; return; }
	python3 -c 'import json,sys
r = json.load(open(sys.argv[1]))
d = [x for x in r["devices"] if x["device"] == sys.argv[3]]
print(d[0][sys.argv[2]] if d else "absent")' "$T/report.json" "$1" "dev-$2"
}
hb() {   # hb DEVICE SEQ_HIGH OUTBOX CLOCK
	printf '{"heartbeat":{"seq_high":%s,"outbox":%s,"clock":"%s"}}\n' "$2" "$3" "$4" >"$T/hb"
	send "$1" "$T/hb"
}

# -- gaps ------------------------------------------------------------------
check_eq "numbers 1-5 and 8-10 stored" "200 200" \
    "$(seqs skip 1 5) $(seqs skip 8 10)"
check_eq "the report shows 6-7 missing" "2 6-7 10" \
    "$(report missing skip) $(report gaps skip) $(report last_seq skip)"

check_eq "a device stores 1-10 and its heartbeat says 14" "200 200" \
    "$(seqs tail 1 10) $(hb tail 14 4 "$(date -u +%Y-%m-%dT%H:%M:%SZ)")"
check_eq "the heartbeat line is answered heartbeat" "heartbeat" "$(statuses)"
check_eq "11-14 are missing: numbered on the device, never stored" \
    "4 11-14 14 4" \
    "$(report missing tail) $(report gaps tail) $(report seq_high tail) $(report outbox tail)"

check_eq "1-3 and 6-7 stored" "200 200" "$(seqs late 1 3) $(seqs late 6 7)"
check_eq "4-5 missing" "2 4-5" "$(report missing late) $(report gaps late)"
check_eq "4-5 delivered late" "200" "$(seqs late 4 5)"
check_eq "nothing missing any more" "0 - 7" \
    "$(report missing late) $(report gaps late | sed 's/^$/-/') $(report received late)"

# -- duplicates ------------------------------------------------------------
check_eq "1-3 stored" "200" "$(seqs dup 1 3)"
rec other-2 2 >"$T/body"
check_eq "number 2 again under another record id is stored" "200 stored" \
    "$(send dup "$T/body") $(statuses)"
check_eq "the report counts one duplicate, nothing missing" "1 0" \
    "$(report duplicates dup) $(report missing dup)"
rec r-3 3 >"$T/body"
check_eq "the same record again is a dedup duplicate" "200 duplicate" \
    "$(send dup "$T/body") $(statuses)"
check_eq "and notes no number: still one duplicate" "1" "$(report duplicates dup)"
rec no-seq - >"$T/body"
check_eq "a record without capture_seq is stored and not numbered" \
    "200 stored 3" "$(send dup "$T/body") $(statuses) $(report last_seq dup)"

# -- clock skew ------------------------------------------------------------
AHEAD=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
check_eq "a heartbeat with the device clock an hour ahead" "200 heartbeat" \
    "$(hb clock 0 0 "$AHEAD") $(statuses)"
SKEW=$(report clock_skew_ms clock)
if [ "$SKEW" -gt 3590000 ] && [ "$SKEW" -lt 3610000 ]; then
	ok "the skew is reported: $SKEW ms"
else
	bad "clock skew $SKEW ms, wanted about 3600000"
fi

# -- silence ---------------------------------------------------------------
check_eq "dev-quiet stores 1-2" "200" "$(seqs quiet 1 2)"
check_eq "a device never seen is silent" "True None" \
    "$(report silent never) $(report last_seen never)"
check_eq "dev-quiet is not silent within the hour" "False" "$(report silent quiet)"
sleep 3
check_eq "nor are the others: dev-quiet silent after 2 s of silence" "True" \
    "$(SILENCE=2s report silent quiet)"
check_eq "a heartbeat ends the silence" "200 False" \
    "$(hb quiet 2 0 "$(date -u +%Y-%m-%dT%H:%M:%SZ)") $(SILENCE=2s report silent quiet)"

# -- the table, --check ----------------------------------------------------
"$CTL" capture report --tenant cap >"$T/table" 2>&1
check_eq "the table lists every device" "7 device(s), 4 incomplete, duplicated or silent (silence after 3600s)" \
    "$(tail -1 "$T/table")"
check_eq "dev-skip's row" "dev-skip 10 0 2 0 no 6-7" \
    "$(awk '$1 == "dev-skip" { print $1, $3, $4, $5, $6, $7, $9 }' "$T/table")"
"$CTL" capture report --tenant cap --check >/dev/null 2>&1
check_eq "--check fails while devices are incomplete" 1 $?
"$CTL" capture report --tenant nosuch >/dev/null 2>"$T/err"
check_eq "an unknown tenant" "1 cofferctl: capture: no tenant named nosuch" "$? $(cat "$T/err")"
"$CTL" capture report --tenant cap --silence 0 >/dev/null 2>"$T/err"
check_eq "a bad --silence" "2 cofferctl: capture: --silence must be 1 second to 366 days (e.g. 3600, 90s, 15m, 2h, 7d)" \
    "$? $(head -1 "$T/err")"
"$CTL" capture report >/dev/null 2>"$T/err"
check_eq "no --tenant" "2 cofferctl: capture: --tenant is required" "$? $(head -1 "$T/err")"

# -- the API: GET /v1/capture for admins and auditors ------------------------
{ apf_user cap ops admin && apf_user cap audi auditor && apf_user cap lee legal &&
    apf_config && apf_start; } || die "coffer-api did not start"
apf_call audi GET /v1/capture
check_eq "an auditor reads the report" "200 7 4" \
    "$APF_CODE $(apf_get devices | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))') $(apf_get incomplete)"
python3 -c 'import json,sys
d = {x["device"]: x for x in json.load(open(sys.argv[1]))["devices"]}
s = d["dev-skip"]
print(s["missing"], s["gaps"], s["last_seq"], d["dev-dup"]["duplicates"], d["dev-never"]["silent"])' "$APF_OUT" >"$T/api.txt"
check_eq "with the same figures as cofferctl" "2 6-7 10 1 True" "$(cat "$T/api.txt")"
apf_call ops GET "/v1/capture?silence=2"
check_eq "an admin, with a 2 s silence" "200 2" "$APF_CODE $(apf_get silence_s)"
apf_call lee GET /v1/capture
check_eq "legal may not" "403 forbidden" "$APF_CODE $(apf_get error.code)"
apf_call audi GET "/v1/capture?silence=0"
check_eq "a bad silence" "400 silence must be 1..31622400 seconds" \
    "$APF_CODE $(apf_get error.message)"
check_eq "each read is audited" "2" \
    "$($PSQL -c "SELECT count(*) FROM coffer.audit_events WHERE action = 'capture.report' AND outcome = 'ok'")"

# -- rejections ------------------------------------------------------------
{
	rec bad-1 0
	rec bad-2 -1
	rec bad-3 '"7"'
	rec bad-4 1.5
	rec bad-5 9007199254740992
	printf '{"heartbeat":{"seq_high":1,"outbox":0}}\n'
	printf '{"heartbeat":{"seq_high":-1,"outbox":0,"clock":"2026-11-22T10:00:00Z"}}\n'
	printf '{"heartbeat":{"seq_high":1,"outbox":0,"clock":"yesterday"}}\n'
	printf '{"heartbeat":{"seq_high":1,"outbox":0,"clock":"2026-11-22T10:00:00Z","x":1}}\n'
	printf '{"heartbeat":{"seq_high":1,"outbox":0,"clock":"2026-11-22T10:00:00Z"},"id":"x"}\n'
	printf '{"heartbeat":7}\n'
} >"$T/body"
check_eq "every bad capture_seq and heartbeat is rejected" "200" "$(send skip "$T/body")"
check_eq "with its exact reason" \
    "capture_seq: must be an integer 1..9007199254740991|capture_seq: must be an integer 1..9007199254740991|capture_seq: must be an integer 1..9007199254740991|capture_seq: must be an integer 1..9007199254740991|capture_seq: must be an integer 1..9007199254740991|heartbeat.clock: missing|heartbeat.seq_high: must be an integer 0..9007199254740991|heartbeat.clock: not an RFC 3339 timestamp|heartbeat: unknown field|a heartbeat line holds only the heartbeat|heartbeat: must be an object" \
    "$(reasons)"
check_eq "and nothing of them was noted" "2 10" \
    "$(report missing skip) $(report last_seq skip)"

# -- the database: append-only runs, no content -----------------------------
$PSQL -c "DELETE FROM coffer.capture_runs" >/dev/null 2>"$T/err"
check_eq "capture runs are append-only" 1 $?
check_eq "one row per device and writer batch, the numbers as ranges" \
    "{[1,6),[8,11)} 8" \
    "$($PSQL -c "SELECT range_agg(seqs), sum(records) FROM coffer.capture_runs WHERE device_id = 'dev-skip'" | tr '|' ' ')"
if [ "$($PSQL -c "SELECT count(*) FROM coffer.capture_runs WHERE device_id = 'dev-skip'")" -le 4 ]; then
	ok "at most one row per device, request and writer lane"
else
	bad "dev-skip has more rows than requests x lanes"
fi
# shellcheck disable=SC2153  # set by gwf_config
curl -sS "http://127.0.0.1:$GWF_METRICS_PORT/metrics" >"$T/metrics" 2>&1
if grep -q '^coffer_gateway_heartbeats_total [1-9]' "$T/metrics"; then
	ok "the gateway counts heartbeats: $(grep '^coffer_gateway_heartbeats_total' "$T/metrics")"
else
	bad "no coffer_gateway_heartbeats_total in the metrics: $(grep -c . "$T/metrics") lines"
fi
# dev-skip misses 2, dev-tail 4; dev-dup has 1 duplicate; dev-never is
# silent (capture_silence_s 3600): the report's totals, every second here
sleep 3
curl -sS "http://127.0.0.1:$GWF_METRICS_PORT/metrics" >"$T/metrics" 2>&1
check_eq "the capture metrics: missing, incomplete, silent, duplicates" \
    "6 3 1 1" \
    "$(for m in missing devices_incomplete devices_silent duplicates; do
        sed -n "s/^coffer_gateway_capture_$m //p" "$T/metrics"; done | tr '\n' ' ' | sed 's/ $//')"

finish
