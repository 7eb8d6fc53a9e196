#!/bin/sh
# tests/integration/production_commit_cut.sh — the API's database
# connection cut between the COMMIT that settles a production and its
# answer (issue 8, hostile world).  Runs inside tests/pg-harness.sh.  The
# API reaches PostgreSQL through tests/lib/pgproxy.py, which marks the
# transaction holding "INSERT INTO coffer.productions" and, when armed,
#   - cuts it: the COMMIT is forwarded and done, its answer never arrives;
#   - drops it: the COMMIT is not forwarded, the server rolls back.
# The API cannot tell the two apart at that moment; it keeps the sealed
# file, offers nothing, and asks the server for the transaction's status
# (pg_xact_status of the id it took before COMMIT) on its retry:
#   - cut: "production settled after all" — one productions row, one
#     'production.build' audit event, the file the row names is there and
#     downloads with the recorded SHA-256, no second build;
#   - drop: the build runs again under a new production id — still one
#     row, one audit event, and the dropped attempt's file is gone;
#   - slow: the COMMIT is forwarded and the connection closed at once
#     while the server takes 4 s to finish it (a deferred trigger made by
#     the test sleeps at commit time), so on the API's first retry the
#     transaction is still in progress and its row not yet visible: the
#     API waits ("still in progress") and keeps the file — reading only
#     the row would have deleted the file a committed row then names —
#     and settles when the COMMIT lands, built once.
set -u
ROOT=$(pwd)
. "$ROOT/tests/lib/gateway-fixture.sh"
. "$ROOT/tests/lib/api-fixture.sh"
. "$ROOT/tests/lib/pgproxy-fixture.sh"
GWF_NO_TRAP=1
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"

. "$ROOT/tests/lib/check.sh"
logs_tail() {
	[ -n "${APF_LOG:-}" ] && [ -f "$APF_LOG" ] && tail -15 "$APF_LOG" | sed 's/^/  api: /'
	[ -n "$PX_DIR" ] && tail -5 "$PX_DIR/log" | sed 's/^/  proxy: /'
}
CK_DIE_HOOK=logs_tail
q() { $PSQL -c "$1"; }
cleanup() {
	q "DROP TRIGGER IF EXISTS pcc_slow ON coffer.productions" >/dev/null 2>&1
	apf_cleanup
	gwf_cleanup
	px_stop
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

gwf_init || die "gateway fixture"
D=$GWF_DIR
gwf_simple acme phone-1 pcc-node "batch_max_ms = 2" || die "gateway start"
px_start || die "pgproxy did not start"
ok "pgproxy listening on 127.0.0.1:$PX_PORT, forwarding to the unix socket"
apf_user acme lisa legal && apf_user acme cus1 custodian 1 &&
    apf_user acme cus2 custodian 2 && apf_keygen acme lisa || die "people"
apf_config "pg_conninfo = host=127.0.0.1 port=$PX_PORT dbname=$PGDATABASE user=api sslmode=disable" &&
    apf_start || die "coffer-api start (database through the proxy)"

python3 - >"$D/in.ndjson" <<'PY'
import json
for k in range(12):
    print(json.dumps({"id": "pcc-%d" % k, "channel": "whatsapp",
        "conversation": "conv-pcc", "direction": "out",
        "sender": "+15550183001", "recipients": ["+15550183002"],
        "sent_at": "2026-03-01T09:00:%02dZ" % k, "body": "settle %d" % k}))
PY
code=$(gwf_curl phone-1 -o "$D/in.out" -w '%{http_code}' \
    -H 'Content-Type: application/x-ndjson' --data-binary "@$D/in.ndjson" \
    "$(gwf_url v1/records)" 2>/dev/null) || code=000
check_eq "12 records stored" "200 12" "$code $(grep -c '"stored"' "$D/in.out")"

printf '%s\n' '{"title":"Commit cut matter","legal_basis":"Subpoena PC-1",' \
    '"scope":{"participants":["+15550183001"],' \
    '"from":"2026-02-28T00:00:00Z","to":"2026-03-02T00:00:00Z"}}' >"$D/matter.json"
files() { find "$APF_DIR/productions" -name "$1.*.coffer" | wc -l; }
builds() { grep -c "matter $1: building production" "$APF_LOG"; }

# settled: one row, one audit event, one file = the row's, downloadable
settled() {   # settled NAME MATTER
	check_eq "$1: one productions row, one build audit event, one file" "1 1 1" \
	    "$(q "SELECT count(*) FROM coffer.productions WHERE matter_id = '$2'") $(q "SELECT count(*) FROM coffer.audit_events WHERE action = 'production.build' AND outcome = 'ok' AND target = 'matter:$2'") $(files "$2")"
	path=$(q "SELECT storage_path FROM coffer.productions WHERE matter_id = '$2'")
	check "$1: the file the row names exists" test -s "$path"
	apf_call lisa GET "/v1/matters/$2/production"
	check_eq "$1: download, SHA-256 as recorded" \
	    "200 $(q "SELECT encode(sealed_sha256, 'hex') FROM coffer.productions WHERE matter_id = '$2'")" \
	    "$APF_CODE $(sha256sum "$APF_OUT" | cut -c1-64)"
}

# released ARM N TAG WHAT: a new matter ($M) released by both custodians
# with the proxy armed (px_cut, px_drop, px_forward) for the settle, which
# is the proxy's N-th cut, logged as TAG; then ready within 60 s.
released() {
	M=$(apf_matter lisa "$D/matter.json") || die "matter $2: $APF_CODE"
	$1
	apf_approve acme cus1 1 "$M" && apf_approve acme cus2 2 "$M" ||
	    die "approvals of matter $2: $(cat "$APF_DIR/approve.out")"
	px_wait "$2" || die "the armed $1 did not happen within 30 s"
	check_eq "$4" "$3" "$(awk -v n="$2" '$1 == "cut" && $2 == n { print $4 }' "$PX_DIR/log")"
	apf_wait_state "$M" ready 60 || die "matter $2 not ready: $(apf_state "$M")"
}
# settled_after_all: wait (15 s at most) for the retry's verdict in the log
settled_after_all() {
	i=0
	until grep -q "matter $M: production settled after all" "$APF_LOG" || [ $i -ge 150 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	grep -q "matter $M: production settled after all" "$APF_LOG"
}

# -- cut: the COMMIT is done, its answer lost ------------------------------------
released px_cut 1 COMMIT "the proxy cut the settle after the server committed"
M1=$M
check "cut: the API logged the unknown outcome" \
    grep -q "matter $M1: production .* not settled (SQLSTATE 08" "$APF_LOG"
check "cut: the retry read the outcome (\"production settled after all\")" \
    settled_after_all
check_eq "cut: built once, not again" 1 "$(builds "$M1")"
settled cut "$M1"

# -- drop: the COMMIT never reached the server ------------------------------------
released px_drop 2 DROPPED "the proxy dropped the settle COMMIT"
M2=$M
dropped=$(sed -n "s/.*matter $M2: production \([0-9a-f-]*\) not settled (SQLSTATE 08.*/\1/p" "$APF_LOG" | head -1)
check "drop: the API logged the unknown outcome" test -n "$dropped"
check_eq "drop: built again under a new production id" 2 "$(builds "$M2")"
check "drop: the dropped attempt's production id is not the stored one" \
    test "$dropped" != "$(q "SELECT production_id FROM coffer.productions WHERE matter_id = '$M2'")"
check_eq "drop: the dropped attempt's file is gone" 0 \
    "$(find "$APF_DIR/productions" -name "$M2.$dropped.coffer" | wc -l)"
settled drop "$M2"

# -- slow: the connection gone while the server still commits --------------------
q "CREATE FUNCTION public.pcc_slow() RETURNS trigger LANGUAGE plpgsql AS
    \$\$ BEGIN PERFORM pg_catalog.pg_sleep(4); RETURN NULL; END \$\$" &&
    q "CREATE CONSTRAINT TRIGGER pcc_slow AFTER INSERT ON coffer.productions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.pcc_slow()" ||
    die "the slow-commit trigger"
released px_forward 3 FORWARDED "the proxy closed the connection right after forwarding COMMIT"
M3=$M
settled_after_all
q "DROP TRIGGER pcc_slow ON coffer.productions" && q "DROP FUNCTION public.pcc_slow()" ||
    bad "dropping the slow-commit trigger"
check "slow: the retry found the COMMIT still in progress and waited" \
    grep -q "matter $M3: production .*: its COMMIT is still in progress" "$APF_LOG"
check "slow: then read the outcome (\"production settled after all\")" \
    settled_after_all
check_eq "slow: built once, not again" 1 "$(builds "$M3")"
settled slow "$M3"

check_eq "every built matter ready, none failed" "3 0" \
    "$(q "SELECT count(*) FROM coffer.matters WHERE state = 'ready'") $(q "SELECT count(*) FROM coffer.matters WHERE state = 'failed'")"
apf_stop
check "no sanitizer report in the API log" \
    sh -c "! grep -qE 'Sanitizer|runtime error' '$APF_LOG'"
finish
