// swift-tools-version: 6.1
// XenScope benchmarks: plain release-mode executables, one per topic.
// Build: `make bench` (or `swift build -c release` here); run .build/release/<name>.
import PackageDescription

let package = Package(
    name: "XenScopeBenchmarks",
    dependencies: [
        .package(name: "XenScope", path: ".."),
    ],
    targets: [
        // Producer threads and the per-event timing loop, in C like real producers.
        .target(name: "ProducerBenchC", dependencies: [
            .product(name: "CTraceBuffer", package: "XenScope"),
        ]),
        // ns per event, collector throughput, loss at 1/10/50 M events/s.
        .executableTarget(name: "producer", dependencies: [
            "ProducerBenchC",
            .product(name: "TraceRing", package: "XenScope"),
            .product(name: "Collector", package: "XenScope"),
            .product(name: "CTraceBuffer", package: "XenScope"),
        ]),
        // Decode to /dev/null: MB/s, records/s, peak RSS (docs/performance.md, "Trace decode").
        .executableTarget(name: "trace-decode", dependencies: [
            .product(name: "XenTrace", package: "XenScope"),
            .product(name: "XenTraceFormats", package: "XenScope"),
        ]),
        // Trace summary vs `xenalyze --summary` vs `cat` on a generated 1 GB trace.
        .executableTarget(name: "trace-summary", dependencies: [
            .product(name: "XenTrace", package: "XenScope"),
            .product(name: "XenTraceAnalysis", package: "XenScope"),
        ]),
        // Trace reader: `trace info` figures and full record iteration (file and
        // TSC order) on a generated 1 GB trace, beside `cat FILE > /dev/null`.
        .executableTarget(name: "trace-read", dependencies: [
            .product(name: "XenTrace", package: "XenScope"),
            .product(name: "BinaryIO", package: "XenScope"),
        ]),
        // gdb through `xenscope gdbstub` vs QEMU's gdbstub: 64 MiB reads, round trips.
        .executableTarget(name: "gdbstub", dependencies: [
            .product(name: "GDBRemote", package: "XenScope"),
            .product(name: "GDBBackends", package: "XenScope"),
        ]),
        // Crash analysis: first backtrace, console log, page-table walk, page reads on 64 MiB–8 GiB dumps.
        .executableTarget(name: "crash", dependencies: [
            .product(name: "CrashAnalysis", package: "XenScope"),
            .product(name: "Dump", package: "XenScope"),
            .product(name: "DWARF", package: "XenScope"),
        ]),
        // Linux guest (Debian 6.1, 1 GiB, 633 MB vmlinux): first backtrace and full log vs crash, gdb, drgn.
        .executableTarget(name: "linux-crash", dependencies: [
            .product(name: "CrashAnalysis", package: "XenScope"),
        ]),
        // Random addresses in a large debug binary vs eu-addr2line, addr2line, llvm-symbolizer.
        .executableTarget(name: "symbolize", dependencies: [
            .product(name: "DWARF", package: "XenScope"),
            .product(name: "ELF", package: "XenScope"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
