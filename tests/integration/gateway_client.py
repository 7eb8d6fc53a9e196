#!/usr/bin/env python3
"""tests/integration/gateway_client.py — a retrying device client for
tests/integration/gateway_ingest.sh and the fault tests
(tests/integration/fault_*.sh, tests/lib/fault-fixture.sh).

    gateway_client.py --port P --ca CA --cert CRT --key KEY \
        --records FILE [--per N] [--receipts OUT] [--deadline S] \
        [--log LOG] [--stop-file F]

Posts FILE (NDJSON, one record a line) to https://127.0.0.1:P/v1/records in
requests of N lines, over mutual TLS, the way an endpoint agent must: a
request that gets no answer (connection refused or reset, gateway killed),
503 or 429 is sent again, unchanged, until it is answered 200.  Every line of
a 200 answer must be `stored` or `duplicate` with a receipt; anything else
(a rejection, a missing receipt, another status) is a failure (exit 3).

Writes one line per acknowledged record to OUT as its request is answered:
"<line-no> <status> <receipt>", and prints "stored=N duplicate=M retries=R
records=K" (K: records sent and acknowledged).

--log LOG appends one line per attempt, written as soon as it ends:
"<sent> <answered> <first-line> <lines> <outcome> <stored> <duplicate>",
times in wall-clock seconds (time.time(), microseconds; <sent> is taken
before connecting, <answered> after the whole answer was read), <outcome>
the HTTP status or "noanswer" (connection refused, reset or closed without
an answer: nothing was acknowledged).  The fault tests compare these times
with the moments they injected faults.

--stop-file F: once F exists, no new request is started (the one in flight
is still retried until answered); the run then ends with exit 0 after the
records sent so far.

Exit 0 when every record sent got a receipt before the deadline, 2 on
timeout, 3 on a protocol failure.
"""
import argparse
import http.client
import json
import os
import socket
import ssl
import sys
import time


class AttemptLog:
    """One line per attempt, flushed at once (the test may read it while
    the client still runs, and a killed client keeps what it wrote)."""

    def __init__(self, path):
        self.f = open(path, "a", buffering=1) if path else None

    def write(self, sent, answered, first, n, outcome, stored=0, dup=0):
        if self.f is not None:
            self.f.write("%.6f %.6f %d %d %s %d %d\n" % (
                sent, answered, first, n, outcome, stored, dup))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--records", required=True)
    ap.add_argument("--per", type=int, default=100)
    ap.add_argument("--receipts")
    ap.add_argument("--deadline", type=float, default=300.0)
    ap.add_argument("--log")
    ap.add_argument("--stop-file")
    a = ap.parse_args()

    ctx = ssl.create_default_context(cafile=a.ca)
    ctx.load_cert_chain(a.cert, a.key)
    ctx.check_hostname = False          # the test server cert names 127.0.0.1
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3

    with open(a.records, "rb") as f:
        lines = [l for l in f.read().split(b"\n") if l]
    end = time.monotonic() + a.deadline
    conn = None
    rcf = open(a.receipts, "w", buffering=1) if a.receipts else None
    log = AttemptLog(a.log)
    stored = duplicate = retries = sent = 0

    for start in range(0, len(lines), a.per):
        if a.stop_file and os.path.exists(a.stop_file):
            break
        chunk = lines[start:start + a.per]
        body = b"\n".join(chunk) + b"\n"
        while True:
            if time.monotonic() > end:
                print("timeout", file=sys.stderr)
                return 2
            t_sent = time.time()
            try:
                if conn is None:
                    conn = http.client.HTTPSConnection("127.0.0.1", a.port,
                                                       context=ctx, timeout=30)
                conn.request("POST", "/v1/records", body=body,
                             headers={"Content-Type": "application/x-ndjson"})
                resp = conn.getresponse()
                data = resp.read()
                status = resp.status
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException, ssl.SSLError):
                # Gateway gone or restarting: nothing was acknowledged.
                log.write(t_sent, time.time(), start + 1, len(chunk),
                          "noanswer")
                if conn is not None:
                    conn.close()
                conn = None
                retries += 1
                time.sleep(0.2)
                continue
            t_answered = time.time()
            if status in (429, 503):
                log.write(t_sent, t_answered, start + 1, len(chunk), status)
                retries += 1
                ra = resp.getheader("Retry-After")
                time.sleep(min(float(ra), 2.0) if ra else 0.5)
                continue
            if status != 200:
                log.write(t_sent, t_answered, start + 1, len(chunk), status)
                print("unexpected status %d" % status, file=sys.stderr)
                return 3
            answers = [json.loads(l) for l in data.split(b"\n") if l]
            n_st = sum(1 for x in answers if x.get("status") == "stored")
            log.write(t_sent, t_answered, start + 1, len(chunk), status,
                      n_st, sum(1 for x in answers
                                if x.get("status") == "duplicate"))
            if len(answers) != len(chunk):
                print("%d answers for %d lines" % (len(answers), len(chunk)),
                      file=sys.stderr)
                return 3
            out = []
            for i, ans in enumerate(answers):
                st = ans.get("status")
                if ans.get("line") != i + 1 or st not in ("stored", "duplicate") \
                        or "receipt" not in ans:
                    print("line %d: %s" % (start + i + 1,
                                           json.dumps(ans)[:200]),
                          file=sys.stderr)
                    return 3
                out.append("%d %s %s\n" % (start + i + 1, st, ans["receipt"]))
            if rcf is not None:
                rcf.write("".join(out))
            stored += n_st
            duplicate += len(chunk) - n_st
            sent += len(chunk)
            break
    if conn is not None:
        conn.close()
    if rcf is not None:
        if sent == 0:
            rcf.write("\n")
        rcf.close()
    print("stored=%d duplicate=%d retries=%d records=%d"
          % (stored, duplicate, retries, sent))
    return 0


if __name__ == "__main__":
    socket.setdefaulttimeout(30)
    sys.exit(main())
