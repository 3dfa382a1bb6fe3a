import Foundation
import LifeboatCore
import LifeboatCrypto
import LifeboatCurl
import LifeboatFirmware
import Logging
import Testing

/// `ImageDownloader` against a real HTTPS server (firmware_server.py) that cuts connections, ignores
/// ranges, sends too much or too slowly on demand.
@Suite struct ImageDownloaderTests {
    static let imageSize = 3 << 20

    let server: FirmwareTestServer
    let directory: String
    let image: [UInt8]
    let logger = Logger(label: "lifeboat.firmware.tests")

    init() throws {
        server = try FirmwareTestServer()
        directory = try FirmwareTestSupport.temporaryDirectory() + "/state"
        image = SecureRandom.bytes(Self.imageSize)
        try server.put("pbx.img", image)
    }

    func cleanUp() {
        try? FileManager.default.removeItem(atPath: (directory as NSString).deletingLastPathComponent)
    }

    func release(sha256: String? = nil, size: Int64? = nil, url: String? = nil) throws -> FirmwareRelease {
        FirmwareRelease(
            version: try FirmwareVersion("37.12.0.44"), url: url ?? server.url("pbx.img"),
            size: size ?? Int64(image.count), sha256: sha256 ?? Hex.encode(SHA256Hasher.hash(image)))
    }

    func downloader(stallTimeout: Double = 10, allowInsecure: Bool = false) -> ImageDownloader {
        ImageDownloader(
            directory: directory, caFile: server.caFile, allowInsecure: allowInsecure, connectTimeout: 5,
            stallTimeout: stallTimeout)
    }

    func contents(_ path: String) -> [UInt8]? {
        FileManager.default.contents(atPath: path).map { Array($0) }
    }

    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    /// Puts the first `count` bytes of `bytes` where the partial download of `release` goes.
    func writePartial(_ bytes: some Collection<UInt8>, for release: FirmwareRelease) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: downloader().partialPath(for: release)))
    }

    func refusal(_ release: FirmwareRelease, downloader: ImageDownloader? = nil) throws -> FirmwareError {
        try #require(throws: FirmwareError.self) {
            try (downloader ?? self.downloader()).download(release, logger: logger)
        }
    }

    @Test func downloadsVerifiesAndRenames() throws {
        defer { cleanUp() }
        let release = try release()
        let result = try downloader().download(release, logger: logger)
        #expect(result.path == downloader().path(for: release))
        #expect(result.path.hasSuffix("/firmware-37.12.0.44-\(release.sha256.prefix(16)).img"))
        #expect(contents(result.path) == image)
        #expect(!result.reused)
        #expect(result.resumedFrom == 0)
        #expect(result.bytesReceived == Int64(image.count))
        #expect(result.sha256 == release.sha256)
        #expect(!exists(downloader().partialPath(for: release)), "the partial file became the final one")
        let log = try server.log()
        #expect(log.count == 1)
        #expect(log.first?.range == nil)
    }

    @Test func aVerifiedImageIsReusedWithoutARequest() throws {
        defer { cleanUp() }
        let release = try release()
        _ = try downloader().download(release, logger: logger)
        let again = try downloader().download(release, logger: logger)
        #expect(again.reused)
        #expect(again.bytesReceived == 0)
        #expect(try server.log().count == 1, "nothing fetched the second time")
    }

    @Test func anImageOnDiskThatDoesNotVerifyIsDownloadedAgain() throws {
        defer { cleanUp() }
        let release = try release()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var corrupt = image
        corrupt[1000] ^= 0xFF
        try Data(corrupt).write(to: URL(fileURLWithPath: downloader().path(for: release)))
        let result = try downloader().download(release, logger: logger)
        #expect(!result.reused)
        #expect(contents(result.path) == image)
    }

    @Test func anInterruptedDownloadResumesFromThePartialFile() throws {
        defer { cleanUp() }
        let release = try release()
        try server.addFaults([["path": "/pbx.img", "drop_after": 1_000_000]])
        let broken = try refusal(release)
        #expect(broken.code == .unavailable)
        #expect(broken.code.isRetryable)
        #expect(broken.message.contains("next attempt resumes"), "\(broken.message)")
        let partial = downloader().partialPath(for: release)
        let kept = try #require(contents(partial))
        #expect(kept.count > 0 && kept.count <= 1_000_000)
        #expect(kept[...] == image[0..<kept.count], "the partial is a prefix of the image")
        #expect(!exists(downloader().path(for: release)))

        let result = try downloader().download(release, logger: logger)
        #expect(result.resumedFrom == Int64(kept.count))
        #expect(result.bytesReceived == Int64(image.count - kept.count))
        #expect(contents(result.path) == image)
        #expect(!exists(partial))

        let log = try server.log()
        try #require(log.count == 2)
        #expect(log[0].range == nil)
        #expect(log[0].dropped)
        #expect(log[1].range == "bytes=\(kept.count)-")
        #expect(log[1].status == 206)
        let total = log.map(\.bodyBytes).reduce(0, +)
        #expect(total >= Int64(image.count) && total <= Int64(image.count) + 64 << 10, "not twice: \(total)")
    }

    @Test func aDownloadBrokenTwiceResumesTwice() throws {
        defer { cleanUp() }
        let release = try release()
        try server.addFaults([["path": "/pbx.img", "drop_after": 800_000, "times": 2]])
        _ = try refusal(release)
        let first = try #require(contents(downloader().partialPath(for: release))).count
        _ = try refusal(release)
        let second = try #require(contents(downloader().partialPath(for: release))).count
        #expect(second > first, "the resumed request's bytes joined the partial before it broke again")
        let result = try downloader().download(release, logger: logger)
        #expect(result.resumedFrom == Int64(second))
        #expect(contents(result.path) == image)
        let log = try server.log()
        #expect(log.map(\.range) == [nil, "bytes=\(first)-", "bytes=\(second)-"])
        #expect(log.map(\.bodyBytes).reduce(0, +) <= Int64(image.count) + 64 << 10)
    }

    @Test func aServerIgnoringTheRangeMeansStartingOver() throws {
        defer { cleanUp() }
        let release = try release()
        // Garbage in the partial: appending to it would fail the hash, starting over does not.
        try writePartial(SecureRandom.bytes(500_000), for: release)
        try server.addFaults([["path": "/pbx.img", "ignore_range": true]])
        let result = try downloader().download(release, logger: logger)
        #expect(contents(result.path) == image)
        #expect(result.resumedFrom == 500_000)
        #expect(result.bytesReceived == Int64(image.count))
        let log = try server.log()
        #expect(log.count == 1)
        #expect(log.first?.range == "bytes=500000-")
        #expect(log.first?.status == 200)
    }

    @Test func aRangeNotSatisfiableMeansStartingOver() throws {
        defer { cleanUp() }
        let release = try release()
        try writePartial(SecureRandom.bytes(500_000), for: release)
        try server.addFaults([["path": "/pbx.img", "status": 416]])
        let result = try downloader().download(release, logger: logger)
        #expect(contents(result.path) == image)
        let log = try server.log()
        #expect(log.map(\.range) == ["bytes=500000-", nil])
        #expect(log.map(\.status) == [416, 200])
    }

    @Test func aPartialLargerThanTheImageIsDiscarded() throws {
        defer { cleanUp() }
        let release = try release()
        try writePartial(image + [1, 2, 3], for: release)
        let result = try downloader().download(release, logger: logger)
        #expect(contents(result.path) == image)
        #expect(try server.log().map(\.range) == [nil], "fetched whole, without a Range")
    }

    @Test func aCompletePartialIsVerifiedWithoutARequest() throws {
        defer { cleanUp() }
        let release = try release()
        try writePartial(image, for: release)
        let result = try downloader().download(release, logger: logger)
        #expect(contents(result.path) == image)
        #expect(result.bytesReceived == 0)
        #expect(try server.log().isEmpty)
    }

    @Test func aWrongHashIsRefusedAndTheDownloadDeleted() throws {
        defer { cleanUp() }
        let declared = Hex.encode(SHA256Hasher.hash(Array("another image".utf8)))
        let release = try release(sha256: declared.uppercased())
        let error = try refusal(release)
        #expect(error.code == .hashMismatch)
        #expect(error.message.contains(declared), "names the expected hash: \(error.message)")
        #expect(error.message.contains(Hex.encode(SHA256Hasher.hash(image))), "names the actual hash: \(error.message)")
        #expect(!exists(downloader().partialPath(for: release)), "the partial is deleted")
        #expect(!exists(downloader().path(for: release)), "no final file")
    }

    @Test func aResumedDownloadWithAWrongPrefixFailsTheHash() throws {
        defer { cleanUp() }
        let release = try release()
        var prefix = Array(image[0..<500_000])
        prefix[10] ^= 0x01
        try writePartial(prefix, for: release)
        let error = try refusal(release)
        #expect(error.code == .hashMismatch, "the hash covers the resumed part too")
        #expect(!exists(downloader().partialPath(for: release)))
        #expect(!exists(downloader().path(for: release)))
        #expect(try server.log().first?.status == 206)
    }

    @Test func aServerSendingMoreThanTheSizeIsRefused() throws {
        defer { cleanUp() }
        let release = try release()
        try server.addFaults([["path": "/pbx.img", "extra": 200_000]])
        let error = try refusal(release)
        #expect(error.code == .sizeMismatch)
        #expect(error.message.contains("\(image.count)"), "names the declared size: \(error.message)")
        #expect(!exists(downloader().partialPath(for: release)))
        #expect(!exists(downloader().path(for: release)))
    }

    @Test func aResumedAnswerLongerThanTheRestIsRefused() throws {
        defer { cleanUp() }
        let release = try release()
        try writePartial(image[0..<500_000], for: release)
        try server.addFaults([["path": "/pbx.img", "extra": 1000]])
        let error = try refusal(release)
        #expect(error.code == .sizeMismatch)
        #expect(!exists(downloader().partialPath(for: release)))
        #expect(!exists(downloader().partialPath(for: release) + ".next"))
        #expect(!exists(downloader().path(for: release)))
    }

    @Test func anImageSmallerThanDeclaredIsRefused() throws {
        defer { cleanUp() }
        let release = try release(size: Int64(image.count) + 10)
        let error = try refusal(release)
        #expect(error.code == .sizeMismatch)
        #expect(error.message.contains("\(image.count + 10)"), "\(error.message)")
        #expect(!exists(downloader().partialPath(for: release)))
    }

    @Test func aMissingImageIsNotFound() throws {
        defer { cleanUp() }
        let release = try release(url: server.url("gone.img"))
        let error = try refusal(release)
        #expect(error.code == .notFound)
        #expect(error.message.contains(server.url("gone.img")), "\(error.message)")
        #expect(!exists(downloader().partialPath(for: release)))
    }

    @Test func aStalledDownloadTimesOutAndResumesLater() throws {
        defer { cleanUp() }
        let release = try release()
        try server.addFaults([["path": "/pbx.img", "stall_after": 600_000, "stall": 60]])
        let started = Date()
        let error = try refusal(release, downloader: downloader(stallTimeout: 2))
        #expect(error.code == .unavailable)
        #expect(Date().timeIntervalSince(started) < 30)
        let kept = try #require(contents(downloader().partialPath(for: release))).count
        #expect(kept > 0)
        let result = try downloader().download(release, logger: logger)
        #expect(result.resumedFrom == Int64(kept))
        #expect(contents(result.path) == image)
    }

    @Test func cancellationStopsTheDownload() throws {
        defer { cleanUp() }
        let release = try release()
        try server.addFaults([["path": "/pbx.img", "stall_after": 600_000, "stall": 60]])
        let cancellation = CurlCancellation()
        let canceller = Thread {
            Thread.sleep(forTimeInterval: 1)
            cancellation.cancel()
        }
        canceller.start()
        let started = Date()
        let error = try #require(throws: FirmwareError.self) {
            try downloader(stallTimeout: 30).download(release, logger: logger, cancellation: cancellation)
        }
        #expect(error.code == .cancelled)
        #expect(Date().timeIntervalSince(started) < 30)
        #expect(!exists(downloader().path(for: release)))

        let done = try #require(throws: FirmwareError.self) {
            try downloader().download(release, logger: logger, cancellation: cancellation)
        }
        #expect(done.code == .cancelled, "an already cancelled download does not start")
    }

    @Test func plainHTTPImagesNeedAllowInsecure() throws {
        defer { cleanUp() }
        let plain = try FirmwareTestServer(tls: false)
        try plain.put("pbx.img", image)
        let release = try release(url: plain.url("pbx.img"))
        let error = try refusal(release)
        #expect(error.code == .invalidURL)
        #expect(error.message.contains("allow_insecure"), "\(error.message)")
        #expect(try plain.log().isEmpty)

        let result = try downloader(allowInsecure: true).download(release, logger: logger)
        #expect(contents(result.path) == image)
    }
}
