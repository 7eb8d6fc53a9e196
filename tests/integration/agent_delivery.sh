#!/bin/sh
# tests/integration/agent_delivery.sh — coffer-agent end to end: a real
# gateway (tests/lib/gateway-fixture.sh), real PKI made by cofferctl, the
# harness's PostgreSQL, mutual TLS.  Runs inside tests/pg-harness.sh.
#
#   - configuration errors stop the agent with the file, line and key
#   - 2000 records spooled in 20 files while the agent is killed with
#     kill -9 ten times at random moments, the gateway restarted once and
#     PostgreSQL stopped for a while: at the end every record is stored
#     exactly once (rows of the tenant = distinct receipts = 2000), the
#     agent kept exactly one receipt per record and per capture_seq, every
#     receipt names a stored row with that leaf hash, nothing is left in
#     the spool or the outbox, cofferctl verify is clean, the capture
#     report shows the device's numbers complete (none missing, none
#     twice), and the agent's log holds no record id or body
#   - outbox full (gateway unreachable, outbox_max_records = 20): intake
#     stops with a log line and outbox_full_total, the rest stays in the
#     spool; with the gateway back everything is delivered
#   - a line that is not a record lands in SPOOL/rejected/ with its reason;
#     a line the gateway rejects lands in SPOOL/rejected/gateway.ndjson with
#     the gateway's reason; both counted
#   - capture_seq = no: records go without numbers, and are stored
#   - a receipts journal with a flipped byte mid-file: status and run
#     refuse it, naming the offset, and leave it as it was
#   - heartbeat = yes: the gateway stores them (the capture report shows
#     the device's heartbeat, high-water mark and outbox)
#
# The agents here run with heartbeat = no except in the heartbeat check.
# Prints "N passed, M failed"; exits non-zero on any failure.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"
# shellcheck disable=SC2034  # read by fault-fixture.sh
FF_NAME=agent_delivery
# shellcheck source=../lib/fault-fixture.sh
. "$HERE/../lib/fault-fixture.sh"

AGENT="$GWF_BUILD/coffer-agent"
[ -x "$AGENT" ] || { echo "agent_delivery: $AGENT not built (make)"; exit 1; }
GWF_NO_TRAP=1
gwf_init || exit 1
T="$GWF_DIR"
AG_PID=""
on_exit() {
	[ -z "$AG_PID" ] || { kill -9 "$AG_PID" 2>/dev/null; wait "$AG_PID" 2>/dev/null; }
	gwf_cleanup
}
trap on_exit EXIT

db() { $PSQL -c "$1"; }
tenant_rows() {
	db "SELECT count(*) FROM coffer.records r JOIN coffer.tenants t USING (tenant_id) WHERE t.name = '$1'"
}

gwf_server_cert || die "server certificate"
gwf_tenant agd-main && gwf_tenant agd-side || die "tenants"
gwf_device agd-main agent-a && gwf_device agd-side agent-b &&
    gwf_node agd-node || die "devices and node"
gwf_config "device_rate = 10000" "device_burst = 10000" "batch_max_ms = 5" ||
    die "gateway configuration"
gwf_start agent-a || die "gateway did not start"
ok "gateway, two tenants and their device certificates (cofferctl)"

# agent_conf NAME DEVICE URL [key = value]...: $T/NAME/{agent.conf,spool,state}
agent_conf() {
	n=$1 dev=$2 url=$3
	shift 3
	mkdir -p "$T/$n/spool" && chmod 0700 "$T/$n" || return 1
	{
		echo "gateway_url = $url"
		echo "server_ca_file = $GWF_SRV_CA"
		echo "cert_file = $GWF_CERTS/$dev.crt"
		echo "key_file = $GWF_CERTS/$dev.key"
		echo "spool_dir = $T/$n/spool"
		echo "state_dir = $T/$n/state"
		echo "capture_seq = yes"
		echo "heartbeat = no"
		echo "batch_max_records = 25"
		echo "retry_min_ms = 50"
		echo "retry_max_s = 1"
		echo "spool_poll_ms = 50"
	} >"$T/$n/agent.conf"
	for kv in "$@"; do   # replaces the line of its key, or is added
		k=${kv%% *}
		grep -v "^$k " "$T/$n/agent.conf" >"$T/$n/agent.conf.tmp"
		echo "$kv" >>"$T/$n/agent.conf.tmp"
		mv "$T/$n/agent.conf.tmp" "$T/$n/agent.conf"
	done
}
agent_start() {   # agent_start NAME: in the background, log appended
	"$AGENT" run --config "$T/$1/agent.conf" >>"$T/$1/agent.log" 2>&1 &
	AG_PID=$!
}
agent_stop() {    # agent_stop [SIGNAL]
	[ -n "$AG_PID" ] || return 0
	kill -"${1:-TERM}" "$AG_PID" 2>/dev/null
	wait "$AG_PID" 2>/dev/null
	AG_RC=$?
	AG_PID=""
}
status_field() {  # status_field NAME KEY
	"$AGENT" status --config "$T/$1/agent.conf" --json |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}
# spool_file NAME FILE FIRST COUNT: records FIRST..FIRST+COUNT-1, written
# as FILE.tmp and renamed (the spool convention)
spool_file() {
	python3 - "$T/$1/spool/$2.tmp" "$3" "$4" "$R" <<'PYEOF'
import sys
path, first, count, r = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
with open(path, "w") as f:
    for i in range(first, first + count):
        f.write('{"id":"agd-%s-%d","channel":"signal","conversation":"c-%d",'
                '"direction":"out","sender":"+1555%07d","recipients":["+15559990000"],'
                '"sent_at":"2026-11-22T10:%02d:%02dZ","body":"canary-body-%s-%d"}\n'
                % (r, i, i % 7, i, (i // 60) % 60, i % 60, r, i))
PYEOF
	mv "$T/$1/spool/$2.tmp" "$T/$1/spool/$2.ndjson"
}
wait_drained() {  # wait_drained NAME SECONDS: pending 0 and spool empty
	i=0
	while [ "$i" -lt $(($2 * 10)) ]; do
		if [ -z "$(find "$T/$1/spool" -maxdepth 1 -name '*.ndjson' | head -1)" ] &&
		    [ "$(status_field "$1" pending 2>/dev/null)" = 0 ]; then
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
R=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')

# -- configuration errors ------------------------------------------------------------
agent_conf cfg agent-a "https://127.0.0.1:$GWF_PORT"
cp "$T/cfg/agent.conf" "$T/cfg/good.conf"
echo "outbox_max_recods = 5" >>"$T/cfg/agent.conf"
check_fails "misspelt key refused with file, line and key" 1 \
    "agent.conf:13: unknown option 'outbox_max_recods'" \
    "$AGENT" check-config --config "$T/cfg/agent.conf"
sed 's/^capture_seq = .*/capture_seq = perhaps/' "$T/cfg/good.conf" >"$T/cfg/agent.conf"
check_fails "bad boolean refused" 1 "capture_seq: 'perhaps' is not a boolean" \
    "$AGENT" check-config --config "$T/cfg/agent.conf"
sed 's|^gateway_url = .*|gateway_url = http://127.0.0.1:1|' "$T/cfg/good.conf" >"$T/cfg/agent.conf"
check_fails "plain http refused" 1 "gateway_url: 'http://127.0.0.1:1' is not https://HOST:PORT" \
    "$AGENT" run --config "$T/cfg/agent.conf"
chmod 0644 "$GWF_CERTS/agent-a.key"
cp "$T/cfg/good.conf" "$T/cfg/agent.conf"
check_fails "world-readable client key refused" 1 "agent-a.key" \
    "$AGENT" run --config "$T/cfg/agent.conf"
chmod 0600 "$GWF_CERTS/agent-a.key"
check "check-config on a good file" "$AGENT" check-config --config "$T/cfg/good.conf"

# -- 2000 records through 10 kill -9, a gateway restart and a database stop ----------
agent_conf main agent-a "https://127.0.0.1:$GWF_PORT"
N=2000
FILES=20
PER=$((N / FILES))
f=0
while [ "$f" -lt 4 ]; do spool_file main "in-$f" $((f * PER)) "$PER"; f=$((f + 1)); done
agent_start main
t0=$(date +%s)
kills=0
while [ "$kills" -lt 10 ]; do
	ff_sleep_ms "$(ff_rand_ms 150 700)"
	kill -9 "$AG_PID" 2>/dev/null
	wait "$AG_PID" 2>/dev/null
	AG_PID=""
	kills=$((kills + 1))
	# two more spool files a turn, while the agent is down or up
	for _ in 1 2; do
		if [ "$f" -lt "$FILES" ]; then
			spool_file main "in-$f" $((f * PER)) "$PER"
			f=$((f + 1))
		fi
	done
	case $kills in
	3)  gwf_stop || bad "gateway stop"
	    agent_start main
	    sleep 0.5
	    gwf_start agent-a || die "gateway restart" ;;
	6)  "$COFFER_PG_CTL" stop -m fast -w -s >/dev/null 2>&1 || bad "pg_ctl stop"
	    agent_start main
	    sleep 1.5
	    "$COFFER_PG_CTL" start -w -t 60 -s >/dev/null 2>&1 || die "pg_ctl start" ;;
	*)  agent_start main ;;
	esac
done
while [ "$f" -lt "$FILES" ]; do spool_file main "in-$f" $((f * PER)) "$PER"; f=$((f + 1)); done
wait_drained main 90 || { bad "agent did not drain spool and outbox within 90 s (pending $(status_field main pending))"; tail -20 "$T/main/agent.log"; }
ok "$kills kill -9 of the agent, one gateway restart, one database stop ($(($(date +%s) - t0)) s)"
agent_stop TERM
check_eq "agent stops on SIGTERM with exit 0" 0 "$AG_RC"
grep -q "outbox full" "$T/main/agent.log" && bad "main run: outbox full (not expected)"
check "the outages were seen and retried (retries_total $(status_field main retries_total); $(grep -c 'retrying' "$T/main/agent.log") failed requests logged)" \
    test "$(status_field main retries_total)" -ge 1

rows=$(tenant_rows agd-main)
check_eq "rows stored for the tenant" "$N" "$rows"
check "the outbox was compacted under the kills ($(grep -c 'outbox compacted' "$T/main/agent.log") times)" \
    grep -q 'outbox compacted' "$T/main/agent.log"
"$AGENT" receipts --config "$T/main/agent.conf" >"$T/main/receipts.ndjson" ||
    bad "coffer-agent receipts"
python3 - "$T/main/receipts.ndjson" "$N" "$R" >"$T/main/rc.txt" 2>"$T/main/rc.err" <<'PYEOF'
import json, sys
path, n, r = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rs = [json.loads(l) for l in open(path)]
ids = [x["id"] for x in rs]
seqs = [x["capture_seq"] for x in rs]
want = {"agd-%s-%d" % (r, i) for i in range(n)}
assert len(rs) == n, "receipts %d" % len(rs)
assert set(ids) == want, "ids differ from the input"
assert len(set(seqs)) == n, "a capture_seq has two receipts"
assert len({x["receipt"] for x in rs}) == n, "two records share a receipt"
assert all(x["status"] in ("stored", "duplicate") for x in rs)
for x in rs:
    print(x["capture_seq"], x["status"], x["receipt"])
sys.stderr.write("stored=%d duplicate=%d capture_seq_max=%d\n" % (
    sum(x["status"] == "stored" for x in rs),
    sum(x["status"] == "duplicate" for x in rs), max(seqs)))
PYEOF
prc=$?
check "receipts kept: $N, one per input id and per capture_seq, distinct ($(tail -1 "$T/main/rc.err"))" test "$prc" = 0
[ "$prc" = 0 ] || sed 's/^/     /' "$T/main/rc.err"
check_eq "status: delivered" "$N" "$(status_field main delivered)"
check_eq "status: pending" 0 "$(status_field main pending)"
check_eq "status: rejected" 0 "$(status_field main rejected)"
check "status: capture_seq high-water >= $N ($(status_field main capture_seq_high))" \
    test "$(status_field main capture_seq_high)" -ge "$N"
missing=$(ff_missing_receipts "$T/main/rc.txt")
check_eq "receipts naming no stored row (stream, seq, leaf hash)" 0 "$missing"
twice=$(db "SELECT count(*) - count(DISTINCT dedup_token) FROM coffer.records r JOIN coffer.tenants t USING (tenant_id) WHERE t.name = 'agd-main'")
check_eq "records stored twice (same dedup token)" 0 "$twice"
check "spool empty, nothing rejected" sh -c "[ -z \"\$(ls -A '$T/main/spool')\" ]"
"$GWF_CTL" verify --tenant agd-main --witness "$T/witness.jsonl" >"$T/verify.out" 2>&1
vrc=$?
check "cofferctl verify --tenant agd-main: clean (exit $vrc)" test "$vrc" = 0
"$GWF_CTL" capture report --tenant agd-main --json >"$T/capture.json" 2>&1 ||
    bad "capture report: $(cat "$T/capture.json")"
check_eq "capture report: agent-a's numbers 1..$N all stored once" "0 0 $N $N" \
    "$(python3 -c 'import json,sys
d = [x for x in json.load(open(sys.argv[1]))["devices"] if x["device"] == "agent-a"][0]
print(d["missing"], d["duplicates"], d["received"], d["last_seq"])' "$T/capture.json")"
[ "$vrc" = 0 ] || tail -20 "$T/verify.out" | sed 's/^/     /'
leak=""
for s in "agd-$R-1" "canary-body-$R" "+1555"; do
	grep -qF -- "$s" "$T/main/agent.log" && leak="$leak $s"
done
check "agent log holds no record id, body or participant${leak:+:$leak}" test -z "$leak"

# -- outbox full, rejections ---------------------------------------------------------
# the gateway unreachable (a closed port): the outbox fills to 20 and stops
CLOSED=$(gwf_free_port)
agent_conf side agent-b "https://127.0.0.1:$CLOSED" "outbox_max_records = 20" \
    "batch_max_records = 10"
spool_file side a-good 100000 30
{
	echo 'this is not JSON'
	echo '{"no_id":true}'
	printf '{"id":"agd-%s-bad","channel":"pager","conversation":"c","direction":"out","sender":"+15550001111","recipients":["+15550002222"],"sent_at":"2026-11-22T10:00:00Z","body":"x"}\n' "$R"
} >"$T/side/spool/b-mixed.tmp"
mv "$T/side/spool/b-mixed.tmp" "$T/side/spool/b-mixed.ndjson"
spool_file side c-more 200000 10
agent_start side
i=0
while [ "$i" -lt 100 ] && ! grep -q "outbox full" "$T/side/agent.log"; do
	sleep 0.1
	i=$((i + 1))
done
check "outbox full logged" grep -q "outbox full (20 records" "$T/side/agent.log"
check_eq "outbox full: pending stops at outbox_max_records" 20 "$(status_field side pending)"
sleep 0.5
check "outbox full: counted (outbox_full_total $(status_field side outbox_full_total))" \
    test "$(status_field side outbox_full_total)" -ge 1
check "outbox full: retries counted ($(status_field side retries_total))" \
    test "$(status_field side retries_total)" -ge 1
check "outbox full: the rest stays in the spool" test -f "$T/side/spool/a-good.ndjson"
check "last error names the unreachable gateway" sh -c \
    "'$AGENT' status --config '$T/side/agent.conf' | grep -q '^last error: *gateway: '"
agent_stop TERM
sed -i "s|^gateway_url = .*|gateway_url = https://127.0.0.1:$GWF_PORT|" "$T/side/agent.conf"
agent_start side
wait_drained side 60 || { bad "side agent did not drain"; tail -20 "$T/side/agent.log"; }
agent_stop TERM
check_eq "side: rows stored (30 + 10 good records)" 40 "$(tenant_rows agd-side)"
check_eq "side: receipts kept" 40 "$(status_field side delivered)"
check "spool line without an id in rejected/b-mixed.ndjson with its reason" \
    grep -q '"reason":"id: missing"' "$T/side/spool/rejected/b-mixed.ndjson"
check "non-JSON line in rejected/ with its reason" \
    grep -q '"reason":"not valid JSON' "$T/side/spool/rejected/b-mixed.ndjson"
check "gateway's rejection in rejected/gateway.ndjson with the gateway's reason" \
    grep -q '"reason":"channel: unknown channel"' "$T/side/spool/rejected/gateway.ndjson"
check_eq "status: rejected lines" 3 "$(status_field side rejected)"
check_eq "status: rejected_total" 3 "$(status_field side rejected_total)"
check "outbox full and back: intake resumed logged" grep -q "intake resumed\|file removed" "$T/side/agent.log"

# -- heartbeat: stored by the gateway, shown by the capture report ------------------
agent_conf hb agent-b "https://127.0.0.1:$GWF_PORT" "heartbeat = yes" "heartbeat_s = 1"
agent_start hb
sleep 3.5
check "heartbeat on: the daemon keeps running" kill -0 "$AG_PID"
agent_stop TERM
check_eq "heartbeat: exit 0 after SIGTERM" 0 "$AG_RC"
check_eq "heartbeat: no failure logged" 0 "$(grep -c 'heartbeat: not stored' "$T/hb/agent.log")"
check_eq "heartbeat: the gateway holds agent-b's, outbox 0" "1 0" \
    "$(db "SELECT count(*), max(outbox) FROM coffer.capture_devices WHERE device_id = 'agent-b'" | tr '|' ' ')"

# -- capture_seq = no: records without numbers, stored -----------------------------------
agent_conf seq agent-b "https://127.0.0.1:$GWF_PORT" "capture_seq = no"
spool_file seq s-one 300000 1
agent_start seq
wait_drained seq 30 || bad "capture_seq = no agent did not drain"
agent_stop TERM
check_eq "capture_seq = no: stored" 41 "$(tenant_rows agd-side)"

# -- a damaged journal is refused, not cut ------------------------------------------
cp -r "$T/side/state" "$T/damaged"
sed "s|^state_dir = .*|state_dir = $T/damaged|" "$T/side/agent.conf" >"$T/damaged.conf"
rm -f "$T/damaged/agent.lock"
printf 'X' | dd of="$T/damaged/receipts.journal" bs=1 seek=40 conv=notrunc 2>/dev/null
size0=$(wc -c <"$T/damaged/receipts.journal")
check_fails "status refuses a receipts journal damaged mid-file" 1 \
    "receipts.journal: checksum mismatch at offset 0" \
    "$AGENT" status --config "$T/damaged.conf"
check_fails "run refuses it too" 1 "damaged, not torn" \
    "$AGENT" run --config "$T/damaged.conf"
check_eq "the damaged journal is left as it was (bytes)" "$size0" "$(wc -c <"$T/damaged/receipts.journal")"

finish
