/// One component of an in-place restore, in its four steps.
///
/// `prepare` runs once the whole archive has been read and checked, before any hook: it does what
/// can be done without touching live data (an integrity check, loading a dump into a scratch
/// database). `apply` replaces the live data and records each step it took, so that `undo` can put
/// back exactly what was there, also after a partial `apply`. `commit` removes the replaced data once
/// every component succeeded; `discard` removes what staging left (after `commit` or `undo`, or
/// instead of `apply`).
protocol InPlaceComponent: AnyObject {
    var name: String { get }
    /// Where it goes, for messages: paths, or `database NAME`.
    var destinations: [String] { get }
    func prepare() throws
    /// Replaces the live data; returns what it did, in words.
    func apply() throws -> String
    /// Puts back what `apply` replaced; returns what it put back, and what it could not.
    func undo() -> (putBack: [String], problems: [String])
    /// Removes the replaced data; returns problems (the restore stands regardless).
    func commit() -> [String]
    func discard()
}
