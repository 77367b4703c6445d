import Foundation
import Dump
import ELF

/// Whether the symbols given match the dumped kernel, and how we know.
public struct SymbolMatch: Sendable, Equatable, Codable {
    /// The answer: the dump and the file agree (build-id, or the bytes of `.text`), differ, or could not be compared.
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
        // Linux before 5.14 has no BUILD-ID in VMCOREINFO: compare the
        // banner ("Linux version … #1 SMP …"), unique per build, in memory and in the file.
        if let v = dump.vmcoreinfo, v.osRelease != nil, let va = symbols.address(ofSymbol: "linux_banner"),
           let banner = fileString(elf, atLinkAddress: va &- symbols.bias) {
            let firstLine = String(decoding: banner.prefix { $0 != 0x0a }, as: UTF8.self)
            guard let mem = try? read(va, count: banner.count) else {
                return SymbolMatch(verdict: .mismatch, message: "\(name) does NOT match the dump: its linux_banner belongs at 0x\(String(va, radix: 16)), which the dump cannot read (the dump's VMCOREINFO names \(v.osRelease!)); symbols, backtraces and the log would be wrong")
            }
            if mem == banner {
                return SymbolMatch(verdict: .match, message: "\(name) matches the dump: the banner \"\(firstLine)\" is in memory at 0x\(String(va, radix: 16)) (VMCOREINFO has no BUILD-ID)")
            }
            let memLine = String(decoding: mem.prefix { $0 != 0x0a && $0 != 0 }, as: UTF8.self)
            return SymbolMatch(verdict: .mismatch, message: "\(name) does NOT match the dump: its banner is \"\(firstLine)\", memory at 0x\(String(va, radix: 16)) holds \"\(memLine)\" (VMCOREINFO names \(v.osRelease!)); symbols, backtraces and the log would be wrong")
        }
        if let fileID, let id = elf.buildID,
           let note = elf.sections.first(where: { $0.type == SectionHeader.typeNote && $0.flags & SectionHeader.flagAlloc != 0 && $0.address != 0 && $0.size >= UInt64(16 + id.count) }),
           let fileBytes = try? elf.contents(of: note) {
            // Find the build-id descriptor inside the section, then read the same bytes from memory.
            if let at = find(id, in: fileBytes) {
                let va = note.address &+ symbols.bias &+ UInt64(at)
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
            if let mem = try? read(text.address &+ symbols.bias, count: fileBytes.count) {
                return mem == fileBytes
                    ? SymbolMatch(verdict: .match, message: "\(name) matches the dump: the first \(fileBytes.count) bytes of .text are the same in memory (the file has no build-id to compare)")
                    : SymbolMatch(verdict: .mismatch, message: "\(name) does NOT match the dump: .text at 0x\(String(text.address, radix: 16)) differs from the file; symbols, backtraces and the log would be wrong")
            }
        }
        return SymbolMatch(verdict: .unknown, message: "\(name): cannot tell whether it matches the dump (no build-id in the dump's notes or memory, .text not readable); results may be wrong")
    }

    /// The NUL-terminated string (without its NUL, at most 512 bytes) at a
    /// link-time address in the file's allocated sections.
    fileprivate func fileString(_ elf: ELFFile, atLinkAddress a: UInt64) -> [UInt8]? {
        guard let sec = elf.sections.first(where: { $0.flags & SectionHeader.flagAlloc != 0 && $0.type != SectionHeader.typeNoBits && $0.address != 0 && a >= $0.address && a < $0.address &+ $0.size }),
              let b = try? elf.bytes(offset: sec.offset &+ (a - sec.address), count: min(512, sec.address &+ sec.size &- a)) else { return nil }
        let s = Array(b.prefix { $0 != 0 })
        return s.isEmpty ? nil : s
    }

    fileprivate func find(_ needle: [UInt8], in hay: [UInt8]) -> Int? {
        guard needle.count <= hay.count else { return nil }
        for i in 0...(hay.count - needle.count) where hay[i] == needle[0] && Array(hay[i..<(i + needle.count)]) == needle { return i }
        return nil
    }
}

extension CrashSession {
    /// A second, independent check for Xen: the boot banner in the console
    /// ring. Xen prints `build-id: HEX` and `Xen version … <compile date>`
    /// at boot; the build-id must be the file's and the compile date string
    /// must be in the file's `.rodata`. Nil when the log has neither line
    /// (not a hypervisor, or the ring wrapped past the boot messages).
    public func checkXenBanner(log: ConsoleLog) -> SymbolMatch? {
        guard let symbols else { return nil }
        let name = symbols.path
        var logID: String?
        var version: String?
        for line in log.text.split(separator: "\n") {
            if logID == nil, let r = line.range(of: "build-id: ") {
                let hex = line[r.upperBound...].prefix { $0.isHexDigit }
                if hex.count >= 16 { logID = String(hex).lowercased() }
            }
            if version == nil, let r = line.range(of: "Xen version ") { version = String(line[r.lowerBound...]) }
        }
        if let logID, let fileID = symbols.elf.buildIDHex?.lowercased() {
            return logID == fileID
                ? SymbolMatch(verdict: .match, message: "the console ring's boot banner names build-id \(logID), the file's")
                : SymbolMatch(verdict: .mismatch, message: "\(name) does NOT match the dump: the console ring's boot banner says build-id \(logID), the file's is \(fileID)")
        }
        // No build-id line: the compile date closing the version line must be in the file.
        if let version, let dateStart = version.range(of: #"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d"#, options: .regularExpression),
           let rodata = symbols.elf.section(named: ".rodata"), let bytes = try? symbols.elf.contents(of: rodata) {
            let date = String(version[dateStart.lowerBound...]).trimmingCharacters(in: .whitespacesAndNewlines)
            return find(Array(date.utf8), in: bytes) != nil
                ? SymbolMatch(verdict: .match, message: "the console ring's banner compile date \"\(date)\" is in the file")
                : SymbolMatch(verdict: .mismatch, message: "\(name) does NOT match the dump: the console ring's banner says \"\(version)\", whose compile date is not in the file")
        }
        return nil
    }
}
