import BinaryIO

/// Why a read from a dump gave no bytes. Like drgn's memory reader, a *fault*
/// (the dump never saved that page) is kept apart from a *corrupt or
/// unreadable* dump, so analyses can say "page not in dump" and go on.
public enum DumpReadError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The dump does not contain this physical page (filtered out, a hole, or
    /// beyond the end of memory). `address` is the physical address asked for.
    case notInDump(address: UInt64)
    /// The dump says it holds the page but its bytes cannot be had: the file
    /// is truncated, a compressed page does not decompress, an index is bad.
    case corrupt(InputError)

    public var description: String {
        switch self {
        case .notInDump(let a): return "physical address 0x\(String(a, radix: 16)) is not in the dump"
        case .corrupt(let e): return e.description
        }
    }
}

/// The file formats ``openDump(path:)`` recognises.
public enum DumpFormat: String, Sendable, Codable {
    /// ELF `ET_CORE` with PT_LOAD segments (QEMU `dump-guest-memory`, kdump `/proc/vmcore`).
    case elfCore = "elf"
    /// makedumpfile's kdump-compressed format ("KDUMP   " / "DISKDUMP").
    case kdumpCompressed = "kdump-compressed"
    /// The same, in makedumpfile's flattened (streamed) form, as QEMU writes it.
    case kdumpFlattened = "kdump-flattened"
    /// Xen `xl dump-core` (libxc xc_core ELF with `.xen_*` sections).
    case xenCore = "xen-core"
}

/// Instruction-set architecture of the dumped machine.
public enum Architecture: String, Sendable, Codable {
    case x86_64 = "x86_64"
    case i386 = "i386"
    /// 64-bit Arm (QEMU `qemu-system-aarch64` dumps; see ``AArch64Registers``).
    case aarch64 = "aarch64"
}

/// One ELF-style note found in a dump (PT_NOTE segment, `.note.Xen`, or a
/// kdump note block). The descriptor is copied: notes are small.
public struct DumpNote: Sendable, Equatable {
    /// Owner name without its NUL ("CORE", "QEMU", "Xen", "VMCOREINFO", …).
    public var name: String
    public var type: UInt32
    public var descriptor: [UInt8]
    /// Offset of the note header in the file, for messages.
    public var fileOffset: Int

    public init(name: String, type: UInt32, descriptor: [UInt8], fileOffset: Int) {
        self.name = name
        self.type = type
        self.descriptor = descriptor
        self.fileOffset = fileOffset
    }
}

/// A machine memory dump: physical memory by page, CPU registers, notes.
///
/// Physical addresses are the guest's (QEMU, xc_core HVM) or the host's (Xen
/// kdump); for a Xen PV guest dump they are pseudo-physical, and
/// ``machineToPhysical(_:)`` maps the machine frames its page tables hold.
/// Readers never write to the dump, and never read it whole.
public protocol Dump: AnyObject {
    /// Path as given, for messages.
    var path: String { get }
    var format: DumpFormat { get }
    var architecture: Architecture { get }
    /// Page size of the dump's memory (4096 on x86).
    var pageSize: Int { get }
    /// One entry per CPU (vCPU of a guest, pCPU of a host), by CPU index.
    var cpus: [CPUState] { get }
    /// All notes, in file order.
    var notes: [DumpNote] { get }
    /// Problems that did not stop reading (bad notes, truncated file), each
    /// naming the file and offset; what is still valid is used.
    var diagnostics: [InputError] { get }
    /// Physical address ranges the dump covers (sorted, may include pages
    /// that a filtered dump left out).
    var physicalRanges: [Range<UInt64>] { get }
    /// Calls `body` with the bytes of physical page `pfn` (``pageSize`` bytes).
    /// The buffer is valid only during the call.
    func withPage<R>(_ pfn: UInt64, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R
    /// For Xen PV guest dumps: the pseudo-physical frame holding machine frame
    /// `mfn`, or nil when the dump has no such frame. Other dumps: identity.
    func machineToPhysical(_ mfn: UInt64) -> UInt64?
}

extension Dump {
    public func machineToPhysical(_ mfn: UInt64) -> UInt64? { mfn }

    /// The first note with this owner and type.
    public func note(name: String, type: UInt32) -> DumpNote? {
        notes.first { $0.name == name && $0.type == type }
    }

    /// Linux or Xen VMCOREINFO text (`KEY=value` lines), if the dump has it.
    public var vmcoreinfo: VMCoreInfo? {
        for n in notes where n.name == "VMCOREINFO" || n.name == "VMCOREINFO_XEN" {
            return VMCoreInfo(text: String(decoding: n.descriptor.prefix { $0 != 0 }, as: UTF8.self))
        }
        return nil
    }

    /// Reads `count` bytes of physical memory at `address` (may span pages).
    /// Throws ``DumpReadError/notInDump(address:)`` naming the first missing byte.
    public func readPhysical(_ address: UInt64, count: Int) throws -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(count)
        try readPhysical(address, count: count) { out.append(contentsOf: $0) }
        return out
    }

    /// Streams `count` bytes of physical memory at `address` to `sink`, one
    /// page piece at a time (no copy for memory-mapped dumps).
    public func readPhysical(_ address: UInt64, count: Int, _ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        let ps = UInt64(pageSize)
        var a = address
        var left = count
        while left > 0 {
            let inPage = Int(a % ps)
            let take = min(left, Int(ps) - inPage)
            do {
                try withPage(a / ps) { try sink(UnsafeRawBufferPointer(rebasing: $0[inPage..<(inPage + take)])) }
            } catch DumpReadError.notInDump {
                throw DumpReadError.notInDump(address: a)
            }
            left -= take
            a &+= UInt64(take)
        }
    }

    /// Reads a little-endian 64-bit word of physical memory.
    public func readPhysicalWord(_ address: UInt64) throws -> UInt64 {
        let ps = UInt64(pageSize)
        let inPage = Int(address % ps)
        if inPage <= Int(ps) - 8 {
            do {
                return try withPage(address / ps) { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: inPage, as: UInt64.self)) }
            } catch DumpReadError.notInDump {
                throw DumpReadError.notInDump(address: address)
            }
        }
        let b = try readPhysical(address, count: 8)
        return b.withByteView { $0.uint64LE(at: 0) }
    }
}

/// Parsed VMCOREINFO text: `KEY=value` per line. Linux writes `SYMBOL(x)`
/// values in hex without `0x`, `NUMBER/SIZE/OFFSET` in decimal.
public struct VMCoreInfo: Sendable, Equatable {
    public var text: String
    public var entries: [String: String]

    public init(text: String) {
        self.text = text
        var e = [String: String]()
        for line in text.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            e[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        entries = e
    }

    /// The raw value of a VMCOREINFO key (`OSRELEASE`, `SYMBOL(init_uts_ns)`), nil when absent.
    public subscript(key: String) -> String? { entries[key] }
    /// `SYMBOL(name)` as an address.
    public func symbol(_ name: String) -> UInt64? { entries["SYMBOL(\(name))"].flatMap { UInt64($0, radix: 16) } }
    /// `NUMBER(name)` as a signed integer.
    public func number(_ name: String) -> Int64? { entries["NUMBER(\(name))"].flatMap { Int64($0) } }
    /// Linux `BUILD-ID=` (hex), used to check a vmlinux against the dump.
    public var buildID: String? { entries["BUILD-ID"] }
    /// Linux `OSRELEASE=` (`uname -r`, e.g. "6.1.0-56-amd64").
    public var osRelease: String? { entries["OSRELEASE"] }
    /// Linux `KERNELOFFSET=` (hex): the KASLR slide of the kernel image,
    /// run-time minus link-time address. 0 when the line is missing.
    public var kernelOffset: UInt64? { entries["KERNELOFFSET"].flatMap { UInt64($0, radix: 16) } }
    /// Linux x86-64 `NUMBER(phys_base)`: physical minus link-time address of
    /// the kernel image, beyond `__START_KERNEL_map`; may be negative.
    public var physBase: Int64? { number("phys_base") }
    /// `OFFSET(type.member)` in bytes.
    public func offset(_ type: String, _ member: String) -> Int? { entries["OFFSET(\(type).\(member))"].flatMap { Int($0) } }
    /// `SIZE(type)` in bytes.
    public func size(_ type: String) -> Int? { entries["SIZE(\(type))"].flatMap { Int($0) } }
    /// `LENGTH(name)`: an array's element count.
    public func length(_ name: String) -> Int? { entries["LENGTH(\(name))"].flatMap { Int($0) } }
}
