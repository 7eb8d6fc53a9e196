#!/bin/sh
# tests/integration/rotation.sh — tenant key rotation (issue 16, part 1):
# `cofferctl tenant rotate` makes generation g+1 with a new key T2 for new
# epochs from an announced instant; the running gateway keeps wrapping to
# T1 before it and never after it (each epoch row says which key:
# epochs.wrapped_to), logs the switch, and `cofferctl verify` is clean with
# both pins installed.  Every refusal of the verb, with its message; the
# new share files are generation g+1 with the same indices; audited.
# Runs inside tests/pg-harness.sh.
set -u
ROOT=$(pwd)
. "$ROOT/tests/lib/gateway-fixture.sh"
. "$ROOT/tests/lib/api-fixture.sh"
GWF_NO_TRAP=1
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"
. "$ROOT/tests/lib/check.sh"
logs_tail() {
	[ -n "${GWF_LOG:-}" ] && [ -f "$GWF_LOG" ] && tail -8 "$GWF_LOG" | sed 's/^/  gw: /'
}
CK_DIE_HOOK=logs_tail
q() { $PSQL -c "$1"; }
cleanup() { gwf_cleanup; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

gwf_init || die "gateway fixture"
D=$GWF_DIR
CTL=$GWF_CTL
T="$D/ck"
mkdir -p "$T"
GWF_CUSTODIANS=3 GWF_THRESHOLD=2 gwf_simple acme phone-1 rot-gw \
    "batch_max_ms = 2" "device_refresh_s = 1" || die "gateway start"
apf_user acme cus1 custodian 1 && apf_user acme cus2 custodian 2 &&
    apf_user acme cus3 custodian 3 || die "custodians"
TD="$D/tenants/acme"
OLDPIN="$GWF_KEYS/acme.pin"

echo 0 >"$D/nrec"
post() {   # one new record; prints the HTTP status
	NREC=$(($(cat "$D/nrec") + 1))
	echo "$NREC" >"$D/nrec"
	printf '{"id":"rot-%d","channel":"sms","conversation":"c-rot","direction":"out","sender":"+15550180001","recipients":["+15550180002"],"sent_at":"2026-03-01T09:%02d:00Z","body":"rot %d"}\n' \
	    "$NREC" "$((NREC % 60))" "$NREC" >"$D/rec.ndjson"
	gwf_curl phone-1 -o "$D/post.out" -w '%{http_code}' \
	    -H 'Content-Type: application/x-ndjson' --data-binary "@$D/rec.ndjson" \
	    "$(gwf_url v1/records)" 2>/dev/null || echo 000
}
wait_post() {   # post until the answer is $1; 1 if not within 10 s
	i=0
	while [ "$i" -lt 40 ]; do
		[ "$(post)" = "$1" ] && return 0
		sleep 0.25
		i=$((i + 1))
	done
	return 1
}
rotate() {   # rotate OUT FROM PIN [TENANT]: the ceremony with file passphrases
	"$CTL" tenant rotate --tenant "${4:-acme}" --out "$1" --from "$2" \
	    ${3:+--pin "$3"} --passphrase-file "$TD/pass1" \
	    --passphrase-file "$TD/pass2" --passphrase-file "$TD/pass3"
}
verify() { PGUSER=auditor "$CTL" verify --keys-dir "$GWF_KEYS" --nodes "$COFFER_NODE_PINS"; }

for i in 1 2 3; do
	[ "$(post)" = 200 ] || die "record $i not stored: $(cat "$D/post.out")"
done
T1=$(q "SELECT encode(public_key, 'hex') FROM coffer.tenant_keys")
check_eq "epochs before the rotation are wrapped to T1" "0" \
    "$(q "SELECT count(*) FROM coffer.epochs WHERE wrapped_to IS DISTINCT FROM decode('$T1', 'hex')")"

# -- refusals ---------------------------------------------------------------------
FUT=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
check_fails "no --pin: refused" 2 \
    "cofferctl: tenant rotate needs --pin: the tenant's current pin file" \
    rotate "$D/r0" "$FUT" ""
check_fails "unknown tenant: refused" 1 "cofferctl: no tenant named nosuch" \
    rotate "$D/r0" "$FUT" "$OLDPIN" nosuch
check_fails "--from in the past: refused" 1 \
    "cofferctl: --from 2020-01-01T00:00:00Z is in the past: the instant new epochs switch keys must be now or later" \
    rotate "$D/r0" 2020-01-01T00:00:00Z "$OLDPIN"
check_fails "--from not a time: refused" 2 \
    "cofferctl: --from tomorrow: expected an RFC 3339 time with an offset (e.g. 2026-12-06T06:00:00Z) or now" \
    rotate "$D/r0" tomorrow "$OLDPIN"
q "INSERT INTO coffer.reshares (tenant_id, reshare_id, from_generation, new_threshold,
       new_custodians, recipients, reason, proposed_by)
   SELECT tenant_id, gen_random_uuid(), 1, 2, 3, '[]', 'rotation test', user_id
   FROM coffer.users WHERE name = 'cus1'" || die "open re-share"
check_fails "an open re-share: refused" 1 \
    "cofferctl: tenant acme has a re-share in progress (proposed): finish or cancel it before rotating the key" \
    rotate "$D/r0" "$FUT" "$OLDPIN"
q "DELETE FROM coffer.reshares" || die "re-share removed"
check_eq "nothing changed by the refusals" "1|0" \
    "$(q "SELECT max(generation), (SELECT count(*) FROM coffer.audit_events WHERE action = 'tenant.rotate') FROM coffer.tenant_key_generations")"

# -- the rotation (30 s ahead: three Argon2id share files on a busy runner) --
FROM=$(date -u -d '+30 seconds' +%Y-%m-%dT%H:%M:%SZ)
FROM_S=$(date -u -d "$FROM" +%s)
rotate "$D/rot" "$FROM" "$OLDPIN" >"$T/rot.out" 2>"$T/rot.err"
rc=$?
check_eq "tenant rotate: exit 0" "0" "$rc"
[ "$rc" -eq 0 ] || { sed 's/^/     /' "$T/rot.err"; die "tenant rotate"; }
check "tenant rotate prints generation 2 and the instant" \
    grep -q "generation 2 fingerprint [0-9a-f]* wraps_from $FROM\$" "$T/rot.out"
check "tenant rotate tells custodians to keep the old shares" \
    grep -qF "custodians: keep the share files of generation 1 until the old key's records are disposed of" "$T/rot.err"
check "tenant rotate prints the install commands for both pins" \
    grep -qF "$D/rot/acme.pin $D/rot/acme.g1.pin /etc/coffer/gateway/keys/" "$T/rot.err"
check "the old pin is kept unchanged as acme.g1.pin" cmp -s "$OLDPIN" "$D/rot/acme.g1.pin"
check "the new pin announces the instant and the previous key" \
    grep -q "^wraps_from $FROM\$" "$D/rot/acme.pin"
check "the new pin's previous_key is T1" grep -q "^previous_key $T1\$" "$D/rot/acme.pin"
cp "$D/rot/acme.pin" "$D/rot/acme.g1.pin" "$GWF_KEYS/" || die "pins installed"

# before the instant: new records go to epochs wrapped to T1
check "records before the instant are stored" wait_post 200
now=$(date -u +%s)
[ "$now" -lt "$FROM_S" ] || die "the instant passed before the check (slow machine)"
check_eq "before the instant every epoch is wrapped to T1" "0" \
    "$(q "SELECT count(*) FROM coffer.epochs WHERE wrapped_to <> decode('$T1', 'hex')")"

T2=$(q "SELECT encode(public_key, 'hex') FROM coffer.tenant_keys")
check "tenant_keys holds a new key T2" test "$T2" != "$T1"
check_eq "generation 2: kind rotate, wraps_from, same K and N, seats copied" \
    "rotate|$FROM_S|2|3|3" \
    "$(q "SELECT g.kind, extract(epoch FROM g.wraps_from)::bigint, g.threshold_k, g.custodians_n,
          (SELECT count(*) FROM coffer.custodian_seats s WHERE s.generation = 2)
          FROM coffer.tenant_key_generations g WHERE g.generation = 2")"
check_eq "tenant.rotate audited (generation, instant, both fingerprints)" "1|2|$FROM|t" \
    "$(q "SELECT count(*), max(detail->>'generation'), max(detail->>'wraps_from'),
          bool_and(detail->>'old_fingerprint' <> detail->>'fingerprint')
          FROM coffer.audit_events WHERE action = 'tenant.rotate'")"
for i in 1 2 3; do
	"$CTL" share check "$D/rot/acme-custodian-$i.share" \
	    --passphrase-file "$TD/pass$i" >"$T/sc.out" 2>&1
	check "share check: custodian $i's new share is index $i, generation 2 (current)" \
	    grep -q "^share $i of 3 (threshold 2) for tenant .*generation 2 (current)" "$T/sc.out"
done

# after the instant: every new epoch is wrapped to T2, none to T1
while [ "$(date -u +%s)" -le "$FROM_S" ]; do sleep 0.5; done
for i in 1 2 3 4; do
	[ "$(post)" = 200 ] || die "record after the instant not stored: $(cat "$D/post.out")"
done
check "epochs wrapped to T2 exist" test \
    "$(q "SELECT count(*) FROM coffer.epochs WHERE wrapped_to = decode('$T2', 'hex')")" -ge 1
check_eq "no epoch created after the instant is wrapped to T1" "0" \
    "$(q "SELECT count(*) FROM coffer.epochs e, coffer.tenant_key_generations g
          WHERE g.generation = 2 AND e.created_at >= g.wraps_from
          AND e.wrapped_to IS DISTINCT FROM decode('$T2', 'hex')")"
check_eq "every record received after the instant is in a T2 epoch" "0" \
    "$(q "SELECT count(*) FROM coffer.records r JOIN coffer.epochs e USING (tenant_id, epoch_id),
          coffer.tenant_key_generations g WHERE g.generation = 2
          AND r.received_at >= g.wraps_from AND e.wrapped_to <> decode('$T2', 'hex')")"
check "the gateway logged the switch" \
    grep -q "tenant acme: key rotation: new epochs are wrapped to the new key (generation 2)" "$GWF_LOG"
check "the gateway logged the announcement" \
    grep -q "tenant acme: pin of generation 2 announces a new key" "$GWF_LOG"

# verify, with both pins installed
check "verify --keys-dir --nodes: clean after the rotation" verify
mv "$GWF_KEYS/acme.g1.pin" "$D/acme.g1.pin.off"
verify >"$T/v.out" 2>&1
check_eq "verify without the previous key's pin: exit 1" "1" "$?"
check "verify without the previous key's pin: names it" \
    grep -qF "verify: TAMPERED: tenant acme: no pin of generation 1 ($GWF_KEYS/acme.pin is another generation" "$T/v.out"
mv "$D/acme.g1.pin.off" "$GWF_KEYS/acme.g1.pin"
check "verify: clean again with it" verify

# refusals after the rotation
check_fails "a pin of another generation: refused" 1 \
    "cofferctl: --pin $D/rot/acme.g1.pin is generation 1, the tenant's current key is generation 2: give the current pin" \
    rotate "$D/r1" "$FUT" "$D/rot/acme.g1.pin"
check_fails "files of the current key in --out: refused, nothing overwritten" 1 \
    "cofferctl: $D/rot/acme.pin exists (files of the current key are kept): choose another --out" \
    rotate "$D/rot" "$FUT" "$GWF_KEYS/acme.pin"

finish
