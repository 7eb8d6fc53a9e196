#!/bin/sh
# tests/integration/clock_jump.sh — wall-clock jumps on the gateway and on
# the operator's host (issue 8, hostile world).  Runs inside
# tests/pg-harness.sh; the database keeps the real clock.
#
# libfaketime (Debian's faketime) moves the clock of one process:
#   - the PKI is made 2 days in the past (certificates and CRLs valid from
#     then), so the gateway can run with its clock back a day;
#   - one gateway run whose clock steps while it runs (a timestamp file
#     read on every call: +0, back 3 h, ahead 20 days, back 1 day, +0),
#     FAKETIME_DONT_FAKE_MONOTONIC so only the wall clock steps, as with
#     NTP or an operator;
#   - restarts with a fixed offset (-1 day, then +0);
#   - a restart 10 years ahead: certificates and CRLs have expired for it,
#     so it must store nothing (fail closed).
# Checked: per stream seqs 1..n without gap or repeat, batches contiguous,
# every epoch used over one contiguous seq range (never returned to), an
# epoch rotated after epoch_seconds of real time although the wall clock
# went back, cofferctl verify --witness clean.  Then retention: cofferctl
# purge with its own clock 10 years ahead or a day back refuses (clock
# skew against the database) and disposes of nothing; the real purge
# disposes of nothing early (inside retention, received in the future by
# the gateway's jumped clock, or held).  received_at going back with the
# gateway's clock is counted, not failed: it is the gateway's statement of
# its clock; retention counts from the later of received_at and sent_at
# (migration 0010) and never disposes of a record received "in the future".
#
# Environment: CJ_N (records per request, 30), CJ_ROUNDS (requests per
# clock step, 2); tests/torture/clock_jump.sh raises them.
set -u
ROOT=$(pwd)
. "$ROOT/tests/lib/gateway-fixture.sh"
. "$ROOT/tests/lib/archive-fixture.sh"
. "$ROOT/tests/lib/figures.sh"
CJ_N=${CJ_N:-30}
CJ_ROUNDS=${CJ_ROUNDS:-2}
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"

. "$ROOT/tests/lib/check.sh"
gw_log_tail() { [ -n "${GWF_LOG:-}" ] && [ -f "$GWF_LOG" ] && tail -15 "$GWF_LOG" | sed 's/^/  gw: /'; }
CK_DIE_HOOK=gw_log_tail
q() { $PSQL -c "$1"; }

LIBFT=""
for l in /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1; do
	[ -f "$l" ] && LIBFT=$l && break
done
if ! command -v faketime >/dev/null 2>&1 || [ -z "$LIBFT" ]; then
	echo "SKIP - clock_jump: faketime is not installed (apt-get install faketime)"
	fig clock_jump "records disposed early (skipped: no faketime)" -
	echo "clock_jump: 0 passed, 0 failed (skipped)"
	exit 0
fi
# faketime preloads itself; an ASan build wants its runtime first.
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
export ASAN_OPTIONS

gwf_init || die "gateway fixture"
D=$GWF_DIR
REAL_CTL=$GWF_CTL
REAL_GW=$GWF_GW
# cofferctl with its clock OFFSET away: wrap OFFSET -> $D/ctl<OFFSET>
# (gwf_clock_wrap, not the faketime command: that one exits 1 when a killed
# run left its shared memory behind for the pid it was given.)
ctl_at() {
	f="$D/ctl$1"
	gwf_clock_wrap "$REAL_CTL" "$f" "$1" || die "libfaketime wrapper"
	echo "$f"
}
# a prefix command: COMMAND... with its clock OFFSET away (AF_WRAP)
at() {
	f="$D/at$1"
	[ -x "$f" ] || gwf_clock_wrap - "$f" "$1" || die "libfaketime wrapper"
	echo "$f"
}
# The PKI, tenant and node, made two days ago.
GWF_CTL=$(ctl_at -2d)
gwf_server_cert && gwf_tenant acme && gwf_device acme phone-1 &&
    gwf_node cj-node || die "set-up two days in the past"
GWF_CTL=$REAL_CTL

# The gateway's clock: read from $TSF on every call (FAKETIME_NO_CACHE),
# in the network process too, whose Landlock ruleset lets it read
# device_ca_dir and not $D: a hidden entry there (the CA loader skips it).
TSF="$COFFER_PKI/devices/.faketime"
echo "+0" >"$TSF"
chmod 0644 "$TSF"
GWF_GW="$D/gw-faketime"
cat >"$GWF_GW" <<EOF
#!/bin/sh
# stale: see gwf_clock_wrap in tests/lib/gateway-fixture.sh
rm -f "/dev/shm/faketime_shm_\$\$" "/dev/shm/sem.faketime_sem_\$\$"
LD_PRELOAD=$LIBFT FAKETIME_TIMESTAMP_FILE=$TSF FAKETIME_NO_CACHE=1 \\
    FAKETIME_DONT_FAKE_MONOTONIC=1 exec "$REAL_GW" "\$@"
EOF
chmod 0755 "$GWF_GW"
gwf_config "epoch_seconds = 2" "epoch_records = 1000000" || die "config"

SENT=0
STEPS=0
R=0
send() {   # send WHAT [PHASE [N]]: one request of N (CJ_N) records (af_body PHASE, 1)
	R=$((R + 1))
	af_body acme "${2:-1}" "${3:-$CJ_N}" "cj$R" >"$D/body.ndjson"
	code=$(gwf_curl phone-1 -o "$D/resp.ndjson" -w '%{http_code}' \
	    -H 'Content-Type: application/x-ndjson' --data-binary @"$D/body.ndjson" \
	    "$(gwf_url v1/records)" 2>/dev/null)
	n=$(grep -c '"status":"stored"' "$D/resp.ndjson")
	if [ "$code" = 200 ] && [ "$n" = "${3:-$CJ_N}" ]; then
		SENT=$((SENT + n))
		return 0
	fi
	bad "$1: HTTP $code, $n of ${3:-$CJ_N} stored"
	return 1
}
step() {   # step OFFSET: the running gateway's wall clock steps to OFFSET
	echo "$1" >"$TSF"
	STEPS=$((STEPS + 1))
	i=0
	while [ $i -lt "$CJ_ROUNDS" ]; do
		send "clock $1, request $i" || return 1
		i=$((i + 1))
	done
	ok "gateway clock stepped to $1: $CJ_ROUNDS requests of $CJ_N stored"
}
epochs() { q "SELECT count(*) FROM coffer.epochs"; }

# -- one run, the clock stepping under it ------------------------------------------------
gwf_start || die "gateway start"
step +0
E0=$(epochs)
# Back 3 hours; then more than epoch_seconds of real time: the epochs must
# rotate anyway (their age is not read from the wall clock).
step -3h
sleep 2.5
send "after 2.5 s with the clock 3 h back"
E1=$(epochs)
[ "$E1" -gt "$E0" ] && ok "epochs rotated after epoch_seconds of real time, clock 3 h back ($E0 -> $E1)" ||
    bad "no epoch rotation in 2.5 s with the clock stepped back 3 h ($E0 -> $E1): an epoch key outlives epoch_seconds"
step +20d
step -1d
step +0
gwf_stop || die "gateway stop"

# -- restarts with a fixed offset -----------------------------------------------------
echo "-1d" >"$TSF"
gwf_start || die "gateway start at -1 day"
STEPS=$((STEPS + 1))
send "restarted a day back" && send "restarted a day back (2)" &&
    ok "restarted with its clock a day back: stored"
gwf_stop
echo "+0" >"$TSF"
gwf_start || die "gateway start at +0"
STEPS=$((STEPS + 1))
send "restarted at the real time" && ok "restarted at the real time: stored"
gwf_stop

# 10 years ahead: certificates and CRLs have expired for this gateway.
echo "+3650d" >"$TSF"
STEPS=$((STEPS + 1))
N0=$(q "SELECT count(*) FROM coffer.records")
probe=$GWF_PROBE
GWF_PROBE=""
if gwf_start; then
	af_body acme 1 "$CJ_N" "cj-10y" >"$D/body.ndjson"
	code=$(gwf_curl phone-1 -o "$D/resp.ndjson" -w '%{http_code}' \
	    --data-binary @"$D/body.ndjson" "$(gwf_url v1/records)" 2>"$D/curl.err")
	[ "$code" != 200 ] && ok "10 years ahead: request refused (HTTP $code: $(head -c 120 "$D/curl.err"))" ||
	    bad "10 years ahead: HTTP 200: $(head -c 200 "$D/resp.ndjson")"
	gwf_stop
else
	ok "10 years ahead: the gateway refuses to start ($(grep -m1 -i 'error\|expired' "$GWF_LOG" | tail -c 160))"
fi
GWF_PROBE=$probe
echo "+0" >"$TSF"
check_eq "10 years ahead: nothing stored" "$N0" "$(q "SELECT count(*) FROM coffer.records")"
grep -i "expired\|not yet valid\|crl" "$GWF_LOG" | tail -1 | sed 's/^/     gateway log: /'

# -- the chains -----------------------------------------------------------------------
check_eq "every acknowledged record is stored" "$SENT" "$(q "SELECT count(*) FROM coffer.records")"
SEQ_BAD=$(q "SELECT count(*) FROM (SELECT stream_id, count(*) AS n, min(seq) AS lo, max(seq) AS hi, count(DISTINCT seq) AS d FROM coffer.records GROUP BY 1) s WHERE lo <> 1 OR hi <> n OR d <> n")
check_eq "per stream, seqs run 1..n without gap or repeat" 0 "$SEQ_BAD"
SEQ_REG=$(q "SELECT count(*) FROM (SELECT seq, lag(seq) OVER (PARTITION BY stream_id ORDER BY batch_no, seq) AS prev FROM coffer.records) x WHERE prev IS NOT NULL AND seq <= prev")
check_eq "per stream, seq rises with batch_no (no regression)" 0 "$SEQ_REG"
check_eq "per stream, batches contiguous and covering their seqs" 0 \
    "$(q "SELECT count(*) FROM (SELECT stream_id, batch_no, first_seq, last_seq, lag(last_seq) OVER (PARTITION BY stream_id ORDER BY batch_no) AS prev, lag(batch_no) OVER (PARTITION BY stream_id ORDER BY batch_no) AS pb FROM coffer.batches) b WHERE (prev IS NULL AND (first_seq <> 1 OR batch_no <> 1)) OR (prev IS NOT NULL AND (first_seq <> prev + 1 OR batch_no <> pb + 1))")"
EP_BAD=$(q "SELECT count(*) FROM (SELECT stream_id, epoch_id, min(seq) AS lo, max(seq) AS hi, count(*) AS n FROM coffer.records GROUP BY 1, 2) e WHERE EXISTS (SELECT 1 FROM coffer.records r WHERE r.stream_id = e.stream_id AND r.seq BETWEEN e.lo AND e.hi AND r.epoch_id <> e.epoch_id)")
check_eq "every epoch used over one contiguous seq range of its stream" 0 "$EP_BAD"
RA_REG=$(q "SELECT count(*) FROM (SELECT received_at, lag(received_at) OVER (PARTITION BY stream_id ORDER BY seq) AS prev FROM coffer.records) x WHERE received_at < prev")
echo "     received_at steps back within a stream $RA_REG times (the gateway's clock went back)"
FUT=$(q "SELECT count(*) FROM coffer.records WHERE received_at > now() + interval '1 day'")
[ "$FUT" -gt 0 ] && ok "records received 'in the future' by the jumped gateway: $FUT" ||
    bad "no record stamped by the +20 day clock"
"$GWF_CTL" verify --quiet --witness "$D/witness.jsonl" >"$D/verify.out" 2>&1 &&
    ok "cofferctl verify --witness after the jumps: $(cat "$D/verify.out")" ||
    bad "verify after the jumps: $(cat "$D/verify.out")"

# -- retention and holds under a jumped operator clock --------------------------------
# One day: retention runs from the later of received_at and sent_at, and
# the records the gateway received with its clock a day back are the ones
# past it. (1 day is below the default regulatory floor: lowered by the
# owner, the test-only path.)
q "UPDATE coffer.tenants SET retention_floor_days = 1" >/dev/null || bad "floor"
af_ctl retention set --tenant acme --days 1 >"$D/out" 2>&1 || bad "retention set: $(cat "$D/out")"
af_ctl hold create --tenant acme --participant "+15559990000" \
    --keys-dir "$GWF_KEYS" --reason "clock jump hold" >"$D/out" 2>&1 ||
    bad "hold create: $(cat "$D/out")"
HELD="EXISTS (SELECT 1 FROM coffer.holds h WHERE h.tenant_id = r.tenant_id AND h.active AND h.participant_tokens && r.participant_tokens)"
KEEP="GREATEST(r.sent_at, r.received_at) > now() - interval '1 day' OR r.received_at > now() OR $HELD"
TOTAL=$(q "SELECT count(*) FROM coffer.records")
KEEP0=$(q "SELECT count(*) FROM coffer.records r WHERE $KEEP")
HELD0=$(q "SELECT count(*) FROM coffer.records r WHERE $HELD")
HELD_OLD=$(q "SELECT count(*) FROM coffer.records r WHERE $HELD AND GREATEST(r.sent_at, r.received_at) < now() - interval '1 day'")
[ "$HELD_OLD" -gt 0 ] && ok "$HELD_OLD held records are past retention" ||
    bad "no held record past retention: the hold case is empty"
refusals=0
for run in "+3650d" "+3650d --max-clock-skew 86400" "-1d" "-2d --max-clock-skew 86400" \
    "+3650d --dry-run"; do
	# shellcheck disable=SC2086  # split "OFFSET [OPTIONS]" into words
	set -- $run
	off=$1
	shift
	(AF_WRAP=$(at "$off"); af_ctl purge --yes "$@") >"$D/out" 2>&1
	rc=$?
	if [ $rc -eq 1 ] && grep -q "purge refused: the database clock and this host's clock differ" "$D/out"; then
		refusals=$((refusals + 1))
		ok "purge with its clock at $run refused: $(cat "$D/out")"
	else
		bad "purge with its clock at $run: exit $rc: $(cat "$D/out")"
	fi
done
check_eq "nothing disposed by the refused purges" "$TOTAL" "$(q "SELECT count(*) FROM coffer.records")"
check_eq "no tombstone written by the refused purges" 0 "$(q "SELECT count(*) FROM coffer.tombstones")"
# Allowed with its clock a day back (the operator raised the bound): the
# cut-off is the database's clock, so nothing goes early either.
(AF_WRAP=$(at -1d); af_ctl purge --yes --max-clock-skew 86400 --reason "clock jump test") \
    >"$D/out" 2>&1 || bad "purge at -1d with --max-clock-skew 86400: $(cat "$D/out")"
cat "$D/out"
af_ctl purge --yes --reason "clock jump test" >"$D/out" 2>&1 || bad "purge: $(cat "$D/out")"
cat "$D/out"
GONE=$((TOTAL - $(q "SELECT count(*) FROM coffer.records")))
[ "$GONE" -gt 0 ] && ok "the purges disposed of $GONE expired records" ||
    bad "the purges disposed of nothing"
EARLY=$((KEEP0 - $(q "SELECT count(*) FROM coffer.records r WHERE $KEEP")))
check_eq "records disposed early (inside retention, received in the future, or held)" 0 "$EARLY"
HBROKEN=$((HELD0 - $(q "SELECT count(*) FROM coffer.records r WHERE $HELD")))
check_eq "held records disposed" 0 "$HBROKEN"
check_eq "every record past retention, unheld, not future-stamped, disposed" 0 \
    "$(q "SELECT count(*) FROM coffer.records r WHERE NOT ($KEEP)")"
check_eq "one tombstone per disposed record" "$GONE" "$(q "SELECT count(*) FROM coffer.tombstones")"

# -- back to the real time: nothing broke ---------------------------------------------
gwf_start || die "gateway start after the jumps"
send "after the jumps" && ok "ingest after the jumps"
gwf_stop
"$GWF_CTL" verify --quiet --witness "$D/witness.jsonl" >"$D/verify.out" 2>&1 &&
    ok "cofferctl verify --witness at the end: $(cat "$D/verify.out")" ||
    bad "verify at the end: $(cat "$D/verify.out")"

# -- the database clock steps back ---------------------------------------------------
# A lane's current epoch whose created_at (the database clock at insert)
# lies before its predecessor's, as after an NTP step back or a restored VM
# snapshot: once a purge empties it, it must keep its key, because the
# gateway still seals under it (migrations/0003_epoch_order.sql orders
# epochs by insert, not by clock).  Backfilled records (sent 400 days ago,
# received with the gateway's clock a day back so that they are past the
# one-day retention, none held) fill the new run's epochs; then the
# superuser moves those epochs' created_at 30 days back, as the stepped
# clock would have.
gwf_config "epoch_seconds = 3600" "epoch_records = 1000000" || die "config"
echo "-1d" >"$TSF"
gwf_start || die "gateway start for the database clock case"
send "backfill 1" 3 10 && send "backfill 2" 3 10 && ok "backfill sent (20 records, 400 days old)"
NEWEST="SELECT DISTINCT ON (stream_id) * FROM coffer.epochs ORDER BY stream_id, created_no DESC"
q "ALTER TABLE coffer.epochs DISABLE TRIGGER epochs_guard;
   UPDATE coffer.epochs SET created_at = created_at - interval '30 days'
   WHERE epoch_id IN (SELECT epoch_id FROM ($NEWEST) n
                      WHERE EXISTS (SELECT 1 FROM coffer.records r WHERE r.epoch_id = n.epoch_id));
   ALTER TABLE coffer.epochs ENABLE ALWAYS TRIGGER epochs_guard" >/dev/null ||
    bad "moving the current epochs' created_at back"
REWOUND=$(q "SELECT count(*) FROM ($NEWEST) n WHERE EXISTS (SELECT 1 FROM coffer.epochs o
    WHERE o.stream_id = n.stream_id AND o.created_no < n.created_no AND o.created_at > n.created_at)")
[ "$REWOUND" -gt 0 ] && ok "$REWOUND current epochs look older than their predecessors by created_at" ||
    bad "no current epoch was rewound: the case is empty"
af_ctl purge --yes --reason "database clock back" >"$D/out" 2>&1 || bad "purge: $(cat "$D/out")"
EMPTIED=$(q "SELECT count(*) FROM ($NEWEST) n WHERE NOT EXISTS
    (SELECT 1 FROM coffer.records r WHERE r.epoch_id = n.epoch_id)")
[ "$EMPTIED" -gt 0 ] && ok "the purge emptied $EMPTIED current epochs" ||
    bad "no current epoch emptied by the purge: the case is empty ($(cat "$D/out"))"
LOSTKEY=$(q "SELECT count(*) FROM ($NEWEST) n WHERE n.wrapped_key IS NULL")
check_eq "current epochs shredded while the gateway seals under them" 0 "$LOSTKEY"
send "after the database clock case" 3 10 && ok "ingest into the kept epochs"
gwf_stop
echo "+0" >"$TSF"
check_eq "records sealed under a shredded epoch" 0 "$(q "SELECT count(*) FROM coffer.records r
    JOIN coffer.epochs e USING (tenant_id, epoch_id) WHERE e.wrapped_key IS NULL")"
"$GWF_CTL" verify --quiet --witness "$D/witness.jsonl" >"$D/verify.out" 2>&1 &&
    ok "cofferctl verify --witness after the database clock case: $(cat "$D/verify.out")" ||
    bad "verify after the database clock case: $(cat "$D/verify.out")"

fig clock_jump "records disposed early (records)" "$EARLY"
fig clock_jump "current epochs shredded after a database clock step back (epochs)" "$LOSTKEY"
fig clock_jump "held records disposed (records)" "$HBROKEN"
fig clock_jump "seq regressions or gaps (streams)" "$((SEQ_BAD + SEQ_REG))"
fig clock_jump "epochs used out of seq order (epochs)" "$EP_BAD"
fig clock_jump "clock steps and offset restarts exercised (steps)" "$STEPS"
fig clock_jump "records ingested across the jumps (records)" "$SENT"
fig clock_jump "purges refused for clock skew (runs)" "$refusals"
fig clock_jump "records past retention disposed by the real-clock purges (records)" "$GONE"
fig clock_jump "received_at steps back within a stream (informational)" "$RA_REG"
finish
