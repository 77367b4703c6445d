// libFuzzer target for the JSON pull reader and the saved-summary reader
// `trace diff` uses: every input goes through SummaryJSONCrossCheck (walk,
// summary decode, re-encode round trip, agreement with JSONDecoder). A
// crash or a disagreement is a finding. Built and run by
// scripts/fuzz-json.sh (`make fuzz`).
import XenTraceAnalysis

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSummaryJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let problems = SummaryJSONCrossCheck.run(UnsafeRawBufferPointer(start: data, count: size))
    if !problems.isEmpty { fatalError("summary JSON: " + problems.joined(separator: "\n")) }
    return 0
}
