/// The (up to seven) 32-bit payload words of a trace record, stored inline so
/// that iterating records never allocates.
public struct ExtraWords: Sendable, Equatable, Hashable {
    public var w0: UInt32 = 0, w1: UInt32 = 0, w2: UInt32 = 0, w3: UInt32 = 0
    public var w4: UInt32 = 0, w5: UInt32 = 0, w6: UInt32 = 0

    public init() {}

    /// Builds words from an array (used by writers and tests); at most 7 are kept.
    public init(_ words: [UInt32]) {
        for (i, w) in words.prefix(7).enumerated() { self[i] = w }
    }

    /// Word `i` (0...6); words past the record's count read as 0.
    @inlinable public subscript(i: Int) -> UInt32 {
        get {
            switch i {
            case 0: return w0
            case 1: return w1
            case 2: return w2
            case 3: return w3
            case 4: return w4
            case 5: return w5
            case 6: return w6
            default: return 0
            }
        }
        set {
            switch i {
            case 0: w0 = newValue
            case 1: w1 = newValue
            case 2: w2 = newValue
            case 3: w3 = newValue
            case 4: w4 = newValue
            case 5: w5 = newValue
            case 6: w6 = newValue
            default: break
            }
        }
    }
}

/// One record of a xentrace file, with the CPU it belongs to.
///
/// Layout on disk (see docs/trace-format.md): a header word (event id in bits
/// 0–27, extra-word count in bits 28–30, TSC flag in bit 31), an optional
/// 64-bit TSC, then 0–7 extra words.
public struct TraceRecord: Sendable, Equatable {
    /// Physical CPU, from the last TRC_TRACE_CPU_CHANGE record before this one.
    public var cpu: UInt32
    /// The raw header word.
    public var header: UInt32
    /// The record's own TSC if it has one, else the last TSC seen on its CPU
    /// (0 if none was seen yet). `hasTSC` tells which.
    public var tsc: UInt64
    /// Payload words; only the first `extraCount` are meaningful.
    public var extra: ExtraWords
    /// Byte offset of the header word in the input.
    public var offset: Int

    public init(cpu: UInt32, event: UInt32, tsc: UInt64?, extra: [UInt32], offset: Int = 0) {
        precondition(extra.count <= 7, "a trace record carries at most 7 extra words")
        self.cpu = cpu
        self.header = (event & TraceRecord.eventMask) | (UInt32(extra.count) << 28) | (tsc == nil ? 0 : 0x8000_0000)
        self.tsc = tsc ?? 0
        self.extra = ExtraWords(extra)
        self.offset = offset
    }

    @inlinable public init(cpu: UInt32, header: UInt32, tsc: UInt64, extra: ExtraWords, offset: Int) {
        self.cpu = cpu
        self.header = header
        self.tsc = tsc
        self.extra = extra
        self.offset = offset
    }

    public static let eventMask: UInt32 = 0x0fff_ffff

    /// The 28-bit event id.
    @inlinable public var event: UInt32 { header & 0x0fff_ffff }
    /// Number of extra words, 0...7.
    @inlinable public var extraCount: Int { Int((header >> 28) & 7) }
    /// Whether the record carries its own TSC.
    @inlinable public var hasTSC: Bool { header & 0x8000_0000 != 0 }
    /// Size of the record on disk in bytes.
    @inlinable public var size: Int { TraceRecord.size(header: header) }
    /// The payload words as an array (allocates; for tests and slow paths).
    public var words: [UInt32] { (0..<extraCount).map { extra[$0] } }

    /// Record size implied by a header word.
    @inlinable public static func size(header: UInt32) -> Int {
        4 + (header & 0x8000_0000 != 0 ? 8 : 0) + 4 * Int((header >> 28) & 7)
    }
}
