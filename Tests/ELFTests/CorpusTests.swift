import BinaryIO
import ELF
import Foundation
import Testing

/// Inputs that once crashed the ELF loader under the fuzzer (scripts/fuzz-elf.sh),
/// replayed the way Fuzz/ELFLoaderFuzz.swift drives it: each must now parse or
/// fail with an error, and every read must return or give nil.
@Suite struct ELFCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus").path

    @Test(arguments: try! FileManager.default.contentsOfDirectory(atPath: corpus).sorted())
    func replay(_ name: String) throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.corpus + "/" + name)))
        guard let elf = try? ELFFile(bytes: bytes, name: name) else { return }
        for n in elf.notes { _ = try? elf.noteDescriptor(n) }
        for s in elf.sections { _ = try? elf.contents(of: s) }
        _ = elf.buildIDHex
        _ = elf.debugLink
        guard let core = try? ElfCore(elf: elf) else { return }
        for l in core.loads.prefix(8) {
            _ = core.read(address: l.virtualAddress, count: 64)
            _ = core.readWord(at: l.virtualAddress &+ l.memorySize &- 4)
        }
        _ = core.threads.first?.registers.dwarfRegisters
    }

    /// The first finding: a PT_LOAD whose p_offset plus the in-segment offset
    /// passes 2^64 reads as "not there" instead of trapping.
    @Test func loadOffsetNear2To64ReadsAsMissing() throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.corpus + "/core-load-offset-wrap")))
        let core = try ElfCore(elf: ELFFile(bytes: bytes, name: "core-load-offset-wrap"))
        let wrapping = try #require(core.loads.first { $0.offset > UInt64.max - $0.fileSize })
        #expect(core.read(address: wrapping.virtualAddress &+ wrapping.fileSize &- 8, count: 8) == nil)
        #expect(core.readWord(at: wrapping.virtualAddress &+ wrapping.fileSize &- 8) == nil)
    }
}
