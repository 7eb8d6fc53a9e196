#!/bin/sh
# tests/torture/slowloris.sh — tests/integration/slowloris.sh with more slow
# connections held for longer, and a bigger flood from one address
# (make torture).
SLOW_TLS=${SLOW_TLS:-500} SLOW_RAW=${SLOW_RAW:-500} SLOW_SECONDS=${SLOW_SECONDS:-60} \
SLOW_LATENCY_N=${SLOW_LATENCY_N:-100} SLOW_PA_CONNS=${SLOW_PA_CONNS:-1000} \
SLOW_PA_SECONDS=${SLOW_PA_SECONDS:-20} exec sh tests/integration/slowloris.sh
