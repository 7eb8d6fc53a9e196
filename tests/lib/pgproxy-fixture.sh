# tests/lib/pgproxy-fixture.sh — tests/lib/pgproxy.py running in front of
# the test database.  POSIX sh; source it inside tests/pg-harness.sh.
#
#   px_start      start the proxy on a free 127.0.0.1 port ($PX_PORT, pid
#                 $PX_PID, log $PX_DIR/log); 1 if it did not listen
#                 within 10 s.  Point a daemon at
#                 "host=127.0.0.1 port=$PX_PORT dbname=... sslmode=disable"
#   px_cut        arm a cut: the next marked COMMIT is forwarded, its
#                 answer is not (SIGUSR1)
#   px_drop       arm a drop: the next marked COMMIT is not forwarded
#                 (SIGUSR2)
#   px_forward    arm a forward: the next marked COMMIT is forwarded and
#                 the connection closed at once, before any answer (SIGHUP)
#   px_ncuts      cuts and drops done so far
#   px_wait N     wait (30 s at most) until px_ncuts reaches N; 1 if not
#   px_stop       stop it; with PX_KEEP=DIR its log is copied there first

PX_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
PX_DIR=""
PX_PID=""

px_start() {
	PX_DIR=$(mktemp -d "${COFFER_TEST_TMP:-/tmp}/pgproxy.XXXXXX") || return 1
	python3 "$PX_LIB/pgproxy.py" --socket "$PGHOST/.s.PGSQL.${PGPORT:-5432}" \
	    --port-file "$PX_DIR/port" --log "$PX_DIR/log" >"$PX_DIR/out" 2>&1 &
	PX_PID=$!
	px_i=0
	while [ ! -s "$PX_DIR/port" ] && [ $px_i -lt 100 ]; do
		kill -0 "$PX_PID" 2>/dev/null || break
		sleep 0.1
		px_i=$((px_i + 1))
	done
	[ -s "$PX_DIR/port" ] || { cat "$PX_DIR/out" >&2; return 1; }
	# shellcheck disable=SC2034  # for the scripts that source this file
	PX_PORT=$(cat "$PX_DIR/port")
}

px_cut() { kill -USR1 "$PX_PID"; }
px_drop() { kill -USR2 "$PX_PID"; }
px_forward() { kill -HUP "$PX_PID"; }
px_ncuts() { grep -c '^cut ' "$PX_DIR/log"; }

px_wait() {
	px_lim=$(($(date +%s) + 30))
	while [ "$(px_ncuts)" -lt "$1" ] && [ "$(date +%s)" -lt "$px_lim" ]; do
		sleep 0.05
	done
	[ "$(px_ncuts)" -ge "$1" ]
}

px_stop() {
	if [ -n "$PX_PID" ]; then
		kill "$PX_PID" 2>/dev/null
		wait "$PX_PID" 2>/dev/null
		PX_PID=""
	fi
	[ -z "$PX_DIR" ] && return 0
	[ -z "${PX_KEEP:-}" ] || { mkdir -p "$PX_KEEP"; cp "$PX_DIR/log" "$PX_KEEP/proxy.log"; }
	rm -rf "$PX_DIR"
	PX_DIR=""
}
