import Foundation
import XenTrace

/// A fresh temporary directory, removed by the caller with `removeDir`.
func makeTempDir(_ tag: String) throws -> String {
    let dir = NSTemporaryDirectory() + "xenscope-test-\(tag)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

func removeDir(_ dir: String) { try? FileManager.default.removeItem(atPath: dir) }

/// Runs a program and returns its exit status; fails loudly if it is missing.
@discardableResult
func run(_ tool: String, _ args: [String], stdin: String? = nil, stdout: String? = nil) throws -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = [tool] + args
    if let stdin { p.standardInput = FileHandle(forReadingAtPath: stdin) }
    if let stdout {
        _ = FileManager.default.createFile(atPath: stdout, contents: nil)
        p.standardOutput = FileHandle(forWritingAtPath: stdout)
    }
    try p.run()
    p.waitUntilExit()
    return p.terminationStatus
}

/// Every record of `input` in `order`, with the diagnostics.
func readAll(_ input: TraceInput, order: RecordOrder) throws -> ([TraceRecord], [TraceDiagnostic]) {
    var out: [TraceRecord] = []
    let d = try input.forEachRecord(order: order) { out.append($0); return true }
    return (out, d)
}

/// Writes `bytes` to `path`.
func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}
