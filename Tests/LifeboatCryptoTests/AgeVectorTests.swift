import Foundation
import LifeboatCore
import LifeboatCrypto
import Testing

/// One file of the C2SP CCTV age test vectors (shared/vectors/age-cctv).
struct AgeVector: Sendable, CustomStringConvertible {
    var name: String
    var expect: String
    var payloadSHA256: String?
    var identities: [String]
    var passphrases: [String]
    var armored: Bool
    var compressed: Bool
    /// The age file, still compressed when `compressed`.
    var body: [UInt8]

    var description: String { name }

    /// Why this implementation skips the vector, or nil when it runs.
    var skipReason: String? {
        if armored { return "ASCII armor is not supported (Lifeboat writes and reads binary age only)" }
        if identities.contains(where: { !$0.hasPrefix("AGE-SECRET-KEY-1") }) {
            return "identity type not supported (hybrid ML-KEM / tagged recipients): only X25519 and scrypt"
        }
        return nil
    }

    init(name: String, contents: [UInt8]) throws {
        self.name = name
        // The text header ends at the first empty line.
        var headerEnd: Int?
        for i in 0..<contents.count where contents[i] == 0x0A {
            if i + 1 < contents.count, contents[i + 1] == 0x0A {
                headerEnd = i
                break
            }
        }
        guard let headerEnd else { throw TestFailure("\(name): no empty line after the vector header") }
        var expect: String?
        var payload: String?
        var identities: [String] = []
        var passphrases: [String] = []
        var armored = false
        var compressed = false
        for line in String(decoding: contents[0..<headerEnd], as: UTF8.self).split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { throw TestFailure("\(name): bad header line \(line)") }
            let key = String(line[..<colon])
            let value = String(line[line.index(colon, offsetBy: 2)...])
            switch key {
            case "expect": expect = value
            case "payload": payload = value
            case "identity": identities.append(value)
            case "passphrase": passphrases.append(value)
            case "armored": armored = value == "yes"
            case "compressed":
                guard value == "zlib" else { throw TestFailure("\(name): unknown compression \(value)") }
                compressed = true
            case "file key", "comment": break
            default: throw TestFailure("\(name): unknown vector header key \(key)")
            }
        }
        guard let expect else { throw TestFailure("\(name): no expect line") }
        self.expect = expect
        self.payloadSHA256 = payload
        self.identities = identities
        self.passphrases = passphrases
        self.armored = armored
        self.compressed = compressed
        self.body = Array(contents[(headerEnd + 2)...])
    }
}

enum AgeVectors {
    /// The folder, found by walking up from this source file (symlinks resolved, or not) and from
    /// the working directory, looking for `shared/vectors/age-cctv` beside an ancestor. A fresh
    /// clone keeps `shared/` next to the repository root, i.e. `<clone>/../shared`.
    static let directory: String? = {
        let file = URL(fileURLWithPath: #filePath)
        let starts = [
            file.deletingLastPathComponent(),
            file.resolvingSymlinksInPath().deletingLastPathComponent(),
            URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
        ]
        for start in starts {
            var directory = start.standardizedFileURL
            while true {
                let candidate = directory.appendingPathComponent("shared/vectors/age-cctv").path
                if FileManager.default.fileExists(atPath: candidate + "/README.upstream.md") { return candidate }
                let parent = directory.deletingLastPathComponent()
                if parent.path == directory.path { break }
                directory = parent
            }
        }
        return nil
    }()

    /// Every vector file (everything except the README files and UPSTREAM_COMMIT), sorted.
    static let all: [AgeVector] = {
        guard let directory, let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
            return []
        }
        return names.filter { !$0.hasPrefix("README") && $0 != "UPSTREAM_COMMIT" && !$0.hasPrefix(".") }.sorted()
            .compactMap { name in
                guard let data = FileManager.default.contents(atPath: directory + "/" + name) else { return nil }
                return try? AgeVector(name: name, contents: Array(data))
            }
    }()

    static var runnable: [AgeVector] { all.filter { $0.skipReason == nil } }

    /// The vector files in the folder (to check that every one of them parsed).
    static var fileCount: Int {
        guard let directory, let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
            return 0
        }
        return names.filter { !$0.hasPrefix("README") && $0 != "UPSTREAM_COMMIT" && !$0.hasPrefix(".") }.count
    }

    /// Where a failure must be reported with a more specific code than the default for its
    /// `expect` class. The README allows aliasing; these are the cases where Lifeboat says more.
    static let specificCodes: [String: AgeError.Code] = [
        // "header failure" for a file that simply ends too early: Lifeboat says truncated.
        "empty": .truncated,
        "stream_no_nonce": .truncated,
        "stream_short_nonce": .truncated,
        // "header failure" for something valid but refused: another version, too much work.
        "version_unsupported": .unsupported,
        "scrypt_work_factor_23": .unsupported,
        // "payload failure" where the file ends without a final chunk.
        "stream_no_chunks": .truncated,
        "stream_no_final": .truncated,
        "stream_no_final_full": .truncated,
        "stream_no_final_two_chunks": .truncated,
        "stream_no_final_two_chunks_full": .truncated,
        // "payload failure" where the file ends inside a chunk, before a whole tag.
        "stream_missing_tag": .truncated,
        "stream_short_chunk": .truncated,
        "stream_short_second_chunk": .truncated,
    ]

    /// The code `expect` maps to, for a vector without an entry in `specificCodes`.
    static func defaultCode(for expect: String) -> AgeError.Code? {
        switch expect {
        case "header failure": .headerInvalid
        case "no match": .noMatchingIdentity
        case "HMAC failure": .headerMACMismatch
        case "payload failure": .payloadCorrupted
        default: nil
        }
    }

    /// Vectors skipped on purpose, by name; the suite checks this is exactly the set whose headers
    /// say armored or name a non-X25519 identity.
    static let skippedArmored: Set<String> = [
        "armor_crlf", "armor_empty", "armor_empty_last_line", "armor_empty_line_begin", "armor_empty_line_end",
        "armor_eol_between_padding", "armor_full_last_line", "armor_garbage_encoded", "armor_garbage_leading",
        "armor_garbage_trailing", "armor_header_crlf", "armor_headers", "armor_hybrid",
        "armor_invalid_character_header", "armor_invalid_character_payload", "armor_long_line", "armor_lowercase",
        "armor_no_end_line", "armor_no_eol", "armor_no_match", "armor_no_padding", "armor_not_canonical",
        "armor_pgp_checksum", "armor_scrypt", "armor_short_line", "armor_whitespace_begin", "armor_whitespace_end",
        "armor_whitespace_eol", "armor_whitespace_last_line", "armor_whitespace_line_start",
        "armor_whitespace_outside", "armor_wrong_type", "armor_x25519",
    ]
    static let skippedHybrid: Set<String> = [
        "hybrid", "hybrid_and_x25519", "hybrid_bad_tag", "hybrid_currupted_enc_mlkem", "hybrid_currupted_enc_x25519",
        "hybrid_extra_argument", "hybrid_grease", "hybrid_identity", "hybrid_long_file_key", "hybrid_long_share",
        "hybrid_low_order", "hybrid_multiple_recipients", "hybrid_no_match", "hybrid_not_canonical_body",
        "hybrid_not_canonical_enc", "hybrid_short_share", "hybrid_uppercase", "hybrid_x25519_arg",
    ]
}

@Suite struct AgeVectorTests {
    @Test func vectorsAreFoundAndSkippedOnlyByName() throws {
        let directory = try #require(AgeVectors.directory, "shared/vectors/age-cctv not found above \(#filePath)")
        #expect(AgeVectors.all.count == AgeVectors.fileCount, "every vector file in \(directory) parses")
        #expect(AgeVectors.all.count == 143)

        let armored = Set(AgeVectors.all.filter(\.armored).map(\.name))
        let otherIdentity = Set(
            AgeVectors.all.filter { !$0.armored && $0.skipReason != nil }.map(\.name))
        #expect(armored == AgeVectors.skippedArmored)
        #expect(otherIdentity == AgeVectors.skippedHybrid)

        let ran = AgeVectors.runnable
        #expect(ran.count == 143 - 33 - 18)
        #expect(Set(ran.map(\.name)).isDisjoint(with: AgeVectors.skippedArmored.union(AgeVectors.skippedHybrid)))
        // Every override names a vector that runs, so none is stale.
        #expect(Set(AgeVectors.specificCodes.keys).isSubset(of: Set(ran.map(\.name))))
    }

    @Test(arguments: AgeVectors.runnable)
    func vector(_ vector: AgeVector) throws {
        let file = vector.compressed ? try TestSupport.zlibDecompress(vector.body) : vector.body
        let identities: [AgeIdentity] =
            try vector.identities.map { .x25519(try AgeX25519Identity(parsing: $0)) }
            + vector.passphrases.map { .scrypt(passphrase: $0, maxWorkFactor: 22) }
        let result = TestSupport.decrypt(file, identities: identities)

        if vector.expect == "success" {
            #expect(result.error == nil, "\(vector.name): \(String(describing: result.error))")
        } else {
            let expected = try #require(
                AgeVectors.specificCodes[vector.name] ?? AgeVectors.defaultCode(for: vector.expect),
                "\(vector.name): unknown expect \(vector.expect)")
            let error = try #require(result.error as? AgeError, "\(vector.name) should fail with \(expected)")
            #expect(error.code == expected, "\(vector.name): \(error)")
            // Header-stage failures come from init; payload failures only after the header was accepted.
            #expect(result.failedInHeader == (vector.expect != "payload failure"), "\(vector.name): wrong stage")
        }
        if let payload = vector.payloadSHA256 {
            #expect(Hex.encode(SHA256Hasher.hash(result.plaintext)) == payload, "\(vector.name): released plaintext")
        } else {
            #expect(result.plaintext.isEmpty)
        }
    }
}
