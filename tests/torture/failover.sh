#!/bin/sh
# tests/torture/failover.sh — tests/integration/failover.sh with 10
# failovers (5 host losses, 5 switchovers) (make torture).
FAILOVERS=${FAILOVERS:-10} RECORDS=${RECORDS:-200000} FF_NAME=${FF_NAME:-failover} \
exec sh tests/integration/failover.sh
