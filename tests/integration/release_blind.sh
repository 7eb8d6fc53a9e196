#!/bin/sh
# tests/integration/release_blind.sh — a 3-of-5 release through the real
# API and `cofferctl approve`, then the attacker of issue 12 with
# everything that is stored: as the read-only auditor role and as the
# database owner (pg_dump), every stored answer in every 3-subset of
# custodians and every point in the dump, the audit export, the API's
# responses and the API host's files, against every epoch: nothing opens.
# Control: the custodians' real partials (what was stored before
# migration 0004) open the same epochs.  Then the seed's lifecycle: a
# lost seed starts a new generation (409 blinding_renewed, earlier
# approvals stop counting), closing a matter destroys its seed.
# Runs inside tests/pg-harness.sh.
set -u
ROOT=$(pwd)
. "$ROOT/tests/lib/gateway-fixture.sh"
. "$ROOT/tests/lib/api-fixture.sh"
GWF_NO_TRAP=1
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"
CK_NAME=release_blind
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
HV="$GWF_BUILD/tests/tools/harvest"
GWF_CUSTODIANS=5 GWF_THRESHOLD=3 gwf_simple rb phone-1 rb-node \
    "epoch_records = 4" || die "gateway start"
apf_user rb lisa legal && apf_keygen rb lisa && apf_user rb aud auditor &&
    for i in 1 2 3 4 5; do apf_user rb "cus$i" custodian "$i" || exit 1; done ||
    die "people"
apf_config && apf_start || die "coffer-api start"

python3 - >"$D/in.ndjson" <<'PY'
import json
for k in range(14):
    print(json.dumps({"id": "rb-%d" % k, "channel": "signal",
        "conversation": "conv-rb", "direction": "out",
        "sender": "+15550184001" if k % 2 else "+15550184009",
        "recipients": ["+15550184002"],
        "sent_at": "2026-04-01T09:00:%02dZ" % k, "body": "blind %d" % k}))
PY
code=$(gwf_curl phone-1 -o "$D/in.out" -w '%{http_code}' \
    -H 'Content-Type: application/x-ndjson' --data-binary "@$D/in.ndjson" \
    "$(gwf_url v1/records)" 2>/dev/null) || code=000
check_eq "14 records stored" "200 14" "$code $(grep -c '"stored"' "$D/in.out")"

printf '%s\n' '{"title":"Blind release","legal_basis":"Subpoena RB-1",' \
    '"scope":{"participants":["+15550184001"],' \
    '"from":"2026-03-31T00:00:00Z","to":"2026-04-02T00:00:00Z"}}' >"$D/matter.json"
M=$(apf_matter lisa "$D/matter.json") || die "matter"
check "the matter's seed is on the API host only" \
    test -s "$APF_DIR/blind/$M.seed"
apf_call cus1 GET "/v1/matters/$M"
cp "$APF_OUT" "$D/resp.show1"
check "custodians are served blinded points with proofs and the frozen recipient key" \
    python3 -c "import json,sys; m=json.load(open(sys.argv[1]))
assert m['recipient_key'] and m['blind_id'] and m['epochs']
assert all(len(e['rb'])==64 and len(e['bp'])==128 and e['rb']!=e['r'] for e in m['epochs'])" "$APF_OUT"
for i in 1 2; do
	apf_approve rb "cus$i" "$i" "$M" || { cat "$APF_DIR/approve.out"; die "approval $i"; }
done
check_eq "2 of 3 approvals: still open" open "$(apf_state "$M")"
apf_approve rb cus3 3 "$M" || { cat "$APF_DIR/approve.out"; die "approval 3"; }
apf_wait_state "$M" ready 60 || die "the production was not built ($(apf_state "$M"))"
ok "3 of 5 custodians approved; production built"
check "the seed is destroyed once the build ended" \
    test ! -e "$APF_DIR/blind/$M.seed"
apf_call aud GET /v1/audit
cp "$APF_OUT" "$D/resp.audit"
apf_call lisa GET "/v1/matters/$M"
cp "$APF_OUT" "$D/resp.show2"

# -- the attacker -------------------------------------------------------------
PGUSER=auditor $PSQL -F ' ' -c "SELECT e.tenant_id, e.epoch_id,
    encode(e.r_point, 'hex'), encode(e.wrapped_key, 'hex'),
    encode(k.public_key, 'hex'),
    (SELECT count(*) FROM coffer.records r WHERE r.tenant_id = e.tenant_id
       AND r.epoch_id = e.epoch_id), t.threshold_k
    FROM coffer.epochs e JOIN coffer.tenant_keys k USING (tenant_id)
    JOIN coffer.tenants t USING (tenant_id)
    WHERE e.wrapped_key IS NOT NULL" >"$D/hv.epochs"
PGUSER=auditor $PSQL -F ' ' -c "SELECT x.key, a.custodian_index, v
    FROM coffer.approvals a, jsonb_each(a.partials) x,
    LATERAL (SELECT x.value->>'p' UNION SELECT x.value->>'rb') AS y(v)
    WHERE jsonb_typeof(x.value) = 'object' AND v IS NOT NULL
    UNION
    SELECT p.key, (e.detail->>'custodian_index')::int, v
    FROM coffer.audit_events e, jsonb_each(e.detail->'partials') p,
    LATERAL (SELECT p.value->>'p' UNION SELECT p.value->>'rb') AS y(v)
    WHERE e.detail ? 'partials' AND jsonb_typeof(e.detail->'partials') = 'object'
    AND v IS NOT NULL" >"$D/hv.partials"
pg_dump -d "$PGDATABASE" >"$D/hv.dump" 2>"$D/hv.dump.err"
check "a pg_dump taken as the owner after the build" \
    grep -q "COPY coffer.approvals" "$D/hv.dump"
check "the approval audit events carry the (blinded) answers too" \
    test "$(q "SELECT count(*) FROM coffer.audit_events WHERE action = 'approval.submit' AND detail ? 'partials'")" -ge 3
NEP=$(wc -l <"$D/hv.epochs")
check "3 custodians' answers stored for every one of the $NEP epochs" \
    test "$(cut -d' ' -f2 "$D/hv.partials" | sort -u | tr -d '\n')" = 123
# shellcheck disable=SC2046  # a list of paths without blanks, one argument each
"$HV" --epochs "$D/hv.epochs" --partials "$D/hv.partials" "$D/hv.dump" \
    "$D"/resp.* $(find "$APF_DIR" -type f) >"$D/hv.out" 2>&1
check "every 3-subset of stored answers, the dump, the API's answers and the API host's files: 0 epochs open ($(cat "$D/hv.out"))" \
    grep -q "^harvest: 0 epochs opened, 0 records readable" "$D/hv.out"
for i in 1 2 3 4 5; do
	echo "$D/tenants/rb/out/rb-custodian-$i.share $D/tenants/rb/pass$i"
done >"$D/hv.shares"
"$HV" --epochs "$D/hv.epochs" --shares "$D/hv.shares" >"$D/hv.ctl" 2>&1
check_eq "control: the real partials (the old stored form) open every epoch" \
    "harvest: $NEP epochs opened" "$(cut -d, -f1 "$D/hv.ctl")"

# -- a lost seed, a closed matter ------------------------------------------------
M2=$(apf_matter lisa "$D/matter.json") || die "matter 2"
apf_approve rb cus1 1 "$M2" || { cat "$APF_DIR/approve.out"; die "approval M2/1"; }
B1=$(q "SELECT blind_id FROM coffer.matters WHERE matter_id = '$M2'")
rm -f "$APF_DIR/blind/$M2.seed"
# an answer arriving after the seed was lost cannot verify: refused, and
# the new generation is kept for the next fetch
echo '{"custodian_index":2,"partials":[]}' >"$D/stale.json"
apf_call cus2 POST "/v1/matters/$M2/approvals" "$D/stale.json"
check_eq "an approval after the seed was lost: 409 blinding_renewed" \
    "409 blinding_renewed" "$APF_CODE $(apf_get error.code)"
B2=$(q "SELECT blind_id FROM coffer.matters WHERE matter_id = '$M2'")
check "a lost seed starts a new generation" test -n "$B2" -a "$B1" != "$B2"
check_eq "approvals of the old generation no longer count" 0 \
    "$(q "SELECT count(*) FROM coffer.approvals WHERE matter_id = '$M2' AND blind_id = '$B2'")"
check "the API log names the lost seed" grep -q "matter $M2: its blinding seed is gone" "$APF_LOG"
for i in 1 2 3; do
	apf_approve rb "cus$i" "$i" "$M2" || { cat "$APF_DIR/approve.out"; die "re-approval $i"; }
done
apf_wait_state "$M2" ready 60 && ok "custodians approve again under the new generation: built" ||
    bad "matter 2 after renewal: $(apf_state "$M2")"
M3=$(apf_matter lisa "$D/matter.json") || die "matter 3"
echo '{}' >"$D/empty.json"
apf_call lisa POST "/v1/matters/$M3/close" "$D/empty.json"
check_eq "closing a matter answers 200" 200 "$APF_CODE"
check "closing a matter destroys its seed" test ! -e "$APF_DIR/blind/$M3.seed"
apf_approve rb cus1 1 "$M3"
check "no approval for a closed matter" grep -q "closed" "$APF_DIR/approve.out"

# -- leftovers: a crash or a lost COMMIT must not leave a seed behind -----------
M4=$(apf_matter lisa "$D/matter.json") || die "matter 4"
BL="$APF_DIR/blind"
head -c 48 /dev/urandom >"$BL/$M.seed" && chmod 600 "$BL/$M.seed" &&
    : >"$BL/$M4.seed.tmp.1.2" || die "leftover files"
# the download refuses a production row pointing at a seed (a DBA's redirect)
q "UPDATE coffer.productions SET storage_path = '$BL/$M4.seed', size_bytes = 48
   WHERE matter_id = '$M'" >/dev/null
apf_call lisa GET "/v1/matters/$M/production"
check_eq "a production row pointing into blind_dir is not served" 500 "$APF_CODE"
apf_stop
apf_start || die "coffer-api restart"
check "at start-up the seed left for a built matter is destroyed" test ! -e "$BL/$M.seed"
check "and an interrupted write's temporary file" test ! -e "$BL/$M4.seed.tmp.1.2"
check "an open matter's seed is kept across the restart" test -s "$BL/$M4.seed"
check "the API log counts them" grep -q "blinding seeds: 2 left over" "$APF_LOG"
finish
