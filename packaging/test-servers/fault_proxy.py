#!/usr/bin/env python3
"""A fault-injecting HTTP proxy for the Lifeboat tests, in front of SeaweedFS (S3) or
gcp-storage-emulator (GCS), on 127.0.0.1.

    fault_proxy.py --port 8334 --upstream http://127.0.0.1:8333
    fault_proxy.py --port 9024 --upstream http://127.0.0.1:9023 --token-public-key sa.pub.pem \
                   --token-issuer SA_EMAIL

It forwards every request unchanged (the Host header too: S3 signatures cover it) and streams
bodies both ways. With --token-public-key it is also a Google OAuth2 token endpoint (POST /token,
JWT-bearer grant, RS256 checked against that key) and requires `Authorization: Bearer <live token>`
on every proxied request except resumable-session requests (`upload_id=` in the query), as GCS does.

Control API (never forwarded), JSON:
  POST /__lifeboat/faults   a list of rules, appended; each rule matches
        {"method": "PUT", "path": "regex searched in the path", "query": "substring of the raw query",
         "times": N (default 1)} and does one of
        {"status": 503, "headers": {...}, "body": "..."}   answer without forwarding (body read first)
        {"drop_after_bytes": K}    read K bytes of the request body, then close the socket, no answer
        {"forward_then_status": 503, "body": "..."}  forward, then answer this status instead
        {"expire_tokens": true}    every token issued so far expires; the request then goes on as usual
  GET  /__lifeboat/log      [{"method", "path", "query", "headers": {...}, "authorization": bool,
                              "body_bytes", "status", "fault"}] since the last reset
  POST /__lifeboat/reset    clears rules and log
  POST /__lifeboat/clear    {"path": P}: removes the rules whose "path" is exactly P (one test's rules)
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
import threading
import time
import urllib.parse

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
              "upgrade", "expect", "proxy-authorization", "proxy-authenticate"}
LOGGED_HEADERS = ["Content-Range", "Content-Length", "Content-MD5", "Content-Type", "x-amz-content-sha256",
                  "x-amz-checksum-sha256", "Range", "x-amz-object-lock-mode", "x-amz-storage-class",
                  "X-Upload-Content-Length"]
BLOCK = 1 << 16


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []
        self.log = []
        self.tokens = {}  # token -> expiry (epoch seconds)
        self.token_lifetime = 3600

    def take_rule(self, method, path, query):
        with self.lock:
            for rule in self.rules:
                if rule.get("left", 0) <= 0:
                    continue
                if rule.get("method") and rule["method"] != method:
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


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "lifeboat-fault-proxy"

    def log_message(self, *args):
        pass

    # every method goes through one path
    def do_GET(self): self.handle_any()
    def do_PUT(self): self.handle_any()
    def do_POST(self): self.handle_any()
    def do_DELETE(self): self.handle_any()
    def do_HEAD(self): self.handle_any()
    def do_PATCH(self): self.handle_any()

    # -- helpers -----------------------------------------------------------------------------------
    def body_length(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return None
        return int(self.headers.get("Content-Length", "0") or 0)

    def read_body_chunks(self, limit=None):
        """Yields the request body in blocks; stops after `limit` bytes when given."""
        length = self.body_length()
        seen = 0
        if length is None:
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return
                data = self.rfile.read(size)
                self.rfile.readline()
                if limit is not None and seen + len(data) >= limit:
                    yield data[: limit - seen]
                    return
                seen += len(data)
                yield data
        else:
            while seen < length:
                want = min(BLOCK, length - seen)
                if limit is not None:
                    want = min(want, limit - seen)
                    if want <= 0:
                        return
                data = self.rfile.read(want)
                if not data:
                    return
                seen += len(data)
                yield data

    def answer(self, status, body=b"", headers=None, content_type=None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def record(self, entry, status, fault=None, body_bytes=0):
        entry["status"] = status
        entry["fault"] = fault
        entry["body_bytes"] = body_bytes
        with self.server.state.lock:
            self.server.state.log.append(entry)

    # -- control API -------------------------------------------------------------------------------
    def control(self, path):
        state = self.server.state
        raw = b"".join(self.read_body_chunks())
        if path == "/__lifeboat/faults" and self.command == "POST":
            rules = json.loads(raw or b"[]")
            with state.lock:
                for rule in rules:
                    rule["left"] = int(rule.get("times", 1))
                    state.rules.append(rule)
            return self.answer(200, b"{}", content_type="application/json")
        if path == "/__lifeboat/log" and self.command == "GET":
            with state.lock:
                body = json.dumps(state.log).encode()
            return self.answer(200, body, content_type="application/json")
        if path == "/__lifeboat/reset" and self.command == "POST":
            with state.lock:
                state.rules.clear()
                state.log.clear()
                state.token_lifetime = 3600
            return self.answer(200, b"{}", content_type="application/json")
        if path == "/__lifeboat/clear" and self.command == "POST":
            scope = json.loads(raw or b"{}").get("path")
            with state.lock:
                state.rules = [rule for rule in state.rules if rule.get("path") != scope]
            return self.answer(200, b"{}", content_type="application/json")
        if path == "/__lifeboat/token-lifetime" and self.command == "POST":
            with state.lock:
                state.token_lifetime = int(json.loads(raw)["seconds"])
            return self.answer(200, b"{}", content_type="application/json")
        return self.answer(404, b'{"error": "unknown control path"}', content_type="application/json")

    # -- OAuth2 token endpoint (GCS front) ---------------------------------------------------------
    def token(self, entry):
        raw = b"".join(self.read_body_chunks())
        form = urllib.parse.parse_qs(raw.decode(errors="replace"))

        def refuse(description):
            body = json.dumps({"error": "invalid_grant", "error_description": description}).encode()
            self.record(entry, 400, body_bytes=len(raw))
            return self.answer(400, body, content_type="application/json")

        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            return refuse("Invalid grant_type")
        assertion = (form.get("assertion") or [""])[0]
        parts = assertion.split(".")
        if len(parts) != 3:
            return refuse("Invalid JWT: not three parts")
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            signature = b64url_decode(parts[2])
        except Exception:
            return refuse("Invalid JWT: undecodable")
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
        now = time.time()
        if claims.get("iss") != self.server.issuer:
            return refuse("Invalid JWT: iss is not the service account")
        if claims.get("aud") != self.server.token_uri:
            return refuse("Invalid JWT: aud must be the token URI")
        scopes = str(claims.get("scope", "")).split()
        if not any(s.startswith("https://www.googleapis.com/auth/devstorage.") or
                   s == "https://www.googleapis.com/auth/cloud-platform" for s in scopes):
            return refuse("Invalid JWT: no storage scope")
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or not isinstance(exp, int) or exp - iat > 3600 or exp <= iat:
            return refuse("Invalid JWT: iat/exp")
        if exp < now or iat > now + 300:
            return refuse("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.")
        token = "ya29." + secrets.token_urlsafe(32)
        with self.server.state.lock:
            lifetime = self.server.state.token_lifetime
            self.server.state.tokens[token] = now + lifetime
        body = json.dumps({"access_token": token, "expires_in": lifetime, "token_type": "Bearer"}).encode()
        self.record(entry, 200, body_bytes=len(raw))
        return self.answer(200, body, content_type="application/json")

    def bearer_is_live(self):
        value = self.headers.get("Authorization", "")
        if not value.startswith("Bearer "):
            return False
        with self.server.state.lock:
            expiry = self.server.state.tokens.get(value[7:])
        return expiry is not None and expiry > time.time()

    # -- the proxy ---------------------------------------------------------------------------------
    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        path, query = url.path, url.query
        if path.startswith("/__lifeboat/"):
            return self.control(path)
        entry = {"method": self.command, "path": path, "query": query,
                 "headers": {h: self.headers[h] for h in LOGGED_HEADERS if self.headers.get(h) is not None},
                 "authorization": "Authorization" in self.headers}
        if self.server.public_key is not None and path == "/token" and self.command == "POST":
            return self.token(entry)

        rule = self.server.state.take_rule(self.command, path, query)
        if rule and rule.get("expire_tokens"):
            with self.server.state.lock:
                for token in self.server.state.tokens:
                    self.server.state.tokens[token] = 0
            rule = None
            entry["fault"] = "expire_tokens"
        if rule and "drop_after_bytes" in rule:
            received = sum(len(b) for b in self.read_body_chunks(limit=int(rule["drop_after_bytes"])))
            self.record(entry, None, fault="drop_after_bytes", body_bytes=received)
            self.close_connection = True
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if rule and "status" in rule:
            received = sum(len(b) for b in self.read_body_chunks())
            self.record(entry, int(rule["status"]), fault="status", body_bytes=received)
            return self.answer(int(rule["status"]), rule.get("body", "").encode(), headers=rule.get("headers"))

        if self.server.public_key is not None and "upload_id=" not in query and not self.bearer_is_live():
            received = sum(len(b) for b in self.read_body_chunks())
            body = json.dumps({"error": {"code": 401, "message": "Invalid Credentials", "errors": [
                {"message": "Invalid Credentials", "domain": "global", "reason": "authError",
                 "locationType": "header", "location": "Authorization"}]}}).encode()
            self.record(entry, 401, fault=entry.get("fault"), body_bytes=received)
            return self.answer(401, body, headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
                               content_type="application/json; charset=UTF-8")
        self.forward(entry, rule)

    def forward(self, entry, rule):
        upstream = self.server.upstream
        connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=120)
        length = self.body_length()
        received = 0
        try:
            connection.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() in HOP_BY_HOP or (length is None and name.lower() == "content-length"):
                    continue
                connection.putheader(name, value)
            if length is None:
                body = b"".join(self.read_body_chunks())
                received = len(body)
                connection.putheader("Content-Length", str(len(body)))
                connection.endheaders()
                connection.send(body)
            else:
                connection.endheaders()
                for block in self.read_body_chunks():
                    received += len(block)
                    connection.send(block)
            response = connection.getresponse()
            if rule and "forward_then_status" in rule:
                response.read()
                self.record(entry, int(rule["forward_then_status"]), fault="forward_then_status", body_bytes=received)
                return self.answer(int(rule["forward_then_status"]), rule.get("body", "").encode(),
                                   headers=rule.get("headers"))
            self.send_response(response.status, response.reason)
            content_length = response.getheader("Content-Length")
            payload = None
            if content_length is None and self.command != "HEAD" and response.status not in (204, 304):
                payload = response.read()
                content_length = str(len(payload))
            for name, value in response.getheaders():
                lower = name.lower()
                if lower in HOP_BY_HOP or lower == "content-length":
                    continue
                if lower == "location" and self.server.public_key is not None:
                    value = self.rewrite_location(value)
                self.send_header(name, value)
            if content_length is not None:
                self.send_header("Content-Length", content_length)
            self.end_headers()
            if self.command != "HEAD":
                if payload is not None:
                    self.wfile.write(payload)
                else:
                    while True:
                        block = response.read(BLOCK)
                        if not block:
                            break
                        self.wfile.write(block)
            self.record(entry, response.status, fault=entry.get("fault"), body_bytes=received)
        except (OSError, http.client.HTTPException) as error:
            self.record(entry, 502, fault="upstream: %s" % error, body_bytes=received)
            self.close_connection = True
            try:
                self.answer(502, str(error).encode())
            except OSError:
                pass
        finally:
            connection.close()

    def rewrite_location(self, value):
        parts = urllib.parse.urlsplit(value)
        if parts.netloc == "%s:%d" % (self.server.upstream.hostname, self.server.upstream.port) or \
                parts.netloc in ("localhost:%d" % self.server.upstream.port, "0.0.0.0:%d" % self.server.upstream.port):
            host = self.headers.get("Host") or "127.0.0.1:%d" % self.server.server_address[1]
            return urllib.parse.urlunsplit((parts.scheme or "http", host, parts.path, parts.query, parts.fragment))
        return value


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--token-public-key")
    parser.add_argument("--token-issuer")
    args = parser.parse_args()
    server = Server(("127.0.0.1", args.port), Handler)
    server.state = State()
    server.upstream = urllib.parse.urlsplit(args.upstream)
    server.public_key = None
    if args.token_public_key:
        from cryptography.hazmat.primitives.serialization import load_pem_public_key
        with open(args.token_public_key, "rb") as f:
            server.public_key = load_pem_public_key(f.read())
        server.issuer = args.token_issuer
        server.token_uri = "http://127.0.0.1:%d/token" % args.port
    server.serve_forever()


if __name__ == "__main__":
    main()
