#!/bin/sh
# tests/run-torture.sh — the long hostile-world runs (make torture).
#
#   sh tests/run-torture.sh [NAME]      every tests/torture/*.sh, or one
#
# Each script runs inside its own throwaway PostgreSQL database
# (tests/pg-harness.sh with COFFER_ITEST_DIR=tests/torture), bounded in
# count and time (TORTURE_TIMEOUT seconds each, default 900), traffic on
# loopback only.  Scripts report figures with tests/lib/figures.sh; at the
# end this prints them all as one table, also written to
# $BUILD/torture/summary.md.  Exit status: non-zero if any script failed.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$(pwd)/$BUILD" ;; esac
OUT="$BUILD/torture"
mkdir -p "$OUT"
COFFER_FIGURES="$OUT/figures.tsv"
: >"$COFFER_FIGURES"
# figures are appended by the test user; the harness may run tests as root
chmod 0666 "$COFFER_FIGURES"
export COFFER_FIGURES BUILD COFFER_ITEST_DIR=tests/torture
export COFFER_ITEST_TIMEOUT="${TORTURE_TIMEOUT:-900}"

start=$(date +%s)
if [ $# -ge 1 ]; then
	sh tests/pg-harness.sh --only "$1"
else
	sh tests/pg-harness.sh
fi
rc=$?
secs=$(($(date +%s) - start))

{
	echo "# make torture — $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, ${secs} s"
	echo
	echo "| test | figure | value |"
	echo "|---|---|---|"
	awk -F '\t' '{ printf "| %s | %s | %s |\n", $1, $2, $3 }' "$COFFER_FIGURES"
	echo
	if [ "$rc" -eq 0 ]; then echo "result: all passed"; else echo "result: FAILED (exit $rc)"; fi
} >"$OUT/summary.md"
echo
cat "$OUT/summary.md"
exit "$rc"
