import Foundation
import Testing
import XenTraceAnalysis

/// Path of Debian's xenalyze as unpacked by scripts/fetch-peers.sh.
func xenalyzePath() -> String {
    let env = ProcessInfo.processInfo.environment
    let cache = env["XENSCOPE_CACHE"] ?? (env["HOME"] ?? "/root") + "/.cache/xenscope"
    return cache + "/peers/root/usr/bin/xenalyze"
}

/// Runs `xenalyze --summary [args] file` and returns its standard output.
/// Records a test failure (not a skip) when xenalyze is missing.
func runXenalyze(_ file: String, args: [String] = []) throws -> String {
    let exe = xenalyzePath()
    guard FileManager.default.isExecutableFile(atPath: exe) else {
        Issue.record("xenalyze not found at \(exe): run `make test` (scripts/fetch-peers.sh unpacks it)")
        throw CocoaError(.fileNoSuchFile)
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = ["--summary"] + args + [file]
    let out = Pipe(), err = FileHandle(forWritingAtPath: "/dev/null")
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    #expect(p.terminationStatus == 0, "xenalyze exited with \(p.terminationStatus) on \(file)")
    return String(decoding: data, as: UTF8.self)
}

/// The figures of a `xenalyze --summary` output that XenScope also prints.
struct XenalyzeSummary {
    struct Figure: Equatable, CustomStringConvertible {
        var count: Int
        var seconds: String
        var mean: Int
        var description: String { "\(count) \(seconds)s \(mean)" }
    }
    struct VCPU {
        var runstates: [String: Figure] = [:]   // running, runnable, blocked, offline, wake, preempt, other
        var exits: [String: Figure] = [:]
        var pvEvents: [String: Int] = [:]
        var hypercalls: [Int: Int] = [:]
    }
    var totalSeconds = ""
    var volume: [Int: [String: Int]] = [:]
    var vcpus: [String: VCPU] = [:]          // "d0v1"

    init(_ text: String) {
        var cpu = -1, dom = -1, vid = -1
        var section = ""
        let fig = try! NSRegularExpression(pattern: #"^\s+(\w+):\s+(\d+)\s+([\d.]+)s\s+(\d+)"#)
        let exit = try! NSRegularExpression(pattern: #"^ ([A-Z_0-9]+)\s+(\d+)\s+([\d.]+)s\s+[\d.]+%\s+(\d+) cyc"#)
        let hc = try! NSRegularExpression(pattern: #"^\s+\S+\s*\[\s*(\d+)\]:\s+(\d+)"#)
        func groups(_ re: NSRegularExpression, _ s: String) -> [String]? {
            guard let m = re.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) else { return nil }
            return (1..<m.numberOfRanges).map { String(s[Range(m.range(at: $0), in: s)!]) }
        }
        for l in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if l.hasPrefix("Total time: ") { totalSeconds = String(l.dropFirst(12).split(separator: " ")[0]); continue }
            if l.hasPrefix(" - cpu ") { cpu = Int(l.split(separator: " ")[2])!; section = "volume"; continue }
            if l.hasPrefix("|-- Domain ") { dom = Int(l.split(separator: " ")[2])!; vid = -1; section = "domain"; continue }
            if l.hasPrefix("-- v") { vid = Int(l.dropFirst(4).split(separator: " ")[0])!; section = "vcpu"; continue }
            if l == "Exit reasons:" { section = "exits"; continue }
            if l == "PV events:" { section = "pv"; continue }
            if l.hasPrefix("Guest interrupt counts:") || l.hasPrefix("IO address") || l.hasPrefix("Emulate eip") || l.hasPrefix(" cpu affinity") { section = "other"; continue }
            if l == " Runstates:" { section = vid >= 0 ? "runstates" : "domainRunstates"; continue }
            let key = "d\(dom)v\(vid)"
            switch section {
            case "volume":
                let parts = l.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) }
                if parts.count == 2, let n = Int(parts[1]), !parts[0].hasPrefix("+") { volume[cpu, default: [:]][parts[0]] = n }
            case "runstates":
                if let g = groups(fig, l) { vcpus[key, default: VCPU()].runstates[g[0]] = Figure(count: Int(g[1])!, seconds: g[2], mean: Int(g[3])!) }
            case "exits":
                if let g = groups(exit, l) { vcpus[key, default: VCPU()].exits[g[0]] = Figure(count: Int(g[1])!, seconds: g[2], mean: Int(g[3])!) }
            case "pv":
                if let g = groups(hc, l) {
                    vcpus[key, default: VCPU()].hypercalls[Int(g[0])!] = Int(g[1])!
                } else if l.hasPrefix("  "), let sp = l.lastIndex(of: " "), let n = Int(l[l.index(after: sp)...]) {
                    let name = l[..<sp].trimmingCharacters(in: .whitespaces)
                    vcpus[key, default: VCPU()].pvEvents[name, default: 0] += n
                }
            default: break
            }
        }
    }
}

/// The same figures computed from our summary, in xenalyze's vocabulary.
/// SVM exits carry xenalyze's `VMEXIT_` prefix in its `--svm-mode` output.
func ourFigures(_ s: TraceSummary) -> (total: String, volume: [Int: [String: Int]], vcpus: [String: XenalyzeSummary.VCPU]) {
    func secs(_ c: UInt64) -> String { String(format: "%.2f", Double(c) / s.cpuHz) }
    func fig(_ c: CycleStats, events: Bool = false) -> XenalyzeSummary.Figure {
        XenalyzeSummary.Figure(count: events ? c.events : c.count, seconds: secs(c.cycles), mean: Int(c.meanCycles))
    }
    var vcpus: [String: XenalyzeSummary.VCPU] = [:]
    let pvNames = ["page_fault": "page_fault", "emulate_privop": "emulate privop", "math_state_restore": "math state restore",
                   "ptwr_emulation": "ptwr", "hypercall": "hypercall", "trap": "trap", "forced_invalid_op": "forced_invalid_op",
                   "emulate_4gb": "emulate 4g", "paging_fixup": "paging fixup", "gdt_ldt_mapping_fault": "gdt/ldt mapping fault"]
    for d in s.domains {
        for v in d.vcpus {
            var x = XenalyzeSummary.VCPU()
            for r in v.runstates where r.stats.count > 0 { x.runstates[r.state] = fig(r.stats) }
            if v.runnableAfterWake.count > 0 { x.runstates["wake"] = fig(v.runnableAfterWake) }
            if v.runnableAfterPreempt.count > 0 { x.runstates["preempt"] = fig(v.runnableAfterPreempt) }
            if v.runnableOther.count > 0 { x.runstates["other"] = fig(v.runnableOther) }
            for e in v.exits where e.stats.events > 0 { x.exits[(s.hvmFlavour == "svm" ? "VMEXIT_" : "") + e.name] = fig(e.stats, events: true) }
            if let p = v.pv {
                for (k, n) in p.events { x.pvEvents[pvNames[k] ?? k] = n }
                if p.subcalls > 0 { x.pvEvents["hypercall (subcall)"] = p.subcalls }
                for h in p.hypercalls where h.op < 56 { x.hypercalls[h.op] = h.count }
            }
            vcpus["d\(d.domain)v\(v.vcpu)"] = x
        }
    }
    var volume: [Int: [String: Int]] = [:]
    for c in s.pcpus { volume[c.cpu] = c.classBytes }
    return (String(format: "%.2f", Double(s.totalCycles) / s.cpuHz), volume, vcpus)
}

/// Records a failure naming the differences when `ours` and xenalyze's
/// summary disagree on any figure both print.
func expectParity(_ ours: TraceSummary, _ xa: XenalyzeSummary, compareVolume: Bool = true,
                  sourceLocation: SourceLocation = #_sourceLocation) {
    let diffs = parityDifferences(ours, xa, compareVolume: compareVolume)
    #expect(diffs.isEmpty, "\(diffs.count) difference(s): \(diffs.prefix(30).joined(separator: "; "))", sourceLocation: sourceLocation)
}

/// Compares every figure both tools print; returns the differences as text.
func parityDifferences(_ s: TraceSummary, _ xa: XenalyzeSummary, compareVolume: Bool = true) -> [String] {
    let ours = ourFigures(s)
    var diffs: [String] = []
    if ours.total != xa.totalSeconds { diffs.append("total time: ours \(ours.total) xenalyze \(xa.totalSeconds)") }
    if compareVolume {
        for (cpu, classes) in xa.volume {
            for (cls, n) in classes where ours.volume[cpu]?[cls] != n {
                diffs.append("cpu \(cpu) \(cls) bytes: ours \(ours.volume[cpu]?[cls] ?? 0) xenalyze \(n)")
            }
        }
    }
    for (key, x) in xa.vcpus {
        let o = ours.vcpus[key] ?? XenalyzeSummary.VCPU()
        for (k, f) in x.runstates where o.runstates[k] != f { diffs.append("\(key) \(k): ours \(o.runstates[k]?.description ?? "-") xenalyze \(f)") }
        for (k, f) in x.exits where o.exits[k] != f { diffs.append("\(key) exit \(k): ours \(o.exits[k]?.description ?? "-") xenalyze \(f)") }
        for (k, n) in x.pvEvents where o.pvEvents[k] != n { diffs.append("\(key) pv \(k): ours \(o.pvEvents[k] ?? 0) xenalyze \(n)") }
        for (k, n) in x.hypercalls where o.hypercalls[k] != n { diffs.append("\(key) hypercall \(k): ours \(o.hypercalls[k] ?? 0) xenalyze \(n)") }
    }
    // And nothing we print that xenalyze has not.
    for (key, o) in ours.vcpus {
        let x = xa.vcpus[key] ?? XenalyzeSummary.VCPU()
        for k in o.runstates.keys where x.runstates[k] == nil { diffs.append("\(key) \(k): only ours \(o.runstates[k]!)") }
        for k in o.exits.keys where x.exits[k] == nil { diffs.append("\(key) exit \(k): only ours \(o.exits[k]!)") }
        for k in o.hypercalls.keys where x.hypercalls[k] == nil { diffs.append("\(key) hypercall \(k): only ours") }
    }
    return diffs.sorted()
}
