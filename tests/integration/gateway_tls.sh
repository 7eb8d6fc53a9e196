#!/bin/sh
# tests/integration/gateway_tls.sh — who may talk to coffer-gateway.
#
# Real gateway, real database, real clients (curl, openssl s_client).  Runs
# inside tests/pg-harness.sh; the gateway comes from tests/lib/
# gateway-fixture.sh.  Refused, each with its reason and the certificate's
# fingerprint in the log, and nothing stored:
#   - no client certificate (curl, openssl s_client)
#   - a certificate from another CA: the same tenant name under a second
#     PKI (registered device!), and a CA made with the openssl CLI
#   - expired and not yet valid (cofferctl device issue --not-before/after)
#   - revoked (cofferctl device revoke, then SIGHUP)
#   - an unknown device: signed by the tenant CA (openssl CLI) but never
#     registered
#   - O = tenant B in a certificate signed by tenant A's CA
#   - a certificate without EKU clientAuth
#   - a TLS 1.2 client (curl, openssl s_client)
# And: the diagnostic paths of THREATS T2 and TRACE are 404/405 on the
# gateway and on the metrics listener; refusals are counted by reason on
# /metrics; SIGTERM stops the gateway with status 0.
# Prints "N passed, M failed"; exits non-zero on any failure.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/gateway-fixture.sh
. "$HERE/../lib/gateway-fixture.sh"

PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"
# shellcheck source=../lib/check.sh
. "$HERE/../lib/check.sh"

command -v openssl >/dev/null || { echo "gateway_tls: openssl missing"; exit 1; }
command -v python3 >/dev/null || { echo "gateway_tls: python3 missing"; exit 1; }

gwf_init || die "fixture init"
TA=gwt-alpha
TB=gwt-bravo
X="$GWF_DIR/x"              # certificates made with the openssl CLI
mkdir -p "$X" && chmod 0700 "$X"

# -- PKI, tenants, devices, node, gateway --------------------------------------
gwf_server_cert || die "server certificate"
gwf_tenant "$TA" || die "tenant $TA"
gwf_tenant "$TB" || die "tenant $TB"
gwf_device "$TA" a-phone || die "device a-phone"
gwf_device "$TB" b-phone || die "device b-phone"
gwf_device "$TA" a-lost || die "device a-lost"
gwf_device "$TA" a-old --not-before 2020-01-01T00:00:00Z \
    --not-after 2020-02-01T00:00:00Z || die "expired device"
gwf_device "$TA" a-early --not-before 2030-01-01T00:00:00Z \
    --not-after 2030-06-01T00:00:00Z || die "not-yet-valid device"
gwf_node gwt-node || die "node"
ok "PKI, tenants $TA and $TB, devices and node made with cofferctl"

# the same tenant name under a second, untrusted PKI: a registered device
# whose certificate comes from a CA the gateway does not know
if COFFER_PKI="$GWF_DIR/pki2" "$GWF_CTL" device ca-init --tenant "$TA" \
    >"$GWF_DIR/ctl.out" 2>&1 &&
    COFFER_PKI="$GWF_DIR/pki2" "$GWF_CTL" device issue --tenant "$TA" \
    --device a-rogue --out "$GWF_CERTS" >>"$GWF_DIR/ctl.out" 2>&1; then
	ok "second PKI with its own CA for $TA (device a-rogue, registered)"
else
	cat "$GWF_DIR/ctl.out"
	bad "second PKI for $TA"
fi

# openssl CLI: a self-made CA, and leaves signed by tenant A's own CA
newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
# leaf NAME SUBJECT CA_CERT CA_KEY EKU
leaf() {
	newkey "$X/$1.key" &&
	openssl req -new -key "$X/$1.key" -subj "$2" -out "$X/$1.csr" 2>/dev/null &&
	printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\n' \
	    "$5" >"$X/$1.ext" &&
	openssl x509 -req -in "$X/$1.csr" -CA "$3" -CAkey "$4" \
	    -set_serial "0x$(openssl rand -hex 16)" -days 30 -sha256 \
	    -extfile "$X/$1.ext" -out "$X/$1.crt" 2>/dev/null
}
ACA="$COFFER_PKI/devices/$TA/ca.pem"
AKEY="$COFFER_PKI/devices/$TA/ca.key"
newkey "$X/self-ca.key" &&
openssl req -new -x509 -key "$X/self-ca.key" -subj "/O=$TA/CN=$TA device CA" \
    -days 30 -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$X/self-ca.pem" 2>/dev/null &&
leaf selfmade "/O=$TA/CN=a-phone" "$X/self-ca.pem" "$X/self-ca.key" clientAuth &&
leaf ghost "/O=$TA/CN=a-ghost" "$ACA" "$AKEY" clientAuth &&
leaf crossed "/O=$TB/CN=b-phone" "$ACA" "$AKEY" clientAuth &&
leaf serveronly "/O=$TA/CN=a-phone" "$ACA" "$AKEY" serverAuth ||
    die "openssl CLI certificates"
ok "openssl CLI: self-made CA, unregistered device, O=$TB under $TA's CA, serverAuth-only"

gwf_config || die "gateway config"
gwf_start || die "gateway start"
ok "gateway started (pid $GWF_PID)"

count_records() { $PSQL -c "SELECT count(*) FROM coffer.records"; }
RECORDS_BEFORE=$(count_records) || die "counting records"
BODY="$GWF_DIR/one.ndjson"
printf '{"id":"tls-probe-1","channel":"sms","conversation":"c1","direction":"in","sender":"+15550000001","recipients":["+15550000002"],"sent_at":"2026-11-22T10:00:00Z","body":"must never be stored"}\n' >"$BODY"

fpr() {   # lower-case hex SHA-256 of a PEM certificate's DER
	openssl x509 -in "$1" -noout -fingerprint -sha256 |
	    sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'
}

# refused NAME CERT KEY REASON: curl GET + POST both fail, nothing answered,
# and the log has the refusal with reason and fingerprint
refused() {
	name=$1 crt=$2 key=$3 reason=$4
	code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$GWF_SRV_CA" \
	    --cert "$crt" --key "$key" "$(gwf_url healthz)" 2>"$GWF_DIR/curl.err")
	rc=$?
	code2=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$GWF_SRV_CA" \
	    --cert "$crt" --key "$key" --data-binary "@$BODY" \
	    "$(gwf_url v1/records)" 2>>"$GWF_DIR/curl.err")
	check "$name: refused (curl rc $rc, http $code/$code2)" \
	    test "$rc" -ne 0 -a "$code" = 000 -a "$code2" = 000
	fp=$(fpr "$crt")
	check "$name: logged reason=$reason with fingerprint ${fp%"${fp#????????????}"}..." \
	    grep -q "handshake refused: .*reason=$reason fingerprint=$fp" "$GWF_LOG"
}

# -- who is let in ------------------------------------------------------------------
check "a-phone ($TA) gets /healthz" \
    test "$(gwf_curl a-phone -o /dev/null -w '%{http_code}' "$(gwf_url healthz)")" = 200
check "b-phone ($TB) gets /healthz" \
    test "$(gwf_curl b-phone -o /dev/null -w '%{http_code}' "$(gwf_url healthz)")" = 200
check "a-lost gets /healthz before it is revoked" \
    test "$(gwf_curl a-lost -o /dev/null -w '%{http_code}' "$(gwf_url healthz)")" = 200
check "healthz says nothing else" \
    test "$(gwf_curl a-phone "$(gwf_url healthz)")" = '{"status":"ok"}'

# -- no certificate ---------------------------------------------------------------------
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$GWF_SRV_CA" \
    "$(gwf_url healthz)" 2>/dev/null)
rc=$?
check "no client certificate (curl): refused (rc $rc, http $code)" \
    test "$rc" -ne 0 -a "$code" = 000
out=$(printf 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n' |
    timeout 10 openssl s_client -quiet -connect "127.0.0.1:$GWF_PORT" \
    -CAfile "$GWF_SRV_CA" -servername localhost 2>&1)
case "$out" in
*"HTTP/1.1"*) bad "no client certificate (openssl s_client): got an HTTP answer" ;;
*) ok "no client certificate (openssl s_client): refused" ;;
esac
check "no client certificate: logged reason=no_certificate" \
    grep -q "handshake refused: .*reason=no_certificate fingerprint=none" "$GWF_LOG"

# -- other CAs ----------------------------------------------------------------------------
if [ -f "$GWF_CERTS/a-rogue.crt" ]; then
	refused "registered device, certificate from a second $TA CA" \
	    "$GWF_CERTS/a-rogue.crt" "$GWF_CERTS/a-rogue.key" unknown_ca
fi
refused "self-made CA (openssl CLI), O=$TA CN=a-phone" \
    "$X/selfmade.crt" "$X/selfmade.key" unknown_ca

# -- validity ----------------------------------------------------------------------------
refused "expired (2020)" "$GWF_CERTS/a-old.crt" "$GWF_CERTS/a-old.key" expired
refused "not yet valid (2030)" "$GWF_CERTS/a-early.crt" "$GWF_CERTS/a-early.key" not_yet_valid

# -- identity ---------------------------------------------------------------------------
refused "unknown device (signed by $TA's CA, never registered)" \
    "$X/ghost.crt" "$X/ghost.key" unknown_device
refused "O=$TB signed by $TA's CA" "$X/crossed.crt" "$X/crossed.key" tenant_ca_mismatch
refused "EKU serverAuth only" "$X/serveronly.crt" "$X/serveronly.key" bad_key_usage

# -- protocol ---------------------------------------------------------------------------
code=$(gwf_curl a-phone --tls-max 1.2 -o /dev/null -w '%{http_code}' \
    "$(gwf_url healthz)" 2>/dev/null)
rc=$?
check "TLS 1.2 client (curl --tls-max 1.2): refused (rc $rc, http $code)" \
    test "$rc" -ne 0 -a "$code" = 000
out=$(printf 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n' |
    timeout 10 openssl s_client -quiet -tls1_2 -connect "127.0.0.1:$GWF_PORT" \
    -CAfile "$GWF_SRV_CA" -cert "$GWF_CERTS/a-phone.crt" \
    -key "$GWF_CERTS/a-phone.key" 2>&1)
case "$out" in
*"HTTP/1.1"*) bad "TLS 1.2 client (openssl s_client -tls1_2): got an HTTP answer" ;;
*) ok "TLS 1.2 client (openssl s_client -tls1_2): refused" ;;
esac
check "TLS 1.2: logged reason=protocol" \
    grep -q "handshake refused: .*reason=protocol fingerprint=none" "$GWF_LOG"
out=$(printf 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n' |
    timeout 10 openssl s_client -quiet -tls1_3 -connect "127.0.0.1:$GWF_PORT" \
    -CAfile "$GWF_SRV_CA" -cert "$GWF_CERTS/a-phone.crt" \
    -key "$GWF_CERTS/a-phone.key" 2>&1)
case "$out" in
*"HTTP/1.1 200"*) ok "TLS 1.3 with a-phone (openssl s_client): 200" ;;
*) bad "TLS 1.3 with a-phone (openssl s_client): no 200" ;;
esac

# -- revocation takes effect on SIGHUP ---------------------------------------------------
if gwf_run "device revoke a-lost" "$GWF_CTL" device revoke --tenant "$TA" \
    --device a-lost; then
	gwf_hup || bad "SIGHUP reload"
	check "reload logged" grep -q "info: reload: 2 tenant device CA" "$GWF_LOG"
	refused "revoked (device revoke + SIGHUP)" "$GWF_CERTS/a-lost.crt" \
	    "$GWF_CERTS/a-lost.key" revoked
	check "a-phone still welcome after the reload" \
	    test "$(gwf_curl a-phone -o /dev/null -w '%{http_code}' "$(gwf_url healthz)")" = 200
else
	bad "device revoke a-lost"
fi

# -- nothing stored --------------------------------------------------------------------
RECORDS_AFTER=$(count_records)
check "no record stored by any refused client ($RECORDS_BEFORE -> $RECORDS_AFTER)" \
    test "$RECORDS_AFTER" = "$RECORDS_BEFORE"
check "gateway log never names the refused body" \
    sh -c "! grep -q 'must never be stored' '$GWF_LOG'"

# -- diagnostic paths (THREATS T2) on both listeners -------------------------------------
MURL="http://127.0.0.1:$GWF_METRICS_PORT"
for p in heapdump actuator/health actuator/heapdump management debug env .git/config; do
	c=$(gwf_curl a-phone -o /dev/null -w '%{http_code}' "$(gwf_url "$p")")
	check "gateway /$p: 404" test "$c" = 404
	c=$(curl -s -o /dev/null -w '%{http_code}' "$MURL/$p")
	check "metrics /$p: 404" test "$c" = 404
done
c=$(gwf_curl a-phone -X TRACE -o /dev/null -w '%{http_code}' "$(gwf_url /)")
check "gateway TRACE /: 404 or 405 ($c)" sh -c "[ '$c' = 404 ] || [ '$c' = 405 ]"
c=$(gwf_curl a-phone -X TRACE -o /dev/null -w '%{http_code}' "$(gwf_url healthz)")
check "gateway TRACE /healthz: 405 ($c)" test "$c" = 405
c=$(gwf_curl a-phone -X OPTIONS -o /dev/null -w '%{http_code}' "$(gwf_url v1/records)")
check "gateway OPTIONS /v1/records: 405 ($c)" test "$c" = 405
c=$(curl -s -X TRACE -o /dev/null -w '%{http_code}' "$MURL/")
check "metrics TRACE /: 404 or 405 ($c)" sh -c "[ '$c' = 404 ] || [ '$c' = 405 ]"
c=$(curl -s -X TRACE -o /dev/null -w '%{http_code}' "$MURL/metrics")
check "metrics TRACE /metrics: 405 ($c)" test "$c" = 405
hdrs=$(gwf_curl a-phone -D - -o /dev/null "$(gwf_url heapdump)")
case "$hdrs" in
*[Ss]erver:*) bad "404 carries a Server header" ;;
*) ok "404 carries no Server header" ;;
esac
check "404 is no-store, nosniff" sh -c "printf '%s' \"\$1\" | grep -qi '^Cache-Control: no-store' &&
    printf '%s' \"\$1\" | grep -qi '^X-Content-Type-Options: nosniff'" _ "$hdrs"
check "probes logged" grep -q 'probe: listener=gateway .*target="/heapdump" status=404' "$GWF_LOG"

# -- metrics -----------------------------------------------------------------------------
curl -s "$MURL/metrics" >"$GWF_DIR/metrics.txt"
for r in no_certificate unknown_ca expired not_yet_valid revoked unknown_device \
    tenant_ca_mismatch bad_key_usage protocol; do
	check "metrics count handshake refusals reason=$r" \
	    grep -Eq "^coffer_gateway_handshake_failures_total\{reason=\"$r\"\} [1-9]" \
	    "$GWF_DIR/metrics.txt"
done
check "metrics count 404s" grep -Eq '^coffer_gateway_http_responses_total\{status="404"\} [1-9]' \
    "$GWF_DIR/metrics.txt"
check "metrics page names no tenant, device or fingerprint" \
    sh -c "! grep -Eq '$TA|$TB|a-phone|$(fpr "$GWF_CERTS/a-phone.crt")' '$GWF_DIR/metrics.txt'"

# -- shutdown ----------------------------------------------------------------------------
gwf_stop TERM
check "SIGTERM: exit status 0 ($GWF_EXIT)" test "$GWF_EXIT" = 0
check "SIGTERM: stop logged" grep -q 'info: stopped' "$GWF_LOG"
check "log holds no private key material" sh -c "! grep -q 'PRIVATE KEY' '$GWF_LOG'"

finish
