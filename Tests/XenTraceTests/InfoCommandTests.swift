import Foundation
import Testing

/// `xenscope trace info` end to end: standard input, compressed input, both
/// orders, JSON, and a damaged file's exit status and messages.
@Suite struct InfoCommandTests {
    @Test(arguments: ["file", "tsc"])
    func stdinJSON(order: String) throws {
        let xenscope = try xenscopeBinary()
        let sample = samplePath("xen-4.x-public.xentrace")
        let r = try runCaptured(["sh", "-c", "gzip -c '\(sample)' | '\(xenscope)' trace info --json --order \(order) -"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("{\"file\":\"-\",\"records\":180680,\"bytes\":3896732,\"cpu_change_records\":187,"))
        #expect(r.stdout.contains("\"wrap_records\":27,"))
        #expect(r.stdout.contains("{\"cpu\":3,\"records\":4649,"))
        #expect(r.stdout.contains("\"0x0002220c\":15074"))
        #expect(r.stdout.hasSuffix("\"diagnostics\":[]}\n"))
    }

    @Test func damagedFileExitsTwoAndNamesTheSpot() throws {
        let xenscope = try xenscopeBinary()
        let dir = try makeTempDir("info-cli")
        defer { removeDir(dir) }
        let path = dir + "/cut.xentrace"
        try writeFile(path, Array(DamageTests.base.prefix(106)))
        let r = try runCaptured([xenscope, "trace", "info", path])
        #expect(r.status == 2)
        #expect(r.stdout.hasPrefix("file \(path): 7 records, 100 bytes, 2 CPUs, 3 CPU-change blocks"))
        #expect(r.stderr == """
            xenscope: \(path): at byte 88 (0x58), cpu 0: window of 12 bytes ends 6 byte(s) past the end of the input
            xenscope: \(path): at byte 100 (0x64), cpu 0: record of 12 bytes (event 0x0001f001) cut by the end of the input after 6 bytes

            """)
    }
}

/// `xenscope trace synth --json` says what it wrote; `trace info --json`
/// must find exactly that, in both orders.
@Suite struct SynthCommandTests {
    func json(_ s: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(s.utf8)) as! [String: Any]
    }

    @Test func synthCountsMatchInfo() throws {
        let xenscope = try xenscopeBinary()
        let dir = try makeTempDir("synth-cli")
        defer { removeDir(dir) }
        let path = dir + "/s.xentrace"
        let s = try runCaptured([xenscope, "trace", "synth", "--size", "2M", "--cpus", "4", "--domains", "8",
                                 "--seed", "5", "--scheduler", "credit", "--json", "-o", path])
        #expect(s.status == 0, "\(s.stderr)")
        let w = try json(s.stdout)
        for order in ["file", "tsc"] {
            let r = try runCaptured([xenscope, "trace", "info", "--json", "--order", order, path])
            #expect(r.status == 0, "\(r.stderr)")
            let i = try json(r.stdout)
            #expect(i["records"] as? Int == w["records"] as? Int)
            #expect(i["bytes"] as? Int == w["bytes"] as? Int)
            #expect(i["cpu_change_records"] as? Int == w["windows"] as? Int)
            #expect(i["lost_records"] as? Int == w["lost_records"] as? Int)
            #expect(i["wrap_records"] as? Int == w["wrap_records"] as? Int)
            #expect(i["first_tsc"] as? Int == w["first_tsc"] as? Int)
            #expect(i["last_tsc"] as? Int == w["last_tsc"] as? Int)
            #expect((i["events"] as? [String: Int]) == (w["events"] as? [String: Int]))
            let perCPU = (i["cpus"] as? [[String: Any]] ?? []).map { $0["records"] as? Int ?? -1 }
            #expect(perCPU == (w["cpu_records"] as? [Int]))
            #expect((w["events"] as? [String: Int])?["0x00022009"] ?? 0 > 0, "credit's SCHEDULE event")
        }
        // Same options, same bytes.
        let again = dir + "/again.xentrace"
        _ = try runCaptured([xenscope, "trace", "synth", "--size", "2M", "--cpus", "4", "--domains", "8",
                             "--seed", "5", "--scheduler", "credit", "-o", again])
        #expect(FileManager.default.contentsEqual(atPath: path, andPath: again))
    }
}
