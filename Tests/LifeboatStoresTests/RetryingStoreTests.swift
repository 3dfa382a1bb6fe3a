import Foundation
import LifeboatCore
import Testing

@testable import LifeboatStores

/// A store whose next `failures` operations fail with `code`, then pass through.
private final class FlakyStore: Store, @unchecked Sendable {
    // @unchecked: used by one test thread.
    let base: any Store
    var failures: Int
    let code: StoreError.Code
    var calls = 0

    init(_ base: any Store, failures: Int, code: StoreError.Code) {
        self.base = base
        self.failures = failures
        self.code = code
    }

    var name: String { base.name }
    var description: String { "flaky" }

    private func trip() throws {
        calls += 1
        if failures > 0 {
            failures -= 1
            throw StoreError(code, "flaky failure", retryAfter: 0.01)
        }
    }

    func makeWriter(for objectName: String) throws -> any ObjectWriter {
        try trip()
        return try base.makeWriter(for: objectName)
    }
    func get(_ objectName: String, into sink: any ByteSink) throws {
        try trip()
        try base.get(objectName, into: sink)
    }
    func list(prefix: String) throws -> [StoredObject] {
        try trip()
        return try base.list(prefix: prefix)
    }
    func stat(_ objectName: String) throws -> StoredObject? {
        try trip()
        return try base.stat(objectName)
    }
    func delete(_ objectName: String) throws {
        try trip()
        try base.delete(objectName)
    }
    func removeIncomplete(prefix: String) throws -> [String] {
        try trip()
        return try base.removeIncomplete(prefix: prefix)
    }
}

@Suite struct RetryingStoreTests {
    final class Waits: @unchecked Sendable {
        // @unchecked: appended to by the one test thread.
        var seconds: [Double] = []
    }

    @Test func transientFailuresAreRetriedWithGrowingJitteredWaits() throws {
        let dir = try TemporaryDirectory()
        let flaky = FlakyStore(LocalStore(name: "l", root: dir.path), failures: 3, code: .unavailable)
        let waits = Waits()
        let store = RetryingStore(flaky, policy: RetryPolicy(attempts: 4, initialDelay: 1, maxDelay: 30)) {
            waits.seconds.append($0)
        }
        try store.put("a.bin", bytes: [1, 2, 3])
        #expect(flaky.calls == 4)
        #expect(waits.seconds.count == 3)
        for (i, wait) in waits.seconds.enumerated() {
            let ceiling = Double(1 << i)
            #expect(wait >= ceiling / 2 && wait <= ceiling, "wait \(i): \(wait)")
        }
        try StoreConformance.run(store, prefix: "conf")
    }

    @Test func givesUpAfterTheLastAttempt() throws {
        let dir = try TemporaryDirectory()
        let flaky = FlakyStore(LocalStore(name: "l", root: dir.path), failures: 10, code: .unavailable)
        let store = RetryingStore(flaky, policy: RetryPolicy(attempts: 3)) { _ in }
        #expect(throws: StoreError.self) { try store.list(prefix: "") }
        #expect(flaky.calls == 3)
    }

    @Test(arguments: [StoreError.Code.unauthorized, .notFound, .integrity, .storageFull])
    func permanentFailuresAreNotRetried(code: StoreError.Code) throws {
        let dir = try TemporaryDirectory()
        let flaky = FlakyStore(LocalStore(name: "l", root: dir.path), failures: 1, code: code)
        let store = RetryingStore(flaky) { _ in Issue.record("no wait expected") }
        #expect(throws: StoreError.self) { try store.stat("x") }
        #expect(flaky.calls == 1)
    }

    @Test func theServersRetryAfterIsHonoured() {
        let policy = RetryPolicy(attempts: 4, initialDelay: 1, maxDelay: 30)
        #expect(policy.delay(afterAttempt: 1, serverAsked: 20) == 20)
        #expect(policy.delay(afterAttempt: 10) <= 30)
    }
}
