#!/bin/sh
# ops/pg-private.sh — a private PostgreSQL 15 cluster for development and
# the demo, under ./var/pg (no system database setup needed).
#
#   sh ops/pg-private.sh start    create it if missing, start it if stopped
#   sh ops/pg-private.sh stop     stop it (fast shutdown); data is kept
#   sh ops/pg-private.sh status   exit 0 when running
#   sh ops/pg-private.sh env      print `export PG...=...` lines for a shell
#   sh ops/pg-private.sh destroy  stop it and delete its data directory
#
# The cluster listens on a Unix socket only (listen_addresses = ''), in a
# directory readable by its owner alone, and trusts local connections: the
# directory's permissions are the access control, so nobody else on the
# machine can reach it.  fsync and synchronous_commit stay on.
#
# As root the server runs as the unprivileged system user `cofferdev`
# (COFFER_PG_OWNER; created if missing), because PostgreSQL refuses to run as
# root.  If that user cannot reach ./var (a clone under /root, mode 0700), or
# the socket path would be too long for a Unix socket, the cluster lives in
# /var/lib/coffer-dev/<hash of the path> and ./var/pg is a symbolic link to
# it.  The bootstrap superuser is named after the owner, so `psql` works
# with the printed environment.
#
# Environment: COFFER_VAR (default ./var), COFFER_PG_PORT (default 5432;
# the socket directory is private, so it never collides with another
# server), COFFER_PGBIN (default /usr/lib/postgresql/15/bin).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VAR=${COFFER_VAR:-$ROOT/var}
PGBIN=${COFFER_PGBIN:-/usr/lib/postgresql/15/bin}
PORT=${COFFER_PG_PORT:-5432}

die() {
	echo "pg-private: $*" >&2
	exit 1
}
usage() {
	echo "usage: sh ops/pg-private.sh start|stop|status|env|destroy" >&2
	exit 2
}

[ $# -eq 1 ] || usage
cmd=$1
case "$cmd" in start | stop | status | env | destroy) ;; *) usage ;; esac

[ -x "$PGBIN/initdb" ] || die "$PGBIN/initdb not found (run 'make deps': it installs postgresql-15)"
mkdir -p "$VAR"
VAR=$(cd "$VAR" && pwd -P)

if [ "$(id -u)" -eq 0 ]; then
	OWNER=${COFFER_PG_OWNER:-cofferdev}
	if ! id -u "$OWNER" >/dev/null 2>&1; then
		case "$cmd" in
		stop | destroy) echo "pg-private: no cluster (no user $OWNER)"; exit 0 ;;
		status) echo "pg-private: no cluster (no user $OWNER)"; exit 1 ;;
		env) die "no cluster: system user $OWNER does not exist" ;;
		esac
		useradd --system --no-create-home --home-dir /nonexistent \
		    --shell /usr/sbin/nologin "$OWNER" 2>/dev/null ||
		    id -u "$OWNER" >/dev/null 2>&1 ||
		    die "cannot create the system user $OWNER"
	fi
	as_owner() { runuser -u "$OWNER" -- "$@"; }
else
	OWNER=$(id -un)
	as_owner() { "$@"; }
fi

# -- where the cluster lives ------------------------------------------------------
PGDIR=$VAR/pg
if [ ! -e "$PGDIR" ] && [ ! -L "$PGDIR" ]; then
	[ "$cmd" = start ] || {
		[ "$cmd" = env ] && die "no cluster under $PGDIR (sh ops/pg-private.sh start)"
		[ "$cmd" = status ] && { echo "pg-private: no cluster under $PGDIR"; exit 1; }
		echo "pg-private: no cluster under $PGDIR"
		exit 0
	}
	# Unix socket paths are limited to 107 bytes: keep a margin.
	sock_len=$(printf '%s' "$PGDIR/run/.s.PGSQL.$PORT" | wc -c)
	reachable=1
	if [ "$(id -u)" -eq 0 ] && ! as_owner test -x "$VAR"; then
		reachable=0
	fi
	if [ "$reachable" -eq 1 ] && [ "$sock_len" -le 100 ]; then
		mkdir "$PGDIR"
	else
		sum=$(printf '%s' "$VAR" | cksum | cut -d' ' -f1)
		alt=/var/lib/coffer-dev/$sum
		[ "$(id -u)" -eq 0 ] || alt=${TMPDIR:-/tmp}/coffer-dev-$(id -u)-$sum
		mkdir -p "$alt"
		ln -s "$alt" "$PGDIR"
		if [ "$reachable" -eq 0 ]; then
			echo "pg-private: $OWNER cannot reach $VAR; the cluster lives in $alt ($PGDIR links there)"
		else
			echo "pg-private: $PGDIR is too long for a Unix socket; the cluster lives in $alt ($PGDIR links there)"
		fi
	fi
fi
PGDIR=$(cd "$PGDIR" && pwd -P)
DATA=$PGDIR/data
RUN=$PGDIR/run
LOG=$PGDIR/server.log

pgctl() { as_owner "$PGBIN/pg_ctl" -D "$DATA" -l "$LOG" "$@"; }
running() { [ -f "$DATA/PG_VERSION" ] && pgctl status >/dev/null 2>&1; }

print_env() {
	echo "export PGHOST='$RUN'"
	echo "export PGPORT='$PORT'"
	echo "export PGUSER='$OWNER'"
	echo "export PGDATABASE='${PGDATABASE_PRIVATE:-postgres}'"
}

case "$cmd" in
env)
	[ -f "$DATA/PG_VERSION" ] || die "no cluster in $DATA (sh ops/pg-private.sh start)"
	print_env
	exit 0
	;;
status)
	if running; then
		echo "pg-private: running (data $DATA, socket $RUN, port $PORT, owner $OWNER)"
		exit 0
	fi
	echo "pg-private: not running (data $DATA)"
	exit 1
	;;
stop)
	if running; then
		pgctl -w -t 60 -m fast -s stop || die "pg_ctl stop failed (see $LOG)"
		echo "pg-private: stopped"
	else
		echo "pg-private: not running"
	fi
	exit 0
	;;
destroy)
	if running; then
		pgctl -w -t 60 -m fast -s stop || die "pg_ctl stop failed (see $LOG)"
	fi
	# $PGDIR is ./var/pg or the directory it links to: all of it is ours
	rm -rf "$PGDIR"
	[ ! -L "$VAR/pg" ] || rm -f "$VAR/pg"
	echo "pg-private: destroyed"
	exit 0
	;;
esac

# -- start ------------------------------------------------------------------------
[ "$(id -u)" -ne 0 ] || chown "$OWNER" "$PGDIR"
chmod 0700 "$PGDIR"
if [ ! -f "$DATA/PG_VERSION" ]; then
	rm -rf "$DATA"
	echo "pg-private: initdb $DATA (owner $OWNER)"
	if ! as_owner "$PGBIN/initdb" -D "$DATA" -U "$OWNER" -E UTF8 --no-locale \
	    --auth-local=trust --auth-host=reject --no-instructions \
	    >"$PGDIR/initdb.log" 2>&1; then
		cat "$PGDIR/initdb.log" >&2
		die "initdb failed"
	fi
	cat >>"$DATA/postgresql.conf" <<EOF

# --- ops/pg-private.sh ---
listen_addresses = ''
unix_socket_directories = '$RUN'
unix_socket_permissions = 0700
port = $PORT
fsync = on
synchronous_commit = on
max_connections = 100
shared_buffers = 128MB
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
EOF
fi
if running; then
	echo "pg-private: already running (socket $RUN, port $PORT)"
	exit 0
fi
mkdir -p "$RUN"
chmod 0700 "$RUN"
: >>"$LOG"
if [ "$(id -u)" -eq 0 ]; then
	chown "$OWNER" "$RUN" "$LOG"
fi
if ! pgctl -w -t 60 -s start >/dev/null 2>&1; then
	tail -n 20 "$LOG" >&2
	die "server did not start (log: $LOG)"
fi
echo "pg-private: started (data $DATA, socket $RUN, port $PORT, owner $OWNER)"
