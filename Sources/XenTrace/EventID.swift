/// Well-known event ids and the id structure from Xen's public `trace.h`:
/// class in bits 16–27, subclass in bits 12–15, minor number in bits 0–11.
public enum EventID {
    /// Records were dropped because the ring was full (TRC_LOST_RECORDS).
    public static let lostRecords: UInt32 = 0x0001_f001
    /// Padding written where a record did not fit before the ring's end.
    public static let wrapBuffer: UInt32 = 0x0001_f002
    /// Written by the collector: the following bytes belong to one CPU.
    public static let cpuChange: UInt32 = 0x0001_f003

    /// The class part (bits 16–27) of an event id.
    @inlinable public static func classOf(_ event: UInt32) -> UInt32 { (event >> 16) & 0xfff }
    /// The subclass nibble (bits 12–15) of an event id.
    @inlinable public static func subclassOf(_ event: UInt32) -> UInt32 { (event >> 12) & 0xf }
    /// The minor number (bits 0–11) of an event id.
    @inlinable public static func minorOf(_ event: UInt32) -> UInt32 { event & 0xfff }

    /// Xen's own masking rule (`trace()` in xen/common/trace.c): an event
    /// passes `mask` if the ids overlap, the class bits overlap and the
    /// subclass nibbles overlap.
    @inlinable public static func matches(_ event: UInt32, mask: UInt32) -> Bool {
        (event & mask) != 0
            && ((event >> 16) & (mask >> 16) & 0xfff) != 0
            && ((event >> 12) & (mask >> 12) & 0xf) != 0
    }

    /// Whether Xen could have written a record with this event id. Its
    /// masking rule (`matches(_:mask:)`) needs the class bits and the
    /// subclass nibble to overlap the mask, so a recordable id has a non-zero
    /// subclass and a class; every class in trace.h (GEN, SCHED, DOM0OP, HVM,
    /// MEM, PV, SHADOW, HW, GUEST) is one bit of the 12, and an event belongs
    /// to one class. xentrace's own CPU-change record (0x1f003) passes too.
    /// Zeros (event 0) and most random words fail: the reader uses this to
    /// tell a trace from bytes that are not one.
    @inlinable public static func isPossible(_ event: UInt32) -> Bool {
        let cls = (event >> 16) & 0xfff
        return cls != 0 && cls & (cls &- 1) == 0 && (event >> 12) & 0xf != 0
    }

    /// Why ``isPossible(_:)`` rejects `event` (for diagnostics).
    public static func impossibility(_ event: UInt32) -> String {
        let cls = (event >> 16) & 0xfff
        if cls == 0 { return "no class bit set" }
        if cls & (cls &- 1) != 0 { return "class bits 0x\(String(cls, radix: 16)) name more than one class" }
        return "subclass 0"
    }
}
