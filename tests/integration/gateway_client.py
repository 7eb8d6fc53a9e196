#!/usr/bin/env python3
"""tests/integration/gateway_client.py — a retrying device client for
tests/integration/gateway_ingest.sh.

    gateway_client.py --port P --ca CA --cert CRT --key KEY \
        --records FILE [--per N] [--receipts OUT] [--deadline S]

Posts FILE (NDJSON, one record a line) to https://127.0.0.1:P/v1/records in
requests of N lines, over mutual TLS, the way an endpoint agent must: a
request that gets no answer (connection refused or reset, gateway killed),
503 or 429 is sent again, unchanged, until it is answered 200.  Every line of
a 200 answer must be `stored` or `duplicate` with a receipt; anything else
(a rejection, a missing receipt, another status) is a failure (exit 3).

Writes one line per record to OUT: "<line-no> <status> <receipt>", and
prints "stored=N duplicate=M retries=R".  Exit 0 when every record got a
receipt before the deadline, 2 on timeout, 3 on a protocol failure.
"""
import argparse
import http.client
import json
import socket
import ssl
import sys
import time


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
    a = ap.parse_args()

    ctx = ssl.create_default_context(cafile=a.ca)
    ctx.load_cert_chain(a.cert, a.key)
    ctx.check_hostname = False          # the test server cert names 127.0.0.1
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3

    with open(a.records, "rb") as f:
        lines = [l for l in f.read().split(b"\n") if l]
    end = time.monotonic() + a.deadline
    conn = None
    out = []
    stored = duplicate = retries = 0

    for start in range(0, len(lines), a.per):
        chunk = lines[start:start + a.per]
        body = b"\n".join(chunk) + b"\n"
        while True:
            if time.monotonic() > end:
                print("timeout", file=sys.stderr)
                return 2
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
                if conn is not None:
                    conn.close()
                conn = None
                retries += 1
                time.sleep(0.2)
                continue
            if status in (429, 503):
                retries += 1
                ra = resp.getheader("Retry-After")
                time.sleep(min(float(ra), 2.0) if ra else 0.5)
                continue
            if status != 200:
                print("unexpected status %d" % status, file=sys.stderr)
                return 3
            answers = [json.loads(l) for l in data.split(b"\n") if l]
            if len(answers) != len(chunk):
                print("%d answers for %d lines" % (len(answers), len(chunk)),
                      file=sys.stderr)
                return 3
            for i, ans in enumerate(answers):
                st = ans.get("status")
                if ans.get("line") != i + 1 or st not in ("stored", "duplicate") \
                        or "receipt" not in ans:
                    print("line %d: %s" % (start + i + 1,
                                           json.dumps(ans)[:200]),
                          file=sys.stderr)
                    return 3
                if st == "stored":
                    stored += 1
                else:
                    duplicate += 1
                out.append("%d %s %s" % (start + i + 1, st, ans["receipt"]))
            break
    if conn is not None:
        conn.close()
    if a.receipts:
        with open(a.receipts, "w") as f:
            f.write("\n".join(out) + "\n")
    print("stored=%d duplicate=%d retries=%d" % (stored, duplicate, retries))
    return 0


if __name__ == "__main__":
    socket.setdefaulttimeout(30)
    sys.exit(main())
