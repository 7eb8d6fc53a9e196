#!/bin/sh
# tests/pg-harness.sh — run the integration tests against a throwaway
# PostgreSQL 15 cluster.
#
#   sh tests/pg-harness.sh                 every $BUILD/tests/itest_* and
#                                          tests/integration/*.sh
#   sh tests/pg-harness.sh --only NAME     one of them (itest_migrate, ctl_tenant,
#                                          ctl_tenant.sh, ...), or several:
#                                          --only "NAME NAME..." (make
#                                          integration ITESTS="...")
#   sh tests/pg-harness.sh --shell CMD...  run CMD inside the cluster's
#                                          environment (demo, bench, poking)
#   sh tests/pg-harness.sh --queue DIR     one lane of tests/run-lanes.sh:
#                                          claims tests from DIR/order
#
# COFFER_ITEST_DIR=tests/torture runs that directory's *.sh instead (make
# torture; the itest_* binaries are then not run).
#
# The cluster lives in a mktemp directory, listens on a Unix socket in that
# directory only (listen_addresses = ''), trusts local connections, keeps
# fsync and synchronous_commit on, and is stopped and deleted on every exit
# path (success, failure, ^C, TERM, HUP).  As root the server runs as the
# unprivileged system user `coffertest` (created if missing).
#
# Tests get:
#   PGHOST PGPORT PGUSER=postgres (superuser, owns the schema)
#   PGDATABASE=t_<test name>: the test's own copy of the migrated template
#     `coffer`, dropped after it (--shell: `coffer` itself)
#   login roles gw, api, auditor, purger — members of coffer_gateway,
#     coffer_api, coffer_verify, coffer_purge (connect with PGUSER=gw, ...)
#   COFFER_TEST_PGDATA   the data directory
#   COFFER_PG_CTL        pg_ctl bound to that cluster, run as its owner:
#                        "$COFFER_PG_CTL" stop -m fast; "$COFFER_PG_CTL" start
#   COFFER_MIGRATIONS_DIR, BUILD, COFFER_TEST_TMP (scratch, removed at exit)
# A test that leaves the server stopped gets it restarted before the next.
set -u

BUILD=${BUILD:-build}
PGBIN=${COFFER_PGBIN:-/usr/lib/postgresql/15/bin}
TEST_TIMEOUT=${COFFER_ITEST_TIMEOUT:-600}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
# shellcheck source=lib/db-setup.sh
. "$ROOT/tests/lib/db-setup.sh"

usage() {
	echo "usage: sh tests/pg-harness.sh [--only NAME | --shell CMD... | --queue DIR]" >&2
	exit 2
}

mode=all
only=""
case "${1:-}" in
"") ;;
--only)
	[ $# -eq 2 ] || usage
	mode=only
	only=$2
	;;
--shell)
	shift
	[ $# -ge 1 ] || usage
	mode=shell
	;;
--queue)
	[ $# -eq 2 ] && [ -f "$2/order" ] || usage
	mode=queue
	queue=$2
	;;
*) usage ;;
esac

die() {
	echo "pg-harness: $*" >&2
	exit 1
}

[ -x "$PGBIN/initdb" ] || die "$PGBIN/initdb not found (make deps installs postgresql-15)"
[ -x "$BUILD/cofferctl" ] || die "$BUILD/cofferctl not built (make)"
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac

# -- who runs the server ------------------------------------------------------
if [ "$(id -u)" -eq 0 ]; then
	PGOWNER=coffertest
	if ! id -u "$PGOWNER" >/dev/null 2>&1; then
		useradd --system --no-create-home --home-dir /nonexistent \
		    --shell /usr/sbin/nologin "$PGOWNER" 2>/dev/null ||
		    id -u "$PGOWNER" >/dev/null 2>&1 ||   # a parallel run made it
		    die "cannot create system user $PGOWNER"
	fi
	as_owner() { runuser -u "$PGOWNER" -- "$@"; }
else
	PGOWNER=$(id -un)
	as_owner() { "$@"; }
fi

# -- the cluster ----------------------------------------------------------------
TMP=""
cleaned=0
cleanup() {
	[ "$cleaned" -eq 0 ] || return 0
	cleaned=1
	if [ -n "$TMP" ] && [ -d "$TMP" ]; then
		if [ -f "$TMP/data/postmaster.pid" ]; then
			as_owner "$PGBIN/pg_ctl" -D "$TMP/data" -m immediate -s \
			    stop >/dev/null 2>&1 || true
		fi
		rm -rf "$TMP"
	fi
}
# Commands run in the background and are waited for, so a signal to the
# harness runs its trap at once (not after the command ends) and is passed
# on; stdin is handed through fd 3 (a background command would otherwise
# read /dev/null).
child=""
on_signal() {
	[ -z "$child" ] || kill -TERM "$child" 2>/dev/null
	exit "$1"
}
run_fg() {
	"$@" <&3 3<&- &
	child=$!
	wait "$child"
	rc=$?
	child=""
	return "$rc"
}
# (CI may start us with stdin closed: fall back to /dev/null.)
if [ -e "/proc/$$/fd/0" ]; then exec 3<&0; else exec 3</dev/null; fi
trap cleanup EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
trap 'on_signal 129' HUP

TMP=$(mktemp -d "${TMPDIR:-/tmp}/coffer-pg.XXXXXX") || die "mktemp failed"
# Tests run Debian's python3 (make deps installs it and the modules they
# import), not a wrapper found first on PATH: a pyenv shim costs about
# 0.3 s of CPU a start, and tests poll with python3 in loops.
if [ -x /usr/bin/python3 ]; then
	mkdir "$TMP/bin" && ln -s /usr/bin/python3 "$TMP/bin/python3" &&
	    PATH="$TMP/bin:$PATH" && export PATH
fi
# The socket lives here: the server's owner writes it, tests (maybe another
# user) must reach it.  The data directory below stays 0700.
chmod 0755 "$TMP"
[ "$PGOWNER" = "$(id -un)" ] || chown "$PGOWNER" "$TMP"
PGDATA_DIR=$TMP/data
PORT=5432   # the socket directory is private, so the port never collides

if ! as_owner "$PGBIN/initdb" -D "$PGDATA_DIR" -U postgres -E UTF8 \
    --no-locale --auth-local=trust --auth-host=reject --no-sync \
    --no-instructions >"$TMP/initdb.log" 2>&1; then
	cat "$TMP/initdb.log" >&2
	die "initdb failed"
fi
cat >>"$PGDATA_DIR/postgresql.conf" <<EOF

# --- tests/pg-harness.sh ---
listen_addresses = ''
unix_socket_directories = '$TMP'
unix_socket_permissions = 0777
port = $PORT
fsync = on
synchronous_commit = on
max_connections = 100
shared_buffers = 64MB
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
EOF

cat >"$TMP/pg_ctl" <<EOF
#!/bin/sh
# pg_ctl for the harness cluster, run as its owner (tests: COFFER_PG_CTL).
EOF
if [ "$(id -u)" -eq 0 ]; then
	echo "exec runuser -u $PGOWNER -- $PGBIN/pg_ctl -D $PGDATA_DIR -l $TMP/server.log \"\$@\"" >>"$TMP/pg_ctl"
else
	echo "exec $PGBIN/pg_ctl -D $PGDATA_DIR -l $TMP/server.log \"\$@\"" >>"$TMP/pg_ctl"
fi
chmod 0755 "$TMP/pg_ctl"
# The server log is written by the owner; create it so pg_ctl can append.
: >"$TMP/server.log"
[ "$PGOWNER" = "$(id -un)" ] || chown "$PGOWNER" "$TMP/server.log"

if ! "$TMP/pg_ctl" -w -t 60 -s start >/dev/null 2>&1; then
	cat "$TMP/server.log" >&2
	die "server did not start"
fi

export PGHOST="$TMP" PGPORT="$PORT" PGUSER=postgres PGDATABASE=postgres
unset PGHOSTADDR PGSERVICE PGSERVICEFILE PGOPTIONS PGPASSWORD PGPASSFILE \
    PGSSLMODE PGREQUIRESSL PGTARGETSESSIONATTRS 2>/dev/null || true
PSQL="$PGBIN/psql -X -q -v ON_ERROR_STOP=1"

$PSQL -c "CREATE DATABASE coffer" || die "CREATE DATABASE failed"
export PGDATABASE=coffer
export COFFER_MIGRATIONS_DIR="$ROOT/migrations"
if ! "$BUILD/cofferctl" migrate --dir "$COFFER_MIGRATIONS_DIR" >"$TMP/migrate.log" 2>&1; then
	cat "$TMP/migrate.log" >&2
	die "migrations failed"
fi
# Login roles and audit signers (issue 13.5), registered in the template so
# that every test database has them: cofferctl signs with the ctl node,
# purge with the purge node.  Tests with their own node pins file start it
# from $COFFER_BASE_PINS (gwf_setup does).
# shellcheck disable=SC2086  # $PSQL is a command line
dbs_roles_signers "$TMP/audit" harness $PSQL || die "$DBS_ERR failed"

export COFFER_TEST_PGDATA="$PGDATA_DIR" COFFER_PG_CTL="$TMP/pg_ctl"
export COFFER_TEST_TMP="$TMP/scratch" BUILD
mkdir -p "$COFFER_TEST_TMP"

if [ "$mode" = shell ]; then
	run_fg "$@"
	exit $?
fi

# -- the tests ------------------------------------------------------------------
ensure_up() {
	if ! "$TMP/pg_ctl" status >/dev/null 2>&1; then
		echo "pg-harness: server was left stopped; starting it again"
		"$TMP/pg_ctl" -w -t 60 -s start >/dev/null 2>&1 ||
		    { cat "$TMP/server.log" >&2; die "server did not restart"; }
	fi
}

passed=0
failed=0
failed_names=""
# Each test gets its own database, cloned from the migrated `coffer`
# template, so tests cannot see each other's tenants, rows or audit chains.
fresh_db() {
	db="t_$(printf '%s' "$1" | tr -c 'A-Za-z0-9_\n' '_')"
	PGDATABASE=postgres $PSQL -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" &&
	    PGDATABASE=postgres $PSQL -c "CREATE DATABASE \"$db\" TEMPLATE coffer" ||
	    die "could not create database $db for $1"
}
drop_db() {
	PGDATABASE=postgres $PSQL -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
}

run_one() {
	name=$1
	shift
	echo "== $name"
	fresh_db "$name"
	export PGDATABASE="$db"
	t0=$(date +%s)
	if run_fg timeout -k 10 "$TEST_TIMEOUT" "$@"; then
		passed=$((passed + 1))
		echo "-- $name: $(($(date +%s) - t0)) s"
	else
		rc=$?
		[ "$rc" -eq 124 ] && echo "!! $name timed out after ${TEST_TIMEOUT}s"
		echo "!! $name FAILED (exit $rc)"
		failed=$((failed + 1))
		failed_names="$failed_names $name"
	fi
	ensure_up
	export PGDATABASE=coffer
	drop_db
}

matches() {   # matches NAME: is NAME selected by --only?
	[ "$mode" = all ] && return 0
	for o in $only; do
		[ "$o" = "$1" ] || [ "$o.sh" = "$1" ] || [ "$o" = "${1%.sh}" ] &&
		    return 0
	done
	return 1
}

ITEST_DIR=${COFFER_ITEST_DIR:-tests/integration}
if [ "$mode" = queue ]; then
	# A lane (tests/run-lanes.sh): every lane walks the same order and
	# runs the tests it claims first (mkdir is atomic); each test's output
	# goes to its own file, named in DIR/done once the test has ended.
	mkdir -p "$queue/claim" "$queue/out"
	while read -r n; do
		mkdir "$queue/claim/$n" 2>/dev/null || continue
		if [ -x "$BUILD/tests/$n" ]; then
			set -- "$BUILD/tests/$n"
		elif [ -f "$ITEST_DIR/$n" ]; then
			set -- sh "$ITEST_DIR/$n"
		else
			echo "pg-harness: no integration test named '$n'" >"$queue/out/$n"
			failed=$((failed + 1))
			failed_names="$failed_names $n"
			echo "$n" >>"$queue/done"
			continue
		fi
		run_one "$n" "$@" >"$queue/out/$n" 2>&1 3</dev/null
		echo "$n" >>"$queue/done"
	done <"$queue/order"
	echo "$passed $failed$failed_names" >"$queue/lane.$$"
	exit 0
fi
for t in "$BUILD"/tests/itest_*; do
	[ "$ITEST_DIR" = tests/integration ] || break
	[ -f "$t" ] && [ -x "$t" ] || continue
	n=$(basename "$t")
	matches "$n" || continue
	run_one "$n" "$t"
done
for t in "$ITEST_DIR"/*.sh; do
	[ -f "$t" ] || continue
	n=$(basename "$t")
	matches "$n" || continue
	run_one "$n" sh "$t"
done

if [ $((passed + failed)) -eq 0 ]; then
	if [ "$mode" = only ]; then
		die "no integration test named '$only' (built? $BUILD/tests/itest_*, $ITEST_DIR/*.sh)"
	fi
	echo "integration: no tests found"
fi
if [ "$mode" = only ] && [ $((passed + failed)) -lt "$(echo "$only" | wc -w)" ]; then
	echo "pg-harness: --only \"$only\": $((passed + failed)) of them found" >&2
	failed=$((failed + 1))
	failed_names="$failed_names (missing)"
fi
[ "$failed" -eq 0 ] || echo "failed:$failed_names"
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
