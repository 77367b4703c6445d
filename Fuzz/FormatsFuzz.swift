// libFuzzer target for the formats engine: the input is parsed as a formats
// file, and every definition is rendered for a few records (plain and in
// xentrace_format emulation). Any crash or hang is a finding; parse errors
// and Python-style exceptions are expected outcomes.
// Built and run by scripts/fuzz-formats.sh (`make fuzz`).
import XenTrace
import XenTraceFormats

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFormats(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let file = try? FormatsFile(text: text, path: "fuzz") else { return 0 }
    var seed = UInt64(size) &* 0x9E37_79B9_7F4A_7C15 | 1
    func next() -> UInt32 { seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; return UInt32(truncatingIfNeeded: seed) }
    var ids = Array(file.definitions.keys.prefix(8)) + [0x0001_f003, 0x0001_f004, 0x0020_100d, 0x0002_800a]
    ids.append(next())
    var records: [TraceRecord] = []
    var tsc: UInt64 = 1000
    for (i, id) in ids.enumerated() {
        tsc = i % 3 == 2 ? tsc &- UInt64(next() % 50) : tsc &+ UInt64(next() % 5000)
        let n = Int(next() % 8)
        records.append(TraceRecord(cpu: next() % 4, event: id, tsc: i % 4 == 3 ? nil : tsc, extra: (0..<n).map { _ in next() }))
    }
    var out = ByteSink(capacity: 256)
    for mhz in [0, 2400] {
        var emulator = XentraceFormatEmulator(formats: file, mhz: mhz)
        for r in records {
            out.reset()
            if case .stop = emulator.render(r, into: &out) { break }
        }
    }
    var ours = TraceDecoder(style: .formats(file))
    for r in records { out.reset(); _ = ours.decode(r, into: &out) }
    // The catalogue's text path (one capacity check per line, unchecked
    // writes after it): every record in one growing sink, then reset each time.
    var plain = TraceDecoder(style: .text)
    var all = ByteSink(capacity: 64)
    for r in records { _ = plain.decode(r, into: &all); out.reset(); _ = plain.decode(r, into: &out) }
    return 0
}
