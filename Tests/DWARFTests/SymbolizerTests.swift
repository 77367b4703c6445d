import FixtureSupport
import Foundation
import Testing
import BinaryIO
import ELF
@testable import DWARF

@Suite struct SymbolizerTests {
    /// Function names, inline chains and file:line:column equal eu-addr2line -f -i
    /// for every byte of every function in a 3-CU program and a shared library.
    @Test func matchesEuAddr2line() throws {
        let fx = try SymbolizerFixtures.get()
        var total = 0, inlined = 0
        var differences: [String] = []
        for file in [fx.program, fx.library] {
            let addrs = try SymbolizerFixtures.functionAddresses(file)
            let eu = try euAddr2line(file, addrs)
            let sym = try Symbolizer(path: file)
            #expect(sym.hasDWARF)
            for (a, r) in zip(addrs, sym.symbolize(addrs)) {
                total += 1
                if r.frames.count > 1 { inlined += 1 }
                if eu[a] != r.addr2lineText { differences.append("\(file) 0x\(String(a, radix: 16)):\n eu: \(eu[a] ?? "nil") us: \(r.addr2lineText)") }
            }
        }
        #expect(total >= 1000)
        #expect(inlined >= 300, "fixtures should exercise inline chains (\(inlined))")
        #expect(differences.isEmpty, "\(differences.count) of \(total) differ; first: \(differences.prefix(3).joined(separator: "\n"))")
    }

    @Test func loadBiasShiftsAddresses() throws {
        let fx = try SymbolizerFixtures.get()
        let plain = try Symbolizer(path: fx.library)
        let base: UInt64 = 0x7f12_3400_0000
        let moved = try Symbolizer(path: fx.library, bias: base)
        let (lib, _) = try #require(try SymbolizerFixtures.nmSymbol(fx.library, "lib_block"))
        let r = moved.symbolize(base + lib + 4)
        #expect(r.fileAddress == lib + 4)
        #expect(r.frames == plain.symbolize(lib + 4).frames)
        #expect(r.symbol == "lib_block" && r.symbolOffset == 4)
        #expect(!moved.symbolize(lib + 4).inImage)
        #expect(moved.textRanges.contains { $0.contains(base + lib) })
    }

    @Test func reverseLookupAndDescribe() throws {
        let fx = try SymbolizerFixtures.get()
        let sym = try Symbolizer(path: fx.program, bias: 0x1000)
        let (value, size) = try #require(try SymbolizerFixtures.nmSymbol(fx.program, "hash_words"))
        let defs = sym.lookup(symbol: "hash_words")
        #expect(defs.count == 1)
        #expect(defs.first?.address == value + 0x1000)
        #expect(defs.first?.size == size)
        #expect(defs.first?.kind == "function")
        #expect(defs.first?.location == SourceLocation(file: SymbolizerFixtures.source("words.c"), line: 20, column: 0))
        #expect(sym.lookup(symbol: "table").first?.kind == "object")
        #expect(sym.lookup(symbol: "no_such_symbol").isEmpty)
        #expect(sym.describe(address: value + 0x1000 + 0x10).hasPrefix("hash_words+0x10 (words.c:"))
        #expect(sym.describe(address: 0x10) == "?? (outside image)")
    }

    /// Without DWARF (stripped), names come from .dynsym and lines are unknown;
    /// with a separate debug file found by build-id or debuglink, everything is back.
    @Test func strippedAndSeparateDebugFile() throws {
        let fx = try SymbolizerFixtures.get()
        let dir = try FixtureCompiler.tempDir()
        let stripped = dir + "/libfixture.so"
        try FixtureCompiler.run("strip", ["-o", stripped, fx.library])
        let (value, _) = try #require(try SymbolizerFixtures.nmSymbol(fx.library, "lib_checksum"))
        let bare = try Symbolizer(path: stripped)
        #expect(!bare.hasDWARF)
        let r = bare.symbolize(value + 3)
        #expect(r.frames == [SymbolFrame(function: "lib_checksum", location: nil, inlined: false, dieOffset: nil)])
        #expect(r.addr2lineText == "lib_checksum\n??:0\n")

        // Debug file by build-id in a debug directory.
        let debugDir = dir + "/debug"
        let id = try #require(bare.buildID)
        try FileManager.default.createDirectory(atPath: debugDir + "/.build-id/" + id.prefix(2), withIntermediateDirectories: true)
        try FixtureCompiler.run("objcopy", ["--only-keep-debug", fx.library, debugDir + "/.build-id/\(id.prefix(2))/\(id.dropFirst(2)).debug"])
        let full = try Symbolizer(path: fx.library)
        let byID = try Symbolizer(path: stripped, debugDirectories: [debugDir])
        #expect(byID.debugFile == debugDir + "/.build-id/\(id.prefix(2))/\(id.dropFirst(2)).debug")
        #expect(byID.symbolize(value + 3).frames == full.symbolize(value + 3).frames)

        // Debug file by .gnu_debuglink next to the image.
        let linked = dir + "/linked.so"
        try FixtureCompiler.run("objcopy", ["--only-keep-debug", fx.library, dir + "/linked.so.dbg"])
        try FixtureCompiler.run("strip", ["-o", dir + "/tmp.so", fx.library])
        try FixtureCompiler.run("objcopy", ["--add-gnu-debuglink=" + dir + "/linked.so.dbg", dir + "/tmp.so", linked])
        let byLink = try Symbolizer(path: linked)
        #expect(byLink.debugFile == dir + "/linked.so.dbg")
        #expect(byLink.symbolize(value + 3).frames == full.symbolize(value + 3).frames)
    }

    @Test func buildIDCheck() throws {
        let fx = try SymbolizerFixtures.get()
        let sym = try Symbolizer(path: fx.program)
        let id = try #require(sym.elf.buildID)
        #expect(sym.checkBuildID(expected: id) == .match)
        var other = id
        other[0] ^= 0xff
        let check = sym.checkBuildID(expected: other)
        #expect(check == .mismatch(file: hexString(id), expected: hexString(other)))
        #expect(check.message(for: "prog") == "prog: build-id \(hexString(id)) does not match the image's build-id \(hexString(other)); symbols would be wrong")
    }

    /// Truncated and corrupt files: clear errors or "??", never a crash.
    @Test func badInput() throws {
        let fx = try SymbolizerFixtures.get()
        let dir = try FixtureCompiler.tempDir()
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: fx.program)))
        let truncated = dir + "/truncated"
        try Data(bytes[0..<40]).write(to: URL(fileURLWithPath: truncated))
        #expect(throws: InputError(file: truncated, offset: 40, "truncated ELF header: file has 40 bytes, the header needs 64")) {
            try Symbolizer(path: truncated)
        }
        // Cut in the middle: headers survive, section table and DWARF are gone.
        let half = dir + "/half"
        try Data(bytes[0..<(bytes.count / 2)]).write(to: URL(fileURLWithPath: half))
        do {
            let s = try Symbolizer(path: half)
            _ = s.symbolize(0x1100)
            #expect(!s.elf.diagnostics.isEmpty)
        } catch {
            #expect("\(error)".contains(half))
        }
        // Corrupt DWARF: .debug_info overwritten with 0xff.
        let elf = try ELFFile(path: fx.program)
        let info = try #require(elf.section(named: ".debug_info"))
        var corrupt = bytes
        for i in Int(info.offset)..<Int(info.offset + info.size) { corrupt[i] = 0xff }
        let bad = dir + "/corrupt"
        try Data(corrupt).write(to: URL(fileURLWithPath: bad))
        let s = try Symbolizer(path: bad)
        let (main, _) = try #require(try SymbolizerFixtures.nmSymbol(fx.program, "main"))
        let r = s.symbolize(main)
        #expect(r.inImage && r.symbol == "main")
        #expect(r.frames.last?.function == "main")
        #expect(s.symbolize(0xffff_ffff_0000).addr2lineText == "??\n??:0\n")
    }

    /// Two threads symbolizing through one instance get the same answers as one.
    @Test func concurrentUse() async throws {
        let fx = try SymbolizerFixtures.get()
        let sym = try Symbolizer(path: fx.program)
        let addrs = try SymbolizerFixtures.functionAddresses(fx.program)
        let expected = try Symbolizer(path: fx.program).symbolize(addrs)
        async let a = Task.detached { addrs.map { sym.symbolize($0) } }.value
        async let b = Task.detached { addrs.reversed().map { sym.symbolize($0) } }.value
        let (ra, rb) = await (a, b)
        #expect(ra == expected)
        #expect(Array(rb.reversed()) == expected)
    }
}

extension SymbolizerFixtures {
    /// Absolute path of a fixture source file, as DWARF names it.
    static func source(_ name: String) -> String {
        FixtureCompiler.fixtures.appendingPathComponent("symbolize/" + name).path
    }
}
