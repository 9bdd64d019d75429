#!/usr/bin/python3
"""A scriptable HTTP/1.1 server on 127.0.0.1 for the delivery tests.

Standard library only.  Keep-alive works (HTTP/1.1, every answer carries a
Content-Length).  Quiet: nothing on stderr per request.

  --port-file F    bind 127.0.0.1 port 0; once listening, write the port to F
                   (atomically: F.tmp then rename)
  --log F          append one JSON line per request, flushed before the
                   answer is sent:
                     {"method", "path" (with the query), "headers" {lower-case
                      name: value}, "body" (utf-8, errors replaced), "bytes"
                      (body length), "at_ms" (Unix ms on arrival), "status"
                      (what it answered; 0 for a dropped connection),
                      "connection" (1, 2, ...: one id per TCP connection),
                      "rule" (index of the rule applied, or null),
                      "delay_ms" (the stall applied)}
  --rules F        a JSON list of rules, re-read whenever F changes (mtime,
                   size or inode), which also resets the counters.  A rule:
                     {"match": "substring of the path" (optional),
                      "method": "POST" (optional),
                      "times": N (optional: only its first N matching requests),
                      "status": 500, "headers": {...}, "body": "...",
                      "delay_ms": 2000 (stall before answering),
                      "close": true (answer, then close the connection),
                      "drop": true (close the connection without answering)}
                   The first rule that matches and is not used up applies;
                   otherwise 200 {"ok":true} as application/json.
  --max-seconds N  exit by itself after N seconds (default 300)
  --parent PID     exit when process PID is gone (the test shell)

SIGTERM (or SIGINT) exits cleanly with status 0.
"""
import argparse
import http.server
import json
import os
import signal
import sys
import threading
import time

LOCK = threading.Lock()
STATE = {"key": None, "rules": [], "used": []}
CONN_SEQ = [0]


def load_rules(path):
    """The current rules; re-read (and the counters reset) when the file changed."""
    if not path:
        return
    try:
        st = os.stat(path)
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
    except FileNotFoundError:
        key = None
    if key == STATE["key"]:
        return
    STATE["key"] = key
    rules = []
    if key is not None:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
            rules = json.loads(text) if text.strip() else []
            if not isinstance(rules, list):
                raise ValueError("rules must be a JSON list")
        except (OSError, ValueError) as e:
            # A half-written file: its final write changes the key again.
            sys.stderr.write("http_sink: bad rules file %s: %s\n" % (path, e))
            rules = []
    STATE["rules"] = rules
    STATE["used"] = [0] * len(rules)


def pick_rule(method, path, rules_path):
    """(index, rule) of the first matching rule not used up, counting it; or (None, None)."""
    with LOCK:
        load_rules(rules_path)
        for i, rule in enumerate(STATE["rules"]):
            if not isinstance(rule, dict):
                continue
            if "match" in rule and rule["match"] not in path:
                continue
            if "method" in rule and str(rule["method"]).upper() != method:
                continue
            if "times" in rule and STATE["used"][i] >= int(rule["times"]):
                continue
            STATE["used"][i] += 1
            return i, rule
    return None, None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nudge-http-sink/1"
    sys_version = ""

    def setup(self):
        super().setup()
        with LOCK:
            CONN_SEQ[0] += 1
            self.conn_id = CONN_SEQ[0]

    def log_message(self, format, *args):  # quiet
        pass

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline(65537)  # CRLF after the chunk
            return b"".join(parts)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def handle_any(self):
        at_ms = int(time.time() * 1000)
        body = self.read_body()
        method = self.command.upper()
        idx, rule = pick_rule(method, self.path, self.server.rules_path)
        rule = rule or {}
        drop = bool(rule.get("drop"))
        status = 0 if drop else int(rule.get("status", 200))
        delay_ms = int(rule.get("delay_ms", 0))
        headers = {}
        for name, value in self.headers.items():
            name = name.lower()
            headers[name] = headers[name] + ", " + value if name in headers else value
        entry = {
            "method": self.command,
            "path": self.path,
            "headers": headers,
            "body": body.decode("utf-8", errors="replace"),
            "bytes": len(body),
            "at_ms": at_ms,
            "status": status,
            "connection": self.conn_id,
            "rule": idx,
            "delay_ms": delay_ms,
        }
        if self.server.log_path:
            line = json.dumps(entry, ensure_ascii=False) + "\n"
            with LOCK:
                with open(self.server.log_path, "a", encoding="utf-8") as f:
                    f.write(line)
                    f.flush()
        if delay_ms > 0:
            time.sleep(delay_ms / 1000.0)
        if drop:
            self.close_connection = True
            return
        if idx is None:
            out = b'{"ok":true}'
            out_headers = {"Content-Type": "application/json"}
        else:
            out = str(rule.get("body", "")).encode("utf-8")
            out_headers = {str(k): str(v) for k, v in (rule.get("headers") or {}).items()}
        self.send_response(status)
        lower = {k.lower() for k in out_headers}
        if "content-type" not in lower and out:
            out_headers["Content-Type"] = "application/json"
        for k, v in out_headers.items():
            if k.lower() != "content-length":
                self.send_header(k, v)
        if rule.get("close"):
            self.send_header("Connection", "close")
            self.close_connection = True
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(out)
        self.wfile.flush()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_any


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the default 5 drops connections opened at once

    def handle_error(self, request, client_address):
        pass  # a client that hung up mid-request is not news


def stop(signum, frame):
    raise SystemExit(0)


def watch_parent(pid):
    while True:
        time.sleep(0.5)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os.kill(os.getpid(), signal.SIGTERM)
            return
        except PermissionError:
            pass


def main():
    ap = argparse.ArgumentParser(description="HTTP sink for the nudge tests")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log")
    ap.add_argument("--rules")
    ap.add_argument("--max-seconds", type=int, default=300)
    ap.add_argument("--parent", type=int)
    args = ap.parse_args()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM, signal.SIGHUP):
        signal.signal(sig, stop)
    signal.alarm(max(1, args.max_seconds))

    server = Server(("127.0.0.1", 0), Handler)
    server.log_path = args.log
    server.rules_path = args.rules
    if args.log:
        open(args.log, "a").close()
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.replace(tmp, args.port_file)
    if args.parent:
        threading.Thread(target=watch_parent, args=(args.parent,), daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
