import Foundation
import Testing
@testable import XenTrace

/// Resident memory stays bounded on a trace larger than the bound: the
/// built `xenscope trace info` reads a 300 MiB file in both orders with a
/// peak RSS (VmHWM, via wait4's ru_maxrss) under 200 MB.
@Suite struct BoundedMemoryTests {
    @Test func peakRSSUnder200MBOnA300MiBTrace() throws {
        let xenscope = try xenscopeBinary()
        let dir = try makeTempDir("rss")
        defer { removeDir(dir) }
        // A 10 MiB synthetic trace, written 30 times: 300 MiB. Each copy starts
        // the TSCs again, so copy boundaries are reported as TSC going backwards.
        var o = TraceSynthesizer.Options()
        o.size = 10 << 20
        o.cpus = 8
        o.domains = 64
        var chunk: [UInt8] = []
        let counts = TraceSynthesizer(o).generate { chunk.append(contentsOf: $0) }
        let copies = 30
        let path = dir + "/big.xentrace"
        let fh = try FileHandle(forWritingTo: { FileManager.default.createFile(atPath: path, contents: nil); return URL(fileURLWithPath: path) }())
        let data = Data(chunk)
        for _ in 0..<copies { fh.write(data) }
        try fh.close()
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        #expect(size == copies * counts.bytes)
        #expect(size > 300_000_000)

        for order in ["file", "tsc"] {
            let r = try runMeasured([xenscope, "trace", "info", "--json", "--order", order, path])
            #expect(r.status == 2, "TSC resets at copy boundaries are diagnostics: \(r.stderr.prefix(300))")
            #expect(r.stdout.contains("\"records\":\(copies * counts.records),"), "\(order): \(r.stdout.prefix(200))")
            #expect(r.stdout.contains("\"bytes\":\(size),"))
            #expect(r.maxRSSKiB > 0)
            #expect(r.maxRSSKiB * 1024 < 200_000_000, "\(order) order: peak RSS \(r.maxRSSKiB) KiB")
        }
    }

    /// `xenscope trace summary` (text, as people run it) on generated traces
    /// of 100 MiB and 300 MiB with 2,000 domains and 8,000 vCPUs, each in a
    /// child process so the peak RSS is the summary's own: under 250 MB
    /// (the file is not kept resident, the per-vCPU state is small), and
    /// three times the file adds less than 32 MB.
    @Test func summaryPeakRSSIsBoundedAndFlat() throws {
        let xenscope = try xenscopeBinary()
        let dir = try makeTempDir("summary-rss")
        defer { removeDir(dir) }
        var peaks: [Int] = []
        for mib in [100, 300] {
            let path = "\(dir)/synth-\(mib).xentrace"
            let gen = try runMeasured([xenscope, "trace", "synth", "--size", "\(mib)M", "--cpus", "8",
                                       "--domains", "2000", "--vcpus", "8000", "--seed", "1", "-o", path])
            #expect(gen.status == 0, "synth: \(gen.stderr)")
            let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
            #expect(size >= mib << 20)
            let r = try runMeasured([xenscope, "trace", "summary", path])
            #expect(r.status == 0, "summary: \(r.stderr.prefix(300))")
            #expect(r.stdout.contains("lost"), "the generated trace has lost records and the summary says so")
            #expect(r.maxRSSKiB > 0)
            #expect(r.maxRSSKiB * 1024 < 250_000_000, "\(mib) MiB: peak RSS \(r.maxRSSKiB) KiB")
            peaks.append(r.maxRSSKiB)
            removeDir(path)
        }
        #expect(peaks[1] - peaks[0] < 32 * 1024, "peak RSS grew from \(peaks[0]) KiB (100 MiB) to \(peaks[1]) KiB (300 MiB)")
    }

    @Test func unreadableFileIsNamed() throws {
        let dir = try makeTempDir("perm")
        defer { removeDir(dir) }
        let path = dir + "/secret.xentrace"
        try writeFile(path, DamageTests.base)
        chmod(path, 0)
        chmod(dir, 0o755)
        if getuid() != 0 {
            do {
                _ = try TraceInput.open(path)
                Issue.record("an unreadable file must be refused")
            } catch {
                #expect("\(error)" == "\(path): cannot open: Permission denied")
            }
            return
        }
        // Root reads everything: drop to nobody for the check (util-linux setpriv).
        let xenscope = try xenscopeBinary()
        let r = try runMeasured(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", xenscope, "trace", "info", path])
        #expect(r.status != 0)
        #expect(r.stderr.contains("\(path): cannot open: Permission denied"), "stderr: \(r.stderr)")
    }
}
