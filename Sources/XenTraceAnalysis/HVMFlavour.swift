import XenTrace

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
        return (.vmx, "detected: no SVM-only exit code among \(exits) exit(s) (all below 0x\(String(HVMFlavourDetector.firstSVMOnlyCode, radix: 16)) with no SVM exit id); VMX assumed, give --svm for an AMD host")
    }

    private func describe(_ e: Evidence) -> String {
        if e.event & 0xff == 3 {
            return "SVM exit record 0x\(hex8(e.event)) (Xen 4.19+) at byte \(e.offset)"
        }
        return "exit code 0x\(String(e.reason, radix: 16)) (\(Names.svmExitReason(Int(e.reason)))) at byte \(e.offset)"
    }

    /// Scans a trace in file order until the first SVM evidence (an SVM trace
    /// stops within its first exits; a VMX trace is read to the end).
    /// For outputs that name exits as they stream (exports, decode), which
    /// cannot wait for the end of the trace.
    public static func scan(_ trace: TraceFile) -> HVMFlavourDetector {
        var d = HVMFlavourDetector()
        trace.forEachRecord { r in
            if isExit(r.event) && r.extraCount >= 1 { d.see(event: r.event, reason: r.extra.w0, offset: r.offset) }
            return d.evidence == nil
        }
        return d
    }
}

private func hex8(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: max(0, 8 - s.count)) + s
}
