#!/bin/sh
# ops/demo-stop.sh — stop what `make demo` started (`make demo-stop`).
#
#   sh ops/demo-stop.sh            coffer-api, coffer-gateway, then PostgreSQL
#   sh ops/demo-stop.sh --keep-db  the daemons only (ops/demo.sh uses this
#                                  before it starts over)
#
# A daemon is signalled only when its pid file names a live process whose
# command line is that daemon with the demo's own configuration file, so a
# stale pid file never hits an unrelated process.  SIGTERM, then up to 20 s
# for a clean exit (in-flight requests finish), then SIGKILL.  Finally it
# checks that no process of ours (running a program from this tree or
# serving ./var) is left, and says so.  Files under ./var are kept.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VAR=$ROOT/var
D=$VAR/demo
keep_db=0
case "${1:-}" in
"") ;;
--keep-db) keep_db=1 ;;
*)
	echo "usage: sh ops/demo-stop.sh [--keep-db]" >&2
	exit 2
	;;
esac

# ours PID CONFIG: is PID alive and running with CONFIG on its command line?
ours() {
	[ -r "/proc/$1/cmdline" ] || return 1
	{ tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null | grep -qF -- "--config $2"
}

# stop NAME PIDFILE CONFIG
stop() {
	name=$1 pidfile=$2 conf=$3
	if [ ! -f "$pidfile" ]; then
		echo "demo-stop: $name: not running (no pid file)"
		return 0
	fi
	pid=$(tr -cd '0-9' <"$pidfile")
	if [ -z "$pid" ] || ! ours "$pid" "$conf"; then
		echo "demo-stop: $name: not running (stale pid file removed)"
		rm -f "$pidfile"
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null || true
	i=0
	while ours "$pid" "$conf" && [ "$i" -lt 100 ]; do
		sleep 0.2
		i=$((i + 1))
	done
	if ours "$pid" "$conf"; then
		echo "demo-stop: $name (pid $pid) did not exit in 20 s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		sleep 0.5
	fi
	rm -f "$pidfile"
	echo "demo-stop: $name (pid $pid) stopped"
}

stop coffer-api "$D/run/api.pid" "$D/etc/api.conf"
stop coffer-gateway "$D/run/gateway.pid" "$D/etc/gateway.conf"
[ "$keep_db" -eq 1 ] && exit 0

sh "$ROOT/ops/pg-private.sh" stop | sed 's/^pg-private/demo-stop: postgresql/'

# Anything of ours still alive?  (Listed, never killed by pattern.)
left=""
for p in /proc/[0-9]*; do
	pid=${p#/proc/}
	[ "$pid" != "$$" ] || continue
	cmd=$( { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null) || continue
	case "$cmd" in
	*"$VAR/"* | *"$ROOT/build/coffer-"*) left="$left $pid" ;;
	esac
done
if [ -n "$left" ]; then
	echo "demo-stop: still running:"
	for pid in $left; do
		printf '  %s %s\n' "$pid" "$( { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null)"
	done
	exit 1
fi
echo "demo-stop: nothing of the demo is running"
