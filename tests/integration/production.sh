#!/bin/sh
# tests/integration/production.sh — a production end to end with the real
# tools: records through a running coffer-gateway (mutual TLS), a legal
# user's key from `cofferctl user keygen`, approvals from `cofferctl
# approve` (share unlocked locally, partials and proofs over mTLS), the
# build by api_production_build(), `cofferctl export open`, and checks of
# the result against what was sent and what the database holds: exactly
# the in-scope records, receipts and checkpoints, RSMF manifests valid
# against the RSMF 2.0.0 schema (python3 jsonschema), and what reviewers
# use (issue 15.3): one RSMF per conversation and UTC day, attachment names
# and types kept ("Q3 report.pdf") and hostile ones ("../../etc/passwd",
# "..\\x") on disk under safe names inside DIR, HTML and text transcripts
# ('<script>' escaped), loadfile.csv (a row per record, formula cells
# guarded), cover sheets and the manifest's SHA-256 of every file; then the
# refusals: wrong key or passphrase, truncated, tampered, appended, hostile
# tars, and reviewer files edited after the build.
#
# First against tests/integration/production_helpers.py serve (the routes
# approve uses; proofs verified and stored by the vault code, through
# itest_production --helper), which lets the test reach every refusal;
# then, when coffer-api is built, the whole flow through the real API:
# matter, approvals, the API's build job, download, export open.
# Runs inside tests/pg-harness.sh.
set -u
ROOT=$(pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
CTL="$BUILD/cofferctl"
HELP="$BUILD/tests/itest_production"
PYH="$ROOT/tests/integration/production_helpers.py"
SCHEMA="$ROOT/tests/data/rsmf_schema_2_0_0.json"
CK_NAME=production.sh
. "$ROOT/tests/lib/check.sh"

. "$ROOT/tests/lib/gateway-fixture.sh"
GWF_NO_TRAP=1
API_PID=""
REAL_PID=""
cleanup() {
	[ -n "$API_PID" ] && kill "$API_PID" 2>/dev/null && wait "$API_PID" 2>/dev/null
	[ -n "$REAL_PID" ] && kill "$REAL_PID" 2>/dev/null && wait "$REAL_PID" 2>/dev/null
	gwf_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ -x "$HELP" ] || { echo "production.sh: $HELP not built"; exit 1; }
python3 -c 'import jsonschema' 2>/dev/null ||
    { echo "production.sh: python3 jsonschema missing (make deps)"; exit 1; }

gwf_init || exit 1
T="$GWF_DIR/prod"
# The helper keeps matters' blinding seeds here, as the API does in its
# blind_dir (api/blind.h).
COFFER_PRODUCTIONS_DIR="$GWF_DIR/pdir"
mkdir -p "$COFFER_PRODUCTIONS_DIR" && chmod 700 "$COFFER_PRODUCTIONS_DIR"
export COFFER_PRODUCTIONS_DIR
mkdir -p "$T" && chmod 0700 "$T"

# expect_fail NAME STDERR-SUBSTRING CMD...
expect_fail() {
	name=$1 want=$2
	shift 2
	if "$@" >"$T/out" 2>"$T/err"; then
		bad "$name: succeeded, expected failure"
		return
	fi
	if grep -qF -- "$want" "$T/err"; then
		ok "$name"
	else
		bad "$name: stderr lacks '$want':"
		sed 's/^/     /' "$T/err"
	fi
}

# -- tenants, gateway, people ------------------------------------------------
gwf_server_cert && gwf_tenant acme && gwf_tenant globex &&
    gwf_device acme phone-a && gwf_device globex phone-g &&
    gwf_node gw-prod && gwf_config && gwf_start phone-a ||
    { bad "gateway fixture"; exit 1; }
TID=$(psql -XAtc "SELECT tenant_id FROM coffer.tenants WHERE name = 'acme'")
SHARES="$GWF_DIR/tenants/acme/out"
PASSES="$GWF_DIR/tenants/acme"
PEOPLE="$T/people"
for u in "legal lisa" "legal larry" "custodian cus1 1" "custodian cus2 2"; do
	# shellcheck disable=SC2086  # split "role name [index]" into $1 $2 $3
	set -- $u
	"$CTL" user issue --role "$1" --tenant acme --name "$2" --out "$PEOPLE" \
	    ${3:+--custodian-index "$3"} >"$T/out" 2>&1 ||
	    { cat "$T/out"; bad "user issue $2"; exit 1; }
done
"$CTL" user issue --role custodian --tenant globex --name gcus1 \
    --custodian-index 1 --out "$PEOPLE" >/dev/null 2>&1 || bad "globex custodian"

# `cofferctl user keygen` once ctl/user.c forwards it; `cofferctl keygen`
# is the same verb.
if "$CTL" user keygen --help >/dev/null 2>&1; then KEYGEN="user keygen"
else KEYGEN="keygen"; fi
printf 'lisa production passphrase\n' >"$T/lisa.pass"
printf 'larry production passphrase\n' >"$T/larry.pass"
printf 'not the passphrase\n' >"$T/wrong.pass"
chmod 0600 "$T"/*.pass
# shellcheck disable=SC2086  # KEYGEN is one or two words ("user keygen")
if "$CTL" $KEYGEN --tenant acme --name lisa --out "$T/lisa.key" \
    --passphrase-file "$T/lisa.pass" >"$T/out" 2>"$T/err" &&
    grep -q "key id [0-9a-f]\{32\}" "$T/out"; then
	ok "keygen for legal user lisa"
else
	bad "keygen lisa"; cat "$T/out" "$T/err"
fi
[ "$(stat -c %a "$T/lisa.key" 2>/dev/null)" = 600 ] && ok "key file mode 0600" ||
    bad "key file mode"
[ "$(stat -c %s "$T/lisa.key" 2>/dev/null)" = 184 ] && ok "key file is 184 bytes" ||
    bad "key file size"
n=$(psql -XAtc "SELECT octet_length(x25519_public_key) FROM coffer.users u
    JOIN coffer.tenants t USING (tenant_id) WHERE t.name = 'acme' AND u.name = 'lisa'")
[ "$n" = 32 ] && ok "public key registered in coffer.users" || bad "x25519 key: $n"
grep -q 'lisa production passphrase' "$T/out" "$T/err" "$T/lisa.key" &&
    bad "passphrase leaked" || ok "no passphrase in output or key file"
# shellcheck disable=SC2086  # KEYGEN is one or two words ("user keygen")
"$CTL" $KEYGEN --tenant acme --name larry --out "$T/larry.key" \
    --passphrase-file "$T/larry.pass" >/dev/null 2>&1 || bad "keygen larry"
# shellcheck disable=SC2086  # KEYGEN is one or two words ("user keygen")
expect_fail "keygen again without --replace" "already has a production key" \
    "$CTL" $KEYGEN --tenant acme --name lisa --out "$T/lisa2.key" \
    --passphrase-file "$T/lisa.pass"
[ ! -e "$T/lisa2.key" ] && ok "refused keygen left no file" || bad "lisa2.key exists"
# shellcheck disable=SC2086  # KEYGEN is one or two words ("user keygen")
expect_fail "keygen for a custodian" "not a legal user" \
    "$CTL" $KEYGEN --tenant acme --name cus1 --out "$T/c.key" \
    --passphrase-file "$T/lisa.pass"
# shellcheck disable=SC2086  # KEYGEN is one or two words ("user keygen")
expect_fail "keygen for an unknown user" "no active user nobody" \
    "$CTL" $KEYGEN --tenant acme --name nobody --out "$T/c.key" \
    --passphrase-file "$T/lisa.pass"
# shellcheck disable=SC2086  # KEYGEN is one or two words ("user keygen")
expect_fail "keygen over an existing file" "already exists" \
    "$CTL" $KEYGEN --tenant acme --name lisa --out "$T/lisa.key" \
    --passphrase-file "$T/lisa.pass" --replace

# -- records through the gateway -------------------------------------------------
python3 "$PYH" gen "$T/sent.ndjson" || { bad "gen"; exit 1; }
if gwf_curl phone-a --data-binary @"$T/sent.ndjson" -H 'Content-Type: application/x-ndjson' \
    "$(gwf_url v1/records)" >"$T/resp.ndjson" &&
    [ "$(grep -c '"stored"' "$T/resp.ndjson")" = "$(wc -l <"$T/sent.ndjson")" ]; then
	ok "$(wc -l <"$T/sent.ndjson") records stored through the gateway (mTLS)"
else
	bad "ingest"; head -5 "$T/resp.ndjson"
fi
# globex: alice too, same window (another tenant: never in acme's production)
head -3 "$T/sent.ndjson" | sed 's/msg-/glob-/' >"$T/globex.ndjson"
gwf_curl phone-g --data-binary @"$T/globex.ndjson" "$(gwf_url v1/records)" \
    >/dev/null || bad "globex ingest"

# -- matter, stand-in API, approvals ---------------------------------------------
MID=$("$HELP" --helper matter "$TID" lisa "$GWF_KEYS/acme.bik" \
    2026-03-10T00:00:00Z 2026-03-12T23:59:59Z +15550100001 2>"$T/err")
[ -n "$MID" ] && ok "matter $MID for alice, 2026-03-10..12" || { bad "matter"; cat "$T/err"; exit 1; }

"$CTL" pki server --name prodapi --dns localhost --ip 127.0.0.1 --out "$T/srv" \
    >"$T/srvcert.log" 2>&1 || { bad "api server cert"; cat "$T/srvcert.log"; }
python3 "$PYH" serve --port-file "$T/api.port" --cert "$T/srv/prodapi.crt" \
    --key "$T/srv/prodapi.key" --people-ca "$COFFER_PKI/people/ca.pem" \
    --helper "$HELP" >"$T/api.log" 2>&1 &
API_PID=$!
i=0
while [ ! -s "$T/api.port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
COFFER_API_URL="https://127.0.0.1:$(cat "$T/api.port")"
export COFFER_API_URL
export COFFER_CA="$COFFER_PKI/server/ca.pem"
approve() {   # approve CERT-NAME SHARE PASSFILE [more options]
	c=$1 s=$2 p=$3
	shift 3
	"$CTL" approve --matter "$MID" --share "$s" --passphrase-file "$p" \
	    --cert "$PEOPLE/$c.crt" --key "$PEOPLE/$c.key" "$@"
}

expect_fail "approve without a terminal and without --yes" "pass --yes" \
    approve cus1 "$SHARES/acme-custodian-1.share" "$PASSES/pass1" </dev/null
expect_fail "approve with the wrong passphrase" "wrong passphrase or corrupted share file" \
    approve cus1 "$SHARES/acme-custodian-1.share" "$T/wrong.pass" --yes
expect_fail "approve with another custodian's share" "belongs to custodian 1" \
    approve cus1 "$SHARES/acme-custodian-2.share" "$PASSES/pass2" --yes
expect_fail "approve with a legal user's certificate" "not a custodian" \
    approve lisa "$SHARES/acme-custodian-1.share" "$PASSES/pass1" --yes
if approve cus1 "$SHARES/acme-custodian-1.share" "$PASSES/pass1" --yes \
    >"$T/out" 2>"$T/err" && grep -q "approval of matter $MID recorded: custodian 1" "$T/out"; then
	ok "custodian 1 approved (partials and proofs verified by the API side)"
else
	bad "approve 1"; cat "$T/out" "$T/err" "$T/api.log"
fi
grep -q "Matter Ω\|Matter ?" "$T/out" && grep -q "epochs:" "$T/out" &&
    grep -q "time range:   2026-03-10.* (clock: sent_at or received_at)$" "$T/out" &&
    ok "approve showed title, basis, scope, time range and epochs" ||
    { bad "approve display"; cat "$T/out"; }
grep -q 'custodian-1\|custodian [0-9]-passphrase\|correct horse' "$T/out" "$T/err" "$T/api.log" &&
    bad "secret in output" || ok "no passphrase in approve output"
expect_fail "approve twice" "has already approved" \
    approve cus1 "$SHARES/acme-custodian-1.share" "$PASSES/pass1" --yes
approve cus2 "$SHARES/acme-custodian-2.share" "$PASSES/pass2" --yes \
    >"$T/out" 2>"$T/err" && ok "custodian 2 approved" || { bad "approve 2"; cat "$T/err"; }
n=$(psql -XAtc "SELECT count(*) FROM coffer.approvals WHERE matter_id = '$MID'")
[ "$n" = 2 ] && ok "two approvals stored" || bad "approvals: $n"

# -- build, export open, verify --------------------------------------------------
# The API node key that signs productions (issue 13.3), pinned like the
# gateway's; the helper builds with it as coffer-api does.
"$CTL" node init --kind api --name prod-api --key-out "$T/api-node.key" \
    --pins "$COFFER_NODE_PINS" >"$T/out" 2>&1 || { cat "$T/out"; bad "node init prod-api"; }
COFFER_API_NODE_KEY="$T/api-node.key" COFFER_API_NODE_NAME=prod-api
export COFFER_API_NODE_KEY COFFER_API_NODE_NAME
OUTF="$T/production.coffer"
# records.jsonl in parts of 2 000 bytes (issue 17.4): export open joins them
if COFFER_TEST_PART_BYTES=2000 "$HELP" --helper build "$TID" "$MID" "$OUTF" 6 \
    >"$T/build.json" 2>"$T/err"; then
	ok "production built: $(cat "$T/build.json")"
else
	bad "build"; cat "$T/err"; exit 1
fi
sha=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sha256"])' "$T/build.json")
np=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["records_parts"])' "$T/build.json")
[ "$np" -gt 10 ] && ok "records.jsonl went into the container in $np parts of 2000 bytes" ||
    bad "records.jsonl in $np parts, want more than 10"
[ "$(sha256sum "$OUTF" | cut -d' ' -f1)" = "$sha" ] && ok "reported SHA-256 matches the file" ||
    bad "sha256"
[ ! -e "$OUTF.tmp" ] && ok "no temporary file left" || bad "tmp left"
head -c 14 "$OUTF" | grep -q 'COFFER-PROD-1' && ok "container magic" || bad "magic"
for w in "day 10" "group message" "+15550100001" "photo"; do
	if grep -aqF "$w" "$OUTF"; then bad "plaintext '$w' in the sealed file"; fi
done
ok "no plaintext in the sealed file"

if "$CTL" export open --in "$OUTF" --key "$T/lisa.key" --passphrase-file "$T/lisa.pass" \
    --out "$T/open" >"$T/out" 2>"$T/err" && grep -q "manifest verified" "$T/out" &&
    grep -q "signed by API node prod-api (pinned), every file as signed; [0-9]* records proved (plaintext re-decrypted, leaf hashes and inclusion proofs recomputed" "$T/out"; then
	ok "export open: $(cat "$T/out")"
else
	bad "export open"; cat "$T/out" "$T/err"
fi
python3 "$PYH" verify "$T/open" "$T/sent.ndjson" "$T/resp.ndjson" "$SCHEMA" "$TID" ||
    bad "verify"
n=0
for m in "$T"/open/rsmf/*.manifest.json; do
	python3 -m jsonschema -i "$m" "$SCHEMA" >/dev/null 2>"$T/err" ||
	    { bad "python3 -m jsonschema $m"; cat "$T/err"; }
	n=$((n + 1))
done
[ $n -gt 1 ] && ok "python3 -m jsonschema validates all $n RSMF manifests" || bad "no manifests"
# issue 15.3: the documented tree
tree_ok=1
for f in manifest.json manifest.sig records.jsonl loadfile.csv cover.txt cover.html \
    transcripts/c000001.html transcripts/c000001.txt; do
	[ -f "$T/open/$f" ] || { tree_ok=0; bad "opened production lacks $f"; }
done
for f in rsmf attachments transcripts; do
	[ -d "$T/open/$f" ] || { tree_ok=0; bad "opened production lacks $f/"; }
done
[ $tree_ok = 1 ] && ok "opened production holds the documented tree (cover sheets, load file, transcripts, attachments, RSMF)"
[ "$(stat -c %a "$T/open")" = 700 ] && [ "$(stat -c %a "$T/open/records.jsonl")" = 600 ] &&
    ok "opened files private (0700/0600)" || bad "modes"

# -- refusals -------------------------------------------------------------------------
expect_fail "another legal user's key" "sealed to a different key" \
    "$CTL" export open --in "$OUTF" --key "$T/larry.key" --passphrase-file "$T/larry.pass" \
    --out "$T/o1"
[ ! -e "$T/o1" ] && ok "wrong key: nothing created" || bad "o1 created"
expect_fail "wrong passphrase" "wrong passphrase or corrupted key file" \
    "$CTL" export open --in "$OUTF" --key "$T/lisa.key" --passphrase-file "$T/wrong.pass" \
    --out "$T/o2"
size=$(stat -c %s "$OUTF")
head -c $((size - 30)) "$OUTF" >"$T/trunc.coffer"
expect_fail "truncated production" "truncated" \
    "$CTL" export open --in "$T/trunc.coffer" --key "$T/lisa.key" \
    --passphrase-file "$T/lisa.pass" --out "$T/o3"
[ ! -e "$T/o3" ] && ok "truncated: nothing kept" || { bad "o3 kept"; ls -R "$T/o3"; }
# one bit flipped in the middle
python3 - "$OUTF" "$T/flip.coffer" "$((size / 2))" <<'EOF'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
data[int(sys.argv[3])] ^= 1
open(sys.argv[2], "wb").write(data)
EOF
expect_fail "tampered byte" "does not authenticate" \
    "$CTL" export open --in "$T/flip.coffer" --key "$T/lisa.key" \
    --passphrase-file "$T/lisa.pass" --out "$T/o4"
[ ! -e "$T/o4" ] && ok "tampered: nothing kept" || bad "o4 kept"
cp "$OUTF" "$T/app.coffer"
printf 'garbage' >>"$T/app.coffer"
expect_fail "appended bytes" "unexpected bytes after its end" \
    "$CTL" export open --in "$T/app.coffer" --key "$T/lisa.key" \
    --passphrase-file "$T/lisa.pass" --out "$T/o5"
mkdir -p "$T/o6" && touch "$T/o6/x"
expect_fail "non-empty output directory" "is not empty" \
    "$CTL" export open --in "$OUTF" --key "$T/lisa.key" --passphrase-file "$T/lisa.pass" \
    --out "$T/o6"
cp "$T/lisa.key" "$T/loose.key" && chmod 0644 "$T/loose.key"
expect_fail "key file readable by others" "loose.key" \
    "$CTL" export open --in "$OUTF" --key "$T/loose.key" --passphrase-file "$T/lisa.pass" \
    --out "$T/o7"
for kind in dotdot absolute symlink hardlink device unexpected; do
	python3 "$PYH" maketar "$kind" "$T/$kind.tar" &&
	    "$HELP" --helper seal "$T/lisa.key" "$T/$kind.tar" "$T/$kind.coffer" ||
	    bad "making $kind"
	case $kind in
	dotdot) want="with '..' refused" ;;
	absolute) want="absolute path" ;;
	symlink) want="symbolic link" ;;
	hardlink) want="hard link" ;;
	device) want="not a regular file" ;;
	unexpected) want="unexpected entry" ;;
	esac
	expect_fail "hostile tar: $kind" "$want" \
	    "$CTL" export open --in "$T/$kind.coffer" --key "$T/lisa.key" \
	    --passphrase-file "$T/lisa.pass" --out "$T/x-$kind"
	[ ! -e "$T/x-$kind" ] || bad "$kind: output left behind"
done
[ ! -e "$T/escaped.rsmf" ] && [ ! -e /tmp/coffer-absolute.rsmf ] &&
    ok "nothing written outside the output directory" || bad "escaped a file"

# -- the same through the real coffer-api ------------------------------------------
# Matter created over the API, approvals from `cofferctl approve` against
# it, the API's background job building with api_production_build(), the
# download by the requester, `export open`.
if [ -x "$BUILD/coffer-api" ]; then
	mkdir -p "$T/akeys" "$T/aprods" && chmod 0700 "$T/akeys" "$T/aprods"
	cp "$GWF_KEYS/acme.bik" "$GWF_KEYS/acme.pin" "$T/akeys/" && chmod 0600 "$T/akeys/acme.bik"
	"$CTL" pki server --name realapi --dns localhost --ip 127.0.0.1 \
	    --out "$T/asrv" >/dev/null 2>&1 || bad "real api cert"
	"$CTL" node init --kind api --name realapi --key-out "$T/akeys/node.key" \
	    --pins "$COFFER_NODE_PINS" >/dev/null 2>&1 || bad "real api node key"
	APORT=$(gwf_free_port)
	cat >"$T/api.conf" <<EOC
listen = 127.0.0.1:$APORT
metrics_listen =
cert_file = $T/asrv/realapi.crt
key_file = $T/asrv/realapi.key
people_ca = $COFFER_PKI/people/ca.pem
people_crl = $COFFER_PKI/people/crl.pem
keys_dir = $T/akeys
productions_dir = $T/aprods
signing_key_file = $T/akeys/node.key
node_name = realapi
node_pins_file = $COFFER_NODE_PINS
pg_conninfo = host=$PGHOST port=$PGPORT dbname=$PGDATABASE user=api
EOC
	"$BUILD/coffer-api" --config "$T/api.conf" >"$T/realapi.log" 2>&1 &
	REAL_PID=$!
	acurl() {   # acurl USER ARGS...
		u=$1
		shift
		curl -sS --cacert "$COFFER_PKI/server/ca.pem" \
		    --cert "$PEOPLE/$u.crt" --key "$PEOPLE/$u.key" "$@"
	}
	i=0
	until acurl lisa -o /dev/null "https://127.0.0.1:$APORT/v1/whoami" 2>/dev/null ||
	    [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done
	acurl lisa -H 'Content-Type: application/json' -d '{"title":"Real API matter",
	    "legal_basis":"Subpoena 17","scope":{"participants":["+15550100001"],
	    "from":"2026-03-10T00:00:00Z","to":"2026-03-12T23:59:59Z"}}' \
	    "https://127.0.0.1:$APORT/v1/matters" >"$T/rm.json" 2>&1
	RMID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["matter_id"])' \
	    "$T/rm.json" 2>/dev/null)
	if [ -n "$RMID" ]; then
		ok "coffer-api: matter $RMID created by lisa"
		for c in 1 2; do
			"$CTL" approve --matter "$RMID" --share "$SHARES/acme-custodian-$c.share" \
			    --passphrase-file "$PASSES/pass$c" --api "https://127.0.0.1:$APORT" \
			    --cert "$PEOPLE/cus$c.crt" --key "$PEOPLE/cus$c.key" --yes \
			    >"$T/out" 2>"$T/err" &&
			    ok "coffer-api: cofferctl approve as custodian $c" ||
			    { bad "coffer-api approve $c"; cat "$T/err"; }
		done
		st=""
		i=0
		while [ $i -lt 300 ]; do
			st=$(acurl lisa "https://127.0.0.1:$APORT/v1/matters/$RMID" |
			    python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
			[ "$st" = ready ] || [ "$st" = failed ] && break
			sleep 0.1
			i=$((i + 1))
		done
		[ "$st" = ready ] && ok "coffer-api: production built by the API's job" ||
		    { bad "coffer-api: state $st"; tail -5 "$T/realapi.log"; }
		code=$(acurl larry -o /dev/null -w '%{http_code}' \
		    "https://127.0.0.1:$APORT/v1/matters/$RMID/production")
		[ "$code" != 200 ] && ok "coffer-api: another legal user cannot download ($code)" ||
		    bad "larry downloaded the production"
		acurl lisa -o "$T/real.coffer" "https://127.0.0.1:$APORT/v1/matters/$RMID/production"
		if "$CTL" export open --in "$T/real.coffer" --key "$T/lisa.key" \
		    --passphrase-file "$T/lisa.pass" --out "$T/ropen" >"$T/out" 2>"$T/err"; then
			ok "coffer-api: downloaded production opens"
			python3 "$PYH" verify "$T/ropen" "$T/sent.ndjson" "$T/resp.ndjson" \
			    "$SCHEMA" "$TID" || bad "coffer-api production verify"
		else
			bad "coffer-api export open"; cat "$T/err"
		fi
	else
		bad "coffer-api: matter not created: $(head -c 300 "$T/rm.json")"
		tail -5 "$T/realapi.log"
	fi
	kill "$REAL_PID" 2>/dev/null
	wait "$REAL_PID" 2>/dev/null
else
	echo "skip - $BUILD/coffer-api not built: the real-API phase did not run"
fi

# -- forged productions (issue 13.3) ------------------------------------------------
# The attacker knows lisa's public key (coffer.users): enough to seal a
# container to her.  Each forgery below must fail `export open` with a
# message naming what failed.  "unsigned": sealed with the public key only
# (what the old opener accepted: COFFER_OLD_CTL=<an older cofferctl> feeds
# the first one to it too); "attacker": signed with a key of its own under
# the API node's name; "api": signed with the API node key itself, so each
# later check is shown to hold on its own.
python3 "$PYH" attackerkey "$T/attacker.key" || bad "attacker key"
ATTACKER="$T/attacker.key"
export ATTACKER
R1=$(python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).readline()); print("%s:%d" % (r["stream"], r["seq"]))' "$T/open/records.jsonl")
B1=$(python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).readline()); print(r["batch_no"])' "$T/open/records.jsonl")
HC=$(python3 -c 'import json,sys; h=json.loads(open(sys.argv[1]).readline().rstrip()[:-len("\"records\":[")-1] + "}"); c=h["checkpoints"][0]; print("%s %d" % (c["stream"], c["batch_no"]))' "$T/open/manifest.json")
forged() {   # forged NAME KIND unsigned|attacker|api WANT [OTHER]
	fname=$1 fkind=$2 fsig=$3 fwant=$4
	rm -rf "$T/f-$fname"
	python3 "$PYH" forge "$fkind" "$T/open" "$T/f-$fname" ${5:+"$5"} ||
	    { bad "forge $fname"; return; }
	case $fsig in
	api) set -- "$T/api-node.key" prod-api ;;
	attacker) set -- "$T/attacker.key" prod-api ;;
	*) set -- ;;
	esac
	"$HELP" --helper forge "$T/lisa.key" "$T/f-$fname" "$T/f-$fname.coffer" "$@" ||
	    { bad "sealing $fname"; return; }
	expect_fail "forged production ($fname): $fwant" "$fwant" \
	    "$CTL" export open --in "$T/f-$fname.coffer" --key "$T/lisa.key" \
	    --passphrase-file "$T/lisa.pass" --out "$T/x-f-$fname"
	[ ! -e "$T/x-f-$fname" ] || bad "$fname: output left behind"
}
NOTSIGNED="the production is not signed (no manifest.sig): only the API makes productions; refused"
OTHERCONT="the signed statement is for another container (its container_header is not this file's header): a signed production re-sealed or altered; refused"
forged invented invent unsigned "$NOTSIGNED"
if [ -n "${COFFER_OLD_CTL:-}" ]; then
	# the attack on the opener before issue 13.3 (it has no --nodes)
	"$COFFER_OLD_CTL" export open --in "$T/f-invented.coffer" --key "$T/lisa.key" \
	    --passphrase-file "$T/lisa.pass" --out "$T/old-invented" >"$T/out" 2>&1 &&
	    grep -q "manifest verified" "$T/out" &&
	    ok "the old opener accepted the invented production: $(cat "$T/out")" ||
	    echo "note - old opener: $(cat "$T/out")"
fi
forged plaintext-resealed plaintext unsigned "$OTHERCONT"
forged plaintext-selfsigned plaintext attacker \
    "the production's signature does not verify under the pinned key of node 'prod-api': it was not made by the API (forged or altered)"
forged plaintext plaintext api \
    "record $R1: the delivered plaintext is not what its ciphertext holds (altered plaintext)"
forged nodekey-resealed nodekey unsigned "$OTHERCONT"
# shellcheck disable=SC2086  # split "stream batch" into $1 $2
set -- $HC
forged nodekey nodekey api \
    "manifest checkpoint of stream $1: the checkpoint of batch $2 does not verify under the pinned key of node 'gw-prod' (substituted node key or forged checkpoint)"
forged nodekey-records nodekey-records api \
    "record $R1: the checkpoint of batch $B1 does not verify under the pinned key of node 'gw-prod' (substituted node key or forged checkpoint)"
forged nullck-resealed nullck unsigned "$OTHERCONT"
forged nullck nullck api \
    "record $R1 has no covering checkpoint: refused (a record counts only under a signed gateway checkpoint)"
# an RSMF header the opener parses within its line (issue 13.7: strtoull
# read on past the header buffer); the API's own signature over it
# shellcheck disable=SC2012  # the opener's own file names (<id>.rsmf)
forged eventcount eventcount api \
    "rsmf/$(cd "$T/open/rsmf" && ls -- *.rsmf | sort | head -1) has a malformed X-RSMF-EventCount header"
if [ -d "$T/ropen" ]; then
	RM=$(python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).readline()); print("%s:%d" % (r["stream"], r["seq"]))' "$T/ropen/records.jsonl")
	forged moved-resealed moved unsigned "$OTHERCONT" "$T/ropen"
	forged moved moved api \
	    "record $RM belongs to matter $RMID, not this production's $MID (moved from another production)" "$T/ropen"
else
	bad "no second production to move a record from"
fi
# issue 15.3: reviewer files edited after the build, re-sealed (the
# signature no longer matches) or even re-signed with the API key (the
# manifest's SHA-256 list no longer matches)
forged cover-resealed cover unsigned "$OTHERCONT"
forged cover cover api \
    "manifest check failed: cover.html: its SHA-256 or size is not what manifest.json lists (altered); refused"
forged loadfile loadfile api \
    "manifest check failed: loadfile.csv: its SHA-256 or size is not what manifest.json lists (altered); refused"
forged transcript-resealed transcript unsigned "$OTHERCONT"
forged transcript transcript api \
    "manifest check failed: transcripts/c000001.html: its SHA-256 or size is not what manifest.json lists (altered); refused"
# issue 17.4: records.jsonl travels in parts, records.jsonl.000001, ...;
# the statement and the manifest list the whole file.  Parts cut and
# ordered by the packer (FORGE_PARTS: the parts' numbers in tar order, 0
# the whole file), signed with the API key: only whole, in-order parts open.
parts() {   # parts NAME SPEC [WANT]: WANT empty, it opens as built
	fname=$1 spec=$2 fwant=${3:-}
	rm -rf "$T/f-$fname"
	python3 "$PYH" forge asis "$T/open" "$T/f-$fname" || { bad "copy $fname"; return; }
	FORGE_PARTS=$spec FORGE_PARTS_OF=${PARTS_OF:-} "$HELP" --helper forge "$T/lisa.key" "$T/f-$fname" \
	    "$T/f-$fname.coffer" "$T/api-node.key" prod-api || { bad "packing $fname"; return; }
	if [ -z "$fwant" ]; then
		"$CTL" export open --in "$T/f-$fname.coffer" --key "$T/lisa.key" \
		    --passphrase-file "$T/lisa.pass" --out "$T/x-f-$fname" >"$T/out" 2>&1 &&
		    cmp -s "$T/x-f-$fname/records.jsonl" "$T/open/records.jsonl" &&
		    ok "records.jsonl in parts $spec: opens, joined as built" ||
		    { bad "parts $spec"; cat "$T/out"; }
		return
	fi
	expect_fail "records.jsonl in parts $spec ($fname): $fwant" "$fwant" \
	    "$CTL" export open --in "$T/f-$fname.coffer" --key "$T/lisa.key" \
	    --passphrase-file "$T/lisa.pass" --out "$T/x-f-$fname"
	[ ! -e "$T/x-f-$fname" ] || bad "$fname: output left behind"
}
PART_NEXT="of records.jsonl was expected next (a part missing, repeated or out of order): refused"
parts inorder 1,2,3
parts whole 0
parts reordered 1,3,2 "records.jsonl.000003: part 2 $PART_NEXT"
parts missing 1,3 "records.jsonl.000003: part 2 $PART_NEXT"
parts first-missing 2,3 "records.jsonl.000002: part 1 $PART_NEXT"
parts repeated 1,2,2,3 "records.jsonl.000002: part 3 $PART_NEXT"
parts and-whole 1,2,3,0 "records.jsonl: appears twice in the production"
parts whole-and-parts 0,1,2,3 "records.jsonl: appears twice in the production"
PARTS_OF=4
parts last-missing 1,2,3 "manifest check failed: records.jsonl differs from the signed statement (altered)"
PARTS_OF=
# keys come from the pins only
expect_fail "export open without node pins" \
    "--nodes PINS (or COFFER_NODE_PINS) is required: the production's signatures are checked against pinned node keys only" \
    env -u COFFER_NODE_PINS "$CTL" export open --in "$OUTF" --key "$T/lisa.key" \
    --passphrase-file "$T/lisa.pass" --out "$T/x-nopins"
grep -v '^node prod-api ' "$COFFER_NODE_PINS" >"$T/gw-only.pins"
expect_fail "API node not pinned" \
    "the production is signed by node 'prod-api', which is not pinned in $T/gw-only.pins: refused" \
    "$CTL" export open --in "$OUTF" --key "$T/lisa.key" --passphrase-file "$T/lisa.pass" \
    --nodes "$T/gw-only.pins" --out "$T/x-gwonly"
[ ! -e "$T/x-nopins" ] && [ ! -e "$T/x-gwonly" ] && ok "refused opens left nothing" ||
    bad "refused open left output"

finish
