#!/usr/bin/env python3
"""tests/lib/pgproxy.py — a loopback TCP proxy in front of PostgreSQL that
can cut a connection between COMMIT and its answer (tests/integration/
fault_commit_cut.sh).

    pgproxy.py --socket PATH --port-file FILE --log FILE [--pid-file FILE]

Listens on 127.0.0.1 (a free port, written to --port-file once it
listens) and forwards each connection to the server's unix socket PATH
(e.g. $PGHOST/.s.PGSQL.$PGPORT), so the server sees a local connection
and pg_hba needs no host line.  Point the client at
"host=127.0.0.1 port=<port> sslmode=disable" (an SSLRequest or
GSSENCRequest is forwarded too; the server answers 'N' on a unix socket).

It follows the frontend/backend protocol v3 in both directions, message
by message:
  - client -> server: the untyped start-up packets, then typed messages.
    A transaction is "a batch" once the client parses the gateway's
    "WITH b AS (INSERT INTO coffer.batches ..." statement; the Bind that
    follows gives the stream id ($2, 16 binary bytes) and batch number
    ($3, text) of each group.  The API's settle of a production (a
    statement holding "INSERT INTO coffer.productions") marks its
    transaction too, logged as the batch "production:0".  COMMIT is
    recognised as a simple Query
    "COMMIT" or an extended-protocol Parse of "COMMIT" (what libpq's
    PQexecParams sends: Parse, Bind, Describe, Execute, Sync).
  - server -> client: typed messages (the one-byte answers to SSLRequest
    and GSSENCRequest excepted).

The rows of the transaction's binary "COPY coffer.records" are followed
too (CopyData is reassembled and split into tuples): stream id (field 2),
seq (field 3) and dedup token (field 12) of each.

Cuts, armed by signal, apply to the next COMMIT of a marked transaction
on any connection (in arming order):
  SIGUSR1 "after":  the COMMIT is forwarded; the server's messages are
      forwarded up to, not including, its CommandComplete (ParseComplete,
      BindComplete, NoData go through); then both sockets are closed.  The
      server has finished the COMMIT (it sends CommandComplete only after
      the commit record is flushed); the client never learns it.
  SIGUSR2 "before": the COMMIT is not forwarded; both sockets are closed,
      so the server rolls the transaction back; the client cannot tell
      this from the other case.
  SIGHUP "forward": the COMMIT is forwarded (up to its Sync), then both
      sockets are closed at once, without waiting for the server: it
      finishes the COMMIT (or not) on its own time.
Each cut is logged as

    cut <n> <wall-clock time> <tag> <stream-uuid>:<batch-no>[,...]
    row <n> <stream-uuid> <seq> <dedup-token-hex>      (one per record)

<tag>: COMMIT when the server committed, ROLLBACK or "error" when it
refused, DROPPED for a "before" cut, FORWARDED for a "forward" one.
Other log lines: "listening <port>", "armed <n> <mode>", "conn <n>" per
accepted connection, "commit <n>" per COMMIT of a batch seen.  SIGTERM/SIGINT stop it.
Loopback only; logs no message content (tokens and ids are not content).
"""
import argparse
import asyncio
import os
import signal
import struct
import sys
import time
import uuid

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102
BATCH_SQL = b"WITH b AS (INSERT INTO coffer.batches"
PRODUCTION_SQL = b"INSERT INTO coffer.productions"
COPY_SQL = b"COPY coffer.records"
COPY_SIG = b"PGCOPY\n\xff\r\n\0"


class Proxy:
    def __init__(self, sock_path, log):
        self.sock_path = sock_path
        self.log_f = log
        self.armed = []             # modes, in arming order
        self.nconn = 0
        self.ncommit = 0
        self.ncut = 0

    def log(self, *words):
        self.log_f.write(" ".join(str(w) for w in words) + "\n")
        self.log_f.flush()

    def arm(self, mode):
        self.armed.append(mode)
        self.log("armed", len(self.armed), mode)

    def log_cut(self, tag, cut):
        self.ncut += 1
        self.log("cut", self.ncut, "%.6f" % time.time(), tag,
                 ",".join("%s:%d" % b for b in cut["batches"]))
        for r in cut["rows"]:
            self.log("row", self.ncut, *r)

    async def handle(self, creader, cwriter):
        self.nconn += 1
        self.log("conn", self.nconn)
        try:
            sreader, swriter = await asyncio.open_unix_connection(
                self.sock_path)
        except OSError:
            cwriter.close()
            return
        st = Conn(self, creader, cwriter, sreader, swriter)
        up = asyncio.ensure_future(st.client_to_server())
        down = asyncio.ensure_future(st.server_to_client())
        await asyncio.wait([up, down], return_when=asyncio.FIRST_COMPLETED)
        st.close()
        for t in (up, down):
            t.cancel()
        await asyncio.gather(up, down, return_exceptions=True)


class Conn:
    def __init__(self, px, creader, cwriter, sreader, swriter):
        self.px = px
        self.cr, self.cw, self.sr, self.sw = creader, cwriter, sreader, swriter
        self.pending_bytes = 0      # one-byte answers owed by the server
        self.startup = True
        self.last_parse = b""
        self.batches = []           # (stream uuid, batch no) in this tx
        self.rows = []              # (stream uuid, seq, dedup hex) in this tx
        self.copying = False
        self.copybuf = b""
        self.copyhead = False
        self.cut = None             # the armed COMMIT: mode, batches, rows
        self.closed = False

    def close(self):
        if self.closed:
            return
        self.closed = True
        for w in (self.cw, self.sw):
            try:
                w.close()
            except Exception:  # noqa: BLE001 -- closing either way
                pass

    # -- client -> server ------------------------------------------------

    async def client_to_server(self):
        try:
            while self.startup:
                head = await self.cr.readexactly(4)
                (n,) = struct.unpack("!I", head)
                body = await self.cr.readexactly(n - 4)
                code = struct.unpack("!I", body[:4])[0] if n >= 8 else 0
                if code in (SSL_REQUEST, GSSENC_REQUEST):
                    self.pending_bytes += 1
                elif code != CANCEL_REQUEST:
                    self.startup = False       # StartupMessage
                self.sw.write(head + body)
                await self.sw.drain()
            while True:
                head = await self.cr.readexactly(5)
                typ = head[:1]
                (n,) = struct.unpack("!I", head[1:])
                body = await self.cr.readexactly(n - 4)
                self.inspect(typ, body)
                if self.cut is not None and self.cut["mode"] == "before":
                    self.px.log_cut("DROPPED", self.cut)
                    return              # handle() closes both sockets
                self.sw.write(head + body)
                await self.sw.drain()
                if self.cut is not None and self.cut["mode"] == "forward" \
                        and typ in (b"S", b"Q"):
                    self.px.log_cut("FORWARDED", self.cut)
                    return              # handle() closes both sockets
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            return

    def is_commit(self, sql):
        return sql.rstrip(b"\0").strip().rstrip(b";").upper() == b"COMMIT"

    def statement(self, q):
        if q.upper().startswith(b"BEGIN"):
            self.batches = []
            self.rows = []
        elif q.startswith(COPY_SQL):
            self.copying = True
            self.copybuf = b""
            self.copyhead = False
        elif self.is_commit(q):
            self.on_commit()
        elif PRODUCTION_SQL in q:
            self.batches.append(("production", 0))

    def inspect(self, typ, body):
        if typ == b"P":                 # Parse: name \0 query \0 ...
            name_end = body.index(b"\0")
            q_end = body.index(b"\0", name_end + 1)
            self.last_parse = body[name_end + 1:q_end]
            self.statement(self.last_parse)
        elif typ == b"B" and self.last_parse.startswith(BATCH_SQL):
            self.batches.append(self.bind_batch(body))
        elif typ == b"Q":
            self.statement(body.rstrip(b"\0"))
        elif typ == b"d" and self.copying:
            self.copybuf += body
            self.copy_rows()
        elif typ in (b"c", b"f"):
            self.copying = False

    def copy_rows(self):
        """Split the binary COPY stream received so far into tuples."""
        b = self.copybuf
        o = 0
        if not self.copyhead:
            if len(b) < 19:
                return
            if not b.startswith(COPY_SIG):
                self.copying = False
                return
            (ext,) = struct.unpack_from("!I", b, 15)
            if len(b) < 19 + ext:
                return
            o = 19 + ext
            self.copyhead = True
        while len(b) - o >= 2:
            (nf,) = struct.unpack_from("!h", b, o)
            if nf < 0:                  # trailer
                self.copying = False
                o = len(b)
                break
            p = o + 2
            fields = []
            for _ in range(nf):
                if len(b) - p < 4:
                    break
                (ln,) = struct.unpack_from("!i", b, p)
                p += 4
                if ln < 0:
                    fields.append(None)
                    continue
                if len(b) - p < ln:
                    break
                fields.append(b[p:p + ln])
                p += ln
            if len(fields) < nf:
                break                   # incomplete tuple: wait for more
            if nf >= 12:
                self.rows.append((str(uuid.UUID(bytes=fields[1])),
                                  struct.unpack("!q", fields[2])[0],
                                  fields[11].hex()))
            o = p
        self.copybuf = b[o:]

    def on_commit(self):
        if not self.batches:
            return
        self.px.ncommit += 1
        self.px.log("commit", self.px.ncommit)
        if self.px.armed and self.cut is None:
            self.cut = {"mode": self.px.armed.pop(0),
                        "batches": list(self.batches), "rows": list(self.rows)}
        self.batches = []
        self.rows = []

    @staticmethod
    def bind_batch(body):
        """$2 (stream id, binary uuid) and $3 (batch no, text) of the
        Bind of the batches statement."""
        o = body.index(b"\0") + 1           # portal
        o = body.index(b"\0", o) + 1        # statement
        (nfmt,) = struct.unpack_from("!H", body, o)
        o += 2 + 2 * nfmt
        (npar,) = struct.unpack_from("!H", body, o)
        o += 2
        vals = []
        for _ in range(npar):
            (ln,) = struct.unpack_from("!i", body, o)
            o += 4
            vals.append(body[o:o + ln] if ln >= 0 else None)
            o += max(ln, 0)
        try:
            sid = str(uuid.UUID(bytes=vals[1]))
            bno = int(vals[2].decode())
        except (IndexError, ValueError, TypeError, AttributeError):
            return ("?", 0)
        return (sid, bno)

    # -- server -> client ------------------------------------------------

    async def server_to_client(self):
        try:
            while True:
                if self.pending_bytes > 0:
                    b = await self.sr.readexactly(1)
                    self.pending_bytes -= 1
                    self.cw.write(b)
                    await self.cw.drain()
                    continue
                head = await self.sr.readexactly(5)
                typ = head[:1]
                (n,) = struct.unpack("!I", head[1:])
                body = await self.sr.readexactly(n - 4)
                if self.cut is not None and self.cut["mode"] == "after" \
                        and typ in (b"C", b"E"):
                    tag = body.rstrip(b"\0").decode("ascii", "replace") \
                        if typ == b"C" else "error"
                    self.px.log_cut(tag.split(" ")[0] or "?", self.cut)
                    return              # handle() closes both sockets
                self.cw.write(head + body)
                await self.cw.drain()
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            return


async def serve(a):
    log = open(a.log, "a", buffering=1)
    px = Proxy(a.socket, log)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGUSR1, px.arm, "after")
    loop.add_signal_handler(signal.SIGUSR2, px.arm, "before")
    loop.add_signal_handler(signal.SIGHUP, px.arm, "forward")
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, lambda: stop.done() or stop.set_result(1))
    srv = await asyncio.start_server(px.handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    if a.pid_file:
        with open(a.pid_file, "w") as f:
            f.write("%d\n" % os.getpid())
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, a.port_file)
    px.log("listening", port)
    await stop
    srv.close()
    px.log("stopped conns=%d commits=%d" % (px.nconn, px.ncommit))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--pid-file")
    a = ap.parse_args()
    asyncio.run(serve(a))
    return 0


if __name__ == "__main__":
    sys.exit(main())
