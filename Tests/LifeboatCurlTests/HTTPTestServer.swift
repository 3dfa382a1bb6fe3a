import Foundation

/// A small HTTP/1.1 server (python3's http.server) on 127.0.0.1 for transport tests:
/// `PUT /x` answers with the SHA-256 and length of the body it received; `GET /bytes/N` sends N
/// bytes; `GET /slow` sends a few bytes and stalls; `GET /status/N` answers with that status.
final class HTTPTestServer {
    let port: Int
    private let process: Process

    init() throws {
        let script = """
            import hashlib, http.server, sys, time
            class H(http.server.BaseHTTPRequestHandler):
                protocol_version = "HTTP/1.1"
                def log_message(self, *a): pass
                def do_PUT(self):
                    h = hashlib.sha256(); n = 0
                    if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                        while True:
                            size = int(self.rfile.readline().strip(), 16)
                            if size == 0:
                                self.rfile.readline(); break
                            data = self.rfile.read(size); self.rfile.readline()
                            h.update(data); n += len(data)
                    else:
                        left = int(self.headers.get("Content-Length", "0"))
                        while left:
                            data = self.rfile.read(min(left, 65536)); h.update(data); n += len(data); left -= len(data)
                    body = f"{h.hexdigest()} {n} {self.headers.get('X-Test', '')}".encode()
                    self.send_response(201); self.send_header("Content-Length", str(len(body)))
                    self.send_header("X-Reply", "yes"); self.end_headers(); self.wfile.write(body)
                def do_GET(self):
                    parts = self.path.split("/")
                    if parts[1] == "bytes":
                        n = int(parts[2]); self.send_response(200)
                        self.send_header("Content-Length", str(n)); self.end_headers()
                        block = bytes(range(256)) * 256
                        while n:
                            k = min(n, len(block)); self.wfile.write(block[:k]); n -= k
                    elif parts[1] == "slow":
                        self.send_response(200); self.send_header("Content-Length", "1000"); self.end_headers()
                        self.wfile.write(b"x" * 10); self.wfile.flush(); time.sleep(30)
                    else:
                        code = int(parts[2]); self.send_response(code)
                        self.send_header("Content-Length", "0"); self.end_headers()
            s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
            print(s.server_address[1], flush=True)
            s.serve_forever()
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let line = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
        guard let parsed = Int(line.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            kill(process.processIdentifier, SIGKILL)
            throw CocoaError(.fileReadCorruptFile)
        }
        self.port = parsed
        self.process = process
    }

    var base: String { "http://127.0.0.1:\(port)" }

    deinit {
        // SIGKILL: a child of the test runner may inherit a signal mask that blocks SIGTERM.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
