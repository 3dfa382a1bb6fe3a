#!/usr/bin/env python3
"""A firmware update server for Lifeboat's firmware tests: it serves the files of a folder over
HTTPS (or plain HTTP), with Range requests, and misbehaves on demand. Python standard library only.

    firmware_server.py --root DIR --port-file DIR/port [--port 0]
                       [--tls-cert server.pem --tls-key server-key.pem]

Started by the Swift tests (FirmwareTestServer), one server per test, on a free port of 127.0.0.1
(written to --port-file once the server listens), over TLS when a certificate is given.

GET and HEAD of any path but /__control/… serve the file of that path under --root (404 when there
is none). A single `Range: bytes=A-B`, `bytes=A-` or `bytes=-N` is answered 206 with
`Content-Range: bytes A-B/SIZE`; a range that starts at or beyond the end is answered 416 with
`Content-Range: bytes */SIZE`; several ranges are ignored (200 with the whole file), as RFC 9110
allows. Every answer has a Content-Length; the connection is kept alive.

Faults, queued through the control API, each answer the next "times" (default 1) requests whose path
equals "path" (any path when it is missing); a rule may combine several of:
  {"status": 404, "body": "text"}  answer this status instead of the file
  {"ignore_range": true}          answer 200 with the whole file even to a Range request
  {"drop_after": N}               announce the full answer, send N body bytes, then cut the connection
  {"extra": N}                    send N random bytes more than asked (Content-Length counts them)
  {"delay": seconds}              wait before answering
  {"stall_after": N, "stall": s}  after N body bytes, wait s seconds, then go on

Control API (JSON; never logged), under /__control/:
  POST faults   a list of rules, appended
  GET  log      every other request, once all of them are answered: {"seq", "method", "path",
                "range" (the Range header or null), "status", "body_bytes" (body bytes written to the
                socket), "dropped" (true when the answer was cut short)}
"""
import argparse
import http.server
import json
import os
import ssl
import threading
import time

CHUNK = 64 * 1024


class State:
    def __init__(self, root):
        self.root = os.path.realpath(root)
        self.lock = threading.Lock()
        self.done = threading.Condition(self.lock)
        self.faults = []
        self.log = []


class Cut(Exception):
    """The answer was cut short on purpose (drop_after)."""


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LifeboatFirmwareTest/1"

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        self.dispatch()

    def do_HEAD(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    # MARK: Serving

    def dispatch(self):
        state = self.server.state
        if self.path.startswith("/__control/"):
            return self.control(state, self.path[len("/__control/"):])
        path = self.path.split("?", 1)[0]
        entry = {"method": self.command, "path": path, "range": self.headers.get("Range"), "status": None,
                 "body_bytes": 0, "dropped": False, "finished": False}
        with state.lock:
            entry["seq"] = len(state.log) + 1
            state.log.append(entry)
            fault = self.take_fault(state, path)
        try:
            self.serve(state, path, entry, fault)
        except Cut:
            entry["dropped"] = True
            self.close_connection = True
            self.cut()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            entry["dropped"] = True
            self.close_connection = True
        finally:
            with state.lock:
                entry["finished"] = True
                state.done.notify_all()

    def take_fault(self, state, path):
        for index, rule in enumerate(state.faults):
            if rule.get("path") in (None, path):
                rule["left"] -= 1
                if rule["left"] <= 0:
                    state.faults.pop(index)
                return rule
        return None

    def serve(self, state, path, entry, fault):
        fault = fault or {}
        if fault.get("delay"):
            time.sleep(float(fault["delay"]))
        if self.command not in ("GET", "HEAD"):
            return self.answer(entry, 405, b"method not allowed\n")
        if fault.get("status"):
            return self.answer(entry, int(fault["status"]), fault.get("body", "fault\n").encode())
        file = os.path.realpath(os.path.join(state.root, path.lstrip("/")))
        if not file.startswith(state.root + os.sep) or not os.path.isfile(file):
            return self.answer(entry, 404, b"no such file\n")
        size = os.path.getsize(file)
        start, end, status = 0, size - 1, 200
        requested = self.headers.get("Range")
        if requested and not fault.get("ignore_range"):
            parsed = parse_range(requested, size)
            if parsed == "unsatisfiable":
                return self.answer(entry, 416, b"", [("Content-Range", "bytes */%d" % size)])
            if parsed is not None:
                start, end = parsed
                status = 206
        length = end - start + 1
        extra = int(fault.get("extra", 0))
        entry["status"] = status
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length + extra))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
        self.end_headers()
        if self.command == "HEAD":
            return
        drop_after = fault.get("drop_after")
        stall_after = fault.get("stall_after")
        with open(file, "rb") as f:
            f.seek(start)
            left = length
            while left > 0 or extra > 0:
                if left > 0:
                    data = f.read(min(CHUNK, left))
                    if not data:
                        raise Cut()
                    left -= len(data)
                else:
                    data = os.urandom(min(CHUNK, extra))
                    extra -= len(data)
                sent = entry["body_bytes"]
                if drop_after is not None and sent + len(data) >= int(drop_after):
                    self.write(entry, data[: int(drop_after) - sent])
                    raise Cut()
                if stall_after is not None and sent + len(data) > int(stall_after) >= sent:
                    self.write(entry, data[: int(stall_after) - sent])
                    time.sleep(float(fault.get("stall", 5)))
                    data = data[int(stall_after) - sent:]
                self.write(entry, data)

    def write(self, entry, data):
        if data:
            self.wfile.write(data)
            self.wfile.flush()
            entry["body_bytes"] += len(data)

    def answer(self, entry, status, body, extra_headers=()):
        entry["status"] = status
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra_headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.write(entry, body)

    def cut(self):
        """Closes the connection without a TLS close_notify: the client sees it break."""
        try:
            self.wfile.flush()
        except OSError:
            pass
        try:
            self.connection.shutdown(2)
        except OSError:
            pass

    # MARK: Control

    def control(self, state, action):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if action == "faults" and self.command == "POST":
            rules = json.loads(body)
            with state.lock:
                for rule in (rules if isinstance(rules, list) else [rules]):
                    rule = dict(rule)
                    rule["left"] = int(rule.get("times", 1))
                    state.faults.append(rule)
                count = len(state.faults)
            return self.reply(200, {"faults": count})
        if action == "log" and self.command == "GET":
            deadline = time.monotonic() + 5
            with state.lock:
                while not all(e["finished"] for e in state.log) and time.monotonic() < deadline:
                    state.done.wait(0.1)
                entries = [{k: v for k, v in e.items() if k != "finished"} for e in state.log]
            return self.reply(200, entries)
        self.reply(404, {"error": "unknown control action " + action})

    def reply(self, status, value):
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def parse_range(header, size):
    """(start, end) for one satisfiable byte range, "unsatisfiable", or None to ignore the header."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if first == "":
            suffix = int(last)
            if suffix <= 0:
                return "unsatisfiable"
            return max(0, size - suffix), size - 1
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size:
        return "unsatisfiable"
    if end < start:
        return None
    return start, min(end, size - 1)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    tls = None

    def finish_request(self, request, client_address):
        if self.tls is not None:
            try:
                request.settimeout(30)
                request = self.tls.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError):
                return
        try:
            self.RequestHandlerClass(request, client_address, self)
        except (OSError, ssl.SSLError):
            pass
        finally:
            try:
                request.close()
            except OSError:
                pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    args = parser.parse_args()
    server = Server(("127.0.0.1", args.port), Handler)
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        server.tls = context
    server.state = State(args.root)
    with open(args.port_file + ".tmp", "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.replace(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
