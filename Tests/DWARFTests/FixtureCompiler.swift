import Foundation
import Testing

/// Compiles C fixtures from Tests/Fixtures with the system C compiler into a
/// fresh temporary folder (fixtures are never checked in as binaries).
enum FixtureCompiler {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// Runs `tool args`; returns stdout; throws with stderr when it fails.
    @discardableResult
    static func run(_ tool: String, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [tool] + args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw FixtureError("\(tool) \(args.joined(separator: " ")) failed (\(p.terminationStatus)): \(String(decoding: e, as: UTF8.self))")
        }
        return String(decoding: o, as: UTF8.self)
    }

    static func tempDir() throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("xenscope-dwarf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d.path
    }

    /// Compiles `sources` (relative to Tests/Fixtures) into `dir/output` with `flags`.
    static func compile(_ sources: [String], output: String, in dir: String, flags: [String], libraries: [String] = []) throws -> String {
        let out = dir + "/" + output
        try run("cc", flags + sources.map { fixtures.appendingPathComponent($0).path } + ["-o", out] + libraries)
        return out
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
