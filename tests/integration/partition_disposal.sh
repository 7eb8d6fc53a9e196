#!/bin/sh
# tests/integration/partition_disposal.sh — issue 17.2: records live in
# monthly partitions (0018) and a purge drops a partition whole when every
# row of it goes (0019), leaving partition tombstones that a signed purge
# event vouches for.  An archive spanning six months (a real gateway run
# under libfaketime in the middle of each month), retention between the
# third and fourth month back, one held record in the fifth month back:
# the fully expired months are dropped as partitions, the held month is
# purged row by row, `cofferctl verify` proves both, and the attackers —
# the database owner who drops a partition of unexpired records and writes
# a partition tombstone for it, under a new purge id or a real one, or who
# drops one without any — are caught.  Then the upgrade path: an archive
# made before 0018 keeps its rows as the partition records_legacy.  Real
# gateway, PostgreSQL and cofferctl.  Runs inside tests/pg-harness.sh.
set -u
ROOT=$(pwd)
. "$ROOT/tests/lib/gateway-fixture.sh"
GWF_NO_TRAP=1
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"
CK_NAME=partition_disposal
. "$ROOT/tests/lib/check.sh"
logs_tail() {
	[ -n "${GWF_LOG:-}" ] && [ -f "$GWF_LOG" ] && tail -15 "$GWF_LOG" | sed 's/^/  gw: /'
}
CK_DIE_HOOK=logs_tail
q() { $PSQL -c "$1"; }
DB=$PGDATABASE
cleanup() {
	gwf_cleanup
	for x in pd_t1 pd_t2 pd_t3 pd_t4 pd_t5 pd_up pd_busy pd_relabel; do
		$PSQL -d postgres -c "DROP DATABASE IF EXISTS $x" >/dev/null 2>&1
	done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

gwf_init || die "gateway fixture"
D=$GWF_DIR
CTL=$GWF_CTL
REAL_GW=$GWF_GW
NOW=$(date -u +%s)
gwf_clock_wrap "$CTL" "$D/ctl-past" -220d || die "clock wrapper"
GWF_CTL="$D/ctl-past"
gwf_server_cert && gwf_tenant pd && gwf_device pd phone-1 && gwf_node pd-node ||
    die "set-up 220 days ago"
GWF_CTL=$CTL
gwf_config "epoch_records = 7" || die "gateway config"

# The owner makes the past months' partitions (a fresh archive has them
# from its first month on; these months predate the test database).
made=$(q "SELECT coffer.records_partitions_ensure(now() - interval '6 months', 3)")
check_eq "partitions made for the six past months" 6 "$made"

# send TAG N WHO: N records, sent at the gateway's (fake) now, $AGE days
# ago (retention runs from the later of sent_at and received_at)
send() {
	python3 - "$1" "$2" "$3" "${AGE:-0}" >"$D/in-$1.ndjson" <<'PY'
import json, sys, time
tag, n, who, age = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
t0 = time.time() - age * 86400 - 60
for k in range(n):
    print(json.dumps({"id": "%s-%d" % (tag, k), "channel": "signal",
        "conversation": "conv-%s" % tag, "direction": "out", "sender": who,
        "recipients": ["+15550170009"],
        "sent_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0)),
        "body": "%s %d" % (tag, k)}))
PY
	code=$(gwf_curl phone-1 -o "$D/in-$1.out" -w '%{http_code}' \
	    -H 'Content-Type: application/x-ndjson' --data-binary "@$D/in-$1.ndjson" \
	    "$(gwf_url v1/records)" 2>/dev/null) || code=000
	check_eq "$1: $2 records stored" "200 $2" "$code $(grep -c '"stored"' "$D/in-$1.out")"
}

# Month k back: the 15th at noon UTC, as days before now.
first=$(date -u +%Y-%m-01)
for k in 6 5 4 3 2 1; do
	t=$(date -u -d "$first -$k months +14 days 12:00" +%s) || die "date"
	AGE=$(( (NOW - t) / 86400 ))
	eval "AGE_$k=$AGE"
	eval "PART_$k=records_$(date -u -d "@$t" +%Y_%m)"
	gwf_clock_wrap "$REAL_GW" "$D/gw-$k" "-${AGE}d" &&
	    gwf_clock_wrap "$CTL" "$D/ctl-$k" "-${AGE}d" || die "clock wrapper $k"
	# the tenant's CRL as it was signed that month
	"$D/ctl-$k" pki crl-refresh --tenant pd >"$D/out" 2>&1 ||
	    die "crl-refresh ($k months back): $(cat "$D/out")"
	GWF_GW="$D/gw-$k"
	gwf_start || die "gateway start ($k months back)"
	if [ "$k" = 5 ]; then
		send "m$k" 19 +15550170001
		send "m$k-held" 1 +15550170005
	else
		send "m$k" 20 +15550170001
	fi
	gwf_stop || die "gateway stop ($k months back)"
done
GWF_GW=$REAL_GW
AGE=0
"$CTL" pki crl-refresh --tenant pd >"$D/out" 2>&1 || die "crl-refresh: $(cat "$D/out")"
# shellcheck disable=SC2154  # set by eval above
{ P6=$PART_6; P5=$PART_5; P4=$PART_4; P3=$PART_3; A4=$AGE_4; A3=$AGE_3; }
check_eq "each month's records are in that month's partition" "20 20 20 20" \
    "$(q "SELECT (SELECT count(*) FROM coffer.$P6), (SELECT count(*) FROM coffer.$P5),
                 (SELECT count(*) FROM coffer.$P4), (SELECT count(*) FROM coffer.$P3)" | tr '|' ' ')"
check_eq "the default partition holds nothing" 0 \
    "$(q "SELECT count(*) FROM coffer.records_default")"
check_eq "every record has its dedup row" 120 "$(q "SELECT count(*) FROM coffer.record_dedup")"

# Retention halfway between the fourth and the third month back; a hold
# on one participant of the fifth.
R=$(( (A4 + A3) / 2 ))
q "UPDATE coffer.tenants SET retention_floor_days = 1" >/dev/null || bad "floor"
"$CTL" retention set --tenant pd --days "$R" >"$D/out" 2>&1 &&
    ok "retention set: $(cat "$D/out")" || bad "retention set: $(cat "$D/out")"
"$CTL" hold create --tenant pd --participant "+15550170005" \
    --keys-dir "$GWF_KEYS" --reason "matter 17" >"$D/out" 2>&1 ||
    bad "hold create: $(cat "$D/out")"

"$CTL" purge --dry-run >"$D/out" 2>&1
check_eq "dry run exits 0" 0 $?
check_eq "the dry run names the two partitions it would drop" "1 1 1" \
    "$(grep -c "would drop partition $P6 whole" "$D/out") $(grep -c "would drop partition $P4 whole" "$D/out") $(grep -c 'would purge 59 records, kept 1 under hold' "$D/out")"
check_eq "a dry run drops nothing" "3 0" \
    "$(q "SELECT count(*) FROM pg_class WHERE relname IN ('$P6', '$P5', '$P4')") $(q "SELECT count(*) FROM coffer.partition_tombstones")"

# The owner, before a legitimate purge, deletes an unexpired batch of the
# third month back and labels one row of the expiring sixth month with
# that batch's number: the purge must not cover the deleted batch with
# the sixth month's partition tombstone (coverage is by seq range, per
# coffer.batches), and verify must find the deletion.
$PSQL -d postgres -c "CREATE DATABASE pd_relabel TEMPLATE $DB" >/dev/null || die "copy pd_relabel"
$PSQL -d pd_relabel >/dev/null 2>"$D/relabel.err" <<EOF || bad "relabel: $(cat "$D/relabel.err")"
ALTER TABLE coffer.records DISABLE TRIGGER records_append_only;
CREATE TEMP TABLE v AS
SELECT s.stream_id, s.seq, (SELECT min(b.batch_no) FROM coffer.$P3 b
                            WHERE b.stream_id = s.stream_id) AS victim
FROM (SELECT stream_id, seq FROM coffer.$P6 ORDER BY seq LIMIT 1) s;
DELETE FROM coffer.records r USING v
WHERE r.stream_id = v.stream_id AND r.batch_no = v.victim;
UPDATE coffer.records r SET batch_no = v.victim FROM v
WHERE r.stream_id = v.stream_id AND r.seq = v.seq;
ALTER TABLE coffer.records ENABLE ALWAYS TRIGGER records_append_only;
EOF
PGDATABASE=pd_relabel "$CTL" purge --yes --reason "relabel" >"$D/relabel.out" 2>&1 ||
    bad "purge on the relabelled copy: $(cat "$D/relabel.out")"
PGDATABASE=pd_relabel PGUSER=auditor "$CTL" verify >"$D/relabel.v" 2>&1
rc=$?
if [ "$rc" -ne 0 ] && grep -q "record deleted\|the tombstone says batch" "$D/relabel.v"; then
	ok "an unexpired batch deleted and a row relabelled before a purge is found: $(head -1 "$D/relabel.v" | cut -c1-200)"
else
	bad "relabel: verify rc $rc: $(head -3 "$D/relabel.v")"
fi

# A long reader holds coffer.records (a production, say) on a copy: the
# purge cannot have its exclusive lock within 5 s, so those months go row
# by row and the purge still completes.
$PSQL -d postgres -c "CREATE DATABASE pd_busy TEMPLATE $DB" >/dev/null || die "copy pd_busy"
$PSQL -d pd_busy -c "BEGIN; LOCK TABLE coffer.records IN ACCESS SHARE MODE; SELECT pg_sleep(15); COMMIT" >/dev/null 2>&1 &
holder=$!
sleep 1
PGDATABASE=pd_busy "$CTL" purge --yes --reason "busy" >"$D/busy.out" 2>&1
check_eq "with coffer.records busy the purge completes" "0 1" \
    "$? $(grep -c 'purged 59 records' "$D/busy.out")"
check_eq "and says the months go row by row" 2 \
    "$(grep -c 'is busy: its records are disposed of row by row' "$D/busy.out")"
check_eq "nothing dropped, 59 row tombstones" "0 59 0" \
    "$($PSQL -d pd_busy -c "SELECT (SELECT count(*) FROM coffer.record_partitions WHERE dropped_at IS NOT NULL), (SELECT count(*) FROM coffer.tombstones), (SELECT count(*) FROM coffer.partition_tombstones)" | tr '|' ' ')"
wait "$holder"
PGDATABASE=pd_busy PGUSER=auditor "$CTL" verify >"$D/verify.out" 2>&1
check_eq "the busy copy verifies" 0 $?

"$CTL" purge --yes --reason "partition test" >"$D/out" 2>&1 ||
    bad "purge: $(cat "$D/out")"
grep -q "purged 59 records" "$D/out" && ok "purge: $(head -1 "$D/out")" ||
    bad "purge output: $(cat "$D/out")"
check_eq "purge reports the partitions it dropped" "1 1 1" \
    "$(grep -c "dropped partition $P6 whole" "$D/out") $(grep -c "dropped partition $P4 whole" "$D/out") $(grep -c '40 of these records went with their partitions' "$D/out")"
check_eq "the expired months are gone as tables; the held month and the rest stay" "$P5 $P3" \
    "$(q "SELECT string_agg(relname, ' ' ORDER BY relname) FROM pg_class WHERE relname IN ('$P6', '$P5', '$P4', '$P3')")"
check_eq "record_partitions says which purge dropped them" 2 \
    "$(q "SELECT count(*) FROM coffer.record_partitions WHERE name IN ('$P6', '$P4') AND dropped_at IS NOT NULL AND purge_id IS NOT NULL")"
check_eq "the held month went row by row: 19 tombstones, the held record kept" "19 1" \
    "$(q "SELECT count(*) FROM coffer.tombstones") $(q "SELECT count(*) FROM coffer.$P5")"
check_eq "partition tombstones count the 40 dropped records, no row tombstone for them" "40 0" \
    "$(q "SELECT sum(record_count) FROM coffer.partition_tombstones") $(q "SELECT count(*) FROM coffer.tombstones t JOIN coffer.partition_tombstones p ON p.tenant_id = t.tenant_id AND p.stream_id = t.stream_id AND t.batch_no <@ p.batches")"
check_eq "dedup rows left: the 61 records still held" 61 \
    "$(q "SELECT count(*) FROM coffer.record_dedup")"
check_eq "the signed purge event carries the partition root" "40 t" \
    "$(q "SELECT detail->>'partition_records', (detail->>'partition_root') ~ '^[0-9a-f]{64}\$' FROM coffer.audit_events WHERE action = 'purge'" | tr '|' ' ')"
PGUSER=auditor "$CTL" verify >"$D/verify.out" 2>&1
check_eq "the archive verifies after both kinds of removal" 0 $?
grep -q "batches were disposed of with their partitions" "$D/verify.out" &&
    ok "verify: $(head -1 "$D/verify.out")" || bad "verify output: $(cat "$D/verify.out")"

# The gateway keeps three months of partitions ahead: the furthest one,
# removed by the owner, is made again when it starts.
LAST=$(q "SELECT max(name) FROM coffer.record_partitions")
q "DROP TABLE coffer.$LAST; DELETE FROM coffer.record_partitions WHERE name = '$LAST'" ||
    bad "drop $LAST"
# A record sent again after its partition went is stored again (its
# dedup row went with it), like after a row-by-row purge.
gwf_start || die "gateway start"
i=0
until [ "$(q "SELECT to_regclass('coffer.$LAST') IS NOT NULL")" = t ] || [ $i -ge 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
check_eq "the gateway made the missing month ahead" "t 1" \
    "$(q "SELECT to_regclass('coffer.$LAST') IS NOT NULL") $(grep -c 'made 1 monthly partitions ahead' "$GWF_LOG")"
python3 - >"$D/again.ndjson" <<'PY'
import json, time
print(json.dumps({"id": "m6-0", "channel": "signal", "conversation": "conv-m6",
    "direction": "out", "sender": "+15550170001", "recipients": ["+15550170009"],
    "sent_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "body": "again"}))
PY
code=$(gwf_curl phone-1 -o "$D/again.out" -w '%{http_code}' \
    -H 'Content-Type: application/x-ndjson' --data-binary "@$D/again.ndjson" \
    "$(gwf_url v1/records)" 2>/dev/null) || code=000
check_eq "a record of a dropped month sent again is stored anew" "200 1" \
    "$code $(grep -c '"stored"' "$D/again.out")"
code=$(gwf_curl phone-1 -o "$D/again.out" -w '%{http_code}' \
    -H 'Content-Type: application/x-ndjson' --data-binary "@$D/again.ndjson" \
    "$(gwf_url v1/records)" 2>/dev/null) || code=000
check_eq "and once stored, it is a duplicate" "200 1" \
    "$code $(grep -c '"duplicate"' "$D/again.out")"
gwf_stop || die "gateway stop"
PGUSER=auditor "$CTL" verify >"$D/verify.out" 2>&1
check_eq "the archive verifies after new ingest" 0 $?

# -- the attackers: the database owner ---------------------------------------------
# tamper DB SQL EXPECT: on a copy of the archive, SQL as the owner, then
# verify must fail naming EXPECT.
tamper() {
	$PSQL -d postgres -c "CREATE DATABASE $1 TEMPLATE $DB" >/dev/null ||
	    { bad "copy for $1"; return; }
	$PSQL -d "$1" -c "$2" >/dev/null 2>"$D/$1.err" ||
	    { bad "$1: tampering failed: $(cat "$D/$1.err")"; return; }
	PGDATABASE=$1 PGUSER=auditor "$CTL" verify >"$D/$1.out" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ] && grep -q "$3" "$D/$1.out"; then
		ok "$4: $(grep -m1 "$3" "$D/$1.out" | cut -c1-220)"
	else
		bad "$4: rc $rc: $(cut -c1-300 "$D/$1.out")"
	fi
}
# The third month back is not expired: drop it and forge its tombstones.
# forge PURGE_ID_SQL: drop that month and its dedup rows, tombstones under
# the given purge id
forge() {
	echo "INSERT INTO coffer.partition_tombstones
	    SELECT r.tenant_id, r.stream_id, '$P3', '-infinity', 'infinity',
	           range_agg(int8range(r.batch_no, r.batch_no, '[]')),
	           count(DISTINCT r.batch_no), count(*), max(r.seq),
	           (array_agg(r.epoch_id ORDER BY r.seq DESC))[1], $1, now(), 'forged'
	    FROM coffer.$P3 r GROUP BY 1, 2;
	    ALTER TABLE coffer.record_dedup DISABLE TRIGGER record_dedup_append_only;
	    DELETE FROM coffer.record_dedup d USING coffer.$P3 r
	     WHERE d.tenant_id = r.tenant_id AND d.dedup_token = r.dedup_token;
	    DROP TABLE coffer.$P3;"
}
tamper pd_t1 "$(forge "gen_random_uuid()")" "are covered by no purge audit event" \
    "a partition dropped with tombstones under a new purge id is found"
tamper pd_t2 "$(forge "(SELECT (detail->>'purge_id')::uuid FROM coffer.audit_events WHERE action = 'purge')")" \
    "its partition tombstones count\|partition tombstones .* differs" \
    "a partition dropped with tombstones under the real purge's id is found"
tamper pd_t3 "DROP TABLE coffer.$P3" "record deleted" \
    "a partition dropped without any tombstone is found"
tamper pd_t4 "SET ROLE coffer_gateway;
    INSERT INTO coffer.record_dedup SELECT tenant_id, '\\x00112233445566778899aabbccddeeff',
        stream_id, seq, leaf_hash FROM coffer.record_dedup LIMIT 1" \
    "seq [0-9]*: a dedup row names no record with its token and leaf hash" \
    "a receipt planted in record_dedup by the gateway role is found"
tamper pd_t5 "ALTER TABLE coffer.record_dedup DISABLE TRIGGER record_dedup_append_only;
    DELETE FROM coffer.record_dedup WHERE dedup_token = (SELECT dedup_token FROM coffer.record_dedup ORDER BY dedup_token LIMIT 1)" \
    "the record has no dedup row" \
    "a record whose dedup row was deleted is found"
# verify matches dedup rows to records chunk by chunk (0020): a receipt
# past a stream's last seq, in a stream with no record, or one whose leaf
# hash was swapped is still found.
tamper pd_t6 "SET ROLE coffer_gateway;
    INSERT INTO coffer.record_dedup SELECT tenant_id, '\\x00112233445566778899aabbccddeeff',
        stream_id, seq + 1000000, leaf_hash FROM coffer.record_dedup LIMIT 1" \
    "seq [0-9]*: a dedup row names no record" \
    "a receipt planted past the stream's last seq is found"
tamper pd_t7 "SET ROLE coffer_gateway;
    INSERT INTO coffer.record_dedup SELECT tenant_id, '\\x00112233445566778899aabbccddeeff',
        gen_random_uuid(), 1, leaf_hash FROM coffer.record_dedup LIMIT 1" \
    "stream [0-9a-f-]*: a dedup row names no record" \
    "a receipt planted under a stream with no record is found"
tamper pd_t8 "ALTER TABLE coffer.record_dedup DISABLE TRIGGER record_dedup_append_only;
    UPDATE coffer.record_dedup SET leaf_hash = sha256(leaf_hash) WHERE dedup_token = (SELECT dedup_token FROM coffer.record_dedup ORDER BY dedup_token LIMIT 1)" \
    "a dedup row names no record with its token and leaf hash" \
    "a dedup row whose leaf hash was changed is found"

# The purge role cannot borrow the owner's rights through a temporary
# table of its own that purge_expired() would use.
$PSQL -U purger >"$D/temp.out" 2>&1 <<'EOF'
CREATE TEMP TABLE purge_gone (x int);
CREATE TEMP TABLE purge_res (x int);
CREATE FUNCTION pg_temp.grab() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN EXECUTE 'ALTER ROLE purger SUPERUSER'; RETURN NULL; END $$;
CREATE TRIGGER grab AFTER TRUNCATE ON pg_temp.purge_gone
    FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.grab();
CREATE TRIGGER grab AFTER TRUNCATE ON pg_temp.purge_res
    FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.grab();
SELECT count(*) FROM coffer.purge_expired(NULL, gen_random_uuid(), 'x', true);
EOF
check_eq "a purge role's own temporary tables give it nothing" "f" \
    "$(q "SELECT rolsuper FROM pg_roles WHERE rolname = 'purger'")"
# The gateway role may keep the next months made, no other range.
$PSQL -U gw -c "SELECT coffer.records_partitions_ensure(now() - interval '100 months', 0)" \
    >/dev/null 2>"$D/ensure.err"
check_eq "the gateway role cannot make partitions of its choosing" 1 \
    "$(grep -c 'permission denied for function records_partitions_ensure' "$D/ensure.err")"
check_eq "but can keep the next three months made" 0 \
    "$($PSQL -U gw -c "SELECT coffer.records_partitions_ahead()")"

# -- a batch never spans two months ------------------------------------------------
# The gateway's clock 40 s before the end of last month, a group-commit
# window of 8 s, and two requests 3.5 s apart around midnight: one drain
# holds records of both months, and a batch across the two partitions
# could never be dropped with either.  The gateway commits them as two.
END=$(date -u -d "$first" +%s)
T0=$(date -u +%s)
OFF=$((T0 - (END - 40)))
gwf_clock_wrap "$REAL_GW" "$D/gw-edge" "-${OFF}s" &&
    gwf_clock_wrap "$CTL" "$D/ctl-edge" "-${OFF}s" || die "clock wrapper (edge)"
"$D/ctl-edge" pki crl-refresh --tenant pd >"$D/out" 2>&1 ||
    die "crl-refresh (edge): $(cat "$D/out")"
gwf_config "epoch_records = 7" "batch_max_ms = 8000" || die "gateway config (edge)"
GWF_GW="$D/gw-edge"
for x in a b; do
	python3 - "$x" "$END" >"$D/edge-$x.ndjson" <<'PY' || die "edge input"
import json, sys, time
tag, end = sys.argv[1], int(sys.argv[2])
for k in range(20):
    print(json.dumps({"id": "edge-%s-%d" % (tag, k), "channel": "signal",
        "conversation": "conv-edge", "direction": "out", "sender": "+15550170001",
        "recipients": ["+15550170009"],
        "sent_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(end - 60)),
        "body": "edge %s %d" % (tag, k)}))
PY
done
# post X: the edge-X file, its answer in edge-X.out
post() {
	gwf_curl phone-1 -o "$D/edge-$1.out" -w '%{http_code}' \
	    -H 'Content-Type: application/x-ndjson' \
	    --data-binary "@$D/edge-$1.ndjson" "$(gwf_url v1/records)" \
	    >"$D/edge-$1.code" 2>/dev/null
}
gwf_start || die "gateway start (month's end)"
[ $(($(date -u +%s) - T0)) -lt 35 ] || die "the gateway took more than 35 s to start"
python3 -c "import time; time.sleep(max(0.0, $T0 + 37.0 - time.time()))"
post a &
edge_a=$!
python3 -c "import time; time.sleep(max(0.0, $T0 + 40.5 - time.time()))"
post b
wait "$edge_a"
check_eq "both requests stored" "200 20 200 20" \
    "$(cat "$D/edge-a.code") $(grep -c '"stored"' "$D/edge-a.out") $(cat "$D/edge-b.code") $(grep -c '"stored"' "$D/edge-b.out")"
gwf_stop || die "gateway stop (edge)"
GWF_GW=$REAL_GW
check_eq "the requests straddle midnight: 20 records before it, 20 after" "20 20" \
    "$(q "SELECT count(*) FILTER (WHERE received_at >= to_timestamp($END - 60) AND received_at < to_timestamp($END)),
                 count(*) FILTER (WHERE received_at >= to_timestamp($END) AND received_at < to_timestamp($END + 60))
          FROM coffer.records" | tr '|' ' ')"
check_eq "no batch holds records of two months" 0 \
    "$(q "SELECT count(*) FROM coffer.batches b WHERE (SELECT count(DISTINCT date_trunc('month', r.received_at AT TIME ZONE 'UTC'))
          FROM coffer.records r WHERE r.tenant_id = b.tenant_id AND r.stream_id = b.stream_id
          AND r.seq BETWEEN b.first_seq AND b.last_seq) > 1")"
PGUSER=auditor "$CTL" verify >"$D/verify.out" 2>&1
check_eq "the archive verifies after the month's end" 0 $?

# -- upgrading an archive made before 0018 -----------------------------------------
$PSQL -d postgres -c "CREATE DATABASE pd_up" >/dev/null || die "pd_up"
mkdir -p "$D/mig17" && cp "$ROOT"/migrations/00[01]*.sql "$D/mig17/" &&
    rm -f "$D"/mig17/0018_* "$D"/mig17/0019_* || die "migrations copy"
PGDATABASE=pd_up "$CTL" migrate --dir "$D/mig17" >"$D/up.out" 2>&1 ||
    die "migrate to 0017: $(cat "$D/up.out")"
$PSQL -d pd_up <<'EOF' >/dev/null || die "old rows"
SET session_replication_role = replica;  -- rows without their parents
INSERT INTO coffer.records
SELECT '00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002',
       g, '00000000-0000-4000-8000-000000000003', g / 10,
       now() - g * interval '3 days', now(), 'sms', 1, '{}', NULL,
       decode(lpad(to_hex(g), 32, '0'), 'hex'), decode(repeat('00', 24), 'hex'),
       decode(repeat('00', 16), 'hex'), decode(repeat('00', 32), 'hex')
FROM generate_series(0, 199) g;
EOF
PGDATABASE=pd_up "$CTL" migrate --dir "$ROOT/migrations" >"$D/up.out" 2>&1
check_eq "migrations 0018 and 0019 apply to an archive with records" 0 $?
check_eq "the old rows are the partition records_legacy, up to next month" \
    "200 200 200 $(date -u -d "$first +1 month" +%Y-%m-%d)" \
    "$($PSQL -d pd_up -c "SELECT (SELECT count(*) FROM coffer.records), (SELECT count(*) FROM coffer.records_legacy), (SELECT count(*) FROM coffer.record_dedup), (SELECT range_to::date FROM coffer.record_partitions WHERE name = 'records_legacy')" | tr '|' ' ')"
check_eq "no application role holds a right on records_legacy itself" "f f f" \
    "$($PSQL -d pd_up -c "SELECT has_table_privilege('coffer_gateway', 'coffer.records_legacy', 'INSERT'), has_table_privilege('coffer_api', 'coffer.records_legacy', 'SELECT'), has_table_privilege('coffer_verify', 'coffer.records_legacy', 'SELECT')" | tr '|' ' ')"
check_eq "the legacy partition has the new primary key and its own TRUNCATE guard" "t 1" \
    "$($PSQL -d pd_up -c "SELECT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = 'coffer.records_legacy'::regclass AND i.indisprimary AND i.indnatts = 4), (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'coffer.records_legacy'::regclass AND tgname = 'records_no_truncate' AND tgenabled = 'A')" | tr '|' ' ')"
$PSQL -d pd_up -c "TRUNCATE coffer.records_legacy" >/dev/null 2>"$D/up.err"
check_eq "TRUNCATE of a partition by name is refused" 1 \
    "$(grep -c 'coffer.records_legacy is append-only: TRUNCATE refused' "$D/up.err")"
$PSQL -c "TRUNCATE coffer.$P3" >/dev/null 2>"$D/up.err"
check_eq "and so is TRUNCATE of a monthly partition" 1 \
    "$(grep -c "coffer.$P3 is append-only: TRUNCATE refused" "$D/up.err")"
check_eq "ensure makes no month the legacy partition covers" \
    "0 $(date -u -d "$first +1 month" +records_%Y_%m)" \
    "$($PSQL -d pd_up -c "SELECT coffer.records_partitions_ensure(now() - interval '3 months', 0)") $($PSQL -d pd_up -c "SELECT min(name) FROM coffer.record_partitions WHERE name <> 'records_legacy'")"
finish
