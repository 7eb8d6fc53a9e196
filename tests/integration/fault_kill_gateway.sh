#!/bin/sh
# tests/integration/fault_kill_gateway.sh — make test's reduced run of
# tests/torture/kill_gateway.sh (same script, smaller counts).
KILLS=${KILLS:-3}
export KILLS
FF_NAME=fault_kill_gateway
export FF_NAME
exec sh "$(dirname "$0")/../torture/kill_gateway.sh"
