import BinaryIO
import Foundation
import Testing
import XenTrace

/// The `xenscope` CLI on hostile inputs: each case here once passed silently
/// (exit 0, nothing said), hung, or said something vague. Each must now print
/// one clear line per problem naming the file (and the byte offset where
/// there is one), exit non-zero, and still use every valid record.
@Suite struct HostileInputCLITests {
    /// A fresh directory with an empty file, a 1-byte file, the public sample
    /// cut inside a record (1,000,006 bytes) and a directory.
    struct Inputs {
        let dir: String
        var empty: String { dir + "/empty" }
        var one: String { dir + "/one" }
        var cut: String { dir + "/cut.xentrace" }
        var folder: String { dir + "/folder" }
        init() throws {
            dir = try makeTempDir("hostile")
            try writeFile(dir + "/empty", [])
            try writeFile(dir + "/one", [0x58])
            let sample = try Data(contentsOf: URL(fileURLWithPath: samplePath("xen-4.x-public.xentrace")))
            try writeFile(dir + "/cut.xentrace", Array(sample.prefix(1_000_006)))
            try FileManager.default.createDirectory(atPath: dir + "/folder", withIntermediateDirectories: false)
        }
    }

    static let cutDamage = """
        at byte 976884 (0xee7f4), cpu 0: window of 34212 bytes ends 11102 byte(s) past the end of the file
        """
    static let cutTail = """
        at byte 1000004 (0xf4244), cpu 0: 2 byte(s) at the end of a CPU window, too short for a record
        """

    @Test func summaryOfEmptyAndOneByteFilesSaysSo() throws {
        let x = try xenscopeBinary()
        let t = try Inputs()
        defer { removeDir(t.dir) }
        for json in [false, true] {
            let e = try runCaptured([x, "trace", "summary"] + (json ? ["--json"] : []) + [t.empty])
            #expect(e.status == 2)
            #expect(e.stderr == "xenscope: \(t.empty): at byte 0 (0x0): the input is empty: no trace records\n")
            let o = try runCaptured([x, "trace", "summary"] + (json ? ["--json"] : []) + [t.one])
            #expect(o.status == 2)
            #expect(o.stderr == "xenscope: \(t.one): at byte 0 (0x0): 1 trailing byte(s) too short for a CPU-change record\n")
        }
    }

    @Test func exportAndReportOfACutTraceWriteTheValidPartAndExitTwo() throws {
        let x = try xenscopeBinary()
        let t = try Inputs()
        defer { removeDir(t.dir) }
        let damage = "xenscope: \(t.cut): \(Self.cutDamage)\nxenscope: \(t.cut): \(Self.cutTail)\n"
        let csv = try runCaptured([x, "trace", "export", t.cut, "--format", "csv", "-o", t.dir + "/csv"])
        #expect(csv.status == 2)
        #expect(csv.stderr == damage)
        #expect(csv.stdout == "\(t.dir)/csv: records 46815 rows, runstates 6167 rows, vmexits 2036 rows\n")
        let chrome = try runCaptured([x, "trace", "export", t.cut, "--format", "chrome-json", "-o", t.dir + "/t.json"])
        #expect(chrome.status == 2)
        #expect(chrome.stderr == damage)
        #expect(FileManager.default.fileExists(atPath: t.dir + "/t.json"))
        let report = try runCaptured([x, "trace", "report", t.cut, "-o", t.dir + "/r.html"])
        #expect(report.status == 2)
        #expect(report.stderr == damage)
        #expect(report.stdout.hasPrefix("\(t.dir)/r.html: "))
        // Nothing valid there: still a clear line, not a silent exit 0.
        let empty = try runCaptured([x, "trace", "report", t.empty, "-o", t.dir + "/e.html"])
        #expect(empty.status == 2)
        #expect(empty.stderr == "xenscope: \(t.empty): at byte 0 (0x0): the input is empty: no trace records\n")
    }

    @Test func diffNamesDamageAndDirectories() throws {
        let x = try xenscopeBinary()
        let t = try Inputs()
        defer { removeDir(t.dir) }
        let sample = samplePath("xen-4.x-public.xentrace")
        let cut = try runCaptured([x, "trace", "diff", sample, t.cut])
        #expect(cut.status == 2)
        #expect(cut.stderr == "xenscope: \(t.cut): \(Self.cutDamage)\nxenscope: \(t.cut): \(Self.cutTail)\n")
        #expect(!cut.stdout.isEmpty)
        let folder = try runCaptured([x, "trace", "diff", t.folder, sample])
        #expect(folder.status == 1)
        #expect(folder.stderr == "Error: \(t.folder): is a directory\n")
    }

    /// A saved summary cut short: `trace diff` names the file and the offset
    /// where the text stops making sense (the pull reader, not JSONDecoder).
    @Test func diffNamesTheOffsetInACutSummary() throws {
        let x = try xenscopeBinary()
        let t = try Inputs()
        defer { removeDir(t.dir) }
        let sample = samplePath("xen-4.17.5-selfbuilt-qemu-sched-dom0-pvdomU.xentrace")
        let json = try runCaptured([x, "trace", "summary", "--json", sample])
        #expect(json.status == 0)
        let whole = Array(json.stdout.utf8)
        try writeFile(t.dir + "/whole.json", whole)
        try writeFile(t.dir + "/cut.json", Array(whole.prefix(1000)))
        let ok = try runCaptured([x, "trace", "diff", t.dir + "/whole.json", sample])
        #expect(ok.status == 0 && ok.stderr.isEmpty)
        let direct = try runCaptured([x, "trace", "diff", sample, sample])
        #expect(ok.stdout == direct.stdout)  // same rows in the same order (ties by name), in two processes
        let cut = try runCaptured([x, "trace", "diff", t.dir + "/cut.json", sample])
        #expect(cut.status == 1)
        #expect(cut.stderr == "Error: \(t.dir)/cut.json: at byte 994 (0x3e2): not a summary JSON file: a string that is not closed (it starts at byte 994)\n")
    }

    @Test func optionFilesGiveOneLineWithTheOffset() throws {
        let x = try xenscopeBinary()
        let t = try Inputs()
        defer { removeDir(t.dir) }
        let sample = samplePath("xen-4.x-public.xentrace")
        let binary = try runCaptured([x, "trace", "summary", "--xl-info", t.cut, sample])
        #expect(binary.status == 1)
        #expect(binary.stderr == "Error: --xl-info: \(t.cut): at byte 1 (0x1): not a text file (byte 0xf0 is not UTF-8)\n")
        try writeFile(t.dir + "/nul", Array("cpu_mhz : 2400\n".utf8) + [0])
        let nul = try runCaptured([x, "trace", "summary", "--xl-info", t.dir + "/nul", sample])
        #expect(nul.status == 1)
        #expect(nul.stderr == "Error: --xl-info: \(t.dir)/nul: at byte 15 (0xf): not a text file (byte 0x0 is NUL)\n")
        let folder = try runCaptured([x, "trace", "summary", "--xl-info", t.folder, sample])
        #expect(folder.status == 1)
        #expect(folder.stderr == "Error: --xl-info: \(t.folder): is a directory\n")
        let noMHz = try runCaptured([x, "trace", "summary", "--xl-info", t.one, sample])
        #expect(noMHz.status == 1)
        #expect(noMHz.stderr == "Error: --xl-info: \(t.one): has no cpu_mhz line (not a saved `xl info` output?)\n")
        for command in [["trace", "summary"], ["trace", "decode", "--limit", "1"]] {
            let r = try runCaptured([x] + command + ["--symbols", t.empty, sample])
            #expect(r.status == 1)
            #expect(r.stderr == "Error: --symbols: \(t.empty): at byte 0 (0x0): too short for an ELF file (0 bytes)\n")
        }
    }

    static let zerosNotATrace = "at byte 0 (0x0): record header 0x00000000 names event 0x00000000, which Xen never writes (no class bit set); no plausible CPU-change record or run of records in the 268431372 bytes from here: not a xentrace stream; stopped reading"

    /// `cat /dev/zero |` never ends: each command must stop by itself once
    /// the garbage bound is passed (zeros hold no record: none is printed,
    /// where `decode --limit 3` used to print three records of event 0).
    /// `timeout -s KILL 20` turns a hang into status 137; `cat` is killed by
    /// SIGPIPE once the reader has exited.
    @Test(arguments: [["info"], ["decode"], ["decode", "--limit", "3"], ["decode", "--order", "tsc"], ["info", "--json"]])
    func endlessZeroStreamEnds(_ command: [String]) throws {
        let x = try xenscopeBinary()
        let args = command.map { "'\($0)'" }.joined(separator: " ")
        let r = try runCaptured(["sh", "-c", "cat /dev/zero | timeout -s KILL 20 '\(x)' trace \(args) -"])
        #expect(r.status == 2, "\(command): status \(r.status) (137: still running after 20 s)")
        #expect(r.stderr == "xenscope: -: \(Self.zerosNotATrace)\n", "\(command)")
        if command == ["info"] {
            #expect(r.stdout == """
                file -: 0 records, 0 bytes, 0 CPUs, 0 CPU-change blocks, 0 event ids
                TSC 0 .. 0; lost-record events 0 (0 records lost); wrap records 0
                cpu     records   first_tsc          last_tsc           bytes       lost_recs  lost  wraps

                """)
        } else if command.first == "decode" {
            #expect(r.stdout == "")
        }
    }

    /// A 4 GiB file of zeros (sparse): every reading command stops after the
    /// garbage bound, quickly and with bounded memory (the search drops the
    /// pages it has passed). `summary` reads through its own window walk,
    /// whose message differs in wording but not in offset or bound.
    @Test func hugeZeroFileEndsWithBoundedMemory() throws {
        let x = try xenscopeBinary()
        let dir = try makeTempDir("zeros")
        defer { removeDir(dir) }
        let path = dir + "/zeros.xentrace"
        try writeFile(path, [])
        #expect(truncate(path, 4 << 30) == 0)
        let summaryLine = "at byte 0 (0x0): expected a CPU-change record; none in the 268431372 bytes from here: not a xentrace stream; stopped reading"
        for command in [["info"], ["decode"], ["decode", "--order", "file"], ["summary"]] {
            let r = try runMeasured(["timeout", "-s", "KILL", "60", x, "trace"] + command + [path])
            #expect(r.status == 2, "\(command): status \(r.status) (137: still running after 60 s)")
            #expect(r.stderr == "xenscope: \(path): \(command == ["summary"] ? summaryLine : Self.zerosNotATrace)\n", "\(command)")
            #expect(r.maxRSSKiB < 100 << 10, "\(command): peak RSS \(r.maxRSSKiB) KiB")
        }
    }

    /// `summary`, `export` and `report` map their input: given `-` they say
    /// so at once (they said "-: cannot open: No such file or directory"),
    /// whatever standard input is — even an endless stream of zeros.
    @Test func mappingCommandsRefuseStandardInputAtOnce() throws {
        let x = try xenscopeBinary()
        let dir = try makeTempDir("stdin")
        defer { removeDir(dir) }
        for command in [["summary"], ["export", "--format", "csv", "-o", dir + "/csv"], ["report", "-o", dir + "/r.html"]] {
            let args = command.map { "'\($0)'" }.joined(separator: " ")
            let r = try runCaptured(["sh", "-c", "cd '\(dir)' && cat /dev/zero | timeout -s KILL 20 '\(x)' trace \(args) -"])
            #expect(r.status == 1, "\(command): status \(r.status)")
            #expect(r.stderr == "Error: -: standard input cannot be read by this command: it maps its input, give a file (`trace info` and `trace decode` read standard input)\n", "\(command)")
        }
    }

    /// A real trace followed by 300 MB of zeros from a bounded generator on
    /// standard input: every record is counted and decoded as from the file
    /// alone, and the one problem is named at the byte where the trace ends.
    @Test func realTraceThenZerosOnStandardInput() throws {
        let x = try xenscopeBinary()
        let sample = samplePath("xen-4.17.5-selfbuilt-qemu-sched-dom0-pvdomU.xentrace")
        let feed = "{ cat '\(sample)'; head -c 300000000 /dev/zero; }"
        let problem = "xenscope: -: at byte 119180 (0x1d18c): expected a CPU-change record (header 0x2001f003), found 0x00000000; no plausible CPU-change record in the 268431372 bytes from here: not a xentrace stream; stopped reading\n"
        let alone = try runCaptured([x, "trace", "info", sample])
        #expect(alone.status == 0)
        let info = try runCaptured(["sh", "-c", "\(feed) | timeout -s KILL 60 '\(x)' trace info -"])
        #expect(info.status == 2)
        #expect(info.stderr == problem)
        #expect(info.stdout == alone.stdout.replacingOccurrences(of: "file \(sample):", with: "file -:"))
        // A mapped file's decode starts with three "# " lines a stream's lacks.
        for order in ["file", "tsc"] {
            let alone = try runCaptured([x, "trace", "decode", "--order", order, sample])
            #expect(alone.status == 0)
            let expected = alone.stdout.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("# ") }.joined(separator: "\n")
            let decoded = try runCaptured(["sh", "-c", "\(feed) | timeout -s KILL 60 '\(x)' trace decode --order \(order) -"])
            #expect(decoded.status == 2, "\(order)")
            #expect(decoded.stderr == problem, "\(order)")
            #expect(decoded.stdout == expected, "\(order)")
            #expect(decoded.stdout.split(separator: "\n").count == (order == "file" ? 5_180 : 5_138), "\(order)")   // file order shows the 42 CPU-change records
        }
    }

    /// `symbolize` reading addresses from a stream with no newline in sight
    /// (it used to grow a single line in memory until killed).
    @Test func symbolizeSkipsOverlongLines() throws {
        let x = try xenscopeBinary()
        let r = try runCaptured(["timeout", "120", "sh", "-c",
                                 "{ head -c 10000000 /dev/zero; printf '\\n0x10\\n'; } | '\(x)' symbolize --elf /bin/ls"])
        #expect(r.status == 0)
        #expect(r.stdout == "??\n??:0:0\n\n??\n??:0:0\n\n")
        #expect(r.stderr == """
            xenscope: /bin/ls: no DWARF found; names come from the ELF symbol table, no source lines
            xenscope: -: at byte 0 (0x0): line longer than 4096 bytes, not an address; skipped to the next newline

            """)
    }

    /// Dumps whose header fields once made the reader allocate what they said
    /// (a crash) or whose flattened records overlap (0 CPUs): every `crash`
    /// subcommand prints what is valid (the CPUs' registers, the pages), names
    /// the damage with file and offset, and exits 2 — `read` too when the
    /// damage is why the bytes are missing.
    @Test func damagedKdumpHeadersExitTwoWithTheOffset() throws {
        let x = try xenscopeBinary()
        let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("DumpTests/Corpus").path
        let plain = corpus + "/kdump-huge-bitmap-plain"
        let bitmap = "xenscope: \(plain): at byte 18294 (0x4776): dumped-page bitmap (137438953472 bytes at logical offset 8796093026304 for max_mapnr 1099511627776) unreadable: needs 137438953472 bytes here but the file has 18294 bytes (truncated dump); no pages can be located\n"
        let regs = try runCaptured([x, "crash", "regs", plain])
        #expect(regs.status == 2)
        #expect(regs.stderr == bitmap)
        #expect(regs.stdout.hasPrefix("CPU 0: NT_PRSTATUS (pr_pid 1) + QEMU CPU state\n    RIP: ffffffff8010a557  RSP: ffffffff80115040"))
        let read = try runCaptured([x, "crash", "read", plain, "0x0", "16", "--physical"])
        #expect(read.status == 2)
        #expect(read.stdout == "")
        #expect(read.stderr == "Error: physical address 0x0 is not in the dump\n" + bitmap)
        let summary = try runCaptured([x, "crash", "summary", plain])
        #expect(summary.status == 2)
        #expect(summary.stdout.contains("      CPUS: 2\n    MEMORY: 0 MiB in 0 range(s)\n"))
        #expect(summary.stdout.contains("   PROBLEM: " + bitmap.dropFirst("xenscope: ".count)))

        let flat = corpus + "/kdump-huge-bitmap-flattened"
        let info = try runCaptured([x, "crash", "info", flat])
        #expect(info.status == 2)
        #expect(info.stdout.contains("  problem: \(flat): at byte 12321 (0x3021): dumped-page bitmap (137438953472 bytes at logical offset 8796093026304 for max_mapnr 1099511627776) unreadable: flattened dump has no record for logical offset 8796093026304 (truncated or incomplete stream; the nearest record before it ends here); no pages can be located\n"))

        let overlap = corpus + "/kdump-flattened-overlap-and-empty-records"
        let page = try runCaptured([x, "crash", "read", overlap, "0x0", "16", "--physical"])
        #expect(page.status == 2)
        #expect(page.stdout == "0000000000000000:  53 ff 00 f0 53 ff 00 f0 c3 e2 00 f0 53 ff 00 f0   S...S.......S...\n")
        #expect(page.stderr == "xenscope: \(overlap): at byte 8208 (0x2010): flattened records overlap (first here); bytes claimed twice are read from the record at the lower logical offset\n")
    }

    /// An --elf that libdwfl refuses once crashed `symbolize` (a double free
    /// found by scripts/fuzz-dwarf.sh): now one line naming the file, exit 1.
    @Test func symbolizeWithAnELFLibdwflRefusesSaysSo() throws {
        let x = try xenscopeBinary()
        let bad = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("DWARFTests/Corpus/dwfl-report-elf-fails-double-free").path
        let r = try runCaptured([x, "symbolize", "--elf", bad, "0x1000"])
        #expect(r.status == 1)
        #expect(r.stdout == "")
        #expect(r.stderr == "Error: \(bad): elfutils: No ELF program headers\n")
    }

    /// A cut image: `symbolize` used to answer "??" with exit 0 and no word
    /// about the damage. Now the damage is named with its offset, every
    /// address still gets its (here empty) answer, and the exit status is 2.
    @Test func symbolizeOnACutImageNamesTheDamage() throws {
        let x = try xenscopeBinary()
        let dir = try makeTempDir("cut-elf")
        defer { removeDir(dir) }
        let src = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fixtures/elf/hello.c").path
        let cc = try runCaptured(["cc", "-g", "-O1", src, "-o", dir + "/hello"])
        #expect(cc.status == 0, "cc: \(cc.stderr)")
        let whole = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir + "/hello")))
        let shoff = whole.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 40, as: UInt64.self)) }
        #expect(shoff > 9000)
        try writeFile(dir + "/cut", Array(whole.prefix(9000)))
        let r = try runCaptured([x, "symbolize", "--elf", dir + "/cut", "0x1139"])
        #expect(r.status == 2)
        #expect(r.stdout == "??\n??:0:0\n\n")
        #expect(r.stderr == """
            xenscope: \(dir)/cut: at byte 40 (0x28): section header table offset 0x\(String(shoff, radix: 16)) lies beyond the end of the file (9000 bytes); sections ignored
            xenscope: \(dir)/cut: no DWARF found; names come from the ELF symbol table, no source lines

            """)
        let sym = try runCaptured([x, "symbolize", "--elf", dir + "/cut", "--symbol", "main"])
        #expect(sym.status == 1)
    }

    /// A FIFO nobody writes to made every command that maps its input
    /// (summary, crash, symbolize, gdbstub --dump) block in open(2) for ever;
    /// `/dev/zero` made `trace info` run for ever and `decode` print endless
    /// empty records. Both are now refused at once, naming the file
    /// (`timeout -s KILL` turns a regression into status 137, not a stuck
    /// test: the child inherits this process's blocked SIGTERM).
    @Test func fifosAndDevicesAreRefusedAtOnce() throws {
        let x = try xenscopeBinary()
        let dir = try makeTempDir("fifo")
        defer { removeDir(dir) }
        let fifo = dir + "/fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        let refused = "Error: \(fifo): is not a regular file (a FIFO); this command reads at random, give a file\n"
        for args in [["trace", "summary", fifo], ["trace", "export", fifo, "--format", "csv", "-o", dir + "/csv"],
                     ["trace", "diff", fifo, fifo], ["trace", "report", fifo, "-o", dir + "/r.html"],
                     ["crash", "info", fifo], ["symbolize", "--elf", fifo, "0x1"], ["gdbstub", "--dump", fifo]] {
            let r = try runCaptured(["timeout", "-s", "KILL", "60", x] + args)
            #expect(r.status == 1, "\(args)")
            #expect(r.stdout == "", "\(args)")
            #expect(r.stderr == refused, "\(args)")
        }
        for args in [["trace", "info", "/dev/zero"], ["trace", "decode", "/dev/zero"], ["trace", "decode", "--limit", "3", "/dev/zero"]] {
            let r = try runCaptured(["timeout", "-s", "KILL", "60", x] + args)
            #expect(r.status == 1, "\(args)")
            #expect(r.stdout == "", "\(args)")
            #expect(r.stderr == "Error: /dev/zero: is a character device, not a file or a pipe\n", "\(args)")
        }
        let summary = try runCaptured(["timeout", "-s", "KILL", "60", x, "trace", "summary", "/dev/zero"])
        #expect(summary.status == 1)
        #expect(summary.stderr == "Error: /dev/zero: is not a regular file (a character device); this command reads at random, give a file\n")
    }

    @Test func emptyFormatsFileIsNamed() throws {
        let x = try xenscopeBinary()
        let t = try Inputs()
        defer { removeDir(t.dir) }
        let r = try runCaptured([x, "trace", "decode", "--formats", t.empty, "--limit", "3", samplePath("xen-4.x-public.xentrace")])
        #expect(r.status == 0)
        #expect(r.stdout == "")
        #expect(r.stderr == "xenscope: \(t.empty): no format definitions: no record will be printed\n")
    }

    /// TSC order copies a stream to a temporary file; past `spillLimit` (in
    /// production: when the file system runs low) it stops copying, merges
    /// what it has, and says where it stopped.
    @Test func spillLimitKeepsThePrefixAndSaysWhere() throws {
        let dir = try makeTempDir("spill")
        defer { removeDir(dir) }
        let path = dir + "/t.xentrace"
        let bytes = DamageTests.base
        try writeFile(path, bytes)
        let prefix = dir + "/prefix.xentrace"
        try writeFile(prefix, Array(bytes.prefix(52)))
        let (want, _) = try readAll(try TraceInput.open(prefix), order: .tsc)

        let fd = open(path, O_RDONLY)
        let input = TraceInput(name: "pipe", stream: FileStream(fd: fd, name: "pipe", ownsFD: true))
        input.spillLimit = 52
        let (got, diags) = try readAll(input, order: .tsc)
        #expect(got.map(\.offset) == want.map(\.offset))
        #expect(got.map(\.offset) == [0, 40, 12, 32])
        #expect(diags.map(\.description).contains(
            "pipe: at byte 52 (0x34): TSC order copies a stream to a temporary file in \(ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp") first; stopped: its limit of 52 bytes reached; the rest of the input is not read (use file order for endless or very long streams)"))

        // A stream that ends exactly at the limit lost nothing: no such line.
        let fd2 = open(prefix, O_RDONLY)
        let whole = TraceInput(name: "pipe", stream: FileStream(fd: fd2, name: "pipe", ownsFD: true))
        whole.spillLimit = 52
        let (all, d2) = try readAll(whole, order: .tsc)
        #expect(all.map(\.offset) == want.map(\.offset))
        #expect(!d2.contains { $0.description.contains("stopped") })
    }
}
