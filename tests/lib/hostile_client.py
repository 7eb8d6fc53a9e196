#!/usr/bin/env python3
"""tests/lib/hostile_client.py — hostile clients for a real coffer-gateway
(tests/integration/hostile_input.sh, tests/integration/slowloris.sh).

Common options: --port P --ca CA --cert CRT --key KEY (mutual TLS 1.3;
probe may go without a certificate, or over plain HTTP); --source ADDR
binds latency and hold to that local address (any of 127/8 on Linux), so
one test can be several peers.

    corpus --cases TSV --tag T [--mode mixed|allbad|single] [--out F]
        Posts the bad-JSON corpus (tests/data/bad-json/cases.tsv, format in
        its header).  mixed: one request, every case between valid records
        (ids hostile-T-N); allbad: one request of the rejected cases only;
        single: each rejected case alone in its own request, without a
        final LF, on one keep-alive connection.  Every answer line must be
        `rejected` with exactly the corpus reason, valid lines and the
        accepted controls `stored` (or `duplicate` with --expect-duplicate).
        Prints "cases=N rejected=R stored=S duplicate=D"; OUT gets the raw
        answers.  Exit 0 when all match, 3 otherwise (each mismatch named).

    smuggle --name NAME
        One raw request shape (NAMES below) over mutual TLS; prints
        "status=NNN closed=0|1".  The body of every shape would store a
        record (id smuggled-NAME) if it were misread.

    latency --n N [--gap S]
        N requests, each on a fresh mTLS connection (handshake, one valid
        record, answer): prints "median_ms=.. p95_ms=.. max_ms=.. ok=N".
        A request that fails (refused, reset) is named; exit 3.

    hold --conns N --seconds S [--stats F]
        Opens N plain TCP connections one after the other, sends each the
        first 5 bytes of a TLS ClientHello (a record header) and watches
        them for S seconds without sending more.  Then closes them all
        and writes JSON stats to F (and stdout): opened, connect_failed,
        refused (closed or reset by the server within S s), held (still
        open at the end), refused_after_ms (median and max time from
        connect to the server's close).

    slowloris --tls-conns A --raw-conns B --seconds S [--interval I]
              [--stats F]
        Holds A completed-handshake connections that send a request head
        one byte every I seconds, and B plain TCP connections that send a
        TLS ClientHello one byte every I seconds; a connection the gateway
        closes is opened again, for S seconds.  Writes JSON stats to F:
        opened, max_held, median_held, closed_by_server (tls, raw), the
        lifetimes (s) of the connections the server closed (tls: from the
        first head byte; raw: from connect), and bytes dribbled.

    probe --scheme https|http --listener NAME --known "METHOD PATH,..."
          [--no-cert]
        The dangerous-path table (PROBE_PATHS) and the listener's own
        routes (--known, which are not probed themselves) with GET, POST
        and TRACE, each on a fresh connection (https: with the client
        certificate, or none with --no-cert).  Every answer must be 404
        (TRACE: 404 or 405), 405 on a known path with another method,
        400 for percent-encoding in the path on an api* listener,
        with a short fixed JSON error body
        (or none), only the headers of HEADERS_OK, and no echo of the path
        or of the request (no TRACE reflection).  --expect-refused: the TLS
        handshake must fail instead (gateway without a certificate).
        Prints "requests=N wrong=W statuses=..." and each mismatch; exit 3
        on any.

Only the standard library.
"""
import argparse
import http.client
import json
import select
import socket
import ssl
import statistics
import sys
import threading
import time

SMUGGLED = (b'{"id":"smuggled-%s","channel":"sms","conversation":"c-sm",'
            b'"direction":"out","sender":"+15550100011","recipients":'
            b'["+15550100099"],"sent_at":"2026-01-05T10:00:00Z",'
            b'"body":"CANARY-smuggled"}\n')


def tls_context(a):
    ctx = ssl.create_default_context(cafile=a.ca)
    ctx.load_cert_chain(a.cert, a.key)
    ctx.check_hostname = False          # the test server cert names 127.0.0.1
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


def valid_record(rid, body="hostile control"):
    return json.dumps({
        "id": rid, "channel": "signal", "conversation": "c-hostile",
        "direction": "in", "sender": "+15550100011",
        "recipients": ["+15550100099", "ops@example.com"],
        "sent_at": "2026-01-05T10:00:00Z", "body": body},
        separators=(",", ":")).encode()


# -- the corpus ------------------------------------------------------------

def expand(s):
    """{{N*TEXT}} -> TEXT repeated N times (TEXT ends at the first }})."""
    out = []
    i = 0
    while i < len(s):
        if s.startswith("{{", i) and i + 2 < len(s) and s[i + 2].isdigit():
            j = i + 2
            while j < len(s) and s[j].isdigit():
                j += 1
            if j < len(s) and s[j] == "*":
                end = s.index("}}", j + 1)
                out.append(s[j + 1:end] * int(s[i + 2:j]))
                i = end + 2
                continue
        out.append(s[i])
        i += 1
    return "".join(out)


def unescape(s):
    """\\xHH -> that byte; any other backslash pair unchanged."""
    raw = s.encode("utf-8")
    out = bytearray()
    i = 0
    hexd = b"0123456789abcdefABCDEF"
    while i < len(raw):
        if raw[i] == 0x5c and i + 1 < len(raw):
            if (raw[i + 1] == ord("x") and i + 3 < len(raw)
                    and raw[i + 2] in hexd and raw[i + 3] in hexd):
                out.append(int(raw[i + 2:i + 4], 16))
                i += 4
            else:
                out += raw[i:i + 2]
                i += 2
            continue
        out.append(raw[i])
        i += 1
    return bytes(out)


def load_cases(path):
    cases = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            name, reason, enc = line.split("\t", 2)
            data = unescape(expand(enc))
            assert b"\n" not in data, name
            cases.append((name, reason, data))
    return cases


def post(conn, body):
    conn.request("POST", "/v1/records", body=body,
                 headers={"Content-Type": "application/x-ndjson"})
    resp = conn.getresponse()
    return resp.status, resp.read()


def cmd_corpus(a):
    cases = load_cases(a.cases)
    ctx = tls_context(a)
    conn = http.client.HTTPSConnection("127.0.0.1", a.port, context=ctx,
                                       timeout=60)
    expect = []          # (label, reason or "stored")
    bodies = []
    answers_raw = []
    ok_status = ("duplicate",) if a.expect_duplicate else ("stored",)
    bad_cases = [c for c in cases if c[1] != "-"]
    if a.mode == "mixed":
        lines = []
        for i, (name, reason, data) in enumerate(cases):
            lines.append(valid_record("hostile-%s-%d" % (a.tag, i)))
            expect.append(("valid line before " + name, "-"))
            lines.append(data)
            expect.append((name, reason))
        lines.append(valid_record("hostile-%s-last" % a.tag))
        expect.append(("last valid line", "-"))
        bodies.append(b"\n".join(lines) + b"\n")
    elif a.mode == "allbad":
        bodies.append(b"\n".join(c[2] for c in bad_cases) + b"\n")
        expect = [(c[0], c[1]) for c in bad_cases]
    else:
        for name, reason, data in bad_cases:
            bodies.append(data)
            expect.append((name, reason))
    got = []
    for body in bodies:
        status, data = post(conn, body)
        answers_raw.append(data)
        if status != 200:
            print("HTTP %d for a request of %d bytes" % (status, len(body)),
                  file=sys.stderr)
            return 3
        got += [json.loads(x) for x in data.split(b"\n") if x]
    conn.close()
    if a.out:
        with open(a.out, "wb") as f:
            f.write(b"".join(answers_raw))
    wrong = 0
    counts = {"rejected": 0, "stored": 0, "duplicate": 0}
    if len(got) != len(expect):
        print("%d answer lines for %d input lines" % (len(got), len(expect)),
              file=sys.stderr)
        return 3
    for i, ((label, reason), ans) in enumerate(zip(expect, got)):
        st = ans.get("status")
        counts[st] = counts.get(st, 0) + 1
        want_line = 1 if a.mode == "single" else i + 1
        if ans.get("line") != want_line:
            print("%s: answer for line %s, expected %d" %
                  (label, ans.get("line"), want_line), file=sys.stderr)
            wrong += 1
        if reason == "-":
            if st not in ok_status or not ans.get("receipt"):
                print("%s: %s (%s), expected %s" % (label, st,
                      ans.get("error"), ok_status[0]), file=sys.stderr)
                wrong += 1
        elif st != "rejected" or ans.get("error") != reason \
                or "receipt" in ans:
            print("%s: %s %r, expected rejected %r" %
                  (label, st, ans.get("error"), reason), file=sys.stderr)
            wrong += 1
    print("cases=%d rejected=%d stored=%d duplicate=%d wrong=%d" % (
        len(bad_cases), counts["rejected"], counts["stored"],
        counts["duplicate"], wrong))
    return 3 if wrong else 0


# -- request smuggling over real TLS --------------------------------------

def chunked(data):
    return b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data)


def smuggle_shapes(name):
    rec = SMUGGLED % name.encode()
    h = b"POST /v1/records HTTP/1.1\r\nHost: gw\r\n"
    big = b"X-Pad: " + b"a" * 20000 + b"\r\n"
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(4000))
    return {
        "cl-te": h + b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n"
        % len(chunked(rec)) + chunked(rec),
        "te-cl": h + b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
        + chunked(rec),
        "cl-cl": h + b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n"
        % (len(rec), len(rec)) + rec,
        "te-space-colon": h + b"Transfer-Encoding : chunked\r\n\r\n"
        + chunked(rec),
        "te-obfuscated": h + b"Transfer-Encoding: xchunked\r\n"
        b"Content-Length: %d\r\n\r\n" % len(rec) + rec,
        "te-folded": h + b"Content-Length: %d\r\n Transfer-Encoding: chunked"
        b"\r\n\r\n" % len(rec) + rec,
        "bare-lf": b"POST /v1/records HTTP/1.1\nHost: gw\nContent-Length: %d"
        b"\n\n" % len(rec) + rec,
        "obs-fold": h + b"X-A: b\r\n c\r\nContent-Length: %d\r\n\r\n"
        % len(rec) + rec,
        "chunk-overflow": h + b"Transfer-Encoding: chunked\r\n\r\n"
        b"ffffffffffffffffff\r\n" + rec + b"\r\n0\r\n\r\n",
        "chunk-huge": h + b"Transfer-Encoding: chunked\r\n\r\n"
        b"7fffffffffff\r\n" + rec,
        "cl-huge": h + b"Content-Length: 99999999999999\r\n\r\n" + rec,
        "header-20k": h + big + b"Content-Length: %d\r\n\r\n" % len(rec) + rec,
        "headers-4000": h + many + b"Content-Length: %d\r\n\r\n"
        % len(rec) + rec,
    }[name]


def read_all(s, limit=5.0):
    data = b""
    end = time.monotonic() + limit
    closed = 0
    s.settimeout(0.5)
    while time.monotonic() < end:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        except (ssl.SSLError, OSError):
            closed = 1
            break
        if not chunk:
            closed = 1
            break
        data += chunk
    return data, closed


def cmd_smuggle(a):
    payload = smuggle_shapes(a.name)
    ctx = tls_context(a)
    raw = socket.create_connection(("127.0.0.1", a.port), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    try:
        s.sendall(payload)
    except (ssl.SSLError, OSError):
        pass                    # the gateway answered and closed mid-send
    data, closed = read_all(s)
    s.close()
    status = data[9:12].decode() if data.startswith(b"HTTP/1.1 ") else "000"
    print("status=%s closed=%d" % (status, closed))
    if a.out:
        with open(a.out, "wb") as f:
            f.write(data)
    return 0


# -- latency of a well-behaved client -------------------------------------

def cmd_latency(a):
    ctx = tls_context(a)
    times = []
    src = (a.source, 0) if a.source else None
    for i in range(a.n):
        body = valid_record("lat-%s-%d" % (a.tag, i)) + b"\n"
        t0 = time.monotonic()
        conn = http.client.HTTPSConnection("127.0.0.1", a.port, context=ctx,
                                           timeout=30, source_address=src)
        try:
            status, data = post(conn, body)
        except (OSError, ssl.SSLError, http.client.HTTPException) as e:
            print("request %d: %s: %s" % (i, type(e).__name__, e))
            return 3
        finally:
            conn.close()
        t1 = time.monotonic()
        if status != 200 or b'"stored"' not in data:
            print("request %d: HTTP %d %r" % (i, status, data[:200]),
                  file=sys.stderr)
            return 3
        times.append((t1 - t0) * 1000.0)
        time.sleep(a.gap)
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    print("median_ms=%.1f p95_ms=%.1f max_ms=%.1f ok=%d" % (
        statistics.median(times), p95, times[-1], len(times)))
    return 0


# -- dangerous paths ------------------------------------------------------

PROBE_PATHS = [
    "/heapdump", "/heapdump?live=true", "/actuator", "/actuator/health",
    "/actuator/heapdump", "/actuator/env", "/actuator/threaddump",
    "/management", "/management/env", "/debug", "/debug/pprof/heap",
    "/debug/vars", "/env", "/.env", "/.git/config", "/.git/HEAD",
    "/server-status", "/console", "/admin", "/jolokia/list", "/trace",
    "/metrics", "/dump", "/core", "/%2e%2e/%2e%2e/etc/passwd",
    "/v1/../heapdump", "//heapdump", "/HEAPDUMP", "/v1/heapdump",
]
HEADERS_OK = {
    "date", "content-type", "content-length", "cache-control",
    "x-content-type-options", "allow", "connection",
    "strict-transport-security", "x-request-id", "x-frame-options",
    "content-security-policy", "referrer-policy",
}
PROBE_CANARY = "probe-canary-7f3e"


def probe_one(a, ctx, method, path):
    """(status or 'refused', headers, body)"""
    if a.scheme == "https":
        conn = http.client.HTTPSConnection("127.0.0.1", a.port, context=ctx,
                                           timeout=15)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=15)
    body = b'{"probe":"' + PROBE_CANARY.encode() + b'"}' \
        if method == "POST" else None
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        conn.putheader("X-Probe", PROBE_CANARY)
        if body is not None:
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, resp.getheaders(), data
    except (ssl.SSLError, ConnectionError, http.client.RemoteDisconnected,
            OSError):
        return "refused", [], b""
    finally:
        conn.close()


def probe_check(method, path, known_paths, st, headers, data,
                pct_refused=False):
    """A list of what is wrong with one answer.  pct_refused: the listener
    refuses percent-encoding in the path (400, coffer-api's front door)."""
    wrong = []
    if pct_refused and "%" in path.split("?", 1)[0]:
        want = (400,)
    elif path in known_paths:
        want = (405,)
    else:
        want = (404, 405) if method == "TRACE" else (404,)
    if st not in want:
        wrong.append("status %s, expected %s" % (st, "/".join(map(str, want))))
    for k, v in headers:
        if k.lower() not in HEADERS_OK:
            wrong.append("unexpected header %s" % k)
    if len(data) > 256:
        wrong.append("body of %d bytes" % len(data))
    if data:
        try:
            j = json.loads(data)
            if not isinstance(j, dict) or "error" not in j:
                wrong.append("body is not a JSON error")
        except ValueError:
            wrong.append("body is not JSON")
    low = data.lower() + b" " + " ".join(
        "%s: %s" % (k, v) for k, v in headers).lower().encode()
    seg = [x for x in path.lower().replace("?", "/").split("/")
           if len(x) >= 4 and x not in ("..", "%2e%2e")]
    for needle in seg + [PROBE_CANARY, "trace /", "x-probe", "microhttpd",
                         "openssl", "gnutls", "jansson", "coffer/",
                         "version"]:
        if needle.encode() in low:
            wrong.append("answer echoes %r" % needle)
    return wrong


def cmd_probe(a):
    ctx = None
    if a.scheme == "https":
        ctx = ssl.create_default_context(cafile=a.ca)
        ctx.check_hostname = False
        if not a.no_cert:
            ctx.load_cert_chain(a.cert, a.key)
    known = set()
    for item in (a.known or "").split(","):
        if item.strip():
            m, p = item.strip().split(" ", 1)
            known.add((m, p))
    known_paths = {p for (_, p) in known}
    reqs = [(m, p) for p in PROBE_PATHS + sorted(known_paths - set(PROBE_PATHS))
            for m in ("GET", "POST", "TRACE") if (m, p) not in known]
    n = wrong = 0
    seen = {}
    for method, path in reqs:
        st, headers, data = probe_one(a, ctx, method, path)
        n += 1
        seen[str(st)] = seen.get(str(st), 0) + 1
        if a.expect_refused:
            errs = [] if st == "refused" else ["answered %s" % st]
        else:
            errs = probe_check(method, path, known_paths, st, headers, data,
                               a.listener.startswith("api"))
        for e in errs:
            print("%s %s %s: %s" % (a.listener, method, path, e),
                  file=sys.stderr)
        wrong += 1 if errs else 0
    print("requests=%d wrong=%d statuses=%s" % (
        n, wrong, ",".join("%s:%d" % kv for kv in sorted(seen.items()))))
    return 3 if wrong else 0


# -- slowloris ------------------------------------------------------------

CLIENT_HELLO_PREFIX = (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
                       + bytes(range(32)) + b"\x20" + bytes(32))
HEAD_DRIBBLE = (b"POST /v1/records HTTP/1.1\r\nHost: gw\r\n"
                b"Content-Type: application/x-ndjson\r\n"
                + b"X-Slow: " + b"s" * 4000 + b"\r\n")


class Loris:
    def __init__(self, a):
        self.a = a
        self.ctx = tls_context(a)
        self.lock = threading.Lock()
        self.held = 0
        self.max_held = 0
        self.opened = 0
        self.open_failed = 0
        self.closed = {"tls": 0, "raw": 0}
        self.lifetimes = {"tls": [], "raw": []}
        self.sent = 0
        self.stop = time.monotonic() + a.seconds

    def _count(self, d):
        with self.lock:
            self.held += d
            self.max_held = max(self.max_held, self.held)

    def _open(self, kind):
        s = socket.create_connection(("127.0.0.1", self.a.port), timeout=20)
        if kind == "tls":
            s = self.ctx.wrap_socket(s, server_hostname="localhost")
        return s

    def run_one(self, kind, delay):
        time.sleep(delay)
        payload = HEAD_DRIBBLE if kind == "tls" else CLIENT_HELLO_PREFIX
        while time.monotonic() < self.stop:
            try:
                s = self._open(kind)
            except (OSError, ssl.SSLError):
                with self.lock:
                    self.open_failed += 1
                time.sleep(0.5)
                continue
            t0 = time.monotonic()
            with self.lock:
                self.opened += 1
            self._count(1)
            s.setblocking(False)
            pos = 0
            gone = False
            while time.monotonic() < self.stop and not gone:
                # readable: the server answered, closed, reset or alerted
                # (or sent a TLS 1.3 session ticket: WantRead, go on)
                r, _, _ = select.select([s], [], [], self.a.interval)
                if r:
                    try:
                        s.recv(4096)
                        gone = True
                    except (ssl.SSLWantReadError, BlockingIOError):
                        pass
                    except (OSError, ssl.SSLError):
                        gone = True
                    continue
                try:
                    s.send(payload[pos % len(payload):pos % len(payload) + 1])
                    if pos == 0 and kind == "tls":
                        # the head deadline starts with its first byte
                        # (before it, the connection is keep-alive idle)
                        t0 = time.monotonic()
                    pos += 1
                    with self.lock:
                        self.sent += 1
                except (ssl.SSLWantWriteError, BlockingIOError):
                    pass
                except (OSError, ssl.SSLError):
                    gone = True
            if gone:
                with self.lock:
                    self.closed[kind] += 1
                    self.lifetimes[kind].append(time.monotonic() - t0)
            self._count(-1)
            try:
                s.close()
            except OSError:
                pass

    def run(self):
        threads = []
        n = self.a.tls_conns + self.a.raw_conns
        for i in range(n):
            kind = "tls" if i < self.a.tls_conns else "raw"
            # spread the opening over the first interval
            t = threading.Thread(target=self.run_one,
                                 args=(kind, self.a.interval * i / n),
                                 daemon=True)
            t.start()
            threads.append(t)
        held_samples = []
        while time.monotonic() < self.stop:
            time.sleep(0.5)
            with self.lock:
                held_samples.append(self.held)
        for t in threads:
            t.join(timeout=self.a.interval + 5)
        return held_samples


def cmd_slowloris(a):
    threading.stack_size(256 * 1024)
    lo = Loris(a)
    samples = lo.run()
    life = {k: sorted(v) for k, v in lo.lifetimes.items()}
    stats = {
        "opened": lo.opened, "open_failed": lo.open_failed,
        "max_held": lo.max_held,
        "median_held": statistics.median(samples) if samples else 0,
        "closed_by_server": lo.closed, "bytes_dribbled": lo.sent,
        "lifetime_median_s": {k: (round(statistics.median(v), 2) if v
                                  else None) for k, v in life.items()},
        "lifetime_max_s": {k: (round(v[-1], 2) if v else None)
                           for k, v in life.items()},
    }
    text = json.dumps(stats, sort_keys=True)
    if a.stats:
        with open(a.stats, "w") as f:
            f.write(text + "\n")
    print(text)
    return 0


# -- many idle connections from one address ---------------------------------

def cmd_hold(a):
    socks, born, refused_ms = [], {}, []
    failed = 0
    for _ in range(a.conns):
        try:
            s = socket.create_connection(
                ("127.0.0.1", a.port), timeout=10,
                source_address=(a.source, 0) if a.source else None)
        except OSError:
            failed += 1
            continue
        born[s] = time.monotonic()
        try:
            s.sendall(CLIENT_HELLO_PREFIX[:5])
        except OSError:
            pass            # already reset: select() reports it below
        s.setblocking(False)
        socks.append(s)
    live = set(socks)
    end = time.monotonic() + a.seconds
    while live and time.monotonic() < end:
        r, _, _ = select.select(list(live), [], [],
                                max(0.0, end - time.monotonic()))
        for s in r:
            try:
                if s.recv(4096):
                    continue        # the server said something: keep going
            except BlockingIOError:
                continue
            except OSError:
                pass
            refused_ms.append((time.monotonic() - born[s]) * 1000.0)
            live.discard(s)
    held = len(live)
    for s in socks:
        s.close()
    refused_ms.sort()
    stats = {
        "opened": len(socks), "connect_failed": failed,
        "refused": len(refused_ms), "held": held,
        "refused_after_ms": {
            "median": round(statistics.median(refused_ms), 1)
            if refused_ms else None,
            "max": round(refused_ms[-1], 1) if refused_ms else None},
    }
    text = json.dumps(stats, sort_keys=True)
    if a.stats:
        with open(a.stats, "w") as f:
            f.write(text + "\n")
    print(text)
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["corpus", "smuggle", "latency",
                                    "slowloris", "probe", "hold"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ca")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--scheme", choices=["https", "http"], default="https")
    ap.add_argument("--listener", default="?")
    ap.add_argument("--known")
    ap.add_argument("--no-cert", action="store_true")
    ap.add_argument("--expect-refused", action="store_true")
    ap.add_argument("--cases")
    ap.add_argument("--tag", default="t")
    ap.add_argument("--mode", choices=["mixed", "allbad", "single"],
                    default="mixed")
    ap.add_argument("--expect-duplicate", action="store_true")
    ap.add_argument("--out")
    ap.add_argument("--name")
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--gap", type=float, default=0.05)
    ap.add_argument("--tls-conns", type=int, default=150)
    ap.add_argument("--raw-conns", type=int, default=150)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--interval", type=float, default=2.0)
    ap.add_argument("--stats")
    ap.add_argument("--source")
    ap.add_argument("--conns", type=int, default=10)
    a = ap.parse_args()
    return {"corpus": cmd_corpus, "smuggle": cmd_smuggle,
            "latency": cmd_latency, "slowloris": cmd_slowloris,
            "probe": cmd_probe, "hold": cmd_hold}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
