#!/bin/sh
# tests/integration/cli_hygiene.sh — what an operator meets before anything
# else (issue 15): --help, --version, man pages, make install, the lists'
# expiry column and the health metrics.
#
#   - every verb `cofferctl help` lists, and every subcommand its usage
#     names, answers --help and -h with its usage on stdout and exit 0 (the
#     list is read from the binary, so a new verb is covered without an
#     edit); usage errors still exit 2 with their message;
#   - --version: one line, the same on the three programs;
#   - the man pages render with `man -l` and groff without a warning, and
#     document every verb and the options the binaries' --help shows;
#   - bash completion offers the verbs `cofferctl help` lists;
#   - `make install DESTDIR=… PREFIX=/usr` installs binaries, pages,
#     completion and migrations, and the installed cofferctl run from another
#     directory applies the installed migrations;
#   - `device list` / `user list` show EXPIRES and "expired" past it;
#   - gateway metrics: build_info with the version, db_up 1 with every lane
#     connected, lanes counted, db_up 0 once PostgreSQL is stopped; the page
#     stays valid Prometheus text.
# Runs inside tests/pg-harness.sh ($COFFER_PG_CTL to stop the database).
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
CTL="$BUILD/cofferctl"
# shellcheck source=../lib/gateway-fixture.sh
. "$ROOT/tests/lib/gateway-fixture.sh"
# shellcheck source=../lib/api-fixture.sh
. "$ROOT/tests/lib/api-fixture.sh"
# shellcheck source=../lib/check.sh
. "$ROOT/tests/lib/check.sh"

[ -x "$CTL" ] || { echo "cli_hygiene: $CTL not built"; exit 1; }
GWF_NO_TRAP=1
gwf_init || die "scratch directory"
cleanup() { apf_cleanup; gwf_cleanup; }
trap cleanup EXIT INT TERM
T="$GWF_DIR/hyg"
mkdir -p "$T" || die "scratch directory"

# -- --help everywhere ---------------------------------------------------------
verbs() {
	"$CTL" help | awk '/^verbs:/ { on = 1; next } on && NF == 0 { exit }
	    on && $1 != "help" { print $1 }'
}
subs() {   # subcommands VERB's usage names
	"$CTL" "$1" --help 2>/dev/null | grep -oE "cofferctl $1 [a-z][a-z0-9-]*" |
	    awk '{ print $3 }' | sort -u
}
nverbs=0 nsubs=0 badhelp=""
for v in $(verbs); do
	nverbs=$((nverbs + 1))
	for h in --help -h; do
		out=$("$CTL" "$v" "$h" 2>"$T/err"); rc=$?
		case "$out" in "usage: cofferctl"*) ;; *) rc="$rc/no-usage" ;; esac
		[ "$rc" = 0 ] && [ ! -s "$T/err" ] || badhelp="$badhelp $v:$h:$rc"
	done
	for s in $(subs "$v"); do
		nsubs=$((nsubs + 1))
		for h in --help -h; do
			out=$("$CTL" "$v" "$s" "$h" 2>"$T/err"); rc=$?
			case "$out" in "usage: cofferctl"*) ;; *) rc="$rc/no-usage" ;; esac
			[ "$rc" = 0 ] && [ ! -s "$T/err" ] || badhelp="$badhelp $v-$s:$h:$rc"
		done
		# --help after other options, as an operator types it
		"$CTL" "$v" "$s" --tenant x --help >/dev/null 2>&1 ||
		    badhelp="$badhelp $v-$s:late-help"
	done
done
check "verbs listed by 'cofferctl help' ($nverbs)" test "$nverbs" -ge 10
check "subcommands found in the usage texts ($nsubs)" test "$nsubs" -ge 15
check_eq "--help and -h exit 0 with usage on stdout, nothing on stderr" "" "$badhelp"
out=$("$CTL" help tenant init); rc=$?
case "$out" in "usage: cofferctl tenant init"*) ;; *) rc=bad ;; esac
check_eq "cofferctl help VERB SUB" 0 "$rc"
"$CTL" tenant init --help --name x >"$T/out" 2>&1
check_eq "tenant init --help (was: '--help needs a value')" 0 "$?"
# --help makes nothing happen, even with every option of a real command
"$CTL" migrate --dir "$T/none" --help >/dev/null 2>&1
check_eq "migrate --help with --dir: exit 0, nothing run" 0 "$?"

check_fails "usage error: unknown option still exits 2" 2 "unknown option --bogus" \
    "$CTL" tenant init --bogus x
check_fails "usage error: no subcommand still exits 2" 2 "usage: cofferctl tenant init" \
    "$CTL" tenant
check_fails "--help on an unknown subcommand exits 2" 2 "cofferctl: user: unknown subcommand 'nosuch'" \
    "$CTL" user nosuch --help
check_fails "usage error: unknown verb exits 2" 2 "unknown verb 'nosuch'" "$CTL" nosuch --help
check_fails "help for an unknown verb exits 2" 2 "unknown verb 'nosuch'" "$CTL" help nosuch
check_fails "no verb exits 2" 2 "usage: cofferctl VERB" "$CTL"

# -- --version -----------------------------------------------------------------
v1=$("$CTL" --version) v2=$("$BUILD/coffer-gateway" --version) \
    v3=$("$BUILD/coffer-api" --version)
check "cofferctl --version: 'coffer VERSION' ($v1)" \
    sh -c "echo '$v1' | grep -Eq '^coffer [0-9]+\.[0-9]+\.[0-9]+(\+g[0-9a-f]+)?$'"
check_eq "coffer-gateway --version is the same" "$v1" "$v2"
check_eq "coffer-api --version is the same" "$v1" "$v3"
VERSION=${v1#coffer }
check "version comes from the VERSION file" \
    sh -c "case '$VERSION' in \"\$(cat '$ROOT/VERSION')\"*) exit 0 ;; esac; exit 1"
for b in coffer-gateway coffer-api; do
	out=$("$BUILD/$b" --help); rc=$?
	case "$out" in "usage: $b"*) ;; *) rc=bad ;; esac
	check_eq "$b --help: usage on stdout, 0" 0 "$rc"
	check_fails "$b: unknown option exits 2" 2 "usage: $b" "$BUILD/$b" --bogus
done

# -- make install, man pages, completion ----------------------------------------
DEST="$T/dest"
if (cd "$ROOT" && nice make --no-print-directory BUILD="$BUILD" install \
    DESTDIR="$DEST" PREFIX=/usr) >"$T/install.log" 2>&1; then
	ok "make install DESTDIR PREFIX=/usr"
else
	bad "make install"; tail -20 "$T/install.log"
fi
for f in bin/cofferctl bin/coffer-gateway bin/coffer-api share/man/man1/cofferctl.1 \
    share/man/man8/coffer-gateway.8 share/man/man8/coffer-api.8 \
    share/man/man5/coffer.conf.5 share/bash-completion/completions/cofferctl; do
	[ -f "$DEST/usr/$f" ] || bad "installed: $f missing"
done
nmig=$(find "$ROOT/migrations" -name '*.sql' | wc -l)
ninst=$(find "$DEST/usr/share/coffer/migrations" -name '*.sql' | wc -l)
check_eq "every migration installed in PREFIX/share/coffer/migrations" "$nmig" "$ninst"
# make install relinks when HEAD moved since the build (the version names
# the commit): from here on, the version is what is installed
v1=$("$CTL" --version) VERSION=${v1#coffer }
check_eq "installed cofferctl is the version built" "$v1" "$("$DEST/usr/bin/cofferctl" --version)"

# migrate from another directory: a fresh database, the installed copy
createdb "${PGDATABASE}_inst" >/dev/null 2>&1 || bad "createdb"
(cd "$T" && PGDATABASE="${PGDATABASE}_inst" COFFER_MIGRATIONS_DIR='' \
    "$DEST/usr/bin/cofferctl" migrate) >"$T/mig.out" 2>&1
rc=$?
check_eq "installed cofferctl migrate, run elsewhere: exit" 0 "$rc"
check "... applied every installed migration" grep -qx "applied $nmig migrations" "$T/mig.out"
(cd "$T" && PGDATABASE="${PGDATABASE}_inst" COFFER_MIGRATIONS_DIR='' \
    "$DEST/usr/bin/cofferctl" migrate) >"$T/mig.out" 2>&1
check "... and again: schema up to date" grep -qx "schema up to date" "$T/mig.out"
(cd "$T" && PGDATABASE="${PGDATABASE}_inst" COFFER_MIGRATIONS_DIR='' "$CTL" migrate) \
    >"$T/mig.out" 2>&1
check "build-tree cofferctl elsewhere: none found, says ./migrations" \
    grep -qx "cofferctl migrate: migrations: No such file or directory" "$T/mig.out"
dropdb "${PGDATABASE}_inst" >/dev/null 2>&1

MAN="$DEST/usr/share/man"
for p in man1/cofferctl.1 man8/coffer-gateway.8 man8/coffer-api.8 man5/coffer.conf.5; do
	LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings=all -l "$MAN/$p" >"$T/page" 2>"$T/warn"
	rc=$?
	groff -man -ww -z -Tutf8 "$MAN/$p" 2>>"$T/warn"
	if [ "$rc" -eq 0 ] && [ ! -s "$T/warn" ] && [ -s "$T/page" ]; then
		ok "man -l $p renders without warnings"
	else
		bad "man -l $p (exit $rc)"; head -5 "$T/warn"
	fi
done
MANWIDTH=200 man -l "$MAN/man1/cofferctl.1" 2>/dev/null | sed 's/‐//g' >"$T/ctl.txt"
missing=""
for v in $(verbs); do
	grep -q "^   $v\$" "$T/ctl.txt" || missing="$missing $v"
	for o in $("$CTL" "$v" --help | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u); do
		grep -qF -- "$o" "$T/ctl.txt" || missing="$missing $v:$o"
	done
done
check_eq "cofferctl(1) has every verb and every option of their --help" "" "$missing"
for b in coffer-gateway coffer-api; do
	missing=""
	MANWIDTH=200 man -l "$MAN/man8/$b.8" 2>/dev/null >"$T/d.txt"
	for o in $("$BUILD/$b" --help | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u); do
		grep -qF -- "$o" "$T/d.txt" || missing="$missing $o"
	done
	check_eq "$b(8) has every option of --help" "" "$missing"
done
missing=""
MANWIDTH=200 man -l "$MAN/man5/coffer.conf.5" 2>/dev/null >"$T/c.txt"
for k in listen pg_conninfo device_ca_dir people_crl workers db_connections; do
	grep -q "^ *$k " "$T/c.txt" || missing="$missing $k"
done
check_eq "coffer.conf(5) has the configuration keys" "" "$missing"

if command -v bash >/dev/null && [ -f /usr/share/bash-completion/bash_completion ]; then
	got=$(bash -c '. /usr/share/bash-completion/bash_completion
	    . "$1"; PATH="$2:$PATH"
	    COMP_WORDS=(cofferctl ""); COMP_CWORD=1; COMP_LINE="cofferctl "; COMP_POINT=10
	    _cofferctl; printf "%s\n" "${COMPREPLY[@]}"' _ \
	    "$DEST/usr/share/bash-completion/completions/cofferctl" "$BUILD" |
	    grep -v -- '^-' | grep -vx help | sort | tr '\n' ' ')
	check_eq "bash completion offers the verbs of 'cofferctl help'" \
	    "$(verbs | sort | tr '\n' ' ')" "$got"
	got=$(bash -c '. /usr/share/bash-completion/bash_completion
	    . "$1"; PATH="$2:$PATH"
	    COMP_WORDS=(cofferctl device ""); COMP_CWORD=2; COMP_LINE="cofferctl device "; COMP_POINT=17
	    _cofferctl; printf "%s\n" "${COMPREPLY[@]}"' _ \
	    "$DEST/usr/share/bash-completion/completions/cofferctl" "$BUILD" | sort | tr '\n' ' ')
	check_eq "bash completion offers device's subcommands" "$(subs device | tr '\n' ' ')" "$got"
else
	skip "bash-completion not installed: completion not exercised"
fi

# -- device list / user list: EXPIRES ------------------------------------------
gwf_server_cert || die "server certificate"
gwf_tenant hyg-acme || die "tenant"
gwf_device hyg-acme phone-a || die "device phone-a"
gwf_device hyg-acme phone-old --not-before 2020-01-01 --not-after 2020-06-01 ||
    die "device phone-old (expired)"
"$CTL" device list --tenant hyg-acme >"$T/out" 2>"$T/err"
check_eq "device list: exit" 0 "$?"
check "device list: EXPIRES column" grep -Eq '^DEVICE +STATUS .* EXPIRES$' "$T/out"
na=$(openssl x509 -in "$GWF_CERTS/phone-a.crt" -noout -enddate | sed 's/notAfter=//')
want=$(date -u -d "$na" +%Y-%m-%dT%H:%M:%SZ)
check "device list: phone-a active, expires $want" \
    grep -Eq "^phone-a +active .* $want\$" "$T/out"
check "device list: phone-old expired 2020-06-01" \
    grep -Eq '^phone-old +expired .* 2020-06-01T00:00:00Z$' "$T/out"
check "device list: no complaint on stderr" test ! -s "$T/err"
"$CTL" device list --tenant hyg-acme --pki "$T/nopki" >"$T/out" 2>"$T/err"
check_eq "device list without a readable CA index: still lists" 0 "$?"
check "... says why the expiry is unknown" \
    grep -q "cofferctl: device: expiry unknown: $T/nopki/devices/hyg-acme/index" "$T/err"
check "... and shows '-'" grep -Eq '^phone-a +active .* -$' "$T/out"
"$CTL" user issue --role auditor --tenant hyg-acme --name aud-1 --out "$T/u" \
    >/dev/null 2>"$T/err" || { bad "user issue"; cat "$T/err"; }
"$CTL" user list --tenant hyg-acme >"$T/out" 2>"$T/err"
check_eq "user list: exit" 0 "$?"
check "user list: EXPIRES column" grep -Eq '^NAME +ROLE .* EXPIRES +PERSON$' "$T/out"
check "user list: aud-1 active with an expiry" \
    grep -Eq '^aud-1 +auditor +- +active .* [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z +[0-9a-f-]{36}$' "$T/out"
check_fails "device list: other options refused" 2 "device: list takes only --tenant (and --pki, --config)" \
    "$CTL" device list --tenant hyg-acme --device phone-a

# -- gateway metrics -------------------------------------------------------------
gwf_node hyg-node || die "node"
gwf_config "workers = 3" || die "gateway configuration"
gwf_start || die "gateway start"
metrics() { curl -s "http://127.0.0.1:$GWF_METRICS_PORT/metrics" >"$T/m.txt"; }
val() {   # val SERIES: its value on the page, or "absent"
	awk -v s="$1" '$1 == s { print $2; f = 1 } END { if (!f) print "absent" }' "$T/m.txt"
}
valid() {   # the page is valid Prometheus text (one TYPE per family)
	python3 - "$T/m.txt" <<'EOF'
import re, sys
typed = set()
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if line.startswith("# TYPE "):
        f = line.split()
        assert len(f) == 4 and f[3] in ("counter", "gauge", "histogram"), line
        assert f[2] not in typed, "typed twice: " + f[2]
        typed.add(f[2])
        continue
    if not line or line.startswith("# HELP "):
        continue
    m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-z_]+="[^"\\]*")(,[a-z_]+="[^"\\]*")*\})? (\S+)$', line)
    assert m, "bad line: " + line
    float(m.group(5))
    base = re.sub(r"_(bucket|sum|count)$", "", m.group(1))
    assert m.group(1) in typed or base in typed, "untyped: " + line
EOF
}
# the lanes connect at their first batch: one record each way
rec() {
	printf '{"id":"hyg-%s","channel":"sms","conversation":"c","direction":"out","sender":"+15550001","recipients":["+15550002"],"sent_at":"2026-11-22T10:00:00Z","body":"x"}\n' "$1"
}
send() {   # send N FIRST: N records in one request; prints the status
	i=0; : >"$T/recs"
	while [ "$i" -lt "$1" ]; do rec "$2-$i" >>"$T/recs"; i=$((i + 1)); done
	gwf_curl phone-a -s -o /dev/null -w '%{http_code}' \
	    -H 'Content-Type: application/x-ndjson' --data-binary "@$T/recs" \
	    "$(gwf_url v1/records)"
}
lim=$(($(date +%s) + 20)) n=0
while :; do
	send 30 "up$n" >/dev/null; n=$((n + 1)); metrics
	[ "$(val coffer_gateway_db_lanes_up)" = 3 ] && break
	[ "$(date +%s)" -lt "$lim" ] || break
done
check "metrics page is valid Prometheus text" valid
check_eq "coffer_gateway_build_info{version} 1" 1 "$(val "coffer_gateway_build_info{version=\"$VERSION\"}")"
check_eq "coffer_gateway_db_lanes (workers = 3)" 3 "$(val coffer_gateway_db_lanes)"
check_eq "coffer_gateway_db_lanes_up: every lane connected" 3 "$(val coffer_gateway_db_lanes_up)"
check_eq "coffer_gateway_db_up 1" 1 "$(val coffer_gateway_db_up)"

[ -n "${COFFER_PG_CTL:-}" ] || die "COFFER_PG_CTL not set (run in tests/pg-harness.sh)"
"$COFFER_PG_CTL" stop -m fast >/dev/null 2>&1 || die "pg_ctl stop"
st=$(send 5 down)
check_eq "PostgreSQL stopped: ingest answers 503" 503 "$st"
metrics
lanes=$(val coffer_gateway_db_lanes_up)
check_eq "PostgreSQL stopped: coffer_gateway_db_up 0" 0 "$(val coffer_gateway_db_up)"
check "PostgreSQL stopped: lanes_up below 3 ($lanes)" test "$lanes" -lt 3
check "metrics page still valid" valid
"$COFFER_PG_CTL" start >/dev/null 2>&1 || die "pg_ctl start"
lim=$(($(date +%s) + 30)) n=0
while :; do
	send 30 "again$n" >/dev/null; n=$((n + 1)); metrics
	[ "$(val coffer_gateway_db_up)" = 1 ] && break
	[ "$(date +%s)" -lt "$lim" ] || break
	sleep 1
done
check_eq "PostgreSQL back: coffer_gateway_db_up 1 again" 1 "$(val coffer_gateway_db_up)"
# -- API metrics: build_info, db_up, request duration histogram ----------------
apf_user hyg-acme lee-api legal || die "API person"
apf_config && apf_start || die "coffer-api start"
apf_call lee-api GET /v1/matters
check_eq "API: GET /v1/matters" 200 "$APF_CODE"
apf_call lee-api GET /v1/whoami
amet() { curl -s "http://127.0.0.1:$APF_METRICS_PORT/metrics" >"$T/m.txt"; }
amet
check "API metrics page is valid Prometheus text" valid
check_eq "coffer_api_build_info{version} 1" 1 "$(val "coffer_api_build_info{version=\"$VERSION\"}")"
check_eq "coffer_api_db_up 1" 1 "$(val coffer_api_db_up)"
c=$(val 'coffer_api_request_duration_seconds_count{route="matter.list"}')
check "API duration histogram per route template (count $c)" test "$c" -ge 1 2>/dev/null
inf=$(val 'coffer_api_request_duration_seconds_bucket{route="matter.list",le="+Inf"}')
check_eq "... +Inf bucket equals the count" "$c" "$inf"
bad_lines=$(grep '^coffer_api_request_duration_seconds' "$T/m.txt" |
    grep -cvE '\{route="[a-z_]+(\.[a-z_]+)*"[,}]')
check_eq "... labelled by the route's action (matter.list), never a raw path" 0 "$bad_lines"
"$COFFER_PG_CTL" stop -m fast >/dev/null 2>&1 || die "pg_ctl stop"
apf_call lee-api GET /v1/matters
check "API: PostgreSQL stopped: GET /v1/matters fails ($APF_CODE)" test "$APF_CODE" -ge 500
amet
check_eq "PostgreSQL stopped: coffer_api_db_up 0" 0 "$(val coffer_api_db_up)"
"$COFFER_PG_CTL" start >/dev/null 2>&1 || die "pg_ctl start"
apf_call lee-api GET /v1/matters
amet
check_eq "PostgreSQL back: coffer_api_db_up 1 again" 1 "$(val coffer_api_db_up)"
apf_stop

leak=""
for s in phone-a phone-old hyg-acme +15550001 hyg-up0; do
	grep -qF -- "$s" "$T/m.txt" && leak="$leak $s"
done
check_eq "metrics carry no tenant, device or participant" "" "$leak"

# -- gateway expiry gauges: seconds until, from the files it loaded ----------------
# within 120 s of what openssl reads from the same files (the page is
# rendered at its own now)
near() {   # near NAME WANT GOT
	if [ "$3" = absent ] || [ -z "$3" ]; then bad "$1: absent"; return; fi
	d=$(( $2 - $3 )); [ "$d" -lt 0 ] && d=$(( -d ))
	if [ "$d" -le 120 ]; then ok "$1 ($3 s)"; else bad "$1: want ~$2, got $3"; fi
}
epoch_of() { date -u -d "$(cut -d= -f2)" +%s; }
# expiry_gauges WHO FETCH PREFIX SERVER_CRT CA_LABEL PKI_DIR: the three
# gauges of a daemon (page fetched by FETCH) against openssl
expiry_gauges() {
	now=$(date +%s)
	srv=$(openssl x509 -in "$4" -noout -enddate | epoch_of)
	ca=$(openssl x509 -in "$6/ca.pem" -noout -enddate | epoch_of)
	crl=$(openssl crl -in "$6/crl.pem" -noout -nextupdate | epoch_of)
	"$2"
	check "$1 metrics page with the expiry gauges is valid Prometheus text" valid
	near "$1 cert_expiry_seconds{cert=server} is its certificate's notAfter" \
	    $((srv - now)) "$(val "${3}_cert_expiry_seconds{cert=\"server\"}")"
	near "$1 cert_expiry_seconds{cert=$5} is the CA's notAfter" \
	    $((ca - now)) "$(val "${3}_cert_expiry_seconds{cert=\"$5\"}")"
	near "$1 crl_next_update_seconds is the CRL's nextUpdate" \
	    $((crl - now)) "$(val "${3}_crl_next_update_seconds")"
}
DCA="$COFFER_PKI/devices/hyg-acme"
expiry_gauges gateway metrics coffer_gateway "$GWF_SRV_CRT" device_ca "$DCA"
check_eq "tenants_without_crl 0" 0 "$(val coffer_gateway_tenants_without_crl)"
# The CRL gone: after a reload the gauge says so, and the CRL series goes.
mv "$DCA/crl.pem" "$DCA/crl.pem.away"
before=$(val 'coffer_gateway_reloads_total{result="ok"}')
kill -HUP "$(cat "$GWF_PIDFILE")"
lim=$(( $(date +%s) + 10 ))
while metrics; [ "$(val 'coffer_gateway_reloads_total{result="ok"}')" = "$before" ]; do
	[ "$(date +%s)" -lt "$lim" ] || break
	sleep 0.2
done
check_eq "CRL removed, reloaded: tenants_without_crl 1" 1 "$(val coffer_gateway_tenants_without_crl)"
check_eq "CRL removed, reloaded: no crl_next_update_seconds series" absent \
    "$(val coffer_gateway_crl_next_update_seconds)"
mv "$DCA/crl.pem.away" "$DCA/crl.pem"

# -- device certificate expiry: the directory's cert_not_after (migration 0013) --
# dev_gauges WHAT COUNT SECONDS: once the directory refresh (pushed by the
# change's NOTIFY) shows devices_expiring_30d COUNT (10 s at most), the
# soonest device certificate is ~SECONDS away
dev_gauges() {
	lim=$(( $(date +%s) + 10 ))
	while metrics; [ "$(val coffer_gateway_devices_expiring_30d)" != "$2" ]; do
		[ "$(date +%s)" -lt "$lim" ] || break
		sleep 0.2
	done
	check_eq "$1: devices_expiring_30d $2" "$2" \
	    "$(val coffer_gateway_devices_expiring_30d)"
	near "$1: device_cert_expiry_seconds ~$3" "$3" \
	    "$(val coffer_gateway_device_cert_expiry_seconds)"
}
dev_gauges "the expired active phone-old (2020-06-01) counts and is the soonest" \
    1 $(( $(date -u -d 2020-06-01 +%s) - $(date +%s) ))
"$CTL" device revoke --tenant hyg-acme --device phone-old >/dev/null 2>&1 ||
    bad "device revoke phone-old"
dev_gauges "phone-old revoked: phone-a's 365 days" 0 $((365 * 86400))
gwf_device hyg-acme phone-10 --days 10 || bad "device issue phone-10 --days 10"
dev_gauges "device issued --days 10" 1 $((10 * 86400))
gwf_device hyg-acme phone-10 --days 60 || bad "device re-issue phone-10 --days 60"
dev_gauges "phone-10 re-issued --days 60" 0 $((60 * 86400))
check "metrics page with the device gauges is valid Prometheus text" valid
gwf_stop

# -- API expiry gauges: the same rule, from the files the API loaded -------------
apf_start || die "coffer-api restart"
expiry_gauges API amet coffer_api "$APF_DIR/srv/apf-api.crt" people_ca \
    "$COFFER_PKI/people"
# the people CRL gone: a request reloads (the files are looked at once a
# second), fails closed, and the people series go; back, they return
mv "$COFFER_PKI/people/crl.pem" "$T/people-crl.away"
lim=$(( $(date +%s) + 10 ))
while apf_call lee-api GET /v1/whoami; amet
	[ "$(val coffer_api_crl_next_update_seconds)" != absent ]; do
	[ "$(date +%s)" -lt "$lim" ] || break
	sleep 0.3
done
check_eq "people CRL gone, reload failed: no crl_next_update_seconds" absent \
    "$(val coffer_api_crl_next_update_seconds)"
check_eq "... nor cert_expiry_seconds{cert=people_ca}" absent \
    "$(val 'coffer_api_cert_expiry_seconds{cert="people_ca"}')"
mv "$T/people-crl.away" "$COFFER_PKI/people/crl.pem"
sleep 1.1
apf_call lee-api GET /v1/whoami
check_eq "people CRL back: GET /v1/whoami" 200 "$APF_CODE"
expiry_gauges "API (reloaded)" amet coffer_api "$APF_DIR/srv/apf-api.crt" \
    people_ca "$COFFER_PKI/people"
apf_stop

finish
