#!/bin/sh
# tests/integration/matter_cli.sh — the legal and custodian workflow with
# cofferctl alone (issue 15): records through a real gateway, a real
# coffer-api, a 2-of-3 tenant.
#
#   - every new subcommand's --help exits 0; bad inputs give exact errors
#     (missing --title, bad time, malformed and unknown matter ids)
#   - participant forms in a scope: each one the ingest normaliser maps to
#     the same token finds the same records as its E.164 / @handle form, or
#     is refused with the exact message (national numbers before and after
#     `cofferctl tenant set-country`, which is audited; bare names); the
#     same rules for holds
#   - a scope matching 0 records: WARNING on stderr, exit 0; with
#     --fail-if-empty exit 1 and the matter closed again
#   - legal: matter create -> custodians: approvals pending, approve (the
#     prompt shows requester and participants as typed; the deciding one
#     prints the threshold line) -> legal: wait, download --open: the
#     opened records count equals the matter's record_count
#   - participant strings are in no audit event and not in the API's log;
#     the matter row forgets them when the matter leaves 'open'
# Runs inside tests/pg-harness.sh.
set -u
ROOT=$(pwd)
. "$ROOT/tests/lib/gateway-fixture.sh"
. "$ROOT/tests/lib/api-fixture.sh"
GWF_NO_TRAP=1
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"
CK_NAME=matter_cli
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
D=$GWF_DIR/mc
mkdir -p "$D" && chmod 0700 "$D"
GWF_CUSTODIANS=3 GWF_THRESHOLD=2 gwf_simple mc phone-1 mc-node \
    "epoch_records = 4" || die "gateway start"
apf_user mc lisa legal && apf_keygen mc lisa &&
    for i in 1 2 3; do apf_user mc "cus$i" custodian "$i" || exit 1; done ||
    die "people"
apf_config && apf_start || die "coffer-api start"

# as WHO ARGS...: cofferctl as person WHO; stdout in $D/out, stderr in
# $D/err, exit status in $rc.
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
		sed 's/^/     /' "$D/err"
	fi
}
# out_has NAME GREP-ARGS...: a check on $D/out that shows it when it fails
out_has() {
	oh_n=$1
	shift
	if grep -q "$@" "$D/out"; then ok "$oh_n"; else
		bad "$oh_n: stdout (exit $rc):"
		sed 's/^/     /' "$D/out" "$D/err"
	fi
}
field() { awk -v k="$1:" '$1 == k { print $2 }' "$D/out"; }

# -- records ------------------------------------------------------------------
# k even: from +15550100011; k % 3 == 0: to @kestrel_ops.  +15550100011: 5
# records; @kestrel_ops: 4; both (k = 0, 6): 2; either: 7.
python3 - >"$D/in.ndjson" <<'PY'
import json
for k in range(10):
    print(json.dumps({"id": "mc-%d" % k, "channel": "telegram",
        "conversation": "conv-mc-%d" % (k % 2), "direction": "out",
        "sender": "+15550100011" if k % 2 == 0 else "+15550100022",
        "recipients": ["@kestrel_ops"] if k % 3 == 0 else ["+15550100099"],
        "sent_at": "2026-04-01T09:00:%02dZ" % k, "body": "matter cli %d" % k}))
PY
code=$(gwf_curl phone-1 -o "$D/in.out" -w '%{http_code}' \
    -H 'Content-Type: application/x-ndjson' --data-binary "@$D/in.ndjson" \
    "$(gwf_url v1/records)" 2>/dev/null) || code=000
check_eq "10 records stored" "200 10" "$code $(grep -c '"stored"' "$D/in.out")"
FROM=2026-03-31T00:00:00Z
TO=2026-04-02T00:00:00Z

# -- help and bad inputs ------------------------------------------------------
for s in "matter create" "matter list" "matter show" "matter wait" \
    "matter download" "matter close" "approvals pending" \
    "tenant set-country"; do
	# shellcheck disable=SC2086  # "verb subcommand": two words
	"$GWF_CTL" $s --help >"$D/out" 2>&1
	check_eq "$s --help exits 0" 0 "$?"
done
as lisa matter create --basis B --from "$FROM" --to "$TO" --participant +15550100011
err_is "create without --title" 2 "cofferctl: matter create: --title is required"
as lisa matter create --title T --basis B --from 2026-04-01 --to "$TO" \
    --participant +15550100011
err_is "create with a bad time" 2 "cofferctl: matter create: --from must be an RFC 3339 date-time with an offset, e.g. 2026-01-31T00:00:00Z"
as lisa matter create --title T --basis B --from "$FROM" --to "$TO" \
    --participant +15550100011 --channel pigeon
err_is "create with an unknown channel" 2 "cofferctl: matter create: unknown channel 'pigeon'"
as lisa matter show not-a-matter
err_is "show a malformed id" 2 "cofferctl: matter show: the matter id must be a uuid"
NOSUCH=00000000-0000-4000-8000-000000000000
as lisa matter show "$NOSUCH"
err_is "show an unknown matter" 1 "cofferctl: matter show: matter $NOSUCH: HTTP 404 not_found: no such matter"
as lisa matter wait "$NOSUCH" --timeout 5
err_is "wait for an unknown matter" 1 "cofferctl: matter wait: matter $NOSUCH: HTTP 404 not_found: no such matter"
as lisa matter download "$NOSUCH" --out "$D/none.coffer"
err_is "download an unknown matter" 1 "cofferctl: matter download: production: HTTP 404 not_found: no such matter"
check "a refused download leaves no file" test ! -e "$D/none.coffer"
as lisa matter download "$NOSUCH" --out "$D/none.coffer" --open "$D/x"
err_is "--open without --key" 2 "cofferctl: matter download: --key KEYFILE and --open DIR go together"

# -- participant forms --------------------------------------------------------
FORMS="accepted: +15550100011 (E.164), @handle, network:handle, name@example.com"
# count P: record_count of a matter for participant P (exit 0), else ""
count() {
	as lisa matter create --title "Forms" --basis "Test" --from "$FROM" \
	    --to "$TO" --participant "$1"
	[ "$rc" = 0 ] && field record_count
}
check_eq "E.164 form" 5 "$(count "+15550100011")"
check_eq "E.164 with blanks" 5 "$(count "+1 555 010 0011")"
check_eq "international 00 form" 5 "$(count "0015550100011")"
check_eq "@handle" 4 "$(count "@kestrel_ops")"
check_eq "@handle in other case" 4 "$(count "@Kestrel_Ops")"
NOCC="cofferctl: matter create: refused: HTTP 400 bad_request: participants #1: number without '+' and no default country code (cofferctl tenant set-country); $FORMS"
for v in 15550100011 "(555) 010-0011" 555-010-0011; do
	count "$v" >/dev/null
	err_is "'$v' without a default country code is refused" 1 "$NOCC"
done
count kestrel_ops >/dev/null
err_is "a bare name is refused" 1 "cofferctl: matter create: refused: HTTP 400 bad_request: participants #1: a bare name matches no handle: write it with its '@' or network; $FORMS"
count "+1 555 abc" >/dev/null
err_is "a phone number with letters is refused" 1 "cofferctl: matter create: refused: HTTP 400 bad_request: participants #1: phone number may contain only digits, spaces, dashes, dots and parentheses; $FORMS"

"$GWF_CTL" tenant set-country --tenant mc --code 0044 >"$D/out" 2>"$D/err"
rc=$?
err_is "set-country with a bad code" 2 "cofferctl: tenant set-country: --code must be a country calling code of 1..3 digits, not starting with 0 (e.g. 1, 44, 353)"
"$GWF_CTL" tenant set-country --tenant nosuch --code 1 >"$D/out" 2>"$D/err"
rc=$?
err_is "set-country for an unknown tenant" 1 "cofferctl: tenant set-country: no tenant nosuch"
"$GWF_CTL" tenant set-country --tenant mc --code 1 >"$D/out" 2>"$D/err"
check_eq "tenant set-country --code 1" "0 tenant mc: numbers without '+' in matter and hold scopes are read with country code +1" \
    "$? $(cat "$D/out")"
check_eq "stored" 1 "$(q "SELECT default_country_code FROM coffer.tenants WHERE name = 'mc'")"
check_eq "audited as tenant.set_country" '1|{"new": "1", "old": ""}' \
    "$(q "SELECT count(*) OVER (), detail - 'actor_name' - 'actor_role' FROM coffer.audit_events WHERE action = 'tenant.set_country'")"
check_eq "national number with the trunk 1" 5 "$(count 15550100011)"
check_eq "national number (555) 010-0011" 5 "$(count "(555) 010-0011")"
check_eq "national number 555-010-0011" 5 "$(count 555-010-0011)"
check_eq "national number 555.010.0022" 5 "$(count 555.010.0022)"

# holds take the same rules (POST /v1/holds)
printf '%s\n' '{"reason":"forms","participants":["kestrel_ops"]}' >"$D/hold.json"
apf_call lisa POST /v1/holds "$D/hold.json"
check_eq "a hold with a bare name is refused" "400 participants #1: a bare name matches no handle: write it with its '@' or network; $FORMS" \
    "$APF_CODE $(apf_get error.message)"
printf '%s\n' '{"reason":"forms","participants":["(555) 010-0011"]}' >"$D/hold.json"
apf_call lisa POST /v1/holds "$D/hold.json"
check_eq "a hold with a national number is created" 201 "$APF_CODE"

# -- 0 records ----------------------------------------------------------------
as lisa matter create --title Empty --basis Test --from "$FROM" --to "$TO" \
    --participant +15550109999
E=$(field matter_id)
err_is "0-record scope: warning, exit 0" 0 "cofferctl: WARNING: matter $E: the scope matches 0 records: check the participants, conversations, channels and time range"
check_eq "record_count 0" 0 "$(field record_count)"
as lisa matter create --title Empty --basis Test --from "$FROM" --to "$TO" \
    --participant +15550109999 --fail-if-empty
E=$(field matter_id)
err_is "--fail-if-empty: exit 1" 1 "cofferctl: matter create: the scope matches 0 records; matter $E was closed again (--fail-if-empty)"
check_eq "and that matter is closed" closed "$(apf_state "$E")"

# -- the workflow ---------------------------------------------------------------
printf '%s\n' '{"participants": ["@kestrel_ops"], "channels": ["telegram"]}' >"$D/scope.json"
as lisa matter create --title "Kestrel review" --basis "Subpoena MC-1" \
    --from "$FROM" --to "$TO" --participant "+1 555 010 0011" \
    --scope "$D/scope.json"
M=$(field matter_id)
N=$(field record_count)
check_eq "matter created from flags and --scope" "0 7" "$rc $N"
check "epochs printed" test "$(field epochs)" -ge 1
# sealed under the matter's seed (api/blind.h): the database owner reads
# ciphertext only, neither the typed form nor the normalised one
check_eq "entered participants kept sealed while open" "t|0|0|0" \
    "$(q "SELECT octet_length(participants_sealed) > 40, position(convert_to('+1 555 010 0011', 'UTF8') in participants_sealed), position(convert_to('kestrel', 'UTF8') in participants_sealed), position(convert_to('5550100011', 'UTF8') in participants_sealed) FROM coffer.matters WHERE matter_id = '$M'")"
check_eq "no text column of the row holds them" 0 \
    "$(q "SELECT count(*) FROM coffer.matters m WHERE matter_id = '$M' AND (to_jsonb(m) - 'participants_sealed')::text ~ '(kestrel|555 010)'")"
as lisa matter list
out_has "matter list shows it as a table" "^$M  open  .* lisa  *Kestrel review$" "$D/out"
as lisa matter show "$M"
out_has "matter show: records" -x "records:      7"
out_has "matter show: participants as typed" "^scope:        participants @kestrel_ops, +1 555 010 0011; 0 conversation(s); channels telegram; "
as lisa matter wait "$M" --timeout 1
err_is "wait times out while open" 1 "cofferctl: matter wait: timed out after 1 s (matter $M is open, 0% built, waiting for custodian approvals)"

as cus1 approvals pending
out_has "cus1 sees the matter pending" "^matter $M  Kestrel review$"
out_has "with requester and scope" "requested by: lisa, "
out_has "with its epochs" "^  epochs:       [0-9]* (7 records)$"
apf_approve mc cus1 1 "$M"
check "approve shows the requester" grep -qx "  requested by: lisa" "$APF_DIR/approve.out"
cp "$APF_DIR/approve.out" "$D/out"
out_has "approve shows the participants as typed" \
    -x "  participants: @kestrel_ops, +1 555 010 0011"
check "the first approval is recorded" grep -q "^approval of matter $M recorded: custodian 1, " "$APF_DIR/approve.out"
as cus1 approvals pending
check "cus1 no longer sees it" test "$rc" = 0 -a -z "$(grep "^matter $M " "$D/out")"
out_has "and the summary line counts the others" -x "[0-9]* matter(s) waiting for approval by custodian 1"
as cus2 approvals pending
out_has "cus2 still does" "^matter $M  "
apf_approve mc cus2 2 "$M"
check_eq "the deciding approval prints the threshold line" \
    "threshold reached (2 of 3): the production is building; legal can run \`cofferctl matter wait $M\`" \
    "$(tail -1 "$APF_DIR/approve.out")"
check_eq "the matter row forgot the sealed participants" t \
    "$(q "SELECT participants_sealed IS NULL FROM coffer.matters WHERE matter_id = '$M'")"
as lisa matter wait "$M" --timeout 120 --interval 1
check_eq "wait: ready" "0 matter $M is ready: 7 records; download with \`cofferctl matter download $M --out FILE\`" \
    "$rc $(tail -1 "$D/out")"
check "wait printed progress 100%" grep -qx "progress 100%" "$D/out"
check "every progress update was recorded" sh -c "! grep -q 'progress not recorded' '$APF_LOG'"
check "the API logs the build's phases" grep -Eq "info: matter $M: production [0-9a-f-]{36} ready: 7 records, [0-9]+ bytes \\([0-9]+ ms scope and keys, [0-9]+ ms records, [0-9]+ ms closing files\\)\$" "$APF_LOG"
as cus1 matter download "$M" --out "$D/c.coffer"
err_is "a custodian cannot download" 1 "cofferctl: matter download: production: HTTP 403 forbidden: the custodian role may not do this"
as lisa matter download "$M" --out "$D/p.coffer" --key "$APF_DIR/lisa.xkey" \
    --open "$D/opened" --passphrase-file "$APF_DIR/lisa.pass"
check_eq "download --open succeeds" 0 "$rc"
[ "$rc" = 0 ] || sed 's/^/     /' "$D/err"
check "download saved the container" grep -q "^production of matter $M saved to $D/p.coffer " "$D/out"
check_eq "opened records = record_count" "$N" "$(wc -l <"$D/opened/records.jsonl" | tr -d ' ')"
check "export open's proof line" grep -q "opened into $D/opened: $N records" "$D/out"
as lisa matter download "$M" --out "$D/p.coffer"
err_is "download over an existing file" 1 "cofferctl: matter download: $D/p.coffer: File exists"
as lisa matter close "$M"
check_eq "close with a production: two-person pending" "0 matter $M has a production: closing it needs a second person." \
    "$rc $(head -1 "$D/out")"

# -- a lost seed: the sealed list cannot open, show says why -------------------
as lisa matter create --title "Lost seed" --basis "Subpoena MC-2" \
    --from "$FROM" --to "$TO" --participant "@kestrel_ops"
L=$(field matter_id)
as lisa matter show "$L"
out_has "show opens the sealed list while the seed is there" \
    "^scope:        participants @kestrel_ops; "
rm -f "$APF_DIR/blind/$L.seed"
as lisa matter show "$L"
out_has "a lost seed: show says the list is unavailable, and why" \
    "^scope:        1 participant(s) (as entered unavailable: the matter's blinding seed is gone from this API host, and with it the participants as entered; the scope itself is unchanged: ask the legal user who entered it); "
apf_call lisa GET "/v1/matters/$L"
check_eq "the API answers the reason instead of the list" \
    "200 - the matter's blinding seed is gone from this API host, and with it the participants as entered; the scope itself is unchanged: ask the legal user who entered it" \
    "$APF_CODE $(apf_get scope.participants_entered || echo -) $(apf_get scope.participants_entered_unavailable)"
# a custodian's approval renews the seed (release_blind.sh): the list,
# sealed under the lost generation, stays shut
apf_approve mc cus1 1 "$L"
as lisa matter show "$L"
out_has "after a renewal: still unavailable, the seed was renewed" \
    "^scope:        1 participant(s) (as entered unavailable: the participants as entered were sealed under a blinding seed since lost and renewed; the scope itself is unchanged: ask the legal user who entered it); "
cp "$APF_DIR/approve.out" "$D/out"
out_has "approve prints the unavailable line instead of the list" \
    -x "  participants: as entered unavailable: the matter's blinding seed is gone from this API host, and with it the participants as entered; the scope itself is unchanged: ask the legal user who entered it"

# -- no participant identifiers in audit or logs ------------------------------
check_eq "no typed participant in any audit event" 0 \
    "$(q "SELECT count(*) FROM coffer.audit_events WHERE detail::text ~ '(kestrel|555 010|0100011|010-0011)'")"
check "none in the API's log" sh -c "! grep -Eq 'kestrel|555 010|0100011|010-0011' '$APF_LOG'"
finish
