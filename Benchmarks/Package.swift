// swift-tools-version: 6.1
// XenScope benchmarks: plain release-mode executables, one per topic.
// Build: `make bench` (or `swift build -c release` here); run .build/release/<name>.
import PackageDescription

/// Products of the root package, as dependencies.
func xenscope(_ products: String...) -> [Target.Dependency] {
    products.map { .product(name: $0, package: "XenScope") }
}

/// One benchmark executable (Sources/<name>).
func bench(_ name: String, _ deps: [Target.Dependency]) -> Target {
    .executableTarget(name: name, dependencies: deps)
}

let package = Package(
    name: "XenScopeBenchmarks",
    dependencies: [
        .package(name: "XenScope", path: ".."),
    ],
    targets: [
        // Producer threads and the per-event timing loop, in C like real producers.
        .target(name: "ProducerBenchC", dependencies: xenscope("CTraceBuffer")),
        // Child-process timing (wall, CPU, peak RSS) shared by the trace benchmarks.
        .target(name: "BenchSupport"),
        // ns per event, collector throughput, loss at 1/10/50 M events/s.
        bench("producer", ["ProducerBenchC"] + xenscope("TraceRing", "Collector", "CTraceBuffer")),
        // Decode to /dev/null: MB/s, records/s, peak RSS (docs/performance.md, "Trace decode").
        bench("trace-decode", xenscope("XenTrace", "XenTraceFormats")),
        // Trace summary vs `xenalyze --summary` vs `cat` on a generated 1 GB trace.
        bench("trace-summary", xenscope("XenTrace", "XenTraceAnalysis")),
        // `trace diff` of two saved ~41 MB summaries: JSONDecoder vs the pull reader (time, peak RSS).
        bench("trace-diff", ["BenchSupport"] + xenscope("XenTrace", "XenTraceAnalysis", "BinaryIO")),
        // Trace reader: `trace info` figures and full record iteration (file and
        // TSC order) on a generated 1 GB trace, beside `cat FILE > /dev/null`.
        bench("trace-read", ["BenchSupport"] + xenscope("XenTrace", "BinaryIO")),
        // gdb through `xenscope gdbstub` vs QEMU's gdbstub: 64 MiB reads, round trips.
        bench("gdbstub", xenscope("GDBRemote", "GDBBackends")),
        // Crash analysis: first backtrace, console log, page-table walk, page reads on 64 MiB–8 GiB dumps.
        bench("crash", xenscope("CrashAnalysis", "Dump", "DWARF")),
        // Linux guest (Debian 6.1, 1 GiB, 633 MB vmlinux): first backtrace and full log vs crash, gdb, drgn.
        bench("linux-crash", xenscope("CrashAnalysis")),
        // Random addresses in a large debug binary vs eu-addr2line, addr2line, llvm-symbolizer.
        bench("symbolize", xenscope("DWARF", "ELF")),
    ],
    swiftLanguageModes: [.v6]
)
