import Foundation
import Testing
@testable import XenTrace

/// Replays the fuzzer's seeds and every input it ever flagged
/// (Tests/XenTraceTests/Corpus) through ``ReaderCrossCheck``: all readers
/// must agree and nothing may crash. Also cross-checks real and generated traces.
@Suite struct CorpusTests {
    static func folder(_ relative: String, file: StaticString = #filePath) -> URL {
        URL(fileURLWithPath: "\(file)").deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(relative)
    }

    static func inputs() -> [String] {
        var out: [String] = []
        for dir in ["Fuzz/seeds", "Tests/XenTraceTests/Corpus"] {
            let url = folder(dir)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
            out += names.filter { !$0.hasPrefix(".") && $0 != "README.md" }.sorted().map { "\(dir)/\($0)" }
        }
        return out
    }

    @Test func corpusIsThere() {
        #expect(CorpusTests.inputs().count >= 5)
    }

    @Test(arguments: CorpusTests.inputs())
    func readersAgree(on input: String) throws {
        let data = try Data(contentsOf: CorpusTests.folder(input))
        let problems = try data.withUnsafeBytes { try ReaderCrossCheck.run($0) }
        #expect(problems.isEmpty, "\(input): \(problems)")
    }

    @Test func readersAgreeOnTheRealSample() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: samplePath("xen-4.x-public.xentrace")))
        #expect(try data.withUnsafeBytes { try ReaderCrossCheck.run($0) }.isEmpty)
    }

    @Test func readersAgreeOnDamagedSynthTraces() throws {
        var o = TraceSynthesizer.Options()
        o.size = 256 << 10
        o.cpus = 3
        var bytes: [UInt8] = []
        _ = TraceSynthesizer(o).generate { bytes.append(contentsOf: $0) }
        #expect(try bytes.withUnsafeBytes { try ReaderCrossCheck.run($0) }.isEmpty)
        // Flip bytes, cut, and splice: readers must still agree.
        var rng = SplitMix(seed: 11)
        for round in 0..<12 {
            var damaged = bytes
            for _ in 0..<(1 + round) {
                let i = Int(rng.next() % UInt64(damaged.count))
                damaged[i] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
            }
            if round % 3 == 0 { damaged.removeLast(Int(rng.next() % 5000)) }
            if round % 4 == 1 {
                let i = Int(rng.next() % UInt64(damaged.count))
                damaged.insert(contentsOf: (0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: i)
            }
            let problems = try damaged.withUnsafeBytes { try ReaderCrossCheck.run($0, seed: UInt64(round)) }
            #expect(problems.isEmpty, "round \(round): \(problems)")
        }
    }
}
