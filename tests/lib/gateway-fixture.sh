# tests/lib/gateway-fixture.sh — a running coffer-gateway for integration
# tests, demos and benchmarks.  POSIX sh; source it (". tests/lib/gateway-
# fixture.sh") from a script running inside tests/pg-harness.sh, which
# provides the PG* environment, $BUILD and $COFFER_TEST_TMP.
#
# Everything lives in one scratch directory, removed with the gateway on
# exit.  Real tools only: cofferctl (tenant init, node init, device ca-init,
# device issue, pki server) and curl.
#
# Functions (return 0 on success, non-zero with a message on stderr):
#   gwf_init              scratch dir $GWF_DIR, COFFER_PKI=$GWF_DIR/pki,
#                         EXIT/INT/TERM trap running gwf_cleanup (set
#                         GWF_NO_TRAP=1 to install your own and call it)
#   gwf_server_cert       server certificate for localhost/127.0.0.1 from
#                         the PKI's server CA -> $GWF_SRV_CA (trust anchor
#                         for clients), $GWF_SRV_CRT, $GWF_SRV_KEY
#   gwf_tenant NAME       tenant NAME (2 custodians, threshold 2, passphrase
#                         files in $GWF_DIR/tenants/NAME/), its blind-index
#                         key moved to $GWF_KEYS, its device CA
#                         (GWF_D3P=I: share I held by the designated third party)
#   gwf_device TENANT DEVICE [cofferctl device issue options...]
#                         registered device certificate ->
#                         $GWF_CERTS/DEVICE.crt and .key; the first one
#                         becomes $GWF_PROBE (used to wait for /healthz)
#   gwf_node NAME         node NAME and its checkpoint key $GWF_NODE_KEY, its
#                         public key appended to $COFFER_NODE_PINS (exported
#                         by gwf_init: $GWF_DIR/nodes.pins)
#   gwf_config ["key = value"]...
#                         write $GWF_CONF on a free loopback port
#                         ($GWF_PORT; metrics on $GWF_METRICS_PORT); each
#                         argument replaces the default line of its key or
#                         is added.  As root, `user = nobody` and the key
#                         files are made group-readable for it.
#   gwf_start [DEVICE]    start coffer-gateway in the background ($GWF_PID,
#                         log $GWF_LOG, pid file $GWF_PIDFILE) and wait until
#                         GET /healthz answers 200 with DEVICE's certificate
#                         (default $GWF_PROBE; without any device: until the
#                         start line is logged).  Gives up after 15 s.
#   gwf_simple TENANT DEVICE NODE ["key = value"]...
#                         the common case in one go: server certificate,
#                         one tenant, one device, one node, gwf_config with
#                         the arguments given, gwf_start
#   gwf_hup               SIGHUP, then wait until the reload is logged
#   gwf_stop [SIGNAL]     signal (TERM by default), wait at most 30 s, then
#                         kill -9; the gateway's exit status in $GWF_EXIT
#   gwf_url PATH          https://127.0.0.1:$GWF_PORT/PATH
#   gwf_curl DEVICE ARGS... curl -sS with the server CA and DEVICE's
#                         certificate and key (DEVICE "-" for none)
#   gwf_cleanup           stop the gateway (kill -9), remove $GWF_DIR
#
# Variables: GWF_CTL, GWF_GW (binaries, from $BUILD), GWF_DIR, GWF_CERTS,
# GWF_KEYS, GWF_CONF, GWF_LOG, GWF_PIDFILE, GWF_PORT, GWF_METRICS_PORT,
# GWF_PID, GWF_EXIT, GWF_PASSPHRASE (the passphrase used for custodians).

GWF_BUILD=${BUILD:-build}
case "$GWF_BUILD" in /*) ;; *) GWF_BUILD="$(pwd)/$GWF_BUILD" ;; esac
GWF_CTL="$GWF_BUILD/cofferctl"
GWF_GW="$GWF_BUILD/coffer-gateway"
GWF_DIR=""
GWF_PID=""
GWF_EXIT=""
GWF_PROBE=""
GWF_PASSPHRASE="fixture passphrase, not a secret: correct horse battery"

gwf_err() {
	echo "gateway-fixture: $*" >&2
	return 1
}

gwf_cleanup() {
	if [ -n "$GWF_PID" ]; then
		kill -9 "$GWF_PID" 2>/dev/null
		wait "$GWF_PID" 2>/dev/null
		GWF_PID=""
	fi
	if [ -n "$GWF_DIR" ] && [ -d "$GWF_DIR" ]; then
		rm -rf "$GWF_DIR"
	fi
	GWF_DIR=""
}

gwf_init() {
	for f in "$GWF_CTL" "$GWF_GW"; do
		[ -x "$f" ] || { gwf_err "$f not built (make)"; return 1; }
	done
	command -v curl >/dev/null 2>&1 || { gwf_err "curl missing"; return 1; }
	GWF_DIR=$(mktemp -d "${COFFER_TEST_TMP:-${TMPDIR:-/tmp}}/gwf.XXXXXX") ||
	    { gwf_err "mktemp failed"; return 1; }
	# the gateway may run as another user (nobody): it must reach the CAs
	chmod 0755 "$GWF_DIR"
	GWF_CERTS="$GWF_DIR/certs"
	GWF_KEYS="$GWF_DIR/keys"
	GWF_CONF="$GWF_DIR/gw.conf"
	GWF_LOG="$GWF_DIR/gw.log"
	GWF_PIDFILE="$GWF_DIR/gw.pid"
	mkdir -p "$GWF_CERTS" "$GWF_KEYS" "$GWF_DIR/srv" "$GWF_DIR/tenants"
	chmod 0700 "$GWF_CERTS"
	chmod 0750 "$GWF_KEYS"
	: >"$GWF_LOG"
	COFFER_PKI="$GWF_DIR/pki"
	export COFFER_PKI
	# node pins (`node init --pins`): cofferctl verify and approve read them
	COFFER_NODE_PINS="$GWF_DIR/nodes.pins"
	export COFFER_NODE_PINS
	# the harness's audit signers (ctl, purge) are pinned too
	if [ -n "${COFFER_BASE_PINS:-}" ] && [ -f "$COFFER_BASE_PINS" ]; then
		cp "$COFFER_BASE_PINS" "$COFFER_NODE_PINS" || return 1
	fi
	if [ "${GWF_NO_TRAP:-0}" != 1 ]; then
		trap gwf_cleanup EXIT
		trap 'exit 130' INT
		trap 'exit 143' TERM
	fi
}

gwf_run() {   # gwf_run WHAT CMD...: run, show output on failure
	what=$1
	shift
	if ! "$@" >"$GWF_DIR/ctl.out" 2>&1; then
		cat "$GWF_DIR/ctl.out" >&2
		gwf_err "$what failed"
		return 1
	fi
}

gwf_server_cert() {
	# GWF_CERT_DAYS: validity of the server and device certificates
	# (fixtures made on a past clock want them to reach past today)
	# shellcheck disable=SC2086 # one option and its value, or nothing
	gwf_run "pki server" "$GWF_CTL" pki server --name gw --dns localhost \
	    --ip 127.0.0.1 --out "$GWF_DIR/srv" \
	    ${GWF_CERT_DAYS:+--days $GWF_CERT_DAYS} || return 1
	GWF_SRV_CA="$COFFER_PKI/server/ca.pem"
	GWF_SRV_CRT="$GWF_DIR/srv/gw.crt"
	GWF_SRV_KEY="$GWF_DIR/srv/gw.key"
}

gwf_tenant() {
	t=$1
	d="$GWF_DIR/tenants/$t"
	mkdir -p "$d/out" && chmod 0700 "$d" || return 1
	# GWF_CUSTODIANS / GWF_THRESHOLD: n and k (default 2 of 2)
	gwf_n=${GWF_CUSTODIANS:-2}
	gwf_pf=""
	i=1
	while [ $i -le "$gwf_n" ]; do
		printf '%s %s\n' "$GWF_PASSPHRASE" "$i" >"$d/pass$i"
		chmod 0600 "$d/pass$i"
		gwf_pf="$gwf_pf --passphrase-file $d/pass$i"
		i=$((i + 1))
	done
	# shellcheck disable=SC2086 # gwf_pf: one word per option (no blanks in $d)
	gwf_run "tenant init $t" "$GWF_CTL" tenant init --name "$t" \
	    --custodians "$gwf_n" --threshold "${GWF_THRESHOLD:-2}" --out "$d/out" \
	    $gwf_pf ${GWF_D3P:+--third-party-index "$GWF_D3P"} || return 1
	[ -f "$d/out/$t.bik" ] || { gwf_err "tenant init $t wrote no $t.bik"; return 1; }
	mv "$d/out/$t.bik" "$GWF_KEYS/$t.bik" || return 1
	mv "$d/out/$t.pin" "$GWF_KEYS/$t.pin" || return 1
	gwf_run "device ca-init $t" "$GWF_CTL" device ca-init --tenant "$t"
}

gwf_device() {
	t=$1
	dev=$2
	shift 2
	# shellcheck disable=SC2086 # GWF_CERT_DAYS: see gwf_server_cert
	gwf_run "device issue $t/$dev" "$GWF_CTL" device issue --tenant "$t" \
	    --device "$dev" --out "$GWF_CERTS" \
	    ${GWF_CERT_DAYS:+--days $GWF_CERT_DAYS} "$@" || return 1
	[ -n "$GWF_PROBE" ] || GWF_PROBE=$dev
}

gwf_node() {
	GWF_NODE=$1
	GWF_NODE_KEY="$GWF_DIR/node.key"
	gwf_run "node init $1" "$GWF_CTL" node init --name "$1" \
	    --key-out "$GWF_NODE_KEY" --pins "$COFFER_NODE_PINS"
}

gwf_free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

gwf_config() {
	GWF_PORT=$(gwf_free_port) || return 1
	GWF_METRICS_PORT=$(gwf_free_port) || return 1
	while [ "$GWF_METRICS_PORT" = "$GWF_PORT" ]; do
		GWF_METRICS_PORT=$(gwf_free_port) || return 1
	done
	{
		echo "# written by tests/lib/gateway-fixture.sh"
		echo "listen = 127.0.0.1:$GWF_PORT"
		echo "metrics_listen = 127.0.0.1:$GWF_METRICS_PORT"
		[ "$(id -u)" -eq 0 ] && echo "user = nobody"
		echo "cert_file = $GWF_SRV_CRT"
		echo "key_file = $GWF_SRV_KEY"
		echo "device_ca_dir = $COFFER_PKI/devices"
		echo "node_name = ${GWF_NODE:-gwf-node}"
		echo "signing_key_file = ${GWF_NODE_KEY:-$GWF_DIR/node.key}"
		echo "keys_dir = $GWF_KEYS"
		echo "witness_file = $GWF_DIR/witness.jsonl"
		echo "pg_conninfo = host=$PGHOST port=$PGPORT dbname=$PGDATABASE user=gw"
		echo "device_rate = 1000"
		echo "device_burst = 1000"
	} >"$GWF_CONF.tmp"
	for kv in "$@"; do
		k=$(printf '%s' "$kv" | sed 's/[[:space:]]*=.*//')
		grep -v "^${k}[[:space:]]*=" "$GWF_CONF.tmp" >"$GWF_CONF.tmp2"
		mv "$GWF_CONF.tmp2" "$GWF_CONF.tmp"
		echo "$kv" >>"$GWF_CONF.tmp"
	done
	mv "$GWF_CONF.tmp" "$GWF_CONF"
	if [ "$(id -u)" -eq 0 ]; then
		# after dropping to nobody the gateway re-reads the CAs and CRLs on
		# SIGHUP and may load key files later: group-readable, owner root
		g=$(id -gn nobody)
		chgrp "$g" "$GWF_KEYS" "$GWF_KEYS"/* 2>/dev/null
		chmod 0640 "$GWF_KEYS"/* 2>/dev/null
		[ -f "${GWF_NODE_KEY:-/nonexistent}" ] &&
		    chgrp "$g" "$GWF_NODE_KEY" && chmod 0640 "$GWF_NODE_KEY"
		: >"$GWF_DIR/witness.jsonl"
		chown nobody "$GWF_DIR/witness.jsonl"
	fi
	return 0
}

gwf_url() {
	echo "https://127.0.0.1:$GWF_PORT/${1#/}"
}

gwf_curl() {
	dev=$1
	shift
	if [ "$dev" = - ]; then
		curl -sS --cacert "$GWF_SRV_CA" "$@"
	else
		curl -sS --cacert "$GWF_SRV_CA" --cert "$GWF_CERTS/$dev.crt" \
		    --key "$GWF_CERTS/$dev.key" "$@"
	fi
}

gwf_simple() {
	gwf_server_cert && gwf_tenant "$1" && gwf_device "$1" "$2" &&
	    gwf_node "$3" || return 1
	shift 3
	gwf_config "$@" && gwf_start
}

# shellcheck disable=SC2120  # PROBE is optional; callers in other files pass it
gwf_start() {
	probe=${1:-$GWF_PROBE}
	# the log is appended across restarts: only this start's lines count
	gwf_from=$(($(wc -l <"$GWF_LOG" 2>/dev/null || echo 0) + 1))
	"$GWF_GW" --config "$GWF_CONF" --pidfile "$GWF_PIDFILE" >>"$GWF_LOG" 2>&1 &
	GWF_PID=$!
	i=0
	while [ $i -lt 150 ]; do
		if ! kill -0 "$GWF_PID" 2>/dev/null; then
			wait "$GWF_PID" 2>/dev/null
			GWF_EXIT=$?
			GWF_PID=""
			tail -20 "$GWF_LOG" >&2
			gwf_err "coffer-gateway exited during start-up ($GWF_EXIT)"
			return 1
		fi
		if [ -n "$probe" ]; then
			code=$(gwf_curl "$probe" -o /dev/null -w '%{http_code}' \
			    "$(gwf_url healthz)" 2>/dev/null)
			[ "$code" = 200 ] && return 0
		elif tail -n "+$gwf_from" "$GWF_LOG" | grep -q ' info: started: '; then
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	tail -20 "$GWF_LOG" >&2
	gwf_err "coffer-gateway did not answer /healthz within 15 s"
	return 1
}

gwf_hup() {
	[ -n "$GWF_PID" ] || { gwf_err "gateway not running"; return 1; }
	before=$(grep -c ' reload' "$GWF_LOG")
	kill -HUP "$GWF_PID" || return 1
	i=0
	while [ $i -lt 100 ]; do
		[ "$(grep -c ' reload' "$GWF_LOG")" -gt "$before" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	gwf_err "no reload logged after SIGHUP"
	return 1
}

gwf_stop() {
	sig=${1:-TERM}
	GWF_EXIT=""
	[ -n "$GWF_PID" ] || return 0
	kill -"$sig" "$GWF_PID" 2>/dev/null
	i=0
	while kill -0 "$GWF_PID" 2>/dev/null && [ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$GWF_PID" 2>/dev/null; then
		kill -9 "$GWF_PID" 2>/dev/null
		gwf_err "coffer-gateway did not stop on SIG$sig within 30 s"
	fi
	wait "$GWF_PID" 2>/dev/null
	GWF_EXIT=$?
	GWF_PID=""
	return 0
}

# gwf_clock_wrap PROGRAM OUT OFFSET|@FILE: write OUT, a script that runs
# PROGRAM with its wall clock OFFSET away (faketime syntax, e.g. -400d) or
# read from FILE on every call (FAKETIME_TIMESTAMP_FILE), monotonic clocks
# untouched.  PROGRAM "-": OUT is a prefix, it runs its arguments (OUT
# cofferctl ...).  Fixtures that need records RECEIVED in the past use it
# (retention runs on the archive's clock).  Fails when libfaketime is
# missing (ops/deps.sh installs the faketime package).
#
# libfaketime (0.9.10) creates /dev/shm/faketime_shm_PID and
# sem.faketime_sem_PID, named after the process's pid, and removes them
# at exit; a process killed meanwhile leaves them behind, and the next
# process given that pid exits 1 at its first clock call ("In
# ft_shm_create(), shm_open failed: File exists").  Pids come round again
# on a busy machine, so OUT removes the pair named after its own pid (it
# execs the program, which keeps the pid): whoever made them is gone.  The
# faketime command has the same trouble (and its own pid): not used.
gwf_clock_wrap() {
	gwf_lib=""
	for l in /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1; do
		[ -f "$l" ] && gwf_lib=$l && break
	done
	[ -n "$gwf_lib" ] || { gwf_err "libfaketime not found (apt-get install faketime)"; return 1; }
	case $3 in
	@*) gwf_how="FAKETIME_TIMESTAMP_FILE=${3#@} FAKETIME_NO_CACHE=1" ;;
	*)  gwf_how="FAKETIME=$3" ;;
	esac
	if [ "$1" = - ]; then gwf_run='"$@"'; else gwf_run="\"$1\" \"\$@\""; fi
	{
		echo '#!/bin/sh'
		echo '# stale: see gwf_clock_wrap in tests/lib/gateway-fixture.sh'
		# shellcheck disable=SC2016  # a line of the wrapper, written as is
		echo 'rm -f "/dev/shm/faketime_shm_$$" "/dev/shm/sem.faketime_sem_$$"'
		echo '# an ASan build (make sanitize) wants its runtime first: do not mind'
		# shellcheck disable=SC2016,SC1003  # a line of the wrapper, written as is
		echo 'ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \'
		echo "LD_PRELOAD=$gwf_lib $gwf_how FAKETIME_DONT_FAKE_MONOTONIC=1 \\"
		echo "    exec $gwf_run"
	} >"$2" && chmod 0755 "$2"
}
