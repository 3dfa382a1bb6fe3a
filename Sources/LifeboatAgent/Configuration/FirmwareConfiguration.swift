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
        /// Download, back up and install in the maintenance window (not in this version: refused at load).
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
}

extension ConfigurationLoader {
    static let firmwareKeys = [
        "feed_url", "public_key", "public_key_file", "product", "channel", "ca_file", "allow_insecure", "max_feed_age",
        "max_image_size", "mode", "check_schedule", "timezone", "window", "pre_upgrade_job", "install_command",
        "health_command", "health_timeout", "rollback_command",
    ]

    func parseFirmware(_ node: ConfigNode, pbx: PBXConfiguration) throws -> FirmwareConfiguration {
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
        let installKeys = [
            "window", "pre_upgrade_job", "install_command", "health_command", "health_timeout", "rollback_command",
        ]
        if mode == .install {
            throw keys["mode"]!.error(
                "mode: install is not supported by this version yet (see the README); use mode: notify")
        }
        if let key = installKeys.first(where: { keys[$0] != nil }) {
            throw keys[key]!.error("\(key) belongs to mode: install, which this version does not support yet")
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
            feedURL: feedURL, policy: policy, caFile: caFile, mode: mode, checkSchedule: checkSchedule)
    }
}
