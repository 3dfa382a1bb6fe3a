#!/usr/bin/env python3
"""A fault-injecting HTTP proxy for the Lifeboat tests, in front of SeaweedFS (S3) or
gcp-storage-emulator (GCS), on 127.0.0.1. Python standard library, plus `cryptography` for the
token endpoint.

    fault_proxy.py --port 8334 --upstream http://127.0.0.1:8333
    fault_proxy.py --port 9024 --upstream http://127.0.0.1:9023 --token-public-key sa.pub.pem \
                   --token-issuer SA_EMAIL [--token-lifetime 3600]

It forwards every request unchanged, the Host header too (S3 signatures cover it), less the
hop-by-hop headers and Expect (it answers `100 Continue` itself). Bodies are streamed both ways:
a Content-Length body as it arrives, a chunked one re-chunked; a request body the client cuts short
is not passed on as a shorter request (the upstream connection is reset). HTTP/1.1 keep-alive.

With --token-public-key it is also a Google OAuth2 token endpoint (POST /token, JWT-bearer grant:
RS256 signed by that key, iss = --token-issuer, aud = http://127.0.0.1:PORT/token, a devstorage
read_write or full_control (or cloud-platform) scope, exp - iat <= 3600, not expired, iat not more
than 5 minutes ahead) and requires `Authorization: Bearer <live token>` on every proxied request,
except requests to a resumable upload session (`upload_id=` in the query): GCS session URIs are the
credential themselves, so they pass with no token or an expired one. Location headers that point at
the upstream are rewritten to point at the proxy.

Control API (never forwarded; JSON in and out):
  POST /__lifeboat/faults  a JSON list of rules, appended. A rule:
        {"method": "PUT", "path": "regex searched in the path", "query": "substring of the raw query",
         "times": N (default 1), "delay_seconds": S (optional: wait first)}
        (method/path/query are optional filters) and one action:
        {"status": 503, "headers": {...}, "body": "..."}  answer this, not forwarding (the request
                                   body is read and discarded first)
        {"drop_after_bytes": K}    read K bytes of the request body, then reset the connection; no
                                   answer, nothing forwarded
        {"forward_then_status": 503, "headers": {...}, "body": "..."}  forward, discard the upstream
                                   answer, answer this instead
        {"expire_tokens": true}    (GCS front) every token issued so far expires; the request then
                                   goes on as usual (so it gets 401 unless it is a session request)
        {"delay_seconds": S} alone: just wait, then go on as usual.
        Rules are tried in order; the first unspent match fires and counts down its "times".
        The token endpoint (POST /token) can be targeted too.
  GET  /__lifeboat/log     a JSON list, one entry per request since the last reset:
        {"method", "path", "query" (raw), "headers": {the logged request headers present},
         "authorization": bool (an Authorization header was sent; its value is never logged),
         "body_bytes": request body bytes received, "status": answered (null: connection dropped),
         "upstream_status": what the upstream answered (null: not forwarded), "fault": null or
         "status" | "drop_after_bytes" | "forward_then_status" | "expire_tokens" | "delay" |
         "unauthorized" | "client_body_short" | "upstream_error: ..." | "relay_error: ..."}
  POST /__lifeboat/reset   clears rules and log, and restores the token lifetime
  POST /__lifeboat/clear   {"path": P}: removes the rules whose "path" is exactly P
  POST /__lifeboat/token-lifetime  {"seconds": N}: lifetime of tokens issued from now on
"""
import argparse
import base64
import http.client
import http.server
import json
import re
import secrets
import socket
import struct
import threading
import time
import urllib.parse

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
              "upgrade", "expect", "proxy-authorization", "proxy-authenticate"}
LOGGED_HEADERS = ["Content-Range", "Content-Length", "Content-MD5", "Content-Type", "Content-Encoding",
                  "Transfer-Encoding", "Expect", "Range", "If-Match", "If-None-Match",
                  "x-amz-content-sha256", "x-amz-decoded-content-length", "x-amz-sdk-checksum-algorithm",
                  "x-amz-checksum-crc32", "x-amz-checksum-crc32c", "x-amz-checksum-sha256",
                  "x-amz-object-lock-mode", "x-amz-object-lock-retain-until-date", "x-amz-storage-class",
                  "X-Upload-Content-Length", "X-Upload-Content-Type", "X-Goog-Hash"]
STORAGE_SCOPES = {"https://www.googleapis.com/auth/devstorage.read_write",
                  "https://www.googleapis.com/auth/devstorage.full_control",
                  "https://www.googleapis.com/auth/cloud-platform"}
BLOCK = 1 << 16


class ShortBody(Exception):
    """The client closed the connection before sending the whole request body."""


class State:
    def __init__(self, token_lifetime):
        self.lock = threading.Lock()
        self.rules = []
        self.log = []
        self.tokens = {}  # token -> expiry (epoch seconds)
        self.default_token_lifetime = token_lifetime
        self.token_lifetime = token_lifetime

    def take_rule(self, method, path, query):
        with self.lock:
            for rule in self.rules:
                if rule["left"] <= 0:
                    continue
                if rule.get("method") and rule["method"].upper() != method:
                    continue
                if rule.get("path") and not re.search(rule["path"], path):
                    continue
                if rule.get("query") and rule["query"] not in query:
                    continue
                rule["left"] -= 1
                return dict(rule)
        return None


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def reset_socket(sock):
    """Closes with a TCP RST instead of a FIN: the peer sees a broken connection."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "lifeboat-fault-proxy"
    timeout = 300  # an idle keep-alive connection is closed after this many seconds

    def log_message(self, *args):
        pass

    # every method goes through one path
    def do_GET(self): self.handle_any()
    def do_PUT(self): self.handle_any()
    def do_POST(self): self.handle_any()
    def do_DELETE(self): self.handle_any()
    def do_HEAD(self): self.handle_any()
    def do_PATCH(self): self.handle_any()
    def do_OPTIONS(self): self.handle_any()

    # -- request body ------------------------------------------------------------------------------
    def is_chunked(self):
        return "chunked" in self.headers.get("Transfer-Encoding", "").lower()

    def body_length(self):
        """Content-Length, or None for a chunked body."""
        if self.is_chunked():
            return None
        return int(self.headers.get("Content-Length", "0") or 0)

    def body_blocks(self, limit=None):
        """Yields the request body (de-chunked) in blocks, counting self.received; stops after
        `limit` bytes when given. Raises ShortBody when the client closes early."""
        length = self.body_length()
        if length is None:
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise ShortBody()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while True:  # trailers, up to the empty line
                        line = self.rfile.readline(8192)
                        if line in (b"\r\n", b"\n"):
                            break
                        if not line:
                            raise ShortBody()
                    return
                left = size
                while left > 0:
                    want = min(BLOCK, left)
                    if limit is not None:
                        want = min(want, limit - self.received)
                        if want <= 0:
                            return
                    data = self.rfile.read(want)
                    if not data:
                        raise ShortBody()
                    left -= len(data)
                    self.received += len(data)
                    yield data
                self.rfile.readline(16)  # CRLF after the chunk
        else:
            seen = 0
            while seen < length:
                want = min(BLOCK, length - seen)
                if limit is not None:
                    want = min(want, limit - self.received)
                    if want <= 0:
                        return
                data = self.rfile.read(want)
                if not data:
                    raise ShortBody()
                seen += len(data)
                self.received += len(data)
                yield data

    def read_body(self):
        return b"".join(self.body_blocks())

    def discard_body(self):
        for _ in self.body_blocks():
            pass

    # -- answers -----------------------------------------------------------------------------------
    def answer(self, status, body=b"", headers=None, content_type=None):
        headers = dict(headers or {})
        if content_type and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = content_type
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() != "content-length":
                self.send_header(name, str(value))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def answer_rule(self, rule, status):
        body = str(rule.get("body", "")).encode()
        guess = None
        if body.lstrip().startswith(b"<"):
            guess = "application/xml"
        elif body.lstrip().startswith(b"{"):
            guess = "application/json; charset=UTF-8"
        self.answer(status, body, headers=rule.get("headers"), content_type=guess)

    def record(self, status, fault=None):
        entry = self.entry
        entry["status"] = status
        if fault is not None and entry.get("fault") is None:
            entry["fault"] = fault
        entry["body_bytes"] = self.received
        with self.server.state.lock:
            self.server.state.log.append(entry)

    def drop_connection(self):
        """No answer: reset the client connection."""
        self.close_connection = True
        try:
            self.wfile.flush()
        except OSError:
            pass
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- control API -------------------------------------------------------------------------------
    def control(self, path):
        state = self.server.state
        raw = self.read_body()
        ok = b"{}"
        try:
            request = json.loads(raw) if raw.strip() else None
        except ValueError as error:
            return self.answer(400, json.dumps({"error": "bad JSON: %s" % error}).encode(),
                               content_type="application/json")
        if path == "/__lifeboat/faults" and self.command == "POST":
            rules = request if isinstance(request, list) else [request] if isinstance(request, dict) else []
            with state.lock:
                for rule in rules:
                    rule["left"] = int(rule.get("times", 1))
                    state.rules.append(rule)
            return self.answer(200, ok, content_type="application/json")
        if path == "/__lifeboat/log" and self.command == "GET":
            with state.lock:
                body = json.dumps(state.log).encode()
            return self.answer(200, body, content_type="application/json")
        if path == "/__lifeboat/reset" and self.command == "POST":
            with state.lock:
                state.rules.clear()
                state.log.clear()
                state.token_lifetime = state.default_token_lifetime
            return self.answer(200, ok, content_type="application/json")
        if path == "/__lifeboat/clear" and self.command == "POST":
            scope = (request or {}).get("path")
            with state.lock:
                state.rules = [rule for rule in state.rules if rule.get("path") != scope]
            return self.answer(200, ok, content_type="application/json")
        if path == "/__lifeboat/token-lifetime" and self.command == "POST":
            with state.lock:
                state.token_lifetime = int(request["seconds"])
            return self.answer(200, ok, content_type="application/json")
        return self.answer(404, b'{"error": "unknown control path"}', content_type="application/json")

    # -- OAuth2 token endpoint (GCS front) ---------------------------------------------------------
    def token(self):
        raw = self.read_body()
        form = urllib.parse.parse_qs(raw.decode(errors="replace"))

        def refuse(description, error="invalid_grant"):
            body = json.dumps({"error": error, "error_description": description}).encode()
            self.record(400)
            return self.answer(400, body, content_type="application/json; charset=utf-8")

        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            return refuse("Invalid grant_type: %s" % (form.get("grant_type") or [""])[0], "unsupported_grant_type")
        assertion = (form.get("assertion") or [""])[0]
        parts = assertion.split(".")
        if len(parts) != 3:
            return refuse("Invalid JWT: not three parts")
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            signature = b64url_decode(parts[2])
        except ValueError:
            return refuse("Invalid JWT: undecodable")
        if not isinstance(header, dict) or not isinstance(claims, dict):
            return refuse("Invalid JWT: header and claims must be JSON objects")
        if header.get("alg") != "RS256":
            return refuse("Invalid JWT: alg must be RS256")
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        try:
            self.server.public_key.verify(signature, (parts[0] + "." + parts[1]).encode(), padding.PKCS1v15(),
                                          hashes.SHA256())
        except InvalidSignature:
            return refuse("Invalid JWT Signature.")
        if claims.get("iss") != self.server.issuer:
            return refuse("Invalid JWT: iss %r is not the service account" % claims.get("iss"))
        if claims.get("aud") != self.server.token_uri:
            return refuse("Invalid JWT: Failed audience check (aud must be %s)" % self.server.token_uri)
        if not set(str(claims.get("scope", "")).split()) & STORAGE_SCOPES:
            return refuse("Invalid OAuth scope or ID token audience provided (need devstorage.read_write, "
                          "devstorage.full_control or cloud-platform).", "invalid_scope")
        now = time.time()
        iat, exp = claims.get("iat"), claims.get("exp")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (iat, exp)) or \
                exp <= iat or exp - iat > 3600 or exp < now or iat > now + 300:
            return refuse("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
                          "timeframe. Check your iat and exp values in the JWT claim.")
        token = "ya29.lifeboat-" + secrets.token_urlsafe(32)
        with self.server.state.lock:
            lifetime = self.server.state.token_lifetime
            self.server.state.tokens[token] = now + lifetime
        body = json.dumps({"access_token": token, "expires_in": lifetime, "token_type": "Bearer"}).encode()
        self.record(200)
        return self.answer(200, body, content_type="application/json; charset=utf-8")

    def bearer_is_live(self):
        value = self.headers.get("Authorization", "")
        if not value.startswith("Bearer "):
            return False
        with self.server.state.lock:
            expiry = self.server.state.tokens.get(value[7:].strip())
        return expiry is not None and expiry > time.time()

    def unauthorized(self):
        self.discard_body()
        if "Authorization" in self.headers:
            message, reason, extra = "Invalid Credentials", "authError", ', error="invalid_token"'
        else:
            message, reason, extra = "Anonymous caller does not have storage access (Login Required).", "required", ""
        body = json.dumps({"error": {"code": 401, "message": message, "errors": [
            {"message": message, "domain": "global", "reason": reason,
             "locationType": "header", "location": "Authorization"}]}}).encode()
        self.record(401, fault="unauthorized")
        return self.answer(401, body, headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"' + extra},
                           content_type="application/json; charset=UTF-8")

    # -- the proxy ---------------------------------------------------------------------------------
    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        path, query = url.path, url.query
        self.received = 0
        if path.startswith("/__lifeboat/"):
            return self.control(path)
        self.entry = {"method": self.command, "path": path, "query": query,
                      "headers": {h: self.headers[h] for h in LOGGED_HEADERS if self.headers.get(h) is not None},
                      "authorization": "Authorization" in self.headers, "body_bytes": 0, "status": None,
                      "upstream_status": None, "fault": None}
        try:
            self.dispatch(path, query)
        except ShortBody:
            self.record(None, fault="client_body_short")
            self.close_connection = True

    def dispatch(self, path, query):
        state = self.server.state
        rule = state.take_rule(self.command, path, query)
        if rule and rule.get("delay_seconds"):
            time.sleep(float(rule["delay_seconds"]))
            self.entry["fault"] = "delay"
        if rule and rule.get("expire_tokens"):
            with state.lock:
                for token in state.tokens:
                    state.tokens[token] = 0
            self.entry["fault"] = "expire_tokens"
        if rule and "drop_after_bytes" in rule:
            for _ in self.body_blocks(limit=int(rule["drop_after_bytes"])):
                pass
            self.entry["fault"] = None
            self.record(None, fault="drop_after_bytes")
            return self.drop_connection()
        if rule and "status" in rule:
            self.discard_body()
            self.entry["fault"] = None
            self.record(int(rule["status"]), fault="status")
            return self.answer_rule(rule, int(rule["status"]))

        gcs_front = self.server.public_key is not None
        if gcs_front and path == "/token" and self.command == "POST":
            return self.token()
        if gcs_front and "upload_id=" not in query and not self.bearer_is_live():
            return self.unauthorized()
        self.forward(rule if rule and "forward_then_status" in rule else None)

    def forward(self, rule):
        upstream = self.server.upstream
        connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=300)
        chunked = self.is_chunked()
        self.relaying = False
        try:
            try:
                connection.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                named = {v.strip().lower() for v in self.headers.get("Connection", "").split(",")}
                for name, value in self.headers.items():
                    lower = name.lower()
                    if lower in HOP_BY_HOP or lower in named or (chunked and lower == "content-length"):
                        continue
                    connection.putheader(name, value)
                if chunked:
                    connection.putheader("Transfer-Encoding", "chunked")
                connection.endheaders()
                for block in self.body_blocks():
                    connection.send(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
                if chunked:
                    connection.send(b"0\r\n\r\n")
            except ShortBody:
                # do not let the upstream take a cut body for a whole one
                if connection.sock is not None:
                    reset_socket(connection.sock)
                    connection.sock = None
                raise
            response = connection.getresponse()
            self.entry["upstream_status"] = response.status
            if rule:
                response.read()
                self.record(int(rule["forward_then_status"]), fault="forward_then_status")
                return self.answer_rule(rule, int(rule["forward_then_status"]))
            self.relay(response)
        except (OSError, http.client.HTTPException) as error:
            self.close_connection = True
            if self.relaying:
                # the answer has begun: all that can be done is to cut it
                with self.server.state.lock:
                    self.entry["fault"] = "relay_error: %s" % error
                return
            self.record(502, fault="upstream_error: %s" % error)
            try:
                self.answer(502, ("upstream error: %s" % error).encode(), content_type="text/plain")
            except OSError:
                pass
        finally:
            connection.close()

    def relay(self, response):
        """Sends the upstream response on, streaming its body."""
        length = response.getheader("Content-Length")
        bodiless = self.command == "HEAD" or response.status in (204, 304) or 100 <= response.status < 200
        stream_chunked = length is None and not bodiless and self.request_version == "HTTP/1.1"
        payload = None
        if length is None and not bodiless and not stream_chunked:
            payload = response.read()  # an HTTP/1.0 client: needs a length or a close
            length = str(len(payload))
        self.send_response(response.status, response.reason)
        for name, value in response.getheaders():
            lower = name.lower()
            if lower in HOP_BY_HOP or lower == "content-length":
                continue
            if lower == "location":
                value = self.rewrite_location(value)
            self.send_header(name, value)
        if length is not None:
            self.send_header("Content-Length", length)
        elif stream_chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.relaying = True
        # logged before the body goes out: a test that reads the log right after the answer sees it
        self.record(response.status)
        if bodiless:
            return
        if payload is not None:
            self.wfile.write(payload)
            return
        while True:
            block = response.read(BLOCK) if length is not None else response.read1(BLOCK)
            if not block:
                break
            self.wfile.write(b"%x\r\n%s\r\n" % (len(block), block) if stream_chunked else block)
        if stream_chunked:
            self.wfile.write(b"0\r\n\r\n")

    def rewrite_location(self, value):
        parts = urllib.parse.urlsplit(value)
        up = self.server.upstream
        if parts.port == up.port and parts.hostname in (up.hostname, "localhost", "127.0.0.1", "0.0.0.0"):
            host = self.headers.get("Host") or "127.0.0.1:%d" % self.server.server_address[1]
            return urllib.parse.urlunsplit((parts.scheme or "http", host, parts.path, parts.query, parts.fragment))
        return value


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="http://HOST:PORT")
    parser.add_argument("--token-public-key", help="PEM public key of the service account (GCS front)")
    parser.add_argument("--token-issuer", help="the service account's client_email")
    parser.add_argument("--token-lifetime", type=int, default=3600, help="expires_in of issued tokens (s)")
    args = parser.parse_args()
    server = Server(("127.0.0.1", args.port), Handler)
    server.state = State(args.token_lifetime)
    server.upstream = urllib.parse.urlsplit(args.upstream)
    server.public_key = None
    if args.token_public_key:
        from cryptography.hazmat.primitives.serialization import load_pem_public_key
        with open(args.token_public_key, "rb") as f:
            server.public_key = load_pem_public_key(f.read())
        if not args.token_issuer:
            parser.error("--token-issuer is needed with --token-public-key")
        server.issuer = args.token_issuer
        server.token_uri = "http://127.0.0.1:%d/token" % args.port
    server.serve_forever()


if __name__ == "__main__":
    main()
