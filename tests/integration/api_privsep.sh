#!/bin/sh
# tests/integration/api_privsep.sh — coffer-api's two processes (issue
# 14.1): the front (the pid we start) and its child the keeper, which
# holds every key (api/keeper.h, README "Privilege separation").
#
#   - the keeper is the front's child, logged as privsep=on keeper_pid=N,
#     and runs as the same account;
#   - the front has no key file open and the keeper does not listen;
#   - a matter is created (its scope tokenised by the keeper) and its
#     audit event carries a valid signature of the API node (signed by the
#     keeper): `cofferctl verify` passes;
#   - kill -9 of the keeper: the front logs why and exits with 1 at once,
#     nothing answers on its port;
#   - a scope value the keeper refuses reaches the client as the same 400
#     as before the split, naming its place, never the value;
#   - kill -9 of the front: the keeper exits with it (PDEATHSIG);
#   - SIGTERM to the front: both exit, the front with 0.
#   - the front's sandbox (issue 14): its ready line names it
#     (sandbox=seccomp+landlock, or seccomp on a kernel without Landlock),
#     /proc shows its seccomp filter (Seccomp: 2) and none on the keeper;
#     tests/tools/sandboxprobe, which calls the front's own sandbox
#     function with this configuration, cannot open a blind-index key, the
#     node signing key or a matter's blinding seed (EACCES) but can open
#     the people CA and productions_dir, and dies by SIGSYS on execve.
set -u
ROOT=$(pwd)
. "$ROOT/tests/lib/gateway-fixture.sh"
. "$ROOT/tests/lib/api-fixture.sh"
GWF_NO_TRAP=1
CK_NAME=api_privsep
. "$ROOT/tests/lib/check.sh"
logs_tail() {
	[ -n "${APF_LOG:-}" ] && [ -f "$APF_LOG" ] && tail -15 "$APF_LOG" | sed 's/^/  api: /'
}
CK_DIE_HOOK=logs_tail
cleanup() {
	apf_cleanup
	gwf_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

gwf_init || die "gateway fixture"
D=$GWF_DIR
gwf_simple ps phone-1 ps-node || die "gateway start"
apf_user ps lee legal || die "people"
apf_keygen ps lee || die "production key"
apf_config && apf_start || die "coffer-api start"

keeper_of() {   # the keeper pid the front logged last
	sed -n 's/.* info: privsep=on keeper_pid=\([0-9]*\).*/\1/p' "$APF_LOG" | tail -1
}
# died PID SECONDS: 0 once PID is gone (or a zombie)
died() {
	d_i=0
	while [ $d_i -lt $(($2 * 10)) ]; do
		st=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
		[ -z "$st" ] || [ "$st" = Z ] && return 0
		sleep 0.1
		d_i=$((d_i + 1))
	done
	return 1
}

K=$(keeper_of)
check "the keeper ($K) is the front's ($APF_PID) child" \
    test -n "$K" -a "$(awk '/^PPid:/ { print $2 }' "/proc/${K:-0}/status" 2>/dev/null)" = "$APF_PID"
check "the keeper runs as the front's account ($(awk '/^Uid:/ { print $2 }' "/proc/$K/status"))" \
    test "$(awk '/^Uid:/ { print $2 }' "/proc/$K/status")" = "$(awk '/^Uid:/ { print $2 }' "/proc/$APF_PID/status")"
# no open file of the front's is a key or a seed
kf=$(find "/proc/$APF_PID/fd" -lname '*.bik' -o -lname '*.seed' -o -lname '*node.key' 2>/dev/null | wc -l)
check "the front has no key, seed or signing-key file open ($kf)" test "$kf" = 0
lk=$(ss -ltnp 2>/dev/null | grep -c "pid=$K,")
check "the keeper listens on no port ($lk)" test "$lk" = 0

# a matter: scope tokens and the audit signature come from the keeper
cat >"$D/matter.json" <<'EOF'
{"title": "privsep", "legal_basis": "test",
 "scope": {"participants": ["+15551230001"], "conversations": ["conv-1"],
           "from": "2020-01-01T00:00:00Z", "to": "2030-01-01T00:00:00Z"}}
EOF
apf_call lee POST /v1/matters "$D/matter.json"
check "a matter with a tokenised scope is created ($APF_CODE $(cat "$APF_OUT"))" test "$APF_CODE" = 201
M=$(apf_get matter_id)
apf_call lee GET "/v1/matters"
check "the matter list answers ($APF_CODE)" test "$APF_CODE" = 200

# -- the front's sandbox: what code running in it can still open ----------------
MODE=$(sed -n 's/.* info: ready: .* sandbox=\([a-z+]*\) .*/\1/p' "$APF_LOG" | tail -1)
ABI=$(sed -n 's/.* info: ready: .* landlock_abi=\([0-9]*\).*/\1/p' "$APF_LOG" | tail -1)
# a sanitizer build skips the seccomp filter and says so (common/sandbox.h)
SAN=$(grep -c 'seccomp filter skipped in a sanitizer build' "$APF_LOG")
if [ "$SAN" = 0 ]; then
	check "the front's ready line names its sandbox (sandbox=$MODE landlock_abi=$ABI)" \
	    test "$MODE" = seccomp+landlock -o "$MODE" = seccomp
	check "the front runs under its seccomp filter ($(grep -E '^(Seccomp|Seccomp_filters|NoNewPrivs):' "/proc/$APF_PID/status" | tr -s '\t\n' '  '))" \
	    test "$(awk '/^Seccomp:/ { print $2 }' "/proc/$APF_PID/status"):$(awk '/^NoNewPrivs:/ { print $2 }' "/proc/$APF_PID/status")" = "2:1"
else
	skip "the front's seccomp filter: skipped in a sanitizer build (sandbox=$MODE)"
fi
check "the keeper has none (it reads keys, connects, builds)" \
    test "$(awk '/^Seccomp:/ { print $2 }' "/proc/$K/status")" = 0
BIK=$(find "$GWF_KEYS" -name "*.bik" | head -1)
SEED="$APF_DIR/blind/$M.seed"
check "the new matter's blinding seed is in blind_dir" test -s "$SEED"
check "and nothing hidden is left in productions_dir" \
    test -z "$(find "$APF_DIR/productions" -name '.*' 2>/dev/null)"
"$GWF_BUILD/tests/tools/sandboxprobe" api "$APF_CONF" "$BIK" "$APF_DIR/node.key" \
    "$SEED" "$COFFER_PKI/people/ca.pem" "$APF_DIR/productions" >"$D/probe.out" 2>&1
probe() { grep -F "open $1:" "$D/probe.out" | sed 's/.*: //'; }
# the kernel's Landlock ABI, asked directly (not the daemon's word for it)
KABI=$(python3 -c 'import ctypes; print(max(0, ctypes.CDLL(None).syscall(444, None, 0, 1)))' 2>/dev/null)
if [ "${KABI:-0}" -gt 0 ]; then
	check_eq "the front uses the kernel's Landlock ABI" "$KABI" "$ABI"
	check_eq "sandboxed front: a tenant's blind-index key" EACCES "$(probe "$BIK")"
	check_eq "sandboxed front: the node signing key" EACCES "$(probe "$APF_DIR/node.key")"
	check_eq "sandboxed front: the matter's blinding seed" EACCES "$(probe "$SEED")"
else
	skip "no Landlock in this kernel: the front can still read key files"
fi
check_eq "sandboxed front: the people CA (SIGHUP reload)" ok "$(probe "$COFFER_PKI/people/ca.pem")"
check_eq "sandboxed front: productions_dir (downloads)" ok "$(probe "$APF_DIR/productions")"
if [ "$SAN" = 0 ]; then
	check_eq "sandboxed front: execve" "forbidden call: killed by SIGSYS" \
	    "$(grep '^forbidden call' "$D/probe.out")"
fi
"$GWF_CTL" verify >"$D/verify.out" 2>&1
rc=$?
check "cofferctl verify: the API's audit events are signed by its node ($(tail -1 "$D/verify.out"))" \
    test $rc = 0
cat >"$D/bad.json" <<'EOF'
{"title": "t", "legal_basis": "b", "scope": {"participants": ["a@b.c"],
 "conversations": ["conv-1", ""],
 "from": "2020-01-01T00:00:00Z", "to": "2030-01-01T00:00:00Z"}}
EOF
# (participants are normalised in the front first; conversation ids go to
# the keeper as sent, so its refusal is what the client reads)
apf_call lee POST /v1/matters "$D/bad.json"
check_eq "the keeper's refusal of a value reaches the client" \
    "400 conversations #2: conversation id is empty" \
    "$APF_CODE $(apf_get error.message)"

# kill -9 of the keeper: the front exits with 1 at once
kill -9 "$K"
if died "$APF_PID" 5; then
	wait "$APF_PID"
	rc=$?
	APF_PID=""
	check_eq "keeper killed: the front exits with 1" 1 "$rc"
else
	bad "keeper killed: the front is still running after 5 s"
fi
check "keeper killed: the front says why ($(grep -m1 'keeper process' "$APF_LOG"))" \
    grep -q "the keeper process (pid $K) was killed by signal 9; exiting" "$APF_LOG"

# kill -9 of the front: the keeper goes with it
apf_start || die "coffer-api restart"
K=$(keeper_of)
kill -9 "$APF_PID"
wait "$APF_PID" 2>/dev/null
APF_PID=""
if died "$K" 5; then ok "front killed: the keeper ($K) exits with it"
else bad "front killed: the keeper ($K) still runs after 5 s"; fi

# SIGTERM: an orderly stop of both
apf_start || die "coffer-api restart"
K=$(keeper_of)
kill -TERM "$APF_PID"
if died "$APF_PID" 10; then
	wait "$APF_PID"
	rc=$?
	APF_PID=""
	check_eq "SIGTERM: the front exits with 0" 0 "$rc"
else
	bad "SIGTERM: the front still runs after 10 s"
fi
if died "$K" 5; then ok "SIGTERM: the keeper ($K) exits too"
else bad "SIGTERM: the keeper ($K) still runs"; fi
check "SIGTERM: the keeper logs its orderly exit" grep -q "keeper: exit" "$APF_LOG"
finish
