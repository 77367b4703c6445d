import Foundation
import LabTestSupport
import Testing
import XenTrace

/// Scenario "traces", our side: `xenscope trace record --xen` ran in dom0
/// right after each xentrace capture, with the same event mask and duration.
@Suite struct LabRecordTests {
    /// Capture lines `xenscope NAME mask=0x… seconds=N rc=R` of captures.txt.
    func ourCaptures(_ lab: LabResults) throws -> [(name: String, mask: UInt32, rc: Int)] {
        try lab.text("results/traces/captures.txt").split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            guard f.first == "xenscope", f.count >= 4 else { return nil }
            let kv = Dictionary(uniqueKeysWithValues: f.dropFirst(2).compactMap { p -> (String, String)? in
                let s = p.split(separator: "=", maxSplits: 1); return s.count == 2 ? (String(s[0]), String(s[1])) : nil })
            return (String(f[1]), UInt32(kv["mask"]!.dropFirst(2), radix: 16)!, Int(kv["rc"]!)!)
        }
    }

    /// Once the repository has the recorder, the lab must have used it; every
    /// file it wrote decodes cleanly, holds only events its mask admits, and
    /// Debian's xentrace_format and xenalyze read it with the same counts.
    @Test func ourRecordingsAreReadByXenTools() throws {
        let lab = try LabResults.ci()
        let ours = try ourCaptures(lab)
        let repo = URL(fileURLWithPath: lab.host).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        if FileManager.default.fileExists(atPath: repo + "/Sources/XenScopeCLI/TraceRecordCommand.swift") {
            #expect(ours.map(\.name) == ["sched", "all", "lost"], "this build has `trace record` but the lab did not record with it: rerun `make lab`")
        }
        let defs = FileManager.default.temporaryDirectory.appendingPathComponent("lab-rec-defs-\(getpid())").path
        try "0x0 CPU%(cpu)d\n".write(toFile: defs, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: defs) }
        for c in ours {
            #expect(c.rc == 0, "xenscope trace record \(c.name) exited with \(c.rc)")
            let f = lab.dom0 + "/traces/\(c.name).xenscope"
            let info = TraceInfo(try TraceFile(path: f))
            #expect(info.diagnostics.isEmpty, "\(f): \(info.diagnostics)")
            #expect(info.cpus.map(\.cpu) == [0, 1], "\(f)")
            for (event, n) in info.eventCounts where event >> 16 != 0x1 {   // TRC_GEN records are always written
                #expect(event & c.mask & 0x0fff_f000 != 0, "\(f): \(n) records of event \(String(event, radix: 16)) outside mask \(String(c.mask, radix: 16))")
            }
            let out = try run("/usr/bin/python3", [Peers.xentraceFormat, defs], stdin: f)
            var theirs: [UInt32: Int] = [:]
            for line in out.split(separator: "\n") where line.hasPrefix("CPU") {
                if let cpu = UInt32(line.dropFirst(3)) { theirs[cpu, default: 0] += 1 }
            }
            #expect(Dictionary(uniqueKeysWithValues: info.cpus.map { ($0.cpu, $0.records) }) == theirs, "\(f)")
            let dump = try run(Peers.xenalyze, ["--dump-all", f])
            let lostLines = dump.components(separatedBy: "lost_records count ").count - 1
            #expect(lostLines == info.cpus.reduce(0) { $0 + $1.lostRecordEvents }, "\(f)")
        }
    }
}
