#!/bin/sh
# tests/integration/disk_full.sh — the database's disk fills up, then space
# returns (issue 8, hostile world).  Runs inside tests/pg-harness.sh, as
# root: the test mounts a small tmpfs, makes it a PostgreSQL tablespace,
# moves its own database there before any daemon connects, and fills the
# filesystem with a filler file until PostgreSQL answers "No space left on
# device" (SQLSTATE 53100).  WAL stays on the cluster's own disk.
#
#   gateway: with the disk full every request is 503 with Retry-After and
#     no receipt, and no row or witness line appears; a retrying client
#     streaming meanwhile gets everything stored exactly once, by itself,
#     once the filler is deleted (no restart); the archive verifies.
#   API: with the audit log unwritable every request of the release path
#     (matter create, approve, production download, matter read, holds,
#     retention, close, audit export) is refused with 500 and the JSON
#     error code audit_failed, and has no effect; a production build that
#     was running when the disk filled stays 'building' (not failed, no
#     file, no row) and settles by itself when space returns; afterwards
#     everything works again without a restart and the audit chain
#     verifies.
#
# Free space left in existing pages is first used up on purpose (requests
# until the first refusal: those are legitimately stored and audited, and
# are counted); the strict checks start after that.
#
# Not done here: a full WAL disk.  PostgreSQL PANICs when it cannot write
# WAL and restarts only once space returns; the gateway's and the API's
# side of that is the database-down case (503, nothing acknowledged,
# reconnect), covered by gateway_ingest.sh and api_e2e.sh.
#
# Environment: DF_MB (tmpfs size, 64), DF_STRICT (refused requests checked
# one by one, 4), DF_RECORDS (records streamed across the outage, 200),
# DF_PER (records per request, 25), DF_FULL_S (seconds the stream runs
# against the full disk, 3).  tests/torture/disk_full.sh raises them.
set -u
ROOT=$(pwd)
. "$ROOT/tests/lib/gateway-fixture.sh"
. "$ROOT/tests/lib/api-fixture.sh"
. "$ROOT/tests/lib/figures.sh"
GWF_NO_TRAP=1
DF_MB=${DF_MB:-64}
DF_STRICT=${DF_STRICT:-4}
DF_RECORDS=${DF_RECORDS:-200}
DF_PER=${DF_PER:-25}
DF_FULL_S=${DF_FULL_S:-3}
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"
CLIENT="$ROOT/tests/integration/gateway_client.py"

. "$ROOT/tests/lib/check.sh"
logs_tail() {   # die: the gateway's and the API's last log lines
	[ -n "${GWF_LOG:-}" ] && [ -f "$GWF_LOG" ] && tail -15 "$GWF_LOG" | sed 's/^/  gw: /'
	[ -n "${APF_LOG:-}" ] && [ -f "$APF_LOG" ] && tail -15 "$APF_LOG" | sed 's/^/  api: /'
}
CK_DIE_HOOK=logs_tail
# The test's own queries: through one session opened before the disk
# fills (qs_start).  A new backend may have to write the relation-cache
# init file first, which on a full disk is FATAL "could not write init
# file" (autovacuum of a catalog invalidates it at any time); a running
# backend never needs to.
QS_PID=""
q() {
	if [ -z "$QS_PID" ]; then
		$PSQL -c "$1"
		return
	fi
	QS_N=$(date +%s%N)       # q runs in $(...) subshells: no counter
	printf '\\echo qs-begin-%s\n%s;\n\\echo qs-end-%s\n' "$QS_N" "$1" "$QS_N" >&7
	i=0
	until grep -q "^qs-end-$QS_N\$" "$D/qs.out" || [ $i -ge 600 ]; do
		kill -0 "$QS_PID" 2>/dev/null || break
		sleep 0.05
		i=$((i + 1))
	done
	sed -n "/^qs-begin-$QS_N\$/,/^qs-end-$QS_N\$/p" "$D/qs.out" | sed '1d;$d'
}
qs_start() {
	mkfifo "$D/qs.in" && : >"$D/qs.out" || return 1
	psql -X -A -t -q <"$D/qs.in" >"$D/qs.out" 2>&1 &
	QS_PID=$!
	exec 7>"$D/qs.in"
	[ "$(q "SELECT 1")" = 1 ]
}
qp() { PGDATABASE=postgres $PSQL -c "$1"; }

skip_all() {
	echo "SKIP - disk_full: $1"
	fig disk_full "records acknowledged while the disk was full (skipped: $1)" -
	fig disk_full "release requests carried out while audit was unwritable (skipped: $1)" -
	echo "disk_full: 0 passed, 0 failed (skipped)"
	exit 0
}

# -- a small filesystem for the database --------------------------------------------
[ "$(id -u)" -eq 0 ] || skip_all "not root: cannot mount a small filesystem"
MNT="$COFFER_TEST_TMP/disk_full.mnt"
TS=disk_full_ts
DB=$PGDATABASE
PGOWN=$(stat -c %U "$COFFER_TEST_PGDATA")
mounted=0
LOCKER=""
CLIENT_PID=""
cleanup() {
	if [ -n "$QS_PID" ]; then
		exec 7>&-
		kill "$QS_PID" 2>/dev/null
		QS_PID=""
	fi
	[ -n "$CLIENT_PID" ] && kill "$CLIENT_PID" 2>/dev/null
	[ -n "$LOCKER" ] && kill "$LOCKER" 2>/dev/null
	apf_cleanup
	gwf_cleanup
	if [ "$mounted" -eq 1 ]; then
		rm -rf "$MNT/pin" "$MNT/filler" "$MNT/filler2"
		# Nothing may stay behind on the mount: the database moves back
		# (or, failing that, goes), then the tablespace, then the mount.
		qp "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$DB' AND pid <> pg_backend_pid()" >/dev/null 2>&1
		sleep 0.2
		qp "ALTER DATABASE \"$DB\" SET TABLESPACE pg_default" >/dev/null 2>&1 ||
		    qp "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1
		qp "DROP TABLESPACE IF EXISTS $TS" >/dev/null 2>&1
		umount "$MNT" 2>/dev/null || umount -l "$MNT"
		mounted=0
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$MNT" || die "mkdir $MNT"
if ! mount -t tmpfs -o "size=${DF_MB}m,mode=0755" tmpfs "$MNT" 2>"$COFFER_TEST_TMP/mount.err"; then
	skip_all "mount -t tmpfs failed: $(head -c 200 "$COFFER_TEST_TMP/mount.err")"
fi
mounted=1
mkdir "$MNT/ts" && chown "$PGOWN" "$MNT/ts" && chmod 0700 "$MNT/ts" ||
    die "tablespace directory"
qp "CREATE TABLESPACE $TS LOCATION '$MNT/ts'" || die "CREATE TABLESPACE"
qp "ALTER DATABASE \"$DB\" SET TABLESPACE $TS" || die "moving $DB to the tablespace"
# No autovacuum of this database's system catalogs (its own relations'
# reloptions: other databases keep theirs): committing one unlinks the
# relation-cache init file (see fill, below).  Done before any daemon
# connects; the tables of coffer keep autovacuum, and its analyze of
# coffer.records still runs into the full disk.
$PSQL -c "SET allow_system_table_mods = on" -c "DO \$\$
DECLARE t regclass;
BEGIN
	FOREACH t IN ARRAY (SELECT pg_catalog.array_agg(c.oid::regclass)
	    FROM pg_catalog.pg_class c
	    WHERE c.relnamespace = 'pg_catalog'::regnamespace AND c.relkind = 'r')
	LOOP
		EXECUTE pg_catalog.format(
		    'ALTER TABLE %s SET (autovacuum_enabled = false)', t);
	END LOOP;
END \$\$" || die "turning off autovacuum of the catalogs"
check_eq "the test database lives on the ${DF_MB} MiB tmpfs" "$TS" \
    "$(q "SELECT t.spcname FROM pg_database d JOIN pg_tablespace t ON t.oid = d.dattablespace WHERE d.datname = current_database()")"

# PostgreSQL gives space back by itself while the disk is full: whenever a
# vacuum or analyze of a system catalog commits in this database (autovacuum
# does, at any time: e.g. pg_statistic, after its analyze of coffer.records
# failed on the full disk), it unlinks the database's relation-cache init
# file, pg_internal.init, about 160 KiB on this tablespace.  The requests
# the test expects refused then find room (about 85 records at once; seen
# under the slower sanitizer build, and by running VACUUM pg_statistic in
# the middle of the strict phase).  So while the disk is full, every file
# on it is pinned by a hard link: an unlink frees nothing until unfill
# drops the pins, and autovacuum of the catalogs is off (above), so the
# file is not unlinked in the first place: a backend started after such an
# unlink could not write the file again and would exit FATAL, a
# database-down case rather than a full disk.  pinned_full checks the
# premise at the end of each phase.
fill() {   # fill the filesystem up to the last byte, pin what is on it
	dd if=/dev/zero of="$MNT/filler" bs=1M >/dev/null 2>&1
	dd if=/dev/zero of="$MNT/filler2" bs=4k >/dev/null 2>&1
	rm -rf "$MNT/pin"
	cp -al "$MNT/ts" "$MNT/pin" 2>/dev/null   # files may go meanwhile
	[ -f "$(find "$MNT/pin" -name pg_internal.init | head -1)" ] ||
	    bad "fill: no pg_internal.init pinned"
	sync
}
unfill() { rm -rf "$MNT/pin"; rm -f "$MNT/filler" "$MNT/filler2"; }
avail_kb() { df -k --output=avail "$MNT" | tail -1 | tr -d ' '; }
pinned_full() {   # pinned_full PHASE: nothing gave space back during PHASE
	check_eq "$1: the filesystem stayed full" 0 "$(avail_kb)"
}

# -- gateway, tenant, people, API ---------------------------------------------------
gwf_init || die "gateway fixture"
D=$GWF_DIR
gwf_simple acme phone-1 df-node "batch_max_ms = 2" || die "gateway start"
apf_user acme lisa legal && apf_user acme cus1 custodian 1 &&
    apf_user acme cus2 custodian 2 && apf_user acme audrey auditor &&
    apf_user acme adam admin && apf_keygen acme lisa || die "people"
apf_config && apf_start || die "coffer-api start"

# gen PREFIX N SENDER -> NDJSON, bodies of ~1 KiB (a request cannot fit
# in what is left of one page)
gen() {
	python3 - "$@" <<'EOF'
import json, sys
pre, n, sender = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for k in range(n):
    print(json.dumps({"id": "%s-%d" % (pre, k), "channel": "signal",
        "conversation": "conv-%s" % pre, "direction": "out",
        "sender": sender, "recipients": ["+15550179999"],
        "sent_at": "2026-02-01T10:%02d:%02dZ" % (k // 60 % 60, k % 60),
        "body": ("%s %d " % (pre, k)) + "lorem ipsum " * 85}))
EOF
}
post() {   # post FILE -> $CODE, body $D/post.out, headers $D/post.hdr
	CODE=$(gwf_curl phone-1 -o "$D/post.out" -D "$D/post.hdr" -w '%{http_code}' \
	    -H 'Content-Type: application/x-ndjson' --data-binary "@$1" \
	    "$(gwf_url v1/records)" 2>/dev/null) || CODE=000
}
nrec() { q "SELECT count(*) FROM coffer.records"; }
nwit() { wc -l <"$D/witness.jsonl" | tr -d ' '; }
gw503() { curl -s "http://127.0.0.1:$GWF_METRICS_PORT/metrics" |
    awk '$1 == "coffer_gateway_requests_total{code=\"503\"}" { print $2 }'; }

gen base 20 +15550180001 >"$D/base.ndjson"
post "$D/base.ndjson"
check_eq "before: 20 records stored" "200 20" "$CODE $(grep -c '"stored"' "$D/post.out")"

# Matters before the disk fills: M1 released and built, M2 with one of its
# two approvals, M3 with one (its second comes while the build is held).
printf '%s\n' '{"title":"Disk full matter","legal_basis":"Subpoena DF-1",' \
    '"scope":{"participants":["+15550180001"],' \
    '"from":"2026-01-31T00:00:00Z","to":"2026-02-02T00:00:00Z"}}' >"$D/matter.json"
new_matter() { apf_matter lisa "$D/matter.json"; }
M1=$(new_matter) && M2=$(new_matter) && M3=$(new_matter) || die "matters: $APF_CODE"
apf_approve acme cus1 1 "$M1" && apf_approve acme cus2 2 "$M1" &&
    apf_approve acme cus1 1 "$M2" && apf_approve acme cus1 1 "$M3" ||
    die "approvals: $(cat "$APF_DIR/approve.out")"
apf_wait_state "$M1" ready 60 || die "M1 not built: $(apf_state "$M1")"
ok "before: matter M1 released and built, M2 and M3 have 1 of 2 approvals"

qs_start || die "the test's own database session"

# =============================== gateway ==========================================
fill
ok "filesystem filled ($(avail_kb) KiB left)"
# Use up what is left in existing pages: requests until the first one that
# stores nothing and was refused for the full disk (a new "No space left on
# device" in the server log, SQLSTATE 53100): a 503 for another reason
# (a timeout, a connection lost) says nothing about the slack.  Whatever
# was acknowledged meanwhile must be stored.
SRVLOG="$(dirname "$COFFER_TEST_PGDATA")/server.log"
nospc() { grep -c "No space left on device" "$SRVLOG"; }
drained=0
acked_full=0
k=0
while [ $k -lt 40 ]; do
	gen "drain$k" "$DF_PER" +15550170001 >"$D/drain$k.ndjson"
	before=$(nrec)
	e0=$(nospc)
	post "$D/drain$k.ndjson"
	after=$(nrec)
	if [ "$CODE" = 200 ]; then
		n=$(grep -c '"receipt"' "$D/post.out")
		[ $((after - before)) -eq "$n" ] ||
		    bad "drain request $k: $n receipts, $((after - before)) rows"
		drained=$((drained + n))
	elif [ "$CODE" = 503 ] && [ "$after" = "$before" ] &&
	    [ "$(nospc)" -gt "$e0" ]; then
		break
	fi
	k=$((k + 1))
done
[ "$CODE" = 503 ] && ok "the slack of existing pages held $drained records; then 503" ||
    die "no 503 for the full disk after $k requests (last HTTP $CODE)"
FIRST503=$k
ok "PostgreSQL: $(grep -m1 'No space left on device' "$SRVLOG" | sed 's/.*ERROR: *//')"
grep -q "database unavailable; [0-9]* records not acknowledged" "$GWF_LOG" &&
    ok "gateway log: $(grep -m1 'records not acknowledged' "$GWF_LOG" | sed 's/^.*writer:/writer:/')" ||
    bad "gateway log: no 'records not acknowledged'"

# Strict: fresh requests and retries, one by one.
R0=$(nrec)
W0=$(nwit)
B0=$(q "SELECT count(*) FROM coffer.batches")
refused=0
acked=0
s=0
while [ $s -lt "$DF_STRICT" ]; do
	for f in "$D/drain$FIRST503.ndjson" "$D/strict$s.ndjson"; do
		[ -f "$f" ] || gen "strict$s" "$DF_PER" +15550170002 >"$f"
		post "$f"
		n=$(grep -c '"receipt"' "$D/post.out")
		acked=$((acked + n))
		if [ "$CODE" = 503 ] && [ "$n" = 0 ] &&
		    tr -d '\r' <"$D/post.hdr" | grep -qi '^retry-after: [1-9]'; then
			refused=$((refused + 1))
		else
			bad "disk full: HTTP $CODE, $n receipts: $(head -c 200 "$D/post.out")"
		fi
	done
	s=$((s + 1))
done
check_eq "disk full: every request 503 with Retry-After, no receipt" \
    "$((2 * DF_STRICT))" "$refused"
check_eq "disk full: body of the refusal" '{"error":"database unavailable"}' \
    "$(head -1 "$D/post.out")"
check_eq "disk full: no record, batch or witness line added" "$R0 $B0 $W0" \
    "$(nrec) $(q "SELECT count(*) FROM coffer.batches") $(nwit)"
wget503=$(gw503)

# A device streaming across the outage: it gets 503s while the disk is
# full, then everything is stored once the filler goes — no restart.
gen stream "$DF_RECORDS" +15550170003 >"$D/stream.ndjson"
python3 "$CLIENT" --port "$GWF_PORT" --ca "$GWF_SRV_CA" \
    --cert "$GWF_CERTS/phone-1.crt" --key "$GWF_CERTS/phone-1.key" \
    --records "$D/stream.ndjson" --per "$DF_PER" --receipts "$D/stream.rcpt" \
    --deadline $((DF_FULL_S + 120)) >"$D/client.out" 2>&1 &
CLIENT_PID=$!
sleep "$DF_FULL_S"
check_eq "stream during the outage: nothing stored yet" "$R0" "$(nrec)"
s503=$(( $(gw503) - wget503 ))
[ "$s503" -ge 1 ] && ok "the streaming device was answered 503 ($s503 times) while full" ||
    bad "the streaming device got no 503 while the disk was full"
acked_full=$((acked + 0))
pinned_full "gateway"
unfill
t0=$(date +%s.%N)
ok "filler deleted ($(avail_kb) KiB free)"
wait "$CLIENT_PID"
crc=$?
CLIENT_PID=""
t1=$(date +%s.%N)
check_eq "the device's stream completes by itself after space returns" 0 "$crc"
cat "$D/client.out"
RESUME=$(python3 -c "print('%.1f' % ($t1 - $t0))")
check_eq "every streamed record stored exactly once (receipts)" "$DF_RECORDS" \
    "$(awk '$2 == "stored"' "$D/stream.rcpt" | wc -l | tr -d ' ')"
check_eq "receipts are distinct" "$DF_RECORDS" "$(awk '{ print $3 }' "$D/stream.rcpt" | sort -u | wc -l | tr -d ' ')"
check_eq "rows added = records streamed" "$((R0 + DF_RECORDS))" "$(nrec)"
# The requests refused while full were never partly stored: sent again,
# every line is new.
s=0
renew=0
for f in "$D/drain$FIRST503.ndjson" "$D"/strict*.ndjson; do
	post "$f"
	renew=$((renew + $(grep -c '"status":"stored"' "$D/post.out")))
done
check_eq "requests refused while full: every line stored now, none a duplicate" \
    "$((DF_PER * (DF_STRICT + 1)))" "$renew"
dups=$(q "SELECT count(*) - count(DISTINCT dedup_token) FROM coffer.records" 2>/dev/null || echo "?")
check_eq "no record stored twice" 0 "$dups"
"$GWF_CTL" verify --quiet --witness "$D/witness.jsonl" >"$D/verify.out" 2>&1 &&
    ok "cofferctl verify --witness: $(cat "$D/verify.out")" ||
    bad "verify after the outage: $(cat "$D/verify.out")"

fig disk_full "records acknowledged while the disk was full (records)" "$acked_full"
fig disk_full "requests answered 503 while the disk was full (requests)" "$((refused + s503))"
fig disk_full "records stored by the slack of existing pages before the first 503 (records)" "$drained"
fig disk_full "records streamed across the outage, stored exactly once (records)" "$DF_RECORDS"
fig disk_full "records lost or duplicated after space returned (records)" "$(( $(nrec) - R0 - DF_RECORDS - renew + dups ))"
fig disk_full "gateway: seconds from space returned to the stream done (s)" "$RESUME"

# ================================= API ============================================
# M3's build is held at its settle (a lock on coffer.productions) while the
# disk fills, so it settles into a full disk.
psql -X -q -v ON_ERROR_STOP=1 -c "SET application_name = 'disk_full_lock'" \
    -c "BEGIN" -c "LOCK TABLE coffer.productions IN ACCESS EXCLUSIVE MODE" \
    -c "SELECT pg_sleep(600)" >/dev/null 2>&1 &
LOCKER=$!
i=0
until [ "$(q "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'productions' AND l.granted AND l.mode = 'AccessExclusiveLock'")" = 1 ] ||
    [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done
apf_approve acme cus2 2 "$M3" || die "M3 approval: $(cat "$APF_DIR/approve.out")"
i=0
until [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%coffer.productions%'")" -ge 1 ] ||
    [ $i -ge 300 ]; do sleep 0.1; i=$((i + 1)); done
[ $i -lt 300 ] && ok "M3 built and waiting to settle (productions locked)" ||
    die "M3's build never reached its settle: $(apf_state "$M3")"

AUD0=$(q "SELECT count(*) FROM coffer.audit_events")
MAT0=$(q "SELECT count(*) FROM coffer.matters")
APR0=$(q "SELECT count(*) FROM coffer.approvals")
DL0=$(q "SELECT count(*) FROM coffer.audit_events WHERE action = 'production.download'")
FAIL0=$(apf_metric coffer_api_audit_failures_total)
fill
ok "filesystem filled again ($(avail_kb) KiB left)"
# Use up the audit log's slack with the cheapest audited request (one of
# the smallest events: no target; whoami, which used to be it, is no
# longer audited).
k=0
while [ $k -lt 400 ]; do
	apf_call lisa GET /v1/matters
	[ "$APF_CODE" = 200 ] || break
	k=$((k + 1))
done
check_eq "matter list once the audit log's slack ($k events) is used up" "500 audit_failed" \
    "$APF_CODE $(apf_get error.code)"
ASLACK=$k
# Let the held build settle into the full disk.
q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'disk_full_lock'" >/dev/null
wait "$LOCKER" 2>/dev/null
LOCKER=""
i=0
until grep -q "matter $M3: production .* not settled" "$APF_LOG" || [ $i -ge 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
grep -q "matter $M3: production .* not settled" "$APF_LOG" &&
    ok "M3's settle refused: $(grep -m1 "matter $M3: production .* not settled" "$APF_LOG" | sed 's/^.*matter [0-9a-f-]*: //')" ||
    bad "M3's settle into the full disk was not logged"
check_eq "M3 stays building (not failed, not ready), no production row" "building 0" \
    "$(apf_state "$M3") $(q "SELECT count(*) FROM coffer.productions WHERE matter_id = '$M3'")"
check_eq "no sealed file of M3 left in the productions directory" 0 \
    "$(find "$APF_DIR/productions" -name "$M3.*.coffer" | wc -l | tr -d ' ')"

# Every request of the release path, refused with no effect.
refusals=0
expect_refused() {   # expect_refused NAME
	if [ "$APF_CODE" = 500 ] && [ "$(apf_get error.code)" = audit_failed ]; then
		refusals=$((refusals + 1))
		ok "disk full: $1 refused (500 audit_failed)"
	else
		bad "disk full: $1: HTTP $APF_CODE $(head -c 200 "$APF_OUT")"
	fi
}
apf_call lisa POST /v1/matters "$D/matter.json"
expect_refused "matter create"
[ -n "${SHOWN:-}" ] || { SHOWN=1; echo "     refusal body: $(cat "$APF_OUT")"; }
apf_call lisa GET "/v1/matters/$M1/production"
expect_refused "production download"
head -c 14 "$APF_OUT" | grep -q COFFER-PROD && bad "production bytes sent" ||
    ok "disk full: no production bytes sent"
apf_call lisa GET "/v1/matters/$M2"
expect_refused "matter read"
apf_call lisa GET /v1/matters
expect_refused "matter list"
printf '{"custodian_index":2,"partials":[]}\n' >"$D/ap.json"
apf_call cus2 POST "/v1/matters/$M2/approvals" "$D/ap.json"
expect_refused "approval submit"
printf '{"matter_id":"%s","reason":"disk full hold"}\n' "$M2" >"$D/hold.json"
apf_call adam POST /v1/holds "$D/hold.json"
expect_refused "hold create"
printf '{"channel":"*","days":3650}\n' >"$D/ret.json"
apf_call adam PUT /v1/retention "$D/ret.json"
expect_refused "retention change"
apf_call lisa POST "/v1/matters/$M1/close"
expect_refused "matter close"
apf_call audrey GET /v1/audit
expect_refused "audit export"
if apf_approve acme cus2 2 "$M2"; then
	bad "disk full: cofferctl approve succeeded"
else
	refusals=$((refusals + 1))
	ok "disk full: cofferctl approve refused: $(tail -1 "$APF_DIR/approve.out")"
fi
check_eq "disk full: no matter, approval, download event added; M2 still open" \
    "$MAT0 $APR0 $DL0 open" \
    "$(q "SELECT count(*) FROM coffer.matters") $(q "SELECT count(*) FROM coffer.approvals") $(q "SELECT count(*) FROM coffer.audit_events WHERE action = 'production.download'") $(apf_state "$M2")"
check_eq "disk full: audit events only from the slack" "$((AUD0 + ASLACK))" \
    "$(q "SELECT count(*) FROM coffer.audit_events")"
FAILN=$(( $(apf_metric coffer_api_audit_failures_total) - FAIL0 ))
[ "$FAILN" -ge "$((refusals + 1))" ] &&
    ok "coffer_api_audit_failures_total rose by $FAILN" ||
    bad "coffer_api_audit_failures_total rose by $FAILN, expected at least $((refusals + 1))"
carried=$(( $(q "SELECT count(*) FROM coffer.matters") - MAT0 + $(q "SELECT count(*) FROM coffer.approvals") - APR0 ))
pinned_full "API"

# Space returns: everything works again, without a restart.
unfill
t0=$(date +%s.%N)
apf_wait_state "$M3" ready 60 && ok "M3's build settled by itself: ready" ||
    bad "M3 did not settle after space returned: $(apf_state "$M3")"
t1=$(date +%s.%N)
ARESUME=$(python3 -c "print('%.1f' % ($t1 - $t0))")
apf_call audrey GET '/v1/audit?limit=1'
check_eq "space back: audit read" 200 "$APF_CODE"
M4=$(new_matter) && ok "space back: matter create" || bad "space back: matter create: $APF_CODE"
apf_approve acme cus2 2 "$M2" && ok "space back: cofferctl approve completes M2" ||
    bad "space back: approve: $(cat "$APF_DIR/approve.out")"
apf_wait_state "$M2" ready 60 && ok "space back: M2 built" || bad "M2: $(apf_state "$M2")"
for m in "$M1" "$M2" "$M3"; do
	apf_call lisa GET "/v1/matters/$m/production"
	cp "$APF_OUT" "$D/prod.coffer"
	rm -rf "$D/open"
	if [ "$APF_CODE" = 200 ] && "$GWF_CTL" export open --in "$D/prod.coffer" \
	    --key "$APF_DIR/lisa.xkey" --passphrase-file "$APF_DIR/lisa.pass" \
	    --out "$D/open" >"$D/open.out" 2>&1; then
		ok "space back: production of $m downloads and opens ($(wc -l <"$D/open/records.jsonl" | tr -d ' ') records)"
	else
		bad "space back: production of $m: HTTP $APF_CODE $(cat "$D/open.out" 2>/dev/null)"
	fi
done
check_eq "exactly one production row per built matter" "1 1 1" \
    "$(for m in "$M1" "$M2" "$M3"; do q "SELECT count(*) FROM coffer.productions WHERE matter_id = '$m'"; done | tr '\n' ' ' | sed 's/ $//')"
apf_call audrey GET /v1/verify
check_eq "space back: the archive and audit chain verify clean" clean "$(apf_get status)"
"$GWF_CTL" verify --quiet --witness "$D/witness.jsonl" >"$D/verify.out" 2>&1 &&
    ok "cofferctl verify: $(cat "$D/verify.out")" || bad "verify: $(cat "$D/verify.out")"
[ -n "${M4:-}" ] || bad "no matter created after space returned"

fig disk_full "release requests carried out while audit was unwritable (requests)" "$carried"
fig disk_full "release requests refused while audit was unwritable (requests)" "$refusals"
fig disk_full "audit events written by the slack of existing pages (events)" "$ASLACK"
fig disk_full "API: seconds from space returned to the held build settled (s)" "$ARESUME"
finish
