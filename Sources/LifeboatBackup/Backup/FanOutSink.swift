import LifeboatCore
import LifeboatStores

/// Writes the same bytes to several uploads; an upload that fails is dropped and remembered, and the
/// others go on. Throws only when every upload has failed.
final class FanOutSink: ByteSink {
    struct Target {
        var store: any Store
        var writer: any ObjectWriter
    }

    private(set) var live: [Target]
    private(set) var failures: [(store: any Store, error: any Error)] = []

    init(_ targets: [Target]) { live = targets }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var i = 0
        while i < live.count {
            do {
                try live[i].writer.write(bytes)
                i += 1
            } catch {
                live[i].writer.abort()
                failures.append((live[i].store, error))
                live.remove(at: i)
            }
        }
        if live.isEmpty {
            throw BackupError(
                .allStoresFailed,
                "every store failed: " + failures.map { "\($0.store.name): \($0.error)" }.joined(separator: "; "))
        }
    }

    func abortAll() {
        for target in live { target.writer.abort() }
    }
}
