import ArgumentParser
import XenTraceFormats

/// `xenscope trace formats`: prints the event catalogue as a formats file.
struct TraceFormatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "formats",
        abstract: "Print XenScope's event catalogue as a formats file (Xen's xentrace_format syntax)."
    )

    func run() throws {
        let out = FDWriter(fd: 1)
        out.write(FormatsGenerator.text())
        out.flush()
    }
}
