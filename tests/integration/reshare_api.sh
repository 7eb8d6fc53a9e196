#!/bin/sh
# tests/integration/reshare_api.sh — the API side of re-sharing a tenant
# key (issue 16), driven with curl and people certificates, no cofferctl
# crypto: every refusal of the /v1/reshares routes with its exact code and
# message (plan shapes, unknown recipients, one open re-share, the
# proposer's other accounts, states, dealings by the wrong custodian, index,
# generation or shape, E_0 not the dealer's V_i, reports by a
# non-recipient, too early, with an unknown dealer or another transcript,
# twice), a re-share that fails (every dealer reported) and one the API
# finalises from dealings made of public points (E_0 = V_i: C'_0 = T holds,
# so generation 2, its seats, K/N and the custodians' indices move), then
# the approval generation rules on that tenant: a retired custodian gets
# 403 no_current_share, a re-seated one approving with its generation-1
# share 409 share_retired, and GET /v1/matters/{id} shows the generation.
# The happy path with real dealings is ctl_reshare's (cofferctl).  Runs
# inside tests/pg-harness.sh.
set -u
ROOT=$(pwd)
. "$ROOT/tests/lib/gateway-fixture.sh"
. "$ROOT/tests/lib/api-fixture.sh"
GWF_NO_TRAP=1
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"
CK_NAME=reshare_api
. "$ROOT/tests/lib/check.sh"
logs_tail() {
	[ -n "${APF_LOG:-}" ] && [ -f "$APF_LOG" ] && tail -15 "$APF_LOG" | sed 's/^/  api: /'
}
CK_DIE_HOOK=logs_tail
q() { $PSQL -c "$1"; }
cleanup() {
	[ -n "${RSAPI_KEEP_LOG:-}" ] && [ -f "${APF_LOG:-}" ] && cp "$APF_LOG" "$RSAPI_KEEP_LOG"
	apf_cleanup
	gwf_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

gwf_init || die "gateway fixture"
D=$GWF_DIR/rs
mkdir -p "$D" && chmod 0700 "$D"
CTL=$GWF_CTL
gwf_server_cert && GWF_CUSTODIANS=3 GWF_THRESHOLD=2 gwf_tenant rs ||
    die "tenant"
apf_user rs adam admin && apf_user rs ada admin && apf_user rs aud auditor &&
    apf_user rs lisa legal && apf_keygen rs lisa &&
    apf_user rs c1 custodian 1 && apf_user rs c2 custodian 2 &&
    apf_user rs c3 custodian 3 && apf_user rs r1 custodian &&
    apf_user rs r2 custodian && apf_user rs r4 custodian &&
    apf_user rs gone custodian || die "people"
gwf_run "user issue adam2" "$CTL" user issue --tenant rs --name adam2 \
    --role admin --person adam --out "$APF_PEOPLE" || die "adam2"
gwf_run "user revoke gone" "$CTL" user revoke --tenant rs --name gone ||
    die "revoke gone"
apf_config && apf_start || die "coffer-api start"

body() { printf '%s\n' "$1" >"$D/b.json"; }
echo '{}' >"$D/empty.json"
err3() { echo "$APF_CODE $(apf_get error.code) $(apf_get error.message)"; }
# FIELD of the answer: a dotted path whose numeric steps index arrays
jget() {
	python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v if not isinstance(v, (dict, list)) else json.dumps(v))' "$APF_OUT" "$1" 2>/dev/null
}
jlen() { jget "$1" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'; }
hex() { python3 -c 'import os, sys; print(os.urandom(int(sys.argv[1])).hex())' "$1"; }
TID=$(q "SELECT tenant_id FROM coffer.tenants WHERE name = 'rs'")
# V_i of the current generation (hex), valid group elements for forging
V() { q "SELECT encode(public_shares[$1], 'hex') FROM coffer.tenant_keys WHERE tenant_id = '$TID'"; }
V1=$(V 1) V2=$(V 2) V3=$(V 3)
K1=$(hex 32) K2=$(hex 32) K3=$(hex 32)
gen() { q "SELECT generation FROM coffer.tenant_keys WHERE tenant_id = '$TID'"; }
idx() { q "SELECT coalesce(custodian_index::text, 'null') FROM coffer.users WHERE tenant_id = '$TID' AND name = '$1'"; }
events() { q "SELECT count(*) FROM coffer.audit_events WHERE tenant_id = '$TID' AND action = '$1' AND outcome = 'ok'"; }
plan() {   # plan K NAME:KEY... -> $D/b.json
	python3 - "$@" >"$D/b.json" <<'PY'
import json, sys
k = int(sys.argv[1])
rec = [dict(zip(("name", "key"), a.split(":"))) for a in sys.argv[2:]]
print(json.dumps({"threshold": k, "recipients": rec, "reason": "custodian rotation"}))
PY
}
deal() {   # deal WHO RESHARE INDEX GEN "E0 E1..." NSEALED [SEALED-BYTES]
	python3 - "$3" "$4" "$5" "$6" "${7:-112}" >"$D/deal.json" <<'PY'
import json, os, sys
i, g, cs, n, sl = sys.argv[1:]
print(json.dumps({"dealer_index": int(i), "generation": int(g),
    "commitments": cs.split(), "sealed": [os.urandom(int(sl)).hex() for _ in range(int(n))]}))
PY
	apf_call "$1" POST "/v1/reshares/$2/dealings" "$D/deal.json"
}
report() {   # report WHO RESHARE INDEX "BAD..." TRANSCRIPT
	python3 - "$3" "$4" "$5" >"$D/rep.json" <<'PY'
import json, sys
print(json.dumps({"recipient_index": int(sys.argv[1]),
    "bad_dealers": [int(x) for x in sys.argv[2].split()], "transcript": sys.argv[3]}))
PY
	apf_call "$1" POST "/v1/reshares/$2/reports" "$D/rep.json"
}

# -- proposing ------------------------------------------------------------------
plan 2 "r1:$K1" "r2:$K2" "c3:$K3"
apf_call c1 POST /v1/reshares "$D/b.json"
check_eq "a custodian cannot propose" "403 forbidden the custodian role may not do this" "$(err3)"
plan 2 "r1:$K1"
apf_call adam POST /v1/reshares "$D/b.json"
check_eq "one recipient is refused" \
    '400 bad_request recipients must be an array of 2 to 255 {"name","key"} objects' "$(err3)"
plan 1 "r1:$K1" "r2:$K2"
apf_call adam POST /v1/reshares "$D/b.json"
check_eq "K' = 1 is refused" \
    "400 bad_request threshold must be an integer 2..2 (the number of recipients)" "$(err3)"
plan 3 "r1:$K1" "r2:$K2"
apf_call adam POST /v1/reshares "$D/b.json"
check_eq "K' > N' is refused" \
    "400 bad_request threshold must be an integer 2..2 (the number of recipients)" "$(err3)"
body "{\"threshold\":2,\"recipients\":[{\"name\":\"r1\",\"key\":\"$K1\"},{\"name\":\"r2\",\"key\":\"$K2\"}]}"
apf_call adam POST /v1/reshares "$D/b.json"
check_eq "a plan without a reason is refused" \
    "400 bad_request reason must be a string of 1 to 2000 characters" "$(err3)"
body "{\"threshold\":2,\"recipients\":[],\"reason\":\"x\",\"k\":1}"
apf_call adam POST /v1/reshares "$D/b.json"
check_eq "an unknown member is refused" \
    "400 bad_request unknown member 'k' in the re-share" "$(err3)"
body "{\"threshold\":2,\"recipients\":[{\"name\":\"r1\",\"key\":\"$K1\"},{\"name\":\"r2\",\"key\":\"$K2\",\"index\":2}],\"reason\":\"x\"}"
apf_call adam POST /v1/reshares "$D/b.json"
check_eq "an unknown member of a recipient is refused" \
    "400 bad_request unknown member 'index' in recipient #2" "$(err3)"
plan 2 "r1:$K1" "r2:zz$K2"
apf_call adam POST /v1/reshares "$D/b.json"
check_eq "a key that is not 64 hex digits is refused" \
    "400 bad_request recipient #2: key must be 64 hex digits (an X25519 public key)" "$(err3)"
plan 2 "r1:$K1" "r2:$(printf '%064d' 0)"
apf_call adam POST /v1/reshares "$D/b.json"
check_eq "an all-zero key is refused" "400 bad_request recipient #2: the key is all zeros" "$(err3)"
plan 2 "r1:$K1" "r2:$K2" "r1:$K3"
apf_call adam POST /v1/reshares "$D/b.json"
check_eq "a name twice is refused" \
    "400 bad_request recipient #3: the same name as recipient #1" "$(err3)"
plan 2 "r1:$K1" "r2:$K1"
apf_call adam POST /v1/reshares "$D/b.json"
check_eq "a key twice is refused" \
    "400 bad_request recipient #2: the same key as recipient #1" "$(err3)"
plan 2 "r1:$K1" "r2 x:$K2"
apf_call adam POST /v1/reshares "$D/b.json"
check_eq "a name that is no user name is refused (not echoed)" \
    "400 bad_request recipient #2: name must be a user name (1 to 64 of A-Z a-z 0-9 . _ -)" "$(err3)"
plan 2 "r1:$K1" "nobody:$K2"
apf_call adam POST /v1/reshares "$D/b.json"
check_eq "an unknown recipient is refused" \
    "400 unknown_recipient recipient #2: no active custodian account named 'nobody'" "$(err3)"
plan 2 "ada:$K1" "r2:$K2"
apf_call adam POST /v1/reshares "$D/b.json"
check_eq "an admin is no recipient" \
    "400 unknown_recipient recipient #1: no active custodian account named 'ada'" "$(err3)"
plan 2 "r1:$K1" "gone:$K2"
apf_call adam POST /v1/reshares "$D/b.json"
check_eq "a revoked custodian is no recipient" \
    "400 unknown_recipient recipient #2: no active custodian account named 'gone'" "$(err3)"
check_eq "nothing was stored" 0 "$(q "SELECT count(*) FROM coffer.reshares")"

# -- a re-share every dealer of which is reported: failed ------------------------
plan 2 "r1:$K1" "r2:$K2" "c3:$K3"
apf_call adam POST /v1/reshares "$D/b.json"
check_eq "adam proposes a 2-of-3 re-share (201 proposed)" \
    "201 proposed 1 2 3 2 3" \
    "$APF_CODE $(apf_get state) $(apf_get from_generation) $(apf_get threshold) $(apf_get custodians) $(apf_get new_threshold) $(apf_get new_custodians)"
R1=$(apf_get reshare_id)
check_eq "recipient indices follow the plan; tenant_key is generation 1's" \
    "1 r1 $K1 3 c3 1 $V2 None None" \
    "$(jget recipients.0.index) $(jget recipients.0.name) $(jget recipients.0.key) $(jget recipients.2.index) $(jget recipients.2.name) $(apf_get tenant_key.generation) $(jget tenant_key.public_shares.1) $(apf_get transcript) $(apf_get approved_by)"
check_eq "the proposal is audited with the recipients' keys" "$K2" \
    "$(q "SELECT detail->'recipients'->1->>'key' FROM coffer.audit_events WHERE action = 'reshare.propose' AND outcome = 'ok'")"
apf_call ada POST /v1/reshares "$D/b.json"
check_eq "a second open re-share is refused" \
    "409 reshare_in_progress re-share $R1 of this tenant is proposed: finish or cancel it first" "$(err3)"
apf_call aud GET /v1/reshares
check_eq "an auditor lists it" "200 $R1 proposed None" \
    "$APF_CODE $(jget reshares.0.reshare_id) $(jget reshares.0.state) $(jget reshares.0.to_generation)"
apf_call c1 GET "/v1/reshares/$R1"
check_eq "a custodian reads it" "200 $R1 rs" "$APF_CODE $(apf_get reshare_id) $(apf_get tenant)"
apf_call lisa GET "/v1/reshares/$R1"
check_eq "legal may not read re-shares" "403 forbidden the legal role may not do this" "$(err3)"
apf_call aud GET /v1/reshares/7d0c1a52-1f7e-4c55-8a4d-2f1b6c9e0a11
check_eq "an unknown re-share is 404" "404 not_found no such re-share" "$(err3)"
deal c1 "$R1" 1 1 "$V1 $V2" 3
check_eq "no dealing while proposed" "409 wrong_state the re-share is proposed" "$(err3)"
report r1 "$R1" 1 "" "$(hex 32)"
check_eq "no report while proposed" "409 wrong_state the re-share is proposed" "$(err3)"

apf_call adam POST "/v1/reshares/$R1/approve" "$D/empty.json"
SAME="403 same_person the proposer of a re-share cannot approve it (under any of their accounts)"
check_eq "the proposer cannot approve" "$SAME" "$(err3)"
apf_call adam2 POST "/v1/reshares/$R1/approve" "$D/empty.json"
check_eq "nor under their other admin account" "$SAME" "$(err3)"
apf_call c2 POST "/v1/reshares/$R1/approve" "$D/empty.json"
check_eq "a custodian cannot approve" "403 forbidden the custodian role may not do this" "$(err3)"
body '{"why":1}'
apf_call ada POST "/v1/reshares/$R1/approve" "$D/b.json"
check_eq "an approval takes no members" "400 bad_request unknown member 'why' in the approval" "$(err3)"
apf_call ada POST "/v1/reshares/$R1/approve"
check_eq "another person approves (empty body): dealing" "200 dealing ada" \
    "$APF_CODE $(apf_get state) $(apf_get approved_by.name)"
apf_call ada POST "/v1/reshares/$R1/approve" "$D/empty.json"
check_eq "approving twice is refused" "409 wrong_state the re-share is dealing" "$(err3)"
plan 2 "r1:$K1" "r2:$K2"
apf_call ada POST /v1/reshares "$D/b.json"
check_eq "still one open re-share while dealing" \
    "409 reshare_in_progress re-share $R1 of this tenant is dealing: finish or cancel it first" "$(err3)"

# dealings
deal adam "$R1" 1 1 "$V1 $V2" 3
check_eq "an admin cannot deal" "403 forbidden the admin role may not do this" "$(err3)"
deal r1 "$R1" 1 1 "$V1 $V2" 3
check_eq "a custodian holding no share cannot deal" \
    "403 no_current_share you hold no share of the current generation (1)" "$(err3)"
deal c1 "$R1" 2 1 "$V2 $V1" 3
check_eq "a dealer deals only with its own index" \
    "403 wrong_custodian_index you hold share 1; you may deal only with that index" "$(err3)"
deal c1 "$R1" 1 2 "$V1 $V2" 3
check_eq "a dealing of another generation is refused" \
    "409 generation_changed the re-share deals generation 1; your share is of generation 2" "$(err3)"
deal c1 "$R1" 1 1 "$V1" 3
check_eq "K' commitments are required" "400 bad_request commitments: expected K' = 2, got 1" "$(err3)"
deal c1 "$R1" 1 1 "$V1 ${V2}00" 3
check_eq "a commitment is 32 bytes" "400 bad_request commitments #2: expected 32 bytes" "$(err3)"
deal c1 "$R1" 1 1 "$V1 $V2" 2
check_eq "N' sealed sub-shares are required" "400 bad_request sealed: expected N' = 3, got 2" "$(err3)"
python3 - "$D/deal.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["sealed"].append(d["sealed"][0][:-2])
json.dump(d, open(sys.argv[1], "w"))
PY
apf_call c1 POST "/v1/reshares/$R1/dealings" "$D/deal.json"
check_eq "a sealed sub-share is 112 bytes" "400 bad_request sealed #3: expected 112 bytes" "$(err3)"
deal c1 "$R1" 1 1 "$V2 $V3" 3
check_eq "E_0 must be the dealer's public share" \
    "422 bad_dealing E_0 is not the dealer's public share: the dealing is not of the dealer's own share" "$(err3)"
deal c1 "$R1" 1 1 "$V1 $(printf '%064d' 0)" 3
check_eq "every commitment must be a group element" \
    "422 bad_dealing commitment E_1 is not a valid group element" "$(err3)"
body "{\"dealer_index\":1,\"generation\":1,\"commitments\":[],\"sealed\":[],\"extra\":0}"
apf_call c1 POST "/v1/reshares/$R1/dealings" "$D/b.json"
check_eq "a dealing with an unknown member is refused" \
    "400 bad_request unknown member 'extra' in the dealing" "$(err3)"
check_eq "no refused dealing was stored" 0 "$(q "SELECT count(*) FROM coffer.reshare_dealings")"
deal c1 "$R1" 1 1 "$V1 $V2" 3
check_eq "custodian 1 deals (public points, E_0 = V_1)" "201 1 1" \
    "$APF_CODE $(apf_get dealer_index) $(apf_get dealings)"
deal c1 "$R1" 1 1 "$V1 $V3" 3
check_eq "a second dealing of one dealer is refused" \
    "409 already_dealt custodian 1 has dealt already" "$(err3)"
report r1 "$R1" 1 "" "$(hex 32)"
check_eq "no report before K dealings" \
    "409 too_few_dealings 1 dealings in, 2 needed: wait for more dealers" "$(err3)"
deal c2 "$R1" 2 1 "$V2 $V1" 3
check_eq "custodian 2 deals" "201 2" "$APF_CODE $(apf_get dealings)"
apf_call c1 GET "/v1/reshares/$R1"
T1=$(apf_get transcript) S1=$(apf_get transcript_short)
check_eq "the API serves the dealings and its transcript" "2 1 2 $V1 3 64 19" \
    "$(jlen dealings) $(jget dealings.0.dealer_index) $(jget dealings.1.dealer_index) $(jget dealings.0.commitments.0) $(jlen dealings.0.sealed) ${#T1} ${#S1}"

# reports
report c1 "$R1" 1 "" "$T1"
check_eq "a non-recipient cannot report" \
    "403 not_a_recipient you are not a recipient of this re-share" "$(err3)"
report r1 "$R1" 2 "" "$T1"
check_eq "a recipient reports only with its own index" \
    "403 wrong_recipient_index you are recipient 1 of this re-share; report with that index" "$(err3)"
report r1 "$R1" 1 "3" "$T1"
check_eq "a bad dealer must have dealt" "400 bad_request bad_dealers: dealer 3 has not dealt" "$(err3)"
report r1 "$R1" 1 "1 1" "$T1"
check_eq "a bad dealer once" "400 bad_request bad_dealers: dealer 1 is listed twice" "$(err3)"
report r1 "$R1" 1 "" "zz"
check_eq "a transcript is 64 hex digits" "400 bad_request transcript must be 64 hex digits" "$(err3)"
report r1 "$R1" 1 "" "$(hex 32)"
check_eq "another transcript is refused" \
    "409 transcript_mismatch the dealings you checked are not the ones the API holds: fetch the re-share again" "$(err3)"
check_eq "no refused report was stored" 0 "$(q "SELECT count(*) FROM coffer.reshare_reports")"
report r1 "$R1" 1 "" "$T1"
check_eq "r1 reports (all dealings good): still dealing" "201 dealing 1" \
    "$APF_CODE $(apf_get state) $(jget reports.0.recipient_index)"
report r1 "$R1" 1 "" "$T1"
check_eq "reporting twice is refused" "409 already_reported recipient 1 has reported already" "$(err3)"
deal c3 "$R1" 3 1 "$V3 $V1" 3
check_eq "the first report closes dealing" \
    "409 dealing_closed recipients have started reporting: no more dealings" "$(err3)"
report r2 "$R1" 2 "1" "$T1"
check_eq "r2 reports dealer 1" "201 dealing" "$APF_CODE $(apf_get state)"
report c3 "$R1" 3 "2" "$T1"
check_eq "c3 (an old custodian, recipient 3) reports dealer 2: the last report fails the re-share" \
    "201 failed 0 of the 2 dealings needed were accepted by every recipient; excluded: dealer 1 (reported by r2), dealer 2 (reported by c3)" \
    "$APF_CODE $(apf_get state) $(apf_get failure)"
check_eq "nothing moved: generation 1, c1 holds 1, r1 none" "1 1 null" "$(gen) $(idx c1) $(idx r1)"
check_eq "reshare.fail is audited with the excluded dealers and their reporters" \
    '1 ["r2"] 2 ["c3"]' \
    "$(q "SELECT detail->'excluded'->0->>'dealer_index', detail->'excluded'->0->>'reported_by', detail->'excluded'->1->>'dealer_index', detail->'excluded'->1->>'reported_by' FROM coffer.audit_events WHERE action = 'reshare.fail'" | tr '|' ' ')"
apf_call ada POST "/v1/reshares/$R1/cancel" "$D/empty.json"
check_eq "a failed re-share cannot be cancelled" "409 wrong_state the re-share is failed" "$(err3)"

# -- cancel --------------------------------------------------------------------------
plan 2 "r1:$K1" "r2:$K2"
apf_call ada POST /v1/reshares "$D/b.json"
R2=$(apf_get reshare_id)
check_eq "a failed re-share is not open: a new one may be proposed" "201 proposed" \
    "$APF_CODE $(apf_get state)"
apf_call c1 POST "/v1/reshares/$R2/cancel" "$D/empty.json"
check_eq "a custodian cannot cancel" "403 forbidden the custodian role may not do this" "$(err3)"
apf_call ada POST "/v1/reshares/$R2/cancel" "$D/empty.json"
check_eq "the proposer cancels" "200 cancelled" "$APF_CODE $(apf_get state)"
apf_call adam POST "/v1/reshares/$R2/cancel" "$D/empty.json"
check_eq "cancelling twice is refused" "409 wrong_state the re-share is cancelled" "$(err3)"
apf_call adam POST "/v1/reshares/$R2/approve" "$D/empty.json"
check_eq "a cancelled re-share cannot be approved" "409 wrong_state the re-share is cancelled" "$(err3)"

# -- a re-share the API finalises ------------------------------------------------------
plan 2 "r1:$K1" "r2:$K2" "c3:$K3"
apf_call ada POST /v1/reshares "$D/b.json"
R3=$(apf_get reshare_id)
apf_call adam POST "/v1/reshares/$R3/approve" "$D/empty.json"
check_eq "R3 proposed by ada, approved by adam" "200 dealing" "$APF_CODE $(apf_get state)"
deal c2 "$R3" 2 1 "$V2 $V3" 3 && deal c3 "$R3" 3 1 "$V3 $V1" 3 &&
    deal c1 "$R3" 1 1 "$V1 $V2" 3
check_eq "three dealings, in any order" "201 3" "$APF_CODE $(apf_get dealings)"
apf_call aud GET "/v1/reshares/$R3"
T3=$(apf_get transcript)
report c3 "$R3" 3 "1" "$T3" && report r1 "$R3" 1 "" "$T3"
check_eq "two reports: still dealing" "201 dealing" "$APF_CODE $(apf_get state)"
report r2 "$R3" 2 "" "$T3"
check_eq "the last report finalises: Q = the K lowest dealers nobody reported" \
    "201 finalized 2 [2, 3] $T3 None" \
    "$APF_CODE $(apf_get state) $(apf_get to_generation) $(apf_get qualified) $(apf_get transcript) $(apf_get failure)"
check_eq "tenant_keys is at generation 2 with the same T (C'_0 = T)" "2 t 3 2" \
    "$(q "SELECT k.generation, k.commitments[1] = k.public_key, cardinality(k.public_shares), cardinality(k.commitments) FROM coffer.tenant_keys k WHERE k.tenant_id = '$TID'" | tr '|' ' ')"
check_eq "generation 2's row: reshare, K' = 2, N' = 3, the public shares of tenant_keys" \
    "reshare 2 3 t t" \
    "$(q "SELECT g.kind, g.threshold_k, g.custodians_n, g.reshare_id = '$R3', g.public_shares = k.public_shares FROM coffer.tenant_key_generations g JOIN coffer.tenant_keys k USING (tenant_id) WHERE g.tenant_id = '$TID' AND g.generation = 2" | tr '|' ' ')"
check_eq "the tenant's K and N are generation 2's" "2 3" \
    "$(q "SELECT threshold_k, custodians_n FROM coffer.tenants WHERE tenant_id = '$TID'" | tr '|' ' ')"
check_eq "indices moved: c1, c2 retired; r1 1, r2 2, c3 3" "null null 1 2 3" \
    "$(idx c1) $(idx c2) $(idx r1) $(idx r2) $(idx c3)"
check_eq "generation 2's seats" "1:r1 2:r2 3:c3" \
    "$(q "SELECT string_agg(s.custodian_index || ':' || u.name, ' ' ORDER BY s.custodian_index) FROM coffer.custodian_seats s JOIN coffer.users u USING (tenant_id, user_id) WHERE s.tenant_id = '$TID' AND s.generation = 2")"
check_eq "reshare.finalize is audited (qualified, excluded, transcript short form)" \
    "[2, 3] 1 c3 19" \
    "$(q "SELECT detail->>'qualified', detail->'excluded'->0->>'dealer_index', detail->'excluded'->0->'reported_by'->>0, length(detail->>'transcript') FROM coffer.audit_events WHERE action = 'reshare.finalize'" | tr '|' ' ')"
apf_call aud GET /v1/reshares
check_eq "the list, newest first" "$R3 finalized 2 $R2 cancelled $R1 failed" \
    "$(jget reshares.0.reshare_id) $(jget reshares.0.state) $(jget reshares.0.to_generation) $(jget reshares.1.reshare_id) $(jget reshares.1.state) $(jget reshares.2.reshare_id) $(jget reshares.2.state)"
apf_call c2 GET /v1/whoami
check_eq "a retired custodian still authenticates (index null)" "200 None" \
    "$APF_CODE $(apf_get custodian_index)"

# -- a re-share of generation 2: the retired and the re-seated ----------------------
plan 2 "r1:$K1" "r2:$K2"
apf_call adam POST /v1/reshares "$D/b.json"
R4=$(apf_get reshare_id)
apf_call ada POST "/v1/reshares/$R4/approve" "$D/empty.json"
check_eq "R4 deals generation 2" "200 2" "$APF_CODE $(apf_get from_generation)"
deal c1 "$R4" 1 1 "$V1 $V2" 2
check_eq "a retired custodian cannot deal" \
    "403 no_current_share you hold no share of the current generation (2) of the tenant key: your share of generation 1 is retired" "$(err3)"
deal r1 "$R4" 1 1 "$V1 $V2" 2
check_eq "a generation-1 dealing on a generation-2 re-share is refused" \
    "409 generation_changed the re-share deals generation 2; your share is of generation 1" "$(err3)"
deal r1 "$R4" 1 2 "$V1 $V2" 2
check_eq "E_0 must be V_1 of generation 2 now" \
    "422 bad_dealing E_0 is not the dealer's public share: the dealing is not of the dealer's own share" "$(err3)"
apf_call adam POST "/v1/reshares/$R4/cancel"
check_eq "R4 cancelled (empty body)" "200 cancelled" "$APF_CODE $(apf_get state)"

# -- approvals: only a share of the current generation --------------------------------
cat >"$D/matter.json" <<'EOF'
{"title":"generations","legal_basis":"test","scope":{"participants":["+15550190001"],"from":"2020-01-01T00:00:00Z","to":"2030-01-01T00:00:00Z"}}
EOF
apf_call lisa POST /v1/matters "$D/matter.json"
M=$(apf_get matter_id)
check_eq "a matter (nothing in scope)" 201 "$APF_CODE"
apf_call r1 GET "/v1/matters/$M"
check_eq "GET matter: tenant_key generation 2, K 2" "200 2 2" \
    "$APF_CODE $(apf_get tenant_key.generation) $(apf_get tenant_key.threshold)"
body '{"custodian_index":1,"partials":[]}'
apf_call c1 POST "/v1/matters/$M/approvals" "$D/b.json"
check_eq "a retired custodian cannot approve" \
    "403 no_current_share you hold no share of the current generation (2) of the tenant key: your share of generation 1 is retired" "$(err3)"
apf_call r4 POST "/v1/matters/$M/approvals" "$D/b.json"
check_eq "a custodian never seated cannot approve" \
    "403 no_current_share you hold no share of the current generation (2)" "$(err3)"
body '{"custodian_index":3,"generation":1,"partials":[]}'
apf_call c3 POST "/v1/matters/$M/approvals" "$D/b.json"
check_eq "a re-seated custodian approving with its generation-1 share" \
    "409 share_retired share generation 1 is retired: the tenant key is at generation 2 (re-shared); approve with your generation-2 share" "$(err3)"
body '{"custodian_index":3,"generation":"2","partials":[]}'
apf_call c3 POST "/v1/matters/$M/approvals" "$D/b.json"
check_eq "generation must be an integer" \
    "400 bad_request generation must be an integer >= 1 (the generation of your share)" "$(err3)"
body '{"custodian_index":1,"generation":2,"partials":[]}'
apf_call c3 POST "/v1/matters/$M/approvals" "$D/b.json"
check_eq "generation 2 passes the generation rules (the index rule next)" \
    "403 wrong_custodian_index you hold share 3; you may approve only with that index" "$(err3)"
check_eq "refusals are audited with the generation" 5 \
    "$(q "SELECT count(*) FROM coffer.audit_events WHERE action = 'approval.submit' AND (detail->>'generation')::int = 2 AND outcome <> 'ok'")"
# an approval of generation 1 (written by the owner): shown with its generation
q "INSERT INTO coffer.approvals (tenant_id, matter_id, custodian_index, user_id, partials, blind_id, generation) SELECT m.tenant_id, m.matter_id, 2, u.user_id, '{}', m.blind_id, 1 FROM coffer.matters m, coffer.users u WHERE m.matter_id = '$M' AND u.tenant_id = m.tenant_id AND u.name = 'c2'" ||
    die "approval row"
apf_call aud GET "/v1/matters/$M"
check_eq "approvals carry their generation" "200 c2 1" \
    "$APF_CODE $(jget approvals.0.name) $(jget approvals.0.generation)"

# -- every route audited -------------------------------------------------------------
check_eq "route events: propose, approve, cancel, deal, report; finalize, fail" \
    "4 3 2 5 6 1 1" \
    "$(events reshare.propose) $(events reshare.approve) $(events reshare.cancel) $(events reshare.deal) $(events reshare.report) $(events reshare.finalize) $(events reshare.fail)"
check_eq "refusals are audited too (no_current_share deals)" 2 \
    "$(q "SELECT count(*) FROM coffer.audit_events WHERE action = 'reshare.deal' AND detail->>'code' = 'no_current_share'")"
check "no submitted key bytes in the API log" sh -c "! grep -q '$K1' '$APF_LOG'"

finish
