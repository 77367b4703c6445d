import BinaryIO
import Foundation
import Testing
import XenTrace
import XenTraceAnalysis

/// The arm64 sample's timestamps are the generic timer at 62.5 MHz: seconds,
/// the clock named in every output we write, and no x86 sections.
@Suite struct Arm64ClockTests {
    static let sample = "xen-4.17-qemu-arm64-sched-dom0-load.xentrace"
    /// `xl info` as Xen 4.17 on arm64 prints it (the lines that matter).
    static let xlInfo = """
        host                   : arm64-lab
        release                : 6.1.0-26-arm64
        machine                : aarch64
        nr_cpus                : 2
        cpu_mhz                : 62.500
        xen_caps               : xen-3.0-aarch64 xen-3.0-armv7l
        xen_version            : 4.17.5

        """

    static func armOptions() -> SummaryOptions {
        var o = SummaryOptions()
        o.cpuHz = TimeBase.cpuMHz(xlInfo: xlInfo)! * 1e6
        o.cpuHzSource = "xl-info"
        o.clockKind = TraceClock.kind(xlInfo: xlInfo)!
        return o
    }

    @Test func clockFromXlInfo() {
        #expect(TraceClock.kind(xlInfo: Self.xlInfo) == .armGenericTimer)
        #expect(TraceClock.kind(xlInfo: "machine                : x86_64\nxen_caps               : xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_64\n") == .tsc)
        #expect(TraceClock.kind(xlInfo: "cpu_mhz : 2400\n") == nil)
        #expect(TraceClock.kind(machine: "aarch64") == .armGenericTimer)
        #expect(TimeBase.cpuMHz(xlInfo: Self.xlInfo) == 62.5)
    }

    @Test func secondsAt62_5MHz() throws {
        let s = try Summarizer.summarize(path: samplePath(Self.sample), options: Self.armOptions())
        #expect(s.totalCycles == 312_016_459)
        #expect(s.seconds(s.totalCycles) == 4.992263344)
        #expect(s.pcpus.map { s.seconds($0.lastTSC - $0.firstTSC) } == [4.989909984, 4.991461296])
        #expect(s.clock == TraceClock(kind: .armGenericTimer, hz: 62_500_000, hzSource: "xl-info"))
        #expect(!s.hasX86OnlyEvents)
        let text = SummaryText.render(s)
        let head = text.split(separator: "\n").prefix(5).map(String.init)
        #expect(head == [
            "file \(samplePath(Self.sample))",
            "time base: ARM generic timer (CNTPCT_EL0), 62.500 MHz from xl info's cpu_mhz",
            "span: 4.992 s (312016459 ticks, CNTPCT 426956083…738972542)",
            "architecture: arm64 (only common-code events exist there; no x86 sections)",
            "records: 64774 in 101 CPU windows on 2 pCPUs; lost: 0 record(s) in 0 lost-records event(s)",
        ])
        #expect(text.contains("   0     31418     709468     4.990 "))
        #expect(text.contains("   1     33356     752476     4.991 "))
        for x86 in ["== HVM exits", "== PV:", "== Power", "== Interrupts", " cyc"] { #expect(!text.contains(x86), "\(x86)") }
        #expect(text.contains("wake→run 946× mean 3990 max 510182 ticks"))

        // JSON: the clock beside the old keys, and it reads back.
        let json = try SummaryJSON.encode(s, pretty: false)
        #expect(json.contains("\"clock\":{\"hz\":62500000,\"hzSource\":\"xl-info\",\"kind\":\"arm-generic-timer\"}"))
        #expect(json.contains("\"cpuHz\":62500000,\"cpuHzSource\":\"xl-info\""))
        #expect(try SummaryJSON.decode(Data(json.utf8)).clock == s.clock)
    }

    @Test func clockInferredOnlyFromX86Events() throws {
        let x86 = try Summarizer.summarize(path: samplePath("xen-4.17-qemu-all-dom0-pvdomU-load.xentrace"))
        #expect(x86.clock?.kind == .tsc)
        #expect(SummaryText.render(x86).contains("time base: TSC, xenalyze's default 2.400 GHz"))
        let sched = try Summarizer.summarize(path: samplePath("xen-4.17-qemu-sched-dom0-pvhdomU.xentrace"))
        #expect(sched.clock?.kind == .unknown)   // scheduler records only: could be either
        let arm = try Summarizer.summarize(path: samplePath(Self.sample))
        #expect(arm.clock == TraceClock(kind: .unknown, hz: 2.4e9, hzSource: "default"))
        #expect(SummaryText.render(arm).contains("span: 0.130 s (312016459 cycles, timestamps 426956083…738972542)"))
        // A summary saved before the clock existed still loads.
        var old = try SummaryJSON.encode(arm, pretty: false)
        old = old.replacingOccurrences(of: "\"clock\":{\"hz\":2400000000,\"hzSource\":\"default\",\"kind\":\"timestamp-counter\"},", with: "")
        #expect(!old.contains("\"clock\""))
        #expect(try SummaryJSON.decode(Data(old.utf8)).timeClock.kind == .unknown)
    }

    @Test func exportsRecordTheClock() throws {
        let o = Self.armOptions()
        let chrome = tempPath("arm64.json")
        defer { try? FileManager.default.removeItem(atPath: chrome) }
        let e = try ChromeTraceExporter(path: chrome, clock: o.clock)
        _ = try Summarizer.summarize(path: samplePath(Self.sample), options: o, sink: e)
        let doc = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: chrome))) as! [String: Any]
        let other = doc["otherData"] as! [String: Any]
        #expect(other["clock"] as? String == "arm-generic-timer")
        #expect(other["clock_name"] as? String == "ARM generic timer (CNTPCT_EL0)")
        #expect(other["clock_hz"] as? Int == 62_500_000)
        #expect(other["cpu_hz"] as? Int == 62_500_000)
        #expect(other["clock_hz_source"] as? String == "xl-info")
        // The last slice ends with the 4.992263344 s span (microseconds at 62.5 MHz).
        let events = doc["traceEvents"] as! [[String: Any]]
        let end = events.compactMap { ev -> Double? in
            guard let ts = ev["ts"] as? Double else { return nil }
            return ts + (ev["dur"] as? Double ?? 0)
        }.max() ?? 0
        #expect(abs(end - 4_992_263.344) < 0.001)

        for format in [TableExporter.Format.csv, .jsonl] {
            let dir = tempPath("arm64-\(format.rawValue)")
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let t = try TableExporter(directory: dir, format: format, clock: o.clock)
            _ = try Summarizer.summarize(path: samplePath(Self.sample), options: o, sink: t)
            let meta = try String(contentsOfFile: dir + "/metadata.json", encoding: .utf8)
            #expect(meta == "{\"schema\":\"xenscope.trace-export/1\",\"generator\":\"xenscope trace export\",\"format\":\"\(format.rawValue)\",\"clock\":\"arm-generic-timer\",\"clock_name\":\"ARM generic timer (CNTPCT_EL0)\",\"clock_hz\":62500000,\"clock_hz_source\":\"xl-info\"}\n")
        }

        let tl = TimelineCollector()
        let s = try Summarizer.summarize(path: samplePath(Self.sample), options: o, sink: tl)
        let html = HTMLReport.render(s, timeline: tl)
        #expect(html.contains("Time base: <span data-k=\"clock\">ARM generic timer (CNTPCT_EL0)</span> at <span data-k=\"clock-hz\">62500000</span> Hz, 62.500 MHz (xl-info)."))
        #expect(html.contains("\"clock\":\"arm-generic-timer\",\"hz\":62500000,"))
        #expect(html.contains("<span data-k=\"span-s\">4.992</span>"))
        for x86 in ["HVM exits", "PV hypercalls"] { #expect(!html.contains(x86)) }
    }

    /// The recorder's sidecar: written, read back, and damaged ones refused
    /// with the file and byte offset.
    @Test func traceMetadataFile() throws {
        let trace = tempPath("meta.xentrace")
        defer { try? FileManager.default.removeItem(atPath: TraceMetadata.path(for: trace)) }
        #expect(try TraceMetadata.read(tracePath: trace) == nil)
        let m = TraceMetadata(clock: TraceClock(kind: .armGenericTimer, hz: 62_500_000, hzSource: "trace record --cpu-hz"), machine: "aarch64")
        try m.write(tracePath: trace)
        #expect(try String(contentsOfFile: trace + ".meta.json", encoding: .utf8)
                == "{\"schema\":\"xenscope.trace-meta/1\",\"generator\":\"xenscope trace record\",\"machine\":\"aarch64\",\"clock\":\"arm-generic-timer\",\"clock_name\":\"ARM generic timer (CNTPCT_EL0)\",\"clock_hz\":62500000,\"clock_hz_source\":\"trace record --cpu-hz\"}\n")
        #expect(try TraceMetadata.read(tracePath: trace) == m)
        // Control characters in a name: short escapes (\t \r \b \f \n) and \u00XX, read back as written.
        let odd = TraceMetadata(clock: TraceClock(kind: .tsc, hz: 2e9, hzSource: "a\u{1}b"), machine: "x86_64\t\r\n\u{8}\u{c}\"\\", generator: "g")
        try odd.write(tracePath: trace)
        #expect(try String(contentsOfFile: trace + ".meta.json", encoding: .utf8).contains(#""machine":"x86_64\t\r\n\b\f\"\\","clock":"tsc""#))
        #expect(try String(contentsOfFile: trace + ".meta.json", encoding: .utf8).contains(#""clock_hz_source":"a\u0001b""#))
        #expect(try TraceMetadata.read(tracePath: trace) == odd)
        let bad: [(String, Int?, String)] = [
            ("{\"schema\":\"xenscope.trace-meta/1\",\"clock\":\"sundial\"}", nil, "clock is missing or not one of tsc, arm-generic-timer, timestamp-counter"),
            ("{\"schema\":\"other\",\"clock\":\"tsc\"}", 0, "not a xenscope.trace-meta/1 file"),
            ("{\"schema\":\"xenscope.trace-meta/1\",\"clock\":{\"a\":1}}", 42, "value of \"clock\" is nested"),
            ("{\"schema\":\"xenscope.trace-meta/1\",\"clock\":\"tsc\"", 47, "unterminated object"),
            ("[1,2]", 0, "expected a JSON object"),
        ]
        for (text, offset, message) in bad {
            try text.write(toFile: trace + ".meta.json", atomically: true, encoding: .utf8)
            do {
                _ = try TraceMetadata.read(tracePath: trace)
                Issue.record("\(text) was accepted")
            } catch {
                #expect(error.file == trace + ".meta.json" && error.offset == offset && error.message.hasPrefix(message), "\(text): \(error)")
            }
        }
    }
}
