# tests/lib/check.sh — the pass/fail bookkeeping every shell test shares.
# POSIX sh, safe under set -u; source it.
#
#   ok MSG            count a pass, print "ok   - MSG"
#   bad MSG           count a failure, print "FAIL - MSG"
#   check NAME CMD... run CMD: ok NAME if it succeeds, bad NAME otherwise
#   check_eq NAME EXPECTED ACTUAL
#                     ok "NAME (ACTUAL)" if ACTUAL is EXPECTED, otherwise
#                     bad "NAME: expected EXPECTED, got ACTUAL"
#   check_fails NAME RC TEXT CMD...
#                     run CMD (stdout and stderr in $T/out and $T/err, $T
#                     being the test's scratch directory): ok NAME when it
#                     exits RC and its stderr contains TEXT
#   skip MSG          print "SKIP - MSG" (counted neither way)
#   finish            print "CK_NAME: N passed, M failed" and exit, non-zero
#                     on any failure
#   die MSG           bad MSG, then finish
#
# Counters: $pass, $fail.  Settings (before or after sourcing):
#   CK_NAME           the test's name in the summary line; default: the
#                     script's file name without .sh; set but empty: the
#                     line is just "N passed, M failed"
#   CK_FINISH_HOOK    a command finish runs before the summary line (logs,
#                     tables)
#   CK_DIE_HOOK       a command die runs after its FAIL line (log tails)
#   CK_OK, CK_BAD     the line prefixes, "ok   -" and "FAIL -" by default

: "${CK_NAME=$(basename "$0" .sh)}"
: "${CK_OK:=ok   -}"
: "${CK_BAD:=FAIL -}"
pass=0
fail=0

ok()  { pass=$((pass + 1)); echo "$CK_OK $*"; }
bad() { fail=$((fail + 1)); echo "$CK_BAD $*"; }
skip() { echo "SKIP - $*"; }
check() {
	ck_n=$1
	shift
	if "$@"; then ok "$ck_n"; else bad "$ck_n"; fi
}
check_fails() {
	ck_n=$1 ck_rc=$2 ck_want=$3
	shift 3
	"$@" >"$T/out" 2>"$T/err"
	ck_got=$?
	if [ "$ck_got" -ne "$ck_rc" ]; then
		bad "$ck_n: exit $ck_got, expected $ck_rc"; sed 's/^/     /' "$T/err"
	elif grep -qF -- "$ck_want" "$T/err"; then
		ok "$ck_n"
	else
		bad "$ck_n: stderr lacks '$ck_want':"; sed 's/^/     /' "$T/err"
	fi
}
check_eq() {
	if [ "$2" = "$3" ]; then ok "$1 ($3)"; else bad "$1: expected $2, got $3"; fi
}
finish() {
	[ -z "${CK_FINISH_HOOK:-}" ] || $CK_FINISH_HOOK
	echo "${CK_NAME:+$CK_NAME: }$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit $?
}
die() {
	bad "$*"
	[ -z "${CK_DIE_HOOK:-}" ] || $CK_DIE_HOOK
	finish
}
