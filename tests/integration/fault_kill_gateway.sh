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
# answers again.  The gateway is two processes (issue 14.1): the kills
# alternate between the network process (the main pid: its sealer child
# must be gone within 5 s) and the sealer (the network process must exit
# by itself within 5 s, with 1, naming the signal).  Then the clients
# finish their request in flight and stop.  Asserts:
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
net_kills=0 net_ok=0 seal_kills=0 seal_ok=0
: >"$FF_DIR/ready_ms"
sealer_pid() { sed -n 's/.* info: started: .* sealer_pid=\([0-9]*\) .*/\1/p' "$GWF_LOG" | tail -1; }
gone() {   # gone PID: no such process, or a zombie nobody reaped yet
	[ ! -d "/proc/$1" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}
lim=$(($(date +%s) + KILL_DEADLINE))
while [ "$kills" -lt "$KILLS" ] && [ "$(date +%s)" -lt "$lim" ]; do
	ff_sleep_ms "$(ff_rand_ms 50 1500)"
	ff_clients_alive || { bad "clients ended before kill $((kills + 1))"; break; }
	SP=$(sealer_pid)
	if [ $((kills % 2)) = 1 ] && [ -n "$SP" ]; then
		seal_kills=$((seal_kills + 1))
		kill -9 "$SP"
		i=0
		while kill -0 "$GWF_PID" 2>/dev/null && [ $i -lt 50 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -9 "$GWF_PID" 2>/dev/null
		wait "$GWF_PID" 2>/dev/null
		rc=$?
		if [ "$rc" = 1 ] && grep -q "error: the sealer process (pid $SP) was killed by signal 9; exiting" "$GWF_LOG"; then
			seal_ok=$((seal_ok + 1))
		else
			echo "     sealer $SP killed: network process ended with $rc after ${i}00 ms: $(grep -i "sealer" "$GWF_LOG" | tail -1)"
		fi
	else
		net_kills=$((net_kills + 1))
		kill -9 "$GWF_PID"
		wait "$GWF_PID" 2>/dev/null
		i=0
		while [ -n "$SP" ] && ! gone "$SP" && [ $i -lt 50 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		if [ -n "$SP" ] && gone "$SP"; then
			net_ok=$((net_ok + 1))
		else
			echo "     network process killed: sealer ${SP:-?} still there after 5 s"
			[ -n "$SP" ] && kill -9 "$SP" 2>/dev/null
		fi
	fi
	GWF_PID=""
	kills=$((kills + 1))
	t0=$(ff_now_ms)
	gwf_start || { bad "gateway restart after kill $kills"; break; }
	echo $(($(ff_now_ms) - t0)) >>"$FF_DIR/ready_ms"
done
t_last=$(ff_now)
check "$kills kill -9 done (wanted $KILLS)" test "$kills" -ge "$KILLS"
check "network process killed $net_kills times: its sealer was gone within 5 s each time ($net_ok)" \
    test "$net_kills" -ge 1 -a "$net_ok" = "$net_kills"
if [ "$KILLS" -ge 2 ]; then
	check "sealer killed $seal_kills times: the network process exited by itself within 5 s, with 1, naming the signal ($seal_ok)" \
	    test "$seal_kills" -ge 1 -a "$seal_ok" = "$seal_kills"
fi
ff_sleep_ms 1000
ff_clients_stop 120
check "4 clients ended normally, each request answered 200 at last" test "$FF_CLIENTS_RC" = 0
after=$(cat "$FF_DIR"/log.* | awk -v t="$t_last" '$5 == 200 && $1 > t' | wc -l)
check "acknowledgements after the last restart ($after requests)" test "$after" -gt 0
noans=$(cat "$FF_DIR"/log.* | awk '$5 == "noanswer"' | wc -l)
echo "     requests without an answer (retried): $noans"

ff_tally "$FF_NAME"
fig "$FF_NAME" "gateway kill -9 done" "$kills"
fig "$FF_NAME" "of which the sealer process" "$seal_kills"
ff_fig_stats "$FF_NAME" "restart to ready (/healthz 200)" "$FF_DIR/ready_ms"
fig "$FF_NAME" "requests cut without an answer (retried)" "$noans"

ff_finish
