#!/usr/bin/env python3
"""ops/demo-corpus.py — a synthetic but realistic message corpus for `make demo`.

Writes one NDJSON file per device (the gateway's ingest format, DESIGN.md
"Ingest protocol") and a summary.json describing what was generated and
which records a demo matter must produce:

    python3 ops/demo-corpus.py --out DIR [--start YYYY-MM-DD] [--days N] [--seed S]

The story: two phones of a trading desk at a fictional firm, Northwind
Capital, archived across Signal, WhatsApp, Telegram, WeChat, SMS and RCS,
with clients and colleagues, group chats, and attachments (small PNG
images, CSV position sheets, PDF term sheets).  Every phone number is in a
range reserved for fiction (+1 555 01xx, UK +44 7700 900xxx).  The output is
deterministic for a given seed and start date.

Matter scope semantics assumed for the expected set: a record is in scope
when the participant is its sender or one of its recipients and
from <= sent_at < to.  No record is generated within a minute of midnight, so
day-aligned windows have no boundary ambiguity.
"""
import argparse
import base64
import datetime as dt
import json
import os
import random
import struct
import sys
import zlib

FIRM = "Northwind Capital"

# name, address (E.164 or handle), owner device or None
PEOPLE = {
    "dana": ("Dana Whitfield", "+15550100011"),      # rates trader (device 1)
    "marcus": ("Marcus Lee", "+15550100012"),        # institutional sales (device 2)
    "priya": ("Priya Raman", "+447700900123"),       # client, London
    "henrik": ("Henrik Olsen", "+15550100031"),      # client, hedge fund
    "lin": ("Lin Mei", "wxid_lin_mei"),              # client, Shanghai (WeChat id)
    "sofia": ("Sofia Marquez", "+15550100041"),      # colleague, risk
    "tom": ("Tom Becker", "+15550100042"),           # colleague, desk head
    "kestrel": ("Kestrel Ops", "@kestrel_ops"),      # Telegram handle
    "broker": ("Grey Harbour Brokers", "+15550100051"),
}

DEVICES = {
    "dana-iphone": "dana",
    "marcus-pixel": "marcus",
}

# (conversation id, channel, members, weight, topics)
CONVERSATIONS = [
    ("sig-dana-priya", "signal", ["dana", "priya"], 5, "client"),
    ("sig-desk-kestrel", "signal", ["dana", "marcus", "tom", "sofia"], 6, "desk"),
    ("wa-dana-henrik", "whatsapp", ["dana", "henrik"], 4, "client"),
    ("tg-kestrel-ops", "telegram", ["dana", "kestrel"], 3, "kestrel"),
    ("sms-dana-broker", "sms", ["dana", "broker"], 2, "broker"),
    ("rcs-dana-tom", "rcs", ["dana", "tom"], 2, "desk"),
    ("wc-marcus-lin", "wechat", ["marcus", "lin"], 5, "client"),
    ("wa-marcus-priya", "whatsapp", ["marcus", "priya"], 3, "client"),
    ("sig-marcus-sofia", "signal", ["marcus", "sofia"], 3, "risk"),
    ("sms-marcus-henrik", "sms", ["marcus", "henrik"], 2, "client"),
]

LINES = {
    "client": [
        "Morning - can you show me a level on the 10y swap, 50 million?",
        "We're 2.5bp tighter than yesterday's close, indicative only.",
        "Client wants to roll the December position into March.",
        "Can we get the term sheet before their IC meets at 3?",
        "Sending the updated run now, levels firm for 15 minutes.",
        "They're asking about the Kestrel allocation again.",
        "Confirming: done at the mid, ticket to follow.",
        "Let's take this to a recorded line please.",
        "Is the new issue still on for Thursday?",
        "Thanks, booked. Settlement T+2.",
    ],
    "desk": [
        "Heads up: big Kestrel order coming in after lunch.",
        "Who's covering the curve while Tom is out?",
        "Risk limits updated for the quarter, see attached.",
        "Let's not pre-position ahead of the client print.",
        "Kestrel book is flat now, PnL sheet attached.",
        "Desk drinks Friday, 6pm.",
        "Compliance asked everyone to keep client chats on approved apps.",
        "Can someone check the fix on the 2y?",
    ],
    "kestrel": [
        "Kestrel: allocation list v3 uploaded.",
        "Kestrel: timing moved to 14:30 London.",
        "Kestrel: please confirm size before the call.",
        "Kestrel: call notes attached.",
    ],
    "broker": [
        "Grey Harbour: 25 at 101.5 if you want it.",
        "Done, thanks. Send the confirm.",
        "Any interest in the long end today?",
    ],
    "risk": [
        "Your VaR is close to the limit, can you trim?",
        "Limit breach report attached, please sign.",
        "All good after the hedge, thanks.",
    ],
}


def png_bytes(rng):
    """A tiny solid-colour 8x8 PNG, built by hand with zlib (no dependencies)."""
    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data +
                struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))
    r, g, b = rng.randrange(256), rng.randrange(256), rng.randrange(256)
    raw = b"".join(b"\x00" + bytes([r, g, b]) * 8 for _ in range(8))
    return (b"\x89PNG\r\n\x1a\n" +
            chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def csv_bytes(rng):
    rows = ["instrument,notional,side,price"]
    for inst in ("UST 10Y", "SOFR 2Y", "EUR 5Y", "GILT 30Y"):
        rows.append("%s,%d,%s,%.3f" % (inst, rng.randrange(5, 200) * 1000000,
                                       rng.choice(("buy", "sell")),
                                       95 + rng.random() * 10))
    return ("\n".join(rows) + "\n").encode()


def pdf_bytes(title):
    text = "%s - indicative terms - %s" % (FIRM, title)
    body = "BT /F1 12 Tf 72 720 Td (%s) Tj ET" % text
    return ("%%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
            "2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
            "3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]"
            "/Contents 4 0 R>>endobj\n4 0 obj<</Length %d>>stream\n%s\n"
            "endstream endobj\ntrailer<</Root 1 0 R>>\n%%%%EOF\n"
            % (len(body), body)).encode()


def attachment(rng, topic, n):
    kind = rng.choice(("png", "csv", "pdf"))
    if kind == "png":
        return {"name": "IMG_%04d.png" % n, "type": "image/png",
                "data": base64.b64encode(png_bytes(rng)).decode()}
    if kind == "csv":
        return {"name": "positions-%04d.csv" % n, "type": "text/csv",
                "data": base64.b64encode(csv_bytes(rng)).decode()}
    return {"name": "termsheet-%04d.pdf" % n, "type": "application/pdf",
            "data": base64.b64encode(pdf_bytes(topic)).decode()}


def generate(start, days, seed, per_device):
    rng = random.Random(seed)
    records = {d: [] for d in DEVICES}
    serial = 0
    for device, owner in DEVICES.items():
        convs = [c for c in CONVERSATIONS if owner in c[2]]
        weights = [c[3] for c in convs]
        for i in range(per_device[device]):
            cid, channel, members, _, topic = rng.choices(convs, weights)[0]
            day = rng.randrange(days)
            # 07:00 .. 21:59 local-free UTC: never near midnight
            when = (dt.datetime.combine(start, dt.time(0, 0), dt.timezone.utc) +
                    dt.timedelta(days=day, hours=rng.randrange(7, 22),
                                 minutes=rng.randrange(60),
                                 seconds=rng.randrange(60)))
            # the owner sends about half of the messages of a conversation
            if rng.random() < 0.5:
                sender = owner
            else:
                sender = rng.choice([m for m in members if m != owner])
            recipients = [m for m in members if m != sender]
            serial += 1
            rec = {
                "id": "%s-%06d" % (device, serial),
                "channel": channel,
                "conversation": cid,
                "direction": "out" if sender == owner else "in",
                "sender": PEOPLE[sender][1],
                "recipients": [PEOPLE[m][1] for m in recipients],
                "sent_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "body": rng.choice(LINES[topic]),
            }
            if rng.random() < 0.12:
                rec["attachments"] = [attachment(rng, cid, serial)]
            records[device].append(rec)
        records[device].sort(key=lambda r: r["sent_at"])
    return records


def canaries(records, who):
    """Strings that occur in the corpus and must never occur in a dump of
    the database: participants, source message ids, bodies, attachment
    names."""
    out = [who, PEOPLE["lin"][1], PEOPLE["kestrel"][1]]
    for recs in records.values():
        out.append(recs[0]["id"])
        out.append(recs[0]["body"])
        for r in recs:
            if "attachments" in r:
                out.append(r["attachments"][0]["name"])
                break
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--start", help="first day (YYYY-MM-DD); default: "
                    "28 days before today (UTC)")
    ap.add_argument("--days", type=int, default=21)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--records", type=int, default=320,
                    help="total records over both devices")
    a = ap.parse_args()
    if a.start:
        start = dt.date.fromisoformat(a.start)
    else:
        start = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=28)
    if a.days < 8 or a.records < 20:
        sys.exit("demo-corpus: need at least 8 days and 20 records")
    per_device = {"dana-iphone": a.records * 9 // 16}
    per_device["marcus-pixel"] = a.records - per_device["dana-iphone"]
    records = generate(start, a.days, a.seed, per_device)

    os.makedirs(a.out, exist_ok=True)
    for device, recs in records.items():
        with open(os.path.join(a.out, device + ".ndjson"), "w") as f:
            for r in recs:
                f.write(json.dumps(r, separators=(",", ":")) + "\n")

    # The demo matter: everything Dana exchanged in a 7-day window.
    who = PEOPLE["dana"][1]
    m_from = start + dt.timedelta(days=7)
    m_to = m_from + dt.timedelta(days=7)
    f_s = m_from.strftime("%Y-%m-%dT00:00:00Z")
    t_s = m_to.strftime("%Y-%m-%dT00:00:00Z")
    in_scope = sorted(r["id"] for recs in records.values() for r in recs
                      if (r["sender"] == who or who in r["recipients"])
                      and f_s <= r["sent_at"] < t_s)
    everything = [r for recs in records.values() for r in recs]
    summary = {
        "firm": FIRM,
        "start": start.isoformat(),
        "days": a.days,
        "seed": a.seed,
        "devices": {d: len(r) for d, r in records.items()},
        "records": len(everything),
        "attachments": sum(len(r.get("attachments", [])) for r in everything),
        "channels": sorted({r["channel"] for r in everything}),
        "conversations": len({r["conversation"] for r in everything}),
        "participants": len({p for r in everything
                             for p in [r["sender"]] + r["recipients"]}),
        "matter": {
            "title": "Project Kestrel: possible pre-positioning ahead of client orders",
            "legal_basis": "SEC subpoena 2026-NY-0417; FINRA Rule 4511 records request",
            "participant": who,
            "participant_name": PEOPLE["dana"][0],
            "from": f_s,
            "to": t_s,
            "expected_ids": in_scope,
        },
        # strings that must never appear in a database dump
        "canaries": canaries(records, who),
    }
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")
    print("demo-corpus: %d records (%s), %d attachments, %d channels, "
          "%d conversations; matter window %s .. %s holds %d"
          % (summary["records"],
             ", ".join("%s %d" % kv for kv in summary["devices"].items()),
             summary["attachments"], len(summary["channels"]),
             summary["conversations"], f_s[:10], t_s[:10], len(in_scope)))


if __name__ == "__main__":
    main()
