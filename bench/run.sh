#!/bin/sh
# bench/run.sh — every benchmark figure of the benchmark issue, Coffer next to
# its ceiling, in one run against one throwaway PostgreSQL.
#
#   sh bench/run.sh --quick     8 ingest rounds, not 21 (make bench-quick, ~6 min)
#   sh bench/run.sh --full      full sizes    (make bench, < 30 min)
#   sh bench/run.sh --production  only the production figure (section 7)
#
# Environment: BUILD (build), BENCH_LARGE=1 (also measure at 10 M records,
# full mode), BENCH_PG_TUNE=0 (keep the harness's small shared_buffers and
# WAL settings), BENCH_HOST_TUNE=0 (leave vm.dirty_background_bytes alone),
# BENCH_RESULTS (bench/results), BENCH_DEVICES (16);
# --production: BENCH_PROD_RECORDS (60000, the matter, ingested through the
# gateway), BENCH_PROD_ARCHIVE (160000, the rest filled with sealed COPY),
# BENCH_PROD_PERF=1 (perf record the build: perf-production-*.txt; =dwarf:
# DWARF call chains, through libsodium and libcrypto), BENCH_PROD_PERF_EVENTS
# (perf's events instead of the CPU clock: "-e sched:sched_switch" shows
# where the build waits),
# BENCH_PROD_PGLOG=1 (the API's statements of 20 ms or more, with their
# duration: raw/prod-queries.log; plans of those over 200 ms by
# auto_explain in raw/prod-server.log), BENCH_PROD_OPEN=1 (open the production
# with cofferctl export open: raw/prod-files.txt, sizes per directory and
# records.jsonl's bytes a line by field).
#
# The outer call re-enters itself inside tests/pg-harness.sh (fsync and
# synchronous_commit on, Unix socket only), raises the file-descriptor
# limit for the 10 000-connection test, and leaves behind only
# $BENCH_RESULTS/<timestamp>.{json,csv}, <timestamp>-machine.json, the PNG
# plots, the raw series under <timestamp>-raw/, and latest.json /
# latest-machine.json.  See bench/README.md for what each figure means.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
export BUILD

die() {
	echo "bench: $*" >&2
	exit 1
}

if [ "${1:-}" != "--inner" ]; then
	case "${1:---quick}" in
	--quick) MODE=quick ;;
	--full) MODE=full ;;
	--production) MODE=production ;;
	*) echo "usage: sh bench/run.sh [--quick|--full|--production]" >&2; exit 2 ;;
	esac
	for b in cofferctl coffer-gateway ops/loadgen bench/copy_plain \
	    bench/copy_sealed bench/pgcrypto bench/report; do
		[ -x "$BUILD/$b" ] || die "$BUILD/$b not built (make)"
	done
	for t in openssl gnuplot gpg psql curl python3; do
		command -v "$t" >/dev/null 2>&1 || die "$t missing (make deps)"
	done
	# 10 000 idle connections on each side, plus PostgreSQL's files.
	# shellcheck disable=SC3045  # dash's ulimit has -n and -H (and bash's)
	ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
	exec sh tests/pg-harness.sh --shell sh "$ROOT/bench/run.sh" --inner "$MODE"
fi
MODE=$2

# -- sizes ---------------------------------------------------------------------
# Records are generated in batches of BATCH per device; loadgen windows start
# at multiples of BATCH x DEVICES so every run maps records to the same
# devices as the baselines.
DEVICES=${BENCH_DEVICES:-16}
BATCH=100
SIZE=1024
ALIGN=$((BATCH * DEVICES))
# Both modes measure ingest in the same interleaved rounds of ROUND records
# per path (plaintext COPY, sealed COPY, sealed COPY without constraints,
# the gateway), after the same warm-up round of WARM records per path:
# the VM's speed drifts by up to 2x within an hour, and a path measured
# minutes after another was measured on another machine.  Quick mode runs
# fewer rounds, not smaller ones, so that its ratios predict the full
# run's (issue 17.6); only the figures about archive size (the growth
# windows) need the full sizes.
ROUND=48000        # multiples of ALIGN (loadgen --first)
WARM=8000
if [ "$MODE" = full ]; then
	ROUNDS=21          # main ingest run and the COPY baselines: 1 008 000
	W=192000           # growth windows
	PS_N=200000        # privsep comparison, per run
	LAT_S=30           # seconds at 50 % of the maximum rate
	GROW="1000000 5000000"
	[ "${BENCH_LARGE:-0}" = 1 ] && GROW="$GROW 10000000"
	IDLE=10000
	HOLD=10
	HS_S=10
else
	ROUNDS=8           # a round's ratio moves by ~18 %: 8 give a standard
	                   # error of ~6 %, 4 gave runs 15-21 % off the full's
	W=48000
	PS_N=64000
	LAT_S=20
	GROW=""           # the archive reaches ~450 000 records anyway
	IDLE=10000
	HOLD=3
	HS_S=10            # 3 s halves moved the ratio by 25 % from run to run
fi
N=$((ROUNDS * ROUND))
PGP_ROUND=9600     # pgcrypto records per mode and round (201 600; quick 19 200)

PSQL="psql -X -q -v ON_ERROR_STOP=1"
TS=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=${BENCH_RESULTS:-$ROOT/bench/results}
case "$RESULTS" in /*) ;; *) RESULTS="$ROOT/$RESULTS" ;; esac
RAW="$RESULTS/$TS-raw"
mkdir -p "$RAW" || die "cannot create $RAW"
FIG="$RAW/figures.tsv"
MACH="$RAW/machine.tsv"
: >"$FIG"
: >"$MACH"
T_START=$(date +%s)
FAILED=""
SSERVER_PID=""

log() {
	printf '[%4ss] %s\n' "$(($(date +%s) - T_START))" "$*"
}
fail() {
	log "FAILED: $*"
	FAILED="$FAILED $1"
}
# figure NAME UNIT COFFER BASELINE BASELINE_NAME [NOTE]
figure() {
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "${3:--}" "${4:--}" "$5" \
	    "${6:-}" >>"$FIG"
}
machine() {
	printf '%s\t%s\n' "$1" "$2" >>"$MACH"
}
# res KEY FILE: value of KEY= in the last RESULT line of FILE ("" if none)
res() {
	sed -n "s/^RESULT .* $1=\([^ ]*\).*/\1/p" "$2" 2>/dev/null | tail -1
}
# result_sums FILE...: the RESULT lines of FILE... summed, "records bytes
# seconds cpu_s lines" (the one reader of those key=value lines)
result_sums() {
	sed -n 's/^RESULT //p' "$@" 2>/dev/null | awk '{ for (i = 1; i <= NF; i++) {
	        split($i, kv, "="); v[kv[1]] = kv[2] }
	    n += v["records"]; b += v["bytes"]; s += v["seconds"]; c += v["cpu_s"] }
	    END { printf "%d %d %.3f %.2f %d\n", n, b, s, c, NR }'
}
# sum_rps FILE...: records over seconds of the RESULT lines of FILE...
sum_rps() {
	result_sums "$@" | awk '$3 > 0 { printf "%.1f", $1 / $3 }'
}
# percentiles "P..." FILE...: the latencies (column 2) of loadgen's
# --latency-out files together, "pP value" a line (the one rule: the
# value at rank int(P/100 * n), at least 1)
percentiles() {
	_pq=$1
	shift
	cat "$@" 2>/dev/null | grep -v '^#' | awk '{ print $2 }' | sort -g |
	    awk -v ps="$_pq" '{ v[NR] = $1 }
	    END { if (NR == 0) exit; n = split(ps, q, " ");
	          for (i = 1; i <= n; i++) { k = int(q[i] / 100 * NR); if (k < 1) k = 1;
	                                     printf "p%s %s\n", q[i], v[k] } }'
}
# pool_p99 FILE...: p99 of those latencies together
pool_p99() {
	percentiles 99 "$@" | awk '{ print $2 }'
}
# series_rate W FILE: records/s over the first W records of a --series
# file ("seconds rate records-so-far" lines), interpolated at W
series_rate() {
	awk -v w="$1" '$3 >= w { t = pt + (w - pa) * ($1 - pt) / ($3 - pa);
	    printf "%.1f", w / t; exit } { pt = $1; pa = $3 }' "$2" 2>/dev/null
}
now() {
	date +%s.%N
}
# cpu_now: "total steal" jiffies of the whole machine (/proc/stat); the
# hypervisor's steal slows the gateway's pipeline of processes more than
# a single COPY stream, so the rounds and the run report it
cpu_now() {
	awk '/^cpu / { t = 0; for (i = 2; i <= 9; i++) t += $i; print t, $9; exit }' /proc/stat
}
steal_pct() {   # steal_pct "T0 S0" "T1 S1": per cent of the CPU time stolen
	echo "$1 $2" | awk '{ d = $3 - $1; printf "%.0f", (d > 0 ? 100 * ($4 - $2) / d : 0) }'
}
CPU_START=$(cpu_now)
calc() {   # calc EXPR: floating-point arithmetic
	awk "BEGIN { printf \"%.6g\", $1 }"
}
# size_label N: 1m, 5m, 104k.  The growth figures are about the archive's
# size: quick mode names them by the size it reaches (ingest_at_100k_vs_empty,
# _at_250k_), never as the full run's 1 M and 5 M.
size_label() {
	awk -v t="$1" 'BEGIN { if (t >= 1e6) printf "%gm", int(t / 1e5) / 10;
	    else printf "%gk", int(t / 1e3) }'
}
align_up() {
	echo $((($1 + ALIGN - 1) / ALIGN * ALIGN))
}

# -- the gateway, through the shared fixture -----------------------------------
GWF_NO_TRAP=1
. "$ROOT/tests/lib/gateway-fixture.sh"

API_PID=""
# the kernel's writeback setting as it was before the run ("" = untouched)
DIRTY_BG_OLD=""
host_restore() {
	[ -n "$DIRTY_BG_OLD" ] || return 0
	# shellcheck disable=SC2086  # "BYTES RATIO"
	set -- $DIRTY_BG_OLD
	# writing one of the pair zeroes the other: the one that was set wins
	if [ "$1" != 0 ]; then
		echo "$1" >/proc/sys/vm/dirty_background_bytes
	else
		echo "$2" >/proc/sys/vm/dirty_background_ratio
	fi
	DIRTY_BG_OLD=""
}
cleanup() {
	host_restore
	[ -z "$SSERVER_PID" ] || kill "$SSERVER_PID" 2>/dev/null
	[ -z "$API_PID" ] || kill "$API_PID" 2>/dev/null
	gwf_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "mode $MODE: $N records, $DEVICES devices, batches of $BATCH, ~$SIZE-byte bodies; results in $RESULTS"

# -- the database host: early writeback (README, "The database host and
# commit latency"), put back at exit --------------------------------------------
if [ "${BENCH_HOST_TUNE:-1}" = 1 ] && [ "$(id -u)" -eq 0 ] &&
    [ -w /proc/sys/vm/dirty_background_bytes ]; then
	DIRTY_BG_OLD="$(cat /proc/sys/vm/dirty_background_bytes) $(cat /proc/sys/vm/dirty_background_ratio)"
	echo 67108864 >/proc/sys/vm/dirty_background_bytes ||
	    die "cannot set vm.dirty_background_bytes"
fi

# -- PostgreSQL: same durability, production-sized memory and WAL --------------
if [ "${BENCH_PG_TUNE:-1}" = 1 ]; then
	$PSQL -d postgres -c "ALTER SYSTEM SET shared_buffers = '2GB'" \
	    -c "ALTER SYSTEM SET max_wal_size = '16GB'" \
	    -c "ALTER SYSTEM SET min_wal_size = '2GB'" \
	    -c "ALTER SYSTEM SET checkpoint_timeout = '30min'" \
	    -c "ALTER SYSTEM SET wal_buffers = '64MB'" \
	    -c "ALTER SYSTEM SET max_connections = 200" ||
	    die "ALTER SYSTEM failed"
	"$COFFER_PG_CTL" -w -t 120 -s -m fast restart >/dev/null 2>&1 ||
	    die "PostgreSQL did not restart with the bench settings"
fi
$PSQL -d postgres -c "CREATE DATABASE bench" -c "CREATE DATABASE bench_sealed" ||
    die "creating the bench databases failed"
PGDATABASE=bench_sealed "$BUILD/cofferctl" migrate --dir "$ROOT/migrations" \
    >"$RAW/migrate-sealed.log" 2>&1 || die "migrating bench_sealed failed"

# -- the machine -------------------------------------------------------------------
machine mode "$MODE"
machine timestamp "$TS"
machine git_commit "$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD 2>/dev/null || echo '+dirty')"
machine cores "$(nproc)"
machine cpu_model "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
machine memory "$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
machine kernel "$(uname -r)"
machine virtualization "$(systemd-detect-virt 2>/dev/null || echo unknown)"
machine openssl "$(openssl version)"
machine load_average_at_start "$(cut -d' ' -f1-3 /proc/loadavg)"
machine postgresql "$($PSQL -At -c 'SHOW server_version')"
for s in dirty_background_bytes dirty_background_ratio dirty_expire_centisecs; do
	machine "vm_$s" "$(cat "/proc/sys/vm/$s" 2>/dev/null)"
done
for s in fsync synchronous_commit full_page_writes wal_level shared_buffers \
    max_wal_size checkpoint_timeout wal_buffers max_connections; do
	machine "pg_$s" "$($PSQL -At -c "SHOW $s")"
done
machine records "$N"
machine ingest_rounds "$ROUNDS rounds of $ROUND records, $WARM to warm up, pgcrypto $PGP_ROUND a round"
machine devices "$DEVICES"
machine batch "$BATCH"
machine body_size "$SIZE"

# -- set-up: PKI, tenant, devices, node, gateway --------------------------------
log "set-up: PKI, tenant acme, $DEVICES devices, gateway"
gwf_init || die "fixture init failed"
gwf_server_cert && gwf_tenant acme || die "tenant set-up failed"
i=0
while [ "$i" -lt "$DEVICES" ]; do
	gwf_device acme "$(printf 'phone-%05d' "$i")" || die "device issue failed"
	i=$((i + 1))
done
gwf_node gw-bench || die "node init failed"
# every loadgen connection comes from 127.0.0.1: no per-address limit
gwf_config "max_connections = $((IDLE + 500))" "max_connections_per_address = 0" \
    "idle_timeout_s = 900" "device_rate = 100000" "device_burst = 100000" ||
    die "gateway config failed"
gwf_start || die "gateway did not start"
machine gateway_config "$(grep -v '^#' "$GWF_CONF" | grep -E '^(workers|batch_max|epoch|device_rate|max_conn)' | tr '\n' ';')"
LG="$BUILD/ops/loadgen --url $(gwf_url '') --ca $GWF_SRV_CA --certs $GWF_CERTS --devices $DEVICES --batch $BATCH --size $SIZE"

# --production: the matter's records through the gateway, the rest of the
# archive by sealed COPY of later records (outside the matter's window),
# then section 7 alone.
if [ "$MODE" = production ]; then
PROD=${BENCH_PROD_RECORDS:-60000}
ARCHIVE=${BENCH_PROD_ARCHIVE:-160000}
PROD=$(align_up "$PROD")
[ "$ARCHIVE" -ge "$PROD" ] || ARCHIVE=$PROD
machine production_records "$PROD"
machine production_archive "$ARCHIVE"
log "production only: $PROD records through the gateway"
$LG --records "$PROD" --seed 1 >"$RAW/gateway.out" 2>"$RAW/gateway.err" ||
    die "loadgen ($(tail -1 "$RAW/gateway.err"))"
if [ "$ARCHIVE" -gt "$PROD" ]; then
	log "filling the archive to $ARCHIVE records (sealed COPY, records $PROD on)"
	"$BUILD/bench/copy_sealed" --tenant acme --records $((ARCHIVE - PROD)) \
	    --first "$PROD" --seed 1 --devices "$DEVICES" --batch "$BATCH" \
	    --size "$SIZE" >"$RAW/fill.out" 2>&1 ||
	    die "copy_sealed ($(tail -1 "$RAW/fill.out"))"
fi
$PSQL -c "VACUUM ANALYZE coffer.records" >/dev/null 2>&1
else
# == 1. durable ingest vs plaintext COPY, sealed COPY and pgcrypto ===============
# The pgcrypto peer (section 2) runs in the same rounds: a throwaway
# RSA-3072 key for pgp_pub_encrypt, a random password for pgp_sym_encrypt.
GNUPGHOME="$COFFER_TEST_TMP/gnupg"
export GNUPGHOME
mkdir -p "$GNUPGHOME" && chmod 0700 "$GNUPGHOME"
PATHS="plain sealed bare gateway pgp_pub pgp_sym"
if ! { gpg --batch --pinentry-mode loopback --passphrase '' --quick-generate-key \
    'coffer-bench <bench@localhost.invalid>' rsa3072 sign never >"$RAW/gpg.log" 2>&1 &&
    FPR=$(gpg --list-keys --with-colons 2>/dev/null | awk -F: '/^fpr/ { print $10; exit }') &&
    gpg --batch --pinentry-mode loopback --passphrase '' --quick-add-key "$FPR" \
    rsa3072 encr never >>"$RAW/gpg.log" 2>&1 &&
    gpg --armor --export >"$COFFER_TEST_TMP/pgp-pub.asc" 2>>"$RAW/gpg.log"; }; then
	fail pgp-key "gpg key generation ($(tail -1 "$RAW/gpg.log"))"
	PATHS="plain sealed bare gateway pgp_sym"
fi
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$COFFER_TEST_TMP/pgp-pass"
# ingest_one PATH TAG FIRST COUNT: COUNT records from FIRST on through PATH
# (plain, sealed, bare, gateway) -> $RAW/PATH-TAG.{out,series[,latency]}
ingest_one() {
	o="$RAW/$1-$2"
	case "$1" in
	plain) "$BUILD/bench/copy_plain" --db dbname=bench --records "$4" --first "$3" \
	    --devices "$DEVICES" --batch "$BATCH" --size "$SIZE" --series "$o.series" \
	    >"$o.out" 2>&1 ;;
	sealed) "$BUILD/bench/copy_sealed" --db dbname=bench_sealed --records "$4" \
	    --first "$3" --devices "$DEVICES" --batch "$BATCH" --size "$SIZE" \
	    --series "$o.series" >"$o.out" 2>&1 ;;
	bare) "$BUILD/bench/copy_sealed" --db dbname=bench_sealed --table bench.sealed_bare \
	    --records "$4" --first "$3" --seed 3 --devices "$DEVICES" --batch "$BATCH" \
	    --size "$SIZE" --series "$o.series" >"$o.out" 2>&1 ;;
	gateway) $LG --records "$4" --first "$3" --seed 1 --series "$o.series" \
	    --latency-out "$o.latency" >"$o.out" 2>"$o.err" ;;
	pgp_pub) "$BUILD/bench/pgcrypto" --db dbname=bench --mode pub \
	    --key "$COFFER_TEST_TMP/pgp-pub.asc" --records "$PGP_ROUND" --first "$3" \
	    --devices "$DEVICES" --batch "$BATCH" --size "$SIZE" >"$o.out" 2>&1 ;;
	pgp_sym) "$BUILD/bench/pgcrypto" --db dbname=bench --mode sym \
	    --password-file "$COFFER_TEST_TMP/pgp-pass" --records "$PGP_ROUND" --first "$3" \
	    --devices "$DEVICES" --batch "$BATCH" --size "$SIZE" >"$o.out" 2>&1 ;;
	esac || { fail "$1" "$1 round $2 ($(tail -1 "$o.out") $(tail -1 "$o.err" 2>/dev/null))"; return 1; }
}
# ingest_sum PATH: the measured rounds summed into $RAW/PATH.out (a RESULT
# line: records, seconds, records_per_s, mb_per_s, cpu_s, p99_ms for the
# gateway), $RAW/PATH.series end to end, the gateway's latencies together
ingest_sum() {
	p=$1
	# the round files sort by name (r01, r02, ...), as a glob expands
	set -- "$RAW/$p"-r[0-9]*.out
	[ -e "$1" ] || return 0
	result_sums "$@" | awk '$3 > 0 { printf "RESULT name=sum records=%d bytes=%d seconds=%.3f records_per_s=%.1f mb_per_s=%.2f cpu_s=%.2f rounds=%d\n",
	        $1, $2, $3, $1 / $3, $2 / $3 / 1e6, $4, $5 }' >"$RAW/$p.out"
	awk 'FNR == 1 && NR > 1 { o = lt; c = lc } { lt = $1 + o; lc = $3 + c;
	    print lt, $2, lc }' "$RAW/$p"-r[0-9]*.series >"$RAW/$p.series" 2>/dev/null
	if [ "$p" = gateway ]; then
		cat "$RAW/gateway"-r[0-9]*.latency >"$RAW/gateway.latency"
		sed -i "s/\$/ p99_ms=$(pool_p99 "$RAW/gateway.latency")/" "$RAW/gateway.out"
	fi
}
log "ingest: $ROUNDS interleaved rounds of $ROUND records on each path, after $WARM records each to warm up:"
log "    (a) plaintext binary COPY, (b) sealed in process + COPY, (b') the same without"
log "    coffer.records' FKs and CHECKs, and the gateway over mTLS (loadgen, $DEVICES devices)"
for p in $PATHS; do
	ingest_one "$p" warm 0 "$WARM"
done
CPU_ING=$(cpu_now)
r=1
while [ "$r" -le "$ROUNDS" ]; do
	cpu0=$(cpu_now)
	# every other round backwards, so no path always follows the same one
	order=$PATHS
	[ $((r % 2)) = 0 ] && order=$(echo "$PATHS" | tr ' ' '\n' | tac | tr '\n' ' ')
	tag=$(printf 'r%02d' "$r")
	line=""
	for p in $order; do
		ingest_one "$p" "$tag" $((WARM + (r - 1) * ROUND)) "$ROUND" &&
		    line="$line $p $(res records_per_s "$RAW/$p-$tag.out")"
	done
	log "    round $r:$line; CPU steal $(steal_pct "$cpu0" "$(cpu_now)") %"
	r=$((r + 1))
done
ING_STEAL=$(steal_pct "$CPU_ING" "$(cpu_now)")
machine ingest_cpu_steal_pct "$ING_STEAL"
# The spread of the rounds' own gateway / plaintext ratios: their standard
# error says how far this run's ratio may be from another's (a round's
# ratio moves by about 18 % on the VM of issue 17).
ING_SE=$(r=1; while [ "$r" -le "$ROUNDS" ]; do
	tag=$(printf 'r%02d' "$r")
	echo "$(res records_per_s "$RAW/gateway-$tag.out") $(res records_per_s "$RAW/plain-$tag.out")"
	r=$((r + 1))
    done | awk '$1 > 0 && $2 > 0 { x = $1 / $2; n++; s += x; q += x * x }
	END { if (n > 1) { m = s / n; v = (q - n * m * m) / (n - 1); if (v < 0) v = 0;
	    printf "%.3f", sqrt(v / n) } }')
machine ingest_ratio_stderr "$ING_SE"
for p in $PATHS; do
	ingest_sum "$p"
done
PUB_RPS=$(res records_per_s "$RAW/pgp_pub.out")
SYM_RPS=$(res records_per_s "$RAW/pgp_sym.out")
PLAIN_RPS=$(res records_per_s "$RAW/plain.out")
PLAIN_MBS=$(res mb_per_s "$RAW/plain.out")
SEALED_RPS=$(res records_per_s "$RAW/sealed.out")
BARE_RPS=$(res records_per_s "$RAW/bare.out")
GW_RPS=$(res records_per_s "$RAW/gateway.out")
GW_MBS=$(res mb_per_s "$RAW/gateway.out")
GW_CPU=$(res cpu_s "$RAW/gateway.out")
log "    (a) $PLAIN_RPS records/s, (b) $SEALED_RPS, (b') $BARE_RPS, gateway $GW_RPS (loadgen CPU ${GW_CPU}s), pgp_pub_encrypt $PUB_RPS, pgp_sym_encrypt $SYM_RPS"
log "    gateway / (a): the rounds' standard error ${ING_SE:-?}; CPU steal $ING_STEAL % over the rounds"
# The ceilings are measured; their tables are not needed any more.
$PSQL -d postgres -c "DROP DATABASE bench_sealed" >/dev/null 2>&1
gwf_curl "$GWF_PROBE" "http://127.0.0.1:$GWF_METRICS_PORT/metrics" \
    >"$RAW/gateway-metrics.txt" 2>/dev/null ||
    curl -s "http://127.0.0.1:$GWF_METRICS_PORT/metrics" >"$RAW/gateway-metrics.txt" 2>/dev/null

figure ingest_records_per_s records/s "$GW_RPS" "$PLAIN_RPS" \
    "plaintext binary COPY, 2 writers" "goal >= 0.55; < 0.40 is a defect; $ROUNDS rounds, rounds' ratio standard error ${ING_SE:-?}, CPU steal $ING_STEAL %"
figure ingest_mb_per_s MB/s "$GW_MBS" "$PLAIN_MBS" "plaintext binary COPY, 2 writers" \
    "NDJSON record bytes"
figure ingest_vs_seal_copy_limit records/s "$GW_RPS" "$SEALED_RPS" \
    "sealed in-process + binary COPY" "goal >= 0.85"
figure seal_copy_vs_plain_copy records/s "$SEALED_RPS" "$PLAIN_RPS" \
    "plaintext binary COPY, 2 writers" "the limit (b) as a share of (a)"
figure seal_copy_schema_constraints records/s "$SEALED_RPS" "$BARE_RPS" \
    "(b) into the same indexes without FKs/CHECKs" "cost of coffer.records' constraints"

# == 4. cost as the archive grows (window at 0 from the main run's start) =======
# Rate over the first W acknowledged records of the main run (archive 0).
R0=$(series_rate "$W" "$RAW/gateway.series")
# The machine's speed then: plaintext COPY over the same first W/ROUND
# rounds.  Each growth window is put beside a plaintext COPY of W records
# into an empty table just before and just after it (the probe), and its
# baseline is R0 scaled by probe / P0: the VM's drift between the main
# run and a window minutes later (2x within an hour here) would otherwise
# be read as the archive's cost.
P0=$(series_rate "$W" "$RAW/plain.series")
ARCHIVE=$((N + WARM))
NEXT=$ARCHIVE      # next unused record index (loadgen --first)
GROW_RATES=""
probe() {   # probe OUT: plaintext COPY of W records into an empty table
	"$BUILD/bench/copy_plain" --db dbname=bench --reset --records "$W" \
	    --devices "$DEVICES" --batch "$BATCH" --size "$SIZE" >"$1" 2>&1 ||
	    fail probe "copy_plain --reset ($(tail -1 "$1"))"
}
window() {   # window LABEL: W records through the gateway at the current size
	log "growth window at $ARCHIVE records: $W records, between two plaintext COPY probes"
	probe "$RAW/window-$1-probe1.out"
	$LG --records "$W" --first "$NEXT" --seed 1 --series "$RAW/window-$1.series" \
	    >"$RAW/window-$1.out" 2>"$RAW/window-$1.err" ||
	    fail "window-$1" "loadgen ($(tail -1 "$RAW/window-$1.err"))"
	probe "$RAW/window-$1-probe2.out"
	WR=$(res records_per_s "$RAW/window-$1.out")
	WP=$(sed -n 's/^RESULT .* seconds=\([^ ]*\).*/\1/p' "$RAW/window-$1"-probe[12].out |
	    awk -v w="$W" '{ s += $1; n++ } END { if (n == 2 && s > 0) printf "%.1f", 2 * w / s }')
	WB=""
	[ -n "$WP" ] && [ -n "$P0" ] && [ -n "$R0" ] && WB=$(calc "$R0 * $WP / $P0")
	log "    $WR records/s at $ARCHIVE records; plaintext COPY $WP records/s (main run's first $W: $P0), so the empty-archive rate now is $WB"
	NEXT=$((NEXT + W))
	ARCHIVE=$((ARCHIVE + W))
}

# == 3. acknowledgement latency at 50 % of the maximum rate ======================
window "$(size_label "$ARCHIVE")"
R1=$WR
B1=$WB
A1=$((ARCHIVE - W))
if [ -n "$GW_RPS" ]; then
	RATE=$(calc "$GW_RPS / 2")
	L=$(align_up "$(awk -v r="$RATE" -v s="$LAT_S" 'BEGIN { printf "%d", r * s }')")
	log "latency: $L records at $RATE records/s (50 % of $GW_RPS)"
	$LG --records "$L" --first "$NEXT" --seed 1 --rate "$RATE" \
	    --latency-out "$RAW/latency50.latency" --series "$RAW/latency50.series" \
	    >"$RAW/latency50.out" 2>"$RAW/latency50.err" ||
	    fail latency "loadgen ($(tail -1 "$RAW/latency50.err"))"
	NEXT=$((NEXT + L))
	ARCHIVE=$((ARCHIVE + L))
	for p in p50 p90 p99 p999; do
		eval "LAT_$p=\$(res ${p}_ms \"\$RAW/latency50.out\")"
	done
	# shellcheck disable=SC2154  # LAT_p50 .. LAT_p999: set by the eval above
	log "    p50 $LAT_p50 p90 $LAT_p90 p99 $LAT_p99 p99.9 $LAT_p999 ms"
	figure ack_latency_p99_ms ms "$LAT_p99" 50 "goal (p99 < 50 ms)" \
	    "at $RATE records/s = 50 % of the maximum; request sent -> receipts received"
	figure ack_latency_p50_ms ms "$LAT_p50" - "" "at 50 % of the maximum rate"
	figure ack_latency_p90_ms ms "$LAT_p90" - "" "at 50 % of the maximum rate"
	figure ack_latency_p999_ms ms "$LAT_p999" - "" "at 50 % of the maximum rate"
	figure ack_latency_p99_ms_at_max ms "$(res p99_ms "$RAW/gateway.out")" - "" \
	    "during the maximum-rate run (queueing included)"
else
	fail latency "no maximum rate to take 50 % of"
	figure ack_latency_p99_ms ms - 50 "goal (p99 < 50 ms)" "not measured"
fi

# == 7. privilege separation: the separated gateway vs the previous design ======
# The same gateway restarted with privsep = 0 (keys, pipeline and network in
# one process: the design before issue 14.1) and with privsep = 1, in an
# A-B-B-A order so archive growth favours neither: maximum rate (PS_N records
# each) and p99 at a fixed rate (50 % of this run's maximum, LAT_S/2 s each).
ps_restart() {   # ps_restart 0|1
	gwf_stop
	gwf_config "max_connections = $((IDLE + 500))" "max_connections_per_address = 0" \
	    "idle_timeout_s = 900" "device_rate = 100000" "device_burst = 100000" \
	    "privsep = $1" >/dev/null || return 1
	gwf_start || return 1
	LG="$BUILD/ops/loadgen --url $(gwf_url '') --ca $GWF_SRV_CA --certs $GWF_CERTS --devices $DEVICES --batch $BATCH --size $SIZE"
}
# Eight pieces, privsep 0 1 1 0 0 1 1 0, each after a restart and a
# sync: LAT_S/8 seconds at a fixed 50 % of this run's maximum, then PS_N/4
# records at the maximum rate.  Per mode the pieces are summed (records over seconds) and
# their latencies pooled: the disk's writeback stalls, which make the p99
# (README), fall on both modes alike rather than on whichever ran in a
# stall-heavy half.
PS_PIECE=$(align_up $((PS_N / 4)))
ps_piece() {   # ps_piece MODE K RATE
	o="$RAW/privsep$1-p$2"
	ps_restart "$1" || { fail "privsep-$1" "gateway restart"; return 1; }
	# the last piece's dirty pages written back first: no piece starts
	# with another's writeback debt
	sync
	L=$(align_up "$(awk -v r="$3" -v s="$LAT_S" 'BEGIN { printf "%d", r * s / 8 }')")
	$LG --records "$L" --first "$NEXT" --seed 1 --rate "$3" --latency-out "$o-lat.latency" \
	    >"$o-lat.out" 2>"$o-lat.err" ||
	    { fail "privsep-$1" "loadgen ($(tail -1 "$o-lat.err"))"; return 1; }
	NEXT=$((NEXT + L)); ARCHIVE=$((ARCHIVE + L))
	$LG --records "$PS_PIECE" --first "$NEXT" --seed 1 >"$o-max.out" 2>"$o-max.err" ||
	    { fail "privsep-$1" "loadgen ($(tail -1 "$o-max.err"))"; return 1; }
	NEXT=$((NEXT + PS_PIECE)); ARCHIVE=$((ARCHIVE + PS_PIECE))
	log "    privsep=$1: p99 $(res p99_ms "$o-lat.out") ms at $3 records/s, then $(res records_per_s "$o-max.out") records/s"
}
if [ -n "$GW_RPS" ]; then
	PS_RATE=$(calc "$GW_RPS / 2")
	log "privsep: 8 pieces (0 1 1 0 0 1 1 0) of $((LAT_S / 8)) s at $PS_RATE records/s and $PS_PIECE records at the maximum rate"
	piece_no=1
	for m in 0 1 1 0 0 1 1 0; do
		ps_piece "$m" "$piece_no" "$PS_RATE"
		piece_no=$((piece_no + 1))
	done
	ONE_RPS=$(sum_rps "$RAW"/privsep0-p*-max.out)
	SEP_RPS=$(sum_rps "$RAW"/privsep1-p*-max.out)
	ONE_P99=$(pool_p99 "$RAW"/privsep0-p*-lat.latency)
	SEP_P99=$(pool_p99 "$RAW"/privsep1-p*-lat.latency)
	log "    privsep=1: $SEP_RPS records/s, p99 $SEP_P99 ms; privsep=0: $ONE_RPS records/s, p99 $ONE_P99 ms"
	figure privsep_records_per_s records/s "${SEP_RPS:-}" "${ONE_RPS:-}" \
	    "the same gateway with privsep = 0 (one process), same run" \
	    "goal >= 0.95 (issue 14.1); 4 x $PS_PIECE records at the maximum rate each, interleaved"
	figure privsep_ack_latency_p99_ms ms "${SEP_P99:-}" "${ONE_P99:-}" \
	    "the same gateway with privsep = 0 (one process), same run" \
	    "goal <= 1.05 (issue 14.1); at $PS_RATE records/s (50 % of the maximum), 4 pieces each, pooled"
	ps_restart 1 || fail privsep "gateway restart"
fi

# == 6. verification vs COPY ... TO ================================================
# `cofferctl verify` when the verb exists; until then the same verify_run()
# timed in process by bench/verify_run (said so in the figure's note).
VERIFIER=""
if "$BUILD/cofferctl" verify --help >/dev/null 2>&1; then
	VERIFIER="cofferctl verify"
elif [ -x "$BUILD/bench/verify_run" ]; then
	VERIFIER="bench/verify_run"
fi
if [ -n "$VERIFIER" ]; then
	# COPY TO, verify, COPY TO: the baseline on both sides of the
	# measurement, so the VM's drift during it favours neither
	copyto() {   # copyto N: CT = seconds to read every row with COPY ... TO
		CT=""
		t0=$(now)
		$PSQL -c "\\copy (SELECT tenant_id, stream_id, seq, epoch_id, batch_no, received_at, sent_at, channel, size_class, participant_tokens, conversation_token, dedup_token, nonce, ciphertext, leaf_hash FROM coffer.records ORDER BY tenant_id, stream_id, seq) TO '/dev/null' WITH (FORMAT binary)" \
		    >"$RAW/copyto-$1.out" 2>&1 ||
		    { fail copyto "COPY TO ($(tail -1 "$RAW/copyto-$1.out"))"; return 1; }
		CT=$(calc "$(now) - $t0")
	}
	log "verify: $VERIFIER over $ARCHIVE records, between two COPY TO"
	# a first read sets the rows' hint bits (and writes the pages): not
	# counted, as it would be for whichever came first
	copyto 0
	C0=$CT
	copyto 1
	C1=$CT
	t0=$(now)
	if [ "$VERIFIER" = "cofferctl verify" ]; then
		PGUSER=auditor "$BUILD/cofferctl" verify --quiet \
		    --witness "$GWF_DIR/witness.jsonl" >"$RAW/verify.out" 2>&1
	else
		PGUSER=auditor "$BUILD/bench/verify_run" \
		    --witness "$GWF_DIR/witness.jsonl" >"$RAW/verify.out" 2>&1
	fi || fail verify "$VERIFIER ($(tail -1 "$RAW/verify.out"))"
	t1=$(now)
	VREC=$(sed -n 's/.* \([0-9][0-9]*\) records,.*/\1/p' "$RAW/verify.out" | head -1)
	VRPS=$([ -n "$VREC" ] && calc "$VREC / ($t1 - $t0)")
	copyto 2
	C2=$CT
	CRPS=""
	[ -n "$C1" ] && [ -n "$C2" ] && CRPS=$(calc "2 * ${VREC:-$ARCHIVE} / ($C1 + $C2)")
	log "    $(head -1 "$RAW/verify.out")"
	log "    verify $VRPS records/s, COPY TO $CRPS records/s (${C1}s before, ${C2}s after; ${C0:-?}s the uncounted first)"
	note="$VREC records written by the gateway, by $VERIFIER"
	[ "$VERIFIER" = "cofferctl verify" ] ||
	    note="$note (cofferctl has no verify verb yet: the same verify_run() in process)"
	figure verify_records_per_s records/s "$VRPS" "$CRPS" \
	    "COPY (SELECT ... ORDER BY stream, seq) TO, binary" "$note; goal >= 200000"
else
	log "verify: not available (no cofferctl verify, no bench/verify_run)"
	figure verify_records_per_s records/s - - "COPY ... TO" \
	    "not available: cofferctl verify not built"
fi

fi   # not --production (sections 1, 3, 4, 6, 7 above)

# == 7. production ==================================================================
# prod_cpu: "pid ticks" of coffer-api's processes (front, keeper) and the
# API's PostgreSQL backends; CPU time is steadier than wall time on a
# shared machine, so the note carries both.
prod_cpu() {
	for p in "$API_PID" $(ps -o pid= --ppid "$API_PID" 2>/dev/null) \
	    $($PSQL -At -c "SELECT pid FROM pg_stat_activity WHERE usename = 'api'" 2>/dev/null); do
		echo "$p $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null)"
	done
}
# A matter over the first PROD records of the main run (time window; every
# device owner as participant, so each record in the window is in scope),
# two custodians approving with `cofferctl approve`, the API's job building
# the sealed RSMF + JSONL production.  Timed from the K-th approval to the
# matter's state "ready" (downloadable), polled every 0.1 s.  Baseline: a
# binary COPY ... TO of the same in-scope rows.
production() {
	[ -x "$BUILD/coffer-api" ] || { PROD_NOTE="not available: coffer-api not built"; return 1; }
	"$BUILD/cofferctl" approve --help >/dev/null 2>&1 ||
	    { PROD_NOTE="not available: cofferctl approve not built"; return 1; }
	P="$GWF_DIR/prod"
	mkdir -p "$P/people" "$P/keys" "$P/prods" && chmod 0700 "$P" "$P/keys" "$P/prods"
	for u in "legal lisa" "custodian cus1 1" "custodian cus2 2"; do
		# shellcheck disable=SC2086  # split "role name [index]" into $1 $2 $3
		set -- $u
		"$BUILD/cofferctl" user issue --role "$1" --tenant acme --name "$2" \
		    --out "$P/people" ${3:+--custodian-index "$3"} >>"$RAW/production.log" 2>&1 ||
		    { PROD_NOTE="user issue $2 failed"; return 1; }
	done
	printf 'bench production passphrase\n' >"$P/lisa.pass"
	chmod 0600 "$P/lisa.pass"
	# `cofferctl user keygen` once ctl/user.c forwards it; `keygen` until then
	KEYGEN=keygen
	"$BUILD/cofferctl" user keygen --help >/dev/null 2>&1 && KEYGEN="user keygen"
	# shellcheck disable=SC2086  # KEYGEN is one or two words ("user keygen")
	"$BUILD/cofferctl" $KEYGEN --tenant acme --name lisa --out "$P/lisa.key" \
	    --passphrase-file "$P/lisa.pass" >>"$RAW/production.log" 2>&1 ||
	    { PROD_NOTE="user keygen failed"; return 1; }
	cp "$GWF_KEYS/acme.bik" "$GWF_KEYS/acme.pin" "$P/keys/" && chmod 0600 "$P/keys/acme.bik"
	"$BUILD/cofferctl" pki server --name bench-api --dns localhost --ip 127.0.0.1 \
	    --out "$P/srv" >>"$RAW/production.log" 2>&1 || { PROD_NOTE="api certificate failed"; return 1; }
	# productions are signed by the API node (issue 13.3)
	"$BUILD/cofferctl" node init --name bench-api --kind api --key-out "$P/api-node.key" \
	    --pins "$COFFER_NODE_PINS" >>"$RAW/production.log" 2>&1 ||
	    { PROD_NOTE="api node key failed"; return 1; }
	APORT=$(gwf_free_port)
	cat >"$P/api.conf" <<EOC
listen = 127.0.0.1:$APORT
metrics_listen =
cert_file = $P/srv/bench-api.crt
key_file = $P/srv/bench-api.key
people_ca = $COFFER_PKI/people/ca.pem
people_crl = $COFFER_PKI/people/crl.pem
keys_dir = $P/keys
productions_dir = $P/prods
signing_key_file = $P/api-node.key
node_name = bench-api
pg_conninfo = host=$PGHOST port=$PGPORT dbname=$PGDATABASE user=api
EOC
	# BENCH_PROD_PGLOG=1: the API's slow statements (its sessions start
	# after this) into the server log, copied to raw/prod-queries.log
	[ "${BENCH_PROD_PGLOG:-0}" = 1 ] &&
	    $PSQL -c "ALTER ROLE api SET log_min_duration_statement = 20" \
	    -c "ALTER ROLE api SET session_preload_libraries = 'auto_explain'" \
	    -c "ALTER ROLE api SET auto_explain.log_min_duration = 200" \
	    -c "ALTER ROLE api SET auto_explain.log_analyze = on" \
	    -c "ALTER ROLE api SET auto_explain.log_timing = off" >/dev/null 2>&1
	"$BUILD/coffer-api" --config "$P/api.conf" >"$RAW/api.log" 2>&1 &
	API_PID=$!
	acurl() {
		curl -sS --cacert "$COFFER_PKI/server/ca.pem" --cert "$P/people/lisa.crt" \
		    --key "$P/people/lisa.key" "$@"
	}
	i=0
	until acurl -o /dev/null "https://127.0.0.1:$APORT/v1/whoami" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 150 ] || { PROD_NOTE="coffer-api did not start"; return 1; }
		sleep 0.1
	done
	# synth.c: record i is sent at 2026-01-01T00:00:00Z + i x 20 ms (+ < 5 ms)
	FROM=$(date -u -d @1767225600 +%Y-%m-%dT%H:%M:%S).000Z
	TO=$(date -u -d @$((1767225600 + PROD / 50 - 1)) +%Y-%m-%dT%H:%M:%S).999Z
	OWNERS=$("$BUILD/ops/loadgen" --owners --devices "$DEVICES")
	acurl -H 'Content-Type: application/json' -d "{\"title\":\"Benchmark matter\",
	    \"legal_basis\":\"make bench\",\"scope\":{\"participants\":$OWNERS,
	    \"from\":\"$FROM\",\"to\":\"$TO\"}}" \
	    "https://127.0.0.1:$APORT/v1/matters" >"$RAW/matter.json" 2>&1
	MID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["matter_id"])' \
	    "$RAW/matter.json" 2>/dev/null) ||
	    { PROD_NOTE="matter not created: $(head -c 200 "$RAW/matter.json")"; return 1; }
	# the baseline, COPY TO of the scope, before the build and after it
	scope_copy() {   # CT = seconds
		t0=$(now)
		$PSQL -c "\\copy (SELECT r.* FROM coffer.records r JOIN coffer.tenants t USING (tenant_id) WHERE t.name = 'acme' AND r.sent_at BETWEEN '$FROM' AND '$TO' ORDER BY r.stream_id, r.seq) TO '/dev/null' WITH (FORMAT binary)" \
		    >>"$RAW/production.log" 2>&1 || { PROD_NOTE="COPY TO of the scope failed"; return 1; }
		CT=$(calc "$(now) - $t0")
	}
	# the first read sets hint bits (writes): not counted
	scope_copy && scope_copy || return 1
	PROD_COPY_S=$CT
	for c in 1 2; do
		"$BUILD/cofferctl" approve --matter "$MID" \
		    --share "$GWF_DIR/tenants/acme/out/acme-custodian-$c.share" \
		    --passphrase-file "$GWF_DIR/tenants/acme/pass$c" \
		    --api "https://127.0.0.1:$APORT" --ca "$COFFER_PKI/server/ca.pem" \
		    --cert "$P/people/cus$c.crt" \
		    --key "$P/people/cus$c.key" --yes >>"$RAW/production.log" 2>&1 ||
		    { PROD_NOTE="cofferctl approve $c failed"; return 1; }
		# BENCH_PROD_PERF=dwarf: call chains through libraries built
		# without frame pointers (libsodium, libcrypto), 16 KiB of stack
		# a sample
		# BENCH_PROD_PERF_EVENTS: perf's events instead of the CPU
		# clock, e.g. "-e sched:sched_switch" (where the build waits)
		PERF_G="-g"
		[ "${BENCH_PROD_PERF:-0}" = dwarf ] && PERF_G="--call-graph=dwarf,16384"
		# shellcheck disable=SC2086  # the events are several words
		[ "$c" = 1 ] && [ "${BENCH_PROD_PERF:-0}" != 0 ] &&
		    { perf record ${BENCH_PROD_PERF_EVENTS:--e cpu-clock -F 499} -a "$PERF_G" -o "$RAW/prod-perf.data" \
		    >"$RAW/prod-perf.log" 2>&1 & PERF_PID=$!; }
		[ "$c" = 1 ] && prod_cpu >"$RAW/prod-cpu0.txt"
		[ "$c" = 1 ] || { t0=$(now); prod_cpu >"$RAW/prod-cpu0b.txt"; }
	done
	# Polled on the download, which answers 409 with the state while
	# the build runs from one matters row; GET /v1/matters/{id} computes
	# the matter's keys over its scope (~0.3 s of PostgreSQL CPU per
	# call at 100 000 records), so polling it 10 times a second took a
	# core from the build on a 2-core machine.  One long-lived poller: a
	# curl process every 0.1 s (fork, exec, certificate loading, a TLS
	# handshake) took ~7 % of the machine from the build it measured.
	# The API answers one request per connection, so each poll still
	# costs it a handshake: the poller waits up to 1 s while the 409's
	# "N% built" says the end is far, 0.1 s from 90 % on.  A 200 (ready)
	# is not read.
	st=$(python3 - "$APORT" "$MID" "$COFFER_PKI/server/ca.pem" \
	    "$P/people/lisa.crt" "$P/people/lisa.key" "$RAW/matter-poll.json" \
	    2>>"$RAW/production.log" <<'EOPY'
import http.client, re, ssl, sys, time
port, mid, ca, crt, key, out = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(crt, key)
conn, st, t0, wait = None, "", time.time(), 0.1
for _ in range(12000):
    wait = 0.1
    try:
        if conn is None:
            conn = http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx)
        conn.request("GET", "/v1/matters/%s/production" % mid)
        resp = conn.getresponse()
        if resp.status == 200:
            st = "ready"
            break
        body = resp.read()
        open(out, "wb").write(body)
        if b'"production_failed"' in body or b'"matter_closed"' in body:
            st = "failed"
            break
        m = re.search(rb'([0-9]+)% built', body)
        pct = int(m.group(1)) if m else 0
        if 0 < pct < 90:
            wait = min(1.0, max(0.1, (time.time() - t0) * (100 - pct) / pct / 5))
    except (OSError, http.client.HTTPException):
        pass
    if conn is not None:
        conn.close()    # the API answers one request per connection
    conn = None
    time.sleep(wait)
print(st)
EOPY
)
	t1=$(now)
	prod_cpu >"$RAW/prod-cpu1.txt"
	# CPU seconds between two prod_cpu lists.  From the 1st approval (as
	# before): the 2nd approval's own scope queries count; from the 2nd:
	# the build's (the keeper may have started a few ms before).
	cpu_delta() {
		awk -v hz="$(getconf CLK_TCK)" 'NR == FNR { a[$1] = $2; next }
		    { d = $2 - a[$1]; if ($1 in a && d > 0) t += d; else if (!($1 in a)) t += $2 }
		    END { printf "%.2f", t / hz }' "$1" "$2"
	}
	PROD_CPU=$(cpu_delta "$RAW/prod-cpu0.txt" "$RAW/prod-cpu1.txt")
	PROD_CPU_BUILD=$(cpu_delta "$RAW/prod-cpu0b.txt" "$RAW/prod-cpu1.txt")
	[ -z "$PERF_PID" ] || { kill -INT "$PERF_PID" 2>/dev/null; wait "$PERF_PID" 2>/dev/null; PERF_PID=""; }
	[ "${BENCH_PROD_PGLOG:-0}" = 1 ] && grep 'api@.*duration:' "$PGHOST/server.log" \
	    >"$RAW/prod-queries.log" 2>/dev/null &&
	    cp "$PGHOST/server.log" "$RAW/prod-server.log" 2>/dev/null
	acurl "https://127.0.0.1:$APORT/v1/matters/$MID" >"$RAW/matter-state.json" 2>/dev/null
	[ "$st" = ready ] && st=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["state"])' \
	    "$RAW/matter-state.json" 2>/dev/null)
	[ "$st" = ready ] || { PROD_NOTE="production state $st"; return 1; }
	PROD_S=$(calc "$t1 - $t0")
	PROD_N=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["record_count"])' \
	    "$RAW/matter-state.json" 2>/dev/null)
	acurl -o "$P/production.coffer" "https://127.0.0.1:$APORT/v1/matters/$MID/production" 2>/dev/null
	PROD_BYTES=$(wc -c <"$P/production.coffer" 2>/dev/null)
	# BENCH_PROD_OPEN=1: open the production as the requester would and
	# keep the size of each kind of file (raw/prod-files.txt)
	if [ "${BENCH_PROD_OPEN:-0}" = 1 ]; then
		"$BUILD/cofferctl" export open --in "$P/production.coffer" --key "$P/lisa.key" \
		    --passphrase-file "$P/lisa.pass" --out "$P/open" >>"$RAW/production.log" 2>&1 &&
		    (cd "$P/open" && find . -type f -printf '%h %s\n' |
		    awk '{ n[$1]++; b[$1] += $2 } END { for (d in n) printf "%-24s %8d files %12d bytes\n", d, n[d], b[d] }' |
		    sort) >"$RAW/prod-files.txt"
		(cd "$P/open" && ls -l) >>"$RAW/prod-files.txt" 2>&1
		# records.jsonl's bytes by top-level field (and the proof's parts)
		python3 - "$P/open/records.jsonl" >>"$RAW/prod-files.txt" 2>&1 <<'EOPY'
import json, sys
tot, n = {}, 0
with open(sys.argv[1], "rb") as f:
    for line in f:
        n += 1
        for k, v in json.loads(line).items():
            tot[k] = tot.get(k, 0) + len(json.dumps(v, separators=(",", ":")))
            if isinstance(v, dict) and k in ("proof", "record"):
                for k2, v2 in v.items():
                    key = k + "." + k2
                    tot[key] = tot.get(key, 0) + len(json.dumps(v2, separators=(",", ":")))
print("records.jsonl: %d lines, bytes a line by field:" % n)
for k, v in sorted(tot.items(), key=lambda kv: -kv[1]):
    print("  %-28s %8.0f" % (k, v / max(n, 1)))
EOPY
	fi
	scope_copy || return 1
	PROD_COPY_RPS=$(calc "2 * $PROD_N / ($PROD_COPY_S + $CT)")
	return 0
}
PERF_PID=""
if [ "$MODE" = full ]; then PROD=100000; elif [ "$MODE" = quick ]; then PROD=10000; fi
log "production: matter over $PROD records, 2 approvals, API build"
API_PID=""
PROD_NOTE=""
if production; then
	PROD_RPS=$(calc "$PROD_N / $PROD_S")
	log "    $PROD_N records ready ${PROD_S}s after the 2nd approval: $PROD_RPS records/s ($PROD_BYTES bytes, ${PROD_CPU}s CPU of the API and its backends from the 1st approval, ${PROD_CPU_BUILD}s from the 2nd); COPY TO $PROD_COPY_RPS records/s"
	figure production_records_per_s records/s "$PROD_RPS" "$PROD_COPY_RPS" \
	    "COPY (in-scope rows) TO, binary" \
	    "$PROD_N records of a $ARCHIVE-record archive, $PROD_BYTES bytes sealed, ${PROD_CPU} s CPU (API + its backends; ${PROD_CPU_BUILD} s from the 2nd approval); goal >= 50000"
	figure production_seconds s "$PROD_S" - "" "K-th approval -> production downloadable"
else
	log "    not available: $PROD_NOTE"
	figure production_records_per_s records/s - - "" "not available: $PROD_NOTE"
fi
[ -z "$API_PID" ] || { kill "$API_PID" 2>/dev/null; wait "$API_PID" 2>/dev/null; }
API_PID=""
if [ -s "$RAW/prod-perf.data" ]; then
	perf report -i "$RAW/prod-perf.data" --no-children --sort comm --stdio 2>/dev/null |
	    grep -E '^ +[0-9.]+%' | head -15 >"$RESULTS/$TS-perf-production-by-process.txt"
	{
		perf report -i "$RAW/prod-perf.data" --no-children --comm coffer-keeper \
		    --sort dso --stdio -g none 2>/dev/null | grep -E '^ +[0-9.]+%' | head -15
		perf report -i "$RAW/prod-perf.data" --no-children --comm coffer-keeper \
		    --sort dso,sym --stdio -g none 2>/dev/null | grep -E '^ +[0-9.]+%' | head -60
	} >"$RESULTS/$TS-perf-production-api.txt"
	perf report -i "$RAW/prod-perf.data" --no-children --comm postgres \
	    --sort sym --stdio -g none 2>/dev/null | grep -E '^ +[0-9.]+%' | head -30 \
	    >"$RESULTS/$TS-perf-production-postgres.txt"
	log "    perf: $RESULTS/$TS-perf-production-*.txt ($RAW/prod-perf.data)"
fi

if [ "$MODE" != production ]; then

# == 4 (cont.). grow the archive with the sealed loader, measure again ============
for target in $GROW; do
	[ "$target" -gt "$A1" ] || continue
	add=$((target - ARCHIVE))
	if [ "$add" -gt 0 ]; then
		log "growing the archive to $target records (sealed COPY into tenant acme, $add records)"
		"$BUILD/bench/copy_sealed" --tenant acme --records "$add" --seed 2 \
		    --devices "$DEVICES" --batch "$BATCH" --size "$SIZE" \
		    >"$RAW/fill-$target.out" 2>&1 ||
		    fail "fill-$target" "copy_sealed ($(tail -1 "$RAW/fill-$target.out"))"
		ARCHIVE=$target
	fi
	window "$(size_label "$ARCHIVE")"
	GROW_RATES="$GROW_RATES $target:$WR:$WB"
done
GROWTH_BASE="first $W records of the main run (archive 0), x the machine's speed then / at the main run (plaintext COPY probes)"
figure "ingest_at_$(size_label "$A1")_vs_empty" records/s "$R1" "$B1" "$GROWTH_BASE" \
    "window of $W records at $A1 records; first $W of the main run: $R0 records/s"
for gr in $GROW_RATES; do
	IFS=: read -r t r b <<EOG
$gr
EOG
	[ "$t" -le "$A1" ] && continue
	figure "ingest_at_$(size_label "$t")_vs_empty" records/s "$r" "$b" "$GROWTH_BASE" \
	    "window of $W records at $t records; first $W of the main run: $R0 records/s$([ "$t" -ge 5000000 ] && echo "; goal >= 0.8")"
done

# == 2. pgcrypto (measured in the ingest rounds) ===================================
figure pgcrypto_peer records/s "$GW_RPS" "$PUB_RPS" "pgp_pub_encrypt (RSA-3072), INSERT, 2 writers" \
    "goal >= 3; $PGP_ROUND records a round beside the gateway's"
figure pgcrypto_sym_peer records/s "$GW_RPS" "$SYM_RPS" "pgp_sym_encrypt (defaults), INSERT, 2 writers" \
    "$PGP_ROUND records a round beside the gateway's"
$PSQL -d postgres -c "DROP DATABASE bench" >/dev/null 2>&1

# == 5. connections ==================================================================
log "connections: restarting the gateway for a clean memory baseline"
gwf_stop && gwf_start || fail gw-restart "gateway restart"
log "idle: $IDLE concurrent idle mTLS connections"
$LG --idle "$IDLE" --connections 4 --hold "$HOLD" --rss-pid "$GWF_PID" \
    >"$RAW/idle.out" 2>"$RAW/idle.err" || fail idle "loadgen --idle ($(tail -1 "$RAW/idle.err"))"
RSS0=$(res rss_before_kib "$RAW/idle.out")
RSS1=$(res rss_held_kib "$RAW/idle.out")
ALIVE=$(res alive "$RAW/idle.out")
if [ -n "$RSS1" ] && [ "$RSS1" -gt 0 ] 2>/dev/null; then
	figure idle_conn_rss_mib MiB "$(calc "$RSS1 / 1024")" 256 "goal (< 256 MiB total)" \
	    "gateway RSS holding $ALIVE of $IDLE idle connections (VmRSS; $(calc "$RSS0 / 1024") MiB before)"
	figure idle_conn_kib_per_conn KiB "$(calc "($RSS1 - $RSS0) / $IDLE")" - "" \
	    "RSS growth per idle connection"
else
	figure idle_conn_rss_mib MiB - 256 "goal (< 256 MiB total)" "not measured"
fi
log "    $(sed -n '2p' "$RAW/idle.out")"

HALF=$((HS_S / 2))
log "handshakes: openssl s_time -new and loadgen --handshakes against the gateway and openssl s_server, ${HALF}s each in the order gateway, s_server, s_server, gateway"
DEV0=$GWF_CERTS/$GWF_PROBE
SPORT=$(gwf_free_port)
openssl s_server -accept "127.0.0.1:$SPORT" -cert "$GWF_SRV_CRT" -key "$GWF_SRV_KEY" \
    -CAfile "$COFFER_PKI/devices/acme/ca.pem" -Verify 2 -www -quiet -no_ticket \
    </dev/null >"$RAW/s_server.log" 2>&1 &
SSERVER_PID=$!
sleep 1
stime() {   # stime PORT OUT: "connections seconds", one client connection at a time
	t0=$(now)
	openssl s_time -connect "127.0.0.1:$1" -new -time "$HALF" -cert "$DEV0.crt" \
	    -key "$DEV0.key" -CAfile "$GWF_SRV_CA" >"$2" 2>&1
	t1=$(now)
	c=$(sed -n 's/^\([0-9][0-9]*\) connections in .*real seconds.*/\1/p' "$2" | head -1)
	[ -n "$c" ] && echo "$c $(calc "$t1 - $t0")" >>"$2.sum"
}
hsload() {   # hsload URL OUT: loadgen --handshakes, 2 client threads
	"$BUILD/ops/loadgen" --url "$1" --ca "$GWF_SRV_CA" --certs "$GWF_CERTS" \
	    --devices "$DEVICES" --handshakes "$HALF" --connections 2 >"$2" 2>&1 ||
	    { fail hs "loadgen --handshakes $1 ($(tail -1 "$2"))"; return 1; }
	echo "$(res handshakes "$2") $(res seconds "$2")" >>"$2.sum"
}
hsrate() {   # hsrate FILE.sum: handshakes per second over its runs
	awk '{ n += $1; s += $2 } END { if (s > 0) printf "%.1f", n / s }' "$1" 2>/dev/null
}
: >"$RAW/stime-gateway.out.sum"
: >"$RAW/stime-s_server.out.sum"
: >"$RAW/hs-gateway.out.sum"
: >"$RAW/hs-s_server.out.sum"
for t in gateway s_server s_server gateway; do
	port=$GWF_PORT
	[ "$t" = s_server ] && port=$SPORT
	stime "$port" "$RAW/stime-$t.out"
	hsload "https://127.0.0.1:$port" "$RAW/hs-$t.out"
done
kill "$SSERVER_PID" 2>/dev/null
wait "$SSERVER_PID" 2>/dev/null
SSERVER_PID=""
HS_GW=$(hsrate "$RAW/stime-gateway.out.sum")
HS_SS=$(hsrate "$RAW/stime-s_server.out.sum")
HSP_GW=$(hsrate "$RAW/hs-gateway.out.sum")
HSP_SS=$(hsrate "$RAW/hs-s_server.out.sum")
log "    s_time: gateway $HS_GW/s, s_server $HS_SS/s; 2 parallel clients: gateway $HSP_GW/s, s_server $HSP_SS/s"
figure handshakes_per_s handshakes/s "$HS_GW" "$HS_SS" \
    "openssl s_server, same certs (s_time -new)" "full mTLS handshakes, goal >= 0.7"
figure handshakes_per_s_parallel handshakes/s "$HSP_GW" "$HSP_SS" \
    "openssl s_server, same certs (2 clients)" "loadgen --handshakes, 2 client threads"

fi   # not --production (sections 4 cont., 2, 5 above)

# == report ==============================================================================
machine load_average_at_end "$(cut -d' ' -f1-3 /proc/loadavg)"
machine duration_s "$(($(date +%s) - T_START))"
machine cpu_steal_pct "$(steal_pct "$CPU_START" "$(cpu_now)")"
machine failed_steps "${FAILED# }"
gwf_stop

# Plots: throughput over time; latency percentiles at max and at 50 %.
percentiles "50 75 90 95 99 99.9" "$RAW/gateway.latency" >"$RAW/pct-max.dat"
percentiles "50 75 90 95 99 99.9" "$RAW/latency50.latency" >"$RAW/pct-50.dat"
if [ "$MODE" != production ] && command -v gnuplot >/dev/null 2>&1; then
	gnuplot >"$RAW/gnuplot.log" 2>&1 <<EOF || fail plots "gnuplot ($(tail -1 "$RAW/gnuplot.log"))"
set terminal pngcairo size 1000,560 noenhanced
set output '$RESULTS/$TS-throughput.png'
set title 'Durable ingest, $N records of ~$SIZE B ($MODE run $TS)'
set xlabel 'seconds since start'
set ylabel 'records/s'
set yrange [0:*]
set grid
set key outside bottom center horizontal
plot '$RAW/plain.series' using 1:2 with lines lw 2 title 'plaintext binary COPY (a)', \
     '$RAW/sealed.series' using 1:2 with lines lw 2 title 'sealed in-process + COPY (b)', \
     '$RAW/gateway.series' using 1:2 with lines lw 2 title 'Coffer gateway over mTLS'
set output '$RESULTS/$TS-latency.png'
set title 'Acknowledgement latency (request sent -> receipts), $MODE run $TS'
set xlabel 'percentile'
set ylabel 'ms'
set logscale y
set style data histograms
set style fill solid 0.8
set boxwidth 0.8
plot '$RAW/pct-50.dat' using 2:xtic(1) title 'at 50 % of the maximum rate', \
     '$RAW/pct-max.dat' using 2:xtic(1) title 'at the maximum rate'
set output '$RESULTS/$TS-latency-time.png'
set title 'Acknowledgement latency over time at 50 % of the maximum rate'
set style data points
set xlabel 'seconds since start'
set ylabel 'ms'
plot '$RAW/latency50.latency' using 1:2 with points pt 7 ps 0.4 title 'one request of $BATCH records'
EOF
fi

"$BUILD/bench/report" --in "$FIG" --json "$RESULTS/$TS.json" --csv "$RESULTS/$TS.csv" \
    --machine "$MACH" --machine-json "$RESULTS/$TS-machine.json" >"$RAW/table.txt" ||
    fail report "report"
cp "$RESULTS/$TS.json" "$RESULTS/latest.json" 2>/dev/null
cp "$RESULTS/$TS-machine.json" "$RESULTS/latest-machine.json" 2>/dev/null
echo
echo "Coffer benchmark ($MODE), $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
cat "$RAW/table.txt"
echo
echo "results: $RESULTS/$TS.json (.csv, -machine.json, -throughput.png, -latency.png, -latency-time.png, -raw/)"
echo "took $(($(date +%s) - T_START)) s"
if [ -n "$FAILED" ]; then
	echo "bench: failed steps:$FAILED (see $RAW)" >&2
	exit 1
fi
exit 0
