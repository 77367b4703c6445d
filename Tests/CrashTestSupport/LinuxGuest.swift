import Foundation

/// The Linux test guest (samples/guests/linux): Debian's kernel crashed with
/// sysrq-c on CPU 1 under QEMU and dumped three ways, made once and cached
/// in $XENSCOPE_CACHE/linux-guest by `make-dumps.sh` (which `make test` runs
/// first; called here too, it returns at once when the dumps exist).
public struct LinuxGuest: Sendable {
    public let directory: String
    public var vmlinux: String { directory + "/vmlinux" }
    public var serialLog: String { directory + "/serial.log" }
    public var elfDump: String { directory + "/dump.elf" }
    public var pagingDump: String { directory + "/dump-paging.elf" }
    public var kdumpDump: String { directory + "/dump.kdump" }
    /// The three dump forms, for tests that must agree on all of them.
    public var dumps: [String] { [elfDump, pagingDump, kdumpDump] }
    /// `uname -r` of the guest: the folder's name.
    public var kernelRelease: String { URL(fileURLWithPath: directory).lastPathComponent }

    public static func shared() throws -> LinuxGuest { try cached.get() }

    private static let cached: Result<LinuxGuest, GuestError> = {
        do {
            let out = try PanickerGuest.run("/bin/bash", [PanickerGuest.packageRoot + "/samples/guests/linux/make-dumps.sh"],
                                            what: "making the Linux guest's dumps (needs apt-get, qemu-system-x86_64, busybox-static from scripts/install-deps.sh)",
                                            timeout: 3600)
            guard let dir = out.split(separator: "\n").last.map(String.init), FileManager.default.fileExists(atPath: dir + "/.complete") else {
                return .failure(GuestError(message: "make-dumps.sh printed no finished folder:\n\(out)"))
            }
            return .success(LinuxGuest(directory: dir))
        } catch let e as GuestError { return .failure(e) } catch { return .failure(GuestError(message: "\(error)")) }
    }()

    /// Debian's `crash` on `dump` with `commands` (one per line), run once
    /// per dump and command set in this process. Fails when crash is missing.
    public func crash(_ dump: String, commands: [String]) throws -> String {
        guard let tool = ["/usr/bin/crash", "/usr/sbin/crash"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw GuestError(message: "Debian's crash is not installed (scripts/install-deps.sh installs it)")
        }
        let cmdFile = NSTemporaryDirectory() + "xenscope-crash-\(getpid())-\(UUID().uuidString)"
        try (commands + ["q"]).joined(separator: "\n").appending("\n").write(toFile: cmdFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: cmdFile) }
        return try PanickerGuest.run(tool, ["-s", "-i", cmdFile, vmlinux, dump], what: "crash \(commands)", timeout: 900)
    }
}
