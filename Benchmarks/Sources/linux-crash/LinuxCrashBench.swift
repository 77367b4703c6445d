#if canImport(Glibc)
import Glibc
#endif
import CrashAnalysis
import Foundation

/// Linux-guest crash benchmark (docs/performance.md, "Crash analysis on a
/// Linux guest"): Debian's 6.1 kernel, 1 GiB guest, 633 MB debug vmlinux
/// (samples/guests/linux/make-dumps.sh). In one run, each tool from nothing
/// to (a) the panicking CPU's backtrace and (b) the whole kernel log:
/// XenScope in this process (open dump + vmlinux, unwind, symbolize / read
/// the printk ring), and as child processes Debian's crash, gdb (paging ELF
/// only, told the KASLR offset) and drgn (PyPI, a venv in $XENSCOPE_CACHE).
/// One warm-up run each, then the median of `RUNS` (default 3).
///
/// usage: linux-crash DUMPDIR [DRGN_PYTHON]
@main
struct LinuxCrashBench {
    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    static func median(_ runs: Int, _ body: () throws -> Void) rethrows -> Double {
        try body()   // warm-up: page cache, lazily built indexes of the tool itself are not shared across runs
        var t = [Double]()
        for _ in 0..<runs {
            let t0 = now()
            try body()
            t.append(now() - t0)
        }
        return t.sorted()[t.count / 2]
    }

    /// Runs a tool to completion, output discarded; fails on a non-zero exit.
    static func run(_ tool: String, _ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "\(tool) \(args) exited \(p.terminationStatus)"]) }
    }

    static func main() throws {
        let args = CommandLine.arguments
        guard args.count > 1 else { print("usage: linux-crash DUMPDIR [DRGN_PYTHON]"); exit(2) }
        let dir = args[1]
        let vmlinux = dir + "/vmlinux", elf = dir + "/dump.elf", paging = dir + "/dump-paging.elf", kdump = dir + "/dump.kdump"
        let runs = Int(ProcessInfo.processInfo.environment["RUNS"] ?? "") ?? 3
        let slide = try CrashSession(dumpPath: elf, elfPath: nil).linuxKernel?.kaslrOffset ?? 0
        func ms(_ v: Double?) -> String { v.map { String(format: "%.2f s", $0) } ?? "—" }
        FileHandle.standardOutput.write(Data("| tool | dump | first backtrace | full kernel log |\n|---|---|---|---|\n".utf8))
        // Each row as soon as it is measured (crash alone can take minutes on a loaded machine).
        func row(_ tool: String, _ dump: String, _ bt: Double?, _ log: Double?) {
            FileHandle.standardOutput.write(Data("| \(tool) | \(dump) | \(ms(bt)) | \(ms(log)) |\n".utf8))
        }

        for (name, dump) in [("ELF", elf), ("ELF with paging", paging), ("kdump-zlib", kdump)] {
            let bt = try median(runs) {
                let s = try CrashSession(dumpPath: dump, elfPath: vmlinux)
                let b = try s.backtraces()
                precondition(b.contains { $0.frames.contains { $0.function == "panic" } }, "no panic frame")
                _ = b.map(formatBacktrace)
            }
            let log = try median(runs) {
                let s = try CrashSession(dumpPath: dump, elfPath: vmlinux)
                let text = try s.linuxLog().text
                precondition(text.contains("sysrq triggered crash"))
            }
            row("XenScope (in process)", name, bt, log)
        }
        let cmd = NSTemporaryDirectory() + "linux-crash-bench-\(getpid())"
        defer { for c in ["bt", "log"] { try? FileManager.default.removeItem(atPath: cmd + "." + c) } }
        for c in ["bt", "log"] { try "\(c)\nq\n".write(toFile: cmd + "." + c, atomically: true, encoding: .utf8) }
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/crash") {
            let bt = try median(runs) { try run("/usr/bin/crash", ["-s", "-i", cmd + ".bt", vmlinux, elf]) }
            let log = try median(runs) { try run("/usr/bin/crash", ["-s", "-i", cmd + ".log", vmlinux, elf]) }
            row("crash 8.0.2 (Debian)", "ELF", bt, log)
        }
        let gdbArgs = ["-batch", "-nx", "-ex", "symbol-file -o 0x\(String(slide, radix: 16)) \(vmlinux)", "-ex", "core-file \(paging)", "-ex", "thread 2", "-ex", "bt"]
        let gdbBT = try median(runs) { try run("/usr/bin/gdb", gdbArgs) }
        row("gdb 13.1 (Debian)", "ELF with paging", gdbBT, nil)
        if args.count > 2 {
            let py = args[2]
            let load = "import drgn,sys; p=drgn.Program(); p.set_core_dump(sys.argv[1]); p.load_debug_info([sys.argv[2]]); "
            let bt = try median(runs) { try run(py, ["-c", load + "print(p.crashed_thread().stack_trace())", elf, vmlinux]) }
            let log = try median(runs) { try run(py, ["-c", load + "from drgn.helpers.linux.printk import get_dmesg; sys.stdout.buffer.write(get_dmesg(p))", elf, vmlinux]) }
            row("drgn 0.3.0 (PyPI)", "ELF", bt, log)
        }
    }
}
