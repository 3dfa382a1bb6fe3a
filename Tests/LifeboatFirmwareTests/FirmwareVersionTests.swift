import LifeboatFirmware
import Testing

@Suite struct FirmwareVersionTests {
    /// The precedence chain from the SemVer 2.0.0 specification, §11.
    static let semverChain = [
        "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
        "1.0.0-rc.1", "1.0.0", "2.0.0", "2.1.0", "2.1.1",
    ]

    @Test func semverSpecificationOrder() throws {
        let versions = try Self.semverChain.map(FirmwareVersion.init)
        for (lower, higher) in zip(versions, versions.dropFirst()) {
            #expect(lower < higher, "\(lower) < \(higher)")
            #expect(!(higher < lower), "not \(higher) < \(lower)")
            #expect(lower != higher)
        }
        #expect(versions.shuffled().sorted().map(\.text) == Self.semverChain)
    }

    /// Pairs (lower, higher).
    static let ordered: [(String, String)] = [
        ("37.12", "37.12.0.1"),
        ("37.12.0.44", "37.12.0.45"),
        ("37.12.0.44", "37.12.1"),
        ("37.9.0.99", "37.12.0.1"),
        ("37.12.0.44", "38"),
        ("1.9.0", "1.10.0"),
        ("1.2.3-rc.9", "1.2.3-rc.10"),
        ("1.2.3-1", "1.2.3-a"),
        ("1.2.3-rc", "1.2.3-rc.0"),
        ("1.2.3-RC.1", "1.2.3-rc.1"),
        ("1.2.3-rc.1", "1.2.3"),
        ("1.2.3", "1.2.3.1-rc.1"),
        ("18446744073709551614", "18446744073709551615"),
    ]

    @Test(arguments: ordered)
    func pairsOrder(lower: String, higher: String) throws {
        let a = try FirmwareVersion(lower)
        let b = try FirmwareVersion(higher)
        #expect(a < b)
        #expect(b > a)
        #expect(a != b)
    }

    static let equal: [(String, String)] = [
        ("37.12.0", "37.12"),
        ("37.12.0.0.0", "37.12"),
        ("1.2.3+build.5", "1.2.3"),
        ("1.2.3-rc.1+a", "1.2.3-rc.1+b"),
        ("v1.2.3", "1.2.3"),
        (" 37.12.0.44\n", "37.12.0.44"),
        ("007.1", "7.1"),
    ]

    @Test(arguments: equal)
    func equalPrecedence(a: String, b: String) throws {
        let x = try FirmwareVersion(a)
        let y = try FirmwareVersion(b)
        #expect(x == y)
        #expect(!(x < y) && !(y < x))
        #expect(Set([x, y]).count == 1, "hashing agrees with ==")
    }

    @Test func partsAreKept() throws {
        let version = try FirmwareVersion("1.2.3-rc.1+build.5")
        #expect(version.components == [1, 2, 3])
        #expect(version.preRelease == [.alphanumeric("rc"), .numeric(1)])
        #expect(version.build == ["build", "5"])
        #expect(version.description == "1.2.3-rc.1+build.5")
        let yeastar = try FirmwareVersion("37.12.0.44")
        #expect(yeastar.components == [37, 12, 0, 44])
        #expect(yeastar.preRelease.isEmpty)
    }

    static let garbage: [(String, String)] = [
        ("", "empty"),
        ("   ", "empty"),
        ("v", "\"\" is not a decimal number"),
        ("latest", "\"latest\" is not a decimal number"),
        ("37..12", "\"\" is not a decimal number"),
        ("37.12.", "\"\" is not a decimal number"),
        (".37", "\"\" is not a decimal number"),
        ("37.12a", "\"12a\" is not a decimal number"),
        ("1.2.3-", "pre-release identifier \"\" is empty"),
        ("1.2.3-rc..1", "pre-release identifier \"\" is empty"),
        ("1.2.3-rc.01", "leading zero"),
        ("1.2.3-rc_1", "\"rc_1\""),
        ("1.2.3+", "build metadata identifier \"\" is empty"),
        ("1.2.3+a+b", "\"a+b\""),
        ("18446744073709551616", "too large"),
        ("1 .2", "\"1 \" is not a decimal number"),
        ("٣.٤", "is not a decimal number"),
        (String(repeating: "1.", count: 200) + "1", "longer than 256"),
    ]

    @Test(arguments: garbage)
    func garbageIsRefused(text: String, expected: String) throws {
        let error = try #require(throws: FirmwareError.self) { try FirmwareVersion(text) }
        #expect(error.code == .invalidVersion)
        #expect(error.message.contains(expected), "\(error.message)")
        #expect(error.message.contains("expected dotted numbers"))
    }
}
