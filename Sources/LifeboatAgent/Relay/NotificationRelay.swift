import Foundation
import LifeboatCore
import LifeboatNotify
import Logging

/// The daemon's notification relay: routes recorded events into the outbox and sends what is due,
/// on threads of its own (the channels block: an SMTP dialogue, a webhook, a ringing phone).
///
/// Each pass:
/// 1. routes new events (``StateDatabase/routeEvents(contacts:policy:now:batch:)``);
/// 2. takes the due notifications; when a contact has several due at once (a burst of different
///    types, or everything that piled up while its server was down), they are folded into one
///    summary, so an outage ends with one message, not a flood;
/// 3. gives up notifications older than `max_delivery_age`, defers those over the contact's rate
///    limit, and sends the rest; a failure is retried with backoff, and after
///    `attemptsBeforeFallback` failed attempts (at once for a permanent failure) the contact's next
///    method is tried, with a `notifier.failed` event.
///
/// It wakes when events are recorded in this process, when a send ends, when the next notification
/// is due, and at least every ``pollInterval`` (events recorded by other processes, such as
/// `lifeboat notify`).
public final class NotificationRelay: @unchecked Sendable {
    // @unchecked: the mutable state (`setup`, `inFlight`, `stopping`, `worker`) is only touched under `lock`.

    /// What the relay works with; replaced on reload.
    public struct Setup: Sendable {
        public var contacts: [Contact]
        public var channels: NotificationChannels
        public var policy: RelayPolicy

        public init(contacts: [Contact], channels: NotificationChannels, policy: RelayPolicy) {
            self.contacts = contacts
            self.channels = channels
            self.policy = policy
        }
    }

    /// Sends one notification; the channels by default, something else in tests of the relay's logic.
    public typealias Deliver = @Sendable (_ id: String, _ events: [Event], _ contact: Contact, _ method: NotificationMethod)
        throws(DeliveryError) -> Void

    /// How often the outbox is looked at when nothing wakes the relay.
    public static let pollInterval: TimeInterval = 5
    /// At most this many sends at once.
    public static let maximumConcurrentSends = 4

    private let state: StateDatabase
    private let logger: Logger
    private let now: @Sendable () -> Date
    private let deliverOverride: Deliver?
    private let lock = NSLock()
    private var setup: Setup
    private var inFlight: Set<String> = []
    private var stopping = false
    private var worker: Thread?
    private let finished = NSCondition()

    public init(
        state: StateDatabase, setup: Setup, logger: Logger, now: @escaping @Sendable () -> Date = Date.init,
        deliver: Deliver? = nil
    ) {
        self.state = state
        self.setup = setup
        self.logger = logger
        self.now = now
        self.deliverOverride = deliver
    }

    /// Replaces the contacts, channels and timings (SIGHUP); pending notifications keep their ids.
    public func update(_ setup: Setup) {
        lock.withLock { self.setup = setup }
        state.eventsRecorded.signal()
    }

    /// Starts the relay's thread. Notifications waiting for a retry are tried again at once.
    public func start() {
        do {
            let resumed = try state.resumeRetries(now: now())
            if resumed > 0 { logger.notice("Resuming undelivered notifications", metadata: ["count": "\(resumed)"]) }
        } catch {
            logger.error("Cannot resume undelivered notifications", metadata: ["error": "\(error)"])
        }
        let thread = Thread { [self] in loop() }
        thread.name = "lifeboat-relay"
        lock.withLock { worker = thread }
        thread.start()
    }

    /// Stops taking new work and waits up to `seconds` for sends under way. A send cut off by the
    /// process ending is sent again at the next start, under the same id.
    public func stop(waitingUpTo seconds: TimeInterval) {
        lock.withLock { stopping = true }
        state.eventsRecorded.signal()
        let deadline = Date().addingTimeInterval(seconds)
        finished.withLock {
            while lock.withLock({ !inFlight.isEmpty || worker != nil }) {
                if !finished.wait(until: deadline) { break }
            }
        }
    }


    private func loop() {
        // One signal wakes the relay: events recorded in this process, a send ending, a reload, a stop.
        let signal = state.eventsRecorded
        while !lock.withLock({ stopping }) {
            let seen = signal.current
            let next = pass(now: now(), synchronously: false)
            signal.wait(after: seen, until: min(next ?? .distantFuture, Date().addingTimeInterval(Self.pollInterval)))
        }
        lock.withLock { worker = nil }
        finished.withLock { finished.broadcast() }
    }

    /// One pass over the outbox at `now`; returns when the next pending notification is due.
    /// `synchronously` sends on the calling thread (tests); otherwise each send gets a thread.
    @discardableResult
    public func pass(now: Date, synchronously: Bool = true) -> Date? {
        let setup = lock.withLock { self.setup }
        do {
            try state.routeEvents(contacts: setup.contacts, policy: setup.policy, now: now)
            // The sends under way, taken before the query: one that ends meanwhile is no longer pending.
            let sending = lock.withLock { inFlight }
            let due = try state.dueNotifications(now: now).filter { !sending.contains($0.id) }
            // Per contact and method: one send, folding several due notifications into one summary.
            var capped = false
            var byContact: [String: [OutboxNotification]] = [:]
            for notification in due { byContact[notification.contact, default: []].append(notification) }
            for (name, notifications) in byContact.sorted(by: { $0.key < $1.key }) {
                guard let contact = setup.contacts.first(where: { $0.name == name }) else {
                    for notification in notifications {
                        try state.markFailed(
                            notification.id, error: "contact \(name) is no longer in the configuration", now: now,
                            event: nil)
                    }
                    continue
                }
                let byMethod = Dictionary(grouping: notifications, by: \.methodIndex)
                for (methodIndex, group) in byMethod.sorted(by: { $0.key < $1.key }) {
                    if !synchronously && lock.withLock({ inFlight.count }) >= Self.maximumConcurrentSends {
                        capped = true  // the rest waits for a send to end (which wakes the relay)
                        break
                    }
                    var notification = group[0]
                    if group.count > 1 {
                        notification = try state.mergeNotifications(
                            group.map(\.id), contact: name, methodIndex: methodIndex, now: now)
                        logger.info(
                            "Notifications folded into one summary",
                            metadata: ["contact": "\(name)", "count": "\(group.count)", "summary": "\(notification.id)"])
                    }
                    try handle(notification, contact: contact, setup: setup, now: now, synchronously: synchronously)
                }
            }
            if capped { return now.addingTimeInterval(Self.pollInterval) }
            return try state.nextNotificationDue(excluding: lock.withLock { inFlight })
        } catch {
            logger.error("The notification relay could not use the state database", metadata: ["error": "\(error)"])
            return now.addingTimeInterval(Self.pollInterval)
        }
    }

    private func handle(
        _ notification: OutboxNotification, contact: Contact, setup: Setup, now: Date, synchronously: Bool
    ) throws {
        let policy = setup.policy
        if notification.events.isEmpty {
            try state.markFailed(notification.id, error: "its events are no longer in the log", now: now, event: nil)
            return
        }
        guard notification.methodIndex < contact.methods.count else {
            try state.markFailed(
                notification.id, error: "contact \(contact.name) has no method left", now: now, event: nil)
            return
        }
        let method = contact.methods[notification.methodIndex]
        if now.timeIntervalSince(notification.createdAt) >= policy.maxDeliveryAge {
            let error =
                "not delivered within max_delivery_age (\(DurationText.render(Int64(policy.maxDeliveryAge))))"
                + (notification.lastError.map { "; last error: \($0)" } ?? "")
            try state.markFailed(
                notification.id, error: error, now: now,
                event: failureEvent(notification, contact: contact, method: method, error: error, next: nil, now: now))
            logger.error("Notification given up", metadata: ["id": "\(notification.id)", "error": "\(error)"])
            return
        }
        // The rate limit holds back new notifications, not retries of one already begun.
        if notification.firstAttemptAt == nil {
            let window = try state.deliveries(contact: contact.name, since: now.addingTimeInterval(-policy.ratePeriod))
            if window.count >= policy.rateLimit, let oldest = window.first {
                let until = oldest.addingTimeInterval(policy.ratePeriod)
                try state.deferNotification(notification.id, until: until)
                logger.notice(
                    "Rate limit reached; notification deferred",
                    metadata: ["contact": "\(contact.name)", "until": "\(Timestamp.iso8601(until))"])
                return
            }
        }
        try state.beginDelivery(notification.id, method: method.rawValue, now: now)
        lock.withLock { _ = inFlight.insert(notification.id) }
        let send: @Sendable () -> Void = { [self] in
            let result = Result { () throws(DeliveryError) in
                try deliver(notification.id, notification.events, contact, method, setup.channels)
            }
            finish(
                notification, contact: contact, method: method, policy: policy, result: result,
                at: synchronously ? now : self.now())
        }
        if synchronously {
            send()
        } else {
            let thread = Thread(block: send)
            thread.name = "lifeboat-send"
            thread.start()
        }
    }

    private func deliver(
        _ id: String, _ events: [Event], _ contact: Contact, _ method: NotificationMethod,
        _ channels: NotificationChannels
    ) throws(DeliveryError) {
        if let deliverOverride {
            try deliverOverride(id, events, contact, method)
        } else {
            try channels.deliver(id: id, events: events, to: contact, by: method)
        }
    }

    private func finish(
        _ notification: OutboxNotification, contact: Contact, method: NotificationMethod, policy: RelayPolicy,
        result: Result<Void, DeliveryError>, at: Date
    ) {
        do {
            switch result {
            case .success:
                try state.markDelivered(notification.id, now: at)
                logger.info(
                    "Notification delivered",
                    metadata: [
                        "id": "\(notification.id)", "contact": "\(contact.name)", "method": "\(method.rawValue)",
                        "events": "\(notification.events.count)",
                    ])
            case .failure(let error):
                let attempts = notification.attempts + 1
                let nextIndex = notification.methodIndex + 1
                let hasNext = nextIndex < contact.methods.count
                if hasNext && (!error.isRetryable || attempts >= policy.attemptsBeforeFallback) {
                    let next = contact.methods[nextIndex]
                    try state.markFallback(
                        notification.id, to: nextIndex, error: error.message, now: at,
                        event: failureEvent(
                            notification, contact: contact, method: method, error: error.message, next: next, now: at))
                    logger.warning(
                        "Notification method failed; trying the next one",
                        metadata: [
                            "id": "\(notification.id)", "method": "\(method.rawValue)", "next": "\(next.rawValue)",
                            "error": "\(error.message)",
                        ])
                } else if error.isRetryable {
                    // The server's Retry-After when it asks for longer (up to the largest backoff), never
                    // later than the moment it is given up, so that happens on time.
                    let wait = max(
                        policy.backoff(afterAttempt: attempts), min(error.retryAfter ?? 0, policy.maximumBackoff))
                    let retryAt = min(
                        at.addingTimeInterval(wait), notification.createdAt.addingTimeInterval(policy.maxDeliveryAge))
                    try state.markRetry(notification.id, error: error.message, retryAt: retryAt)
                    logger.warning(
                        "Notification not delivered; will retry",
                        metadata: [
                            "id": "\(notification.id)", "method": "\(method.rawValue)",
                            "retry": "\(Timestamp.iso8601(retryAt))", "error": "\(error.message)",
                        ])
                } else {
                    try state.markFailed(
                        notification.id, error: error.message, now: at,
                        event: failureEvent(
                            notification, contact: contact, method: method, error: error.message, next: nil, now: at))
                    logger.error(
                        "Notification failed for good",
                        metadata: ["id": "\(notification.id)", "error": "\(error.message)"])
                }
            }
        } catch {
            logger.error(
                "The outcome of a notification was not recorded; it will be sent again",
                metadata: ["id": "\(notification.id)", "error": "\(error)"])
        }
        lock.withLock { _ = inFlight.remove(notification.id) }
        state.eventsRecorded.signal()
        finished.withLock { finished.broadcast() }
    }

    /// The `notifier.failed` event for a failed method: a warning when another method follows, an
    /// alert when the notification is given up. None for a notification that only carried
    /// `notifier.failed` events, so a broken channel cannot feed itself.
    private func failureEvent(
        _ notification: OutboxNotification, contact: Contact, method: NotificationMethod, error: String,
        next: NotificationMethod?, now: Date
    ) -> Event? {
        guard notification.events.contains(where: { $0.type != AgentEvent.notifierFailed }) else { return nil }
        var attributes = [
            "contact": contact.name, "method": method.rawValue, "notification": notification.id, "error": error,
            "events": "\(notification.events.count)",
        ]
        let message: String
        if let next {
            attributes["next_method"] = next.rawValue
            message = "\(contact.describe(method)) failed: \(error); trying \(contact.describe(next))"
        } else {
            message = "\(contact.describe(method)) failed; notification \(notification.id) given up: \(error)"
        }
        return Event(
            type: AgentEvent.notifierFailed, level: next == nil ? .alert : .warning, time: now, source: "agent",
            attributes: attributes, message: message)
    }
}
