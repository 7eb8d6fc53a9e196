# tests/lib/figures.sh — figures reported by hostile-world tests.  POSIX sh;
# source it.
#
#   fig TEST NAME VALUE     print "figure: TEST | NAME | VALUE" and, when
#                           $COFFER_FIGURES names a file (make torture sets
#                           it), append "TEST<TAB>NAME<TAB>VALUE" to it.
#
# tests/run-torture.sh prints every collected figure as one summary table
# at the end of the run.  Names say what was counted and in which unit,
# e.g. fig kill_gateway "lost acknowledged records" 0.

fig() {
	printf 'figure: %s | %s | %s\n' "$1" "$2" "$3"
	if [ -n "${COFFER_FIGURES:-}" ]; then
		printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$COFFER_FIGURES"
	fi
}
