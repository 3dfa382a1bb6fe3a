import Foundation
import LifeboatCore

/// A small Asterisk Manager Interface client: connect, log in, originate a call and wait for its
/// outcome, log off.
///
/// The wire protocol: Asterisk greets with one line, `Asterisk Call Manager/x.y.z`; after that every
/// message is a packet of `Key: Value` lines ended by CRLF, with an empty line after the last. An
/// action carries an `ActionID` that its `Response:` packet repeats; events (`Event:` packets) arrive
/// in between at any time and are skipped, except the `OriginateResponse` of our own Originate.
///
/// It blocks the calling thread (POSIX sockets with `poll` deadlines): run it on a thread of your
/// own. One client is one connection, used by one thread at a time.
///
/// Failures are ``DeliveryError``s naming the server:
/// - transient: the connection failed (refused, reset, timed out), the greeting was missing or not
///   Asterisk's, no answer arrived in time, and the call was not answered (`Reason` 3), the line was
///   busy (5) or congested (8);
/// - permanent: the login was refused, the Originate action was refused (e.g. `Permission denied`),
///   and the call failed otherwise (0: could not be placed; 1: hung up before answering).
public final class AMIClient {
    public let host: String
    public let port: Int
    /// Seconds to set up the TCP connection.
    public let connectTimeout: Double
    /// Seconds to wait for the greeting and for each response.
    public let replyTimeout: Double
    /// The greeting line, once connected (`Asterisk Call Manager/7.0.3`).
    public private(set) var banner: String?

    private var socket: AMISocket?
    private let actionPrefix: String
    private var actionCount = 0
    /// `OriginateResponse` events of our actions that arrived while waiting for something else.
    private var pendingOutcomes: [String: AMIPacket] = [:]

    /// The `Reason` codes of a failed `OriginateResponse` (Asterisk's `AST_CONTROL_*` values) that
    /// may go another way later: no answer, busy, congestion.
    public static let transientReasons: Set<Int> = [3, 5, 8]

    public init(
        host: String, port: Int = AMIConfiguration.defaultPort, connectTimeout: Double = 10, replyTimeout: Double = 10
    ) {
        self.host = host
        self.port = port
        self.connectTimeout = connectTimeout
        self.replyTimeout = replyTimeout
        var generator = SystemRandomNumberGenerator()
        actionPrefix = "lifeboat-" + String(generator.next() & 0xFFFF_FFFF_FFFF, radix: 16) + "-"
    }

    deinit { socket?.close() }

    private var server: String {
        "AMI at " + (host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)")
    }

    // MARK: Session

    /// Connects and reads the greeting; a greeting that is not `Asterisk Call Manager/…` fails
    /// (transient: something else may be listening on the port for now).
    public func connect() throws(DeliveryError) {
        close()
        do {
            let socket = try AMISocket.connect(host: host, port: port, timeout: connectTimeout)
            self.socket = socket
            let line = try socket.readLine(until: deadline(replyTimeout)).text
            guard line.hasPrefix("Asterisk Call Manager/") else {
                close()
                throw DeliveryError(
                    .transient,
                    "\(server) did not greet as the Asterisk Manager Interface (it sent \(Self.quote(line))); "
                        + "check host and port (the manager port is 5038 unless manager.conf says otherwise)")
            }
            banner = line
        } catch let error as AMISocket.Failure {
            close()
            switch error {
            case .timedOut:
                throw DeliveryError(
                    .transient,
                    "\(server) sent no greeting within \(Self.seconds(replyTimeout)); check that the manager "
                        + "interface is enabled (enabled = yes in manager.conf) on this port")
            default:
                throw DeliveryError(.transient, "\(server) could not be reached: \(error.reason)")
            }
        } catch let error as DeliveryError {
            throw error
        } catch {
            throw DeliveryError(.transient, "\(server): \(error)")
        }
    }

    /// Logs in with `Action: Login`. A refused login (`Authentication failed`) is permanent; the
    /// message names the user, never the secret.
    public func login(username: String, secret: Secret) throws(DeliveryError) {
        var action = AMIPacket([.init("Action", "Login"), .init("Username", username)])
        action.append("Secret", secret.reveal())
        let reply = try perform(action, what: "the login")
        guard reply["Response"]?.lowercased() == "success" else {
            let said = reply["Message"].map(Self.quote) ?? "no reason"
            throw DeliveryError(
                .permanent,
                "\(server) refused the login of user \(Self.quote(username)): \(said); check username and secret "
                    + "in notifications.ami against the user's section of manager.conf (and its permit/deny lines)")
        }
    }

    /// Sends `Action: Originate` (asynchronous) and waits for its `OriginateResponse`: returns that
    /// event when the call was answered, throws when it was refused or not answered.
    ///
    /// The wait lasts the Originate's `Timeout` plus ``replyTimeout``. A call whose outcome does not
    /// arrive in that time is a transient failure: the AMI user may lack `read = call`.
    @discardableResult
    public func originate(_ request: AMIOriginateRequest) throws(DeliveryError) -> AMIPacket {
        let actionID = nextActionID()
        var action = AMIPacket([
            .init("Action", "Originate"), .init("Channel", request.channel),
            .init("Application", request.application), .init("Data", request.data),
            .init("CallerID", request.callerID), .init("Timeout", String(request.timeoutMilliseconds)),
            .init("Async", "true"),
        ])
        for (name, value) in request.variables.sorted(by: { $0.key < $1.key }) {
            action.append("Variable", "\(name)=\(value)")
        }
        let call = "the call to \(request.channel)"
        let reply = try perform(action, actionID: actionID, what: "the Originate of \(call)")
        guard reply["Response"]?.lowercased() == "success" else {
            let said = reply["Message"].map(Self.quote) ?? "no reason"
            throw DeliveryError(
                .permanent,
                "\(server) refused to originate \(call): \(said); check that the AMI user has write = originate")
        }
        let wait = Double(request.timeoutMilliseconds) / 1000 + replyTimeout
        let outcome = try awaitOriginateResponse(actionID: actionID, until: deadline(wait), call: call, wait: wait)
        if outcome["Response"]?.lowercased() == "success" { return outcome }
        let reason = Int(outcome["Reason"] ?? "") ?? 0
        let kind: DeliveryError.Kind = Self.transientReasons.contains(reason) ? .transient : .permanent
        throw DeliveryError(kind, "\(call) through \(server) failed: \(Self.describe(reason: reason))")
    }

    /// Sends `Action: Logoff`, waits briefly for `Response: Goodbye`, and closes; never fails.
    public func logoff() {
        guard socket != nil else { return }
        _ = try? perform(AMIPacket([.init("Action", "Logoff")]), what: "the logoff", timeout: min(replyTimeout, 2))
        close()
    }

    /// Closes the connection without logging off.
    public func close() {
        socket?.close()
        socket = nil
        pendingOutcomes = [:]
    }

    /// What an `OriginateResponse` failure `Reason` means.
    public static func describe(reason: Int) -> String {
        switch reason {
        case 0:
            "the call could not be placed (no such extension or number, no route, or the channel is unavailable; Reason 0)"
        case 1: "the call was hung up before it was answered (declined, or the dialplan ended it; Reason 1)"
        case 3: "no answer: it rang until the answer timeout (Reason 3)"
        case 5: "the line was busy (Reason 5)"
        case 8: "the network was congested: no free channel or trunk (Reason 8)"
        default: "Asterisk reported Reason \(reason)"
        }
    }

    // MARK: Exchanges

    private func nextActionID() -> String {
        actionCount += 1
        return actionPrefix + String(actionCount)
    }

    /// Sends `action` with an ActionID and returns its response packet (the one with `Response:` and
    /// the same ActionID), skipping events.
    private func perform(
        _ action: AMIPacket, actionID: String? = nil, what: String, timeout: Double? = nil
    ) throws(DeliveryError) -> AMIPacket {
        guard let socket else {
            throw DeliveryError(.transient, "\(server): not connected (connect before \(what))")
        }
        let actionID = actionID ?? nextActionID()
        var packet = action
        packet.fields.insert(.init("ActionID", actionID), at: min(1, packet.fields.count))
        guard let bytes = packet.encoded() else {
            // Nothing is sent: a line break in a value would let it inject header lines or actions.
            throw DeliveryError(
                .permanent,
                "\(what) was not sent to \(server): the value of \(packet.unsafeFieldName ?? "a field") "
                    + "contains a line break or NUL, which would inject lines into the AMI packet")
        }
        let until = deadline(timeout ?? replyTimeout)
        do throws(AMISocket.Failure) {
            try socket.send(bytes, until: until)
            while true {
                let reply = try readPacket(socket, until: until)
                if reply["Event"] != nil {
                    keepIfOurs(reply)
                    continue
                }
                if reply["Response"] != nil && reply["ActionID"] == actionID { return reply }
            }
        } catch {
            close()
            throw failure(error, during: what, waited: timeout ?? replyTimeout)
        }
    }

    private func awaitOriginateResponse(
        actionID: String, until deadline: ContinuousClock.Instant, call: String, wait: Double
    ) throws(DeliveryError) -> AMIPacket {
        if let outcome = pendingOutcomes.removeValue(forKey: actionID) { return outcome }
        guard let socket else { throw DeliveryError(.transient, "\(server): the connection was closed") }
        do throws(AMISocket.Failure) {
            while true {
                let packet = try readPacket(socket, until: deadline)
                if packet["Event"]?.lowercased() == "originateresponse" && packet["ActionID"] == actionID {
                    return packet
                }
                keepIfOurs(packet)
            }
        } catch .timedOut {
            throw DeliveryError(
                .transient,
                "\(server) sent no OriginateResponse for \(call) within \(Self.seconds(wait)): whether it was "
                    + "answered is unknown; check that the AMI user has read = call in manager.conf")
        } catch {
            close()
            throw failure(error, during: "waiting for the outcome of \(call)", waited: wait)
        }
    }

    private func keepIfOurs(_ event: AMIPacket) {
        guard event["Event"]?.lowercased() == "originateresponse", let id = event["ActionID"],
            id.hasPrefix(actionPrefix)
        else { return }
        pendingOutcomes[id] = event
    }

    /// The next packet: lines up to an empty line (empty lines before a packet are skipped).
    private func readPacket(_ socket: AMISocket, until deadline: ContinuousClock.Instant) throws(AMISocket.Failure)
        -> AMIPacket
    {
        var packet = AMIPacket()
        while true {
            let line = try socket.readLine(until: deadline).text
            if line.isEmpty {
                if packet.fields.isEmpty { continue }
                return packet
            }
            // A line without a colon (command output) carries nothing this client reads.
            if let field = AMIPacket.field(fromLine: line) { packet.fields.append(field) }
            guard packet.fields.count <= 1000 else { throw .lineTooLong }
        }
    }

    private func failure(_ error: AMISocket.Failure, during what: String, waited: Double) -> DeliveryError {
        switch error {
        case .timedOut:
            DeliveryError(.transient, "\(server) did not answer \(what) within \(Self.seconds(waited))")
        case .closed:
            DeliveryError(.transient, "\(server) closed the connection during \(what)")
        default:
            DeliveryError(.transient, "\(server): \(what) failed: \(error.reason)")
        }
    }

    private func deadline(_ seconds: Double) -> ContinuousClock.Instant {
        ContinuousClock.now + .milliseconds(Int64(max(0, seconds) * 1000))
    }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : String(format: "%.1f s", value)
    }

    /// `text` quoted for a message, cut to 120 characters, control characters shown as `?`.
    static func quote(_ text: String) -> String {
        let shown = String(
            text.unicodeScalars.prefix(120).map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) })
        return "'\(shown)\(text.unicodeScalars.count > 120 ? "…" : "")'"
    }
}

/// What an `Action: Originate` asks for.
public struct AMIOriginateRequest: Sendable, Equatable {
    /// `Local/1001@from-internal`, `Local/+4915100000000@from-trunk`.
    public var channel: String
    /// The application run once the call is answered, and its argument.
    public var application: String
    public var data: String
    /// `Name <number>`.
    public var callerID: String
    /// How long the phone rings, in milliseconds.
    public var timeoutMilliseconds: Int
    /// Channel variables, sent as `Variable: NAME=value` lines (in name order).
    public var variables: [String: String]

    public init(
        channel: String, application: String, data: String, callerID: String, timeoutMilliseconds: Int,
        variables: [String: String] = [:]
    ) {
        self.channel = channel
        self.application = application
        self.data = data
        self.callerID = callerID
        self.timeoutMilliseconds = timeoutMilliseconds
        self.variables = variables
    }
}
