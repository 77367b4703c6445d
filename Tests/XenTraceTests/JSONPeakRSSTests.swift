import Foundation
import Testing

/// `trace summary --json` streams its output (JSONWriter) instead of building
/// the document first: on a generated 64 MiB trace with 2,000 domains and
/// 8,000 vCPUs its peak RSS, in a child process, stays within 16 MiB of the
/// text summary's on the same file and under 120 MB (JSONEncoder peaked at
/// ≈ 245 MB there), while the output is complete: every vCPU is in it.
@Suite struct JSONPeakRSSTests {
    @Test func summaryJSONPeakRSSMatchesText() throws {
        let xenscope = try xenscopeBinary()
        let dir = try makeTempDir("json-rss")
        defer { removeDir(dir) }
        let path = "\(dir)/synth-64.xentrace"
        let gen = try runMeasured([xenscope, "trace", "synth", "--size", "64M", "--cpus", "8",
                                   "--domains", "2000", "--vcpus", "8000", "--seed", "1", "-o", path])
        #expect(gen.status == 0, "synth: \(gen.stderr)")

        let text = try runMeasured([xenscope, "trace", "summary", path])
        #expect(text.status == 0, "summary: \(text.stderr.prefix(300))")
        let json = try runMeasured([xenscope, "trace", "summary", "--json", path])
        #expect(json.status == 0, "summary --json: \(json.stderr.prefix(300))")
        #expect(json.stdout.count > 30_000_000, "a summary of 8,000 vCPUs is tens of MB of JSON: \(json.stdout.count) bytes")
        #expect(json.stdout.hasPrefix("{\n") && json.stdout.hasSuffix("\n}\n"))
        // 8,000 guest vCPUs and the 8 idle vCPUs, each one object with a "vcpu" key.
        #expect(json.stdout.components(separatedBy: "\"vcpu\" : ").count - 1 == 8008)
        #expect(json.stdout.contains("\"schema\" : \"xenscope.trace-summary/1\""))

        #expect(text.maxRSSKiB > 0 && json.maxRSSKiB > 0)
        #expect(json.maxRSSKiB * 1024 < 120_000_000, "summary --json peak RSS \(json.maxRSSKiB) KiB")
        #expect(json.maxRSSKiB - text.maxRSSKiB < 16 * 1024,
                "summary --json peak RSS \(json.maxRSSKiB) KiB vs text \(text.maxRSSKiB) KiB")
    }
}
