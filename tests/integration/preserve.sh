#!/bin/sh
# tests/integration/preserve.sh — issue 13.1: an open matter preserves its
# evidence.  The attacker of the issue: a matter is open on a participant,
# someone sets retention to 1 day and runs `cofferctl purge`.  On the code
# before migration 0007 that purge disposed of the matter's records (and
# shredded their epochs); now every in-scope record survives, the rest
# goes, the output names the matter that kept them, and closing the matter
# lets the next purge dispose of them.  Also: purge asks for confirmation
# (refused without a terminal unless --yes; a terminal answer other than
# "yes" cancels), --dry-run shows the plan by channel and age and changes
# nothing, every matter state but 'closed' preserves.  Real gateway, API,
# PostgreSQL and cofferctl.  Runs inside tests/pg-harness.sh.
set -u
ROOT=$(pwd)
. "$ROOT/tests/lib/gateway-fixture.sh"
. "$ROOT/tests/lib/api-fixture.sh"
GWF_NO_TRAP=1
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"
CK_NAME=preserve
. "$ROOT/tests/lib/check.sh"
logs_tail() {
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
# Retention runs on the archive's clock (migration 0010): the records must
# be RECEIVED ten days ago, so the gateway runs with its wall clock ten days
# back (libfaketime) and the PKI, tenant and node are made eleven days ago.
gwf_clock_wrap "$CTL" "$D/ctl-past" -11d &&
    gwf_clock_wrap "$GWF_GW" "$D/gw-past" -10d || die "clock wrappers"
GWF_CTL="$D/ctl-past"
GWF_GW="$D/gw-past"
gwf_server_cert && gwf_tenant pv && gwf_device pv phone-1 && gwf_node pv-node ||
    die "set-up eleven days ago"
GWF_CTL=$CTL
gwf_config "epoch_records = 6" && gwf_start || die "gateway start"
apf_user pv lisa legal && apf_keygen pv lisa || die "people"
apf_config && apf_start || die "coffer-api start"

# 30 records sent (and received) 10 days ago: k % 3 == 0 (10 records) from the matter's
# participant, the others between two other people; channels alternate.
python3 - >"$D/in.ndjson" <<'PY'
import json, time
t0 = time.time() - 10 * 86400
for k in range(30):
    who = "+15550170001" if k % 3 == 0 else "+15550170002"
    print(json.dumps({"id": "pv-%d" % k,
        "channel": ["whatsapp", "signal"][k % 2],
        "conversation": "conv-pv-%d" % (k % 4), "direction": "out",
        "sender": who, "recipients": ["+15550170003"],
        "sent_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + 60 * k)),
        "body": "preserve %d" % k}))
PY
code=$(gwf_curl phone-1 -o "$D/in.out" -w '%{http_code}' \
    -H 'Content-Type: application/x-ndjson' --data-binary "@$D/in.ndjson" \
    "$(gwf_url v1/records)" 2>/dev/null) || code=000
check_eq "30 records stored" "200 30" "$code $(grep -c '"stored"' "$D/in.out")"
gw_metric() {
	curl -s "http://127.0.0.1:$GWF_METRICS_PORT/metrics" |
	    sed -n "s/^$1 //p"
}
check_eq "records sent when received (both ten days ago) are not flagged (metric)" 0 \
    "$(gw_metric coffer_gateway_records_backdated_total)"
FROM=$(date -u -d '-11 days' +%Y-%m-%dT%H:%M:%SZ)
TO=$(date -u -d '-9 days' +%Y-%m-%dT%H:%M:%SZ)
printf '%s\n' '{"title":"Preserve matter","legal_basis":"Subpoena PV-1",' \
    '"scope":{"participants":["+15550170001"],' \
    "\"from\":\"$FROM\",\"to\":\"$TO\"}}" >"$D/matter.json"
M=$(apf_matter lisa "$D/matter.json") || die "matter"
apf_call lisa GET "/v1/matters/$M"
check_eq "the matter is open with 10 in-scope records" "200 open 10" \
    "$APF_CODE $(apf_get state) $(apf_get record_count)"

records() { q "SELECT count(*) FROM coffer.records"; }
shredded() { q "SELECT count(*) FROM coffer.epochs WHERE wrapped_key IS NULL"; }

# -- the attacker: retention 1 day, then purge ------------------------------------
# (1 day is below the regulatory floor: lowered here by the owner, the
# test-only path; two_person.sh lowers it through the API with two persons)
q "UPDATE coffer.tenants SET retention_floor_days = 1" >/dev/null || bad "floor"
"$CTL" retention set --tenant pv --days 1 >"$D/out" 2>&1 ||
    bad "retention set: $(cat "$D/out")"

# no terminal, no --yes: refused, with what it would have destroyed
setsid -w "$CTL" purge >"$D/out" 2>&1 </dev/null
check_eq "purge without --yes and without a terminal exits 1" 1 $?
check "the refusal says what would go and asks for --yes" \
    grep -qx "cofferctl: purge refused: 20 records and [0-9]* epoch keys would be destroyed and there is no terminal to confirm on; pass --yes to purge without asking" "$D/out"
check_eq "the refused purge disposed of nothing" 30 "$(records)"

# a terminal answering anything but "yes" cancels
if command -v script >/dev/null 2>&1; then
	printf 'no\n' | setsid -w script -qec "$CTL purge" /dev/null >"$D/out" 2>&1
	check "a terminal answering 'no' cancels: cofferctl: purge cancelled: nothing was disposed of" \
	    grep -q "cofferctl: purge cancelled: nothing was disposed of" "$D/out"
	check_eq "the cancelled purge disposed of nothing" 30 "$(records)"
else
	bad "terminal confirmation not tested: script (util-linux) is not installed"
fi

# dry run: the plan, the matter that keeps records, nothing changed
"$CTL" purge --dry-run >"$D/out" 2>&1 || bad "dry run: $(cat "$D/out")"
cat "$D/out"
check "dry run: per tenant counts" grep -q "^tenant pv  *would purge 20 records, kept 0 under hold, 10 for open matters, 0 with a future timestamp, would shred [0-9]* epoch keys$" "$D/out"
check_eq "dry run: the plan by channel and age" \
    "  would dispose of 10 records: channel signal, held under 30 days|  would dispose of 10 records: channel whatsapp, held under 30 days" \
    "$(grep '^  would dispose' "$D/out" | tr '\n' '|' | sed 's/|$//')"
check "dry run: names the matter that keeps records" \
    grep -qx "  kept 10 records past retention: in the scope of matter $M (open), which is not closed" "$D/out"
check_eq "dry run changes nothing" "30 0" "$(records) $(q "SELECT count(*) FROM coffer.tombstones")"

# the purge itself (least-privilege role, --yes)
PGUSER=purger "$CTL" purge --yes --reason "attacker" >"$D/out" 2>&1 ||
    bad "purge --yes: $(cat "$D/out")"
cat "$D/out"
check_eq "every in-scope record survives, the rest is disposed of" 10 "$(records)"
check_eq "the survivors are exactly the matter's participant's" 10 \
    "$(q "SELECT count(*) FROM coffer.records r JOIN coffer.matters m ON m.tenant_id = r.tenant_id AND m.matter_id = '$M' WHERE r.participant_tokens && ARRAY(SELECT decode(x, 'hex') FROM jsonb_array_elements_text(m.scope->'participants') x)")"
check "the purge says how many were kept for which matter" \
    grep -qx "  kept 10 records past retention: in the scope of matter $M (open), which is not closed" "$D/out"
check "the summary counts them" grep -q "^purge .*: 20 records purged, 0 held, 0 future, [0-9]* epoch keys shredded, 10 kept for open matters$" "$D/out"
check_eq "the purge audit event records the matter" "10|10|$M" \
    "$(q "SELECT detail->>'preserved', detail->'matters'->0->>'records', detail->'matters'->0->>'matter_id' FROM coffer.audit_events WHERE action = 'purge' ORDER BY event_no DESC LIMIT 1")"
check_eq "no shredded epoch holds a preserved record" 0 \
    "$(q "SELECT count(*) FROM coffer.epochs e WHERE e.wrapped_key IS NULL AND EXISTS (SELECT 1 FROM coffer.records r WHERE r.epoch_id = e.epoch_id)")"
apf_call lisa GET "/v1/matters/$M"
check_eq "the matter still shows its 10 records" "200 10" "$APF_CODE $(apf_get record_count)"

# every state but 'closed' preserves (the states the API moves a matter
# through; set directly as the owner, the rule is the purge function's)
for st in approved building ready failed; do
	q "UPDATE coffer.matters SET state = '$st' WHERE matter_id = '$M'" >/dev/null ||
	    bad "set state $st"
	"$CTL" purge --dry-run >"$D/out" 2>&1
	check "a matter in state $st preserves" \
	    grep -qx "  kept 10 records past retention: in the scope of matter $M ($st), which is not closed" "$D/out"
done
q "UPDATE coffer.matters SET state = 'open' WHERE matter_id = '$M'" >/dev/null

# -- closing the matter lets the next purge dispose of them -------------------------
echo '{}' >"$D/empty.json"
apf_call lisa POST "/v1/matters/$M/close" "$D/empty.json"
check_eq "the requester closes the matter" 200 "$APF_CODE"
if command -v script >/dev/null 2>&1; then
	printf 'yes\n' | setsid -w script -qec "$CTL purge" /dev/null >"$D/out" 2>&1
	check "a terminal answering 'yes' purges" grep -q "^purge .*: 10 records purged" "$D/out"
else
	"$CTL" purge --yes >"$D/out" 2>&1
fi
check_eq "after the close, the next purge disposes of the matter's records" 0 "$(records)"
grep -q "in the scope of matter" "$D/out" && bad "a closed matter still keeps records: $(cat "$D/out")" ||
    ok "a closed matter keeps nothing"
# -- backdated records: accepted, flagged, counted -----------------------------------
python3 - >"$D/old.ndjson" <<'PY'
import json, time
t0 = time.time() - 30 * 365.25 * 86400
for k in range(3):
    print(json.dumps({"id": "pv-old-%d" % k, "channel": "sms",
        "conversation": "conv-pv-old", "direction": "in",
        "sender": "+15550170004", "recipients": ["+15550170003"],
        "sent_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + k)),
        "body": "thirty years ago %d" % k}))
PY
code=$(gwf_curl phone-1 -o "$D/old.out" -w '%{http_code}' \
    -H 'Content-Type: application/x-ndjson' --data-binary "@$D/old.ndjson" \
    "$(gwf_url v1/records)" 2>/dev/null) || code=000
check_eq "records sent 30 years ago are accepted" "200 3" "$code $(grep -c '"stored"' "$D/old.out")"
check_eq "and counted by the backdated metric" 3 \
    "$(gw_metric coffer_gateway_records_backdated_total)"
check "the archive verifies after the purges" "$CTL" verify --quiet --witness "$D/witness.jsonl"
finish
