import Dump
import ELF

/// xc_core (`xl dump-core`) files from arbitrary bytes: section lookup,
/// .note.Xen header, vCPU contexts, p2m/pfn index, PV machine-frame walks.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzXenCore(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    guard let elf = try? ELFFile(bytes: Array(UnsafeRawBufferPointer(start: data, count: size)), name: "fuzz"),
          XenCoreDump.recognises(elf), let d = try? XenCoreDump(elf: elf) else { return 0 }
    for r in d.physicalRanges.prefix(8) { _ = try? d.withPage(r.lowerBound >> 12) { $0.count } }
    for c in d.cpus.prefix(4) {
        _ = d.machineToPhysical((c.cr3 ?? 0) >> 12)
        if let w = PageWalker(dump: d, cpu: c, machineFrames: d.isPV) {
            _ = try? w.translate(c.rip)
            _ = w.forEachMapping(tableLimit: 64) { _ in }
        }
    }
    return 0
}

