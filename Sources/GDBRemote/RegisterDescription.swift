/// A target description for architectures other than x86-64 (which has its
/// own typed ``X86RegisterLayout``): an ordered list of registers, each with
/// gdb's name, size, type and feature, numbered by position. The session uses
/// it when a backend returns one from ``Backend/registerDescription``.
public struct RegisterDescription: Sendable {
    /// One register as the target description declares it.
    public struct Register: Sendable, Equatable {
        public var name: String
        /// Size in bytes in `g`/`p` packets.
        public var size: Int
        /// gdb type name (a built-in or one declared by the feature's types).
        public var type: String
        /// Register group for `info registers` (nil: gdb's default).
        public var group: String?
        /// Feature name, e.g. "org.gnu.gdb.aarch64.core".
        public var feature: String

        public init(_ name: String, size: Int, type: String, group: String? = nil, feature: String) {
            self.name = name; self.size = size; self.type = type; self.group = group; self.feature = feature
        }
    }

    /// `<architecture>` value, e.g. "aarch64".
    public let architecture: String
    /// Registers in `g` order; the index is gdb's register number.
    public let registers: [Register]
    /// Type declarations (`<flags>`, `<vector>`, `<union>` XML) per feature,
    /// written before that feature's registers.
    public let featureTypes: [String: String]
    /// Register numbers sent with every stop reply (frame pointer, stack
    /// pointer, program counter), so gdb need not ask for them.
    public let expedited: [Int]
    /// Register numbers shown by `monitor info vcpus` (name and number).
    public let tableColumns: [(name: String, number: Int)]

    public init(architecture: String, registers: [Register], featureTypes: [String: String],
                expedited: [String], tableColumns: [String]) {
        self.architecture = architecture
        self.registers = registers
        self.featureTypes = featureTypes
        func number(_ n: String) -> Int? { registers.firstIndex { $0.name == n } }
        self.expedited = expedited.compactMap(number)
        self.tableColumns = tableColumns.compactMap { n in number(n).map { (n, $0) } }
    }

    /// gdb's register number of the register called `name`.
    public func number(of name: String) -> Int? { registers.firstIndex { $0.name == name } }

    /// Size of a full `g` reply in bytes.
    public var size: Int { registers.reduce(0) { $0 + $1.size } }

    /// The target description (`target.xml`).
    public var targetXML: String {
        var x = "<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n<target version=\"1.0\">\n"
        x += "<architecture>\(architecture)</architecture>\n"
        var current: String?
        for (n, r) in registers.enumerated() {
            if r.feature != current {
                if current != nil { x += "</feature>\n" }
                current = r.feature
                x += "<feature name=\"\(r.feature)\">\n" + (featureTypes[r.feature] ?? "")
            }
            x += "<reg name=\"\(r.name)\" bitsize=\"\(r.size * 8)\" type=\"\(r.type)\" regnum=\"\(n)\""
            if let g = r.group { x += " group=\"\(g)\"" }
            x += "/>\n"
        }
        if current != nil { x += "</feature>\n" }
        return x + "</target>\n"
    }
}

/// Register values of one thread for a ``RegisterDescription``: raw
/// little-endian bytes by register number; nil = unavailable (`xx` bytes).
public struct RegisterValues: Sendable, Equatable {
    public var bytes: [[UInt8]?]

    public init(count: Int) { bytes = Array(repeating: nil, count: count) }

    /// Sets register `n` from a number (little-endian, `size` bytes).
    public mutating func set(_ n: Int, _ value: UInt64, size: Int) {
        var v = value
        bytes[n] = (0..<size).map { i in
            defer { if i < 8 { v >>= 8 } }
            return i < 8 ? UInt8(truncatingIfNeeded: v) : 0
        }
    }

    /// Register `n` as a number (first 8 bytes), nil when unavailable.
    public func value(_ n: Int) -> UInt64? {
        guard n < bytes.count, let b = bytes[n] else { return nil }
        var v: UInt64 = 0
        for i in (0..<min(8, b.count)).reversed() { v = v << 8 | UInt64(b[i]) }
        return v
    }
}

/// gdb's aarch64 registers: `org.gnu.gdb.aarch64.core` (x0–x30, sp, pc,
/// cpsr), `org.gnu.gdb.aarch64.fpu` (v0–v31, fpsr, fpcr) and our own
/// `org.xenscope.aarch64.system` for the translation registers a dump saved.
/// Numbers and types are those gdb uses for a native aarch64 core, so
/// `info registers` through the stub prints what gdb prints on the core.
public enum AArch64Description {
    public static let core = "org.gnu.gdb.aarch64.core"
    public static let fpu = "org.gnu.gdb.aarch64.fpu"
    public static let system = "org.xenscope.aarch64.system"
    /// Names of the system registers, in order, as ``RegisterDescription`` lists them.
    public static let systemRegisters = ["ttbr0_el1", "ttbr1_el1", "tcr_el1"]

    /// The description with the core feature plus, when the target has
    /// them, the FP/SIMD feature and the given system registers.
    public static func make(fpu hasFPU: Bool, system: [String] = []) -> RegisterDescription {
        var r = [RegisterDescription.Register]()
        for i in 0..<31 { r.append(.init("x\(i)", size: 8, type: "int", feature: core)) }
        r.append(.init("sp", size: 8, type: "data_ptr", feature: core))
        r.append(.init("pc", size: 8, type: "code_ptr", feature: core))
        r.append(.init("cpsr", size: 4, type: "cpsr_flags", feature: core))
        var types = [core: flags("cpsr_flags", [(0, 0, "SP"), (2, 3, "EL"), (4, 4, "nRW"), (6, 6, "F"), (7, 7, "I"),
            (8, 8, "A"), (9, 9, "D"), (10, 11, "BTYPE"), (12, 12, "SSBS"), (20, 20, "IL"), (21, 21, "SS"),
            (22, 22, "PAN"), (23, 23, "UAO"), (24, 24, "DIT"), (25, 25, "TCO"), (28, 28, "V"), (29, 29, "C"),
            (30, 30, "Z"), (31, 31, "N")])]
        if hasFPU {
            for i in 0..<32 { r.append(.init("v\(i)", size: 16, type: "aarch64v", feature: fpu)) }
            r.append(.init("fpsr", size: 4, type: "fpsr_flags", feature: fpu))
            r.append(.init("fpcr", size: 4, type: "fpcr_flags", feature: fpu))
            types[fpu] = vectorTypes
                + flags("fpsr_flags", [(0, 0, "IOC"), (1, 1, "DZC"), (2, 2, "OFC"), (3, 3, "UFC"), (4, 4, "IXC"),
                    (7, 7, "IDC"), (27, 27, "QC"), (28, 28, "V"), (29, 29, "C"), (30, 30, "Z"), (31, 31, "N")])
                + flags("fpcr_flags", [(0, 0, "FIZ"), (1, 1, "AH"), (2, 2, "NEP"), (8, 8, "IOE"), (9, 9, "DZE"),
                    (10, 10, "OFE"), (11, 11, "UFE"), (12, 12, "IXE"), (13, 13, "EBF"), (15, 15, "IDE"),
                    (16, 18, "Len"), (19, 19, "FZ16"), (20, 21, "Stride"), (22, 23, "RMode"), (24, 24, "FZ"),
                    (25, 25, "DN"), (26, 26, "AHP")])
        }
        for name in systemRegisters where system.contains(name) {
            r.append(.init(name, size: 8, type: "uint64", group: "system", feature: Self.system))
        }
        return RegisterDescription(architecture: "aarch64", registers: r, featureTypes: types,
                                   expedited: ["x29", "sp", "pc"], tableColumns: ["pc", "sp", "ttbr1_el1"])
    }

    /// A `<flags>` type: one-bit fields are bool, wider ones uint32 (as gdb declares them).
    private static func flags(_ id: String, _ fields: [(Int, Int, String)]) -> String {
        var s = "<flags id=\"\(id)\" size=\"4\">\n"
        for (lo, hi, name) in fields {
            s += "<field name=\"\(name)\" start=\"\(lo)\" end=\"\(hi)\" type=\"\(lo == hi ? "bool" : "uint32")\"/>\n"
        }
        return s + "</flags>\n"
    }

    /// The 128-bit SIMD register views (d/s/h/b/q lanes as floats, unsigned and signed).
    private static var vectorTypes: String {
        let vectors = [("v2d", "ieee_double", 2), ("v2u", "uint64", 2), ("v2i", "int64", 2),
                       ("v4f", "ieee_single", 4), ("v4u", "uint32", 4), ("v4i", "int32", 4),
                       ("v8f", "ieee_half", 8), ("v8u", "uint16", 8), ("v8i", "int16", 8), ("v8bf16", "bfloat16", 8),
                       ("v16u", "uint8", 16), ("v16i", "int8", 16), ("v1u", "uint128", 1), ("v1i", "int128", 1)]
        var s = vectors.map { "<vector id=\"\($0.0)\" type=\"\($0.1)\" count=\"\($0.2)\"/>\n" }.joined()
        let unions: [(String, [(String, String)])] = [
            ("vnd", [("f", "v2d"), ("u", "v2u"), ("s", "v2i")]),
            ("vns", [("f", "v4f"), ("u", "v4u"), ("s", "v4i")]),
            ("vnh", [("bf", "v8bf16"), ("f", "v8f"), ("u", "v8u"), ("s", "v8i")]),
            ("vnb", [("u", "v16u"), ("s", "v16i")]),
            ("vnq", [("u", "v1u"), ("s", "v1i")]),
            ("aarch64v", [("d", "vnd"), ("s", "vns"), ("h", "vnh"), ("b", "vnb"), ("q", "vnq")]),
        ]
        for (id, fields) in unions {
            s += "<union id=\"\(id)\">\n" + fields.map { "<field name=\"\($0.0)\" type=\"\($0.1)\"/>\n" }.joined() + "</union>\n"
        }
        return s
    }
}
