import Foundation
import GRDB

/// A small key/value table for what later features must remember between runs, such as the
/// highest firmware version ever seen (a feed that offers less is a downgrade). Keys are dotted
/// names owned by the feature that writes them (`firmware.highest_seen`).
extension StateDatabase {
    /// The value stored under `key`, or nil.
    public func setting(_ key: String) throws -> StateSetting? {
        try read { db in
            try Row.fetchOne(db, sql: "SELECT key, value, updated_at FROM settings WHERE key = ?", arguments: [key])
                .map { StateSetting(key: $0[0], value: $0[1], updatedAt: $0[2]) }
        }
    }

    /// Stores `value` under `key`, replacing what was there.
    public func setSetting(_ key: String, to value: String, at date: Date = Date()) throws {
        try write("store setting '\(key)'") { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO settings (key, value, updated_at) VALUES (?, ?, ?)",
                arguments: [key, value, date])
        }
    }

    /// Reads, transforms and writes `key` in one transaction, so two processes cannot interleave
    /// (e.g. "keep the higher of the stored and the new version"). Returning nil removes the key;
    /// returning the old value unchanged writes nothing. Returns the new value.
    @discardableResult
    public func updateSetting(_ key: String, at date: Date = Date(), _ transform: (String?) throws -> String?)
        throws -> String?
    {
        try write("update setting '\(key)'") { db in
            let old = try String.fetchOne(db, sql: "SELECT value FROM settings WHERE key = ?", arguments: [key])
            let new = try transform(old)
            if new == old { return new }
            if let new {
                try db.execute(
                    sql: "INSERT OR REPLACE INTO settings (key, value, updated_at) VALUES (?, ?, ?)",
                    arguments: [key, new, date])
            } else {
                try db.execute(sql: "DELETE FROM settings WHERE key = ?", arguments: [key])
            }
            return new
        }
    }

    /// Removes `key`.
    public func removeSetting(_ key: String) throws {
        try write("remove setting '\(key)'") { db in
            try db.execute(sql: "DELETE FROM settings WHERE key = ?", arguments: [key])
        }
    }
}
