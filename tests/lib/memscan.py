#!/usr/bin/env python3
"""tests/lib/memscan.py — look for secret byte patterns in a live process's
memory or in files, and report hits by pattern class without ever printing a
pattern.

  memscan.py --patterns FILE --pid PID        every readable mapping of PID
                                              (/proc/PID/maps + /proc/PID/mem;
                                              needs ptrace rights: root)
  memscan.py --patterns FILE --files PATH...  every regular file under PATHs
                                              (directories recursively)

FILE: one pattern a line, "CLASS<TAB>HEX" (CLASS names what it is, e.g.
"canary" or "epoch key (previous)"; HEX the bytes).  Lines starting with #
are ignored.

Output (tab-separated, one item a line):
  bytes<TAB>N               bytes read
  regions<TAB>N             mappings or files read
  unreadable<TAB>N          mappings or files that could not be read
  skipped<TAB>N             mappings larger than --max-map (not read: e.g. a
                            sanitizer's shadow memory, terabytes reserved)
  hits<TAB>CLASS<TAB>N      for every class, including those with 0 hits
  where<TAB>CLASS<TAB>LOC   where a hit was (mapping range and name, or file
                            and offset; at most 20 lines), never the bytes
Exit 0 when the scan ran (hits or not), 2 on a usage or read error of
/proc/PID/maps.
"""
import argparse
import os
import sys

CHUNK = 4 << 20
MAX_MAP = 8 << 30
MAX_WHERE = 20


def load_patterns(path):
    pats = []
    classes = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            cls, _, hx = line.rpartition("\t")
            if not cls or not hx:
                sys.exit("memscan: malformed pattern line (want CLASS<TAB>HEX)")
            data = bytes.fromhex(hx)
            if len(data) < 8:
                sys.exit("memscan: pattern shorter than 8 bytes in class %s" % cls)
            pats.append((cls, data))
            if cls not in classes:
                classes.append(cls)
    return pats, classes


class Scan:
    def __init__(self, pats, classes):
        self.pats = pats
        self.hits = {c: 0 for c in classes}
        self.where = []
        self.bytes = 0
        self.regions = 0
        self.unreadable = 0
        self.skipped = 0
        self.overlap = max((len(p) for _, p in pats), default=1) - 1

    def chunk(self, data, base, label, keep):
        """Search data (whose first `keep` bytes were already searched as
        the tail of the previous chunk) and count matches starting at or
        after `keep`, so none is counted twice."""
        for cls, p in self.pats:
            i = data.find(p)
            while i >= 0:
                if i + len(p) > keep:
                    self.hits[cls] += 1
                    if len(self.where) < MAX_WHERE:
                        self.where.append((cls, "%s+0x%x" % (label, base + i)))
                i = data.find(p, i + 1)

    def stream(self, read, size, label):
        """read(off, n) -> bytes; scans [0, size) in overlapping chunks."""
        off = 0
        tail = b""
        ok = True
        while size is None or off < size:
            n = CHUNK if size is None else min(CHUNK, size - off)
            try:
                data = read(off, n)
            except OSError:
                ok = False
                if size is None:
                    break
                tail = b""
                off += n
                continue
            if not data:
                break
            self.bytes += len(data)
            buf = tail + data
            self.chunk(buf, off - len(tail), label, len(tail))
            tail = buf[-self.overlap:] if self.overlap > 0 else b""
            off += len(data)
        return ok

    def report(self):
        print("bytes\t%d" % self.bytes)
        print("regions\t%d" % self.regions)
        print("unreadable\t%d" % self.unreadable)
        print("skipped\t%d" % self.skipped)
        for cls, n in self.hits.items():
            print("hits\t%s\t%d" % (cls, n))
        for cls, loc in self.where:
            print("where\t%s\t%s" % (cls, loc))


def scan_pid(s, pid, max_map):
    try:
        with open("/proc/%d/maps" % pid) as f:
            maps = f.read().splitlines()
        mem = os.open("/proc/%d/mem" % pid, os.O_RDONLY)
    except OSError as e:
        print("memscan: cannot read the memory of %d: %s" % (pid, e.strerror),
              file=sys.stderr)
        return 2
    try:
        for line in maps:
            parts = line.split(None, 5)
            rng, perms = parts[0], parts[1]
            name = parts[5] if len(parts) > 5 else "[anon]"
            if perms[0] != "r" or name in ("[vvar]", "[vvar_vclock]", "[vsyscall]"):
                continue
            lo, hi = (int(x, 16) for x in rng.split("-"))
            if hi - lo > max_map:
                s.skipped += 1
                continue
            s.regions += 1

            def rd(off, n, lo=lo):
                return os.pread(mem, n, lo + off)
            if not s.stream(rd, hi - lo, "%s %s" % (rng, name)):
                s.unreadable += 1
    finally:
        os.close(mem)
    return 0


def scan_files(s, paths):
    todo = []
    for p in paths:
        if os.path.isdir(p):
            for d, _, files in os.walk(p):
                todo.extend(os.path.join(d, f) for f in sorted(files))
        else:
            todo.append(p)
    for path in todo:
        if not os.path.isfile(path) or os.path.islink(path):
            continue
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            s.unreadable += 1
            continue
        s.regions += 1
        try:
            def rd(off, n, fd=fd):
                return os.pread(fd, n, off)
            if not s.stream(rd, None, path):
                s.unreadable += 1
        finally:
            os.close(fd)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--patterns", required=True)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--pid", type=int)
    g.add_argument("--files", nargs="+")
    ap.add_argument("--max-map", type=int, default=MAX_MAP)
    a = ap.parse_args()
    pats, classes = load_patterns(a.patterns)
    s = Scan(pats, classes)
    rc = scan_pid(s, a.pid, a.max_map) if a.pid is not None else scan_files(s, a.files)
    if rc != 0:
        return rc
    s.report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
