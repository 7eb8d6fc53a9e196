#!/bin/sh
# tests/integration/ops_backup.sh — the README's backup and restore
# procedures, run for real:
#
#   - records ingested through a real gateway (witness file on)
#   - logical: `pg_dump -Fc`, `pg_restore --no-owner` into a new database,
#     `cofferctl migrate` (nothing to apply), `cofferctl verify --witness`
#     clean, the same record count
#   - physical: `pg_basebackup` of the running cluster, started as a second
#     server on its own socket, `cofferctl verify --witness` clean
#   - a restore older than the witness: more records ingested after the
#     dump; the old dump restored; `cofferctl verify --witness` exits 1 and
#     names the missing tail, while without the witness it is clean (what
#     the README says the witness files are for)
# Runs inside tests/pg-harness.sh, whose database other tests share: counts
# and verification are scoped to this test's tenant.  Prints "N passed,
# M failed".
set -u

BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$(pwd)/$BUILD" ;; esac
CTL="$BUILD/cofferctl"
GW="$BUILD/coffer-gateway"
PGBIN=${COFFER_PGBIN:-/usr/lib/postgresql/15/bin}
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"

. "$(dirname "$0")/../lib/check.sh"

for f in "$CTL" "$GW"; do
	[ -x "$f" ] || { echo "ops_backup: $f not built"; exit 1; }
done
"$CTL" help 2>/dev/null | grep -q '^  verify ' || { echo "ops_backup: cofferctl verify not built"; exit 1; }

T=$(mktemp -d "${COFFER_TEST_TMP:-/tmp}/backup.XXXXXX") || exit 1
chmod 0755 "$T"
GW_PID=""
BASE_UP=0
if [ "$(id -u)" -eq 0 ]; then
	RUNAS=$(stat -c %U "${COFFER_TEST_PGDATA:?}")
	as_runas() { runuser -u "$RUNAS" -- "$@"; }
else
	RUNAS=""
	as_runas() { "$@"; }
fi
cleanup() {
	[ -z "$GW_PID" ] || kill -TERM "$GW_PID" 2>/dev/null
	[ "$BASE_UP" -eq 0 ] || as_runas "$PGBIN/pg_ctl" -D "$T/base" -m immediate -s stop >/dev/null 2>&1
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
export COFFER_PKI="$T/pki"

# -- an archive with a witness ----------------------------------------------------
for i in 1 2 3; do echo "backup test passphrase $i" >"$T/p$i"; done
{
	"$CTL" tenant init --name bk --custodians 3 --threshold 2 --out "$T/tenant" \
	    --passphrase-file "$T/p1" --passphrase-file "$T/p2" --passphrase-file "$T/p3" &&
	"$CTL" node init --name bk-gw --key-out "$T/gw.key" &&
	"$CTL" pki server --name gateway --dns localhost --ip 127.0.0.1 --out "$T/srv" &&
	"$CTL" device ca-init --tenant bk &&
	"$CTL" device issue --tenant bk --device d1 --out "$T/dev"
} >"$T/setup.log" 2>&1 || { cat "$T/setup.log"; die "tenant and certificates"; }
mkdir -p "$T/keys" "$T/w"
cp -p "$T/tenant/bk.bik" "$T/tenant/bk.pin" "$T/keys/"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
{
	echo "listen = 127.0.0.1:$port"
	echo "metrics_listen ="
	[ -z "$RUNAS" ] || echo "user = $RUNAS"
	echo "cert_file = $T/srv/gateway.crt"
	echo "key_file = $T/srv/gateway.key"
	echo "device_ca_dir = $COFFER_PKI/devices"
	echo "node_name = bk-gw"
	echo "signing_key_file = $T/gw.key"
	echo "keys_dir = $T/keys"
	echo "witness_file = $T/w/bk-gw.jsonl"
	echo "pg_conninfo = \"host=$PGHOST port=$PGPORT dbname=$PGDATABASE user=gw\""
	echo "batch_max_records = 25"
} >"$T/gw.conf"
"$GW" --config "$T/gw.conf" >"$T/gw.log" 2>&1 &
GW_PID=$!
post() {   # post FILE OUT
	curl -sS --max-time 60 --cacert "$COFFER_PKI/server/ca.pem" \
	    --cert "$T/dev/d1.crt" --key "$T/dev/d1.key" --data-binary "@$1" \
	    "https://127.0.0.1:$port/v1/records" >"$2" 2>&1
}
records() {   # records FILE PREFIX N
	i=1
	while [ "$i" -le "$3" ]; do
		printf '{"id":"%s-%d","channel":"whatsapp","conversation":"c%d","direction":"in","sender":"+15550100%03d","recipients":["+15550100999"],"sent_at":"2026-10-%02dT09:00:00Z","body":"backup drill %d"}\n' \
		    "$2" "$i" $((i % 5)) $((i % 100)) $((i % 28 + 1)) "$i"
		i=$((i + 1))
	done >"$1"
}
i=0
until curl -sf -o /dev/null --max-time 2 --cacert "$COFFER_PKI/server/ca.pem" \
    --cert "$T/dev/d1.crt" --key "$T/dev/d1.key" "https://127.0.0.1:$port/healthz" 2>/dev/null; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || { cat "$T/gw.log"; die "gateway did not start"; }
	sleep 0.1
done
records "$T/first" first 200
post "$T/first" "$T/first.out"
check "200 records stored before the backup" test "$(grep -c '"status":"stored"' "$T/first.out")" -eq 200

# -- logical backup and restore -------------------------------------------------------
pg_dump -Fc -f "$T/coffer.dump" "$PGDATABASE" 2>"$T/dump.err"
check "pg_dump -Fc coffer" test -s "$T/coffer.dump" -a ! -s "$T/dump.err"
cp "$T/w/bk-gw.jsonl" "$T/witness-at-dump.jsonl"
$PSQL -d postgres -c "CREATE DATABASE coffer_restored"
pg_restore --no-owner -d coffer_restored "$T/coffer.dump" >"$T/restore.log" 2>&1
check "pg_restore --no-owner into a new database" test $? -eq 0
[ ! -s "$T/restore.log" ] || sed 's/^/     /' "$T/restore.log"
PGDATABASE=coffer_restored "$CTL" migrate --dir "${COFFER_MIGRATIONS_DIR:-migrations}" >"$T/migrate.log" 2>&1
check "cofferctl migrate on the restored copy" test $? -eq 0
n=$(PGDATABASE=coffer_restored $PSQL -c "SELECT count(*) FROM coffer.records r JOIN coffer.tenants t USING (tenant_id) WHERE t.name = 'bk'")
check "restored copy holds the 200 records ($n)" test "$n" -eq 200
PGDATABASE=coffer_restored PGUSER=auditor "$CTL" verify --tenant bk --witness "$T/w/bk-gw.jsonl" >"$T/v1" 2>&1
rc=$?
check "verify --witness on the restored copy: clean (exit $rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || sed 's/^/     /' "$T/v1"

# -- physical base backup ---------------------------------------------------------------
mkdir -p "$T/base" "$T/base-run"
chmod 0700 "$T/base"
[ -z "$RUNAS" ] || chown "$RUNAS" "$T/base" "$T/base-run"
# --checkpoint=fast: a spread checkpoint would wait out one that earlier
# tests' writes started (minutes); production keeps the gentle default.
as_runas "$PGBIN/pg_basebackup" -h "$PGHOST" -p "$PGPORT" -U postgres -D "$T/base" -Fp -Xs \
    --checkpoint=fast >"$T/basebackup.log" 2>&1
check "pg_basebackup -Xs of the running cluster" test $? -eq 0
as_runas "$PGBIN/pg_ctl" -D "$T/base" -l "$T/base-run/server.log" -w -t 60 -s \
    -o "-c unix_socket_directories=$T/base-run -c port=5432 -c listen_addresses=" \
    start >/dev/null 2>&1 && BASE_UP=1
check "the base backup starts as a server" test "$BASE_UP" -eq 1
if [ "$BASE_UP" -eq 1 ]; then
	PGHOST=$T/base-run PGPORT=5432 PGUSER=auditor "$CTL" verify --tenant bk \
	    --witness "$T/witness-at-dump.jsonl" >"$T/v2" 2>&1
	rc=$?
	check "verify --witness on the base backup: clean (exit $rc)" test "$rc" -eq 0
	[ "$rc" -eq 0 ] || sed 's/^/     /' "$T/v2"
fi

# -- a restore older than the witness -------------------------------------------------------
records "$T/second" second 100
post "$T/second" "$T/second.out"
check "100 more records stored after the backup" test "$(grep -c '"status":"stored"' "$T/second.out")" -eq 100
$PSQL -d postgres -c "CREATE DATABASE coffer_old"
pg_restore --no-owner -d coffer_old "$T/coffer.dump" >/dev/null 2>&1
PGDATABASE=coffer_old PGUSER=auditor "$CTL" verify --tenant bk >"$T/v3" 2>&1
rc=$?
check "the old restore alone verifies clean (exit $rc): the database cannot tell" test "$rc" -eq 0
PGDATABASE=coffer_old PGUSER=auditor "$CTL" verify --tenant bk --witness "$T/w/bk-gw.jsonl" >"$T/v4" 2>&1
rc=$?
check "with the current witness file it is caught (exit $rc)" test "$rc" -eq 1
sed 's/^/     /' "$T/v4" | tail -n 3
finish
