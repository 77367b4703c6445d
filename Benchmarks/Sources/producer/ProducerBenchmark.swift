import Collector
import CTraceBuffer
import ProducerBenchC
import TraceRing
#if canImport(Glibc)
import Glibc
#endif

/// Producer and collector benchmark (docs/performance.md, "Producer and collector"):
/// 1. ns per event for 0–7 words, with and without TSC (one thread, ideal consumer);
/// 2. two producers at 1, 10 and 50 M events/s in total for a few seconds
///    while the collector drains default-size rings (32 pages) into a file
///    on tmpfs (/dev/shm): records lost, collector MB/s.
@main
struct ProducerBenchmark {
    static func main() throws {
        // Arguments: [seconds per rate, default 3] [collector nice value, default 0] [ring pages, default 32]
        let seconds = CommandLine.arguments.count > 1 ? Double(CommandLine.arguments[1]) ?? 3 : 3
        let collectorNice = CommandLine.arguments.count > 2 ? Int32(CommandLine.arguments[2]) ?? 0 : 0
        let pages = CommandLine.arguments.count > 3 ? Int(CommandLine.arguments[3]) ?? 32 : 32
        let skipNs = CommandLine.arguments.count > 4 && CommandLine.arguments[4] == "rates-only"
        if collectorNice != 0 {
            // Linux: setpriority on a thread id changes that thread only (the
            // producer threads are created later by C and start at nice 0).
            if bench_set_thread_nice(collectorNice) != 0 { print("setpriority failed") }
        }
        if !skipNs {
        print("## ns per event (1 thread, thread CPU time, ring emptied every 1024 events)")
            let region = try SharedRegion.create(path: "xenscope-bench-\(getpid())", cpus: 1, pages: 32)
            region.unlinkFile()
            region.setEnabled(true)
            let p = try region.makeProducer()
            var line = "| words |"
            for n in 0...7 { line += " \(n) |" }
            print(line)
            print("|---|" + String(repeating: "---|", count: 8))
            for tsc in [true, false] {
                var row = tsc ? "| with TSC |" : "| no TSC |"
                for n in UInt32(0)...7 {
                    _ = bench_ns_per_event(p.context, 0, n, tsc ? 1 : 0, 2_000_000)   // warm-up
                    let best = (0..<3).map { _ in bench_ns_per_event(p.context, 0, n, tsc ? 1 : 0, 20_000_000) }.min()!
                    row += " \(fmt(best)) |"
                }
                print(row)
            }
        }

        print("\n## 2 producers, \(pages)-page rings, collector (nice \(collectorNice)) to tmpfs, \(seconds) s each (records: TSC + 2 words, 20 bytes)")
        print("| target rate (total) | produced | achieved rate | lost | lost % | file MB | collector MB/s (wall) | collector CPU s per GB | longest gap between passes (ms) |")
        print("|---|---|---|---|---|---|---|---|---|")
        for rate in [1e6, 10e6, 50e6, 0] {
            let name = "xenscope-bench-\(getpid())-\(Int(rate))"
            let region = try SharedRegion.create(path: name, cpus: 2, pages: pages)
            defer { region.unlinkFile() }
            let p = try region.makeProducer()
            let file = "/dev/shm/xenscope-bench-\(getpid()).trace"
            unlink(file)
            defer { unlink(file) }
            let backend = try SharedMemoryBackend(name: region.path, pages: nil)
            let collector = Collector(backend: backend, sink: try TraceFileSink(path: file), options: CollectorOptions())
            // Producers wait for the collector to enable tracing.
            let workers = StartAfterEnable(region: region, ctx: p.context, rate: rate / 2, seconds: seconds)
            let cpu0 = bench_thread_cpu_seconds()
            let stats = try collector.run(stopRequested: { workers.startIfEnabled(); return nil }, progress: { _ in })
            let cpuSeconds = bench_thread_cpu_seconds() - cpu0
            let (produced, lost) = workers.join()
            let achieved = Double(produced) / seconds
            let mbps = Double(stats.bytes) / 1e6 / stats.elapsedSeconds
            print("| \(rate == 0 ? "full speed" : "\(Int(rate / 1e6)) M/s") | \(produced) | \(fmt(achieved / 1e6)) M/s | \(lost) | \(fmt(100 * Double(lost) / Double(max(produced, 1)))) | \(fmt(Double(stats.bytes) / 1e6)) | \(fmt(mbps)) | \(fmt(cpuSeconds / (Double(stats.bytes) / 1e9))) | \(fmt(stats.longestGapSeconds * 1000)) |")
            if stats.lost != lost { print("  MISMATCH: file reports \(stats.lost) lost, producers counted \(lost)") }
        }
    }
}

/// Starts the producer threads once the collector has enabled tracing.
final class StartAfterEnable {
    let region: SharedRegion
    let ctx: UnsafeMutablePointer<tb_ctx>
    let rate: Double, seconds: Double
    var handle: OpaquePointer? = nil
    init(region: SharedRegion, ctx: UnsafeMutablePointer<tb_ctx>, rate: Double, seconds: Double) {
        self.region = region; self.ctx = ctx; self.rate = rate; self.seconds = seconds
    }
    func startIfEnabled() {
        if handle == nil && region.isEnabled { handle = bench_start(ctx, 2, rate, seconds, 2) }
    }
    func join() -> (UInt64, UInt64) {
        var produced: UInt64 = 0, lost: UInt64 = 0
        if let handle { bench_join(handle, &produced, &lost) }
        return (produced, lost)
    }
}

func fmt(_ v: Double) -> String {
    let r = (v * 10).rounded() / 10
    return "\(r)"
}
