#!/bin/sh
# tests/torture/pg_crash.sh — tests/integration/fault_pg_crash.sh with more
# crashes (make torture).
CRASHES=${CRASHES:-10} FF_NAME=${FF_NAME:-pg_crash} \
exec sh tests/integration/fault_pg_crash.sh
