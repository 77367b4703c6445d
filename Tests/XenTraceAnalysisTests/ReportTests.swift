import Foundation
import Testing
import XenTraceAnalysis

/// The HTML report, loaded in headless Chromium as a person would: no
/// console errors, and the numbers the page shows equal the summary's.
@Suite struct ReportTests {
    func chromium() -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") + ["/usr/bin"] {
            for name in ["chromium", "chromium-browser"] where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
                return "\(dir)/\(name)"
            }
        }
        return nil
    }

    /// Runs headless Chromium on `html`; returns (DOM after scripts ran, stderr).
    func load(_ html: String) throws -> (dom: String, log: String) {
        guard let exe = chromium() else {
            Issue.record("chromium not found: run `make test` (scripts/install-deps.sh installs Debian's chromium)")
            throw CocoaError(.fileNoSuchFile)
        }
        let profile = tempPath("chromium-profile-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(atPath: profile) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = ["--headless", "--disable-gpu", "--no-sandbox", "--user-data-dir=\(profile)", "--enable-logging=stderr", "--v=0",
                       "--virtual-time-budget=5000", "--dump-dom", "file://\(html)"]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Read both pipes concurrently so neither fills up.
        nonisolated(unsafe) var errData = Data()
        let t = Thread { errData = err.fileHandleForReading.readDataToEndOfFile() }
        t.start()
        let dom = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        while !t.isFinished { usleep(10_000) }
        #expect(p.terminationStatus == 0)
        return (String(decoding: dom, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }

    /// Values of `data-k` cells in the DOM.
    func cells(_ dom: String) -> [String: String] {
        var d: [String: String] = [:]
        let re = try! NSRegularExpression(pattern: #"data-k="([^"]+)">([^<]*)<"#)
        for m in re.matches(in: dom, range: NSRange(dom.startIndex..., in: dom)) {
            d[String(dom[Range(m.range(at: 1), in: dom)!])] = String(dom[Range(m.range(at: 2), in: dom)!])
        }
        return d
    }

    func count(_ needle: String, in s: String) -> Int { s.components(separatedBy: needle).count - 1 }

    @Test(arguments: ["xen-4.x-public.xentrace", "xen-4.17-qemu-all-dom0-pvdomU-load.xentrace"])
    func reportShowsTheSummary(_ name: String) throws {
        let tl = TimelineCollector()
        let s = try Summarizer.summarize(path: samplePath(name), sink: tl)
        let html = tempPath("\(name).html")
        try HTMLReport.render(s, timeline: tl).write(toFile: html, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: html) }
        let (dom, log) = try load(html)

        #expect(!log.contains("CONSOLE"), "console output: \(log.split(separator: "\n").filter { $0.contains("CONSOLE") }.prefix(3))")
        #expect(dom.contains("data-rendered=\"1\""), "the page's script did not finish")
        #expect(dom.contains("data-js-errors=\"0\""))
        // Timeline lanes, drawn by the script: one per pCPU, with run slices.
        #expect(count("class=\"lane\"", in: dom) == s.pcpus.count)
        #expect(count("class=\"run\"", in: dom) > 0)

        let c = cells(dom)
        #expect(c["records"] == "\(s.records)")
        #expect(c["pcpu-count"] == "\(s.pcpus.count)")
        for p in s.pcpus {
            #expect(c["cpu\(p.cpu)-records"] == "\(p.records)")
            #expect(c["cpu\(p.cpu)-switches"] == "\(p.contextSwitches)")
        }
        for d in s.domains { for v in d.vcpus { for r in v.runstates {
            #expect(c["d\(d.domain)v\(v.vcpu)-\(r.state)-count"] == "\(r.stats.count)")
        } } }
        for e in s.exits { #expect(c["exit-\(e.reason)-count"] == "\(e.stats.events)") }
        for d in s.domains { for h in d.hypercalls { #expect(c["hc-d\(d.domain)-\(h.op)"] == "\(h.count)") } }
        // One bar per exit reason, each carrying the count.
        #expect(count("class=\"bar\"", in: dom) == s.exits.count)
        for e in s.exits { #expect(dom.contains("data-label=\"\(e.name)\" data-count=\"\(e.stats.events)\"")) }
        if let w = s.wakeLatency { #expect(count("class=\"lat-bar\"", in: dom) == w.bins.count) }
    }
}
