#!/bin/sh
# tests/torture/clock_jump.sh — tests/integration/clock_jump.sh with more
# records per request and more requests per clock step (make torture).
CJ_N=${CJ_N:-200} CJ_ROUNDS=${CJ_ROUNDS:-10} exec sh tests/integration/clock_jump.sh
