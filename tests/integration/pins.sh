#!/bin/sh
# tests/integration/pins.sh — keys pinned outside the database and signed
# epochs (issue 12).  The attacker is the database owner (superuser,
# triggers disabled) who rewrites key rows and epoch rows:
#   - the tenant public key T swapped for T' (the review's attack: every
#     new epoch would be wrapped to T' after the gateway's next restart),
#     a Feldman commitment swapped, a custodian's public share swapped, a
#     gateway node's signing key swapped;
#   - a matter's epoch row forged: another epoch's R, an altered wrapped
#     key, the signature removed.
# Each must be refused, with its message, by every consumer: the gateway
# (for T: 503 for that tenant's devices, a log line, a metric; never an
# epoch wrapped to T'; it uses nothing else of the key row), `cofferctl approve` (nothing sent), `cofferctl verify
# --keys-dir --nodes`, and the API's production build.  Restoring the right
# value restores service.  Runs inside tests/pg-harness.sh.
set -u
ROOT=$(pwd)
. "$ROOT/tests/lib/gateway-fixture.sh"
. "$ROOT/tests/lib/api-fixture.sh"
GWF_NO_TRAP=1
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"
. "$ROOT/tests/lib/check.sh"
logs_tail() {
	[ -n "${GWF_LOG:-}" ] && [ -f "$GWF_LOG" ] && tail -8 "$GWF_LOG" | sed 's/^/  gw: /'
	[ -n "${APF_LOG:-}" ] && [ -f "$APF_LOG" ] && tail -8 "$APF_LOG" | sed 's/^/  api: /'
}
CK_DIE_HOOK=logs_tail
q() { $PSQL -c "$1"; }
cleanup() {
	apf_cleanup
	gwf_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

gwf_init || die "gateway fixture"
D=$GWF_DIR
CTL=$GWF_CTL
gwf_simple acme phone-1 pins-gw "batch_max_ms = 2" "epoch_records = 2" \
    "device_refresh_s = 1" || die "gateway start"
apf_user acme lisa legal && apf_user acme cus1 custodian 1 &&
    apf_user acme cus2 custodian 2 && apf_keygen acme lisa || die "people"
apf_config && apf_start || die "coffer-api start"

check "tenant init wrote the pin next to the .bik" test -s "$GWF_KEYS/acme.pin"
check_eq "node init --pins pinned both nodes" "2" \
    "$(grep -c '^node \(pins-gw\|apf-api\) [0-9a-f]\{64\}$' "$COFFER_NODE_PINS")"

echo 0 >"$D/nrec"
post() {   # post: one new record; prints the HTTP status (runs in $(...))
	NREC=$(($(cat "$D/nrec") + 1))
	echo "$NREC" >"$D/nrec"
	printf '{"id":"pin-%d","channel":"sms","conversation":"c-pin","direction":"out","sender":"+15550170001","recipients":["+15550170002"],"sent_at":"2026-03-01T09:%02d:00Z","body":"pin %d"}\n' \
	    "$NREC" "$((NREC % 60))" "$NREC" >"$D/rec.ndjson"
	gwf_curl phone-1 -o "$D/post.out" -w '%{http_code}' \
	    -H 'Content-Type: application/x-ndjson' --data-binary "@$D/rec.ndjson" \
	    "$(gwf_url v1/records)" 2>/dev/null || echo 000
}
# wait_post CODE: post until the answer is CODE (the directory refreshes
# every second); 1 if not within 10 s
wait_post() {
	i=0
	while [ "$i" -lt 40 ]; do
		[ "$(post)" = "$1" ] && return 0
		sleep 0.25
		i=$((i + 1))
	done
	return 1
}
metric() {
	curl -s "http://127.0.0.1:$GWF_METRICS_PORT/metrics" 2>/dev/null |
	    awk -v n="$1" '$1 == n { v = $2 } END { print v + 0 }'
}
# expect_fail NAME STDERR-SUBSTRING CMD...
expect_fail() {
	ef_name=$1 ef_want=$2
	shift 2
	if "$@" >"$D/ef.out" 2>"$D/ef.err"; then
		bad "$ef_name: succeeded, expected failure"
		return
	fi
	if grep -qF -- "$ef_want" "$D/ef.err" "$D/ef.out"; then
		ok "$ef_name"
	else
		bad "$ef_name: output lacks '$ef_want':"
		sed 's/^/     /' "$D/ef.err" "$D/ef.out"
	fi
}
approve_as() {   # approve_as N MATTER [extra options]
	ap_n=$1 ap_m=$2
	shift 2
	"$CTL" approve --matter "$ap_m" \
	    --share "$D/tenants/acme/out/acme-custodian-$ap_n.share" \
	    --passphrase-file "$D/tenants/acme/pass$ap_n" \
	    --api "https://127.0.0.1:$APF_PORT" --ca "$GWF_SRV_CA" \
	    --cert "$APF_PEOPLE/cus$ap_n.crt" --key "$APF_PEOPLE/cus$ap_n.key" \
	    --yes "$@"
}
approvals() { q "SELECT count(*) FROM coffer.approvals WHERE matter_id = '$1'"; }
verify() { PGUSER=auditor "$CTL" verify --keys-dir "$GWF_KEYS" --nodes "$COFFER_NODE_PINS" "$@"; }
as_owner() {   # as_owner TABLE SQL: the attacker, every trigger off
	q "BEGIN; ALTER TABLE coffer.$1 DISABLE TRIGGER ALL; $2; ALTER TABLE coffer.$1 ENABLE TRIGGER ALL; COMMIT" &&
	    { [ "$1" != epochs ] || q "ALTER TABLE coffer.epochs ENABLE ALWAYS TRIGGER epochs_guard"; }
}

# -- a clean start ----------------------------------------------------------------
for i in 1 2 3 4 5 6; do
	[ "$(post)" = 200 ] || die "record $i not stored: $(cat "$D/post.out")"
done
check_eq "6 records in at least 2 epochs, every epoch signed by its node" "t|t" \
    "$(q "SELECT count(*) >= 2, count(*) = count(signature) FROM coffer.epochs")"
printf '%s\n' '{"title":"Pins matter","legal_basis":"Subpoena PIN-1",' \
    '"scope":{"participants":["+15550170001"],' \
    '"from":"2026-02-28T00:00:00Z","to":"2026-03-02T00:00:00Z"}}' >"$D/matter.json"
M1=$(apf_matter lisa "$D/matter.json") || die "matter: $APF_CODE"
check "verify with pins: clean" verify
T_ORIG=$(q "SELECT encode(public_key, 'hex') FROM coffer.tenant_keys")
C2_ORIG=$(q "SELECT encode(commitments[2], 'hex') FROM coffer.tenant_keys")
V1_ORIG=$(q "SELECT encode(public_shares[1], 'hex') FROM coffer.tenant_keys")
EVIL=$(q "SELECT encode(public_shares[2], 'hex') FROM coffer.tenant_keys")  # a valid point

# -- A: the tenant key swapped (the review's attack) ---------------------------
as_owner tenant_keys "UPDATE coffer.tenant_keys SET public_key = '\\x$EVIL'" ||
    die "swap T"
check "T swapped: the gateway answers 503 for the tenant's devices" wait_post 503
# (records accepted before the next directory refresh were sealed under the
# pinned key, never T': the writer only ever sees the pinned key)
EPOCHS=$(q "SELECT count(*) FROM coffer.epochs")
check "T swapped: the 503 says why" grep -q "tenant key does not match this gateway's pin" "$D/post.out"
check "T swapped: the gateway logs it" grep -q "directory: tenant acme: the database's public key differs from its pin $GWF_KEYS/acme.pin: sealing refused" "$GWF_LOG"
check_eq "T swapped: metric coffer_gateway_tenants_pin_mismatch" 1 "$(metric coffer_gateway_tenants_pin_mismatch)"
gwf_stop && gwf_start || die "gateway restart"
check_eq "T swapped, gateway restarted: still 503" 503 "$(post)"
check_eq "T swapped: no epoch was made after the refusal" "$EPOCHS" \
    "$(q "SELECT count(*) FROM coffer.epochs")"
expect_fail "T swapped: approve refuses" \
    "the tenant public key the API serves differs from the one in" approve_as 1 "$M1"
check_eq "T swapped: nothing was sent" 0 "$(approvals "$M1")"
expect_fail "T swapped: verify reports the key mismatch" \
    "tenant acme: the database's public key differs from its pin $GWF_KEYS/acme.pin" verify
as_owner tenant_keys "UPDATE coffer.tenant_keys SET public_key = '\\x$T_ORIG'" || die "restore T"
check "T restored: the gateway stores again" wait_post 200
check_eq "T restored: metric back to 0" 0 "$(metric coffer_gateway_tenants_pin_mismatch)"
check "T restored: the log says so" grep -q "directory: tenant acme: database keys match the pin again: sealing resumed" "$GWF_LOG"

# -- A2: no pin at all: the gateway never seals for an unpinned tenant ----------
mv "$GWF_KEYS/acme.pin" "$D/acme.pin.away" || die "move the pin away"
gwf_stop && gwf_start || die "gateway restart without the pin"
check_eq "no pin file: 503 for the tenant's devices" 503 "$(post)"
check "no pin file: the gateway says why" grep -q "directory: tenant acme: no usable pin file $GWF_KEYS/acme.pin" "$GWF_LOG"
mv "$D/acme.pin.away" "$GWF_KEYS/acme.pin" || die "put the pin back"
check "pin file back: the gateway stores again (next refresh)" wait_post 200

# -- B: a commitment swapped -----------------------------------------------------
as_owner tenant_keys "UPDATE coffer.tenant_keys SET commitments[2] = '\\x$EVIL'" ||
    die "swap C1"
# The gateway compares only T with its pin: it never uses the commitments,
# and a re-share moves them (issue 16) while sealing must go on.
check "commitment swapped: the gateway keeps sealing to the pinned T" wait_post 200
expect_fail "commitment swapped: approve refuses" \
    "does not verify against the tenant commitments the API serves" approve_as 1 "$M1"
check_eq "commitment swapped: nothing was sent" 0 "$(approvals "$M1")"
expect_fail "commitment swapped: verify reports it" \
    "tenant acme: the database's commitment 1 differs from its pin" verify
as_owner tenant_keys "UPDATE coffer.tenant_keys SET commitments[2] = '\\x$C2_ORIG'" || die "restore C1"
check "commitment restored: the gateway stores again" wait_post 200

# -- C: the gateway node's key swapped -------------------------------------------
NK_ORIG=$(q "SELECT encode(signing_public_key, 'hex') FROM coffer.nodes WHERE name = 'pins-gw'")
NK_EVIL=$(q "SELECT encode(signing_public_key, 'hex') FROM coffer.nodes WHERE name = 'apf-api'")
as_owner nodes "UPDATE coffer.nodes SET signing_public_key = '\\x$NK_EVIL' WHERE name = 'pins-gw'" ||
    die "swap node key"
expect_fail "node key swapped: verify reports the key mismatch" \
    "node pins-gw: the database's signing key differs from its pin in $COFFER_NODE_PINS" verify
expect_fail "node key swapped: approve refuses" \
    "node pins-gw's key in the database differs from its pin in $COFFER_NODE_PINS" approve_as 1 "$M1"
check_eq "node key swapped: nothing was sent" 0 "$(approvals "$M1")"
gwf_stop
if gwf_start 2>"$D/start.err"; then
	bad "node key swapped: the gateway started"
else
	check "node key swapped: the gateway refuses to start and says why" \
	    grep -q "does not hold the signing key registered for node 'pins-gw'" "$GWF_LOG"
fi
as_owner nodes "UPDATE coffer.nodes SET signing_public_key = '\\x$NK_ORIG' WHERE name = 'pins-gw'" ||
    die "restore node key"
gwf_start || die "gateway restart after the node key was restored"
check "node key restored: verify clean" verify
grep -v '^node apf-api ' "$COFFER_NODE_PINS" >"$D/partial.pins"
expect_fail "a registered node missing from the pins: verify reports it" \
    "verify: TAMPERED: node apf-api is not pinned in $D/partial.pins" \
    env PGUSER=auditor "$CTL" verify --nodes "$D/partial.pins"

# -- D: a public share swapped after one approval: the API refuses to build ------
approve_as 1 "$M1" >"$D/ap.out" 2>&1 || die "approve 1: $(cat "$D/ap.out")"
ok "custodian 1 approved matter 1 (keys and epochs authentic)"
as_owner tenant_keys "UPDATE coffer.tenant_keys SET public_shares[1] = '\\x$EVIL'" ||
    die "swap V1"
approve_as 2 "$M1" >"$D/ap.out" 2>&1 || die "approve 2: $(cat "$D/ap.out")"
apf_wait_state "$M1" failed 30 || bad "public share swapped: matter 1 is $(apf_state "$M1"), not failed"
check "public share swapped: the API refused to build, naming it" \
    grep -q "matter $M1: production build failed: tenant acme: the database's public share 1 differs from its pin $GWF_KEYS/acme.pin" "$APF_LOG"
as_owner tenant_keys "UPDATE coffer.tenant_keys SET public_shares[1] = '\\x$V1_ORIG'" || die "restore V1"
M2=$(apf_matter lisa "$D/matter.json") || die "matter 2: $APF_CODE"
approve_as 1 "$M2" >"$D/ap.out" 2>&1 && approve_as 2 "$M2" >>"$D/ap.out" 2>&1 ||
    die "approvals of matter 2: $(cat "$D/ap.out")"
check "public share restored: a new matter builds" apf_wait_state "$M2" ready 60

# -- E: forged epoch rows in a matter's scope ------------------------------------
M3=$(apf_matter lisa "$D/matter.json") || die "matter 3: $APF_CODE"
E1=$(q "SELECT epoch_id FROM coffer.epochs ORDER BY created_no LIMIT 1")
E2=$(q "SELECT epoch_id FROM coffer.epochs ORDER BY created_no OFFSET 1 LIMIT 1")
R2=$(q "SELECT encode(r_point, 'hex') FROM coffer.epochs WHERE epoch_id = '$E2'")
W1=$(q "SELECT encode(wrapped_key, 'hex') FROM coffer.epochs WHERE epoch_id = '$E1'")
as_owner epochs "UPDATE coffer.epochs SET r_point = (SELECT r_point FROM coffer.epochs WHERE epoch_id = '$E1') WHERE epoch_id = '$E2'" ||
    die "forge R"
expect_fail "epoch with another epoch's R: approve refuses, naming it" \
    "epoch $E2: its signature does not verify under node pins-gw's pinned key (forged or altered epoch row)" approve_as 1 "$M3"
check "  ... and says nothing was sent" grep -q "nothing was sent for matter $M3" "$D/ef.err"
check_eq "forged R: nothing was sent for any epoch" 0 "$(approvals "$M3")"
as_owner epochs "UPDATE coffer.epochs SET r_point = '\\x$R2' WHERE epoch_id = '$E2'" || die "restore R"
as_owner epochs "UPDATE coffer.epochs SET wrapped_key = overlay(wrapped_key placing '\\xff' from 30 for 1) WHERE epoch_id = '$E1'" ||
    die "alter wrapped key"
expect_fail "altered wrapped key: approve refuses, naming the epoch" \
    "epoch $E1: its wrapped key does not match the hash its node signed (altered epoch row)" approve_as 1 "$M3"
check_eq "altered wrapped key: nothing was sent" 0 "$(approvals "$M3")"
as_owner epochs "UPDATE coffer.epochs SET wrapped_key = '\\x$W1' WHERE epoch_id = '$E1'" || die "restore W"
q "CREATE TABLE public.pins_saved AS SELECT signature, node_id, wrapped_hash, signed_at_us FROM coffer.epochs WHERE epoch_id = '$E1'" ||
    die "save the signature"
as_owner epochs "UPDATE coffer.epochs SET signature = NULL, node_id = NULL, wrapped_hash = NULL, signed_at_us = NULL WHERE epoch_id = '$E1'" &&
    expect_fail "unsigned epoch (as before migration 0005): approve refuses, naming it" \
    "epoch $E1 is not signed by a gateway node (made before migration 0005_pins?)" approve_as 1 "$M3"
check_eq "unsigned epoch: nothing was sent" 0 "$(approvals "$M3")"
as_owner epochs "UPDATE coffer.epochs e SET (signature, node_id, wrapped_hash, signed_at_us) = (SELECT signature, node_id, wrapped_hash, signed_at_us FROM pins_saved) WHERE epoch_id = '$E1'" || die "restore the signature"
expect_fail "approve without node pins refuses" \
    "no node pins (--nodes FILE or \$COFFER_NODE_PINS)" env -u COFFER_NODE_PINS \
    "$CTL" approve --matter "$M3" --share "$D/tenants/acme/out/acme-custodian-1.share" \
    --passphrase-file "$D/tenants/acme/pass1" --api "https://127.0.0.1:$APF_PORT" \
    --ca "$GWF_SRV_CA" --cert "$APF_PEOPLE/cus1.crt" --key "$APF_PEOPLE/cus1.key" --yes
approve_as 1 "$M3" >"$D/ap.out" 2>&1 && approve_as 2 "$M3" >>"$D/ap.out" 2>&1 ||
    bad "epochs restored: approvals of matter 3: $(cat "$D/ap.out")"
check "epochs restored: matter 3 builds" apf_wait_state "$M3" ready 60
finish
