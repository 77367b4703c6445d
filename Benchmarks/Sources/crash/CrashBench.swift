#if canImport(Glibc)
import Glibc
#endif
import CrashAnalysis
import Dump
import DWARF
import Foundation

/// Crash-analysis benchmark (docs/performance.md, "Crash analysis").
///
/// usage: crash [DUMPDIR]   (default ../.build/panicker-dumps, made by the tests
/// or by samples/guests/panicker/{build.sh,run.py})
///
/// From the real 64 MiB QEMU dump of the panicker guest it also writes sparse
/// 2 GiB and 8 GiB ELF dumps (same notes, RAM segment grown, real bytes at the
/// front, a hole after) and measures on each: time to the first full
/// backtrace (open dump + symbols + unwind + symbolize the panicking CPU),
/// time to the full console log, page-table walk and page-read rates, peak RSS.
@main
struct CrashBench {
    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    static func peakRSSMiB() -> Double {
        var u = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
        return Double(u.ru_maxrss) / 1024
    }

    /// Writes a sparse copy of `src` whose first PT_LOAD (RAM at 0) is `size` bytes.
    static func sparseCopy(_ src: String, to dst: String, size: UInt64) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: src), options: .alwaysMapped)
        let phoff = Int(data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 32, as: UInt64.self) })
        let phnum = Int(data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 56, as: UInt16.self) })
        var header = [UInt8](data.prefix(phoff + phnum * 56))
        // Find the RAM segment and the end of the notes/headers.
        var ramOffset = 0, ramSize = 0
        for i in 0..<phnum {
            let p = phoff + i * 56
            let type = header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: p, as: UInt32.self) }
            let paddr = header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: p + 24, as: UInt64.self) }
            if type == 1 && paddr == 0 {
                ramOffset = Int(header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: p + 8, as: UInt64.self) })
                ramSize = Int(header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: p + 32, as: UInt64.self) })
                withUnsafeBytes(of: size) { s in for b in 0..<8 { header[p + 32 + b] = s[b]; header[p + 40 + b] = s[b] } }
            } else if type == 1 {
                // Other segments (BIOS ROM) move behind the grown RAM.
                let off = UInt64(ramOffset) + size + UInt64(i) * 0x100000
                withUnsafeBytes(of: off) { s in for b in 0..<8 { header[p + 8 + b] = s[b] } }
            }
        }
        let fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw CocoaError(.fileWriteUnknown) }
        defer { close(fd) }
        let notes = data[header.count..<ramOffset]
        _ = header.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        _ = Array(notes).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        _ = data[ramOffset..<(ramOffset + ramSize)].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        ftruncate(fd, off_t(UInt64(ramOffset) + size + UInt64(phnum) * 0x100000))
    }

    static func main() throws {
        let args = CommandLine.arguments
        let dir = args.count > 1 ? args[1] : "../.build/panicker-dumps"
        let kernel = dir + "/kernel.elf"
        var cases: [(String, String)] = [("64 MiB ELF (QEMU)", dir + "/dump.elf"), ("64 MiB kdump-zlib (QEMU)", dir + "/dump.kdump")]
        for (gib, name) in [(2, "2 GiB"), (8, "8 GiB")] {
            let path = dir + "/sparse-\(gib)g.elf"
            try sparseCopy(dir + "/dump.elf", to: path, size: UInt64(gib) << 30)
            cases.append(("\(name) sparse ELF", path))
        }
        print("| dump | file size | first full backtrace | full console log | full table walk | translations/s | pages read/s (first 64 MiB) | peak RSS so far |")
        print("|---|---|---|---|---|---|---|---|")
        for (name, path) in cases {
            let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            // First backtrace: everything from nothing.
            let t0 = now()
            let s = try CrashSession(dumpPath: path, elfPath: kernel)
            let bts = try s.backtraces()
            let panicCPU = s.panicInfo(log: nil, backtraceCPU: CrashSession.cpuInPanic(bts)).cpu ?? 0
            let frames = bts[panicCPU].frames.count
            let tBT = now() - t0
            // Console log: from nothing too.
            let t1 = now()
            let s2 = try CrashSession(dumpPath: path, elfPath: kernel)
            let log = try s2.consoleRing()
            let tLog = now() - t1
            // Full walk of the panicking CPU's tables.
            let w = PageWalker(dump: s.dump, cpu: s.dump.cpus[panicCPU])!
            let t2 = now()
            var mappings = 0, covered: UInt64 = 0
            w.forEachMapping { mappings += 1; covered += $0.size }
            let tWalk = now() - t2
            // Translate every 4 KiB page of the identity-mapped RAM.
            let ram = s.dump.physicalRanges[0]
            let pages = Int(min(ram.upperBound, 64 << 20) / 4096)
            let t3 = now()
            var sink: UInt64 = 0
            for i in 0..<pages { sink &+= (try? w.translate(0xffff_8880_0000_0000 + UInt64(i) * 4096)) ?? 0 }
            let tTr = now() - t3
            // Read every page that has real bytes.
            let t4 = now()
            var readPages = 0
            for pfn in 0..<UInt64(pages) { if (try? s.dump.withPage(pfn) { $0.load(fromByteOffset: 8, as: UInt64.self) }) != nil { readPages += 1 } }
            let tRead = now() - t4
            precondition(frames == 9 && log.size == 4096 && sink != 0 && readPages == pages)
            func ms(_ t: Double) -> String { String(format: "%.1f ms", t * 1000) }
            print("| \(name) | \(String(format: "%.1f", Double(size) / 1048576)) MiB | \(ms(tBT)) (\(frames) frames) | \(ms(tLog)) (\(log.text.utf8.count) B) | \(String(format: "%.0f µs", tWalk * 1e6)) (\(mappings) leaves, \(covered >> 20) MiB mapped) | \(String(format: "%.2f M", Double(pages) / tTr / 1e6)) | \(String(format: "%.0f k", Double(readPages) / tRead / 1e3)) | \(String(format: "%.0f MiB", peakRSSMiB())) |")
        }
        for (gib, _) in [(2, ""), (8, "")] { unlink(dir + "/sparse-\(gib)g.elf") }
    }
}
