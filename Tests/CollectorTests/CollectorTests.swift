import Foundation
import Testing
import XenTrace
import Collector

/// End-to-end: the C producer program at full speed in its own process,
/// `xenscope trace record --shm` draining it, XenTrace reading the result.
@Suite(.serialized) struct CollectorEndToEndTests {
    /// Starts the producer (prints "ready" once the region exists).
    func startProducer(_ region: String, dir: String, _ extra: [String]) throws -> Child {
        let p = try Child(try productPath("xenscope-trace-producer"), ["--shm", region, "--threads", "2"] + extra, dir: dir, tag: "producer")
        try p.waitFor("ready")
        return p
    }

    func record(_ args: [String], dir: String, tag: String, prefix: [String] = []) throws -> Child {
        let xs = try productPath("xenscope")
        if prefix.isEmpty { return try Child(xs, ["trace", "record"] + args, dir: dir, tag: tag) }
        return try Child(prefix[0], Array(prefix.dropFirst()) + [xs, "trace", "record"] + args, dir: dir, tag: tag)
    }

    /// A temporary folder and a shared-memory region name for one test, both
    /// removed when `body` returns.
    func withScratch(_ tag: String, _ body: (_ dir: String, _ region: String) throws -> Void) throws {
        let dir = try makeTempDir(tag)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let region = uniqueRegionName(tag)
        defer { unlink("/dev/shm/" + region) }
        try body(dir, region)
    }

    /// Exact accounting, ring by ring, for one file.
    /// `everyRing`: each ring must have produced something (false where the
    /// collector may stop before a slow-starting thread wrote its first event).
    func expectExact(_ file: String, _ report: ProducerReport, everyRing: Bool = true) throws {
        var checker = SequenceChecker()
        try checker.check(file: file)
        #expect(checker.diagnostics.isEmpty, "\(checker.diagnostics.prefix(3))")
        #expect(checker.problems.isEmpty, "\(checker.problems.prefix(5))")
        #expect(!report.closeFailed)
        for ring in [UInt32(0), 1] {
            let produced = try #require(report.produced[ring])
            if everyRing { #expect(produced > 0) }
            #expect(checker.accounted(ring) == produced, "ring \(ring)")
            #expect((checker.rings[ring]?.records ?? 0) == (report.written[ring] ?? 0), "ring \(ring) written")
            #expect((checker.rings[ring]?.lost ?? 0) == (report.lost[ring] ?? 0), "ring \(ring) lost")
        }
    }

    @Test func fullSpeedProducersAgainstAStarvedCollector() throws {
        // Two producers spin on both cores for 5 s; the collector runs at the
        // low priority (nice 12: ~1 M records kept), so rings overflow all the time and most records
        // are lost — every one of them must still be accounted for.
        try withScratch("stress") { dir, region in
            let producer = try startProducer(region, dir: dir, ["--seconds", "5"])
            let file = dir + "/stress.trace"
            let collector = try record(["-o", file, "--shm", region, "--json"], dir: dir, tag: "collector", prefix: ["/usr/bin/nice", "-n", "12"])
            #expect(producer.wait(seconds: 60) == 0, "\(producer.stderr)")
            #expect(collector.wait(seconds: 60) == 0, "\(collector.stderr)")
            let report = ProducerReport(producer.stdout)
            try expectExact(file, report)
            let lost = report.lost.values.reduce(0, +)
            #expect(lost > 0, "a starved collector should lose records")
            #expect(collector.stdout.contains("\"lost\":\(lost),"), "\(collector.stdout)")
        }
    }

    @Test func fullSpeedProducersAgainstACollectorAtNormalPriority() throws {
        // The same race with the collector competing on equal terms: more
        // data (so a shorter run keeps the file and the check bounded).
        try withScratch("stress2") { dir, region in
            let producer = try startProducer(region, dir: dir, ["--seconds", "1.5"])
            let file = dir + "/stress2.trace"
            let collector = try record(["-o", file, "--shm", region, "--json"], dir: dir, tag: "collector")
            #expect(producer.wait(seconds: 60) == 0, "\(producer.stderr)")
            #expect(collector.wait(seconds: 60) == 0, "\(collector.stderr)")
            try expectExact(file, ProducerReport(producer.stdout))
        }
    }

    @Test func rateLimitedProducersWithAPromptCollector() throws {
        try withScratch("rate") { dir, region in
            let producer = try startProducer(region, dir: dir, ["--seconds", "3", "--rate", "300000", "--pages", "8"])
            let file = dir + "/rate.trace"
            let collector = try record(["-o", file, "--shm", region, "--size", "8", "--cpu-hz", "62.5M"], dir: dir, tag: "collector")
            #expect(producer.wait(seconds: 60) == 0, "\(producer.stderr)")
            #expect(collector.wait(seconds: 60) == 0, "\(collector.stderr)")
            try expectExact(file, ProducerReport(producer.stdout))
            #expect(collector.stderr.contains("every producer closed its ring"))
            // The clock metadata beside the file (a shared-memory producer's
            // clock is its own business: unknown; the rate is the one given).
            let machine = RecordingMetadata.currentMachine()
            #expect(try String(contentsOfFile: file + ".meta.json", encoding: .utf8)
                    == "{\"schema\":\"xenscope.trace-meta/1\",\"generator\":\"xenscope trace record\",\"machine\":\"\(machine)\",\"clock\":\"timestamp-counter\",\"clock_name\":\"timestamp counter\",\"clock_hz\":62500000,\"clock_hz_source\":\"trace record --cpu-hz\"}\n")
            // … which the analyses pick up.
            let summary = try Child(try productPath("xenscope"), ["trace", "summary", "--json", file], dir: dir, tag: "summary")
            #expect(summary.wait(seconds: 120) == 0, "\(summary.stderr)")
            #expect(summary.stdout.contains("\"cpuHz\" : 62500000,"), "\(summary.stdout.prefix(400))")
            #expect(summary.stdout.contains("\"cpuHzSource\" : \"\(file).meta.json\""))
        }
    }

    /// Xen stamps records with its architecture's counter; dom0's `uname -m` says which.
    @Test func recordingMetadataNamesTheClock() {
        #expect(RecordingMetadata.make(xen: true, cpuHz: 62.5e6, machine: "aarch64").clock
                == TraceClock(kind: .armGenericTimer, hz: 62.5e6, hzSource: "trace record --cpu-hz"))
        #expect(RecordingMetadata.make(xen: true, cpuHz: nil, machine: "x86_64").clock.kind == .tsc)
        #expect(RecordingMetadata.make(xen: true, cpuHz: nil, machine: "x86_64").clock.hz == 0)
        #expect(RecordingMetadata.make(xen: false, cpuHz: nil, machine: "x86_64").clock.kind == .unknown)
    }

    @Test func killedCollectorLeavesAReadableFileAndARestartWritesANewOne() throws {
        try withScratch("kill") { dir, region in
            let producer = try startProducer(region, dir: dir, ["--seconds", "3", "--rate", "400000"])
            let first = dir + "/first.trace"
            let c1 = try record(["-o", first, "--shm", region], dir: dir, tag: "c1")
            // Kill it once it has written something (a loaded machine starts it slowly).
            let end = Date().addingTimeInterval(30)
            while ((try? FileManager.default.attributesOfItem(atPath: first)[.size] as? Int) ?? 0) < 200_000 && Date() < end { usleep(10_000) }
            usleep(300_000)
            kill(c1.process.processIdentifier, SIGKILL)
            c1.process.waitUntilExit()
            #expect(c1.process.terminationReason == .uncaughtSignal)
            // Started again on the same file: refused, the old file untouched.
            let sizeBefore = try FileManager.default.attributesOfItem(atPath: first)[.size] as? Int
            let again = try record(["-o", first, "--shm", region], dir: dir, tag: "c-again")
            #expect(again.wait() == 1)
            #expect(again.stderr.contains("already exists; xenscope never appends"), "\(again.stderr)")
            #expect(try FileManager.default.attributesOfItem(atPath: first)[.size] as? Int == sizeBefore)
            // A new file picks up where the killed collector stopped releasing.
            let second = dir + "/second.trace"
            let c2 = try record(["-o", second, "--shm", region], dir: dir, tag: "c2")
            #expect(producer.wait(seconds: 60) == 0, "\(producer.stderr)")
            #expect(c2.wait(seconds: 60) == 0, "\(c2.stderr)")
            let report = ProducerReport(producer.stdout)
            #expect(!report.closeFailed)

            // The killed collector's file: readable; damage, if any, only in its last window.
            var checker = SequenceChecker()
            try checker.check(file: first)
            #expect(checker.problems.isEmpty, "\(checker.problems.prefix(5))")
            #expect(checker.diagnostics.allSatisfy { [.windowPastEnd, .truncatedRecord].contains($0.kind) }, "\(checker.diagnostics)")
            #expect(checker.diagnostics.count <= 2)
            #expect((checker.rings[0]?.records ?? 0) > 0)
            // Both files together account for every record, exactly.
            try checker.check(file: second, allowRepeatsAtStart: true)
            #expect(checker.problems.isEmpty, "\(checker.problems.prefix(5))")
            for ring in [UInt32(0), 1] {
                #expect(checker.accounted(ring) == report.produced[ring], "ring \(ring)")
            }
        }
    }

    @Test(arguments: ["signal", "duration"])
    func stoppingDisablesTracingAndWaitsForTheProducersToClose(_ how: String) throws {
        // The collector stops first (SIGINT, or --duration): producers see
        // tracing disabled, flush their lost counts, close their rings; the
        // collector's last pass must still account for everything.
        try withScratch("stop") { dir, region in
            let producer = try startProducer(region, dir: dir, ["--seconds", "60", "--rate", "2000000", "--pages", "4"])
            let file = dir + "/stop.trace"
            let args = how == "signal" ? ["--stop-on-signal"] : ["--duration", "1.5"]
            let collector = try record(["-o", file, "--shm", region, "--size", "4", "--json"] + args, dir: dir, tag: "collector")
            if how == "signal" {
                let end = Date().addingTimeInterval(30)
                while ((try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0) < 100_000 && Date() < end { usleep(10_000) }
                usleep(500_000)
                kill(collector.process.processIdentifier, SIGINT)
            }
            #expect(collector.wait(seconds: 60) == 0, "\(collector.stderr)")
            #expect(producer.wait(seconds: 30) == 0, "\(producer.stderr)")
            #expect(collector.stdout.contains(how == "signal" ? "\"stop\":\"signal Interrupt\"" : "\"stop\":\"duration of 1.5 s reached\""), "\(collector.stdout)")
            #expect(!collector.stderr.contains("warning"), "\(collector.stderr)")
            let report = ProducerReport(producer.stdout)
            #expect(report.produced.values.reduce(0, +) > 0)
            try expectExact(file, report, everyRing: false)
        }
    }

    @Test func cpuAndEventMasksReachTheProducers() throws {
        // --cpus 1: ring 0's events are filtered at the producer (not lost,
        // not produced); --event with the TRC_GUEST class lets ring 1's through.
        try withScratch("mask") { dir, region in
            let producer = try startProducer(region, dir: dir, ["--seconds", "1", "--rate", "100000"])
            let file = dir + "/mask.trace"
            let collector = try record(["-o", file, "--shm", region, "--cpus", "1", "--event", "0x0800f000"], dir: dir, tag: "collector")
            #expect(producer.wait(seconds: 60) == 0, "\(producer.stderr)")
            #expect(collector.wait(seconds: 60) == 0, "\(collector.stderr)")
            let report = ProducerReport(producer.stdout)
            #expect(report.produced[0] == 0)
            #expect(producer.stdout.contains("ring 0 produced 0 written 0 lost 0 filtered "))
            #expect((report.produced[1] ?? 0) > 10_000)
            var checker = SequenceChecker()
            try checker.check(file: file)
            #expect(checker.diagnostics.isEmpty && checker.problems.isEmpty)
            #expect(checker.rings[0] == nil)
            #expect(checker.accounted(1) == report.produced[1])

            // A mask without the guest class: everything filtered, an empty file.
            let region2 = uniqueRegionName("mask2")
            defer { unlink("/dev/shm/" + region2) }
            let p2 = try startProducer(region2, dir: dir, ["--seconds", "0.5", "--rate", "100000"])
            let file2 = dir + "/mask2.trace"
            let c2 = try record(["-o", file2, "--shm", region2, "--event", "0x0008f000"], dir: dir, tag: "c2")
            #expect(p2.wait(seconds: 60) == 0)
            #expect(c2.wait(seconds: 60) == 0, "\(c2.stderr)")
            #expect(ProducerReport(p2.stdout).produced.values.reduce(0, +) == 0)
            #expect(try FileManager.default.attributesOfItem(atPath: file2)[.size] as? Int == 0)
        }
    }

    /// `-M` through the command line, into a file or to standard output
    /// (`-o -`), with xentrace's short flags: the newest records survive,
    /// intact and in order per CPU, ending with the last one produced; what
    /// was overwritten is counted (FILE.meta.json, the summary); Debian's
    /// xentrace_format reads the result with the same per-CPU counts.
    @Test(arguments: ["file", "stdout"])
    func flightRecorderThroughTheCommandLine(_ to: String) throws {
        try withScratch("fr") { dir, region in
            let producer = try startProducer(region, dir: dir, ["--count", "20000", "--rate", "50000", "--pages", "8"])
            let file = to == "file" ? dir + "/fr.trace" : dir + "/collector.out"
            let collector = try record((to == "file" ? ["-o", file] : ["-o", "-"]) + ["--shm", region, "-S", "8", "-M", "64k", "-s", "5"], dir: dir, tag: "collector")
            #expect(producer.wait(seconds: 60) == 0, "\(producer.stderr)")
            #expect(collector.wait(seconds: 60) == 0, "\(collector.stderr)")
            let report = ProducerReport(producer.stdout)
            let size = try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
            #expect(size <= 65536 && size > 0, "\(size)")
            // Where each ring's kept records start: the first record with the
            // full seq in its words, less the records and lost counts before it.
            var first: [UInt32: (seq: UInt64, lostBefore: UInt64)] = [:]
            var anchored: Set<UInt32> = []
            _ = try TraceInput.open(file).forEachRecord(order: .file) { r in
                guard !anchored.contains(r.cpu) else { return true }
                var f = first[r.cpu] ?? (0, 0)
                if r.event == EventID.lostRecords { f.lostBefore += UInt64(r.extra.w0) }
                else if r.event & 0x0fff_f000 == 0x0800_f000 {
                    if r.extraCount >= 2 { f.seq = (UInt64(r.extra.w0) | UInt64(r.extra.w1) << 32) &- f.seq; anchored.insert(r.cpu) }
                    else { f.seq += 1 }   // counted back from the anchor
                }
                first[r.cpu] = f
                return true
            }
            var checker = SequenceChecker()
            for (cpu, f) in first { checker.rings[cpu] = SequenceChecker.Ring(next: f.seq - f.lostBefore) }
            try checker.check(file: file)
            #expect(checker.diagnostics.isEmpty && checker.problems.isEmpty, "\(checker.diagnostics.prefix(3)) \(checker.problems.prefix(3))")
            // A ring may have kept nothing: when its thread finished early, the
            // other ring's later records can fill the whole buffer.
            #expect(!first.isEmpty)
            for ring in first.keys { #expect(checker.accounted(ring) == report.produced[ring], "ring \(ring): the newest record kept is the last produced") }
            let summary = collector.stderr
            #expect(summary.contains("(memory buffer of 65536 bytes: kept the newest \(checker.rings.values.reduce(0) { $0 + Int($1.records + UInt64($1.lostRecords)) }), overwrote "), "\(summary)")
            if to == "file" {
                let meta = try #require(try TraceMetadata.read(tracePath: file)?.overwritten)
                #expect(meta.bufferBytes == 65536)
                if report.lost.values.reduce(0, +) == 0 {
                    // Nothing lost: ring r's overwritten records are exactly seq 0 ..< first kept.
                    let per = Dictionary(uniqueKeysWithValues: meta.perCPU.split(separator: ",").map { e in
                        let f = e.split(separator: ":"); return (UInt32(f[0])!, UInt64(f[1])!) })
                    let want = Dictionary(uniqueKeysWithValues: [UInt32(0), 1].map { ($0, first[$0]?.seq ?? report.produced[$0] ?? 0) })
                    #expect(per == want, "\(meta.perCPU)")
                    #expect(meta.records == Int64(want.values.reduce(0, +)))
                }
            } else {
                #expect(!FileManager.default.fileExists(atPath: dir + "/-") && !FileManager.default.fileExists(atPath: dir + "/-.meta.json"))
            }
            let info = TraceInfo(try TraceFile(path: file))
            let theirs = try xentraceFormatCounts(file)
            #expect(theirs == Dictionary(uniqueKeysWithValues: info.cpus.map { ($0.cpu, $0.records) }), "\(info.cpus)")
        }
    }

    /// What `trace record` did with a fast producer and a 1 MiB disk.
    struct SmallDiskRecording {
        var file: String
        var status: Int32
        var collector: Child
        /// The disk is a 1 MiB tmpfs (else a 1 MiB file-size limit).
        var mounted: Bool
    }

    /// Records a producer of `rate` records/s through the command line into
    /// `name` on a 1 MiB tmpfs until the recorder stops by itself, then runs
    /// `check` while the tmpfs is still there. Without root the tmpfs cannot be
    /// mounted: that fails the test when `requireMount`, else the file gets a
    /// 1 MiB size limit (prlimit) instead.
    func recordOntoSmallDisk(_ tag: String, name: String, rate: Int, requireMount: Bool, _ extra: [String] = [],
                             check: (SmallDiskRecording) throws -> Void) throws {
        try withScratch(tag) { dir, region in
            let mnt = dir + "/small"
            try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
            let mounted = (requireMount || getuid() == 0) && mountSmallTmpfs(mnt, quiet: !requireMount)
            if requireMount { try #require(mounted, tmpfsNeedsRoot) }
            defer { if mounted { unmount(mnt) } }
            let producer = try startProducer(region, dir: dir, ["--seconds", "20", "--rate", "\(rate)"])
            let file = mnt + "/" + name
            let prefix = mounted ? [] : ["/usr/bin/prlimit", "--fsize=1048576:1048576"]
            let collector = try record(["-o", file, "--shm", region] + extra, dir: dir, tag: "collector", prefix: prefix)
            let status = collector.wait(seconds: 60)
            kill(producer.process.processIdentifier, SIGKILL)
            producer.wait()
            try check(SmallDiskRecording(file: file, status: status, collector: collector, mounted: mounted))
        }
    }

    /// `--reserve-disk-space` through the command line on a 1 MiB tmpfs:
    /// the recorder stops before less than 960 KiB would be free, says so,
    /// exits 1, and leaves a valid file with its metadata.
    @Test func diskReserveThroughTheCommandLine() throws {
        try recordOntoSmallDisk("rsv", name: "r.trace", rate: 200_000, requireMount: true, ["--reserve-disk-space", "960k"]) { r in
            let file = r.file
            #expect(r.status == 1, "\(r.collector.stderr)")
            let size = try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
            #expect(r.collector.stderr.contains("less than the 983040 bytes --reserve-disk-space keeps; stopped: the file ends at byte \(size), after its last complete window, and is valid"), "\(r.collector.stderr)")
            var st = statvfs()
            #expect(statvfs(URL(fileURLWithPath: file).deletingLastPathComponent().path, &st) == 0 && Int64(st.f_bavail) * Int64(st.f_frsize) >= 983040)
            #expect(size > 0 && size <= 65536)
            #expect(FileManager.default.fileExists(atPath: file + ".meta.json"))
            var checker = SequenceChecker()
            try checker.check(file: file)
            #expect(checker.diagnostics.isEmpty && checker.problems.isEmpty, "\(checker.diagnostics.prefix(3)) \(checker.problems.prefix(3))")
        }
    }

    @Test func diskFullEndsWithAClearErrorAndAValidFile() throws {
        // A 1 MiB tmpfs if we may mount one, else a 1 MiB file-size limit.
        try recordOntoSmallDisk("full", name: "full.trace", rate: 500_000, requireMount: false) { r in
            let file = r.file
            #expect(r.status == 1)
            let what = r.mounted ? "disk full" : "file size limit reached"
            #expect(r.collector.stderr.contains("\(what)") && r.collector.stderr.contains("is valid up to there"), "\(r.collector.stderr)")
            let size = try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
            #expect(r.collector.stderr.contains("the file ends at byte \(size),"), "\(r.collector.stderr)")
            #expect(size > 100_000 && size <= 1_048_576)
            var checker = SequenceChecker()
            try checker.check(file: file)
            #expect(checker.diagnostics.isEmpty, "\(checker.diagnostics.prefix(3))")
            #expect(checker.problems.isEmpty, "\(checker.problems.prefix(5))")
            #expect((checker.rings[0]?.records ?? 0) + (checker.rings[1]?.records ?? 0) > 5_000)
        }
    }
}

@Suite struct CPUListTests {
    @Test func xentraceSyntax() throws {
        #expect(try CPUList.parse("all") == nil)
        #expect(try CPUList.parse("0,2,5-7") == [0, 2, 5, 6, 7])
        #expect(try CPUList.parse("-3") == [0, 1, 2, 3])
        #expect(try CPUList.parse("6-", maxCPU: 8) == [6, 7, 8])
        #expect(try CPUList.parse("0x5") == [0, 2])
        #expect(throws: CollectorError.self) { try CPUList.parse("1,,2") }
        #expect(throws: CollectorError.self) { try CPUList.parse("3-1") }
        #expect(throws: CollectorError.self) { try CPUList.parse("x") }
        #expect(throws: CollectorError.self) { try CPUList.parse("-") }
    }
}

@Suite struct ByteSizeTests {
    /// xentrace's -M sizes plus G; -r's plain numbers are MiB.
    @Test func suffixes() {
        #expect(ByteSize.parse("65536") == 65536)
        #expect(ByteSize.parse("64k") == 65536 && ByteSize.parse("64K") == 65536 && ByteSize.parse("64KiB") == 65536)
        #expect(ByteSize.parse("16M") == 16 << 20 && ByteSize.parse("1G") == 1 << 30 && ByteSize.parse("2GB") == 2 << 30)
        #expect(ByteSize.parse("100", plainUnit: 1 << 20) == 100 << 20)
        #expect(ByteSize.parse("4k", plainUnit: 1 << 20) == 4096)
        for bad in ["", "k", "1.5M", "-1", "12x", "99999999999999999999", "9000000000G"] { #expect(ByteSize.parse(bad) == nil, "\(bad)") }
    }
}

@Suite struct XenBackendMessageTests {
    /// Off Xen, the backend says so before touching any library; on a Xen
    /// dom0 it gets past that check.
    @Test func notOnXenIsSaidPlainly() throws {
        let onXen = access("/dev/xen/privcmd", F_OK) == 0 || access("/proc/xen/capabilities", F_OK) == 0
        do {
            _ = try XenBackend(pages: nil)
            #expect(onXen, "opening Xen's interfaces succeeded on a machine without Xen")
        } catch {
            let text = "\(error)"
            if onXen { #expect(!text.hasPrefix("not running on Xen")) }
            else { #expect(text.hasPrefix("not running on Xen: neither /proc/xen/capabilities nor /dev/xen/privcmd exists")) }
        }
    }
}
