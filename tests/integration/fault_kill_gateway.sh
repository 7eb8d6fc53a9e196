#!/bin/sh
# tests/integration/fault_kill_gateway.sh — coffer-gateway killed with
# SIGKILL at random moments while 4 retrying clients stream records (issue 8).
#
# Runs inside tests/pg-harness.sh (make test; tests/torture/kill_gateway.sh
# runs it with larger counts in make torture).  4 devices of one
# tenant each stream their own records through gateway_client.py (a
# request without an answer, 503 or 429 is resent unchanged).  KILLS times
# (default 3, torture 20): wait a random 50..1500 ms after the gateway answered
# /healthz, kill -9, restart it at once and time how long until /healthz
# answers again.  Then the clients finish their request in flight and
# stop.  Asserts:
#   - every acknowledgement names a stored row with that leaf hash (lost
#     acknowledged = 0), no record stored twice, no seq gap, rows = records
#     acknowledged, cofferctl verify clean (tests/lib/fault-fixture.sh)
#   - the clients went on after every kill (acknowledgements after the last
#     restart), none failed
# Figures: kills, acknowledged, stored, lost acknowledged, duplicates
# stored, stored but not acknowledged, restart to ready (median, max ms).
# Bounded: KILL_DEADLINE seconds for the kill loop (default 300).
set -u

FF_NAME=${FF_NAME:-fault_kill_gateway}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/fault-fixture.sh
. "$HERE/../lib/fault-fixture.sh"

KILLS=${KILLS:-3}
KILL_DEADLINE=${KILL_DEADLINE:-300}
RECORDS=${RECORDS:-60000}        # per client; the stop file ends them sooner

ff_setup ff-kill 4 || die "gateway, tenant, 4 devices"
ok "gateway started with 4 devices of one tenant"
ff_load "$RECORDS" 81 25

kills=0
: >"$FF_DIR/ready_ms"
lim=$(($(date +%s) + KILL_DEADLINE))
while [ "$kills" -lt "$KILLS" ] && [ "$(date +%s)" -lt "$lim" ]; do
	ff_sleep_ms "$(ff_rand_ms 50 1500)"
	ff_clients_alive || { bad "clients ended before kill $((kills + 1))"; break; }
	kill -9 "$GWF_PID"
	wait "$GWF_PID" 2>/dev/null
	GWF_PID=""
	kills=$((kills + 1))
	t0=$(ff_now_ms)
	gwf_start || { bad "gateway restart after kill $kills"; break; }
	echo $(($(ff_now_ms) - t0)) >>"$FF_DIR/ready_ms"
done
t_last=$(ff_now)
check "$kills kill -9 done (wanted $KILLS)" test "$kills" -ge "$KILLS"
ff_sleep_ms 1000
ff_clients_stop 120
check "4 clients ended normally, each request answered 200 at last" test "$FF_CLIENTS_RC" = 0
after=$(cat "$FF_DIR"/log.* | awk -v t="$t_last" '$5 == 200 && $1 > t' | wc -l)
check "acknowledgements after the last restart ($after requests)" test "$after" -gt 0
noans=$(cat "$FF_DIR"/log.* | awk '$5 == "noanswer"' | wc -l)
echo "     requests without an answer (retried): $noans"

ff_tally "$FF_NAME"
fig "$FF_NAME" "gateway kill -9 done" "$kills"
ff_fig_stats "$FF_NAME" "restart to ready (/healthz 200)" "$FF_DIR/ready_ms"
fig "$FF_NAME" "requests cut without an answer (retried)" "$noans"

ff_finish
