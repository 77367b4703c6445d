import FixtureSupport
import Testing
import BinaryIO
@testable import ELF

@Suite struct ELFFileTests {
    /// A real executable from the C compiler: tables agree with binutils' readelf.
    @Test func compiledExecutableMatchesReadelf() throws {
        let dir = try FixtureCompiler.tempDir()
        let exe = try FixtureCompiler.compile(["elf/hello.c"], output: "hello", in: dir,
                                              flags: ["-g", "-O2", "-Wl,--build-id=0x00112233445566778899aabbccddeeff01234567"])
        let elf = try ELFFile(path: exe)
        #expect(elf.header.machine == ELFHeader.machineX86_64)
        #expect([ELFHeader.typeExecutable, ELFHeader.typeShared].contains(elf.header.type))
        #expect(elf.diagnostics.isEmpty)
        #expect(elf.buildIDHex == "00112233445566778899aabbccddeeff01234567")

        // Section names, in order, as readelf -SW lists them.
        let listing = try FixtureCompiler.run("readelf", ["-SW", exe])
        let names = listing.split(separator: "\n").compactMap { line -> String? in
            guard let open = line.firstIndex(of: "["), let close = line.firstIndex(of: "]"),
                  Int(line[line.index(after: open)..<close].trimmingCharacters(in: .whitespaces)) != nil else { return nil }
            let rest = line[line.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
            return rest.first.map(String.init)
        }
        #expect(elf.sections.dropFirst().map(\.name) == Array(names.dropFirst()))
        let text = try #require(elf.section(named: ".text"))
        #expect(text.flags & SectionHeader.flagExecute != 0)
        #expect(elf.section(named: ".debug_info") != nil)

        // Program header count from readelf -lW.
        let ph = try FixtureCompiler.run("readelf", ["-lW", exe])
        let count = ph.split(separator: "\n").first { $0.hasPrefix("There are") }!.split(separator: " ")[2]
        #expect(elf.programHeaders.count == Int(count))
        // The build-id note is found once, though both PT_NOTE and .note.gnu.build-id cover it.
        #expect(elf.notes.filter { $0.type == ELFNote.gnuBuildID && $0.name == "GNU" }.count == 1)
    }

    @Test func rejectsBrokenHeadersWithOffsets() {
        func error(_ bytes: [UInt8]) -> String {
            do { _ = try ELFFile(bytes: bytes, name: "t.elf"); return "no error" } catch { return "\(error)" }
        }
        #expect(error([0x7f, 0x45]) == "t.elf: at byte 0 (0x0): too short for an ELF file (2 bytes)")
        #expect(error(Array("#!/bin/sh\n".utf8)) == "t.elf: at byte 0 (0x0): not an ELF file (no \\x7fELF magic)")
        let b = ELFBuilder(phnum: 1)
        #expect(error(Array(b.bytes[0..<40])) == "t.elf: at byte 40 (0x28): truncated ELF header: file has 40 bytes, the header needs 64")
        var b32 = b; b32.bytes[4] = 1
        #expect(error(b32.bytes) == "t.elf: at byte 4 (0x4): ELF class 1 is not supported (only ELFCLASS64)")
        var be = b; be.bytes[5] = 2
        #expect(error(be.bytes) == "t.elf: at byte 5 (0x5): ELF data encoding 2 is not supported (only little-endian)")
        // One program header promised, none present.
        #expect(error(b.bytes) == "t.elf: at byte 32 (0x20): program header table (1 entries of 56 bytes at 0x40) lies beyond the end of the file (64 bytes)")
        var small = b; small.put16(54, 32)
        #expect(error(small.bytes) == "t.elf: at byte 54 (0x36): program header entry size 32 is smaller than 56")
        // PN_XNUM without a section table.
        let x = ELFBuilder(phnum: 0xffff)
        #expect(error(x.bytes) == "t.elf: at byte 56 (0x38): e_phnum is PN_XNUM (0xffff) but section header 0, which holds the real count, is unreadable")
    }

    /// PN_XNUM: the real program header count comes from section 0's sh_info;
    /// notes come from a PT_NOTE segment.
    @Test func extendedProgramHeaderCountAndNotes() throws {
        var b = ELFBuilder(phoff: 64, phnum: 0xffff, shoff: 0, shnum: 1)
        let count: UInt32 = 3
        let notes = ELFBuilder.note(name: "CORE", type: 1, desc: [1, 2, 3, 4, 5])
            + ELFBuilder.note(name: "GNU", type: 3, desc: [0xde, 0xad, 0xbe, 0xef])
        let notesAt = 64 + Int(count) * 56 + 64
        b.append(ELFBuilder.phdr(type: 4, offset: UInt64(notesAt), filesz: UInt64(notes.count)))
        b.append(ELFBuilder.phdr(type: 1, offset: 0, vaddr: 0x1000, filesz: 64))
        b.append(ELFBuilder.phdr(type: 1, offset: 0, vaddr: 0x2000, filesz: 0, memsz: 0x1000))
        let shoff = b.append(ELFBuilder.shdr(info: count))
        b.put64(40, UInt64(shoff))
        b.append(notes)
        let elf = try ELFFile(bytes: b.bytes, name: "x.core")
        #expect(elf.programHeaders.count == 3)
        #expect(elf.programHeaders.map(\.virtualAddress) == [0, 0x1000, 0x2000])
        #expect(elf.sections.count == 1)
        #expect(elf.notes.map(\.name) == ["CORE", "GNU"])
        #expect(elf.notes[0].descriptorSize == 5)
        #expect(elf.notes[0].descriptorOffset == notesAt + 12 + 8)
        #expect(try elf.noteDescriptor(elf.notes[0]) == [1, 2, 3, 4, 5])
        #expect(elf.notes[1].offset == notesAt + 12 + 8 + 8)
        #expect(elf.buildIDHex == "deadbeef")
        #expect(elf.diagnostics.isEmpty)
    }

    /// Corrupt optional parts are reported and the valid rest is kept.
    @Test func corruptSectionsAndNotesBecomeDiagnostics() throws {
        var b = ELFBuilder(phnum: 2, shoff: 0x10000, shnum: 5)
        let notes = ELFBuilder.note(name: "GNU", type: 3, desc: [9, 9]) + ELFBuilder.le32(100) + ELFBuilder.le32(0) + ELFBuilder.le32(1)
        let notesAt = 64 + 2 * 56
        b.append(ELFBuilder.phdr(type: 4, offset: UInt64(notesAt), filesz: UInt64(notes.count)))
        b.append(ELFBuilder.phdr(type: 4, offset: 0x9000, filesz: 16))
        b.append(notes)
        let elf = try ELFFile(bytes: b.bytes, name: "c.elf")
        #expect(elf.buildID == [9, 9])
        #expect(elf.sections.isEmpty)
        #expect(elf.diagnostics.map(\.description) == [
            "c.elf: at byte 40 (0x28): section header table offset 0x10000 lies beyond the end of the file (208 bytes); sections ignored",
            "c.elf: at byte 196 (0xc4): note (name 100 bytes, descriptor 0 bytes) runs past the end of its note area",
            "c.elf: at byte 36864 (0x9000): note area of 16 bytes lies beyond the end of the file (208 bytes); skipped",
        ])
    }

    /// A name table index past the table and a truncated section table.
    @Test func badSectionTable() throws {
        var b = ELFBuilder(shnum: 2, shstrndx: 7)
        let at = b.append(ELFBuilder.shdr() + ELFBuilder.shdr(name: 1, type: 1, offset: 0, size: 4))
        b.put64(40, UInt64(at))
        let elf = try ELFFile(bytes: b.bytes, name: "s.elf")
        #expect(elf.sections.count == 2)
        #expect(elf.sections[1].type == SectionHeader.typeProgBits)
        #expect(elf.diagnostics.map(\.description) == ["s.elf: at byte 62 (0x3e): section name table index 7 is not a section (2 sections); names left empty"])
        var t = b
        t.put16(60, 3)   // three sections promised, two present
        let cut = try ELFFile(bytes: t.bytes, name: "s.elf")
        #expect(cut.sections.isEmpty)
        #expect(cut.diagnostics.map(\.description) == ["s.elf: at byte 64 (0x40): section header table (3 entries of 64 bytes) lies beyond the end of the file (192 bytes); sections ignored"])
    }
}

@Suite struct ELFSymbolTests {
    /// Every named, defined symbol (not FILE/SECTION) equals nm --defined-only's list.
    @Test func symbolsMatchNM() throws {
        let dir = try FixtureCompiler.tempDir()
        let exe = try FixtureCompiler.compile(["elf/hello.c"], output: "hello", in: dir, flags: ["-O2"])
        let elf = try ELFFile(path: exe)
        let ours = Set(try elf.symbols().filter { !$0.name.isEmpty && $0.sectionIndex != 0 && $0.type != 3 && $0.type != 4 }
            .map { "\($0.value) \($0.name)" })
        let nm = Set(try FixtureCompiler.run("nm", ["--defined-only", exe]).split(separator: "\n").compactMap { line -> String? in
            let f = line.split(separator: " ")
            guard f.count == 3 else { return nil }
            return "\(UInt64(f[0], radix: 16)!) \(f[2])"
        })
        #expect(ours.count > 20)
        #expect(ours == nm)
        let main = try #require(try elf.symbols().first { $0.name == "main" })
        #expect(main.type == ELFSymbol.typeFunction && main.binding == 1 && main.size > 0)
        #expect(try elf.symbols(table: ".nosuch").isEmpty)
    }
}
