import Foundation
import LifeboatCore
import Logging
import Testing

@testable import LifeboatFirmware

/// `FirmwareInstaller` against a simulated PBX whose process can die at any operation: every path
/// of the install (success, failed health, failed install command, failed backup, failed undo), the
/// window, refusals, and a crash before and after every journal save, hook and event, each followed
/// by a new installer's `resume()`.
@Suite struct FirmwareInstallerTests {
    static let from = try! FirmwareVersion("37.11.0.20")
    static let target = try! FirmwareVersion("37.12.0.44")
    static let sha256 = String(repeating: "ab", count: 32)
    /// Saturday 2026-11-28 02:30 UTC: inside the window.
    static let insideWindow = Timestamp.parseISO8601("2026-11-28T02:30:00Z")!
    /// Wednesday 2026-11-25 12:00 UTC: outside it.
    static let outsideWindow = Timestamp.parseISO8601("2026-11-25T12:00:00Z")!
    static let saturdayOpening = Timestamp.parseISO8601("2026-11-28T02:00:00Z")!
    static let sundayOpening = Timestamp.parseISO8601("2026-11-29T02:00:00Z")!
    static let window = try! MaintenanceWindow(days: ["sat", "sun"], start: "02:00", end: "05:00", timezone: "UTC")

    static func release(_ version: FirmwareVersion = target, sha256: String = sha256) -> FirmwareRelease {
        FirmwareRelease(
            version: version, url: "https://updates.example.com/pbx-\(version).img", size: 4096, sha256: sha256)
    }

    static func image(_ version: FirmwareVersion = target, sha256: String = sha256) -> DownloadedImage {
        DownloadedImage(
            path: "/var/lib/lifeboat/firmware/firmware-\(version).img", size: 4096, sha256: sha256, reused: false,
            resumedFrom: 0, bytesReceived: 4096)
    }

    // MARK: Paths without a crash

    @Test func installsInsideTheWindowAfterABackup() throws {
        let pbx = SimulatedPBX()
        let outcome = try pbx.installer().run(release: Self.release(), image: Self.image(), window: Self.window)

        let record = try #require(try pbx.load())
        #expect(outcome == .installed(record))
        #expect(record.step == .installed)
        #expect(pbx.calls == ["backup", "install \(Self.image().path)", "health"])
        #expect(pbx.runningVersion == Self.target)
        #expect(record.fromVersion == Self.from)
        #expect(record.snapshot == PreUpgradeSnapshot(id: "snap-1", stores: ["local", "s3"]))
        #expect(record.backupAttempts == 1 && record.healthAttempts == 1 && record.rollbackAttempts == 0)
        #expect(record.windowClosesAt == Timestamp.parseISO8601("2026-11-28T05:00:00Z"))
        #expect(record.pendingEvents.isEmpty)
        #expect(record.finishedAt != nil)

        #expect(pbx.events.map(\.type) == [AgentEvent.firmwareInstallStarted, AgentEvent.firmwareInstalled])
        #expect(pbx.events.map(\.level) == [.information, .information])
        let installed = try #require(pbx.events.last)
        #expect(installed.source == "agent")
        #expect(
            installed.attributes == [
                "version": "37.12.0.44", "from_version": "37.11.0.20", "snapshot": "snap-1", "step": "checking_health",
            ])
        // The install started only after the backup had committed: the event says which snapshot.
        #expect(pbx.events.first?.attributes["snapshot"] == "snap-1")
    }

    @Test func unhealthyInstallRollsBackAndRestoresTheConfiguration() throws {
        let pbx = SimulatedPBX()
        pbx.healthyFromAttempt = nil
        let outcome = try pbx.installer().run(release: Self.release(), image: Self.image(), window: Self.window)

        let record = try #require(try pbx.load())
        #expect(outcome == .rolledBack(record))
        // Checks at 0, 10, … 60 s: the last one at the timeout.
        #expect(record.healthAttempts == 7)
        #expect(pbx.now.timeIntervalSince(Self.insideWindow) == 60)
        #expect(pbx.calls.suffix(2) == ["rollback", "restore snap-1"])
        #expect(pbx.calls.filter { $0 == "health" }.count == 7)
        #expect(pbx.runningVersion == Self.from)
        #expect(pbx.configuration == "restored from snap-1")

        #expect(
            pbx.events.map(\.type) == [
                AgentEvent.firmwareInstallStarted, AgentEvent.firmwareFailed, AgentEvent.firmwareRolledBack,
            ])
        let failed = pbx.events[1]
        #expect(failed.level == .alert)
        #expect(failed.attributes["step"] == "checking_health")
        #expect(failed.attributes["error"]?.contains("pbx-health: SIP stack not answering") == true)
        #expect(failed.attributes["error"]?.contains("within 60 s (7 checks)") == true)
        let rolledBack = pbx.events[2]
        #expect(rolledBack.level == .warning)
        #expect(rolledBack.attributes["snapshot"] == "snap-1")
        #expect(rolledBack.attributes["from_version"] == "37.11.0.20")
        #expect(rolledBack.message?.contains("rolled back to 37.11.0.20") == true)
    }

    @Test func failedInstallCommandRollsBackWithoutHealthChecks() throws {
        let pbx = SimulatedPBX()
        pbx.installFails = true
        let outcome = try pbx.installer().run(release: Self.release(), image: Self.image(), window: Self.window)

        let record = try #require(try pbx.load())
        #expect(outcome == .rolledBack(record))
        #expect(pbx.calls == ["backup", "install \(Self.image().path)", "rollback", "restore snap-1"])
        #expect(pbx.configuration == "restored from snap-1")
        let failed = try #require(pbx.events.first { $0.type == AgentEvent.firmwareFailed })
        #expect(failed.attributes["step"] == "installing")
        #expect(failed.attributes["error"] == "install_command failed: pbx-upgrade exited with status 3: no space left")
        #expect(pbx.events.last?.type == AgentEvent.firmwareRolledBack)
    }

    @Test func healthyOnTheOldVersionIsNotAnInstall() throws {
        let pbx = SimulatedPBX()
        pbx.installChangesVersion = false
        let outcome = try pbx.installer().run(release: Self.release(), image: Self.image(), window: Self.window)

        let record = try #require(try pbx.load())
        #expect(outcome == .rolledBack(record))
        #expect(record.failure?.contains("the PBX runs version 37.11.0.20, not 37.12.0.44") == true)
        #expect(pbx.calls.suffix(2) == ["rollback", "restore snap-1"])
    }

    @Test func healthyAtTheThirdAttemptIsInstalled() throws {
        let pbx = SimulatedPBX()
        pbx.healthyFromAttempt = 3
        let outcome = try pbx.installer().run(release: Self.release(), image: Self.image(), window: Self.window)

        let record = try #require(try pbx.load())
        #expect(outcome == .installed(record))
        #expect(record.healthAttempts == 3)
        #expect(pbx.now.timeIntervalSince(Self.insideWindow) == 20)
        #expect(!pbx.calls.contains("rollback"))
        #expect(pbx.events.map(\.type) == [AgentEvent.firmwareInstallStarted, AgentEvent.firmwareInstalled])
    }

    @Test func backupFailureInstallsNothing() throws {
        let pbx = SimulatedPBX()
        pbx.backupFails = true
        let outcome = try pbx.installer().run(release: Self.release(), image: Self.image(), window: Self.window)

        let record = try #require(try pbx.load())
        #expect(outcome == .abandoned(record))
        #expect(pbx.calls == ["backup"])
        #expect(pbx.runningVersion == Self.from)
        #expect(pbx.configuration == "original")
        #expect(record.snapshot == nil)
        #expect(pbx.events.map(\.type) == [AgentEvent.firmwareFailed])
        let failed = pbx.events[0]
        #expect(failed.level == .warning)
        #expect(failed.attributes["step"] == "backing_up")
        #expect(failed.attributes["error"] == "job nightly: no store committed (local: disk full; s3: HTTP 503)")
        #expect(failed.message?.contains("Nothing was changed on the PBX") == true)
    }

    @Test func aSnapshotOnNoStoreIsNotABackup() throws {
        let pbx = SimulatedPBX()
        pbx.backupStores = []
        let outcome = try pbx.installer().run(release: Self.release(), image: Self.image(), window: Self.window)

        #expect(outcome == .abandoned(try #require(try pbx.load())))
        #expect(pbx.calls == ["backup"])
    }

    @Test func outsideTheWindowOnlyThePlanIsSaved() throws {
        let pbx = SimulatedPBX(now: Self.outsideWindow)
        let outcome = try pbx.installer().run(release: Self.release(), image: Self.image(), window: Self.window)

        #expect(outcome == .waitingForWindow(until: Self.saturdayOpening))
        #expect(pbx.calls.isEmpty)
        #expect(pbx.events.isEmpty)
        let record = try #require(try pbx.load())
        #expect(record.step == .waitingForWindow)
        #expect(record.nextWindowOpensAt == Self.saturdayOpening)
        #expect(record.backupAttempts == 0)

        // A restart in the meantime does nothing either.
        #expect(try pbx.installer().resume() == .waitingForWindow(until: Self.saturdayOpening))
        #expect(pbx.calls.isEmpty)

        // When the window opens, the daemon calls again and the install goes ahead.
        pbx.now = Self.saturdayOpening.addingTimeInterval(60)
        let later = try pbx.installer().run(release: Self.release(), image: Self.image(), window: Self.window)
        #expect(later == .installed(try #require(try pbx.load())))
        #expect(pbx.calls.first == "backup")
    }

    @Test func ignoringTheWindowInstallsAtOnce() throws {
        let pbx = SimulatedPBX(now: Self.outsideWindow)
        let outcome = try pbx.installer().run(
            release: Self.release(), image: Self.image(), window: Self.window, ignoreWindow: true)

        let record = try #require(try pbx.load())
        #expect(outcome == .installed(record))
        #expect(record.ignoresWindow)
        #expect(pbx.runningVersion == Self.target)
    }

    @Test func windowClosingDuringTheBackupPostponesTheInstall() throws {
        let pbx = SimulatedPBX()
        pbx.backupDuration = 3 * 3600
        let outcome = try pbx.installer().run(release: Self.release(), image: Self.image(), window: Self.window)

        #expect(outcome == .waitingForWindow(until: Self.sundayOpening))
        #expect(pbx.calls == ["backup"])
        #expect(pbx.events.isEmpty)
        #expect(try pbx.load()?.step == .waitingForWindow)
    }

    @Test func rollbackFailureNeedsAPerson() throws {
        let pbx = SimulatedPBX()
        pbx.healthyFromAttempt = nil
        pbx.rollbackFails = true
        let outcome = try pbx.installer().run(release: Self.release(), image: Self.image(), window: Self.window)

        let record = try #require(try pbx.load())
        #expect(outcome == .failed(record))
        #expect(!pbx.calls.contains { $0.hasPrefix("restore") })
        #expect(
            pbx.events.map(\.type) == [
                AgentEvent.firmwareInstallStarted, AgentEvent.firmwareFailed, AgentEvent.firmwareFailed,
            ])
        let alert = try #require(pbx.events.last)
        #expect(alert.level == .alert)
        #expect(alert.attributes["step"] == "rolling_back")
        #expect(
            alert.attributes["error"] == "rollback_command failed: pbx-rollback exited with status 1: no previous slot")
        let message = try #require(alert.message)
        #expect(message.hasPrefix("The PBX needs a person"))
        #expect(message.contains("snapshot snap-1 on local, s3"))
        #expect(message.contains("install_command was started"))
        #expect(message.contains("Failed: rollback_command failed"))
        #expect(message.contains("Not done: the configuration was not restored from snapshot snap-1"))

        // Nothing more is installed until a person has looked and cleared the record.
        let newer = try FirmwareVersion("37.12.0.45")
        let error = try #require(throws: FirmwareInstallError.self) {
            try pbx.installer().run(release: Self.release(newer), image: Self.image(newer), window: Self.window)
        }
        #expect(error.code == .needsAttention)
        #expect(try pbx.installer().resume() == .failed(record))
        try pbx.installer().acknowledge()
        #expect(try pbx.load() == nil)
        pbx.rollbackFails = false
        pbx.installFails = true
        let retried = try pbx.installer().run(
            release: Self.release(newer), image: Self.image(newer), window: Self.window)
        #expect(retried == .rolledBack(try #require(try pbx.load())))
        #expect(pbx.backups == 2)
    }

    @Test func restoreFailureNeedsAPerson() throws {
        let pbx = SimulatedPBX()
        pbx.installFails = true
        pbx.restoreFails = true
        let outcome = try pbx.installer().run(release: Self.release(), image: Self.image(), window: Self.window)

        let record = try #require(try pbx.load())
        #expect(outcome == .failed(record))
        let alert = try #require(pbx.events.last)
        #expect(alert.type == AgentEvent.firmwareFailed && alert.level == .alert)
        #expect(alert.attributes["step"] == "restoring")
        let message = try #require(alert.message)
        #expect(message.hasPrefix("The PBX needs a person"))
        #expect(message.contains("rollback_command ran"))
        #expect(message.contains("restoring the configuration from snapshot snap-1 failed: age: wrong identity"))
        #expect(!pbx.events.contains { $0.type == AgentEvent.firmwareRolledBack })
    }

    @Test func anotherReleaseIsRefusedWhileAnInstallIsUnderway() throws {
        let pbx = SimulatedPBX()
        pbx.crashPoint = .init(operation: .install, occurrence: 1, timing: .after)
        #expect(throws: Crash.self) {
            try pbx.installer().run(release: Self.release(), image: Self.image(), window: Self.window)
        }
        pbx.restart()
        let before = try #require(try pbx.load())
        #expect(before.step == .installing)

        let newer = try FirmwareVersion("37.12.0.45")
        let error = try #require(throws: FirmwareInstallError.self) {
            try pbx.installer().run(release: Self.release(newer), image: Self.image(newer), window: Self.window)
        }
        #expect(error.code == .inProgress)
        #expect(error.message.contains("37.12.0.44"))
        #expect(try pbx.load() == before)
        #expect(pbx.calls == ["backup", "install \(Self.image().path)"])

        // The same release is continued rather than started again: install_command is not repeated.
        let outcome = try pbx.installer().run(release: Self.release(), image: Self.image(), window: Self.window)
        #expect(outcome == .installed(try #require(try pbx.load())))
        #expect(pbx.calls.filter { $0.hasPrefix("install") }.count == 1)
    }

    @Test func aWaitingPlanIsReplacedByANewerRelease() throws {
        let pbx = SimulatedPBX(now: Self.outsideWindow)
        _ = try pbx.installer().run(release: Self.release(), image: Self.image(), window: Self.window)
        let newer = try FirmwareVersion("37.12.0.45")
        let outcome = try pbx.installer().run(
            release: Self.release(newer), image: Self.image(newer), window: Self.window)

        #expect(outcome == .waitingForWindow(until: Self.saturdayOpening))
        #expect(try pbx.load()?.version == newer)
    }

    @Test func anImageOfAnotherReleaseIsRefused() throws {
        let pbx = SimulatedPBX()
        let error = try #require(throws: FirmwareInstallError.self) {
            try pbx.installer().run(
                release: Self.release(), image: Self.image(sha256: String(repeating: "cd", count: 32)),
                window: Self.window)
        }
        #expect(error.code == .imageMismatch)
        #expect(try pbx.load() == nil)
        #expect(pbx.calls.isEmpty)
    }

    @Test func cancellationStopsBetweenHealthChecksAndResumeGoesOn() throws {
        let pbx = SimulatedPBX()
        pbx.healthyFromAttempt = 4
        let flag = CancellationFlag()
        pbx.onHealthCheck = { attempt in if attempt == 2 { flag.cancel(reason: "SIGTERM") } }
        let error = try #require(throws: FirmwareInstallError.self) {
            try pbx.installer(cancellation: flag).run(release: Self.release(), image: Self.image(), window: Self.window)
        }
        #expect(error.code == .cancelled)
        #expect(error.message.contains("SIGTERM"))
        let stopped = try #require(try pbx.load())
        #expect(stopped.step == .checkingHealth)
        #expect(stopped.healthAttempts == 2)

        pbx.onHealthCheck = nil
        let outcome = try pbx.installer().resume()
        let record = try #require(try pbx.load())
        #expect(outcome == .installed(record))
        #expect(record.healthAttempts == 4)
        #expect(!pbx.calls.contains("rollback"))
    }

    @Test func cancellationBeforeTheInstallLeavesThePBXUntouched() throws {
        let pbx = SimulatedPBX()
        let flag = CancellationFlag()
        pbx.onBackup = { flag.cancel(reason: "SIGTERM") }
        let error = try #require(throws: FirmwareInstallError.self) {
            try pbx.installer(cancellation: flag).run(release: Self.release(), image: Self.image(), window: Self.window)
        }
        #expect(error.code == .cancelled)
        #expect(try pbx.load()?.step == .backingUp)
        #expect(pbx.calls == ["backup"])
        #expect(pbx.events.isEmpty)
    }

    // MARK: Named crashes

    @Test func crashDuringAnInstallThatFinishedEndsInstalled() throws {
        let pbx = SimulatedPBX()
        pbx.crashPoint = .init(operation: .install, occurrence: 1, timing: .after)
        #expect(throws: Crash.self) {
            try pbx.installer().run(release: Self.release(), image: Self.image(), window: Self.window)
        }
        pbx.restart()
        let outcome = try pbx.installer().resume()

        let record = try #require(try pbx.load())
        #expect(outcome == .installed(record))
        #expect(pbx.calls == ["backup", "install \(Self.image().path)", "health"])
        #expect(pbx.eventTypes == [AgentEvent.firmwareInstallStarted, AgentEvent.firmwareInstalled])
        #expect(record.log.contains { $0.message.contains("whether install_command finished is unknown") })
    }

    @Test func crashDuringAnInstallThatDidNotHappenRollsBack() throws {
        let pbx = SimulatedPBX()
        pbx.crashPoint = .init(operation: .install, occurrence: 1, timing: .before)
        #expect(throws: Crash.self) {
            try pbx.installer().run(release: Self.release(), image: Self.image(), window: Self.window)
        }
        pbx.restart()
        let outcome = try pbx.installer().resume()

        let record = try #require(try pbx.load())
        #expect(outcome == .rolledBack(record))
        #expect(!pbx.calls.contains { $0.hasPrefix("install") })
        #expect(pbx.calls.suffix(2) == ["rollback", "restore snap-1"])
        #expect(
            pbx.eventTypes == [
                AgentEvent.firmwareInstallStarted, AgentEvent.firmwareFailed, AgentEvent.firmwareRolledBack,
            ])
    }

    @Test func healthTimeoutCountsFromTheFirstRecordedCheck() throws {
        let pbx = SimulatedPBX()
        pbx.healthyFromAttempt = nil
        pbx.crashPoint = .init(operation: .health, occurrence: 3, timing: .before)
        #expect(throws: Crash.self) {
            try pbx.installer().run(release: Self.release(), image: Self.image(), window: Self.window)
        }
        pbx.restart()
        let started = try #require(try pbx.load()?.healthCheckStartedAt)
        pbx.now = pbx.now.addingTimeInterval(3600)
        let outcome = try pbx.installer().resume()

        let record = try #require(try pbx.load())
        #expect(outcome == .rolledBack(record))
        #expect(record.healthCheckStartedAt == started)
        // The timeout passed while the agent was down: one more check, then the rollback.
        #expect(pbx.calls.filter { $0 == "health" }.count == 3)
        #expect(record.healthAttempts == 4)
    }

    @Test func crashDuringTheRollbackRunsItAgain() throws {
        let pbx = SimulatedPBX()
        pbx.installFails = true
        pbx.crashPoint = .init(operation: .rollback, occurrence: 1, timing: .after)
        #expect(throws: Crash.self) {
            try pbx.installer().run(release: Self.release(), image: Self.image(), window: Self.window)
        }
        pbx.restart()
        #expect(try pbx.load()?.step == .rollingBack)
        let outcome = try pbx.installer().resume()

        #expect(outcome == .rolledBack(try #require(try pbx.load())))
        #expect(pbx.calls.filter { $0 == "rollback" }.count == 2)
        #expect(pbx.eventTypes.filter { $0 == AgentEvent.firmwareFailed }.count == 1)
    }

    @Test func nothingToResumeWithoutARecord() throws {
        let pbx = SimulatedPBX()
        #expect(try pbx.installer().resume() == .nothingToResume)
        #expect(pbx.calls.isEmpty)
    }

    // MARK: A crash at every operation

    /// The operations of one uninterrupted install are these, in this order: the sweep below
    /// crashes at each of them.
    @Test func theSweepCoversEveryStep() throws {
        let trace = CrashCase.trace(.healthy).map { "\($0.operation)#\($0.occurrence)" }
        #expect(
            trace == [
                "save#1", "save#2", "backup#1", "save#3", "record#1", "save#4", "install#1", "save#5", "save#6",
                "health#1", "save#7", "record#2", "save#8",
            ])
        let unhealthy = Set(CrashCase.trace(.unhealthy).map(\.operation))
        #expect(unhealthy == Set(SimulatedPBX.Operation.allCases))
    }

    @Test(arguments: CrashCase.all)
    func crashAndResume(_ crash: CrashCase) throws {
        let pbx = SimulatedPBX()
        if crash.scenario == .unhealthy { pbx.healthyFromAttempt = nil }
        pbx.crashPoint = crash.point
        #expect(throws: Crash.self) {
            try pbx.installer().run(release: Self.release(), image: Self.image(), window: Self.window)
        }
        pbx.restart()
        let stepAtCrash = try pbx.load()?.step
        let installRan = pbx.calls.contains { $0.hasPrefix("install") }

        var outcome = try pbx.installer().resume()
        if stepAtCrash == nil {
            // The plan itself was not saved: nothing happened, and the daemon's next call starts over.
            #expect(outcome == .nothingToResume)
            #expect(pbx.calls.isEmpty && pbx.events.isEmpty)
            outcome = try pbx.installer().run(release: Self.release(), image: Self.image(), window: Self.window)
        }

        let record = try #require(try pbx.load())
        #expect(record.pendingEvents.isEmpty)
        #expect(pbx.calls.filter { $0.hasPrefix("install") }.count <= 1, "install_command is never repeated")
        #expect(try pbx.installer().resume() == outcome, "a finished install stays finished")
        let snapshot = try #require(record.snapshot)
        #expect(snapshot.id == "snap-\(pbx.backups)", "the install used the last backup")

        let rollsBack = crash.scenario == .unhealthy || (stepAtCrash == .installing && !installRan)
        if rollsBack {
            #expect(outcome == .rolledBack(record))
            #expect(pbx.runningVersion == Self.from)
            #expect(pbx.configuration == "restored from \(snapshot.id)")
            #expect(
                pbx.eventTypes == [
                    AgentEvent.firmwareInstallStarted, AgentEvent.firmwareFailed, AgentEvent.firmwareRolledBack,
                ])
        } else {
            #expect(outcome == .installed(record))
            #expect(pbx.runningVersion == Self.target)
            #expect(pbx.configuration == "upgraded")
            #expect(pbx.eventTypes == [AgentEvent.firmwareInstallStarted, AgentEvent.firmwareInstalled])
        }
    }

    // MARK: The record

    @Test func theRecordRoundTripsThroughJSONAndKeepsItsLogShort() throws {
        var record = FirmwareInstallRecord(
            version: Self.target, fromVersion: Self.from, imagePath: "/var/lib/lifeboat/firmware/x.img",
            imageSHA256: Self.sha256, ignoresWindow: false, plannedAt: Date(timeIntervalSince1970: 1_795_000_000.25))
        record.step = .rollingBack
        record.snapshot = PreUpgradeSnapshot(id: "snap-7", stores: ["local"])
        record.healthCheckStartedAt = Date(timeIntervalSince1970: 1_795_000_123.456)
        record.pendingEvents = [
            Event(
                type: AgentEvent.firmwareFailed, level: .alert, time: Date(timeIntervalSince1970: 1_795_000_200),
                source: "agent", attributes: ["from_version": "37.11.0.20", "error": "boom"], message: "failed")
        ]
        for i in 0..<40 { record.note("line \(i)", at: Date(timeIntervalSince1970: 1_795_000_300 + Double(i))) }

        #expect(record.log.count == FirmwareInstallRecord.maximumLogEntries)
        #expect(record.log.first?.message == "line 8")
        #expect(record.log.last?.step == .rollingBack)
        let json = try record.encodedJSON()
        #expect(try FirmwareInstallRecord(json: json) == record)
        #expect(String(decoding: json, as: UTF8.self).contains("\"step\":\"rolling_back\""))
    }
}

// MARK: - The simulated PBX

/// The process died: every operation of a crashed `SimulatedPBX` throws it.
struct Crash: Error, CustomStringConvertible {
    var description: String { "simulated crash" }
}

/// A hook that failed, as the agent's effects report it.
struct HookFailure: Error, CustomStringConvertible {
    var description: String
}

/// The PBX, its hooks, the backup job, the event log, the journal (kept as JSON, as the agent keeps
/// it) and a clock, with a crash that can be set at any operation.
///
/// At the crash point the process "dies": before the operation (it never happened) or after it (it
/// happened; a save or an event is then durable), and every later operation throws `Crash` and
/// changes nothing. `restart()` brings the process back for a new installer; the journal, the event
/// log and the PBX keep what was done.
final class SimulatedPBX: FirmwareInstallJournal, FirmwareInstallEffects, @unchecked Sendable {
    // @unchecked: a test drives it from one thread; the installer calls everything on that thread.

    enum Operation: String, Sendable, CaseIterable, CustomStringConvertible {
        case save, backup, install, health, rollback, restore, record
        var description: String { rawValue }
    }

    enum Timing: String, Sendable {
        case before, after
    }

    struct CrashPoint: Sendable, Hashable, CustomStringConvertible {
        var operation: Operation
        /// 1 for the first such operation.
        var occurrence: Int
        var timing: Timing
        var description: String { "\(timing) \(operation)#\(occurrence)" }
    }

    var now: Date
    var runningVersion: FirmwareVersion? = FirmwareInstallerTests.from
    var configuration = "original"

    var backupFails = false
    var backupStores = ["local", "s3"]
    var backupDuration: Double = 0
    var installFails = false
    var installChangesVersion = true
    /// The health check passes from this attempt on (counting every check, across restarts); nil: never.
    var healthyFromAttempt: Int? = 1
    var rollbackFails = false
    var restoreFails = false
    var onBackup: (() -> Void)?
    var onHealthCheck: ((Int) -> Void)?

    var crashPoint: CrashPoint?
    /// Every operation attempted before the crash, with its occurrence number.
    private(set) var trace: [CrashPoint] = []
    /// The hooks that ran (a crash "before" one means it did not).
    private(set) var calls: [String] = []
    /// The event log, deduplicated by id as the agent's is.
    private(set) var events: [Event] = []
    private(set) var backups = 0
    private var healthChecks = 0
    private var counts: [Operation: Int] = [:]
    private var crashed = false
    private var journal: [UInt8]?

    init(now: Date = FirmwareInstallerTests.insideWindow) {
        self.now = now
    }

    var eventTypes: [String] { events.map(\.type) }

    func installer(cancellation: CancellationFlag = CancellationFlag()) -> FirmwareInstaller {
        FirmwareInstaller(
            journal: self, effects: self, healthTimeout: 60, healthInterval: 10, cancellation: cancellation,
            logger: Logger(label: "lifeboat.firmware.tests", factory: { _ in SwiftLogNoOpLogHandler() }),
            now: { [unowned self] in self.now }, sleep: { [unowned self] in self.now += $0 })
    }

    /// A new process: operations work again.
    func restart() {
        crashed = false
        crashPoint = nil
    }

    /// Runs `body` as operation `operation`, dying before or after it at the crash point.
    private func perform<T>(_ operation: Operation, _ body: () throws -> T) throws -> T {
        guard !crashed else { throw Crash() }
        counts[operation, default: 0] += 1
        let point = CrashPoint(operation: operation, occurrence: counts[operation]!, timing: .before)
        trace.append(point)
        let hit = crashPoint.map { $0.operation == operation && $0.occurrence == point.occurrence }
        if hit == true, crashPoint?.timing == .before {
            crashed = true
            throw Crash()
        }
        defer {
            // After: the operation happened; the process dies before the installer can go on.
            if hit == true, crashPoint?.timing == .after { crashed = true }
        }
        let result = try body()
        if hit == true, crashPoint?.timing == .after, operation == .save || operation == .record { throw Crash() }
        return result
    }

    // MARK: FirmwareInstallJournal

    func load() throws -> FirmwareInstallRecord? {
        try journal.map { try FirmwareInstallRecord(json: $0) }
    }

    func save(_ record: FirmwareInstallRecord) throws {
        let json = try record.encodedJSON()
        try perform(.save) { journal = json }
    }

    func clear() throws {
        journal = nil
    }

    // MARK: FirmwareInstallEffects

    func preUpgradeBackup() throws -> PreUpgradeSnapshot {
        try perform(.backup) {
            calls.append("backup")
            now += backupDuration
            onBackup?()
            if backupFails {
                throw HookFailure(description: "job nightly: no store committed (local: disk full; s3: HTTP 503)")
            }
            backups += 1
            return PreUpgradeSnapshot(id: "snap-\(backups)", stores: backupStores)
        }
    }

    func install(image: String) throws {
        try perform(.install) {
            calls.append("install \(image)")
            if installFails {
                configuration = "half-upgraded"
                throw HookFailure(description: "pbx-upgrade exited with status 3: no space left")
            }
            configuration = "upgraded"
            if installChangesVersion { runningVersion = FirmwareInstallerTests.target }
        }
    }

    func checkHealth() throws {
        try perform(.health) {
            calls.append("health")
            healthChecks += 1
            onHealthCheck?(healthChecks)
            guard let first = healthyFromAttempt, healthChecks >= first else {
                throw HookFailure(description: "pbx-health: SIP stack not answering")
            }
        }
    }

    func rollback() throws {
        try perform(.rollback) {
            calls.append("rollback")
            if rollbackFails { throw HookFailure(description: "pbx-rollback exited with status 1: no previous slot") }
            runningVersion = FirmwareInstallerTests.from
        }
    }

    func restoreConfiguration(from snapshot: PreUpgradeSnapshot) throws {
        try perform(.restore) {
            calls.append("restore \(snapshot.id)")
            if restoreFails { throw HookFailure(description: "age: wrong identity") }
            configuration = "restored from \(snapshot.id)"
        }
    }

    func currentVersion() -> FirmwareVersion? {
        runningVersion
    }

    func record(_ event: Event) throws {
        try perform(.record) {
            if !events.contains(where: { $0.id == event.id }) { events.append(event) }
        }
    }
}

/// One crash of the sweep: a scenario and the operation (and side of it) the process dies at.
struct CrashCase: Sendable, CustomTestStringConvertible {
    enum Scenario: String, Sendable, CaseIterable {
        /// Healthy on the target version at the first check.
        case healthy
        /// Never healthy: the health timeout passes and the install is rolled back.
        case unhealthy
    }

    var scenario: Scenario
    var point: SimulatedPBX.CrashPoint

    var testDescription: String { "\(scenario): \(point)" }

    /// Every operation of an uninterrupted install in `scenario`, in order.
    static func trace(_ scenario: Scenario) -> [SimulatedPBX.CrashPoint] {
        let pbx = SimulatedPBX()
        if scenario == .unhealthy { pbx.healthyFromAttempt = nil }
        _ = try? pbx.installer().run(
            release: FirmwareInstallerTests.release(), image: FirmwareInstallerTests.image(),
            window: FirmwareInstallerTests.window)
        return pbx.trace
    }

    /// A crash before and after each operation of both scenarios.
    static let all: [CrashCase] = Scenario.allCases.flatMap { scenario in
        trace(scenario).flatMap { point in
            [SimulatedPBX.Timing.before, .after].map { timing in
                var point = point
                point.timing = timing
                return CrashCase(scenario: scenario, point: point)
            }
        }
    }
}
