import ArgumentParser
import GDBBackends
import GDBRemote

/// `xenscope gdbstub`: lets a stock gdb attach (`target remote`) to a core
/// file, a dump or a live guest.
struct GdbstubCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gdbstub",
        abstract: "Serve gdb's remote protocol for a core file (read-only).",
        discussion: """
            Then, in gdb:  target remote 127.0.0.1:1234   (or: target remote /dev/…  with --tty)
            Threads are the core's threads (vCPUs for dumps); `monitor help` lists extra commands.
            """
    )

    @Option(name: .long, help: "ELF core file (e.g. from gdb's gcore): threads, registers and memory.")
    var core: String

    @Option(name: .long, help: "Address to listen on (HOST:PORT). Default 127.0.0.1:1234.")
    var listen: String = "127.0.0.1:1234"

    @Option(name: .long, help: "Serve over this serial line or pty instead of TCP (gdb: target remote DEVICE).")
    var tty: String?

    @Flag(name: .long, help: "Exit after the first debugger detaches or disconnects.")
    var once = false

    @Option(name: .long, help: "Largest packet to advertise (bytes, at least 4096).")
    var packetSize: Int = 0x20000

    @Flag(name: .long, help: "Log connections and refused requests to standard error.")
    var verbose = false

    func validate() throws {
        guard packetSize >= 4096 && packetSize <= 1 << 24 else { throw ValidationError("--packet-size must be between 4096 and 16777216") }
    }

    func run() throws {
        let backend = try ElfCoreBackend(path: core)
        for d in backend.core.diagnostics { FDWriter.stderrLine("xenscope: \(d)") }
        let verbose = self.verbose
        var server = StubServer(backend: backend) { msg in
            // Refusals always reach the user; the rest only with --verbose.
            if verbose || msg.hasPrefix("refused") { FDWriter.stderrLine("xenscope gdbstub: \(msg)") }
        }
        server.options.packetSize = packetSize
        if let tty {
            FDWriter.stderrLine("xenscope gdbstub: serving \(core) on \(tty)")
            try server.serve(device: tty, once: once)
            return
        }
        guard let colon = listen.lastIndex(of: ":"), let port = UInt16(listen[listen.index(after: colon)...]) else {
            throw ValidationError("--listen wants HOST:PORT, e.g. 127.0.0.1:1234")
        }
        var host = String(listen[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let listener = try TCPListener(host: host.isEmpty ? "127.0.0.1" : host, port: port)
        if !listener.isLoopback {
            FDWriter.stderrLine("xenscope gdbstub: warning: listening on \(listen), reachable from other machines; the protocol has no authentication")
        }
        FDWriter.stderrLine("xenscope gdbstub: serving \(core) (\(backend.threads().count) threads) on \(host):\(listener.port)")
        try server.serve(listener: listener, once: once)
    }
}
