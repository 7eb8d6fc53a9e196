#!/bin/sh
# tests/torture/commit_cut.sh — tests/integration/fault_commit_cut.sh with
# more cuts and drops (make torture).
CUTS=${CUTS:-10} DROPS=${DROPS:-5} FF_NAME=${FF_NAME:-commit_cut} \
exec sh tests/integration/fault_commit_cut.sh
