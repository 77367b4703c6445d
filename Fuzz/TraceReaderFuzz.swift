// libFuzzer target for the xentrace reader: every input is read mapped in
// file order, mapped in TSC order and streamed in random small chunks; any
// crash, or any disagreement between the readers, is a finding.
// Built and run by scripts/fuzz-trace.sh (`make fuzz`).
import XenTrace

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTraceReader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    do {
        let problems = try ReaderCrossCheck.run(bytes, seed: UInt64(size))
        if !problems.isEmpty { fatalError("reader disagreement:\n" + problems.joined(separator: "\n")) }
    } catch {
        fatalError("cross-check could not run: \(error)")
    }
    return 0
}
