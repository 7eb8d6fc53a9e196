#!/usr/bin/env python3
"""tests/integration/production_helpers.py — the Python half of
tests/integration/production.sh.

    gen OUT                       NDJSON records for tenant acme (alice, bob,
                                  carol; a group; before/after the window)
    serve --port-file F --cert C --key K --people-ca CA --helper BIN
                                  a stand-in for the four coffer-api routes
                                  `cofferctl approve` uses, over mutual TLS:
                                  GET /v1/whoami, GET /v1/matters/{id},
                                  POST /v1/matters/{id}/approvals (proofs
                                  verified and stored by BIN --helper
                                  approve-store, as the API does)
    verify DIR SENT RESPONSES SCHEMA TENANT-ID
                                  the opened production against what was
                                  sent and what the database holds
    maketar KIND OUT              a hostile tar (for export open to refuse)
    attackerkey OUT               an Ed25519 node key file nobody pinned
    forge KIND SRC DST [OTHER]    issue 13.3's attacker: copy the opened
                                  production SRC to DST and alter it (KIND
                                  below); production.sh packs and seals DST
                                  with itest_production --helper forge

Only the standard library, jsonschema (Debian python3-jsonschema) and, for
the attacker's signatures, cryptography (python3-cryptography).
"""
import base64
import email
import email.policy
import hashlib
import http.server
import io
import json
import os
import ssl
import subprocess
import sys
import tarfile
import zipfile

ALICE = "+15550100001"
BOB = "+15550100002"
CAROL = "+15550100003"
WINDOW = ("2026-03-10T00:00:00Z", "2026-03-12T23:59:59Z")


def psql(sql):
    out = subprocess.run(["psql", "-XAtq", "-F", "\t", "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


# -- gen -------------------------------------------------------------------


def gen(out):
    recs = []

    def add(conv, channel, sender, recips, ts, body, scope, att=None):
        r = {"id": "msg-%03d" % len(recs), "channel": channel,
             "conversation": conv, "direction": "out" if sender == ALICE else "in",
             "sender": sender, "recipients": recips, "sent_at": ts,
             "body": body}
        if att is not None:
            r["attachments"] = [att]
        recs.append((r, scope))

    png = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
           "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
    for day in (10, 11, 12):
        for h in range(6):
            s = ALICE if h % 2 == 0 else BOB
            add("chat alice+bob", "signal", s, [BOB if s == ALICE else ALICE],
                "2026-03-%02dT%02d:15:00.5Z" % (day, 8 + h),
                "day %d #%d: caf\u00e9 \"quoted\" \\ <tag> \u2603" % (day, h),
                True, {"name": "photo %d.png" % h, "type": "image/png",
                       "data": png} if h == 3 else None)
    # issue 15.3: attachment names round-trip, hostile names and content
    for k, (s, body, name, typ, data) in enumerate((
            (ALICE, "<script>alert(1)</script> & \"report\"", "Q3 report.pdf",
             "application/pdf", b"%PDF-1.4 Q3"),
            (BOB, "=1+2 not a formula", "../../etc/passwd", "text/plain",
             b"root:x:0:0"),
            (BOB, "backslash name", "..\\x", "application/octet-stream", b"x"),
            (ALICE, "formula name", "=HYPERLINK(\"http://evil.invalid\")",
             "text/csv", b"a,b"))):
        add("chat alice+bob", "signal", s, [BOB if s == ALICE else ALICE],
            "2026-03-12T18:%02d:00Z" % k, body, True,
            {"name": name, "type": typ, "data": base64.b64encode(data).decode()})
    for i in range(5):
        add("team", "whatsapp", [ALICE, BOB, CAROL][i % 3],
            [p for p in (ALICE, BOB, CAROL) if p != [ALICE, BOB, CAROL][i % 3]],
            "2026-03-11T12:%02d:00Z" % i, "group message %d" % i, True)
    for i in range(4):
        add("bob+carol", "sms", BOB, [CAROL], "2026-03-11T09:%02d:00+01:00" % i,
            "not alice %d" % i, False)
    add("chat alice+bob", "signal", ALICE, [BOB], "2026-03-01T10:00:00Z",
        "before the window", False)
    add("chat alice+bob", "signal", ALICE, [BOB], "2026-03-20T10:00:00Z",
        "after the window", False)
    with open(out, "w") as f:
        for r, _ in recs:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    with open(out + ".scope", "w") as f:
        for r, scope in recs:
            f.write("%s %d\n" % (r["id"], 1 if scope else 0))


# -- serve -----------------------------------------------------------------


class Api(http.server.BaseHTTPRequestHandler):
    helper = None

    def log_message(self, fmt, *args):
        pass

    def fingerprint(self):
        der = self.connection.getpeercert(binary_form=True)
        return hashlib.sha256(der).hexdigest()

    def user(self):
        rows = psql("SELECT tenant_id, role, coalesce(custodian_index, 0) "
                    "FROM coffer.users WHERE cert_fingerprint = '%s' AND "
                    "status = 'active'" % self.fingerprint())
        return rows[0] if rows else None

    def reply(self, code, body):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, code, what, msg):
        self.reply(code, json.dumps({"error": {"code": what, "message": msg}}))

    def do_GET(self):
        u = self.user()
        if u is None:
            return self.error(403, "forbidden", "unknown certificate")
        if self.path == "/v1/whoami":
            return self.reply(200, json.dumps({
                "tenant_id": u[0], "role": u[1],
                "custodian_index": int(u[2]) or None}))
        parts = self.path.split("/")
        if len(parts) == 4 and parts[1:3] == ["v1", "matters"]:
            p = subprocess.run([self.helper, "--helper", "matter-json", u[0],
                                parts[3]], capture_output=True, text=True)
            if p.returncode != 0:
                return self.error(404, "not_found", "no such matter")
            return self.reply(200, p.stdout)
        return self.error(404, "not_found", "no such route")

    def do_POST(self):
        u = self.user()
        parts = self.path.split("/")
        if u is None or u[1] != "custodian":
            return self.error(403, "forbidden", "custodians only")
        if len(parts) != 5 or parts[1:3] != ["v1", "matters"] or \
                parts[4] != "approvals":
            return self.error(404, "not_found", "no such route")
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        p = subprocess.run([self.helper, "--helper", "approve-store", u[0],
                            parts[3], self.fingerprint()], input=body,
                           capture_output=True)
        if p.returncode != 0:
            return self.reply(409 if b"already" in p.stdout else 422,
                              p.stdout or b'{"error":{"code":"invalid"}}')
        return self.reply(201, p.stdout)


def serve(args):
    opts = dict(zip(args[::2], args[1::2]))
    Api.helper = opts["--helper"]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(opts["--cert"], opts["--key"])
    ctx.load_verify_locations(opts["--people-ca"])
    ctx.verify_mode = ssl.CERT_REQUIRED
    srv = http.server.HTTPServer(("127.0.0.1", 0), Api)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(opts["--port-file"] + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(opts["--port-file"] + ".tmp", opts["--port-file"])
    srv.serve_forever()


# -- verify ----------------------------------------------------------------


def fail(msg):
    print("FAIL - " + msg)
    sys.exit(1)


def verify(d, sent, responses, schema_path, tenant):
    import jsonschema

    with open(schema_path) as f:
        schema = json.load(f)
    want = {}
    with open(sent) as f:
        for line in f:
            r = json.loads(line)
            want[r["id"]] = r
    scope = {}
    with open(sent + ".scope") as f:
        for line in f:
            i, s = line.split()
            scope[i] = s == "1"
    receipts = {}
    with open(responses) as f:
        for line in f:
            r = json.loads(line)
            if r.get("status") == "stored":
                receipts[r["id"]] = r["receipt"]

    # records.jsonl: exactly the in-scope records, bodies as sent.
    got = {}
    with open(os.path.join(d, "records.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            got[r["record"]["id"]] = r
    expect = {i for i, s in scope.items() if s}
    if set(got) != expect:
        fail("records.jsonl: missing %s, extra %s" %
             (sorted(expect - set(got)), sorted(set(got) - expect)))
    for i, r in got.items():
        rec, orig = r["record"], want[i]
        for k in ("body", "sender", "recipients", "conversation", "channel",
                  "direction"):
            if rec[k] != orig[k]:
                fail("record %s: %s differs" % (i, k))
        if rec.get("attachments", []) != orig.get("attachments", []):
            fail("record %s: attachments differ" % i)
        if r["receipt"] != receipts[i]:
            fail("record %s: receipt %s, the gateway said %s" %
                 (i, r["receipt"], receipts[i]))
    print("ok   - records.jsonl holds exactly the %d in-scope records, as sent"
          % len(got))

    # manifest.json: valid JSON; receipts equal the database's.
    with open(os.path.join(d, "manifest.json")) as f:
        man = json.load(f)
    if man["record_count"] != len(got) or len(man["records"]) != len(got):
        fail("manifest counts")
    db = {(s, int(q)): h for s, q, h in psql(
        "SELECT stream_id, seq, encode(leaf_hash, 'hex') FROM coffer.records "
        "WHERE tenant_id = '%s'" % tenant)}
    cps = {c["stream"]: c for c in man["checkpoints"]}
    dbcp = {(s, int(b)): (h, g) for s, b, h, g in psql(
        "SELECT stream_id, batch_no, encode(head, 'hex'), "
        "encode(signature, 'hex') FROM coffer.checkpoints "
        "WHERE tenant_id = '%s'" % tenant)}
    for m in man["records"]:
        if db.get((m["stream"], m["seq"])) != m["leaf_hash"]:
            fail("manifest receipt %s:%d does not match the database" %
                 (m["stream"], m["seq"]))
        c = m["checkpoint"]
        if c is None or c["last_seq"] < m["seq"] or c["batch_no"] < m["batch_no"]:
            fail("record %s:%d has no covering checkpoint" % (m["stream"], m["seq"]))
        if dbcp.get((m["stream"], c["batch_no"])) != (c["head"], c["signature"]):
            fail("checkpoint of %s:%d differs from the database" %
                 (m["stream"], m["seq"]))
        if cps[m["stream"]]["head"] != c["head"]:
            fail("record checkpoint not in the manifest's list")
    print("ok   - manifest.json: %d receipts and their checkpoints match the "
          "database" % len(man["records"]))

    # RSMF: RFC 5322 + rsmf.zip, manifests valid against the schema.
    files = sorted(os.listdir(os.path.join(d, "rsmf")))
    if len(files) != man["rsmf_files"] or not files:
        fail("rsmf files: %d, manifest says %d" % (len(files), man["rsmf_files"]))
    events = 0
    seen = set()
    for name in files:
        with open(os.path.join(d, "rsmf", name), "rb") as f:
            msg = email.message_from_binary_file(f, policy=email.policy.default)
        if msg["X-RSMF-Version"] != "2.0.0" or not msg["X-RSMF-Generator"] or \
                not msg["X-RSMF-BeginDate"] or not msg["X-RSMF-EndDate"]:
            fail("%s: X-RSMF headers missing" % name)
        zips = [p for p in msg.iter_attachments() if p.get_filename() == "rsmf.zip"]
        if len(zips) != 1:
            fail("%s: %d rsmf.zip attachments" % (name, len(zips)))
        z = zipfile.ZipFile(io.BytesIO(zips[0].get_content()))
        if z.testzip() is not None:
            fail("%s: rsmf.zip is corrupt" % name)
        mtext = z.read("rsmf_manifest.json")
        manifest = json.loads(mtext)
        jsonschema.validate(manifest, schema)
        out = os.path.join(d, "rsmf", name + ".manifest.json")
        with open(out, "wb") as f:
            f.write(mtext)
        if int(msg["X-RSMF-EventCount"]) != len(manifest["events"]):
            fail("%s: X-RSMF-EventCount %s, %d events" %
                 (name, msg["X-RSMF-EventCount"], len(manifest["events"])))
        pids = {p["id"] for p in manifest["participants"]}
        for ev in manifest["events"]:
            rec = got[[c["value"] for c in ev["custom"]
                       if c["name"] == "source_id"][0]]["record"]
            seen.add(rec["id"])
            if ev["body"] != rec["body"] or ev["participant"] not in pids:
                fail("%s: event %s differs from its record" % (name, ev["id"]))
            for a in ev.get("attachments", []):
                if "/" in a["id"] or len(z.read(a["id"])) != a["size"]:
                    fail("%s: attachment %s" % (name, a["id"]))
        events += len(manifest["events"])
    if events != len(got) or seen != set(got):
        fail("RSMF files hold %d events for %d records" % (events, len(got)))
    print("ok   - %d RSMF files parse (email), unzip, validate against the "
          "RSMF 2.0.0 schema and hold every record once" % len(files))
    review(d, man, got, want)


def review(d, man, got, want):
    """Issue 15.3: the files reviewers use."""
    import csv
    import hashlib
    import re

    # RSMF: one file per conversation and UTC day, safe names
    days = {}
    for name in os.listdir(os.path.join(d, "rsmf")):
        if name.endswith(".manifest.json"):
            continue
        m = re.match(r"^c(\d{6})_(\d{4}-\d{2}-\d{2})\.rsmf$", name)
        if not m:
            fail("rsmf/%s: not c<conversation>_<YYYY-MM-DD>.rsmf" % name)
        with open(os.path.join(d, "rsmf", name + ".manifest.json")) as f:
            rm = json.load(f)
        for ev in rm["events"]:
            if not ev["timestamp"].startswith(m.group(2)):
                fail("rsmf/%s holds an event of %s" % (name, ev["timestamp"]))
        days[(m.group(1), m.group(2))] = name
    print("ok   - one RSMF file per conversation and UTC day (%d), named "
          "c<conversation>_<YYYY-MM-DD>.rsmf" % len(days))

    # attachments: names and types kept, files under safe names inside d
    byname = {}
    recs = man["records"]
    for m in recs:
        for a in m["attachments"]:
            p = os.path.join(d, a["file"])
            real = os.path.realpath(p)
            if not real.startswith(os.path.realpath(d) + os.sep) or \
                    not os.path.isfile(p) or "/" in a["file"][12:] or \
                    "\\" in a["file"] or os.path.exists(os.path.join(d, a["entry"])):
                fail("attachment %s: not at its safe name %s" % (a["entry"], a["file"]))
            data = open(p, "rb").read()
            if hashlib.sha256(data).hexdigest() != a["sha256"] or \
                    len(data) != a["size"]:
                fail("attachment %s: bytes differ from the manifest" % a["file"])
            byname[a["name"]] = (a, data)
    for r in want.values():
        for a in r.get("attachments", []):
            if r["id"] not in got:
                continue
            if a["name"] not in byname:
                fail("attachment name %r not in the manifest" % a["name"])
            ma, data = byname[a["name"]]
            if ma["content_type"] != a["type"] or \
                    data != base64.b64decode(a["data"]):
                fail("attachment %r: type or bytes differ" % a["name"])
    q3 = byname.get("Q3 report.pdf")
    if q3 is None or not q3[0]["file"].endswith("-Q3_report.pdf"):
        fail("Q3 report.pdf: %r" % (q3 and q3[0]["file"]))
    for hostile in ("../../etc/passwd", "..\\x"):
        f = byname[hostile][0]["file"]
        if ".." + "/" in f or "\\" in f or not f.startswith("attachments/CFR"):
            fail("hostile name %r on disk as %r" % (hostile, f))
    print("ok   - %d attachments: original names and types in the manifest, "
          "bytes as sent, on disk under safe names inside the directory "
          "('Q3 report.pdf' -> %s, '../../etc/passwd' -> %s)" %
          (len(byname), q3[0]["file"], byname["../../etc/passwd"][0]["file"]))

    # transcripts: every conversation, escaped, every message
    ctl = {m["control"]: m for m in recs}
    seen = set()
    for c in man["conversations"]:
        html = open(os.path.join(d, c["transcript_html"]), encoding="utf-8").read()
        txt = open(os.path.join(d, c["transcript_text"]), encoding="utf-8").read()
        low = html.lower()
        if re.search(r"<(script|img|link|iframe|object|embed|base)\b", low) or \
                "src=" in low or "url(" in low or "@import" in low:
            fail("%s: script or external resource" % c["transcript_html"])
        for k in ctl:
            if ('<tr id="%s">' % k) in html:
                if k not in txt:
                    fail("%s: %s missing in the text transcript" % (c["id"], k))
                seen.add(k)
    if seen != set(ctl):
        fail("transcripts hold %d of %d messages" % (len(seen), len(ctl)))
    allhtml = "".join(open(os.path.join(d, c["transcript_html"]),
                           encoding="utf-8").read() for c in man["conversations"])
    if "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;report&quot;" not in allhtml:
        fail("the <script> message is not escaped in the HTML transcript")
    if 'href="../%s"' % q3[0]["file"] not in allhtml:
        fail("the HTML transcript does not link Q3 report.pdf")
    print("ok   - %d conversations: HTML and text transcripts hold every "
          "message, '<script>' escaped, no external resources, attachments "
          "linked" % len(man["conversations"]))

    # load file: RFC 4180, one row per record, no formula cells
    with open(os.path.join(d, "loadfile.csv"), newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    hdr, rows = rows[0], rows[1:]
    if len(rows) != len(got) or len(rows) != man["record_count"]:
        fail("loadfile.csv: %d rows for %d records" % (len(rows), len(got)))
    col = {h: i for i, h in enumerate(hdr)}
    for row in rows:
        if len(row) != len(hdr):
            fail("loadfile.csv: a row of %d cells" % len(row))
        for cell in row:
            if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
                fail("loadfile.csv: formula cell %r" % cell)
        m = ctl[row[col["control"]]]
        if row[col["receipt"]] != got[row[col["source_id"]]]["receipt"] or \
                row[col["leaf_hash"]] != m["leaf_hash"]:
            fail("loadfile.csv: row %s differs from the manifest" % row[0])
    names = [r[col["attachment_names"]] for r in rows]
    if "'=HYPERLINK(\"http://evil.invalid\")" not in names or \
            "Q3 report.pdf" not in names:
        fail("loadfile.csv: attachment names %r" % names)
    print("ok   - loadfile.csv: %d rows for %d records, RFC 4180, formula "
          "cells prefixed with '" % (len(rows), len(got)))

    # cover sheet and manifest: matter, approvals, every file's SHA-256
    mt = man["matter"]
    cover = open(os.path.join(d, "cover.txt"), encoding="utf-8").read()
    chtml = open(os.path.join(d, "cover.html"), encoding="utf-8").read()
    for v in (mt["title"], mt["legal_basis"], mt["requester"]["name"]):
        if v not in cover:
            fail("cover.txt lacks %r" % v)
    if len(mt["approvals"]) < man["threshold"]:
        fail("manifest: %d approvals" % len(mt["approvals"]))
    for a in mt["approvals"]:
        if a["name"] not in cover or a["approved_at"] not in cover:
            fail("cover.txt lacks approver %r" % a["name"])
    ent = {a["entry"]: a["file"] for m in recs for a in m["attachments"]}
    listed = set()
    for f in man["files"]:
        p = os.path.join(d, ent.get(f["name"], f["name"]))
        if hashlib.sha256(open(p, "rb").read()).hexdigest() != f["sha256"]:
            fail("manifest files: %s SHA-256 differs" % f["name"])
        if f["name"] not in ("cover.txt", "cover.html") and \
                (f["sha256"] not in cover or f["sha256"] not in chtml):
            fail("cover sheets lack the SHA-256 of %s" % f["name"])
        listed.add(os.path.join(d, ent.get(f["name"], f["name"])))
    ondisk = set()
    for root, _, fs in os.walk(d):
        for n in fs:
            if not n.endswith(".manifest.json"):
                ondisk.add(os.path.join(root, n))
    extra = ondisk - listed - {os.path.join(d, "manifest.json"),
                               os.path.join(d, "manifest.sig")}
    if extra:
        fail("files without a SHA-256 in the manifest: %s" % sorted(extra))
    print("ok   - cover.txt, cover.html: matter, legal basis, requester, %d "
          "approving custodians with times, SHA-256 of all %d files (the "
          "manifest's, checked on disk)" % (len(mt["approvals"]), len(man["files"])))


# -- maketar ---------------------------------------------------------------


def maketar(kind, out):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        def add(name, data=b"x", typ=tarfile.REGTYPE, link=""):
            ti = tarfile.TarInfo(name)
            ti.type = typ
            ti.linkname = link
            ti.size = len(data) if typ == tarfile.REGTYPE else 0
            t.addfile(ti, io.BytesIO(data) if typ == tarfile.REGTYPE else None)
        add("records.jsonl", b"")
        if kind == "dotdot":
            add("rsmf/../../escaped.rsmf")
        elif kind == "absolute":
            add("/tmp/coffer-absolute.rsmf")
        elif kind == "symlink":
            add("rsmf/link.rsmf", typ=tarfile.SYMTYPE, link="/etc/passwd")
        elif kind == "hardlink":
            add("rsmf/hard.rsmf", typ=tarfile.LNKTYPE, link="records.jsonl")
        elif kind == "device":
            add("rsmf/dev.rsmf", typ=tarfile.CHRTYPE)
        elif kind == "unexpected":
            add("README.txt")
        else:
            raise SystemExit("unknown kind")
    with open(out, "wb") as f:
        f.write(buf.getvalue())


# -- forge (issue 13.3) ------------------------------------------------------
#
# The attacker of a production: a legal user's public key is in the
# database, so anyone can seal a container to it; these forgeries change
# what a genuine production (opened into SRC) holds.  KIND:
#   invent    alter a record's plaintext, checkpoints set to null and
#             manifest.sig removed: what the old opener accepted
#   plaintext alter a record's plaintext (kept: everything else)
#   nodekey   re-sign every checkpoint with the attacker's key (ATTACKER
#             env: its key file) and substitute that key in the manifest
#   nodekey-records  the same with the manifest's header checkpoints
#             dropped, so each record's own checkpoint is what fails
#   moved     append a record of another production (OTHER) with its receipt
#   nullck    the first record's checkpoint set to null (proof and receipt)
#   asis      nothing changed (FORGE_PARTS cuts records.jsonl, issue 17.4)


def _load_dir(src):
    recs = [json.loads(l) for l in open(os.path.join(src, "records.jsonl"))]
    lines = open(os.path.join(src, "manifest.json")).read().split("\n")
    return recs, lines


def _ck_msg(tenant, ck, stream):
    import uuid
    import struct
    return (b"coffer-checkpoint-v1" + uuid.UUID(tenant).bytes +
            uuid.UUID(stream).bytes + struct.pack(">QQ", ck["batch_no"],
            ck["last_seq"]) + bytes.fromhex(ck["head"]) +
            struct.pack(">q", ck["signed_at_us"]))


def _attacker():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    seed = open(os.environ["ATTACKER"], "rb").read()[:32]
    return Ed25519PrivateKey.from_private_bytes(seed)


def attackerkey(out):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives import serialization
    k = Ed25519PrivateKey.generate()
    seed = k.private_bytes(serialization.Encoding.Raw,
                           serialization.PrivateFormat.Raw,
                           serialization.NoEncryption())
    pk = k.public_key().public_bytes(serialization.Encoding.Raw,
                                     serialization.PublicFormat.Raw)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, seed + pk)
    os.close(fd)


def forge(kind, src, dst, other=None):
    import shutil
    shutil.copytree(src, dst)
    for name in os.listdir(os.path.join(dst, "rsmf")):
        if not name.endswith(".rsmf"):     # what verify unpacked
            os.unlink(os.path.join(dst, "rsmf", name))
    if kind == "asis":
        return          # as built (the packer cuts records.jsonl in parts)
    recs, lines = _load_dir(src)
    head = json.loads(lines[0][:-len('"records":[')] .rstrip(",") + "}")
    receipts = [json.loads(l.rstrip(",")) for l in lines[1:-1] if l not in ("]}", "")]
    tenant = head["tenant_id"]

    def alter(rec):
        body = rec["record"]
        body["body"] = "an invented message, never sent"

    if kind in ("invent", "plaintext"):
        alter(recs[0])
    if kind == "invent":
        for r in recs:
            r["proof"]["checkpoint"] = None
        for m in receipts:
            m["checkpoint"] = None
        os.unlink(os.path.join(dst, "manifest.sig"))
    if kind in ("nodekey", "nodekey-records"):
        from cryptography.hazmat.primitives import serialization
        k = _attacker()
        pkhex = k.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
        for r in recs:
            ck = r["proof"]["checkpoint"]
            ck["signature"] = k.sign(_ck_msg(tenant, ck, r["stream"])).hex()
        for m, r in zip(receipts, recs):
            m["checkpoint"] = r["proof"]["checkpoint"]
        for ck in head["checkpoints"]:
            ck["signature"] = k.sign(_ck_msg(tenant, ck, ck["stream"])).hex()
            ck["node_public_key"] = pkhex
        if kind == "nodekey-records":
            head["checkpoints"] = []
    if kind == "moved":
        orecs, olines = _load_dir(other)
        oreceipts = [json.loads(l.rstrip(",")) for l in olines[1:-1]
                     if l not in ("]}", "")]
        recs.append(orecs[0])
        receipts.append(oreceipts[0])
        head["record_count"] += 1
        # (its RSMF event is not added: export open names the record
        # before it compares the RSMF event count)
    if kind == "eventcount":
        # an RSMF header line the opener must parse within the line: digits
        # followed by more text (strtoull used to read on past it)
        d = os.path.join(dst, "rsmf")
        name = sorted(n for n in os.listdir(d) if n.endswith(".rsmf"))[0]
        with open(os.path.join(d, name), "rb") as f:
            data = f.read()
        i = data.index(b"X-RSMF-EventCount:")
        j = data.index(b"\n", i)
        data = data[:i] + b"X-RSMF-EventCount: 1 2" + data[j - (data[j - 1] == 13):]
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    if kind in ("cover", "loadfile", "transcript"):
        # issue 15.3: a reviewer file edited after the build
        name = {"cover": "cover.html", "loadfile": "loadfile.csv",
                "transcript": "transcripts/c000001.html"}[kind]
        with open(os.path.join(dst, name), "ab") as f:
            f.write(b'"x"\r\n' if kind == "loadfile" else b"<!-- edited -->\n")
        return          # records.jsonl and manifest.json as built
    if kind == "nullck":
        recs[0]["proof"]["checkpoint"] = None
        receipts[0]["checkpoint"] = None
    with open(os.path.join(dst, "records.jsonl"), "w") as f:
        for r in recs:
            f.write(json.dumps(r, separators=(",", ":")) + "\n")
    h = json.dumps(head, separators=(",", ":"))
    with open(os.path.join(dst, "manifest.json"), "w") as f:
        f.write(h[:-1] + ',"records":[\n')
        f.write(",\n".join(json.dumps(m, separators=(",", ":")) for m in receipts))
        f.write("\n]}")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "gen":
        gen(args[0])
    elif cmd == "serve":
        serve(args)
    elif cmd == "verify":
        verify(*args)
    elif cmd == "maketar":
        maketar(*args)
    elif cmd == "attackerkey":
        attackerkey(*args)
    elif cmd == "forge":
        forge(*args)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
