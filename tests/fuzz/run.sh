#!/bin/sh
# tests/fuzz/run.sh — build and run libFuzzer targets for a bounded time.
#
#   sh tests/fuzz/run.sh [tests/fuzz/fuzz_X.c ...]     (default: all of them)
#
# Each tests/fuzz/fuzz_*.c is linked with clang -fsanitize=fuzzer,address,
# undefined against the project libraries, which are built by the Makefile
# into build-fuzz/ with the same sanitizers plus fuzzer instrumentation.
# Every target runs FUZZ_SECONDS (default 30) on its own corpus in
# build-fuzz/corpus/<name>, seeded from tests/fuzz/corpus/<name>/ and using
# tests/fuzz/<name>.dict when present.  A crash, leak or sanitizer report
# leaves its input in build-fuzz/artifacts/ and makes the run fail.
set -u
cd "$(dirname "$0")/../.."

FUZZ_SECONDS=${FUZZ_SECONDS:-30}
B=build-fuzz
CC_FUZZ=${CC_FUZZ:-clang}
PG_INC=$(pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)

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
for l in gateway api ctl vault common; do
	case $l in
	vault|common) [ -d "$l" ] || continue ;;
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
for src in "$@"; do
	name=$(basename "$src" .c)
	bin="$B/$name"
	echo "== $name (${FUZZ_SECONDS}s)"
	# shellcheck disable=SC2086
	if ! "$CC_FUZZ" -g -O1 -fno-omit-frame-pointer \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -std=c11 -D_GNU_SOURCE -I. -I"$PG_INC" -o "$bin" "$src" $libs \
	    -lmicrohttpd -lhttp_parser -ljansson -lpq -lssl -lcrypto -lsodium \
	    -lm -pthread; then
		echo "!! $name: build failed"
		failed=$((failed + 1))
		continue
	fi
	corpus="$B/corpus/$name"
	mkdir -p "$corpus"
	if [ -d "tests/fuzz/corpus/$name" ]; then
		cp -n "tests/fuzz/corpus/$name"/* "$corpus"/ 2>/dev/null || true
	fi
	dict=""
	[ -f "tests/fuzz/$name.dict" ] && dict="-dict=tests/fuzz/$name.dict"
	# shellcheck disable=SC2086
	if "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$B/artifacts/$name-" $dict \
	    "$corpus" >"$B/$name.log" 2>&1; then
		echo "   $(grep -E '^(stat::number_of_executed_units|Done)' "$B/$name.log" | tail -1)"
		passed=$((passed + 1))
	else
		tail -40 "$B/$name.log"
		echo "!! $name FAILED (log $B/$name.log, input in $B/artifacts/)"
		failed=$((failed + 1))
	fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
