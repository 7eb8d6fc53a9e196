#!/bin/sh
# tests/integration/regulator_request.sh — furnishing records to a
# regulator with a designated third party (issue 16, part 4; SEC
# 17a-4(f)): records through a real gateway, a real coffer-api, a 2-of-3
# tenant whose custodian 3 is the designated third party (tenant init
# --third-party-index 3, user issue --third-party).
#
#   - share check names the holder; the account is marked and audited
#   - the third party's approval of an eDiscovery matter: exact 403
#   - rule required: custodians 1 and 2 reach K but the request stays open
#     with the exact message; the third party's approval builds it and the
#     production opens with exactly the scope's records
#   - rule excluded: the third party's approval: exact 403; 1 + 2 release
#   - rule allowed: 1 + the third party release
#   - tenant set-d3p-rule refusals (bad rule, unknown tenant) and its audit
# Runs inside tests/pg-harness.sh.
set -u
ROOT=$(pwd)
. "$ROOT/tests/lib/gateway-fixture.sh"
. "$ROOT/tests/lib/api-fixture.sh"
GWF_NO_TRAP=1
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"
CK_NAME=regulator_request
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
GWF_CUSTODIANS=3 GWF_THRESHOLD=2 GWF_D3P=3 gwf_simple rr phone-1 rr-node \
    "epoch_records = 4" || die "gateway start"
apf_user rr lisa legal && apf_keygen rr lisa &&
    apf_user rr cus1 custodian 1 && apf_user rr cus2 custodian 2 ||
    die "people"
gwf_run "user issue d3p" "$GWF_CTL" user issue --tenant rr --name d3p \
    --role custodian --custodian-index 3 --third-party --out "$APF_PEOPLE" ||
    die "the third party's account"
apf_config && apf_start || die "coffer-api start"

as() {
	as_who=$1
	shift
	COFFER_API_URL="https://127.0.0.1:$APF_PORT" COFFER_CA="$GWF_SRV_CA" \
	    COFFER_CERT="$APF_PEOPLE/$as_who.crt" \
	    COFFER_KEY="$APF_PEOPLE/$as_who.key" \
	    "$GWF_CTL" "$@" >"$D/out" 2>"$D/err" </dev/null
	rc=$?
}
ctl() {
	"$GWF_CTL" "$@" >"$D/out" 2>"$D/err" </dev/null
	rc=$?
}
# err_is NAME RC TEXT: exit status RC and TEXT (exact) a line of stderr
err_is() {
	if [ "$rc" = "$2" ] && grep -qxF -- "$3" "$D/err"; then
		ok "$1"
	else
		bad "$1: exit $rc, stderr:"
		sed 's/^/     /' "$D/err"
	fi
}
field() { awk -v k="$1:" '$1 == k { print $2 }' "$D/out"; }
# approve NAME WHO INDEX MATTER: cofferctl approve; its output in $D/err
approve() {
	apf_approve rr "$2" "$3" "$4"
	rc=$?
	cp "$APF_DIR/approve.out" "$D/err"
}
held_detail() {
	q "SELECT detail->>'held' FROM coffer.audit_events WHERE action = 'approval.submit' AND target = 'matter:$1' AND outcome = 'ok' AND (detail->>'custodian_index')::int = $2"
}
SH=$GWF_DIR/tenants/rr/out

# -- the third party's share and account ----------------------------------------
ctl share check "$SH/rr-custodian-3.share" --passphrase-file "$GWF_DIR/tenants/rr/pass3"
check "share check: share 3 is held by a designated third party" \
    grep -q "held by a designated third party" "$D/out" "$D/err"
ctl share check "$SH/rr-custodian-1.share" --passphrase-file "$GWF_DIR/tenants/rr/pass1"
check_eq "share 1 is a custodian's" "0 0" \
    "$rc $(cat "$D/out" "$D/err" | grep -c "third party")"
check_eq "the account is marked third_party" "cus1:false cus2:false d3p:true" \
    "$(q "SELECT string_agg(name || ':' || third_party, ' ' ORDER BY name) FROM coffer.users WHERE role = 'custodian'")"
check_eq "user.issue audits third_party" "true" \
    "$(q "SELECT detail->>'third_party' FROM coffer.audit_events WHERE action = 'user.issue' AND target = 'user:d3p'")"
ctl user issue --tenant rr --name x --role legal --third-party --out "$D"
err_is "--third-party for a legal user is refused" 2 \
    "cofferctl: user: --third-party is only for --role custodian"
ctl tenant init --name rr2 --custodians 3 --threshold 2 --out "$D/t2" \
    --third-party-index 4
err_is "--third-party-index beyond the custodians is refused" 2 \
    "cofferctl: --third-party-index 4 is not one of the 3 custodians"

# -- records --------------------------------------------------------------------
# k even: from +15550100011 (5 records: rr-0, rr-2, ... rr-8)
python3 - >"$D/in.ndjson" <<'PY'
import json
for k in range(10):
    print(json.dumps({"id": "rr-%d" % k, "channel": "telegram",
        "conversation": "conv-rr-%d" % (k % 2), "direction": "out",
        "sender": "+15550100011" if k % 2 == 0 else "+15550100022",
        "recipients": ["+15550100099"],
        "sent_at": "2026-04-01T09:00:%02dZ" % k, "body": "regulator %d" % k}))
PY
code=$(gwf_curl phone-1 -o "$D/in.out" -w '%{http_code}' \
    -H 'Content-Type: application/x-ndjson' --data-binary "@$D/in.ndjson" \
    "$(gwf_url v1/records)" 2>/dev/null) || code=000
check_eq "10 records stored" "200 10" "$code $(grep -c '"stored"' "$D/in.out")"
FROM=2026-03-31T00:00:00Z
TO=2026-04-02T00:00:00Z
# create KIND TITLE: a matter for +15550100011; its id in $M
create() {
	as lisa matter create --title "$2" --basis "Request $2" --from "$FROM" \
	    --to "$TO" --participant +15550100011 --kind "$1"
	M=$(field matter_id)
}

# -- an eDiscovery matter -----------------------------------------------------------
create ediscovery "Ordinary"
E=$M
check_eq "an eDiscovery matter" "0 ediscovery 5" "$rc $(field kind) $(field record_count)"
approve "the third party on eDiscovery" d3p 3 "$E"
err_is "the third party cannot approve an eDiscovery matter" 1 \
    "cofferctl: approve: approval refused: HTTP 403 d3p_regulator_only: a designated third party approves only regulator requests"
as lisa matter create --title T --basis B --from "$FROM" --to "$TO" \
    --participant +15550100011 --kind subpoena
err_is "an unknown --kind is refused" 2 \
    "cofferctl: matter create: --kind must be ediscovery or regulator-request"
printf '%s\n' '{"title":"T","legal_basis":"B","kind":"audit","scope":{"participants":["+15550100011"]}}' >"$D/bad.json"
apf_call lisa POST /v1/matters "$D/bad.json"
check_eq "POST /v1/matters with an unknown kind" \
    '400 kind must be "ediscovery" or "regulator_request"' \
    "$APF_CODE $(apf_get error.message)"

# -- set-d3p-rule ----------------------------------------------------------------------
ctl tenant set-d3p-rule --tenant rr --rule sometimes
err_is "set-d3p-rule with a bad rule" 2 \
    "cofferctl: tenant set-d3p-rule: --rule must be required, allowed or excluded"
ctl tenant set-d3p-rule --tenant nosuch --rule required
err_is "set-d3p-rule for an unknown tenant" 1 \
    "cofferctl: tenant set-d3p-rule: no tenant nosuch"
ctl tenant set-d3p-rule --tenant rr
err_is "set-d3p-rule without --rule" 2 \
    "cofferctl: tenant set-d3p-rule: --tenant and --rule are required"
ctl tenant set-d3p-rule --tenant rr --rule required
check_eq "set-d3p-rule required" "0 tenant rr: regulator requests: the designated third party's approval is required (was allowed)" \
    "$rc $(cat "$D/out")"
check_eq "audited as tenant.set_d3p_rule" '1|{"new": "required", "old": "allowed"}' \
    "$(q "SELECT count(*) OVER (), detail - 'actor_name' - 'actor_role' FROM coffer.audit_events WHERE action = 'tenant.set_d3p_rule'")"

# -- rule required ---------------------------------------------------------------------
HELD="threshold reached but the designated third party has not approved: regulator requests of this tenant require it"
create regulator-request "SEC request 1"
R1=$M
check_eq "a regulator request" "0 regulator request 5" \
    "$rc $(grep '^kind:' "$D/out" | cut -c15-) $(field record_count)"
check_eq "stored as regulator_request" regulator_request \
    "$(q "SELECT kind FROM coffer.matters WHERE matter_id = '$R1'")"
approve "cus1 on R1" cus1 1 "$R1"
approve "cus2 on R1" cus2 2 "$R1"
check_eq "required: 1 + 2 leave it open" "0 open" "$rc $(apf_state "$R1")"
check_eq "the approval's answer says why" "$HELD" "$(held_detail "$R1" 2)"
apf_call lisa GET "/v1/matters/$R1"
check_eq "GET matter: kind, rule, d3p_approved" \
    "200 regulator_request required False" \
    "$APF_CODE $(apf_get kind) $(apf_get regulator_d3p) $(apf_get d3p_approved)"
as lisa matter show "$R1"
check "matter show prints the kind and the rule" grep -qx \
    "kind:         regulator request (designated third party: required; approved: no)" "$D/out"
as lisa matter list
check "matter list shows the kind" grep -q "^$R1  open      regulator_request  " "$D/out"
approve "the third party on R1" d3p 3 "$R1"
check_eq "required: the third party's approval builds it" 0 "$rc"
check_eq "audit: kind and third_party" "regulator_request|true" \
    "$(q "SELECT detail->>'kind', detail->>'third_party' FROM coffer.audit_events WHERE action = 'approval.submit' AND target = 'matter:$R1' AND outcome = 'ok' AND (detail->>'custodian_index')::int = 3")"
# released R: wait, download, open; exactly the scope's records
release() {
	as lisa matter wait "$1" --timeout 120 --interval 1
	check_eq "$2: ready" 0 "$rc"
	as lisa matter download "$1" --out "$D/$1.coffer" \
	    --key "$APF_DIR/lisa.xkey" --open "$D/$1.open" \
	    --passphrase-file "$APF_DIR/lisa.pass"
	check_eq "$2: download --open" 0 "$rc"
	if [ "$rc" != 0 ]; then
	sed 's/^/     /' "$D/err"
	echo "     the API's log, last lines:"
	tail -25 "$APF_LOG" | sed 's/^/     /'
	q "SELECT pid, state, wait_event_type, wait_event, now() - xact_start, left(query, 80) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()" | sed 's/^/     /'
fi
	check_eq "$2: exactly the scope's records" "5 regulator 0,regulator 2,regulator 4,regulator 6,regulator 8" \
	    "$(python3 -c '
import json, sys
def bodies(v):
    if isinstance(v, dict):
        return [x for w in v.values() for x in bodies(w)]
    if isinstance(v, list):
        return [x for w in v for x in bodies(w)]
    if isinstance(v, str) and v.startswith("{"):
        try:
            return bodies(json.loads(v))
        except ValueError:
            return []
    return [v] if isinstance(v, str) and v.startswith("regulator ") else []
rows = [json.loads(l) for l in open(sys.argv[1])]
found = sorted(set(b for r in rows for b in bodies(r)))
print(("%d " % len(rows)) + ",".join(found) if found else "keys: " + " ".join(sorted(rows[0])))' \
	    "$D/$1.open/records.jsonl" 2>&1)"
}
release "$R1" "required"
apf_call lisa GET "/v1/matters/$R1"
check_eq "d3p_approved after" True "$(apf_get d3p_approved)"

# -- rule excluded -----------------------------------------------------------------------
ctl tenant set-d3p-rule --tenant rr --rule excluded
check_eq "set-d3p-rule excluded" 0 "$rc"
create regulator-request "SEC request 2"
R2=$M
approve "the third party on R2" d3p 3 "$R2"
err_is "excluded: the third party's approval is refused" 1 \
    "cofferctl: approve: approval refused: HTTP 403 d3p_excluded: this tenant's regulator requests exclude the designated third party (regulator_d3p = excluded)"
approve "cus1 on R2" cus1 1 "$R2"
approve "cus2 on R2" cus2 2 "$R2"
check_eq "excluded: 1 + 2 release" 0 "$rc"
release "$R2" "excluded"

# -- rule allowed ------------------------------------------------------------------------
ctl tenant set-d3p-rule --tenant rr --rule allowed
check_eq "set-d3p-rule allowed" 0 "$rc"
create regulator-request "SEC request 3"
R3=$M
approve "cus1 on R3" cus1 1 "$R3"
approve "the third party on R3" d3p 3 "$R3"
check_eq "allowed: 1 + the third party release" 0 "$rc"
if [ "$rc" != 0 ]; then
	sed 's/^/     /' "$D/err"
	echo "     the API's log, last lines:"
	tail -25 "$APF_LOG" | sed 's/^/     /'
	q "SELECT pid, state, wait_event_type, wait_event, now() - xact_start, left(query, 80) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()" | sed 's/^/     /'
fi
release "$R3" "allowed"
check_eq "no held message outside rule required" "" "$(held_detail "$R3" 3)"
finish
