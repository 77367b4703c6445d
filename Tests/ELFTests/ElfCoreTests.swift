import Testing
import BinaryIO
@testable import ELF

@Suite struct ElfCoreTests {
    /// A hand-built x86-64 core: two NT_PRSTATUS threads, two PT_LOADs (one
    /// with a zero-filled tail), reads across and outside segments.
    @Test func threadsAndMemory() throws {
        var b = ELFBuilder(type: 4, phnum: 3)
        func prstatus(pid: Int32, rip: UInt64, rsp: UInt64) -> [UInt8] {
            var d = [UInt8](repeating: 0, count: 336)
            d[12] = 11   // SIGSEGV
            for i in 0..<4 { d[32 + i] = UInt8(truncatingIfNeeded: pid >> (8 * Int32(i))) }
            for w in 0..<27 {
                let v: UInt64 = w == 16 ? rip : w == 19 ? rsp : UInt64(w) * 0x101
                for i in 0..<8 { d[112 + 8 * w + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
            }
            return d
        }
        let notes = ELFBuilder.note(name: "CORE", type: 1, desc: prstatus(pid: 42, rip: 0x401000, rsp: 0x7ffe0000))
            + ELFBuilder.note(name: "CORE", type: 1, desc: prstatus(pid: 43, rip: 0x401010, rsp: 0x7ffe1000))
            + ELFBuilder.note(name: "CORE", type: 1, desc: [1, 2, 3])
        let notesAt = UInt64(64 + 3 * 56)
        let dataAt = notesAt + UInt64(notes.count)
        b.append(ELFBuilder.phdr(type: 4, offset: notesAt, filesz: UInt64(notes.count)))
        b.append(ELFBuilder.phdr(type: 1, offset: dataAt + 16, vaddr: 0x2000, filesz: 8, memsz: 0x10))
        b.append(ELFBuilder.phdr(type: 1, offset: dataAt, vaddr: 0x1ff0, filesz: 16))
        b.append(notes)
        b.append((0..<24).map { UInt8($0) })
        let core = try ElfCore(elf: try ELFFile(bytes: b.bytes, name: "t.core"))
        #expect(core.threads.map(\.pid) == [42, 43])
        #expect(core.threads[0].signal == 11)
        #expect(core.threads[0].registers.rip == 0x401000)
        #expect(core.threads[1].registers.rsp == 0x7ffe1000)
        #expect(core.threads[0].registers.rbx == 5 * 0x101)
        #expect(core.threads[0].registers.dwarfRegisters[3] == 5 * 0x101)   // DWARF 3 = rbx
        #expect(core.diagnostics.map(\.description) == ["t.core: at byte 944 (0x3b0): NT_PRSTATUS descriptor has 3 bytes, x86-64 needs 328; thread skipped"])
        #expect(core.loads.map(\.virtualAddress) == [0x1ff0, 0x2000])
        #expect(core.read(address: 0x1ffc, count: 16) == [12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 0, 0, 0, 0])
        #expect(core.readWord(at: 0x1ff0) == 0x0706050403020100)
        #expect(core.readWord(at: 0x2004) == 0x0000_0000_1716_1514)
        #expect(core.read(address: 0x2008, count: 9) == nil)
        #expect(core.readWord(at: 0x1000) == nil)
        #expect(throws: InputError.self) { try ElfCore(elf: try ELFFile(bytes: ELFBuilder(type: 2).bytes, name: "x")) }
    }
}
