#!/bin/sh
# tests/integration/gateway_ingest.sh — coffer-gateway end to end: real
# curl / python ssl clients over mutual TLS, the real database, cofferctl
# for tenants, nodes and certificates (CONTRACTS.md).  Runs inside
# tests/pg-harness.sh (PG* environment, $BUILD, $COFFER_PG_CTL).
#
#   - 3 records -> 3 receipts; 3 sealed rows; no body, participant number
#     or source id in pg_dump, in the data directory (heap, WAL) or in the
#     gateway log — neither as text nor hex-encoded
#   - the same 3 again -> 3 duplicates with identical receipts
#   - one record raced on 8 connections -> stored once
#   - a malformed line between valid ones; an oversize record; an
#     oversize body (413) and a new connection afterwards
#   - a device of tenant B stores only into B, whatever the body says
#   - PostgreSQL stopped -> 503 + Retry-After, no receipt; started -> ingest
#     works again without restarting the gateway
#   - kill -9 of the gateway while a retrying client streams 10 000
#     records -> every receipt names a stored row, exactly 10 000 rows, and
#     re-sending everything yields only duplicates
# Prints "N passed, M failed"; exits non-zero on any failure.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
CLIENT="$HERE/gateway_client.py"
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"
# gateway fixture, ok/bad/check/finish/die, ff_missing_receipts
# shellcheck disable=SC2034  # read by fault-fixture.sh
FF_NAME=gateway_ingest
# shellcheck source=../lib/fault-fixture.sh
. "$HERE/../lib/fault-fixture.sh"

command -v python3 >/dev/null || { echo "gateway_ingest: python3 missing"; exit 1; }
gwf_init || exit 1
T="$GWF_DIR"

db() { $PSQL -c "$1"; }
rand_digits() { python3 -c 'import secrets; print("".join(secrets.choice("123456789") for _ in range('"$1"')))'; }

# -- PKI, tenants, node, gateway (cofferctl through the fixture) -------------------
gwf_server_cert || die "server certificate"
for tn in gwi-acme gwi-globex gwi-kill gwi-crash; do
	gwf_tenant "$tn" || die "tenant $tn"
done
gwf_device gwi-acme phone-a && gwf_device gwi-globex phone-b &&
    gwf_device gwi-kill phone-k && gwf_device gwi-crash phone-c &&
    gwf_node gwi-node ||
    die "devices and node"
gwf_config "max_body_bytes = 2097152" "max_line_bytes = 262144" \
    "max_records_per_request = 1000" "device_rate = 10000" \
    "device_burst = 10000" "batch_max_ms = 5" || die "gateway configuration"
SRV_CA="$GWF_SRV_CA"
PORT="$GWF_PORT"
ok "tenants, device certificates, node key and server certificate made with cofferctl"

# post DEVICE FILE: response body in $T/resp, headers in $T/hdr, code echoed
post() {
	gwf_curl "$1" -s -o "$T/resp" -D "$T/hdr" -w '%{http_code}' \
	    -H 'Content-Type: application/x-ndjson' --data-binary "@$2" \
	    "$(gwf_url v1/records)"
}
# field N KEY: KEY of the N-th (1-based) response line of $T/resp
field() {
	python3 -c 'import json,sys
l = [json.loads(x) for x in open(sys.argv[1]) if x.strip()]
v = l[int(sys.argv[2]) - 1].get(sys.argv[3], "")
print(v)' "$T/resp" "$1" "$2"
}
statuses() {
	python3 -c 'import json,sys
print(" ".join(json.loads(x)["status"] for x in open(sys.argv[1]) if x.strip()))' "$T/resp"
}
tenant_rows() {
	db "SELECT count(*) FROM coffer.records r JOIN coffer.tenants t USING (tenant_id) WHERE t.name = '$1'"
}
# rec ID BODY SENDER RECIPIENT
rec() {
	printf '{"id":"%s","channel":"signal","conversation":"conv-%s","direction":"out","sender":"%s","recipients":["%s"],"sent_at":"2026-11-22T10:00:00Z","body":"%s"}\n' \
	    "$1" "$1" "$3" "$4" "$2"
}

gwf_start phone-a || die "gateway did not start"
ok "gateway started (pid $GWF_PID)"

# -- three records, sealed, nothing readable ---------------------------------------
R=$(rand_digits 12)
ID1="canary-id-$R-1" ID2="canary-id-$R-2" ID3="canary-id-$R-3"
B1="canary-body-$R-one" B2="canary-body-$R-two" B3="canary-body-$R-three"
P1="+1555$(rand_digits 7)" P2="+4420$(rand_digits 7)" P3="+3361$(rand_digits 7)"
{ rec "$ID1" "$B1" "$P1" "$P2"; rec "$ID2" "$B2" "$P2" "$P3"; rec "$ID3" "$B3" "$P3" "$P1"; } >"$T/three"
code=$(post phone-a "$T/three")
check "3 records: 200" test "$code" = 200
check "3 records: stored stored stored" test "$(statuses)" = "stored stored stored"
for n in 1 2 3; do
	field "$n" receipt | grep -Eq '^[0-9a-f-]{36}:[0-9]+:[0-9a-f]{64}$' ||
	    bad "line $n receipt malformed: $(field $n receipt)"
done
cp "$T/resp" "$T/first"
check "3 sealed rows in the database" test "$(tenant_rows gwi-acme)" = 3
check "rows carry ciphertext and tokens only" test "$(db "SELECT count(*) FROM coffer.records r JOIN coffer.tenants t USING (tenant_id) WHERE t.name = 'gwi-acme' AND octet_length(ciphertext) > 16 AND cardinality(participant_tokens) = 2 AND octet_length(dedup_token) = 16")" = 3

pg_dump -d "$PGDATABASE" -f "$T/dump.sql" 2>"$T/dump.err" || { cat "$T/dump.err"; bad "pg_dump"; }
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
leak=""
for s in "$ID1" "$ID2" "$ID3" "$B1" "$B2" "$B3" "$P1" "$P2" "$P3" "${P1#+}" "${P2#+}" "${P3#+}"; do
	grep -qF -- "$s" "$T/dump.sql" && leak="$leak dump:$s"
	grep -qF -- "$(hex "$s")" "$T/dump.sql" && leak="$leak dump-hex:$s"
	grep -qF -- "$s" "$GWF_LOG" && leak="$leak log:$s"
done
check "pg_dump and gateway log hold no body, number or source id (text or hex)${leak:+:$leak}" test -z "$leak"
if [ -n "${COFFER_TEST_PGDATA:-}" ] && [ -r "$COFFER_TEST_PGDATA" ]; then
	psql -X -q -c CHECKPOINT >/dev/null 2>&1
	hits=$(grep -rlaF -e "$B1" -e "$ID1" -e "${P1#+}" "$COFFER_TEST_PGDATA" 2>/dev/null | wc -l)
	check "data directory (heap, WAL) holds no canary ($hits files)" test "$hits" -eq 0
fi

# -- the same three again ------------------------------------------------------------
code=$(post phone-a "$T/three")
check "again: 200" test "$code" = 200
check "again: duplicate duplicate duplicate" test "$(statuses)" = "duplicate duplicate duplicate"
same=1
for n in 1 2 3; do
	cp "$T/resp" "$T/second"
	a=$(cp "$T/first" "$T/resp"; field $n receipt)
	cp "$T/second" "$T/resp"
	[ "$a" = "$(field $n receipt)" ] || same=0
done
check "again: identical receipts" test "$same" = 1
check "again: still 3 rows" test "$(tenant_rows gwi-acme)" = 3

# -- one record raced on 8 connections ---------------------------------------------------
rec "race-$R" "raced" "$P1" "$P2" >"$T/race"
i=1
pids=""
while [ $i -le 8 ]; do
	gwf_curl phone-a -s -o "$T/race.$i" -H 'Content-Type: application/x-ndjson' \
	    --data-binary "@$T/race" "$(gwf_url v1/records)" &
	pids="$pids $!"
	i=$((i + 1))
done
for j in $pids; do wait "$j"; done
n_stored=$(cat "$T"/race.[1-8] | grep -c '"stored"')
n_dup=$(cat "$T"/race.[1-8] | grep -c '"duplicate"')
n_rc=$(cat "$T"/race.[1-8] | sed 's/.*"receipt":"\([^"]*\)".*/\1/' | sort -u | wc -l)
check "race: stored once ($n_stored), 7 duplicates ($n_dup), one receipt ($n_rc)" \
    test "$n_stored" = 1 -a "$n_dup" = 7 -a "$n_rc" = 1
check "race: 4 rows" test "$(tenant_rows gwi-acme)" = 4

# -- malformed and oversize lines --------------------------------------------------------
{
	rec "mix-1-$R" "m1" "$P1" "$P2"
	printf '{"id":"mix-bad-%s","channel":"pager","conversation":"c","direction":"out","sender":"%s","recipients":["%s"],"sent_at":"2026-11-22T10:00:00Z","body":"x"}\n' "$R" "$P1" "$P2"
	rec "mix-2-$R" "m2" "$P1" "$P2"
	printf '{"id":"mix-big-%s","body":"' "$R"; head -c 300000 /dev/zero | tr '\0' 'a'; printf '"}\n'
	printf '{"id":"mix-3",\n'
	rec "mix-4-$R" "m4" "$P1" "$P2"
} >"$T/mixed"
code=$(post phone-a "$T/mixed")
check "mixed: 200" test "$code" = 200
check "mixed: statuses" test "$(statuses)" = "stored rejected stored rejected rejected stored"
check "mixed: line 2 rejected with its reason" test "$(field 2 line):$(field 2 error)" = "2:channel: unknown channel"
check "mixed: oversize record rejected" test "$(field 4 line):$(field 4 error)" = "4:record too large"
check "mixed: truncated JSON rejected" test "$(field 5 error)" = "truncated JSON"
check "mixed: the good ones stored (7 rows)" test "$(tenant_rows gwi-acme)" = 7

python3 -c 'import sys; sys.stdout.write("x" * (3 * 1024 * 1024))' >"$T/huge"
code=$(post phone-a "$T/huge")
check "oversize body: 413" test "$code" = 413
rec "after-413-$R" "after" "$P1" "$P2" >"$T/after"
code=$(post phone-a "$T/after")
check "next request on a new connection works" test "$code:$(statuses)" = "200:stored"

# -- tenants apart -----------------------------------------------------------------------
before_a=$(tenant_rows gwi-acme)
{ rec "$ID1" "from-b" "$P1" "$P2"
  printf '{"id":"b-2","tenant":"gwi-acme","channel":"sms","conversation":"c","direction":"in","sender":"%s","recipients":["%s"],"sent_at":"2026-11-22T10:00:00Z","body":"x"}\n' "$P1" "$P2"
} >"$T/tenant-b"
code=$(post phone-b "$T/tenant-b")
check "device of B: its record stored, a body naming A rejected" \
    test "$code:$(statuses):$(field 2 error)" = "200:stored rejected:unknown field"
check "device of B stored into B only" \
    test "$(tenant_rows gwi-globex):$(tenant_rows gwi-acme)" = "1:$before_a"

# -- PostgreSQL down and back --------------------------------------------------------------
if [ -n "${COFFER_PG_CTL:-}" ]; then
	rec "down-$R" "while down" "$P1" "$P2" >"$T/down"
	"$COFFER_PG_CTL" stop -m fast -w -s >/dev/null 2>&1 || bad "pg_ctl stop"
	code=$(post phone-a "$T/down")
	ra=$(grep -i '^retry-after:' "$T/hdr" | tr -d '\r' | sed 's/^[^:]*: *//')
	check "database down: 503 with Retry-After ($code, '$ra')" test "$code" = 503 -a -n "$ra"
	check "database down: no receipt" sh -c "! grep -q receipt '$T/resp'"
	"$COFFER_PG_CTL" start -w -t 60 -s >/dev/null 2>&1 || bad "pg_ctl start"
	i=0
	code=""
	while [ $i -lt 50 ]; do
		code=$(post phone-a "$T/down")
		[ "$code" = 200 ] && break
		sleep 0.2
		i=$((i + 1))
	done
	check "database back: stored without a gateway restart" \
	    test "$code:$(statuses)" = "200:stored"
	check "same gateway process" kill -0 "$GWF_PID"
else
	bad "COFFER_PG_CTL not set: database outage not tested"
fi

# -- kill -9 while a retrying client streams 10 000 records ----------------------------------
python3 - "$T/tenk" "$R" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(10000):
        f.write('{"id":"k-%s-%d","channel":"whatsapp","conversation":"g-%d","direction":"in",'
                '"sender":"+1555%07d","recipients":["+15559990000"],'
                '"sent_at":"2026-11-22T10:%02d:%02dZ","body":"record %d"}\n'
                % (sys.argv[2], i, i % 13, i, (i // 60) % 60, i % 60, i))
EOF
python3 "$CLIENT" --port "$PORT" --ca "$SRV_CA" --cert "$GWF_CERTS/phone-k.crt" \
    --key "$GWF_CERTS/phone-k.key" --records "$T/tenk" --per 50 \
    --receipts "$T/receipts" --deadline 400 >"$T/client.out" 2>&1 &
CL=$!
kills=0
for pause in 0.5 0.7 0.7 0.7; do
	sleep "$pause"
	kill -0 "$CL" 2>/dev/null || break
	kill -9 "$GWF_PID"
	wait "$GWF_PID" 2>/dev/null
	GWF_PID=""
	kills=$((kills + 1))
	sleep 0.3
	gwf_start phone-a || { bad "gateway restart after kill -9"; break; }
done
wait "$CL"
crc=$?
check "retrying client got an answer for all 10 000 records through $kills kill -9 ($(tail -1 "$T/client.out"))" test "$crc" = 0
check "exactly 10 000 rows" test "$(tenant_rows gwi-kill)" = 10000
# Each receipt names a row that exists, with that leaf hash.
missing=$(ff_missing_receipts "$T/receipts")
check "every receipt names a stored row ($missing missing)" test "$missing" = 0
check "10 000 distinct receipts" test "$(awk '{print $3}' "$T/receipts" | sort -u | wc -l)" = 10000
python3 "$CLIENT" --port "$PORT" --ca "$SRV_CA" --cert "$GWF_CERTS/phone-k.crt" \
    --key "$GWF_CERTS/phone-k.key" --records "$T/tenk" --per 500 \
    --receipts "$T/receipts2" --deadline 200 >"$T/client2.out" 2>&1
crc=$?
check "re-sending everything: only duplicates ($(tail -1 "$T/client2.out"))" \
    test "$crc:$(tail -1 "$T/client2.out" | cut -d' ' -f1,2)" = "0:stored=0 duplicate=10000"
awk '{print $1, $3}' "$T/receipts" >"$T/rc1"
awk '{print $1, $3}' "$T/receipts2" >"$T/rc2"
check "re-sent receipts identical to the first ones" cmp -s "$T/rc1" "$T/rc2"
check "still exactly 10 000 rows" test "$(tenant_rows gwi-kill)" = 10000
gaps=$(db "SELECT count(*) FROM (SELECT stream_id, seq, lag(seq) OVER (PARTITION BY stream_id ORDER BY seq) AS prev FROM coffer.records) s WHERE prev IS NOT NULL AND seq <> prev + 1")
check "no seq gaps in any stream" test "$gaps" = 0
wl=$(wc -l <"$T/witness.jsonl")
nb=$(db "SELECT count(*) FROM coffer.checkpoints c JOIN coffer.nodes n USING (node_id) WHERE n.name = 'gwi-node'")
check "witness file has a line per committed checkpoint ($wl/$nb)" test "$wl" -le "$nb" -a "$wl" -gt 0

# -- PostgreSQL crashing (immediate stop) while a client streams ---------------------
# Connections die at any point, COMMIT included: whatever got a receipt must
# be there after crash recovery, nothing twice, no seq gap.
if [ -n "${COFFER_PG_CTL:-}" ]; then
	python3 - "$T/crash" "$R" <<'EOF2'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(4000):
        f.write('{"id":"c-%s-%d","channel":"sms","conversation":"g","direction":"out",'
                '"sender":"+1555%07d","recipients":["+15559990001"],'
                '"sent_at":"2026-11-22T11:00:00Z","body":"crash %d"}\n'
                % (sys.argv[2], i, i, i))
EOF2
	python3 "$CLIENT" --port "$PORT" --ca "$SRV_CA" --cert "$GWF_CERTS/phone-c.crt" \
	    --key "$GWF_CERTS/phone-c.key" --records "$T/crash" --per 40 \
	    --receipts "$T/crash.rc" --deadline 400 >"$T/crash.out" 2>&1 &
	CL=$!
	crashes=0
	for pause in 0.4 0.8; do
		sleep "$pause"
		kill -0 "$CL" 2>/dev/null || break
		"$COFFER_PG_CTL" stop -m immediate -w -s >/dev/null 2>&1 || bad "pg_ctl stop -m immediate"
		crashes=$((crashes + 1))
		sleep 0.5
		"$COFFER_PG_CTL" start -w -t 60 -s >/dev/null 2>&1 || bad "pg_ctl start"
	done
	wait "$CL"
	crc=$?
	check "client answered for all 4 000 records through $crashes database crashes ($(tail -1 "$T/crash.out"))" test "$crc" = 0
	[ "$crc" = 0 ] || grep -E "error|warn" "$GWF_LOG" | tail -20
	check "exactly 4 000 rows after crash recovery" test "$(tenant_rows gwi-crash)" = 4000
	missing=$(ff_missing_receipts "$T/crash.rc")
	check "every receipt given across the crashes names a stored row ($missing missing)" test "$missing" = 0
	gaps=$(db "SELECT count(*) FROM (SELECT seq, lag(seq) OVER (PARTITION BY stream_id ORDER BY seq) AS prev FROM coffer.records) s WHERE prev IS NOT NULL AND seq <> prev + 1")
	check "no seq gaps after the crashes" test "$gaps" = 0
	check "same gateway process through the crashes" kill -0 "$GWF_PID"
fi

# -- metrics: pipeline counters, well-formed, nothing sensitive ----------------------
curl -s "http://127.0.0.1:$GWF_METRICS_PORT/metrics" >"$T/metrics.txt"
python3 - "$T/metrics.txt" >"$T/metrics.chk" 2>&1 <<'EOF2'
import re, sys
typed, seen = {}, {}
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if line.startswith("# TYPE "):
        name = line.split()[2]
        assert name not in typed, "family typed twice: " + name
        typed[name] = line.split()[3]
        continue
    if not line or line.startswith("#"):
        continue
    m = re.match(r'^([a-z_:][a-z0-9_:]*)(\{[^}]*\})? (\S+)$', line)
    assert m, "bad line: " + line
    float(m.group(3))
    seen[m.group(1) + (m.group(2) or "")] = float(m.group(3))
need = ['coffer_gateway_records_total{status="stored"}',
        'coffer_gateway_records_total{status="duplicate"}',
        'coffer_gateway_records_total{status="rejected"}',
        'coffer_gateway_commit_seconds_count', 'coffer_gateway_batch_records_count',
        'coffer_gateway_epoch_rotations_total', 'coffer_gateway_db_errors_total',
        'coffer_gateway_ingest_bytes_total']
for n in need:
    assert n in seen, "missing " + n
print("stored=%d" % seen['coffer_gateway_records_total{status="stored"}'])
EOF2
mrc=$?
check "metrics: well-formed, pipeline families present ($(tail -1 "$T/metrics.chk"))" test "$mrc" = 0
leak=""
for s in "$ID1" "$B1" "${P1#+}" "gwi-acme" "phone-a"; do
	grep -qF -- "$s" "$T/metrics.txt" && leak="$leak $s"
done
check "metrics carry no content, ids, tenant or device names${leak:+:$leak}" test -z "$leak"

# The archive verifier, once cofferctl has it: leaf hashes, Merkle roots,
# chain heads, checkpoint signatures and the witness copy, after kill -9.
if "$GWF_CTL" verify --help >/dev/null 2>&1; then
	for tn in gwi-kill gwi-acme gwi-globex; do
		"$GWF_CTL" verify --tenant "$tn" --witness "$T/witness.jsonl" \
		    >"$T/verify.out" 2>&1
		vrc=$?
		check "cofferctl verify --tenant $tn: clean (exit $vrc)" test "$vrc" = 0
		[ "$vrc" = 0 ] || sed 's/^/     /' "$T/verify.out"
	done
else
	echo "skip - cofferctl verify not available in this build"
fi

# -- the same answers and counters with privsep = 0 ----------------------------------
# Validation runs in the network process either way (issue 14); with
# privsep = 0 the pipeline shares that process (measurement only).  The
# mixed request again and a backdated record (duplicates by now: their
# receipts are fixed), and one request over max_records_per_request: the
# answers must be byte for byte those of the separated gateway, and the
# rejected / too-large / backdated counters must move alike (3 rejected,
# 1 too large; backdated: the old record, and the mixed ones once their
# fixed date is a week old).
metric() {
	curl -s "http://127.0.0.1:$GWF_METRICS_PORT/metrics" |
	    sed -n "s/^$1 //p"
}
counters() {
	echo "$(metric 'coffer_gateway_records_total{status="rejected"}') $(metric coffer_gateway_records_too_large_total) $(metric coffer_gateway_records_backdated_total)"
}
delta() {   # delta "A B C" "D E F": "D-A E-B F-C"
	echo "$1 $2" | awk '{ print $4 - $1, $5 - $2, $6 - $3 }'
}
printf '{"id":"old-%s","channel":"sms","conversation":"c","direction":"in","sender":"%s","recipients":["%s"],"sent_at":"2001-01-01T00:00:00Z","body":"old"}\n' \
    "$R" "$P1" "$P2" >"$T/old"
python3 -c 'import sys; sys.stdout.write("{}\n" * 1001)' >"$T/many"
post phone-a "$T/old" >/dev/null     # stored: a duplicate from now on
for mode in 1 0; do
	if [ "$mode" = 0 ]; then
		gwf_stop
		gwf_config "max_body_bytes = 2097152" "max_line_bytes = 262144" \
		    "max_records_per_request = 1000" "device_rate = 10000" \
		    "device_burst = 10000" "batch_max_ms = 5" "privsep = 0" &&
		    gwf_start phone-a || { bad "gateway restart with privsep = 0"; break; }
	fi
	c0=$(counters)
	code=$(post phone-a "$T/mixed")
	cp "$T/resp" "$T/mixed.$mode"
	echo "$code" >"$T/codes.$mode"
	code=$(post phone-a "$T/old")
	cp "$T/resp" "$T/old.$mode"
	echo "$code" >>"$T/codes.$mode"
	code=$(post phone-a "$T/many")
	cp "$T/resp" "$T/many.$mode"
	echo "$code" >>"$T/codes.$mode"
	delta "$c0" "$(counters)" >"$T/delta.$mode"
	metric coffer_gateway_privilege_separated >"$T/sep.$mode"
done
check "privsep 1 and 0: separated $(cat "$T/sep.1"), then $(cat "$T/sep.0")" \
    test "$(cat "$T/sep.1"):$(cat "$T/sep.0")" = "1:0"
check "privsep 1 and 0: same statuses ($(tr '\n' ' ' <"$T/codes.1"))" \
    sh -c "[ \"\$(tr '\n' ' ' <'$T/codes.1')\" = '200 200 413 ' ] && cmp -s '$T/codes.1' '$T/codes.0'"
check "privsep 1 and 0: byte-identical answers (mixed, backdated, too many records)" \
    sh -c "cmp -s '$T/mixed.1' '$T/mixed.0' && cmp -s '$T/old.1' '$T/old.0' && cmp -s '$T/many.1' '$T/many.0'"
check "privsep 1 and 0: rejected, too large, backdated counted alike ($(cat "$T/delta.1") / $(cat "$T/delta.0"))" \
    sh -c "cmp -s '$T/delta.1' '$T/delta.0' && awk '\$1 == 3 && \$2 == 1 && \$3 >= 1 { ok = 1 } END { exit !ok }' '$T/delta.1'"
sed -n 1p "$T/mixed.0" | grep -q '"status":"duplicate"' ||
    bad "privsep 0: the mixed request's first line is not a duplicate: $(sed -n 1p "$T/mixed.0")"

leak=""
for s in "$ID1" "$B1" "${P1#+}" "record 42" "k-$R-"; do
	grep -qF -- "$s" "$GWF_LOG" && leak="$leak $s"
done
check "gateway log holds no content or ids${leak:+:$leak}" test -z "$leak"

ff_finish
