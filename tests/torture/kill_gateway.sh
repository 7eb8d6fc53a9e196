#!/bin/sh
# tests/torture/kill_gateway.sh — tests/integration/fault_kill_gateway.sh
# with more kills (make torture).
KILLS=${KILLS:-20} FF_NAME=${FF_NAME:-kill_gateway} \
exec sh tests/integration/fault_kill_gateway.sh
