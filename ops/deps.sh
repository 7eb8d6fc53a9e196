#!/bin/sh
# ops/deps.sh — install the Debian packages Coffer builds, tests and runs with.
# Idempotent: asks dpkg first, runs apt-get update only when something is
# missing, and prints exactly what it installs. Works as root or via sudo.
set -eu

PKGS="build-essential pkg-config clang libclang-rt-14-dev
libsodium-dev libssl-dev openssl libmicrohttpd-dev libpq-dev
postgresql-15 postgresql-client-15 postgresql-contrib libcmocka-dev libjansson-dev
libhttp-parser-dev libcurl4-openssl-dev libarchive-dev libgnutls28-dev
libxml2-dev libsqlite3-dev sqlite3 libgmime-3.0-dev
curl ca-certificates python3 python3-jsonschema python3-cryptography procps psmisc faketime iproute2
pgbouncer systemd patroni etcd-server etcd-client
gnuplot-nox gpg valgrind gdb
shellcheck pyflakes3 man-db groff-base bash-completion"

if [ "${1:-}" = "--list" ]; then
	# shellcheck disable=SC2086  # unquoted on purpose: one line, one blank apart
	echo $PKGS
	exit 0
fi

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "deps: all $(echo "$PKGS" | wc -w) packages present"
	exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "deps: missing:$missing — run 'make deps' as root or install sudo" >&2
	exit 1
fi

echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
echo "deps: installed:$missing"
