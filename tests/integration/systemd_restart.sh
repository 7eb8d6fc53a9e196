#!/bin/sh
# tests/integration/systemd_restart.sh — issue 14's acceptance: "killing
# either process makes the other exit and the supervisor (systemd)
# restarts both".  A real systemd: Debian's, run as a user manager with a
# private runtime directory, supervising the two daemons under units that
# take their life-cycle lines (Type, KillMode, Restart, RestartSec,
# TimeoutStopSec, ExecReload, limits) from the shipped units in
# ops/systemd/.  The sandbox lines of those units (ProtectSystem, ...)
# need the system manager and are not part of this test.
#
# For each daemon:
#   - kill -9 of the key holder (the gateway's sealer, the API's keeper):
#     the main process says why and exits, systemd starts both again, the
#     daemon answers, and (gateway) records sent before and after are all
#     stored;
#   - kill -9 of the main process: its key holder goes with it (no orphan
#     keeps the keys), systemd starts both again;
#   - `systemctl reload`: SIGHUP, same pids;
#   - `systemctl stop`: both exit, the unit's result is "success".
#
# A user manager refuses to start unless /run/systemd/system exists (the
# mark of a machine booted with systemd).  Where it is missing (a
# container) the test makes it as root and removes it at the end.
# Runs inside tests/pg-harness.sh.
set -u
ROOT=$(pwd)
. "$ROOT/tests/lib/gateway-fixture.sh"
. "$ROOT/tests/lib/api-fixture.sh"
GWF_NO_TRAP=1
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"
CK_NAME=systemd_restart
. "$ROOT/tests/lib/check.sh"
SD=/lib/systemd/systemd
SD_PID=""
MADE=""
logs_tail() {
	[ -n "${GWF_LOG:-}" ] && [ -f "$GWF_LOG" ] && tail -12 "$GWF_LOG" | sed 's/^/  gw: /'
	[ -n "${APF_LOG:-}" ] && [ -f "$APF_LOG" ] && tail -12 "$APF_LOG" | sed 's/^/  api: /'
	[ -n "${GWF_DIR:-}" ] && [ -f "$GWF_DIR/systemd.log" ] &&
	    tail -12 "$GWF_DIR/systemd.log" | sed 's/^/  systemd: /'
}
CK_DIE_HOOK=logs_tail
sc() { XDG_RUNTIME_DIR="$GWF_DIR/xdg" systemctl --user "$@"; }
prop() { sc show -p "$2" --value "$1"; }
cleanup() {
	if [ -n "$SD_PID" ]; then
		sc stop coffer-gateway.service coffer-api.service >/dev/null 2>&1
		kill -TERM "$SD_PID" 2>/dev/null
		i=0
		while kill -0 "$SD_PID" 2>/dev/null && [ "$i" -lt 100 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -9 "$SD_PID" 2>/dev/null
		wait "$SD_PID" 2>/dev/null
	fi
	for m in $MADE; do rmdir "$m" 2>/dev/null; done
	apf_cleanup
	gwf_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ -x "$SD" ] || die "$SD missing (ops/deps.sh installs the systemd package)"
command -v systemctl >/dev/null 2>&1 || die "systemctl missing"
if [ ! -d /run/systemd/system ]; then
	[ "$(id -u)" -eq 0 ] ||
	    die "/run/systemd/system is missing and only root may make it (run as root, or on a machine booted with systemd)"
	[ -d /run/systemd ] || MADE="/run/systemd"
	mkdir -p /run/systemd/system || die "mkdir /run/systemd/system"
	MADE="/run/systemd/system $MADE"
fi

gwf_init || die "gateway fixture"
D=$GWF_DIR
mkdir -p "$D/xdg/systemd/user" && chmod 0700 "$D/xdg" || die "runtime directory"

# unit SHIPPED EXECSTART LOG: a unit with the shipped unit's life-cycle lines
unit() {
	echo "[Unit]"
	echo "Description=test copy of ops/systemd/$1"
	echo "[Service]"
	grep -E '^(Type|KillMode|TimeoutStopSec|Restart|RestartSec|ExecReload|LimitCORE|LimitMEMLOCK|LimitNOFILE|UMask)=' \
	    "$ROOT/ops/systemd/$1"
	echo "ExecStart=$2"
	echo "StandardOutput=append:$3"
	echo "StandardError=append:$3"
}
for u in coffer-gateway.service coffer-api.service; do
	check_eq "$u (shipped): restarted on failure, SIGTERM to the main process only" \
	    "Restart=on-failure KillMode=mixed" \
	    "$(grep -E '^(Restart|KillMode)=' "$ROOT/ops/systemd/$u" | sort -r | tr '\n' ' ' | sed 's/ $//')"
done

# -- the two daemons' set-up, then the manager -------------------------------------
gwf_server_cert && gwf_tenant sd && gwf_device sd phone-1 && gwf_node sd-node &&
    gwf_config || die "gateway set-up"
apf_user sd lee legal && apf_keygen sd lee && apf_config || die "API set-up"
unit coffer-gateway.service "$GWF_GW --config $GWF_CONF" "$GWF_LOG" \
    >"$D/xdg/systemd/user/coffer-gateway.service" &&
    unit coffer-api.service "$APF_API --config $APF_CONF" "$APF_LOG" \
    >"$D/xdg/systemd/user/coffer-api.service" || die "units"

XDG_RUNTIME_DIR="$D/xdg" "$SD" --user --log-target=console --log-level=notice \
    >"$D/systemd.log" 2>&1 &
SD_PID=$!
i=0
until sc is-system-running >/dev/null 2>&1 || [ "$(sc is-system-running 2>/dev/null)" = degraded ]; do
	kill -0 "$SD_PID" 2>/dev/null || die "the systemd user manager exited ($(tail -3 "$D/systemd.log"))"
	[ $i -lt 150 ] || die "the systemd user manager is not running after 15 s"
	sleep 0.1
	i=$((i + 1))
done
ok "a systemd user manager runs ($(systemctl --version | head -1))"

# helpers ----------------------------------------------------------------------------
gw_up() {   # 0 once the gateway answers /healthz (15 s)
	i=0
	while [ $i -lt 150 ]; do
		[ "$(gwf_curl phone-1 -o /dev/null -w '%{http_code}' "$(gwf_url healthz)" 2>/dev/null)" = 200 ] &&
		    return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
api_up() {  # 0 once the API answers /v1/whoami (15 s)
	i=0
	while [ $i -lt 150 ]; do
		apf_call lee GET /v1/whoami
		[ "$APF_CODE" = 200 ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
# restarted UNIT N OLDPID: 0 once UNIT was restarted N times and runs
# under a main pid other than OLDPID (15 s)
restarted() {
	i=0
	while [ $i -lt 150 ]; do
		if [ "$(prop "$1" NRestarts)" = "$2" ] && [ "$(prop "$1" ActiveState)" = active ]; then
			p=$(prop "$1" MainPID)
			[ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != "$3" ] && return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
# gone PID SECONDS: 0 once PID is gone (or a zombie)
gone() {
	i=0
	while [ $i -lt $(($2 * 10)) ]; do
		st=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
		[ -z "$st" ] || [ "$st" = Z ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
kill9() {   # kill -9 PID, never 0 or 1 (a unit not running reports 0)
	[ -n "$1" ] && [ "$1" -gt 1 ] 2>/dev/null || die "no process to kill ($1)"
	kill -9 "$1"
}
ppid() { awk '/^PPid:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
last_of() { sed -n "s/.*$1=\\([0-9]*\\).*/\\1/p" "$2" | tail -1; }
SENT=0
send() {   # send TAG N: N records, all stored
	python3 - "$1" "$2" >"$D/in.ndjson" <<'PY'
import json, sys, time
tag, n = sys.argv[1], int(sys.argv[2])
for k in range(n):
    print(json.dumps({"id": "%s-%d" % (tag, k), "channel": "signal",
        "conversation": "conv-%s" % tag, "direction": "out",
        "sender": "+15550170001", "recipients": ["+15550170002"],
        "sent_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60)),
        "body": "%s %d" % (tag, k)}))
PY
	rm -f "$D/in.out"
	code=$(gwf_curl phone-1 -o "$D/in.out" -w '%{http_code}' \
	    -H 'Content-Type: application/x-ndjson' --data-binary "@$D/in.ndjson" \
	    "$(gwf_url v1/records)" 2>/dev/null) || code=000
	n=$(grep -c '"stored"' "$D/in.out" 2>/dev/null) || n=0
	SENT=$((SENT + n))
	check_eq "$1: $2 records acknowledged as stored" "200 $2" "$code $n"
}

# -- the gateway ----------------------------------------------------------------------
sc start coffer-gateway.service || die "systemctl start coffer-gateway"
gw_up || die "the gateway does not answer under systemd"
M=$(prop coffer-gateway.service MainPID)
S=$(last_of sealer_pid "$GWF_LOG")
check "gateway: the sealer ($S) is the main process's ($M) child" test -n "$S" -a "$(ppid "${S:-0}")" = "$M"
send before 20

kill9 "$S"
check "sealer killed: the network process ($M) exits" gone "$M" 10
check "sealer killed: the network process says why" \
    grep -q "the sealer process (pid $S) was killed by signal 9; exiting" "$GWF_LOG"
restarted coffer-gateway.service 1 "$M" && gw_up
check "sealer killed: systemd starts the gateway again (NRestarts $(prop coffer-gateway.service NRestarts), main pid $(prop coffer-gateway.service MainPID))" test $? = 0
M=$(prop coffer-gateway.service MainPID)
S=$(last_of sealer_pid "$GWF_LOG")
check "sealer killed: a new sealer ($S) under the new network process ($M)" \
    test -n "$S" -a "$(ppid "${S:-0}")" = "$M"
send after-sealer 20

kill9 "$M"
check "network process killed: its sealer ($S) exits with it" gone "$S" 10
restarted coffer-gateway.service 2 "$M" && gw_up
check "network process killed: systemd starts the gateway again (NRestarts $(prop coffer-gateway.service NRestarts))" test $? = 0
M=$(prop coffer-gateway.service MainPID)
S=$(last_of sealer_pid "$GWF_LOG")
send after-network 20

before=$(grep -c ' reload' "$GWF_LOG")
sc reload coffer-gateway.service
i=0
while [ "$(grep -c ' reload' "$GWF_LOG")" -le "$before" ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
check "systemctl reload: the gateway reloads, same pids ($M, $S)" \
    test "$(grep -c ' reload' "$GWF_LOG")" -gt "$before" -a \
    "$(prop coffer-gateway.service MainPID)" = "$M" -a "$(ppid "$S")" = "$M"

sc stop coffer-gateway.service
check_eq "systemctl stop: the unit is inactive, result success" "inactive success" \
    "$(prop coffer-gateway.service ActiveState) $(prop coffer-gateway.service Result)"
gone "$M" 1 && gone "$S" 1
check "systemctl stop: both processes ended" test $? = 0
check "systemctl stop: the sealer stopped in order" grep -q "sealer: exit" "$GWF_LOG"
check_eq "no acknowledged record lost: every one of the $SENT is in the archive" "$SENT" \
    "$($PSQL -c "SELECT count(*) FROM coffer.records")"

# -- the API ----------------------------------------------------------------------------
sc start coffer-api.service || die "systemctl start coffer-api"
api_up || die "the API does not answer under systemd"
M=$(prop coffer-api.service MainPID)
K=$(last_of keeper_pid "$APF_LOG")
check "API: the keeper ($K) is the front's ($M) child" test -n "$K" -a "$(ppid "${K:-0}")" = "$M"

kill9 "$K"
check "keeper killed: the front ($M) exits" gone "$M" 10
check "keeper killed: the front says why" \
    grep -q "the keeper process (pid $K) was killed by signal 9; exiting" "$APF_LOG"
restarted coffer-api.service 1 "$M" && api_up
check "keeper killed: systemd starts the API again (NRestarts $(prop coffer-api.service NRestarts))" test $? = 0
M=$(prop coffer-api.service MainPID)
K=$(last_of keeper_pid "$APF_LOG")
check "keeper killed: a new keeper ($K) under the new front ($M)" \
    test -n "$K" -a "$(ppid "${K:-0}")" = "$M"

kill9 "$M"
check "front killed: its keeper ($K) exits with it" gone "$K" 10
restarted coffer-api.service 2 "$M" && api_up
check "front killed: systemd starts the API again (NRestarts $(prop coffer-api.service NRestarts))" test $? = 0
M=$(prop coffer-api.service MainPID)
K=$(last_of keeper_pid "$APF_LOG")

sc stop coffer-api.service
check_eq "systemctl stop: the API unit is inactive, result success" "inactive success" \
    "$(prop coffer-api.service ActiveState) $(prop coffer-api.service Result)"
gone "$M" 1 && gone "$K" 1
check "systemctl stop: front and keeper ended" test $? = 0
check "systemctl stop: the keeper stopped in order" grep -q "keeper: exit" "$APF_LOG"
finish
