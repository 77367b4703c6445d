import Foundation
import Testing
import XenTraceAnalysis

/// Replays the JSON fuzzer's seeds (Fuzz/json-seeds) and its findings
/// (Tests/XenTraceAnalysisTests/JSONCorpus) through ``SummaryJSONCrossCheck``:
/// no crash, no disagreement with JSONDecoder, errors inside the input.
@Suite struct SummaryJSONCorpusTests {
    static func inputs(file: StaticString = #filePath) -> [String] {
        let root = URL(fileURLWithPath: "\(file)").deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var out: [String] = []
        for dir in ["Fuzz/json-seeds", "Tests/XenTraceAnalysisTests/JSONCorpus"] {
            let d = root.appendingPathComponent(dir).path
            for f in (try? FileManager.default.contentsOfDirectory(atPath: d)) ?? [] where !f.hasSuffix(".md") {
                out.append(d + "/" + f)
            }
        }
        return out.sorted()
    }

    @Test func corpusIsThere() {
        #expect(SummaryJSONCorpusTests.inputs().count >= 3)
    }

    @Test(arguments: SummaryJSONCorpusTests.inputs())
    func replay(_ path: String) throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let problems = bytes.withUnsafeBytes { SummaryJSONCrossCheck.run($0) }
        #expect(problems.isEmpty, "\(path): \(problems)")
    }

    /// The seeds that are summaries read as summaries (the fuzzer starts from
    /// real documents, pretty and compact, not only from rejected text).
    @Test func seedSummariesRead() throws {
        for path in SummaryJSONCorpusTests.inputs() where path.contains("/summary-") {
            let s = try SummaryJSON.decode(path: path)
            #expect(!s.pcpus.isEmpty && s.records > 0, "\(path)")
        }
    }
}
