import Foundation
import Hummingbird
import LifeboatCore
import LifeboatCrypto
import Logging

/// The daemon's HTTP listener on the loopback interface (`api.listen`), served with Hummingbird.
///
/// Every request needs `Authorization: Bearer <api.token>` (compared in constant time); without it
/// the answer is 401. Routes:
/// - `GET /metrics`: Prometheus text (`MetricsText`).
/// - `GET /v1/status`: the JSON of `lifeboat status --json`.
/// - `POST /v1/events`: records one event (JSON: `type`, `level` (optional for the PBX catalogue's
///   types, which have a default), optional `attributes` (strings),
///   `message`, `source` (default `api`), `id`); answers 202 with its id once it is on disk, 400 naming
///   the bad field, 413 over `maximumEventBody` bytes.
public enum APIServer {
    /// The largest `POST /v1/events` body.
    public static let maximumEventBody = 64 << 10

    /// The configuration the handlers read; replaced on reload.
    public final class Current: @unchecked Sendable {
        // @unchecked: `configuration` is only read and written under `lock`.
        private let lock = NSLock()
        private var value: Configuration

        public init(_ configuration: Configuration) { value = configuration }

        public var configuration: Configuration {
            get { lock.withLock { value } }
            set { lock.withLock { value = newValue } }
        }
    }

    /// The Hummingbird application, to run as a service of the daemon's service group.
    public static func application(
        api: APIConfiguration, current: Current, state: StateDatabase, events: EventRecorder, logger: Logger,
        onServerRunning: @escaping @Sendable () async -> Void = {}
    ) -> some ApplicationProtocol {
        let router = Router()
        router.middlewares.add(BearerTokenMiddleware(token: api.token))
        router.get("/metrics") { _, _ -> Response in
            let text = try MetricsText.render(configuration: current.configuration, state: state, now: Date())
            return Response(
                status: .ok, headers: [.contentType: MetricsText.contentType],
                body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
        router.get("/v1/status") { _, _ -> Response in
            let configuration = current.configuration
            let now = Date()
            let statuses = try configuration.jobs.map { try JobStatus(job: $0, state: state, now: now, recentRuns: 10) }
            let object: [String: Any] = [
                "ok": statuses.allSatisfy(\.isOK), "generated": Timestamp.iso8601(now),
                "jobs": statuses.map(\.jsonObject),
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.post("/v1/events") { request, _ -> Response in
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: maximumEventBody)
            } catch {
                return answer(.contentTooLarge, ["error": "the body is larger than \(maximumEventBody) bytes"])
            }
            let event: Event
            switch Result(catching: { () throws(BadEvent) -> Event in try parseEvent(Data(buffer: body), now: Date()) }) {
            case .success(let parsed): event = parsed
            case .failure(let error): return answer(.badRequest, ["error": error.message])
            }
            try await events.record(event)
            return answer(.accepted, ["id": event.id])
        }
        return Application(
            router: router,
            configuration: ApplicationConfiguration(
                address: .hostname(api.host, port: api.port), serverName: "lifeboat/\(Agent.version)"),
            onServerRunning: { _ in await onServerRunning() },
            logger: logger)
    }
}

extension APIServer {
    /// A request body that is not an acceptable event.
    struct BadEvent: Error {
        var message: String
    }

    static let eventFields: Set<String> = ["type", "level", "attributes", "message", "source", "id"]

    /// Parses and checks one event; the error names the field that is wrong.
    static func parseEvent(_ data: Data, now: Date) throws(BadEvent) -> Event {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw BadEvent(message: "the body is not a JSON object")
        }
        if let unknown = object.keys.sorted().first(where: { !eventFields.contains($0) }) {
            throw BadEvent(message: "\(unknown): unknown field (known: \(eventFields.sorted().joined(separator: ", ")))")
        }
        func string(_ key: String, required: Bool) throws(BadEvent) -> String? {
            guard let value = object[key] else {
                if required { throw BadEvent(message: "\(key): missing") }
                return nil
            }
            guard let text = value as? String else { throw BadEvent(message: "\(key): expected a string") }
            return text
        }
        var attributes: [(key: String, value: String)] = []
        if let raw = object["attributes"] {
            guard let dictionary = raw as? [String: Any] else {
                throw BadEvent(message: "attributes: expected an object of strings")
            }
            for key in dictionary.keys.sorted() {
                guard let value = dictionary[key] as? String else {
                    throw BadEvent(message: "attributes.\(key): expected a string")
                }
                attributes.append((key, value))
            }
        }
        let input = EventInput(
            type: try string("type", required: true) ?? "", level: try string("level", required: false),
            attributes: attributes, message: try string("message", required: false),
            source: try string("source", required: false) ?? "api", id: try string("id", required: false))
        do {
            return try input.event(now: now)
        } catch {
            let field = error.field.rawValue + (error.key.map { ".\($0)" } ?? "")
            throw BadEvent(message: "\(field): \(error.reason)")
        }
    }

    static func answer(_ status: HTTPResponse.Status, _ object: [String: String]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Refuses any request without the configured bearer token.
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    private let digest: [UInt8]

    init(token: Secret) {
        digest = MessageDigest.hash(.sha256, Array(token.reveal().utf8))
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let header = request.headers[.authorization] ?? ""
        let prefix = "Bearer "
        // Both sides are hashed first, so the comparison's time does not even depend on the length.
        let presented = header.hasPrefix(prefix) ? Array(header.dropFirst(prefix.count).utf8) : []
        guard !presented.isEmpty, ConstantTime.equals(MessageDigest.hash(.sha256, presented), digest) else {
            let reason = header.isEmpty ? "missing bearer token" : "wrong bearer token"
            return Response(
                status: .unauthorized,
                headers: [.wwwAuthenticate: "Bearer realm=\"lifeboat\"", .contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: "{\"error\":\"\(reason)\"}\n")))
        }
        return try await next(request, context)
    }
}
