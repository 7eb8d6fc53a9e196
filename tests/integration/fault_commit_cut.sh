#!/bin/sh
# tests/integration/fault_commit_cut.sh — the gateway's database connection
# cut between COMMIT and its answer, under load (issue 8).
#
# Runs inside tests/pg-harness.sh (make test; tests/torture/commit_cut.sh
# runs it with larger counts in make torture).  The gateway reaches
# PostgreSQL through tests/lib/pgproxy.py: 127.0.0.1:<port> forwarded to
# the server's unix socket (so pg_hba stays as the harness made it).  The
# proxy follows each transaction: the batch numbers of its INSERT INTO
# coffer.batches, and stream, seq and dedup token of every record in its
# binary COPY.  4 devices of one tenant stream through gateway_client.py.
# CUTS + DROPS times (defaults 2 and 1, torture 10 and 5; every third a
# drop): wait a random 200..1000 ms, arm the proxy, and the next COMMIT of a
# batch is
#   - a cut (SIGUSR1): forwarded, the server commits, its CommandComplete
#     is not passed on, the connection is closed;
#   - a drop (SIGUSR2): not forwarded, the connection is closed, the server
#     rolls back.
# The gateway cannot tell the two apart: the outcome is unknown to it.
# Asserts:
#   - every cut batch is in coffer.batches with all its records, each
#     stored as the COPY sent it (stream, seq, dedup token)
#   - no record of a cut batch was ever acknowledged "stored" (that would
#     acknowledge an unknown outcome); each was acknowledged "duplicate" by
#     a retry, with the receipt of the committed row
#   - every record of a dropped COMMIT is stored exactly once after the
#     retries, and was acknowledged "stored" by a retry
#   - every request holding such a record was first answered 503 or not at
#     all, then 200
#   - every acknowledgement names a stored row, no record stored twice, no
#     seq gap, rows = records acknowledged, cofferctl verify clean with the
#     witness file (tests/lib/fault-fixture.sh)
# Figures: cuts, drops, acknowledgements of unknown outcomes (0), retries
# resolved as duplicate, retries resolved as stored, rows stored twice
# (0), and the shared ones.
# Bounded: CUT_DEADLINE seconds for the cut loop (default 300).
set -u

FF_NAME=${FF_NAME:-fault_commit_cut}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/fault-fixture.sh
. "$HERE/../lib/fault-fixture.sh"

CUTS=${CUTS:-2}
DROPS=${DROPS:-1}
CUT_DEADLINE=${CUT_DEADLINE:-300}
RECORDS=${RECORDS:-60000}        # per client; the stop file ends them sooner
PER=25                           # records a request

# -- the proxy -----------------------------------------------------------------
# shellcheck source=../lib/pgproxy-fixture.sh
. "$FF_LIB/pgproxy-fixture.sh"
PX_KEEP=${FF_KEEP:-}
# shellcheck disable=SC2034  # read by ff_cleanup
FF_EXTRA_CLEANUP=px_stop
trap ff_cleanup EXIT
px_start || die "pgproxy did not start"
ok "pgproxy listening on 127.0.0.1:$PX_PORT, forwarding to the unix socket"

ff_setup ff-cut 4 "pg_conninfo = host=127.0.0.1 port=$PX_PORT dbname=$PGDATABASE user=gw sslmode=disable" ||
    die "gateway (through the proxy), tenant, 4 devices"
ok "gateway started with 4 devices of one tenant, database through the proxy"
ff_load "$RECORDS" 83 "$PER"

# -- cuts and drops ----------------------------------------------------------------
ntag() { awk -v t="$1" '$1 == "cut" && $4 == t' "$PX_DIR/log" | wc -l; }
cuts=0
drops=0
k=0
lim=$(($(date +%s) + CUT_DEADLINE))
while [ $((cuts + drops)) -lt $((CUTS + DROPS)) ] && [ "$(date +%s)" -lt "$lim" ]; do
	ff_sleep_ms "$(ff_rand_ms 200 1000)"
	ff_clients_alive || { bad "clients ended before cut $((k + 1))"; break; }
	if [ "$cuts" -ge "$CUTS" ] || { [ $((k % 3)) = 2 ] && [ "$drops" -lt "$DROPS" ]; }; then
		px_drop
	else
		px_cut
	fi
	px_wait $((k + 1)) || { bad "armed cut $((k + 1)) did not happen within 30 s"; break; }
	k=$(px_ncuts)
	drops=$(ntag DROPPED)
	cuts=$((k - drops))
done
t_last=$(ff_now)
check "$cuts COMMIT answers cut (wanted $CUTS), $drops COMMITs dropped (wanted $DROPS)" \
    test "$cuts" -ge "$CUTS" -a "$drops" -ge "$DROPS"
ff_sleep_ms 1500
ff_clients_stop 120
check "4 clients ended normally, each request answered 200 at last" test "$FF_CLIENTS_RC" = 0
after=$(cat "$FF_DIR"/log.* | awk -v t="$t_last" '$5 == 200 && $1 > t' | wc -l)
check "acknowledgements after the last cut ($after requests)" test "$after" -gt 0
notcommit=$(awk '$1 == "cut" && $4 != "COMMIT" && $4 != "DROPPED"' "$PX_DIR/log" | wc -l)
check "the server committed every COMMIT whose answer was cut ($notcommit did not)" test "$notcommit" = 0

# -- the cut transactions in the database ------------------------------------------
# proxy log: "cut N TIME TAG STREAM:BATCH,..." and "row N STREAM SEQ TOKEN"
awk '$1 == "cut" { tag[$2] = $4; if ($4 == "COMMIT") { n = split($5, g, ",");
	for (i = 1; i <= n; i++) { split(g[i], p, ":"); print "b", p[1], p[2] } } }
     $1 == "row" { print "r", tag[$2], $3, $4, $5 }' "$PX_DIR/log" >"$FF_DIR/cut_parts"
{
	echo "CREATE TEMP TABLE cb (stream uuid, batch_no bigint);"
	echo "CREATE TEMP TABLE cr (tag text, stream uuid, seq bigint, tok text);"
	echo "COPY cb FROM STDIN WITH (FORMAT text, DELIMITER ' ');"
	awk '$1 == "b" { print $2, $3 }' "$FF_DIR/cut_parts"
	printf '\\.\n'
	echo "COPY cr FROM STDIN WITH (FORMAT text, DELIMITER ' ');"
	awk '$1 == "r" { print $2, $3, $4, $5 }' "$FF_DIR/cut_parts"
	printf '\\.\n'
	cat <<EOF
CREATE TEMP TABLE mine AS SELECT r.stream_id, r.seq, r.batch_no, r.dedup_token
    FROM coffer.records r JOIN coffer.tenants t USING (tenant_id) WHERE t.name = '$FF_TENANT';
SELECT 'batches', count(*) FROM cb;
SELECT 'missing', count(*) FROM cb c WHERE NOT EXISTS (SELECT 1 FROM coffer.batches b
    WHERE b.stream_id = c.stream AND b.batch_no = c.batch_no);
SELECT 'incomplete', count(*) FROM cb c JOIN coffer.batches b
    ON b.stream_id = c.stream AND b.batch_no = c.batch_no
    WHERE b.record_count <> (SELECT count(*) FROM mine r
        WHERE r.stream_id = c.stream AND r.batch_no = c.batch_no);
SELECT 'committed_rows', count(*) FROM cr WHERE tag = 'COMMIT';
SELECT 'committed_not_as_sent', count(*) FROM cr c WHERE tag = 'COMMIT' AND NOT EXISTS
    (SELECT 1 FROM mine r WHERE r.stream_id = c.stream AND r.seq = c.seq
        AND r.dedup_token = decode(c.tok, 'hex'));
SELECT 'dropped_rows', count(*) FROM cr WHERE tag = 'DROPPED';
SELECT 'dropped_not_once', count(*) FROM cr c WHERE tag = 'DROPPED' AND
    (SELECT count(*) FROM mine r WHERE r.dedup_token = decode(c.tok, 'hex')) <> 1;
SELECT 'arow', c.stream, c.seq FROM cr c WHERE tag = 'COMMIT';
SELECT 'drow', r.stream_id, r.seq FROM cr c JOIN mine r ON r.dedup_token = decode(c.tok, 'hex')
    WHERE c.tag = 'DROPPED';
EOF
} | $FF_PSQL -F ' ' >"$FF_DIR/cut_db" 2>&1 || { cat "$FF_DIR/cut_db"; bad "query of the cut transactions"; }
cv() { awk -v k="$1" '$1 == k { print $2 }' "$FF_DIR/cut_db"; }
check "every cut batch committed: $(cv batches) in coffer.batches ($(cv missing) missing)" \
    test "$(cv batches)" -ge "$cuts" -a "$(cv missing)" = 0
check "every cut batch holds all its records ($(cv incomplete) incomplete)" test "$(cv incomplete)" = 0
check "records of cut batches stored as the COPY sent them: stream, seq, dedup token ($(cv committed_not_as_sent) of $(cv committed_rows) not)" \
    test "$(cv committed_not_as_sent)" = 0 -a "$(cv committed_rows)" -gt 0
if [ "$DROPS" -gt 0 ]; then
	check "every record of a dropped COMMIT stored exactly once after the retries ($(cv dropped_not_once) of $(cv dropped_rows) not)" \
	    test "$(cv dropped_not_once)" = 0 -a "$(cv dropped_rows)" -gt 0
fi

# -- what the clients were told about them ------------------------------------------
python3 - "$FF_DIR" "$FF_NDEV" "$PER" >"$FF_DIR/cut_acks" 2>&1 <<'EOF'
import sys
d, ndev, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
arow, drow = set(), set()
for l in open(d + "/cut_db"):
    p = l.split()
    if p and p[0] == "arow":
        arow.add((p[1], p[2]))
    elif p and p[0] == "drow":
        drow.add((p[1], p[2]))
c_stored = c_dup = d_stored = d_dup = d_cut = affected = refused_first = 0
for c in range(1, ndev + 1):
    hit_lines = set()
    for l in open("%s/rc.%d" % (d, c)):
        p = l.split()
        if len(p) != 3:
            continue
        stream, seq, _leaf = p[2].split(":")
        key = (stream, seq)
        if key in arow:
            hit_lines.add(int(p[0]))
            if p[1] == "stored":
                c_stored += 1
                print("unknown outcome acknowledged as stored: client %d "
                      "line %s" % (c, p[0]))
            else:
                c_dup += 1
                if key in drow:     # dropped, then its retry's COMMIT cut
                    d_cut += 1
        elif key in drow:
            hit_lines.add(int(p[0]))
            if p[1] == "stored":
                d_stored += 1
            else:
                d_dup += 1
                print("record of a dropped COMMIT acknowledged duplicate: "
                      "client %d line %s" % (c, p[0]))
    attempts = {}
    for l in open("%s/log.%d" % (d, c)):
        p = l.split()
        attempts.setdefault(int(p[2]), []).append(p[4])
    for first, att in attempts.items():
        if not any(first <= x < first + per for x in hit_lines):
            continue
        affected += 1
        if len(att) > 1 and att[-1] == "200" and "200" not in att[:-1]:
            refused_first += 1
        else:
            print("client %d request at line %d: %s" % (c, first,
                                                         " ".join(att)))
for k, v in (("committed_acked_stored", c_stored),
             ("committed_acked_duplicate", c_dup),
             ("dropped_acked_stored", d_stored),
             ("dropped_acked_duplicate", d_dup),
             ("dropped_then_cut", d_cut),
             ("affected_requests", affected),
             ("refused_first", refused_first)):
    print(k, v)
EOF
# shellcheck disable=SC2181  # the status of the python3 here-document above
[ $? -eq 0 ] || { cat "$FF_DIR/cut_acks"; bad "analysis of the acknowledgements"; }
grep -v '^[a-z_]* [0-9]*$' "$FF_DIR/cut_acks" | sed 's/^/     /'
av() { awk -v k="$1" '$1 == k { print $2 }' "$FF_DIR/cut_acks"; }
check "no record of a cut batch acknowledged as stored ($(av committed_acked_stored) of $(cv committed_rows))" \
    test "$(av committed_acked_stored)" = 0
check "every record of a cut batch acknowledged duplicate by a retry, with the committed row's receipt ($(av committed_acked_duplicate) of $(cv committed_rows))" \
    test "$(av committed_acked_duplicate)" = "$(cv committed_rows)"
# A dropped record's retry may land in a COMMIT that is cut in turn: it
# is then one of the cut batch's records, acknowledged duplicate above.
check "every record of a dropped COMMIT acknowledged stored by a retry ($(av dropped_acked_stored) of $(cv dropped_rows); $(av dropped_then_cut) more whose retry's COMMIT was cut in turn, acknowledged duplicate)" \
    test $(($(av dropped_acked_stored) + $(av dropped_then_cut))) = "$(cv dropped_rows)"
check "every request holding such a record first answered 503 or not at all, then 200 ($(av refused_first) of $(av affected_requests))" \
    test "$(av refused_first)" = "$(av affected_requests)" -a "$(av affected_requests)" -gt 0
ff_tally "$FF_NAME"
twice=$(awk '$1 == "twice" { print $2 }' "$FF_DIR/tally")
fig "$FF_NAME" "COMMIT answers cut (server committed, gateway not told)" "$cuts"
fig "$FF_NAME" "COMMITs dropped before the server (rolled back)" "$drops"
fig "$FF_NAME" "unknown outcomes acknowledged (must be 0)" "$(av committed_acked_stored)"
fig "$FF_NAME" "requests holding a cut record: 503 or no answer, then 200" "$(av refused_first)"
fig "$FF_NAME" "retries resolved as duplicate (records of cut COMMITs)" "$(av committed_acked_duplicate)"
fig "$FF_NAME" "retries resolved as stored (records of dropped COMMITs)" "$(av dropped_acked_stored)"
fig "$FF_NAME" "records of dropped COMMITs whose retry was cut in turn (acknowledged duplicate)" "$(av dropped_then_cut)"
fig "$FF_NAME" "rows stored twice (must be 0)" "$twice"

ff_finish
