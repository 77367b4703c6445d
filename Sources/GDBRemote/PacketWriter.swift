/// Builds outgoing packets (`$payload#cs`) in one reusable buffer, with
/// binary escapes and optional run-length encoding of the payload.
///
/// Usage: ``begin()``, append payload bytes, ``finish()``; ``bytes`` then holds
/// every finished packet not yet sent, and ``clear()`` empties it once the
/// transport has written them. Nothing here allocates once the buffer has grown
/// to the largest reply.
public struct PacketWriter {
    /// Finished packets (and acks) waiting to be sent.
    public private(set) var bytes: [UInt8] = []
    /// Compress runs of equal bytes in payloads (`X*<n>`), as gdb accepts.
    public var runLengthEncoding = true
    private var start = -1

    public init(capacity: Int = 1 << 16) { bytes.reserveCapacity(capacity) }

    /// Calls `body` with the pending bytes without copying them.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R { bytes.withUnsafeBytes(body) }

    /// Drops everything sent.
    public mutating func clear() { bytes.removeAll(keepingCapacity: true); start = -1 }

    /// Appends a bare acknowledgement byte (`+` or `-`) outside any packet.
    public mutating func ack(_ ok: Bool) { bytes.append(ok ? UInt8(ascii: "+") : UInt8(ascii: "-")) }

    /// Starts a packet.
    public mutating func begin() {
        bytes.append(UInt8(ascii: "$"))
        start = bytes.count
    }

    /// Appends raw payload bytes that need no escaping (protocol text).
    public mutating func append(_ s: String) {
        var s = s
        s.withUTF8 { bytes.append(contentsOf: $0) }
    }

    /// Appends one raw byte (a separator or a binary reply byte).
    public mutating func append(byte: UInt8) { bytes.append(byte) }

    /// Appends the hex digits of a buffer (memory and register replies).
    public mutating func appendHex(_ data: UnsafeRawBufferPointer) {
        let n = data.count
        let base = bytes.count
        bytes.reserveCapacity(base + 2 * n)
        bytes.append(contentsOf: repeatElement(0, count: 2 * n))
        guard n > 0 else { return }
        bytes.withUnsafeMutableBufferPointer { out in
            let dst = UnsafeMutableRawPointer(out.baseAddress! + base)
            let src = data.baseAddress!.assumingMemoryBound(to: UInt8.self)
            Hex.pairs.withUnsafeBufferPointer { table in
                for i in 0..<n { dst.storeBytes(of: table[Int(src[i])].littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
            }
        }
    }

    /// Appends `n` unavailable-register bytes (`xx` each).
    public mutating func appendUnavailable(_ n: Int) {
        bytes.append(contentsOf: repeatElement(UInt8(ascii: "x"), count: 2 * n))
    }

    /// Appends a little-endian number as hex of `size` bytes (register values).
    public mutating func appendHexLE(_ v: UInt64, size: Int) {
        var v = v
        for _ in 0..<size {
            let b = UInt8(truncatingIfNeeded: v)
            bytes.append(Hex.digit(b >> 4)); bytes.append(Hex.digit(b & 15))
            v >>= 8
        }
    }

    /// Appends binary data, escaping the bytes the framing reserves
    /// (`#`, `$`, `}` and `*`) as `}` followed by the byte XOR 0x20.
    public mutating func appendBinary(_ data: UnsafeRawBufferPointer) {
        for b in data {
            if b == 0x23 || b == 0x24 || b == 0x7d || b == 0x2a {
                bytes.append(0x7d); bytes.append(b ^ 0x20)
            } else {
                bytes.append(b)
            }
        }
    }

    /// Ends the packet: run-length encodes the payload in place (when enabled)
    /// and appends `#` and the checksum.
    public mutating func finish() {
        precondition(start >= 0, "finish() without begin()")
        if runLengthEncoding { compressPayload() }
        var sum: UInt8 = 0
        bytes.withUnsafeBufferPointer { b in for i in start..<b.count { sum &+= b[i] } }
        bytes.append(UInt8(ascii: "#"))
        bytes.append(Hex.digit(sum >> 4))
        bytes.append(Hex.digit(sum & 15))
        start = -1
    }

    /// Convenience: a whole packet from protocol text.
    public mutating func packet(_ s: String) {
        begin(); append(s); finish()
    }

    /// Run-length encoding as gdb decodes it: `c*N` stands for `c` followed by
    /// `N - 29` more copies of `c`. Counts that would produce `#` or `$` are
    /// avoided. Escaped pairs (`}x`) are kept intact so that the escape byte is
    /// never the repeated character. Output is never longer than input, so the
    /// compression runs in place.
    private mutating func compressPayload() {
        let end = bytes.count
        var r = start, w = start
        bytes.withUnsafeMutableBufferPointer { p in
            while r < end {
                let c = p[r]
                if c == 0x7d, r + 1 < end {            // escape pair: copy as is
                    p[w] = c; p[w + 1] = p[r + 1]; w += 2; r += 2
                    continue
                }
                // Only runs of 4 or more get shorter; most bytes take this exit.
                guard r + 3 < end, p[r + 1] == c, p[r + 2] == c, p[r + 3] == c else {
                    p[w] = c; w += 1; r += 1
                    continue
                }
                var run = 4
                while r + run < end, p[r + run] == c { run += 1 }
                p[w] = c; w += 1
                var extra = run - 1
                while extra >= 3 {
                    var n = min(extra, 97)
                    if n == 6 || n == 7 { n = 5 }
                    p[w] = UInt8(ascii: "*"); p[w + 1] = UInt8(n + 29); w += 2
                    extra -= n
                }
                for _ in 0..<extra { p[w] = c; w += 1 }
                r += run
            }
        }
        bytes.removeSubrange(w..<end)
    }
}
