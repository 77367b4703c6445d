/// Which hardware virtualization numbers a trace's VMEXIT reasons: Intel VMX
/// basic exit reasons (0…~80) or AMD SVM exit codes (0x00…0x8d, 0x400 NPF, …).
/// Xen up to 4.18 writes both with the same record ids (0x00081002 /
/// 0x00081102), so the id alone does not tell them apart.
public enum HVMFlavour: String, Sendable, CaseIterable, Codable {
    case vmx, svm
}

/// Decides VMX or SVM from what the exits themselves say, one exit at a time:
/// - a record with Xen 4.19's SVM exit id (0x00081003 / 0x00081103) is SVM;
/// - an exit reason whose low 16 bits are 0x60 or more is SVM: VMX keeps the
///   basic exit reason in bits 0–15 (bits 16–31 are flags such as "VM entry
///   failed") and no basic reason reaches 0x60, while every running SVM
///   guest takes INTR (0x60), HLT (0x78), IOIO (0x7b), MSR (0x7c) or NPF
///   (0x400) exits;
/// - otherwise (exits seen, none SVM-only) VMX is assumed, and the reason says so.
public struct HVMFlavourDetector: Sendable {
    /// Lowest exit code (low 16 bits) that VMX never writes.
    public static let firstSVMOnlyCode: UInt32 = 0x60

    /// The first record that proved SVM: its byte offset, event id and reason.
    public struct Evidence: Sendable, Equatable {
        public var offset: Int
        public var event: UInt32
        public var reason: UInt32
    }

    /// VMEXIT records seen.
    public private(set) var exits = 0
    public private(set) var evidence: Evidence?

    public init() {}

    /// Notes one VMEXIT record (any of the exit ids; nested ones included).
    @inline(__always) public mutating func see(event: UInt32, reason: UInt32, offset: Int) {
        exits += 1
        guard evidence == nil else { return }
        if event & 0xff == 3 || reason & 0xffff >= HVMFlavourDetector.firstSVMOnlyCode {
            evidence = Evidence(offset: offset, event: event, reason: reason)
        }
    }

    /// True for the HVM VMEXIT record ids (VMX/SVM, 32/64-bit guest, nested).
    @inline(__always) public static func isExit(_ event: UInt32) -> Bool {
        let base = event & ~UInt32(0x500)     // 64-bit guest (0x100), nested guest (0x400)
        return base == 0x0008_1002 || base == 0x0008_1003
    }

    /// The flavour to name exits with and why: `given` (an option) wins,
    /// else the evidence; nil when there is nothing to name (no exits, no option).
    public func decide(given: HVMFlavour?) -> (flavour: HVMFlavour, reason: String)? {
        if let given {
            var why = "--\(given.rawValue) given"
            if given == .vmx, let e = evidence { why += "; note: \(describe(e)) is SVM's, not VMX's" }
            return (given, why)
        }
        guard exits > 0 else { return nil }
        if let e = evidence { return (.svm, "detected: \(describe(e))") }
        return (.vmx, "detected: no SVM-only exit code among \(partial ? "the first " : "")\(exits) exit(s) (all below 0x\(String(HVMFlavourDetector.firstSVMOnlyCode, radix: 16)) with no SVM exit id); VMX assumed, give --svm for an AMD host")
    }

    private func describe(_ e: Evidence) -> String {
        if e.event & 0xff == 3 {
            return "SVM exit record 0x\(hex8(e.event)) (Xen 4.19+) at byte \(e.offset)"
        }
        return "exit code 0x\(String(e.reason, radix: 16)) (\(ExitReasons.svm(Int(e.reason)))) at byte \(e.offset)"
    }

    /// Scans a trace in file order until the first SVM evidence (an SVM trace
    /// stops within its first exits; a VMX trace is read to the end).
    /// For outputs that name exits as they stream (exports, decode), which
    /// cannot wait for the end of the trace.
    public static func scan(_ trace: TraceFile) -> HVMFlavourDetector {
        var d = HVMFlavourDetector()
        trace.forEachRecord { d.scanStep($0) }
        return d
    }

    /// The same over a re-readable input (a mapped file; pipes cannot be
    /// read twice), stopping after `maxRecords` records: `trace decode
    /// --limit 10` should not read a whole VMX trace first. The reason then
    /// says how many exits were looked at.
    public static func scan(_ input: TraceInput, maxRecords: Int = .max) throws -> HVMFlavourDetector {
        var d = HVMFlavourDetector()
        var n = 0
        _ = try input.forEachRecord(order: .file) { r in
            n += 1
            return d.scanStep(r) && n < maxRecords
        }
        d.partial = n >= maxRecords
        return d
    }

    /// True when a scan stopped before the end without evidence.
    public private(set) var partial = false

    private mutating func scanStep(_ r: TraceRecord) -> Bool {
        if HVMFlavourDetector.isExit(r.event) && r.extraCount >= 1 { see(event: r.event, reason: r.extra.w0, offset: r.offset) }
        return evidence == nil
    }
}


/// Names of VMEXIT reasons (facts from the Intel SDM appendix C and the AMD
/// APM vol. 2 appendix C; Xen's `vmx.h` / `vmcb.h` use the same numbers).
public enum ExitReasons {
    /// VMX basic exit reasons (Intel SDM numbering).
    public static let vmx: [Int: String] = [
        0: "EXCEPTION_NMI", 1: "EXTERNAL_INTERRUPT", 2: "TRIPLE_FAULT", 3: "INIT", 4: "SIPI",
        5: "IO_SMI", 6: "OTHER_SMI", 7: "PENDING_INTERRUPT", 8: "PENDING_VIRT_NMI", 9: "TASK_SWITCH",
        10: "CPUID", 11: "GETSEC", 12: "HLT", 13: "INVD", 14: "INVLPG", 15: "RDPMC", 16: "RDTSC",
        17: "RSM", 18: "VMCALL", 19: "VMCLEAR", 20: "VMLAUNCH", 21: "VMPTRLD", 22: "VMPTRST",
        23: "VMREAD", 24: "VMRESUME", 25: "VMWRITE", 26: "VMOFF", 27: "VMON", 28: "CR_ACCESS",
        29: "DR_ACCESS", 30: "IO_INSTRUCTION", 31: "MSR_READ", 32: "MSR_WRITE",
        33: "INVALID_GUEST_STATE", 34: "MSR_LOADING", 36: "MWAIT_INSTRUCTION",
        37: "MONITOR_TRAP_FLAG", 39: "MONITOR_INSTRUCTION", 40: "PAUSE_INSTRUCTION",
        41: "MACHINE_CHECK", 43: "TPR_BELOW_THRESHOLD", 44: "APIC_ACCESS", 45: "EOI_INDUCED",
        46: "GDTR_IDTR_ACCESS", 47: "LDTR_TR_ACCESS", 48: "EPT_VIOLATION", 49: "EPT_MISCONFIG",
        50: "INVEPT", 51: "RDTSCP", 52: "VMX_PREEMPTION_TIMER_EXPIRED", 53: "INVVPID",
        54: "WBINVD", 55: "XSETBV", 56: "APIC_WRITE", 57: "RDRAND", 58: "INVPCID", 59: "VMFUNC",
        60: "ENCLS", 61: "RDSEED", 62: "PML_FULL", 63: "XSAVES", 64: "XRSTORS",
        74: "BUS_LOCK", 75: "NOTIFY",
    ]

    /// SVM exit codes with one name each (ranges are computed in ``svm(_:)``).
    static let svmNamed: [Int: String] = [
        0x60: "INTR", 0x61: "NMI", 0x62: "SMI", 0x63: "INIT", 0x64: "VINTR", 0x65: "CR0_SEL_WRITE",
        0x66: "IDTR_READ", 0x67: "GDTR_READ", 0x68: "LDTR_READ", 0x69: "TR_READ",
        0x6a: "IDTR_WRITE", 0x6b: "GDTR_WRITE", 0x6c: "LDTR_WRITE", 0x6d: "TR_WRITE",
        0x6e: "RDTSC", 0x6f: "RDPMC", 0x70: "PUSHF", 0x71: "POPF", 0x72: "CPUID", 0x73: "RSM",
        0x74: "IRET", 0x75: "SWINT", 0x76: "INVD", 0x77: "PAUSE", 0x78: "HLT", 0x79: "INVLPG",
        0x7a: "INVLPGA", 0x7b: "IOIO", 0x7c: "MSR", 0x7d: "TASK_SWITCH", 0x7e: "FERR_FREEZE",
        0x7f: "SHUTDOWN", 0x80: "VMRUN", 0x81: "VMMCALL", 0x82: "VMLOAD", 0x83: "VMSAVE",
        0x84: "STGI", 0x85: "CLGI", 0x86: "SKINIT", 0x87: "RDTSCP", 0x88: "ICEBP",
        0x89: "WBINVD", 0x8a: "MONITOR", 0x8b: "MWAIT", 0x8c: "MWAIT_CONDITIONAL",
        0x8d: "XSETBV", 0x8e: "RDPRU", 0x8f: "EFER_WRITE_TRAP", 0x400: "NPF",
        0x401: "AVIC_INCOMPLETE_IPI", 0x402: "AVIC_NOACCEL", 0x403: "VMGEXIT", 0xffff_ffff: "INVALID",
    ]

    /// Name of an SVM exit code (AMD APM numbering).
    public static func svm(_ code: Int) -> String {
        switch code {
        case 0x00...0x0f: return "CR\(code)_READ"
        case 0x10...0x1f: return "CR\(code - 0x10)_WRITE"
        case 0x20...0x2f: return "DR\(code - 0x20)_READ"
        case 0x30...0x3f: return "DR\(code - 0x30)_WRITE"
        case 0x40...0x5f: return "EXCEPTION_\(code - 0x40)"
        case 0x90...0x9f: return "CR\(code - 0x90)_WRITE_TRAP"
        default: break
        }
        return svmNamed[code] ?? "SVM_\(String(code, radix: 16))"
    }

    /// Name of an exit reason in the given numbering (unknown numbers as
    /// `EXIT_n` for VMX, `SVM_hex` for SVM).
    public static func name(_ code: Int, _ flavour: HVMFlavour) -> String {
        flavour == .svm ? svm(code) : (vmx[code] ?? "EXIT_\(code)")
    }
}
