#!/bin/sh
# tests/integration/cert_matrix.sh — a generated matrix of device
# certificates against the real coffer-gateway (issue 8, "Certificates").
#
# Real gateway, real database, curl as the device.  Certificates come from
# cofferctl where it makes them (valid, expired, not yet valid, revoked) and
# from the openssl CLI (tests/lib/certgen.sh) for everything cofferctl
# refuses to make.  Every openssl-made certificate names a *registered*
# device (CN=a-phone of tenant A), so the defect is the only thing that can
# refuse it; the ones meant to pass (and the CA:TRUE leaf, whose only defect
# must be that) name devices of their own whose registered fingerprint is
# set to theirs, as `device issue` would have.  The client runs at OpenSSL
# security level 0, so a weak key or a SHA-1 signature reaches the gateway
# instead of being refused locally.
#
# Only the valid, registered certificates are accepted (cofferctl's, an
# openssl-made ECDSA one, an RSA-2048 one, and one sent with the CA in its
# chain).
# Refused, each with nothing stored and a log line "handshake refused: ...
# reason=R fingerprint=F" (R a stable name, F the certificate's SHA-256):
#   expired, not_yet_valid, unknown_ca (another CA with the same name),
#   self_signed, invalid_ca (issued by an "intermediate" without
#   basicConstraints, or with CA:FALSE), chain_too_long (a CA:TRUE intermediate, and
#   two: devices are issued by the tenant CA directly, verify depth 0),
#   bad_key_usage (EKU serverAuth only; no EKU; KU keyEncipherment only:
#   the detail names the missing usage), weak_key (RSA-1024), weak_signature
#   (SHA-1), tenant_ca_mismatch (O = tenant B under A's CA), revoked
#   (cofferctl device revoke + SIGHUP); bad_key_usage also for a CA:TRUE
#   leaf whose keyUsage is digitalSignature only (detail "a CA certificate
#   as a leaf"; X509_check_ca() alone calls it no CA).
# Identities are keys, not names (issue 12): unregistered_key for a second
#   certificate of a registered device (same tenant CA, same CN, another
#   key), and for a device's previous certificate once `device issue` has
#   re-issued it (the new one is accepted, the old one refused); with
#   `device issue --overlap 20` the old one is accepted for those 20 s (by
#   the gateway's monotonic clock, no refresh needed), then refused with
#   the detail "overlap ended".
# CRL problems fail closed, for every device of that tenant and only that
# tenant: crl.pem removed (SIGHUP, and a restart: the gateway starts, serves
# tenant B, refuses A) -> crl_unavailable; a CRL past nextUpdate ->
# crl_expired; a CRL signed by another key under the CA's name ->
# crl_unavailable ("not signed by the tenant CA").  crl-refresh + SIGHUP
# restores service.
# Tenant A's device against tenant B's data: a "tenant" (or "device") field
# in the body is rejected, ?tenant= and X-Coffer-Tenant are ignored (the
# record lands in A), and there is no read route (GET is 405/404, with no
# record content in the answer).
#
# Prints the matrix (case | expected | got | reason logged), reports each
# row as a figure (tests/lib/figures.sh: cert_matrix), then "N passed, M
# failed"; exits non-zero on any failure.  Runs inside tests/pg-harness.sh.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/gateway-fixture.sh
. "$HERE/../lib/gateway-fixture.sh"
# shellcheck source=../lib/certgen.sh
. "$HERE/../lib/certgen.sh"
# shellcheck source=../lib/figures.sh
. "$HERE/../lib/figures.sh"

PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"
# shellcheck source=../lib/check.sh
. "$HERE/../lib/check.sh"
show_matrix() {   # finish: the matrix, and the gateway log's end on failure
	if [ -n "${MATRIX:-}" ] && [ -s "$MATRIX" ]; then
		echo
		awk -F'\t' '{ printf "%-44s | %-36s | %-36s | %s\n", $1, $2, $3, $4 }' "$MATRIX"
		echo
	fi
	if [ "$fail" -gt 0 ] && [ -n "${GWF_LOG:-}" ] && [ -f "$GWF_LOG" ]; then
		echo "--- last lines of the gateway log:"
		tail -25 "$GWF_LOG" | sed 's/^/     /'
	fi
}
CK_FINISH_HOOK=show_matrix

command -v openssl >/dev/null || { echo "cert_matrix: openssl missing"; exit 1; }
command -v python3 >/dev/null || { echo "cert_matrix: python3 missing"; exit 1; }

gwf_init || die "fixture init"
TA=cm-alpha
TB=cm-bravo
T="$GWF_DIR/t"
mkdir -p "$T" && chmod 0700 "$T"
MATRIX="$T/matrix"
printf 'case\texpected\tgot\treason logged\n' >"$MATRIX"
cg_init "$GWF_DIR/cg" || die "certgen init"
X=$CG_DIR

# -- PKI, tenants, devices (cofferctl) ---------------------------------------------
gwf_server_cert || die "server certificate"
gwf_tenant "$TA" || die "tenant $TA"
gwf_tenant "$TB" || die "tenant $TB"
gwf_device "$TA" a-phone && gwf_device "$TB" b-phone && gwf_device "$TA" a-lost &&
    gwf_device "$TA" a-old --not-before 2020-01-01T00:00:00Z \
    --not-after 2020-02-01T00:00:00Z &&
    gwf_device "$TA" a-early --not-before 2035-01-01T00:00:00Z \
    --not-after 2035-06-01T00:00:00Z &&
    gwf_node cm-node || die "devices and node (cofferctl)"
# the longest device name cofferctl allows (64), registered
LONGDEV="d-$(printf '%062d' 0)"
gwf_device "$TA" "$LONGDEV" || die "device $LONGDEV"
# devices whose registered certificate is replaced below by an openssl-made
# one (a-ec, a-rsa, a-cads), and one re-issued during the run (a-reissue)
for d in a-ec a-rsa a-cads a-reissue a-overlap; do gwf_device "$TA" "$d" || die "device $d"; done
ok "tenants $TA and $TB, devices a-phone, b-phone, a-lost, a-old (expired), a-early (not yet valid), a-ec, a-rsa, a-cads, a-reissue, a-overlap"

ADIR="$COFFER_PKI/devices/$TA"
ACA="$ADIR/ca.pem"
AKEY="$ADIR/ca.key"
A_DN=$(openssl x509 -in "$ACA" -noout -subject -nameopt compat | sed 's/^subject=//')
DEV="/O=$TA/CN=a-phone"

# -- the openssl CLI certificates ------------------------------------------------------
{
	cg_cert ok-ec "/O=$TA/CN=a-ec" "$ACA" "$AKEY" client &&
	cg_key ok-rsa rsa2048 && cg_cert ok-rsa "/O=$TA/CN=a-rsa" "$ACA" "$AKEY" client &&
	# a registered device's name under its own tenant CA, another key
	cg_cert second "$DEV" "$ACA" "$AKEY" client &&
	# CA:TRUE, KU digitalSignature only, EKU clientAuth
	cg_cert ca-leaf "/O=$TA/CN=a-cads" "$ACA" "$AKEY" cads &&
	cat "$X/ok-ec.crt" "$ACA" >"$X/ok-withca.crt" && cp "$X/ok-ec.key" "$X/ok-withca.key" &&
	# another CA under the very same name as A's
	cg_cert other-ca "$A_DN" self "" ca &&
	cg_cert unknown-ca "$DEV" "$X/other-ca.crt" "$X/other-ca.key" client &&
	cg_cert self-signed "$DEV" self "" client &&
	# an "intermediate" signed by A's CA but without CA:TRUE
	cg_cert int-noca "/O=$TA/CN=not a CA" "$ACA" "$AKEY" noca &&
	cg_cert leaf-noca "$DEV" "$X/int-noca.crt" "$X/int-noca.key" client &&
	cat "$X/leaf-noca.crt" "$X/int-noca.crt" >"$X/via-noca.crt" &&
	cp "$X/leaf-noca.key" "$X/via-noca.key" &&
	cg_cert int-cafalse "/O=$TA/CN=CA FALSE" "$ACA" "$AKEY" cafalse &&
	cg_cert leaf-cafalse "$DEV" "$X/int-cafalse.crt" "$X/int-cafalse.key" client &&
	cat "$X/leaf-cafalse.crt" "$X/int-cafalse.crt" >"$X/via-cafalse.crt" &&
	cp "$X/leaf-cafalse.key" "$X/via-cafalse.key" &&
	# proper CA:TRUE intermediates: one, then two
	cg_cert int1 "/O=$TA/CN=intermediate 1" "$ACA" "$AKEY" ca &&
	cg_cert int2 "/O=$TA/CN=intermediate 2" "$X/int1.crt" "$X/int1.key" ca &&
	cg_cert leaf-int1 "$DEV" "$X/int1.crt" "$X/int1.key" client &&
	cat "$X/leaf-int1.crt" "$X/int1.crt" >"$X/via-int1.crt" &&
	cp "$X/leaf-int1.key" "$X/via-int1.key" &&
	cg_cert leaf-int2 "$DEV" "$X/int2.crt" "$X/int2.key" client &&
	cat "$X/leaf-int2.crt" "$X/int2.crt" "$X/int1.crt" >"$X/via-int2.crt" &&
	cp "$X/leaf-int2.key" "$X/via-int2.key" &&
	cg_cert eku-server "$DEV" "$ACA" "$AKEY" server &&
	cg_cert eku-none "$DEV" "$ACA" "$AKEY" noeku &&
	cg_cert ku-enc "$DEV" "$ACA" "$AKEY" kuenc &&
	cg_key rsa1024 rsa1024 && cg_cert rsa1024 "$DEV" "$ACA" "$AKEY" client &&
	cg_cert sha1 "$DEV" "$ACA" "$AKEY" client -sha1 &&
	cg_cert crossed "/O=$TB/CN=b-phone" "$ACA" "$AKEY" client
} || die "openssl CLI certificates"
ok "openssl CLI certificates: valid, second key, CA:TRUE leaf, other CA, self-signed, intermediates, usages, weak key, SHA-1, O=tenant B"

# A CN the openssl CLI will not make (over 64 characters): the registered
# 64-character name plus 64 more must not be taken for that device (a
# truncated copy of the claim once passed as the identity).  The same tool
# with the exact name is the control.
LEAF="$BUILD/tests/tools/leafcert"
"$LEAF" "$ACA" "$AKEY" "$TA" "$LONGDEV" "$X/cn64.crt" "$X/cn64.key" &&
    "$LEAF" "$ACA" "$AKEY" "$TA" "$LONGDEV$(printf '%064d' 0)" "$X/cn128.crt" "$X/cn128.key" ||
    die "leafcert ($LEAF)"

# register CRT as DEVICE's certificate (what `device issue` records)
register() {
	$PSQL -c "UPDATE coffer.devices d SET cert_fingerprint = '$(cg_fpr "$2")' FROM coffer.tenants t WHERE t.tenant_id = d.tenant_id AND t.name = '$TA' AND d.device_id = '$1'" ||
	    return 1
}
register a-ec "$X/ok-ec.crt" && register a-rsa "$X/ok-rsa.crt" &&
    register a-cads "$X/ca-leaf.crt" && register "$LONGDEV" "$X/cn64.crt" ||
    die "registering the openssl-made certificates"
ok "a-ec, a-rsa, a-cads and the 64-character device registered with their openssl-made certificates"

gwf_config || die "gateway config"
gwf_start || die "gateway start"
ok "gateway started (pid $GWF_PID)"

db() { $PSQL -c "$1"; }
tenant_rows() {
	db "SELECT count(*) FROM coffer.records r JOIN coffer.tenants t USING (tenant_id) WHERE t.name = '$1'"
}
N=0
record() {   # one NDJSON record with a fresh id
	N=$((N + 1))
	printf '{"id":"cm-%s-%s"%s,"channel":"sms","conversation":"c1","direction":"in","sender":"+15550000001","recipients":["+15550000002"],"sent_at":"2026-11-22T10:00:00Z","body":"matrix probe"}\n' \
	    "$$" "$N" "${1:-}"
}
statuses() {
	python3 -c 'import json,sys
print(" ".join(json.loads(x).get("status", "?") + ":" + json.loads(x).get("error", "") for x in open(sys.argv[1]) if x.strip()))' "$T/resp" 2>/dev/null
}

# post CRT KEY [curl args]: POST one record; $CODE, the answer in $T/resp,
# the gateway log lines it caused in $T/newlog
post() {
	crt=$1 key=$2
	shift 2
	before=$(wc -l <"$GWF_LOG")
	record "" >"$T/body"
	CODE=$(OPENSSL_CONF="$CG_CLIENT_CNF" curl -sS -o "$T/resp" -w '%{http_code}' \
	    --cacert "$GWF_SRV_CA" --cert "$crt" --key "$key" \
	    -H 'Content-Type: application/x-ndjson' --data-binary "@$T/body" "$@" \
	    "$(gwf_url v1/records)" 2>"$T/curl.err")
	i=0
	while [ $i -lt 30 ]; do
		tail -n "+$((before + 1))" "$GWF_LOG" >"$T/newlog"
		grep -Eq 'handshake refused: |device connected: ' "$T/newlog" && break
		sleep 0.1
		i=$((i + 1))
	done
}
logged_reason() {   # reason=... of the refusal in $T/newlog, or "none"
	r=$(sed -n 's/.*handshake refused: .* reason=\([a-z_]*\) .*/\1/p' "$T/newlog" | head -1)
	echo "${r:-none}"
}
row() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$MATRIX"; fig cert_matrix "$1" "$3"; }

# accepted CASE CRT KEY
accepted() {
	name=$1 crt=$2 key=$3
	a0=$(tenant_rows "$TA")
	post "$crt" "$key"
	fp=$(cg_fpr "$crt")
	got="refused (reason=$(logged_reason))"
	[ "$CODE" = 200 ] && got="accepted (http $CODE, $(statuses | sed "s/:$//"))"
	check "$name: accepted and stored ($got)" test "$CODE:$(statuses)" = "200:stored:"
	check "$name: connection logged with fingerprint" \
	    grep -q "device connected: .*fingerprint=$fp" "$T/newlog"
	check "$name: one row more in $TA" test "$(tenant_rows "$TA")" = $((a0 + 1))
	row "$name" accepted "$got" "-"
}

# refused CASE CRT KEY REASON [DETAIL]: refused in the handshake, nothing
# stored, logged with the reason, the fingerprint and DETAIL
refused() {
	name=$1 crt=$2 key=$3 want=$4 detail=${5:-}
	a0=$(tenant_rows "$TA")
	b0=$(tenant_rows "$TB")
	post "$crt" "$key"
	fp=$(cg_fpr "$crt")
	r=$(logged_reason)
	if [ "$CODE" = 000 ]; then got="refused (reason=$r)"; else got="ANSWERED http $CODE"; fi
	check "$name: refused in the handshake (http $CODE)" test "$CODE" = 000
	check "$name: logged reason=$want fingerprint=${fp%"${fp#????????????}"}... (got $r)" \
	    grep -q "handshake refused: .*reason=$want fingerprint=$fp" "$T/newlog"
	if [ -n "$detail" ]; then
		check "$name: detail says \"$detail\"" grep -q "handshake refused: .*detail=\".*$detail" "$T/newlog"
	fi
	check "$name: nothing stored" test "$(tenant_rows "$TA"):$(tenant_rows "$TB")" = "$a0:$b0"
	logged=$(grep -o 'reason=[a-z_]* fingerprint=[0-9a-f]\{12\}' "$T/newlog" | head -1)
	row "$name" "refused (reason=$want)" "$got" "${logged:+$logged...}"
}

C="$GWF_CERTS"
# -- the matrix -----------------------------------------------------------------------------
accepted "valid (cofferctl device issue)" "$C/a-phone.crt" "$C/a-phone.key"
accepted "valid (openssl CLI, ECDSA P-256)" "$X/ok-ec.crt" "$X/ok-ec.key"
accepted "valid (openssl CLI, RSA-2048)" "$X/ok-rsa.crt" "$X/ok-rsa.key"
accepted "valid, tenant CA sent in the chain" "$X/ok-withca.crt" "$X/ok-withca.key"
refused "expired" "$C/a-old.crt" "$C/a-old.key" expired
refused "not yet valid" "$C/a-early.crt" "$C/a-early.key" not_yet_valid
refused "unknown CA (same name as $TA's CA)" "$X/unknown-ca.crt" "$X/unknown-ca.key" unknown_ca
refused "self-signed" "$X/self-signed.crt" "$X/self-signed.key" self_signed
refused "intermediate without basicConstraints" "$X/via-noca.crt" "$X/via-noca.key" \
    invalid_ca "not a CA"
refused "intermediate with CA:FALSE" "$X/via-cafalse.crt" "$X/via-cafalse.key" \
    invalid_ca "not a CA"
refused "chain too long (1 CA:TRUE intermediate)" "$X/via-int1.crt" "$X/via-int1.key" \
    chain_too_long "tenant CA directly"
refused "chain too long (2 intermediates)" "$X/via-int2.crt" "$X/via-int2.key" \
    chain_too_long "tenant CA directly"
refused "EKU serverAuth only" "$X/eku-server.crt" "$X/eku-server.key" bad_key_usage \
    "no extendedKeyUsage clientAuth"
refused "no EKU at all" "$X/eku-none.crt" "$X/eku-none.key" bad_key_usage \
    "no extendedKeyUsage clientAuth"
refused "KU keyEncipherment, no digitalSignature" "$X/ku-enc.crt" "$X/ku-enc.key" \
    bad_key_usage "no keyUsage digitalSignature"
refused "RSA-1024 key" "$X/rsa1024.crt" "$X/rsa1024.key" weak_key
refused "SHA-1 signature" "$X/sha1.crt" "$X/sha1.key" weak_signature
refused "tenant A's CA, O=tenant B" "$X/crossed.crt" "$X/crossed.key" tenant_ca_mismatch
refused "CA:TRUE leaf, KU digitalSignature only" "$X/ca-leaf.crt" "$X/ca-leaf.key" \
    bad_key_usage "a CA certificate as a leaf"
refused "second certificate of a-phone (same CA and CN, other key)" \
    "$X/second.crt" "$X/second.key" unregistered_key "not the certificate registered"
accepted "valid, CN of 64 characters (tests/tools/leafcert)" "$X/cn64.crt" "$X/cn64.key"
refused "CN of 128 characters (a registered name + 64 more)" "$X/cn128.crt" "$X/cn128.key" bad_subject

# -- tenant A's device against tenant B's data --------------------------------------
b0=$(tenant_rows "$TB")
a0=$(tenant_rows "$TA")
record ",\"tenant\":\"$TB\"" >"$T/b-body"
code=$(gwf_curl a-phone -o "$T/resp" -w '%{http_code}' --data-binary "@$T/b-body" \
    "$(gwf_url v1/records)")
check "A's device, body with \"tenant\":\"$TB\": line rejected ($code $(statuses))" \
    test "$code:$(statuses)" = "200:rejected:unknown field"
record ",\"device\":\"b-phone\"" >"$T/b-body"
code=$(gwf_curl a-phone -o "$T/resp" -w '%{http_code}' --data-binary "@$T/b-body" \
    "$(gwf_url v1/records)")
check "A's device, body with \"device\":\"b-phone\": line rejected ($code $(statuses))" \
    test "$code:$(statuses)" = "200:rejected:unknown field"
record "" >"$T/b-body"
code=$(gwf_curl a-phone -o "$T/resp" -w '%{http_code}' --data-binary "@$T/b-body" \
    -H "X-Coffer-Tenant: $TB" "$(gwf_url "v1/records?tenant=$TB")")
check "A's device, ?tenant=$TB and X-Coffer-Tenant: $TB: stored, in $TA ($code $(statuses))" \
    test "$code:$(statuses):$(tenant_rows "$TA")" = "200:stored::$((a0 + 1))"
check "tenant $TB received nothing from A's device" test "$(tenant_rows "$TB")" = "$b0"
reads=""
for p in "v1/records" "v1/records?tenant=$TB" "v1/records/1" "v1/search?q=x" \
    "v1/export" "v1/matters"; do
	code=$(gwf_curl a-phone -o "$T/resp" -w '%{http_code}' "$(gwf_url "$p")")
	case "$code" in 404|405) ;; *) reads="$reads $p:$code" ;; esac
	grep -q 'matrix probe\|receipt' "$T/resp" && reads="$reads $p:content"
done
check "A's device cannot read anything (GET: 404/405, no content)${reads:+:$reads}" test -z "$reads"
row "tenant A device writes tenant B data" "refused (tenant from the certificate)" \
    "$( [ "$(tenant_rows "$TB")" = "$b0" ] && echo "refused (0 rows in $TB; tenant field rejected)" || echo "STORED IN $TB")" \
    "line: unknown field"
row "tenant A device reads anything" "refused (no read route)" \
    "$( [ -z "$reads" ] && echo "refused (404/405)" || echo "ANSWERED:$reads")" "-"

# -- re-issue retires the previous certificate ------------------------------------------
# wait_registered DEVICE: the directory reloads after a SIGHUP (and after a
# refused key); wait until DEVICE's new certificate is the registered one
wait_registered() {
	i=0
	while [ $i -lt 50 ] && [ "$(gwf_curl "$1" -o /dev/null -w '%{http_code}' \
	    "$(gwf_url healthz)" 2>/dev/null)" != 200 ]; do
		sleep 0.2
		i=$((i + 1))
	done
}
cp "$C/a-reissue.crt" "$T/a-reissue-old.crt" && cp "$C/a-reissue.key" "$T/a-reissue-old.key" ||
    die "copy a-reissue's first certificate"
accepted "a-reissue, first certificate" "$T/a-reissue-old.crt" "$T/a-reissue-old.key"
if gwf_device "$TA" a-reissue && gwf_hup; then
	wait_registered a-reissue
	accepted "a-reissue, re-issued certificate" "$C/a-reissue.crt" "$C/a-reissue.key"
	refused "a-reissue, certificate replaced by the re-issue" \
	    "$T/a-reissue-old.crt" "$T/a-reissue-old.key" unregistered_key \
	    "not the certificate registered"
else
	bad "device issue a-reissue (re-issue) + SIGHUP"
fi
cp "$C/a-overlap.crt" "$T/a-overlap-old.crt" && cp "$C/a-overlap.key" "$T/a-overlap-old.key" ||
    die "copy a-overlap's first certificate"
if gwf_device "$TA" a-overlap --overlap 20 && gwf_hup; then
	t0=$(date +%s)
	wait_registered a-overlap
	accepted "a-overlap, re-issued with --overlap 20" "$C/a-overlap.crt" "$C/a-overlap.key"
	accepted "a-overlap, previous certificate inside its 20 s window" \
	    "$T/a-overlap-old.crt" "$T/a-overlap-old.key"
	check "the window was still open when the previous certificate passed" \
	    test $(($(date +%s) - t0)) -lt 19
	while [ $(($(date +%s) - t0)) -lt 22 ]; do sleep 1; done
	refused "a-overlap, previous certificate after its window" \
	    "$T/a-overlap-old.crt" "$T/a-overlap-old.key" unregistered_key "overlap ended"
	accepted "a-overlap, re-issued certificate after the window" \
	    "$C/a-overlap.crt" "$C/a-overlap.key"
else
	bad "device issue a-overlap --overlap 20 + SIGHUP"
fi

# -- revocation and CRLs (tenant A) ------------------------------------------------------
if gwf_run "device revoke a-lost" "$GWF_CTL" device revoke --tenant "$TA" --device a-lost &&
    gwf_hup; then
	refused "revoked by CRL (device revoke + SIGHUP)" "$C/a-lost.crt" "$C/a-lost.key" revoked
else
	bad "device revoke a-lost + SIGHUP"
fi

cp "$ADIR/crl.pem" "$T/crl.good"
rm -f "$ADIR/crl.pem"
gwf_hup || bad "SIGHUP (CRL removed)"
check "CRL removed: the reload says the tenant's devices are refused" \
    grep -q "tenant $TA: no CRL .*its devices are refused" "$GWF_LOG"
refused "CRL missing (removed + SIGHUP)" "$C/a-phone.crt" "$C/a-phone.key" \
    crl_unavailable "crl.pem missing"
check "CRL missing for $TA: $TB's device still served" \
    test "$(gwf_curl b-phone -o /dev/null -w '%{http_code}' "$(gwf_url healthz)")" = 200
# counters start again at 0 after the restart: keep this page
curl -s "http://127.0.0.1:$GWF_METRICS_PORT/metrics" >"$T/metrics1.txt"
gwf_stop TERM
if gwf_start b-phone; then
	ok "CRL missing: the gateway starts (and serves $TB)"
	refused "CRL missing (gateway restarted)" "$C/a-phone.crt" "$C/a-phone.key" \
	    crl_unavailable "crl.pem missing"
else
	bad "gateway restart with $TA's CRL missing"
	gwf_start b-phone 2>/dev/null
fi

cg_crl "$ACA" "$AKEY" "$ADIR/crl.pem" "$(cg_utc -2592000)" "$(cg_utc -86400)" ||
    bad "expired CRL"
gwf_hup || bad "SIGHUP (expired CRL)"
refused "CRL expired (nextUpdate yesterday)" "$C/a-phone.crt" "$C/a-phone.key" \
    crl_expired "past its nextUpdate"

cg_cert fake-ca "$A_DN" self "" ca &&
    cg_crl "$X/fake-ca.crt" "$X/fake-ca.key" "$ADIR/crl.pem" "$(cg_utc -60)" \
    "$(cg_utc 86400)" || bad "CRL signed by another key"
gwf_hup || bad "SIGHUP (forged CRL)"
check "forged CRL: ignored at load, logged" \
    grep -q "tenant $TA: .*a CRL not signed by this tenant's CA is ignored" "$GWF_LOG"
refused "CRL not signed by the tenant CA" "$C/a-phone.crt" "$C/a-phone.key" \
    crl_unavailable "not signed by the tenant CA"

if gwf_run "pki crl-refresh" "$GWF_CTL" pki crl-refresh --tenant "$TA" && gwf_hup; then
	accepted "valid again after crl-refresh + SIGHUP" "$C/a-phone.crt" "$C/a-phone.key"
	refused "revoked, still, after crl-refresh" "$C/a-lost.crt" "$C/a-lost.key" revoked
else
	bad "crl-refresh + SIGHUP"
fi

# -- metrics, log hygiene ------------------------------------------------------------------
curl -s "http://127.0.0.1:$GWF_METRICS_PORT/metrics" >"$T/metrics2.txt"
cat "$T/metrics1.txt" "$T/metrics2.txt" >"$T/metrics.txt"
missing=""
for r in expired not_yet_valid unknown_ca self_signed invalid_ca chain_too_long \
    bad_key_usage weak_key weak_signature tenant_ca_mismatch revoked \
    crl_unavailable crl_expired unregistered_key; do
	grep -Eq "^coffer_gateway_handshake_failures_total\{reason=\"$r\"\} [1-9]" \
	    "$T/metrics.txt" || missing="$missing $r"
done
check "metrics count every refusal by its reason${missing:+ (missing:$missing)}" test -z "$missing"
check "no refusal fell back to a generic reason (bad_certificate, tls_error)" \
    sh -c "! grep -Eq 'handshake refused: .*reason=(bad_certificate|tls_error) ' '$GWF_LOG'"
check "gateway log holds no private key and no record body" \
    sh -c "! grep -Eq 'PRIVATE KEY|matrix probe' '$GWF_LOG'"
gwf_stop TERM
check "SIGTERM: exit status 0 ($GWF_EXIT)" test "$GWF_EXIT" = 0

finish
