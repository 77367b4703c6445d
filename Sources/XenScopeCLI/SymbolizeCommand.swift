import ArgumentParser
import BinaryIO
import DWARF
import Foundation

/// `xenscope symbolize --elf FILE [--bias B] [ADDR ...]`: addresses to
/// functions, inline chains and source lines (llvm-symbolizer's text shape).
struct SymbolizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "symbolize",
        abstract: "Addresses to function, inline chain and file:line (reads stdin when no address is given).",
        discussion: "Text output is llvm-symbolizer's: per frame, innermost first, the function and file:line:column, then an empty line. --output-style addr2line prints eu-addr2line -f -i's layout."
    )

    enum Style: String, ExpressibleByArgument { case llvm, addr2line }

    @Option(help: "ELF image: executable, shared object, vmlinux, xen-syms (or its debug file).")
    var elf: String
    @Option(help: "Load bias added to link-time addresses (PIE/shared-object base, KASLR slide); hex with 0x.")
    var bias: String = "0"
    @Option(name: .customLong("debug-dir"), help: "Directory searched for a separate debug file (by build-id or .gnu_debuglink); repeatable.")
    var debugDirs: [String] = []
    @Option(name: .customLong("symbol"), help: "Reverse lookup: print address, size and declaration of this symbol; repeatable.")
    var symbols: [String] = []
    @Option(name: .customLong("build-id"), help: "Expected build-id (hex) of the image being analysed; warn when the ELF differs.")
    var expectedBuildID: String?
    @Option(help: "Text layout: llvm (default) or addr2line.")
    var outputStyle: Style = .llvm
    @Flag(help: "Print each address before its frames.")
    var addresses = false
    @Flag(help: "One JSON object per address (or symbol) per line.")
    var json = false
    @Argument(help: "Addresses (0x… hex or decimal). Without any, one per line from stdin.")
    var addressArguments: [String] = []

    func run() throws {
        guard let biasValue = parseAddress(bias) else { throw ValidationError("--bias: not a number: \(bias)") }
        let symbolizer = try Symbolizer(path: elf, bias: biasValue, debugDirectories: debugDirs)
        for r in symbolizer.rejectedDebugFiles { FDWriter.stderrLine("xenscope: note: not using \(r)") }
        // A damaged image (cut, bad tables): say where, answer from what is
        // left, and exit 2 at the end, as the other readers do.
        let damaged = !symbolizer.elf.diagnostics.isEmpty
        for d in symbolizer.elf.diagnostics { FDWriter.stderrLine("xenscope: \(d)") }
        if !symbolizer.hasDWARF { FDWriter.stderrLine("xenscope: \(elf): no DWARF found; names come from the ELF symbol table, no source lines") }
        if let expectedBuildID {
            guard let bytes = parseHex(expectedBuildID) else { throw ValidationError("--build-id: not hex: \(expectedBuildID)") }
            let check = symbolizer.checkBuildID(expected: bytes)
            FDWriter.stderrLine("xenscope: " + check.message(for: elf))
            if case .mismatch = check { throw ExitCode(3) }
        }
        let out = FDWriter(fd: 1)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        if !symbols.isEmpty {
            var missing = false
            for name in symbols {
                let defs = symbolizer.lookup(symbol: name)
                if defs.isEmpty { missing = true; FDWriter.stderrLine("xenscope: \(name): no such symbol in \(elf)") }
                for d in defs {
                    if json { out.line(String(decoding: try encoder.encode(d), as: UTF8.self)); continue }
                    out.line("\(d.name) 0x\(String(d.address, radix: 16)) size \(d.size) \(d.kind)" + (d.location.map { " \($0.text)" } ?? ""))
                }
            }
            out.flush()
            if missing { throw ExitCode(1) }
            if damaged { throw ExitCode(2) }
            return
        }
        func handle(_ text: String) throws {
            let t = text.trimmingCharacters(in: .whitespaces)
            if t.isEmpty { return }
            guard let a = parseAddress(t) else {
                FDWriter.stderrLine("xenscope: not an address: \(t)")
                if !json { out.write("??\n??:0:0\n\n") }
                return
            }
            let r = symbolizer.symbolize(a)
            if json { out.line(String(decoding: try encoder.encode(r), as: UTF8.self)); return }
            if addresses { out.line("0x" + String(a, radix: 16)) }
            out.write(outputStyle == .llvm ? r.llvmText : r.addr2lineText)
        }
        if addressArguments.isEmpty {
            let lines = LineReader(FileStream(fd: 0, name: "-", ownsFD: false))
            while let line = try lines.next() {
                switch line {
                case .text(let t): try handle(t)
                case .tooLong(let offset):
                    FDWriter.stderrLine("xenscope: -: at byte \(offset) (0x\(String(offset, radix: 16))): line longer than 4096 bytes, not an address; skipped to the next newline")
                    if !json { out.write("??\n??:0:0\n\n") }
                }
                if outputStyle == .llvm { out.flush() }
            }
        } else {
            for a in addressArguments { try handle(a) }
        }
        out.flush()
        if damaged { throw ExitCode(2) }
    }
}

/// Parses `0x…` hex or decimal (strtoul base 0 without octal).
func parseAddress(_ s: String) -> UInt64? {
    let t = s.trimmingCharacters(in: .whitespaces).lowercased()
    if t.hasPrefix("0x") { return UInt64(t.dropFirst(2), radix: 16) }
    return UInt64(t)
}

/// Parses a hex string (build-ids) into bytes.
func parseHex(_ s: String) -> [UInt8]? {
    let t = Array(s.lowercased().utf8)
    guard t.count % 2 == 0, !t.isEmpty else { return nil }
    var out = [UInt8]()
    for i in stride(from: 0, to: t.count, by: 2) {
        guard let b = UInt8(String(decoding: t[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
        out.append(b)
    }
    return out
}
