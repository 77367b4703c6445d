import Foundation
import Testing

/// Runs a program (under `timeout`, in seconds) and returns its exit status
/// and combined output; a program that cannot start gives -1 and why.
public func runTool(_ argv: [String], timeout: Int = 120) -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
    p.arguments = ["\(timeout)"] + argv
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    do { try p.run() } catch { return (-1, "cannot run \(argv[0]): \(error)") }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// This checkout's debug-built xenscope (`swift build --build-tests` builds
/// it); records a failure when it is not there.
public func xenscopeDebugBinary(sourceLocation: SourceLocation = #_sourceLocation) -> String {
    let xs = PanickerGuest.packageRoot + "/.build/debug/xenscope"
    #expect(FileManager.default.isExecutableFile(atPath: xs), "build xenscope first (swift build --build-tests)", sourceLocation: sourceLocation)
    return xs
}
