import Foundation
import Testing
import XenTrace

/// `xenscope trace decode` in its own modes, on the real sample: exact counts
/// from the reader, JSON Lines / CSV shape, filters, errors.
@Suite struct DecodeCommandTests {
    let sample = samplePath("xen-4.x-public.xentrace")

    func xenscope(_ args: [String]) throws -> RunResult {
        let exe = try #require(xenscopeBinary(), "xenscope binary not built: run `swift build` first")
        return try run(exe, args)
    }

    func lines(_ r: RunResult) -> [Substring] {
        String(decoding: r.stdout, as: UTF8.self).split(separator: "\n")
    }

    func counts() throws -> [UInt32: Int] {
        try TraceInfo(TraceInput.open(sample), order: .file).eventCounts
    }

    @Test func headerThenRecordsInTSCOrder() throws {
        let r = try xenscope(["trace", "decode", "--limit", "20", sample])
        #expect(r.status == 0)
        let l = lines(r)
        #expect(l.count == 24)
        #expect(l[0] == "# \(sample): 180680 records on 8 CPUs (0,1,2,3,4,5,6,7), 187 CPU-change blocks")
        #expect(l[2] == "# lost records: 0 in 0 lost-record events; wrap records: 27")
        #expect(l[3] == "# exit reasons: Intel VMX basic exit reasons (detected: no SVM-only exit code among 5873 exit(s) (all below 0x60 with no SVM exit id); VMX assumed, give --svm for an AMD host)")
        #expect(l[4] == "CPU0  50475882825885 (+       0)  sched:block dom=0 vcpu=2")
        // Merged order: TSCs never decrease.
        let tscs = l[4...].map { UInt64($0.split(separator: " ", omittingEmptySubsequences: true)[1])! }
        #expect(tscs == tscs.sorted())
    }

    /// A pipe on standard input (read once, as a stream) gives the same lines as the mapped file,
    /// in file order by default (a pipe may never end) and in TSC order when asked.
    @Test func standardInput() throws {
        let exe = try #require(xenscopeBinary())
        // Through a real pipe (a regular file as stdin would be mapped); the header needs a second pass, so none.
        for order in ["file", "tsc"] {
            // A pipe cannot be scanned ahead for the exit numbering: --vmx says it (the file's is detected).
            let piped = try run("/bin/sh", ["-c", "cat '\(sample)' | '\(exe)' trace decode --vmx --limit 200 \(order == "tsc" ? "--order tsc " : "")-"])
            let mapped = try xenscope(["trace", "decode", "--no-header", "--limit", "200", "--order", order, sample])
            #expect(piped.status == 0)
            #expect(lines(piped).count == 200)
            #expect(piped.stdout == mapped.stdout)
        }
    }

    /// An AMD host's trace (`trace synth --svm`): exit reasons get SVM names,
    /// detected or forced, in text, JSON and CSV; --vmx forces VMX names.
    @Test func svmExitNames() throws {
        let exe = try #require(xenscopeBinary())
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("decode-svm-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/svm.xentrace"
        let gen = try run(exe, ["trace", "synth", "--svm", "--size", "1M", "--cpus", "2", "--domains", "6", "--seed", "3", "-o", path])
        #expect(gen.status == 0)
        let json = try xenscope(["trace", "decode", "--json", "--event", "hvm:vmexit", path])
        let l = lines(json)
        #expect(l[0].contains("\"hvm_flavour\":\"svm\",\"hvm_flavour_reason\":\"detected: exit code 0x"))
        let svmNames: Set<String> = ["INTR", "NPF", "IOIO", "VMMCALL", "MSR", "CPUID", "CR3_WRITE", "VINTR", "HLT"]
        var seen = Set<String>()
        for line in l.dropFirst() {
            let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let f = try #require(o["fields"] as? [String: Any])
            let name = try #require(f["exit"] as? String)
            seen.insert(name)
        }
        #expect(l.count > 500 && seen == svmNames)
        let text = try xenscope(["trace", "decode", "--svm", "--event", "hvm:vmexit", "--limit", "50", path])
        #expect(lines(text).contains { $0 == "# exit reasons: AMD SVM exit codes (--svm given)" })
        #expect(lines(text).filter { $0.hasPrefix("CPU") }.allSatisfy { l in svmNames.contains { l.hasSuffix(" exit=\($0)") } })
        let csv = try xenscope(["trace", "decode", "--csv", "--vmx", "--event", "hvm:vmexit", "--limit", "50", path])
        #expect(lines(csv).dropFirst().allSatisfy { $0.contains(" exit=") })
        #expect(lines(csv).contains { $0.contains("reason=1024 ") && $0.hasSuffix(" exit=EXIT_1024") })
    }

    /// Every key of real `decode --json` output (header and records; the
    /// catalogue's field names inside `fields` excepted) is named in docs/decode.md.
    @Test func jsonKeysAreDocumented() throws {
        let doc = try String(contentsOfFile: URL(fileURLWithPath: sample).deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/decode.md").path, encoding: .utf8)
        let r = try xenscope(["trace", "decode", "--json", "--limit", "3000", sample])
        var keys = Set<String>()
        for line in lines(r) {
            let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            keys.formUnion(o.keys)
            if let f = o["fields"] as? [String: Any], f["exit"] != nil { keys.insert("exit") }
        }
        #expect(keys.isSuperset(of: ["schema", "version", "hvm_flavour", "hvm_flavour_reason", "cpu", "fields", "exit"]))
        for k in keys.sorted() {
            #expect(doc.contains("`\(k)`") || doc.contains("\"\(k)\""), "decode --json key \(k) is not in docs/decode.md")
        }
    }

    @Test func eventFilterCountsMatchReader() throws {
        let c = try counts()
        let sw = try xenscope(["trace", "decode", "--no-header", "--event", "sched:switch", sample])
        #expect(lines(sw).count == c[0x0002_800a])
        let cls = try xenscope(["trace", "decode", "--no-header", "--order", "file", "--event", "0x00081000", sample])
        #expect(lines(cls).count == c.filter { $0.key >> 12 == 0x81 }.values.reduce(0, +))
        let cpu = try xenscope(["trace", "decode", "--no-header", "--cpu", "3", "--order", "file", sample])
        #expect(lines(cpu).count == 4_649)
        #expect(lines(cpu).allSatisfy { $0.hasPrefix("CPU3 ") })
    }

    /// A formats file with --order: our conventions (merged, real TSCs, CPU-change records left out).
    @Test func formatsFileInTSCOrder() throws {
        let formats = repoRoot().appendingPathComponent("formats/xenscope.formats").path
        let r = try xenscope(["trace", "decode", "--formats", formats, "--order", "tsc", sample])
        #expect(r.status == 0)
        let l = lines(r)
        #expect(l.count == 180_680 - 187)
        let tscs = l.map { UInt64($0.split(separator: " ", omittingEmptySubsequences: true)[1])! }
        #expect(tscs.allSatisfy { $0 > 0 })
        #expect(tscs == tscs.sorted())
        #expect(l[0] == "CPU0  50475882825885 (+       0)  sched:block dom=0 vcpu=2")
    }

    @Test func domainFilter() throws {
        let r = try xenscope(["trace", "decode", "--no-header", "--domain", "32767", "--event", "sched:switch", "--limit", "50", sample])
        let l = lines(r)
        #expect(l.count == 50)
        #expect(l.allSatisfy { $0.contains("prev_dom=32767") || $0.contains("next_dom=32767") })
    }

    @Test func jsonLines() throws {
        let r = try xenscope(["trace", "decode", "--json", "--order", "file", "--limit", "3", sample])
        let l = lines(r)
        #expect(l.count == 4)
        let header = try #require(JSONSerialization.jsonObject(with: Data(l[0].utf8)) as? [String: Any])
        #expect(header["schema"] as? String == "xenscope.trace.decode")
        #expect(header["version"] as? Int == 1)
        let rec = try #require(JSONSerialization.jsonObject(with: Data(l[2].utf8)) as? [String: Any])
        #expect(rec["name"] as? String == "sched:block")
        #expect(rec["tsc"] as? UInt64 == 50_475_882_825_885)
        #expect(rec["offset"] as? Int == 12)
        #expect(rec["id"] as? String == "0x00028006")
        #expect(rec["words"] as? [Int] == [0, 2])
        #expect(rec["fields"] as? [String: Int] == ["dom": 0, "vcpu": 2])
    }

    @Test func csv() throws {
        let r = try xenscope(["trace", "decode", "--csv", "--order", "file", "--limit", "2", sample])
        #expect(lines(r) == [
            "cpu,tsc,has_tsc,offset,event,name,words,fields",
            "0,0,0,0,0x0001f003,gen:cpu_change,00000000 00002124,cpu=0 window_bytes=8484",
            "0,50475882825885,1,12,0x00028006,sched:block,00000000 00000002,dom=0 vcpu=2",
        ])
    }

    @Test func timeWindow() throws {
        let all = try xenscope(["trace", "decode", "--no-header", "--from", "0.5s", "--to", "0.6s", "--cpu-hz", "2.4G", sample])
        let l = lines(all)
        #expect(!l.isEmpty)
        let first: UInt64 = 50_475_882_825_885
        for line in l {
            let tsc = UInt64(line.split(separator: " ", omittingEmptySubsequences: true)[1])!
            #expect(tsc >= first + 1_200_000_000 && tsc <= first + 1_440_000_000)
        }
    }

    @Test func errors() throws {
        let missing = try xenscope(["trace", "decode", "/nonexistent/trace"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("/nonexistent/trace"))
        let badEvent = try xenscope(["trace", "decode", "--event", "nonsense", sample])
        #expect(badEvent.status == 64)
        #expect(badEvent.stderr.contains("unknown event"))
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("bad.formats")
        try "0x1 ok %(1)d\n  indented\n".write(to: bad, atomically: true, encoding: .utf8)
        let badFormats = try xenscope(["trace", "decode", "--formats", bad.path, sample])
        #expect(badFormats.status == 2)
        #expect(badFormats.stderr.contains("bad.formats:2:"))
        // A format that makes xentrace_format die (KeyError) stops us at that record, status 1.
        let dies = dir.appendingPathComponent("dies.formats")
        try "0x0001f003 cpu %(1)d\n0x00028006 %(8)d\n".write(to: dies, atomically: true, encoding: .utf8)
        let died = try xenscope(["trace", "decode", "--formats", dies.path, sample])
        #expect(died.status == 1)
        #expect(lines(died) == ["cpu 0"])
        #expect(died.stderr.contains("at byte 12"))
        #expect(died.stderr.contains("KeyError: '8'"))
    }
}
