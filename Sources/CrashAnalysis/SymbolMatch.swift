import Dump
import ELF

/// Whether the symbols given match the dumped kernel, and how we know.
public struct SymbolMatch: Sendable, Equatable, Codable {
    public enum Verdict: String, Sendable, Codable {
        case match, mismatch, unknown
    }
    public var verdict: Verdict
    /// One sentence for the user, naming both values when they differ.
    public var message: String
}

extension CrashSession {
    /// Checks `--elf` against the dump, most reliable evidence first:
    /// 1. VMCOREINFO `BUILD-ID=` (Linux ≥ 5.14) against the file's build-id;
    /// 2. the GNU build-id note in memory at the address of the file's
    ///    allocated note section (our guest, Linux `.notes`, Xen's build-id note);
    /// 3. the first bytes of `.text` in memory against the file.
    public func checkSymbols() -> SymbolMatch {
        guard let symbols else { return SymbolMatch(verdict: .unknown, message: "no symbols given (--elf): nothing to check") }
        let elf = symbols.elf
        let name = symbols.path
        let fileID = elf.buildIDHex
        if let vmID = dump.vmcoreinfo?.buildID, let fileID {
            return vmID.lowercased() == fileID.lowercased()
                ? SymbolMatch(verdict: .match, message: "\(name) matches the dump: build-id \(fileID) (from the dump's VMCOREINFO)")
                : SymbolMatch(verdict: .mismatch, message: "\(name) does NOT match the dump: its build-id is \(fileID), the dump's VMCOREINFO says \(vmID); symbols, backtraces and the log would be wrong")
        }
        if let fileID, let id = elf.buildID,
           let note = elf.sections.first(where: { $0.type == SectionHeader.typeNote && $0.flags & SectionHeader.flagAlloc != 0 && $0.address != 0 && $0.size >= UInt64(16 + id.count) }),
           let fileBytes = try? elf.contents(of: note) {
            // Find the build-id descriptor inside the section, then read the same bytes from memory.
            if let at = find(id, in: fileBytes) {
                let va = note.address + UInt64(at)
                do {
                    let mem = try read(va, count: id.count)
                    if mem == id {
                        return SymbolMatch(verdict: .match, message: "\(name) matches the dump: build-id \(fileID) is in memory at 0x\(String(va, radix: 16))")
                    }
                    return SymbolMatch(verdict: .mismatch, message: "\(name) does NOT match the dump: memory at 0x\(String(va, radix: 16)) (its \(note.name) section) holds \(hexString(mem)), the file's build-id is \(fileID); symbols, backtraces and the log would be wrong")
                } catch {
                    return SymbolMatch(verdict: .mismatch, message: "\(name) does NOT match the dump: its build-id note belongs at 0x\(String(va, radix: 16)), which the dump cannot read (\(error)); symbols, backtraces and the log would be wrong")
                }
            }
        }
        if let text = elf.section(named: ".text"), text.address != 0,
           let fileBytes = try? elf.bytes(offset: text.offset, count: min(text.size, 256)) {
            if let mem = try? read(text.address, count: fileBytes.count) {
                return mem == fileBytes
                    ? SymbolMatch(verdict: .match, message: "\(name) matches the dump: the first \(fileBytes.count) bytes of .text are the same in memory (the file has no build-id to compare)")
                    : SymbolMatch(verdict: .mismatch, message: "\(name) does NOT match the dump: .text at 0x\(String(text.address, radix: 16)) differs from the file; symbols, backtraces and the log would be wrong")
            }
        }
        return SymbolMatch(verdict: .unknown, message: "\(name): cannot tell whether it matches the dump (no build-id in the dump's notes or memory, .text not readable); results may be wrong")
    }

    private func find(_ needle: [UInt8], in hay: [UInt8]) -> Int? {
        guard needle.count <= hay.count else { return nil }
        for i in 0...(hay.count - needle.count) where hay[i] == needle[0] && Array(hay[i..<(i + needle.count)]) == needle { return i }
        return nil
    }
}
