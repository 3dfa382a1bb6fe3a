#!/usr/bin/env python3
"""An Asterisk Manager Interface (AMI) test server for Lifeboat's call notifications: the manager
protocol of Asterisk 16-22 on 127.0.0.1, enough of it to log in, originate calls and log off, with
the outcome of each call chosen by the test. Python standard library only.

    ami_server.py --config ami.json --port-file DIR/port --log DIR/log.json [--port 0]

Started by the Swift tests (AMITestServer), one server per test, on a free port (the port is written
to --port-file once the server listens). The configuration (JSON):

    {"username": "lifeboat", "secret": "…",
     "version": "7.0.3",            # the greeting is "Asterisk Call Manager/<version>"
     "banner": true,                # false: send no greeting; a string: send that line instead
     "delay": 0.1,                  # seconds between "Originate successfully queued" and the events
     "outcomes": {"1002": {"response": "Failure", "reason": 5}},   # by destination (Local/<dest>@…)
     "default_outcome": {"response": "Success", "reason": 4},
     "silent": ["1004"],            # destinations whose OriginateResponse never comes
     "deny_originate": false}       # true: Originate gets "Response: Error / Message: Permission denied"

The wire protocol, as Asterisk's manager.c speaks it: on connect the server sends the greeting line
ended by CRLF; every message after that is a packet of "Key: Value" lines, each ended by CRLF, with an
empty line (CRLF) after the last. Keys are case-insensitive. Every response repeats the action's
ActionID. Before a successful Login every action but Login gets "Permission denied". A failed Login
gets "Response: Error / Message: Authentication failed" and the connection is closed (as Asterisk
does). After a successful login the server sends "Event: FullyBooted". Originate (with Async: true)
is answered "Response: Success / Message: Originate successfully queued"; after --delay it sends
unrelated events (Newchannel, VarSet) and then "Event: OriginateResponse" with the same ActionID,
"Response: Success" and Reason 4, or "Response: Failure" and the configured Reason (0 could not be
placed, 1 hung up, 3 no answer, 5 busy, 8 congestion). Logoff gets "Response: Goodbye" and the
connection is closed. Ping gets Pong; any other action: "Invalid/unknown command".

Strictness: a line that does not end in CRLF, a line without "Key: Value", an Originate without
Channel, or with a Timeout that is not a number, is recorded in "violations" (the first two are
also answered with an error, like Asterisk's "Missing action in request").

The log (--log, JSON, rewritten after every change) records what the tests check:
    {"connections": N,
     "packets": [{"connection": c, "fields": [[key, value], …]}],   # every packet received, in order
     "logins": [{"connection": c, "username": u, "accepted": bool}],
     "calls": [{"connection": c, "action_id", "channel", "destination", "context", "application",
                "data", "caller_id", "timeout", "async", "variables": {name: value},
                "response", "reason"}],                               # response null: never answered
     "logoffs": N,
     "violations": ["…"]}
"""
import argparse
import json
import os
import re
import socket
import socketserver
import threading
import time

CRLF = b"\r\n"


class State:
    def __init__(self, config, log_path):
        self.config = config
        self.log_path = log_path
        self.lock = threading.Lock()
        self.connections = 0
        self.packets = []
        self.logins = []
        self.calls = []
        self.logoffs = 0
        self.violations = []
        self.channel_counter = 0
        self.started = int(time.time())
        self.save()

    def save(self):
        # Called with self.lock held (or before any thread runs).
        document = {"connections": self.connections, "packets": self.packets, "logins": self.logins,
                    "calls": self.calls, "logoffs": self.logoffs, "violations": self.violations}
        tmp = self.log_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(document, f)
        os.replace(tmp, self.log_path)

    def record(self, update):
        with self.lock:
            update(self)
            self.save()


class Connection(socketserver.BaseRequestHandler):
    def setup(self):
        self.state = self.server.state
        self.config = self.state.config
        self.write_lock = threading.Lock()
        self.buffer = b""
        self.authenticated = False
        self.closed = False
        self.timers = []

        def count(state):
            state.connections += 1
            self.number = state.connections
        self.state.record(count)

    # -- wire --------------------------------------------------------------------------------------
    def send_packet(self, fields):
        data = b"".join(("%s: %s" % (k, v)).encode() + CRLF for k, v in fields) + CRLF
        self.send_raw(data)

    def send_raw(self, data):
        with self.write_lock:
            if self.closed:
                return
            try:
                self.request.sendall(data)
            except OSError:
                self.closed = True

    def read_line(self):
        """The next line without its end, or None at EOF. Records a bare LF as a violation."""
        while True:
            index = self.buffer.find(b"\n")
            if index >= 0:
                raw = self.buffer[:index + 1]
                self.buffer = self.buffer[index + 1:]
                if not raw.endswith(CRLF):
                    self.violation("line not ended by CRLF: %r" % raw[:80])
                    return raw[:-1].decode("utf-8", "replace")
                return raw[:-2].decode("utf-8", "replace")
            try:
                chunk = self.request.recv(4096)
            except OSError:
                return None
            if not chunk:
                return None
            self.buffer += chunk

    def read_packet(self):
        """(fields, malformed) of the next packet, or None at EOF."""
        fields = []
        malformed = False
        while True:
            line = self.read_line()
            if line is None:
                return None
            if line == "":
                if not fields and not malformed:
                    continue  # Asterisk ignores empty lines between packets
                return fields, malformed
            match = re.match(r"^([^:\s][^:]*):\s?(.*)$", line)
            if not match:
                self.violation("line without 'Key: Value': %r" % line[:80])
                malformed = True
                continue
            fields.append([match.group(1), match.group(2)])

    def violation(self, text):
        self.state.record(lambda s: s.violations.append("connection %d: %s" % (self.number, text)))

    @staticmethod
    def get(fields, key):
        for k, v in fields:
            if k.lower() == key.lower():
                return v
        return None

    @staticmethod
    def get_all(fields, key):
        return [v for k, v in fields if k.lower() == key.lower()]

    # -- session -----------------------------------------------------------------------------------
    def handle(self):
        banner = self.config.get("banner", True)
        if banner is True:
            self.send_raw(("Asterisk Call Manager/%s" % self.config.get("version", "7.0.3")).encode() + CRLF)
        elif isinstance(banner, str):
            self.send_raw(banner.encode() + CRLF)
        try:
            while not self.closed:
                packet = self.read_packet()
                if packet is None:
                    break
                fields, malformed = packet
                self.state.record(lambda s: s.packets.append({"connection": self.number, "fields": fields}))
                action_id = self.get(fields, "ActionID")
                echo = [["ActionID", action_id]] if action_id is not None else []
                if malformed:
                    self.send_packet([["Response", "Error"]] + echo + [["Message", "Missing action in request"]])
                    continue
                action = (self.get(fields, "Action") or "").lower()
                if not action:
                    self.send_packet([["Response", "Error"]] + echo + [["Message", "Missing action in request"]])
                    continue
                if action == "login":
                    self.login(fields, echo)
                elif not self.authenticated and action != "challenge":
                    self.send_packet([["Response", "Error"]] + echo + [["Message", "Permission denied"]])
                elif action == "originate":
                    self.originate(fields, echo, action_id)
                elif action == "logoff":
                    self.state.record(lambda s: setattr(s, "logoffs", s.logoffs + 1))
                    self.send_packet([["Response", "Goodbye"]] + echo + [["Message", "Thanks for all the fish."]])
                    break
                elif action == "ping":
                    self.send_packet([["Response", "Success"]] + echo +
                                     [["Ping", "Pong"], ["Timestamp", "%.6f" % time.time()]])
                else:
                    self.send_packet([["Response", "Error"]] + echo +
                                     [["Message", "Invalid/unknown command: %s. Use Action: ListCommands to show "
                                                  "available commands." % self.get(fields, "Action")]])
        finally:
            for timer in self.timers:
                timer.cancel()
            with self.write_lock:
                self.closed = True

    def login(self, fields, echo):
        username = self.get(fields, "Username") or ""
        secret = self.get(fields, "Secret")
        accepted = username == self.config["username"] and secret == self.config["secret"]
        self.state.record(lambda s: s.logins.append(
            {"connection": self.number, "username": username, "accepted": accepted}))
        if not accepted:
            self.send_packet([["Response", "Error"]] + echo + [["Message", "Authentication failed"]])
            with self.write_lock:
                self.closed = True
            return
        self.authenticated = True
        self.send_packet([["Response", "Success"]] + echo + [["Message", "Authentication accepted"]])
        uptime = max(1, int(time.time()) - self.state.started)
        self.send_packet([["Event", "FullyBooted"], ["Privilege", "system,all"], ["Uptime", str(uptime)],
                          ["LastReload", str(uptime)], ["Status", "Fully Booted"]])

    def originate(self, fields, echo, action_id):
        channel = self.get(fields, "Channel")
        if not channel:
            self.violation("Originate without Channel")
            return self.send_packet([["Response", "Error"]] + echo + [["Message", "Channel not specified"]])
        if "/" not in channel:
            self.violation("Originate with an invalid Channel %r" % channel)
            return self.send_packet([["Response", "Error"]] + echo + [["Message", "Invalid channel"]])
        timeout = self.get(fields, "Timeout")
        if timeout is not None and not re.fullmatch(r"\d+", timeout.strip()):
            self.violation("Originate with a Timeout that is not a number: %r" % timeout)
            return self.send_packet([["Response", "Error"]] + echo + [["Message", "Invalid timeout"]])
        application = self.get(fields, "Application")
        exten = self.get(fields, "Exten")
        if not application and not exten:
            self.violation("Originate without Application or Exten")
        if self.config.get("deny_originate"):
            return self.send_packet([["Response", "Error"]] + echo + [["Message", "Permission denied"]])
        variables = {}
        for line in self.get_all(fields, "Variable"):
            for pair in line.split(","):
                name, _, value = pair.partition("=")
                variables[name] = value
        match = re.fullmatch(r"Local/([^@]+)@(.+)", channel)
        destination = match.group(1) if match else None
        context = match.group(2) if match else None
        caller_id = self.get(fields, "CallerID") or ""
        call = {"connection": self.number, "action_id": action_id, "channel": channel, "destination": destination,
                "context": context, "application": application, "data": self.get(fields, "Data"),
                "caller_id": caller_id, "timeout": timeout, "async": self.get(fields, "Async"),
                "variables": variables, "response": None, "reason": None}
        silent = destination in self.config.get("silent", [])
        outcome = self.config.get("outcomes", {}).get(
            destination, self.config.get("default_outcome", {"response": "Success", "reason": 4}))
        self.state.record(lambda s: s.calls.append(call))
        self.send_packet([["Response", "Success"]] + echo + [["Message", "Originate successfully queued"]])
        if silent:
            return
        with self.state.lock:
            self.state.channel_counter += 1
            counter = self.state.channel_counter
        name_match = re.fullmatch(r"\s*\"?([^\"<]*?)\"?\s*<([^>]*)>\s*", caller_id)
        cid_name, cid_num = (name_match.group(1), name_match.group(2)) if name_match else (caller_id, "")
        unique = "%d.%d" % (self.state.started, counter)
        live = "%s-%08x;1" % (channel, counter)

        def events():
            # Unrelated events first, as a busy PBX interleaves them, then the outcome.
            self.send_packet([["Event", "Newchannel"], ["Privilege", "call,all"], ["Channel", live],
                              ["ChannelState", "0"], ["ChannelStateDesc", "Down"], ["CallerIDNum", cid_num],
                              ["CallerIDName", cid_name], ["ConnectedLineNum", "<unknown>"],
                              ["ConnectedLineName", "<unknown>"], ["Language", "en"], ["AccountCode", ""],
                              ["Context", context or ""], ["Exten", destination or ""], ["Priority", "1"],
                              ["Uniqueid", unique], ["Linkedid", unique]])
            self.send_packet([["Event", "VarSet"], ["Privilege", "dialplan,all"], ["Channel", live],
                              ["Variable", "LIFEBOAT_EVENT"], ["Value", variables.get("LIFEBOAT_EVENT", "")],
                              ["Uniqueid", unique]])
            response = outcome.get("response", "Success")
            reason = int(outcome.get("reason", 4 if response == "Success" else 0))
            self.send_packet([["Event", "OriginateResponse"], ["Privilege", "call,all"]] + echo +
                             [["Response", response], ["Channel", live if response == "Success" else channel],
                              ["Context", ""], ["Exten", ""], ["Application", application or ""],
                              ["Data", self.get(fields, "Data") or ""], ["Reason", str(reason)],
                              ["Uniqueid", unique if response == "Success" else "<null>"],
                              ["CallerIDNum", cid_num], ["CallerIDName", cid_name]])

            def answered(s):
                call["response"] = response
                call["reason"] = reason
            self.state.record(answered)

        timer = threading.Timer(float(self.config.get("delay", 0.1)), events)
        timer.daemon = True
        self.timers.append(timer)
        timer.start()


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    with open(args.config) as f:
        config = json.load(f)
    server = Server(("127.0.0.1", args.port), Connection)
    server.state = State(config, args.log)
    with open(args.port_file + ".tmp", "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.replace(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
