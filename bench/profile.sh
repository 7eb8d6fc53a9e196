#!/bin/sh
# bench/profile.sh — where the gateway's ingest time goes.
#
#   sh bench/profile.sh [--records N] [--callgrind-records N]
#
# Inside a throwaway PostgreSQL (tests/pg-harness.sh) with the real gateway
# (tests/lib/gateway-fixture.sh) and ops/loadgen, three views of the same
# ingest path, written to $BENCH_RESULTS/<timestamp>-profile/:
#
#   cpu-as-is.txt   CPU seconds and µs per record of every gateway thread,
#                   the gateway's PostgreSQL backend(s), PostgreSQL's
#                   background processes and the load generator, plus how
#                   busy the machine's cores were (from /proc): tells a
#                   CPU-bound component from a serialised pipeline; and
#                   the index use on coffer.records during the run.
#   cpu-after-analyze.txt  the same for the next N records right after an
#                   ANALYZE of coffer.records and coffer.record_dedup.
#   plans.txt       the plan of the writer's dedup lookup with the
#                   statistics as they were, and after ANALYZE.
#   perf-*.txt      system-wide cpu-clock samples by process and symbol,
#                   when perf can sample (software clock is enough).
#   callgrind-*.txt the gateway under valgrind --tool=callgrind for a small
#                   run: instructions by function, inclusive and exclusive
#                   (hardware counters are not needed, so this works in VMs
#                   where `perf stat -e instructions` does not).
#
# Nothing here changes the gateway; it only watches it.
#
# --callgrind-records 0 skips the callgrind run.  BENCH_PROFILE_SQL: SQL run
# on the migrated database as its owner before the gateway starts, to
# measure a schema change against the same run without it.
# BENCH_PROFILE_GW: gateway configuration lines, one per line ("workers =
# 4"), to measure a setting against the defaults.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
export BUILD

if [ "${1:-}" != "--inner" ]; then
	for b in cofferctl coffer-gateway ops/loadgen; do
		[ -x "$BUILD/$b" ] || { echo "profile: $BUILD/$b not built (make)" >&2; exit 1; }
	done
	exec sh tests/pg-harness.sh --shell sh "$ROOT/bench/profile.sh" --inner "$@"
fi
shift
N=200000
CG_N=6400
while [ $# -gt 0 ]; do
	case "$1" in
	--records) N=$2; shift 2 ;;
	--callgrind-records) CG_N=$2; shift 2 ;;
	*) echo "usage: sh bench/profile.sh [--records N] [--callgrind-records N]" >&2; exit 2 ;;
	esac
done
DEVICES=${BENCH_DEVICES:-16}
ALIGN=$((100 * DEVICES))   # loadgen: --first a multiple of batch x devices
N=$(((N + ALIGN - 1) / ALIGN * ALIGN))
CG_N=$(((CG_N + ALIGN - 1) / ALIGN * ALIGN))
WARM=$ALIGN
TS=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=${BENCH_RESULTS:-$ROOT/bench/results}
OUT="$RESULTS/$TS-profile"
mkdir -p "$OUT" || exit 1
PSQL="psql -X -q -v ON_ERROR_STOP=1"

GWF_NO_TRAP=1
. "$ROOT/tests/lib/gateway-fixture.sh"
trap gwf_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() {
	echo "profile: $*"
}

# Same PostgreSQL settings as bench/run.sh.
$PSQL -d postgres -c "ALTER SYSTEM SET shared_buffers = '2GB'" \
    -c "ALTER SYSTEM SET max_wal_size = '16GB'" \
    -c "ALTER SYSTEM SET checkpoint_timeout = '30min'" \
    -c "ALTER SYSTEM SET wal_buffers = '64MB'" >/dev/null &&
    "$COFFER_PG_CTL" -w -t 120 -s -m fast restart >/dev/null 2>&1 ||
    { echo "profile: PostgreSQL restart failed" >&2; exit 1; }

gwf_init || exit 1
gwf_server_cert && gwf_tenant acme || exit 1
i=0
while [ "$i" -lt "$DEVICES" ]; do
	gwf_device acme "$(printf 'phone-%05d' "$i")" || exit 1
	i=$((i + 1))
done
gwf_node gw-prof || exit 1
if [ -n "${BENCH_PROFILE_SQL:-}" ]; then
	$PSQL -c "$BENCH_PROFILE_SQL" || { echo "profile: BENCH_PROFILE_SQL failed" >&2; exit 1; }
fi
# one argument per line of BENCH_PROFILE_GW (the script's own arguments
# were read above)
OLDIFS=$IFS
IFS='
'
set -f
# shellcheck disable=SC2046
set -- $(printf '%s\n' "${BENCH_PROFILE_GW:-}" | grep -v '^[[:space:]]*$')
set +f
IFS=$OLDIFS
gwf_config "device_rate = 100000" "device_burst = 100000" "$@" || exit 1
gwf_start || exit 1
LG="$BUILD/ops/loadgen --url $(gwf_url '') --ca $GWF_SRV_CA --certs $GWF_CERTS --devices $DEVICES"

# -- 1. CPU split --------------------------------------------------------------------
# utime+stime (clock ticks) of every gateway thread, the gateway's backends
# and PostgreSQL's auxiliary processes; and the machine's idle time.
snap() {
	for t in /proc/"$GWF_PID"/task/*; do
		echo "gateway-thread-$(basename "$t") $(awk '{ print $14 + $15 }' "$t/stat" 2>/dev/null)"
	done
	for p in $($PSQL -At -c "SELECT pid FROM pg_stat_activity WHERE usename = 'gw'"); do
		echo "postgres-backend-gw-$p $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null)"
	done
	for p in $($PSQL -At -c "SELECT pid FROM pg_stat_activity WHERE backend_type IN ('checkpointer', 'walwriter', 'background writer', 'autovacuum worker', 'autovacuum launcher')"); do
		echo "postgres-aux-$p $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null)"
	done
	awk '/^cpu / { print "machine-idle", $5 + $6; print "machine-total", $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat
}
HZ=$(getconf CLK_TCK)
# measure LABEL FIRST: N records from index FIRST, CPU split to cpu-LABEL.txt
# (perf samples to perf.data when perf can sample and LABEL is "as-is").
measure() {
	$PSQL -At -c "SELECT indexrelname, idx_scan, idx_tup_read FROM pg_stat_user_indexes WHERE relname = 'records' ORDER BY 1" >"$OUT/idx0-$1.txt"
	snap | sort >"$OUT/snap0-$1.txt"
	log "measured run ($1): $N records"
	t0=$(date +%s.%N)
	if [ "$1" = as-is ] && [ "$HAVE_PERF" = 1 ]; then
		# shellcheck disable=SC2086  # $LG is a command line: program and options
		perf record -e cpu-clock -F 499 -a -g -o "$OUT/perf.data" -- \
		    $LG --records "$N" --first "$2" >"$OUT/loadgen-$1.out" 2>&1
	else
		$LG --records "$N" --first "$2" >"$OUT/loadgen-$1.out" 2>&1
	fi
	t1=$(date +%s.%N)
	snap | sort >"$OUT/snap1-$1.txt"
	$PSQL -At -c "SELECT indexrelname, idx_scan, idx_tup_read FROM pg_stat_user_indexes WHERE relname = 'records' ORDER BY 1" >"$OUT/idx1-$1.txt"
	LG_CPU=$(sed -n 's/^RESULT .* cpu_s=\([^ ]*\).*/\1/p' "$OUT/loadgen-$1.out")
	{
		echo "# $1: ingest of $N records through coffer-gateway ($DEVICES devices, batches of 100)"
		grep '^loadgen:' "$OUT/loadgen-$1.out"
		echo "# component                         CPU s   us/record   % of one core"
		join "$OUT/snap0-$1.txt" "$OUT/snap1-$1.txt" | awk -v hz="$HZ" -v n="$N" \
		    -v w="$(awk -v a="$t0" -v b="$t1" "BEGIN { print b - a }")" -v lg="$LG_CPU" '
		    /^machine-idle/ { idle = ($3 - $2) / hz; next }
		    /^machine-total/ { total = ($3 - $2) / hz; next }
		    { d = ($3 - $2) / hz; if (d < 0.01) next;
		      printf "%-34s %7.2f %10.1f %10.1f\n", $1, d, d * 1e6 / n, 100 * d / w }
		    END { busy = 0; if (total > 0) busy = 100 * (total - idle) / total;
		          printf "%-34s %7.2f %10.1f %10.1f\n", "loadgen (client)", lg, lg * 1e6 / n, 100 * lg / w;
		          printf "wall %.2f s; all cores busy %.0f %% of the time (%d cores)\n", w, busy, total / w + 0.5 }'
		echo "# coffer.records index use during the run (scans, tuples read)"
		join -t '|' "$OUT/idx0-$1.txt" "$OUT/idx1-$1.txt" | awk -F'|' '{ printf "%-40s %8d scans %12d tuples\n", $1, $4 - $2, $5 - $3 }'
	} >"$OUT/cpu-$1.txt"
	cat "$OUT/cpu-$1.txt"
}
HAVE_PERF=0
perf record -e cpu-clock -F 499 -a -g -o "$OUT/perf.data" -- true >/dev/null 2>&1 && HAVE_PERF=1
log "warm-up: $WARM records"
$LG --records "$WARM" >/dev/null 2>&1
measure as-is "$WARM"

# -- 2. the dedup lookup's plan ------------------------------------------------------------
{
	echo "# autovacuum statistics of coffer.record_dedup"
	$PSQL -At -c "SELECT 'live rows ' || n_live_tup || ', last analyze ' || coalesce(greatest(last_analyze, last_autoanalyze)::text, 'never') FROM pg_stat_user_tables WHERE relname = 'record_dedup'"
	T=$($PSQL -At -c "SELECT tenant_id FROM coffer.tenants WHERE name = 'acme'")
	ARR=$($PSQL -At -c "SELECT array(SELECT substr(decode(md5(g::text), 'hex'), 1, 16) FROM generate_series(1, 1000) g)::text")
	# the writer's own query (gateway/writer.c): a probe of
	# coffer.record_dedup per token (0018), not a scan of coffer.records
	Q="EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT t.tok, r.stream_id, r.seq, r.leaf_hash FROM unnest('$ARR'::bytea[]) AS t(tok) CROSS JOIN LATERAL (SELECT x.stream_id, x.seq, x.leaf_hash FROM coffer.record_dedup x WHERE x.tenant_id = '$T'::uuid AND x.dedup_token = t.tok LIMIT 1) r"
	echo "# the writer's dedup lookup (1000 tokens) with the statistics as they are"
	$PSQL -c "$Q" | cut -c1-160
	$PSQL -c "ANALYZE coffer.records" -c "ANALYZE coffer.record_dedup"
	echo "# the same after ANALYZE"
	$PSQL -c "$Q" | cut -c1-160
} >"$OUT/plans.txt" 2>&1
cat "$OUT/plans.txt"

# -- 1b. the same ingest with fresh statistics (ANALYZE just ran above) ------------------
measure after-analyze $((WARM + N))

if [ "$HAVE_PERF" = 1 ]; then
	perf report -i "$OUT/perf.data" --no-children --sort comm --stdio 2>/dev/null |
	    grep -E '^ +[0-9.]+%' | head -15 >"$OUT/perf-by-process.txt"
	perf report -i "$OUT/perf.data" --no-children --comm coffer-gateway \
	    --sort sym --stdio -g none 2>/dev/null | grep -E '^ +[0-9.]+%' | head -40 \
	    >"$OUT/perf-gateway.txt"
	perf report -i "$OUT/perf.data" --children --comm postgres --sort sym \
	    --stdio -g none 2>/dev/null | grep -E '^ +[0-9.]+%' | grep -v ' 0x0000' |
	    head -40 >"$OUT/perf-postgres.txt"
	rm -f "$OUT/perf.data" "$OUT/perf.data.old"
	echo "# perf, cpu-clock samples by process"
	cat "$OUT/perf-by-process.txt"
fi

# -- 3. callgrind of the gateway ---------------------------------------------------------
if [ "$CG_N" -gt 0 ] && command -v valgrind >/dev/null 2>&1; then
	log "callgrind: $CG_N records through the gateway under valgrind"
	gwf_stop
	CGDIR="$OUT/callgrind"
	mkdir -p "$CGDIR" || exit 1
	# callgrind creates its file at start (as root) and writes it at exit
	# (as the unprivileged user the gateway dropped to): make it theirs.
	: >"$CGDIR/callgrind.out"
	[ "$(id -u)" -eq 0 ] && chown nobody "$CGDIR/callgrind.out"
	chmod 0666 "$CGDIR/callgrind.out"
	cat >"$GWF_DIR/gw-callgrind" <<EOF
#!/bin/sh
exec valgrind --tool=callgrind --callgrind-out-file=$CGDIR/callgrind.out \
    --separate-threads=no "$BUILD/coffer-gateway" "\$@"
EOF
	chmod 0755 "$GWF_DIR/gw-callgrind"
	GWF_GW="$GWF_DIR/gw-callgrind"
	if gwf_start; then
		$LG --records "$CG_N" --first $((WARM + 2 * N)) --timeout 600 \
		    >"$OUT/callgrind-loadgen.out" 2>&1
		gwf_stop TERM
		f="$CGDIR/callgrind.out"
		if [ -s "$f" ]; then
			callgrind_annotate --inclusive=yes "$f" 2>/dev/null | head -60 \
			    >"$OUT/callgrind-inclusive.txt"
			callgrind_annotate "$f" 2>/dev/null | head -60 >"$OUT/callgrind-exclusive.txt"
			echo "# callgrind, exclusive instructions (top)"
			sed -n '1,45p' "$OUT/callgrind-exclusive.txt"
		else
			log "callgrind wrote no profile (see $GWF_LOG)"
			tail -5 "$GWF_LOG"
		fi
	else
		log "the gateway did not start under valgrind"
	fi
fi
log "written to $OUT"
