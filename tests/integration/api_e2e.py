#!/usr/bin/env python3
"""tests/integration/api_e2e.py — helpers for api_e2e.sh (standard library,
plus jsonschema for RSMF manifests).

  get FILE PATH                 print a JSON value (dotted path, [i] for
                                arrays); strings bare, others as JSON
  capture --cert C --key K --port-file F --whoami W --matter M --out O
                                a one-shot stand-in for the API over TLS:
                                answers GET /v1/whoami and GET /v1/matters/<id>
                                with the given files and stores the body of
                                the POST .../approvals in O (so a custodian's
                                real partials can be replayed or tampered
                                with), then exits
  tamper IN OUT                 flip one hex digit of the first partial's z
  export-check DIR EXPECT FORBID SCHEMA
                                records.jsonl bodies == EXPECT (one a line),
                                no FORBID line in any produced file, every
                                rsmf/*.rsmf holds an rsmf.zip whose
                                rsmf_manifest.json validates against SCHEMA
  scan FORBID FILE...           no FORBID line occurs in any FILE
  ids-audited IDS               every request id (first column) is an
                                audit event (psql, PG* environment), but
                                a successful GET /v1/whoami, which is not
  audit-sig HDRS BODY TENANT PK the X-Audit-Checkpoint header is an Ed25519
                                signature by PK (hex) of the last exported
                                event's number and hash (openssl verifies)
"""
import base64
import email
import io
import json
import os
import re
import ssl
import subprocess
import sys
import zipfile
from http.server import BaseHTTPRequestHandler, HTTPServer


def die(msg):
    print("api_e2e.py: " + msg, file=sys.stderr)
    sys.exit(1)


def cmd_get(path, expr):
    with open(path, "rb") as f:
        v = json.load(f)
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", expr):
        if part.startswith("["):
            v = v[int(part[1:-1])]
        else:
            v = v[part]
    print(v if isinstance(v, str) else json.dumps(v))


def cmd_capture(argv):
    opts = dict(zip(argv[0::2], argv[1::2]))
    with open(opts["--whoami"], "rb") as f:
        whoami = f.read()
    with open(opts["--matter"], "rb") as f:
        matter = f.read()
    out = opts["--out"]

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def answer(self, code, body):
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/v1/whoami":
                self.answer(200, whoami)
            elif self.path.startswith("/v1/matters/"):
                self.answer(200, matter)
            else:
                self.answer(404, b'{"error":{"code":"not_found","message":"x"}}')

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n)
            with open(out + ".tmp", "wb") as f:
                f.write(body)
            os.rename(out + ".tmp", out)
            self.answer(201, b"{}")
            self.server.done = True

    srv = HTTPServer(("127.0.0.1", 0), H)
    srv.done = False
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(opts["--cert"], opts["--key"])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.timeout = 30
    with open(opts["--port-file"] + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(opts["--port-file"] + ".tmp", opts["--port-file"])
    for _ in range(20):
        if srv.done:
            break
        srv.handle_request()
    sys.exit(0 if srv.done else 1)


def cmd_tamper(src, dst):
    with open(src, "rb") as f:
        body = json.load(f)
    z = body["partials"][0]["z"]
    flipped = ("1" if z[10] != "1" else "2")
    body["partials"][0]["z"] = z[:10] + flipped + z[11:]
    with open(dst, "w") as f:
        json.dump(body, f)


def lines_of(path):
    with open(path, encoding="utf-8") as f:
        return [l.rstrip("\n") for l in f if l.strip()]


def find_bodies(v, acc):
    if isinstance(v, dict):
        for k, x in v.items():
            if k == "body" and isinstance(x, str):
                acc.append(x)
            else:
                find_bodies(x, acc)
    elif isinstance(v, list):
        for x in v:
            find_bodies(x, acc)


def cmd_export_check(d, expect_file, forbid_file, schema_file):
    import jsonschema
    problems = []
    expect = sorted(lines_of(expect_file))
    forbid = lines_of(forbid_file)
    recs = []
    with open(os.path.join(d, "records.jsonl"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                recs.append(json.loads(line))
    got = []
    for r in recs:
        b = r.get("record", {}).get("body")
        if not isinstance(b, str):
            problems.append("a record without a body")
        else:
            got.append(b)
    if sorted(got) != expect:
        problems.append("records.jsonl bodies %r != expected %r" %
                        (sorted(got), expect))
    with open(schema_file, encoding="utf-8") as f:
        schema = json.load(f)
    rsmf_dir = os.path.join(d, "rsmf")
    rsmfs = sorted(os.listdir(rsmf_dir)) if os.path.isdir(rsmf_dir) else []
    if not rsmfs:
        problems.append("no rsmf/*.rsmf file")
    manifests = 0
    rsmf_bodies = []
    for name in rsmfs:
        with open(os.path.join(rsmf_dir, name), "rb") as f:
            msg = email.message_from_binary_file(f)
        if msg.get("X-RSMF-Version") is None:
            problems.append(name + ": no X-RSMF-Version header")
        zips = [p for p in msg.walk() if p.get_filename() == "rsmf.zip"]
        if len(zips) != 1:
            problems.append(name + ": %d rsmf.zip attachments" % len(zips))
            continue
        z = zipfile.ZipFile(io.BytesIO(zips[0].get_payload(decode=True)))
        man = json.loads(z.read("rsmf_manifest.json").decode("utf-8"))
        try:
            jsonschema.validate(man, schema)
            manifests += 1
        except jsonschema.ValidationError as e:
            problems.append(name + ": manifest invalid: " + e.message[:200])
        for ev in man.get("events", []):
            if isinstance(ev.get("body"), str):
                rsmf_bodies.append(ev["body"])
    if sorted(rsmf_bodies) != expect:
        problems.append("RSMF event bodies %r != expected %r" %
                        (sorted(rsmf_bodies), expect))
    # Nothing out of scope anywhere in the production.
    for root, _, files in os.walk(d):
        for fn in files:
            with open(os.path.join(root, fn), "rb") as f:
                data = f.read()
            for s in forbid:
                if s.encode() in data:
                    problems.append("%s contains %r" % (fn, s))
                if base64.b64encode(s.encode()) in data:
                    problems.append("%s contains base64 of %r" % (fn, s))
    for p in problems:
        print("   " + p)
    print("   %d records, %d RSMF files, %d manifests valid" %
          (len(recs), len(rsmfs), manifests))
    sys.exit(1 if problems else 0)


def cmd_scan(forbid_file, files):
    forbid = lines_of(forbid_file)
    hits = 0
    for fn in files:
        with open(fn, "rb") as f:
            data = f.read()
        for s in forbid:
            if s.encode() in data or s.encode().hex().encode() in data:
                print("   %s contains %r" % (fn, s))
                hits += 1
    sys.exit(1 if hits else 0)


def cmd_ids_audited(ids_file):
    ids = [l.split()[0] for l in lines_of(ids_file)]
    out = subprocess.run(
        ["psql", "-X", "-A", "-t", "-q", "-c",
         "SELECT request_id FROM coffer.audit_events WHERE request_id IS NOT NULL"],
        check=True, capture_output=True, text=True).stdout.split()
    have = set(out)

    # a successful GET /v1/whoami reads one's own identity: no action, not
    # audited (README, "Reading and exporting the log"); refused ones are
    def whoami_ok(l):
        f = l.split()
        return f[2:5] == ["GET", "/v1/whoami", "200"]
    lines = lines_of(ids_file)
    missing = [l for l in lines if not whoami_ok(l) and l.split()[0] not in have]
    extra = [l for l in lines if whoami_ok(l) and l.split()[0] in have]
    for m in missing:
        print("   not audited: " + m)
    for m in extra:
        print("   audited, but a whoami read is no action: " + m)
    n_who = len([l for l in lines if whoami_ok(l)])
    print("   %d requests, %d audited, %d whoami reads not audited" %
          (len(ids), len(ids) - len(missing) - n_who, n_who))
    sys.exit(1 if missing or extra or not ids else 0)


def cmd_audit_sig(hdr_file, body_file, tenant, pk_hex):
    import struct
    import tempfile
    import uuid
    hdr = None
    for line in open(hdr_file, encoding="latin-1"):
        if line.lower().startswith("x-audit-checkpoint:"):
            hdr = line.split(":", 1)[1].strip()
    if hdr is None:
        die("no X-Audit-Checkpoint header")
    f = dict(kv.split("=", 1) for kv in hdr.split(";"))
    last = [json.loads(l) for l in lines_of(body_file)][-1]
    if int(f["event_no"]) != last["event_no"] or f["head"] != last["event_hash"]:
        die("the signed head is not the last exported event")
    msg = (b"coffer-checkpoint-v1" + uuid.UUID(tenant).bytes + bytes(16) +
           struct.pack(">QQ", last["event_no"], last["event_no"]) +
           bytes.fromhex(f["head"]) + struct.pack(">q", int(f["signed_at"])))
    der = bytes.fromhex("302a300506032b6570032100" + pk_hex)
    with tempfile.TemporaryDirectory() as d:
        open(d + "/m", "wb").write(msg)
        open(d + "/s", "wb").write(bytes.fromhex(f["sig"]))
        open(d + "/k", "wb").write(der)
        good = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin",
                               "-inkey", d + "/k", "-keyform", "DER", "-rawin",
                               "-in", d + "/m", "-sigfile", d + "/s"],
                              capture_output=True).returncode == 0
        msg2 = bytearray(msg)
        msg2[60] ^= 1
        open(d + "/m", "wb").write(bytes(msg2))
        forged = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin",
                                 "-inkey", d + "/k", "-keyform", "DER", "-rawin",
                                 "-in", d + "/m", "-sigfile", d + "/s"],
                                capture_output=True).returncode == 0
    print("   node %s, event %s" % (f["node"], f["event_no"]))
    sys.exit(0 if good and not forged else 1)


def main():
    a = sys.argv[1:]
    if not a:
        die("usage: see the file header")
    c = a[0]
    if c == "get" and len(a) == 3:
        cmd_get(a[1], a[2])
    elif c == "capture":
        cmd_capture(a[1:])
    elif c == "tamper" and len(a) == 3:
        cmd_tamper(a[1], a[2])
    elif c == "export-check" and len(a) == 5:
        cmd_export_check(a[1], a[2], a[3], a[4])
    elif c == "scan" and len(a) >= 3:
        cmd_scan(a[1], a[2:])
    elif c == "audit-sig" and len(a) == 5:
        cmd_audit_sig(a[1], a[2], a[3], a[4])
    elif c == "ids-audited" and len(a) == 2:
        cmd_ids_audited(a[1])
    else:
        die("bad command")


if __name__ == "__main__":
    main()
