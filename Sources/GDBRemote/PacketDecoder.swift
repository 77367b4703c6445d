/// Splits the byte stream from a debugger into remote-protocol units:
/// `$payload#cs` packets, `+`/`-` acknowledgements and the out-of-band
/// interrupt byte (0x03). Bytes outside packets that mean nothing are skipped
/// and counted, so a client that sends garbage cannot wedge the stub.
///
/// The payload buffer is reused for every packet (no allocation once it has
/// grown to the largest packet seen); read it before feeding more bytes.
public struct PacketDecoder {
    /// One thing recognised in the input stream.
    public enum Event: Equatable, Sendable {
        /// A complete packet; its bytes are in ``payload``.
        case packet
        /// A packet whose checksum did not match (its payload is discarded).
        case badChecksum(expected: UInt8, received: UInt8)
        /// A packet longer than ``maxPayload`` (discarded).
        case overflow
        case ack
        case nak
        /// Ctrl-C from the user (0x03 outside a packet).
        case interrupt
    }

    private enum State { case idle, payload, checksumHigh, checksumLow }

    /// Largest payload accepted; longer packets are dropped with `.overflow`.
    public let maxPayload: Int
    /// Payload of the last `.packet` event (raw: escapes are left in place).
    public private(set) var payload: [UInt8] = []
    /// Bytes skipped outside packets since creation or ``reset()``.
    public private(set) var skippedBytes = 0
    private var state = State.idle
    private var sum: UInt8 = 0
    private var received: UInt8 = 0
    private var overflowed = false

    public init(maxPayload: Int) {
        self.maxPayload = maxPayload
        payload.reserveCapacity(min(maxPayload, 1 << 16))
    }

    /// Forgets any partial packet (new connection, or after a protocol error).
    public mutating func reset() {
        state = .idle
        payload.removeAll(keepingCapacity: true)
        overflowed = false
        skippedBytes = 0
    }

    /// True while in the middle of a packet.
    public var isInsidePacket: Bool { state != .idle }

    /// Consumes one byte; returns an event when a unit is complete.
    public mutating func feed(_ c: UInt8) -> Event? {
        switch state {
        case .idle:
            switch c {
            case UInt8(ascii: "$"):
                startPacket()
            case UInt8(ascii: "+"): return .ack
            case UInt8(ascii: "-"): return .nak
            case 0x03: return .interrupt
            default: skippedBytes += 1
            }
        case .payload:
            if c == UInt8(ascii: "#") {
                state = .checksumHigh
            } else if c == UInt8(ascii: "$") {
                // A new packet start inside a packet: the sender gave up on the
                // old one (or we joined mid-stream). Keep only the new one.
                skippedBytes += payload.count + 1
                startPacket()
            } else {
                sum &+= c
                if payload.count < maxPayload { payload.append(c) } else { overflowed = true }
            }
        case .checksumHigh:
            guard let d = Hex.value(c) else { return malformedChecksum(c) }
            received = d << 4
            state = .checksumLow
        case .checksumLow:
            guard let d = Hex.value(c) else { return malformedChecksum(c) }
            received |= d
            state = .idle
            if overflowed {
                payload.removeAll(keepingCapacity: true)
                return .overflow
            }
            if received != sum {
                payload.removeAll(keepingCapacity: true)
                return .badChecksum(expected: sum, received: received)
            }
            return .packet
        }
        return nil
    }

    private mutating func startPacket() {
        state = .payload
        sum = 0
        overflowed = false
        payload.removeAll(keepingCapacity: true)
    }

    private mutating func malformedChecksum(_ c: UInt8) -> Event? {
        // Not a hex digit where the checksum should be: report it as a bad
        // checksum (so an ack-mode sender retransmits) and resynchronise;
        // a '$' here starts the next packet.
        let expected = sum
        payload.removeAll(keepingCapacity: true)
        state = .idle
        if c == UInt8(ascii: "$") { startPacket() }
        return .badChecksum(expected: expected, received: 0)
    }
}
