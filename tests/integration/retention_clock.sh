#!/bin/sh
# tests/integration/retention_clock.sh — issue 13.2: retention runs on the
# archive's clock.  The attacker of the issue: a compromised or mis-set
# device backdates its records (sent_at 30 years ago) so that the next
# purge destroys them and so that they fall outside a matter's time range.
# Before migration 0010 `retention set --days 1` + `purge` disposed of
# every such record the moment it was stored, and a matter on the hour in
# which they arrived found none of them.  Now a record's retention runs
# from the later of received_at (the gateway's clock) and sent_at: the
# backdated records received now survive the purge, the same records
# received two days ago (a gateway run under libfaketime) are disposed of,
# the gateway's metric counts every backdated record, and a matter's time
# range matches a record on either clock.  Real gateway, API, PostgreSQL
# and cofferctl.  Runs inside tests/pg-harness.sh.
set -u
ROOT=$(pwd)
. "$ROOT/tests/lib/gateway-fixture.sh"
. "$ROOT/tests/lib/api-fixture.sh"
GWF_NO_TRAP=1
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"
CK_NAME=retention_clock
. "$ROOT/tests/lib/check.sh"
logs_tail() {
	[ -n "${GWF_LOG:-}" ] && [ -f "$GWF_LOG" ] && tail -15 "$GWF_LOG" | sed 's/^/  gw: /'
	[ -n "${APF_LOG:-}" ] && [ -f "$APF_LOG" ] && tail -15 "$APF_LOG" | sed 's/^/  api: /'
}
CK_DIE_HOOK=logs_tail
q() { $PSQL -c "$1"; }
cleanup() {
	apf_cleanup
	gwf_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

gwf_init || die "gateway fixture"
D=$GWF_DIR
CTL=$GWF_CTL
# The PKI, tenant and node made three days ago (good on both clocks); a
# gateway whose wall clock is two days behind, then the same gateway on
# the real clock.  (Two runs with a fixed offset each, not one run whose
# offset is changed in a FAKETIME_TIMESTAMP_FILE: whether libfaketime
# re-reads that file in every process of the privilege-separated gateway
# is not something this test should hang on; a CI run once saw the
# gateway stay two days behind.)
REAL_GW=$GWF_GW
gwf_clock_wrap "$CTL" "$D/ctl-past" -3d &&
    gwf_clock_wrap "$GWF_GW" "$D/gw-past" -2d || die "clock wrappers"
GWF_CTL="$D/ctl-past"
gwf_server_cert && gwf_tenant rc && gwf_device rc phone-1 && gwf_node rc-node ||
    die "set-up three days ago"
GWF_CTL=$CTL
GWF_GW="$D/gw-past"
gwf_config "epoch_records = 5" && gwf_start || die "gateway start (two days behind)"

# send TAG N SENDER YEARS: N records sent YEARS years ago (0: now)
send() {
	python3 - "$1" "$2" "$3" "$4" >"$D/in.ndjson" <<'PY'
import json, sys, time
tag, n, who, years = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
t0 = time.time() - 3600 - years * 365.25 * 86400
for k in range(n):
    print(json.dumps({"id": "%s-%d" % (tag, k), "channel": "signal",
        "conversation": "conv-%s" % tag, "direction": "out", "sender": who,
        "recipients": ["+15550180009"],
        "sent_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + 60 * k)),
        "body": "%s %d" % (tag, k)}))
PY
	code=$(gwf_curl phone-1 -o "$D/in.out" -w '%{http_code}' \
	    -H 'Content-Type: application/x-ndjson' --data-binary "@$D/in.ndjson" \
	    "$(gwf_url v1/records)" 2>/dev/null) || code=000
	check_eq "$1: $2 records stored" "200 $2" "$code $(grep -c '"stored"' "$D/in.out")"
}
# A: backdated 30 years, received two days ago (the gateway's clock -2d).
send old-receipt 10 +15550180001 30
# (its exit status is not checked: at exit libfaketime's destructor unlinks
# its /dev/shm pair, a syscall the network process's seccomp filter does
# not allow, so that process ends by SIGSYS after "exit" is logged)
gwf_stop || die "gateway (two days behind) stop"
GWF_GW=$REAL_GW
gwf_start || die "gateway start (real clock)"
# B: backdated 30 years, received now.
send backdated 10 +15550180002 30
# C: sent now.
send current 5 +15550180003 0

check_eq "received_at is the gateway's clock: 10 received two days ago, 15 now" \
    "10|15" "$(q "SELECT count(*) FILTER (WHERE received_at < now() - interval '1 day'),
                         count(*) FILTER (WHERE received_at > now() - interval '1 hour')
                  FROM coffer.records")"
check_eq "every record sent 30 years ago is stored with that sent_at" 20 \
    "$(q "SELECT count(*) FROM coffer.records WHERE sent_at < now() - interval '29 years'")"
check_eq "the gateway (restarted) counts the 10 backdated records it stored (metric)" 10 \
    "$(curl -s "http://127.0.0.1:$GWF_METRICS_PORT/metrics" |
       sed -n 's/^coffer_gateway_records_backdated_total //p')"

# -- the attacker: retention 1 day, then purge ------------------------------------
# (1 day is below the default regulatory floor: lowered by the owner, the
# test-only path of section *Two persons*)
q "UPDATE coffer.tenants SET retention_floor_days = 1" >/dev/null || bad "floor"
"$CTL" retention set --tenant rc --days 1 >"$D/out" 2>&1 ||
    bad "retention set: $(cat "$D/out")"
"$CTL" purge --dry-run >"$D/out" 2>&1
check_eq "dry run exits 0" 0 $?
check_eq "the dry run would dispose of the 10 records received two days ago only" \
    "1 1" "$(grep -c 'would purge 10 records' "$D/out") $(grep -c 'would dispose of 10 records: channel signal, held under 30 days' "$D/out")"
"$CTL" purge --yes --reason "retention clock test" >"$D/out" 2>&1 ||
    bad "purge: $(cat "$D/out")"
grep -q "purged 10 records" "$D/out" && ok "purge: $(head -1 "$D/out")" ||
    bad "purge output: $(cat "$D/out")"
check_eq "records received now survive though sent 30 years ago (retention from receipt)" \
    "0|10|5" "$(q "SELECT count(*) FILTER (WHERE received_at < now() - interval '1 day'),
                          count(*) FILTER (WHERE sent_at < now() - interval '29 years'),
                          count(*) FILTER (WHERE sent_at > now() - interval '1 day')
                   FROM coffer.records")"
check_eq "10 tombstones, each for a record received two days ago" 10 \
    "$(q "SELECT count(*) FROM coffer.tombstones WHERE reason = 'retention expired'")"
PGUSER=auditor "$CTL" verify >"$D/out" 2>&1
check_eq "the archive verifies after the purge" 0 $?

# -- matter time ranges match either clock ------------------------------------------
apf_user rc lisa legal && apf_keygen rc lisa || die "people"
apf_config && apf_start || die "coffer-api start"
FROM=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)
TO=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
printf '%s\n' '{"title":"Backdated","legal_basis":"Subpoena RC-1",' \
    '"scope":{"participants":["+15550180002"],' \
    "\"from\":\"$FROM\",\"to\":\"$TO\"}}" >"$D/matter.json"
M=$(apf_matter lisa "$D/matter.json") || die "matter"
apf_call lisa GET "/v1/matters/$M"
check_eq "a matter on the hour of receipt finds the 10 backdated records" \
    "200 10" "$APF_CODE $(apf_get record_count)"
FROM30=$(date -u -d '-30 years -1 day' +%Y-%m-%dT%H:%M:%SZ)
TO30=$(date -u -d '-30 years +1 day' +%Y-%m-%dT%H:%M:%SZ)
printf '%s\n' '{"title":"Claimed time","legal_basis":"Subpoena RC-2",' \
    '"scope":{"participants":["+15550180002"],' \
    "\"from\":\"$FROM30\",\"to\":\"$TO30\"}}" >"$D/matter2.json"
M2=$(apf_matter lisa "$D/matter2.json") || die "matter 2"
apf_call lisa GET "/v1/matters/$M2"
check_eq "and so does one on the time they claim to be sent" \
    "200 10" "$APF_CODE $(apf_get record_count)"
printf '%s\n' '{"title":"Other day","legal_basis":"Subpoena RC-3",' \
    '"scope":{"participants":["+15550180002"],' \
    "\"from\":\"$(date -u -d '-10 days' +%Y-%m-%dT%H:%M:%SZ)\",\"to\":\"$(date -u -d '-9 days' +%Y-%m-%dT%H:%M:%SZ)\"}}" \
    >"$D/matter3.json"
M3=$(apf_matter lisa "$D/matter3.json") || die "matter 3"
apf_call lisa GET "/v1/matters/$M3"
check_eq "a range on neither clock finds none" "200 0" "$APF_CODE $(apf_get record_count)"
finish
