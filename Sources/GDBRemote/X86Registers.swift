/// The x86-64 registers the stub can describe to gdb, in the order of our
/// target description. Each register belongs to one feature; a backend says
/// which optional features it has, and the layout keeps only those.
public enum X86Register: Int, CaseIterable, Sendable {
    // org.gnu.gdb.i386.core
    case rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp
    case r8, r9, r10, r11, r12, r13, r14, r15
    case rip, eflags, cs, ss, ds, es, fs, gs
    case st0, st1, st2, st3, st4, st5, st6, st7
    case fctrl, fstat, ftag, fiseg, fioff, foseg, fooff, fop
    // org.gnu.gdb.i386.sse
    case xmm0, xmm1, xmm2, xmm3, xmm4, xmm5, xmm6, xmm7
    case xmm8, xmm9, xmm10, xmm11, xmm12, xmm13, xmm14, xmm15
    case mxcsr
    // org.gnu.gdb.i386.linux
    case origRax
    // org.gnu.gdb.i386.segments
    case fsBase, gsBase
    // org.gnu.gdb.i386.avx: upper halves of ymm0–15 (gdb joins them with
    // xmm0–15 into its ymm pseudo-registers); after the segments, as in
    // gdb's own amd64 Linux description.
    case ymm0h, ymm1h, ymm2h, ymm3h, ymm4h, ymm5h, ymm6h, ymm7h
    case ymm8h, ymm9h, ymm10h, ymm11h, ymm12h, ymm13h, ymm14h, ymm15h
    // org.xenscope.x86.system (our own feature: kernel/hypervisor state)
    case kernelGSBase, cr0, cr2, cr3, cr4, cr8, efer

    /// Name gdb knows the register by.
    public var name: String {
        switch self {
        case .origRax: return "orig_rax"
        case .fsBase: return "fs_base"
        case .gsBase: return "gs_base"
        case .kernelGSBase: return "k_gs_base"
        default: return "\(self)"
        }
    }

    /// Size in bytes in `g`/`p` packets.
    public var size: Int {
        switch self {
        case .eflags, .cs, .ss, .ds, .es, .fs, .gs: return 4
        case .st0, .st1, .st2, .st3, .st4, .st5, .st6, .st7: return 10
        case .fctrl, .fstat, .ftag, .fiseg, .fioff, .foseg, .fooff, .fop, .mxcsr: return 4
        case _ where (X86Register.xmm0.rawValue...X86Register.xmm15.rawValue).contains(rawValue): return 16
        case _ where ymmUpperIndex != nil: return 16
        default: return 8
        }
    }

    /// The feature that declares this register.
    public var feature: X86Feature {
        switch rawValue {
        case ...X86Register.fop.rawValue: return .core
        case ...X86Register.mxcsr.rawValue: return .sse
        case X86Register.origRax.rawValue: return .linux
        case ...X86Register.gsBase.rawValue: return .segments
        case ...X86Register.ymm15h.rawValue: return .avx
        default: return .system
        }
    }

    /// 0–15 for ymm0h–ymm15h, else nil.
    public var ymmUpperIndex: Int? {
        let i = rawValue - X86Register.ymm0h.rawValue
        return (0..<16).contains(i) ? i : nil
    }

    /// The upper half of ymm`i` (0–15).
    public static func ymmUpper(_ i: Int) -> X86Register { X86Register(rawValue: X86Register.ymm0h.rawValue + i)! }

    /// gdb type name used in the target description.
    var xmlType: String {
        switch self {
        case .rip: return "code_ptr"
        case .rbp, .rsp: return "data_ptr"
        case .eflags: return "i386_eflags"
        case .mxcsr: return "i386_mxcsr"
        case .st0, .st1, .st2, .st3, .st4, .st5, .st6, .st7: return "i387_ext"
        case .origRax: return "int"
        case _ where ymmUpperIndex != nil: return "uint128"
        case _ where size == 16: return "vec128"
        case .fsBase, .gsBase, .kernelGSBase: return "int"
        case .cr0, .cr2, .cr3, .cr4, .cr8, .efer: return "uint64"
        default: return size == 4 ? "int32" : "int64"
        }
    }

    /// Register group for gdb's `info registers` selection (nil = gdb's default).
    var xmlGroup: String? {
        switch self {
        case .fctrl, .fstat, .ftag, .fiseg, .fioff, .foseg, .fooff, .fop: return "float"
        case .mxcsr: return "vector"
        case .origRax, .kernelGSBase, .cr0, .cr2, .cr3, .cr4, .cr8, .efer: return "system"
        default: return nil
        }
    }
}

/// A group of registers announced together in the target description.
public enum X86Feature: String, CaseIterable, Sendable {
    case core = "org.gnu.gdb.i386.core"
    case sse = "org.gnu.gdb.i386.sse"
    case linux = "org.gnu.gdb.i386.linux"
    case segments = "org.gnu.gdb.i386.segments"
    case avx = "org.gnu.gdb.i386.avx"
    case system = "org.xenscope.x86.system"
}

/// Register values of one thread, keyed by ``X86Register``; registers never
/// set are "unavailable" and go out as `xx` bytes.
public struct X86RegisterValues: Sendable, Equatable {
    /// Byte offset of each register in ``storage``.
    static let offsets: [Int] = {
        var o: [Int] = [], at = 0
        for r in X86Register.allCases { o.append(at); at += r.size }
        return o
    }()
    static let totalSize = X86Register.allCases.reduce(0) { $0 + $1.size }

    var storage: [UInt8] = Array(repeating: 0, count: X86RegisterValues.totalSize)
    var available: [Bool] = Array(repeating: false, count: X86Register.allCases.count)

    public init() {}

    /// Whether the register has a value; gdb is told `x` (unavailable) for the rest.
    public func isAvailable(_ r: X86Register) -> Bool { available[r.rawValue] }

    /// Sets a register from a number (little-endian, truncated to its size).
    public subscript(_ r: X86Register) -> UInt64? {
        get {
            guard available[r.rawValue] else { return nil }
            var v: UInt64 = 0
            let o = Self.offsets[r.rawValue]
            for i in (0..<min(8, r.size)).reversed() { v = v << 8 | UInt64(storage[o + i]) }
            return v
        }
        set {
            guard let newValue else { available[r.rawValue] = false; return }
            var v = newValue
            let o = Self.offsets[r.rawValue]
            for i in 0..<r.size { storage[o + i] = i < 8 ? UInt8(truncatingIfNeeded: v) : 0; if i < 8 { v >>= 8 } }
            available[r.rawValue] = true
        }
    }

    /// Raw little-endian bytes of a register (nil when unavailable).
    public func bytes(_ r: X86Register) -> ArraySlice<UInt8>? {
        guard available[r.rawValue] else { return nil }
        let o = Self.offsets[r.rawValue]
        return storage[o..<o + r.size]
    }

    /// Sets the raw bytes of a register; `bytes.count` must equal its size.
    public mutating func setBytes(_ r: X86Register, _ bytes: some Collection<UInt8>) {
        precondition(bytes.count == r.size, "\(r.name) is \(r.size) bytes")
        let o = Self.offsets[r.rawValue]
        storage.replaceSubrange(o..<o + r.size, with: bytes)
        available[r.rawValue] = true
    }

    /// Fills the x87 and SSE registers from a 512-byte FXSAVE image (64-bit
    /// format), computing gdb's full x87 tag word from the abridged one.
    public mutating func setFXSAVE(_ fx: some RandomAccessCollection<UInt8>) {
        precondition(fx.count >= 512, "FXSAVE image is 512 bytes")
        let b = Array(fx.prefix(512))
        func u16(_ o: Int) -> UInt64 { UInt64(b[o]) | UInt64(b[o + 1]) << 8 }
        func u32(_ o: Int) -> UInt64 { u16(o) | u16(o + 2) << 16 }
        let fsw = u16(2)
        self[.fctrl] = u16(0)
        self[.fstat] = fsw
        self[.fop] = u16(6) & 0x7ff
        self[.fioff] = u32(8)
        self[.fiseg] = u32(12)   // upper half of the 64-bit FIP, as gdb shows it
        self[.fooff] = u32(16)
        self[.foseg] = u32(20)
        self[.mxcsr] = u32(24)
        let st: [X86Register] = [.st0, .st1, .st2, .st3, .st4, .st5, .st6, .st7]
        for i in 0..<8 { setBytes(st[i], b[(32 + 16 * i)..<(42 + 16 * i)]) }
        for i in 0..<16 {
            setBytes(X86Register(rawValue: X86Register.xmm0.rawValue + i)!, b[(160 + 16 * i)..<(176 + 16 * i)])
        }
        // Full tag word: 2 bits per physical register; the abridged byte only
        // says empty or not, the kind (valid/zero/special) comes from the value.
        let abridged = b[4]
        let top = Int((fsw >> 11) & 7)
        var tag: UInt64 = 0
        for phys in 0..<8 {
            var t: UInt64 = 3
            if abridged & (1 << phys) != 0 {
                let sti = (phys - top + 8) & 7
                let o = 32 + 16 * sti
                let exponent = (UInt16(b[o + 9]) << 8 | UInt16(b[o + 8])) & 0x7fff
                var mantissa: UInt64 = 0
                for k in (0..<8).reversed() { mantissa = mantissa << 8 | UInt64(b[o + k]) }
                if exponent == 0x7fff { t = 2 }
                else if exponent == 0 { t = mantissa == 0 ? 1 : 2 }
                else { t = mantissa >> 63 == 1 ? 0 : 2 }
            }
            tag |= t << (2 * phys)
        }
        self[.ftag] = tag
    }
}

/// The registers one target exposes, in `g`-packet order, and its target
/// description XML.
public struct X86RegisterLayout: Sendable {
    /// Registers in `g` order; the index is gdb's remote register number.
    public let registers: [X86Register]
    /// Offset of each register of ``registers`` in the `g` packet.
    public let offsets: [Int]
    /// Size of a full `g` reply in bytes.
    public let size: Int
    /// `<osabi>` for the description, e.g. "GNU/Linux" for a process core.
    public let osabi: String?

    /// A layout with the core and segment features plus the given optional ones.
    public init(features: Set<X86Feature>, osabi: String? = nil) {
        var f = features
        f.insert(.core); f.insert(.segments)
        registers = X86Register.allCases.filter { f.contains($0.feature) }
        var o: [Int] = [], at = 0
        for r in registers { o.append(at); at += r.size }
        offsets = o
        size = at
        self.osabi = osabi
    }

    /// gdb's register number for `r`, if present.
    public func number(of r: X86Register) -> Int? { registers.firstIndex(of: r) }

    /// The target description (`target.xml`), written for this layout.
    public var targetXML: String {
        var x = "<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n<target version=\"1.0\">\n"
        x += "<architecture>i386:x86-64</architecture>\n"
        if let osabi { x += "<osabi>\(osabi)</osabi>\n" }
        var current: X86Feature?
        for (n, r) in registers.enumerated() {
            if r.feature != current {
                if current != nil { x += "</feature>\n" }
                current = r.feature
                x += "<feature name=\"\(r.feature.rawValue)\">\n"
                x += Self.types(for: r.feature)
            }
            x += "<reg name=\"\(r.name)\" bitsize=\"\(r.size * 8)\" type=\"\(r.xmlType)\" regnum=\"\(n)\""
            if let g = r.xmlGroup { x += " group=\"\(g)\"" }
            x += "/>\n"
        }
        if current != nil { x += "</feature>\n" }
        x += "</target>\n"
        return x
    }

    /// Types a feature needs (flag names and vector unions, as gdb expects).
    private static func types(for f: X86Feature) -> String {
        switch f {
        case .core:
            let flags = [(0, "CF"), (1, ""), (2, "PF"), (4, "AF"), (6, "ZF"), (7, "SF"), (8, "TF"), (9, "IF"),
                         (10, "DF"), (11, "OF"), (14, "NT"), (16, "RF"), (17, "VM"), (18, "AC"), (19, "VIF"),
                         (20, "VIP"), (21, "ID")]
            var s = "<flags id=\"i386_eflags\" size=\"4\">\n"
            for (bit, name) in flags { s += "<field name=\"\(name)\" start=\"\(bit)\" end=\"\(bit)\"/>\n" }
            return s + "</flags>\n"
        case .sse:
            var s = "<vector id=\"v8bf16\" type=\"bfloat16\" count=\"8\"/>\n"
            s += "<vector id=\"v4f\" type=\"ieee_single\" count=\"4\"/>\n<vector id=\"v2d\" type=\"ieee_double\" count=\"2\"/>\n"
            s += "<vector id=\"v16i8\" type=\"int8\" count=\"16\"/>\n<vector id=\"v8i16\" type=\"int16\" count=\"8\"/>\n"
            s += "<vector id=\"v4i32\" type=\"int32\" count=\"4\"/>\n<vector id=\"v2i64\" type=\"int64\" count=\"2\"/>\n"
            s += "<union id=\"vec128\">\n<field name=\"v8_bfloat16\" type=\"v8bf16\"/>\n<field name=\"v4_float\" type=\"v4f\"/>\n"
            s += "<field name=\"v2_double\" type=\"v2d\"/>\n<field name=\"v16_int8\" type=\"v16i8\"/>\n"
            s += "<field name=\"v8_int16\" type=\"v8i16\"/>\n<field name=\"v4_int32\" type=\"v4i32\"/>\n"
            s += "<field name=\"v2_int64\" type=\"v2i64\"/>\n<field name=\"uint128\" type=\"uint128\"/>\n</union>\n"
            let flags = [(0, "IE"), (1, "DE"), (2, "ZE"), (3, "OE"), (4, "UE"), (5, "PE"), (6, "DAZ"), (7, "IM"),
                         (8, "DM"), (9, "ZM"), (10, "OM"), (11, "UM"), (12, "PM"), (15, "FZ")]
            s += "<flags id=\"i386_mxcsr\" size=\"4\">\n"
            for (bit, name) in flags { s += "<field name=\"\(name)\" start=\"\(bit)\" end=\"\(bit)\"/>\n" }
            return s + "</flags>\n"
        default:
            return ""
        }
    }
}
