#!/bin/sh
# tests/torture/disk_full.sh — tests/integration/disk_full.sh with a longer
# outage and more traffic across it (make torture).
DF_STRICT=${DF_STRICT:-20} DF_RECORDS=${DF_RECORDS:-5000} DF_PER=${DF_PER:-100} \
DF_FULL_S=${DF_FULL_S:-20} DF_MB=${DF_MB:-96} exec sh tests/integration/disk_full.sh
