import BinaryIO
import Foundation
import Testing
import XenTraceAnalysis

/// Saved summaries read back by the pull reader (`SummaryJSON.decode`, what
/// `trace diff` uses) give exactly what `JSONDecoder` gave, and damaged ones
/// an error naming the file and the byte offset.
@Suite struct SummaryJSONReaderTests {
    static let samples = [
        "xen-4.x-public.xentrace", "xen-4.17-qemu-all-dom0-pvdomU-load.xentrace",
        "xen-4.17-qemu-all-lost-dom0-pvdomU-load.xentrace", "xen-4.17-qemu-sched-dom0-pvhdomU.xentrace",
        "xen-4.17.5-selfbuilt-qemu-sched-dom0-pvdomU.xentrace", "xen-4.17-qemu-arm64-all-dom0-domU-load.xentrace",
        "xen-4.17-qemu-arm64-sched-dom0-domU-load.xentrace", "xen-4.17-qemu-arm64-sched-dom0-load.xentrace",
    ]

    func decode(_ text: String, file: String = "s.json") throws -> TraceSummary {
        try Array(text.utf8).withUnsafeBytes { try SummaryJSON.decode(bytes: $0, file: file) }
    }

    func error(_ text: String) -> String? {
        do { _ = try decode(text); return nil } catch { return "\(error)" }
    }

    @Test(arguments: samples) func readsBackLikeJSONDecoder(_ name: String) throws {
        let s = try Summarizer.summarize(path: samplePath(name))
        for pretty in [true, false] {
            let text = try SummaryJSON.encode(s, pretty: pretty)
            let mine = try decode(text)
            let theirs = try SummaryJSON.foundationDecode(Data(text.utf8))
            #expect(try SummaryJSON.encode(mine, pretty: pretty) == text)
            #expect(try SummaryJSON.encode(theirs, pretty: pretty) == text)
            // Doubles bit for bit (the text comparison above already implies it).
            #expect(mine.cpuHz.bitPattern == theirs.cpuHz.bitPattern)
            #expect(mine.top.map(\.share.bitPattern) == theirs.top.map(\.share.bitPattern))
        }
    }

    /// `trace diff` of two saved summaries equals the diff of the traces, with
    /// the figures of this pair of samples.
    @Test func diffOfSavedSummariesHasExactValues() throws {
        let a = try Summarizer.summarize(path: samplePath("xen-4.17-qemu-all-dom0-pvdomU-load.xentrace"))
        let b = try Summarizer.summarize(path: samplePath("xen-4.17-qemu-sched-dom0-pvhdomU.xentrace"))
        let dir = NSTemporaryDirectory() + "summary-reader-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try SummaryJSON.encode(a).write(toFile: dir + "/a.json", atomically: false, encoding: .utf8)
        try SummaryJSON.encode(b).write(toFile: dir + "/b.json", atomically: false, encoding: .utf8)
        let d = SummaryDiff(try SummaryJSON.decode(path: dir + "/a.json"), try SummaryJSON.decode(path: dir + "/b.json"))
        #expect(d.render() == SummaryDiff(a, b).render())

        let d0 = try #require(d.domains.first { $0.key == "d0" })
        #expect(d0.countA == 2595 && d0.countB == 294)
        #expect(d0.meanCyclesA == 16023662 && d0.meanCyclesB == 3941774)
        let d1 = try #require(d.wakeLatency.first { $0.key == "d1" })
        #expect(d1.countA == 402 && d1.countB == 0 && d1.meanCyclesA == 3067739)
        // d1 (gone in B) and d2 (new in B) both have ratio 0: ties go by name.
        #expect(d.wakeLatency.map(\.key) == ["d0", "d1", "d2"])
        #expect(d.domains.map(\.key) == ["idle", "d2", "d1", "d0"])
        let iret = try #require(d.hypercalls.first { $0.key == "iret" })
        #expect(iret.countA == 73919 && iret.countB == 0)
        #expect(d.render().hasPrefix("A: \(a.file) (10.777 s)\nB: \(b.file) (8.646 s)\n"))
    }

    @Test func damagedSummariesNameTheOffset() throws {
        let s = try Summarizer.summarize(path: samplePath("xen-4.17.5-selfbuilt-qemu-sched-dom0-pvdomU.xentrace"))
        let text = try SummaryJSON.encode(s)
        // Cut anywhere: an error with an offset inside the text, never a crash.
        let bytes = Array(text.utf8)
        for n in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 97)) {
            do {
                _ = try bytes[0 ..< n].withUnsafeBytes { try SummaryJSON.decode(bytes: $0, file: "cut.json") }
                Issue.record("a summary cut to \(n) bytes was accepted")
            } catch let e as InputError {
                #expect(e.file == "cut.json" && e.offset! <= n)
            }
        }
        // A required key missing: named, at the object's start.
        let noFile = text.replacingOccurrences(of: "\"file\" :", with: "\"fileX\" :")
        #expect(error(noFile) == "s.json: at byte 0 (0x0): missing key \"file\" in the object that starts here")
        // A value of the wrong type: where it is and what was expected.
        let quoted = text.replacingOccurrences(of: "\"records\" : \(s.records),", with: "\"records\" : \"\(s.records)\",")
        let at = Array(quoted.utf8).firstRange(of: Array("\"records\" : \"".utf8))!.upperBound - 1
        #expect(error(quoted) == "s.json: at byte \(at) (0x\(String(at, radix: 16))): expected a number, found '\"'")
        #expect(error(text + "x") == "s.json: at byte \(bytes.count) (0x\(String(bytes.count, radix: 16))): more bytes after the JSON value ('x')")
        // An unknown clock kind, at its value.
        #expect(error(#"{"clock": {"kind": "sundial", "hz": 1, "hzSource": "x"}}"#) == #"s.json: at byte 19 (0x13): unknown clock kind "sundial""#)
        // A key twice in one object (JSONDecoder kept the first one): an error at the second.
        let twice = text.replacingOccurrences(of: "{\n  \"anomalies\"", with: "{\n  \"records\" : 1,\n  \"anomalies\"")
        let second = Array(twice.utf8).ranges(of: Array("\"records\" : \(s.records)".utf8)).first!.lowerBound
        #expect(error(twice) == "s.json: at byte \(second) (0x\(String(second, radix: 16))): the key \"records\" appears twice in one object")
        #expect(error(#"{"pcpus": [{"classBytes": {"a": 1, "a": 2}}]}"#) == #"s.json: at byte 35 (0x23): the key "a" appears twice in one object"#)
        // Unknown keys are passed over (a newer writer), null optionals are nil.
        let extra = try decode(text.replacingOccurrences(of: "{\n  \"anomalies\"", with: "{\n  \"zNew\" : [1, {\"x\": null}],\n  \"anomalies\""))
        #expect(try SummaryJSON.encode(extra) == text)
    }
}
