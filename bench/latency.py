#!/usr/bin/python3
"""bench/latency.py: trigger-to-send latency of `nudge serve` (bench/service.sh).

A webhook sink (http.server, in a thread) and a client (http.client, one
keep-alive connection) in one process, on one clock:

  1. the sink listens on a free local port and writes it to --sink-port-file
     (the bench points the `hook` channel at it and starts the service);
  2. once --server-port-file appears, the client POSTs --count single
     `track` "Latency Probe" events to /v1/track, one every --interval-ms,
     each with properties.t0 = its send time (Unix ms, time.time());
  3. bench/recipes/send_on_event.lua sends one webhook per probe whose text
     is that t0 (bench/recipes/templates/probe.hook.txt); the sink records
     arrival - t0 for each message key.

Prints one line,
  latency: sent N accepted N arrived N trigger_p50_ms X trigger_p99_ms X accepted_p50_ms X accepted_p99_ms X
and exits 1 when a POST was not answered 200 or a message did not arrive
within --wait-s after the last POST.  Standard library only.
"""
import argparse
import base64
import http.client
import http.server
import json
import math
import os
import sys
import threading
import time


def now_ms():
    return time.time() * 1000.0


def percentile(values, p):
    """Nearest rank: the smallest value with at least p% of them at or below."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100.0 * len(ordered)) - 1)]


def write_atomically(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(text)
    os.rename(tmp, path)


class Sink:
    """Records arrival - t0 per message key (a retry of a key counts once)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latency = {}
        self.bad = 0
        self.arrived = threading.Condition(self.lock)

    def record(self, body, arrival):
        try:
            message = json.loads(body)
            t0 = float(message["text"])
            key = message["key"]
        except (ValueError, KeyError, TypeError):
            with self.lock:
                self.bad += 1
            return
        with self.lock:
            self.latency.setdefault(key, arrival - t0)
            self.arrived.notify_all()

    def wait_for(self, count, deadline):
        with self.lock:
            while len(self.latency) < count and time.monotonic() < deadline:
                self.arrived.wait(max(0.0, deadline - time.monotonic()))
            return list(self.latency.values()), self.bad


REPLY = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
         b"Content-Length: 11\r\n\r\n{\"ok\":true}")


def make_handler(sink):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as libcurl expects
        disable_nagle_algorithm = True

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            sink.record(body, now_ms())
            # the whole answer in one write: with headers and body written
            # apart, Nagle and the sender's delayed ACK hold the body ~40 ms
            self.wfile.write(REPLY)

        def log_message(self, *args):
            pass

    return Handler


def wait_for_port(path, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with open(path, encoding="ascii") as f:
                text = f.read().strip()
            if text:
                return int(text)
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    return None


def post_probes(args, port):
    """POSTs the probes on schedule; returns (accepted latencies, failures)."""
    auth = "Basic " + base64.b64encode((args.key + ":").encode()).decode()
    headers = {"Content-Type": "application/json", "Authorization": auth}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    accepted, failures = [], 0
    start = time.monotonic()
    for i in range(args.count):
        pause = start + i * args.interval_ms / 1000.0 - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        t0 = now_ms()
        event = {
            "type": "track",
            "event": "Latency Probe",
            "userId": "probe-%04d" % i,
            "messageId": "probe-%d-%04d" % (os.getpid(), i),
            "properties": {"t0": round(t0, 3)},
        }
        try:
            conn.request("POST", "/v1/track", json.dumps(event), headers)
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as e:
            print("latency: probe %d: %s" % (i, e), file=sys.stderr)
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            status = None
        if status == 200:
            accepted.append(now_ms() - t0)
        else:
            failures += 1
            print("latency: probe %d answered %s" % (i, status), file=sys.stderr)
    conn.close()
    return accepted, failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sink-port-file", required=True)
    parser.add_argument("--server-port-file", required=True)
    parser.add_argument("--key", required=True, help="the write key")
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--interval-ms", type=float, default=10.0)
    parser.add_argument("--wait-s", type=float, default=15.0,
                        help="how long the messages may take after the last POST")
    parser.add_argument("--start-timeout-s", type=float, default=60.0)
    args = parser.parse_args()

    sink = Sink()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make_handler(sink))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    write_atomically(args.sink_port_file, "%d\n" % server.server_address[1])

    port = wait_for_port(args.server_port_file, args.start_timeout_s)
    if port is None:
        print("latency: %s did not appear" % args.server_port_file, file=sys.stderr)
        return 1
    accepted, failures = post_probes(args, port)
    trigger, bad = sink.wait_for(len(accepted), time.monotonic() + args.wait_s)
    server.shutdown()
    print("latency: sent %d accepted %d arrived %d trigger_p50_ms %.1f trigger_p99_ms %.1f "
          "accepted_p50_ms %.1f accepted_p99_ms %.1f"
          % (args.count, len(accepted), len(trigger), percentile(trigger, 50),
             percentile(trigger, 99), percentile(accepted, 50), percentile(accepted, 99)))
    if bad:
        print("latency: %d webhook bodies without a t0 text" % bad, file=sys.stderr)
    return 0 if failures == 0 and bad == 0 and len(trigger) == args.count else 1


if __name__ == "__main__":
    sys.exit(main())
