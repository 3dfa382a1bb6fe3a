#!/usr/bin/env python3
"""SMTP servers for Lifeboat's email notifications, built on aiosmtpd 1.4.6 (pinned in packaging/setup.sh).

    smtp_server.py --mailbox DIR --username USER --password-file FILE
                   [--starttls-port N] [--tls-port N] [--plain-port N]     (at least one; 0 = a free port)
                   [--cert server.pem --key server-key.pem]                (needed for starttls and tls)
                   [--port-file FILE] [--session-log FILE]
                   [--rcpt-reply ADDRESS=CODE ...] [--data-reply ADDRESS=CODE ...] [--greeting CODE]

One process serves every port it is given, on 127.0.0.1 only:
  starttls  STARTTLS offered and required: before it, only EHLO, NOOP, STARTTLS and QUIT are accepted
            (anything else gets "530 Must issue a STARTTLS command first"); AUTH is offered only after it.
  tls       implicit TLS from the first byte (SMTPS); AUTH is offered at once.
  plain     no TLS at all (STARTTLS is not offered, nor accepted); AUTH is offered in clear text. Used for
            "the server does not offer STARTTLS" and for security: none with allow_insecure.
On every port AUTH PLAIN and AUTH LOGIN are the only mechanisms and a login is required before MAIL
("530 5.7.0 Authentication required"); a wrong user or password gets "535 5.7.8 Authentication credentials
invalid". The server's name in its greeting and EHLO is "lifeboat-test-smtp".

Recipients that fail on purpose (matched case-insensitively on the whole address):
  --rcpt-reply ADDRESS=CODE   RCPT TO of ADDRESS is answered CODE (e.g. refused@example.com=550,
                              deferred@example.com=451, full@example.com=452)
  --data-reply ADDRESS=CODE   a message with ADDRESS among its recipients is refused with CODE after the
                              final "." (e.g. spam@example.com=554); nothing is stored
  --greeting CODE             every connection is greeted with CODE (e.g. 421) and closed at once
Every other recipient is accepted.

Each accepted message is stored in the mailbox as two files with the same stem (time in ms, pid, counter),
written so that the .eml appears last and whole:
  STEM.json  the envelope: {"mail_from", "rcpt_tos", "auth_user", "tls", "server" (starttls|tls|plain),
             "port", "message_id" (the Message-ID header, or null), "size", "received" (ISO 8601 UTC)}
  STEM.eml   the message bytes exactly as received, after SMTP dot-unstuffing (RFC 5321 4.5.2): line
             endings are kept as the client sent them, so a bare LF shows up as one.
--session-log FILE appends one JSON line per connection and per command: {"time", "server", "port",
"peer", "tls", "authenticated", "event": "connect" | "command" | "message", "command" (the verb only,
never its arguments, which for AUTH carry the credentials), "file" (for a message)}. A test uses it to
check, for instance, that a client refusing to go on without STARTTLS sent nothing after EHLO.

--port-file FILE is written (atomically) once every server listens: {"starttls": N, "tls": N, "plain": N}
with the ports actually bound, so a test can start a server of its own on port 0 and read the port.
SIGTERM or SIGINT closes the listeners and exits 0. packaging/test-servers.sh runs one instance with
fixed ports for the whole suite; tests that stop and restart a server run their own (see
Tests/LifeboatNotifyTests/Email/SMTPTestServer.swift).
"""
import argparse
import asyncio
import datetime
import email.parser
import email.policy
import hmac
import itertools
import json
import logging
import os
import signal
import ssl
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

SERVER_NAME = "lifeboat-test-smtp"
MODES = ("starttls", "tls", "plain")

REPLY_TEXT = {
    421: "4.3.2 Service not available, closing transmission channel",
    450: "4.2.1 Mailbox unavailable, try again later",
    451: "4.3.0 Local error in processing, try again later",
    452: "4.3.1 Insufficient system storage",
    550: "5.1.1 Mailbox unavailable: no such user",
    551: "5.1.6 User not local",
    552: "5.2.2 Mailbox full",
    553: "5.1.3 Mailbox name not allowed",
    554: "5.7.1 Message rejected as spam",
}


def reply(code):
    return f"{code} {REPLY_TEXT.get(code, 'Refused by the test server')}"


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def address_codes(pairs, option):
    codes = {}
    for pair in pairs or []:
        address, sep, code = pair.rpartition("=")
        if not sep or not address or not code.isdigit() or not 400 <= int(code) <= 599:
            raise SystemExit(f"{option} wants ADDRESS=CODE with a 4xx or 5xx code, got {pair!r}")
        codes[address.lower()] = int(code)
    return codes


def write_atomically(path, data):
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class SessionLog:
    """JSON lines, one per connection, command and stored message; never a command's arguments."""

    def __init__(self, path):
        self.file = open(path, "a", encoding="utf-8") if path else None

    def write(self, entry):
        if self.file:
            self.file.write(json.dumps(entry) + "\n")
            self.file.flush()


class Mailbox:
    """Checks logins, answers recipients as configured, stores accepted messages."""

    def __init__(self, args, log):
        self.directory = args.mailbox
        self.username = args.username.encode()
        with open(args.password_file, "rb") as f:
            self.password = f.read().rstrip(b"\r\n")
        self.rcpt_codes = address_codes(args.rcpt_reply, "--rcpt-reply")
        self.data_codes = address_codes(args.data_reply, "--data-reply")
        self.log = log
        self.counter = itertools.count(1)
        os.makedirs(self.directory, exist_ok=True)

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and hmac.compare_digest(auth_data.login, self.username)
              and hmac.compare_digest(auth_data.password, self.password))
        # handled=False: aiosmtpd then answers a failure with 535 itself
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        code = self.rcpt_codes.get(address.lower())
        if code:
            return reply(code)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        for address in envelope.rcpt_tos:
            code = self.data_codes.get(address.lower())
            if code:
                return reply(code)
        raw = envelope.original_content
        headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
        stem = f"{int(datetime.datetime.now().timestamp() * 1000):013d}-{os.getpid()}-{next(self.counter):05d}"
        auth = session.auth_data
        sidecar = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "auth_user": auth.login.decode("utf-8", "replace") if isinstance(auth, LoginPassword) else None,
            "tls": server.is_tls(),
            "server": server.mode,
            "port": server.port,
            "message_id": headers.get("Message-ID"),
            "size": len(raw),
            "received": now(),
        }
        write_atomically(os.path.join(self.directory, stem + ".json"), json.dumps(sidecar, indent=1).encode())
        write_atomically(os.path.join(self.directory, stem + ".eml"), raw)
        server.record("message", file=stem + ".eml")
        return "250 2.0.0 OK: queued as " + stem


class TestSMTP(SMTP):
    """aiosmtpd's SMTP with a session log of the verbs it is sent and an optional refusing greeting."""

    def __init__(self, handler, *, mode, port, log, greeting, **kwargs):
        super().__init__(handler, **kwargs)
        self.mode = mode
        self.port = port
        self.log = log
        self.greeting = greeting
        self._smtp_methods = {verb: self._recorded(verb, method) for verb, method in self._smtp_methods.items()}

    def is_tls(self):
        return self.mode == "tls" or self._tls_protocol is not None

    def record(self, event, **fields):
        peer = self.session.peer if self.session else None
        entry = {
            "time": now(), "server": self.mode, "port": self.port,
            "peer": f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else None,
            "tls": self.is_tls(), "authenticated": bool(self.session and self.session.authenticated),
            "event": event,
        }
        entry.update(fields)
        self.log.write(entry)

    def _recorded(self, verb, method):
        async def call(arg):
            self.record("command", command=verb)
            await method(arg)
        return call

    def connection_made(self, transport):
        first = self._original_transport is None
        super().connection_made(transport)
        if first:
            self.record("connect")

    async def _handle_client(self):
        if self.greeting:
            await self.push(reply(self.greeting))
            self.transport.close()
            return
        await super()._handle_client()


async def serve(args):
    log = SessionLog(args.session_log)
    mailbox = Mailbox(args, log)
    context = None
    if args.starttls_port is not None or args.tls_port is not None:
        if not (args.cert and args.key):
            raise SystemExit("--cert and --key are needed for the starttls and tls servers")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(args.cert, args.key)
    loop = asyncio.get_running_loop()
    # (mode, requested port, SMTP options, listener TLS)
    plans = [
        ("starttls", args.starttls_port,
         dict(tls_context=context, require_starttls=True, auth_require_tls=True), None),
        # aiosmtpd counts only STARTTLS as TLS: with auth_require_tls it would never offer AUTH here
        ("tls", args.tls_port, dict(auth_require_tls=False), context),
        ("plain", args.plain_port, dict(auth_require_tls=False), None),
    ]
    servers, ports = [], {}
    for mode, port, options, listener_tls in plans:
        if port is None:
            continue
        box = {}

        def factory(mode=mode, options=options, box=box):
            return TestSMTP(
                mailbox, mode=mode, port=box["port"], log=log, greeting=args.greeting,
                hostname=SERVER_NAME, ident="Lifeboat test SMTP", auth_required=True,
                authenticator=mailbox.authenticate, timeout=60, loop=loop, **options)

        server = await loop.create_server(factory, host=args.host, port=port, ssl=listener_tls)
        box["port"] = server.sockets[0].getsockname()[1]
        ports[mode] = box["port"]
        servers.append(server)
    if args.port_file:
        write_atomically(args.port_file, json.dumps(ports).encode())
    print(f"smtp_server: listening on {args.host}: {ports}", flush=True)

    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    await stop
    for server in servers:
        server.close()
    for server in servers:
        await server.wait_closed()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    for mode in MODES:
        parser.add_argument(f"--{mode}-port", type=int)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--username", required=True)
    parser.add_argument("--password-file", required=True)
    parser.add_argument("--mailbox", required=True)
    parser.add_argument("--port-file")
    parser.add_argument("--session-log")
    parser.add_argument("--rcpt-reply", action="append")
    parser.add_argument("--data-reply", action="append")
    parser.add_argument("--greeting", type=int)
    args = parser.parse_args()
    if all(getattr(args, f"{mode}_port") is None for mode in MODES):
        parser.error("give at least one of --starttls-port, --tls-port, --plain-port")
    if args.greeting is not None and not 400 <= args.greeting <= 599:
        parser.error("--greeting wants a 4xx or 5xx code")
    # A parent may have started us with signals blocked (Foundation's Process on Linux passes on the
    # test runner's mask): SIGTERM must reach the handler below.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    # AUTH without TLS on the plain port is what that port is for
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
