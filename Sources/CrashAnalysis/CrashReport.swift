import BinaryIO
import Dump

/// A summary of the dump itself (format, CPUs, memory, problems).
public struct DumpSummary: Sendable, Equatable, Codable {
    public var path: String
    public var format: DumpFormat
    public var architecture: Architecture
    public var cpus: Int
    /// Bytes of physical memory the dump covers.
    public var physicalBytes: UInt64
    public var physicalRanges: [String]
    /// Non-fatal problems, each naming file and offset.
    public var problems: [String]
}

extension CrashSession {
    public var dumpSummary: DumpSummary {
        DumpSummary(path: dump.path, format: dump.format, architecture: dump.architecture, cpus: dump.cpus.count,
                    physicalBytes: dump.physicalRanges.reduce(0) { $0 + ($1.upperBound - $1.lowerBound) },
                    physicalRanges: dump.physicalRanges.map { "0x\(String($0.lowerBound, radix: 16))-0x\(String($0.upperBound, radix: 16))" },
                    problems: dump.diagnostics.map(\.description))
    }
}

/// Registers of one CPU as `crash`'s `bt` prints them under a frame list.
public func formatRegisters(_ c: CPUState) -> String {
    if let a = c.aarch64 { return formatAArch64Registers(a) }
    func h(_ v: UInt64, _ w: Int = 16) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, w - s.count)) + s
    }
    var lines = [String]()
    lines.append("    RIP: \(h(c.rip))  RSP: \(h(c.rsp))  RFLAGS: \(h(c.rflags, 8))")
    lines.append("    RAX: \(h(c.rax))  RBX: \(h(c.rbx))  RCX: \(h(c.rcx))")
    lines.append("    RDX: \(h(c.rdx))  RSI: \(h(c.rsi))  RDI: \(h(c.rdi))")
    lines.append("    RBP: \(h(c.rbp))   R8: \(h(c.r8))   R9: \(h(c.r9))")
    lines.append("    R10: \(h(c.r10))  R11: \(h(c.r11))  R12: \(h(c.r12))")
    lines.append("    R13: \(h(c.r13))  R14: \(h(c.r14))  R15: \(h(c.r15))")
    lines.append("    CS: \(h(c.cs, 4))  SS: \(h(c.ss, 4))  DS: \(h(c.ds, 4))  ES: \(h(c.es, 4))  FS: \(h(c.fs, 4))  GS: \(h(c.gs, 4))")
    var extra = [String]()
    if let v = c.fsBase { extra.append("FS_BASE: \(h(v))") }
    if let v = c.gsBase { extra.append("GS_BASE: \(h(v))") }
    if let v = c.kernelGsBase { extra.append("KERNEL_GS_BASE: \(h(v))") }
    if !extra.isEmpty { lines.append("    " + extra.joined(separator: "  ")) }
    var cr = [String]()
    if let v = c.cr0 { cr.append("CR0: \(h(v))") }
    if let v = c.cr2 { cr.append("CR2: \(h(v))") }
    if let v = c.cr3 { cr.append("CR3: \(h(v))") }
    if let v = c.cr4 { cr.append("CR4: \(h(v))") }
    if let v = c.efer { cr.append("EFER: \(h(v))") }
    if !cr.isEmpty { lines.append("    " + cr.joined(separator: "  ")) }
    return lines.joined(separator: "\n")
}

/// `crash rd`-style hex dump: address, 16 bytes, ASCII.
public func formatHexDump(address: UInt64, bytes: [UInt8]) -> String {
    var out = [String]()
    var i = 0
    while i < bytes.count {
        let row = bytes[i..<min(i + 16, bytes.count)]
        let hex = row.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined(separator: " ")
        let ascii = String(row.map { $0 >= 0x20 && $0 < 0x7f ? Character(UnicodeScalar($0)) : "." })
        let a = String(address &+ UInt64(i), radix: 16)
        out.append(String(repeating: "0", count: max(0, 16 - a.count)) + a + ":  " + hex.padding(47) + "   " + ascii)
        i += 16
    }
    return out.joined(separator: "\n")
}

extension String {
    fileprivate func padding(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
}
