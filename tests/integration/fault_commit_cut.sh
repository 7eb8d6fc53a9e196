#!/bin/sh
# tests/integration/fault_commit_cut.sh — make test's reduced run of
# tests/torture/commit_cut.sh (same script, smaller counts).
CUTS=${CUTS:-2}
DROPS=${DROPS:-1}
export CUTS DROPS
FF_NAME=fault_commit_cut
export FF_NAME
exec sh "$(dirname "$0")/../torture/commit_cut.sh"
