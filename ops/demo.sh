#!/bin/sh
# ops/demo.sh — Coffer end to end on this machine (`make demo`).
#
# Walks a fictional firm (Northwind Capital) through the whole life of an
# archive: a private PostgreSQL under ./var/pg, the schema, the tenant key
# ceremony (2 of 3 custodians), certificates for servers, phones and people,
# the gateway and the API on loopback, a few hundred realistic messages
# ingested over mutual TLS, a dump of the database that contains none of
# them, an eDiscovery matter approved by two custodians, the sealed
# production opened by the lawyer who asked for it, and an integrity proof.
#
# Each step prints what it does, the command a person would type to do it by
# hand (after `. var/demo/env`), and PASSED / FAILED / SKIPPED.  Output of
# the commands goes to var/demo/logs/NN-step.log.  The daemons keep running
# afterwards so you can try things by hand; `make demo-stop` stops them and
# the database.
#
# Re-running starts over: the previous demo's daemons are stopped, the
# `coffer` database is recreated and var/demo is rebuilt (the PostgreSQL
# cluster itself is reused).  Nothing outside ./var is written, except the
# system user `cofferdev` that runs PostgreSQL and the daemons when this is
# run as root.
#
# Environment: BUILD (default build), COFFER_DEMO_PORT (default 18443: the
# gateway; +1 the API; +1000 and +1001 their metrics listeners).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}
case "$BUILD" in /*) BIN=$BUILD ;; *) BIN=$ROOT/$BUILD ;; esac
VAR=$ROOT/var
D=$VAR/demo
ST=$D/.state                  # values passed between steps
TENANT=northwind
GW_NODE=demo-gw-1
API_NODE=demo-api-1
OPS_NODE=demo-ops
PURGE_NODE=demo-purge
PORT=${COFFER_DEMO_PORT:-18443}
GW_PORT=$PORT
API_PORT=$((PORT + 1))
GW_MPORT=$((PORT + 1000))
API_MPORT=$((PORT + 1001))
PGBIN=${COFFER_PGBIN:-/usr/lib/postgresql/15/bin}
PATH=$PGBIN:$PATH
export PATH

if [ "$(id -u)" -eq 0 ]; then
	RUNAS=${COFFER_PG_OWNER:-cofferdev}
else
	RUNAS=""
fi

if [ -t 1 ]; then
	G=$(printf '\033[32m') R=$(printf '\033[31m') Y=$(printf '\033[33m')
	B=$(printf '\033[1m') N=$(printf '\033[0m')
else
	G="" R="" Y="" B="" N=""
fi

die() {
	echo "demo: $*" >&2
	exit 1
}

[ -x "$BIN/cofferctl" ] || die "$BIN/cofferctl is not built: run 'make demo' (or 'make' first)"
for t in curl openssl python3 setsid; do
	command -v "$t" >/dev/null 2>&1 || die "$t not found: run 'make deps'"
done

# -- reset: a second run starts from a clean slate ---------------------------------
if [ -d "$D" ]; then
	echo "demo: a previous demo exists: stopping its daemons and starting over"
	sh ops/demo-stop.sh --keep-db >/dev/null || die "could not stop the previous demo's daemons"
	rm -rf "$D"
fi
mkdir -p "$D" "$ST" "$D/logs" "$D/run" "$D/etc" "$D/keys" "$D/witness"
umask 077
mkdir -p "$D/secrets"

# -- the environment file (written first: every step's command uses it) ------------
PGRUN=""   # set by the PostgreSQL step
write_env() {
	{
		echo "# var/demo/env — written by ops/demo.sh; \`. var/demo/env\` to try Coffer by hand."
		echo "export COFFER_GATEWAY_URL='https://127.0.0.1:$GW_PORT'"
		echo "export COFFER_API_URL='https://127.0.0.1:$API_PORT'"
		echo "export COFFER_CA='$D/pki/server/ca.pem'"
		echo "export COFFER_DEVICE_CERT='$D/devices/dana-iphone.crt'"
		echo "export COFFER_DEVICE_KEY='$D/devices/dana-iphone.key'"
		for p in ADMIN:admin LEGAL:legal CUSTODIAN1:custodian-1 \
		    CUSTODIAN2:custodian-2 CUSTODIAN3:custodian-3 AUDITOR:auditor; do
			echo "export COFFER_${p%%:*}_CERT='$D/people/${p#*:}.crt'"
			echo "export COFFER_${p%%:*}_KEY='$D/people/${p#*:}.key'"
		done
		for i in 1 2 3; do
			echo "export COFFER_SHARE$i='$D/custodians/$TENANT-custodian-$i.share'"
			echo "export COFFER_SHARE${i}_PASSFILE='$D/secrets/custodian-$i.pass'"
		done
		echo "export COFFER_LEGAL_SECRET='$D/people/legal.x25519'"
		echo "export COFFER_LEGAL_SECRET_PASSFILE='$D/secrets/legal.pass'"
		echo "export COFFER_WITNESS='$D/witness/$GW_NODE.jsonl'"
		# signed audit events (issue 13.5): cofferctl's and purge's keys,
		# and the writers' audit witness files
		echo "export COFFER_AUDIT_KEY='$D/keys/$OPS_NODE.key'"
		echo "export COFFER_AUDIT_NODE='$OPS_NODE'"
		echo "export COFFER_PURGE_KEY='$D/keys/$PURGE_NODE.key'"
		echo "export COFFER_PURGE_NODE='$PURGE_NODE'"
		echo "export COFFER_AUDIT_WITNESS='$D/witness/ctl-audit.jsonl'"
		echo "export COFFER_API_AUDIT_WITNESS='$D/witness/$API_NODE-audit.jsonl'"
		# pins (issue 12): cofferctl approve and verify read them
		echo "export COFFER_NODE_PINS='$D/keys/nodes.pins'"
		echo "export COFFER_KEYS_DIR='$D/keys'"
		echo "export COFFER_CTL='$BIN/cofferctl'"
		echo "export COFFER_GATEWAY_PIDFILE='$D/run/gateway.pid'"
		echo "export COFFER_API_PIDFILE='$D/run/api.pid'"
		echo "export PGHOST='$PGRUN'"
		echo "export PGPORT='${PGPORT:-5432}'"
		echo "export PGDATABASE='coffer'"
		echo "export PGUSER='$PGOWNER'"
	} >"$D/env.tmp"
	chmod 0644 "$D/env.tmp"
	mv "$D/env.tmp" "$D/env"
}

# -- step machinery -------------------------------------------------------------
NSTEPS=22
n=0 passed=0 failed=0 skipped=0 notrun=0 stopped=0
ran_list="" skipped_list=""

# begin TITLE: a new step
begin() {
	n=$((n + 1))
	printf '\n%s[%2d/%d] %s%s\n' "$B" "$n" "$NSTEPS" "$1" "$N"
}
# say TEXT...: narrative
say() {
	for l in "$@"; do printf '        %s\n' "$l"; done
}
# show COMMAND: what a person types (after `. var/demo/env`)
show() {
	printf '        %s$ %s%s\n' "$Y" "$1" "$N"
}
# finish FUNC [independent]: run the step's function in a subshell with
# `set -e`, its output in the step's log; FUNC may call note TEXT and skip
# REASON.  A failed step stops the demo unless it is marked independent
# (later steps do not need what it makes; they check their own inputs).
finish() {
	if [ "$stopped" -eq 1 ]; then
		printf '        %sNOT RUN%s (an earlier step failed)\n' "$R" "$N"
		notrun=$((notrun + 1))
		return 0
	fi
	log=$D/logs/$(printf '%02d' "$n")-$1.log
	rm -f "$ST/note" "$ST/skip"
	t0=$(date +%s%3N)
	set +e
	( set -e; "$1" ) >"$log" 2>&1 </dev/null
	rc=$?
	set -e
	ms=$(($(date +%s%3N) - t0))
	secs=$(printf '%d.%d s' $((ms / 1000)) $((ms % 1000 / 100)))
	if [ "$rc" -eq 0 ]; then
		printf '        %sPASSED%s (%s)\n' "$G" "$N" "$secs"
		[ ! -s "$ST/note" ] || sed 's/^/          /' "$ST/note"
		passed=$((passed + 1))
		ran_list="$ran_list $n"
	elif [ "$rc" -eq 3 ] && [ -s "$ST/skip" ]; then
		printf '        %sSKIPPED%s (%s)\n' "$Y" "$N" "$(cat "$ST/skip")"
		skipped=$((skipped + 1))
		skipped_list="$skipped_list $n"
	else
		printf '        %sFAILED%s (exit %d after %s; log %s)\n' "$R" "$N" \
		    "$rc" "$secs" "${log#"$ROOT"/}"
		tail -n 15 "$log" | sed 's/^/          | /'
		failed=$((failed + 1))
		[ "${2:-}" = independent ] || stopped=1
	fi
}
note() { echo "$*" >>"$ST/note"; }
skip() {
	echo "$*" >"$ST/skip"
	exit 3
}
put() { printf '%s\n' "$2" >"$ST/$1"; }
get() { cat "$ST/$1" 2>/dev/null || true; }
ctl_has() {   # ctl_has VERB [SUBVERB]: is this cofferctl verb built?
	"$BIN/cofferctl" help 2>/dev/null | grep -q "^  $1 " || return 1
	[ $# -eq 1 ] || "$BIN/cofferctl" "$1" --help 2>&1 | grep -q "$1 $2"
}
# shellcheck source=/dev/null  # $D/env is written by write_env at run time
envsh() { . "$D/env"; }
psql_q() { psql -X -A -t -q -v ON_ERROR_STOP=1 "$@"; }
# wait_http URL SECONDS CURL-ARGS...: until the URL answers 2xx
wait_http() {
	url=$1 secs=$2
	shift 2
	i=0
	while [ "$i" -lt $((secs * 5)) ]; do
		if curl -sS -o /dev/null -f --max-time 2 "$@" "$url" 2>/dev/null; then
			return 0
		fi
		sleep 0.2
		i=$((i + 1))
	done
	return 1
}
# start_daemon NAME PIDFILE LOG CMD...: start in its own session, detached
start_daemon() {
	name=$1 pidfile=$2 dlog=$3
	shift 3
	rm -f "$pidfile"
	setsid "$@" --pidfile "$pidfile" </dev/null >>"$dlog" 2>&1 &
	i=0
	while [ ! -s "$pidfile" ]; do
		if ! kill -0 $! 2>/dev/null; then
			echo "$name exited at start-up:"
			tail -n 20 "$dlog"
			return 1
		fi
		[ "$i" -lt 150 ] || { echo "$name wrote no pid file in 30 s"; return 1; }
		sleep 0.2
		i=$((i + 1))
	done
}
# port_free PORT: nothing listens on 127.0.0.1:PORT
port_free() {
	! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}
# curl as a person: curl_as ROLE-VAR-PREFIX ARGS...
curl_as() {
	who=$1
	shift
	eval "c=\$COFFER_${who}_CERT k=\$COFFER_${who}_KEY"
	curl -sS --cacert "$COFFER_CA" --cert "$c" --key "$k" "$@"
}
json_get() {   # json_get FILE EXPR: python3 expression over `j`
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# -- the steps ----------------------------------------------------------------------

s_build() {
	for b in cofferctl coffer-gateway coffer-api; do
		if [ -x "$BIN/$b" ]; then
			echo "built: $BIN/$b"
		else
			note "$b is not built yet: the steps that need it are skipped"
		fi
	done
	# shellcheck disable=SC2012  # three fixed names, only to print them
	note "binaries in ${BIN#"$ROOT"/}/: $(cd "$BIN" && ls -d cofferctl coffer-gateway coffer-api 2>/dev/null | tr '\n' ' ')"
}

s_postgres() {
	sh ops/pg-private.sh start
	eval "$(sh ops/pg-private.sh env)"
	psql_q -d postgres -c "DROP DATABASE IF EXISTS coffer WITH (FORCE)"
	psql_q -d postgres -c "CREATE DATABASE coffer"
	put pghost "$PGHOST"
	put pgport "$PGPORT"
	put pguser "$PGUSER"
	note "socket $PGHOST (port $PGPORT), superuser $PGUSER, database coffer"
}

s_migrate() {
	envsh
	"$COFFER_CTL" migrate --dir migrations
	# Login roles for the services: members of the NOLOGIN privilege roles
	# the migrations made (cluster-wide, so they may exist from a
	# previous run).
	psql_q <<-'EOF'
	DO $$
	DECLARE
		r record;
	BEGIN
		FOR r IN SELECT * FROM (VALUES ('gw', 'coffer_gateway'),
		                               ('api', 'coffer_api'),
		                               ('auditor', 'coffer_verify'),
		                               ('purger', 'coffer_purge')) AS v(login, grp)
		LOOP
			IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r.login) THEN
				EXECUTE format('CREATE ROLE %I LOGIN', r.login);
			END IF;
			EXECUTE format('GRANT %I TO %I', r.grp, r.login);
		END LOOP;
	END
	$$;
	EOF
	m=$(psql_q -c "SELECT count(*) FROM coffer.schema_migrations")
	note "$m migration(s) applied; login roles gw, api, auditor, purger"
	# Audit signing keys (issue 13.5): the operator's (kind ctl; the first
	# one signs its own registration) and purge's, pinned outside the
	# database like every node key.
	# shellcheck disable=SC2097,SC2098  # on purpose: --key-out gets the path,
	# while this cofferctl runs without an audit key (it is making it)
	COFFER_AUDIT_KEY="" "$COFFER_CTL" node init --kind ctl --name "$OPS_NODE" \
	    --key-out "$COFFER_AUDIT_KEY" --pins "$COFFER_NODE_PINS"
	"$COFFER_CTL" node init --kind purge --name "$PURGE_NODE" \
	    --key-out "$COFFER_PURGE_KEY" --pins "$COFFER_NODE_PINS"
	note "audit signing keys: $OPS_NODE (cofferctl), $PURGE_NODE (purge); every audit event is signed"
}

s_tenant() {
	envsh
	for i in 1 2 3; do
		# a demo passphrase per custodian, in a 0600 file
		openssl rand -base64 24 >"$D/secrets/custodian-$i.pass"
	done
	"$COFFER_CTL" tenant init --name "$TENANT" --custodians 3 --threshold 2 \
	    --out "$D/custodians" --passphrase-file "$COFFER_SHARE1_PASSFILE" \
	    --passphrase-file "$COFFER_SHARE2_PASSFILE" \
	    --passphrase-file "$COFFER_SHARE3_PASSFILE" | tee "$ST/tenant.out"
	for i in 1 2 3; do
		eval "s=\$COFFER_SHARE$i p=\$COFFER_SHARE${i}_PASSFILE"
		# shellcheck disable=SC2154  # s and p: set by the eval above
		"$COFFER_CTL" share check "$s" --passphrase-file "$p"
	done
	# The blind-index key goes to the gateway and API hosts only.
	cp -p "$D/custodians/$TENANT.bik" "$D/keys/$TENANT.bik"
	rm -f "$D/custodians/$TENANT.bik"
	# Its pin (T, commitments, public shares) goes with it: the daemons
	# compare the database's tenant key with it.
	cp -p "$D/custodians/$TENANT.pin" "$D/keys/$TENANT.pin"
	rm -f "$D/custodians/$TENANT.pin"
	note "$(sed -n 's/^tenant \([^ ]*\) fingerprint \(.*\)/tenant id \1, key fingerprint \2/p' "$ST/tenant.out")"
	note "3 shares checked; the tenant private key was wiped after the split"
}

s_servers() {
	envsh
	export COFFER_PKI="$D/pki"
	"$COFFER_CTL" pki server --name gateway --dns localhost --ip 127.0.0.1 --out "$D/server"
	"$COFFER_CTL" pki server --name api --dns localhost --ip 127.0.0.1 --out "$D/server"
	openssl verify -CAfile "$COFFER_CA" "$D/server/gateway.crt" "$D/server/api.crt"
	note "server CA ${COFFER_CA#"$ROOT"/}"
}

s_devices() {
	envsh
	export COFFER_PKI="$D/pki"
	"$COFFER_CTL" device ca-init --tenant "$TENANT"
	for dev in dana-iphone marcus-pixel; do
		"$COFFER_CTL" device issue --tenant "$TENANT" --device "$dev" --days 90 --out "$D/devices"
	done
	"$COFFER_CTL" device list --tenant "$TENANT"
	note "dana-iphone, marcus-pixel: ECDSA P-256, 90 days, registered active"
}

s_people() {
	envsh
	export COFFER_PKI="$D/pki"
	"$COFFER_CTL" pki people-ca-init
	"$COFFER_CTL" user issue --role admin --tenant "$TENANT" --name admin --out "$D/people"
	"$COFFER_CTL" user issue --role legal --tenant "$TENANT" --name legal --out "$D/people"
	for i in 1 2 3; do
		"$COFFER_CTL" user issue --role custodian --custodian-index "$i" \
		    --tenant "$TENANT" --name "custodian-$i" --out "$D/people"
	done
	"$COFFER_CTL" user issue --role auditor --tenant "$TENANT" --name auditor --out "$D/people"
	"$COFFER_CTL" user list --tenant "$TENANT"
	note "admin, legal, custodian-1..3, auditor"
}

s_keygen() {
	envsh
	if ctl_has user keygen; then
		set -- user keygen
	elif ctl_has keygen; then
		set -- keygen     # the same command, as a verb of its own
	else
		skip "cofferctl user keygen: not built yet"
	fi
	export COFFER_PKI="$D/pki"
	openssl rand -base64 24 >"$COFFER_LEGAL_SECRET_PASSFILE"
	"$COFFER_CTL" "$@" --tenant "$TENANT" --name legal \
	    --out "$COFFER_LEGAL_SECRET" --passphrase-file "$COFFER_LEGAL_SECRET_PASSFILE"
	note "secret key ${COFFER_LEGAL_SECRET#"$ROOT"/} (passphrase-protected); public key registered"
}

s_nodes() {
	envsh
	"$COFFER_CTL" node init --name "$GW_NODE" --key-out "$D/keys/$GW_NODE.key" \
	    --pins "$COFFER_NODE_PINS"
	"$COFFER_CTL" node init --kind api --name "$API_NODE" \
	    --key-out "$D/keys/$API_NODE.key" --pins "$COFFER_NODE_PINS"
	note "Ed25519 checkpoint keys for $GW_NODE and $API_NODE; public halves in coffer.nodes"
	note "and pinned outside the database in ${COFFER_NODE_PINS#"$ROOT"/}"
}

s_gateway() {
	envsh
	[ -x "$BIN/coffer-gateway" ] || skip "coffer-gateway: not built yet"
	port_free "$GW_PORT" || { echo "127.0.0.1:$GW_PORT is in use (set COFFER_DEMO_PORT)"; exit 1; }
	port_free "$GW_MPORT" || { echo "127.0.0.1:$GW_MPORT is in use (set COFFER_DEMO_PORT)"; exit 1; }
	{
		echo "# var/demo/etc/gateway.conf — written by ops/demo.sh"
		echo "# (every option: ops/config/gateway.conf.sample, README)"
		echo "listen = 127.0.0.1:$GW_PORT"
		echo "metrics_listen = 127.0.0.1:$GW_MPORT"
		[ -z "$RUNAS" ] || echo "user = $RUNAS"
		echo "cert_file = $D/server/gateway.crt"
		echo "key_file = $D/server/gateway.key"
		echo "device_ca_dir = $D/pki/devices"
		echo "node_name = $GW_NODE"
		echo "signing_key_file = $D/keys/$GW_NODE.key"
		echo "keys_dir = $D/keys"
		echo "witness_file = $COFFER_WITNESS"
		echo "pg_conninfo = \"host=$PGHOST port=$PGPORT dbname=coffer user=gw\""
		echo "# a new epoch key every 64 records, so a matter needs only some"
		echo "epoch_records = 64"
	} >"$D/etc/gateway.conf"
	"$BIN/coffer-gateway" --config "$D/etc/gateway.conf" --check-config
	start_daemon coffer-gateway "$COFFER_GATEWAY_PIDFILE" "$D/logs/gateway.log" \
	    "$BIN/coffer-gateway" --config "$D/etc/gateway.conf"
	wait_http "$COFFER_GATEWAY_URL/healthz" 30 --cacert "$COFFER_CA" \
	    --cert "$COFFER_DEVICE_CERT" --key "$COFFER_DEVICE_KEY" ||
	    { echo "gateway does not answer /healthz"; tail -n 20 "$D/logs/gateway.log"; exit 1; }
	put gateway_up 1
	note "pid $(cat "$COFFER_GATEWAY_PIDFILE"), https://127.0.0.1:$GW_PORT, metrics http://127.0.0.1:$GW_MPORT/metrics"
}

# post FILE DEVICE: one request; the NDJSON answer on stdout
post() {
	curl -sS --fail-with-body --cacert "$COFFER_CA" \
	    --cert "$D/devices/$2.crt" --key "$D/devices/$2.key" \
	    -H 'Content-Type: application/x-ndjson' --data-binary "@$1" \
	    "$COFFER_GATEWAY_URL/v1/records"
}

s_ingest() {
	envsh
	[ -n "$(get gateway_up)" ] || skip "needs the gateway (not built yet)"
	python3 ops/demo-corpus.py --out "$D/corpus" | tee "$ST/corpus.out"
	total=0 stored=0 requests=0
	for dev in dana-iphone marcus-pixel; do
		rm -rf "$D/corpus/$dev.parts"
		mkdir -p "$D/corpus/$dev.parts"
		# phones upload in batches, as an endpoint agent would
		split -l 40 -d -a 3 "$D/corpus/$dev.ndjson" "$D/corpus/$dev.parts/batch-"
		for part in "$D/corpus/$dev.parts"/batch-*; do
			post "$part" "$dev" >"$part.receipts"
			lines=$(wc -l <"$part")
			ok=$(grep -c '"status":"stored"' "$part.receipts" || true)
			total=$((total + lines))
			stored=$((stored + ok))
			requests=$((requests + 1))
			if [ "$ok" -ne "$lines" ]; then
				echo "$part: $ok of $lines stored:"
				grep -v '"status":"stored"' "$part.receipts" | head -n 5
				exit 1
			fi
		done
	done
	rows=$(psql_q -c "SELECT count(*) FROM coffer.records")
	epochs=$(psql_q -c "SELECT count(*) FROM coffer.epochs")
	[ "$rows" -eq "$total" ] || { echo "database holds $rows records, sent $total"; exit 1; }
	put epochs "$epochs"
	note "$(sed -n 's/^demo-corpus: //p' "$ST/corpus.out")"
	note "$stored of $total stored in $requests requests; every line has a receipt; $epochs epoch keys"
}

s_duplicate() {
	envsh
	[ -n "$(get gateway_up)" ] || skip "needs the gateway (not built yet)"
	first="$D/corpus/dana-iphone.parts/batch-000"
	post "$first" dana-iphone >"$first.again"
	lines=$(wc -l <"$first")
	dups=$(grep -c '"status":"duplicate"' "$first.again" || true)
	[ "$dups" -eq "$lines" ] || { echo "$dups of $lines duplicate"; cat "$first.again"; exit 1; }
	# same receipts as the first time
	sed 's/"status":"[a-z]*",//' "$first.receipts" >"$ST/r1"
	sed 's/"status":"[a-z]*",//' "$first.again" >"$ST/r2"
	cmp "$ST/r1" "$ST/r2" || { echo "receipts differ on re-send"; exit 1; }
	rows=$(psql_q -c "SELECT count(*) FROM coffer.records")
	note "$dups of $lines answered duplicate with their original receipts; still $rows records"
}

s_at_rest() {
	envsh
	[ -n "$(get gateway_up)" ] || skip "needs ingested records (gateway not built yet)"
	pg_dump --no-owner coffer >"$D/dump.sql"
	hits=0
	python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["canaries"]))' \
	    "$D/corpus/summary.json" >"$ST/canaries"
	while IFS= read -r c; do
		k=$(grep -c -F -- "$c" "$D/dump.sql" || true)
		echo "$k hit(s): $c"
		hits=$((hits + k))
	done <"$ST/canaries"
	for f in "$D/logs/gateway.log" "$PGHOST/../server.log"; do
		[ -f "$f" ] || continue
		k=$(grep -c -F -f "$ST/canaries" "$f" || true)
		echo "$k hit(s) in $f"
		hits=$((hits + k))
	done
	[ "$hits" -eq 0 ] || { echo "plaintext found at rest"; exit 1; }
	size=$(wc -c <"$D/dump.sql")
	note "$(wc -l <"$ST/canaries") known strings (numbers, handles, message ids, bodies, file names):"
	note "0 hits in a $((size / 1024)) KiB pg_dump, the gateway log and the PostgreSQL log"
}

s_api() {
	envsh
	[ -x "$BIN/coffer-api" ] || skip "coffer-api: not built yet"
	port_free "$API_PORT" || { echo "127.0.0.1:$API_PORT is in use (set COFFER_DEMO_PORT)"; exit 1; }
	port_free "$API_MPORT" || { echo "127.0.0.1:$API_MPORT is in use (set COFFER_DEMO_PORT)"; exit 1; }
	mkdir -p "$D/productions" "$D/blind"
	[ -z "$RUNAS" ] || chown "$RUNAS" "$D/productions" "$D/blind"
	: >>"$COFFER_API_AUDIT_WITNESS"          # the API appends its audit heads
	[ -z "$RUNAS" ] || chown "$RUNAS" "$COFFER_API_AUDIT_WITNESS"
	{
		echo "# var/demo/etc/api.conf — written by ops/demo.sh"
		echo "# (every option: ops/config/api.conf.sample, README)"
		echo "listen = 127.0.0.1:$API_PORT"
		echo "metrics_listen = 127.0.0.1:$API_MPORT"
		[ -z "$RUNAS" ] || echo "user = $RUNAS"
		echo "cert_file = $D/server/api.crt"
		echo "key_file = $D/server/api.key"
		echo "people_ca = $D/pki/people/ca.pem"
		echo "people_crl = $D/pki/people/crl.pem"
		echo "node_name = $API_NODE"
		echo "signing_key_file = $D/keys/$API_NODE.key"
		echo "audit_witness_file = $COFFER_API_AUDIT_WITNESS"
		echo "keys_dir = $D/keys"
		echo "node_pins_file = $COFFER_NODE_PINS"
		echo "productions_dir = $D/productions"
		echo "blind_dir = $D/blind"
		echo "pg_conninfo = \"host=$PGHOST port=$PGPORT dbname=coffer user=api\""
	} >"$D/etc/api.conf"
	"$BIN/coffer-api" --config "$D/etc/api.conf" --check-config
	start_daemon coffer-api "$COFFER_API_PIDFILE" "$D/logs/api.log" \
	    "$BIN/coffer-api" --config "$D/etc/api.conf"
	wait_http "$COFFER_API_URL/v1/whoami" 30 --cacert "$COFFER_CA" \
	    --cert "$COFFER_LEGAL_CERT" --key "$COFFER_LEGAL_KEY" ||
	    { echo "API does not answer /v1/whoami"; tail -n 20 "$D/logs/api.log"; exit 1; }
	curl_as LEGAL "$COFFER_API_URL/v1/whoami"
	echo
	put api_up 1
	note "pid $(cat "$COFFER_API_PIDFILE"), https://127.0.0.1:$API_PORT, metrics http://127.0.0.1:$API_MPORT/metrics"
}

# cofferctl as a person: ctl_as ROLE-VAR-PREFIX VERB ARGS... (the API
# options from the demo's environment; legal's workflow needs no curl)
ctl_as() {
	who=$1
	shift
	eval "c=\$COFFER_${who}_CERT k=\$COFFER_${who}_KEY"
	COFFER_CERT=$c COFFER_KEY=$k "$COFFER_CTL" "$@"
}

s_matter() {
	envsh
	[ -n "$(get api_up)" ] || skip "needs the API (not built yet)"
	[ -n "$(get gateway_up)" ] || skip "needs ingested records (gateway not built yet)"
	ctl_has matter || skip "cofferctl matter: not built yet"
	S="$D/corpus/summary.json"
	python3 - "$S" >"$D/matter-args" <<-'EOF'
	import json, sys
	m = json.load(open(sys.argv[1]))["matter"]
	for k in ("title", "legal_basis", "participant", "from", "to"):
	    print(m[k])
	EOF
	{ read -r title; read -r basis; read -r who; read -r from; read -r to; } <"$D/matter-args"
	echo "\$ cofferctl matter create --title '$title' --basis '$basis' --participant '$who' --from $from --to $to"
	ctl_as LEGAL matter create --title "$title" --basis "$basis" \
	    --participant "$who" --from "$from" --to "$to" | tee "$ST/matter-created.txt"
	mid=$(sed -n 's/^matter_id: *\([0-9a-f-]*\)$/\1/p' "$ST/matter-created.txt")
	[ -n "$mid" ] || { echo "no matter id in the output"; exit 1; }
	put matter "$mid"
	ctl_as LEGAL matter show "$mid" --json >"$ST/matter.json"
	ctl_as LEGAL matter show "$mid"
	want=$(json_get "$S" 'len(j["matter"]["expected_ids"])')
	got=$(json_get "$ST/matter.json" 'j["record_count"]')
	nep=$(json_get "$ST/matter.json" 'len(j["epochs"])')
	[ "$got" -eq "$want" ] || { echo "record_count $got, expected $want"; exit 1; }
	note "matter $mid (cofferctl matter create): $got records in scope, in $nep of $(get epochs) epochs; needs 2 of 3 approvals"
}

# approve I: custodian I approves the demo matter with its share
approve() {
	"$COFFER_CTL" approve --api "$COFFER_API_URL" --ca "$COFFER_CA" \
	    --nodes "$COFFER_NODE_PINS" \
	    --cert "$(eval echo "\$COFFER_CUSTODIAN${1}_CERT")" \
	    --key "$(eval echo "\$COFFER_CUSTODIAN${1}_KEY")" \
	    --matter "$(get matter)" --share "$(eval echo "\$COFFER_SHARE$1")" \
	    --passphrase-file "$(eval echo "\$COFFER_SHARE${1}_PASSFILE")" --yes
}

s_approve() {
	envsh
	[ -n "$(get matter)" ] || skip "needs a matter (API not built yet)"
	ctl_has approve || skip "cofferctl approve: not built yet"
	echo "\$ cofferctl approvals pending   # as custodian-1"
	ctl_as CUSTODIAN1 approvals pending | tee "$ST/pending.txt"
	grep -qF "$(get matter)" "$ST/pending.txt" ||
	    { echo "the matter is not in custodian-1's pending approvals"; exit 1; }
	approve 1
	curl_as LEGAL "$COFFER_API_URL/v1/matters/$(get matter)" >"$ST/m1.json"
	# one approval of two: no production yet
	code=$(curl_as LEGAL -o /dev/null -w '%{http_code}' \
	    "$COFFER_API_URL/v1/matters/$(get matter)/production")
	echo "production after one approval: HTTP $code"
	case "$code" in 2??) echo "a production was served after one approval"; exit 1 ;; esac
	approve 2 | tee "$ST/approve2.out"
	grep -q "threshold reached" "$ST/approve2.out" ||
	    { echo "the deciding approval did not say the threshold was reached"; exit 1; }
	note "custodian-1 and custodian-2 approved (blinded partials with Chaum-Pedersen proofs);"
	note "after the first approval alone the production was refused (HTTP $code)"
}

s_production() {
	envsh
	[ -n "$(get matter)" ] || skip "needs a matter (API not built yet)"
	ctl_has approve || skip "needs approvals (cofferctl approve not built yet)"
	mid=$(get matter)
	echo "\$ cofferctl matter wait $mid --timeout 120"
	ctl_as LEGAL matter wait "$mid" --timeout 120
	echo "\$ cofferctl matter download $mid --out production.coffer"
	ctl_as LEGAL matter download "$mid" --out "$D/production.coffer"
	head -c 14 "$D/production.coffer" | grep -q '^COFFER-PROD-1' ||
	    { echo "not a production container"; exit 1; }
	code=$(curl_as AUDITOR -o /dev/null -w '%{http_code}' "$COFFER_API_URL/v1/matters/$mid/production")
	case "$code" in 2??) echo "the auditor could download the production"; exit 1 ;; esac
	note "$(wc -c <"$D/production.coffer") bytes, sealed to legal's key; the auditor's download was refused (HTTP $code)"
}

s_open() {
	envsh
	[ -s "$D/production.coffer" ] || skip "needs a production (API not built yet)"
	ctl_has export || skip "cofferctl export open: not built yet"
	rm -rf "$D/production" "$D/production.coffer"
	# fetch again and open in one step (export open --in FILE does the same for a
	# container already downloaded)
	echo "\$ cofferctl matter download $(get matter) --out production.coffer --key legal.x25519 --open production/"
	ctl_as LEGAL matter download "$(get matter)" --out "$D/production.coffer" \
	    --key "$COFFER_LEGAL_SECRET" --open "$D/production" \
	    --nodes "$COFFER_NODE_PINS" --passphrase-file "$COFFER_LEGAL_SECRET_PASSFILE"
	for f in cover.txt cover.html loadfile.csv manifest.json manifest.sig records.jsonl; do
		[ -s "$D/production/$f" ] || { echo "the opened production lacks $f"; exit 1; }
	done
	ls "$D/production/transcripts/"*.html >/dev/null 2>&1 ||
	    { echo "the opened production has no transcript"; exit 1; }
	python3 - "$D/corpus" "$D/production" "$ROOT/tests/data/rsmf_schema_2_0_0.json" \
	    >"$ST/open.out" <<-'EOF'
	import email, glob, io, json, os, sys, zipfile
	corpus, prod, schema_path = sys.argv[1:4]
	want = sorted(json.load(open(os.path.join(corpus, "summary.json")))["matter"]["expected_ids"])
	sent = {}
	for f in glob.glob(os.path.join(corpus, "*.ndjson")):
	    for l in open(f):
	        r = json.loads(l)
	        sent[r["id"]] = r
	got = {}
	for l in open(os.path.join(prod, "records.jsonl")):
	    o = json.loads(l)
	    got[o["record"]["id"]] = o
	if sorted(got) != want:
	    sys.exit("production holds %d records, expected %d (missing %s, extra %s)"
	             % (len(got), len(want), sorted(set(want) - set(got))[:5],
	                sorted(set(got) - set(want))[:5]))
	for i, o in got.items():
	    r = o["record"]
	    if r.get("body") != sent[i].get("body") or \
	       r.get("attachments", []) != sent[i].get("attachments", []):
	        sys.exit("record %s: body or attachments differ from what was sent" % i)
	    if not o.get("receipt"):
	        sys.exit("record %s has no receipt" % i)
	print("records.jsonl: exactly the %d in-scope records, bodies and attachments as sent" % len(got))
	files = sorted(glob.glob(os.path.join(prod, "rsmf", "*.rsmf")))
	checked = 0
	if os.path.exists(schema_path):
	    import jsonschema
	    schema = json.load(open(schema_path))
	    v = jsonschema.validators.validator_for(schema)(schema)
	    for f in files:
	        msg = email.message_from_binary_file(open(f, "rb"))
	        for part in msg.walk():
	            if part.get_filename() == "rsmf.zip":
	                z = zipfile.ZipFile(io.BytesIO(part.get_payload(decode=True)))
	                v.validate(json.loads(z.read("rsmf_manifest.json")))
	                checked += 1
	    if checked != len(files):
	        sys.exit("%d of %d RSMF files carry an rsmf.zip" % (checked, len(files)))
	print("%d RSMF file(s), %d manifest(s) valid against RSMF 2.0" % (len(files), checked))
	EOF
	cat "$ST/open.out"
	note "$(head -n 1 "$ST/open.out")"
	note "$(tail -n 1 "$ST/open.out"); in var/demo/production/"
}

s_verify() {
	envsh
	ctl_has verify || skip "cofferctl verify: not built yet"
	[ -n "$(get gateway_up)" ] || skip "needs ingested records (gateway not built yet)"
	PGUSER=auditor "$COFFER_CTL" verify --witness "$COFFER_WITNESS" \
	    --witness "$COFFER_AUDIT_WITNESS" --witness "$COFFER_API_AUDIT_WITNESS" \
	    --keys-dir "$COFFER_KEYS_DIR" --nodes "$COFFER_NODE_PINS" | tee "$ST/verify.out"
	note "$(tail -n 1 "$ST/verify.out")"
	note "run as the database role auditor (coffer_verify): it can read ciphertext, never decrypt"
}

s_audit() {
	envsh
	[ -n "$(get api_up)" ] || skip "needs the API (not built yet)"
	curl_as AUDITOR --fail-with-body "$COFFER_API_URL/v1/audit" >"$D/audit.jsonl"
	curl_as AUDITOR --fail-with-body "$COFFER_API_URL/v1/verify" >"$ST/api-verify.json"
	cat "$ST/api-verify.json"
	echo
	status=$(json_get "$ST/api-verify.json" 'j["status"]')
	[ "$status" = clean ] || { echo "API verification: $status"; exit 1; }
	code=$(curl_as AUDITOR -o /dev/null -w '%{http_code}' "$COFFER_API_URL/heapdump")
	[ "$code" = 404 ] || { echo "/heapdump answered $code"; exit 1; }
	note "$(wc -l <"$D/audit.jsonl") hash-chained audit events; API verification: $status; /heapdump: 404"
}

s_metrics() {
	envsh
	[ -n "$(get gateway_up)" ] || skip "needs the gateway (not built yet)"
	curl -sS --fail "http://127.0.0.1:$GW_MPORT/metrics" >"$ST/metrics.txt"
	grep -E '^coffer_gateway_records_total|^coffer_gateway_handshakes_total' "$ST/metrics.txt" || true
	v=$(grep -c '^coffer_' "$ST/metrics.txt")
	code=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$GW_MPORT/heapdump")
	[ "$code" != 200 ] || { echo "/heapdump answered 200 on the metrics listener"; exit 1; }
	a=""
	if [ -n "$(get api_up)" ]; then
		curl -sS --fail "http://127.0.0.1:$API_MPORT/metrics" >"$ST/api-metrics.txt"
		grep -E '^coffer_api_(requests|approvals|productions)_total' "$ST/api-metrics.txt" || true
		a=", $(grep -c '^coffer_' "$ST/api-metrics.txt") API series"
	fi
	note "$v gateway series$a on loopback metrics listeners; /heapdump there: $code"
}

s_summary_env() {
	envsh
	# the environment file must name every file it exports, once they exist
	missing=""
	for v in COFFER_CA COFFER_DEVICE_CERT COFFER_DEVICE_KEY COFFER_ADMIN_CERT \
	    COFFER_LEGAL_CERT COFFER_CUSTODIAN1_CERT COFFER_CUSTODIAN3_KEY \
	    COFFER_AUDITOR_KEY COFFER_SHARE1 COFFER_SHARE3_PASSFILE COFFER_CTL; do
		eval "f=\$$v"
		[ -e "$f" ] || missing="$missing $v"
	done
	[ -z "$missing" ] || { echo "env names missing files:$missing"; exit 1; }
	if [ -n "$(get gateway_up)" ]; then
		# the README's example, exactly as shown above
		echo '{"id":"my-1","channel":"sms","conversation":"c-1","direction":"out","sender":"+15550100011","recipients":["+15550100099"],"sent_at":"2026-01-05T10:00:00Z","body":"hello"}' |
		    curl --cacert "$COFFER_CA" --cert "$COFFER_DEVICE_CERT" --key "$COFFER_DEVICE_KEY" \
		         --data-binary @- "$COFFER_GATEWAY_URL/v1/records" >"$ST/yours.json"
		cat "$ST/yours.json"
		grep -q '"status":"stored"' "$ST/yours.json"
		note "the example above was run: $(sed 's/.*"status":"\([a-z]*\)".*/\1/' "$ST/yours.json"), receipt $(sed 's/.*"receipt":"\([^"]*\)".*/\1/' "$ST/yours.json" | cut -c1-48)..."
	fi
	note "${D#"$ROOT"/}/env: \`. var/demo/env\` to try things by hand"
}

# -- the story ------------------------------------------------------------------------
printf '%sCoffer demo%s: Northwind Capital archives its trading desk'"'"'s phones\n' "$B" "$N"
echo "Every command below runs after \`. var/demo/env\` from $ROOT."

begin "Build"
say "Coffer is three C programs: coffer-gateway (ingest), coffer-api" \
    "(eDiscovery) and cofferctl (operators and custodians)."
show "make deps && make"
finish s_build

begin "A private PostgreSQL under ./var/pg"
say "No system database needed: a PostgreSQL 15 cluster owned by an unprivileged" \
    "user, listening only on a Unix socket in a private directory.  The demo" \
    "database 'coffer' is recreated on each run."
show "sh ops/pg-private.sh start && createdb coffer"
finish s_postgres
PGRUN=$(get pghost)
PGPORT=$(get pgport)
PGOWNER=$(get pguser)
write_env

begin "Schema, append-only triggers and least-privilege roles"
say "Migrations make the tables (keyed by tenant first), the triggers that refuse" \
    "UPDATE/DELETE on evidence, and four roles: gateway (insert only), api," \
    "verify (read, never decrypt) and purge."
# shellcheck disable=SC2016  # shown to the reader as typed, not expanded
show '"$COFFER_CTL" migrate --dir migrations'
finish s_migrate

begin "Key ceremony: tenant 'northwind', 2 of 3 custodians"
say "The tenant archive key is generated, split with Shamir (Feldman-checked)" \
    "among three custodians, each share sealed under its custodian's passphrase" \
    "(Argon2id), and wiped.  Only the public key stays with the servers."
show "\"\$COFFER_CTL\" tenant init --name $TENANT --custodians 3 --threshold 2 --out var/demo/custodians \\"
say "      --passphrase-file \"\$COFFER_SHARE1_PASSFILE\" --passphrase-file ... (one per custodian)"
# shellcheck disable=SC2016  # shown to the reader as typed, not expanded
show '"$COFFER_CTL" share check "$COFFER_SHARE1" --passphrase-file "$COFFER_SHARE1_PASSFILE"'
finish s_tenant

begin "Server certificates for the gateway and the API"
say "Clients pin the server CA (\$COFFER_CA); both daemons speak TLS only."
# shellcheck disable=SC2016  # shown to the reader as typed, not expanded
show '"$COFFER_CTL" pki server --name gateway --dns localhost --ip 127.0.0.1 --out var/demo/server --pki var/demo/pki'
finish s_servers

begin "Device CA and two managed phones"
say "Each tenant has its own device CA; a phone's certificate (O = tenant," \
    "CN = device) is its only credential.  Revocation is by CRL."
show "\"\$COFFER_CTL\" device ca-init --tenant $TENANT --pki var/demo/pki"
show "\"\$COFFER_CTL\" device issue --tenant $TENANT --device dana-iphone --days 90 --out var/demo/devices --pki var/demo/pki"
finish s_devices

begin "People: admin, legal, three custodians, auditor"
say "People authenticate to the API with client certificates from the people CA;" \
    "the role is in the certificate and in the database."
show "\"\$COFFER_CTL\" user issue --role custodian --custodian-index 1 --tenant $TENANT --name custodian-1 --out var/demo/people --pki var/demo/pki"
finish s_people

if ctl_has user keygen || ! ctl_has keygen; then KEYGEN="user keygen"; else KEYGEN=keygen; fi
begin "Legal's production key"
say "Productions are sealed to the requesting lawyer's X25519 key; the secret" \
    "half never leaves legal's machine and is passphrase-protected."
show "\"\$COFFER_CTL\" $KEYGEN --tenant $TENANT --name legal --out \"\$COFFER_LEGAL_SECRET\" --passphrase-file \"\$COFFER_LEGAL_SECRET_PASSFILE\""
finish s_keygen

begin "Node signing keys"
say "The gateway signs every batch's chain head (checkpoint); the API signs the" \
    "audit log.  Their public keys are registered in the database."
show "\"\$COFFER_CTL\" node init --name $GW_NODE --key-out var/demo/keys/$GW_NODE.key --pins var/demo/keys/nodes.pins"
finish s_nodes

begin "Start coffer-gateway on 127.0.0.1:$GW_PORT"
say "It holds the tenant's public key and blind-index key, never a private key." \
    "Started as root it drops to an unprivileged user after binding."
show "coffer-gateway --config var/demo/etc/gateway.conf --pidfile \"\$COFFER_GATEWAY_PIDFILE\""
finish s_gateway

begin "Ingest a few hundred messages over mutual TLS"
say "Three weeks of a trading desk: Signal, WhatsApp, Telegram, WeChat, SMS and" \
    "RCS, clients and colleagues, group chats, images, spreadsheets, PDFs." \
    "Each line is sealed under the current epoch key before it reaches" \
    "PostgreSQL; its receipt is sent only after COMMIT."
show "curl --cacert \"\$COFFER_CA\" --cert \"\$COFFER_DEVICE_CERT\" --key \"\$COFFER_DEVICE_KEY\" \\"
say "       -H 'Content-Type: application/x-ndjson' --data-binary @var/demo/corpus/dana-iphone.ndjson \\"
say "       \"\$COFFER_GATEWAY_URL/v1/records\""
finish s_ingest

begin "Re-sending is harmless"
say "A phone that lost a reply sends again: every line is answered 'duplicate'" \
    "with its original receipt, and nothing is stored twice."
show "curl ... --data-binary @var/demo/corpus/dana-iphone.parts/batch-000 \"\$COFFER_GATEWAY_URL/v1/records\""
finish s_duplicate independent

begin "Nothing readable at rest"
say "A stolen database shows times, channels and sizes, not content and not who" \
    "spoke to whom: search a full dump for numbers, handles, ids and text."
show "pg_dump coffer | grep -c -e '+15550100011' -e 'wxid_lin_mei' -e \"Who's covering the curve\""
finish s_at_rest independent

begin "Start coffer-api on 127.0.0.1:$API_PORT"
say "The only way content leaves Coffer.  Every request, allowed or refused, is" \
    "written to the hash-chained audit log before it takes effect."
show "coffer-api --config var/demo/etc/api.conf --pidfile \"\$COFFER_API_PIDFILE\""
finish s_api

begin "Legal opens a matter"
say "Everything Dana Whitfield sent or received in one week, for a subpoena." \
    "The phone number becomes a blind token at once and is not stored."
show "curl --cacert \"\$COFFER_CA\" --cert \"\$COFFER_LEGAL_CERT\" --key \"\$COFFER_LEGAL_KEY\" \\"
say "       --data-binary @var/demo/matter-request.json \"\$COFFER_API_URL/v1/matters\""
finish s_matter

MATTER=$(get matter)
begin "Two of three custodians approve"
say "Each custodian sees the matter, unlocks the share locally and sends only" \
    "partial decryptions for the matter's epochs, with proofs.  The share never" \
    "leaves the custodian's machine; the tenant key is never rebuilt."
show "\"\$COFFER_CTL\" approve --api \"\$COFFER_API_URL\" --ca \"\$COFFER_CA\" --cert \"\$COFFER_CUSTODIAN1_CERT\" --key \"\$COFFER_CUSTODIAN1_KEY\" \\"
say "       --nodes \"\$COFFER_NODE_PINS\" --matter ${MATTER:-MATTER-ID} --share \"\$COFFER_SHARE1\" --passphrase-file \"\$COFFER_SHARE1_PASSFILE\""
finish s_approve

begin "The production is built and downloaded"
say "With two valid approvals the API unwraps only the matter's epoch keys," \
    "decrypts only in-scope records and seals an RSMF production to legal."
show "curl --cacert \"\$COFFER_CA\" --cert \"\$COFFER_LEGAL_CERT\" --key \"\$COFFER_LEGAL_KEY\" \\"
say "       -o var/demo/production.coffer \"\$COFFER_API_URL/v1/matters/${MATTER:-MATTER-ID}/production\""
finish s_production

begin "Legal opens the production locally"
say "Decrypted on legal's machine with the secret key and proved: the API's" \
    "signature and every record's leaf hash, inclusion proof and gateway" \
    "checkpoint are checked against the pinned node keys."
show "\"\$COFFER_CTL\" export open --in var/demo/production.coffer --key \"\$COFFER_LEGAL_SECRET\" \\"
say "       --nodes \"\$COFFER_NODE_PINS\" --passphrase-file \"\$COFFER_LEGAL_SECRET_PASSFILE\" --out var/demo/production"
finish s_open independent

begin "Prove that nothing was altered, reordered or removed"
say "Recompute every leaf hash, Merkle root and chain head, check every signed" \
    "checkpoint and the audit chain, and compare with the gateway's witness file."
show "PGUSER=auditor \"\$COFFER_CTL\" verify --witness \"\$COFFER_WITNESS\" --witness \"\$COFFER_AUDIT_WITNESS\" --witness \"\$COFFER_API_AUDIT_WITNESS\" --keys-dir \"\$COFFER_KEYS_DIR\" --nodes \"\$COFFER_NODE_PINS\""
finish s_verify independent

begin "The auditor's view"
say "The auditor reads the hash-chained audit log and runs the same verification" \
    "over the API; diagnostic routes such as /heapdump do not exist."
show "curl --cacert \"\$COFFER_CA\" --cert \"\$COFFER_AUDITOR_CERT\" --key \"\$COFFER_AUDITOR_KEY\" \"\$COFFER_API_URL/v1/audit\""
finish s_audit independent

begin "Metrics"
say "Prometheus text on a separate loopback listener per daemon: counters and" \
    "histograms, never a secret, an identifier or content; no debug routes."
show "curl http://127.0.0.1:$GW_MPORT/metrics; curl http://127.0.0.1:$API_MPORT/metrics"
finish s_metrics independent

begin "Your turn"
say "Source the environment and post a record yourself:"
show ". var/demo/env"
show "echo '{\"id\":\"my-1\",\"channel\":\"sms\",\"conversation\":\"c-1\",\"direction\":\"out\",\"sender\":\"+15550100011\",\"recipients\":[\"+15550100099\"],\"sent_at\":\"2026-01-05T10:00:00Z\",\"body\":\"hello\"}' |"
say "    curl --cacert \"\$COFFER_CA\" --cert \"\$COFFER_DEVICE_CERT\" --key \"\$COFFER_DEVICE_KEY\" \\"
say "         --data-binary @- \"\$COFFER_GATEWAY_URL/v1/records\""
say "Stop everything with: make demo-stop"
finish s_summary_env

total=$((passed + failed + skipped + notrun))
echo
if [ "$failed" -eq 0 ] && [ "$skipped" -eq 0 ]; then
	printf '%sdemo: all %d steps passed%s\n' "$G" "$passed" "$N"
elif [ "$failed" -eq 0 ]; then
	printf '%sdemo: %d passed, %d skipped (steps%s: not built yet), 0 failed%s\n' \
	    "$Y" "$passed" "$skipped" "$skipped_list" "$N"
else
	printf '%sdemo: %d passed, %d failed, %d skipped, %d not run (of %d)%s\n' \
	    "$R" "$passed" "$failed" "$skipped" "$notrun" "$total" "$N"
	echo "demo: logs in ${D#"$ROOT"/}/logs/; 'make demo-stop' stops what was started"
	exit 1
fi
echo "demo: daemons keep running; '. var/demo/env' to try things, 'make demo-stop' to stop"
