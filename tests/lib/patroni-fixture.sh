# tests/lib/patroni-fixture.sh — a replicated PostgreSQL for tests: one
# etcd member and three PostgreSQL 15 clusters managed by Patroni
# (packages patroni, etcd-server), synchronous replication in strict mode
# (ops/patroni/coffer.yml is the operators' version of the same settings).
# POSIX sh; source it from a script running inside tests/pg-harness.sh
# (for $BUILD, $COFFER_TEST_TMP, the coffertest user when run as root).
# Sources db-setup.sh (from ../lib beside the script's own directory):
# pf_setup_db sets up roles and signers the way the harness does.
#
# Everything listens on 127.0.0.1 (ports chosen free at start) and lives in
# one scratch directory, removed by pf_cleanup; the PostgreSQL servers and
# Patroni run as the harness's server owner (coffertest as root).
#
#   pf_init              scratch $PF_DIR, ports, etcd started
#   pf_start N           Patroni for node pgN (N = 1..3): bootstraps the
#                        cluster (the first one) or joins it as a replica
#                        (pg_basebackup, or pg_rewind after a failover)
#   pf_cluster           "name role state lag" per member (REST /cluster)
#   pf_leader            the leader's name (pgN), empty while there is none
#   pf_wait_leader [S]   wait (S s, 60 by default) for a leader whose
#                        PostgreSQL runs and accepts writes; prints its name
#   pf_wait_sync [S]     wait until the leader has a streaming synchronous
#                        standby (pg_stat_replication)
#   pf_wait_members N [S] wait until the leader streams to N - 1 standbys
#   pf_leader_sql SQL    run SQL as postgres on the leader, print the result
#   pf_kill N            kill -9 node N's Patroni and then its postmaster
#                        (the host is lost: nothing is shut down cleanly)
#   pf_stop N            stop node N (Patroni SIGTERM: PostgreSQL stopped
#                        fast, no failover if it is a replica)
#   pf_switchover FROM TO  planned switchover through the REST API
#   pf_setup_db          database coffer on the leader: migrations, the
#                        harness's login roles (gw api auditor purger), the
#                        ctl and purge audit signers; exports PGHOST, PGPORT
#                        (multi-host: all three nodes), PGDATABASE=coffer,
#                        PGTARGETSESSIONATTRS=read-write, COFFER_BASE_PINS,
#                        COFFER_AUDIT_KEY/NODE, COFFER_PURGE_KEY/NODE
#   pf_cleanup           stop everything (kill -9), remove $PF_DIR
#
# PF_STRICT=off makes synchronous_mode_strict false (writes go on without
# a standby: the availability trade-off in README "Replication and
# failover").  PF_TTL (default 20) is Patroni's leader-key lifetime, the
# bound on failover detection after a host is lost.

PF_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
# shellcheck source=db-setup.sh
. "$PF_LIB/db-setup.sh"

PF_PGBIN=${COFFER_PGBIN:-/usr/lib/postgresql/15/bin}
PF_DIR=""
PF_ETCD_PID=""
PF_NODES="1 2 3"

pf_err() { echo "patroni-fixture: $*" >&2; }

pf_as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u coffertest -- "$@"
	else
		"$@"
	fi
}

pf_free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pf_init() {
	command -v patroni >/dev/null || { pf_err "patroni not installed (make deps)"; return 1; }
	command -v etcd >/dev/null || { pf_err "etcd not installed (make deps)"; return 1; }
	PF_DIR=$(mktemp -d "${COFFER_TEST_TMP:-/tmp}/patroni.XXXXXX") || return 1
	chmod 0755 "$PF_DIR"
	[ "$(id -u)" -eq 0 ] && chown coffertest "$PF_DIR"
	PF_ETCD_CLIENT=$(pf_free_port) && PF_ETCD_PEER=$(pf_free_port) || return 1
	for n in $PF_NODES; do
		eval "PF_PG$n=\$(pf_free_port)" && eval "PF_REST$n=\$(pf_free_port)" || return 1
	done
	# etcd as the server owner too: one member, its data under $PF_DIR
	pf_as_owner etcd --name pf-etcd --data-dir "$PF_DIR/etcd" \
	    --listen-client-urls "http://127.0.0.1:$PF_ETCD_CLIENT" \
	    --advertise-client-urls "http://127.0.0.1:$PF_ETCD_CLIENT" \
	    --listen-peer-urls "http://127.0.0.1:$PF_ETCD_PEER" \
	    --initial-advertise-peer-urls "http://127.0.0.1:$PF_ETCD_PEER" \
	    --initial-cluster "pf-etcd=http://127.0.0.1:$PF_ETCD_PEER" \
	    --log-level error >"$PF_DIR/etcd.log" 2>&1 &
	PF_ETCD_PID=$!
	i=0
	while [ $i -lt 100 ]; do
		curl -sf "http://127.0.0.1:$PF_ETCD_CLIENT/health" >/dev/null 2>&1 && return 0
		kill -0 "$PF_ETCD_PID" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	tail -5 "$PF_DIR/etcd.log" >&2
	pf_err "etcd did not start"
	return 1
}

pf_config() {   # pf_config N: write $PF_DIR/pgN.yml
	n=$1
	pg=$(eval "echo \$PF_PG$n")
	rest=$(eval "echo \$PF_REST$n")
	strict=true
	[ "${PF_STRICT:-on}" = off ] && strict=false
	mkdir -p "$PF_DIR/sock$n"
	cat >"$PF_DIR/pg$n.yml" <<EOF
# written by tests/lib/patroni-fixture.sh
scope: coffer-test
name: pg$n
log:
  level: WARNING
restapi:
  listen: 127.0.0.1:$rest
  connect_address: 127.0.0.1:$rest
etcd3:
  hosts: 127.0.0.1:$PF_ETCD_CLIENT
bootstrap:
  dcs:
    ttl: ${PF_TTL:-20}
    loop_wait: 1
    retry_timeout: 5
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    synchronous_mode_strict: $strict
    synchronous_node_count: 1
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        wal_log_hints: 'on'
        hot_standby: 'on'
        max_wal_senders: 10
        max_replication_slots: 10
        max_connections: 100
        synchronous_commit: 'on'
        fsync: 'on'
  initdb:
    - encoding: UTF8
    - no-locale
    - username: postgres
postgresql:
  listen: 127.0.0.1:$pg
  connect_address: 127.0.0.1:$pg
  data_dir: $PF_DIR/data$n
  bin_dir: $PF_PGBIN
  pgpass: $PF_DIR/pgpass$n
  authentication:
    superuser:
      username: postgres
    replication:
      username: postgres
    rewind:
      username: postgres
  parameters:
    unix_socket_directories: '$PF_DIR/sock$n'
    shared_buffers: 32MB
    log_min_messages: warning
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication all 127.0.0.1/32 trust
EOF
	[ "$(id -u)" -eq 0 ] && chown coffertest "$PF_DIR/pg$n.yml" "$PF_DIR/sock$n"
	return 0
}

pf_start() {
	n=$1
	[ -f "$PF_DIR/pg$n.yml" ] || pf_config "$n" || return 1
	# without the client's PG* variables: postgres itself reads PGPORT
	pf_as_owner env -u PGHOST -u PGPORT -u PGDATABASE -u PGUSER \
	    -u PGTARGETSESSIONATTRS patroni "$PF_DIR/pg$n.yml" \
	    >>"$PF_DIR/patroni$n.log" 2>&1 &
	eval "PF_PID$n=$!"
	return 0
}

# "name role state lag" of every member, from any node's REST API
pf_cluster() {
	for n in $PF_NODES; do
		eval "rest=\$PF_REST$n"
		out=$(curl -sf --max-time 2 "http://127.0.0.1:$rest/cluster" 2>/dev/null) || continue
		printf '%s' "$out" | python3 -c '
import json, sys
for m in json.load(sys.stdin).get("members", []):
    print(m.get("name"), m.get("role"), m.get("state"), m.get("lag", 0))' && return 0
	done
	return 1
}

pf_leader() {
	pf_cluster 2>/dev/null | awk '$2 == "leader" && $3 == "running" { print $1; exit }'
}

pf_port_of() {   # pf_port_of pgN -> its PostgreSQL port
	eval "echo \$PF_PG${1#pg}"
}

pf_wait_leader() {
	lim=$(($(date +%s) + ${1:-60}))
	while [ "$(date +%s)" -lt "$lim" ]; do
		l=$(pf_leader)
		if [ -n "$l" ]; then
			ro=$(psql -X -A -t -h 127.0.0.1 -p "$(pf_port_of "$l")" -U postgres \
			    -d postgres -c 'SHOW transaction_read_only' 2>/dev/null)
			[ "$ro" = off ] && { echo "$l"; return 0; }
		fi
		sleep 0.2
	done
	pf_err "no writable leader within ${1:-60} s"
	return 1
}

pf_leader_sql() {   # pf_leader_sql SQL: run it on the current leader
	l=$(pf_leader)
	[ -n "$l" ] || return 1
	psql -X -A -t -h 127.0.0.1 -p "$(pf_port_of "$l")" -U postgres \
	    -d postgres -c "$1" 2>/dev/null
}

# A standby counts once the leader sees it streaming (Patroni 3.0 reports
# replicas as "running" before they connect); the synchronous one is the
# one the leader lists as sync.
pf_wait_sync() {
	lim=$(($(date +%s) + ${1:-60}))
	while [ "$(date +%s)" -lt "$lim" ]; do
		c=$(pf_leader_sql "SELECT count(*) FROM pg_stat_replication
		    WHERE state = 'streaming' AND sync_state = 'sync'")
		[ "${c:-0}" -ge 1 ] && return 0
		sleep 0.2
	done
	pf_err "no streaming synchronous standby within ${1:-60} s"
	pf_cluster >&2
	return 1
}

pf_wait_members() {
	lim=$(($(date +%s) + ${2:-60}))
	while [ "$(date +%s)" -lt "$lim" ]; do
		c=$(pf_leader_sql "SELECT count(*) FROM pg_stat_replication
		    WHERE state = 'streaming'")
		[ "${c:-0}" -ge $(($1 - 1)) ] && return 0
		sleep 0.2
	done
	pf_err "fewer than $1 members streaming within ${2:-60} s"
	pf_cluster >&2
	return 1
}

pf_postmaster() {   # pid of node N's postmaster, from its pid file
	head -1 "$PF_DIR/data$1/postmaster.pid" 2>/dev/null
}

pf_kill() {
	n=$1
	pm=$(pf_postmaster "$n")
	# Patroni first (and runuser, its parent as root), so it cannot restart
	# PostgreSQL; then the postmaster and, like a power cut, every backend
	pkill -9 -f "^[^ ]*(runuser|env|python3?|patroni) .*$PF_DIR/pg$n.yml" 2>/dev/null
	if [ -n "$pm" ]; then
		kids=$(pgrep -P "$pm")
		# shellcheck disable=SC2086  # a list of pids
		kill -9 "$pm" $kids 2>/dev/null
	fi
	eval "pp=\${PF_PID$n:-}"
	[ -n "$pp" ] && wait "$pp" 2>/dev/null
	eval "PF_PID$n="
	return 0
}

pf_stop() {
	n=$1
	eval "pp=\${PF_PID$n:-}"
	[ -n "$pp" ] || return 0
	pkill -TERM -f "^[^ ]*(python3?|patroni) .*$PF_DIR/pg$n.yml" 2>/dev/null
	i=0
	while kill -0 "$pp" 2>/dev/null && [ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -0 "$pp" 2>/dev/null && pf_kill "$n"
	wait "$pp" 2>/dev/null
	eval "PF_PID$n="
	return 0
}

pf_switchover() {
	eval "rest=\$PF_REST${1#pg}"
	curl -sf --max-time 60 -X POST -H 'Content-Type: application/json' \
	    -d "{\"leader\": \"$1\", \"candidate\": \"$2\"}" \
	    "http://127.0.0.1:$rest/switchover" >"$PF_DIR/switchover.out" 2>&1 || {
		pf_err "switchover $1 -> $2 refused: $(cat "$PF_DIR/switchover.out")"
		return 1
	}
}

pf_setup_db() {
	l=$(pf_wait_leader 90) || return 1
	PGHOST=127.0.0.1,127.0.0.1,127.0.0.1
	PGPORT=$PF_PG1,$PF_PG2,$PF_PG3
	PGDATABASE=coffer
	PGUSER=postgres
	PGTARGETSESSIONATTRS=read-write
	export PGHOST PGPORT PGDATABASE PGUSER PGTARGETSESSIONATTRS
	psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE coffer" ||
	    { pf_err "CREATE DATABASE on $l"; return 1; }
	"$BUILD/cofferctl" migrate --dir "${COFFER_MIGRATIONS_DIR:-migrations}" \
	    >"$PF_DIR/migrate.log" 2>&1 || { cat "$PF_DIR/migrate.log" >&2; pf_err "migrations"; return 1; }
	# the harness's signers are registered in its own database, not here
	unset COFFER_AUDIT_KEY COFFER_AUDIT_NODE COFFER_PURGE_KEY COFFER_PURGE_NODE
	dbs_roles_signers "$PF_DIR/audit" pf psql -X -q -v ON_ERROR_STOP=1 ||
	    { pf_err "$DBS_ERR"; return 1; }
	return 0
}

pf_cleanup() {
	[ -n "$PF_DIR" ] || return 0
	for n in $PF_NODES; do
		pf_kill "$n"
	done
	[ -n "$PF_ETCD_PID" ] && kill -9 "$PF_ETCD_PID" 2>/dev/null && wait "$PF_ETCD_PID" 2>/dev/null
	PF_ETCD_PID=""
	# PF_KEEP=DIR keeps the Patroni and etcd logs for a post-mortem
	[ -n "${PF_KEEP:-}" ] && mkdir -p "$PF_KEEP" && cp "$PF_DIR"/*.log "$PF_KEEP/" 2>/dev/null
	# a backend killed a moment ago may still be writing its last file
	rm -rf "$PF_DIR" 2>/dev/null || { sleep 0.5; rm -rf "$PF_DIR"; }
	PF_DIR=""
}
