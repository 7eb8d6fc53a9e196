#!/bin/sh
# tests/run-lint.sh — static checks of every shell script and Python file
# (make lint).
#
#   sh tests/run-lint.sh
#
# Shell: shellcheck with the project's .shellcheckrc, over every *.sh and
# every file whose first line is a sh/dash/bash shebang (sourced libraries
# in tests/lib/ included).  Python: pyflakes (Debian's pyflakes3) over every
# *.py and python shebang file — it reports what is wrong (undefined names,
# unused imports and variables, redefinitions, bad format strings), not style.
# Files: git's list (tracked and new, not ignored); outside a git checkout,
# find.  A finding is fixed, or justified where it is:
#   # shellcheck disable=SCxxxx  # why       (the line above the command)
#   code  # noqa: why                        (Python; pyflakes has no such
#                                            comment, this script drops the
#                                            findings on such lines)
# Exit status: non-zero on any finding or a missing tool (make deps).
set -u
cd "$(dirname "$0")/.." || exit 1
SHELLCHECK=${SHELLCHECK:-shellcheck}
PYFLAKES=${PYFLAKES:-pyflakes3}
JOBS=${LINT_JOBS:-$(nproc 2>/dev/null || echo 2)}

command -v "$SHELLCHECK" >/dev/null 2>&1 ||
    { echo "lint: $SHELLCHECK missing (make deps installs shellcheck)" >&2; exit 1; }
if ! command -v "$PYFLAKES" >/dev/null 2>&1; then
	if /usr/bin/python3 -m pyflakes --version >/dev/null 2>&1; then
		PYFLAKES="/usr/bin/python3 -m pyflakes"
	else
		echo "lint: $PYFLAKES missing (make deps installs pyflakes3)" >&2
		exit 1
	fi
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/coffer-lint.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files --cached --others --exclude-standard
else
	find . -path ./build -prune -o -path ./build-san -prune -o \
	    -path ./build-fuzz -prune -o -path ./var -prune -o -path ./.git -prune -o \
	    -type f -print | sed 's|^\./||'
fi | sort -u | while IFS= read -r f; do
	[ -f "$f" ] || continue            # listed by git, deleted in the tree
	case $f in
	*.sh) echo "$f" >>"$T/sh"; continue ;;
	*.py) echo "$f" >>"$T/py"; continue ;;
	esac
	l=$(head -n 1 "$f" 2>/dev/null | tr -d '\000')
	case $l in
	'#!'*python*) echo "$f" >>"$T/py" ;;
	'#!'*/sh|'#!'*/sh\ *|'#!'*[/\ ]dash*|'#!'*[/\ ]bash*|'#!'*/env\ sh*) echo "$f" >>"$T/sh" ;;
	esac
done
touch "$T/sh" "$T/py"
nsh=$(wc -l <"$T/sh")
npy=$(wc -l <"$T/py")

# The slow half is shellcheck (it reads the libraries each script sources):
# one process per core, a share of the files each.
per=$(((nsh + JOBS - 1) / JOBS))
[ "$per" -ge 1 ] || per=1
tr '\n' '\0' <"$T/sh" | xargs -0 -r -n "$per" -P "$JOBS" \
    "$SHELLCHECK" --format=gcc >"$T/sh.out" 2>&1
# shellcheck disable=SC2086  # PYFLAKES may be a command and its options
tr '\n' '\0' <"$T/py" | xargs -0 -r $PYFLAKES >"$T/py.raw" 2>&1
# "FILE:LINE:COL: message" on a line that says "# noqa: why" is justified
while IFS= read -r m; do
	f=${m%%:*}
	l=${m#"$f":}
	l=${l%%:*}
	case $l in
	''|*[!0-9]*) ;;
	*) [ -f "$f" ] && sed -n "${l}p" "$f" | grep -q '#[[:space:]]*noqa' && continue ;;
	esac
	printf '%s\n' "$m"
done <"$T/py.raw" >"$T/py.out"

sort "$T/sh.out"
cat "$T/py.out"
fsh=$(grep -c . "$T/sh.out")
fpy=$(grep -c . "$T/py.out")
scv=$("$SHELLCHECK" --version | awk '$1 == "version:" { print $2 }')
# shellcheck disable=SC2086  # as above
pfv=$($PYFLAKES --version 2>&1 | awk '{ print $1; exit }')
echo "lint: shellcheck $scv: $nsh shell files, $fsh findings; pyflakes $pfv: $npy Python files, $fpy findings"
[ "$fsh" -eq 0 ] && [ "$fpy" -eq 0 ]
