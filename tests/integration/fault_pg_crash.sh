#!/bin/sh
# tests/integration/fault_pg_crash.sh — make test's reduced run of
# tests/torture/pg_crash.sh (same script, smaller counts).
CRASHES=${CRASHES:-2}
export CRASHES
FF_NAME=fault_pg_crash
export FF_NAME
exec sh "$(dirname "$0")/../torture/pg_crash.sh"
