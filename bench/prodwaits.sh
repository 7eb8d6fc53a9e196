#!/bin/sh
# bench/prodwaits.sh RAW_DIR [N] — where a production build's thread waited.
#
# After `BENCH_PROD_PERF=dwarf BENCH_PROD_PERF_EVENTS="-e sched:sched_switch"
# make bench-production`, RAW_DIR/prod-perf.data holds every switch of every
# thread with its stack.  Each time the build's thread (the keeper thread
# whose stacks pass through api_production_build_ex) stops running, the time
# to its next switch-in is added to the stack it stopped in (its first four
# frames of the build's own functions); the N (10) largest sums are printed,
# in seconds, then the build's phases from the API's log.
# PRODWAITS_THREAD=writer: the writer thread (stacks through wq_main)
# instead, by its first four frames below the scheduler's, kernel included
# (a write(2) throttled by the kernel's writeback shows as such).
set -u
RAW=${1:?usage: sh bench/prodwaits.sh RAW_DIR [N]}
N=${2:-10}
[ -s "$RAW/prod-perf.data" ] || { echo "prodwaits: no $RAW/prod-perf.data" >&2; exit 1; }
TMP=$(mktemp) || exit 1
trap 'rm -f "$TMP"' EXIT
perf script -i "$RAW/prod-perf.data" -F tid,time,trace,ip,sym 2>/dev/null >"$TMP"
WHICH=${PRODWAITS_THREAD:-build}
case $WHICH in
build) PAT=api_production_build_ex ;;
writer) PAT=wq_main ;;
*) echo "prodwaits: PRODWAITS_THREAD is build or writer" >&2; exit 2 ;;
esac
MAIN=$(awk -v p="$PAT" 'BEGIN { RS = ""; FS = "\n" }
    $0 ~ p { split($1, h, " "); print h[1]; exit }' "$TMP")
[ -n "$MAIN" ] || { echo "prodwaits: no stack of the $WHICH thread (BENCH_PROD_PERF=dwarf?)" >&2; exit 1; }
awk -v m="$MAIN" -v w="$WHICH" 'BEGIN { RS = ""; FS = "\n" }
{
	split($1, h, " "); t = h[2] + 0
	if ($1 ~ ("next_pid=" m " ") && out > 0) { tot[cat] += t - out; out = 0 }
	if (h[1] == m && $1 ~ ("prev_pid=" m " ")) {
		cat = ""; k = 0
		for (i = 2; i <= NF && k < 4; i++) {
			split($i, a, " ")
			ok = 0
			if (w == "writer") {
				if (a[2] !~ /^(__schedule|schedule|__traceiter|__pfx|\[unknown\])/)
					ok = 1
			} else if (a[2] ~ /^(pr_|spool_|wq_|tar_|pg_|PQ|api_production|vx_|rsmf|zip_)/) {
				ok = 1
			}
			if (ok) {
				cat = cat " " a[2]; k++
			}
		}
		if (cat == "") cat = " (no frame of the build)"
		out = t
	}
}
END { for (c in tot) printf "%8.3f s %s\n", tot[c], c }' "$TMP" | sort -rn | head -n "$N"
grep -o 'ready: [0-9]* records.*' "$RAW/api.log" | tail -1
