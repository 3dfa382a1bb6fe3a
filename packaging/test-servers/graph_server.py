#!/usr/bin/env python3
"""A Microsoft Graph test server for the Lifeboat SharePoint store: the Microsoft identity platform's
token endpoint and the SharePoint document-library part of Graph v1.0, on 127.0.0.1, following
Microsoft's documented behaviour strictly. Python standard library only.

    graph_server.py --config graph.json --state-dir DIR --port-file DIR/port \
                    [--tls-cert server.pem --tls-key server-key.pem]

Started by the Swift tests (GraphTestServer), one server per test, on a free port (`--port 0`, the
port is written to --port-file once the server listens). File contents live in --state-dir, never
whole in memory. The configuration (JSON):

    {"tenant": "TENANT-ID", "token_lifetime": 3600, "page_size": 200, "session_lifetime": 900,
     "file_host": "localhost",
     "clients": [{"id": "CLIENT-ID", "secret": "…", "certificate": "/path/cert.pem",
                  "roles": ["Sites.ReadWrite.All"]}],
     "sites": [{"hostname": "contoso.sharepoint.com", "path": "/sites/it",
                "drives": ["Documents", "Archive"]}]}

What it serves (paths of Graph itself under /v1.0; errors as Graph and Entra ID write them):

  POST /{tenant}/oauth2/v2.0/token   client-credentials grant, scope https://graph.microsoft.com/.default,
      with client_secret, or client_assertion (an RS256 JWT whose x5t#S256 header, or x5t, names the
      client's certificate; aud = this token URL, iss = sub = client id, exp/nbf, a jti never seen
      before). Wrong secret: 401 invalid_client AADSTS7000215. Tokens are opaque and expire.
  GET  /v1.0/sites/{hostname}:/{path}           the site; 404 itemNotFound "Requested site could not be found"
  GET  /v1.0/sites/{site-id}, …/drive, …/drives  the site, its default drive, its drives
  GET  /v1.0/drives/{drive-id}                   a drive
  item addressing, on /v1.0/drives/{drive-id}/ or /v1.0/sites/{site-id}/drive/:
       root | root:/{path}[:] | items/{id} | items/{id}:/{path}[:]   then optionally
       /children (GET: pages of `page_size` with @odata.nextLink; POST: create a folder)
       /content  (GET: 302 to a pre-authenticated download URL; PUT: simple upload, at most 4 MiB,
                 @microsoft.graph.conflictBehavior in the query, default replace)
       /createUploadSession (POST; item.@microsoft.graph.conflictBehavior: fail (default) | replace |
                 rename; deferCommit is refused)
  GET, DELETE an item.
  The upload URL (https://{file_host}:{port}/_up/{id}?tempauth=…) is pre-authenticated: a request
  that carries an Authorization header gets 401. PUT a fragment with Content-Range: bytes a-b/total:
  contiguous and in order (a fragment the server has already received: 416; a gap: 400), total the
  same in every fragment, Content-Length = b-a+1, at most 60 MiB, every fragment but the last a
  multiple of 320 KiB (327,680 bytes). A fragment cut short is ignored entirely. 202 with
  nextExpectedRanges until the last, then 201 (created) or 200 (replaced) with the driveItem and its
  file.hashes.quickXorHash. GET the URL: status (nextExpectedRanges); DELETE: cancel (204); an
  expired, finished or cancelled session: 404 itemNotFound. Each fragment extends the session.
  A missing parent folder is 404 (stricter than OneDrive, which may create parents on upload).

Control API (never logged; JSON in and out), under /__control/:
  POST faults        a JSON list of rules, appended. A rule matches requests by "kind" (token, graph,
                     fragment, session_status, session_cancel, download; default any), "method",
                     "path" (a regex searched in the raw path), lets "skip" matching requests pass
                     first (default 0) and then fires "times" times (default 1) with one action:
                     {"status": 503, "retry_after": 1, "code": "serviceNotAvailable"} answer this (the
                         request body is read first);
                     {"drop_after_bytes": K} read K bytes of the body, then reset the connection;
                     {"expire_tokens": true} every token issued so far expires, then go on;
                     {"expire_session": true} the upload session of this request expires, then go on;
                     {"corrupt_hash": true} go on, but the driveItem stored and reported has another
                         quickXorHash;
                     {"corrupt_content": true} go on, but flip one stored byte before hashing;
                     {"delay": S} wait S seconds, then go on.
  POST expire-tokens    every token issued so far expires
  POST expire-sessions  every open upload session expires
  POST token-lifetime   {"seconds": N}
  POST page-size        {"size": N}
  POST remove-site      {"hostname": H, "path": P}: the site disappears (404 from then on)
  GET  log              every request: {"seq", "kind", "method", "path", "query", "authorization"
                        (bool: an Authorization header was sent; never its value), "content_range",
                        "content_length", "body_bytes", "status" (null: connection dropped), "fault",
                        "time" (when it arrived, seconds since 1970)}
  GET  items            every drive item: {"drive", "path", "id", "size", "folder", "quickXorHash"}
  GET  sessions         open upload sessions: {"id", "path", "received", "total", "expires"}
"""
import argparse
import base64
import datetime
import hashlib
import http.server
import json
import os
import re
import secrets
import socket
import ssl
import struct
import threading
import time
import urllib.parse
import uuid

UPLOAD_UNIT = 327_680            # 320 KiB: every fragment but the last is a multiple of it
MAX_FRAGMENT = 60 * 1024 * 1024  # 60 MiB
SIMPLE_UPLOAD_LIMIT = 4 * 1024 * 1024
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
CLOCK_SKEW = 300
BLOCK = 1 << 16
READ_ROLES = {"Sites.Read.All", "Sites.ReadWrite.All", "Sites.FullControl.All", "Sites.Manage.All"}
WRITE_ROLES = {"Sites.ReadWrite.All", "Sites.FullControl.All", "Sites.Manage.All"}
INVALID_NAME = re.compile(r'["*:<>?/\\|]')


# -- formats ---------------------------------------------------------------------------------------

def iso(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def quickxor_file(path, corrupt=False):
    """Microsoft's QuickXorHash of a file: byte k is XORed into a 160-bit circular register at bit
    11·k mod 160; the length is XORed into the last 8 bytes. Bytes 160 apart land on the same bits,
    so the file is first folded modulo 160 bytes, with big-integer XORs."""
    fold = 0
    length = 0
    block = 160 * 4096
    with open(path, "rb") as f:
        while True:
            data = f.read(block)
            if not data:
                break
            length += len(data)
            data += b"\0" * (-len(data) % 160)
            x = int.from_bytes(data, "little")
            n = len(data) // 160
            while n > 1:
                if n % 2:
                    n -= 1
                    top = x >> (1280 * n)
                    x = (x & ((1 << (1280 * n)) - 1)) ^ top
                half = n // 2
                x = (x & ((1 << (1280 * half)) - 1)) ^ (x >> (1280 * half))
                n = half
            fold ^= x
    register = 0
    mask = (1 << 160) - 1
    for index in range(160):
        byte = (fold >> (8 * index)) & 0xFF
        if byte:
            value = byte << ((11 * index) % 160)
            register ^= (value & mask) | (value >> 160)
    out = bytearray(register.to_bytes(20, "little"))
    for i, b in enumerate(length.to_bytes(8, "little")):
        out[12 + i] ^= b
    if corrupt:
        out[0] ^= 0x01
    return base64.b64encode(bytes(out)).decode()


# -- certificates: the RSA public key of an X.509 certificate, read from its DER ---------------------

def der_element(data, pos):
    """(tag, content start, content end) of the DER element at pos."""
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    return tag, pos, pos + length


def der_children(data, start, end):
    children = []
    while start < end:
        element = der_element(data, start)
        children.append(element)
        start = element[2]
    return children


def pem_certificate_der(path):
    with open(path) as f:
        text = f.read()
    match = re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", text, re.S)
    if not match:
        raise ValueError("%s holds no PEM certificate" % path)
    return base64.b64decode("".join(match.group(1).split()))


def rsa_public_key(der):
    """(n, e) from Certificate → tbsCertificate → subjectPublicKeyInfo → RSAPublicKey."""
    _, start, end = der_element(der, 0)
    _, start, end = der_element(der, start)  # tbsCertificate
    fields = der_children(der, start, end)
    if fields[0][0] == 0xA0:  # [0] version
        fields = fields[1:]
    _, start, end = fields[5]  # serial, signature, issuer, validity, subject, subjectPublicKeyInfo
    algorithm, bits = der_children(der, start, end)
    _, bit_start, bit_end = bits
    _, start, end = der_element(der, bit_start + 1)  # skip the unused-bits byte
    n, e = der_children(der, start, end)
    return int.from_bytes(der[n[1]:n[2]], "big"), int.from_bytes(der[e[1]:e[2]], "big")


def rs256_valid(n, e, message, signature):
    size = (n.bit_length() + 7) // 8
    if len(signature) != size:
        return False
    decoded = pow(int.from_bytes(signature, "big"), e, n).to_bytes(size, "big")
    digest = SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    expected = b"\x00\x01" + b"\xff" * (size - 3 - len(digest)) + b"\x00" + digest
    return secrets.compare_digest(decoded, expected)


# -- state -----------------------------------------------------------------------------------------

class Item:
    def __init__(self, drive, name, parent, folder):
        self.id = "01" + secrets.token_hex(16).upper()[:32]
        self.drive = drive
        self.name = name
        self.parent = parent      # Item or None for the root
        self.folder = folder
        self.children = {}        # name.lower() -> Item, in creation order
        self.size = 0
        self.quickxor = None
        self.created = time.time()
        self.modified = self.created
        self.version = 1
        self.etag_id = str(uuid.uuid4()).upper()

    def path(self):
        names = []
        item = self
        while item.parent is not None:
            names.append(item.name)
            item = item.parent
        return "/".join(reversed(names))


class Drive:
    def __init__(self, site, name):
        self.id = "b!" + b64url(secrets.token_bytes(48))
        self.site = site
        self.name = name
        self.root = Item(self, "root", None, True)
        self.items = {self.root.id: self.root}


class Site:
    def __init__(self, hostname, path, drive_names):
        self.hostname = hostname
        self.path = "/" + path.strip("/")
        self.id = "%s,%s,%s" % (hostname, uuid.uuid4(), uuid.uuid4())
        self.drives = [Drive(self, name) for name in drive_names]
        self.removed = False


class Session:
    def __init__(self, server_state, drive, parent, name, conflict):
        self.id = secrets.token_hex(16)
        self.tempauth = b64url(secrets.token_bytes(32))
        self.drive = drive
        self.parent = parent
        self.name = name
        self.conflict = conflict
        self.total = None
        self.received = 0
        self.file = os.path.join(server_state.directory, "sessions", self.id)
        open(self.file, "wb").close()
        self.expires = time.time() + server_state.session_lifetime
        self.lock = threading.Lock()


class ShortBody(Exception):
    """The client closed the connection before sending the whole request body."""


class Answered(Exception):
    """The request has been answered (or its connection dropped)."""


class State:
    def __init__(self, config, directory):
        self.lock = threading.RLock()
        self.directory = directory
        for sub in ("sessions", "content"):
            os.makedirs(os.path.join(directory, sub), exist_ok=True)
        self.tenant = config["tenant"]
        self.token_lifetime = int(config.get("token_lifetime", 3600))
        self.page_size = int(config.get("page_size", 200))
        self.session_lifetime = int(config.get("session_lifetime", 900))
        self.file_host = config.get("file_host", "localhost")
        self.clients = {}
        for client in config["clients"]:
            entry = dict(client)
            if client.get("certificate"):
                der = pem_certificate_der(client["certificate"])
                entry["x5t#S256"] = b64url(hashlib.sha256(der).digest())
                entry["x5t"] = b64url(hashlib.sha1(der).digest())
                entry["key"] = rsa_public_key(der)
            self.clients[client["id"]] = entry
        self.sites = [Site(s["hostname"], s["path"], s.get("drives", ["Documents"])) for s in config["sites"]]
        self.tokens = {}          # token -> (client id, expiry)
        self.assertion_ids = set()
        self.sessions = {}
        self.downloads = {}       # download id -> (item, expiry)
        self.rules = []
        self.log = []

    def take_rule(self, kind, method, path):
        with self.lock:
            for rule in self.rules:
                if rule["left"] <= 0:
                    continue
                if rule.get("kind") and rule["kind"] != kind:
                    continue
                if rule.get("method") and rule["method"].upper() != method:
                    continue
                if rule.get("path") and not re.search(rule["path"], path):
                    continue
                if rule["skip"] > 0:
                    rule["skip"] -= 1
                    continue
                rule["left"] -= 1
                return dict(rule)
        return None

    def drive(self, drive_id):
        for site in self.sites:
            if site.removed:
                continue
            for drive in site.drives:
                if drive.id == drive_id:
                    return drive
        return None

    def content_path(self, item):
        return os.path.join(self.directory, "content", item.id)


# -- the handler -----------------------------------------------------------------------------------

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-IIS/10.0"
    sys_version = ""
    timeout = 120

    def log_message(self, *args):
        pass

    def do_GET(self): self.handle_any()
    def do_PUT(self): self.handle_any()
    def do_POST(self): self.handle_any()
    def do_DELETE(self): self.handle_any()
    def do_PATCH(self): self.handle_any()
    def do_HEAD(self): self.handle_any()

    @property
    def state(self):
        return self.server.state

    # -- request bodies ----------------------------------------------------------------------------
    def body_blocks(self, limit=None):
        """Yields the rest of the request body in blocks (Content-Length or chunked), counting
        self.received; stops after `limit` bytes. Raises ShortBody when the client closes early."""
        if self.body_complete:
            return
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise ShortBody()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                        pass
                    self.body_complete = True
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
                self.rfile.readline(16)
        else:
            length = int(self.headers.get("Content-Length", "0") or 0)
            seen = self.received
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
            self.body_complete = True

    def read_body(self, limit=1 << 20):
        data = b""
        for block in self.body_blocks():
            data += block
            if len(data) > limit:
                self.discard_body()
                self.fail(413, "requestTooLarge", "The request body is too large.")
        return data

    def discard_body(self):
        for _ in self.body_blocks():
            pass

    def json_body(self):
        data = self.read_body()
        if not data.strip():
            return {}
        try:
            value = json.loads(data)
        except ValueError:
            self.fail(400, "invalidRequest", "Invalid request: the body is not JSON.")
        if not isinstance(value, dict):
            self.fail(400, "invalidRequest", "Invalid request: the body is not a JSON object.")
        return value

    # -- answers -----------------------------------------------------------------------------------
    def answer(self, status, body=b"", headers=None, content_type=None):
        if not self.body_complete:
            # Answering before the request body is read: read it first, so the client sees the answer
            # rather than a connection reset.
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower() and self.received:
                self.close_connection = True
            else:
                self.discard_body()
        self.entry["status"] = status
        self.record()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, str(value))
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("request-id", self.request_id)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        raise Answered()

    def answer_json(self, status, value, headers=None):
        self.answer(status, json.dumps(value).encode(), headers,
                    "application/json;odata.metadata=minimal;odata.streaming=true;"
                    "IEEE754Compatible=false;charset=utf-8")

    def fail(self, status, code, message, headers=None):
        """A Graph error document (https://learn.microsoft.com/graph/errors)."""
        self.answer_json(status, {"error": {"code": code, "message": message, "innerError": {
            "date": iso(time.time())[:-5], "request-id": self.request_id,
            "client-request-id": self.headers.get("client-request-id", self.request_id)}}}, headers)

    def fail_login(self, status, error, code, text):
        """An Entra ID (AADSTS) error document."""
        now = time.time()
        trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
        stamp = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
        self.answer_json(status, {
            "error": error,
            "error_description": "AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s"
                                 % (code, text, trace, correlation, stamp),
            "error_codes": [code], "timestamp": stamp, "trace_id": trace, "correlation_id": correlation,
            "error_uri": "https://login.microsoftonline.com/error?code=%d" % code})

    def record(self):
        self.entry["body_bytes"] = self.received
        if not self.logged:
            self.logged = True
            with self.state.lock:
                self.entry["seq"] = len(self.state.log)
                self.state.log.append(self.entry)

    def drop_connection(self):
        self.entry["status"] = None
        self.record()
        self.close_connection = True
        sock = self.connection
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        try:
            sock.close()
        except OSError:
            pass
        raise Answered()

    # -- dispatch ----------------------------------------------------------------------------------
    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        self.raw_path, self.query = url.path, url.query
        self.params = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        self.received = 0
        self.body_complete = self.command in ("GET", "HEAD") and "Content-Length" not in self.headers \
            and "Transfer-Encoding" not in self.headers
        self.request_id = str(uuid.uuid4())
        if self.raw_path.startswith("/__control/"):
            self.entry = {}
            self.logged = True
            try:
                return self.control(self.raw_path[len("/__control/"):])
            except Answered:
                return
        kind = self.classify()
        self.entry = {"kind": kind, "method": self.command, "path": self.raw_path, "query": self.query,
                      "authorization": "Authorization" in self.headers,
                      "content_range": self.headers.get("Content-Range"),
                      "content_length": self.headers.get("Content-Length"),
                      "body_bytes": 0, "status": None, "fault": None, "time": time.time()}
        self.fault = None
        self.logged = False
        try:
            self.apply_rule(kind)
            self.route(kind)
            self.fail(400, "invalidRequest", "Invalid request")
        except Answered:
            pass
        except ShortBody:
            self.entry["fault"] = self.entry.get("fault") or "client_body_short"
            self.entry["status"] = None
            self.record()
            self.close_connection = True

    def classify(self):
        path = self.raw_path
        if re.fullmatch(r"/[^/]+/oauth2/v2\.0/token", path):
            return "token"
        if path.startswith("/_up/"):
            return {"PUT": "fragment", "GET": "session_status", "DELETE": "session_cancel"}.get(
                self.command, "session_other")
        if path.startswith("/_dl/"):
            return "download"
        return "graph"

    def apply_rule(self, kind):
        rule = self.state.take_rule(kind, self.command, self.raw_path)
        if not rule:
            return
        if rule.get("delay"):
            time.sleep(float(rule["delay"]))
            self.entry["fault"] = "delay"
        if rule.get("expire_tokens"):
            with self.state.lock:
                for token in self.state.tokens:
                    client, _ = self.state.tokens[token]
                    self.state.tokens[token] = (client, 0)
            self.entry["fault"] = "expire_tokens"
        if rule.get("expire_session"):
            session = self.state.sessions.get(self.raw_path[len("/_up/"):])
            if session:
                session.expires = 0
            self.entry["fault"] = "expire_session"
        if rule.get("corrupt_hash"):
            self.fault = "corrupt_hash"
            self.entry["fault"] = "corrupt_hash"
        if rule.get("corrupt_content"):
            self.fault = "corrupt_content"
            self.entry["fault"] = "corrupt_content"
        if "drop_after_bytes" in rule:
            self.entry["fault"] = "drop_after_bytes"
            for _ in self.body_blocks(limit=int(rule["drop_after_bytes"])):
                pass
            self.drop_connection()
        if "status" in rule:
            self.entry["fault"] = "status"
            self.discard_body()
            status = int(rule["status"])
            headers = {}
            if rule.get("retry_after") is not None:
                headers["Retry-After"] = str(rule["retry_after"])
            if kind == "token":
                self.fail_login(status, "temporarily_unavailable", 90033,
                                "A transient error has occurred. Please try again.")
            default_code = {429: "TooManyRequests", 503: "serviceNotAvailable", 500: "generalException",
                            504: "timeout", 507: "quotaLimitReached"}.get(status, "generalException")
            self.fail(status, rule.get("code", default_code),
                      rule.get("message", "The service is unavailable. Try again later."), headers)

    def route(self, kind):
        if kind == "token":
            return self.token()
        if kind in ("fragment", "session_status", "session_cancel", "session_other"):
            return self.upload_url()
        if kind == "download":
            return self.download()
        if not self.raw_path.startswith("/v1.0/"):
            self.fail(400, "BadRequest", "Invalid version.")
        client = self.authenticate()
        roles = set(self.state.clients[client].get("roles", []))
        write = self.command not in ("GET", "HEAD")
        if not roles & (WRITE_ROLES if write else READ_ROLES):
            self.discard_body()
            self.fail(403, "accessDenied", "Access denied")
        self.graph(self.raw_path[len("/v1.0"):])

    # -- token endpoint ----------------------------------------------------------------------------
    def token(self):
        state = self.state
        if self.command != "POST":
            self.fail_login(405, "invalid_request", 900561,
                            "The endpoint only accepts POST requests. Received a %s request." % self.command)
        tenant = self.raw_path.split("/")[1]
        body = self.read_body()
        if "application/x-www-form-urlencoded" not in self.headers.get("Content-Type", ""):
            self.fail_login(400, "invalid_request", 900144,
                            "The request body must contain the following parameter: 'grant_type'.")
        form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        if tenant != state.tenant:
            self.fail_login(400, "invalid_request", 90002,
                            "Tenant '%s' not found. Check to make sure you have the correct tenant ID and are "
                            "signing into the correct cloud." % tenant)
        if form.get("grant_type") != "client_credentials":
            self.fail_login(400, "unsupported_grant_type", 70003,
                            "The app requested an unsupported grant type '%s'." % form.get("grant_type", ""))
        client_id = form.get("client_id", "")
        if not client_id:
            self.fail_login(400, "invalid_request", 900144,
                            "The request body must contain the following parameter: 'client_id'.")
        client = state.clients.get(client_id)
        if client is None:
            self.fail_login(400, "unauthorized_client", 700016,
                            "Application with identifier '%s' was not found in the directory '%s'. This can "
                            "happen if the application has not been installed by the administrator of the "
                            "tenant or consented to by any user in the tenant." % (client_id, tenant))
        if form.get("scope") != GRAPH_SCOPE:
            self.fail_login(400, "invalid_scope", 1002012,
                            "The provided value for scope %s is not valid. Client credential flows must have a "
                            "scope value with /.default suffixed to the resource identifier (application ID "
                            "URI)." % form.get("scope", ""))
        if "client_secret" in form:
            if not client.get("secret") or not secrets.compare_digest(form["client_secret"], client["secret"]):
                self.fail_login(401, "invalid_client", 7000215,
                                "Invalid client secret provided. Ensure the secret being sent in the request is "
                                "the client secret value, not the client secret ID, for a secret added to app "
                                "'%s'." % client_id)
        elif "client_assertion" in form:
            self.check_assertion(form, client, client_id, tenant)
        else:
            self.fail_login(401, "invalid_client", 7000218,
                            "The request body must contain the following parameter: 'client_assertion' or "
                            "'client_secret'.")
        token = "eyJ0eXAiOiJKV1QiLCJub25jZSI6" + b64url(secrets.token_bytes(48))
        with state.lock:
            lifetime = state.token_lifetime
            state.tokens[token] = (client_id, time.time() + lifetime)
        self.answer_json(200, {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
                               "access_token": token})

    def check_assertion(self, form, client, client_id, tenant):
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            self.fail_login(400, "invalid_request", 50027,
                            "client_assertion_type must be %s." % ASSERTION_TYPE)
        parts = form["client_assertion"].split(".")
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            signature = b64url_decode(parts[2])
            assert len(parts) == 3 and isinstance(header, dict) and isinstance(claims, dict)
        except Exception:
            self.fail_login(400, "invalid_request", 50027, "JWT token is invalid or malformed.")
        if header.get("alg") != "RS256":
            self.fail_login(401, "invalid_client", 5002738,
                            "Invalid JWT token. '%s' is not a supported signature algorithm." % header.get("alg"))
        thumbprint = header.get("x5t#S256") or header.get("x5t")
        known = client.get("x5t#S256") if "x5t#S256" in header else client.get("x5t")
        if not client.get("key") or thumbprint != known:
            self.fail_login(401, "invalid_client", 700027,
                            "Client assertion failed signature validation. [Reason - The key was not found., "
                            "Thumbprint of key used by client: '%s']" % thumbprint)
        n, e = client["key"]
        if not rs256_valid(n, e, (parts[0] + "." + parts[1]).encode(), signature):
            self.fail_login(401, "invalid_client", 700027,
                            "Client assertion failed signature validation. [Reason - The provided signature "
                            "value did not match the expected signature value.]")
        audience = "%s/%s/oauth2/v2.0/token" % (self.server.base_url, tenant)
        if claims.get("aud") != audience:
            self.fail_login(401, "invalid_client", 700212,
                            "The audience of the client assertion '%s' is not this token endpoint ('%s')."
                            % (claims.get("aud"), audience))
        if claims.get("iss") != client_id or claims.get("sub") != client_id:
            self.fail_login(401, "invalid_client", 700021,
                            "Client assertion application identifier doesn't match 'client_id' parameter.")
        now = time.time()
        exp, nbf = claims.get("exp"), claims.get("nbf", claims.get("iat"))
        if not isinstance(exp, int) or exp < now - CLOCK_SKEW or (isinstance(nbf, int) and nbf > now + CLOCK_SKEW):
            self.fail_login(401, "invalid_client", 700024, "Client assertion is not within its valid time range.")
        jti = claims.get("jti")
        with self.state.lock:
            if not jti or jti in self.state.assertion_ids:
                self.fail_login(401, "invalid_client", 700023,
                                "Client assertion has no jti claim, or one that was used before.")
            self.state.assertion_ids.add(jti)

    def authenticate(self):
        auth = self.headers.get("Authorization", "")
        challenge = {"WWW-Authenticate": 'Bearer realm="", authorization_uri="%s/common/oauth2/authorize", '
                                         'client_id="00000003-0000-0000-c000-000000000000"' % self.server.base_url}
        if not auth.startswith("Bearer "):
            self.discard_body()
            self.fail(401, "InvalidAuthenticationToken", "Access token is empty.", challenge)
        with self.state.lock:
            found = self.state.tokens.get(auth[len("Bearer "):])
        if found is None:
            self.discard_body()
            self.fail(401, "InvalidAuthenticationToken", "IDX14100: JWT is not well formed.", challenge)
        client, expires = found
        if expires <= time.time():
            self.discard_body()
            self.fail(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.",
                      challenge)
        return client

    # -- Graph -------------------------------------------------------------------------------------
    def graph(self, path):
        state = self.state
        match = re.fullmatch(r"/sites/([^/:,]+):(/[^:]*)(?::(/.*)?)?", path)
        if match:
            hostname, site_path = match.group(1), urllib.parse.unquote(match.group(2)).rstrip("/")
            site = next((s for s in state.sites if not s.removed and s.hostname.lower() == hostname.lower()
                         and s.path.lower() == site_path.lower()), None)
            return self.site(site, match.group(3) or "")
        match = re.fullmatch(r"/sites/([^/]+)(/.*)?", path)
        if match:
            site_id = urllib.parse.unquote(match.group(1))
            if site_id == "root":
                site = None
            else:
                site = next((s for s in state.sites if not s.removed and s.id == site_id), None)
            return self.site(site, match.group(2) or "")
        match = re.fullmatch(r"/drives/([^/]+)(/.*)?", path)
        if match:
            drive = state.drive(urllib.parse.unquote(match.group(1)))
            if drive is None:
                self.discard_body()
                self.fail(404, "itemNotFound", "The resource could not be found.")
            rest = match.group(2) or ""
            if rest == "":
                return self.answer_json(200, self.drive_json(drive))
            return self.drive_item(drive, rest)
        self.fail(400, "BadRequest", "Resource not found for the segment '%s'." % path.strip("/").split("/")[0])

    def site(self, site, rest):
        if site is None:
            self.discard_body()
            self.fail(404, "itemNotFound", "Requested site could not be found")
        if rest == "":
            return self.answer_json(200, self.site_json(site))
        if rest == "/drives":
            return self.answer_json(200, {"@odata.context": self.server.base_url + "/v1.0/$metadata#drives",
                                          "value": [self.drive_json(d) for d in site.drives]})
        if rest == "/drive":
            return self.answer_json(200, self.drive_json(site.drives[0]))
        if rest.startswith("/drive/"):
            return self.drive_item(site.drives[0], rest[len("/drive"):])
        if rest.startswith("/drives/"):
            drive_id, _, more = rest[len("/drives/"):].partition("/")
            drive = next((d for d in site.drives if d.id == urllib.parse.unquote(drive_id)), None)
            if drive is None:
                self.fail(404, "itemNotFound", "The resource could not be found.")
            if not more:
                return self.answer_json(200, self.drive_json(drive))
            return self.drive_item(drive, "/" + more)
        self.fail(400, "BadRequest", "Resource not found for the segment '%s'." % rest.strip("/").split("/")[0])

    def site_json(self, site):
        return {"@odata.context": self.server.base_url + "/v1.0/$metadata#sites/$entity",
                "id": site.id, "name": site.path.rsplit("/", 1)[-1], "displayName": site.path.rsplit("/", 1)[-1],
                "webUrl": "https://%s%s" % (site.hostname, site.path),
                "createdDateTime": iso(time.time() - 86400), "lastModifiedDateTime": iso(time.time()),
                "siteCollection": {"hostname": site.hostname}}

    def drive_json(self, drive):
        return {"id": drive.id, "name": drive.name, "driveType": "documentLibrary",
                "description": "", "createdDateTime": iso(drive.root.created),
                "lastModifiedDateTime": iso(drive.root.modified),
                "webUrl": "https://%s%s/%s" % (drive.site.hostname, drive.site.path, drive.name.replace(" ", "%20")),
                "quota": {"deleted": 0, "remaining": 1 << 40, "state": "normal", "total": 1 << 40, "used": 0}}

    def item_json(self, item):
        drive = item.drive
        value = {"@odata.context": self.server.base_url + "/v1.0/$metadata#drives('%s')/items/$entity" % drive.id,
                 "id": item.id, "name": item.name if item.parent else "root",
                 "createdDateTime": iso(item.created), "lastModifiedDateTime": iso(item.modified),
                 "eTag": '"{%s},%d"' % (item.etag_id, item.version),
                 "cTag": '"c:{%s},%d"' % (item.etag_id, item.version),
                 "size": item.size if not item.folder else sum(c.size for c in item.children.values()),
                 "webUrl": "https://%s%s/%s/%s" % (drive.site.hostname, drive.site.path, drive.name,
                                                    urllib.parse.quote(item.path())),
                 "fileSystemInfo": {"createdDateTime": iso(item.created), "lastModifiedDateTime": iso(item.modified)},
                 "createdBy": {"application": {"displayName": "Lifeboat"}},
                 "lastModifiedBy": {"application": {"displayName": "Lifeboat"}}}
        if item.parent is not None:
            parent_path = item.parent.path()
            value["parentReference"] = {"driveType": "documentLibrary", "driveId": drive.id, "id": item.parent.id,
                                        "path": "/drives/%s/root:%s"
                                                % (drive.id, "/" + parent_path if parent_path else ""),
                                        "siteId": drive.site.id}
        else:
            value["root"] = {}
        if item.folder:
            value["folder"] = {"childCount": len(item.children)}
        else:
            value["file"] = {"mimeType": "application/octet-stream", "hashes": {"quickXorHash": item.quickxor}}
            value["@microsoft.graph.downloadUrl"] = self.download_url(item)
        return value

    def download_url(self, item):
        token = b64url(secrets.token_bytes(24))
        with self.state.lock:
            self.state.downloads[token] = (item, time.time() + 3600)
        return "%s/_dl/%s?tempauth=%s" % (self.server.file_base_url, item.id, token)

    def resolve(self, drive, start, relative):
        """The item at `relative` (a decoded path) below `start`, or None."""
        item = start
        for name in [n for n in relative.split("/") if n]:
            item = item.children.get(name.lower()) if item.folder else None
            if item is None:
                return None
        return item

    def drive_item(self, drive, rest):
        """rest: /root…, /items/{id}…, with optional :/path[:] and /action."""
        match = re.fullmatch(r"/(root|items/([^/:]+))(?::(/[^:]*))?(:)?(/[A-Za-z.]+)?", rest)
        if not match:
            self.discard_body()
            self.fail(400, "invalidRequest", "Invalid request")
        with self.state.lock:
            item_id = urllib.parse.unquote(match.group(2) or "")
            start = drive.root if match.group(1) == "root" else drive.items.get(item_id)
        if start is None:
            self.discard_body()
            self.fail(404, "itemNotFound", "Item not found")
        relative = urllib.parse.unquote(match.group(3) or "")
        action = (match.group(5) or "").lstrip("/")
        if action and match.group(3) and not match.group(4):
            self.fail(400, "invalidRequest", "Invalid request")
        with self.state.lock:
            item = self.resolve(drive, start, relative)
            parent, name = start, None
            if relative.strip("/"):
                parent = self.resolve(drive, start, relative.rstrip("/").rsplit("/", 1)[0]) \
                    if "/" in relative.strip("/") else start
                name = relative.rstrip("/").rsplit("/", 1)[-1]
        method = self.command
        if action == "":
            if method == "GET":
                if item is None:
                    self.fail(404, "itemNotFound", "The resource could not be found.")
                return self.answer_json(200, self.item_json(item))
            if method == "DELETE":
                if item is None:
                    self.fail(404, "itemNotFound", "The resource could not be found.")
                if item.parent is None:
                    self.fail(403, "accessDenied", "Cannot delete the root of a drive.")
                self.remove(item)
                return self.answer(204)
        elif action == "children":
            if method == "GET":
                return self.children(drive, item)
            if method == "POST":
                return self.create_folder(drive, item)
        elif action == "content":
            if method == "GET":
                if item is None or item.folder:
                    self.fail(404, "itemNotFound", "The resource could not be found.")
                return self.answer(302, headers={"Location": self.download_url(item)})
            if method == "PUT":
                return self.simple_upload(drive, item, parent, name)
        elif action == "createUploadSession" and method == "POST":
            return self.create_session(drive, item, parent, name)
        self.discard_body()
        self.fail(405, "invalidRequest", "The request method is not supported for this resource.")

    def remove(self, item):
        with self.state.lock:
            stack = [item]
            while stack:
                current = stack.pop()
                stack.extend(current.children.values())
                current.drive.items.pop(current.id, None)
                if not current.folder:
                    try:
                        os.remove(self.state.content_path(current))
                    except OSError:
                        pass
            item.parent.children.pop(item.name.lower(), None)
            item.parent.modified = time.time()

    def children(self, drive, folder):
        if folder is None:
            self.fail(404, "itemNotFound", "The resource could not be found.")
        if not folder.folder:
            self.fail(400, "invalidRequest", "The item is not a folder.")
        page_size = self.state.page_size
        if "$top" in self.params:
            try:
                page_size = max(1, min(int(self.params["$top"]), 999))
            except ValueError:
                self.fail(400, "invalidRequest", "Invalid value for $top.")
        skip = 0
        if "$skiptoken" in self.params:
            try:
                skip = int(b64url_decode(self.params["$skiptoken"]).decode())
            except Exception:
                self.fail(400, "invalidRequest", "Invalid $skiptoken.")
        with self.state.lock:
            entries = list(folder.children.values())  # creation order, as Graph does not promise one
            page = [self.item_json(i) for i in entries[skip:skip + page_size]]
        value = {"@odata.context": self.server.base_url + "/v1.0/$metadata#drives('%s')/items('%s')/children"
                 % (drive.id, folder.id), "value": page}
        if skip + page_size < len(entries):
            query = {"$skiptoken": b64url(str(skip + page_size).encode())}
            if "$top" in self.params:
                query["$top"] = self.params["$top"]
            value["@odata.nextLink"] = "%s/v1.0/drives/%s/items/%s/children?%s" % (
                self.server.base_url, drive.id, folder.id, urllib.parse.urlencode(query))
        self.answer_json(200, value)

    def check_name(self, name):
        if not name or INVALID_NAME.search(name) or name != name.strip() or name.endswith(".") or len(name) > 400:
            self.fail(400, "invalidRequest", "The provided name is not valid: '%s'." % name)

    def create_folder(self, drive, parent):
        body = self.json_body()
        if parent is None:
            self.fail(404, "itemNotFound", "The resource could not be found.")
        name = body.get("name", "")
        self.check_name(name)
        if "folder" not in body:
            self.fail(400, "invalidRequest", "A folder facet is required to create an item here.")
        conflict = body.get("@microsoft.graph.conflictBehavior", "fail")  # Graph documents a default for PUT only
        with self.state.lock:
            existing = parent.children.get(name.lower())
            if existing is not None:
                if conflict == "fail" or (conflict == "replace" and not existing.folder):
                    self.fail(409, "nameAlreadyExists", "The specified item name already exists.")
                if conflict == "replace":
                    return self.answer_json(200, self.item_json(existing))
                base, number = name, 1
                while name.lower() in parent.children:
                    number += 1
                    name = "%s %d" % (base, number)
            item = Item(drive, name, parent, True)
            drive.items[item.id] = item
            parent.children[name.lower()] = item
            parent.modified = time.time()
            value = self.item_json(item)
        self.answer_json(201, value)

    def target(self, item, parent, name, conflict):
        """Checks where an upload goes: returns (existing item to replace or None, parent, name)."""
        if item is not None and item.folder:
            self.fail(409, "nameAlreadyExists", "The specified item name already exists as a folder.")
        if item is None:
            if parent is None or not parent.folder:
                self.fail(404, "itemNotFound", "The parent folder does not exist.")
            self.check_name(name or "")
            return None, parent, name
        if conflict == "fail":
            self.fail(409, "nameAlreadyExists", "The specified item name already exists.")
        if conflict == "rename":
            base, dot, ext = item.name.rpartition(".")
            number, new = 1, item.name
            while new.lower() in item.parent.children:
                number += 1
                new = "%s %d.%s" % (base, number, ext) if dot else "%s %d" % (item.name, number)
            return None, item.parent, new
        return item, item.parent, item.name

    def store_file(self, drive, existing, parent, name, source_path, size):
        """Moves a received file into place as a new or replaced item; returns (status, item json)."""
        corrupt_content = self.fault == "corrupt_content"
        if corrupt_content and size > 0:
            with open(source_path, "r+b") as f:
                f.seek(size // 2)
                byte = f.read(1)
                f.seek(size // 2)
                f.write(bytes([byte[0] ^ 0xFF]))
        quickxor = quickxor_file(source_path, corrupt=self.fault == "corrupt_hash")
        with self.state.lock:
            if existing is None:
                clash = parent.children.get(name.lower())
                if clash is not None:
                    # an item of this name appeared while the upload went on
                    os.remove(source_path)
                    self.fail(409, "nameAlreadyExists",
                              "Another file exists with the same name as the uploaded session.")
                item = Item(drive, name, parent, False)
                drive.items[item.id] = item
                parent.children[name.lower()] = item
                status = 201
            else:
                item = existing
                item.version += 1
                item.modified = time.time()
                status = 200
            os.replace(source_path, self.state.content_path(item))
            item.size = size
            item.quickxor = quickxor
            parent.modified = time.time()
            return status, self.item_json(item)

    def simple_upload(self, drive, item, parent, name):
        conflict = self.params.get("@microsoft.graph.conflictBehavior", "replace")
        length = self.headers.get("Content-Length")
        if length is None and "chunked" not in self.headers.get("Transfer-Encoding", ""):
            self.fail(411, "invalidRequest", "Length Required")
        if length is not None and int(length) > SIMPLE_UPLOAD_LIMIT:
            self.discard_body()
            self.fail(413, "requestTooLarge",
                      "The simple upload API supports files up to 4 MiB; use an upload session.")
        with self.state.lock:
            existing, parent, name = self.target(item, parent, name, conflict)
        temporary = os.path.join(self.state.directory, "sessions", "put-" + secrets.token_hex(8))
        size = 0
        try:
            with open(temporary, "wb") as f:
                for block in self.body_blocks():
                    size += len(block)
                    if size > SIMPLE_UPLOAD_LIMIT:
                        raise ValueError()
                    f.write(block)
        except ValueError:
            os.remove(temporary)
            self.discard_body()
            self.fail(413, "requestTooLarge",
                      "The simple upload API supports files up to 4 MiB; use an upload session.")
        except ShortBody:
            os.remove(temporary)
            raise
        status, value = self.store_file(drive, existing, parent, name, temporary, size)
        self.answer_json(status, value)

    def create_session(self, drive, item, parent, name):
        body = self.json_body()
        properties = body.get("item", {}) or {}
        if body.get("deferCommit"):
            self.fail(400, "invalidRequest", "deferCommit is not supported by this test server.")
        conflict = properties.get("@microsoft.graph.conflictBehavior", "fail")  # Graph's default
        if conflict not in ("fail", "replace", "rename"):
            self.fail(400, "invalidRequest", "Invalid conflict behavior '%s'." % conflict)
        target_name = name if item is None else item.name
        if properties.get("name") is not None and properties["name"] != target_name:
            self.fail(400, "invalidRequest", "The name in the request body must match the name in the path.")
        with self.state.lock:
            existing, parent, name = self.target(item, parent, name, conflict)
            session = Session(self.state, drive, parent, name, conflict)
            session.replace = existing
            self.state.sessions[session.id] = session
        self.answer_json(200, {
            "@odata.context": self.server.base_url + "/v1.0/$metadata#microsoft.graph.uploadSession",
            "uploadUrl": "%s/_up/%s?tempauth=%s" % (self.server.file_base_url, session.id, session.tempauth),
            "expirationDateTime": iso(session.expires), "nextExpectedRanges": ["0-"]})

    # -- upload URLs -------------------------------------------------------------------------------
    def session_ranges(self, session, open_ended=False):
        """nextExpectedRanges: "N-" after a fragment (as Graph's example answers), "N-END" in a status."""
        if session.total is None or open_ended:
            return ["%d-" % session.received]
        return ["%d-%d" % (session.received, session.total - 1)]

    def upload_url(self):
        session_id = self.raw_path[len("/_up/"):]
        if "Authorization" in self.headers:
            # "If you include the Authorization header when issuing the PUT call, it may result in an
            # HTTP 401 Unauthorized response."
            self.discard_body()
            self.fail(401, "unauthenticated", "The upload URL is pre-authenticated; do not send an "
                                              "Authorization header to it.")
        with self.state.lock:
            session = self.state.sessions.get(session_id)
        if session is None or not secrets.compare_digest(self.params.get("tempauth", ""), session.tempauth):
            if session is not None:
                self.discard_body()
                self.fail(401, "unauthenticated", "Invalid tempauth.")
            self.discard_body()
            self.fail(404, "itemNotFound", "The upload session was not found.")
        if session.expires <= time.time():
            with self.state.lock:
                self.state.sessions.pop(session.id, None)
            try:
                os.remove(session.file)
            except OSError:
                pass
            self.discard_body()
            self.fail(404, "itemNotFound", "The upload session was not found.")
        if self.command == "GET":
            return self.answer_json(200, {"expirationDateTime": iso(session.expires),
                                          "nextExpectedRanges": self.session_ranges(session)})
        if self.command == "DELETE":
            with self.state.lock:
                self.state.sessions.pop(session.id, None)
            try:
                os.remove(session.file)
            except OSError:
                pass
            return self.answer(204)
        if self.command != "PUT":
            self.discard_body()
            self.fail(405, "invalidRequest", "The request method is not supported for this resource.")
        if not session.lock.acquire(blocking=False):
            self.discard_body()
            self.fail(409, "uploadSessionIncomplete", "Another fragment of this session is being uploaded.")
        try:
            self.fragment(session)
        finally:
            session.lock.release()

    def fragment(self, session):
        content_range = self.headers.get("Content-Range", "")
        match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", content_range.strip())
        if not match:
            self.discard_body()
            self.fail(400, "invalidRequest", "The Content-Range header is missing or malformed (expected "
                                             "bytes start-end/total): '%s'." % content_range)
        first, last, total = (int(g) for g in match.groups())
        length = self.headers.get("Content-Length")
        size = last - first + 1
        if last < first or last >= total:
            self.discard_body()
            self.fail(400, "invalidRequest", "The Content-Range header is not valid: '%s'." % content_range)
        if length is None or int(length) != size:
            self.discard_body()
            self.fail(400, "invalidRequest",
                      "The Content-Range header length does not match the provided number of bytes.")
        if session.total is not None and total != session.total:
            self.discard_body()
            self.fail(400, "invalidRequest", "The total size of %d bytes differs from the %d bytes declared "
                                             "before." % (total, session.total))
        if size > MAX_FRAGMENT:
            self.discard_body()
            self.fail(400, "invalidRequest", "A fragment holds at most 60 MiB.")
        if last + 1 < total and size % UPLOAD_UNIT:
            self.discard_body()
            self.fail(400, "invalidRequest", "The fragment of %d bytes is not a multiple of 320 KiB (327,680 "
                                             "bytes), and it is not the last one." % size)
        if first < session.received:
            self.discard_body()
            self.fail(416, "invalidRange", "The uploaded fragment overlaps with data that has already been "
                                           "received.")
        if first > session.received:
            self.discard_body()
            self.fail(400, "invalidRange", "Fragments must be uploaded in order; the next expected range "
                                           "starts at %d." % session.received)
        # Write in place; a fragment cut short is ignored entirely.
        try:
            with open(session.file, "r+b") as f:
                f.seek(first)
                for block in self.body_blocks():
                    f.write(block)
        except ShortBody:
            with open(session.file, "r+b") as f:
                f.truncate(first)
            raise
        session.total = total
        session.received = last + 1
        session.expires = time.time() + self.state.session_lifetime
        if session.received < total:
            return self.answer_json(202, {"expirationDateTime": iso(session.expires),
                                          "nextExpectedRanges": self.session_ranges(session, open_ended=True)})
        with self.state.lock:
            self.state.sessions.pop(session.id, None)
            existing = session.replace
            if existing is not None and existing.id not in session.drive.items:
                existing = None  # deleted meanwhile: create it again
            if existing is None and session.conflict == "replace":
                existing = session.parent.children.get(session.name.lower())
                if existing is not None and existing.folder:
                    self.fail(409, "nameAlreadyExists", "A folder exists with the same name.")
        status, value = self.store_file(session.drive, existing, session.parent, session.name, session.file, total)
        self.answer_json(status, value)

    def download(self):
        if "Authorization" in self.headers:
            self.fail(401, "unauthenticated", "The download URL is pre-authenticated; do not send an "
                                              "Authorization header to it.")
        token = self.params.get("tempauth", "")
        with self.state.lock:
            found = self.state.downloads.get(token)
        item_id = self.raw_path[len("/_dl/"):]
        if found is None or found[0].id != item_id or found[1] <= time.time():
            self.fail(401, "unauthenticated", "Invalid or expired tempauth.")
        item = found[0]
        if item.id not in item.drive.items:
            self.fail(404, "itemNotFound", "The resource could not be found.")
        path = self.state.content_path(item)
        size = os.path.getsize(path)
        self.entry["status"] = 200
        self.record()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        with open(path, "rb") as f:
            while True:
                block = f.read(BLOCK)
                if not block:
                    break
                self.wfile.write(block)
        raise Answered()

    # -- control -----------------------------------------------------------------------------------
    def control(self, action):
        state = self.state
        body = {}
        if self.command == "POST":
            data = self.read_body()
            body = json.loads(data) if data.strip() else {}
        if action == "faults":
            with state.lock:
                for rule in (body if isinstance(body, list) else [body]):
                    rule = dict(rule)
                    rule["left"] = int(rule.get("times", 1))
                    rule["skip"] = int(rule.get("skip", 0))
                    state.rules.append(rule)
            return self.answer_json(200, {"rules": len(state.rules)})
        if action == "expire-tokens":
            with state.lock:
                for token, (client, _) in list(state.tokens.items()):
                    state.tokens[token] = (client, 0)
            return self.answer_json(200, {})
        if action == "expire-sessions":
            with state.lock:
                for session in state.sessions.values():
                    session.expires = 0
            return self.answer_json(200, {})
        if action == "token-lifetime":
            state.token_lifetime = int(body["seconds"])
            return self.answer_json(200, {})
        if action == "page-size":
            state.page_size = int(body["size"])
            return self.answer_json(200, {})
        if action == "remove-site":
            with state.lock:
                for site in state.sites:
                    if site.hostname == body.get("hostname") and site.path == "/" + body.get("path", "").strip("/"):
                        site.removed = True
            return self.answer_json(200, {})
        if action == "log":
            with state.lock:
                entries = [dict(e) for e in state.log]
            return self.answer_json(200, entries)
        if action == "items":
            with state.lock:
                items = [{"drive": d.name, "path": i.path(), "id": i.id, "size": i.size, "folder": i.folder,
                          "quickXorHash": i.quickxor}
                         for s in state.sites for d in s.drives for i in d.items.values() if i.parent is not None]
            return self.answer_json(200, sorted(items, key=lambda i: (i["drive"], i["path"])))
        if action == "sessions":
            with state.lock:
                sessions = [{"id": s.id, "path": (s.parent.path() + "/" if s.parent.path() else "") + s.name,
                             "received": s.received, "total": s.total, "expires": s.expires}
                            for s in state.sessions.values()]
            return self.answer_json(200, sessions)
        self.answer_json(404, {"error": "unknown control action " + action})


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64
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
    parser.add_argument("--config", required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    args = parser.parse_args()
    with open(args.config) as f:
        config = json.load(f)
    server = Server(("127.0.0.1", args.port), Handler)
    port = server.server_address[1]
    scheme = "http"
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        server.tls = context
        scheme = "https"
    server.state = State(config, args.state_dir)
    server.base_url = "%s://127.0.0.1:%d" % (scheme, port)
    server.file_base_url = "%s://%s:%d" % (scheme, server.state.file_host, port)
    with open(args.port_file + ".tmp", "w") as f:
        f.write("%d\n" % port)
    os.replace(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
