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
public enum APIServer {
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
        api: APIConfiguration, current: Current, state: StateDatabase, logger: Logger,
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
        return Application(
            router: router,
            configuration: ApplicationConfiguration(
                address: .hostname(api.host, port: api.port), serverName: "lifeboat/\(Agent.version)"),
            onServerRunning: { _ in await onServerRunning() },
            logger: logger)
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
