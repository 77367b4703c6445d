import XenTrace

/// The guest code address a record carries, for symbolization beside decoded
/// lines. Only instruction pointers count: HVM VM-exit RIPs and the PV
/// hypercall/trap/fault/emulation EIPs/RIPs. Data addresses (page-fault VAs,
/// PTEs) are never returned — a symbol for them would mislead.
public enum CodeAddress {
    /// The instruction pointer in `r`, or nil when its event has none (or the
    /// record is too short to hold it).
    @inlinable
    public static func of(_ r: TraceRecord) -> UInt64? {
        let n = r.extraCount
        switch r.event {
        // HVM VMEXIT / SVM exit (and nested): reason, rip (32-bit guest).
        case 0x0008_1002, 0x0008_1003, 0x0008_1402, 0x0008_1403:
            return n >= 2 ? UInt64(r.extra[1]) : nil
        // 64-bit guest: reason, rip lo, rip hi.
        case 0x0008_1102, 0x0008_1103, 0x0008_1502, 0x0008_1503:
            return n >= 3 ? UInt64(r.extra[1]) | UInt64(r.extra[2]) << 32 : nil
        // PV hypercall (old), trap, page_fault, forced_invalid_op, emulate_privop,
        // emulate_4gb, paging_fixup, gdt_ldt_mapping_fault: eip first.
        case 0x0020_1001, 0x0020_1003, 0x0020_1004, 0x0020_1005, 0x0020_1006, 0x0020_1007, 0x0020_1009, 0x0020_100a:
            return n >= 1 ? UInt64(r.extra[0]) : nil
        // Their 64-bit-guest variants: rip lo, rip hi first.
        case 0x0020_1101, 0x0020_1103, 0x0020_1104, 0x0020_1105, 0x0020_1106, 0x0020_1107, 0x0020_1109, 0x0020_110a:
            return n >= 2 ? UInt64(r.extra[0]) | UInt64(r.extra[1]) << 32 : nil
        default:
            return nil
        }
    }
}
