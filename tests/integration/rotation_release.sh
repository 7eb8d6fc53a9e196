#!/bin/sh
# tests/integration/rotation_release.sh — releases across tenant key
# generations (issue 16, rotation part 2), the API side: GET
# /v1/matters/{id} shows the keys the matter's epochs use (keys,
# approvals_needed, each epoch's key_generation); approvals of an unknown
# generation are refused; a matter under one key is approved by that key's
# shares (cofferctl approve, real crypto) and builds; after a rotation
# written by hand as the owner (what `cofferctl tenant rotate` stores: a
# new T at generation 2, seats copied), the old matter still names
# generation 1's key, and a generation-2 approval of it is refused as not
# needed.  The end-to-end rotation (tenant rotate, records on both sides
# of the instant, approve with both share files) is NOT here yet.  Runs
# inside tests/pg-harness.sh.
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
    "epoch_records = 2" || die "gateway start"
apf_user rr lisa legal && apf_keygen rr lisa &&
    for i in 1 2 3; do apf_user rr "cus$i" custodian "$i" || exit 1; done ||
    die "people"
apf_config && apf_start || die "coffer-api start"

err3() { echo "$APF_CODE $(apf_get error.code) $(apf_get error.message)"; }
body() { printf '%s\n' "$1" >"$D/b.json"; }
TID=$(q "SELECT tenant_id FROM coffer.tenants WHERE name = 'rr'")

python3 - >"$D/in.ndjson" <<'PY'
import json
for k in range(5):
    print(json.dumps({"id": "rr-%d" % k, "channel": "telegram",
        "conversation": "conv-rr", "direction": "out",
        "sender": "+15550170011", "recipients": ["+15550170099"],
        "sent_at": "2026-04-01T09:00:%02dZ" % k, "body": "rotation %d" % k}))
PY
code=$(gwf_curl phone-1 -o "$D/in.out" -w '%{http_code}' \
    -H 'Content-Type: application/x-ndjson' --data-binary "@$D/in.ndjson" \
    "$(gwf_url v1/records)" 2>/dev/null) || code=000
check_eq "5 records stored" "200 5" "$code $(grep -c '"stored"' "$D/in.out")"
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

# -- a rotation (as tenant rotate stores it) -----------------------------------------
M2=$(apf_matter lisa "$D/matter.json") || die "matter 2"
apf_stop
q "BEGIN;
INSERT INTO coffer.tenant_key_generations (tenant_id, generation, public_key,
    threshold_k, custodians_n, commitments, public_shares, kind, wraps_from)
  SELECT g.tenant_id, 2, g.public_shares[2], g.threshold_k, g.custodians_n,
    ARRAY[g.public_shares[2], g.public_shares[3]], g.public_shares, 'rotate',
    pg_catalog.now()
  FROM coffer.tenant_key_generations g WHERE g.tenant_id = '$TID' AND g.generation = 1;
INSERT INTO coffer.custodian_seats (tenant_id, generation, custodian_index, user_id)
  SELECT tenant_id, 2, custodian_index, user_id FROM coffer.custodian_seats
  WHERE tenant_id = '$TID' AND generation = 1;
UPDATE coffer.tenant_keys k SET generation = 2, public_key = g.public_key,
    commitments = g.commitments
  FROM coffer.tenant_key_generations g
  WHERE k.tenant_id = '$TID' AND g.tenant_id = k.tenant_id AND g.generation = 2;
COMMIT;" || die "rotation rows"
apf_start || die "coffer-api restart"
apf_call cus1 GET "/v1/matters/$M2"
check_eq "after the rotation: the old matter still uses generation 1's key" "200 2 1" \
    "$APF_CODE $(apf_get tenant_key.generation) $(python3 -c 'import json,sys; print(" ".join(str(k["generation"]) for k in json.load(open(sys.argv[1]))["keys"]))' "$APF_OUT")"
body '{"custodian_index":1,"generation":2,"partials":[]}'
apf_call cus1 POST "/v1/matters/$M2/approvals" "$D/b.json"
check_eq "a share of a key the matter does not use" \
    "409 key_not_used matter $M2 has no records under generation 2's key: that share is not needed" "$(err3)"
body '{"custodian_index":1,"partials":[]}'
apf_call cus1 POST "/v1/matters/$M2/approvals" "$D/b.json"
check_eq "the default generation is the newest" \
    "409 key_not_used matter $M2 has no records under generation 2's key: that share is not needed" "$(err3)"
apf_approve rr cus3 3 "$M2"
check_eq "cofferctl approve with the old key's share after the rotation (generation 1)" 0 "$?"
apf_call cus1 GET "/v1/matters/$M2"
check_eq "it counts for generation 1: 1 of 2, the matter stays open" "open 1 1" \
    "$(apf_get state) $(python3 -c 'import json,sys; n=json.load(open(sys.argv[1]))["approvals_needed"][0]; print(n["generation"], n["approvals"])' "$APF_OUT")"
check_eq "its approval row is of generation 1" "3 1" \
    "$(q "SELECT custodian_index, generation FROM coffer.approvals WHERE matter_id = '$M2'" | tr '|' ' ')"

finish
