#!/bin/sh
# tests/integration/device_enroll.sh — issue 18 item 3: device
# self-enrollment, the private key never leaves the device.  Real
# `cofferctl device enroll-serve` (EST simpleenroll over server-only TLS),
# real openssl on the "device", real curl, real gateway and PostgreSQL.
#
#   - an admin makes a one-time code (audited, only its hash stored)
#   - the device makes its own P-256 key and CSR, enrolls with the code:
#     the certificate carries the device's public key; no key file for the
#     device exists on the server side; the device row, the code used, the
#     act audited; the device then stores a record through the gateway
#   - the same code again, an expired code, another device's code, another
#     tenant's code: 401 with the reason, each audited; an unknown code:
#     401, logged but not audited (strangers cannot fill the audit log)
#   - a CSR whose signature does not verify, an RSA key, garbage, no
#     credentials: refused with the exact reason
#   - cacerts gives the tenant's device CA; a revoked device gets no code
#   - coffer-agent enroll: the agent's own key (0600) and certificate, the
#     code refused a second time with the server's reason, then the agent
#     delivers a record with them
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"
# shellcheck disable=SC2034  # read by fault-fixture.sh
FF_NAME=device_enroll
# shellcheck source=../lib/fault-fixture.sh
. "$HERE/../lib/fault-fixture.sh"

gwf_init || exit 1
T="$GWF_DIR"
CTL="$BUILD/cofferctl"
EN_PID=""
trap '[ -z "$EN_PID" ] || kill "$EN_PID" 2>/dev/null; ff_cleanup' EXIT

gwf_server_cert && gwf_tenant acme && gwf_tenant globex || die "tenants"
gwf_device acme probe && gwf_node en-node || die "device and node"
gwf_config "device_refresh_s = 1" || die "gateway configuration"
gwf_start || die "gateway did not start"

EN_PORT=$(gwf_free_port) || die "no free port"
"$CTL" device enroll-serve --tenant ALL --listen "127.0.0.1:$EN_PORT" \
    --cert "$GWF_SRV_CRT" --key "$GWF_SRV_KEY" >"$T/en.out" 2>"$T/en.log" &
EN_PID=$!
i=0
until curl -s -o /dev/null --cacert "$GWF_SRV_CA" \
    "https://127.0.0.1:$EN_PORT/.well-known/est/acme/cacerts"; do
	i=$((i + 1))
	[ $i -lt 50 ] || die "enroll-serve did not start: $(cat "$T/en.log")"
	sleep 0.1
done
ok "enroll-serve listens: $(head -1 "$T/en.out")"
URL="https://127.0.0.1:$EN_PORT/.well-known/est"

# code TENANT DEVICE [--ttl N]: the code cofferctl prints
code() {
	t=$1
	d=$2
	shift 2
	"$CTL" device enroll-code --tenant "$t" --device "$d" "$@" >"$T/code.out" 2>&1 ||
	    { echo "enroll-code failed: $(cat "$T/code.out")" >&2; return 1; }
	sed -n 2p "$T/code.out"
}
# csr NAME: NAME.key (stays here) and NAME.b64 (the CSR, base64 DER)
csr() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -keyout "$T/$1.key" -subj "/CN=$1" -outform DER \
	    -out "$T/$1.der" 2>/dev/null || return 1
	base64 "$T/$1.der" >"$T/$1.b64"
}
# enroll TENANT USER CODE CSRFILE: HTTP code; body in $T/resp
enroll() {
	curl -s -o "$T/resp" -w '%{http_code}' --cacert "$GWF_SRV_CA" \
	    --user "$2:$3" -H 'Content-Type: application/pkcs10' \
	    --data-binary "@$4" "$URL/$1/simpleenroll"
}
err() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["error"])' "$T/resp"; }
audits() {
	# shellcheck disable=SC2016  # $3 is expanded: the quotes are SQL's
	$PSQL -c "SELECT count(*) FROM coffer.audit_events e JOIN coffer.tenants t USING (tenant_id) WHERE t.name = '$1' AND e.action = '$2'${3:+ AND e.detail->>'reason' = '$3'}"
}

# -- a code, then enrollment --------------------------------------------------------
C1=$(code acme phone-1) || die "enroll-code"
case "$C1" in
????-????-????-????-????-????-????-????) ok "a one-time code of 32 characters: $(sed -n 1p "$T/code.out")" ;;
*) bad "enroll-code printed '$C1'" ;;
esac
N1=$(echo "$C1" | tr -d -)
check_eq "only its SHA-256 is stored; audited device.enroll_code without it" "1 0 1 0" \
    "$($PSQL -c "SELECT count(*) FROM coffer.enroll_codes WHERE code_hash = sha256('$N1'::bytea)") $($PSQL -c "SELECT count(*) FROM coffer.enroll_codes e WHERE e::text LIKE '%$N1%'") $(audits acme device.enroll_code) $($PSQL -c "SELECT count(*) FROM coffer.audit_events e WHERE e::text LIKE '%$N1%'")"

csr phone-1 || die "openssl req"
check_eq "the device enrolls with its CSR and the code" 200 \
    "$(enroll acme phone-1 "$C1" "$T/phone-1.b64")"
{ echo "-----BEGIN PKCS7-----"; cat "$T/resp"; echo "-----END PKCS7-----"; } >"$T/p7.pem"
openssl pkcs7 -in "$T/p7.pem" -print_certs 2>/dev/null |
    sed -n '/BEGIN CERT/,/END CERT/p' >"$T/phone-1.crt"
check_eq "the certificate carries the device's own public key" \
    "$(openssl pkey -in "$T/phone-1.key" -pubout 2>/dev/null)" \
    "$(openssl x509 -in "$T/phone-1.crt" -pubkey -noout 2>/dev/null)"
check_eq "issued by the tenant's device CA, for the device" "OK O=acme, CN=phone-1" \
    "$(openssl verify -CAfile "$COFFER_PKI/devices/acme/ca.pem" "$T/phone-1.crt" 2>&1 | sed 's/.*: //') $(openssl x509 -in "$T/phone-1.crt" -noout -subject -nameopt sep_comma_plus_space 2>/dev/null | sed 's/subject=//')"
if grep -q "PRIVATE KEY" "$T/resp" || find "$COFFER_PKI" "$T/certs" -name 'phone-1*.key' | grep -q .; then
	bad "a private key for phone-1 exists server-side or was sent"
else
	ok "no private key of phone-1 was sent or exists outside the device"
fi
FPR=$(openssl x509 -in "$T/phone-1.crt" -outform DER 2>/dev/null | sha256sum | cut -c1-64)
check_eq "registered active with that fingerprint, the code used, audited" \
    "active $FPR $FPR 1" \
    "$($PSQL -c "SELECT d.status, d.cert_fingerprint, c.fingerprint FROM coffer.devices d JOIN coffer.enroll_codes c USING (tenant_id, device_id) WHERE d.device_id = 'phone-1'" | tr '|' ' ') $(audits acme device.enroll)"

# the enrolled certificate works at the gateway
cp "$T/phone-1.crt" "$GWF_CERTS/phone-1.crt" && cp "$T/phone-1.key" "$GWF_CERTS/phone-1.key"
sleep 2     # device_refresh_s = 1
printf '{"id":"e1","channel":"sms","conversation":"c","direction":"out","sender":"+15551230001","recipients":["+15551230002"],"sent_at":"2026-11-22T10:00:00Z","body":"x"}\n' >"$T/rec"
gwf_curl phone-1 -s -o "$T/gw.resp" -w '%{http_code}' --data-binary "@$T/rec" \
    "$(gwf_url v1/records)" >"$T/gw.code"
check_eq "the device stores a record through the gateway with it" "200 stored" \
    "$(cat "$T/gw.code") $(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["status"])' "$T/gw.resp")"

# -- refusals: 401 with the reason, audited ------------------------------------------
check_eq "the same code again" "401 the enrollment code was already used 1" \
    "$(enroll acme phone-1 "$C1" "$T/phone-1.b64") $(err) $(audits acme device.enroll_refused 'the enrollment code was already used')"
C2=$(code acme phone-2 --ttl 1) || die "enroll-code --ttl"
sleep 2
csr phone-2 || die "openssl req"
check_eq "an expired code" "401 the enrollment code has expired 1" \
    "$(enroll acme phone-2 "$C2" "$T/phone-2.b64") $(err) $(audits acme device.enroll_refused 'the enrollment code has expired')"
C3=$(code acme phone-3) || die "enroll-code"
check_eq "another device's code" "401 the enrollment code belongs to another device" \
    "$(enroll acme phone-2 "$C3" "$T/phone-2.b64") $(err)"
check_eq "another tenant's code: refused, audited in both tenants" \
    "401 the enrollment code belongs to another tenant 1 1" \
    "$(enroll globex phone-3 "$C3" "$T/phone-2.b64") $(err) $(audits globex device.enroll_refused 'the enrollment code belongs to another tenant') $(audits acme device.enroll_refused 'the enrollment code belongs to another tenant')"
check_eq "an unknown code: refused, not audited" "401 unknown enrollment code 0" \
    "$(enroll acme phone-3 AAAA-BBBB "$T/phone-2.b64") $(err) $(audits acme device.enroll_refused 'unknown enrollment code')"
check_eq "the refusals consumed nothing: phone-3's code still works" 200 \
    "$(enroll acme phone-3 "$C3" "$T/phone-2.b64")"
check_eq "a lower-case code without dashes is the same code" "401 the enrollment code was already used" \
    "$(enroll acme phone-3 "$(echo "$C3" | tr -d - | tr '[:upper:]' '[:lower:]')" "$T/phone-2.b64") $(err)"

# -- bad requests ---------------------------------------------------------------------
C4=$(code acme phone-4) || die "enroll-code"
check_eq "no credentials" "401 HTTP Basic authentication with the device id and its enrollment code is required" \
    "$(curl -s -o "$T/resp" -w '%{http_code}' --cacert "$GWF_SRV_CA" --data-binary "@$T/phone-2.b64" "$URL/acme/simpleenroll") $(err)"
echo "not a csr" >"$T/junk"
check_eq "garbage" "400 the body is not a base64 PKCS#10 CSR" \
    "$(enroll acme phone-4 "$C4" "$T/junk") $(err)"
# a CSR whose signature is broken: flip a byte of the signature's end
python3 -c 'import sys
d = bytearray(open(sys.argv[1], "rb").read()); d[-3] ^= 1
open(sys.argv[2], "wb").write(d)' "$T/phone-2.der" "$T/bad.der"
base64 "$T/bad.der" >"$T/bad.b64"
check_eq "a CSR that does not verify" "400 the CSR's signature does not verify (no proof of possession)" \
    "$(enroll acme phone-4 "$C4" "$T/bad.b64") $(err)"
openssl req -new -newkey rsa:2048 -nodes -keyout "$T/rsa.key" -subj /CN=x \
    -outform DER -out "$T/rsa.der" 2>/dev/null && base64 "$T/rsa.der" >"$T/rsa.b64"
check_eq "an RSA key" "400 the CSR's key must be EC P-256" \
    "$(enroll acme phone-4 "$C4" "$T/rsa.b64") $(err)"
check_eq "none of those used phone-4's code" "200" "$(enroll acme phone-4 "$C4" "$T/phone-2.b64")"
check_eq "an unknown tenant" "404 unknown tenant" "$(enroll nosuch phone-4 "$C4" "$T/phone-2.b64") $(err)"

# -- cacerts, revoked devices -----------------------------------------------------------
curl -s --cacert "$GWF_SRV_CA" "$URL/acme/cacerts" >"$T/ca.b64"
{ echo "-----BEGIN PKCS7-----"; cat "$T/ca.b64"; echo "-----END PKCS7-----"; } >"$T/ca.p7"
check_eq "cacerts is the tenant's device CA" \
    "$(openssl x509 -in "$COFFER_PKI/devices/acme/ca.pem" -noout -fingerprint -sha256)" \
    "$(openssl pkcs7 -in "$T/ca.p7" -print_certs 2>/dev/null | openssl x509 -noout -fingerprint -sha256)"
"$CTL" device revoke --tenant acme --device phone-4 >/dev/null 2>&1 || bad "revoke phone-4"
"$CTL" device enroll-code --tenant acme --device phone-4 >/dev/null 2>"$T/err"
check_eq "a revoked device gets no code" "1 cofferctl: device phone-4 of tenant acme is revoked; a revoked device id is not enrolled again (use a new id)" \
    "$? $(cat "$T/err")"
"$CTL" device enroll-code --tenant acme --device phone-5 --ttl 0 >/dev/null 2>"$T/err"
check_eq "a bad --ttl" "2 cofferctl: device: --ttl must be 1 to 2592000 seconds" "$? $(head -1 "$T/err")"
# -- coffer-agent enroll: the agent makes its key, enrolls, delivers ---------------------
A="$T/agent"
mkdir -p "$A/spool" && chmod 0700 "$A"
cat >"$A/agent.conf" <<CONF
gateway_url = https://127.0.0.1:$GWF_PORT
server_ca_file = $GWF_SRV_CA
cert_file = $A/dev.crt
key_file = $A/dev.key
spool_dir = $A/spool
state_dir = $A/state
heartbeat = no
spool_poll_ms = 50
CONF
C5=$(code acme agent-dev) || die "enroll-code"
echo "$C5" | "$BUILD/coffer-agent" enroll --config "$A/agent.conf" \
    --url "$URL/acme" --device agent-dev >"$T/ae.out" 2>&1
check_eq "coffer-agent enroll" "0 coffer-agent: enrolled as agent-dev: wrote $A/dev.key (0600) and $A/dev.crt" \
    "$? $(cat "$T/ae.out")"
check_eq "its key is 0600 and the certificate carries it" \
    "600 $(openssl pkey -in "$A/dev.key" -pubout 2>/dev/null | tr -d '\n')" \
    "$(stat -c %a "$A/dev.key") $(openssl x509 -in "$A/dev.crt" -pubkey -noout 2>/dev/null | tr -d '\n')"
K0=$(sha256sum <"$A/dev.key")
echo "$C5" | "$BUILD/coffer-agent" enroll --config "$A/agent.conf" \
    --url "$URL/acme" --device agent-dev >"$T/ae.out" 2>&1
check_eq "the code again: refused with the server's reason, the key kept" \
    "1 coffer-agent: enrollment refused (HTTP 401): the enrollment code was already used same" \
    "$? $(cat "$T/ae.out") $([ "$(sha256sum <"$A/dev.key")" = "$K0" ] && echo same)"
"$BUILD/coffer-agent" enroll --config "$A/agent.conf" --url "$URL/acme" \
    --device agent-dev </dev/null >"$T/ae.out" 2>&1
check_eq "no code on standard input" "1 coffer-agent: no enrollment code on standard input" \
    "$? $(cat "$T/ae.out")"
sleep 2     # the gateway's device refresh
"$BUILD/coffer-agent" run --config "$A/agent.conf" >"$A/agent.log" 2>&1 &
AG=$!
printf '{"id":"ag1","channel":"sms","conversation":"c","direction":"out","sender":"+15551230001","recipients":["+15551230002"],"sent_at":"2026-11-22T10:00:00Z","body":"x"}\n' >"$A/spool/one.tmp"
mv "$A/spool/one.tmp" "$A/spool/one.ndjson"
i=0
while [ $i -lt 100 ] && [ "$("$BUILD/coffer-agent" status --config "$A/agent.conf" --json 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin).get("delivered", 0))' 2>/dev/null)" != 1 ]; do
	sleep 0.1
	i=$((i + 1))
done
kill "$AG" 2>/dev/null
wait "$AG" 2>/dev/null
check_eq "the enrolled agent delivers a record through the gateway" "1 1" \
    "$($PSQL -c "SELECT count(*) FROM coffer.capture_runs WHERE device_id = 'agent-dev'") $("$BUILD/coffer-agent" receipts --config "$A/agent.conf" | grep -c '"stored"')"

if grep -q "$C1\|$C3" "$T/en.log"; then
	bad "a code appears in the server's log"
else
	ok "no code in the server's log ($(grep -c . "$T/en.log") lines)"
fi

finish
