// swift-tools-version: 6.0
import PackageDescription

let strict: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]

let package = Package(
    name: "lifeboat",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "lifeboat", targets: ["lifeboat"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    ],
    targets: [
        // C libraries from Debian, each imported by exactly one Swift module.
        .systemLibrary(
            name: "COpenSSL", pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]),
        .systemLibrary(
            name: "CArchive", pkgConfig: "libarchive",
            providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(
            name: "CZstd", pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(
            name: "CCurl", pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(
            name: "CSSH", pkgConfig: "libssh",
            providers: [.apt(["libssh-dev"])]),

        .target(name: "LifeboatCore", swiftSettings: strict),
        .target(
            name: "LifeboatCrypto", dependencies: ["COpenSSL", "LifeboatCore"],
            swiftSettings: strict),
        .target(
            name: "LifeboatArchive", dependencies: ["CArchive", "CZstd", "LifeboatCore"],
            swiftSettings: strict),
        .target(
            name: "LifeboatCurl", dependencies: ["CCurl", "LifeboatCore"],
            swiftSettings: strict),
        .target(
            name: "LifeboatSSH", dependencies: ["CSSH", "LifeboatCore"],
            swiftSettings: strict),
        .target(
            name: "LifeboatStores",
            dependencies: [
                "LifeboatCore", "LifeboatCurl", "LifeboatSSH", "LifeboatCrypto",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .target(name: "LifeboatSchedule", dependencies: ["LifeboatCore"], swiftSettings: strict),
        .target(
            name: "LifeboatNotify",
            dependencies: [
                "LifeboatCore", "LifeboatCurl", "LifeboatCrypto",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .target(
            name: "LifeboatFirmware",
            dependencies: [
                "LifeboatCore", "LifeboatCrypto", "LifeboatCurl",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .target(
            name: "LifeboatBackup",
            dependencies: [
                "LifeboatCore", "LifeboatCrypto", "LifeboatArchive", "LifeboatStores",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .target(
            name: "LifeboatAgent",
            dependencies: [
                "LifeboatCore", "LifeboatCrypto", "LifeboatArchive", "LifeboatStores", "LifeboatBackup",
                "LifeboatSchedule", "LifeboatNotify", "LifeboatFirmware",
                .product(name: "Yams", package: "Yams"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "lifeboat",
            dependencies: [
                "LifeboatAgent",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),

        .testTarget(name: "LifeboatCoreTests", dependencies: ["LifeboatCore"]),
        .testTarget(name: "LifeboatCryptoTests", dependencies: ["LifeboatCrypto", "LifeboatCore"]),
        .testTarget(name: "LifeboatArchiveTests", dependencies: ["LifeboatArchive", "LifeboatCore"]),
        .testTarget(name: "LifeboatCurlTests", dependencies: ["LifeboatCurl", "LifeboatCore"]),
        .testTarget(name: "LifeboatSSHTests", dependencies: ["LifeboatSSH", "LifeboatCore"]),
        .testTarget(
            name: "LifeboatStoresTests",
            dependencies: ["LifeboatStores", "LifeboatCore", "LifeboatCurl", "LifeboatSSH", "LifeboatCrypto"]),
        .testTarget(name: "LifeboatScheduleTests", dependencies: ["LifeboatSchedule", "LifeboatCore"]),
        .testTarget(
            name: "LifeboatBackupTests",
            dependencies: [
                "LifeboatBackup", "LifeboatCore", "LifeboatCrypto", "LifeboatArchive", "LifeboatStores",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]),
        .testTarget(
            name: "LifeboatNotifyTests",
            dependencies: ["LifeboatNotify", "LifeboatCore", "LifeboatCurl", "LifeboatCrypto"]),
        .testTarget(
            name: "LifeboatFirmwareTests",
            dependencies: [
                "LifeboatFirmware", "LifeboatCore", "LifeboatCrypto", "LifeboatCurl",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "LifeboatAgentTests",
            dependencies: [
                "LifeboatAgent", "LifeboatCore", "LifeboatSchedule", "LifeboatNotify",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "LifeboatEndToEndTests",
            dependencies: ["LifeboatCore", "LifeboatCrypto", "LifeboatCurl"]),
    ],
    swiftLanguageModes: [.v6]
)
