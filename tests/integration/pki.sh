#!/bin/sh
# cofferctl device / pki / user certificates against the real database,
# checked with the openssl command-line tool the way a relying party would.
# Runs inside tests/pg-harness.sh (PG* environment, $BUILD).  Tenants are
# created with psql directly so this does not depend on `tenant init`.
set -u
CTL="${BUILD:-build}/cofferctl"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM
export COFFER_PKI="$T/pki"
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"
. "$(dirname "$0")/../lib/check.sh"
# expect_fail NAME EXIT-STATUS EXPECTED-STDERR-SUBSTRING CMD...
expect_fail() { check_fails "$@"; }
# run NAME CMD...: must succeed; stdout in $T/out
run() {
	name=$1; shift
	if "$@" >"$T/out" 2>"$T/err"; then ok "$name"
	else bad "$name (exit $?)"; sed 's/^/     /' "$T/err" "$T/out"; fi
}
# verify CA-DIR CERT [PURPOSE]: openssl verify with the CA's CRL
verify() {
	openssl verify -CAfile "$1/ca.pem" -crl_check -CRLfile "$1/crl.pem" \
	    -purpose "${3:-sslclient}" "$2" >"$T/v" 2>&1
}
verify_fails_with() {   # NAME WANT CA-DIR CERT [PURPOSE]
	name=$1 want=$2; shift 2
	if verify "$@"; then bad "$name: verified"; return; fi
	if grep -qF -- "$want" "$T/v"; then ok "$name"
	else bad "$name: openssl said:"; sed 's/^/     /' "$T/v"; fi
}
fpr_of() {   # lower-case hex SHA-256 of the DER, no colons
	openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' |
	    tr 'A-F' 'a-f'
}
serial_of() {
	openssl x509 -in "$1" -noout -serial | sed 's/.*=//' | tr 'A-F' 'a-f'
}
mode_of() { stat -c %a "$1" 2>/dev/null; }
db() { $PSQL -c "$1"; }

db "INSERT INTO coffer.tenants (tenant_id, name, threshold_k, custodians_n)
    VALUES (gen_random_uuid(), 'pki-acme', 2, 3),
           (gen_random_uuid(), 'pki-globex', 1, 1)
    ON CONFLICT (name) DO NOTHING" || { echo "cannot create tenants"; exit 1; }
ACME="$COFFER_PKI/devices/pki-acme"
GLOBEX="$COFFER_PKI/devices/pki-globex"
OUT="$T/certs"

# -- device ca-init -------------------------------------------------------------
expect_fail "ca-init: unknown tenant" 1 "unknown tenant pki-nope" \
    "$CTL" device ca-init --tenant pki-nope
expect_fail "ca-init: bad tenant name" 1 "invalid tenant name 'a b': character ' ' is not allowed" \
    "$CTL" device ca-init --tenant 'a b'
expect_fail "ca-init: tenant name with a path" 1 "invalid tenant name '../x': character '/' is not allowed" \
    "$CTL" device ca-init --tenant '../x'
check "nothing created for refused tenants" test ! -e "$COFFER_PKI/devices"
expect_fail "ca-init: no --tenant is a usage error" 2 "--tenant is required" \
    "$CTL" device ca-init
run "ca-init pki-acme" "$CTL" device ca-init --tenant pki-acme
check "ca.pem, crl.pem, index present" test -f "$ACME/ca.pem" -a -f "$ACME/crl.pem" -a -f "$ACME/index"
check "ca.key is 0600" test "$(mode_of "$ACME/ca.key")" = 600
check "CA subject O = tenant" sh -c "openssl x509 -in '$ACME/ca.pem' -noout -subject | grep -q 'O = pki-acme'"
check "CA has CA:TRUE and keyCertSign" sh -c "openssl x509 -in '$ACME/ca.pem' -noout -text | grep -q 'CA:TRUE' && openssl x509 -in '$ACME/ca.pem' -noout -text | grep -q 'Certificate Sign, CRL Sign'"
check "empty CRL verifies against the CA" sh -c "openssl crl -in '$ACME/crl.pem' -CAfile '$ACME/ca.pem' -noout 2>&1 | grep -q 'verify OK'"
nu=$(openssl crl -in "$ACME/crl.pem" -noout -nextupdate | sed 's/nextUpdate=//')
d=$(( ($(date -u -d "$nu" +%s) - $(date -u +%s)) / 86400 ))
check "CRL nextUpdate is 30 days out ($d)" test "$d" -ge 29 -a "$d" -le 30
before=$(sha256sum "$ACME/ca.pem" "$ACME/ca.key")
expect_fail "double ca-init refused" 1 "already initialised" \
    "$CTL" device ca-init --tenant pki-acme
check "double ca-init left the CA untouched" test "$before" = "$(sha256sum "$ACME/ca.pem" "$ACME/ca.key")"

# -- device issue ------------------------------------------------------------------
run "issue phone-1" "$CTL" device issue --tenant pki-acme --device phone-1 --out "$OUT"
check "issue prints serial and fingerprint" grep -Eq '^device phone-1 tenant pki-acme issued serial [0-9a-f]{32} fingerprint [0-9a-f]{64}$' "$T/out"
check "no key material printed" sh -c "! grep -q 'PRIVATE' '$T/out' '$T/err'"
check "phone-1.key is 0600" test "$(mode_of "$OUT/phone-1.key")" = 600
if verify "$ACME" "$OUT/phone-1.crt"; then ok "openssl verify -crl_check: phone-1 OK"; else bad "verify phone-1"; cat "$T/v"; fi
check "phone-1 subject O = pki-acme, CN = phone-1" sh -c "openssl x509 -in '$OUT/phone-1.crt' -noout -subject | grep -q 'O = pki-acme, CN = phone-1'"
txt=$(openssl x509 -in "$OUT/phone-1.crt" -noout -text)
check "phone-1 EKU clientAuth" sh -c "echo '$txt' | grep -q 'TLS Web Client Authentication'"
check "phone-1 KU digitalSignature (critical)" sh -c "echo '$txt' | grep -A1 'Key Usage: critical' | grep -q 'Digital Signature'"
check "phone-1 is P-256" sh -c "echo '$txt' | grep -q 'prime256v1'"
check "phone-1 key matches the certificate" test "$(openssl x509 -in "$OUT/phone-1.crt" -noout -pubkey)" = "$(openssl pkey -in "$OUT/phone-1.key" -pubout)"
days=$(( ($(date -u -d "$(openssl x509 -in "$OUT/phone-1.crt" -noout -enddate | sed 's/notAfter=//')" +%s) - $(date -u +%s)) / 86400 ))
check "default validity 365 days ($days)" test "$days" -ge 364 -a "$days" -le 365
row=$(db "SELECT status || ' ' || cert_serial || ' ' || cert_fingerprint FROM coffer.devices d JOIN coffer.tenants t USING (tenant_id) WHERE t.name = 'pki-acme' AND device_id = 'phone-1'")
check "registered active with serial and fingerprint" test "$row" = "active $(serial_of "$OUT/phone-1.crt") $(fpr_of "$OUT/phone-1.crt")"

run "issue phone-2 --days 30" "$CTL" device issue --tenant pki-acme --device phone-2 --out "$OUT" --days 30
days=$(( ($(date -u -d "$(openssl x509 -in "$OUT/phone-2.crt" -noout -enddate | sed 's/notAfter=//')" +%s) - $(date -u +%s)) / 86400 ))
check "--days 30 honoured ($days)" test "$days" -ge 29 -a "$days" -le 30

run "issue expired (explicit validity)" "$CTL" device issue --tenant pki-acme --device old-1 --out "$OUT" \
    --not-before 2020-01-01T00:00:00Z --not-after 2020-06-01
verify_fails_with "expired certificate refused" "certificate has expired" "$ACME" "$OUT/old-1.crt"
run "issue not yet valid" "$CTL" device issue --tenant pki-acme --device future-1 --out "$OUT" \
    --not-before "$(date -u -d '+2 days' +%Y-%m-%dT%H:%M:%SZ)" --not-after "$(date -u -d '+30 days' +%Y-%m-%d)"
verify_fails_with "not-yet-valid certificate refused" "certificate is not yet valid" "$ACME" "$OUT/future-1.crt"

expect_fail "device id with a space" 1 "invalid device id 'a b': character ' ' is not allowed (use A-Z a-z 0-9 . _ -)" \
    "$CTL" device issue --tenant pki-acme --device 'a b' --out "$OUT"
expect_fail "device id with a slash" 1 "invalid device id '../evil': character '/' is not allowed" \
    "$CTL" device issue --tenant pki-acme --device '../evil' --out "$OUT"
expect_fail "device id starting with a dot" 1 "invalid device id '.hidden': must not start with '.' or '-'" \
    "$CTL" device issue --tenant pki-acme --device .hidden --out "$OUT"
expect_fail "device id with DN syntax" 1 "invalid device id 'x,CN=admin': character ',' is not allowed" \
    "$CTL" device issue --tenant pki-acme --device 'x,CN=admin' --out "$OUT"
long=$(printf 'd%.0s' $(seq 1 65))
expect_fail "device id of 65 characters" 1 "longer than 64 characters" \
    "$CTL" device issue --tenant pki-acme --device "$long" --out "$OUT"
expect_fail "empty device id" 1 "invalid device id '': must be 1 to 64 characters" \
    "$CTL" device issue --tenant pki-acme --device '' --out "$OUT"
check "refused names left no files" sh -c "! ls '$OUT' | grep -qv -e '^phone-[12]\.' -e '^old-1\.' -e '^future-1\.'"
expect_fail "issue: unknown tenant" 1 "unknown tenant pki-nope" \
    "$CTL" device issue --tenant pki-nope --device d --out "$OUT"
expect_fail "issue: tenant without a device CA" 1 "no device CA for tenant pki-globex" \
    "$CTL" device issue --tenant pki-globex --device d --out "$OUT"
expect_fail "issue: missing --device is a usage error" 2 "issue needs --tenant, --device and --out" \
    "$CTL" device issue --tenant pki-acme --out "$OUT"
expect_fail "issue: --not-before alone" 2 "--not-before and --not-after go together" \
    "$CTL" device issue --tenant pki-acme --device d --out "$OUT" --not-before 2020-01-01
expect_fail "issue: --days above 825" 2 "--days must be 1 to 825" \
    "$CTL" device issue --tenant pki-acme --device d --out "$OUT" --days 900
expect_fail "issue: bad time" 2 "not an ISO 8601 UTC time" \
    "$CTL" device issue --tenant pki-acme --device d --out "$OUT" --not-before yesterday --not-after 2030-01-01
expect_fail "issue: explicit validity above 825 days" 1 "validity longer than 825 days" \
    "$CTL" device issue --tenant pki-acme --device d --out "$OUT" --not-before 2026-01-01 --not-after 2029-01-01
expect_fail "issue: unknown option" 2 "unknown option" \
    "$CTL" device issue --tenant pki-acme --device d --out "$OUT" --bogus
check "refused issues registered nothing" test "$(db "SELECT count(*) FROM coffer.devices WHERE device_id = 'd'")" = 0

# Re-issue: a new certificate; the row follows it.
cp "$OUT/phone-1.crt" "$T/phone-1.first.crt"
run "re-issue phone-1" "$CTL" device issue --tenant pki-acme --device phone-1 --out "$OUT"
check "re-issue says so" grep -q "re-issued" "$T/out"
check "re-issue made a new certificate" test "$(fpr_of "$OUT/phone-1.crt")" != "$(fpr_of "$T/phone-1.first.crt")"
fp=$(db "SELECT cert_fingerprint FROM coffer.devices WHERE device_id = 'phone-1'")
check "row carries the new fingerprint" test "$fp" = "$(fpr_of "$OUT/phone-1.crt")"
# ... and retires the previous one at once (no --overlap): kept as evidence,
# its window already over, the change audited in the same transaction
prev=$(db "SELECT prev_cert_serial || ' ' || prev_cert_fingerprint || ' ' || (prev_valid_until <= now()) FROM coffer.devices WHERE device_id = 'phone-1'")
check "previous certificate retired at once (serial, fingerprint, window over)" \
    test "$prev" = "$(serial_of "$T/phone-1.first.crt") $(fpr_of "$T/phone-1.first.crt") true"
check "re-issue says the previous certificate is retired" \
    grep -q "previous certificate $(fpr_of "$T/phone-1.first.crt") retired" "$T/out"
ev=$(db "SELECT role || ' ' || action || ' ' || target || ' ' || outcome || ' ' || (detail->>'overlap_s') || ' ' || (detail->>'previous_fingerprint') || ' ' || (detail->>'fingerprint') FROM coffer.audit_events e JOIN coffer.tenants t USING (tenant_id) WHERE t.name = 'pki-acme' AND action = 'device.reissue'")
check "re-issue audited (device.reissue, overlap 0, old and new fingerprints)" \
    test "$ev" = "operator device.reissue device:phone-1 ok 0 $(fpr_of "$T/phone-1.first.crt") $(fpr_of "$OUT/phone-1.crt")"
# an explicit overlap window: stored and audited
cp "$OUT/phone-1.crt" "$T/phone-1.second.crt"
run "re-issue phone-1 --overlap 600" "$CTL" device issue --tenant pki-acme --device phone-1 --out "$OUT" --overlap 600
w=$(db "SELECT prev_cert_fingerprint || ' ' || (prev_valid_until BETWEEN now() + interval '590 seconds' AND now() + interval '610 seconds') FROM coffer.devices WHERE device_id = 'phone-1'")
check "--overlap 600: the previous certificate's window ends in 600 s" \
    test "$w" = "$(fpr_of "$T/phone-1.second.crt") true"
check "--overlap 600: printed with its end" grep -q "previous certificate $(fpr_of "$T/phone-1.second.crt") accepted until .* (--overlap 600)" "$T/out"
ev=$(db "SELECT count(*) || ' ' || max(detail->>'overlap_s') FILTER (WHERE detail->>'previous_fingerprint' = '$(fpr_of "$T/phone-1.second.crt")') FROM coffer.audit_events WHERE action = 'device.reissue'")
check "--overlap 600 audited" test "$ev" = "2 600"
expect_fail "issue: --overlap negative" 2 "--overlap must be 0 to 2592000 seconds" \
    "$CTL" device issue --tenant pki-acme --device phone-1 --out "$OUT" --overlap -1
expect_fail "issue: --overlap above 30 days" 2 "--overlap must be 0 to 2592000 seconds" \
    "$CTL" device issue --tenant pki-acme --device phone-1 --out "$OUT" --overlap 2592001
expect_fail "issue: --overlap not a number" 2 "--overlap must be 0 to 2592000 seconds" \
    "$CTL" device issue --tenant pki-acme --device phone-1 --out "$OUT" --overlap 1h
expect_fail "issue: --overlap for a new device" 1 "--overlap applies to a re-issue" \
    "$CTL" device issue --tenant pki-acme --device d --out "$OUT" --overlap 60
expect_fail "revoke: --overlap is a usage error" 2 "revoke takes only --tenant and --device" \
    "$CTL" device revoke --tenant pki-acme --device phone-1 --overlap 60
check "refused --overlap issues registered nothing" test "$(db "SELECT count(*) FROM coffer.devices WHERE device_id = 'd'")" = 0

# -- device revoke ---------------------------------------------------------------
run "revoke phone-1" "$CTL" device revoke --tenant pki-acme --device phone-1
check "revoke reports all three certificates" grep -q "3 certificate(s) added" "$T/out"
check "revoke hints at SIGHUP" grep -q "SIGHUP" "$T/out"
verify_fails_with "revoked phone-1 (current) refused" "certificate revoked" "$ACME" "$OUT/phone-1.crt"
verify_fails_with "revoked phone-1 (first) refused" "certificate revoked" "$ACME" "$T/phone-1.first.crt"
if verify "$ACME" "$OUT/phone-2.crt"; then ok "phone-2 still verifies"; else bad "phone-2 broken by phone-1's revocation"; cat "$T/v"; fi
check "CRL lists 3 revoked serials" test "$(openssl crl -in "$ACME/crl.pem" -noout -text | grep -c 'Serial Number')" = 3
st=$(db "SELECT status || ' ' || (revoked_at IS NOT NULL) FROM coffer.devices WHERE device_id = 'phone-1'")
check "row revoked with revoked_at" test "$st" = "revoked true"
run "device list" "$CTL" device list --tenant pki-acme
check "list header" grep -q '^DEVICE .*STATUS .*SERIAL .*FINGERPRINT .*CREATED' "$T/out"
check "list shows phone-1 revoked" grep -Eq '^phone-1 +revoked ' "$T/out"
check "list shows phone-2 active" grep -Eq '^phone-2 +active +[0-9a-f]{32} +[0-9a-f]{64} +20[0-9-]+T' "$T/out"
check "list counts 4 devices" grep -q '^4 device(s)$' "$T/out"
expect_fail "revoked device is not re-issued" 1 "device phone-1 of tenant pki-acme is revoked" \
    "$CTL" device issue --tenant pki-acme --device phone-1 --out "$OUT"
expect_fail "revoke unknown device" 1 "unknown device ghost of tenant pki-acme" \
    "$CTL" device revoke --tenant pki-acme --device ghost
run "revoke again is harmless" "$CTL" device revoke --tenant pki-acme --device phone-1
check "second revoke says already revoked" grep -q "already revoked" "$T/out"
expect_fail "list: unknown tenant" 1 "unknown tenant pki-nope" "$CTL" device list --tenant pki-nope

# -- CRL refresh -----------------------------------------------------------------
n1=$(openssl crl -in "$ACME/crl.pem" -noout -crlnumber | sed 's/.*=//')
run "pki crl-refresh" "$CTL" pki crl-refresh --tenant pki-acme
n2=$(openssl crl -in "$ACME/crl.pem" -noout -crlnumber | sed 's/.*=//')
check "CRL number went up ($n1 -> $n2)" test "$((n2))" -gt "$((n1))"
verify_fails_with "still revoked after refresh" "certificate revoked" "$ACME" "$OUT/phone-1.crt"
expect_fail "crl-refresh: tenant without CA" 1 "not initialised" "$CTL" pki crl-refresh --tenant pki-globex
expect_fail "crl-refresh: needs a target" 2 "crl-refresh needs --tenant T or --people" "$CTL" pki crl-refresh

# -- tenants are separate CAs ------------------------------------------------------
run "ca-init pki-globex" "$CTL" device ca-init --tenant pki-globex
run "issue globex device" "$CTL" device issue --tenant pki-globex --device phone-1 --out "$T/globex"
verify_fails_with "globex device refused by acme's CA" "unable to get local issuer certificate" "$ACME" "$T/globex/phone-1.crt"
verify_fails_with "acme device refused by globex's CA" "unable to get local issuer certificate" "$GLOBEX" "$OUT/phone-2.crt"

# -- concurrent issuing: the CA lock keeps every serial in the index --------------------
before=$(grep -c '^V\|^R' "$GLOBEX/index")
for i in 1 2 3 4 5 6 7 8; do
	"$CTL" device issue --tenant pki-globex --device "par-$i" --out "$T/par" >"$T/par.$i.out" 2>&1 &
done
wait
after=$(grep -c '^V\|^R' "$GLOBEX/index")
check "8 parallel issues: 8 index entries ($before -> $after)" test "$after" -eq $((before + 8))
check "8 parallel issues: 8 rows" test "$(db "SELECT count(*) FROM coffer.devices WHERE device_id LIKE 'par-%'")" = 8
ok_all=1
for i in 1 2 3 4 5 6 7 8; do verify "$GLOBEX" "$T/par/par-$i.crt" || ok_all=0; done
check "8 parallel issues: all verify" test "$ok_all" = 1

# -- server certificates -------------------------------------------------------------
run "pki server" "$CTL" pki server --name gw.test --dns gw.test --dns localhost --ip 127.0.0.1 --out "$T/srv"
if verify "$COFFER_PKI/server" "$T/srv/gw.test.crt" sslserver; then ok "server cert verifies for sslserver"; else bad "server verify"; cat "$T/v"; fi
check "server cert SAN" sh -c "openssl x509 -in '$T/srv/gw.test.crt' -noout -ext subjectAltName | grep -q 'DNS:gw.test, DNS:localhost, IP Address:127.0.0.1'"
check "server key 0600" test "$(mode_of "$T/srv/gw.test.key")" = 600
verify_fails_with "server cert is no client cert" "unsuitable certificate purpose" "$COFFER_PKI/server" "$T/srv/gw.test.crt" sslclient
verify_fails_with "device cert is no server cert" "unsuitable certificate purpose" "$ACME" "$OUT/phone-2.crt" sslserver
expect_fail "pki server: bad SAN" 1 "invalid DNS name 'a,DNS:evil'" \
    "$CTL" pki server --name gw2 --dns 'a,DNS:evil' --out "$T/srv"
expect_fail "pki server: bad IP" 1 "invalid IP address '1.2.3'" \
    "$CTL" pki server --name gw2 --ip 1.2.3 --out "$T/srv"

# -- people ----------------------------------------------------------------------------
PEOPLE="$COFFER_PKI/people"
run "user issue legal alice (people CA on first use)" "$CTL" user issue --role legal --tenant pki-acme --name alice --out "$T/people"
check "people CA created" test -f "$PEOPLE/ca.pem" -a "$(mode_of "$PEOPLE/ca.key")" = 600
if verify "$PEOPLE" "$T/people/alice.crt"; then ok "alice verifies"; else bad "alice verify"; cat "$T/v"; fi
check "alice subject O/OU/CN" sh -c "openssl x509 -in '$T/people/alice.crt' -noout -subject | grep -q 'O = pki-acme, OU = legal, CN = alice'"
row=$(db "SELECT role || ' ' || coalesce(custodian_index::text, '-') || ' ' || status || ' ' || cert_fingerprint FROM coffer.users WHERE name = 'alice'")
check "alice row (legal, no index, fingerprint)" test "$row" = "legal - active $(fpr_of "$T/people/alice.crt")"
run "custodian without index (holds no share yet: a re-share recipient)" "$CTL" user issue --role custodian --tenant pki-acme --name dora --out "$T/people"
row=$(db "SELECT role || ' ' || coalesce(custodian_index::text, '-') FROM coffer.users WHERE name = 'dora'")
check "dora row (custodian, no index)" test "$row" = "custodian -"
expect_fail "index for a non-custodian" 2 "--custodian-index is only for --role custodian" \
    "$CTL" user issue --role legal --tenant pki-acme --name bob --out "$T/people" --custodian-index 1
expect_fail "custodian index beyond n" 1 "custodian index 4 is out of range: tenant pki-acme has custodians 1..3" \
    "$CTL" user issue --role custodian --tenant pki-acme --name bob --out "$T/people" --custodian-index 4
expect_fail "unknown role" 2 "--role must be admin, legal, custodian or auditor" \
    "$CTL" user issue --role root --tenant pki-acme --name bob --out "$T/people"
expect_fail "bad user name" 1 "invalid user name 'bob smith'" \
    "$CTL" user issue --role admin --tenant pki-acme --name 'bob smith' --out "$T/people"
run "custodian bob index 1" "$CTL" user issue --role custodian --tenant pki-acme --name bob --out "$T/people" --custodian-index 1
check "bob OU = custodian" sh -c "openssl x509 -in '$T/people/bob.crt' -noout -subject | grep -q 'OU = custodian, CN = bob'"
expect_fail "index 1 taken" 1 "custodian index 1 of tenant pki-acme is held by active user bob" \
    "$CTL" user issue --role custodian --tenant pki-acme --name carol --out "$T/people" --custodian-index 1
expect_fail "role change needs revoke" 1 "user alice of tenant pki-acme is already active as legal" \
    "$CTL" user issue --role admin --tenant pki-acme --name alice --out "$T/people"
run "user revoke bob" "$CTL" user revoke --tenant pki-acme --name bob
verify_fails_with "revoked bob refused" "certificate revoked" "$PEOPLE" "$T/people/bob.crt"
if verify "$PEOPLE" "$T/people/alice.crt"; then ok "alice unaffected"; else bad "alice broken"; fi
run "carol takes index 1 after bob's revocation" "$CTL" user issue --role custodian --tenant pki-acme --name carol --out "$T/people" --custodian-index 1
run "same name in another tenant" "$CTL" user issue --role auditor --tenant pki-globex --name alice --out "$T/people-globex"
run "user list" "$CTL" user list --tenant pki-acme
check "user list shows bob revoked" grep -Eq '^bob +custodian +1 +revoked ' "$T/out"
check "user list shows carol active" grep -Eq '^carol +custodian +1 +active ' "$T/out"
check "user list is per tenant" sh -c "! grep -q auditor '$T/out'"
expect_fail "revoke unknown user" 1 "unknown user nobody of tenant pki-acme" \
    "$CTL" user revoke --tenant pki-acme --name nobody
run "people crl-refresh" "$CTL" pki crl-refresh --people
expect_fail "people-ca-init twice" 1 "already initialised" "$CTL" pki people-ca-init

# -- nothing secret on any output ------------------------------------------------------
check "no PEM key in any output" sh -c "! grep -rq 'PRIVATE KEY' '$T/out' '$T/err'"

finish
