#!/bin/sh
# tests/integration/hostile_input.sh — bad input against a real
# coffer-gateway (issue 8, "Bad input"): real mutual TLS, real database.
#
#   - the bad-JSON corpus (tests/data/bad-json/cases.tsv: syntax, deep
#     nesting, huge numbers, duplicate keys, NUL, lone surrogates, invalid
#     UTF-8, ...) in ONE request, every case between two valid records:
#     each bad line answered `rejected` with exactly the corpus reason, each
#     valid line and accepted control `stored` with a receipt, and the
#     table grows by exactly the valid lines (no partial storage, no bad
#     line stored); sent again: the same answers, valid lines `duplicate`
#   - a request of bad lines only, each bad line alone in its own request
#     (no final LF), blank lines only, and 10001 lines (413): all
#     rejected, nothing stored
#   - request smuggling shapes over real TLS (CL+TE, TE+CL, duplicate
#     Content-Length, obfuscated and folded Transfer-Encoding, bare LF,
#     obs-fold, chunk-size overflow, huge chunk, huge Content-Length, a 20 KB
#     header, 4000 headers): the expected 400/413/431, the connection
#     closed, the record inside never stored
#   - the gateway is alive afterwards, and its log holds no byte of the
#     bad input (canaries in the corpus, ids, smuggled ids)
# Prints "N passed, M failed"; exits non-zero on any failure.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/gateway-fixture.sh
. "$HERE/../lib/gateway-fixture.sh"
# shellcheck source=../lib/figures.sh
. "$HERE/../lib/figures.sh"
HC="$HERE/../lib/hostile_client.py"
CASES="$HERE/../data/bad-json/cases.tsv"
PSQL="psql -X -A -t -q -v ON_ERROR_STOP=1"

# shellcheck source=../lib/check.sh
. "$HERE/../lib/check.sh"

command -v python3 >/dev/null || { echo "hostile_input: python3 missing"; exit 1; }
[ -f "$CASES" ] || { echo "hostile_input: $CASES missing"; exit 1; }
gwf_init || exit 1
T="$GWF_DIR"

gwf_simple hi-acme hi-phone hi-node || die "gateway with a tenant, device and node"
ok "gateway started (pid $GWF_PID)"

rows() { $PSQL -c "SELECT count(*) FROM coffer.records"; }
hc() {
	cmd=$1
	shift
	python3 "$HC" "$cmd" --port "$GWF_PORT" --ca "$GWF_SRV_CA" \
	    --cert "$GWF_CERTS/hi-phone.crt" --key "$GWF_CERTS/hi-phone.key" "$@"
}
# corpus counts: rejected cases and accepted controls ("-")
NBAD=$(grep -v '^#' "$CASES" | awk -F '\t' 'NF >= 3 && $2 != "-"' | wc -l)
NCTL=$(grep -v '^#' "$CASES" | awk -F '\t' 'NF >= 3 && $2 == "-"' | wc -l)
NALL=$((NBAD + NCTL))
check "corpus has at least 60 rejected cases ($NBAD, plus $NCTL controls)" \
    test "$NBAD" -ge 60

# -- the corpus in one request, mixed with valid lines ------------------------
# valid lines: one before each case and one at the end, plus the controls
NVALID=$((NALL + 1 + NCTL))
r0=$(rows)
t0=$(date +%s)
out=$(hc corpus --cases "$CASES" --tag m1 --mode mixed --out "$T/mixed.out" \
    2>"$T/mixed.err")
rc=$?
cat "$T/mixed.err"
check "mixed request: $NBAD bad lines rejected with their exact reasons, $NVALID valid lines stored ($out)" \
    test "$rc" = 0
r1=$(rows)
check "mixed request: exactly $NVALID rows added ($r0 -> $r1)" \
    test "$((r1 - r0))" = "$NVALID"
out=$(hc corpus --cases "$CASES" --tag m1 --mode mixed --expect-duplicate \
    --out "$T/mixed2.out" 2>"$T/mixed2.err")
rc=$?
cat "$T/mixed2.err"
check "mixed request again: same rejections, valid lines duplicate ($out)" \
    test "$rc" = 0
check "mixed request again: duplicates carry the original receipts" \
    test "$(sed 's/"status":"duplicate"/"status":"stored"/' "$T/mixed2.out" | md5sum)" = \
    "$(md5sum <"$T/mixed.out")"
check "mixed request again: no row added" test "$(rows)" = "$r1"

# -- whole requests of bad lines only ------------------------------------------
out=$(hc corpus --cases "$CASES" --mode allbad 2>"$T/allbad.err")
rc=$?
cat "$T/allbad.err"
check "all-bad request: every line rejected with its reason ($out)" test "$rc" = 0
out=$(hc corpus --cases "$CASES" --mode single 2>"$T/single.err")
rc=$?
cat "$T/single.err"
check "each bad line alone, no final LF: rejected with its reason ($out)" \
    test "$rc" = 0
printf '\n\r\n \n' >"$T/blank.body"
code=$(gwf_curl hi-phone -o "$T/blank.out" -w '%{http_code}' \
    --data-binary "@$T/blank.body" "$(gwf_url v1/records)")
check "blank lines only: 200, each line rejected as an empty line" sh -c \
    "[ '$code' = 200 ] && [ \$(grep -c '\"status\":\"rejected\",\"error\":\"empty line\"' '$T/blank.out') = 3 ] &&
     [ \$(wc -l <'$T/blank.out') = 3 ]"
python3 -c 'import sys; sys.stdout.write("{\"id\":\"bj-many\"}\n" * 10001)' >"$T/many.body"
code=$(gwf_curl hi-phone -o "$T/many.out" -w '%{http_code}' \
    --data-binary "@$T/many.body" "$(gwf_url v1/records)")
check "10001 lines (over max_records_per_request): 413, fixed error ($code $(cat "$T/many.out"))" \
    sh -c "[ '$code' = 413 ] && [ \"\$(cat '$T/many.out')\" = '{\"error\":\"too many records in one request\"}' ]"
check "all-bad, blank, single and oversized requests stored nothing" test "$(rows)" = "$r1"
t1=$(date +%s)

# -- request smuggling shapes over real TLS -------------------------------------
shapes="cl-te:400 te-cl:400 cl-cl:400 te-space-colon:400 te-obfuscated:400
te-folded:400 bare-lf:400 obs-fold:400 chunk-overflow:400 chunk-huge:413
cl-huge:413 header-20k:431 headers-4000:431"
for sh in $shapes; do
	name=${sh%:*}
	want=${sh#*:}
	got=$(hc smuggle --name "$name" --out "$T/smuggle.$name" 2>&1)
	check "smuggling $name over TLS: $want and closed ($got)" \
	    test "$got" = "status=$want closed=1"
	check "smuggling $name: fixed short JSON body, no echo" \
	    sh -c "! grep -aq 'smuggled\\|CANARY\\|X-Pad\\|chunked' '$T/smuggle.$name' &&
	        grep -aq '^{\"error\":\"[a-z_]*\"}\$' '$T/smuggle.$name'"
done
check "no smuggled record stored" test "$(rows)" = "$r1"

# -- still alive, and the log never echoes the input -----------------------------
check "gateway still running" kill -0 "$GWF_PID"
check "gateway still answers /healthz" \
    test "$(gwf_curl hi-phone -o /dev/null -w '%{http_code}' "$(gwf_url healthz)")" = 200
out=$(hc latency --n 1 --tag after 2>&1)
check "gateway still stores a valid record ($out)" \
    sh -c "case '$out' in *ok=1*) exit 0;; esac; exit 1"
for needle in CANARY bj-0 bj-1 hostile- smuggled- X-Pad X-H1 "$(printf '\357\273\277')"; do
	check "gateway log does not hold '$needle'" \
	    sh -c "! grep -aqF -- \"\$1\" '$GWF_LOG'" _ "$needle"
done
check "gateway log has no NUL byte" sh -c "! tr -d '\\n' <'$GWF_LOG' | grep -qaP '\\x00'"
metrics=$(curl -s "http://127.0.0.1:$GWF_METRICS_PORT/metrics")
rej=$(printf '%s\n' "$metrics" |
    awk '$1 == "coffer_gateway_records_total{status=\"rejected\"}" { print $2 }')
check "metrics count every rejected line (${rej:-none} >= $((NBAD * 4)))" \
    test "${rej:-0}" -ge "$((NBAD * 4))"

gwf_stop TERM
check "SIGTERM: exit status 0 ($GWF_EXIT)" test "$GWF_EXIT" = 0

fig hostile_input "bad-JSON corpus cases, each rejected with its reason (count)" "$NBAD"
fig hostile_input "corpus requests (mixed x2, all-bad, single) wall time (s)" "$((t1 - t0))"
fig hostile_input "smuggling shapes over TLS refused, nothing stored (count)" \
    "$(echo "$shapes" | wc -w)"
finish
