#!/bin/sh
# tests/integration/fault_pg_crash.sh — PostgreSQL crashed (pg_ctl stop -m
# immediate) and restarted while 4 retrying clients stream records
# (issue 8).
#
# Runs inside tests/pg-harness.sh ($COFFER_PG_CTL; make test;
# tests/torture/pg_crash.sh runs it with larger counts in make torture).
# 4 devices of one tenant stream through gateway_client.py, which logs the
# wall-clock send and answer time of every attempt.  CRASHES times
# (default 2, torture 10): wait a random 300..1500 ms, `pg_ctl stop -m immediate -w`
# (no checkpoint, crash recovery at the next start), keep it down a random
# 3000..4500 ms, `pg_ctl start -w`, then wait for the next acknowledgement
# (so that every crash hits live load).  The gateway keeps running
# throughout.
#
# "Down" is from the moment `pg_ctl stop -m immediate -w` returned (the
# postmaster and every backend are gone, so nothing can commit) to the
# moment `pg_ctl start` was invoked.  A 200 answer carries receipts (stored
# or duplicate), and every one needs the database (a dedup lookup and a
# COMMIT); so an attempt that was sent at or after a down interval began
# and answered 200 at or before it ended would be an acknowledgement
# made up while the database was down.  Asserts:
#   - no such acknowledgement, and the clients were answered 503 during
#     down intervals (the check is not vacuous)
#   - every acknowledgement names a stored row after crash recovery (lost
#     acknowledged = 0), no record stored twice, no seq gap, rows = records
#     acknowledged, cofferctl verify clean (tests/lib/fault-fixture.sh)
#   - the same gateway process throughout, acknowledging again after the
#     last restart
# Figures: crashes, acknowledged, stored, lost acknowledged, duplicates
# stored, stored but not acknowledged, acknowledgements in down intervals,
# 503 answers in down intervals, database start time and database start to
# the first acknowledgement (median, max ms).
# Bounded: CRASH_DEADLINE seconds for the crash loop (default 300).
set -u

FF_NAME=${FF_NAME:-fault_pg_crash}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/fault-fixture.sh
. "$HERE/../lib/fault-fixture.sh"

CRASHES=${CRASHES:-2}
CRASH_DEADLINE=${CRASH_DEADLINE:-300}
RECORDS=${RECORDS:-60000}        # per client; the stop file ends them sooner

[ -n "${COFFER_PG_CTL:-}" ] || { echo "$FF_NAME: COFFER_PG_CTL not set (run in tests/pg-harness.sh)"; exit 1; }
ff_setup ff-crash 4 || die "gateway, tenant, 4 devices"
ok "gateway started with 4 devices of one tenant"
GW=$GWF_PID
ff_load "$RECORDS" 82 25

# first_ack_after T: wait (at most 60 s) for a 200 answered after wall-clock
# time T; prints the milliseconds from T to it, or fails.
first_ack_after() { ff_first_ack_after answered "$1" 60 0.05; }

crashes=0
: >"$FF_DIR/down"
: >"$FF_DIR/start_ms"
: >"$FF_DIR/first_ms"
first_ack_after "$(ff_now)" >/dev/null || die "no acknowledgement before the first crash"
lim=$(($(date +%s) + CRASH_DEADLINE))
while [ "$crashes" -lt "$CRASHES" ] && [ "$(date +%s)" -lt "$lim" ]; do
	# each crash hits live load: acknowledgements are flowing again
	ff_sleep_ms "$(ff_rand_ms 300 1500)"
	ff_clients_alive || { bad "clients ended before crash $((crashes + 1))"; break; }
	"$COFFER_PG_CTL" stop -m immediate -w -t 60 -s >/dev/null 2>&1 ||
	    { bad "pg_ctl stop -m immediate"; break; }
	t_down=$(ff_now)
	crashes=$((crashes + 1))
	# longer than the clients' Retry-After (2 s), so some attempt is made
	# and answered while it is down (the 503 check below is not vacuous)
	ff_sleep_ms "$(ff_rand_ms 3000 4500)"
	t_up=$(ff_now)
	echo "$t_down $t_up" >>"$FF_DIR/down"
	t0=$(ff_now_ms)
	"$COFFER_PG_CTL" start -w -t 60 -s >/dev/null 2>&1 ||
	    { bad "pg_ctl start after crash $crashes"; break; }
	echo $(($(ff_now_ms) - t0)) >>"$FF_DIR/start_ms"
	first_ack_after "$t_up" >>"$FF_DIR/first_ms" ||
	    { bad "no acknowledgement within 60 s of restart $crashes"; break; }
done
t_last=$(ff_now)
check "$crashes immediate stops and restarts done (wanted $CRASHES)" test "$crashes" -ge "$CRASHES"
ff_sleep_ms 2500
ff_clients_stop 120
check "4 clients ended normally, each request answered 200 at last" test "$FF_CLIENTS_RC" = 0
check "same gateway process through every crash" test "$GWF_PID" = "$GW" -a -n "$GW"
check "gateway still running" kill -0 "$GWF_PID"
after=$(cat "$FF_DIR"/log.* | awk -v t="$t_last" '$5 == 200 && $1 > t' | wc -l)
check "acknowledgements after the last restart ($after requests)" test "$after" -gt 0

# Attempts against the down intervals: "sent answered first lines outcome
# stored duplicate" per client log line.
cat "$FF_DIR"/log.* | awk -v downs="$FF_DIR/down" '
	BEGIN { while ((getline l < downs) > 0) { split(l, p, " "); n++; a[n] = p[1] + 0; b[n] = p[2] + 0 } }
	{
		$1 += 0; $2 += 0
		for (i = 1; i <= n; i++) {
			if ($1 >= a[i] && $2 <= b[i]) {
				if ($5 == 200) { acked++; print "ACK IN DOWN INTERVAL " i ": " $0 > "/dev/stderr" }
				else if ($5 == 503) refused++
				else other++
			}
		}
	}
	END {
		printf "acked %d\nrefused %d\nother %d\n", acked, refused, other
	}' >"$FF_DIR/downcheck"
dv() { awk -v k="$1" '$1 == k { print $2 }' "$FF_DIR/downcheck"; }
check "no acknowledgement sent and answered inside a down interval ($(dv acked))" test "$(dv acked)" = 0
check "requests made while the database was down were answered 503 ($(dv refused); other outcomes $(dv other))" \
    test "$(dv refused)" -gt 0
check "every restart was followed by an acknowledgement ($(wc -l <"$FF_DIR/first_ms") of $crashes)" \
    test "$(wc -l <"$FF_DIR/first_ms")" -eq "$crashes"

ff_tally "$FF_NAME"
fig "$FF_NAME" "PostgreSQL immediate stops and restarts" "$crashes"
fig "$FF_NAME" "acknowledgements inside down intervals (must be 0)" "$(dv acked)"
fig "$FF_NAME" "503 answers to requests made while down" "$(dv refused)"
ff_fig_stats "$FF_NAME" "pg_ctl start (crash recovery) to ready" "$FF_DIR/start_ms"
ff_fig_stats "$FF_NAME" "database start to first acknowledgement" "$FF_DIR/first_ms"

ff_finish
