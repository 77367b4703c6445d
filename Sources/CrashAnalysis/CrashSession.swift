import BinaryIO
import DWARF
import Dump
import ELF

/// A dump opened together with the symbols of the kernel (or hypervisor)
/// that was running: the starting point of every crash analysis.
///
/// Virtual addresses are translated through the page tables of one CPU (the
/// panicking one when known, else the first with paging on); for Xen PV guest
/// dumps the tables' machine frames go through the dump's p2m.
public final class CrashSession {
    public let dump: any Dump
    /// Symbols of the image given with `--elf` (DWARF when present, else ELF
    /// symbols); nil when none was given: registers and memory still work.
    public let symbols: Symbolizer?
    /// The CPU whose page tables are used for virtual addresses.
    public let addressSpaceCPU: Int?
    public let memory: VirtualMemory?
    /// Linux modules, read on first use by ``moduleFrameName(_:pc:)``.
    var moduleCache: [LinuxModule]? = nil

    public init(dump: any Dump, symbols: Symbolizer?) {
        self.dump = dump
        self.symbols = symbols
        let machineFrames = (dump as? XenCoreDump)?.isPV ?? false
        var chosen: (Int, PageWalker)? = nil
        let preferred = Self.panicCPUFromSymbol(dump: dump, symbols: symbols, machineFrames: machineFrames)
        let order = (preferred.map { [$0] } ?? []) + dump.cpus.indices.map { $0 }
        for i in order where i < dump.cpus.count {
            if let w = PageWalker(dump: dump, cpu: dump.cpus[i], machineFrames: machineFrames) {
                chosen = (i, w)
                break
            }
        }
        if chosen == nil, let (w, _) = Self.aarch64WalkerFromSymbols(dump: dump, symbols: symbols)
            ?? Self.xenArm64Walker(dump: dump, symbols: symbols) {
            chosen = (preferred ?? 0, w)   // aarch64 without saved TTBRs: one kernel (or Xen) address space
        }
        addressSpaceCPU = chosen?.0
        memory = chosen.map { VirtualMemory(walker: $0.1) }
    }

    /// Opens `dumpPath` (any supported format) and `elfPath` (optional).
    public convenience init(dumpPath: String, elfPath: String?) throws {
        let d = try openDump(path: dumpPath)
        // A Linux kernel under KASLR runs at its link address plus VMCOREINFO's KERNELOFFSET.
        let bias = LinuxKernelInfo(d.vmcoreinfo)?.kaslrOffset ?? 0
        let s = try elfPath.map { try Symbolizer(path: $0, bias: bias) }
        self.init(dump: d, symbols: s)
    }

    /// The address of a global symbol, nil when the image has none by that name.
    public func address(of symbol: String) -> UInt64? {
        symbols?.address(ofSymbol: symbol)
    }

    /// Reads `count` bytes at virtual `address` through the chosen CPU's page tables.
    public func read(_ address: UInt64, count: Int) throws -> [UInt8] {
        guard let memory else { throw CrashError.noAddressSpace(dump.path) }
        return try memory.read(address, count: count)
    }

    /// One 8-byte little-endian word at a kernel virtual address (pointers, list links).
    public func readWord(_ address: UInt64) throws -> UInt64 {
        guard let memory else { throw CrashError.noAddressSpace(dump.path) }
        return try memory.readWord(address)
    }

    /// One 4-byte little-endian value at a kernel virtual address (counters, flags).
    public func readUInt32(_ address: UInt64) throws -> UInt32 {
        let b = try read(address, count: 4)
        return UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
    }

    /// `panic_cpu` (Linux and our test guest: an int, −1 while no panic) read
    /// through any CPU's tables, before the session picks its address space.
    static func panicCPUFromSymbol(dump: any Dump, symbols: Symbolizer?, machineFrames: Bool) -> Int? {
        guard let symbols, let a = symbols.address(ofSymbol: "panic_cpu") else { return nil }
        for cpu in dump.cpus {
            guard let w = PageWalker(dump: dump, cpu: cpu, machineFrames: machineFrames),
                  let b = try? VirtualMemory(walker: w).read(a, count: 4) else { continue }
            let v = Int32(bitPattern: UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24)
            return v >= 0 && Int(v) < dump.cpus.count ? Int(v) : nil
        }
        if let (w, _) = aarch64WalkerFromSymbols(dump: dump, symbols: symbols),
           let b = try? VirtualMemory(walker: w).read(a, count: 4) {
            let v = Int32(bitPattern: UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24)
            return v >= 0 && Int(v) < dump.cpus.count ? Int(v) : nil
        }
        return nil
    }
}

/// Crash-analysis failures that are not input errors of the dump itself.
public enum CrashError: Error, CustomStringConvertible, Equatable {
    case noAddressSpace(String)
    case symbolMissing(image: String, names: [String], what: String)
    case badConsoleRing(String)
    case noSymbols(what: String)
    case notLinux(what: String)
    case layoutMissing(image: String, what: String)

    public var description: String {
        switch self {
        case .noAddressSpace(let p):
            return "\(p): no CPU in the dump has paging on with a known CR3, so virtual addresses cannot be translated"
        case let .symbolMissing(image, names, what):
            return "\(image): has no symbol \(names.joined(separator: ", ")), needed for \(what)"
        case .badConsoleRing(let m):
            return m
        case .noSymbols(let what):
            return "\(what) needs the kernel's or hypervisor's symbols: give --elf"
        case .notLinux(let what):
            return "\(what) is read from Linux kernels only (the dump has no Linux VMCOREINFO)"
        case let .layoutMissing(image, what):
            return "\(image): its DWARF has no \(what)"
        }
    }
}
