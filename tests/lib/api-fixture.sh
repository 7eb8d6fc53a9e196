# tests/lib/api-fixture.sh — a running coffer-api for integration and
# torture tests.  POSIX sh; source it after tests/lib/gateway-fixture.sh,
# inside tests/pg-harness.sh, once gwf_init, gwf_server_cert and
# gwf_tenant have run (it uses $GWF_DIR, $COFFER_PKI, $GWF_KEYS,
# $GWF_SRV_CA and the tenants' shares and passphrase files).
#
# Real tools only: cofferctl (user issue, user keygen, pki server, node
# init, approve), coffer-api, curl.
#
#   apf_user TENANT NAME ROLE [INDEX]
#                         person certificate -> $APF_PEOPLE/NAME.crt, .key
#                         (the first one is $APF_PROBE, used by apf_start)
#   apf_keygen TENANT NAME
#                         NAME's production key $APF_DIR/NAME.xkey, its
#                         passphrase in $APF_DIR/NAME.pass
#   apf_config ["key = value"]...
#                         $APF_CONF on free loopback ports ($APF_PORT,
#                         metrics on $APF_METRICS_PORT); each argument
#                         replaces its key's line or is added
#   apf_start             start coffer-api ($APF_PID, log $APF_LOG) and wait
#                         until GET /v1/whoami answers 200 (15 s at most)
#   apf_stop              SIGTERM, wait, kill -9 after 10 s
#   apf_call WHO METHOD PATH [BODY-FILE]
#                         one request as person WHO ("-": no certificate):
#                         $APF_CODE (HTTP status, 000 when none), body in
#                         $APF_OUT, headers in $APF_HDR
#   apf_get FIELD         FIELD (dotted path) of the JSON in $APF_OUT
#   apf_approve TENANT NAME INDEX MATTER
#                         cofferctl approve with custodian INDEX's share of
#                         TENANT as person NAME, --yes; output in $APF_DIR/approve.out
#   apf_matter WHO FILE   create a matter (POST /v1/matters with FILE) as
#                         person WHO; prints its id, 1 unless 201
#   apf_state MATTER      the matter's state, read with the caller's q SQL
#                         (a function printing the rows of SQL)
#   apf_wait_state MATTER STATE SECONDS
#                         wait until the matter is in STATE; 1 if not in time
#   apf_metric NAME       the value of metric line NAME (exact, labels
#                         included) on the API's metrics listener, 0 if absent
#   apf_cleanup           stop coffer-api (kill -9)

APF_API="$GWF_BUILD/coffer-api"
APF_PID=""
APF_PROBE=""
APF_N=0

apf_dir() {
	if [ -z "${APF_DIR:-}" ]; then
		APF_DIR="$GWF_DIR/api"
		APF_PEOPLE="$APF_DIR/people"
		APF_CONF="$APF_DIR/api.conf"
		APF_LOG="$APF_DIR/api.log"
		mkdir -p "$APF_PEOPLE" "$APF_DIR/productions" "$APF_DIR/blind" \
		    "$APF_DIR/calls" &&
		    chmod 0700 "$APF_DIR" "$APF_PEOPLE" "$APF_DIR/productions" \
		    "$APF_DIR/blind" || return 1
		: >"$APF_LOG"
	fi
}

apf_cleanup() {
	if [ -n "$APF_PID" ]; then
		kill -9 "$APF_PID" 2>/dev/null
		wait "$APF_PID" 2>/dev/null
		APF_PID=""
	fi
}

apf_user() {
	apf_dir || return 1
	gwf_run "user issue $2" "$GWF_CTL" user issue --tenant "$1" --name "$2" \
	    --role "$3" ${4:+--custodian-index "$4"} --out "$APF_PEOPLE" || return 1
	[ -n "$APF_PROBE" ] || APF_PROBE=$2
}

apf_keygen() {
	apf_dir || return 1
	printf 'production key passphrase of %s, not a secret\n' "$2" >"$APF_DIR/$2.pass"
	chmod 0600 "$APF_DIR/$2.pass"
	gwf_run "user keygen $2" "$GWF_CTL" user keygen --tenant "$1" --name "$2" \
	    --out "$APF_DIR/$2.xkey" --passphrase-file "$APF_DIR/$2.pass"
}

apf_config() {
	apf_dir || return 1
	if [ ! -f "$APF_DIR/srv/apf-api.crt" ]; then
		gwf_run "pki server apf-api" "$GWF_CTL" pki server --name apf-api \
		    --dns localhost --ip 127.0.0.1 --out "$APF_DIR/srv" || return 1
		gwf_run "node init apf-api" "$GWF_CTL" node init --name apf-api \
		    --kind api --key-out "$APF_DIR/node.key" \
		    --pins "$COFFER_NODE_PINS" || return 1
	fi
	APF_PORT=$(gwf_free_port) || return 1
	APF_METRICS_PORT=$(gwf_free_port) || return 1
	while [ "$APF_METRICS_PORT" = "$APF_PORT" ]; do
		APF_METRICS_PORT=$(gwf_free_port) || return 1
	done
	{
		echo "# written by tests/lib/api-fixture.sh"
		echo "listen = 127.0.0.1:$APF_PORT"
		echo "metrics_listen = 127.0.0.1:$APF_METRICS_PORT"
		[ "$(id -u)" -eq 0 ] && echo "user = nobody"
		echo "cert_file = $APF_DIR/srv/apf-api.crt"
		echo "key_file = $APF_DIR/srv/apf-api.key"
		echo "people_ca = $COFFER_PKI/people/ca.pem"
		echo "people_crl = $COFFER_PKI/people/crl.pem"
		echo "keys_dir = $GWF_KEYS"
		echo "productions_dir = $APF_DIR/productions"
		echo "blind_dir = $APF_DIR/blind"
		echo "signing_key_file = $APF_DIR/node.key"
		echo "node_name = apf-api"
		echo "pg_conninfo = host=$PGHOST port=$PGPORT dbname=$PGDATABASE user=api"
	} >"$APF_CONF.tmp"
	for kv in "$@"; do
		apf_k=$(printf '%s' "$kv" | sed 's/[[:space:]]*=.*//')
		grep -v "^${apf_k}[[:space:]]*=" "$APF_CONF.tmp" >"$APF_CONF.tmp2"
		mv "$APF_CONF.tmp2" "$APF_CONF.tmp"
		echo "$kv" >>"$APF_CONF.tmp"
	done
	mv "$APF_CONF.tmp" "$APF_CONF"
	if [ "$(id -u)" -eq 0 ]; then
		chown nobody "$APF_DIR/productions" "$APF_DIR/blind"
		chmod 0711 "$APF_DIR"
		g=$(id -gn nobody)
		chgrp "$g" "$GWF_KEYS" "$GWF_KEYS"/* && chmod 0640 "$GWF_KEYS"/*
	fi
}

apf_call() {   # (apf_ names: callers' variables are not clobbered)
	apf_who=$1 apf_m=$2 apf_path=$3 apf_data=${4:-}
	APF_N=$((APF_N + 1))
	APF_OUT="$APF_DIR/calls/body.$APF_N"
	APF_HDR="$APF_DIR/calls/hdr.$APF_N"
	set -- -sS -o "$APF_OUT" -D "$APF_HDR" -w '%{http_code}' \
	    --cacert "$GWF_SRV_CA" -X "$apf_m"
	[ "$apf_who" != - ] && set -- "$@" --cert "$APF_PEOPLE/$apf_who.crt" \
	    --key "$APF_PEOPLE/$apf_who.key"
	[ -n "$apf_data" ] && set -- "$@" -H 'Content-Type: application/json' \
	    --data-binary "@$apf_data"
	APF_CODE=$(curl "$@" "https://127.0.0.1:$APF_PORT$apf_path" 2>/dev/null) ||
	    APF_CODE=000
}

apf_get() {
	python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[k]
print(v if not isinstance(v, (dict, list)) else json.dumps(v))' "$APF_OUT" "$1" 2>/dev/null
}

apf_start() {
	"$APF_API" --config "$APF_CONF" >>"$APF_LOG" 2>&1 &
	APF_PID=$!
	apf_i=0
	while [ $apf_i -lt 150 ]; do
		if ! kill -0 "$APF_PID" 2>/dev/null; then
			wait "$APF_PID" 2>/dev/null
			APF_PID=""
			tail -20 "$APF_LOG" >&2
			gwf_err "coffer-api exited during start-up"
			return 1
		fi
		apf_call "$APF_PROBE" GET /v1/whoami
		[ "$APF_CODE" = 200 ] && return 0
		sleep 0.1
		apf_i=$((apf_i + 1))
	done
	tail -20 "$APF_LOG" >&2
	gwf_err "coffer-api did not answer /v1/whoami within 15 s"
	return 1
}

apf_stop() {
	[ -n "$APF_PID" ] || return 0
	kill -TERM "$APF_PID" 2>/dev/null
	apf_i=0
	while kill -0 "$APF_PID" 2>/dev/null && [ $apf_i -lt 100 ]; do
		sleep 0.1
		apf_i=$((apf_i + 1))
	done
	kill -9 "$APF_PID" 2>/dev/null
	wait "$APF_PID" 2>/dev/null
	APF_PID=""
}

apf_approve() {
	"$GWF_CTL" approve --matter "$4" \
	    --share "$GWF_DIR/tenants/$1/out/$1-custodian-$3.share" \
	    --passphrase-file "$GWF_DIR/tenants/$1/pass$3" \
	    --api "https://127.0.0.1:$APF_PORT" --ca "$GWF_SRV_CA" \
	    --cert "$APF_PEOPLE/$2.crt" --key "$APF_PEOPLE/$2.key" --yes \
	    >"$APF_DIR/approve.out" 2>&1
}

apf_metric() {
	curl -s "http://127.0.0.1:$APF_METRICS_PORT/metrics" 2>/dev/null |
	    awk -v n="$1" '$1 == n { v = $2 } END { print v + 0 }'
}

apf_matter() {
	apf_call "$1" POST /v1/matters "$2"
	[ "$APF_CODE" = 201 ] && apf_get matter_id
}

apf_state() {
	q "SELECT state FROM coffer.matters WHERE matter_id = '$1'"
}

apf_wait_state() {
	apf_i=0
	while [ "$(apf_state "$1")" != "$2" ] && [ $apf_i -lt $(($3 * 10)) ]; do
		sleep 0.1
		apf_i=$((apf_i + 1))
	done
	[ "$(apf_state "$1")" = "$2" ]
}
