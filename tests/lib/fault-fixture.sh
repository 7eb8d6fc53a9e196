# tests/lib/fault-fixture.sh — faults under load: one coffer-gateway, N
# devices of one tenant streaming records through retrying clients
# (tests/integration/gateway_client.py), and the checks and figures every
# fault test shares.  POSIX sh; source it from a script running inside
# tests/pg-harness.sh (tests/integration/fault_kill_gateway.sh,
# fault_pg_crash.sh, fault_commit_cut.sh, which tests/torture/ runs with
# larger counts; tests/integration/gateway_ingest.sh uses the test
# helpers and ff_missing_receipts).  Sources gateway-fixture.sh,
# figures.sh and check.sh.
#
# Test helpers: tests/lib/check.sh (ok, bad, check, finish, die), the
# summary line named FF_NAME, which also names the test in figures.
#
# Load:
#   ff_setup TENANT NDEV [gwf_config lines...]
#                        gateway fixture, server certificate, tenant,
#                        devices ff-d1..ff-dNDEV, node, configuration
#                        (generous rate limits, 5 ms group commit), gateway
#                        started; $FF_DIR scratch, $FF_NDEV, $FF_TENANT
#   ff_records PER [SEED]
#                        $FF_DIR/recs.I (I = 1..NDEV): PER records each from
#                        the deterministic generator (loadgen --dump),
#                        disjoint ranges, ids unique across clients,
#                        bodies of about 160 bytes
#   ff_clients_start [CHUNK]
#                        one gateway_client.py per device, CHUNK records a
#                        request (default 50), each with --log (attempt
#                        times), --receipts and --stop-file $FF_DIR/stop;
#                        pids in $FF_CLIENT_PIDS; FF_PORTS="P1 P2..."
#                        spreads the clients over several gateways
#   ff_load PER SEED CHUNK
#                        ff_records PER SEED (die on failure), then
#                        ff_clients_start CHUNK, then 1.5 s for the clients
#                        to get going
#   ff_clients_alive     0 while at least one client still runs
#   ff_first_ack_after sent|answered T [MAX_S [POLL_S]]
#                        wait (at most MAX_S seconds, default 60, polling
#                        every POLL_S, default 0.05) for the first 200 in
#                        the client logs whose send (sent) or answer
#                        (answered) time is after wall-clock T; prints the
#                        milliseconds from T to that answer, or fails (also
#                        when every client has ended)
#   ff_clients_stop [SECONDS]
#                        create the stop file, wait (at most SECONDS, 120 by
#                        default) for every client; $FF_CLIENTS_RC = number
#                        that failed or did not end (those are killed)
#   ff_now_ms            wall clock, milliseconds
#   ff_now               wall clock, seconds with microseconds
#   ff_rand_ms LO HI     a random integer in [LO, HI]
#   ff_sleep_ms MS
#   ff_stats FILE        "median max" of the numbers in FILE (one a line)
#   ff_fig_stats TEST WHAT FILE
#                        figures "WHAT, median (ms)" and "WHAT, max (ms)"
#
# Checks:
#   ff_missing_receipts FILE...
#                        how many receipts (third column "stream:seq:leaf"
#                        of gateway_client.py --receipts files) name no
#                        stored row with that leaf hash
#   ff_tally TEST        the shared verdict after the run: every receipt
#                        names a stored row (lost acknowledged = 0), no
#                        record stored twice (same dedup token), no seq gap,
#                        every stored row acknowledged, rows = records
#                        acknowledged, cofferctl verify clean with the
#                        witness file; reports the figures acknowledged,
#                        stored, lost acknowledged, duplicates stored,
#                        stored but not acknowledged (its answer lost; the
#                        retry then answered duplicate)
#                        (FF_WITNESSES="FILE...": against each of them)
#   ff_verify TEST WITNESS
#                        the verify check of ff_tally alone
#   ff_finish            the end of a test: stop the gateway with SIGTERM,
#                        check it exits 0 and logged no sanitizer report,
#                        then finish
#   ff_cleanup           stop the clients (by pid), then gwf_cleanup; with
#                        FF_KEEP=DIR the gateway log and $FF_DIR (client
#                        logs, receipts, proxy log) are copied there first

# Set FF_EXTRA_CLEANUP to a function run by ff_cleanup before the gateway
# is stopped (e.g. a proxy).  FF_CLIENT_DEADLINE bounds each client (600 s).

FF_HERE=$(cd "$(dirname "$0")" && pwd)
FF_LIB=$(cd "$FF_HERE/../lib" && pwd)
FF_CLIENT=$(cd "$FF_HERE/../integration" && pwd)/gateway_client.py
# shellcheck source=gateway-fixture.sh
. "$FF_LIB/gateway-fixture.sh"
# shellcheck source=figures.sh
. "$FF_LIB/figures.sh"
FF_PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"
FF_NAME=${FF_NAME:-$(basename "$0" .sh)}
CK_NAME=$FF_NAME
# shellcheck source=check.sh
. "$FF_LIB/check.sh"
FF_CLIENT_PIDS=""
FF_DIR=""

ff_now_ms() { date +%s%3N; }
ff_now() { date +%s.%6N; }
ff_rand_ms() {
	r=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
	echo $(($1 + r % ($2 - $1 + 1)))
}
ff_sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }
ff_stats() {
	sort -n "$1" | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "- -"; exit }
		m = (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2)
		print m, v[NR] }'
}
ff_fig_stats() {
	st=$(ff_stats "$3")
	fig "$1" "$2, median (ms)" "${st% *}"
	fig "$1" "$2, max (ms)" "${st#* }"
}

ff_cleanup() {
	for p in $FF_CLIENT_PIDS; do
		kill "$p" 2>/dev/null
	done
	FF_CLIENT_PIDS=""
	[ -z "${FF_EXTRA_CLEANUP:-}" ] || $FF_EXTRA_CLEANUP
	# FF_KEEP=DIR: keep the logs (gateway, clients, proxy) for a post-mortem
	if [ -n "${FF_KEEP:-}" ] && [ -n "$GWF_DIR" ]; then
		mkdir -p "$FF_KEEP" && cp -r "$GWF_DIR/gw.log" "$GWF_DIR/ff" "$FF_KEEP/" 2>/dev/null
	fi
	gwf_cleanup
}

ff_setup() {
	FF_TENANT=$1
	FF_NDEV=$2
	shift 2
	command -v python3 >/dev/null || { echo "$FF_NAME: python3 missing"; return 1; }
	GWF_NO_TRAP=1   # read by gwf_init: our trap runs ff_cleanup
	export GWF_NO_TRAP
	gwf_init || return 1
	trap ff_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	FF_DIR="$GWF_DIR/ff"
	mkdir -p "$FF_DIR"
	gwf_server_cert && gwf_tenant "$FF_TENANT" || return 1
	i=1
	while [ "$i" -le "$FF_NDEV" ]; do
		gwf_device "$FF_TENANT" "ff-d$i" || return 1
		i=$((i + 1))
	done
	gwf_node ff-node || return 1
	gwf_config "device_rate = 100000" "device_burst = 100000" \
	    "batch_max_ms = 5" "max_records_per_request = 1000" "$@" || return 1
	gwf_start || return 1
}

ff_records() {
	i=1
	while [ "$i" -le "$FF_NDEV" ]; do
		"$GWF_BUILD/ops/loadgen" --dump "$1" --first $(( (i - 1) * $1 )) \
		    --seed "${2:-$$}" --size 160 >"$FF_DIR/recs.$i" || return 1
		i=$((i + 1))
	done
}

ff_clients_start() {
	chunk=${1:-50}
	rm -f "$FF_DIR/stop"
	FF_CLIENT_PIDS=""
	i=1
	while [ "$i" -le "$FF_NDEV" ]; do
		# FF_PORTS="P1 P2...": client i talks to gateway ((i - 1) mod n) + 1
		port=$GWF_PORT
		if [ -n "${FF_PORTS:-}" ]; then
			# shellcheck disable=SC2086  # a list of ports
			set -- $FF_PORTS
			k=$(( (i - 1) % $# ))
			shift "$k"
			port=$1
		fi
		python3 "$FF_CLIENT" --port "$port" --ca "$GWF_SRV_CA" \
		    --cert "$GWF_CERTS/ff-d$i.crt" --key "$GWF_CERTS/ff-d$i.key" \
		    --records "$FF_DIR/recs.$i" --per "$chunk" \
		    --receipts "$FF_DIR/rc.$i" --log "$FF_DIR/log.$i" \
		    --stop-file "$FF_DIR/stop" --deadline "${FF_CLIENT_DEADLINE:-600}" \
		    >"$FF_DIR/out.$i" 2>&1 &
		FF_CLIENT_PIDS="$FF_CLIENT_PIDS $!"
		i=$((i + 1))
	done
}

ff_load() {
	ff_records "$1" "$2" || die "records (loadgen --dump)"
	ff_clients_start "$3"
	ff_sleep_ms 1500
}

ff_clients_alive() {
	for p in $FF_CLIENT_PIDS; do
		kill -0 "$p" 2>/dev/null && return 0
	done
	return 1
}

ff_first_ack_after() {
	case $1 in
	sent) ffa_col=1 ;;
	answered) ffa_col=2 ;;
	*) echo "ff_first_ack_after: sent or answered, not '$1'" >&2; return 2 ;;
	esac
	ffa_lim=$(($(date +%s) + ${3:-60}))
	while [ "$(date +%s)" -lt "$ffa_lim" ]; do
		ffa_ms=$(cat "$FF_DIR"/log.* 2>/dev/null | awk -v t="$2" -v c="$ffa_col" '$5 == 200 && $c + 0 > t + 0 {
			if (m == "" || $2 + 0 < m) m = $2 + 0 } END { if (m != "") printf "%d", (m - t) * 1000 }')
		[ -n "$ffa_ms" ] && { echo "$ffa_ms"; return 0; }
		ff_clients_alive || return 1
		sleep "${4:-0.05}"
	done
	return 1
}

ff_clients_stop() {
	: >"$FF_DIR/stop"
	lim=$(($(date +%s) + ${1:-120}))
	while ff_clients_alive && [ "$(date +%s)" -lt "$lim" ]; do
		sleep 0.2
	done
	FF_CLIENTS_RC=0
	i=1
	for p in $FF_CLIENT_PIDS; do
		if kill -0 "$p" 2>/dev/null; then
			kill "$p" 2>/dev/null
			echo "client $i did not end; killed"
		fi
		wait "$p"
		rc=$?
		if [ "$rc" -ne 0 ]; then
			FF_CLIENTS_RC=$((FF_CLIENTS_RC + 1))
			echo "client $i exit $rc: $(tail -3 "$FF_DIR/out.$i" | tr '\n' ' ')"
		fi
		i=$((i + 1))
	done
	FF_CLIENT_PIDS=""
}

# Receipts "<line> <status> <stream>:<seq>:<leaf>" into temp table rc.
ff_rc_sql() {
	echo "CREATE TEMP TABLE rc (status text, stream uuid, seq bigint, leaf text);"
	echo "COPY rc FROM STDIN WITH (FORMAT text, DELIMITER ' ');"
	cat "$@" | awk 'NF == 3 { split($3, p, ":"); print $2, p[1], p[2], p[3] }'
	printf '\\.\n'
}

ff_missing_receipts() {
	{
		ff_rc_sql "$@"
		echo "SELECT count(*) FROM rc LEFT JOIN coffer.records r ON r.stream_id = rc.stream AND r.seq = rc.seq AND encode(r.leaf_hash, 'hex') = rc.leaf WHERE r.seq IS NULL;"
	} | $FF_PSQL 2>&1
}

ff_tally() {
	t=$1
	acked=$(cat "$FF_DIR"/rc.* | awk 'NF == 3' | wc -l)
	{
		ff_rc_sql "$FF_DIR"/rc.*
		cat <<EOF
CREATE TEMP TABLE mine AS SELECT r.* FROM coffer.records r
    JOIN coffer.tenants t USING (tenant_id) WHERE t.name = '$FF_TENANT';
SELECT 'rows', count(*) FROM mine;
SELECT 'lost', count(*) FROM rc LEFT JOIN mine r ON r.stream_id = rc.stream
    AND r.seq = rc.seq AND encode(r.leaf_hash, 'hex') = rc.leaf WHERE r.seq IS NULL;
SELECT 'twice', count(*) - count(DISTINCT dedup_token) FROM mine;
SELECT 'receipts_twice', count(*) - count(DISTINCT (stream, seq)) FROM rc;
SELECT 'unacked', count(*) FROM mine r WHERE NOT EXISTS (SELECT 1 FROM rc
    WHERE rc.stream = r.stream_id AND rc.seq = r.seq);
SELECT 'answer_lost', count(*) FROM mine r WHERE NOT EXISTS (SELECT 1 FROM rc
    WHERE rc.stream = r.stream_id AND rc.seq = r.seq AND rc.status = 'stored');
SELECT 'gaps', count(*) FROM (SELECT seq, lag(seq) OVER (PARTITION BY stream_id
    ORDER BY seq) AS prev FROM mine) s WHERE prev IS NOT NULL AND seq <> prev + 1;
EOF
	} | $FF_PSQL -F ' ' >"$FF_DIR/tally" 2>&1 || { cat "$FF_DIR/tally"; bad "tally query"; return 1; }
	v() { awk -v k="$1" '$1 == k { print $2 }' "$FF_DIR/tally"; }
	rows=$(v rows) lost=$(v lost) twice=$(v twice) unacked=$(v unacked)
	check "$t: every acknowledgement names a stored row ($lost of $acked lost)" \
	    test "$lost" = 0
	check "$t: no record stored twice ($twice dedup tokens twice)" test "$twice" = 0
	check "$t: no two records share a receipt ($(v receipts_twice))" test "$(v receipts_twice)" = 0
	check "$t: rows = records acknowledged ($rows / $acked)" test "$rows" = "$acked"
	check "$t: every stored row acknowledged at the end ($unacked not)" test "$unacked" = 0
	check "$t: no seq gap in any stream ($(v gaps))" test "$(v gaps)" = 0
	for wf in ${FF_WITNESSES:-$GWF_DIR/witness.jsonl}; do
		ff_verify "$t" "$wf"
	done
	fig "$t" "records acknowledged" "$acked"
	fig "$t" "records stored (rows)" "$rows"
	fig "$t" "lost acknowledged records (must be 0)" "$lost"
	fig "$t" "duplicate records stored (must be 0)" "$twice"
	fig "$t" "stored but not acknowledged (answer lost; retry said duplicate)" "$(v answer_lost)"
	fig "$t" "stored, never acknowledged at the end" "$unacked"
}

# ff_verify TEST WITNESS: cofferctl verify of the tenant against one
# gateway's witness file is clean
ff_verify() {
	"$GWF_CTL" verify --tenant "$FF_TENANT" --witness "$2" \
	    >"$FF_DIR/verify.out" 2>&1
	vrc=$?
	check "$1: cofferctl verify --tenant $FF_TENANT --witness $(basename "$2"): clean (exit $vrc)" test "$vrc" = 0
	[ "$vrc" = 0 ] || sed 's/^/     /' "$FF_DIR/verify.out" | tail -20
}

ff_finish() {
	gwf_stop TERM
	check "gateway stops cleanly on SIGTERM (exit $GWF_EXIT)" test "$GWF_EXIT" = 0
	check "no sanitizer report in the gateway log" \
	    sh -c "! grep -qE 'Sanitizer|runtime error' '$GWF_LOG'"
	finish
}
