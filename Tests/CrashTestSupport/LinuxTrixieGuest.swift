import Foundation

/// The Linux 6.12 test guest (samples/guests/linux-trixie): Debian trixie's
/// amd64 kernel with a multi-threaded process and two sleepers, crashed with
/// sysrq-c on CPU 1 under QEMU and dumped as ELF and kdump, made once and
/// cached in $XENSCOPE_CACHE/linux-guest-trixie by `make-dumps.sh` (which
/// `make test` runs first; called here too, it returns at once when the
/// dumps exist). Its task and module layouts are the 6.7+/6.4+ ones.
public struct LinuxTrixieGuest: Sendable {
    public let directory: String
    public var vmlinux: String { directory + "/vmlinux" }
    public var serialLog: String { directory + "/serial.log" }
    public var elfDump: String { directory + "/dump.elf" }
    public var kdumpDump: String { directory + "/dump.kdump" }
    public var dumps: [String] { [elfDump, kdumpDump] }
    /// `uname -r` of the guest: the folder's name.
    public var kernelRelease: String { URL(fileURLWithPath: directory).lastPathComponent }

    public static func shared() throws -> LinuxTrixieGuest { try cached.get() }

    private static let cached: Result<LinuxTrixieGuest, GuestError> = {
        do {
            let out = try PanickerGuest.run("/bin/bash", [PanickerGuest.packageRoot + "/samples/guests/linux-trixie/make-dumps.sh"],
                                            what: "making the trixie Linux guest's dumps (needs deb.debian.org, gcc, qemu-system-x86_64, busybox-static from scripts/install-deps.sh)",
                                            timeout: 3600)
            guard let dir = out.split(separator: "\n").last.map(String.init), FileManager.default.fileExists(atPath: dir + "/.complete") else {
                return .failure(GuestError(message: "make-dumps.sh printed no finished folder:\n\(out)"))
            }
            return .success(LinuxTrixieGuest(directory: dir))
        } catch let e as GuestError { return .failure(e) } catch { return .failure(GuestError(message: "\(error)")) }
    }()
}
