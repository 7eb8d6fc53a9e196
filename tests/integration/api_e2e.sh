#!/bin/sh
# tests/integration/api_e2e.sh — coffer-api end to end, with real
# certificates (cofferctl people CA), a real gateway ingesting real records
# for two tenants (tests/lib/gateway-fixture.sh), the real database, curl as
# the client and cofferctl approve / export open as custodians and legal use
# them.  Runs inside tests/pg-harness.sh (PG* environment, $BUILD).
#
#   - a 2-of-3 matter for one participant and a time window: with one
#     approval the production is refused (409 not_ready); with two it is
#     built; `cofferctl export open` yields exactly the in-scope bodies and
#     nothing else; every RSMF manifest validates against the RSMF 2.0 schema
#   - the requester cannot approve; a custodian cannot approve twice or with
#     another's index; a tampered partial is rejected (422) and audited
#     naming the custodian; partials for matter X replayed on matter Y are
#     rejected; the untampered partials then complete X
#   - tenant B's legal user gets 404 for tenant A's matter; an auditor can
#     neither create matters nor download productions; revoked certificates
#     and missing certificates are refused (403 unauthenticated)
#   - diagnostic paths are 404 on both listeners, TRACE 405; 413; 429
#   - every request made with a certificate has its audit event; the chain
#     verifies (API and cofferctl verify); editing any event is detected
#   - no API response but the sealed production contains a message body or a
#     participant identifier
# Prints "N passed, M failed"; exits non-zero on any failure.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY="$HERE/api_e2e.py"
SCHEMA="$ROOT/tests/data/rsmf_schema_2_0_0.json"
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"
GWF_NO_TRAP=1
. "$HERE/../lib/gateway-fixture.sh"
API_BIN="$GWF_BUILD/coffer-api"

. "$HERE/../lib/check.sh"

API_PID=""
CAP_PID=""
cleanup() {
	[ -n "$CAP_PID" ] && kill "$CAP_PID" 2>/dev/null
	if [ -n "$API_PID" ]; then
		kill -9 "$API_PID" 2>/dev/null
		wait "$API_PID" 2>/dev/null
	fi
	API_PID=""
	# E2E_KEEP=DIR keeps the scratch directory for debugging.
	[ -n "${E2E_KEEP:-}" ] && [ -n "$GWF_DIR" ] && cp -a "$GWF_DIR" "$E2E_KEEP"
	gwf_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

api_log_on_failure() {   # finish: the API log's end when a check failed
	if [ "$fail" -gt 0 ] && [ -n "${API_LOG:-}" ] && [ -f "$API_LOG" ]; then
		echo "--- last lines of the coffer-api log:"
		tail -40 "$API_LOG" | sed 's/^/     /'
	fi
}
api_log_tail() {   # die
	[ -n "${API_LOG:-}" ] && [ -f "$API_LOG" ] && tail -30 "$API_LOG" | sed 's/^/     /'
}
CK_FINISH_HOOK=api_log_on_failure
CK_DIE_HOOK=api_log_tail

[ -x "$API_BIN" ] || { echo "api_e2e: $API_BIN not built"; exit 1; }
command -v python3 >/dev/null || { echo "api_e2e: python3 missing"; exit 1; }
python3 -c 'import jsonschema' 2>/dev/null ||
    { echo "api_e2e: python3 jsonschema missing (make deps)"; exit 1; }
gwf_init || exit 1
D="$GWF_DIR"
P="$D/people"       # people certificates and keys
R="$D/responses"    # every API response of the run (scanned at the end)
mkdir -p "$P" "$R" && chmod 0700 "$P"
: >"$R/ids"
CTL="$GWF_CTL"
TA=e2e-acme
TB=e2e-globex
db() { $PSQL -c "$1"; }

# -- tenants, gateway, records ---------------------------------------------------
gwf_server_cert || die "server certificate"
SRV_CA="$GWF_SRV_CA"
# Tenant A: 3 custodians, threshold 2 (the fixture's tenants are 2 of 2).
TAD="$D/tenants/$TA"
mkdir -p "$TAD/out" && chmod 0700 "$TAD"
for i in 1 2 3; do
	printf 'e2e custodian passphrase %s, not a secret\n' "$i" >"$TAD/pass$i"
	chmod 0600 "$TAD/pass$i"
done
gwf_run "tenant init $TA" "$CTL" tenant init --name "$TA" --custodians 3 \
    --threshold 2 --out "$TAD/out" --passphrase-file "$TAD/pass1" \
    --passphrase-file "$TAD/pass2" --passphrase-file "$TAD/pass3" ||
    die "tenant $TA"
mv "$TAD/out/$TA.bik" "$GWF_KEYS/$TA.bik" && mv "$TAD/out/$TA.pin" "$GWF_KEYS/$TA.pin" || die "BIK of $TA"
gwf_run "device ca-init $TA" "$CTL" device ca-init --tenant "$TA" || die "CA $TA"
gwf_tenant "$TB" || die "tenant $TB"
gwf_device "$TA" phone-a1 && gwf_device "$TB" phone-b1 && gwf_node e2e-node ||
    die "devices and node"
# Small epochs, so a matter spans several.
gwf_config "epoch_records = 3" || die "gateway configuration"
gwf_start || die "gateway start"
TIDA=$($PSQL -c "SELECT tenant_id FROM coffer.tenants WHERE name = '$TA'")

# rec ID CHANNEL CONV SENDER RECIPIENT SENT_AT BODY [ATTACHMENT-TEXT]
rec() {
	python3 - "$@" <<'EOF'
import base64, json, sys
a = sys.argv[1:]
r = {"id": a[0], "channel": a[1], "conversation": a[2], "direction": "out",
     "sender": a[3], "recipients": a[4].split(","), "sent_at": a[5],
     "body": a[6]}
if len(a) > 7:
    r["attachments"] = [{"name": "note.txt", "type": "text/plain",
                         "data": base64.b64encode(a[7].encode()).decode()}]
print(json.dumps(r))
EOF
}
ALICE="+15551230001"
BOB="+15551230002"
CAROL="carol.e2e@example.com"
DAVE="@dave_e2e"
{
	rec in1 signal conv-ab-e2e "$ALICE" "$BOB" 2026-01-10T09:00:00Z "CANARY-IN-1 the quarterly numbers look odd"
	rec in2 signal conv-ab-e2e "$BOB" "$ALICE" 2026-01-11T10:00:00Z "CANARY-IN-2 see the attached note" "CANARY-ATTACHMENT-IN"
	rec out1 signal conv-ab-e2e "$ALICE" "$BOB" 2026-01-05T08:00:00Z "CANARY-OUT-1 before the window"
	rec in3 whatsapp conv-group-e2e "$CAROL" "$ALICE,$BOB" 2026-01-15T12:00:00Z "CANARY-IN-3 group chat about the deal"
	rec out3 signal conv-bc-e2e "$BOB" "$CAROL" 2026-01-12T10:00:00Z "CANARY-OUT-3 without alice"
	rec in4 telegram conv-ad-e2e "$ALICE" "$DAVE" 2026-01-20T23:00:00Z "CANARY-IN-4 last one in the window"
	rec out2 signal conv-ab-e2e "$ALICE" "$BOB" 2026-01-25T08:00:00Z "CANARY-OUT-2 after the window"
	rec out4 sms conv-dc-e2e "$DAVE" "$CAROL" 2026-01-13T10:00:00Z "CANARY-OUT-4 dave to carol"
} >"$D/a.ndjson"
rec b1 signal conv-b-e2e "$ALICE" "$BOB" 2026-01-12T10:00:00Z "CANARY-GLOBEX-1 other tenant, same number" >"$D/b.ndjson"
ingest() {   # ingest DEVICE FILE
	gwf_curl "$1" -H 'Content-Type: application/x-ndjson' \
	    --data-binary "@$2" "$(gwf_url v1/records)" >"$D/ingest.out" 2>&1 &&
	    [ "$(grep -c '"status":"stored"' "$D/ingest.out")" -eq "$(wc -l <"$2")" ]
}
check "gateway stores tenant A's 8 records" ingest phone-a1 "$D/a.ndjson"
check "gateway stores tenant B's record" ingest phone-b1 "$D/b.ndjson"
NEPOCHS=$($PSQL -c "SELECT count(DISTINCT epoch_id) FROM coffer.records WHERE tenant_id = '$TIDA'")
check "tenant A's records span several epochs ($NEPOCHS)" test "${NEPOCHS:-0}" -ge 2
printf '%s\n' "CANARY-IN-1 the quarterly numbers look odd" \
    "CANARY-IN-2 see the attached note" "CANARY-IN-3 group chat about the deal" \
    "CANARY-IN-4 last one in the window" >"$D/expect"
printf '%s\n' "CANARY-OUT-1" "CANARY-OUT-2" "CANARY-OUT-3" "CANARY-OUT-4" \
    "CANARY-GLOBEX-1" >"$D/forbid-export"
# Nothing of any message or participant may appear in an API response.
printf '%s\n' CANARY 15551230001 5551230001 15551230002 "$CAROL" "$DAVE" \
    dave_e2e conv-ab-e2e conv-group-e2e conv-ad-e2e conv-bc-e2e >"$D/forbid-api"

# -- people --------------------------------------------------------------------------
issue() {   # issue TENANT NAME ROLE [INDEX]
	set -- "$1" "$2" "$3" "${4:-}"
	if [ -n "$4" ]; then
		gwf_run "user $2" "$CTL" user issue --tenant "$1" --name "$2" \
		    --role "$3" --custodian-index "$4" --out "$P"
	else
		gwf_run "user $2" "$CTL" user issue --tenant "$1" --name "$2" \
		    --role "$3" --out "$P"
	fi
}
issue "$TA" lena legal && issue "$TA" leo legal && issue "$TA" c1 custodian 1 &&
    issue "$TA" c2 custodian 2 && issue "$TA" c3 custodian 3 &&
    issue "$TA" audrey auditor && issue "$TA" adam admin &&
    issue "$TB" lars legal || die "people certificates"
printf 'e2e production key passphrase, not a secret\n' >"$D/lena.pass"
chmod 0600 "$D/lena.pass"
if ! "$CTL" user keygen --tenant "$TA" --name lena --out "$D/lena.xkey" \
    --passphrase-file "$D/lena.pass" >"$D/kg.out" 2>&1; then
	gwf_run "keygen lena" "$CTL" keygen --tenant "$TA" --name lena \
	    --out "$D/lena.xkey" --passphrase-file "$D/lena.pass" ||
	    die "production key of lena"
fi
ok "people certificates and lena's production key"

# -- coffer-api -------------------------------------------------------------------------
gwf_run "pki server api" "$CTL" pki server --name e2e-api --dns localhost \
    --ip 127.0.0.1 --out "$D/srv" || die "API server certificate"
gwf_run "node init e2e-api" "$CTL" node init --kind api --name e2e-api \
    --key-out "$D/api-node.key" --pins "$COFFER_NODE_PINS" || die "API node key"
API_PORT=$(gwf_free_port)
API_METRICS=$(gwf_free_port)
while [ "$API_METRICS" = "$API_PORT" ]; do API_METRICS=$(gwf_free_port); done
API_CONF="$D/api.conf"
API_LOG="$D/api.log"
mkdir -p "$D/productions" "$D/blind" && chmod 0700 "$D/productions" "$D/blind"
{
	echo "# written by tests/integration/api_e2e.sh"
	echo "listen = 127.0.0.1:$API_PORT"
	echo "metrics_listen = 127.0.0.1:$API_METRICS"
	[ "$(id -u)" -eq 0 ] && echo "user = nobody"
	echo "cert_file = $D/srv/e2e-api.crt"
	echo "key_file = $D/srv/e2e-api.key"
	echo "people_ca = $COFFER_PKI/people/ca.pem"
	echo "people_crl = $COFFER_PKI/people/crl.pem"
	echo "keys_dir = $GWF_KEYS"
	echo "productions_dir = $D/productions"
	echo "blind_dir = $D/blind"
	echo "signing_key_file = $D/api-node.key"
	echo "node_name = e2e-api"
	echo "audit_witness_file = $D/api-audit.jsonl"
	echo "pg_conninfo = host=$PGHOST port=$PGPORT dbname=$PGDATABASE user=api"
	echo "approval_rate = 1"
	echo "approval_burst = 5"
	echo "search_rate = 600"
	echo "search_burst = 300"
	echo "refusal_rate = 600"
	echo "refusal_burst = 300"
} >"$API_CONF"
if [ "$(id -u)" -eq 0 ]; then
	chown nobody "$D/productions" "$D/blind"
	: >"$D/api-audit.jsonl" && chown nobody "$D/api-audit.jsonl"
	g=$(id -gn nobody)
	chgrp "$g" "$GWF_KEYS" "$GWF_KEYS"/* && chmod 0640 "$GWF_KEYS"/*
fi
check "coffer-api --check-config accepts the configuration" \
    "$API_BIN" --config "$API_CONF" --check-config
printf 'listen = 127.0.0.1:1\nbogus_key = 1\n' >"$D/bad.conf"
"$API_BIN" --config "$D/bad.conf" --check-config >"$D/bad.out" 2>&1
check "an unknown configuration key is a start-up error" \
    grep -q "unknown key 'bogus_key'" "$D/bad.out"

"$API_BIN" --config "$API_CONF" --pidfile "$D/api.pid" >>"$API_LOG" 2>&1 &
API_PID=$!
i=0
while :; do
	kill -0 "$API_PID" 2>/dev/null || die "coffer-api exited during start-up"
	code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$SRV_CA" \
	    --cert "$P/lena.crt" --key "$P/lena.key" \
	    "https://127.0.0.1:$API_PORT/v1/whoami" 2>/dev/null)
	[ "$code" = 200 ] && break
	i=$((i + 1))
	[ $i -lt 150 ] || die "coffer-api did not answer within 15 s"
	sleep 0.1
done
ok "coffer-api answers over TLS with client certificates"

# api WHO METHOD PATH [BODY-FILE] -> $CODE, $OUT (body), $HDR (headers)
N=0
api() {
	who=$1 m=$2 path=$3 data=${4:-}
	N=$((N + 1))
	OUT="$R/body.$N"
	HDR="$R/hdr.$N"
	set -- -sS -o "$OUT" -D "$HDR" -w '%{http_code}' --cacert "$SRV_CA" -X "$m"
	[ "$who" != - ] && set -- "$@" --cert "$P/$who.crt" --key "$P/$who.key"
	[ -n "$data" ] && set -- "$@" -H 'Content-Type: application/json' \
	    --data-binary "@$data"
	CODE=$(curl "$@" "https://127.0.0.1:$API_PORT$path" 2>"$R/err.$N") ||
	    CODE=000
	RID=$(tr -d '\r' <"$HDR" | sed -n 's/^[Xx]-[Rr]equest-[Ii]d: *//p' | head -1)
	if [ -n "$RID" ] && [ "$who" != - ]; then
		echo "$RID $who $m $path $CODE" >>"$R/ids"
	fi
}
expect() {   # expect NAME STATUS [ERROR-CODE]
	name=$1 want=$2 ecode=${3:-}
	if [ "$CODE" != "$want" ]; then
		bad "$name: HTTP $CODE, expected $want"
		sed 's/^/     /' "$OUT" 2>/dev/null | head -5
		return 1
	fi
	if [ -n "$ecode" ] &&
	    [ "$(python3 "$PY" get "$OUT" error.code 2>/dev/null)" != "$ecode" ]; then
		bad "$name: error code is not $ecode"
		sed 's/^/     /' "$OUT" | head -5
		return 1
	fi
	ok "$name"
}
j() { python3 "$PY" get "$OUT" "$1" 2>/dev/null; }
jsonfile() { printf '%s\n' "$2" >"$D/$1.json"; }

# -- identity, roles, probes ----------------------------------------------------------------
api lena GET /v1/whoami
expect "whoami (legal)" 200 && check "whoami names tenant, role and user" \
    test "$(j tenant)/$(j role)/$(j name)" = "$TA/legal/lena"
check "security headers on every response (HSTS, nosniff, no-store, JSON)" sh -c \
    "grep -qi '^strict-transport-security: max-age=' '$HDR' &&
     grep -qi '^x-content-type-options: nosniff' '$HDR' &&
     grep -qi '^cache-control: no-store' '$HDR' &&
     grep -qi '^content-type: application/json' '$HDR' &&
     grep -qi '^x-request-id: [0-9a-f]\{32\}' '$HDR'"
api c2 GET /v1/whoami
expect "whoami (custodian)" 200 && check "whoami gives the custodian index" \
    test "$(j custodian_index)" = 2
api - GET /v1/whoami
expect "no client certificate -> 403 unauthenticated" 403 unauthenticated
for pth in /heapdump /actuator/health /actuator /management /management/env \
    /debug /env /.git/config /.git/HEAD /metrics /v1 /v1/matters/ /admin; do
	api lena GET "$pth"
	expect "GET $pth -> 404" 404 not_found
done
api - GET /heapdump
expect "GET /heapdump without a certificate -> 404" 404 not_found
api lena TRACE /v1/matters
expect "TRACE /v1/matters -> 405" 405 method_not_allowed
api lena DELETE /v1/matters
expect "DELETE /v1/matters -> 405" 405 method_not_allowed
api lena TRACE /heapdump
expect "TRACE /heapdump -> 404" 404
m=$(curl -s -o "$R/metrics.1" -w '%{http_code}' "http://127.0.0.1:$API_METRICS/metrics")
check "/metrics on the loopback listener (Prometheus text)" sh -c \
    "[ '$m' = 200 ] && grep -q '^coffer_api_requests_total{route=\"whoami\",status=\"200\"}' '$R/metrics.1'"
for pth in /heapdump /actuator/health /debug /env /.git/config /v1/whoami; do
	m=$(curl -s -o "$R/metrics.x$N" -w '%{http_code}' "http://127.0.0.1:$API_METRICS$pth")
	check "metrics listener: GET $pth -> 404" test "$m" = 404
done
m=$(curl -s -o /dev/null -w '%{http_code}' -X TRACE "http://127.0.0.1:$API_METRICS/metrics")
check "metrics listener: TRACE /metrics -> 405" test "$m" = 405
m=$(curl -s -o /dev/null -w '%{http_code}' "https://127.0.0.1:$API_METRICS/metrics" --cacert "$SRV_CA" 2>/dev/null)
check "metrics listener speaks no TLS" test "$m" = 000
m=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$API_PORT/v1/whoami" 2>/dev/null)
check "the API speaks no plain HTTP" test "$m" != 200

# -- matters ----------------------------------------------------------------------------------
jsonfile mx '{"title":"Matter X: trading review","legal_basis":"Regulator request 2026-17",
 "scope":{"participants":["+1 (555) 123-0001"],"from":"2026-01-10T00:00:00Z","to":"2026-01-20T23:59:59Z"}}'
api audrey POST /v1/matters "$D/mx.json"
expect "an auditor cannot create a matter" 403 forbidden
RID_AUDREY=$RID
api c1 POST /v1/matters "$D/mx.json"
expect "a custodian cannot create a matter" 403 forbidden
jsonfile mbad '{"title":"t","legal_basis":"b","scope":{"participant":["+15551230001"],"from":"2026-01-10T00:00:00Z","to":"2026-01-20T00:00:00Z"}}'
api lena POST /v1/matters "$D/mbad.json"
expect "a misspelt scope member is refused, not ignored" 400 bad_request
jsonfile mbad2 '{"title":"t","legal_basis":"b","scope":{"participants":["not a phone +1"],"from":"now","to":"2026-01-20T00:00:00Z"}}'
api lena POST /v1/matters "$D/mbad2.json"
expect "a non-RFC 3339 time is refused" 400 bad_request
api lena POST /v1/matters "$D/mx.json"
expect "legal creates matter X" 201
MX=$(j matter_id)
# Issue 13.4: the event names the person beside the fingerprint, and
# matter.create carries the title and the legal basis.
FPR_LENA=$(openssl x509 -in "$P/lena.crt" -noout -fingerprint -sha256 |
    sed 's/.*=//; s/://g' | tr 'A-F' 'a-f')
check_eq "matter.create: exactly one event for the request" 1 \
    "$($PSQL -c "SELECT count(*) FROM coffer.audit_events WHERE request_id = '$RID'")"
check_eq "matter.create event: actor fingerprint, name, role, target, title, legal basis" \
    "$FPR_LENA|legal|lena|legal|matter.create|matter:$MX|Matter X: trading review|Regulator request 2026-17" \
    "$($PSQL -c "SELECT actor || '|' || role || '|' || (detail->>'actor_name') || '|' || (detail->>'actor_role') || '|' || action || '|' || coalesce(target, '-') || '|' || (detail->>'title') || '|' || (detail->>'legal_basis') FROM coffer.audit_events WHERE request_id = '$RID'")"
check_eq "a refused request's event names the person too" "audrey|auditor|denied" \
    "$($PSQL -c "SELECT (detail->>'actor_name') || '|' || (detail->>'actor_role') || '|' || outcome FROM coffer.audit_events WHERE request_id = '$RID_AUDREY'")"
check "matter X counts its 4 in-scope records" test "$(j record_count)" = 4
api lena POST /v1/matters "$D/mx.json"
expect "legal creates matter Y with the same scope" 201
MY=$(j matter_id)
api c1 GET "/v1/matters/$MX"
expect "a custodian sees matter X" 200
check "matter X: state open, threshold 2 of 3, no approval" test \
    "$(j state)/$(j threshold)/$(j custodians)/$(j approvals)" = "open/2/3/[]"
NX_EPOCHS=$(python3 -c "import json,sys; print(len(json.load(open('$OUT'))['epochs']))")
check "matter X lists its epochs with R ($NX_EPOCHS)" test "$NX_EPOCHS" -ge 1
check "matter X shows scope counts, not identifiers" test \
    "$(j scope.participants)/$(j scope.conversations)" = "1/0"
check "matter X states the clock of its time range" test \
    "$(j scope.time_clock)" = "sent_at or received_at"
api audrey GET /v1/matters
expect "an auditor lists matters" 200
api lars GET "/v1/matters/$MX"
expect "tenant B's legal user: tenant A's matter is 404" 404 not_found
api lars GET "/v1/matters/$MX/production"
expect "tenant B's legal user: tenant A's production is 404" 404 not_found
api lars GET /v1/matters
expect "tenant B's legal user lists matters" 200
check "tenant B's list holds none of tenant A's matters" sh -c "! grep -q '$MX' '$OUT'"
api lena GET /v1/matters/00000000-0000-4000-8000-000000000000
expect "an unknown matter is 404" 404
api lena GET /v1/matters/not-a-uuid
expect "a malformed matter id is 404" 404

# -- approvals --------------------------------------------------------------------------------
jsonfile ap_any '{"custodian_index":1,"partials":[]}'
api lena POST "/v1/matters/$MX/approvals" "$D/ap_any.json"
expect "the requester (legal) cannot approve" 403 forbidden
approve() {   # approve CUSTODIAN INDEX MATTER [API-PORT]
	"$CTL" approve --matter "$3" --share "$TAD/out/$TA-custodian-$2.share" \
	    --passphrase-file "$TAD/pass$2" --api "https://127.0.0.1:${4:-$API_PORT}" \
	    --cert "$P/$1.crt" --key "$P/$1.key" --ca "$SRV_CA" --yes \
	    >"$D/approve.out" 2>&1
}
if approve c1 1 "$MX"; then ok "custodian 1 approves X (cofferctl approve)"
else bad "custodian 1 approves X"; sed 's/^/     /' "$D/approve.out"; fi
api lena GET "/v1/matters/$MX/production"
expect "with 1 of 2 approvals the production is refused" 409 not_ready
api c1 GET "/v1/matters/$MX"
check "matter X shows custodian 1's approval" test \
    "$(python3 -c "import json; print([a['custodian_index'] for a in json.load(open('$OUT'))['approvals']])")" = "[1]"
jsonfile ap1 '{"custodian_index":1,"partials":[]}'
api c1 POST "/v1/matters/$MX/approvals" "$D/ap1.json"
expect "custodian 1 cannot approve X twice" 409 already_approved
jsonfile ap3as2 '{"custodian_index":3,"partials":[]}'
api c2 POST "/v1/matters/$MX/approvals" "$D/ap3as2.json"
expect "custodian 2 cannot approve with custodian 3's index" 403 wrong_custodian_index

# Custodian 3's real partials for X, captured by a stand-in API so they can
# be tampered with and replayed before the real submission.
api c3 GET /v1/whoami
cp "$OUT" "$D/c3.whoami"
api c3 GET "/v1/matters/$MX"
cp "$OUT" "$D/c3.matter"
rm -f "$D/cap.port" "$D/c3.body"
python3 "$PY" capture --cert "$D/srv/e2e-api.crt" --key "$D/srv/e2e-api.key" \
    --port-file "$D/cap.port" --whoami "$D/c3.whoami" --matter "$D/c3.matter" \
    --out "$D/c3.body" >"$D/cap.log" 2>&1 &
CAP_PID=$!
i=0
while [ ! -s "$D/cap.port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if [ -s "$D/cap.port" ] && approve c3 3 "$MX" "$(cat "$D/cap.port")" &&
    [ -s "$D/c3.body" ]; then
	ok "custodian 3's partials for X captured (cofferctl approve)"
else
	bad "capturing custodian 3's partials"; sed 's/^/     /' "$D/approve.out" "$D/cap.log"
fi
wait "$CAP_PID" 2>/dev/null
CAP_PID=""
python3 "$PY" tamper "$D/c3.body" "$D/c3.tampered"
api c3 POST "/v1/matters/$MX/approvals" "$D/c3.tampered"
expect "a tampered partial is rejected" 422 invalid_partial
check "the rejection names custodian 3" grep -q "custodian 3" "$OUT"
check "the rejection is audited naming custodian 3" test \
    "$($PSQL -c "SELECT count(*) FROM coffer.audit_events WHERE tenant_id = '$TIDA' AND action = 'approval.submit' AND outcome = 'bad-proof.custodian-3' AND target = 'matter:$MX'")" = 1
api c3 POST "/v1/matters/$MY/approvals" "$D/c3.body"
expect "matter X's partials replayed on matter Y are rejected" 422 invalid_partial
check "nothing was stored for the refused approvals" test \
    "$($PSQL -c "SELECT count(*) FROM coffer.approvals WHERE tenant_id = '$TIDA' AND custodian_index = 3")" = 0
api c3 POST "/v1/matters/$MX/approvals" "$D/c3.body"
expect "custodian 3's genuine partials complete X (2 of 3)" 201
check "the second approval starts the build" test "$(j state)" = building
for k in 1 2 3 4 5; do
	api c2 POST "/v1/matters/$MX/approvals" "$D/ap3as2.json"
	[ "$CODE" = 429 ] && break
done
expect "custodian approvals are rate-limited per user (429)" 429 rate_limited
check "429 carries Retry-After" grep -qi '^retry-after: [0-9]' "$HDR"

# -- production -------------------------------------------------------------------------------
i=0
state=""
while [ $i -lt 600 ]; do
	api lena GET "/v1/matters/$MX"
	state=$(j state)
	case "$state" in ready|failed) break ;; esac
	sleep 0.1
	i=$((i + 1))
done
check "the production is built (state $state, progress $(j progress))" test "$state" = ready
api audrey GET "/v1/matters/$MX/production"
expect "an auditor cannot download a production" 403 forbidden
api leo GET "/v1/matters/$MX/production"
expect "another legal user cannot download it" 403 forbidden
api c1 GET "/v1/matters/$MX/production"
expect "a custodian cannot download it" 403 forbidden
api lena GET "/v1/matters/$MX/production"
PROD="$OUT"
expect "the requester downloads the sealed production" 200
check "the production is a sealed container" sh -c \
    "head -c 14 '$PROD' | grep -q 'COFFER-PROD-1'"
check "the download is audited" test "$($PSQL -c "SELECT count(*) FROM coffer.audit_events WHERE tenant_id = '$TIDA' AND action = 'production.download' AND outcome = 'ok'")" = 1
if "$CTL" export open --in "$PROD" --key "$D/lena.xkey" --out "$D/export" \
    --passphrase-file "$D/lena.pass" >"$D/export.out" 2>&1; then
	ok "cofferctl export open decrypts and checks the production"
	cat "$D/forbid-export" >"$D/forbid-export2"
	if python3 "$PY" export-check "$D/export" "$D/expect" "$D/forbid-export2" \
	    "$SCHEMA" >"$D/xc.out" 2>&1; then
		ok "exactly the in-scope records, nothing else; RSMF manifests valid ($(tail -1 "$D/xc.out" | sed 's/^ *//'))"
	else
		bad "production contents"; sed 's/^/     /' "$D/xc.out"
	fi
	check "the in-scope attachment is in the production" sh -c \
	    "grep -rq 'Q0FOQVJZLUFUVEFDSE1FTlQtSU4=' '$D/export' || grep -rqa 'CANARY-ATTACHMENT-IN' '$D/export'"
else
	bad "cofferctl export open"; sed 's/^/     /' "$D/export.out"
fi
api lena POST "/v1/matters/$MY/close"
expect "the requester closes matter Y" 200
api lena GET "/v1/matters/$MY/production"
expect "a closed matter has no production" 409 matter_closed
api c2 POST "/v1/matters/$MY/approvals" "$D/ap_any.json"
check "a closed matter takes no approvals (409 or 429)" sh -c "[ '$CODE' = 409 ] || [ '$CODE' = 429 ]"

# -- holds and retention ----------------------------------------------------------------------
jsonfile hx "{\"matter_id\":\"$MX\",\"reason\":\"litigation hold for matter X\"}"
api audrey POST /v1/holds "$D/hx.json"
expect "an auditor cannot place a hold" 403 forbidden
api adam POST /v1/holds "$D/hx.json"
expect "admin places a hold on matter X's scope" 201
HX=$(j hold_id)
check "the hold copies the matter's scope" test "$(j matter_scope)/$(j participants)" = "true/1"
jsonfile hp '{"participants":["+15551230002"],"channels":["signal"],"from":"2026-01-01T00:00:00Z"}'
api lena POST /v1/holds "$D/hp.json"
expect "legal places a hold by participant" 201
check "the hold is stored as tokens" test "$($PSQL -c "SELECT cardinality(participant_tokens) FROM coffer.holds WHERE hold_id = '$(j hold_id)'")" = 1
api lars GET /v1/holds
expect "tenant B lists its holds" 200
check "tenant B sees none of tenant A's holds" sh -c "! grep -q '$HX' '$OUT'"
api lars POST "/v1/holds/$HX/release"
expect "tenant B cannot release tenant A's hold" 404
api adam POST "/v1/holds/$HX/release"
expect "admin alone only proposes the release (two persons, 202)" 202
RQ=$(j request_id)
check "the hold stays active while the release waits" test "$($PSQL -c "SELECT active FROM coffer.holds WHERE hold_id = '$HX'")" = t
api adam POST "/v1/requests/$RQ/approve"
expect "the proposer cannot approve the release" 403 same_person
api lars POST "/v1/requests/$RQ/approve"
expect "tenant B cannot approve tenant A's request" 404
api lena POST "/v1/requests/$RQ/approve"
expect "a second person (legal) approves: released" 200
check "the hold is released" test "$($PSQL -c "SELECT active FROM coffer.holds WHERE hold_id = '$HX'")" = f
api adam POST "/v1/holds/$HX/release"
expect "releasing twice is a conflict" 409
jsonfile rt '{"channel":"*","days":3650}'
api lena PUT /v1/retention "$D/rt.json"
expect "legal cannot set retention" 403 forbidden
api adam PUT /v1/retention "$D/rt.json"
expect "admin sets the default retention" 200
check "retention change reports old and new" test "$(j old)/$(j new)" = "none/3650 days"
check "retention change audited with old and new" test "$($PSQL -c "SELECT count(*) FROM coffer.audit_events WHERE tenant_id = '$TIDA' AND action = 'retention.set' AND detail->>'old' = 'none' AND detail->>'new' = '3650 days'")" = 1
api adam GET /v1/retention
expect "admin reads retention" 200
api adam GET "/v1/matters/$MX"
expect "admin never reads matters" 403 forbidden

# -- limits -------------------------------------------------------------------------------------
python3 -c "print('{\"title\":\"' + 'x' * (2 * 1024 * 1024) + '\"}')" >"$D/big.json"
api lena POST /v1/matters "$D/big.json"
expect "a body over 1 MiB is refused (413)" 413 payload_too_large
printf 'not json' >"$D/notjson"
api lena POST /v1/matters "$D/notjson"
expect "malformed JSON -> 400" 400 bad_request

# -- revocation -----------------------------------------------------------------------------------
gwf_run "revoke leo" "$CTL" user revoke --tenant "$TA" --name leo || bad "revoke leo"
sleep 1.2    # the CRL is re-read when it changes (checked once a second)
api leo GET /v1/whoami
expect "a revoked certificate is refused" 403 unauthenticated
check "the refusal is audited under the certificate's tenant" test "$($PSQL -c "SELECT count(*) FROM coffer.audit_events WHERE tenant_id = '$TIDA' AND outcome = 'unauthenticated' AND detail->>'auth' = 'revoked'")" -ge 1

# -- audit log and verification ---------------------------------------------------------------------
api audrey GET /v1/audit
expect "the auditor exports the audit log (JSONL)" 200
check "audit export is JSON lines" python3 -c "
import json,sys
n=0
for l in open('$OUT'):
    json.loads(l); n+=1
sys.exit(0 if n > 20 else 1)"
check "audit export holds the unknown-path probes" grep -q '"target":"path:/heapdump"' "$OUT"
APIPK=$($PSQL -c "SELECT encode(signing_public_key, 'hex') FROM coffer.nodes WHERE name = 'e2e-api'")
if python3 "$PY" audit-sig "$HDR" "$OUT" "$TIDA" "$APIPK" >"$D/sig.out" 2>&1; then
	ok "the exported head is signed by the API node key ($(tail -1 "$D/sig.out" | sed 's/^ *//'))"
else
	bad "signed audit head"; sed 's/^/     /' "$D/sig.out"
fi
api lena GET /v1/audit
expect "legal cannot read the audit log" 403 forbidden
api audrey GET /v1/verify
expect "the auditor runs verification" 200
check "the archive and audit chain verify clean" test "$(j status)" = clean
api lars GET /v1/verify
expect "verification needs the auditor role" 403 forbidden
# Issue 13.5: the API signs every event it writes with its node key (kind
# api) and witnesses each head after COMMIT.
check_eq "every event the API wrote is signed by node e2e-api" 0 \
    "$($PSQL -c "SELECT count(*) FROM coffer.audit_events a LEFT JOIN coffer.nodes n ON n.node_id = a.signer WHERE a.actor NOT LIKE 'cofferctl %' AND n.name IS DISTINCT FROM 'e2e-api'")"
check_eq "one witness line per event the API wrote" \
    "$($PSQL -c "SELECT count(*) FROM coffer.audit_events a JOIN coffer.nodes n ON n.node_id = a.signer WHERE n.name = 'e2e-api'")" \
    "$(grep -c '"node":"e2e-api"' "$D/api-audit.jsonl")"
if "$CTL" verify --quiet --witness "$D/api-audit.jsonl" >"$D/verify.out" 2>&1 &&
    grep -q "witnessed audit heads" "$D/verify.out"; then
	ok "cofferctl verify with the API's audit witness ($(grep 'verify: audit:' "$D/verify.out" | sed 's/^verify: audit: //'))"
else
	bad "cofferctl verify --witness (API audit heads)"; sed 's/^/     /' "$D/verify.out"
fi
if python3 "$PY" ids-audited "$R/ids" >"$D/ids.out" 2>&1; then
	ok "every request made with a certificate has its audit event ($(tail -1 "$D/ids.out" | sed 's/^ *//'))"
else
	bad "requests without audit event"; sed 's/^/     /' "$D/ids.out" | tail -20
fi

# -- the database goes away and comes back -----------------------------------------
if [ -n "${COFFER_PG_CTL:-}" ]; then
	"$COFFER_PG_CTL" -w -m fast stop >/dev/null 2>&1
	api lena GET /v1/whoami
	expect "database down: 503, nothing served" 503 unavailable
	check "503 carries Retry-After" grep -qi '^retry-after: [0-9]' "$HDR"
	api lena POST /v1/matters "$D/mx.json"
	expect "database down: no matter can be created" 503 unavailable
	"$COFFER_PG_CTL" -w start >/dev/null 2>&1
	api lena GET /v1/whoami
	expect "database back: served again without restarting the API" 200
	api audrey GET /v1/matters
	expect "database back: every pooled connection works again" 200
fi

# Edit events as the database superuser: the API's verify and cofferctl
# verify must both notice, whichever event it is; each edit is undone.
LAST=$($PSQL -c "SELECT max(event_no) FROM coffer.audit_events WHERE tenant_id = '$TIDA'")
BADPROOF=$($PSQL -c "SELECT event_no FROM coffer.audit_events WHERE tenant_id = '$TIDA' AND outcome = 'bad-proof.custodian-3' AND target = 'matter:$MX'")
edit_and_verify() {   # NAME EVENT_NO COLUMN NEW-VALUE-SQL
	name=$1 ev=$2 col=$3 val=$4
	old=$($PSQL -c "SELECT quote_nullable($col::text) FROM coffer.audit_events WHERE tenant_id = '$TIDA' AND event_no = $ev")
	cast=""
	[ "$col" = detail ] && cast="::jsonb"
	[ "$col" = at ] && cast="::timestamptz"
	db "ALTER TABLE coffer.audit_events DISABLE TRIGGER audit_events_append_only;
	    UPDATE coffer.audit_events SET $col = $val WHERE tenant_id = '$TIDA' AND event_no = $ev;
	    ALTER TABLE coffer.audit_events ENABLE ALWAYS TRIGGER audit_events_append_only;" >/dev/null
	api audrey GET /v1/verify
	st=$(j status)
	en=$(j event_no)
	if [ "$HAVE_CTL_VERIFY" = 1 ]; then
		"$CTL" verify --tenant "$TA" >"$D/verify.out" 2>&1
		vrc=$?
	fi
	db "ALTER TABLE coffer.audit_events DISABLE TRIGGER audit_events_append_only;
	    UPDATE coffer.audit_events SET $col = $old$cast WHERE tenant_id = '$TIDA' AND event_no = $ev;
	    ALTER TABLE coffer.audit_events ENABLE ALWAYS TRIGGER audit_events_append_only;" >/dev/null
	check "$name: API verify says tampered at event $ev" test "$st/$en" = "tampered/$ev"
	[ "$HAVE_CTL_VERIFY" = 1 ] &&
	    check "$name: cofferctl verify fails (exit $vrc)" test "$vrc" = 1
}
# cofferctl verify (the archive engineer's) when this build has it.
HAVE_CTL_VERIFY=0
"$CTL" verify --help >/dev/null 2>&1 && HAVE_CTL_VERIFY=1
[ "$HAVE_CTL_VERIFY" = 1 ] || echo "note - cofferctl verify not in this build: the API's verify only"
edit_and_verify "refused approval made to look accepted" "$BADPROOF" outcome "'ok'"
edit_and_verify "first event's actor changed" 1 actor "'0000000000000000000000000000000000000000000000000000000000000000'"
edit_and_verify "an event's detail changed" $((LAST / 2)) detail "'{\"status\":200}'"
edit_and_verify "an event's time changed" "$LAST" at "at - interval '1 second'"
# Every other event, with cofferctl verify only (fast).
all_ok=1
for ev in $($PSQL -c "SELECT event_no FROM coffer.audit_events WHERE tenant_id = '$TIDA' ORDER BY event_no"); do
	db "ALTER TABLE coffer.audit_events DISABLE TRIGGER audit_events_append_only;
	    UPDATE coffer.audit_events SET role = role || 'x' WHERE tenant_id = '$TIDA' AND event_no = $ev;
	    ALTER TABLE coffer.audit_events ENABLE ALWAYS TRIGGER audit_events_append_only;" >/dev/null
	if [ "$HAVE_CTL_VERIFY" = 1 ]; then
		"$CTL" verify --tenant "$TA" >"$D/verify.out" 2>&1
		vrc=$?
		seen=$([ "$vrc" = 1 ] && echo yes)
	else
		api audrey GET /v1/verify
		vrc="$(j status) at $(j event_no)"
		seen=$([ "$vrc" = "tampered at $ev" ] && echo yes)
	fi
	db "ALTER TABLE coffer.audit_events DISABLE TRIGGER audit_events_append_only;
	    UPDATE coffer.audit_events SET role = left(role, length(role) - 1) WHERE tenant_id = '$TIDA' AND event_no = $ev;
	    ALTER TABLE coffer.audit_events ENABLE ALWAYS TRIGGER audit_events_append_only;" >/dev/null
	if [ "$seen" != yes ]; then
		all_ok=0
		echo "     editing event $ev went unnoticed ($vrc)"
	fi
done
check "editing any one of tenant A's audit events fails verification" test "$all_ok" = 1
api audrey GET /v1/verify
expect "restored: verification is clean again" 200 &&
    check "restored chain is clean" test "$(j status)" = clean

# -- nothing leaks -------------------------------------------------------------------------------------
api audrey GET /v1/audit
expect "final audit export" 200
# shellcheck disable=SC2010  # the test's own file names (body.N, hdr.N, metrics.N)
scan_files=$(ls "$R"/body.* "$R"/hdr.* "$R"/metrics.* 2>/dev/null | grep -v "^$PROD\$")
# shellcheck disable=SC2086  # scan_files: a list of paths without blanks
if python3 "$PY" scan "$D/forbid-api" $scan_files >"$D/scan.out" 2>&1; then
	ok "no API response carries a message body or participant identifier ($(echo $scan_files | wc -w) files)"
else
	bad "responses leak content or identifiers"; sed 's/^/     /' "$D/scan.out" | head -20
fi
check "the API log carries no body or identifier" sh -c \
    "! grep -q -e CANARY -e 15551230001 -e '$CAROL' -e dave_e2e '$API_LOG'"
m=$(curl -s -o "$R/metrics.2" -w '%{http_code}' "http://127.0.0.1:$API_METRICS/metrics")
check "metrics count approvals, refusals, productions, rate limits" sh -c \
    "grep -q '^coffer_api_approvals_total{result=\"accepted\"} 2' '$R/metrics.2' &&
     grep -q '^coffer_api_approvals_total{result=\"rejected\"} [1-9]' '$R/metrics.2' &&
     grep -q '^coffer_api_productions_total{event=\"built\"} 1' '$R/metrics.2' &&
     grep -q '^coffer_api_rate_limited_total{class=\"approval\"} [1-9]' '$R/metrics.2'"

# -- the attacker of issue 12: nothing stored opens a released epoch ------------------------------
# As the read-only auditor role: every epoch, every point stored as a
# custodian's answer (approvals and audit events), then every hex point in
# a pg_dump, every API response of the run (the audit export included) and
# every file on the API host after the build, tried as S and in every
# k-subset combination.  Control: the same program with the custodians'
# real shares (what the old code stored) must open the epochs.
HV="$GWF_BUILD/tests/tools/harvest"
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
check "a pg_dump of everything after the build" grep -q "COPY coffer.approvals" "$D/hv.dump"
check "the released matter left answers to try ($(wc -l <"$D/hv.partials") stored, $(wc -l <"$D/hv.epochs") epochs)" \
    test "$(wc -l <"$D/hv.partials")" -ge 2
check "no blinding seed left on the API host for the built matter" \
    test ! -e "$D/blind/$MX.seed"
# shellcheck disable=SC2046  # lists of paths without blanks, one argument each
"$HV" --epochs "$D/hv.epochs" --partials "$D/hv.partials" "$D/hv.dump" \
    $(ls "$R"/body.* "$R"/hdr.* 2>/dev/null) \
    $(find "$D/productions" -type f) >"$D/hv.out" 2>&1
check "stored values, pg_dump, API responses and API host files open 0 epochs ($(cat "$D/hv.out"))" \
    grep -q "^harvest: 0 epochs opened, 0 records readable" "$D/hv.out"
for i in 1 2 3; do echo "$TAD/out/$TA-custodian-$i.share $TAD/pass$i"; done >"$D/hv.shares"
"$HV" --epochs "$D/hv.epochs" --partials "$D/hv.partials" \
    --shares "$D/hv.shares" >"$D/hv.ctl" 2>&1
check "control: the custodians' real partials (the old stored form) open epochs ($(cat "$D/hv.ctl"))" \
    sh -c "! grep -q '^harvest: 0 epochs' '$D/hv.ctl' && grep -q '^harvest: ' '$D/hv.ctl'"

kill -TERM "$API_PID" 2>/dev/null
i=0
while kill -0 "$API_PID" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
wait "$API_PID" 2>/dev/null
rc=$?
API_PID=""
check "coffer-api stops cleanly on SIGTERM (exit $rc)" test "$rc" = 0
finish
