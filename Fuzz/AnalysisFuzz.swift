// libFuzzer target for the trace analyses: every input goes through
// AnalysisCrossCheck (summary with one and two threads, text/JSON/HTML,
// Chrome/CSV/JSONL exporters, a TSC window, diff). A crash, a thrown error
// or a disagreement is a finding. Built and run by scripts/fuzz-analysis.sh
// (`make fuzz`).
import Foundation
import XenTraceAnalysis

/// Scratch directory for the exporters' files, one per fuzzing process.
let scratch: String = {
    let d = NSTemporaryDirectory() + "xenscope-fuzz-analysis-\(getpid())"
    try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAnalysis(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    do {
        let problems = try AnalysisCrossCheck.run(bytes, scratch: scratch, variant: size)
        if !problems.isEmpty { fatalError("analysis disagreement:\n" + problems.joined(separator: "\n")) }
    } catch {
        fatalError("analysis cross-check failed: \(error)")
    }
    return 0
}
