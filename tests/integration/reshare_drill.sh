#!/bin/sh
# tests/integration/reshare_drill.sh — the lost-share drill (issue 16), the
# README's "Replacing a custodian" procedure command by command: a 2-of-3
# tenant, custodian 2's share file is lost; custodians 1 and 3 re-share the
# key to {1, 3, 4} (custodian 4 new), still 2-of-3; a matter approved by
# custodians 1 and 4 with their new shares releases its records.
# Runs inside tests/pg-harness.sh.
set -u
ROOT=$(pwd)
. "$ROOT/tests/lib/gateway-fixture.sh"
. "$ROOT/tests/lib/api-fixture.sh"
GWF_NO_TRAP=1
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"
CK_NAME=reshare_drill
. "$ROOT/tests/lib/check.sh"
logs_tail() {
	[ -n "${APF_LOG:-}" ] && [ -f "$APF_LOG" ] && tail -15 "$APF_LOG" | sed 's/^/  api: /'
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
D=$GWF_DIR/drill
mkdir -p "$D" && chmod 0700 "$D"
T=dr
OLD=$GWF_DIR/tenants/$T
GWF_CUSTODIANS=3 GWF_THRESHOLD=2 gwf_simple "$T" phone-1 dr-node \
    "epoch_records = 4" || die "gateway start"
apf_user "$T" lisa legal && apf_keygen "$T" lisa &&
    apf_user "$T" adm1 admin && apf_user "$T" adm2 admin &&
    for i in 1 2 3; do apf_user "$T" "cus$i" custodian "$i" || exit 1; done &&
    apf_user "$T" cus4 custodian || die "people"
apf_config && apf_start || die "coffer-api start"
API="--api https://127.0.0.1:$APF_PORT --ca $GWF_SRV_CA"
# run WHO ARGS...: cofferctl as WHO (its certificate and TLS key), exit
# status in $rc, output in $D/out and $D/err
run() {
	run_who=$1
	shift
	# shellcheck disable=SC2086  # API: options, no blanks in test paths
	"$GWF_CTL" "$@" $API --cert "$APF_PEOPLE/$run_who.crt" \
	    ${RUN_TLS:-"--key"} "$APF_PEOPLE/$run_who.key" >"$D/out" 2>"$D/err" \
	    </dev/null
	rc=$?
	[ "$rc" = 0 ] || sed 's/^/     /' "$D/err"
}

python3 - >"$D/in.ndjson" <<'PY'
import json
for k in range(6):
    print(json.dumps({"id": "dr-%d" % k, "channel": "signal",
        "conversation": "conv-dr", "direction": "out",
        "sender": "+15550166001", "recipients": ["+15550166002"],
        "sent_at": "2026-04-01T09:00:%02dZ" % k, "body": "drill %d" % k}))
PY
code=$(gwf_curl phone-1 -o "$D/in.out" -w '%{http_code}' \
    -H 'Content-Type: application/x-ndjson' --data-binary "@$D/in.ndjson" \
    "$(gwf_url v1/records)" 2>/dev/null) || code=000
check_eq "6 records stored" "200 6" "$code $(grep -c '"stored"' "$D/in.out")"

# The loss.
rm -f "$OLD/out/$T-custodian-2.share"

# 1. Each recipient makes a key pair on its own machine; the lines go to
#    one recipients file, in the new index order.
for u in cus1 cus3 cus4; do
	printf 'key passphrase of %s\n' "$u" >"$D/$u.pass"
	printf 'share passphrase of %s\n' "$u" >"$D/$u.spass"
	chmod 0600 "$D/$u.pass" "$D/$u.spass"
	"$GWF_CTL" custodian keygen --name "$u" --out "$D/$u.key" \
	    --passphrase-file "$D/$u.pass" --recipients "$D/recipients" \
	    >"$D/out" 2>"$D/err"
	check_eq "custodian keygen $u" 0 "$?"
done
# 2. An admin proposes, a second admin (another person) approves.
run adm1 tenant reshare propose --threshold 2 --recipients "$D/recipients" \
    --reason "Custodian 2's share was lost: replace it with custodian 4"
check_eq "propose" 0 "$rc"
RS=$(awk '/^proposed re-share / { print $3 }' "$D/out" | tr -d :)
run adm2 tenant reshare approve --reshare "$RS"
check_eq "approve" 0 "$rc"
# 3. The remaining old custodians deal (K = 2 of them are enough).
for i in 1 3; do
	run "cus$i" tenant reshare deal --reshare "$RS" \
	    --share "$OLD/out/$T-custodian-$i.share" \
	    --passphrase-file "$OLD/pass$i" --recipients "$D/recipients" --yes
	check_eq "custodian $i deals" \
	    "0 dealt: custodian $i → 3 recipients (generation 1 → 2)" \
	    "$rc $(tail -1 "$D/out")"
done
# 4. Each recipient receives (the last report finalises); the first two
#    run again to write their shares.
for u in cus1 cus3 cus4 cus1 cus3; do
	RUN_TLS=--tls-key
	run "$u" tenant reshare receive --reshare "$RS" \
	    --key "$D/$u.key" --passphrase-file "$D/$u.pass" \
	    --pin "$GWF_KEYS/$T.pin" --out "$D/$u.share" \
	    --share-passphrase-file "$D/$u.spass"
	RUN_TLS=
	awk '$1 == "transcript" { print $2 }' "$D/out" >>"$D/transcripts"
	[ -e "$D/$u.share" ] && grep -q '^new share written' "$D/out" &&
	    ok "$u: $(tail -1 "$D/out")"
done
check "every recipient has its new share" test -e "$D/cus1.share" -a \
    -e "$D/cus3.share" -a -e "$D/cus4.share"
check_eq "one transcript for all" 1 "$(sort -u "$D/transcripts" | wc -l)"
# 5. The operator writes the new pin and installs it in the API's keys_dir.
mkdir -p "$D/pin"
run adm1 tenant reshare pin --reshare "$RS" --pin "$GWF_KEYS/$T.pin" \
    --out "$D/pin/$T.pin"
check_eq "reshare pin" 0 "$rc"
cp "$D/pin/$T.pin" "$GWF_KEYS/$T.pin" || die "install the pin"
[ "$(id -u)" -eq 0 ] && chgrp "$(id -gn nobody)" "$GWF_KEYS/$T.pin" &&
    chmod 0640 "$GWF_KEYS/$T.pin"
check_eq "generation 2, 2 of 3" "2|2|3" \
    "$(q "SELECT k.generation, t.threshold_k, t.custodians_n FROM coffer.tenant_keys k JOIN coffer.tenants t USING (tenant_id) WHERE t.name = '$T'")"

# A matter approved by custodians 1 and 4 (new indices 1 and 3).
printf '%s\n' '{"title":"Drill","legal_basis":"Drill DR-1",' \
    '"scope":{"participants":["+15550166001"],' \
    '"from":"2026-03-31T00:00:00Z","to":"2026-04-02T00:00:00Z"}}' >"$D/matter.json"
M=$(apf_matter lisa "$D/matter.json") || die "matter"
for u in cus1 cus4; do
	run "$u" approve --matter "$M" --share "$D/$u.share" \
	    --passphrase-file "$D/$u.spass" --yes
	check_eq "$u approves with its new share" 0 "$rc"
done
run lisa matter wait "$M" --timeout 120 --interval 1
check_eq "the production is ready" 0 "$rc"
RUN_TLS=--tls-key
run lisa matter download "$M" --out "$D/p.coffer" \
    --key "$APF_DIR/lisa.xkey" --open "$D/opened" \
    --passphrase-file "$APF_DIR/lisa.pass"
RUN_TLS=
check_eq "download --open" 0 "$rc"
check_eq "all 6 records released" "drill 0 drill 1 drill 2 drill 3 drill 4 drill 5 " \
    "$(grep -o 'drill [0-9]' "$D/opened/records.jsonl" 2>/dev/null | sort -u | tr '\n' ' ')"
finish
