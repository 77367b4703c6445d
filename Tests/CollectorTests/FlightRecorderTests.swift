import Collector
import Foundation
import Testing
import TraceRing
import XenTrace

/// The flight recorder, -x/-X and the disk reserve on the shared-memory
/// backend, in process: a Swift producer writes a known stream between the
/// collector's passes (its stop callback runs once per pass), so every
/// window — and so the exact expected output — is known.
@Suite(.serialized) struct FlightRecorderTests {
    /// One generated record: which CPU, its sequence number on that CPU, its size.
    struct Gen: Equatable { let cpu: UInt32; let seq: UInt32; let size: Int }

    /// Pass k (1-based) writes `3 + (k + 2·cpu) % 5` records on each CPU,
    /// 1…7 words (the first is the sequence number), every fifth without TSC.
    static func stream(passes: Int) -> [[Gen]] {
        var seq: [UInt32] = [0, 0]
        var windows: [[Gen]] = []
        for k in 1...passes {
            for cpu in 0..<2 {
                var w: [Gen] = []
                for _ in 0..<(3 + (k + 2 * cpu) % 5) {
                    let s = seq[cpu]; seq[cpu] += 1
                    let words = 1 + Int(s % 7), tsc = s % 5 != 4
                    w.append(Gen(cpu: UInt32(cpu), seq: s, size: 4 + (tsc ? 8 : 0) + 4 * words))
                }
                windows.append(w)
            }
        }
        return windows
    }

    static func emit(_ p: TraceProducer, _ w: [Gen]) {
        for g in w {
            let words = (g.size - 4) / 4 - (g.seq % 5 != 4 ? 2 : 0)
            let r = p.event(cpu: g.cpu, 0x0008_1000 | (g.seq & 0xfff), (0..<words).map { $0 == 0 ? g.seq : g.seq &* 31 &+ UInt32($0) }, tsc: g.seq % 5 != 4)
            precondition(r == .written, "producer: \(r)")
        }
    }

    /// The longest suffix of the stream whose output (records plus a 12-byte
    /// CPU-change record per window it touches) fits in `capacity`; then,
    /// if that starts inside a pass over the CPUs (a CPU-1 window, or a
    /// CPU-0 window missing its oldest records) and a later whole pass is
    /// kept, from that pass on.
    static func expected(_ windows: [[Gen]], capacity: Int) -> (kept: [[Gen]], dropped: [UInt32: OverwrittenCount], bytes: Int) {
        var kept: [(index: Int, gens: [Gen], whole: Bool)] = [], used = 0, dropped: [UInt32: OverwrittenCount] = [:]
        func drop(_ g: Gen) {
            dropped[g.cpu, default: OverwrittenCount()].records += 1
            dropped[g.cpu, default: OverwrittenCount()].bytes += Int64(g.size)
        }
        var full = false
        for (i, w) in windows.enumerated().reversed() {
            var part: [Gen] = []
            for g in w.reversed() {
                let cost = g.size + (part.isEmpty ? 12 : 0)
                if full || used + cost > capacity { full = true; drop(g) } else { used += cost; part.insert(g, at: 0) }
            }
            if !part.isEmpty { kept.insert((i, part, part.count == w.count), at: 0) }
        }
        func passStart(_ k: (index: Int, gens: [Gen], whole: Bool)) -> Bool { k.whole && k.gens[0].cpu == 0 }
        if let f = kept.first, !passStart(f), let next = kept.firstIndex(where: passStart) {
            for k in kept[..<next] { used -= 12 + k.gens.reduce(0) { $0 + $1.size }; k.gens.forEach(drop) }
            kept.removeFirst(next)
        }
        return (kept.map(\.gens), dropped, used)
    }

    struct Run {
        var stats: CollectorStats
        var records: [TraceRecord]
        var diagnostics: [TraceDiagnostic]
        var size: Int
        var file: String
        var enabledAfter: Bool
    }

    /// Records `passes` passes of the stream through a collector built by
    /// `options`/`sink`; `between` may act on the region between passes.
    func run(passes: Int, options: CollectorOptions = CollectorOptions(), dir: String? = nil,
             sink makeSink: (TraceFileSink) throws -> TraceSink = { $0 },
             between: ((Int, SharedRegion, TraceProducer) -> Void)? = nil) throws -> Run {
        let name = "/dev/shm/xenscope-fr-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let region = try SharedRegion.create(path: name, cpus: 2, pages: 4)   // no ring wraps: no padding records
        defer { region.unlinkFile() }
        let p = try region.makeProducer()
        let file = (dir ?? NSTemporaryDirectory()) + "/xenscope-fr-\(UUID().uuidString).trace"
        var opts = options
        opts.closeGraceSeconds = 0.05
        let fileSink = try TraceFileSink(path: file)
        let collector = Collector(backend: try SharedMemoryBackend(name: name, pages: 4), sink: try makeSink(fileSink), options: opts)
        let windows = Self.stream(passes: passes)
        var pass = 0
        let stats = try collector.run(stopRequested: {
            pass += 1
            if let between { between(pass, region, p) }
            else if pass <= passes { Self.emit(p, windows[2 * (pass - 1)]); Self.emit(p, windows[2 * (pass - 1) + 1]) }
            return pass == passes + 1 ? "test stop" : nil
        }, progress: { _ in })
        var out: [TraceRecord] = []
        let d = try TraceInput.open(file).forEachRecord(order: .file) { out.append($0); return true }
        let size = try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
        return Run(stats: stats, records: out, diagnostics: d, size: size, file: file, enabledAfter: region.isEnabled)
    }

    /// The file's windows as (cpu, [seq]) from its records.
    func windows(_ records: [TraceRecord]) -> [(UInt32, [UInt32])] {
        var out: [(UInt32, [UInt32])] = []
        for r in records {
            if r.event == EventID.cpuChange { out.append((r.extra.w0, [])) }
            else if r.event != EventID.wrapBuffer { out[out.count - 1].1.append(r.extra.w0) }
        }
        return out
    }

    @Test(arguments: [64, 100, 333, 700, 1234, 2500, 100_000])
    func flightRecorderKeepsExactlyTheNewestRecordsThatFit(_ capacity: Int) throws {
        let passes = 12
        let all = Self.stream(passes: passes)
        let want = Self.expected(all, capacity: capacity)
        var fr: FlightRecorderSink?
        let r = try run(passes: passes, sink: { let s = try FlightRecorderSink(capacity: capacity, output: $0); fr = s; return s })
        defer { unlink(r.file) }
        #expect(r.diagnostics.isEmpty)
        #expect(r.size == want.bytes && r.stats.bytes == Int64(want.bytes))
        #expect(r.size <= capacity)
        let got = windows(r.records)
        // From 333 bytes on the buffer holds a whole pass: the file starts with one.
        if capacity >= 333 { #expect(got.first?.0 == 0 && got.count >= 2) }
        #expect(got.map(\.0) == want.kept.map { $0[0].cpu })
        #expect(got.map(\.1) == want.kept.map { $0.map(\.seq) })
        #expect(r.stats.overwritten == want.dropped)
        #expect(fr?.heldRecords == want.kept.reduce(0) { $0 + $1.count })
        let total = all.reduce(0) { $0 + $1.count }
        #expect(r.stats.records == total)
        #expect(r.stats.overwritten.values.reduce(0) { $0 + $1.records } + want.kept.reduce(0) { $0 + $1.count } == total)
        // Every kept record intact: size, TSC presence and words as generated.
        for rec in r.records where rec.event != EventID.cpuChange {
            let s = rec.extra.w0
            #expect(rec.event == 0x0008_1000 | (s & 0xfff) && rec.hasTSC == (s % 5 != 4) && rec.extraCount == 1 + Int(s % 7))
        }
        if capacity >= 100_000 { #expect(r.stats.overwritten.isEmpty && got.count == 2 * passes) }
        // Debian's xentrace_format reads it with the same per-CPU counts
        // (it prints the CPU-change records too).
        let counts = try xentraceFormatCounts(r.file)
        var ours: [UInt32: Int] = [:]
        for w in want.kept { ours[w[0].cpu, default: 0] += 1 + w.count }
        #expect(counts == ours)
    }

    @Test func aWindowLargerThanTheBufferKeepsItsNewestRecords() throws {
        // One pass writes 60 records on CPU 0 into a 400-byte buffer.
        var fr: FlightRecorderSink?
        var seqs: [UInt32] = []
        let r = try run(passes: 1, sink: { let s = try FlightRecorderSink(capacity: 400, output: $0); fr = s; return s }, between: { pass, _, p in
            guard pass == 1 else { return }
            for i in UInt32(0)..<60 { #expect(p.event(cpu: 0, 0x0008_1001, [i, 0, 0]) == .written); seqs.append(i) }   // 24 bytes each
        })
        defer { unlink(r.file) }
        // (400 − 12) / 24 = 16 records: the last 16.
        #expect(windows(r.records).map(\.1) == [Array(44..<60)])
        #expect(r.size == 12 + 16 * 24)
        #expect(r.stats.overwritten == [0: OverwrittenCount(records: 44, bytes: 44 * 24)])
        #expect(fr?.heldRecords == 16)
    }

    /// -X: masks set, tracing left disabled until someone else enables it;
    /// -x: tracing still enabled after the recorder stopped.
    @Test(arguments: [false, true])
    func startDisabledAndLeaveEnabled(_ leave: Bool) throws {
        var options = CollectorOptions()
        options.startDisabled = true
        options.leaveTracingEnabled = leave
        var results: [TraceResult] = []
        let r = try run(passes: 3, options: options, between: { pass, region, p in
            switch pass {
            case 1: results.append(p.event(cpu: 1, 0x0008_1001, [1]))   // before anyone enabled tracing
            case 2: region.setEnabled(true); results.append(p.event(cpu: 1, 0x0008_1001, [2]))
            case 3: results.append(p.event(cpu: 0, 0x0008_1001, [3]))
            default: break
            }
        })
        defer { unlink(r.file) }
        #expect(results == [.disabled, .written, .written])
        #expect(windows(r.records).map(\.0) == [1, 0] && windows(r.records).map(\.1) == [[2], [3]])
        #expect(r.enabledAfter == leave)
        #expect(r.stats.records == 2)
    }

    /// --reserve-disk-space on a 1 MiB tmpfs: the file grows window by window
    /// until the next window would leave less than the reserve free; tmpfs
    /// charges whole 4 KiB pages, so the stopping window is known exactly.
    @Test(arguments: [false, true])
    func diskReserveStopsBeforeTheDiskFillsUp(_ flightRecorder: Bool) throws {
        let mnt = try makeTempDir("reserve") + "/small"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: mnt).deletingLastPathComponent().path) }
        try #require(mountSmallTmpfs(mnt), tmpfsNeedsRoot)
        defer { unmount(mnt) }
        var s = statvfs()
        try #require(statvfs(mnt, &s) == 0)
        let total = Int64(s.f_bavail) * Int64(s.f_frsize)
        let reserve = total - 10_000
        let passes = 40
        let all = Self.stream(passes: passes).filter { !$0.isEmpty }
        let r = try run(passes: passes, dir: mnt, sink: {
            $0.reserveBytes = reserve
            return flightRecorder ? try FlightRecorderSink(capacity: 1 << 20, output: $0) : $0
        })
        let page = Int64(s.f_frsize)
        if flightRecorder {
            // All collected; at the end only the newest that leave the reserve free are written.
            #expect(!r.stats.reserveReached)
            #expect(r.stats.records == all.reduce(0) { $0 + $1.count })
            let want = Self.expected(all, capacity: 10_000 - 10_000 % Int(page))
            #expect(windows(r.records).map(\.1) == want.kept.map { $0.map(\.seq) })
            #expect(r.stats.overwritten == want.dropped)
        } else {
            // Written window by window until free − (next window) < reserve.
            var size: Int64 = 0, n = 0
            for w in all {
                let next = Int64(12 + w.reduce(0) { $0 + $1.size })
                let free = total - (size + page - 1) / page * page
                if free - next < reserve { break }
                size += next; n += 1
            }
            #expect(n < all.count)
            #expect(r.stats.reserveReached)
            #expect(r.stats.stopReason.contains("less than the \(reserve) bytes --reserve-disk-space keeps; stopped: the file ends at byte \(size), after its last complete window, and is valid"), "\(r.stats.stopReason)")
            #expect(Int64(r.size) == size)
            #expect(windows(r.records).map(\.1) == all.prefix(n).map { $0.map(\.seq) })
        }
        #expect(r.diagnostics.isEmpty)
        #expect(r.enabledAfter == false)
    }
}

/// Debian's xentrace_format (scripts/fetch-peers.sh) on `file`: records per CPU.
func xentraceFormatCounts(_ file: String) throws -> [UInt32: Int] {
    let env = ProcessInfo.processInfo.environment
    let cache = env["XENSCOPE_CACHE"] ?? ((env["XDG_CACHE_HOME"] ?? (NSHomeDirectory() + "/.cache")) + "/xenscope")
    let script = cache + "/peers/xentrace_format.py3"
    try #require(FileManager.default.fileExists(atPath: script), "\(script) missing: run `make test` (scripts/fetch-peers.sh fetches Debian's xentrace_format)")
    let defs = NSTemporaryDirectory() + "xenscope-fr-defs-\(UUID().uuidString)"
    try "0x0 CPU%(cpu)d\n".write(toFile: defs, atomically: true, encoding: .utf8)
    defer { unlink(defs) }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    p.arguments = [script, defs]
    p.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: file))
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    var counts: [UInt32: Int] = [:]
    for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where line.hasPrefix("CPU") {
        if let cpu = UInt32(line.dropFirst(3)) { counts[cpu, default: 0] += 1 }
    }
    return counts
}
