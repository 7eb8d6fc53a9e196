#!/bin/sh
# tests/integration/api_frontdoor.sh — issue 14.3: the API's front door
# refuses what the gateway refuses.  The attacker speaks raw bytes (over
# mutual TLS with an active user's certificate, or plain HTTP to the
# metrics listeners) with framing a proxy and the server could read two
# ways: Content-Length with Transfer-Encoding, two Content-Lengths, chunked
# twice, a NUL inside Content-Length, bare-LF chunk lines, "chunked,
# identity", a chunked body over the limit, a second request in the same
# write, and paths that percent-encoding would re-route (/v1/%77hoami,
# /v1/whoami%00junk, %2F, %5C).  Before: coffer-api (libmicrohttpd's
# lenient parsing) answered some with 200, ran the trailing request,
# answered others not at all or with libmicrohttpd's HTML.  Now every one
# gets exactly one answer in the API's JSON error shape (code, message,
# request id in the body and X-Request-Id, the security headers), and the
# connection is closed.  The same shapes go to the API's metrics listener
# and to the gateway's (which was strict already: its own short JSON).
# Real gateway, API, PostgreSQL; runs inside tests/pg-harness.sh.
set -u
ROOT=$(pwd)
. "$ROOT/tests/lib/gateway-fixture.sh"
. "$ROOT/tests/lib/api-fixture.sh"
GWF_NO_TRAP=1
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"
CK_NAME=api_frontdoor
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
gwf_simple fd phone-1 fd-node || die "gateway start"
apf_user fd lee legal || die "people"
apf_config && apf_start || die "coffer-api start"
RAW="$D/raw"
mkdir -p "$RAW"
FDC="python3 $ROOT/tests/lib/frontdoor_client.py --raw-dir $RAW"

# The front door's refusals (api/frontdoor.c), as the client prints them.
E_CLTE="status=400 code=bad_request msg=Content-Length together with Transfer-Encoding"
E_CLCL="status=400 code=bad_request msg=repeated Content-Length"
E_TETE="status=400 code=bad_request msg=repeated Transfer-Encoding"
E_BYTE="status=400 code=bad_request msg=invalid byte in the request head"
E_TE="status=400 code=bad_request msg=Transfer-Encoding other than chunked"
E_CHUNKED="status=411 code=length_required msg=chunked request bodies are not accepted; send one Content-Length"
E_PCT="status=400 code=bad_request msg=percent-encoding in the request path"
E_404="status=404 code=not_found msg=no such resource"
SHUT="rid=1 sec=1 closed=1"

CASES="cl-te cl-cl te-te cl-nul chunk-bare-lf te-chunked-identity
    chunk-over-limit pipelined get-body pct-77 pct-00 pct-2f pct-5c
    pct-query-ok pct-query-nul"
# the other rules, on the API's two listeners
RULES="bare-lf-head bare-cr-head obs-fold te-space-colon cl-alpha
    cl-over-limit target-long head-huge head-endless head-near-limit
    expect-other http2 http09 no-host two-hosts absolute-form nul-in-path
    empty-value lower-method odd-target head-at-limit"
B400="status=400 code=bad_request msg="

expect_api() {   # expect_api CASE: the line the API listeners must give
	case $1 in
	cl-te) echo "responses=1 $E_CLTE $SHUT" ;;
	cl-cl) echo "responses=1 $E_CLCL $SHUT" ;;
	te-te) echo "responses=1 $E_TETE $SHUT" ;;
	cl-nul) echo "responses=1 $E_BYTE $SHUT" ;;
	chunk-bare-lf | chunk-over-limit) echo "responses=1 $E_CHUNKED $SHUT" ;;
	te-chunked-identity) echo "responses=1 $E_TE $SHUT" ;;
	pipelined | pct-query-ok) echo "responses=1 status=200 code=- msg=- rid=0 sec=1 closed=1" ;;
	get-body) echo "responses=1 $E_404 $SHUT" ;;
	pct-query-nul) echo "responses=1 ${B400}encoded NUL in the request target $SHUT" ;;
	pct-*) echo "responses=1 $E_PCT $SHUT" ;;
	bare-lf-head | bare-cr-head) echo "responses=1 ${B400}bare CR or LF in the request head $SHUT" ;;
	obs-fold) echo "responses=1 ${B400}obs-fold header line continuation $SHUT" ;;
	te-space-colon) echo "responses=1 ${B400}invalid header name $SHUT" ;;
	cl-alpha) echo "responses=1 ${B400}invalid Content-Length $SHUT" ;;
	cl-over-limit) echo "responses=1 status=413 code=payload_too_large msg=the request body is too large $SHUT" ;;
	target-long) echo "responses=1 status=414 code=uri_too_long msg=the request target is too long $SHUT" ;;
	head-huge | head-endless) echo "responses=1 status=431 code=request_header_too_large msg=the request head is too large $SHUT" ;;
	head-near-limit | head-at-limit | empty-value)
		echo "responses=1 status=200 code=- msg=- rid=0 sec=1 closed=1" ;;
	lower-method) echo "responses=1 status=405 code=method_not_allowed msg=method not allowed here $SHUT" ;;
	odd-target) echo "responses=1 $E_404 $SHUT" ;;
	expect-other) echo "responses=1 status=417 code=expectation_failed msg=unsupported Expect $SHUT" ;;
	http2) echo "responses=1 status=505 code=http_version_not_supported msg=HTTP version not supported $SHUT" ;;
	http09 | absolute-form) echo "responses=1 ${B400}malformed request line $SHUT" ;;
	no-host | two-hosts) echo "responses=1 ${B400}missing or repeated Host $SHUT" ;;
	nul-in-path) echo "responses=1 ${B400}invalid byte in the request head $SHUT" ;;
	esac
}

# -- the API (mutual TLS, as lee) ------------------------------------------
# whoami is not audited (a read of one's own identity): its metric counts
# the requests that reached the handler
W200='coffer_api_requests_total{route="whoami",status="200"}'
AUDIT0=$(apf_metric "$W200")
# shellcheck disable=SC2086 # CASES: one word per case
$FDC --listener api --port "$APF_PORT" --ca "$GWF_SRV_CA" \
    --cert "$APF_PEOPLE/lee.crt" --key "$APF_PEOPLE/lee.key" $CASES \
    >"$D/api.out" 2>&1 || die "frontdoor_client (api): $(cat "$D/api.out")"
for c in $CASES; do
	check_eq "api $c" "$c $(expect_api "$c")" "$(grep "^$c " "$D/api.out")"
done
# shellcheck disable=SC2086 # RULES: one word per case
$FDC --listener api --port "$APF_PORT" --ca "$GWF_SRV_CA" \
    --cert "$APF_PEOPLE/lee.crt" --key "$APF_PEOPLE/lee.key" $RULES \
    >"$D/api2.out" 2>&1 || die "frontdoor_client (api rules): $(cat "$D/api2.out")"
for c in $RULES; do
	check_eq "api $c" "$c $(expect_api "$c")" "$(grep "^$c " "$D/api2.out")"
done
# whoami reached a handler five times: pipelined, pct-query-ok,
# head-near-limit, head-at-limit and empty-value; the trailing requests of
# cl-te, cl-cl, te-te, pipelined ... never ran
AUDIT1=$(apf_metric "$W200")
check_eq "api: only the five clean whoami requests reached a handler (metric)" \
    5 $((AUDIT1 - AUDIT0))
check_eq "api: no matter was created by a smuggled body" 0 \
    "$(q "SELECT count(*) FROM coffer.matters")"
check "api: no HTML answer anywhere" sh -c "! grep -l -i '<html' $RAW/api.* >/dev/null 2>&1"
check "api: the log names the refusals without the bytes" \
    grep -q "front door: refused .*Content-Length together with Transfer-Encoding" "$APF_LOG"
check "api: no request body in the log" sh -c "! grep -q smuggled '$APF_LOG'"
apf_call lee GET /v1/whoami
check_eq "api: whoami answers after the attacks" 200 "$APF_CODE"
check "api: a normal answer closes the connection" grep -qi '^Connection: close' "$APF_HDR"

# -- the API's metrics listener (plain HTTP) -------------------------------
# shellcheck disable=SC2086
$FDC --listener api-metrics --port "$APF_METRICS_PORT" $CASES \
    >"$D/am.out" 2>&1 || die "frontdoor_client (api-metrics): $(cat "$D/am.out")"
for c in $CASES; do
	check_eq "api metrics $c" "$c $(expect_api "$c")" "$(grep "^$c " "$D/am.out")"
done
# shellcheck disable=SC2086
$FDC --listener api-metrics --port "$APF_METRICS_PORT" $RULES \
    >"$D/am2.out" 2>&1 || die "frontdoor_client (api-metrics rules): $(cat "$D/am2.out")"
for c in $RULES; do
	check_eq "api metrics $c" "$c $(expect_api "$c")" "$(grep "^$c " "$D/am2.out")"
done
check "api metrics: no HTML answer anywhere" sh -c "! grep -l -i '<html' $RAW/api-metrics.* >/dev/null 2>&1"
check_eq "api metrics: /metrics still answers" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$APF_METRICS_PORT/metrics")"
check "api metrics: the refusals are counted" sh -c \
    "[ \"\$(curl -s http://127.0.0.1:$APF_METRICS_PORT/metrics | awk '\$1 == \"coffer_api_frontdoor_refusals_total\" { print \$2 }')\" -gt 0 ]"

# -- the gateway's metrics listener (plain HTTP, gateway/http.c) -----------
# The gateway keeps connections alive and answers a clean pipelined
# request (its unit test "pipelined keep-alive"); every ambiguous shape is
# one 400 and a close, and a smuggled request after it never runs.
G400="status=400 code=bad_request msg=- rid=1 sec=1 closed=1"
G404="status=404 code=not_found msg=- rid=1 sec=1"
expect_gw() {
	case $1 in
	cl-te | cl-cl | te-te | cl-nul | te-chunked-identity | chunk-bare-lf | \
	    chunk-over-limit)
		echo "responses=1 $G400" ;;
	pipelined) echo "responses=2 status=200 code=- msg=- rid=1 sec=1 closed=0" ;;
	get-body) echo "responses=1 $G404 closed=1" ;;
	pct-query-ok | pct-query-nul)
		echo "responses=1 status=200 code=- msg=- rid=1 sec=1 closed=0" ;;
	pct-*) echo "responses=1 $G404 closed=0" ;;
	esac
}
# shellcheck disable=SC2086
$FDC --listener gw-metrics --port "$GWF_METRICS_PORT" $CASES \
    >"$D/gm.out" 2>&1 || die "frontdoor_client (gw-metrics): $(cat "$D/gm.out")"
for c in $CASES; do
	check_eq "gateway metrics $c" "$c $(expect_gw "$c")" "$(grep "^$c " "$D/gm.out")"
done
# FD_KEEP=DIR keeps the logs and the raw answers for a reader
[ -n "${FD_KEEP:-}" ] && mkdir -p "$FD_KEEP" &&
    cp -r "$APF_LOG" "$GWF_LOG" "$RAW" "$FD_KEEP/"
finish
