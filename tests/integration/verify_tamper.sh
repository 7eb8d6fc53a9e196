#!/bin/sh
# tests/integration/verify_tamper.sh — `cofferctl verify` on an archive the
# real coffer-gateway wrote (two nodes with two writer lanes each, so four
# streams per tenant; three tenants, many batches, a retention purge), then
# tampered with by a database superuser.
#
# Each tamper runs on a copy of the archive (CREATE DATABASE … TEMPLATE) as
# the superuser.  The evidence tables' triggers are ENABLE ALWAYS, so
# session_replication_role = replica alone does not get past them (it does
# switch off foreign-key checks); the tamper transaction also disables them
# with ALTER TABLE … DISABLE TRIGGER, as a DBA would.  Each case must exit 1
# and name the tenant, stream and seq (or batch, or audit event) it hit.
#
# Shown here on purpose: removing a stream's last batch together with its
# checkpoint and records, or restoring the whole database from an older
# dump, is NOT detectable without the witness files (exit 0) — the chain is
# simply shorter — and is detected with them.
#
# Ends with seeded randomised tamper trials on this gateway-written data
# (itest_verify --trials; seed printed, COFFER_TEST_SEED replays).
set -u
. tests/lib/gateway-fixture.sh
. tests/lib/archive-fixture.sh

PSQL="psql -X -q -v ON_ERROR_STOP=1"
CK_OK="ok -"
CK_BAD="not ok -"
. tests/lib/check.sh

gwf_init || die "gateway fixture"
af_setup || die "archive set-up"
BASE=$PGDATABASE
af_ingest 1 30 || die "ingest phase 1"

# Retention history: policies, a hold, a purge (tombstones, shredded epochs).
# (a year is below the default regulatory floor: the owner lowers it, the
# test-only path; people do it through the API under two persons)
$PSQL -c "UPDATE coffer.tenants SET retention_floor_days = 30" || die "floor"
af_ctl retention set --tenant acme --days 365 >/dev/null || die "retention set"
af_ctl retention set --tenant globex --days 365 >/dev/null || die "retention set"
af_ctl hold create --tenant acme --conversation conv-held \
    --keys-dir "$AF_KEYS" >/dev/null || die "hold create"
af_ctl purge --yes >/dev/null || die "purge"

# The "older backup": a dump taken now, before more ingest.
pg_dump -Fc -f "$GWF_DIR/early.dump" "$BASE" || die "pg_dump"
af_ingest 2 20 || die "ingest phase 2"

V() {   # V DB ARGS...: verify DB, output in $GWF_DIR/v.out, exit status in $rc
	db=$1
	shift
	PGDATABASE=$db af_ctl verify --quiet "$@" >"$GWF_DIR/v.out" 2>&1
	rc=$?
}
W="--witness $AF_W_A --witness $AF_W_B"

# -- clean -------------------------------------------------------------------------
# shellcheck disable=SC2086  # W: two --witness options, split on purpose
V "$BASE" $W
if [ $rc -eq 0 ]; then ok "clean archive verifies (with witnesses): $(tail -1 "$GWF_DIR/v.out")"
else bad "clean archive: exit $rc: $(cat "$GWF_DIR/v.out")"; fi
V "$BASE"
[ $rc -eq 0 ] && ok "clean archive verifies (no witness)" || bad "clean, no witness: $(cat "$GWF_DIR/v.out")"
# shellcheck disable=SC2086  # W: two --witness options, split on purpose
(PGUSER=auditor; export PGUSER; V "$BASE" $W; exit $rc)
rc=$?
[ $rc -eq 0 ] && ok "verify works as the read-only coffer_verify role" ||
    bad "as auditor: $(cat "$GWF_DIR/v.out")"
grep -q 'tombstones' "$GWF_DIR/v.out" && [ "$($PSQL -At -c 'SELECT count(*) FROM coffer.tombstones')" -gt 0 ] &&
    ok "the archive holds tombstones" || bad "no tombstones in the archive"

# -- targeted cases ----------------------------------------------------------------
n=0
mkcopy() {
	n=$((n + 1))
	COPY="tamper_$n"
	$PSQL -d postgres -c "SET client_min_messages = warning" \
	    -c "DROP DATABASE IF EXISTS $COPY" -c "CREATE DATABASE $COPY TEMPLATE $BASE"
}
# tamper SQL...: in one transaction, as the superuser
tamper() {
	{
		echo "BEGIN;"
		echo "SET LOCAL session_replication_role = replica;"
		for t in records batches checkpoints tombstones audit_events record_dedup; do
			echo "ALTER TABLE coffer.$t DISABLE TRIGGER USER;"
		done
		printf '%s\n' "$@"
		echo "COMMIT;"
	} | $PSQL -d "$COPY"
}
q() { $PSQL -At -d "$BASE" -c "$1"; }
dropcopy() { $PSQL -d postgres -c "DROP DATABASE IF EXISTS $COPY"; }

# expect NAME PATTERN...: verify of $COPY with witnesses exits 1 and the
# message matches every pattern
expect() {
	name=$1
	shift
	# shellcheck disable=SC2086  # W: two --witness options, split on purpose
	V "$COPY" $W
	msg=$(grep 'TAMPERED' "$GWF_DIR/v.out")
	good=1
	[ $rc -eq 1 ] || good=0
	for p in "$@"; do
		printf '%s' "$msg" | grep -q -- "$p" || good=0
	done
	if [ $good -eq 1 ]; then ok "$name: $msg"
	else bad "$name: exit $rc, wanted $*: $(cat "$GWF_DIR/v.out")"; fi
}

# Each node writes a tenant's records through one stream per writer lane,
# and a record's lane follows from its dedup token (a keyed hash): which
# stream holds what is read back here, never assumed.
#
# A record a third into acme's fullest gw-a stream.  Per node acme keeps
# 30 - 14 purged + 20 records, so its fuller lane holds at least 18: the
# record and the one five later both exist.
ACME=$(q "SELECT tenant_id FROM coffer.tenants WHERE name = 'acme'")
fullest() {   # fullest NODE: acme's stream of NODE with the most live records
	q "SELECT s.stream_id FROM coffer.streams s JOIN coffer.nodes n USING (node_id) WHERE s.tenant_id = '$ACME' AND n.name = '$1' ORDER BY (SELECT count(*) FROM coffer.records r WHERE r.tenant_id = s.tenant_id AND r.stream_id = s.stream_id) DESC, s.stream_id LIMIT 1"
}
SA=$(fullest gw-a)
NA=$(q "SELECT count(*) FROM coffer.records WHERE tenant_id = '$ACME' AND stream_id = '$SA'")
[ "$NA" -ge 18 ] || die "acme's fullest gw-a stream holds $NA records, expected at least 18"
SEQ=$(q "SELECT seq FROM coffer.records WHERE tenant_id = '$ACME' AND stream_id = '$SA' ORDER BY seq OFFSET $((NA / 3)) LIMIT 1")
SEQ2=$(q "SELECT seq FROM coffer.records WHERE tenant_id = '$ACME' AND stream_id = '$SA' AND seq > $SEQ ORDER BY seq OFFSET 5 LIMIT 1")
[ -n "$SEQ" ] && [ -n "$SEQ2" ] || die "no records to tamper with in stream $SA"
KEY="tenant_id = '$ACME' AND stream_id = '$SA' AND seq = $SEQ"
KEY2="tenant_id = '$ACME' AND stream_id = '$SA' AND seq = $SEQ2"
LOC="tenant acme ($ACME) stream $SA"

mkcopy && tamper "UPDATE coffer.records SET ciphertext = set_byte(ciphertext, 20, get_byte(ciphertext, 20) # 1) WHERE $KEY;"
expect "one ciphertext byte changed" "$LOC" "seq $SEQ:" "leaf hash"
# Scope options on the same copy: --since after the damaged batch skips it
# (anchored on the signed checkpoint before), --since at it finds it; other
# tenants and streams verify clean on their own.
SB_OF=$(q "SELECT batch_no FROM coffer.records WHERE $KEY")
# shellcheck disable=SC2086  # W: two --witness options, split on purpose
V "$COPY" $W --since $((SB_OF + 1))
[ $rc -eq 0 ] && ok "--since $((SB_OF + 1)) starts after the damage (exit 0)" ||
    bad "--since after: exit $rc: $(cat "$GWF_DIR/v.out")"
# shellcheck disable=SC2086  # W: two --witness options, split on purpose
V "$COPY" $W --since "$SB_OF"
[ $rc -eq 1 ] && grep -q "seq $SEQ:" "$GWF_DIR/v.out" && ok "--since $SB_OF finds it" ||
    bad "--since at: exit $rc: $(cat "$GWF_DIR/v.out")"
# shellcheck disable=SC2086  # W: two --witness options, split on purpose
V "$COPY" $W --tenant globex
[ $rc -eq 0 ] && ok "--tenant globex verifies clean" || bad "--tenant globex: $(cat "$GWF_DIR/v.out")"
# shellcheck disable=SC2086  # W: two --witness options, split on purpose
V "$COPY" $W --tenant acme
[ $rc -eq 1 ] && ok "--tenant acme finds it" || bad "--tenant acme: exit $rc"
# shellcheck disable=SC2086  # W: two --witness options, split on purpose
V "$COPY" $W --stream "$SA"
[ $rc -eq 1 ] && ok "--stream finds it" || bad "--stream: exit $rc"
dropcopy

mkcopy && tamper "DELETE FROM coffer.records WHERE $KEY;"
expect "one record deleted" "$LOC" "seq $SEQ:" "no record and no tombstone"; dropcopy

mkcopy && tamper "UPDATE coffer.records r SET ciphertext = CASE WHEN r.seq = $SEQ THEN (SELECT ciphertext FROM coffer.records WHERE $KEY2) ELSE (SELECT ciphertext FROM coffer.records WHERE $KEY) END WHERE ($KEY) OR ($KEY2);"
expect "two ciphertexts swapped" "$LOC" "seq $SEQ:"; dropcopy

mkcopy && tamper "UPDATE coffer.records SET sent_at = sent_at - interval '1 day' WHERE $KEY;"
expect "sent_at changed" "$LOC" "seq $SEQ:"; dropcopy

mkcopy && tamper "UPDATE coffer.records SET channel = CASE WHEN channel = 'sms' THEN 'signal' ELSE 'sms' END WHERE $KEY;"
expect "channel changed" "$LOC" "seq $SEQ:"; dropcopy

mkcopy && tamper "UPDATE coffer.records SET participant_tokens = participant_tokens[2:] WHERE $KEY;"
expect "participant tokens changed" "$LOC" "seq $SEQ:"; dropcopy

mkcopy && tamper "UPDATE coffer.records SET conversation_token = NULL WHERE $KEY;"
expect "conversation token removed" "$LOC" "seq $SEQ:"; dropcopy

# What the foreign keys of coffer.records proved before migration 0018 (and
# never against a superuser: session_replication_role = replica switches
# foreign keys off), verify proves: the record's epoch and stream rows
# exist, and the participant array keeps its 1-based bounds, which the leaf
# hash does not cover.  The epochs guard is a trigger like the others.
EP=$(q "SELECT epoch_id FROM coffer.records WHERE $KEY")
EPS=$(q "SELECT min(seq) FROM coffer.records WHERE tenant_id = '$ACME' AND stream_id = '$SA' AND epoch_id = '$EP'")
EPB=$(q "SELECT batch_no FROM coffer.records WHERE tenant_id = '$ACME' AND stream_id = '$SA' AND seq = $EPS")
mkcopy && tamper "ALTER TABLE coffer.epochs DISABLE TRIGGER USER;" \
    "DELETE FROM coffer.epochs WHERE tenant_id = '$ACME' AND epoch_id = '$EP';"
expect "a record's epoch row deleted" \
    "verify: TAMPERED: $LOC batch $EPB seq $EPS: the record's epoch $EP is not in coffer.epochs (its wrapped key and R point are gone: the record can never be opened)"
dropcopy

mkcopy && tamper "ALTER TABLE coffer.epochs DISABLE TRIGGER USER;" \
    "UPDATE coffer.epochs SET epoch_id = gen_random_uuid() WHERE tenant_id = '$ACME' AND epoch_id = '$EP';"
expect "a record's epoch row renamed" "$LOC batch $EPB seq $EPS: the record's epoch $EP is not in coffer.epochs"
dropcopy

mkcopy && tamper "UPDATE coffer.records SET epoch_id = gen_random_uuid() WHERE $KEY;"
expect "a record pointed at a non-existent epoch" "$LOC" "seq $SEQ:" "leaf hash"; dropcopy

# Since migration 0024 coffer.records has no foreign keys: the gateway's own
# role (its database credentials alone, nothing switched off) can insert a
# record whose epoch has no row, here a copy of a record at the stream's
# next seq.  It cannot sign a checkpoint (the node key is the sealer's), so
# verify reports the row as covered by no batch before it looks at its
# epoch (the epoch check itself: the superuser cases above).
NEWSEQ=$(q "SELECT max(seq) + 1 FROM coffer.records WHERE tenant_id = '$ACME' AND stream_id = '$SA'")
LASTB=$(q "SELECT max(batch_no) FROM coffer.batches WHERE tenant_id = '$ACME' AND stream_id = '$SA'")
BOGUS=$(q "SELECT gen_random_uuid()")
mkcopy && $PSQL -d "$COPY" \
    -c "CREATE TABLE public.gw_row AS SELECT * FROM coffer.records WHERE $KEY" \
    -c "GRANT SELECT ON public.gw_row TO coffer_gateway" \
    -c "SET ROLE coffer_gateway" \
    -c "INSERT INTO coffer.records (tenant_id, stream_id, seq, epoch_id, batch_no, received_at, sent_at, channel, size_class, participant_tokens, conversation_token, dedup_token, nonce, ciphertext, leaf_hash) SELECT tenant_id, stream_id, $NEWSEQ, '$BOGUS'::uuid, batch_no, received_at, sent_at, channel, size_class, participant_tokens, conversation_token, dedup_token, nonce, ciphertext, leaf_hash FROM public.gw_row" &&
    ok "the gateway's role inserted a record under epoch $BOGUS (no row)" ||
    bad "the gateway's role could not insert the record"
expect "a record inserted by the gateway's role under an epoch with no row" \
    "verify: TAMPERED: $LOC seq $NEWSEQ: the row lies after the last batch ($LASTB, last_seq $((NEWSEQ - 1))) and is covered by no batch or checkpoint"
dropcopy

mkcopy && tamper "DELETE FROM coffer.streams WHERE tenant_id = '$ACME' AND stream_id = '$SA';"
expect "the stream row of a stream holding records deleted" \
    "verify: TAMPERED: $LOC: the stream holds rows but is not registered in coffer.streams"
dropcopy

NP=$(q "SELECT cardinality(participant_tokens) FROM coffer.records WHERE $KEY")
[ "${NP:-0}" -ge 1 ] || die "record $SEQ of $SA has no participant token to shift"
mkcopy && tamper "ALTER TABLE coffer.records DROP CONSTRAINT records_participant_tokens_check;" \
    "UPDATE coffer.records SET participant_tokens = ('[0:' || ($NP - 1) || ']=' || participant_tokens::text)::bytea[] WHERE $KEY;"
[ "$($PSQL -At -d "$COPY" -c "SELECT array_lower(participant_tokens, 1) FROM coffer.records WHERE $KEY")" = 0 ] ||
    bad "the shifted array was not stored"
expect "participant array shifted to start at 0 (same tokens, same leaf hash)" \
    "verify: TAMPERED: $LOC batch $(q "SELECT batch_no FROM coffer.records WHERE $KEY") seq $SEQ: participant_tokens starts at index 0, not 1 (the array's bounds were changed)"
dropcopy

# The last batch of acme's fullest gw-b stream, its checkpoint and its
# records (at least 18 records, as above, in batches of at most 8: three
# batches or more).
SB=$(fullest gw-b)
LB=$(q "SELECT max(batch_no) FROM coffer.batches WHERE tenant_id = '$ACME' AND stream_id = '$SB'")
[ "${LB:-0}" -ge 2 ] || die "acme's fullest gw-b stream has ${LB:-no} batches, expected at least 2"
BK="tenant_id = '$ACME' AND stream_id = '$SB'"
mkcopy && tamper "DELETE FROM coffer.records r USING coffer.batches b WHERE b.tenant_id = '$ACME' AND b.stream_id = '$SB' AND b.batch_no = $LB AND r.tenant_id = b.tenant_id AND r.stream_id = b.stream_id AND r.seq BETWEEN b.first_seq AND b.last_seq;" \
    "DELETE FROM coffer.record_dedup d USING coffer.batches b WHERE b.tenant_id = '$ACME' AND b.stream_id = '$SB' AND b.batch_no = $LB AND d.tenant_id = b.tenant_id AND d.stream_id = b.stream_id AND d.seq BETWEEN b.first_seq AND b.last_seq;" \
    "DELETE FROM coffer.checkpoints WHERE $BK AND batch_no = $LB;" \
    "DELETE FROM coffer.batches WHERE $BK AND batch_no = $LB;"
V "$COPY"
if [ $rc -eq 0 ]; then ok "last batch + checkpoint removed: NOT detectable without a witness (documented)"
else bad "truncation without witness: expected exit 0 (nothing to compare with), got $rc: $(cat "$GWF_DIR/v.out")"; fi
expect "last batch + checkpoint removed (with witness)" "tenant acme ($ACME) stream $SB batch $LB" "truncation"; dropcopy

# A checkpoint in the middle of that stream, and the valid signature of
# the next one in its place.
CPB=$((LB / 2))
mkcopy && tamper "UPDATE coffer.checkpoints c SET signature = (SELECT o.signature FROM coffer.checkpoints o WHERE o.tenant_id = '$ACME' AND o.stream_id = '$SB' AND o.batch_no = $CPB + 1) WHERE c.tenant_id = '$ACME' AND c.stream_id = '$SB' AND c.batch_no = $CPB;"
expect "checkpoint signature replaced" "tenant acme ($ACME) stream $SB batch $CPB:" "signature"; dropcopy

EV=$(q "SELECT event_no FROM coffer.audit_events WHERE tenant_id = '$ACME' ORDER BY event_no LIMIT 1")
mkcopy && tamper "UPDATE coffer.audit_events SET detail = jsonb_set(detail, '{new}', '\"3650 days\"') WHERE tenant_id = '$ACME' AND event_no = $EV;"
expect "audit event edited" "tenant acme ($ACME) audit event $EV:" "edited"; dropcopy

mkcopy && tamper "DELETE FROM coffer.audit_events WHERE tenant_id = '$ACME' AND event_no = $EV;"
expect "audit event deleted" "tenant acme ($ACME) audit event $EV:" "missing"; dropcopy

# A DBA hides a record as if purged: its tombstone keeps the chain intact
# (and its dedup row goes, as a purge's would), but no audited purge
# covers it.
mkcopy && tamper "WITH d AS (DELETE FROM coffer.records WHERE $KEY RETURNING *) INSERT INTO coffer.tombstones (tenant_id, stream_id, seq, batch_no, leaf_hash, reason, policy, authorisation, purge_id, epoch_id) SELECT tenant_id, stream_id, seq, batch_no, leaf_hash, 'retention expired', 'channel *: 365 days', 'dba', gen_random_uuid(), epoch_id FROM d;" \
    "DELETE FROM coffer.record_dedup WHERE tenant_id = '$ACME' AND (stream_id, seq) IN (SELECT stream_id, seq FROM coffer.tombstones WHERE authorisation = 'dba');"
expect "record replaced by a forged tombstone" "tenant acme ($ACME)" "no purge audit event"; dropcopy

# Whole database restored from the earlier dump.
COPY=restored
$PSQL -d postgres -c "SET client_min_messages = warning" \
    -c "DROP DATABASE IF EXISTS restored" -c "CREATE DATABASE restored"
pg_restore -d restored "$GWF_DIR/early.dump" 2>"$GWF_DIR/restore.err" ||
    { cat "$GWF_DIR/restore.err"; bad "pg_restore"; }
V restored
[ $rc -eq 0 ] && ok "restore from an older dump: NOT detectable without a witness (documented)" ||
    bad "restore without witness: expected 0, got $rc: $(cat "$GWF_DIR/v.out")"
expect "database restored from an older dump (with witness)" "truncation, rollback, or a restore from an older backup"
dropcopy

# -- could not run: exit 2 ------------------------------------------------------------
(PGHOST=/nonexistent; export PGHOST; V "$BASE"; exit $rc)
rc=$?
[ $rc -eq 2 ] && ok "database unreachable: exit 2" || bad "db down: exit $rc: $(cat "$GWF_DIR/v.out")"
V "$BASE" --since 0
[ $rc -eq 2 ] && ok "bad arguments: exit 2" || bad "bad args: exit $rc"
V "$BASE" --witness "$GWF_DIR/no-such-file"
[ $rc -eq 2 ] && ok "missing witness file: exit 2" || bad "missing witness: exit $rc"
V "$BASE" --tenant no-such-tenant
[ $rc -eq 2 ] && ok "unknown tenant: exit 2" || bad "unknown tenant: exit $rc"

# -- randomised trials on the gateway's data ----------------------------------------
if PGDATABASE=$BASE "$GWF_BUILD/tests/itest_verify" --trials "${COFFER_TAMPER_TRIALS:-250}" \
    --witness "$AF_W_A" --witness "$AF_W_B" >"$GWF_DIR/trials.out" 2>&1; then
	ok "$(grep 'trials:' "$GWF_DIR/trials.out") ($(grep -o 'seed [0-9]*' "$GWF_DIR/trials.out"))"
else
	cat "$GWF_DIR/trials.out"
	bad "randomised tamper trials"
fi

finish
