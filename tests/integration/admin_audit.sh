#!/bin/sh
# Issue 13.4: every administrative verb of cofferctl leaves exactly one audit
# event, with actor, role, action, target and detail, in the transaction of
# its change; refused verbs leave none; `cofferctl verify` still passes (the
# nil-uuid chain of node init included), and catches an edit of one of them.
# Runs inside tests/pg-harness.sh (PG* environment, $BUILD).
set -u
CTL="${BUILD:-build}/cofferctl"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM
export COFFER_PKI="$T/pki"
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"
. "$(dirname "$0")/../lib/check.sh"
db() { $PSQL -c "$1"; }
total() { db "SELECT count(*) FROM coffer.audit_events"; }
fpr_of() {
	openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' |
	    tr 'A-F' 'a-f'
}
NIL=00000000-0000-0000-0000-000000000000
# the harness's audit signers (issue 13.5) are pinned beside aa-node
[ -n "${COFFER_BASE_PINS:-}" ] && cp "$COFFER_BASE_PINS" "$T/nodes.pins"
ME=$(id -un 2>/dev/null || echo "")

# admin NAME ACTION TARGET CMD...: CMD succeeds and adds exactly one event,
# the newest, with that action and target, actor "cofferctl uid=N db=ROLE",
# role operator, outcome ok, actor_name/actor_role in the detail.  The
# event's detail is left in $T/detail, its tenant in $T/tenant.
admin() {
	name=$1 action=$2 target=$3; shift 3
	before=$(total)
	if ! "$@" >"$T/out" 2>"$T/err"; then
		bad "$name: exit $?"; sed 's/^/     /' "$T/err"; return
	fi
	check_eq "$name: exactly one new audit event" 1 $(( $(total) - before ))
	ev=$(db "SELECT action || ' ' || coalesce(target, '-') || ' ' || role || ' ' || outcome || ' ' || (actor LIKE 'cofferctl uid=$(id -u) db=%') || ' ' || (detail->>'actor_role') FROM coffer.audit_events ORDER BY at DESC, event_no DESC LIMIT 1")
	check_eq "$name: action, target, role, outcome, actor" \
	    "$action $target operator ok true operator" "$ev"
	db "SELECT detail::text FROM coffer.audit_events ORDER BY at DESC, event_no DESC LIMIT 1" >"$T/detail"
	db "SELECT tenant_id::text FROM coffer.audit_events ORDER BY at DESC, event_no DESC LIMIT 1" >"$T/tenant"
	if [ -n "$ME" ]; then
		check_eq "$name: actor_name is the OS login" "$ME" \
		    "$(db "SELECT detail->>'actor_name' FROM coffer.audit_events ORDER BY at DESC, event_no DESC LIMIT 1")"
	fi
}
# field KEY: the newest event's detail->>KEY
field() { db "SELECT detail->>'$1' FROM coffer.audit_events ORDER BY at DESC, event_no DESC LIMIT 1"; }
# refused NAME CMD...: CMD fails and adds no event
refused() {
	name=$1; shift
	before=$(total)
	if "$@" >"$T/out" 2>"$T/err"; then bad "$name: succeeded"; return; fi
	check_eq "$name: refused, no audit event" 0 $(( $(total) - before ))
}

for i in 1 2; do printf 'aa-custodian-%s-pass\n' "$i" >"$T/p$i"; done

# -- tenant init ------------------------------------------------------------------
admin "tenant init" tenant.init tenant:aa-t \
    "$CTL" tenant init --name aa-t --custodians 2 --threshold 2 --out "$T/keys" \
    --passphrase-file "$T/p1" --passphrase-file "$T/p2"
TID=$(db "SELECT tenant_id FROM coffer.tenants WHERE name = 'aa-t'")
check_eq "tenant.init is event 1 of the tenant's chain" "$TID 1" \
    "$(db "SELECT tenant_id || ' ' || event_no FROM coffer.audit_events WHERE action = 'tenant.init'")"
check_eq "tenant.init detail: id, k, n, key fingerprint" \
    "$TID 2 2 $(db "SELECT fingerprint FROM coffer.tenant_keys WHERE tenant_id = '$TID'")" \
    "$(field tenant_id) $(field threshold_k) $(field custodians_n) $(field fingerprint)"
refused "tenant init of an existing name" \
    "$CTL" tenant init --name aa-t --custodians 2 --threshold 2 --out "$T/keys2" \
    --passphrase-file "$T/p1" --passphrase-file "$T/p2"

# -- node init ----------------------------------------------------------------------
admin "node init" node.init node:aa-node \
    "$CTL" node init --name aa-node --key-out "$T/node.key" --pins "$T/nodes.pins"
check_eq "node.init concerns no tenant: the nil-uuid chain" "$NIL" "$(cat "$T/tenant")"
check_eq "node.init detail: node id, public key, pinned" \
    "$(db "SELECT node_id || ' ' || encode(signing_public_key, 'hex') FROM coffer.nodes WHERE name = 'aa-node'") true" \
    "$(field node_id) $(field signing_public_key) $(field pinned)"
refused "node init of an existing name" \
    "$CTL" node init --name aa-node --key-out "$T/node2.key"

# -- devices ------------------------------------------------------------------------
"$CTL" device ca-init --tenant aa-t >/dev/null 2>&1 || bad "device ca-init"
admin "device issue" device.issue device:aa-d1 \
    "$CTL" device issue --tenant aa-t --device aa-d1 --out "$T/dev"
check_eq "device.issue under the tenant" "$TID" "$(cat "$T/tenant")"
check_eq "device.issue detail: serial, fingerprint" \
    "$(db "SELECT cert_serial || ' ' || cert_fingerprint FROM coffer.devices WHERE device_id = 'aa-d1'")" \
    "$(field serial) $(field fingerprint)"
check_eq "device.issue fingerprint is the certificate's" "$(fpr_of "$T/dev/aa-d1.crt")" "$(field fingerprint)"
admin "device re-issue" device.reissue device:aa-d1 \
    "$CTL" device issue --tenant aa-t --device aa-d1 --out "$T/dev"
admin "device revoke" device.revoke device:aa-d1 \
    "$CTL" device revoke --tenant aa-t --device aa-d1
check_eq "device.revoke detail: fingerprint, 2 certificates on the CRL" \
    "$(fpr_of "$T/dev/aa-d1.crt") 2 true false" \
    "$(field fingerprint) $(field crl_certificates) $(field crl_signed) $(field already_revoked)"
admin "device revoke again (CRL re-signed)" device.revoke device:aa-d1 \
    "$CTL" device revoke --tenant aa-t --device aa-d1
check_eq "second device.revoke says already revoked" "true" "$(field already_revoked)"
refused "device revoke of an unknown device" \
    "$CTL" device revoke --tenant aa-t --device aa-ghost
refused "device issue of a revoked device" \
    "$CTL" device issue --tenant aa-t --device aa-d1 --out "$T/dev"

# -- users --------------------------------------------------------------------------
admin "user issue admin" user.issue user:aa-admin \
    "$CTL" user issue --role admin --tenant aa-t --name aa-admin --out "$T/people"
check_eq "user.issue detail: user id, role, serial, fingerprint" \
    "$(db "SELECT user_id || ' admin ' || cert_serial || ' ' || cert_fingerprint FROM coffer.users WHERE name = 'aa-admin'")" \
    "$(field user_id) $(field role) $(field serial) $(field fingerprint)"
admin "user issue custodian" user.issue user:aa-cus \
    "$CTL" user issue --role custodian --custodian-index 1 --tenant aa-t --name aa-cus --out "$T/people"
check_eq "user.issue of a custodian names the index" "custodian 1" "$(field role) $(field custodian_index)"
refused "user issue with a held custodian index" \
    "$CTL" user issue --role custodian --custodian-index 1 --tenant aa-t --name aa-cus2 --out "$T/people"
admin "user re-issue" user.reissue user:aa-admin \
    "$CTL" user issue --role admin --tenant aa-t --name aa-admin --out "$T/people"
check_eq "user.reissue carries the new fingerprint" "$(fpr_of "$T/people/aa-admin.crt")" "$(field fingerprint)"
admin "user revoke" user.revoke user:aa-cus \
    "$CTL" user revoke --tenant aa-t --name aa-cus
check_eq "user.revoke detail: role, index, fingerprint, CRL" \
    "custodian 1 $(fpr_of "$T/people/aa-cus.crt") 1 true false" \
    "$(field role) $(field custodian_index) $(field fingerprint) $(field crl_certificates) $(field crl_signed) $(field already_revoked)"
refused "user revoke of an unknown user" "$CTL" user revoke --tenant aa-t --name aa-ghost

# -- no secrets in any event -------------------------------------------------------
check "no event carries a passphrase" sh -c "! $PSQL -c 'SELECT detail::text FROM coffer.audit_events' | grep -q 'aa-custodian-'"
check "no event carries a private key" sh -c "! $PSQL -c 'SELECT detail::text FROM coffer.audit_events' | grep -qi 'private'"
nk=$(od -An -tx1 -v "$T/node.key" | tr -d ' \n' | cut -c1-64)
check "no event carries the node's secret key" sh -c "! $PSQL -c 'SELECT detail::text FROM coffer.audit_events' | grep -q '$nk'"

# -- the chains verify (the tenant's and the nil uuid's) ---------------------------
if "$CTL" verify --keys-dir "$T/keys" --nodes "$T/nodes.pins" >"$T/verify.out" 2>&1; then
	ok "cofferctl verify passes"
else
	bad "cofferctl verify"; sed 's/^/     /' "$T/verify.out"
fi
db "ALTER TABLE coffer.audit_events DISABLE TRIGGER audit_events_append_only;
    UPDATE coffer.audit_events SET target = 'node:other' WHERE action = 'node.init';
    ALTER TABLE coffer.audit_events ENABLE ALWAYS TRIGGER audit_events_append_only;" >/dev/null
if "$CTL" verify --keys-dir "$T/keys" --nodes "$T/nodes.pins" >"$T/verify.out" 2>&1; then
	bad "verify missed an edited node.init event"
else
	check "verify catches an edited node.init event" grep -q "audit" "$T/verify.out"
fi
finish
