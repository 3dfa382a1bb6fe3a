import Foundation
import LifeboatCore
import LifeboatCrypto
import LifeboatFirmware
import LifeboatSchedule

/// `firmware:` — the signed update feed and what to do about a new release.
public struct FirmwareConfiguration: Sendable {
    public enum Mode: String, Sendable {
        /// A `firmware.available` event once per new version.
        case notify
        /// Download, then in the maintenance window back up, install, health-check, roll back on failure.
        case install
    }

    /// `feed_url`: the feed (JSON); its signature is at `feed_url + ".minisig"`.
    public var feedURL: String
    /// `public_key` (the `RW…` line of `minisign.pub`) or `public_key_file`; with the product,
    /// `channel`, `max_image_size`, `max_feed_age` and `allow_insecure`.
    public var policy: FeedPolicy
    /// `ca_file`: CAs to trust for the feed's server instead of the system's.
    public var caFile: String?
    public var mode: Mode
    /// `check_schedule`: when the daemon checks (cron), read in `timezone`; nil: only by hand.
    public var checkSchedule: CronSchedule?
    /// The install settings; set exactly when `mode: install`.
    public var install: FirmwareInstallConfiguration?
}

/// The `firmware` keys of `mode: install`.
public struct FirmwareInstallConfiguration: Sendable {
    /// `window`: `{days, start, end, timezone}`.
    public var window: MaintenanceWindow
    /// `pre_upgrade_job`: the job backed up first; the install waits until a store committed it.
    public var preUpgradeJob: String
    /// `install_command`: an argument vector; `{image}` is replaced by the verified image's path.
    public var installCommand: [String]
    /// `health_command`: exit 0 = healthy; tried every `health_interval` until `health_timeout`.
    public var healthCommand: [String]
    /// `rollback_command`: puts the previous firmware back; must be safe to run twice.
    public var rollbackCommand: [String]
    public var healthTimeout: Double
    public var healthInterval: Double
    /// `command_timeout`: the longest install or rollback command (default 30 min; health checks 2 min).
    public var commandTimeout: Double
    /// `restore_components`: the pre-upgrade snapshot's components restored after a rollback
    /// (default: every source of the pre-upgrade job).
    public var restoreComponents: [String]
}

extension ConfigurationLoader {
    static let firmwareKeys = [
        "feed_url", "public_key", "public_key_file", "product", "channel", "ca_file", "allow_insecure", "max_feed_age",
        "max_image_size", "mode", "check_schedule", "timezone", "window", "pre_upgrade_job", "install_command",
        "health_command", "health_timeout", "health_interval", "rollback_command", "command_timeout",
        "restore_components",
    ]

    func parseFirmware(_ node: ConfigNode, pbx: PBXConfiguration, jobs: [JobConfiguration]) throws
        -> FirmwareConfiguration
    {
        let keys = try node.mapping(allowed: Self.firmwareKeys)
        guard let urlNode = keys["feed_url"] else { throw node.error("missing key 'feed_url'") }
        let feedURL = try urlNode.nonEmptyString()

        let keyText: String
        let keyNode: ConfigNode
        switch (keys["public_key"], keys["public_key_file"]) {
        case (let k?, nil):
            keyText = try k.nonEmptyString()
            keyNode = k
        case (nil, let f?):
            let path = try readableFile(f)
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw f.error("cannot read \(path)") }
            keyText = text
            keyNode = f
        case (_?, let f?):
            throw f.error("give public_key or public_key_file, not both")
        case (nil, nil):
            throw node.error("missing key 'public_key' (the RW… line of the publisher's minisign.pub) or 'public_key_file'")
        }
        let publicKey: MinisignPublicKey
        do {
            publicKey = try MinisignPublicKey(keyText)
        } catch {
            throw keyNode.error("not a minisign public key: \(error)")
        }
        guard let product = try keys["product"]?.nonEmptyString() ?? pbx.product else {
            throw node.error("missing key 'product' (the feed's product; default pbx.product, which is not set either)")
        }
        var maximumFeedAge: Int64?
        if let n = keys["max_feed_age"] {
            guard let seconds = DurationText.seconds(try n.string()), seconds > 0 else {
                throw n.error("expected a duration such as 7d")
            }
            maximumFeedAge = seconds
        }
        let policy = FeedPolicy(
            publicKey: publicKey, product: product, channel: try keys["channel"]?.nonEmptyString() ?? "stable",
            maximumImageSize: Int64(try keys["max_image_size"]?.byteSize(min: 1) ?? 4 << 30),
            maximumFeedAge: maximumFeedAge, allowInsecure: try keys["allow_insecure"]?.bool() ?? false)
        let caFile = try keys["ca_file"].map { try readableFile($0) }
        do {
            _ = try FeedFetcher(feedURL: feedURL, policy: policy, caFile: caFile)
        } catch let error as FirmwareError {
            throw urlNode.error(error.message)
        }

        var mode = FirmwareConfiguration.Mode.notify
        if let m = keys["mode"] {
            let text = try m.string()
            guard let parsed = FirmwareConfiguration.Mode(rawValue: text) else {
                throw m.error("expected notify or install, not '\(text)'")
            }
            mode = parsed
        }
        var install: FirmwareInstallConfiguration?
        if mode == .install {
            install = try parseFirmwareInstall(node, keys: keys, jobs: jobs)
        } else if let key = Self.firmwareInstallKeys.first(where: { keys[$0] != nil }) {
            throw keys[key]!.error("\(key) belongs to mode: install")
        }

        var checkSchedule: CronSchedule?
        if let s = keys["check_schedule"] {
            let text = try s.nonEmptyString()
            let zone = try keys["timezone"]?.nonEmptyString() ?? TimeZone.current.identifier
            do {
                checkSchedule = try CronSchedule(parsing: text, timeZoneIdentifier: zone)
            } catch {
                throw (keys["timezone"].flatMap { "\(error)".contains("zone") ? $0 : nil } ?? s).error("\(error)")
            }
        } else if let tz = keys["timezone"] {
            throw tz.error("timezone belongs to check_schedule, which is not set")
        }
        return FirmwareConfiguration(
            feedURL: feedURL, policy: policy, caFile: caFile, mode: mode, checkSchedule: checkSchedule, install: install)
    }

    static let firmwareInstallKeys = [
        "window", "pre_upgrade_job", "install_command", "health_command", "health_timeout", "health_interval",
        "rollback_command", "command_timeout", "restore_components",
    ]

    private func parseFirmwareInstall(_ node: ConfigNode, keys: [String: ConfigNode], jobs: [JobConfiguration]) throws
        -> FirmwareInstallConfiguration
    {
        func required(_ key: String) throws -> ConfigNode {
            guard let value = keys[key] else { throw node.error("mode: install needs '\(key)'") }
            return value
        }
        func command(_ key: String) throws -> [String] {
            let n = try required(key)
            let vector = try n.stringList()
            guard let program = vector.first, program.hasPrefix("/") else {
                throw n.error("expected an argument vector starting with an absolute path, e.g. [/usr/local/sbin/pbx-upgrade, \"{image}\"]")
            }
            return vector
        }
        func seconds(_ key: String, _ standard: Double) throws -> Double {
            guard let n = keys[key] else { return standard }
            guard let value = DurationText.seconds(try n.string()), value > 0, value <= 86_400 else {
                throw n.error("expected a duration such as 10m (at most 24h)")
            }
            return Double(value)
        }
        let windowNode = try required("window")
        let w = try windowNode.mapping(allowed: ["days", "start", "end", "timezone"])
        guard let days = w["days"], let start = w["start"], let end = w["end"] else {
            throw windowNode.error("a window needs days, start and end (and a timezone), e.g. {days: [sat, sun], start: \"02:00\", end: \"05:00\", timezone: Europe/Berlin}")
        }
        let window: MaintenanceWindow
        do {
            window = try MaintenanceWindow(
                days: try days.stringList(), start: try start.string(), end: try end.string(),
                timezone: try w["timezone"]?.nonEmptyString() ?? TimeZone.current.identifier)
        } catch let error as FirmwareError {
            let culprit = ["days", "start", "end", "timezone"].first { error.message.contains("window.\($0)") }
            throw (culprit.flatMap { w[$0] } ?? windowNode).error(error.message)
        }
        let jobNode = try required("pre_upgrade_job")
        let jobName = try jobNode.nonEmptyString()
        guard let job = jobs.first(where: { $0.name == jobName }) else {
            throw jobNode.error("no job named '\(jobName)' (defined: \(jobs.map(\.name).joined(separator: ", ")))")
        }
        let installCommand = try command("install_command")
        if !installCommand.contains(where: { $0.contains("{image}") }) {
            throw keys["install_command"]!.error("install_command must pass the image: put {image} where its path goes")
        }
        var restoreComponents = job.sources
        if let r = keys["restore_components"] {
            restoreComponents = try r.stringList()
            for name in restoreComponents where !job.sources.contains(name) {
                throw r.error("'\(name)' is not a source of \(jobName) (its sources: \(job.sources.joined(separator: ", ")))")
            }
        }
        return FirmwareInstallConfiguration(
            window: window, preUpgradeJob: jobName, installCommand: installCommand,
            healthCommand: try command("health_command"), rollbackCommand: try command("rollback_command"),
            healthTimeout: try seconds("health_timeout", 600), healthInterval: try seconds("health_interval", 15),
            commandTimeout: try seconds("command_timeout", 1800), restoreComponents: restoreComponents)
    }
}
