// libFuzzer target for the ELF loader: every input is parsed as an ELF file,
// then as a core; all notes, sections, build-id, debuglink and some memory
// are read. Any crash or hang is a finding; thrown InputErrors are expected.
// Built and run by scripts/fuzz-elf.sh (`make fuzz`).
import BinaryIO
import ELF

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzELFLoader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let elf = try? ELFFile(bytes: bytes, name: "fuzz") else { return 0 }
    for n in elf.notes { _ = try? elf.noteDescriptor(n) }
    for s in elf.sections { _ = try? elf.contents(of: s) }
    _ = elf.buildIDHex
    _ = elf.debugLink
    _ = elf.section(named: ".text")
    if let core = try? ElfCore(elf: elf) {
        for l in core.loads.prefix(8) {
            _ = core.read(address: l.virtualAddress, count: 64)
            _ = core.readWord(at: l.virtualAddress &+ l.memorySize &- 4)
        }
        _ = core.threads.first?.registers.dwarfRegisters
    }
    return 0
}
