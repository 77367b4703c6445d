import Foundation
import Testing

/// Where `make lab` / `lab/run.sh PROFILE` left a CI profile's outputs:
/// `lab/results/PROFILE` (host side: serial log, QEMU dumps, registers) and
/// its `results/` subfolder (what dom0 wrote: traces, guest dumps, logs).
/// `XENSCOPE_LAB_RESULTS` overrides the `ci` profile's folder,
/// `XENSCOPE_LAB_ARM64_RESULTS` the `arm64` one's.
public struct LabResults: Sendable {
    public let host: String
    public var profile = "ci"
    public var dom0: String { host + "/results" }

    public init(host: String, profile: String = "ci") {
        self.host = host
        self.profile = profile
    }

    /// The results of the last `ci` profile run, or a failure saying how to produce them.
    public static func ci(file: StaticString = #filePath) throws -> LabResults { try profile("ci", file: file) }

    /// The results of the last run of a profile listed in lab/ci-profiles.
    public static func profile(_ name: String, file: StaticString = #filePath) throws -> LabResults {
        let env = ProcessInfo.processInfo.environment
        let repo = URL(fileURLWithPath: "\(file)").deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path
        let override = ["ci": "XENSCOPE_LAB_RESULTS", "arm64": "XENSCOPE_LAB_ARM64_RESULTS"][name].flatMap { env[$0] }
        let dir = override ?? repo + "/lab/results/" + name
        guard FileManager.default.fileExists(atPath: dir + "/results/scenarios.txt") else {
            Issue.record("no lab results in \(dir): run `make lab` (or lab/run.sh \(name)) first")
            throw CocoaError(.fileNoSuchFile)
        }
        return LabResults(host: dir, profile: name)
    }

    /// The hypervisor's symbols: Debian's xen-syms (ELF symbols only, from
    /// the -dbg package the lab unpacked) for `ci`, the self-built one (DWARF)
    /// that lab/run.sh keeps beside the results for `selfbuilt`.
    public var xenSyms: String {
        if profile == "selfbuilt" { return host + "/xen-syms" }
        let env = ProcessInfo.processInfo.environment
        return (env["XENSCOPE_CACHE"] ?? (env["HOME"] ?? "/root") + "/.cache/xenscope")
            + "/lab/root/usr/lib/debug/boot/xen-syms-4.17-amd64"
    }

    public func text(_ relative: String) throws -> String {
        // Lossy: console logs carry terminal control bytes.
        String(decoding: try Data(contentsOf: URL(fileURLWithPath: host + "/" + relative)), as: UTF8.self)
    }

    /// Non-empty lines, CR and surrounding blanks removed (serial logs end lines with \r\r\n).
    public func lines(_ relative: String) throws -> [String] {
        try text(relative).split(whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }

    public func exists(_ relative: String) -> Bool { FileManager.default.fileExists(atPath: host + "/" + relative) }

    /// `results/traces/*.xentrace` (Xen's xentrace) or `*.xenscope` (ours).
    public func traces(suffix: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dom0 + "/traces")
            .filter { $0.hasSuffix(suffix) }.sorted().map { dom0 + "/traces/" + $0 }
    }
}

/// The peers scripts/fetch-peers.sh unpacks (Debian's xen-utils-common).
public enum Peers {
    public static var folder: String {
        let env = ProcessInfo.processInfo.environment
        return (env["XENSCOPE_CACHE"] ?? (env["HOME"] ?? "/root") + "/.cache/xenscope") + "/peers"
    }
    public static var xenalyze: String { folder + "/root/usr/bin/xenalyze" }
    public static var xentraceFormat: String { folder + "/xentrace_format.py3" }
}

/// Runs a program and returns its standard output; records a failure (never a
/// skip) when it is missing or exits non-zero.
public func run(_ exe: String, _ args: [String], stdin: String? = nil) throws -> String {
    guard FileManager.default.isExecutableFile(atPath: exe) || FileManager.default.fileExists(atPath: exe) else {
        Issue.record("\(exe) not found: run `make test` (scripts/fetch-peers.sh unpacks the peers)")
        throw CocoaError(.fileNoSuchFile)
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = args
    if let stdin { p.standardInput = FileHandle(forReadingAtPath: stdin) }
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle(forWritingAtPath: "/dev/null")
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    #expect(p.terminationStatus == 0, "\(exe) \(args.joined(separator: " ")) exited with \(p.terminationStatus)")
    return String(decoding: data, as: UTF8.self)
}

/// Hex register values `NAME: HEX` / `NAME=HEX` from tool output, lower-cased names.
public func registers(in text: Substring, separator: String) -> [String: UInt64] {
    var regs: [String: UInt64] = [:]
    let re = try! NSRegularExpression(pattern: "(?:^|\\s)([A-Za-z][A-Za-z0-9]*)\\s*\(separator)\\s*([0-9a-fA-F]{4,16})\\b")
    let s = String(text)
    for m in re.matches(in: s, range: NSRange(s.startIndex..., in: s)) {
        let name = s[Range(m.range(at: 1), in: s)!].lowercased()
        if regs[name] == nil { regs[name] = UInt64(s[Range(m.range(at: 2), in: s)!], radix: 16) }
    }
    return regs
}
