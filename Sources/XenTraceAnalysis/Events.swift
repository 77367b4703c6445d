/// Event ids the analyses key on (facts from Xen's public `trace.h` and the
/// scheduler sources; see docs/trace-format.md). Kept here, as numbers, so the
/// analyses do not depend on catalogue names.
enum Ev {
    // GEN
    static let lostRecords: UInt32 = 0x0001_f001
    static let wrapBuffer: UInt32 = 0x0001_f002
    static let cpuChange: UInt32 = 0x0001_f003

    // SCHED
    static let runstateChangeBase: UInt32 = 0x0002_1001   // | old<<8 | new<<4
    static let runstateContinue: UInt32 = 0x0002_1002
    static let schedSwitch: UInt32 = 0x0002_800a

    // HVM entry/exit
    static let vmentry: UInt32 = 0x0008_1001
    static let vmxExit: UInt32 = 0x0008_1002
    static let svmExit: UInt32 = 0x0008_1003
    static let vmxExit64: UInt32 = 0x0008_1102
    static let svmExit64: UInt32 = 0x0008_1103

    // PV (minor numbers in bits 0–7; bit 8 = 64-bit guest variant)
    static let pvClassMask: UInt32 = 0x0fff_f000
    static let pvEntry: UInt32 = 0x0020_1000
    static let pvSubcall: UInt32 = 0x0020_2000
    static let pvHypercall = 1, pvTrap = 3, pvPageFault = 4, pvForcedInvalidOp = 5
    static let pvEmulatePrivop = 6, pvEmulate4GB = 7, pvMathStateRestore = 8, pvPagingFixup = 9
    static let pvGdtLdtMappingFault = 10, pvPtwrEmulation = 11, pvPtwrEmulationPAE = 12
    static let pvHypercallV2 = 13, pvHypercallSubcall = 14

    // HW: power management and IRQ
    static let pmFreqChange: UInt32 = 0x0080_1001
    static let pmIdleEntry: UInt32 = 0x0080_1002
    static let pmIdleExit: UInt32 = 0x0080_1003
    static let irqHandled: UInt32 = 0x0080_2008
    static let irqUnmappedVector: UInt32 = 0x0080_2007
    // HVM handler: external interrupt vector on an INTR exit
    static let hvmIntr: UInt32 = 0x0008_200f

    /// Xen's runstate numbers.
    static let running = 0, runnable = 1, blocked = 2, offline = 3
}

/// Top-level trace classes as xenalyze's volume summary groups them
/// (bit i of the 12-bit class field).
public enum TraceClass: Int, CaseIterable, Sendable, Codable {
    case gen = 0, sched, dom0op, hvm, mem, pv, shadow, hw

    /// Short name used in the text output and JSON.
    public var name: String {
        switch self {
        case .gen: "gen"
        case .sched: "sched"
        case .dom0op: "dom0op"
        case .hvm: "hvm"
        case .mem: "mem"
        case .pv: "pv"
        case .shadow: "shadow"
        case .hw: "hw"
        }
    }

    /// The class of an event id, or nil if its class field does not have
    /// exactly one of the known bits set (guest events, garbage).
    static func of(_ event: UInt32) -> TraceClass? {
        let main = (event >> 16) & 0xfff
        guard main != 0, main & (main - 1) == 0 else { return nil }
        return TraceClass(rawValue: main.trailingZeroBitCount)
    }
}
