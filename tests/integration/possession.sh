#!/bin/sh
# tests/integration/possession.sh — share health: periodic proofs of
# possession (issue 16) through the real API and cofferctl, 2-of-3 tenant.
#
#   - three custodians prove (`cofferctl share prove`): `share health`
#     shows 3 proven (exit 0), the metrics say proven 3, not proven 0, no
#     tenant below its threshold; before any proof: 0 of 3, exit 2
#   - custodian 3's share file corrupted (one byte flipped), or a wrong
#     passphrase: `share prove` fails with the exact message and asks the
#     API for nothing (no challenge row)
#   - forged answers: random p/proof by curl, a real proof made with
#     custodian 1's share under custodian 3's certificate (test tool
#     popanswer; cofferctl refuses the mix itself): 422 proof_failed with
#     the exact message, recorded 'failed' (it survives its own refusal);
#     health shows custodian 3 failed; metrics 2 proven, 1 not proven
#   - a challenge answered after expiry 410, answered twice 409, another
#     custodian's 404, a legal user 403 on every route, a custodian with
#     no current share 409 no_current_share, a generation changed under a
#     challenge 409 generation_changed
#   - a second custodian failing takes the tenant below K: the metric
#     tenants_below_threshold_proven is 1 and `share health` exits 2; a
#     new good proof brings custodian 3 back
#   - a proof older than possession_window_days no longer counts
#   - a second tenant's seats add to the sums (no tenant label anywhere)
#   - every request is audited (possession.*), the answer with its p and
#     proof and verdict; no event carries share material
# Runs inside tests/pg-harness.sh.
set -u
ROOT=$(pwd)
. "$ROOT/tests/lib/gateway-fixture.sh"
. "$ROOT/tests/lib/api-fixture.sh"
GWF_NO_TRAP=1
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"
CK_NAME=possession
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

PA="$GWF_BUILD/tests/tools/popanswer"
[ -x "$PA" ] || die "$PA not built (make)"
gwf_init || die "gateway fixture"
D=$GWF_DIR/pop
mkdir -p "$D" && chmod 0700 "$D"
SH=$GWF_DIR/tenants/pop
GWF_CUSTODIANS=3 GWF_THRESHOLD=2
export GWF_CUSTODIANS GWF_THRESHOLD
gwf_server_cert && gwf_tenant pop || die "tenant"
apf_user pop adm admin && apf_user pop aud auditor && apf_user pop lisa legal &&
    for i in 1 2 3; do apf_user pop "cus$i" custodian "$i" || exit 1; done ||
    die "people"
apf_config && apf_start || die "coffer-api start"
TID=$(q "SELECT tenant_id FROM coffer.tenants WHERE name = 'pop'")

# as WHO ARGS...: cofferctl as person WHO; stdout in $D/out, stderr in
# $D/err, exit status in $rc.
as() {
	as_who=$1
	shift
	COFFER_API_URL="https://127.0.0.1:$APF_PORT" COFFER_CA="$GWF_SRV_CA" \
	    COFFER_CERT="$APF_PEOPLE/$as_who.crt" \
	    COFFER_KEY="$APF_PEOPLE/$as_who.key" \
	    "$GWF_CTL" "$@" >"$D/out" 2>"$D/err" </dev/null
	rc=$?
}
# prove WHO SHARE PASSFILE: cofferctl share prove as WHO
prove() {
	as "$1" share prove --share "$2" --passphrase-file "$3"
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
# out_is NAME RC TEXT: exit status RC and TEXT (exact) a line of stdout
out_is() {
	if [ "$rc" = "$2" ] && grep -qxF -- "$3" "$D/out"; then
		ok "$1"
	else
		bad "$1: exit $rc, stdout and stderr:"
		sed 's/^/     /' "$D/out" "$D/err"
	fi
}
# row INDEX: the status column of that custodian in `share health` ($D/out)
row() { awk -v i="$1" '$1 == i { print $3 " " $4 }' "$D/out"; }
# gauges: "proven not_proven below" from the API's metrics ("-" absent)
gauges() {
	curl -s "http://127.0.0.1:$APF_METRICS_PORT/metrics" 2>/dev/null | awk '
	    $1 == "coffer_api_custodians_proven" { p = $2 }
	    $1 == "coffer_api_custodians_not_proven" { n = $2 }
	    $1 == "coffer_api_tenants_below_threshold_proven" { b = $2 }
	    END { print (p == "" ? "-" : p) " " (n == "" ? "-" : n) " " \
	        (b == "" ? "-" : b) }'
}
# call WHO METHOD PATH [BODY]: apf_call, then "CODE ERROR-CODE" in $got
call() {
	apf_call "$@"
	got="$APF_CODE $(apf_get error.code)"
}
msg() { apf_get error.message; }
challenges_of() {
	q "SELECT count(*) FROM coffer.possession_challenges c JOIN coffer.users u
	   USING (tenant_id, user_id) WHERE u.name = '$1'"
}

# -- help ---------------------------------------------------------------------
for s in "share prove" "share health"; do
	# shellcheck disable=SC2086  # "verb subcommand": two words
	"$GWF_CTL" $s --help >"$D/out" 2>&1
	check_eq "$s --help exits 0" 0 "$?"
done
as cus1 share prove
err_is "prove without --share" 2 "cofferctl: share prove: --share is required"

# -- before any proof -------------------------------------------------------------
as adm share health
out_is "no proof yet: 0 of 3, exit 2" 2 "proven 0 of 3 (threshold 2)"
check_eq "no proof yet: every seat not proven" "not proven" "$(row 2)"
check_eq "gauges before any proof (proven, not proven, below K)" "0 3 1" "$(gauges)"

# -- three custodians prove -------------------------------------------------------
for i in 1 2 3; do
	prove "cus$i" "$SH/out/pop-custodian-$i.share" "$SH/pass$i"
	out_is "custodian $i proves possession" 0 \
	    "custodian $i of tenant pop, generation 1: possession proven"
done
as aud share health
out_is "health: 3 of 3, exit 0" 0 "proven 3 of 3 (threshold 2)"
check_eq "health: custodian 3 proven" "proven" "$(row 3 | cut -d' ' -f1)"
check_eq "gauges: 3 proven, 0 not proven, 0 below K" "3 0 0" "$(gauges)"
call aud GET /v1/possession
check "GET /v1/possession: tenant, generation, threshold, window, counts" \
    python3 -c "import json,sys; j=json.load(open(sys.argv[1]))
assert j['tenant_id'] == sys.argv[2], j
assert (j['generation'], j['threshold'], j['window_days']) == (1, 2, 90), j
assert (j['proven'], j['not_proven']) == (3, 0), j
assert [(c['index'], c['name'], c['status']) for c in j['custodians']] == \
    [(1, 'cus1', 'proven'), (2, 'cus2', 'proven'), (3, 'cus3', 'proven')], j
assert all(c['proven_at'].endswith('Z') for c in j['custodians']), j" \
    "$APF_OUT" "$TID"

# -- a share that does not open sends nothing -------------------------------------
python3 - "$SH/out/pop-custodian-3.share" "$D/c3.share" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[130] ^= 0x01          # inside the encrypted share
open(sys.argv[2], "wb").write(b)
PY
chmod 0600 "$D/c3.share"
before=$(challenges_of cus3)
prove cus3 "$D/c3.share" "$SH/pass3"
err_is "a corrupted share file does not open" 1 \
    "cofferctl: share prove: share file does not open: wrong passphrase or corrupted share file"
prove cus3 "$SH/out/pop-custodian-3.share" "$SH/pass1"
err_is "a wrong passphrase, the same message" 1 \
    "cofferctl: share prove: share file does not open: wrong passphrase or corrupted share file"
check_eq "neither asked the API for anything (challenges of custodian 3)" \
    "$before" "$(challenges_of cus3)"
prove cus3 "$SH/out/pop-custodian-1.share" "$SH/pass1"
err_is "custodian 1's share under custodian 3's certificate: refused locally" 1 \
    "cofferctl: share prove: this certificate holds custodian index 3 of the current generation, but $SH/out/pop-custodian-1.share is share 1; nothing was sent"

# -- forged answers: 422, recorded failed ------------------------------------------
python3 -c 'import os; print("{\"p\":\"%s\",\"proof\":\"%s\"}" % (os.urandom(32).hex(), os.urandom(64).hex()))' >"$D/random.json"
call cus3 POST /v1/possession/challenge
check_eq "custodian 3 gets a challenge" "201 " "$got"
C3=$(apf_get challenge_id)
cp "$APF_OUT" "$D/ch3.json"
check "the challenge: 32 random bytes, generation 1, index 3, 10 minutes" \
    python3 -c "import json,sys,datetime as d; j=json.load(open(sys.argv[1]))
assert len(bytes.fromhex(j['challenge'])) == 32 and j['generation'] == 1
assert j['custodian_index'] == 3 and j['tenant'] == 'pop', j
e = d.datetime.strptime(j['expires_at'], '%Y-%m-%dT%H:%M:%S.%fZ')
left = (e - d.datetime.utcnow()).total_seconds()
assert 500 < left <= 601, left" "$APF_OUT"
call cus3 POST "/v1/possession/$C3" "$D/random.json"
check_eq "random p and proof: 422" "422 proof_failed" "$got"
check_eq "the message" \
    "the proof does not verify against your public share of generation 1" "$(msg)"
check_eq "the failure is recorded (it survived its 422)" "failed" \
    "$(q "SELECT result FROM coffer.possession_challenges WHERE challenge_id = '$C3'")"
call cus3 POST /v1/possession/challenge
C3=$(apf_get challenge_id)
"$PA" "$SH/out/pop-custodian-1.share" "$SH/pass1" 3 "$APF_OUT" >"$D/forged.json" ||
    die "popanswer"
call cus3 POST "/v1/possession/$C3" "$D/forged.json"
check_eq "a real proof made with custodian 1's share for index 3: 422" \
    "422 proof_failed" "$got"
as cus1 share health
out_is "health: custodian 3 failed, 2 of 3 still at K (exit 0)" 0 \
    "proven 2 of 3 (threshold 2)"
check_eq "health: custodian 3's status" "failed" "$(row 3 | cut -d' ' -f1)"
check_eq "gauges: 2 proven, 1 not proven, 0 below K" "2 1 0" "$(gauges)"

# -- expired, used, another's, legal, no current share, generation changed ----------
call cus2 POST /v1/possession/challenge
C2=$(apf_get challenge_id)
"$PA" "$SH/out/pop-custodian-2.share" "$SH/pass2" 2 "$APF_OUT" >"$D/a2.json" ||
    die "popanswer"
q "UPDATE coffer.possession_challenges SET issued_at = now() - interval '20 minutes',
   expires_at = now() - interval '1 minute' WHERE challenge_id = '$C2'"
call cus2 POST "/v1/possession/$C2" "$D/a2.json"
check_eq "an expired challenge: 410" "410 challenge_expired" "$got"
check_eq "410's message" "this challenge has expired (a challenge is valid for 10 minutes); fetch a new one" "$(msg)"
call cus1 POST /v1/possession/challenge
C1=$(apf_get challenge_id)
"$PA" "$SH/out/pop-custodian-1.share" "$SH/pass1" 1 "$APF_OUT" >"$D/a1.json" ||
    die "popanswer"
call cus2 POST "/v1/possession/$C1" "$D/a1.json"
check_eq "another custodian's challenge: 404" "404 not_found" "$got"
call cus1 POST "/v1/possession/$C1" "$D/a1.json"
check_eq "the right answer: 200 proven" "200 proven" "$APF_CODE $(apf_get result)"
call cus1 POST "/v1/possession/$C1" "$D/a1.json"
check_eq "answered twice: 409" "409 challenge_used" "$got"
call cus1 POST /v1/possession/not-a-uuid "$D/a1.json"
check_eq "a malformed challenge id: 404" "404 not_found" "$got"
printf '{"p":"00","proof":"00","x":1}' >"$D/extra.json"
call cus1 POST /v1/possession/challenge
C1=$(apf_get challenge_id)
call cus1 POST "/v1/possession/$C1" "$D/extra.json"
check_eq "an unknown member: 400" "400 bad_request" "$got"
printf '{"p":"00","proof":"00"}' >"$D/short.json"
call cus1 POST "/v1/possession/$C1" "$D/short.json"
check_eq "short hex: 400, the challenge still open" "400 bad_request" "$got"
check_eq "... and not recorded" "" \
    "$(q "SELECT result FROM coffer.possession_challenges WHERE challenge_id = '$C1'")"
call lisa POST /v1/possession/challenge
check_eq "legal: no challenge (403)" "403 forbidden" "$got"
call lisa GET /v1/possession
check_eq "legal: no health (403)" "403 forbidden" "$got"
call lisa POST "/v1/possession/$C1" "$D/a1.json"
check_eq "legal: no answer (403)" "403 forbidden" "$got"
as lisa share health
err_is "share health as legal: the API's refusal" 1 \
    "cofferctl: share health: possession: HTTP 403 forbidden: the legal role may not do this"
call adm POST /v1/possession/challenge
check_eq "admin: no challenge (403)" "403 forbidden" "$got"

# a custodian account holding no share of the current generation
q "UPDATE coffer.users SET custodian_index = NULL WHERE name = 'cus2' AND tenant_id = '$TID'"
call cus2 POST /v1/possession/challenge
check_eq "no current share: 409" "409 no_current_share" "$got"
check_eq "409's message" "you hold no share of the current generation (1)" "$(msg)"
prove cus2 "$SH/out/pop-custodian-2.share" "$SH/pass2"
err_is "share prove says so" 1 \
    "cofferctl: share prove: challenge: HTTP 409 no_current_share: you hold no share of the current generation (1)"
call aud GET /v1/possession
check_eq "its seat is not counted" "2 [1, 3]" \
    "$(python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print(len(j['custodians']), [c['index'] for c in j['custodians']])" "$APF_OUT")"
q "UPDATE coffer.users SET custodian_index = 2 WHERE name = 'cus2' AND tenant_id = '$TID'"

# the shares re-dealt under an open challenge
call cus1 POST /v1/possession/challenge
C1=$(apf_get challenge_id)
"$PA" "$SH/out/pop-custodian-1.share" "$SH/pass1" 1 "$APF_OUT" >"$D/a1.json" ||
    die "popanswer"
q "UPDATE coffer.tenant_keys SET generation = 2 WHERE tenant_id = '$TID'"
call cus1 POST "/v1/possession/$C1" "$D/a1.json"
check_eq "generation changed: 409" "409 generation_changed" "$got"
check_eq "409's message" "the challenge is for share generation 1; the tenant's current generation is 2: fetch a new challenge" "$(msg)"
as aud share health
out_is "generation 2: no seat has proven it yet" 2 "proven 0 of 3 (threshold 2)"
q "UPDATE coffer.tenant_keys SET generation = 1 WHERE tenant_id = '$TID'"

# -- a second failure takes the tenant below K; a good proof brings it back -------
call cus2 POST /v1/possession/challenge
C2=$(apf_get challenge_id)
call cus2 POST "/v1/possession/$C2" "$D/random.json"
check_eq "custodian 2 fails too: 422" "422 proof_failed" "$got"
check_eq "gauges: 1 proven, 2 not proven, the tenant below K" "1 2 1" "$(gauges)"
as adm share health
out_is "health: 1 of 3 below K, exit 2" 2 "proven 1 of 3 (threshold 2)"
prove cus3 "$SH/out/pop-custodian-3.share" "$SH/pass3"
out_is "custodian 3 proves with its real share again" 0 \
    "custodian 3 of tenant pop, generation 1: possession proven"
check_eq "gauges: back at K (2 proven)" "2 1 0" "$(gauges)"

# -- the window ----------------------------------------------------------------------
q "UPDATE coffer.possession_challenges c SET answered_at = answered_at - interval '91 days'
   FROM coffer.users u WHERE u.tenant_id = c.tenant_id AND u.user_id = c.user_id
   AND u.name = 'cus1'"
as aud share health
check_eq "a proof older than 90 days no longer counts" "not proven" \
    "$(row 1 | cut -d' ' -f1,2)"
out_is "... so 1 of 3" 2 "proven 1 of 3 (threshold 2)"
prove cus1 "$SH/out/pop-custodian-1.share" "$SH/pass1"
check_eq "custodian 1 proves again" 0 "$rc"

# -- a second tenant adds to the sums ----------------------------------------------------
GWF_CUSTODIANS=2 GWF_THRESHOLD=2 gwf_tenant pop2 || die "tenant pop2"
apf_user pop2 p2cus1 custodian 1 && apf_user pop2 p2cus2 custodian 2 ||
    die "pop2 people"
prove p2cus1 "$GWF_DIR/tenants/pop2/out/pop2-custodian-1.share" \
    "$GWF_DIR/tenants/pop2/pass1"
out_is "a custodian of the second tenant proves" 0 \
    "custodian 1 of tenant pop2, generation 1: possession proven"
check_eq "gauges summed over both tenants (2+1 proven, 1+1 not, pop2 below K)" \
    "3 2 1" "$(gauges)"
check "no tenant is named on the metrics page" sh -c \
    "! curl -s http://127.0.0.1:$APF_METRICS_PORT/metrics | grep -q -w -e pop -e pop2 -e '$TID'"
as p2cus2 share health
out_is "the second tenant's own table" 2 "proven 1 of 2 (threshold 2)"

# -- audit ------------------------------------------------------------------------------
check_eq "every request audited by action (challenge, answer, list)" "t|t|t" \
    "$(q "SELECT bool_or(action = 'possession.challenge'),
          bool_or(action = 'possession.answer'),
          bool_or(action = 'possession.list') FROM coffer.audit_events
          WHERE tenant_id = '$TID'")"
check_eq "the forged answers are audited rejected, with the verdict and the answer" "2" \
    "$(q "SELECT count(*) FROM coffer.audit_events WHERE tenant_id = '$TID'
          AND action = 'possession.answer' AND outcome = 'rejected'
          AND detail ->> 'result' = 'failed'
          AND detail ->> 'proof' IS NOT NULL
          AND detail ->> 'custodian_index' = '3'")"
check_eq "refusals audited: expired, used, another's, legal, no share" "t|t|t|t|t" \
    "$(q "SELECT bool_or(detail ->> 'code' = 'challenge_expired'),
          bool_or(detail ->> 'code' = 'challenge_used'),
          bool_or(action = 'possession.answer' AND outcome = 'not-found'),
          bool_or(action = 'possession.list' AND outcome = 'denied'),
          bool_or(detail ->> 'code' = 'no_current_share')
          FROM coffer.audit_events WHERE tenant_id = '$TID'")"
check "the auditor role reads the challenges" sh -c \
    "PGUSER=auditor $PSQL -c 'SELECT count(*) FROM coffer.possession_challenges' >/dev/null"
finish
