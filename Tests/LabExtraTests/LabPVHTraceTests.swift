import Foundation
import LabTestSupport
import Testing
import XenTrace
import XenTraceAnalysis

/// Profile `pvh` (make lab only): scenario "traces" runs a PVH guest beside
/// the PV one (the profile's CPU model, qemu64 with SVM and nested paging,
/// gives Xen HAP): the all-classes captures hold its vCPUs' HVM records, and
/// XenScope's per-vCPU exit figures for it equal Debian's xenalyze --summary.
@Suite struct LabPVHTraceTests {
    @Test(arguments: ["all.xentrace", "all.xenscope"])
    func pvhGuestExitsEqualXenalyze(_ name: String) throws {
        let lab = try ExtraResults.profile("pvh")
        let domid = try #require(Int(try lab.text("results/traces/domid-pvh").trimmingCharacters(in: .whitespacesAndNewlines)),
                                 "no PVH guest domid")
        let path = lab.dir + "/results/traces/" + name
        let ours = try Summarizer.summarize(path: path)
        // Xen 4.17's SVM code writes VMEXIT as 0x00081102, the id VMX uses, so the
        // flavour cannot come from the event id: the summary detects it from the
        // exit codes (RDTSC 0x6e, INTR 0x60, HLT 0x78 are no VMX reasons);
        // xenalyze needs --svm-mode. Figures are compared by exit code.
        #expect(ours.hvmFlavour == "svm", "\(ours.hvmFlavourReason ?? "no exits")")
        #expect(ours.hvmFlavourReason?.hasPrefix("detected: exit code 0x") == true, "\(ours.hvmFlavourReason ?? "-")")
        // HVM records (class 0x0008f000) of the PVH guest's vCPUs.
        var vmexits = 0, vmentries = 0
        let trace = try TraceFile(path: path)
        trace.forEachRecord { r in
            // VMEXIT: 0x00081002 (VMX) / 0x00081003 (SVM), +0x100 for 64-bit; VMENTRY 0x00081001 (+0x400 nested).
            let e = r.event & 0x0fff_feff
            if e == 0x0008_1002 || e == 0x0008_1003 { vmexits += 1 }
            if r.event & 0x0fff_fbff == 0x0008_1001 { vmentries += 1 }
            return true
        }
        let dom = try #require(ours.domains.first { $0.domain == domid }, "domain \(domid) not in the summary")
        let vcpuExits = dom.vcpus.map { $0.exits.reduce(0) { $0 + $1.stats.events } }
        // As many vCPUs with exits as `xl list` showed for the guest (Name ID Mem VCPUs State Time).
        let row = try lab.text("results/traces/xl-list.txt").split(separator: "\n").first { $0.hasPrefix("pvh ") }
        let nvcpus = try #require(row.flatMap { $0.split(separator: " ", omittingEmptySubsequences: true).dropFirst(3).first }.flatMap { Int($0) })
        #expect(dom.vcpus.map(\.vcpu) == Array(0..<nvcpus) && vcpuExits.allSatisfy { $0 > 0 }, "d\(domid) exits per vCPU: \(vcpuExits)")
        #expect(vmexits >= vcpuExits.reduce(0, +) && vmentries > 0, "\(vmexits) VMEXIT, \(vmentries) VMENTRY records")
        // Per vCPU and reason: count, seconds and mean cycles as xenalyze prints them.
        let svmCodes = ["VMEXIT_EXCEPTION_NM": 71, "VMEXIT_INTR": 96, "VMEXIT_VINTR": 100, "VMEXIT_RDTSC": 110,
                        "VMEXIT_CPUID": 114, "VMEXIT_HLT": 120, "VMEXIT_MSR": 124, "VMEXIT_VMMCALL": 129]
        let xa = xenalyzeExits(try run(Peers.xenalyze, ["--summary", "--svm-mode", path]), domain: domid).mapValues { reasons in
            Dictionary(uniqueKeysWithValues: reasons.map { ("\(svmCodes[$0.key] ?? -1)", $0.value) })
        }
        var ourFigures: [Int: [String: String]] = [:]
        for v in dom.vcpus {
            for e in v.exits where e.stats.events > 0 {
                let secs = String(format: "%.2f", Double(e.stats.cycles) / ours.cpuHz)
                ourFigures[v.vcpu, default: [:]]["\(e.reason)"] = "\(e.stats.events) \(secs)s \(UInt64(e.stats.meanCycles))"
            }
        }
        #expect(!xa.isEmpty, "xenalyze printed no exit reasons for d\(domid)")
        #expect(ourFigures == xa, "ours \(ourFigures)\nxenalyze \(xa)")
    }
}

/// `Exit reasons:` figures of one domain in `xenalyze --summary` output, per
/// vCPU: reason name → "count seconds mean-cycles".
func xenalyzeExits(_ text: String, domain: Int) -> [Int: [String: String]] {
    var dom = -1, vcpu = -1, inExits = false
    var out: [Int: [String: String]] = [:]
    for l in text.split(separator: "\n", omittingEmptySubsequences: false) {
        if l.hasPrefix("|-- Domain ") { dom = Int(l.split(separator: " ")[2]) ?? -1; vcpu = -1; inExits = false; continue }
        if l.hasPrefix("-- v") { vcpu = Int(l.dropFirst(4).split(separator: " ")[0]) ?? -1; inExits = false; continue }
        if l == "Exit reasons:" { inExits = true; continue }
        guard inExits, dom == domain, vcpu >= 0 else { continue }
        if let m = l.firstMatch(of: #/^ ([A-Z_0-9]+)\s+(\d+)\s+([\d.]+)s\s+[\d.]+%\s+(\d+) cyc/#) {
            out[vcpu, default: [:]][String(m.1)] = "\(m.2) \(m.3)s \(m.4)"
        } else if !l.hasPrefix(" ") {
            inExits = false
        }
    }
    return out
}
