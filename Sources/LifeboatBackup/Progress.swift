/// Receives progress of a long operation; called from the working thread, often.
public protocol ProgressObserver: AnyObject {
    /// `done` bytes so far of about `total` (nil when unknown).
    func progress(done: Int64, total: Int64?)
    /// The operation ended (successfully or not).
    func finished()
}
