import ArgumentParser
import XenTraceFormats

/// `xenscope trace formats`: prints the event catalogue as a formats file.
struct TraceFormatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "formats",
        abstract: "Print XenScope's event catalogue as a formats file (Xen's xentrace_format syntax)."
    )

    @Option(help: "Only the events Xen emits on this architecture: x86_64 (all) or arm64 (common code only: scheduler, grant tables, reservations, trace infrastructure).")
    var arch: String?

    func run() throws {
        let a = try arch.map { s -> TraceArchitecture in
            guard let a = TraceArchitecture(rawValue: s) else { throw ValidationError("--arch: '\(s)' is not x86_64 or arm64") }
            return a
        }
        let out = FDWriter(fd: 1)
        out.write(FormatsGenerator.text(architecture: a))
        out.flush()
    }
}
