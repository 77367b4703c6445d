import GDBRemote

/// The four x86 debug-register slots (DR0–DR3) that hardware breakpoints
/// (`Z1`) and watchpoints (`Z2` write, `Z4` access) share, with the DR7
/// value that arms them and the DR6 decoding that says which one fired.
///
/// Pure bookkeeping: the live Xen backend loads ``addresses`` and ``dr7``
/// into every vCPU (PV: `vcpu_guest_context.debugreg[]`; HVM: the CPU save
/// record) and reads DR6 back at a stop.
public struct DebugRegisterSlots: Sendable, Equatable {
    /// One armed debug register.
    public struct Slot: Sendable, Equatable {
        public var kind: BreakpointKind
        public var address: UInt64
        /// Bytes watched (1, 2, 4 or 8); 1 for an execute breakpoint.
        public var length: Int
        public init(kind: BreakpointKind, address: UInt64, length: Int) {
            self.kind = kind; self.address = address; self.length = length
        }
    }

    public private(set) var slots: [Slot?] = [nil, nil, nil, nil]

    /// DR6's architectural "all clear" value (reserved bits set, no status bits).
    public static let dr6Clear: UInt64 = 0xffff_0ff0
    /// DR7 bit 10 reads as 1.
    static let dr7Reserved: UInt64 = 0x400

    public init() {}

    public var isEmpty: Bool { slots.allSatisfy { $0 == nil } }

    /// DR0–DR3 (0 where a slot is free).
    public var addresses: [UInt64] { slots.map { $0?.address ?? 0 } }

    /// DR7: for slot *i*, the local-enable bit L*i* (bit 2*i*), R/W*i* at
    /// bit 16+4*i* (00 execute, 01 write, 11 read or write) and LEN*i* at
    /// bit 18+4*i* (00 one byte, 01 two, 11 four, 10 eight; execute: 00).
    public var dr7: UInt64 {
        var v = Self.dr7Reserved
        for (i, s) in slots.enumerated() {
            guard let s else { continue }
            let rw: UInt64, len: UInt64
            switch s.kind {
            case .writeWatch: rw = 0b01
            case .accessWatch, .readWatch: rw = 0b11
            default: rw = 0b00
            }
            switch s.length {
            case 2: len = 0b01
            case 4: len = 0b11
            case 8: len = 0b10
            default: len = 0b00
            }
            v |= 1 << (2 * UInt64(i))
            v |= (rw | len << 2) << (16 + 4 * UInt64(i))
        }
        return v
    }

    /// Takes a free slot for a breakpoint or watchpoint; inserting one that
    /// is already armed (same kind, address and length) is a no-op. Returns
    /// the slot number.
    ///
    /// Refused: a read-only watchpoint (`Z3`: x86 has no such condition —
    /// ``BackendError/unsupported`` makes the session answer empty, and gdb
    /// then asks for an access watchpoint instead and filters the hits that
    /// changed the value itself), a watched length other than 1, 2, 4 or 8
    /// or one not aligned to itself, and a fifth slot.
    @discardableResult
    public mutating func insert(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(BackendError) -> Int {
        switch kind {
        case .software: throw .unsupported
        case .readWatch: throw .unsupported
        case .hardware: break
        case .writeWatch, .accessWatch:
            guard [1, 2, 4, 8].contains(length), address % UInt64(length) == 0 else {
                throw .failed("a watchpoint of \(length) bytes at 0x\(String(address, radix: 16)) cannot be armed: x86 debug registers watch 1, 2, 4 or 8 bytes aligned to their length")
            }
        }
        let slot = Slot(kind: kind, address: address, length: kind == .hardware ? 1 : length)
        if let i = slots.firstIndex(of: slot) { return i }
        guard let free = slots.firstIndex(of: nil) else {
            throw .failed("all four debug registers (DR0–DR3) are in use by hardware breakpoints and watchpoints")
        }
        slots[free] = slot
        return free
    }

    /// Frees the slot of this breakpoint or watchpoint; false when none was armed.
    @discardableResult
    public mutating func remove(_ kind: BreakpointKind, at address: UInt64, length: Int) -> Bool {
        let slot = Slot(kind: kind, address: address, length: kind == .hardware ? 1 : length)
        guard let i = slots.firstIndex(of: slot) else { return false }
        slots[i] = nil
        return true
    }

    /// Frees every slot (gdb detached or removed all breakpoints).
    public mutating func removeAll() { slots = [nil, nil, nil, nil] }

    /// The armed slot DR6 says fired (status bits B0–B3), the lowest one
    /// when several did; nil when none of the set bits is an armed slot.
    public func hit(dr6: UInt64) -> Int? {
        (0..<4).first { dr6 & (1 << UInt64($0)) != 0 && slots[$0] != nil }
    }

    /// DR6 has any status bit set (B0–B3, BD, BS, BT): worth clearing.
    public static func hasStatus(dr6: UInt64) -> Bool { dr6 & 0xe00f != 0 }

    /// The stop reason gdb is told for a hit of `slot`.
    public func reason(slot: Int) -> StopEvent.Reason? {
        guard let s = slots[slot] else { return nil }
        switch s.kind {
        case .writeWatch, .readWatch, .accessWatch: return .watch(kind: s.kind, address: s.address)
        default: return .hardwareBreakpoint
        }
    }
}
