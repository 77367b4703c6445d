import Foundation

/// The arm64 panicker guest (samples/guests/panicker-arm64), cross-built with
/// gcc-aarch64-linux-gnu, booted under qemu-system-aarch64 and dumped once
/// per test process. Needs the packages scripts/install-deps.sh installs
/// (gcc-aarch64-linux-gnu, qemu-system-arm, gdb-multiarch); fails loudly without them.
public struct Arm64PanickerGuest: Sendable {
    public let directory: String
    public var kernelELF: String { directory + "/kernel.elf" }
    public var serialLog: String { directory + "/serial.log" }
    /// ELF dump (physical addresses; QEMU writes no paging dumps for arm).
    public var elfDump: String { directory + "/dump.elf" }
    /// The ELF dump with p_vaddr set to the higher-half alias, for gdb.
    public var gdbDump: String { directory + "/dump-gdb.elf" }
    /// kdump-zlib dump (flattened form).
    public var kdumpDump: String { directory + "/dump.kdump" }

    public static func shared() throws -> Arm64PanickerGuest { try cached.get() }

    private static let cached: Result<Arm64PanickerGuest, GuestError> = {
        let root = PanickerGuest.packageRoot
        let dir = root + "/.build/panicker-arm64-dumps"
        do {
            try? FileManager.default.removeItem(atPath: dir)
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let src = root + "/samples/guests/panicker-arm64"
            try PanickerGuest.run("/bin/bash", [src + "/build.sh", dir], what: "building the arm64 panicker guest (needs gcc-aarch64-linux-gnu)")
            try PanickerGuest.run("/usr/bin/env", ["python3", src + "/run.py", dir],
                                  what: "booting and dumping the arm64 panicker guest (needs qemu-system-aarch64 from qemu-system-arm)")
            return .success(Arm64PanickerGuest(directory: dir))
        } catch let e as GuestError { return .failure(e) } catch { return .failure(GuestError(message: "\(error)")) }
    }()

    /// Runs `gdb-multiarch -batch` on the kernel and the gdb copy of the ELF dump.
    public func gdb(_ commands: [String]) throws -> String {
        try PanickerGuest.run("/usr/bin/env", ["gdb-multiarch", "-batch", "-nx", kernelELF, gdbDump] + commands.flatMap { ["-ex", $0] },
                              what: "running gdb-multiarch (installed by scripts/install-deps.sh)")
    }
}

/// Frames of a single-thread gdb `bt` (lines starting with `#`).
public func parseGDBSingleBacktrace(_ text: String) -> [GDBFrame] {
    var out = [GDBFrame]()
    for raw in text.split(separator: "\n") where raw.hasPrefix("#") {
        let line = String(raw)
        var rest = Substring(line.drop { $0 != " " }).drop { $0 == " " }
        if rest.hasPrefix("0x"), let r = rest.firstRange(of: " in ") { rest = rest[r.upperBound...] }
        let function = String(rest.prefix { $0 != " " })
        var lineNo: Int? = nil
        if let r = line.lastIndex(of: ":"), line[..<r].contains(" at ") { lineNo = Int(line[line.index(after: r)...]) }
        out.append(GDBFrame(function: function, line: lineNo))
    }
    // Drop the banner copy of frame 0 gdb prints on loading the core.
    if out.count >= 2, text.split(separator: "\n").filter({ $0.hasPrefix("#0") }).count == 2 { out.removeFirst() }
    return out
}
