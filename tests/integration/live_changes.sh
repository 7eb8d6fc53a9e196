#!/bin/sh
# tests/integration/live_changes.sh — tenants, devices and users take
# effect at once (issue 15.5a; README "Changes take effect at once").
# Both daemons run; nothing is restarted or sent SIGHUP:
#
#   (a) a tenant made after the API started (`tenant init --group`: its
#       NAME.bik and NAME.pin group-readable, 0640) serves matters within
#       2 s; without --group the install commands are printed;
#   (b) a device issued is accepted at its first attempt 1.5 s later (the
#       old code refused it until a refusal had triggered a refresh);
#   (c) a device revoked while it holds a keep-alive connection: that
#       connection is closed within 2 s, new connections are refused (the
#       old code kept it open until SIGHUP or the idle timeout);
#   (d) a tenant whose key file is missing or unreadable: 503
#       tenant_key_unavailable with the operator's action and no path;
#       installed, it works without a restart; a person revoked is
#       refused at the next request;
#   (e) the sealer's LISTEN connection killed (pg_terminate_backend): it
#       logs the loss once, reconnects, and changes apply again at once.
#
# Device attempts go through tests/integration/gateway_client.py (records
# stored with receipts) and curl; the keep-alive holder is the small
# client written below.
set -u
ROOT=$(pwd)
. "$ROOT/tests/lib/gateway-fixture.sh"
. "$ROOT/tests/lib/api-fixture.sh"
GWF_NO_TRAP=1
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"
q() { $PSQL -c "$1"; }
. "$ROOT/tests/lib/check.sh"
logs_tail() {
	[ -n "${GWF_LOG:-}" ] && [ -f "$GWF_LOG" ] && tail -15 "$GWF_LOG" | sed 's/^/  gw: /'
	[ -n "${APF_LOG:-}" ] && [ -f "$APF_LOG" ] && tail -15 "$APF_LOG" | sed 's/^/  api: /'
}
CK_DIE_HOOK=logs_tail
cleanup() {
	[ -n "${HOLD_PID:-}" ] && kill "$HOLD_PID" 2>/dev/null
	apf_cleanup
	gwf_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

gwf_init || die "gateway fixture"
D=$GWF_DIR
# the periodic refresh far away: only the notifications can explain what
# happens within seconds
gwf_simple lc phone-1 lc-node "device_refresh_s = 3600" \
    "idle_timeout_s = 120" || die "gateway start"
apf_user lc lee legal || die "people"
apf_keygen lc lee || die "production key"
apf_config && apf_start || die "coffer-api start"
if [ "$(id -u)" -eq 0 ]; then GROUP=$(id -gn nobody); else GROUP=$(id -gn); fi

now_ms() { date +%s%3N; }
lacks() { ! grep -q "$1" "$2"; }        # lacks PATTERN FILE
# records N FILE: N valid records
records() {
	python3 - "$1" "$2" <<'PY'
import json, sys
with open(sys.argv[2], "w") as f:
    for i in range(int(sys.argv[1])):
        f.write(json.dumps({"id": "lc-%d" % i, "channel": "sms",
            "conversation": "conv-1", "direction": "out",
            "sender": "+15550000001", "recipients": ["+15550000002"],
            "sent_at": "2025-01-01T00:00:00Z",
            "body": "live change %d" % i}) + "\n")
PY
}
records 3 "$D/recs.ndjson"
# send DEVICE: one request of 3 records, no retry beyond 1 s: 0 when stored
send() {
	python3 "$ROOT/tests/integration/gateway_client.py" --port "$GWF_PORT" \
	    --ca "$GWF_SRV_CA" --cert "$GWF_CERTS/$1.crt" --key "$GWF_CERTS/$1.key" \
	    --records "$D/recs.ndjson" --per 3 --deadline 1 \
	    >"$D/send.out" 2>&1
}
# first_try DEVICE: the HTTP status of one GET /healthz (000: refused)
first_try() {
	gwf_curl "$1" -o /dev/null -w '%{http_code}' "$(gwf_url healthz)" 2>/dev/null
}
cat >"$D/matter.json" <<'JSON'
{"title": "live", "legal_basis": "test",
 "scope": {"participants": ["+15551230001"], "conversations": ["conv-1"],
           "from": "2020-01-01T00:00:00Z", "to": "2030-01-01T00:00:00Z"}}
JSON

# -- (a) a tenant made after the API started ----------------------------------
mkdir -p "$D/beta" && chmod 0700 "$D/beta"
printf 'beta custodian one, not a secret\n' >"$D/beta/p1"
printf 'beta custodian two, not a secret\n' >"$D/beta/p2"
"$GWF_CTL" tenant init --name beta --custodians 2 --threshold 2 \
    --out "$D/beta" --passphrase-file "$D/beta/p1" \
    --passphrase-file "$D/beta/p2" --group "$GROUP" \
    >"$D/beta/init.out" 2>"$D/beta/init.err" || {
	cat "$D/beta/init.err"; die "tenant init --group"; }
check_eq "--group: beta.bik is group $GROUP, mode 0640" "$GROUP 640" \
    "$(stat -c '%G %a' "$D/beta/beta.bik")"
check_eq "--group: beta.pin is group $GROUP, mode 0640" "$GROUP 640" \
    "$(stat -c '%G %a' "$D/beta/beta.pin")"
check_eq "--group: the shares stay 0600" "600 600" \
    "$(stat -c '%a' "$D/beta/beta-custodian-1.share" "$D/beta/beta-custodian-2.share" | tr '\n' ' ' | sed 's/ $//')"
check "--group: the output says group and mode" grep -qF \
    "beta.bik and beta.pin: group $GROUP, mode 0640" "$D/beta/init.err"
mv "$D/beta/beta.bik" "$D/beta/beta.pin" "$GWF_KEYS/" || die "install beta"
apf_user beta bea legal || die "beta person"
apf_keygen beta bea || die "beta production key"
t0=$(now_ms)
code=""
while [ $(($(now_ms) - t0)) -lt 2000 ]; do
	apf_call bea POST /v1/matters "$D/matter.json"
	code=$APF_CODE
	[ "$code" = 201 ] && break
	sleep 0.1
done
check_eq "(a) a tenant made after the API started creates a matter within 2 s ($(($(now_ms) - t0)) ms)" 201 "$code"

# tenant init without --group: 0600 and the install commands
"$GWF_CTL" tenant init --name gamma --custodians 2 --threshold 2 \
    --out "$D/beta" --passphrase-file "$D/beta/p1" \
    --passphrase-file "$D/beta/p2" >"$D/gamma.out" 2>"$D/gamma.err" ||
    { cat "$D/gamma.err"; die "tenant init gamma"; }
check_eq "without --group: gamma.bik is 0600" 600 "$(stat -c '%a' "$D/beta/gamma.bik")"
check "without --group: the gateway's install command is printed" grep -qxF \
    "  install -o root -g coffer-gateway -m 0640 $D/beta/gamma.bik $D/beta/gamma.pin /etc/coffer/gateway/keys/" "$D/gamma.err"
check "without --group: the API's install command is printed" grep -qxF \
    "  install -o root -g coffer-api -m 0640 $D/beta/gamma.bik $D/beta/gamma.pin /etc/coffer/api/keys/" "$D/gamma.err"
"$GWF_CTL" tenant init --name delta --custodians 2 --threshold 2 \
    --out "$D/beta" --group no-such-group-lc >"$D/delta.out" 2>"$D/delta.err"
check_eq "--group of an unknown group: exit 2" 2 $?
check_eq "--group of an unknown group: the message" \
    "cofferctl: --group no-such-group-lc: no such group" "$(head -1 "$D/delta.err")"
check_eq "--group of an unknown group: no tenant stored" 0 \
    "$(q "SELECT count(*) FROM coffer.tenants WHERE name = 'delta'")"

# -- (d) gamma's key file missing, then unreadable, then installed --------------
apf_user gamma gus legal || die "gamma person"
apf_keygen gamma gus || die "gamma production key"
MSG="the tenant's key file gamma.bik is missing or unreadable in keys_dir; install it (see cofferctl tenant init output)"
apf_call gus POST /v1/matters "$D/matter.json"
check_eq "(d) missing key file: 503" 503 "$APF_CODE"
check_eq "(d) missing key file: the code" tenant_key_unavailable "$(apf_get error.code)"
check_eq "(d) missing key file: the message" "$MSG" "$(apf_get error.message)"
check "(d) the answer names no path" lacks "$GWF_KEYS" "$APF_OUT"
check "(d) the keeper's log names the path and the action" grep -qF \
    "$GWF_KEYS/gamma.bik" "$APF_LOG"
if [ "$(id -u)" -eq 0 ]; then
	# root-owned 0600: the daemons run as nobody and cannot read it
	cp "$D/beta/gamma.bik" "$GWF_KEYS/gamma.bik" && chmod 0600 "$GWF_KEYS/gamma.bik"
	apf_call gus POST /v1/matters "$D/matter.json"
	check_eq "(d) unreadable key file (0600 root): 503 with the same message" \
	    "503 $MSG" "$APF_CODE $(apf_get error.message)"
else
	skip "(d) unreadable key file: needs root (the daemon runs as nobody)"
fi
install -m 0640 -g "$GROUP" "$D/beta/gamma.bik" "$D/beta/gamma.pin" "$GWF_KEYS/" ||
    die "install gamma"
apf_call gus POST /v1/matters "$D/matter.json"
check_eq "(d) installed: the next matter is created, no restart" 201 "$APF_CODE"
# a person revoked: refused at the next request (the API reads coffer.users
# per request; the CRL is re-read on SIGHUP, not needed for this)
gwf_run "user revoke gus" "$GWF_CTL" user revoke --tenant gamma --name gus ||
    die "user revoke"
apf_call gus GET /v1/whoami
check_eq "a person revoked: the next request is refused" "403 a valid client certificate of an active user is required" \
    "$APF_CODE $(apf_get error.message)"

# -- (b) a device issued while the gateway runs ---------------------------------
gwf_device lc phone-2 || die "issue phone-2"
sleep 1.5
check_eq "(b) a device issued 1.5 s ago: its first handshake is accepted" 200 "$(first_try phone-2)"
check "(b) and its records are stored" send phone-2
check "(b) no unknown_device refusal of phone-2 logged" \
    lacks "reason=unknown_device.*device=phone-2" "$GWF_LOG"

# -- (f) a tenant made after the gateway started, and its first device ----------
# tenant init stores the tenant (NOTIFY), device issue stores the device
# (NOTIFY): the sealer loads the tenant's keys and the network process its
# new device CA, with no SIGHUP and the periodic refresh an hour away.
gwf_tenant delta || die "tenant delta"
# installed as tenant init prints it: readable by the daemons' group
chgrp "$GROUP" "$GWF_KEYS/delta.bik" "$GWF_KEYS/delta.pin" &&
    chmod 0640 "$GWF_KEYS/delta.bik" "$GWF_KEYS/delta.pin" || die "install delta's key files"
gwf_device delta phone-d || die "issue delta/phone-d"
sleep 1.5
code=$(first_try phone-d)
check_eq "(f) a tenant made after the gateway started: its first device is accepted 1.5 s later" \
    200 "$code"
[ "$code" = 200 ] || logs_tail
check "(f) and its records are stored" send phone-d
check_eq "(f) stored under tenant delta" 3 \
    "$(q "SELECT count(*) FROM coffer.records r JOIN coffer.tenants t USING (tenant_id) WHERE t.name = 'delta'")"

# -- (c) revoked while it holds a keep-alive connection -------------------------
cat >"$D/hold.py" <<'PY'
import socket, ssl, sys, time
port, ca, crt, key, ready, closed = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(crt, key)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port))),
                    server_hostname="localhost")
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
buf = b""
while b"\r\n\r\n" not in buf:
    buf += s.recv(4096)
head, _, rest = buf.partition(b"\r\n\r\n")
n = int([l.split(b":")[1] for l in head.split(b"\r\n")
         if l.lower().startswith(b"content-length:")][0])
while len(rest) < n:
    rest += s.recv(4096)
open(ready, "w").write(head.split(b"\r\n")[0].decode() + "\n")
s.settimeout(60)
try:
    while s.recv(4096):
        pass
except (ssl.SSLError, OSError):
    pass
open(closed, "w").write("%d\n" % int(time.time() * 1000))
PY
rm -f "$D/ready" "$D/closed"
python3 "$D/hold.py" "$GWF_PORT" "$GWF_SRV_CA" "$GWF_CERTS/phone-2.crt" \
    "$GWF_CERTS/phone-2.key" "$D/ready" "$D/closed" &
HOLD_PID=$!
i=0
while [ ! -s "$D/ready" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check_eq "(c) phone-2 holds a keep-alive connection" "HTTP/1.1 200 OK" \
    "$(cat "$D/ready" 2>/dev/null)"
gwf_run "device revoke phone-2" "$GWF_CTL" device revoke --tenant lc \
    --device phone-2 || die "revoke"
t0=$(now_ms)
i=0
while [ ! -s "$D/closed" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
if [ -s "$D/closed" ]; then
	dt=$(($(cat "$D/closed") - t0))
	check "(c) the revoked device's open connection is closed within 2 s ($dt ms)" \
	    test "$dt" -lt 2000
else
	bad "(c) the revoked device's open connection is still open 5 s later"
fi
kill "$HOLD_PID" 2>/dev/null
wait "$HOLD_PID" 2>/dev/null
HOLD_PID=""
check "(c) the closing is logged with its reason" grep -q \
    "connection closed: .* reason=unknown_device .* device=phone-2" "$GWF_LOG"
check_eq "(c) a new connection of the revoked device is refused" 000 "$(first_try phone-2)"
check "(c) phone-1 still stores" send phone-1

# -- (e) the LISTEN connection killed ------------------------------------------
k=$(q "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'coffer-gateway-changes'")
check_eq "(e) the sealer's LISTEN connection is terminated" 1 "$k"
i=0
while ! grep -q 'sealer: change notifications: listening again' "$GWF_LOG" &&
    [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
check "(e) the sealer logs that it listens again" grep -q \
    'sealer: change notifications: listening again' "$GWF_LOG"
check_eq "(e) the loss is logged once" 1 \
    "$(grep -c 'sealer: change notifications: .*retrying' "$GWF_LOG")"
gwf_device lc phone-3 || die "issue phone-3"
sleep 1.5
check_eq "(e) after the reconnect, a device issued 1.5 s ago is accepted at once" 200 "$(first_try phone-3)"
gwf_run "device revoke phone-3" "$GWF_CTL" device revoke --tenant lc \
    --device phone-3 || die "revoke phone-3"
sleep 1.5
check_eq "(e) and a revoked one is refused" 000 "$(first_try phone-3)"

finish
