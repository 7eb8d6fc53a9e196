#!/bin/sh
# tests/integration/rotation_release.sh — releases across tenant key
# generations (issue 16, rotation part 2): GET /v1/matters/{id} shows the
# keys the matter's epochs use (keys, approvals_needed, each epoch's
# key_generation); an unknown generation is refused; a matter under one key
# is approved by that key's shares and builds.  Then a real rotation
# (cofferctl tenant rotate, both pins installed, records after the
# instant): a matter over both periods stays open with only the new
# shares (approvals_needed names generation 1) and opens with both; a
# matter of the new period needs only the new shares and refuses an old
# one (cofferctl and the API, exact texts).  Runs inside
# tests/pg-harness.sh.
set -u
ROOT=$(pwd)
. "$ROOT/tests/lib/gateway-fixture.sh"
. "$ROOT/tests/lib/api-fixture.sh"
GWF_NO_TRAP=1
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"
CK_NAME=rotation_release
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
D=$GWF_DIR/rr
mkdir -p "$D" && chmod 0700 "$D"
GWF_CUSTODIANS=3 GWF_THRESHOLD=2 gwf_simple rr phone-1 rr-node \
    "epoch_records = 2" "batch_max_ms = 2" "device_refresh_s = 1" ||
    die "gateway start"
apf_user rr lisa legal && apf_keygen rr lisa &&
    for i in 1 2 3; do apf_user rr "cus$i" custodian "$i" || exit 1; done ||
    die "people"
apf_config && apf_start || die "coffer-api start"

err3() { echo "$APF_CODE $(apf_get error.code) $(apf_get error.message)"; }
body() { printf '%s\n' "$1" >"$D/b.json"; }
TID=$(q "SELECT tenant_id FROM coffer.tenants WHERE name = 'rr'")

# post FIRST LAST DAY: records rr-FIRST..rr-LAST sent on DAY; prints
# "HTTP-status stored-count"
post() {
	python3 - "$1" "$2" "$3" >"$D/in.ndjson" <<'PY'
import json, sys
for k in range(int(sys.argv[1]), int(sys.argv[2]) + 1):
    print(json.dumps({"id": "rr-%d" % k, "channel": "telegram",
        "conversation": "conv-rr", "direction": "out",
        "sender": "+15550170011", "recipients": ["+15550170099"],
        "sent_at": "%sT09:00:%02dZ" % (sys.argv[3], k), "body": "rotation %d" % k}))
PY
	code=$(gwf_curl phone-1 -o "$D/in.out" -w '%{http_code}' \
	    -H 'Content-Type: application/x-ndjson' --data-binary "@$D/in.ndjson" \
	    "$(gwf_url v1/records)" 2>/dev/null) || code=000
	echo "$code $(grep -c '"stored"' "$D/in.out")"
}
check_eq "5 records stored" "200 5" "$(post 0 4 2026-04-01)"
NEP=$(q "SELECT count(*) FROM coffer.epochs WHERE tenant_id = '$TID'")

cat >"$D/matter.json" <<'JSON'
{"title":"rotation","legal_basis":"test","scope":{"participants":["+15550170011"],"from":"2026-03-31T00:00:00Z","to":"2026-04-02T00:00:00Z"}}
JSON
M=$(apf_matter lisa "$D/matter.json") || die "matter"

# -- GET: the keys the matter uses ----------------------------------------------
apf_call cus1 GET "/v1/matters/$M"
check_eq "one key, generation 1, K 2, all epochs" "200 1 1 2 $NEP" \
    "$APF_CODE $(apf_get keys | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))') $(python3 -c 'import json,sys; k=json.load(open(sys.argv[1]))["keys"][0]; print(k["generation"], k["threshold"], k["epochs"])' "$APF_OUT")"
check_eq "the key is the tenant key (T, commitments, public shares)" "True 2 3" \
    "$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); k=m["keys"][0]; print(k["public_key"] == m["tenant_key"]["public_key"], len(k["commitments"]), len(k["public_shares"]))' "$APF_OUT")"
check_eq "every epoch names key generation 1" "1" \
    "$(python3 -c 'import json,sys; print(" ".join(sorted({str(e["key_generation"]) for e in json.load(open(sys.argv[1]))["epochs"]})))' "$APF_OUT")"
check_eq "approvals_needed: generation 1, 0 of 2" '[{"approvals": 0, "generation": 1, "threshold": 2}]' \
    "$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["approvals_needed"], sort_keys=True))' "$APF_OUT")"

# -- refusals -----------------------------------------------------------------------
body '{"custodian_index":1,"generation":99,"partials":[]}'
apf_call cus1 POST "/v1/matters/$M/approvals" "$D/b.json"
check_eq "an unknown generation" \
    "409 no_such_generation the tenant key has no share generation 99 (the newest is 1)" "$(err3)"

# -- approve with generation 1's shares: builds -----------------------------------
apf_approve rr cus1 1 "$M" || { sed 's/^/  /' "$APF_DIR/approve.out"; bad "cus1 approves"; }
apf_call cus2 GET "/v1/matters/$M"
check_eq "approvals_needed: 1 of 2 after one approval" "1" \
    "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["approvals_needed"][0]["approvals"])' "$APF_OUT")"
apf_approve rr cus2 2 "$M" || { sed 's/^/  /' "$APF_DIR/approve.out"; bad "cus2 approves"; }
apf_wait_state "$M" ready 60
check_eq "K approvals of the matter's one key: the production is ready" ready "$(apf_state "$M")"
apf_call cus3 GET "/v1/matters/$M"
check_eq "nothing needed any more" "200 []" "$APF_CODE $(apf_get approvals_needed)"

# -- a real rotation: records before and after the instant -----------------------
TD="$GWF_DIR/tenants/rr"
FROM_S=$(($(date -u +%s) + 15))
FROM=$(date -u -d "@$FROM_S" +%Y-%m-%dT%H:%M:%SZ)
"$GWF_CTL" tenant rotate --tenant rr --out "$D/rot" --from "$FROM" \
    --pin "$GWF_KEYS/rr.pin" --passphrase-file "$TD/pass1" \
    --passphrase-file "$TD/pass2" --passphrase-file "$TD/pass3" \
    >"$D/rot.out" 2>"$D/rot.err"
check_eq "tenant rotate (generation 2 from $FROM)" 0 "$?"
cp "$D/rot/rr.pin" "$D/rot/rr.g1.pin" "$GWF_KEYS/" || die "pins installed"
while [ "$(date -u +%s)" -le "$FROM_S" ]; do sleep 0.5; done
sleep 2
check_eq "4 records stored after the instant" "200 4" "$(post 5 8 2026-04-03)"
T2=$(q "SELECT encode(public_key, 'hex') FROM coffer.tenant_keys WHERE tenant_id = '$TID'")
check_eq "their epochs are wrapped to the new key" 0 \
    "$(q "SELECT count(*) FROM coffer.records r JOIN coffer.epochs e USING (tenant_id, epoch_id) WHERE r.tenant_id = '$TID' AND r.sent_at >= '2026-04-03' AND e.wrapped_to IS DISTINCT FROM decode('$T2', 'hex')")"

# new-share approve: the share file of generation 2 (same passphrases)
approve2() {   # approve2 USER INDEX MATTER GEN-DIR
	"$GWF_CTL" approve --matter "$3" --share "$4/rr-custodian-$2.share" \
	    --passphrase-file "$TD/pass$2" \
	    --api "https://127.0.0.1:$APF_PORT" --ca "$GWF_SRV_CA" \
	    --cert "$APF_PEOPLE/$1.crt" --key "$APF_PEOPLE/$1.key" --yes \
	    >"$D/approve.out" 2>&1
}
needed() { python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["approvals_needed"], sort_keys=True))' "$APF_OUT"; }
cat >"$D/both.json" <<'JSON'
{"title":"both periods","legal_basis":"test","scope":{"participants":["+15550170011"],"from":"2026-03-31T00:00:00Z","to":"2026-04-04T00:00:00Z"}}
JSON
MB=$(apf_matter lisa "$D/both.json") || die "matter both"
apf_call cus1 GET "/v1/matters/$MB"
check_eq "a matter over both periods uses both keys" "1 2" \
    "$(python3 -c 'import json,sys; print(" ".join(str(k["generation"]) for k in json.load(open(sys.argv[1]))["keys"]))' "$APF_OUT")"
approve2 cus1 1 "$MB" "$D/rot"
check_eq "cus1 approves with the new share" 0 "$?"
approve2 cus2 2 "$MB" "$D/rot"
check_eq "cus2 approves with the new share" 0 "$?"
apf_call cus3 GET "/v1/matters/$MB"
check_eq "only new shares: open, generation 1 still needs 2" \
    'open [{"approvals": 0, "generation": 1, "threshold": 2}]' "$(apf_get state) $(needed)"
apf_approve rr cus1 1 "$MB" || { sed 's/^/  /' "$APF_DIR/approve.out"; bad "cus1 old share"; }
apf_approve rr cus2 2 "$MB" || { sed 's/^/  /' "$APF_DIR/approve.out"; bad "cus2 old share"; }
apf_wait_state "$MB" ready 60
check_eq "with both generations' shares the production opens" ready "$(apf_state "$MB")"
apf_call cus3 GET "/v1/matters/$MB"
check_eq "all 9 records in scope" "9" "$(apf_get record_count)"

cat >"$D/new.json" <<'JSON'
{"title":"new period","legal_basis":"test","scope":{"participants":["+15550170011"],"from":"2026-04-03T00:00:00Z","to":"2026-04-04T00:00:00Z"}}
JSON
MN=$(apf_matter lisa "$D/new.json") || die "matter new"
apf_call cus1 GET "/v1/matters/$MN"
check_eq "a matter of the new period uses only generation 2's key" "2" \
    "$(python3 -c 'import json,sys; print(" ".join(str(k["generation"]) for k in json.load(open(sys.argv[1]))["keys"]))' "$APF_OUT")"
apf_approve rr cus3 3 "$MN"
check_eq "an old share for it is refused" 1 "$?"
check "with the exact refusal" grep -qxF "cofferctl: approve: matter $MN has no records under generation 1's key: that share is not needed ($TD/out/rr-custodian-3.share)" "$APF_DIR/approve.out"
body '{"custodian_index":3,"generation":1,"partials":[]}'
apf_call cus3 POST "/v1/matters/$MN/approvals" "$D/b.json"
check_eq "the API refuses it too" \
    "409 key_not_used matter $MN has no records under generation 1's key: that share is not needed" "$(err3)"
approve2 cus1 1 "$MN" "$D/rot" && approve2 cus3 3 "$MN" "$D/rot"
check_eq "two new shares approve it" 0 "$?"
apf_wait_state "$MN" ready 60
check_eq "the new-period production opens with new shares only" ready "$(apf_state "$MN")"

finish
