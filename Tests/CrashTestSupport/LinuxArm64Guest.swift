import Foundation

/// The arm64 Linux test guest (samples/guests/linux-arm64): Debian's arm64
/// kernel crashed with sysrq-c on CPU 1 under qemu-system-aarch64 and dumped
/// as ELF and kdump, made once and cached in $XENSCOPE_CACHE/linux-guest-arm64
/// by `make-dumps.sh` (which `make test` runs first; called here too, it
/// returns at once when the dumps exist).
public struct LinuxArm64Guest: Sendable {
    public let directory: String
    public var vmlinux: String { directory + "/vmlinux" }
    public var serialLog: String { directory + "/serial.log" }
    public var elfDump: String { directory + "/dump.elf" }
    public var kdumpDump: String { directory + "/dump.kdump" }
    public var dumps: [String] { [elfDump, kdumpDump] }

    public static func shared() throws -> LinuxArm64Guest { try cached.get() }

    private static let cached: Result<LinuxArm64Guest, GuestError> = {
        do {
            let out = try PanickerGuest.run("/bin/bash", [PanickerGuest.packageRoot + "/samples/guests/linux-arm64/make-dumps.sh"],
                                            what: "making the arm64 Linux guest's dumps (needs apt-get with arm64 packages, qemu-system-aarch64)",
                                            timeout: 3600)
            guard let dir = out.split(separator: "\n").last.map(String.init), FileManager.default.fileExists(atPath: dir + "/.complete") else {
                return .failure(GuestError(message: "make-dumps.sh printed no finished folder:\n\(out)"))
            }
            return .success(LinuxArm64Guest(directory: dir))
        } catch let e as GuestError { return .failure(e) } catch { return .failure(GuestError(message: "\(error)")) }
    }()

    /// The kernel's own "Call trace:" of the panic on the serial console:
    /// function names, innermost first, from `panic` on (the frames of the
    /// dumping code before it are left out).
    public func serialCallTrace() throws -> [String] {
        let text = try String(contentsOfFile: serialLog, encoding: .utf8)
        var names = [String]()
        var inTrace = false
        // The serial console ends lines with "\r\n" (one Character in Swift).
        for line in text.split(whereSeparator: \.isNewline) {
            if line.hasSuffix("Call trace:") { inTrace = true; continue }
            guard inTrace else { continue }
            // "[   15.079777]  panic+0x184/0x364"
            guard let close = line.firstIndex(of: "]") else { break }
            let entry = line[line.index(after: close)...].drop { $0 == " " }
            guard let plus = entry.firstIndex(of: "+"), entry.contains("/0x") else { break }
            names.append(String(entry[..<plus]))
        }
        if let p = names.firstIndex(of: "panic") { names.removeFirst(p) }
        return names
    }

    /// drgn's stack trace (function, pc) of the crashed thread in `dump`,
    /// run with the venv `make test` makes ($XENSCOPE_CACHE/drgn-venv).
    public func drgnCrashedStack(_ dump: String) throws -> [(function: String, pc: UInt64)] {
        let env = ProcessInfo.processInfo.environment
        let cache = env["XENSCOPE_CACHE"] ?? ((env["XDG_CACHE_HOME"] ?? (NSHomeDirectory() + "/.cache")) + "/xenscope")
        let python = cache + "/drgn-venv/bin/python"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw GuestError(message: "drgn is not installed: \(python) missing (make test's linux-guest step makes the venv)")
        }
        let script = """
            import drgn, sys
            prog = drgn.Program()
            prog.set_core_dump(sys.argv[1])
            prog.load_debug_info([sys.argv[2]])
            for f in prog.crashed_thread().stack_trace():
                print(f.name, hex(f.pc))
            """
        let out = try PanickerGuest.run(python, ["-c", script, dump, vmlinux], what: "drgn on \(dump)", timeout: 600)
        return out.split(whereSeparator: \.isNewline).compactMap { line in
            let p = line.split(separator: " ")
            guard p.count == 2, p[1].hasPrefix("0x"), let pc = UInt64(p[1].dropFirst(2), radix: 16) else { return nil }
            return (String(p[0]), pc)
        }
    }
}
