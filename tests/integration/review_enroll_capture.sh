#!/bin/sh
# tests/integration/review_enroll_capture.sh — attacks on device
# self-enrollment and capture completeness (security review of issue 18).
#
#   - enroll-serve: an unauthenticated client (no certificate, no code)
#     with many connections must not hold one PostgreSQL connection each
#     (the cluster's max_connections is shared with the gateway and the
#     API): at most a few database sessions at once, none held during the
#     refusal's pause
#   - enroll-serve: the same code sent twice at once: exactly one
#     certificate
#   - a device's request of many heartbeat lines is one upsert, not one
#     database round trip per line under the gateway's heartbeat lock
#   - the gateway role may not roll a device's heartbeat high-water mark
#     back (hiding numbers the device said it captured), nor move a row to
#     another device, nor backdate a heartbeat, nor date a capture run
#   - a device that sends only odd capture numbers makes the capture report
#     cost one range per record (1M: seconds); the gateway's periodic report
#     must not hold up its device directory (a new device's first request)
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"
# shellcheck disable=SC2034  # read by fault-fixture.sh
FF_NAME=review_enroll_capture
# shellcheck source=../lib/fault-fixture.sh
. "$HERE/../lib/fault-fixture.sh"

gwf_init || exit 1
T="$GWF_DIR"
CTL="$BUILD/cofferctl"
EN_PID=""
trap '[ -z "$EN_PID" ] || kill "$EN_PID" 2>/dev/null; ff_cleanup' EXIT

gwf_server_cert && gwf_tenant acme || die "tenant"
gwf_device acme hb-dev && gwf_node rv-node || die "device and node"
gwf_config "device_refresh_s = 1" "capture_metrics_s = 1" || die "gateway configuration"
gwf_start || die "gateway did not start"

EN_PORT=$(gwf_free_port) || die "no free port"
"$CTL" device enroll-serve --tenant ALL --listen "127.0.0.1:$EN_PORT" \
    --cert "$GWF_SRV_CRT" --key "$GWF_SRV_KEY" >"$T/en.out" 2>"$T/en.log" &
EN_PID=$!
i=0
until curl -s -o /dev/null --cacert "$GWF_SRV_CA" \
    "https://127.0.0.1:$EN_PORT/.well-known/est/acme/cacerts"; do
	i=$((i + 1))
	[ $i -lt 50 ] || die "enroll-serve did not start: $(cat "$T/en.log")"
	sleep 0.1
done
URL="https://127.0.0.1:$EN_PORT/.well-known/est"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/d.key" -subj /CN=x -outform DER -out "$T/d.der" 2>/dev/null &&
    base64 "$T/d.der" >"$T/d.b64" || die "openssl req"

# -- enroll-serve: database sessions of unauthenticated requests ----------------
# 6 source addresses x 8 connections (the per-address limit), each with a
# wrong code: every one is refused after a second's pause.
enroll_sessions() {
	$PSQL -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'cofferctl'"
}
: >"$T/codes"
PIDS=""
for a in 1 2 3 4 5 6; do
	for k in 1 2 3 4 5 6 7 8; do
		curl -s -o /dev/null -w '%{http_code}\n' --interface "127.0.0.$a" \
		    --cacert "$GWF_SRV_CA" --user "dev-$a-$k:AAAA-BBBB-CCCC" \
		    -H 'Content-Type: application/pkcs10' --data-binary "@$T/d.b64" \
		    "$URL/acme/simpleenroll" >>"$T/codes" &
		PIDS="$PIDS $!"
	done
done
peak=0
i=0
while [ $i -lt 30 ]; do
	n=$(enroll_sessions)
	[ "$n" -gt "$peak" ] && peak=$n
	sleep 0.1
	i=$((i + 1))
done
# shellcheck disable=SC2086  # the list of pids
wait $PIDS
check_eq "48 unauthenticated requests all refused" "48" "$(grep -c '^401$' "$T/codes")"
if [ "$peak" -le 4 ]; then
	ok "at most 4 database sessions for them at once (peak $peak)"
else
	bad "unauthenticated requests held $peak PostgreSQL connections at once (max_connections $($PSQL -c 'SHOW max_connections'))"
fi

# -- enroll-serve: one code, two requests at once --------------------------------
"$CTL" device enroll-code --tenant acme --device race-1 >"$T/code.out" 2>&1 ||
    die "enroll-code: $(cat "$T/code.out")"
C=$(sed -n 2p "$T/code.out")
PIDS=""
for k in 1 2 3 4; do
	curl -s -o /dev/null -w '%{http_code}\n' --cacert "$GWF_SRV_CA" \
	    --user "race-1:$C" -H 'Content-Type: application/pkcs10' \
	    --data-binary "@$T/d.b64" "$URL/acme/simpleenroll" >"$T/race.$k" &
	PIDS="$PIDS $!"
done
# shellcheck disable=SC2086
wait $PIDS
check_eq "the same code four times at once: one certificate" "1 3 1" \
    "$(cat "$T"/race.* | grep -c '^200$') $(cat "$T"/race.* | grep -c '^401$') $($PSQL -c "SELECT count(*) FROM coffer.audit_events WHERE action = 'device.enroll' AND detail->>'device' = 'race-1'")"

# -- the gateway: heartbeat lines -------------------------------------------------
hbs() {
	gwf_curl hb-dev -s -o "$T/resp" -w '%{http_code}' \
	    -H 'Content-Type: application/x-ndjson' --data-binary "@$T/hbs" \
	    "$(gwf_url v1/records)"
}
metric() {
	curl -sS "http://127.0.0.1:$GWF_METRICS_PORT/metrics" |
	    sed -n "s/^$1 //p"
}
NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)
python3 -c 'import sys
for i in range(1, 2001):
    print("{\"heartbeat\":{\"seq_high\":%d,\"outbox\":%d,\"clock\":\"%s\"}}" % (i if i != 1000 else 5000, 2001 - i, sys.argv[1]))' "$NOW" >"$T/hbs"
H0=$(metric coffer_gateway_heartbeats_total)
check_eq "2000 heartbeat lines in one request are answered" "200 2000" \
    "$(hbs) $(grep -c '"status":"heartbeat"' "$T/resp")"
H1=$(metric coffer_gateway_heartbeats_total)
if [ $((H1 - H0)) -le 1 ]; then
	ok "stored as one heartbeat ($((H1 - H0)))"
else
	bad "one request made $((H1 - H0)) heartbeat upserts (one database round trip each, under the gateway's heartbeat lock)"
fi
check_eq "the stored heartbeat: the highest mark, the last line's outbox" "5000 1" \
    "$($PSQL -c "SELECT seq_high, outbox FROM coffer.capture_devices WHERE device_id = 'hb-dev'" | tr '|' ' ')"

# -- the gateway role and capture_devices ----------------------------------------
as_gw() { PGUSER=gw $PSQL -c "$1" >/dev/null 2>"$T/gw.err"; echo $?; }
check_eq "the gateway role may not roll the high-water mark back" 1 \
    "$(as_gw "UPDATE coffer.capture_devices SET seq_high = 0 WHERE device_id = 'hb-dev'")"
check_eq "nor move the row to another device" 1 \
    "$(as_gw "UPDATE coffer.capture_devices SET device_id = 'other' WHERE device_id = 'hb-dev'")"
check_eq "nor backdate the heartbeat" 1 \
    "$(as_gw "UPDATE coffer.capture_devices SET heartbeat_at = heartbeat_at - interval '1 day' WHERE device_id = 'hb-dev'")"
check_eq "it still upserts a newer heartbeat" 0 \
    "$(as_gw "UPDATE coffer.capture_devices SET heartbeat_at = now() + interval '1 second', seq_high = 6000, outbox = 0 WHERE device_id = 'hb-dev'")"
check_eq "the mark is kept" "6000" \
    "$($PSQL -c "SELECT seq_high FROM coffer.capture_devices WHERE device_id = 'hb-dev'")"

check_eq "nor date a capture run: the database's clock" "1 t" \
    "$(PGUSER=gw $PSQL -c "INSERT INTO coffer.capture_runs (tenant_id, device_id, seqs, records, received_at) SELECT tenant_id, 'hb-dev', '{[1,2)}', 1, now() + interval '1 year' FROM coffer.tenants WHERE name = 'acme' RETURNING 1, received_at < now() + interval '1 minute'" | tr '|' ' ')"

# -- sparse numbers and the gateway's directory ----------------------------------
# What the gateway writes for a device that sends 1, 3, 5, ... (one row per
# drain of 2000 records, 2000 ranges each), 1M records.
TID=$($PSQL -c "SELECT tenant_id FROM coffer.tenants WHERE name = 'acme'")
$PSQL -c "INSERT INTO coffer.capture_runs (tenant_id, device_id, seqs, records) SELECT '$TID', 'sparse', (SELECT range_agg(int8range(2 * g + 1, 2 * g + 2)) FROM generate_series(r * 2000, r * 2000 + 1999) g), 2000 FROM generate_series(0, 499) r" ||
    bad "sparse rows"
s0=$(date +%s.%N)
check_eq "the report: 1M missing in 1M gaps" "999999 999999" \
    "$($PSQL -c "SELECT missing, gap_count FROM coffer.capture_report('$TID', '1 hour') WHERE device_id = 'sparse'" | tr '|' ' ')"
ok "it took $(echo "$(date +%s.%N) - $s0" | bc) s"
sleep 2     # the gateway's report (capture_metrics_s = 1) is running now
gwf_device acme late-dev || die "device late-dev"
printf '{"id":"l1","channel":"sms","conversation":"c","direction":"out","sender":"+15551230001","recipients":["+15551230002"],"sent_at":"2026-11-22T10:00:00Z","body":"x"}\n' >"$T/rec"
s0=$(date +%s.%N)
code=$(gwf_curl late-dev -s -o "$T/resp" -w '%{http_code}' --max-time 30 \
    --data-binary "@$T/rec" "$(gwf_url v1/records)")
el=$(echo "$(date +%s.%N) - $s0" | bc)
if [ "$code" = 200 ] && [ "$(echo "$el < 3" | bc)" = 1 ]; then
	ok "a new device's first request is not held up by the report ($el s)"
else
	bad "a new device's first request: HTTP $code after $el s (the directory thread was running the capture report)"
fi

if grep -q "AAAA-BBBB-CCCC\|$C" "$T/en.log"; then
	bad "a code appears in the server's log"
else
	ok "no code in the server's log"
fi

finish
