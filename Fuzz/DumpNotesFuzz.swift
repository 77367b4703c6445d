import BinaryIO
import Dump
import ELF

/// ELF core headers and notes (NT_PRSTATUS, QEMU CPU state, Xen CRASH_REGS)
/// from arbitrary bytes: the note splitter directly, then a whole ELF core.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDumpNotes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let buf = UnsafeRawBufferPointer(start: data, count: size)
    var problems = [InputError]()
    let notes = NoteBlock.parse(buf, fileOffset: 0, file: "fuzz", diagnostics: &problems)
    _ = CPUNotes.cpus(from: notes, file: "fuzz", diagnostics: &problems)
    if let elf = try? ELFFile(bytes: Array(buf), name: "fuzz"), let d = try? ElfCoreDump(elf: elf) {
        for r in d.physicalRanges.prefix(4) {
            _ = try? d.withPage(r.lowerBound >> 12) { $0.count }
        }
        for c in d.cpus.prefix(4) {
            if let w = PageWalker(dump: d, cpu: c) { _ = try? w.translate(c.rip); _ = w.forEachMapping(tableLimit: 64) { _ in } }
        }
    }
    return 0
}

