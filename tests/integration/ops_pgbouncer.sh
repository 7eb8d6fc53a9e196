#!/bin/sh
# tests/integration/ops_pgbouncer.sh — scale-out as documented in the README:
# Debian's pgbouncer in transaction pooling mode in front of the harness
# cluster, two coffer-gateway instances (two nodes, two streams) writing the
# same tenant at once through it, and coffer-api through it as well; then
# `cofferctl verify` (through the pooler too) must find the archive clean.
#
#   - pgbouncer starts in transaction mode with a pool smaller than the
#     number of client connections, so server connections are shared
#     between transactions of different clients (what breaks session
#     state: SET, session advisory locks, named prepared statements)
#   - both gateways pass --check-config and start with pg_conninfo naming
#     the pooler
#   - 4 clients (2 devices x 2 gateways) post 8 requests of 50 records
#     each, concurrently: every line stored, one receipt each
#   - the same 50 records raced to both gateways at once: stored once,
#     the other answer `duplicate` with the same receipt
#   - the tenant's streams belong to both nodes (each node writes its own
#     chains, one per writer lane), row count exact, each witness file holds
#     its node's checkpoints
#   - the pooler shared server connections (SHOW SERVERS <= pool size
#     while more clients were connected)
#   - coffer-api through the pooler (when built): whoami, a matter, two
#     custodians approve with cofferctl, the production is built and
#     downloaded, the audit log and GET /v1/verify
#   - cofferctl verify --witness A --witness B: clean (exit 0)
# Runs inside tests/pg-harness.sh.  Prints "N passed, M failed".
set -u

BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$(pwd)/$BUILD" ;; esac
CTL="$BUILD/cofferctl"
GW="$BUILD/coffer-gateway"
API="$BUILD/coffer-api"
PGBOUNCER=${COFFER_PGBOUNCER:-/usr/sbin/pgbouncer}
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"
POOL_SIZE=2

. "$(dirname "$0")/../lib/check.sh"

for f in "$CTL" "$GW"; do
	[ -x "$f" ] || { echo "ops_pgbouncer: $f not built"; exit 1; }
done
[ -x "$PGBOUNCER" ] || { echo "ops_pgbouncer: $PGBOUNCER not found (make deps installs the pgbouncer package)"; exit 1; }
command -v curl >/dev/null || { echo "ops_pgbouncer: curl missing"; exit 1; }

T=$(mktemp -d "${COFFER_TEST_TMP:-/tmp}/pgb.XXXXXX") || exit 1
chmod 0755 "$T"
PIDS=""           # gateway/API pid files we started
PGB_PID=""
cleanup() {
	for pf in $PIDS; do
		[ -s "$pf" ] && kill -TERM "$(cat "$pf")" 2>/dev/null
	done
	[ -n "$PGB_PID" ] && kill -TERM "$PGB_PID" 2>/dev/null
	sleep 0.5
	for pf in $PIDS; do
		[ -s "$pf" ] && kill -KILL "$(cat "$pf")" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
export COFFER_PKI="$T/pki"

# Who runs pgbouncer and the daemons: pgbouncer refuses root, and the
# gateway started as root must drop to an unprivileged user.
if [ "$(id -u)" -eq 0 ]; then
	RUNAS=$(stat -c %U "${COFFER_TEST_PGDATA:?}")
	as_runas() { runuser -u "$RUNAS" -- "$@"; }
else
	RUNAS=""
	as_runas() { "$@"; }
fi

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# -- pgbouncer, transaction mode ----------------------------------------------------
PGB=$T/pgbouncer
mkdir -p "$PGB"
PGB_PORT=6432   # Unix socket only, in a private directory: never collides
cat >"$PGB/userlist.txt" <<EOF
"gw" ""
"api" ""
"auditor" ""
"postgres" ""
EOF
# shellcheck disable=SC2153  # PGPORT: the harness's database, not PGB_PORT
cat >"$PGB/pgbouncer.ini" <<EOF
[databases]
coffer = host=$PGHOST port=$PGPORT dbname=$PGDATABASE

[pgbouncer]
listen_addr =
listen_port = $PGB_PORT
unix_socket_dir = $PGB
unix_socket_mode = 0777
auth_type = trust
auth_file = $PGB/userlist.txt
admin_users = postgres
pool_mode = transaction
default_pool_size = $POOL_SIZE
max_client_conn = 200
server_reset_query =
ignore_startup_parameters = extra_float_digits
logfile = $PGB/pgbouncer.log
pidfile = $PGB/pgbouncer.pid
EOF
[ -z "$RUNAS" ] || chown -R "$RUNAS" "$PGB"
if as_runas "$PGBOUNCER" -d "$PGB/pgbouncer.ini" >"$T/pgb.out" 2>&1; then
	i=0
	while [ ! -S "$PGB/.s.PGSQL.$PGB_PORT" ] && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	PGB_PID=$(cat "$PGB/pgbouncer.pid" 2>/dev/null)
fi
[ -n "$PGB_PID" ] || { cat "$T/pgb.out" "$PGB/pgbouncer.log" 2>/dev/null; die "pgbouncer did not start"; }
ok "pgbouncer $("$PGBOUNCER" --version | head -n 1 | cut -d' ' -f2) started (pid $PGB_PID)"

pgb_admin() { $PSQL -h "$PGB" -p "$PGB_PORT" -U postgres -d pgbouncer -c "$1" 2>&1; }
mode=$(pgb_admin "SHOW CONFIG" | awk -F'|' '$1 == "pool_mode" { print $2 }')
check "pool_mode is transaction ($mode)" test "$mode" = transaction
check "a query as gw through the pooler" \
    test "$($PSQL -h "$PGB" -p "$PGB_PORT" -U gw -d coffer -c 'SELECT 1' 2>&1)" = 1

# -- tenant, nodes, certificates ----------------------------------------------------
for i in 1 2 3; do echo "pgbouncer test passphrase $i" >"$T/p$i"; done
"$CTL" tenant init --name pgb --custodians 3 --threshold 2 --out "$T/tenant" \
    --passphrase-file "$T/p1" --passphrase-file "$T/p2" --passphrase-file "$T/p3" \
    >"$T/setup.log" 2>&1 || { cat "$T/setup.log"; die "tenant init"; }
mkdir -p "$T/keys" "$T/w"
cp -p "$T/tenant/pgb.bik" "$T/tenant/pgb.pin" "$T/keys/"
# node pins (issue 12): cofferctl approve and verify read $COFFER_NODE_PINS
COFFER_NODE_PINS="$T/nodes.pins"
export COFFER_NODE_PINS
# the harness's audit signers (issue 13.5) are pinned too
[ -n "${COFFER_BASE_PINS:-}" ] && cp "$COFFER_BASE_PINS" "$COFFER_NODE_PINS"
{
	"$CTL" node init --name pgb-gw-a --key-out "$T/keys/gw-a.key" --pins "$COFFER_NODE_PINS" &&
	"$CTL" node init --name pgb-gw-b --key-out "$T/keys/gw-b.key" --pins "$COFFER_NODE_PINS" &&
	"$CTL" pki server --name gateway --dns localhost --ip 127.0.0.1 --out "$T/srv" &&
	"$CTL" device ca-init --tenant pgb &&
	"$CTL" device issue --tenant pgb --device d1 --out "$T/dev" &&
	"$CTL" device issue --tenant pgb --device d2 --out "$T/dev"
} >>"$T/setup.log" 2>&1 || { cat "$T/setup.log"; die "nodes and certificates"; }
ok "tenant, two nodes, server and device certificates"

# -- two gateways through the pooler --------------------------------------------------
# gateway NAME: write the config, check it, start it; sets PORT_<NAME>
start_gateway() {
	name=$1
	port=$(free_port)
	mport=$(free_port)
	{
		echo "listen = 127.0.0.1:$port"
		echo "metrics_listen = 127.0.0.1:$mport"
		[ -z "$RUNAS" ] || echo "user = $RUNAS"
		echo "cert_file = $T/srv/gateway.crt"
		echo "key_file = $T/srv/gateway.key"
		echo "device_ca_dir = $COFFER_PKI/devices"
		echo "node_name = pgb-gw-$name"
		echo "signing_key_file = $T/keys/gw-$name.key"
		echo "keys_dir = $T/keys"
		echo "witness_file = $T/w/gw-$name.jsonl"
		echo "pg_conninfo = \"host=$PGB port=$PGB_PORT dbname=coffer user=gw\""
		echo "epoch_records = 150"
		echo "batch_max_records = 64"
	} >"$T/gw-$name.conf"
	check "gateway $name: --check-config" "$GW" --config "$T/gw-$name.conf" --check-config
	"$GW" --config "$T/gw-$name.conf" --pidfile "$T/gw-$name.pid" >"$T/gw-$name.log" 2>&1 &
	PIDS="$PIDS $T/gw-$name.pid"
	i=0
	while [ "$i" -lt 100 ]; do
		if curl -sfS -o /dev/null --max-time 2 --cacert "$COFFER_PKI/server/ca.pem" \
		    --cert "$T/dev/d1.crt" --key "$T/dev/d1.key" \
		    "https://127.0.0.1:$port/healthz" 2>/dev/null; then
			eval "PORT_$name=$port"
			ok "gateway $name up on 127.0.0.1:$port through pgbouncer"
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	cat "$T/gw-$name.log"
	die "gateway $name did not start"
}
# shellcheck disable=SC2034  # read through eval "port=\$PORT_$2" in post
PORT_a="" PORT_b=""
start_gateway a
start_gateway b

# records FILE PREFIX N: N valid NDJSON records with ids PREFIX-1..N
records() {
	i=1
	while [ "$i" -le "$3" ]; do
		printf '{"id":"%s-%d","channel":"signal","conversation":"conv-%d","direction":"out","sender":"+15550100%03d","recipients":["+15550199%03d"],"sent_at":"2026-11-0%dT10:%02d:%02dZ","body":"pgbouncer scale-out %s %d"}\n' \
		    "$2" "$i" $((i % 7)) $((i % 50)) $((i % 31)) $((i % 9 + 1)) $((i % 60)) $((i % 59)) "$2" "$i"
		i=$((i + 1))
	done >"$1"
}
# post DEVICE GATEWAY FILE OUT
post() {
	eval "port=\$PORT_$2"
	curl -sS --max-time 60 --cacert "$COFFER_PKI/server/ca.pem" \
	    --cert "$T/dev/$1.crt" --key "$T/dev/$1.key" \
	    -H 'Content-Type: application/x-ndjson' --data-binary "@$3" \
	    "https://127.0.0.1:$port/v1/records" >"$4" 2>&1
}
# client DEVICE GATEWAY: 8 requests of 50 records, one after the other
client() {
	c=$1-$2
	k=1
	while [ "$k" -le 8 ]; do
		records "$T/in-$c-$k" "$c-$k" 50
		post "$1" "$2" "$T/in-$c-$k" "$T/out-$c-$k" || echo "curl failed" >>"$T/out-$c-$k"
		k=$((k + 1))
	done
}

cpids=""
for d in d1 d2; do
	for g in a b; do
		client "$d" "$g" &
		cpids="$cpids $!"
	done
done
# shellcheck disable=SC2086
wait $cpids
stored=$(cat "$T"/out-*-*-[0-9] | grep -c '"status":"stored"')
other=$(cat "$T"/out-*-*-[0-9] | grep -vc '"status":"stored"')
check "4 concurrent clients x 8 requests x 50 records: 1600 stored ($stored, $other other lines)" \
    test "$stored" -eq 1600 -a "$other" -eq 0
[ "$other" -eq 0 ] || cat "$T"/out-*-*-[0-9] | grep -v '"status":"stored"' | head -n 5

# clients vs. server connections while both gateways are connected
cl=$(pgb_admin "SHOW CLIENTS" | awk -F'|' '$2 == "gw" && $3 == "coffer"' | wc -l)
sv=$(pgb_admin "SHOW SERVERS" | awk -F'|' '$2 == "gw" && $3 == "coffer"' | wc -l)
check "the pooler multiplexed $cl gateway client connections onto $sv server connection(s) (pool $POOL_SIZE)" \
    test "$cl" -gt "$POOL_SIZE" -a "$sv" -le "$POOL_SIZE"

# the same records raced to both gateways: stored once
records "$T/race" race 50
post d1 a "$T/race" "$T/race-a" &
ra=$!
post d1 b "$T/race" "$T/race-b" &
rb=$!
wait "$ra" "$rb"
rs=$(cat "$T/race-a" "$T/race-b" | grep -c '"status":"stored"')
rd=$(cat "$T/race-a" "$T/race-b" | grep -c '"status":"duplicate"')
check "50 records raced to both gateways: 50 stored + 50 duplicate ($rs + $rd)" \
    test "$rs" -eq 50 -a "$rd" -eq 50
# both answers name the same receipt for each line
python3 - "$T/race-a" "$T/race-b" >"$T/race.cmp" 2>&1 <<'EOF'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
bad = [x["id"] for x, y in zip(a, b) if x.get("receipt") != y.get("receipt")]
sys.exit("receipts differ for %s" % bad[:3] if bad or len(a) != 50 or len(b) != 50 else 0)
EOF
check "raced lines carry identical receipts from both gateways" test ! -s "$T/race.cmp"
[ ! -s "$T/race.cmp" ] || cat "$T/race.cmp"

rows=$($PSQL -c "SELECT count(*) FROM coffer.records r JOIN coffer.tenants t USING (tenant_id) WHERE t.name = 'pgb'")
check "the database holds exactly 1650 records ($rows)" test "$rows" -eq 1650
nodes=$($PSQL -c "SELECT count(DISTINCT node_id) FROM coffer.streams s JOIN coffer.tenants t USING (tenant_id) WHERE t.name = 'pgb'")
streams=$($PSQL -c "SELECT count(*) FROM coffer.streams s JOIN coffer.tenants t USING (tenant_id) WHERE t.name = 'pgb'")
check "the tenant's $streams streams belong to both gateway nodes ($nodes), none shared" test "$nodes" -eq 2 -a "$streams" -ge 2
for g in a b; do
	wl=$(wc -l <"$T/w/gw-$g.jsonl" 2>/dev/null || echo 0)
	cp=$($PSQL -c "SELECT count(*) FROM coffer.checkpoints c JOIN coffer.nodes n USING (node_id) WHERE n.name = 'pgb-gw-$g'" 2>/dev/null || echo -1)
	check "witness file of gateway $g holds its $cp checkpoints ($wl lines)" test "$wl" -gt 0 -a "$wl" -eq "$cp"
done

# -- the API through the pooler ---------------------------------------------------------
if [ -x "$API" ]; then
	aport=$(free_port)
	{
		"$CTL" pki server --name api --dns localhost --ip 127.0.0.1 --out "$T/srv" &&
		"$CTL" node init --kind api --name pgb-api --key-out "$T/keys/api-node.key" \
		    --pins "$COFFER_NODE_PINS" &&
		"$CTL" pki people-ca-init &&
		"$CTL" user issue --role legal --tenant pgb --name legal --out "$T/people" &&
		"$CTL" user issue --role auditor --tenant pgb --name auditor --out "$T/people" &&
		"$CTL" user issue --role custodian --custodian-index 1 --tenant pgb --name c1 --out "$T/people" &&
		"$CTL" user issue --role custodian --custodian-index 2 --tenant pgb --name c2 --out "$T/people"
	} >>"$T/setup.log" 2>&1 || { cat "$T/setup.log"; die "API certificates"; }
	# legal's production key (`user keygen`, or the same as a verb of its own)
	if "$CTL" user --help 2>&1 | grep -q 'user keygen'; then kg="user keygen"; else kg=keygen; fi
	echo "legal key passphrase" >"$T/legal.pass"
	# shellcheck disable=SC2086
	"$CTL" $kg --tenant pgb --name legal --out "$T/legal.x25519" \
	    --passphrase-file "$T/legal.pass" >>"$T/setup.log" 2>&1 ||
	    { cat "$T/setup.log"; die "legal production key"; }
	mkdir -p "$T/prod" "$T/blind"
	[ -z "$RUNAS" ] || chown "$RUNAS" "$T/prod" "$T/blind"
	{
		echo "listen = 127.0.0.1:$aport"
		[ -z "$RUNAS" ] || echo "user = $RUNAS"
		echo "cert_file = $T/srv/api.crt"
		echo "key_file = $T/srv/api.key"
		echo "people_ca = $COFFER_PKI/people/ca.pem"
		echo "people_crl = $COFFER_PKI/people/crl.pem"
		echo "keys_dir = $T/keys"
		echo "productions_dir = $T/prod"
		echo "blind_dir = $T/blind"
		echo "signing_key_file = $T/keys/api-node.key"
		echo "node_name = pgb-api"
		echo "db_connections = 4"
		echo "pg_conninfo = \"host=$PGB port=$PGB_PORT dbname=coffer user=api\""
	} >"$T/api.conf"
	check "coffer-api: --check-config" "$API" --config "$T/api.conf" --check-config
	"$API" --config "$T/api.conf" --pidfile "$T/api.pid" >"$T/api.log" 2>&1 &
	PIDS="$PIDS $T/api.pid"
	as() {   # as PERSON ARGS...
		who=$1
		shift
		curl -sS --max-time 30 --cacert "$COFFER_PKI/server/ca.pem" \
		    --cert "$T/people/$who.crt" --key "$T/people/$who.key" "$@"
	}
	i=0
	until as legal -f -o "$T/whoami" "https://127.0.0.1:$aport/v1/whoami" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -lt 100 ] || break
		sleep 0.1
	done
	check "API up through pgbouncer: whoami answers legal" grep -q '"role" *: *"legal"' "$T/whoami"
	code=$(as legal -o "$T/matter" -w '%{http_code}' -H 'Content-Type: application/json' \
	    --data '{"title":"pgbouncer","legal_basis":"test","scope":{"participants":["+15550100001"],"from":"2026-11-01T00:00:00Z","to":"2026-11-30T00:00:00Z"}}' \
	    "https://127.0.0.1:$aport/v1/matters")
	check "a matter created through the pooler (HTTP $code)" test "$code" = 201
	[ "$code" = 201 ] || cat "$T/matter"
	mid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("matter_id",""))' "$T/matter" 2>/dev/null)
	for i in 1 2; do
		"$CTL" approve --api "https://127.0.0.1:$aport" --ca "$COFFER_PKI/server/ca.pem" \
		    --cert "$T/people/c$i.crt" --key "$T/people/c$i.key" --matter "$mid" \
		    --share "$T/tenant/pgb-custodian-$i.share" --passphrase-file "$T/p$i" --yes \
		    >"$T/approve$i" 2>&1
		rc=$?
		check "custodian $i approves through the pooler (exit $rc)" test "$rc" -eq 0
		[ "$rc" -eq 0 ] || cat "$T/approve$i"
	done
	i=0
	state=""
	while [ "$i" -lt 300 ]; do
		as legal -o "$T/m" "https://127.0.0.1:$aport/v1/matters/$mid"
		state=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("state",""))' "$T/m" 2>/dev/null)
		case "$state" in ready | failed | closed) break ;; esac
		sleep 0.2
		i=$((i + 1))
	done
	check "the production was built through the pooler (state $state)" test "$state" = ready
	code=$(as legal -o "$T/prod.coffer" -w '%{http_code}' "https://127.0.0.1:$aport/v1/matters/$mid/production")
	check "legal downloads it (HTTP $code, $(wc -c <"$T/prod.coffer") bytes)" \
	    test "$code" = 200 -a -s "$T/prod.coffer"
	code=$(as auditor -o "$T/audit" -w '%{http_code}' "https://127.0.0.1:$aport/v1/audit")
	check "the auditor reads the audit log (HTTP $code, $(wc -l <"$T/audit") events)" \
	    test "$code" = 200 -a "$(wc -l <"$T/audit")" -ge 2
	code=$(as auditor -o "$T/apiverify" -w '%{http_code}' "https://127.0.0.1:$aport/v1/verify")
	check "GET /v1/verify through the pooler: clean (HTTP $code)" \
	    grep -q '"status" *: *"clean"' "$T/apiverify"
	[ "$code" = 200 ] || { cat "$T/apiverify"; tail -n 20 "$T/api.log"; }
	errs=$(grep -ci 'error\|fatal' "$T/api.log")
	check "the API logged no errors through the pooler ($errs)" test "$errs" -eq 0
	[ "$errs" -eq 0 ] || grep -i 'error\|fatal' "$T/api.log" | head -n 5
else
	echo "skip - coffer-api not built: the API part of this test did not run"
fi

# -- verify, through the pooler as well ------------------------------------------------------
if "$CTL" help 2>/dev/null | grep -q '^  verify '; then
	PGHOST=$PGB PGPORT=$PGB_PORT PGUSER=auditor PGDATABASE=coffer "$CTL" verify --tenant pgb \
	    --witness "$T/w/gw-a.jsonl" --witness "$T/w/gw-b.jsonl" >"$T/verify.out" 2>&1
	rc=$?
	check "cofferctl verify --witness A --witness B through the pooler: clean (exit $rc)" test "$rc" -eq 0
	[ "$rc" -eq 0 ] || cat "$T/verify.out"
else
	bad "cofferctl verify is not built"
fi

# the gateways saw no database errors through the pooler
for g in a b; do
	errs=$(grep -ci 'error\|fatal' "$T/gw-$g.log")
	check "gateway $g logged no database errors ($errs)" test "$errs" -eq 0
	[ "$errs" -eq 0 ] || grep -i 'error\|fatal' "$T/gw-$g.log" | head -n 5
done
finish
