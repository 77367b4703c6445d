import XenTrace

/// The catalogue flattened for the text hot path: an open-addressing table
/// from event id to event number, and per event a run of plain-data field
/// operations whose labels (" name=") live in one byte pool. Rendering a
/// record touches no reference-counted value and allocates nothing.
struct CompiledCatalogue: Sendable {
    struct Op: Sendable {
        var kind: UInt8        // 0 dec, 1 hex, 2 signed, 3 dec64, 4 hex64, 5 bits, 6 rest
        var word: UInt8
        var shift: UInt8
        var width: UInt8
        var signed: Bool
        var hex: Bool
        var labelStart: Int32
        var labelCount: Int32
    }
    struct Event: Sendable {
        var nameStart: Int32, nameCount: Int32
        var opStart: Int32, opCount: Int32
    }

    private(set) var keys: [UInt32]
    private(set) var slots: [Int32]
    private(set) var mask: Int
    private(set) var events: [Event] = []
    private(set) var ops: [Op] = []
    private(set) var pool: [UInt8] = []
    /// The most bytes ``render(_:_:showID:into:)`` can write for any event
    /// (name, id, every label and each value at its widest), so that a
    /// caller reserves once per record and rendering checks nothing.
    private(set) var maxRenderBytes = 0

    init(_ specs: [EventSpec]) {
        var size = 64
        while size < specs.count * 4 { size *= 2 }
        keys = [UInt32](repeating: UInt32.max, count: size)
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
        for (n, e) in specs.enumerated() {
            var s = CompiledCatalogue.slot(e.id, mask)
            while keys[s] != UInt32.max { s = (s + 1) & mask }
            keys[s] = e.id
            slots[s] = Int32(n)
            let nameStart = Int32(pool.count)
            pool.append(contentsOf: Array(e.name.utf8))
            let opStart = Int32(ops.count)
            for f in e.fields {
                let labelStart = Int32(pool.count)
                pool.append(contentsOf: Array(" \(f.name)=".utf8))
                var op = Op(kind: 0, word: UInt8(f.word), shift: 0, width: 32, signed: false, hex: false,
                            labelStart: labelStart, labelCount: Int32(pool.count) - labelStart)
                switch f.kind {
                case .dec: op.kind = 0
                case .hex: op.kind = 1
                case .signed: op.kind = 2
                case .dec64: op.kind = 3
                case .hex64: op.kind = 4
                case let .bits(shift, width, signed, hex):
                    op.kind = 5; op.shift = UInt8(shift); op.width = UInt8(width); op.signed = signed; op.hex = hex
                case .rest: op.kind = 6
                }
                ops.append(op)
            }
            events.append(Event(nameStart: nameStart, nameCount: Int32(e.name.utf8.count), opStart: opStart, opCount: Int32(ops.count) - opStart))
            // Widest values: "0x" + 16 hex digits, "-" + 20 digits; "rest" is [0x…,…] of at most 7 words.
            var most = e.name.utf8.count + 12
            for op in ops[Int(opStart)...] { most += Int(op.labelCount) + (op.kind == 6 ? 2 + 7 * 19 : 24) }
            maxRenderBytes = max(maxRenderBytes, most)
        }
        // Labels and names are copied 16 bytes at a time (``ByteSink/putShort``):
        // the pool may be read up to 16 bytes past any string's end, the sink
        // written up to 16 bytes past the last copied one.
        pool.append(contentsOf: repeatElement(0, count: 16))
        maxRenderBytes += 16
    }

    @inline(__always) static func slot(_ id: UInt32, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (id &* 0x9E37_79B1) >> 16) & mask
    }

    /// The event number of `id` in the catalogue, or -1.
    @inline(__always) func index(of id: UInt32) -> Int {
        keys.withUnsafeBufferPointer { k in
            var s = CompiledCatalogue.slot(id, mask)
            while true {
                let key = k[s]
                if key == id { return Int(slots[s]) }
                if key == UInt32.max { return -1 }
                s = (s + 1) & mask
            }
        }
    }

    /// Appends the event name and ` field=value` pairs of event number `n` for `r`.
    /// `showID` adds `(0x…)` after the name (for unknown and guest ids).
    /// Reserves ``maxRenderBytes`` once, then writes without checks.
    @inline(__always)
    func render(_ n: Int, _ r: TraceRecord, showID: Bool, into out: inout ByteSink) {
        let e = events[n]
        let count = r.extraCount
        let w = r.extra
        out.reserve(maxRenderBytes)
        pool.withUnsafeBufferPointer { pool in
            out.putShort(pool.baseAddress! + Int(e.nameStart), Int(e.nameCount))
            if showID { out.put(0x28); out.put(0x30, 0x78); out.putHex(UInt64(r.event), width: 8); out.put(0x29) }
            ops.withUnsafeBufferPointer { ops in
                for i in Int(e.opStart)..<Int(e.opStart + e.opCount) {
                    let op = ops[i]
                    let word = Int(op.word)
                    let wide = op.kind == 3 || op.kind == 4
                    if op.kind != 6 && (wide ? word + 1 : word) >= count { continue }
                    out.putShort(pool.baseAddress! + Int(op.labelStart), Int(op.labelCount))
                    switch op.kind {
                    case 0: out.putDecimal(UInt64(w[word]))
                    case 1: out.put(0x30, 0x78); out.putHex(UInt64(w[word]))
                    case 2: out.putDecimal(Int64(Int32(bitPattern: w[word])))
                    case 3: out.putDecimal(UInt64(w[word]) | UInt64(w[word + 1]) << 32)
                    case 4: out.put(0x30, 0x78); out.putHex(UInt64(w[word]) | UInt64(w[word + 1]) << 32)
                    case 5:
                        let width = UInt32(op.width)
                        let raw = (w[word] >> UInt32(op.shift)) & (width == 32 ? ~0 : (1 << width) - 1)
                        if op.signed && width < 32 && raw & (1 << (width - 1)) != 0 {
                            out.putDecimal(Int64(raw) - (1 << Int64(width)))
                        } else if op.hex {
                            out.put(0x30, 0x78); out.putHex(UInt64(raw))
                        } else {
                            out.putDecimal(UInt64(raw))
                        }
                    default:
                        out.put(0x5b)
                        var j = word
                        while j < count {
                            if j > word { out.put(0x2c) }
                            out.put(0x30, 0x78); out.putHex(UInt64(w[j]))
                            j += 1
                        }
                        out.put(0x5d)
                    }
                }
            }
        }
    }
}
