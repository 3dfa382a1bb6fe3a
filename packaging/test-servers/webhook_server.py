#!/usr/bin/env python3
"""A webhook receiver for Lifeboat's webhook notifications: it checks each request the way a careful
receiver does, records it, and answers what the test asks for. Python standard library only.

    webhook_server.py --secret-file FILE --port-file DIR/port [--port 0]
                      [--tls-cert server.pem --tls-key server-key.pem]

Started by the Swift tests (WebhookTestServer), one server per test, on a free port of 127.0.0.1
(written to --port-file once the server listens), over TLS when a certificate is given.

Any path but /__control/… is the hook. A request to it is checked, in this order:
  - method POST, else 405;
  - a Content-Length (no chunked bodies), else 411; the body is read whole;
  - Content-Type application/json, else 415;
  - X-Lifeboat-Signature equal to "sha256=" + the lower-case hex HMAC-SHA256 of the body bytes under
    the secret (hmac.compare_digest), else 401 {"error": "bad signature"};
  - the body is JSON, else 400;
and answered 200 {"ok": true}, unless a queued fault answers first (a fault answers whatever
arrives, before the checks; the signature is still verified and recorded).

Control API (JSON; never logged), under /__control/:
  POST faults   a list of rules, appended; each answers the next "times" (default 1) hook requests:
                {"status": 503, "body": "text", "retry_after": "30", "location": "https://…",
                 "delay": seconds to wait before answering}
  GET  log      every hook request: {"seq", "method", "path", "headers": [[name, value], …],
                "body" (text, UTF-8 with replacement), "body_hex", "signature", "signature_valid",
                "expected_signature", "idempotency_key", "status"}
"""
import argparse
import hashlib
import hmac
import http.server
import json
import os
import ssl
import threading
import time


class State:
    def __init__(self, secret):
        self.secret = secret
        self.lock = threading.Lock()
        self.faults = []
        self.log = []


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LifeboatWebhookTest/1"

    def log_message(self, format, *args):
        pass

    def answer(self, status, body, content_type="application/json", extra=()):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def read_body(self):
        length = self.headers.get("Content-Length")
        if length is None:
            return None
        return self.rfile.read(int(length))

    def dispatch(self):
        state = self.server.state
        if self.path.startswith("/__control/"):
            return self.control(state, self.path[len("/__control/"):])
        body = self.read_body()
        signature = self.headers.get("X-Lifeboat-Signature")
        expected = None
        valid = False
        if body is not None:
            expected = "sha256=" + hmac.new(state.secret, body, hashlib.sha256).hexdigest()
            valid = signature is not None and hmac.compare_digest(signature.encode(), expected.encode())
        entry = {"method": self.command, "path": self.path, "headers": [[k, v] for k, v in self.headers.items()],
                 "body": body.decode("utf-8", "replace") if body is not None else None,
                 "body_hex": body.hex() if body is not None else None,
                 "signature": signature, "signature_valid": valid, "expected_signature": expected,
                 "idempotency_key": self.headers.get("Idempotency-Key"), "status": None}
        with state.lock:
            entry["seq"] = len(state.log) + 1
            state.log.append(entry)
            fault = None
            if state.faults:
                fault = state.faults[0]
                fault["left"] -= 1
                if fault["left"] <= 0:
                    state.faults.pop(0)
        if fault is not None:
            if fault.get("delay"):
                time.sleep(float(fault["delay"]))
            extra = []
            if fault.get("retry_after") is not None:
                extra.append(("Retry-After", str(fault["retry_after"])))
            if fault.get("location"):
                extra.append(("Location", fault["location"]))
            status = int(fault.get("status", 200))
            entry["status"] = status
            return self.answer(status, fault.get("body", ""), "text/plain; charset=utf-8", extra)
        status, answer = self.check(body, valid)
        entry["status"] = status
        self.answer(status, json.dumps(answer))

    def check(self, body, valid):
        if self.command != "POST":
            return 405, {"error": "method not allowed"}
        if body is None:
            return 411, {"error": "Content-Length required"}
        if self.headers.get("Content-Type", "").split(";")[0].strip().lower() != "application/json":
            return 415, {"error": "Content-Type must be application/json"}
        if not valid:
            return 401, {"error": "bad signature"}
        try:
            json.loads(body)
        except ValueError:
            return 400, {"error": "the body is not JSON"}
        return 200, {"ok": True}

    def control(self, state, action):
        body = self.read_body() or b""
        if action == "faults" and self.command == "POST":
            rules = json.loads(body)
            with state.lock:
                for rule in (rules if isinstance(rules, list) else [rules]):
                    rule = dict(rule)
                    rule["left"] = int(rule.get("times", 1))
                    state.faults.append(rule)
            return self.answer(200, json.dumps({"faults": len(state.faults)}))
        if action == "log" and self.command == "GET":
            with state.lock:
                entries = [dict(e) for e in state.log]
            return self.answer(200, json.dumps(entries))
        self.answer(404, json.dumps({"error": "unknown control action " + action}))


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
        finally:
            try:
                request.close()
            except OSError:
                pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--secret-file", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    args = parser.parse_args()
    with open(args.secret_file, "rb") as f:
        secret = f.read()
    server = Server(("127.0.0.1", args.port), Handler)
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        server.tls = context
    server.state = State(secret)
    with open(args.port_file + ".tmp", "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.replace(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
