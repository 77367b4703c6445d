import BinaryIO
import ArgumentParser
import XenTrace

extension TraceSynthesizer.Scheduler: ExpressibleByArgument {}

/// `xenscope trace synth`: writes a deterministic synthetic trace and prints
/// what it wrote, per event and per CPU, so readers can be checked exactly.
struct TraceSynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Write a deterministic, realistic synthetic trace and print its counts.",
        discussion: """
            Simulates a host with scheduler switches and runstate changes across many \
            domains and vCPUs, HVM exit/entry pairs, PV hypercalls and page faults, IRQs, \
            C-/P-state events, per-CPU rings with wrap records, and a collector that \
            sometimes stalls (lost records). The same options always give the same bytes.
            """
    )

    @Option(help: "Approximate size: bytes, or with a K/M/G suffix (e.g. 1G).", transform: parseSize)
    var size: Int = 64 << 20

    @Option(help: "Physical CPUs.")
    var cpus: Int = 8

    @Option(help: "Domains (domain 0 is a PV dom0; the rest HVM or PV guests with 1-4 vCPUs).")
    var domains: Int = 16

    @Option(help: "Total vCPUs over all domains (default: 1-4 per guest at random, about 2.5 on average).")
    var vcpus: Int?

    @Option(help: "Seed of the pseudo-random generator.")
    var seed: UInt64 = 1

    @Option(help: "Scheduler whose private events are written: credit or credit2.")
    var scheduler: TraceSynthesizer.Scheduler = .credit2

    @Option(help: "Pages per CPU ring (xentrace -S).")
    var ringPages: Int = 32

    @Flag(help: "An AMD host: HVM exits carry SVM exit codes (under Xen 4.17's shared VMEXIT record id) instead of VMX exit reasons.")
    var svm = false

    @Option(name: [.short, .customLong("output")], help: "File to write.")
    var output: String

    @Flag(help: "Print the counts as JSON.")
    var json = false

    func validate() throws {
        guard (1...4096).contains(cpus) else { throw ValidationError("--cpus must be 1...4096") }
        guard (1...32_000).contains(domains) else { throw ValidationError("--domains must be 1...32000") }
        if let vcpus, !(domains...domains * 128).contains(vcpus) {
            throw ValidationError("--vcpus must be \(domains)...\(domains * 128) (1-128 per domain)")
        }
        guard (1...65_535).contains(ringPages) else { throw ValidationError("--ring-pages must be 1...65535") }
    }

    func run() throws {
        var o = TraceSynthesizer.Options()
        o.size = size
        o.cpus = cpus
        o.domains = domains
        o.vcpus = vcpus
        o.seed = seed
        o.scheduler = scheduler
        o.ringPages = ringPages
        o.svm = svm
        let counts = try TraceSynthesizer(o).write(toPath: output)
        let out = FDWriter(fd: 1)
        if json {
            var s = "{\"file\":\(JSONString.literal(output)),\"bytes\":\(counts.bytes),\"records\":\(counts.records),\"windows\":\(counts.windows)"
            s += ",\"lost_record_events\":\(counts.lostRecordEvents),\"lost_records\":\(counts.lostRecords),\"wrap_records\":\(counts.wrapRecords)"
            s += ",\"first_tsc\":\(counts.firstTSC),\"last_tsc\":\(counts.lastTSC)"
            s += ",\"cpu_records\":[\(counts.cpuRecords.map(String.init).joined(separator: ","))]"
            s += ",\"events\":{" + counts.events.sorted { $0.key < $1.key }.map { "\"0x\(hex8($0.key))\":\($0.value)" }.joined(separator: ",") + "}}"
            out.line(s)
        } else {
            out.line("wrote \(output): \(counts.bytes) bytes, \(counts.records) records in \(counts.windows) windows")
            out.line("lost-record events \(counts.lostRecordEvents) (\(counts.lostRecords) records lost), wrap records \(counts.wrapRecords)")
            out.line("TSC \(counts.firstTSC) .. \(counts.lastTSC)")
            out.line("cpu     records")
            for (c, n) in counts.cpuRecords.enumerated() { out.line("\(pad(c, 3)) \(pad(n, 11))") }
            out.line("event          records")
            for (e, n) in counts.events.sorted(by: { $0.key < $1.key }) { out.line("0x\(hex8(e)) \(pad(n, 11))") }
        }
        out.flush()
    }
}

/// Parses `1G`, `300M`, `64K` or a plain byte count.
func parseSize(_ s: String) throws -> Int {
    let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30]
    var digits = Substring(s)
    var mult = 1
    if let last = s.last, let u = units[last] { mult = u; digits = s.dropLast() }
    guard let n = Int(digits), n > 0 else { throw ValidationError("size '\(s)': expected a positive number with an optional K, M or G suffix") }
    return n * mult
}
