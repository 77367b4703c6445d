import Foundation

/// Compiles C fixtures from Tests/Fixtures with the system C compiler into a
/// fresh temporary folder (fixtures are never checked in as binaries).
/// Shared by the ELF and DWARF tests.
public enum FixtureCompiler {
    public static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// Runs `tool args`; returns stdout; throws with stderr when it fails.
    @discardableResult
    public static func run(_ tool: String, _ args: [String]) throws -> String {
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

    /// A fresh folder under the temporary directory.
    public static func tempDir() throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("xenscope-fixture-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d.path
    }

    /// Compiles `sources` (relative to Tests/Fixtures) into `dir/output` with `flags`.
    public static func compile(_ sources: [String], output: String, in dir: String, flags: [String], libraries: [String] = []) throws -> String {
        let out = dir + "/" + output
        try run("cc", flags + sources.map { fixtures.appendingPathComponent($0).path } + ["-o", out] + libraries)
        return out
    }
}

/// A fixture tool that failed, with its stderr.
public struct FixtureError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}
