import DWARF
import Foundation
import Testing

/// Inputs that once crashed the symbolizer's readers under the fuzzer
/// (scripts/fuzz-dwarf.sh, Fuzz/SymbolizerFuzz.swift), replayed the way the
/// target drives them, each with its exact outcome.
@Suite struct DWARFCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus").path

    /// What loading `path` gives: the symbolizer (DWARF or not, the symbol of
    /// .text's first byte) and the struct layouts (or their error).
    static func outcome(_ path: String) -> [String] {
        var lines = [String]()
        do {
            let s = try Symbolizer(path: path, debugDirectories: ["/nonexistent"])
            lines.append("symbolizer: DWARF \(s.hasDWARF)")
            if let text = s.elf.section(named: ".text") {
                let r = s.symbolize(text.address)
                lines.append(".text 0x\(String(text.address, radix: 16)): \(r.symbol ?? "??")+\(r.symbolOffset), \(r.frames.count) frame(s)")
            }
            _ = s.describe(address: 0x1000)
            _ = s.lookup(symbol: "main")
        } catch {
            lines.append("symbolizer: \(error)")
        }
        do {
            let t = try TypeLayouts(path: path)
            lines.append("layouts: point \((try? t.size(of: "point")) ?? -1) bytes")
        } catch {
            lines.append("layouts: \(error)")
        }
        return lines
    }

    @Test(arguments: try! FileManager.default.contentsOfDirectory(atPath: corpus).sorted())
    func replay(_ name: String) throws {
        let path = Self.corpus + "/" + name
        let got = Self.outcome(path).map { $0.replacingOccurrences(of: Self.corpus + "/", with: "") }
        let want = try #require(Self.expected[name], "no expected outcome for Corpus/\(name): add one")
        #expect(got == want)
    }

    static let expected: [String: [String]] = [
        // A symbol table whose sh_entsize is 2^64-1: Int() of it trapped.
        "symtab-entsize-2-to-64": [
            "symbolizer: DWARF true",
            ".text 0x1040: ??+0, 1 frame(s)",
            "layouts: symtab-entsize-2-to-64 has no DWARF type information (.debug_info)",
        ],
        // An ELF libdwfl refuses (no program headers): DwflSession freed its
        // session, callbacks and paths twice (`symbolize --elf` crashed).
        "dwfl-report-elf-fails-double-free": [
            "symbolizer: dwfl-report-elf-fails-double-free: elfutils: No ELF program headers",
            "layouts: dwfl-report-elf-fails-double-free has no DWARF type information (.debug_info)",
        ],
        // DWARF with no struct: TypeLayouts freed its libdw session twice.
        "dwarf-without-structs-double-free": [
            "symbolizer: DWARF true",
            ".text 0x1040: main+0, 1 frame(s)",
            "layouts: dwarf-without-structs-double-free has no DWARF type information (.debug_info)",
        ],
    ]
}
