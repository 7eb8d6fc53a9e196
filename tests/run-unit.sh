#!/bin/sh
# Run every cmocka unit binary given; print cmocka's own summary lines and a
# total.  Exit non-zero when any binary fails.
set -u
failed=0
total=0
for t in "$@"; do
	total=$((total + 1))
	echo "== $(basename "$t")"
	if ! "$t"; then
		failed=$((failed + 1))
		echo "!! $(basename "$t") FAILED"
	fi
done
echo "unit: $((total - failed)) binaries passed, $failed failed"
[ "$failed" -eq 0 ]
