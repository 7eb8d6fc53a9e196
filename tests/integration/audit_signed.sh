#!/bin/sh
# Issue 13.5: audit events are authenticated and their head is witnessed.
#
# The attacker holds a database role that can INSERT audit events
# (coffer_api, coffer_purge) and appends correctly chained events with
# plain SQL (tests/tools/auditforge: the chain itself is unkeyed).  Before
# migration 0008 `cofferctl verify` accepted every one of them; now each
# is TAMPERED with an exact message: unsigned, signed by a key of the
# wrong kind for the act it claims, signed by another key.  The database
# owner removing the newest events is not detectable from the database
# alone, and is with the writers' witness file; a redaction row forged by
# the owner no longer excuses an edited event.
# Runs inside tests/pg-harness.sh (PG* environment, $BUILD, the harness's
# ctl and purge audit signers).
set -u
CTL="${BUILD:-build}/cofferctl"
FORGE="${BUILD:-build}/tests/tools/auditforge"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"
. "$(dirname "$0")/../lib/check.sh"
db() { $PSQL -c "$1"; }

[ -x "$FORGE" ] || die "$FORGE not built (make)"
[ -n "${COFFER_AUDIT_KEY:-}" ] && [ -n "${COFFER_PURGE_KEY:-}" ] ||
    die "no audit signers (run inside tests/pg-harness.sh)"
cp "$COFFER_BASE_PINS" "$T/nodes.pins"
export COFFER_AUDIT_WITNESS="$T/audit.witness"

printf 'as-custodian-1\n' >"$T/p1"
printf 'as-custodian-2\n' >"$T/p2"
"$CTL" tenant init --name as-t --custodians 2 --threshold 2 --out "$T/keys" \
    --passphrase-file "$T/p1" --passphrase-file "$T/p2" >"$T/out" 2>&1 ||
    die "tenant init: $(cat "$T/out")"
"$CTL" node init --kind api --name as-api --key-out "$T/api.key" \
    --pins "$T/nodes.pins" >"$T/out" 2>&1 || die "node init: $(cat "$T/out")"
# (30 days is below the default regulatory floor: lowered by the owner,
# the test-only path of section *Two persons*)
db "UPDATE coffer.tenants SET retention_floor_days = 30 WHERE name = 'as-t'" >/dev/null ||
    die "floor"
"$CTL" retention set --tenant as-t --days 30 >"$T/out" 2>&1 ||
    die "retention set: $(cat "$T/out")"
"$CTL" retention set --tenant as-t --days 40 >"$T/out" 2>&1 ||
    die "retention set: $(cat "$T/out")"
TID=$(db "SELECT tenant_id FROM coffer.tenants WHERE name = 'as-t'")
TS="tenant as-t ($TID)"

verify() { "$CTL" verify --quiet --keys-dir "$T/keys" --nodes "$T/nodes.pins" "$@" >"$T/v.out" 2>&1; }
# tampered NAME EXPECTED-LINE [VERIFY ARGS]: verify exits 1 with that line
tampered() {
	name=$1 want=$2
	shift 2
	verify "$@"
	vrc=$?
	got=$(grep '^verify: TAMPERED' "$T/v.out" | head -1)
	if [ "$vrc" -eq 1 ] && [ "$got" = "verify: TAMPERED: $want" ]; then
		ok "$name"
	else
		bad "$name: exit $vrc"; sed 's/^/     /' "$T/v.out"
		echo "     expected: verify: TAMPERED: $want"
	fi
}
# undo N: the owner removes events N.. of the tenant (restores the chain)
undo() {
	db "ALTER TABLE coffer.audit_events DISABLE TRIGGER audit_events_append_only;
	    DELETE FROM coffer.audit_events WHERE tenant_id = '$TID' AND event_no >= $1;
	    ALTER TABLE coffer.audit_events ENABLE ALWAYS TRIGGER audit_events_append_only;" >/dev/null
}
forge() {   # forge ROLE-OF-DB ARGS...: prints the forged event number
	who=$1; shift
	PGUSER=$who "$FORGE" "$TID" "$@" 2>"$T/forge.err" | sed -n 's/^forged event //p'
}

# -- the honest archive --------------------------------------------------------------
if verify; then ok "verify passes the signed chains"; else bad "verify"; sed 's/^/     /' "$T/v.out"; fi
check_eq "every event is signed (tenant chain and nil-uuid chain)" "0" \
    "$(db "SELECT count(*) FROM coffer.audit_events WHERE signature IS NULL")"
check "verify counts them: 3 on the tenant's chain + 3 node.init, 0 legacy" \
    grep -q '^verify: audit: 6 events signed by their writer, 0 unsigned from before migration 0008 (legacy); 0 witnessed audit heads$' "$T/v.out"
check_eq "the ctl key signs operator events, the API key none yet" "harness-ctl" \
    "$(db "SELECT string_agg(DISTINCT n.name, ',') FROM coffer.audit_events a JOIN coffer.nodes n ON n.node_id = a.signer WHERE a.tenant_id = '$TID'")"
check_eq "one witness line per event of the tenant, after COMMIT" "1 2 3" \
    "$(grep "\"tenant\":\"$TID\"" "$T/audit.witness" | sed 's/.*"event_no":\([0-9]*\).*/\1/' | tr '\n' ' ' | sed 's/ $//')"

# -- coffer_api appends a forged, correctly chained event ------------------------------
N=$(forge api admin matter.create --detail '{"title": "forged"}')
check_eq "coffer_api can INSERT a chained event" "4" "$N"
tampered "an unsigned event forged by coffer_api is detected" \
    "$TS audit event 4: the event is not signed but follows signed event 1: not written by a Coffer writer (inserted by a database role)"
undo 4
N=$(forge api operator user.revoke --key "$T/api.key" --node as-api)
tampered "an event signed with the API key claiming a cofferctl act is detected" \
    "$TS audit event 4: event user.revoke is signed by node as-api of kind api, which may not write it (cofferctl's operator events are signed by a ctl node only)"
undo 4
N=$(forge api admin matter.create --key "$COFFER_PURGE_KEY" --node harness-purge --signer-node as-api)
tampered "an event signed with another key than its signer's is detected" \
    "$TS audit event 4: the signature of node as-api does not verify (the event, its signer or the tenant's redaction list was altered)"
undo 4
N=$(forge api admin matter.create --key "$T/api.key" --node as-api)
if verify; then
	ok "an API event signed with the API's own key verifies (what a compromised API host can still write: its own kind)"
else
	bad "API-signed API event"; sed 's/^/     /' "$T/v.out"
fi
undo 4

# -- coffer_purge appends a forged event -------------------------------------------------
N=$(forge purger operator purge --detail '{"purge_id": "00000000-0000-4000-8000-000000000001", "records": 0}')
check_eq "coffer_purge can INSERT a chained event" "4" "$N"
tampered "an unsigned event forged by coffer_purge is detected" \
    "$TS audit event 4: the event is not signed but follows signed event 1: not written by a Coffer writer (inserted by a database role)"
undo 4
N=$(forge purger operator hold.release --key "$COFFER_PURGE_KEY" --node harness-purge)
tampered "an event signed with the purge key claiming another act is detected" \
    "$TS audit event 4: event hold.release is signed by node harness-purge of kind purge, which may not write it (a purge node signs purge events only)"
undo 4
N=$(forge purger admin matter.close --key "$COFFER_PURGE_KEY" --node harness-purge)
tampered "an API event signed with the purge key is detected" \
    "$TS audit event 4: event matter.close is signed by node harness-purge of kind purge, which may not write it (a purge node signs purge events only)"
undo 4
if verify; then ok "the chain verifies again after the forgeries are removed"; else bad "verify after undo"; sed 's/^/     /' "$T/v.out"; fi

# -- the owner relabels the API node as an operator's (kind ctl) ---------------------
db "UPDATE coffer.nodes SET kind = 'ctl' WHERE name = 'as-api'" >/dev/null
N=$(forge api operator user.revoke --key "$T/api.key" --node as-api)
tampered "an API-signed operator event behind a relabelled node is detected" \
    "tenant 00000000-0000-0000-0000-000000000000 audit event 3: node as-api is registered as kind ctl, but its node.init event says api: the node was relabelled"
undo 4
db "UPDATE coffer.nodes SET kind = 'api' WHERE name = 'as-api'" >/dev/null

# -- the owner removes the newest events: the witness tells -----------------------------
WL=$(grep -n "\"tenant\":\"$TID\",\"event_no\":3," "$T/audit.witness" | cut -d: -f1)
undo 3
if verify; then
	ok "removing the newest audit event is not detectable from the database alone"
else
	bad "verify without witness"; sed 's/^/     /' "$T/v.out"
fi
check "verify says so when no audit witness is given" \
    grep -q '^verify: note: no audit witness' "$T/v.out"
tampered "removing the newest audit event is detected with the witness" \
    "$TS audit event 3: witness $T/audit.witness line $WL holds this audit head (signed by node harness-ctl) but the database's audit chain ends at event 2 (events removed, or a restore from an older backup)" \
    --witness "$T/audit.witness"
"$CTL" retention set --tenant as-t --days 50 >"$T/out" 2>&1 ||
    bad "retention set: $(cat "$T/out")"
tampered "a different event 3 written after the removal disagrees with the witness" \
    "$TS audit event 3: witness $T/audit.witness line $WL holds another head for this event (the chain was rewritten from here, or replaced)" \
    --witness "$T/audit.witness"
# a forged witness line (not signed by a registered node) is not evidence
sed -n "${WL}s/\"event_no\":3,/\"event_no\":9,/p" "$T/audit.witness" >"$T/forged.witness"
tampered "a witness line with a head nobody signed is reported as forged" \
    "$TS audit event 9: witness $T/forged.witness line 1: the audit head is not signed by registered node harness-ctl (a forged or damaged witness line)" \
    --witness "$T/forged.witness"

# -- the owner forges a redaction row to excuse an edited event --------------------------
# Every signature covers the tenant's redaction list: the forged row breaks
# the first signed event's signature before the edited event is reached.
db "ALTER TABLE coffer.audit_events DISABLE TRIGGER audit_events_append_only;
    UPDATE coffer.audit_events SET detail = detail || '{\"partials_redacted\": \"0004\", \"days\": 1}'
     WHERE tenant_id = '$TID' AND event_no = 2;
    ALTER TABLE coffer.audit_events ENABLE ALWAYS TRIGGER audit_events_append_only;
    INSERT INTO coffer.audit_redactions (tenant_id, event_no, reason)
     VALUES ('$TID', 2, '0004: unblinded partials removed');" >/dev/null
tampered "a redaction row forged by the owner does not excuse an edited signed event" \
    "$TS audit event 1: the signature of node harness-ctl does not verify (the event, its signer or the tenant's redaction list was altered)"
finish
