#!/bin/sh
# tests/integration/two_person.sh — issue 13.6: two persons for destructive
# or releasing acts.  The attacker: one person holding several accounts
# (admin adam and adam2; legal lisa with a custodian account lisa-c, a
# second legal account lisa2 and an admin account lisa-adm).  Before
# migration 0009 one admin cut retention alone (PUT /v1/retention answered
# 200), one admin or legal user released any hold alone, and lisa-c could
# approve lisa's own matter.  Now: lowering the floor, shortening
# retention, releasing a hold and closing a matter that has a production
# only propose (202 and a request id); the proposer, under any of their
# accounts, is refused (403 same_person); a second person's approval
# applies the act.  cofferctl (the owner's tool) refuses the same acts.
# Then the acceptance scenario: a matter open on a participant, retention
# 1 day by two persons (after the floor was lowered by two persons), purge:
# the in-scope records survive and the output names the matter; the matter
# (with its production) is closed by two persons and the next purge
# disposes of them.  Real gateway, API (certificates), PostgreSQL and
# cofferctl.  Runs inside tests/pg-harness.sh.
set -u
ROOT=$(pwd)
. "$ROOT/tests/lib/gateway-fixture.sh"
. "$ROOT/tests/lib/api-fixture.sh"
GWF_NO_TRAP=1
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"
CK_NAME=two_person
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
gwf_server_cert && GWF_CUSTODIANS=3 GWF_THRESHOLD=2 gwf_tenant tp &&
    gwf_device tp phone-1 && gwf_node tp-node || die "set-up eleven days ago"
GWF_CTL=$CTL
gwf_config "epoch_records = 6" && gwf_start || die "gateway start"
apf_user tp lisa legal && apf_keygen tp lisa && apf_user tp lena legal &&
    apf_user tp adam admin && apf_user tp ada admin &&
    apf_user tp cus2 custodian 2 && apf_user tp cus3 custodian 3 ||
    die "people"
# lisa's other accounts: one person, four accounts
gwf_run "user issue lisa-c" "$CTL" user issue --tenant tp --name lisa-c \
    --role custodian --custodian-index 1 --person lisa --out "$APF_PEOPLE" ||
    die "lisa-c"
gwf_run "user issue lisa2" "$CTL" user issue --tenant tp --name lisa2 \
    --role legal --person lisa --out "$APF_PEOPLE" || die "lisa2"
gwf_run "user issue lisa-adm" "$CTL" user issue --tenant tp --name lisa-adm \
    --role admin --person lisa --out "$APF_PEOPLE" || die "lisa-adm"
ADAM_P=$(q "SELECT person_id FROM coffer.users WHERE name = 'adam'")
"$CTL" user issue --tenant tp --name adam2 --role admin --person "$ADAM_P" \
    --out "$APF_PEOPLE" >"$D/out" 2>&1 || die "adam2: $(cat "$D/out")"
check "user issue prints the person" grep -q " person $ADAM_P\$" "$D/out"
"$CTL" user issue --tenant tp --name eve --role admin --person nobody \
    --out "$APF_PEOPLE" >"$D/out" 2>&1
check_eq "--person naming no person is refused" \
    "1 cofferctl: tenant tp has no person 'nobody'" "$? $(head -1 "$D/out")"
"$CTL" user list --tenant tp >"$D/out" 2>&1
check_eq "user list shows the person: lisa's four accounts share one" 4 \
    "$(grep -c " $(q "SELECT person_id FROM coffer.users WHERE name = 'lisa'")\$" "$D/out")"
check_eq "persons: lisa, lena, adam, ada, cus2, cus3 (adam2 and lisa's other accounts add none)" 6 \
    "$(q "SELECT count(*) FROM coffer.persons")"
apf_config && apf_start || die "coffer-api start"

# 30 records sent (and received) 10 days ago: k % 3 == 0 (10) from the matter's
# participant, the others between two other people.
python3 - >"$D/in.ndjson" <<'PY'
import json, time
t0 = time.time() - 10 * 86400
for k in range(30):
    who = "+15550190001" if k % 3 == 0 else "+15550190002"
    print(json.dumps({"id": "tp-%d" % k,
        "channel": ["whatsapp", "signal"][k % 2],
        "conversation": "conv-tp-%d" % (k % 4), "direction": "out",
        "sender": who, "recipients": ["+15550190003"],
        "sent_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + 60 * k)),
        "body": "two persons %d" % k}))
PY
code=$(gwf_curl phone-1 -o "$D/in.out" -w '%{http_code}' \
    -H 'Content-Type: application/x-ndjson' --data-binary "@$D/in.ndjson" \
    "$(gwf_url v1/records)" 2>/dev/null) || code=000
check_eq "30 records stored" "200 30" "$code $(grep -c '"stored"' "$D/in.out")"
records() { q "SELECT count(*) FROM coffer.records"; }
floor() { q "SELECT retention_floor_days FROM coffer.tenants WHERE name = 'tp'"; }
policy() { q "SELECT coalesce(retention::text, 'forever') FROM coffer.retention_policies WHERE channel = '${1:-*}'"; }
status_of() { q "SELECT status FROM coffer.dual_requests WHERE request_id = '$1'"; }
events() { q "SELECT count(*) FROM coffer.audit_events WHERE action = '$1' AND detail->>'two_person' = '$2'"; }
body() { printf '%s\n' "$1" >"$D/b.json"; }
echo '{}' >"$D/empty.json"
approve() { apf_call "$1" POST "/v1/requests/$2/approve" "$D/empty.json"; }
SAME="403 same_person a second, different person must approve: the proposer cannot approve their own request, under any of their accounts"
err3() { echo "$APF_CODE $(apf_get error.code) $(apf_get error.message)"; }

# -- the floor -----------------------------------------------------------------
check_eq "a new tenant's floor is 6 years" 2192 "$(floor)"
body '{"days": 1}'
apf_call adam PUT /v1/retention "$D/b.json"
check_eq "retention below the floor is refused (API)" \
    "409 below_floor retention of 1 days is below the tenant's regulatory floor of 2192 days (lowering the floor needs two persons)" \
    "$(err3)"
"$CTL" retention set --tenant tp --days 1 >"$D/out" 2>&1
check_eq "retention below the floor is refused (cofferctl)" \
    "1 cofferctl: retention of 1 days is below the tenant's regulatory floor of 2192 days (lowering the floor needs two persons)" \
    "$? $(cat "$D/out")"
q "INSERT INTO coffer.retention_policies (tenant_id, channel, retention, updated_by) SELECT tenant_id, 'sms', '30 days', 'owner' FROM coffer.tenants WHERE name = 'tp'" >"$D/out" 2>&1
check "below the floor even for the database owner's INSERT (trigger)" \
    grep -q "retention 30 days is below the tenant's regulatory floor of 2192 days" "$D/out"
"$CTL" retention floor --tenant tp --days 1 >"$D/out" 2>&1
check_eq "cofferctl does not lower the floor" \
    "1 cofferctl: lowering the regulatory floor (2192 -> 1 days) needs two persons: an admin proposes it with PUT /v1/retention/floor and another person's admin account approves it with POST /v1/requests/ID/approve" \
    "$? $(cat "$D/out")"
apf_call adam PUT /v1/retention/floor "$D/b.json"
check_eq "one admin lowering the floor only proposes (202 pending)" "202 pending" \
    "$APF_CODE $(apf_get status)"
RF=$(apf_get request_id)
check_eq "the floor is unchanged while the request waits" 2192 "$(floor)"
apf_call adam PUT /v1/retention/floor "$D/b.json"
check_eq "a second proposal for the same act is refused" \
    "409 request_pending a request for this is pending already: $RF (approve or refuse it)" "$(err3)"
approve adam "$RF"
check_eq "the proposer cannot approve" "$SAME" "$(err3)"
approve adam2 "$RF"
check_eq "the proposer's other admin account cannot approve either" "$SAME" "$(err3)"
approve lena "$RF"
check_eq "a legal person cannot approve a floor change" \
    "403 forbidden retention.floor tenant:$(q "SELECT tenant_id FROM coffer.tenants WHERE name = 'tp'") needs an admin person's approval" \
    "$(err3)"
check_eq "still 2192 days after three refused approvals" 2192 "$(floor)"
approve ada "$RF"
check_eq "a second admin person approves: the floor is 1 day" "200 approved 1" \
    "$APF_CODE $(apf_get status) $(floor)"
approve ada "$RF"
check_eq "an approved request cannot be approved again" \
    "409 request_decided the request is approved already" "$(err3)"
check_eq "audit: retention.floor proposed, then applied with both persons" \
    "1 1 $(q "SELECT user_id FROM coffer.users WHERE name = 'adam'") $(q "SELECT user_id FROM coffer.users WHERE name = 'ada'")" \
    "$(events retention.floor proposed) $(events retention.floor approved) $(q "SELECT detail->>'proposed_by_user_id', detail->>'approved_by_user_id' FROM coffer.audit_events WHERE action = 'retention.floor' AND detail->>'two_person' = 'approved'" | tr '|' ' ')"
body '{"days": 3000}'
apf_call adam PUT /v1/retention/floor "$D/b.json"
check_eq "raising the floor is one admin's act" "200 3000" "$APF_CODE $(floor)"
body '{"days": 1}'
apf_call adam PUT /v1/retention/floor "$D/b.json"
RF2=$(apf_get request_id)
"$CTL" retention floor --tenant tp --days 3100 >/dev/null 2>&1 || bad "cofferctl raises the floor"
approve ada "$RF2"
check_eq "a request whose premise changed is superseded (and recorded so)" \
    "409 request_superseded the request is superseded: the floor changed since it was proposed superseded 3100" \
    "$(err3) $(status_of "$RF2") $(floor)"
apf_call adam PUT /v1/retention/floor "$D/b.json"
RF3=$(apf_get request_id)
q "UPDATE coffer.dual_requests SET created_at = now() - interval '4 days', expires_at = now() - interval '1 day' WHERE request_id = '$RF3'" >/dev/null
approve ada "$RF3"
check_eq "an expired request is refused (and recorded so)" \
    "409 request_expired the request is expired: propose it again expired" \
    "$(err3) $(status_of "$RF3")"
apf_call adam PUT /v1/retention/floor "$D/b.json"
RF4=$(apf_get request_id)
approve ada "$RF4"
check_eq "proposed again, approved by another person: floor 1" "200 1" "$APF_CODE $(floor)"

# -- retention -------------------------------------------------------------------
body '{"days": 3650}'
apf_call adam PUT /v1/retention "$D/b.json"
check_eq "the tenant's first policy is one admin's act" "200 3650 days" \
    "$APF_CODE $(policy)"
body '{"channel": "signal", "forever": true}'
apf_call adam PUT /v1/retention "$D/b.json"
check_eq "lengthening is one admin's act" "200 forever" "$APF_CODE $(policy signal)"
"$CTL" retention set --tenant tp --days 2 >"$D/out" 2>&1
check_eq "cofferctl refuses to shorten" \
    "1 cofferctl: shortening retention (channel *: 3650 days -> 2 days) needs two persons: an admin proposes it with PUT /v1/retention and another person's admin account approves it with POST /v1/requests/ID/approve" \
    "$? $(cat "$D/out")"
body '{"channel": "signal", "days": 1}'
apf_call adam PUT /v1/retention "$D/b.json"
check_eq "shortening signal (forever -> 1 day) only proposes" "202 pending forever" \
    "$APF_CODE $(apf_get status) $(policy signal)"
RS=$(apf_get request_id)
approve adam2 "$RS"
check_eq "the same person under another admin account is refused" "$SAME" "$(err3)"
approve lisa-adm "$RS"
check_eq "another admin account approves: signal 1 day" "200 1 day" "$APF_CODE $(policy signal)"
body '{"days": 1}'
apf_call adam PUT /v1/retention "$D/b.json"
RS2=$(apf_get request_id)
check_eq "shortening '*' to 1 day only proposes" "202 3650 days" "$APF_CODE $(policy)"
approve adam "$RS2"
check_eq "one admin alone cannot cut retention" "$SAME" "$(err3)"
check_eq "retention unchanged" "3650 days" "$(policy)"
approve ada "$RS2"
check_eq "with a second admin person: retention 1 day" "200 1 day" "$APF_CODE $(policy)"
check_eq "audit: the effect event names both persons' accounts" 2 \
    "$(q "SELECT count(*) FROM coffer.audit_events WHERE action = 'retention.set' AND detail->>'two_person' = 'approved' AND detail ? 'proposed_by_user_id' AND detail ? 'approved_by_user_id'")"

# -- holds ------------------------------------------------------------------------
body '{"reason": "tp hold", "channels": ["whatsapp"]}'
apf_call adam POST /v1/holds "$D/b.json"
check_eq "creating a hold stays one person's act" 201 "$APF_CODE"
H=$(apf_get hold_id)
"$CTL" hold release --tenant tp --hold "$H" >"$D/out" 2>&1
check_eq "cofferctl does not release a hold" \
    "1 cofferctl: releasing hold $H needs two persons: one proposes it with POST /v1/holds/$H/release and another person approves it with POST /v1/requests/ID/approve (admin or legal accounts); nothing changed" \
    "$? $(cat "$D/out")"
apf_call lisa POST "/v1/holds/$H/release" "$D/empty.json"
check_eq "one legal person's release only proposes" "202 pending t" \
    "$APF_CODE $(apf_get status) $(q "SELECT active FROM coffer.holds WHERE hold_id = '$H'")"
RH=$(apf_get request_id)
approve lisa-adm "$RH"
check_eq "the same person under an admin account is refused" "$SAME" "$(err3)"
approve lisa2 "$RH"
check_eq "the same person under a second legal account is refused" "$SAME" "$(err3)"
apf_call lisa-c POST "/v1/requests/$RH/approve" "$D/empty.json"
check_eq "a custodian account may not decide" "403 forbidden the custodian role may not do this" "$(err3)"
check_eq "the hold is still active" t "$(q "SELECT active FROM coffer.holds WHERE hold_id = '$H'")"
approve adam "$RH"
check_eq "a second person (admin) approves: released" "200 f" \
    "$APF_CODE $(q "SELECT active FROM coffer.holds WHERE hold_id = '$H'")"
apf_call lisa GET /v1/requests
check_eq "no request pending" 0 "$(apf_get requests | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"

# -- the acceptance scenario: an open matter preserves under 1-day retention --------
FROM=$(date -u -d '-11 days' +%Y-%m-%dT%H:%M:%SZ)
TO=$(date -u -d '-9 days' +%Y-%m-%dT%H:%M:%SZ)
printf '%s\n' '{"title":"Two-person matter","legal_basis":"Subpoena TP-1",' \
    '"scope":{"participants":["+15550190001"],' \
    "\"from\":\"$FROM\",\"to\":\"$TO\"}}" >"$D/matter.json"
M=$(apf_matter lisa "$D/matter.json") || die "matter"
apf_call lisa-c POST "/v1/matters/$M/approvals" "$D/empty.json"
check_eq "the requester's custodian account cannot approve her matter" \
    "403 requester_cannot_approve the requester of a matter cannot approve it (under any of their accounts)" \
    "$(err3)"
"$CTL" purge --yes --reason "two-person acceptance" >"$D/out" 2>&1 ||
    bad "purge: $(cat "$D/out")"
cat "$D/out"
check_eq "every in-scope record survives, the rest is disposed of" 10 "$(records)"
check "the purge says how many were kept for which matter" \
    grep -qx "  kept 10 records past retention: in the scope of matter $M (open), which is not closed" "$D/out"
for i in 2 3; do
	apf_approve tp "cus$i" "$i" "$M" || { cat "$APF_DIR/approve.out"; die "approval $i"; }
done
apf_wait_state "$M" ready 60 || die "the production was not built ($(apf_state "$M"))"
ok "two other custodians approved; production built"
apf_call lisa POST "/v1/matters/$M/close" "$D/empty.json"
check_eq "closing a matter with a production alone only proposes" "202 pending ready" \
    "$APF_CODE $(apf_get status) $(apf_state "$M")"
RM=$(apf_get request_id)
approve lisa2 "$RM"
check_eq "the requester's second legal account cannot approve the close" "$SAME" "$(err3)"
approve adam "$RM"
check_eq "an admin may not approve a matter close" \
    "403 forbidden matter.close matter:$M needs a legal person's approval" "$(err3)"
"$CTL" purge --yes >"$D/out" 2>&1
check_eq "while the close waits, the matter still preserves" 10 "$(records)"
approve lena "$RM"
check_eq "a second legal person approves: closed" "200 closed" "$APF_CODE $(apf_state "$M")"
check_eq "audit: matter.close proposed, then applied" "1 1" \
    "$(events matter.close proposed) $(events matter.close approved)"
"$CTL" purge --yes >"$D/out" 2>&1 || bad "purge after close: $(cat "$D/out")"
check_eq "closing the matter and purging again disposes of them" 0 "$(records)"
check "the archive verifies" "$CTL" verify --quiet --witness "$D/witness.jsonl"
finish
