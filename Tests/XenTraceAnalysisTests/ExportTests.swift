import Foundation
import Testing
import XenTraceAnalysis

func tempPath(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("xenscope-analysis-\(getpid())-\(name)").path
}

/// Counts in the exported timeline and tables equal the summary's.
@Suite struct ExportTests {
    @Test(arguments: ["xen-4.x-public.xentrace", "xen-4.17-qemu-sched-dom0-pvhdomU.xentrace"])
    func chromeJSONMatchesSummary(_ name: String) throws {
        let path = tempPath("\(name).json")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let e = try ChromeTraceExporter(path: path, cpuHz: Summarizer.defaultCPUHz)
        let s = try Summarizer.summarize(path: samplePath(name), sink: e)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        let events = json["traceEvents"] as! [[String: Any]]
        // One track per pCPU.
        let pcpuTracks = events.filter { $0["ph"] as? String == "M" && $0["name"] as? String == "thread_name" && $0["pid"] as? Int == 1 }
        #expect(pcpuTracks.count == s.pcpus.count)
        // Running slices per vCPU = the summary's running intervals.
        var running: [String: Int] = [:]
        for ev in events where ev["ph"] as? String == "X" && ev["pid"] as? Int == 1 {
            let a = ev["args"] as! [String: Any]
            running["d\(a["domain"] as! Int)v\(a["vcpu"] as! Int)", default: 0] += 1
        }
        var expected: [String: Int] = [:]
        for d in s.domains { for v in d.vcpus where v.runstates[0].stats.count > 0 { expected["d\(d.domain)v\(v.vcpu)"] = v.runstates[0].stats.count } }
        #expect(running == expected)
        // VMEXIT slices per reason = the summary's exits.
        var exits: [String: Int] = [:]
        for ev in events where ev["ph"] as? String == "X" && ev["pid"] as? Int == 2 { exits[ev["name"] as! String, default: 0] += 1 }
        #expect(exits == Dictionary(uniqueKeysWithValues: s.exits.map { ($0.name, $0.stats.events) }))
        #expect(e.exitSlices == s.exits.reduce(0) { $0 + $1.stats.events })
        #expect(events.allSatisfy { ($0["ts"] as? Double ?? 0) >= 0 })
    }

    @Test func duckDBCountsEqualSummary() throws {
        let env = ProcessInfo.processInfo.environment
        let cache = env["XENSCOPE_CACHE"] ?? (env["HOME"] ?? "/root") + "/.cache/xenscope"
        let python = cache + "/venv/bin/python"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            Issue.record("no DuckDB venv at \(python): run `make test` (scripts/fetch-duckdb.sh installs it)")
            return
        }
        let dir = tempPath("tables")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let g = GeneratedTrace(cpus: 2, guestsPerCPU: 2, slices: 150, seed: 7)
        let trace = dir + "/gen.xentrace"
        try Data(g.bytes).write(to: URL(fileURLWithPath: trace))
        let e = try TableExporter(directory: dir, format: .csv)
        let s = try Summarizer.summarize(path: trace, sink: e)

        let script = """
        import duckdb, json, sys
        d = sys.argv[1]
        con = duckdb.connect()
        out = {}
        out["records"] = con.execute(f"select count(*) from read_csv_auto('{d}/records.csv')").fetchone()[0]
        out["runstates"] = [list(r) for r in con.execute(f"select domain, vcpu, state, count(*), sum(cycles)::BIGINT from read_csv_auto('{d}/runstates.csv') group by all order by all").fetchall()]
        out["exits"] = [list(r) for r in con.execute(f"select reason, count(*), sum(cycles)::BIGINT from read_csv_auto('{d}/vmexits.csv') group by all order by all").fetchall()]
        out["hypercalls"] = [list(r) for r in con.execute(f"select w0 & 1048575 as op, count(*) from read_csv_auto('{d}/records.csv') where event in (2101261, 2105358) group by all order by all").fetchall()]
        print(json.dumps(out))
        """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = ["-c", script, dir]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let got = try JSONSerialization.jsonObject(with: data) as! [String: Any]

        #expect(got["records"] as? Int == s.records - s.cpuChangeRecords)
        var runstates: [[Int]] = []
        var wantRunstates: [String: (Int, UInt64)] = [:]
        for d in s.domains { for v in d.vcpus { for r in v.runstates where r.stats.count > 0 { wantRunstates["\(d.domain)/\(v.vcpu)/\(r.state)"] = (r.stats.count, r.stats.cycles) } } }
        var gotRunstates: [String: (Int, UInt64)] = [:]
        for row in got["runstates"] as! [[Any]] {
            gotRunstates["\(row[0])/\(row[1])/\(row[2])"] = (row[3] as! Int, UInt64(row[4] as! Int))
            runstates.append([row[3] as! Int])
        }
        #expect(gotRunstates.count == wantRunstates.count && !gotRunstates.isEmpty)
        for (k, v) in wantRunstates { #expect(gotRunstates[k]?.0 == v.0 && gotRunstates[k]?.1 == v.1, "runstate \(k)") }
        var gotExits: [Int: (Int, UInt64)] = [:]
        for row in got["exits"] as! [[Any]] { gotExits[row[0] as! Int] = (row[1] as! Int, UInt64(row[2] as! Int)) }
        #expect(gotExits.count == s.exits.count && !gotExits.isEmpty)
        for x in s.exits { #expect(gotExits[x.reason]?.0 == x.stats.events && gotExits[x.reason]?.1 == x.stats.cycles, "exit \(x.name)") }
        var wantCalls: [Int: Int] = [:]
        for d in s.domains { for h in d.hypercalls { wantCalls[h.op, default: 0] += h.count } }
        var gotCalls: [Int: Int] = [:]
        for row in got["hypercalls"] as! [[Any]] { gotCalls[row[0] as! Int] = row[1] as? Int }
        #expect(gotCalls == wantCalls && !gotCalls.isEmpty)
    }
}
