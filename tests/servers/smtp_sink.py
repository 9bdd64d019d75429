#!/usr/bin/python3
"""An SMTP server on 127.0.0.1 for the delivery tests (Debian's python3-aiosmtpd).

Run it with /usr/bin/python3 (the pyenv python3 on PATH has no aiosmtpd).

  --port-file F        bind 127.0.0.1 port 0; once listening, write the port
                       to F (atomically: F.tmp then rename)
  --dir D              each accepted message N (1, 2, ...): D/N.eml, the raw
                       DATA bytes (CRLF line ends, dots unstuffed), then
                       D/N.json (written last, atomically):
                         {"n", "mail_from", "rcpt_tos" (the accepted ones),
                          "peer" "127.0.0.1:PORT", "connection" (1, 2, ...:
                          one id per TCP connection), "auth" (the login, or
                          null), "mail_options", "at_ms"}
                       and D/rcpt.ndjson: one line per RCPT TO answered,
                         {"rcpt", "code", "connection", "at_ms"}
  --reject ADDR=CODE   RCPT TO:<ADDR> (case-insensitive) is answered with CODE:
                       550 -> "550 5.1.1 user unknown", 450 -> "450 4.2.1 try
                       later", other codes "CODE rejected"; "ADDR=CODE TEXT"
                       gives the whole reply; "ADDR=CODE*N" rejects only the
                       first N tries of ADDR (then accepts).  Repeatable.
  --auth USER:PASS     offer AUTH PLAIN and LOGIN without TLS and require it
                       (530 for MAIL before AUTH, 535 for bad credentials)
  --delay-ms N         stall N ms before answering DATA
  --max-seconds N      exit by itself after N seconds (default 300)
  --parent PID         exit when process PID is gone (the test shell)

SIGTERM (or SIGINT) exits cleanly with status 0.

aiosmtpd's Controller cannot take port 0 (it connects to its own port
afterwards to "trigger" the server), so this binds the socket itself and
runs the asyncio loop directly.
"""
import argparse
import asyncio
import json
import logging
import os
import signal
import socket
import time
import warnings

warnings.filterwarnings("ignore")  # "Requiring AUTH while not requiring TLS ..."

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword  # noqa: E402

DEFAULT_TEXT = {550: "5.1.1 user unknown", 450: "4.2.1 try later",
                551: "5.1.6 user not local", 553: "5.1.3 mailbox name not allowed",
                452: "4.5.3 too many recipients", 421: "4.3.0 service not available"}


def now_ms():
    return int(time.time() * 1000)


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


class Sink:
    """The aiosmtpd handler.  (No method may be named auth_*: aiosmtpd would
    take it for an AUTH mechanism.)"""

    def __init__(self, directory, rejects, delay_ms):
        self.dir = directory
        self.rejects = rejects  # lower-case addr -> [reply, times or None, used]
        self.delay_ms = delay_ms
        self.count = 0
        self.conn_seq = 0

    def connection_id(self, session):
        if not hasattr(session, "nudge_conn"):
            self.conn_seq += 1
            session.nudge_conn = self.conn_seq
        return session.nudge_conn

    def rcpt_log(self, address, code, session):
        if not self.dir:
            return
        line = json.dumps({"rcpt": address, "code": code,
                           "connection": self.connection_id(session), "at_ms": now_ms()})
        with open(os.path.join(self.dir, "rcpt.ndjson"), "a") as f:
            f.write(line + "\n")

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        rule = self.rejects.get(address.lower())
        if rule is not None and (rule[1] is None or rule[2] < rule[1]):
            rule[2] += 1
            self.rcpt_log(address, int(rule[0][:3]), session)
            return rule[0]
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        self.rcpt_log(address, 250, session)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay_ms > 0:
            await asyncio.sleep(self.delay_ms / 1000.0)
        self.count += 1
        n = self.count
        login = session.login_data
        if isinstance(login, bytes):
            login = login.decode("utf-8", errors="replace")
        peer = session.peer
        meta = {
            "n": n,
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "peer": "%s:%s" % (peer[0], peer[1]) if isinstance(peer, tuple) else str(peer),
            "connection": self.connection_id(session),
            "auth": login if session.authenticated else None,
            "mail_options": list(envelope.mail_options),
            "at_ms": now_ms(),
        }
        if self.dir:
            content = envelope.original_content
            if content is None:
                content = envelope.content
            if isinstance(content, str):
                content = content.encode("utf-8", errors="surrogateescape")
            write_atomic(os.path.join(self.dir, "%d.eml" % n), content)
            write_atomic(os.path.join(self.dir, "%d.json" % n),
                         (json.dumps(meta) + "\n").encode("utf-8"))
        return "250 2.0.0 OK queued as %d" % n


def parse_reject(spec):
    addr, sep, reply = spec.partition("=")
    if not sep or not addr:
        raise argparse.ArgumentTypeError("--reject wants ADDR=CODE, got %r" % spec)
    times = None
    if "*" in reply:
        reply, _, t = reply.rpartition("*")
        times = int(t)
    reply = reply.strip()
    if len(reply) < 3 or not reply[:3].isdigit() or reply[0] not in "2345":
        raise argparse.ArgumentTypeError("--reject wants a 3-digit SMTP code: %r" % spec)
    if len(reply) == 3:
        code = int(reply)
        reply = "%d %s" % (code, DEFAULT_TEXT.get(code, "rejected"))
    return addr.strip().lower(), [reply, times, 0]


def main():
    ap = argparse.ArgumentParser(description="SMTP sink for the nudge tests")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--dir")
    ap.add_argument("--reject", action="append", default=[], type=parse_reject)
    ap.add_argument("--auth")
    ap.add_argument("--delay-ms", type=int, default=0)
    ap.add_argument("--max-seconds", type=int, default=300)
    ap.add_argument("--parent", type=int)
    args = ap.parse_args()

    # aiosmtpd logs each session on "mail.log"; keep only real errors.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    if args.dir:
        os.makedirs(args.dir, exist_ok=True)
    handler = Sink(args.dir, dict(args.reject), args.delay_ms)

    smtp_kwargs = {"hostname": "nudge-smtp-sink", "enable_SMTPUTF8": True,
                   "decode_data": False}
    if args.auth:
        user, sep, password = args.auth.partition(":")
        if not sep:
            ap.error("--auth wants USER:PASS")
        want = LoginPassword(user.encode(), password.encode())

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and tuple(auth_data) == tuple(want)
            return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

        smtp_kwargs.update(auth_required=True, auth_require_tls=False,
                           authenticator=authenticator)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    server = loop.run_until_complete(
        loop.create_server(lambda: SMTP(handler, loop=loop, **smtp_kwargs), sock=sock))

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, loop.stop)
    loop.call_later(max(1, args.max_seconds), loop.stop)
    if args.parent:
        def watch():
            try:
                os.kill(args.parent, 0)
            except ProcessLookupError:
                loop.stop()
                return
            except PermissionError:
                pass
            loop.call_later(0.5, watch)
        loop.call_later(0.5, watch)

    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % sock.getsockname()[1])
    os.replace(tmp, args.port_file)
    try:
        loop.run_forever()
    finally:
        server.close()
        for task in asyncio.all_tasks(loop):
            task.cancel()
        try:
            loop.run_until_complete(asyncio.sleep(0))
        except Exception:
            pass
        loop.close()


if __name__ == "__main__":
    main()
