import Foundation
import Testing
import XenTraceAnalysis

/// Replays the analysis fuzzer's seeds (Fuzz/analysis-seeds) and its past
/// findings (Tests/XenTraceAnalysisTests/Corpus) through
/// ``AnalysisCrossCheck``, in every variant (0–7: each exporter, one and two
/// threads): no crash, no error, no disagreement.
@Suite struct AnalysisCorpusTests {
    static func inputs(file: StaticString = #filePath) -> [String] {
        let root = URL(fileURLWithPath: "\(file)").deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var out: [String] = []
        for dir in ["Fuzz/analysis-seeds", "Tests/XenTraceAnalysisTests/Corpus"] {
            let d = root.appendingPathComponent(dir).path
            for f in (try? FileManager.default.contentsOfDirectory(atPath: d)) ?? [] where !f.hasSuffix(".md") {
                out.append(d + "/" + f)
            }
        }
        return out.sorted()
    }

    @Test func corpusIsThere() {
        #expect(AnalysisCorpusTests.inputs().count >= 5)
    }

    @Test(arguments: AnalysisCorpusTests.inputs())
    func replay(_ path: String) throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let dir = tempPath("corpus-\(URL(fileURLWithPath: path).lastPathComponent)")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for variant in 0..<8 {
            let problems = try bytes.withUnsafeBytes { try AnalysisCrossCheck.run($0, scratch: dir, variant: variant) }
            #expect(problems.isEmpty, "\(path) variant \(variant): \(problems)")
        }
    }
}
