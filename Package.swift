// swift-tools-version: 6.1
// XenScope: diagnostics and tracing for the Xen hypervisor.
// Data path: bytes (BinaryIO) → records (XenTrace) → events/analyses → output (CLI).
import PackageDescription

let package = Package(
    name: "XenScope",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "xenscope", targets: ["XenScopeCLI"]),
        .library(name: "BinaryIO", targets: ["BinaryIO"]),
        .library(name: "XenTrace", targets: ["XenTrace"]),
        .library(name: "ELF", targets: ["ELF"]),
        .library(name: "XenTraceAnalysis", targets: ["XenTraceAnalysis"]),
        .library(name: "JSONPull", targets: ["JSONPull"]),
        .library(name: "GDBRemote", targets: ["GDBRemote"]),
        .library(name: "GDBBackends", targets: ["GDBBackends"]),
        .library(name: "DWARF", targets: ["DWARF"]),
        .library(name: "Dump", targets: ["Dump"]),
        .library(name: "CrashAnalysis", targets: ["CrashAnalysis"]),
        .library(name: "XenTraceFormats", targets: ["XenTraceFormats"]),
        .library(name: "CTraceBuffer", targets: ["CTraceBuffer"]),
        .library(name: "TraceRing", targets: ["TraceRing"]),
        .library(name: "Collector", targets: ["Collector"]),
        .executable(name: "xenscope-trace-producer", targets: ["TraceProducer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
    ],
    targets: [
        // MARK: bytes
        // System compression libraries (apt: zlib1g-dev liblzma-dev libzstd-dev liblzo2-dev libsnappy-dev).
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CLZMA", path: "Sources/CLZMA", providers: [.apt(["liblzma-dev"])]),
        .systemLibrary(name: "CZstd", path: "Sources/CZstd", providers: [.apt(["libzstd-dev"])]),
        // kdump-compressed lzo and snappy pages (apt: liblzo2-dev libsnappy-dev).
        .systemLibrary(name: "CLZO", path: "Sources/CLZO", providers: [.apt(["liblzo2-dev"])]),
        .systemLibrary(name: "CSnappy", path: "Sources/CSnappy", providers: [.apt(["libsnappy-dev"])]),
        .target(name: "BinaryIO", dependencies: [
            "CZlib", "CLZMA", "CZstd",
            .product(name: "SystemPackage", package: "swift-system"),
        ]),

        // MARK: ELF files (headers, notes, build-ids, cores)
        .target(name: "ELF", dependencies: ["BinaryIO"]),

        // MARK: DWARF (elfutils): symbolizer, unwinder
        .systemLibrary(name: "CElfUtils", path: "Sources/CElfUtils", providers: [.apt(["libdw-dev", "libelf-dev"])]),
        .target(name: "DWARF", dependencies: ["BinaryIO", "ELF", "CElfUtils"]),
        // MARK: memory dumps (ELF core, kdump-compressed, xc_core; page walker)
        .target(name: "Dump", dependencies: ["BinaryIO", "ELF", "CZlib", "CZstd", "CLZO", "CSnappy"]),

        // MARK: crash analysis (panic, console ring, registers, backtraces)
        .target(name: "CrashAnalysis", dependencies: ["Dump", "DWARF", "ELF", "BinaryIO"]),

        // MARK: trace records
        // The reader is the hot path of every trace test: optimise it even in
        // debug builds (tests on 300 MB inputs would otherwise take minutes).
        .target(name: "XenTrace", dependencies: ["BinaryIO"],
                swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))]),
        // MARK: events: the catalogue, formats files, decoding to text/JSON/CSV
        .target(name: "XenTraceFormats", dependencies: ["XenTrace", "BinaryIO"]),

        // MARK: analyses and their outputs
        .target(name: "XenTraceAnalysis", dependencies: ["XenTrace", "BinaryIO", "JSONPull"]),
        // A pull reader for JSON text in memory (saved summaries for `trace diff`).
        .target(name: "JSONPull", dependencies: ["BinaryIO"]),

        // MARK: gdb remote serial protocol (engine + transports; no dependencies)
        .target(name: "GDBRemote"),
        // Targets gdb can attach to: core files (later dumps, live Xen).
        .target(name: "GDBBackends", dependencies: ["GDBRemote", "ELF", "Dump", "CrashAnalysis", "DWARF", "XenControl", "BinaryIO"]),

        // MARK: trace producer side: Xen-layout rings, consumer, collector
        .target(name: "CTraceBuffer"),
        .target(name: "TraceRing", dependencies: ["CTraceBuffer"]),
        .target(name: "XenControl"),
        .target(name: "Collector", dependencies: ["TraceRing", "XenControl", "XenTrace"]),
        // A C program that emits a known sequence from N threads, one per ring.
        .executableTarget(name: "TraceProducer", dependencies: ["CTraceBuffer"], path: "samples/producer"),

        // MARK: command line
        .executableTarget(name: "XenScopeCLI", dependencies: [
            "BinaryIO", "XenTrace", "XenTraceAnalysis", "GDBRemote", "GDBBackends", "DWARF", "Dump", "CrashAnalysis", "ELF", "XenControl",
            "XenTraceFormats",
            "Collector",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        // MARK: tests
        .testTarget(name: "BinaryIOTests", dependencies: ["BinaryIO"]),
        .target(name: "FixtureSupport", path: "Tests/FixtureSupport"),
        .testTarget(name: "ELFTests", dependencies: ["ELF", "BinaryIO", "FixtureSupport"]),
        .testTarget(name: "DWARFTests", dependencies: ["DWARF", "ELF", "BinaryIO", "FixtureSupport"]),
        .target(name: "CrashTestSupport", path: "Tests/CrashTestSupport"),
        .testTarget(name: "DumpTests", dependencies: ["Dump", "ELF", "BinaryIO", "CrashTestSupport"]),
        .testTarget(name: "CrashAnalysisTests", dependencies: ["CrashAnalysis", "Dump", "DWARF", "CrashTestSupport", "FixtureSupport"]),
        .testTarget(name: "XenTraceTests", dependencies: ["XenTrace", "BinaryIO"]),
        .target(name: "LabTestSupport", dependencies: ["XenTrace", "Dump"], path: "Tests/LabTestSupport"),
        .testTarget(name: "LabTests", dependencies: ["XenTrace", "XenTraceAnalysis", "Dump", "CrashAnalysis", "BinaryIO", "ELF", "DWARF", "LabTestSupport"]),
        .testTarget(name: "LabExtraTests", dependencies: ["XenTrace", "XenTraceAnalysis", "Dump", "LabTestSupport"]),
        .testTarget(name: "XenTraceAnalysisTests", dependencies: ["XenTraceAnalysis", "XenTrace", "BinaryIO"]),
        .testTarget(name: "JSONPullTests", dependencies: ["JSONPull", "BinaryIO"]),
        .testTarget(name: "GDBRemoteTests", dependencies: ["GDBRemote", "GDBBackends", "ELF", "Dump", "CrashAnalysis", "DWARF", "XenControl", "CrashTestSupport"]),
        .testTarget(name: "XenTraceFormatsTests", dependencies: ["XenTraceFormats", "XenTrace", "BinaryIO"]),
        .testTarget(name: "TraceRingTests", dependencies: ["TraceRing", "CTraceBuffer", "XenTrace"]),
        .testTarget(name: "CollectorTests", dependencies: ["Collector", "TraceRing", "CTraceBuffer", "XenTrace"]),
    ],
    swiftLanguageModes: [.v6]
)
