#!/usr/bin/env python3
"""bench/compare.py: two runs' ratios side by side (issue 17.6).

    python3 bench/compare.py QUICK.json FULL.json [--tolerance 0.15]

Reads two result files of bench/run.sh (bench/results/<timestamp>.json)
and prints, for every figure both have a ratio for, the two ratios and how
far the first is from the second (first / second - 1).  Figures only one
run has (the growth windows, named by archive size) are listed apart.
Exit status 1 when a shared figure is further apart than the tolerance,
2 on a bad argument or file.
"""
import json
import sys


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            figs = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit("compare: %s: %s" % (path, e))
    if isinstance(figs, dict):      # {"figures": [...]} as well as [...]
        figs = figs.get("figures", [])
    out = {}
    for f in figs:
        if isinstance(f, dict) and isinstance(f.get("name"), str):
            out[f["name"]] = f.get("ratio")
    return out


def main(argv):
    tol = 0.15
    args = []
    i = 0
    while i < len(argv):
        if argv[i] == "--tolerance" and i + 1 < len(argv):
            try:
                tol = float(argv[i + 1])
            except ValueError:
                sys.exit("compare: --tolerance needs a number")
            i += 2
            continue
        args.append(argv[i])
        i += 1
    if len(args) != 2:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    a, b = load(args[0]), load(args[1])
    worst = 0.0
    print("%-34s %9s %9s %8s" % ("figure", "first", "second", "apart"))
    for name in b:
        ra, rb = a.get(name), b.get(name)
        if name not in a or ra is None or rb is None or rb == 0:
            continue
        d = ra / rb - 1
        worst = max(worst, abs(d))
        print("%-34s %9.3f %9.3f %+7.1f%%%s" % (name, ra, rb, 100 * d,
              "" if abs(d) <= tol else "  (beyond %.0f %%)" % (100 * tol)))
    only = sorted(set(a) ^ set(b))
    if only:
        print("in one run only: " + ", ".join(only))
    print("furthest apart: %.1f %% (tolerance %.0f %%)" % (100 * worst, 100 * tol))
    return 0 if worst <= tol else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
