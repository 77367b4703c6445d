import ArgumentParser
import Dump
import ELF
import GDBBackends
import GDBRemote
import XenControl

/// `xenscope gdbstub`: lets a stock gdb attach (`target remote`) to a core
/// file, a dump or a live guest.
struct GdbstubCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gdbstub",
        abstract: "Let gdb attach (target remote) to a dump, a core file or a live Xen guest.",
        discussion: """
            Then, in gdb:  target remote 127.0.0.1:1234   (or: target remote /dev/…  with --tty)
            Threads are the core's threads (vCPUs for dumps); `monitor help` lists extra commands.
            """
    )

    @Option(name: .long, help: "Machine dump (QEMU ELF, kdump-compressed, xl dump-core; x86-64 or aarch64): vCPUs as threads, virtual addresses through each vCPU's page tables (aarch64: the kernel's, found with --elf).")
    var dump: String?

    @Option(name: .long, help: "The dumped kernel's ELF image (checked against the dump's build ID; load the same file in gdb).")
    var elf: String?

    @Option(name: .long, help: "Process core file (e.g. from gdb's gcore): threads, registers and memory.")
    var core: String?

    @Option(name: .long, help: "Live Xen guest (domain id), from dom0: paused on attach, continue/Ctrl-C, registers and memory read/write.")
    var domain: UInt32?

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
        guard [dump != nil, core != nil, domain != nil].filter({ $0 }).count == 1 else {
            throw ValidationError("give exactly one of --dump FILE, --core FILE or --domain ID")
        }
        if elf != nil && dump == nil { throw ValidationError("--elf goes with --dump") }
        guard packetSize >= 4096 && packetSize <= 1 << 24 else { throw ValidationError("--packet-size must be between 4096 and 16777216") }
    }

    func run() throws {
        let backend: any Backend
        let source: String
        if let core {
            let b = try ElfCoreBackend(path: core)
            for d in b.core.diagnostics { FDWriter.stderrLine("xenscope: \(d)") }
            backend = b
            source = core
        } else if let domain {
            let b: XenGuestBackend
            do { b = try XenGuestBackend(domain: domain) { FDWriter.stderrLine("xenscope gdbstub: \($0)") } } catch let e as XenControlError {
                FDWriter.stderrLine("xenscope gdbstub: \(e)")
                throw ExitCode(2)
            }
            backend = b
            source = "domain \(domain)"
        } else {
            let b = try DumpBackend(path: dump!, kernel: elf)
            for d in b.dump.diagnostics { FDWriter.stderrLine("xenscope: \(d)") }
            if let elf, let warning = try buildIDMismatch(kernel: elf, dump: b.dump) { FDWriter.stderrLine("xenscope gdbstub: warning: \(warning)") }
            backend = b
            source = dump!
        }
        let notice = backend.capabilities.changeNotice(target: source)
        if let notice { FDWriter.stderrLine("xenscope gdbstub: warning: \(notice)") }
        let verbose = self.verbose
        var server = StubServer(backend: backend) { msg in
            // Refusals always reach the user; the rest only with --verbose.
            if verbose || msg.hasPrefix("refused") { FDWriter.stderrLine("xenscope gdbstub: \(msg)") }
        }
        server.options.packetSize = packetSize
        if let tty {
            FDWriter.stderrLine("xenscope gdbstub: serving \(source) on \(tty)")
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
            FDWriter.stderrLine("xenscope gdbstub: warning: listening on \(listen), reachable from other machines; the protocol has no authentication"
                                + (notice == nil ? "" : ", and anyone who connects can change \(source)"))
        }
        FDWriter.stderrLine("xenscope gdbstub: serving \(source) (\(backend.threads().count) threads) on \(host):\(listener.port)")
        try server.serve(listener: listener, once: once)
    }
}

/// A warning when the kernel image is not the one the dump was taken of
/// (VMCOREINFO `BUILD-ID` vs the ELF's GNU build ID), nil when they agree or
/// the dump does not say.
func buildIDMismatch(kernel: String, dump: any Dump) throws -> String? {
    let elf = try ELFFile(path: kernel)
    guard let want = dump.vmcoreinfo?.buildID?.lowercased(), let have = elf.buildIDHex?.lowercased() else { return nil }
    return want == have ? nil : "\(kernel) has build ID \(have) but the dump was taken of \(want): symbols will be wrong"
}
