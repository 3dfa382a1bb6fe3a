import Foundation

/// An Asterisk Manager Interface test server (`packaging/test-servers/ami_server.py`) of one test,
/// on a free port of 127.0.0.1: it checks the login, records every packet and Originate, and
/// answers each call with the outcome the test chose, interleaving unrelated events.
final class AMITestServer {
    static let username = "lifeboat"
    static let secret = "ami-test-secret-7d41c2"

    /// What the server sends on connect.
    enum Banner {
        /// `Asterisk Call Manager/7.0.3`.
        case asterisk
        /// Nothing at all.
        case none
        /// This line instead.
        case line(String)
    }

    /// How the server answers an Originate for one destination.
    struct Outcome {
        var response: String
        var reason: Int

        static let busy = Outcome(response: "Failure", reason: 5)
        static let noAnswer = Outcome(response: "Failure", reason: 3)
        static let hungUp = Outcome(response: "Failure", reason: 1)
        static let congestion = Outcome(response: "Failure", reason: 8)
        static let notPlaced = Outcome(response: "Failure", reason: 0)
    }

    let port: Int
    private let process: ChannelTestProcess

    /// What the server has seen so far (its log file).
    struct Log: Decodable {
        struct Packet: Decodable {
            var connection: Int
            var fields: [[String]]

            func value(_ name: String) -> String? {
                fields.first { $0.count == 2 && $0[0].lowercased() == name.lowercased() }?[1]
            }
        }

        struct Login: Decodable {
            var connection: Int
            var username: String
            var accepted: Bool
        }

        struct Call: Decodable {
            var connection: Int
            var actionID: String?
            var channel: String
            var destination: String?
            var context: String?
            var application: String?
            var data: String?
            var callerID: String
            var timeout: String?
            var async: String?
            var variables: [String: String]
            var response: String?
            var reason: Int?

            enum CodingKeys: String, CodingKey {
                case connection, channel, destination, context, application, data, timeout, async, variables
                case response, reason
                case actionID = "action_id"
                case callerID = "caller_id"
            }
        }

        var connections: Int
        var packets: [Packet]
        var logins: [Login]
        var calls: [Call]
        var logoffs: Int
        var violations: [String]

        /// The `Action` of every packet received, in order.
        var actions: [String] { packets.compactMap { $0.value("Action") } }
    }

    init(
        outcomes: [String: Outcome] = [:], silent: [String] = [], banner: Banner = .asterisk,
        denyOriginate: Bool = false, delay: Double = 0.1
    ) throws {
        process = try ChannelTestProcess(name: "ami", script: "ami_server.py") { directory in
            var config: [String: Any] = [
                "username": Self.username, "secret": Self.secret, "version": "7.0.3", "delay": delay,
                "silent": silent, "deny_originate": denyOriginate,
                "outcomes": outcomes.mapValues { ["response": $0.response, "reason": $0.reason] },
            ]
            switch banner {
            case .asterisk: config["banner"] = true
            case .none: config["banner"] = false
            case .line(let line): config["banner"] = line
            }
            let file = directory + "/ami.json"
            try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: file))
            return ["--config", file, "--log", directory + "/log.json"]
        }
        port = process.port
    }

    func log() throws -> Log {
        let data = try Data(contentsOf: URL(fileURLWithPath: process.directory + "/log.json"))
        return try JSONDecoder().decode(Log.self, from: data)
    }

    /// The log once `condition` holds (the server records a Logoff just after the client has moved
    /// on), or the last one after 5 s.
    func log(when condition: (Log) -> Bool) throws -> Log {
        let deadline = Date().addingTimeInterval(5)
        var log = try self.log()
        while !condition(log) && Date() < deadline {
            usleep(20_000)
            log = try self.log()
        }
        return log
    }

    /// What the server printed, for failure messages.
    var output: String { process.output }
}
