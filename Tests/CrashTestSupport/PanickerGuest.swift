import Foundation
import Synchronization

/// The panicker test guest (samples/guests/panicker), built and crashed under
/// QEMU once per test process; every crash test reads the dumps it leaves.
/// Needs gcc, binutils, python3 and qemu-system-x86_64 (installed by
/// `make test` through scripts/install-deps.sh); fails loudly without them.
public struct PanickerGuest: Sendable {
    public let directory: String
    public var kernelELF: String { directory + "/kernel.elf" }
    public var kernelBin: String { directory + "/kernel.bin" }
    public var serialLog: String { directory + "/serial.log" }
    /// ELF dump, physical addresses only (`paging: false`).
    public var elfDump: String { directory + "/dump.elf" }
    /// ELF dump with virtual addresses (`paging: true`), which gdb can read.
    public var pagingDump: String { directory + "/dump-paging.elf" }
    /// kdump-zlib dump (makedumpfile flattened form).
    public var kdumpDump: String { directory + "/dump.kdump" }

    /// Builds, boots, crashes and dumps the guest (once per process).
    public static func shared() throws -> PanickerGuest {
        try cached.get()
    }

    private static let cached: Result<PanickerGuest, GuestError> = {
        do { return .success(try make()) } catch let e as GuestError { return .failure(e) } catch {
            return .failure(GuestError(message: "\(error)"))
        }
    }()

    /// Root of the package (this file is Tests/CrashTestSupport/PanickerGuest.swift).
    public static var packageRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    private static func make() throws -> PanickerGuest {
        // Inside the package's own (untracked) build folder: one set of dumps
        // per checkout, replaced on every test run, never piling up in /tmp.
        let dir = packageRoot + "/.build/panicker-dumps"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let src = packageRoot + "/samples/guests/panicker"
        try run("/bin/bash", [src + "/build.sh", dir], what: "building the panicker guest (needs gcc, binutils)")
        try run("/usr/bin/env", ["python3", src + "/run.py", dir], what: "booting and dumping the panicker guest (needs python3, qemu-system-x86_64 from scripts/install-deps.sh)")
        return PanickerGuest(directory: dir)
    }

    /// Runs a tool, failing with its output when it exits non-zero.
    @discardableResult
    public static func run(_ tool: String, _ args: [String], what: String, timeout: TimeInterval = 120) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        // Output goes to a file: no reader thread, no pipe that can fill up.
        let outPath = NSTemporaryDirectory() + "xenscope-run-\(getpid())-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: outPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: outPath) }
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        p.standardOutput = out
        p.standardError = out
        do { try p.run() } catch { throw GuestError(message: "\(what): cannot start \(tool): \(error)") }
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning { p.terminate(); p.waitUntilExit(); throw GuestError(message: "\(what): \(tool) timed out after \(Int(timeout)) s") }
        p.waitUntilExit()
        try? out.close()
        let text = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        guard p.terminationStatus == 0 else {
            throw GuestError(message: "\(what): \(tool) \(args.joined(separator: " ")) exited with \(p.terminationStatus):\n\(text)")
        }
        return text
    }

    /// The ELF dump rewritten as a Xen xc_core file by `xc_core.py`
    /// (synthetic until the lab's real `xl dump-core` files exist): "pv"
    /// (machine frames, .xen_p2m) or "hvm" (.xen_pfn). Made once per kind.
    public func xenCore(_ kind: String) throws -> String {
        try (kind == "pv" ? Self.xcPV : Self.xcHVM).get()
    }

    // Made once per process (static lets are initialised once, thread-safely),
    // so suites running in parallel never race on the files.
    private static let xcPV = makeXenCore("pv")
    private static let xcHVM = makeXenCore("hvm")

    private static func makeXenCore(_ kind: String) -> Result<String, GuestError> {
        do {
            let guest = try shared()
            let out = guest.directory + "/xc-\(kind).core"
            try? FileManager.default.removeItem(atPath: out)
            try run("/usr/bin/env", ["python3", packageRoot + "/samples/guests/panicker/xc_core.py", guest.elfDump, out, kind],
                    what: "writing an xc_core dump")
            return .success(out)
        } catch let e as GuestError { return .failure(e) } catch { return .failure(GuestError(message: "\(error)")) }
    }

    /// The kdump-zlib dump rearranged to a plain file by Debian's
    /// `makedumpfile -R`, then every page recompressed with `codec` (lzo,
    /// snappy, zstd) by `kdump_recode.py`, through the libraries makedumpfile
    /// links. Made once per codec.
    public func kdump(_ codec: String) throws -> String {
        try Self.recoded.withLock { cache in
            if let r = cache[codec] { return try r.get() }
            let r: Result<String, GuestError>
            do {
                let plain = directory + "/plain.kdump"
                if !FileManager.default.fileExists(atPath: plain) {
                    try Self.run("/bin/sh", ["-c", "makedumpfile -R \"$1\" < \"$2\"", "sh", plain + ".tmp", kdumpDump],
                                 what: "rearranging the flattened kdump (makedumpfile, installed by scripts/install-deps.sh)")
                    try FileManager.default.moveItem(atPath: plain + ".tmp", toPath: plain)
                }
                let out = directory + "/dump-\(codec).kdump"
                try? FileManager.default.removeItem(atPath: out)
                try Self.run("/usr/bin/env", ["python3", Self.packageRoot + "/samples/guests/panicker/kdump_recode.py", plain, out, codec],
                             what: "recompressing the kdump with \(codec) (liblzo2/libsnappy/libzstd from scripts/install-deps.sh)")
                r = .success(out)
            } catch let e as GuestError { r = .failure(e) } catch { r = .failure(GuestError(message: "\(error)")) }
            cache[codec] = r
            return try r.get()
        }
    }

    private static let recoded = Mutex<[String: Result<String, GuestError>]>([:])

    /// A second build of the kernel that differs in one string (so in its
    /// build-id): the "wrong --elf" for these dumps. Built once.
    public func variantKernel() throws -> String {
        try Self.variant.get()
    }

    private static let variant: Result<String, GuestError> = {
        let dir = packageRoot + "/.build/panicker-variant"
        do {
            try? FileManager.default.removeItem(atPath: dir)
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try run("/usr/bin/env", ["EXTRA_CFLAGS=-DPANICKER_VARIANT", "/bin/bash", packageRoot + "/samples/guests/panicker/build.sh", dir],
                    what: "building the panicker variant")
            return .success(dir + "/kernel.elf")
        } catch let e as GuestError { return .failure(e) } catch { return .failure(GuestError(message: "\(error)")) }
    }()

    /// Runs `gdb -batch` on the kernel and a dump with the given commands.
    public func gdb(_ dump: String, _ commands: [String]) throws -> String {
        try Self.run("/usr/bin/env", ["gdb", "-batch", "-nx", kernelELF, dump] + commands.flatMap { ["-ex", $0] },
                     what: "running gdb (installed by scripts/install-deps.sh)")
    }
}

/// A failure to prepare the guest, with the tool's output.
public struct GuestError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// Registers as gdb's `info registers` prints them, per thread (thread 1 = CPU 0).
public func parseGDBRegisters(_ text: String) -> [[String: UInt64]] {
    var threads = [[String: UInt64]]()
    var current = [String: UInt64]()
    for line in text.split(separator: "\n") {
        if line.hasPrefix("[Switching to thread") || line.hasPrefix("Thread ") {
            if !current.isEmpty { threads.append(current); current = [:] }
            continue
        }
        let f = line.split(separator: " ", omittingEmptySubsequences: true)
        guard f.count >= 2, f[1].hasPrefix("0x"), let v = UInt64(f[1].dropFirst(2), radix: 16) else { continue }
        current[String(f[0])] = v
    }
    if !current.isEmpty { threads.append(current) }
    return threads
}

/// One frame of gdb's `bt` output: function and line (nil when gdb printed none).
public struct GDBFrame: Equatable, Sendable, CustomStringConvertible {
    public var function: String
    public var line: Int?
    public init(function: String, line: Int?) { self.function = function; self.line = line }
    public var description: String { "\(function):\(line.map(String.init) ?? "?")" }
}

/// Frames per thread from `thread apply all bt`, keyed by gdb thread number
/// (thread N = the dump's N-th NT_PRSTATUS = CPU N−1).
public func parseGDBBacktraces(_ text: String) -> [Int: [GDBFrame]] {
    var out = [Int: [GDBFrame]]()
    var thread: Int? = nil
    for raw in text.split(separator: "\n") {
        let line = String(raw)
        if line.hasPrefix("Thread ") {
            thread = Int(line.dropFirst(7).prefix { $0.isNumber })
            if let thread { out[thread] = [] }
            continue
        }
        guard let t = thread, line.hasPrefix("#") else { continue }
        var rest = Substring(line.drop { $0 != " " }).drop { $0 == " " }
        if rest.hasPrefix("0x"), let r = rest.firstRange(of: " in ") { rest = rest[r.upperBound...] }
        let function = String(rest.prefix { $0 != " " })
        var lineNo: Int? = nil
        if let r = line.lastIndex(of: ":"), line[..<r].contains(" at ") { lineNo = Int(line[line.index(after: r)...]) }
        out[t, default: []].append(GDBFrame(function: function, line: lineNo))
    }
    return out
}
