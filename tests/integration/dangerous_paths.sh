#!/bin/sh
# tests/integration/dangerous_paths.sh — unknown and dangerous paths on both
# daemons (issue 8, THREATS T2): /heapdump, /actuator/*, /management/*,
# /debug, /env, /.git/config, /server-status, traversal and case variants
# (the table is PROBE_PATHS in tests/lib/hostile_client.py) with GET, POST
# and TRACE, on every listener:
#   - coffer-gateway main (mTLS): with a device certificate; without one
#     the handshake is refused (no HTTP answer at all)
#   - coffer-gateway metrics (plain HTTP, loopback)
#   - coffer-api main (HTTPS): with a person's certificate and without
#   - coffer-api metrics (plain HTTP, loopback)
# Each answer: 404 (TRACE 404 or 405; another method on a real route 405;
# on the API's listeners 400 for percent-encoding in the path, which their
# front door refuses before routing: api/frontdoor.c),
# a short fixed JSON error or no body, no header outside a small allowlist
# (no Server, no X-Powered-By, no version), no echo of the path or of the
# request (no TRACE reflection).  Both daemons stay up and the probes are
# logged without the canary header value.
# Prints "N passed, M failed"; exits non-zero on any failure.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/gateway-fixture.sh
. "$HERE/../lib/gateway-fixture.sh"
# shellcheck source=../lib/api-fixture.sh
. "$HERE/../lib/api-fixture.sh"
# shellcheck source=../lib/figures.sh
. "$HERE/../lib/figures.sh"
HC="$HERE/../lib/hostile_client.py"

# shellcheck source=../lib/check.sh
. "$HERE/../lib/check.sh"

command -v python3 >/dev/null || { echo "dangerous_paths: python3 missing"; exit 1; }
GWF_NO_TRAP=1
gwf_init || exit 1
trap 'apf_cleanup; gwf_cleanup' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
T="$GWF_DIR"

gwf_simple dp-acme dp-phone dp-node || die "gateway with a tenant, device and node"
apf_user dp-acme dp-auditor auditor || die "person certificate"
# every probe is a refusal: lift the per-address refusal limit so the
# table is answered 404/405, not 429
apf_config "refusal_rate = 100000" "refusal_burst = 100000" || die "API configuration"
apf_start || die "API start"
ok "gateway (pid $GWF_PID) and API (pid $APF_PID) started"

total=0
probe() {   # probe TITLE ARGS...: run the table, count, check
	title=$1
	shift
	out=$(python3 "$HC" probe "$@" 2>"$T/probe.err")
	rc=$?
	head -40 "$T/probe.err"
	n=$(echo "$out" | sed -n 's/.*requests=\([0-9]*\).*/\1/p')
	total=$((total + ${n:-0}))
	check "$title ($out)" test "$rc" = 0 -a "${n:-0}" -gt 0
}
DEV="--cert $GWF_CERTS/dp-phone.crt --key $GWF_CERTS/dp-phone.key"
PERSON="--cert $APF_PEOPLE/dp-auditor.crt --key $APF_PEOPLE/dp-auditor.key"

# shellcheck disable=SC2086
probe "gateway main, device certificate: 404/405, fixed JSON, nothing internal" \
    --listener gateway --scheme https --port "$GWF_PORT" --ca "$GWF_SRV_CA" $DEV \
    --known "POST /v1/records,GET /healthz"
probe "gateway main, no certificate: handshake refused, no HTTP answer" \
    --listener gateway-nocert --scheme https --port "$GWF_PORT" --ca "$GWF_SRV_CA" \
    --no-cert --expect-refused
probe "gateway metrics listener: 404/405, fixed JSON, nothing internal" \
    --listener gateway-metrics --scheme http --port "$GWF_METRICS_PORT" \
    --known "GET /metrics"
# shellcheck disable=SC2086
probe "API main, person certificate: 404/405, fixed JSON, nothing internal" \
    --listener api --scheme https --port "$APF_PORT" --ca "$GWF_SRV_CA" $PERSON \
    --known "GET /v1/whoami,GET /v1/audit"
probe "API main, no certificate: 404/405, fixed JSON, nothing internal" \
    --listener api-nocert --scheme https --port "$APF_PORT" --ca "$GWF_SRV_CA" \
    --no-cert --known "GET /v1/whoami,GET /v1/audit"
probe "API metrics listener: 404/405, fixed JSON, nothing internal" \
    --listener api-metrics --scheme http --port "$APF_METRICS_PORT" \
    --known "GET /metrics"

# the real routes still work after the probes
check "gateway /healthz still 200" \
    test "$(gwf_curl dp-phone -o /dev/null -w '%{http_code}' "$(gwf_url healthz)")" = 200
apf_call dp-auditor GET /v1/whoami
check "API /v1/whoami still 200" test "$APF_CODE" = 200
check "gateway metrics /metrics still 200" \
    test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$GWF_METRICS_PORT/metrics")" = 200
check "API metrics /metrics still 200" \
    test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$APF_METRICS_PORT/metrics")" = 200
check "gateway still running" kill -0 "$GWF_PID"
check "API still running" kill -0 "$APF_PID"
check "gateway logged the probes" grep -q 'probe: listener=gateway' "$GWF_LOG"
for f in "$GWF_LOG" "$APF_LOG"; do
	check "$(basename "$f") never holds the probe's header value" \
	    sh -c "! grep -q 'probe-canary-7f3e' '$f'"
done

apf_stop
gwf_stop TERM
fig dangerous_paths "probe requests on 4 listeners (+ no-certificate runs), all 404/405 or refused (count)" "$total"
finish
