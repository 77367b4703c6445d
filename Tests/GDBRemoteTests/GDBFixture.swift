import Foundation
import GDBBackends
import GDBRemote
import CrashTestSupport

/// The test program, compiled and crashed once per test run, with the core
/// gdb saved for it (`gdb -batch -ex run -ex gcore`).
struct CoreFixture: Sendable {
    let dir: String
    let program: String
    let core: String

    /// Built on first use; a missing gdb or gcc is an error, never a skip.
    static let shared: Result<CoreFixture, FixtureError> = make()

    struct FixtureError: Error, CustomStringConvertible { let description: String }

    private static func make() -> Result<CoreFixture, FixtureError> {
        for tool in ["/usr/bin/gdb", "/usr/bin/gcc"] where !FileManager.default.isExecutableFile(atPath: tool) {
            return .failure(FixtureError(description: "\(tool) is missing: run `make test` (scripts/install-deps.sh installs gdb and gcc)"))
        }
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../Fixtures/gdbstub/threads.c").standardized.path
        let dir = NSTemporaryDirectory() + "xenscope-gdbstub-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let program = dir + "/threads", core = dir + "/threads.core"
        let cc = runTool(["/usr/bin/gcc", "-g", "-O0", "-pthread", source, "-o", program])
        guard cc.status == 0 else { return .failure(FixtureError(description: "gcc failed: \(cc.output)")) }
        let g = runTool(["/usr/bin/gdb", "-batch", "-nx", "-ex", "run", "-ex", "gcore \(core)", program])
        guard FileManager.default.fileExists(atPath: core) else {
            return .failure(FixtureError(description: "gdb did not write a core: \(g.output)"))
        }
        return .success(CoreFixture(dir: dir, program: program, core: core))
    }

    static func get() throws -> CoreFixture { try shared.get() }
}

/// A stub serving a backend on an ephemeral loopback port, on its own thread.
final class RunningStub: @unchecked Sendable {
    let listener: TCPListener
    private let server: StubServer
    private let done = DispatchSemaphore(value: 0)
    var port: UInt16 { listener.port }
    let messages = Messages()

    final class Messages: @unchecked Sendable {
        private let lock = NSLock()
        private var lines: [String] = []
        func add(_ s: String) { lock.lock(); lines.append(s); lock.unlock() }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
    }

    init(backend: any Backend) throws {
        listener = try TCPListener(host: "127.0.0.1", port: 0)
        let m = messages
        server = StubServer(backend: backend) { m.add($0) }
        Thread.detachNewThread { [self] in
            try? server.serve(listener: listener)
            done.signal()
        }
    }

    /// Waits (up to 10 s) until the stub has logged a matching message.
    func waitForMessage(_ match: (String) -> Bool) -> Bool {
        for _ in 0..<1000 {
            if messages.all.contains(where: match) { return true }
            usleep(10_000)
        }
        return false
    }

    /// Stops accepting and waits for the serving thread to end.
    func stop() {
        listener.shutdown()
        done.wait()
    }
}

/// Runs gdb in batch mode with the given commands; `echo` markers split the output.
func gdbBatch(_ args: [String], commands: [String]) -> String {
    var argv = ["/usr/bin/gdb", "-batch", "-nx", "-ex", "set pagination off", "-ex", "set width 0"]
    for c in commands { argv += ["-ex", c] }
    return runTool(argv + args).output
}

/// Output between `echo @@name\n` markers, keyed by name.
func sections(_ output: String) -> [String: [String]] {
    var result: [String: [String]] = [:]
    var current = ""
    for line in output.split(separator: "\n", omittingEmptySubsequences: false) {
        if line.hasPrefix("@@") { current = String(line.dropFirst(2)); result[current] = []; continue }
        if !current.isEmpty { result[current, default: []].append(String(line)) }
    }
    return result
}
