import Foundation
import LifeboatStores

#if canImport(Glibc)
    import Glibc
#endif

/// A `mariadb`/`mysql` component restored in place, one database at a time.
///
/// **Scratch load, then an atomic swap.** Each dump is loaded with the client into a scratch database
/// (`lifeboat_new_<token>_<n>`) while the PBX still runs: a dump that does not load fails the restore
/// before anything live is touched. The swap, after `pre_restore`, is one `RENAME TABLE` statement —
/// atomic in MariaDB and MySQL, all tables or none — that moves the live tables the dump replaces
/// into a holding database (`lifeboat_old_<token>_<n>`) and the scratch tables into the live database.
/// Triggers cannot move between databases, and views, stored routines and events cannot be renamed
/// into another database, so these are re-created from their `SHOW CREATE` text (with their
/// `sql_mode` and character set), which names tables of its own database without a database prefix.
///
/// **What is replaced.** Objects (tables, views, triggers, routines, events) of the dump replace live
/// objects of the same name, and the triggers of replaced tables go with them; live objects the dump
/// does not hold stay as they are, so a source that dumps some tables (`tables`, `exclude_tables`)
/// loses nothing it never backed up.
///
/// **Undo.** Every step is journalled; undo runs the journal backwards: drops what was created,
/// re-creates what was dropped (from its saved `SHOW CREATE` text), and renames the tables back in
/// one statement. The holding database is dropped only after every component succeeded.
final class MariaDBReplacement: InPlaceComponent {
    let name: String
    private let databases: [DatabaseSwap]

    init(name: String, databases: [(name: String, parts: [String])], client: MariaDBClient, token: String) {
        self.name = name
        self.databases = databases.enumerated().map { index, database in
            DatabaseSwap(
                component: name, live: database.name, parts: database.parts, client: client,
                scratch: "lifeboat_new_\(token)_\(index + 1)", holding: "lifeboat_old_\(token)_\(index + 1)")
        }
    }

    var destinations: [String] { databases.map { "database \($0.live)" } }

    func prepare() throws {
        for database in databases { try database.load() }
    }

    func apply() throws -> String {
        try databases.map { try $0.swap() }.joined(separator: "; ")
    }

    func undo() -> (putBack: [String], problems: [String]) {
        var putBack: [String] = []
        var problems: [String] = []
        for database in databases.reversed() {
            let result = database.undo()
            putBack += result.putBack
            problems += result.problems
        }
        return (putBack, problems)
    }

    func commit() -> [String] { databases.flatMap { $0.commit() } }

    func discard() {
        for database in databases { database.discard() }
    }
}

/// One database of a MariaDB component: scratch load, swap, undo.
private final class DatabaseSwap {
    enum Kind: String {
        case view = "VIEW"
        case trigger = "TRIGGER"
        case procedure = "PROCEDURE"
        case function = "FUNCTION"
        case event = "EVENT"
    }

    /// A view, trigger, routine or event as `SHOW CREATE` gives it.
    struct Definition {
        var kind: Kind
        var name: String
        var statement: String
        var sqlMode: String?
        var timeZone: String?
        var characterSet: String?
        var collation: String?
    }

    /// What a database holds, from `information_schema`.
    struct Inventory {
        var tables: [String] = []
        var views: [String] = []
        /// Trigger name and its table.
        var triggers: [(name: String, table: String)] = []
        var routines: [(name: String, kind: Kind)] = []
        var events: [String] = []
    }

    enum Step {
        case createdLive
        case createdHolding
        case dropped(Definition)
        case renamed(liveToHolding: [String], scratchToLive: [String])
        case created(Kind, String)
    }

    let component: String
    let live: String
    let parts: [String]
    let client: MariaDBClient
    let scratch: String
    let holding: String
    private var scratchCreated = false
    private var holdingCreated = false
    /// True while live tables sit in the holding database.
    private var holdingHasData = false
    private var journal: [Step] = []

    init(component: String, live: String, parts: [String], client: MariaDBClient, scratch: String, holding: String) {
        self.component = component
        self.live = live
        self.parts = parts
        self.client = client
        self.scratch = scratch
        self.holding = holding
    }

    private typealias SQL = MariaDBClient

    // MARK: Scratch load

    /// Joins the dump's parts into one file (the parts go as they are appended) and loads it into the
    /// scratch database.
    func load() throws {
        let dump = client.workDirectory + "/\(component)-\(live).sql"
        try join(parts, into: dump)
        defer { unlink(dump) }
        try client.run(
            "CREATE DATABASE \(SQL.identifier(scratch));",
            what: "component '\(component)': creating the scratch database")
        scratchCreated = true
        try client.load(
            dump, into: scratch, what: "component '\(component)': loading the dump of '\(live)' into a scratch database"
        )
    }

    private func join(_ parts: [String], into path: String) throws {
        let out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard out >= 0 else { throw InPlaceRestoreError("cannot create \(path): \(errnoText())") }
        defer { close(out) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        for part in parts {
            let fd = open(part, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw InPlaceRestoreError("cannot read \(part): \(errnoText())") }
            defer {
                close(fd)
                unlink(part)
            }
            while true {
                let n = read(fd, buffer.baseAddress, buffer.count)
                if n < 0 && errno == EINTR { continue }
                guard n >= 0 else { throw InPlaceRestoreError("cannot read \(part): \(errnoText())") }
                if n == 0 { break }
                var done = 0
                while done < n {
                    let w = write(out, buffer.baseAddress! + done, n - done)
                    if w < 0 && errno == EINTR { continue }
                    guard w > 0 else { throw InPlaceRestoreError("cannot write \(path): \(errnoText())") }
                    done += w
                }
            }
        }
    }

    // MARK: Swap

    func swap() throws -> String {
        let what = "component '\(component)': database '\(live)'"
        let exists = try !client.run(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = \(SQL.literal(live));",
            what: what
        ).isEmpty
        let new = try inventory(scratch)
        let old = exists ? try inventory(live) : Inventory()
        let newDefinitions = try definitions(
            in: scratch,
            new.views.map { (Kind.view, $0) } + new.triggers.map { (Kind.trigger, $0.name) }
                + new.routines.map { ($0.kind, $0.name) }
                + new.events.map { (Kind.event, $0) })

        // What of the live database goes: objects the dump replaces, and the triggers of replaced tables.
        let newNames = Set(new.tables + new.views)
        let movedTables = old.tables.filter(newNames.contains)
        let droppedViews = old.views.filter(newNames.contains)
        let newTriggers = Set(new.triggers.map(\.name))
        let droppedTriggers = old.triggers.filter { movedTables.contains($0.table) || newTriggers.contains($0.name) }
            .map(\.name)
        let newRoutines = Set(new.routines.map { "\($0.kind.rawValue) \($0.name)" })
        let droppedRoutines = old.routines.filter { newRoutines.contains("\($0.kind.rawValue) \($0.name)") }
        let droppedEvents = old.events.filter(Set(new.events).contains)
        let oldDefinitions = try definitions(
            in: live,
            droppedTriggers.map { (Kind.trigger, $0) } + droppedViews.map { (Kind.view, $0) }
                + droppedRoutines.map { ($0.kind, $0.name) } + droppedEvents.map { (Kind.event, $0) })
        let oldByKey = Dictionary(
            oldDefinitions.map { ("\($0.kind.rawValue) \($0.name)", $0) }, uniquingKeysWith: { a, _ in a })

        if !exists {
            try client.run("CREATE DATABASE \(SQL.identifier(live));", what: what)
            journal.append(.createdLive)
        }
        try client.run("CREATE DATABASE \(SQL.identifier(holding));", what: what)
        holdingCreated = true
        journal.append(.createdHolding)
        // Triggers stay behind when their table changes database: drop them on both sides first.
        for trigger in new.triggers {
            try client.run("DROP TRIGGER \(SQL.identifier(scratch)).\(SQL.identifier(trigger.name));", what: what)
        }
        for name in droppedTriggers { try drop(.trigger, name, saved: oldByKey["TRIGGER \(name)"], what: what) }
        for name in droppedViews { try drop(.view, name, saved: oldByKey["VIEW \(name)"], what: what) }

        // The swap itself: one statement, all tables or none.
        let renames =
            movedTables.map {
                "\(SQL.identifier(live)).\(SQL.identifier($0)) TO \(SQL.identifier(holding)).\(SQL.identifier($0))"
            }
            + new.tables.map {
                "\(SQL.identifier(scratch)).\(SQL.identifier($0)) TO \(SQL.identifier(live)).\(SQL.identifier($0))"
            }
        if !renames.isEmpty {
            try client.run("RENAME TABLE " + renames.joined(separator: ", ") + ";", what: what)
            journal.append(.renamed(liveToHolding: movedTables, scratchToLive: new.tables))
            holdingHasData = !movedTables.isEmpty
        }

        for routine in droppedRoutines {
            try drop(
                routine.kind, routine.name, saved: oldByKey["\(routine.kind.rawValue) \(routine.name)"], what: what)
        }
        for name in droppedEvents { try drop(.event, name, saved: oldByKey["EVENT \(name)"], what: what) }

        // Views may use each other: create what can be created until nothing more can.
        var pendingViews = newDefinitions.filter { $0.kind == .view }
        while !pendingViews.isEmpty {
            var failed: [Definition] = []
            var lastError: (any Error)?
            for view in pendingViews {
                do {
                    try create(view, what: what)
                } catch {
                    failed.append(view)
                    lastError = error
                }
            }
            if failed.count == pendingViews.count, let lastError { throw lastError }
            pendingViews = failed
        }
        for definition in newDefinitions where definition.kind != .view { try create(definition, what: what) }

        var said = "database \(live): \(new.tables.count) table(s) swapped in"
        let kept = old.tables.filter { !newNames.contains($0) }
        if !kept.isEmpty {
            said +=
                "; \(kept.count) live table(s) the dump does not hold kept (\(kept.prefix(5).joined(separator: ", ")))"
        }
        if newDefinitions.count > 0 {
            said += "; \(newDefinitions.count) view(s), trigger(s), routine(s) or event(s) re-created"
        }
        return said
    }

    private func drop(_ kind: Kind, _ name: String, saved: Definition?, what: String) throws {
        guard let saved else {
            throw InPlaceRestoreError(
                "\(what): the definition of \(kind.rawValue.lowercased()) '\(name)' could not be read")
        }
        try client.run(
            "DROP \(kind.rawValue) \(SQL.identifier(live)).\(SQL.identifier(name));", what: what)
        journal.append(.dropped(saved))
    }

    private func create(_ definition: Definition, what: String) throws {
        try client.run(script(definition), database: live, what: what)
        journal.append(.created(definition.kind, definition.name))
    }

    /// The statements that re-create `definition` in the current database, with its session settings.
    private func script(_ definition: Definition) -> String {
        var lines: [String] = []
        if let mode = definition.sqlMode { lines.append("SET SESSION sql_mode = \(SQL.literal(mode));") }
        if let zone = definition.timeZone { lines.append("SET SESSION time_zone = \(SQL.literal(zone));") }
        if let set = definition.characterSet { lines.append("SET SESSION character_set_client = \(SQL.literal(set));") }
        if let collation = definition.collation {
            lines.append("SET SESSION collation_connection = \(SQL.literal(collation));")
        }
        let delimiter = "~lifeboat-end~"
        lines.append("DELIMITER \(delimiter)")
        lines.append(definition.statement + "\n" + delimiter)
        lines.append("DELIMITER ;")
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: Reading the databases

    private func inventory(_ database: String) throws -> Inventory {
        let schema = SQL.literal(database)
        let rows = try client.run(
            """
            SELECT 'table', TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = \(schema)
            UNION ALL SELECT 'trigger', TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = \(schema)
            UNION ALL SELECT 'routine', ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = \(schema)
            UNION ALL SELECT 'event', EVENT_NAME, '' FROM information_schema.EVENTS WHERE EVENT_SCHEMA = \(schema);
            """, what: "component '\(component)': reading database '\(database)'")
        var inventory = Inventory()
        for row in rows where row.count >= 3 {
            switch row[0] {
            case "table":
                if row[2] == "VIEW" || row[2] == "SYSTEM VIEW" {
                    inventory.views.append(row[1])
                } else {
                    inventory.tables.append(row[1])
                }
            case "trigger": inventory.triggers.append((row[1], row[2]))
            case "routine":
                guard let kind = Kind(rawValue: row[2]), kind == .procedure || kind == .function else {
                    throw InPlaceRestoreError(
                        "component '\(component)': database '\(database)' holds \(row[2].lowercased()) '\(row[1])', which in-place restore cannot move; restore with --target and load the dump by hand"
                    )
                }
                inventory.routines.append((row[1], kind))
            case "event": inventory.events.append(row[1])
            default: break
            }
        }
        return inventory
    }

    /// `SHOW CREATE` of each object, read with `database` as the current database so that the text
    /// names its tables without a database prefix.
    private func definitions(in database: String, _ objects: [(Kind, String)]) throws -> [Definition] {
        guard !objects.isEmpty else { return [] }
        let sql = objects.map { "SHOW CREATE \($0.0.rawValue) \(SQL.identifier($0.1));" }.joined(separator: "\n")
        let rows = try client.run(
            sql, database: database, what: "component '\(component)': reading definitions in '\(database)'")
        guard rows.count == objects.count else {
            throw InPlaceRestoreError(
                "component '\(component)': reading definitions in '\(database)': \(rows.count) answers for \(objects.count) objects"
            )
        }
        return try zip(objects, rows).map { object, row in
            let (kind, name) = object
            func column(_ i: Int) -> String? { i < row.count && row[i] != "NULL" ? row[i] : nil }
            let statement: String?
            var definition = Definition(kind: kind, name: name, statement: "")
            switch kind {
            case .view:
                statement = column(1)
                definition.characterSet = column(2)
                definition.collation = column(3)
            case .trigger, .procedure, .function:
                definition.sqlMode = column(1)
                statement = column(2)
                definition.characterSet = column(3)
                definition.collation = column(4)
            case .event:
                definition.sqlMode = column(1)
                definition.timeZone = column(2)
                statement = column(3)
                definition.characterSet = column(4)
                definition.collation = column(5)
            }
            guard let statement else {
                throw InPlaceRestoreError(
                    "component '\(component)': the definition of \(kind.rawValue.lowercased()) '\(name)' in '\(database)' cannot be read (missing privileges?)"
                )
            }
            definition.statement = statement
            return definition
        }
    }

    // MARK: Undo, commit, discard

    func undo() -> (putBack: [String], problems: [String]) {
        guard !journal.isEmpty else { return ([], []) }
        var problems: [String] = []
        let what = "undo of database '\(live)'"
        for step in journal.reversed() {
            do {
                switch step {
                case .created(let kind, let name):
                    try client.run(
                        "DROP \(kind.rawValue) IF EXISTS \(SQL.identifier(live)).\(SQL.identifier(name));", what: what)
                case .dropped(let definition):
                    try client.run(script(definition), database: live, what: what)
                case .renamed(let liveToHolding, let scratchToLive):
                    let renames =
                        scratchToLive.map {
                            "\(SQL.identifier(live)).\(SQL.identifier($0)) TO \(SQL.identifier(scratch)).\(SQL.identifier($0))"
                        }
                        + liveToHolding.map {
                            "\(SQL.identifier(holding)).\(SQL.identifier($0)) TO \(SQL.identifier(live)).\(SQL.identifier($0))"
                        }
                    try client.run("RENAME TABLE " + renames.joined(separator: ", ") + ";", what: what)
                    holdingHasData = false
                case .createdHolding:
                    break  // dropped by discard, once empty
                case .createdLive:
                    try client.run("DROP DATABASE \(SQL.identifier(live));", what: what)
                }
            } catch {
                problems.append("\(error)")
            }
        }
        journal = []
        if problems.isEmpty { return (["database \(live) as it was"], []) }
        if holdingHasData { problems.append("the tables that were live in '\(live)' are in database '\(holding)'") }
        return ([], problems)
    }

    func commit() -> [String] {
        journal = []
        holdingHasData = false
        return dropScratchDatabases()
    }

    func discard() { _ = dropScratchDatabases() }

    /// Drops the scratch database, and the holding database unless it still holds live tables.
    private func dropScratchDatabases() -> [String] {
        var problems: [String] = []
        if scratchCreated {
            do {
                try client.run("DROP DATABASE IF EXISTS \(SQL.identifier(scratch));", what: "dropping '\(scratch)'")
                scratchCreated = false
            } catch {
                problems.append("\(error)")
            }
        }
        if holdingCreated && !holdingHasData {
            do {
                try client.run("DROP DATABASE IF EXISTS \(SQL.identifier(holding));", what: "dropping '\(holding)'")
                holdingCreated = false
            } catch {
                problems.append("\(error)")
            }
        }
        return problems
    }
}
