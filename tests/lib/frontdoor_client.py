#!/usr/bin/env python3
"""tests/lib/frontdoor_client.py — raw-socket attacks on a listener's front
door (tests/integration/api_frontdoor.sh).

    frontdoor_client.py --port P --listener api|api-metrics|gw-metrics
        [--ca CA --cert CRT --key KEY] CASE...

api: mutual TLS (the certificate of an active user); the metrics
listeners: plain HTTP.  Each CASE is one request shape (CASES below),
sent whole on a fresh connection; the client then reads until the server
closes (or 4 s pass) and prints one line per case:

    CASE responses=N status=S code=C msg=M rid=0|1 sec=0|1 closed=0|1

responses: how many status lines ("HTTP/1.x NNN") came back — a second
one means trailing bytes ran as a request; code and msg: the JSON error
body's error.code and error.message (the gateway's short form
{"error":"code"} gives msg=-); rid: an X-Request-Id header equal to the
body's request_id (api listeners) or present; sec: the security headers
(X-Content-Type-Options nosniff, Cache-Control no-store, X-Frame-Options
DENY, Content-Security-Policy, Referrer-Policy, and HSTS over TLS; the
gateway sends the first two) each exactly once; closed: the server closed
the connection.

Only the standard library.
"""
import argparse
import json
import socket
import ssl
import sys
import time


def shapes(listener):
    """name -> raw bytes of the attack, for this listener's routes."""
    if listener == "api":
        ok_path, body_path = "/v1/whoami", "/v1/matters"
        pct = {"pct-77": "/v1/%77hoami", "pct-00": "/v1/whoami%00junk",
               "pct-2f": "/v1%2Fwhoami", "pct-5c": "/v1/whoami%5C",
               "pct-query-ok": "/v1/whoami?x=%41",
               "pct-query-nul": "/v1/whoami?x=a%00b"}
    else:
        ok_path, body_path = "/metrics", "/metrics"
        pct = {"pct-77": "/%6detrics", "pct-00": "/metrics%00junk",
               "pct-2f": "/%2Fmetrics", "pct-5c": "/metrics%5C",
               "pct-query-ok": "/metrics?x=%41",
               "pct-query-nul": "/metrics?x=a%00b"}
    host = b"Host: 127.0.0.1\r\n"
    # the metrics listeners take GET only: a GET with a body reaches the
    # body framing there (POST is 405 from the head alone)
    verb = b"POST " if listener == "api" else b"GET "
    post = verb + body_path.encode() + b" HTTP/1.1\r\n" + host
    body = b'{"name":"smuggled"}'
    smuggled = (b"GET " + ok_path.encode() + b" HTTP/1.1\r\n" + host +
                b"X-Smuggled: 1\r\n\r\n")
    chunk = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    big = 64 * 1024 * 1024
    out = {
        # Content-Length says the body is the chunk framing; chunked says
        # the smuggled request after it is a second request
        "cl-te": post + b"Content-Length: %d\r\nTransfer-Encoding: chunked"
        b"\r\n\r\n" % len(chunk) + chunk + smuggled,
        "cl-cl": post + b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n"
        % (len(body), len(body) + len(smuggled)) + body + smuggled,
        "te-te": post + b"Transfer-Encoding: chunked\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + chunk + smuggled,
        "cl-nul": post + b"Content-Length: %d\x00%d\r\n\r\n"
        % (len(body), len(smuggled)) + body + smuggled,
        "chunk-bare-lf": post + b"Transfer-Encoding: chunked\r\n\r\n"
        b"%x\n%s\n0\n\n" % (len(body), body) + smuggled,
        "te-chunked-identity": post + b"Transfer-Encoding: chunked, identity"
        b"\r\n\r\n" + chunk + smuggled,
        "chunk-over-limit": post + b"Transfer-Encoding: chunked\r\n\r\n"
        b"%x\r\n" % big + b"a" * 65536,
        # a clean request, then a second one in the same write
        "pipelined": b"GET " + ok_path.encode() + b" HTTP/1.1\r\n" + host +
        b"\r\n" + smuggled,
        # a GET whose declared body is a request: read as body, never run
        "get-body": b"GET /nope HTTP/1.1\r\n" + host +
        b"Content-Length: %d\r\n\r\n" % len(smuggled) + smuggled,
    }
    get = b"GET " + ok_path.encode() + b" HTTP/1.1\r\n"
    out.update({
        # one case per remaining rule of the front door
        "bare-lf-head": get.replace(b"\r\n", b"\n") + b"Host: x\n\n",
        "bare-cr-head": get + b"Host: x\rX: y\r\n\r\n",
        "obs-fold": get + host + b"X-A: b\r\n c\r\n\r\n",
        "te-space-colon": post + b"Transfer-Encoding : chunked\r\n\r\n"
        + chunk,
        "cl-alpha": post + b"Content-Length: 1x\r\n\r\n" + body,
        "cl-over-limit": post + b"Content-Length: 999999999999\r\n\r\n"
        + body,
        "target-long": b"GET /" + b"a" * 3000 + b" HTTP/1.1\r\n" + host +
        b"\r\n",
        "head-huge": get + host + b"X-Pad: " + b"p" * 20000 + b"\r\n\r\n",
        "head-endless": get + host + b"X-Pad: " + b"p" * 20000,
        "head-near-limit": get + host + b"X-Pad: " + b"p" * 15000 +
        b"\r\n\r\n",
        "expect-other": post + b"Expect: 200-ok\r\nContent-Length: %d\r\n"
        b"\r\n" % len(body) + body,
        "http2": b"GET " + ok_path.encode() + b" HTTP/2.0\r\n" + host +
        b"\r\n",
        "http09": b"GET " + ok_path.encode() + b"\r\n\r\n",
        "no-host": get + b"\r\n",
        "two-hosts": get + host + host + b"\r\n",
        "absolute-form": b"GET http://127.0.0.1" + ok_path.encode() +
        b" HTTP/1.1\r\n" + host + b"\r\n",
        "nul-in-path": b"GET " + ok_path.encode() + b"\x00x HTTP/1.1\r\n" +
        host + b"\r\n",
        # odd but within the rules: libmicrohttpd (strict mode) must
        # answer them itself, in JSON, never with its own HTML
        "empty-value": get + host + b"X-Empty:\r\n\r\n",
        "lower-method": b"get " + ok_path.encode() + b" HTTP/1.1\r\n" +
        host + b"\r\n",
        "odd-target": b"GET " + ok_path.encode() + b"\\x#y HTTP/1.1\r\n" +
        host + b"\r\n",
        "head-at-limit": get + host + b"X-Pad: " + b"p" * (
            16384 - len(get + host + b"X-Pad: ") - 4) + b"\r\n\r\n",
    })
    for k, p in pct.items():
        out[k] = (b"GET " + p.encode() + b" HTTP/1.1\r\n" + host +
                  b"\r\n")
    return out


def read_all(s, limit=4.0):
    data = b""
    end = time.monotonic() + limit
    s.settimeout(0.3)
    while time.monotonic() < end:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        except (ssl.SSLError, OSError):
            return data, 1
        if not chunk:
            return data, 1
        data += chunk
    return data, 0


def summarize(listener, data, closed):
    nresp = 0
    i = 0
    while True:
        j = data.find(b"HTTP/1.", i)
        if j < 0:
            break
        if j + 12 <= len(data) and data[j + 8:j + 9] == b" " \
                and data[j + 9:j + 12].isdigit():
            nresp += 1
        i = j + 1
    res = {"responses": nresp, "status": "000", "code": "-", "msg": "-",
           "rid": 0, "sec": 0, "closed": closed}
    head, _, rest = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1."):
        return res
    lines = head.split(b"\r\n")
    res["status"] = lines[0][9:12].decode(errors="replace")
    hdrs = []
    for ln in lines[1:]:
        k, _, v = ln.partition(b":")
        hdrs.append((k.strip().lower().decode(errors="replace"),
                     v.strip().decode(errors="replace")))
    clen = [v for k, v in hdrs if k == "content-length"]
    body = rest[:int(clen[0])] if len(clen) == 1 and clen[0].isdigit() \
        else rest
    rid_body = None
    try:
        j = json.loads(body)
        err = j.get("error")
        if isinstance(err, dict):
            res["code"] = err.get("code", "-")
            res["msg"] = err.get("message", "-")
            rid_body = err.get("request_id")
        elif isinstance(err, str):
            res["code"] = err
    except (ValueError, AttributeError):
        pass
    rids = [v for k, v in hdrs if k == "x-request-id"]
    if listener == "gw-metrics":
        res["rid"] = 1 if len(rids) <= 1 else 0
    else:
        res["rid"] = 1 if len(rids) == 1 and rids[0] == rid_body else 0
    want = {"x-content-type-options": "nosniff", "cache-control": "no-store"}
    if listener != "gw-metrics":        # the gateway's set is these two
        want.update({"x-frame-options": "DENY",
                     "content-security-policy": None,
                     "referrer-policy": None})
    if listener == "api":
        want["strict-transport-security"] = None
    sec = 1
    for k, v in want.items():
        got = [x for n, x in hdrs if n == k]
        if len(got) != 1 or (v is not None and got[0] != v):
            sec = 0
    res["sec"] = sec
    return res


def run_case(a, name, payload):
    raw = socket.create_connection(("127.0.0.1", a.port), timeout=10)
    if a.listener == "api":
        ctx = ssl.create_default_context(cafile=a.ca)
        ctx.load_cert_chain(a.cert, a.key)
        ctx.check_hostname = False
        s = ctx.wrap_socket(raw, server_hostname="localhost")
    else:
        s = raw
    try:
        s.sendall(payload)
    except (ssl.SSLError, OSError):
        pass                    # answered and closed mid-send
    data, closed = read_all(s)
    s.close()
    r = summarize(a.listener, data, closed)
    print("%s responses=%d status=%s code=%s msg=%s rid=%d sec=%d closed=%d"
          % (name, r["responses"], r["status"], r["code"], r["msg"],
             r["rid"], r["sec"], r["closed"]))
    if a.raw_dir:
        with open("%s/%s.%s" % (a.raw_dir, a.listener, name), "wb") as f:
            f.write(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--listener", required=True,
                    choices=("api", "api-metrics", "gw-metrics"))
    ap.add_argument("--ca")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--raw-dir")
    ap.add_argument("cases", nargs="+")
    a = ap.parse_args()
    table = shapes(a.listener)
    for name in a.cases:
        if name not in table:
            print("no case %s" % name, file=sys.stderr)
            return 2
        run_case(a, name, table[name])
    return 0


if __name__ == "__main__":
    sys.exit(main())
