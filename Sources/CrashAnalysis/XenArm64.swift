import DWARF
import Dump
import ELF

/// Where Xen on arm64 sits in a whole-machine dump: found from the image.
public struct XenArm64Placement: Sendable, Equatable {
    /// Physical address of the image's first byte (`_start`).
    public var imageBase: UInt64
    /// Xen's own `phys_offset` (physical − virtual of the image), read from the dump.
    public var physOffset: UInt64
    /// Physical address of `xen_pgtable`, the level-0 table TTBR0_EL2 holds.
    public var root: UInt64
}

extension CrashSession {
    /// Xen on arm64 runs at EL2 with one translation regime: TTBR0_EL2 →
    /// `xen_pgtable` (4 KiB granule, 48-bit VA: the image at 2 MiB, the
    /// direct map, vmap, frame table). QEMU's dumps save no system registers,
    /// so the table is found through the image instead: Xen must run from a
    /// 2 MiB-aligned physical address, so the dump's RAM is searched at that
    /// alignment, top down, for the bytes at `_start` in `xen-syms`; a hit
    /// counts only when the `phys_offset` variable stored in that copy says
    /// the image runs there (physical − virtual), which tells the running copy
    /// from a stale one (what the boot loader loaded before Xen moved itself).
    public static func xenArm64Placement(dump: any Dump, symbols: Symbolizer?) -> XenArm64Placement? {
        guard dump.architecture == .aarch64, let symbols,
              let start = symbols.lookup(symbol: "_start").first?.address,
              let pgtable = symbols.lookup(symbol: "xen_pgtable").first?.address,
              let physOffsetVar = symbols.lookup(symbol: "phys_offset").first?.address,
              let elf = try? ELFFile(path: symbols.path),
              let seg = elf.programHeaders.first(where: { $0.type == ProgramHeader.typeLoad && start >= $0.virtualAddress
                  && start - $0.virtualAddress + 256 <= $0.fileSize }),
              let head = try? elf.bytes(offset: seg.offset + (start - seg.virtualAddress), count: 256)
        else { return nil }
        let align: UInt64 = 2 << 20
        // Bounded: a hostile dump may claim petabytes of ranges; 2^20 probes
        // cover 2 TiB of RAM.
        var probes = 0
        for range in dump.physicalRanges.reversed() {
            guard range.upperBound > range.lowerBound else { continue }
            var base = (range.upperBound - 1) & ~(align - 1)
            while base >= range.lowerBound {
                probes += 1
                if probes > 1 << 20 { return nil }
                if let b = try? dump.readPhysical(base, count: head.count), b == head,
                   let off = try? dump.readPhysicalWord(base + (physOffsetVar - start)), off == base &- start {
                    return XenArm64Placement(imageBase: base, physOffset: off, root: pgtable &+ off)
                }
                if base < align { break }
                base -= align
            }
        }
        return nil
    }

    /// A page walker over Xen's own tables (``xenArm64Placement(dump:symbols:)``).
    static func xenArm64Walker(dump: any Dump, symbols: Symbolizer?) -> (walker: PageWalker, source: String)? {
        guard let p = xenArm64Placement(dump: dump, symbols: symbols) else { return nil }
        let source = "xen_pgtable at physical 0x\(String(p.root, radix: 16)) (Xen's image found at 0x\(String(p.imageBase, radix: 16)), "
            + "phys_offset 0x\(String(p.physOffset, radix: 16)); the dump saves no TTBR0_EL2)"
        return (PageWalker(dump: dump, aarch64: AArch64PageWalker(ttbr0: p.root, ttbr1: nil)), source)
    }
}
