#!/bin/sh
# tests/integration/reshare.sh — re-sharing a tenant key among new
# custodians with cofferctl alone (issue 16), through a real gateway, a
# real coffer-api and real crypto:
#
#   - a 2-of-3 tenant (custodians 1, 2, 3) with records ingested becomes
#     3-of-5: custodian 3 and four new custodian accounts are the
#     recipients (`custodian keygen --recipients FILE`); two admins
#     (two persons) propose and approve; custodians 1, 2 and 3 deal
#   - as the database owner, one byte of dealer 2's sealed sub-share to
#     recipient 2 is changed: that recipient reports dealer 2, the others
#     accept it, and the re-share completes with dealers 1 and 3
#   - every recipient prints the same transcript; T is unchanged, the
#     generation is 2, the API's matter shows threshold 3; `reshare pin`
#     recomputes the new generation against the old pin
#   - a matter made after the re-share: 2 approvals with new shares leave
#     it open, a 3rd releases exactly its records; the old shares are
#     refused (custodian 3's old share by cofferctl, naming its
#     generation; a retired custodian by the API: no_current_share)
#   - the commands' refusals with their exact texts: recipients file
#     mismatch, a share of the wrong generation, a key that is no
#     recipient, receive before the re-share is finalised (exit 3)
#   - no secret in the clear: t and every old and new share are in no file
#     of the test's directory (except the share files themselves) and not
#     in the running API's memory, during the re-share (dealt, not yet
#     finalised: t and the old shares) and after it (tests/tools/sharescan
#     + tests/tools/memscan)
# Runs inside tests/pg-harness.sh.
set -u
ROOT=$(pwd)
. "$ROOT/tests/lib/gateway-fixture.sh"
. "$ROOT/tests/lib/api-fixture.sh"
GWF_NO_TRAP=1
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"
CK_NAME=reshare
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
D=$GWF_DIR/rs
K=$D/keys
mkdir -p "$D" "$K" && chmod 0700 "$D" "$K"
T=rs
OLD=$GWF_DIR/tenants/$T
GWF_CUSTODIANS=3 GWF_THRESHOLD=2 gwf_simple "$T" phone-1 rs-node \
    "epoch_records = 4" || die "gateway start"
apf_user "$T" lisa legal && apf_keygen "$T" lisa &&
    apf_user "$T" adm1 admin && apf_user "$T" adm2 admin &&
    for i in 1 2 3; do apf_user "$T" "cus$i" custodian "$i" || exit 1; done &&
    for i in 4 5 6 7; do apf_user "$T" "cus$i" custodian || exit 1; done ||
    die "people"
apf_config && apf_start || die "coffer-api start"

# as WHO ARGS...: cofferctl as person WHO; stdout $D/out, stderr $D/err,
# exit status $rc.
as() {
	as_who=$1
	shift
	COFFER_API_URL="https://127.0.0.1:$APF_PORT" COFFER_CA="$GWF_SRV_CA" \
	    COFFER_CERT="$APF_PEOPLE/$as_who.crt" \
	    COFFER_KEY="$APF_PEOPLE/$as_who.key" \
	    "$GWF_CTL" "$@" >"$D/out" 2>"$D/err" </dev/null
	rc=$?
}
# err_is NAME RC TEXT: exit status RC and TEXT (exact) a line of stderr
err_is() {
	if [ "$rc" = "$2" ] && grep -qxF -- "$3" "$D/err"; then
		ok "$1"
	else
		bad "$1: exit $rc, stderr:"
		sed 's/^/     /' "$D/err" "$D/out"
	fi
}
out_has() {
	oh_n=$1
	shift
	if grep -q "$@" "$D/out"; then ok "$oh_n"; else
		bad "$oh_n: stdout (exit $rc):"
		sed 's/^/     /' "$D/out" "$D/err"
	fi
}
ok_rc() {
	if [ "$rc" = 0 ]; then ok "$1"; else
		bad "$1: exit $rc:"
		sed 's/^/     /' "$D/out" "$D/err"
	fi
}

# -- records -------------------------------------------------------------------
python3 - >"$D/in.ndjson" <<'PY'
import json
for k in range(12):
    print(json.dumps({"id": "rs-%d" % k, "channel": "signal",
        "conversation": "conv-rs", "direction": "out",
        "sender": "+15550177001" if k % 3 else "+15550177009",
        "recipients": ["+15550177002"],
        "sent_at": "2026-04-01T09:00:%02dZ" % k, "body": "reshare %d" % k}))
PY
code=$(gwf_curl phone-1 -o "$D/in.out" -w '%{http_code}' \
    -H 'Content-Type: application/x-ndjson' --data-binary "@$D/in.ndjson" \
    "$(gwf_url v1/records)" 2>/dev/null) || code=000
check_eq "12 records stored" "200 12" "$code $(grep -c '"stored"' "$D/in.out")"
T_DB=$(q "SELECT encode(public_key, 'hex') FROM coffer.tenant_keys k JOIN coffer.tenants t USING (tenant_id) WHERE t.name = '$T'")
check_eq "the pin holds the database's T" "$T_DB" \
    "$(awk '$1 == "public_key" { print $2 }' "$GWF_KEYS/$T.pin")"

# -- help ------------------------------------------------------------------------
for s in "custodian keygen" "tenant reshare"; do
	# shellcheck disable=SC2086  # "verb subcommand": two words
	"$GWF_CTL" $s --help >"$D/out" 2>&1
	check_eq "$s --help exits 0" 0 "$?"
done

# -- recipient keys ----------------------------------------------------------------
# Recipients in index order: cus3 (an old custodian stays), cus4..cus7.
for u in cus3 cus4 cus5 cus6 cus7 imp; do
	printf 'custodian key passphrase of %s\n' "$u" >"$K/$u.pass"
	printf 'new share passphrase of %s\n' "$u" >"$K/$u.spass"
	chmod 0600 "$K/$u.pass" "$K/$u.spass"
done
for u in cus3 cus4 cus5 cus6 cus7; do
	"$GWF_CTL" custodian keygen --name "$u" --out "$K/$u.key" \
	    --passphrase-file "$K/$u.pass" --recipients "$D/recipients" \
	    >"$D/out" 2>"$D/err"
	rc=$?
	out_has "custodian keygen $u prints its recipient line" \
	    -x "recipient $u [0-9a-f]\{64\}"
done
check_eq "the recipients file lists them in order" "cus3 cus4 cus5 cus6 cus7" \
    "$(awk '$1 == "recipient" { printf "%s%s", sep, $2; sep = " " }' "$D/recipients")"
check_eq "key files are 0600" 600 "$(stat -c %a "$K/cus4.key")"
"$GWF_CTL" custodian keygen --name cus4 --out "$K/cus4.key" \
    --passphrase-file "$K/cus4.pass" >"$D/out" 2>"$D/err"
rc=$?
err_is "keygen never overwrites a key file" 1 "cofferctl: custodian keygen: $K/cus4.key already exists; not overwriting a key file"
"$GWF_CTL" custodian keygen --name cus4 --out "$K/other.key" \
    --passphrase-file "$K/cus4.pass" --recipients "$D/recipients" \
    >"$D/out" 2>"$D/err"
rc=$?
err_is "a name already in the recipients file with another key" 1 "cofferctl: custodian keygen: $D/recipients: recipient cus4 is already listed with another key"
check "and no key file was written" test ! -e "$K/other.key"
# a key that is no recipient (for the refusals below)
"$GWF_CTL" custodian keygen --name imp --out "$K/imp.key" \
    --passphrase-file "$K/imp.pass" >"$D/imp.line" 2>"$D/err" ||
    die "keygen imp"

# -- propose, approve -----------------------------------------------------------------
as adm1 tenant reshare propose --threshold 6 --recipients "$D/recipients" \
    --reason "Replace custodians"
err_is "K' larger than the recipients" 1 "cofferctl: tenant reshare propose: $D/recipients lists 5 recipient(s): a 6-of-N re-share needs N >= 6 and N >= 2"
as adm1 tenant reshare propose --threshold 3 --recipients "$D/recipients" \
    --reason "Replace custodians 1 and 2; grow to 3 of 5"
ok_rc "adm1 proposes 3-of-5"
RS=$(awk '/^proposed re-share / { print $3 }' "$D/out" | tr -d :)
check "a re-share id" test -n "$RS"
out_has "show: state proposed" -x "  state:        proposed"
out_has "show: K -> K'" -x "  threshold:    2 -> 3"
out_has "show: N -> N'" -x "  custodians:   3 -> 5"
deal() {   # deal WHO INDEX [RECIPIENTS]
	as "$1" tenant reshare deal --reshare "$RS" \
	    --share "$OLD/out/$T-custodian-$2.share" \
	    --passphrase-file "$OLD/pass$2" --recipients "${3:-$D/recipients}" --yes
}
deal cus1 1
err_is "no dealing before a second admin approves" 1 "cofferctl: tenant reshare deal: re-share $RS is proposed, not dealing (a second admin approves it first)"
as adm1 tenant reshare approve --reshare "$RS"
check_eq "the proposer cannot approve" 1 "$rc"
as adm2 tenant reshare approve --reshare "$RS"
ok_rc "adm2 approves"
out_has "state dealing" -x "  state:        dealing"

# -- deal --------------------------------------------------------------------------------
# recipients file that differs from the plan: cus4's key replaced by imp's
awk -v k="$(awk '{ print $3 }' "$D/imp.line")" \
    '$2 == "cus4" { $3 = k } { print }' "$D/recipients" >"$D/recipients.bad"
deal cus1 1 "$D/recipients.bad"
err_is "deal: recipients file mismatch" 1 "cofferctl: tenant reshare deal: recipient #2: the plan's key for 'cus4' differs from $D/recipients.bad"
head -4 "$D/recipients" >"$D/recipients.short"
deal cus1 1 "$D/recipients.short"
err_is "deal: a recipient missing from the file" 1 "cofferctl: tenant reshare deal: recipient #5: the plan names 'cus7', $D/recipients.short has no recipient #5"
for i in 1 2 3; do
	deal "cus$i" "$i"
	check_eq "custodian $i deals" \
	    "0 dealt: custodian $i → 5 recipients (generation 1 → 2)" \
	    "$rc $(tail -1 "$D/out")"
done
deal cus1 1
err_is "a second dealing is refused" 1 "cofferctl: tenant reshare deal: custodian 1 has already dealt in re-share $RS"
check_eq "3 dealings stored" 3 "$(q "SELECT count(*) FROM coffer.reshare_dealings WHERE reshare_id = '$RS'")"

# the database owner changes one byte of dealer 2's sub-share to recipient 2
q "UPDATE coffer.reshare_dealings SET sealed[2] = set_byte(sealed[2], 60, get_byte(sealed[2], 60) # 1) WHERE reshare_id = '$RS' AND dealer_index = 2"

# -- receive ---------------------------------------------------------------------------
recv() {   # recv WHO [WAIT]
	as "$1" tenant reshare receive --reshare "$RS" --key "$K/$1.key" \
	    --passphrase-file "$K/$1.pass" --pin "$GWF_KEYS/$T.pin" \
	    --out "$K/$1.share" --share-passphrase-file "$K/$1.spass" \
	    --wait "${2:-0}"
	cat "$D/out" >>"$D/recv.$1.out"
}
as cus4 tenant reshare receive --reshare "$RS" --key "$K/imp.key" \
    --passphrase-file "$K/imp.pass" --pin "$GWF_KEYS/$T.pin" \
    --out "$K/imp.share" --share-passphrase-file "$K/imp.spass"
IMPID=$(grep -o 'key id [0-9a-f]*' "$D/err" | awk '{ print $3 }')
err_is "receive: a key that is no recipient" 1 "cofferctl: tenant reshare receive: the key in $K/imp.key (key id $IMPID) is not a recipient of re-share $RS"
recv cus3 0
err_is "receive before the re-share is finalised: exit 3" 3 "cofferctl: reported; the re-share is waiting for recipients 2, 3, 4, 5: run receive again"

# -- during the re-share: dealt, one report in, not finalised --------------------------------------
# t and the old shares (the secrets that exist at this point) are in no
# process of the API: it relays sealed sub-shares and points only.
if [ "$(id -u)" -eq 0 ] && [ -x "$GWF_BUILD/tests/tools/sharescan" ]; then
	"$GWF_BUILD/tests/tools/sharescan" \
	    "$OLD/out/$T-custodian-1.share" "$OLD/pass1" \
	    "$OLD/out/$T-custodian-2.share" "$OLD/pass2" \
	    "$OLD/out/$T-custodian-3.share" "$OLD/pass3" >"$D/secrets.during.pat" 2>"$D/err"
	check_eq "during: patterns for t and the 3 old shares" 4 "$(grep -c . "$D/secrets.during.pat")"
	for pid in "$APF_PID" $(ps -o pid= --ppid "$APF_PID"); do
		"$GWF_BUILD/tests/tools/memscan" --patterns "$D/secrets.during.pat" \
		    --pid "$pid" >"$D/during.$pid.out" 2>&1
		check_eq "during the re-share: no t or old share in the API's memory (pid $pid)" "0 0" \
		    "$(awk -F '\t' '$1 == "hits" { n += $3 } $1 == "regions" { r = $2 } END { print n + 0, (r > 0 ? 0 : 1) }' "$D/during.$pid.out")"
	done
else
	skip "API memory scan during the re-share needs root and tests/tools/sharescan"
fi
out_has "recipient 1 prints the transcript" "^transcript [0-9a-f]\{4\}-[0-9a-f]\{4\}-[0-9a-f]\{4\}-[0-9a-f]\{4\}: compare it with the other custodians$"
check "and writes no share yet" test ! -e "$K/cus3.share"
recv cus4 0
out_has "recipient 2 reports dealer 2" -x "dealer 2: sealed sub-share does not open with this recipient key"
check_eq "exit 3, waiting for the others" 3 "$rc"
for u in cus5 cus6; do
	recv "$u" 0
	check_eq "$u reports, exit 3" 3 "$rc"
done
recv cus7 0
ok_rc "the last recipient's report finalises: its share is written"
out_has "recipient 5's new share" -x "new share written: custodian 5 of 5 (threshold 3), generation 2"
i=1
for u in cus3 cus4 cus5 cus6; do
	recv "$u" 0
	out_has "$u combines its new share" -x "new share written: custodian $i of 5 (threshold 3), generation 2"
	i=$((i + 1))
done
check_eq "every recipient saw one transcript" 1 \
    "$(cat "$D"/recv.*.out | awk '$1 == "transcript" { print $2 }' | sort -u | wc -l)"
check_eq "new share files are 0600" 600 "$(stat -c %a "$K/cus5.share")"
recv cus5 0
err_is "receive never overwrites a share file" 1 "cofferctl: tenant reshare receive: $K/cus5.share already exists; not overwriting a share file"

as adm1 tenant reshare show --reshare "$RS"
out_has "show: finalized" -x "  state:        finalized"
out_has "show: generations" -x "  generations:  1 -> 2"
out_has "show: dealer 2 excluded" -x "  bad dealers:  2"
out_has "show: qualified 1, 3" -x "  qualified:    1, 3"
out_has "show: the transcript every recipient printed" -x \
    "  transcript:   $(awk '$1 == "transcript" { print $2 }' "$D/recv.cus3.out" | tr -d :)"
check_eq "the database: generation 2, 3 of 5, T unchanged" "2|3|5|$T_DB" \
    "$(q "SELECT k.generation, t.threshold_k, t.custodians_n, encode(k.public_key, 'hex') FROM coffer.tenant_keys k JOIN coffer.tenants t USING (tenant_id) WHERE t.name = '$T'")"
check_eq "seats: cus3 holds index 1, cus1 and cus2 none" "cus1:|cus2:|cus3:1|cus7:5" \
    "$(q "SELECT string_agg(name || ':' || coalesce(custodian_index::text, ''), '|' ORDER BY name) FROM coffer.users WHERE role = 'custodian' AND name IN ('cus1', 'cus2', 'cus3', 'cus7')")"
for u in cus4 cus5; do
	"$GWF_CTL" share check "$K/$u.share" --passphrase-file "$K/$u.spass" \
	    >"$D/out" 2>"$D/err"
	rc=$?
	out_has "share check: $u's new share verifies, generation 2" \
	    "OK, verifies against the commitments; generation 2 (current)"
done

# -- the new pin -------------------------------------------------------------------------
mkdir -p "$D/pin2"
as adm1 tenant reshare pin --reshare "$RS" --pin "$GWF_KEYS/$T.pin" \
    --out "$D/pin2/$T.pin"
ok_rc "reshare pin writes the new pin"
check_eq "new pin: same T, generation 2, 3 of 5" "$T_DB 2 3 5" \
    "$(awk '$1 == "public_key" || $1 == "generation" || $1 == "threshold" || $1 == "custodians" { v[$1] = $2 } END { print v["public_key"], v["generation"], v["threshold"], v["custodians"] }' "$D/pin2/$T.pin")"
check_eq "new pin: the database's public shares" \
    "$(q "SELECT string_agg(encode(s, 'hex'), ' ' ORDER BY o) FROM coffer.tenant_keys k JOIN coffer.tenants t USING (tenant_id), unnest(k.public_shares) WITH ORDINALITY AS u(s, o) WHERE t.name = '$T'")" \
    "$(awk '$1 == "public_share" { printf "%s%s", sep, $2; sep = " " }' "$D/pin2/$T.pin")"
as adm1 tenant reshare pin --reshare "$RS" --pin "$D/pin2/$T.pin" \
    --out "$D/pin3.pin"
err_is "pin against the new pin (generation 2) is refused" 1 "cofferctl: tenant reshare pin: $D/pin2/$T.pin is the pin of generation 2; re-share $RS deals generation 1"
cp "$GWF_KEYS/$T.pin" "$D/old.pin"
cp "$D/pin2/$T.pin" "$GWF_KEYS/$T.pin" || die "install the new pin"
[ "$(id -u)" -eq 0 ] && chgrp "$(id -gn nobody)" "$GWF_KEYS/$T.pin" &&
    chmod 0640 "$GWF_KEYS/$T.pin"

# -- a matter after the re-share ----------------------------------------------------------------
printf '%s\n' '{"title":"After re-share","legal_basis":"Subpoena RS-1",' \
    '"scope":{"participants":["+15550177001"],' \
    '"from":"2026-03-31T00:00:00Z","to":"2026-04-02T00:00:00Z"}}' >"$D/matter.json"
M=$(apf_matter lisa "$D/matter.json") || die "matter"
apf_call lisa GET "/v1/matters/$M"
check_eq "the matter's records" 8 "$(apf_get record_count)"
check_eq "the API's matter: threshold 3, tenant key generation 2" "3 2" \
    "$(apf_get threshold) $(apf_get tenant_key.generation)"
approve() {   # approve WHO SHARE PASSFILE
	as "$1" approve --matter "$M" --share "$2" --passphrase-file "$3" --yes
}
approve cus3 "$OLD/out/$T-custodian-3.share" "$OLD/pass3"
check_eq "custodian 3's old share is refused" 1 "$rc"
check "and the refusal names its generation" grep -q "cofferctl: approve: $OLD/out/$T-custodian-3.share is a share of generation 1; the tenant key was re-shared and is at generation 2: this share is retired (approve with your generation-2 share file)" "$D/err"
approve cus1 "$OLD/out/$T-custodian-1.share" "$OLD/pass1"
check_eq "a retired custodian's old share is refused" 1 "$rc"
printf '%s\n' '{"custodian_index":1,"generation":1,"partials":[]}' >"$D/retired.json"
apf_call cus1 POST "/v1/matters/$M/approvals" "$D/retired.json"
check_eq "the API: no_current_share for a retired custodian" \
    "403 no_current_share you hold no share of the current generation (2) of the tenant key: your share of generation 1 is retired" \
    "$APF_CODE $(apf_get error.code) $(apf_get error.message)"
approve cus4 "$K/cus4.share" "$K/cus4.spass"
ok_rc "new custodian 2 approves"
approve cus6 "$K/cus6.share" "$K/cus6.spass"
ok_rc "new custodian 4 approves"
sleep 1
check_eq "2 new approvals leave the matter open" open "$(apf_state "$M")"
approve cus7 "$K/cus7.share" "$K/cus7.spass"
check_eq "the 3rd prints the threshold line" \
    "threshold reached (3 of 5): the production is building; legal can run \`cofferctl matter wait $M\`" \
    "$(tail -1 "$D/out")"
as lisa matter wait "$M" --timeout 120 --interval 1
check_eq "the production is ready" 0 "$rc"
as lisa matter download "$M" --out "$D/p.coffer" --key "$APF_DIR/lisa.xkey" \
    --open "$D/opened" --passphrase-file "$APF_DIR/lisa.pass"
ok_rc "download --open"
check_eq "it releases exactly the matter's records" \
    "$(awk -F '"' '/"\+15550177001"/ { for (f = 1; f <= NF; f++) if ($f ~ /^reshare [0-9]+$/) print $f }' "$D/in.ndjson" | sort | tr '\n' ' ')" \
    "$(grep -o 'reshare [0-9][0-9]*' "$D/opened/records.jsonl" | sort -u | tr '\n' ' ')"

# -- a share of the wrong generation -----------------------------------------------------------
as adm1 tenant reshare propose --threshold 2 --recipients "$D/recipients" \
    --reason "Second re-share"
RS2=$(awk '/^proposed re-share / { print $3 }' "$D/out" | tr -d :)
as adm2 tenant reshare approve --reshare "$RS2"
ok_rc "a second re-share (from generation 2) is approved"
as cus3 tenant reshare deal --reshare "$RS2" \
    --share "$OLD/out/$T-custodian-3.share" --passphrase-file "$OLD/pass3" \
    --recipients "$D/recipients" --yes
err_is "deal with a share of generation 1" 1 "cofferctl: tenant reshare deal: this share file is of generation 1; the re-share deals generation 2"
as adm1 tenant reshare cancel --reshare "$RS2"
out_has "cancelled" -x "re-share $RS2 cancelled"
as adm1 tenant reshare list
out_has "list shows both" "^$RS  *finalized  *1->2 "
out_has "list: the cancelled one" "^$RS2  *cancelled "

# -- no secret in the clear -------------------------------------------------------------------------
SS="$GWF_BUILD/tests/tools/sharescan"
if [ -x "$SS" ]; then
	set --
	for i in 1 2 3; do
		set -- "$@" "$OLD/out/$T-custodian-$i.share" "$OLD/pass$i"
	done
	for u in cus3 cus4 cus5 cus6 cus7; do
		set -- "$@" "$K/$u.share" "$K/$u.spass"
	done
	"$SS" "$@" >"$D/secrets.raw" 2>"$D/err"
	check_eq "sharescan: both generations interpolate T" 0 "$?"
	# each secret also as the hex text a careless log or file would hold
	python3 -c '
import sys
for line in open(sys.argv[1]):
    c, h = line.rstrip("\n").split("\t")
    print(c + "\t" + h)
    print(c + " (hex text)\t" + h.encode().hex())' "$D/secrets.raw" >"$D/secrets.pat"
	check_eq "patterns: t (per generation) and 8 shares, as bytes and as hex" \
	    20 "$(grep -c . "$D/secrets.pat")"
	find "$GWF_DIR" -type f ! -name '*.share' ! -name 'secrets.*' \
	    >"$D/scan.list"
	# shellcheck disable=SC2046  # one path a word; no blanks in test paths
	"$GWF_BUILD/tests/tools/memscan" --patterns "$D/secrets.pat" \
	    --files $(cat "$D/scan.list") >"$D/scan.out" 2>&1
	check_eq "no t or share in any file of the test" 0 \
	    "$(awk -F '\t' '$1 == "hits" { n += $3 } END { print n + 0 }' "$D/scan.out")"
	if [ "$(id -u)" -eq 0 ]; then
		# the front and its keeper (and any other child)
		for pid in "$APF_PID" $(ps -o pid= --ppid "$APF_PID"); do
			"$GWF_BUILD/tests/tools/memscan" --patterns "$D/secrets.pat" \
			    --pid "$pid" >"$D/mem.$pid.out" 2>&1
			check_eq "none in the running API's memory (pid $pid)" "0 0" \
			    "$(awk -F '\t' '$1 == "hits" { n += $3 } $1 == "regions" { r = $2 } END { print n + 0, (r > 0 ? 0 : 1) }' "$D/mem.$pid.out")"
		done
	else
		skip "API memory scan needs root"
	fi
else
	bad "tests/tools/sharescan not built"
fi
finish
