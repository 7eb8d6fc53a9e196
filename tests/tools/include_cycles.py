#!/usr/bin/env python3
"""include_cycles.py [ROOT]: the include graph must have no cycle.

A module is a directory's X.c with its X.h.  Module X depends on module Y
of the same directory when X.c or X.h includes "DIR/Y.h".  Each
directory's module graph must be acyclic, and so must the graph of the
directories themselves (api -> common -> vault, never back).  Prints every
cycle found and exits 1; exits 0 with a one-line summary otherwise.
`make check` runs it (a new cycle fails the build's tests).
"""
import os
import re
import sys

DIRS = ("agent", "api", "common", "ctl", "gateway", "vault", "bench", "tests/lib")
INC = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def includes(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return INC.findall(f.read())


def cycles(graph):
    """Every elementary cycle reachable by DFS (one per back edge)."""
    found, state, stack = [], {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                found.append(stack[stack.index(m):] + [m])
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)
    return found


def self_test():
    """The check must fail on a cycle, naming it, and pass without one."""
    import contextlib
    import io
    import tempfile
    with tempfile.TemporaryDirectory() as t:
        os.mkdir(os.path.join(t, "api"))
        files = {"a.c": '#include "api/a.h"\n#include "api/b.h"\n',
                 "a.h": "", "b.h": '#include "common/util.h"\n',
                 "b.c": '#include "api/b.h"\n#include "api/a.h"\n'}
        for name, text in files.items():
            with open(os.path.join(t, "api", name), "w") as f:
                f.write(text)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = check(t)
        want = "include cycle in api/: a -> b -> a"
        if rc != 1 or want not in out.getvalue():
            print("include_cycles: self-test FAILED: a cycle was not "
                  "reported (%r)" % out.getvalue())
            return 1
        os.remove(os.path.join(t, "api", "b.c"))
        with contextlib.redirect_stdout(io.StringIO()):
            rc = check(t)
        if rc != 0:
            print("include_cycles: self-test FAILED: no cycle, yet refused")
            return 1
    print("include_cycles: self-test ok (a -> b -> a reported, then none)")
    return 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    return check(sys.argv[1] if len(sys.argv) > 1 else ".")


def check(root):
    bad, nmod, dgraph = 0, 0, {}
    for d in DIRS:
        full = os.path.join(root, d)
        if not os.path.isdir(full):
            continue
        graph = {}
        for name in sorted(os.listdir(full)):
            if not name.endswith((".c", ".h")):
                continue
            mod = name[:-2]
            graph.setdefault(mod, set())
            for inc in includes(os.path.join(full, name)):
                idir, _, base = inc.rpartition("/")
                if idir == d and base.endswith(".h") and base[:-2] != mod:
                    graph[mod].add(base[:-2])
                elif idir and idir != d and idir in DIRS:
                    dgraph.setdefault(d, set()).add(idir)
        nmod += len(graph)
        for c in cycles(graph):
            print("include cycle in %s/: %s" % (d, " -> ".join(c)))
            bad += 1
    for c in cycles(dgraph):
        print("include cycle between directories: %s" % " -> ".join(c))
        bad += 1
    if bad:
        print("include_cycles: %d cycle(s); a module's .c and .h may "
              "include only modules that do not include it back" % bad)
        return 1
    print("include_cycles: %d modules in %d directories, no cycle"
          % (nmod, len([d for d in DIRS if os.path.isdir(os.path.join(root, d))])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
