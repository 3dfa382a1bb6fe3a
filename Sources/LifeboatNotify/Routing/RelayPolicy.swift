import Foundation
import LifeboatCore

/// When the relay sends, groups, retries, falls back and gives up (`notifications.*` timings).
///
/// - Events for one contact with the same group key (``groupKey(of:)``) that come within
///   ``groupWait`` of the first become one notification (a digest when there are several).
/// - A group is not sent to a contact again before ``repeatInterval`` after its last delivery: what
///   comes meanwhile waits and goes out together.
/// - At most ``rateLimit`` notifications per contact per ``ratePeriod``; more wait for the window.
/// - A failed send is retried after ``backoff(afterAttempt:)``; after ``attemptsBeforeFallback``
///   failed attempts (or at once, for a permanent failure) the contact's next method is tried.
/// - A notification not delivered ``maxDeliveryAge`` after its first event gives up.
/// - At most ``maximumEvents`` events in one notification.
public struct RelayPolicy: Sendable, Equatable {
    /// `group_wait` (default 30 s).
    public var groupWait: TimeInterval
    /// `repeat_interval` (default 4 h).
    public var repeatInterval: TimeInterval
    /// `rate_limit` `N/PERIOD` (default 20/1h).
    public var rateLimit: Int
    public var ratePeriod: TimeInterval
    /// `max_delivery_age` (default 24 h).
    public var maxDeliveryAge: TimeInterval
    /// Failed attempts with one method before the next method is tried (transient failures).
    public var attemptsBeforeFallback: Int
    /// The first retry delay; doubled per attempt up to ``maximumBackoff``.
    public var firstBackoff: TimeInterval
    public var maximumBackoff: TimeInterval
    public var maximumEvents: Int

    public init(
        groupWait: TimeInterval = 30, repeatInterval: TimeInterval = 4 * 3600, rateLimit: Int = 20,
        ratePeriod: TimeInterval = 3600, maxDeliveryAge: TimeInterval = 86_400, attemptsBeforeFallback: Int = 3,
        firstBackoff: TimeInterval = 30, maximumBackoff: TimeInterval = 3600, maximumEvents: Int = 1000
    ) {
        self.groupWait = groupWait
        self.repeatInterval = repeatInterval
        self.rateLimit = rateLimit
        self.ratePeriod = ratePeriod
        self.maxDeliveryAge = maxDeliveryAge
        self.attemptsBeforeFallback = attemptsBeforeFallback
        self.firstBackoff = firstBackoff
        self.maximumBackoff = maximumBackoff
        self.maximumEvents = maximumEvents
    }

    /// The wait before the next attempt after `attempt` failed ones (1, 2, …): 30 s, 60 s, 120 s, …
    /// up to an hour.
    public func backoff(afterAttempt attempt: Int) -> TimeInterval {
        let exponent = Double(max(0, min(attempt - 1, 30)))
        return min(maximumBackoff, firstBackoff * pow(2, exponent))
    }

    /// What groups events: the type, and the job for events about one job (`backup.failed|nightly`),
    /// so that a burst of one kind becomes one digest while two jobs failing stay two notifications.
    public static func groupKey(of event: Event) -> String {
        if let job = event.attributes["job"], !event.type.hasPrefix("pbx.") { return event.type + "|" + job }
        return event.type
    }
}
