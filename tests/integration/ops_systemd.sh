#!/bin/sh
# tests/integration/ops_systemd.sh — the systemd units in ops/systemd/.
#
#   - `systemd-analyze verify` accepts every unit without a warning (an
#     unknown or misspelt directive is only a warning there, so any output
#     counts as a failure); ExecStart paths are pointed at the built
#     binaries first, since verify checks that they exist
#   - `systemd-analyze security --offline=yes`: each daemon's exposure is
#     at most 2.0 ("OK")
#   - each daemon unit has the sandbox the README promises: a dedicated
#     User=, NoNewPrivileges, ProtectSystem=strict, ProtectHome, PrivateTmp,
#     MemoryDenyWriteExecute, LimitCORE=0, a minimal CapabilityBoundingSet,
#     SystemCallFilter=@system-service
#   - the only writable paths are the witness / productions directories, and
#     the sample configurations put witness_file / productions_dir /
#     audit_witness_file inside
#     them; ExecStart uses the config path the samples document
# Skips (exit 0, reason printed) when systemd-analyze is not installed.
# Prints "N passed, M failed".
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
U=$ROOT/ops/systemd

. "$ROOT/tests/lib/check.sh"

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "ops_systemd: SKIPPED: systemd-analyze not installed (make deps installs systemd)"
	exit 0
fi

T=$(mktemp -d "${COFFER_TEST_TMP:-/tmp}/units.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT INT TERM

# Point the units at the built binaries (verify checks that ExecStart= exists).
for f in "$U"/*.service "$U"/*.timer; do
	sed -e "s|/usr/local/bin/coffer-gateway|$BUILD/coffer-gateway|g" \
	    -e "s|/usr/local/bin/coffer-api|$BUILD/coffer-api|g" \
	    -e "s|/usr/local/bin/cofferctl|$BUILD/cofferctl|g" \
	    -e "s|/usr/local/bin/coffer-agent|$BUILD/coffer-agent|g" "$f" >"$T/${f##*/}"
done
for b in coffer-gateway coffer-api cofferctl coffer-agent; do
	# a daemon not built yet: verify the unit against a stand-in
	[ -x "$BUILD/$b" ] || { printf '#!/bin/sh\n' >"$T/$b"; chmod +x "$T/$b"; \
	    sed -i "s|$BUILD/$b|$T/$b|g" "$T"/*.service; echo "note - $b not built: a stand-in executable is used"; }
done

for f in "$T"/*.service "$T"/*.timer; do
	n=${f##*/}
	(cd "$T" && systemd-analyze verify "./$n") >"$T/out" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ] && [ ! -s "$T/out" ]; then
		ok "systemd-analyze verify $n: clean"
	else
		bad "systemd-analyze verify $n (exit $rc):"
		sed 's/^/     /' "$T/out"
	fi
done

for d in coffer-gateway coffer-api coffer-agent; do
	f=$T/$d.service
	(cd "$T" && systemd-analyze security --offline=yes --no-pager "./$d.service") >"$T/sec" 2>&1
	level=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$T/sec")
	check "$d: exposure level ${level:-?} <= 2.0" \
	    awk -v l="${level:-99}" 'BEGIN { exit !(l <= 2.0) }'
	for want in "NoNewPrivileges=yes" "ProtectSystem=strict" "ProtectHome=yes" \
	    "PrivateTmp=yes" "MemoryDenyWriteExecute=yes" "LimitCORE=0" \
	    "SystemCallFilter=@system-service" "User=$d" \
	    "CapabilityBoundingSet=$([ "$d" = coffer-agent ] || echo CAP_NET_BIND_SERVICE)"; do
		check "$d: $want" grep -qx "$want" "$f"
	done
	check "$d: no DynamicUser/root (User= is not root)" sh -c "! grep -qx 'User=root' '$f'"
done

# ExecStart config paths and writable paths agree with the samples.
conf_of() { sed -n "s/^$2 *= *//p" "$ROOT/ops/config/$1.conf.sample"; }
rw_of() { sed -n 's/^ReadWritePaths=-\{0,1\}//p' "$U/$1.service"; }
inside() {   # inside FILE DIR...: FILE is under one of DIRs
	f=$1
	shift
	for d in "$@"; do
		case "$f" in "$d"/*) return 0 ;; esac
	done
	return 1
}
check "gateway unit runs /etc/coffer/gateway.conf" grep -q -- '--config /etc/coffer/gateway.conf$' "$U/coffer-gateway.service"
check "API unit runs /etc/coffer/api.conf" grep -q -- '--config /etc/coffer/api.conf$' "$U/coffer-api.service"
w=$(conf_of gateway witness_file)
# shellcheck disable=SC2046
check "gateway sample witness_file ($w) is inside ReadWritePaths ($(rw_of coffer-gateway))" \
    inside "$w" $(rw_of coffer-gateway)
p=$(conf_of api productions_dir)
# shellcheck disable=SC2046
check "API sample productions_dir ($p/...) is inside ReadWritePaths ($(rw_of coffer-api))" \
    inside "$p/x" $(rw_of coffer-api)
a=$(conf_of api audit_witness_file)
# shellcheck disable=SC2046
check "API sample audit_witness_file ($a) is inside ReadWritePaths ($(rw_of coffer-api))" \
    inside "$a" $(rw_of coffer-api)

finish
