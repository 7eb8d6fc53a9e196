#!/bin/sh
# tests/integration/ops_docs.sh — the README's references match the code.
#
#   - "Gateway configuration" / "API configuration": the documented options
#     are exactly the keys of the option tables in gateway/config.c and
#     api/config.c (an undocumented key or a documented key the binary does
#     not know both fail), and the sample configurations in ops/config/
#     name exactly the same keys;
#   - a configuration file holding every documented option, set to its
#     documented default (required ones to real test files), passes the
#     binary's --check-config, and one more unknown key makes it fail — so
#     the documented names and default values are what the binary accepts;
#   - "API reference": the documented (method, path, roles) rows are exactly
#     the route table in api/server.c;
#   - "cofferctl reference": every verb `cofferctl help` lists, and every
#     subcommand its --help shows, is documented, and nothing else is;
#   - "Monitoring": every metric it names is exported by the daemons.
# Runs inside tests/pg-harness.sh (cofferctl needs the database to make the
# test PKI).  Prints "N passed, M failed".
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
CTL="$BUILD/cofferctl"

. "$ROOT/tests/lib/check.sh"

[ -x "$CTL" ] || { echo "ops_docs: $CTL not built"; exit 1; }
T=$(mktemp -d "${COFFER_TEST_TMP:-/tmp}/docs.XXXXXX") || exit 1
chmod 0755 "$T"
trap 'rm -rf "$T"' EXIT INT TERM

# -- the comparisons that need only the sources ------------------------------------
# docs.py prints "ok|fail<TAB>message" lines; it also writes, per daemon,
# T/<daemon>.documented with "key<TAB>default-or-REQUIRED-or-EMPTY".
cat >"$T/docs.py" <<'EOF'
import re, subprocess, sys

root, ctl, out = sys.argv[1], sys.argv[2], sys.argv[3]
readme = open(root + "/README.md").read().split("\n")

def say(good, msg):
    print(("ok" if good else "fail") + "\t" + msg)

sys.dont_write_bytecode = True     # nothing written into the source tree
sys.path.insert(0, root + "/docs/man")
import mkman    # noqa: E402  the README's sections, as the man pages read them

def section(title_prefix):
    return mkman.section(readme, title_prefix)

def code_keys(path):
    src = open(root + "/" + path).read()
    m = re.search(r"cfg_opts\[\]\s*=\s*\{(.*?)\n\};", src, re.S)
    if not m:
        return None
    return re.findall(r'\{\s*"([a-z0-9_]+)",\s*CFG_[A-Z]+', m.group(1))

def sample_keys(path):
    keys = []
    for l in open(root + "/" + path):
        m = re.match(r"#?([a-z][a-z0-9_]*) =( |$)", l)
        if m:
            keys.append(m.group(1))
    return keys

def compare(what, documented, actual):
    d, a = set(documented), set(actual)
    dups = sorted({k for k in documented if documented.count(k) > 1})
    say(not dups, "%s: no entry documented twice %s" % (what, dups or ""))
    say(d - a == set(), "%s: documented but unknown to the code: %s"
        % (what, sorted(d - a) or "none"))
    say(a - d == set(), "%s: in the code but undocumented: %s"
        % (what, sorted(a - d) or "none"))

for daemon, title, src, sample in (
        ("gateway", "Gateway configuration", "gateway/config.c", "ops/config/gateway.conf.sample"),
        ("api", "API configuration", "api/config.c", "ops/config/api.conf.sample")):
    body = section(title)
    if body is None:
        say(False, "README has no section '%s'" % title)
        continue
    rows = []
    for l in body:
        m = re.match(r"\| `([a-z0-9_]+)` \| ([^|]*) \|", l)
        if m:
            cell = m.group(2).strip()
            if cell == "*required*":
                dflt = "REQUIRED"
            elif cell == "*(empty)*":
                dflt = "EMPTY"
            else:
                mv = re.fullmatch(r"`([^`]*)`", cell)
                dflt = mv.group(1) if mv else "BAD:" + cell
            rows.append((m.group(1), dflt))
    bad = [k for k, v in rows if v.startswith("BAD:")]
    say(not bad, "%s: every documented default is `value`, *required* or *(empty)* %s"
        % (daemon, bad or ""))
    with open("%s/%s.documented" % (out, daemon), "w") as f:
        for k, v in rows:
            f.write("%s\t%s\n" % (k, v))
    keys = code_keys(src)
    if keys is None:
        say(False, "%s: no cfg_opts table found in %s" % (daemon, src))
        continue
    say(len(keys) > 5, "%s: %d options in %s" % (daemon, len(keys), src))
    compare("%s README" % daemon, [k for k, _ in rows], keys)
    compare("%s sample %s" % (daemon, sample), sample_keys(sample), keys)

# -- routes ------------------------------------------------------------------------
body = section("API reference")
doc_routes = {}
for l in body or []:
    m = re.match(r"\| `(GET|POST|PUT|DELETE|PATCH)` \| `([^`]+)` \| ([^|]*) \|", l)
    if m:
        roles = frozenset(r.strip() for r in m.group(3).split(",") if r.strip())
        key = (m.group(1), m.group(2))
        say(key not in doc_routes, "route %s %s documented once" % key)
        doc_routes[key] = roles
src = open(root + "/api/server.c").read()
m = re.search(r"api_routes\[\]\s*=\s*\{(.*?)\n\};", src, re.S)
code_routes = {}
if m:
    for e in re.finditer(r'\{\s*"([A-Z]+)",\s*"([^"]+)",\s*"[^"]*",\s*([^,]+),', m.group(1)):
        roles = frozenset(r.strip()[len("API_ROLE_"):].lower()
                          for r in e.group(3).split("|"))
        code_routes[(e.group(1), e.group(2))] = roles
say(len(code_routes) > 5, "%d routes in api/server.c, %d documented"
    % (len(code_routes), len(doc_routes)))
d, c = set(doc_routes), set(code_routes)
say(d - c == set(), "routes documented but not in the route table: %s"
    % (sorted(d - c) or "none"))
say(c - d == set(), "routes in the route table but undocumented: %s"
    % (sorted(c - d) or "none"))
wrong = ["%s %s: README %s, code %s" % (k + (sorted(doc_routes[k]), sorted(code_routes[k])))
         for k in sorted(d & c) if doc_routes[k] != code_routes[k]]
say(not wrong, "documented roles equal the route table's %s" % (wrong or ""))

# -- cofferctl -------------------------------------------------------------------------
body = "\n".join(section("cofferctl reference") or [])
documented = set(re.findall(r"`cofferctl ([a-z][a-z-]*(?: [a-z][a-z-]*)?)", body))
help_out = subprocess.run([ctl, "help"], capture_output=True, text=True).stdout
verbs = [m.group(1) for m in re.finditer(r"^  ([a-z][a-z-]*) ", help_out, re.M)
         if m.group(1) != "help"]
say(len(verbs) >= 7, "cofferctl help lists %d verbs" % len(verbs))
# Every "cofferctl VERB SUB" any verb's --help shows is a command; a verb
# with no subcommand anywhere is a command by itself.
helps = ""
for v in verbs:
    r = subprocess.run([ctl, v, "--help"], capture_output=True, text=True)
    helps += r.stdout + r.stderr + "\n"
actual = set()
for v in verbs:
    subs = set(re.findall(r"cofferctl %s ([a-z][a-z-]*)" % re.escape(v), helps))
    if subs:
        actual |= {v + " " + s for s in subs}
    else:
        actual.add(v)
# a documented "verb sub" counts for "verb" when the verb has no subcommands
doc_norm = set()
for e in documented:
    v = e.split(" ")[0]
    doc_norm.add(e if e in actual or v not in actual else v)
missing = sorted(actual - doc_norm)
extra = sorted(doc_norm - actual - {"help"})
say(not missing, "every cofferctl command is documented (missing: %s)" % (missing or "none"))
say(not extra, "every documented cofferctl command exists (unknown: %s)" % (extra or "none"))

# "Monitoring": every metric the table names is one the daemons export
# (its name, quoted, in gateway/*.c or api/*.c), so an alert cannot watch
# a series that does not exist.
import glob
src = "".join(open(f).read() for f in glob.glob(root + "/gateway/*.c") +
              glob.glob(root + "/api/*.c"))
mon = "\n".join(section("Monitoring") or [])
named = sorted(set(re.findall(r"`(coffer_(?:gateway|api)_[a-z0-9_]+)", mon)))
gone = [n for n in named if n not in src]
say(len(named) > 10, "Monitoring names %d metrics" % len(named))
say(not gone, "every metric in Monitoring is exported (unknown: %s)" % (gone or "none"))
EOF

python3 "$T/docs.py" "$ROOT" "$CTL" "$T" >"$T/docs.out" 2>&1 ||
    { cat "$T/docs.out"; bad "docs.py crashed"; finish; }
while IFS='	' read -r verdict msg; do
	case "$verdict" in
	ok) ok "$msg" ;;
	fail) bad "$msg" ;;
	*) bad "docs.py: $verdict $msg" ;;
	esac
done <"$T/docs.out"

# -- the binaries accept every documented option at its documented default -----------
export COFFER_PKI="$T/pki"
for i in 1 2 3; do echo "docs test passphrase $i" >"$T/p$i"; done
{
	"$CTL" tenant init --name docs --custodians 3 --threshold 2 --out "$T/tenant" \
	    --passphrase-file "$T/p1" --passphrase-file "$T/p2" --passphrase-file "$T/p3" &&
	"$CTL" node init --name docs-gw --key-out "$T/gw.key" &&
	"$CTL" node init --kind api --name docs-api --key-out "$T/api.key" &&
	"$CTL" pki server --name srv --dns localhost --ip 127.0.0.1 --out "$T/srv" &&
	"$CTL" device ca-init --tenant docs &&
	"$CTL" pki people-ca-init
} >"$T/setup.log" 2>&1 || { cat "$T/setup.log"; bad "test PKI"; finish; }
mkdir -p "$T/keys" "$T/prod"
cp -p "$T/tenant/docs.bik" "$T/tenant/docs.pin" "$T/keys/"
RUNAS=""
[ "$(id -u)" -ne 0 ] || RUNAS=nobody

# value DAEMON KEY: what the generated file sets for a required or empty key
value() {
	case "$1:$2" in
	*:user) echo "$RUNAS" ;;
	*:cert_file) echo "$T/srv/srv.crt" ;;
	*:key_file) echo "$T/srv/srv.key" ;;
	gateway:device_ca_dir) echo "$COFFER_PKI/devices" ;;
	gateway:node_name) echo docs-gw ;;
	gateway:signing_key_file) echo "$T/gw.key" ;;
	gateway:witness_file) echo "$T/witness.jsonl" ;;
	api:listen) echo 127.0.0.1:18999 ;;
	api:people_ca) echo "$COFFER_PKI/people/ca.pem" ;;
	api:people_crl) echo "$COFFER_PKI/people/crl.pem" ;;
	api:productions_dir) echo "$T/prod" ;;
	api:node_name) echo docs-api ;;
	api:signing_key_file) echo "$T/api.key" ;;
	*:keys_dir) echo "$T/keys" ;;
	*:pg_conninfo) echo "dbname=coffer" ;;
	*) echo "" ;;
	esac
}

for d in gateway api; do
	bin=$BUILD/coffer-$d
	doc=$T/$d.documented
	if [ ! -x "$bin" ]; then
		echo "skip - coffer-$d not built: its --check-config part did not run"
		continue
	fi
	[ -s "$doc" ] || { bad "$d: no documented options parsed"; continue; }
	while IFS='	' read -r k v; do
		case "$v" in
		REQUIRED | EMPTY) printf '%s = "%s"\n' "$k" "$(value "$d" "$k")" ;;
		*) printf '%s = %s\n' "$k" "$v" ;;
		esac
	done <"$doc" >"$T/$d.conf"
	if "$bin" --config "$T/$d.conf" --check-config >"$T/$d.check" 2>&1; then
		ok "coffer-$d --check-config accepts all $(wc -l <"$doc") documented options at their documented defaults"
	else
		bad "coffer-$d --check-config refused the documented options:"
		sed 's/^/     /' "$T/$d.check"
	fi
	cp "$T/$d.conf" "$T/$d.bad.conf"
	echo "no_such_option_for_docs = 1" >>"$T/$d.bad.conf"
	if "$bin" --config "$T/$d.bad.conf" --check-config >"$T/$d.check" 2>&1; then
		bad "coffer-$d --check-config accepted an unknown option"
	elif grep -q 'no_such_option_for_docs' "$T/$d.check"; then
		ok "coffer-$d --check-config refuses an unknown option, naming it"
	else
		bad "coffer-$d --check-config failed without naming the unknown option:"
		sed 's/^/     /' "$T/$d.check"
	fi
done
finish
