#!/bin/sh
# tests/fuzz/run.sh — build and run libFuzzer targets for a bounded time.
#
#   sh tests/fuzz/run.sh [tests/fuzz/fuzz_X.c ...]     (default: all of them)
#   FUZZ_SECONDS=N (default 60) per target; FUZZ_BUILD_ONLY=1 only builds
#   (tests/fuzz/seeds.sh uses that).
#
# Each tests/fuzz/fuzz_*.c is linked with clang -fsanitize=fuzzer,address,
# undefined against the project libraries, which are built by the Makefile
# into build-fuzz/ with the same sanitizers plus fuzzer instrumentation.
# Every target runs FUZZ_SECONDS (default 60) on its own corpus in
# build-fuzz/corpus/<name>, seeded from the committed tests/fuzz/corpus/<name>/
# (tests/fuzz/seeds.sh) and using tests/fuzz/<name>.dict when present.  A
# crash, leak, timeout or sanitizer report leaves its input in
# build-fuzz/artifacts/ and makes the run fail.  The end is one table:
# executions and executions/s per target (libFuzzer's final
# stat::number_of_executed_units over the time it ran) and crashes.
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/lib/figures.sh
. tests/lib/figures.sh

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
B=build-fuzz
# Shorter allocation stacks and a smaller quarantine than ASan's defaults:
# the OpenSSL-heavy targets (fuzz_certid) run about twice as fast.
ASAN_OPTIONS=${ASAN_OPTIONS:-malloc_context_size=5:quarantine_size_mb=64}
export ASAN_OPTIONS
CC_FUZZ=${CC_FUZZ:-clang}
PG_INC=$(pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)
# the importers' libraries (agent/import/import.mk), linked into every
# target (one that does not use them only loads them)
IMPORT_LIBS="$(pkg-config --libs libxml-2.0 gmime-3.0 2>/dev/null) -lsqlite3"

if [ $# -eq 0 ]; then
	set -- tests/fuzz/fuzz_*.c
fi
if [ ! -e "$1" ]; then
	echo "fuzz: no targets"
	exit 0
fi
if ! command -v "$CC_FUZZ" >/dev/null 2>&1; then
	echo "fuzz: $CC_FUZZ not found (make deps installs clang)" >&2
	exit 1
fi

# libraries, one make call each so that one failing to build does not stop
# targets that do not need it
mkdir -p "$B/artifacts"
libs=""
for l in import gateway api ctl agent vault common; do
	case $l in
	vault|common) [ -d "$l" ] || continue ;;
	import) [ -d agent/import ] || continue ;;
	*) [ -f "$l/main.c" ] || continue ;;
	esac
	if CFLAGS="-fsanitize=fuzzer-no-link" make --no-print-directory -s \
	    BUILD=$B CC="$CC_FUZZ" SAN=1 "$B/lib$l.a" >"$B/lib$l.log" 2>&1; then
		libs="$libs $B/lib$l.a"
	else
		echo "fuzz: building lib$l.a failed (see $B/lib$l.log)" >&2
	fi
done

passed=0
failed=0
table=""
figs=""
artifacts() {   # number of inputs left in $B/artifacts for target $1
	n=0
	for f in "$B/artifacts/$1-"*; do
		[ -e "$f" ] && n=$((n + 1))
	done
	echo "$n"
}
row() {   # name execs execs/s seconds crashes
	table="$table$(printf '%-16s %12s %10s %6s %8s' "$@")
"
}
for src in "$@"; do
	name=$(basename "$src" .c)
	bin="$B/$name"
	echo "== $name (${FUZZ_SECONDS}s)"
	# shellcheck disable=SC2086
	if ! "$CC_FUZZ" -g -O1 -fno-omit-frame-pointer \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -std=c11 -D_GNU_SOURCE -I. -I"$PG_INC" -o "$bin" "$src" \
	    -Wl,--start-group $libs -Wl,--end-group \
	    -lmicrohttpd -lgnutls -lcurl -larchive -lhttp_parser -ljansson -lpq \
	    -lssl -lcrypto -lsodium -lm -pthread $IMPORT_LIBS; then
		echo "!! $name: build failed"
		row "$name" - - - build
		failed=$((failed + 1))
		continue
	fi
	if [ -n "${FUZZ_BUILD_ONLY:-}" ]; then
		passed=$((passed + 1))
		continue
	fi
	corpus="$B/corpus/$name"
	mkdir -p "$corpus"
	if [ -d "tests/fuzz/corpus/$name" ]; then
		cp -n "tests/fuzz/corpus/$name"/* "$corpus"/ 2>/dev/null || true
	fi
	dict=""
	[ -f "tests/fuzz/$name.dict" ] && dict="-dict=tests/fuzz/$name.dict"
	before=$(artifacts "$name")
	t0=$(date +%s)
	# shellcheck disable=SC2086
	"$bin" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$B/artifacts/$name-" $dict \
	    "$corpus" >"$B/$name.log" 2>&1
	rc=$?
	secs=$(($(date +%s) - t0))
	[ "$secs" -gt 0 ] || secs=1
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$B/$name.log" | tail -1)
	crashes=$(($(artifacts "$name") - before))
	if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
		crashes=1       # died without leaving an input (e.g. out of memory)
	fi
	if [ -n "$execs" ]; then
		row "$name" "$execs" "$((execs / secs))" "$secs" "$crashes"
		figs="$figs$name $execs $((execs / secs)) $crashes
"
	else
		row "$name" - - "$secs" "$crashes"
		figs="$figs$name - - $crashes
"
	fi
	if [ "$rc" -eq 0 ]; then
		echo "   ${execs:-?} executions in ${secs}s"
		passed=$((passed + 1))
	else
		tail -40 "$B/$name.log"
		echo "!! $name FAILED (log $B/$name.log, input in $B/artifacts/)"
		failed=$((failed + 1))
	fi
done
echo
printf '%-16s %12s %10s %6s %8s\n' target executions "exec/s" "s" crashes
printf '%s' "$table"
# shellcheck disable=SC2086
printf '%s' "$figs" | while read -r n e r c; do
	fig "$n" "executions (${FUZZ_SECONDS} s)" "$e"
	fig "$n" "executions/s" "$r"
	fig "$n" "crashes" "$c"
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
