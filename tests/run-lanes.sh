#!/bin/sh
# tests/run-lanes.sh — the integration tests in parallel lanes (make
# integration).  Each lane is one tests/pg-harness.sh with its own
# throwaway PostgreSQL cluster (its own socket directory, data directory
# and roles), so a test that stops, crashes or fills its server touches
# only its own lane.  The lanes take tests from one shared order, longest
# first (tests/integration/durations: seconds of a serial run; a test not
# listed counts as 30 s), so the long tests start early and the short ones
# fill the end.  Each test's output is printed whole when it ends, never
# interleaved with another's.
#
#   sh tests/run-lanes.sh [--only "NAME..."]
#
# COFFER_ITEST_LANES (default 2; 1 runs the tests one at a time, as
# tests/pg-harness.sh alone does).  Exit 0 only if every test passed.
set -u

BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
LANES=${COFFER_ITEST_LANES:-2}
ITEST_DIR=${COFFER_ITEST_DIR:-tests/integration}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac

die() {
	echo "run-lanes: $*" >&2
	exit 1
}
case "$LANES" in ''|*[!0-9]*|0) die "COFFER_ITEST_LANES must be a positive integer (got '$LANES')" ;; esac

only=""
case "${1:-}" in
"") ;;
--only)
	[ $# -eq 2 ] || die "usage: sh tests/run-lanes.sh [--only \"NAME...\"]"
	only=$2
	;;
*) die "usage: sh tests/run-lanes.sh [--only \"NAME...\"]" ;;
esac

Q=$(mktemp -d "${TMPDIR:-/tmp}/coffer-lanes.XXXXXX") || die "mktemp failed"
pids=""
cleanup() {
	for p in $pids; do kill -TERM "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	rm -rf "$Q"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# The tests, as tests/pg-harness.sh names them: the itest_* binaries, then
# the scripts.
{
	for t in "$BUILD"/tests/itest_*; do
		[ -f "$t" ] && [ -x "$t" ] && basename "$t"
	done
	for t in "$ITEST_DIR"/*.sh; do
		[ -f "$t" ] && basename "$t"
	done
} >"$Q/all"
if [ -n "$only" ]; then
	: >"$Q/names"
	for o in $only; do
		m=$(awk -v o="$o" '$0 == o || $0 == o ".sh"' "$Q/all" | head -1)
		[ -n "$m" ] || die "no integration test named '$o' (built? $BUILD/tests/itest_*, $ITEST_DIR/*.sh)"
		echo "$m" >>"$Q/names"
	done
else
	cp "$Q/all" "$Q/names"
fi
[ -s "$Q/names" ] || { echo "integration: no tests found"; exit 0; }
# longest first
awk 'NR == FNR { d[$1] = $2; next }
     { print ($0 in d ? d[$0] : 30), $0 }' "$ITEST_DIR/durations" "$Q/names" 2>/dev/null |
    sort -k1,1nr -k2,2 | awk '{ print $2 }' >"$Q/order"
total=$(wc -l <"$Q/order")
[ "$LANES" -le "$total" ] || LANES=$total
: >"$Q/done"

t0=$(date +%s)
i=0
while [ "$i" -lt "$LANES" ]; do
	BUILD="$BUILD" sh tests/pg-harness.sh --queue "$Q" >"$Q/harness.$i" 2>&1 </dev/null &
	pids="$pids $!"
	i=$((i + 1))
done
echo "integration: $total tests in $LANES lanes"

# Print each test's output once it has ended.
shown=0
show_new() {
	n=$(wc -l <"$Q/done")
	while [ "$shown" -lt "$n" ]; do
		shown=$((shown + 1))
		name=$(sed -n "${shown}p" "$Q/done")
		cat "$Q/out/$name" 2>/dev/null
	done
}
running=$LANES
while [ "$running" -gt 0 ]; do
	running=0
	for p in $pids; do
		kill -0 "$p" 2>/dev/null && running=$((running + 1))
	done
	show_new
	[ "$running" -eq 0 ] || sleep 1
done
show_new

passed=0
failed=0
failed_names=""
lanes_ok=0
for p in $pids; do
	wait "$p" 2>/dev/null
done
pids=""
for f in "$Q"/lane.*; do
	[ -f "$f" ] || continue
	read -r lp lf lnames <"$f"
	passed=$((passed + lp))
	failed=$((failed + lf))
	[ -z "${lnames:-}" ] || failed_names="$failed_names $lnames"
	lanes_ok=$((lanes_ok + 1))
done
if [ "$lanes_ok" -lt "$LANES" ]; then
	# a lane that could not start its cluster (or died) says why
	for i in $(seq 0 $((LANES - 1))); do
		[ -s "$Q/harness.$i" ] && sed "s/^/lane $i: /" "$Q/harness.$i"
	done
	failed=$((failed + 1))
	failed_names="$failed_names (a lane ended early)"
fi
notrun=$(($(wc -l <"$Q/order") - $(wc -l <"$Q/done")))
if [ "$notrun" -gt 0 ]; then
	failed=$((failed + notrun))
	failed_names="$failed_names ($notrun not run)"
fi
[ "$failed" -eq 0 ] || echo "failed:$failed_names"
echo "integration: $passed passed, $failed failed ($LANES lanes, $(($(date +%s) - t0)) s)"
[ "$failed" -eq 0 ]
