import ArgumentParser

/// The `xenscope` command: one tool for Xen traces, dumps and debugging.
@main
struct XenScope: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xenscope",
        abstract: "Diagnostics and tracing for the Xen hypervisor.",
        version: "0.1.0",
        subcommands: [
            TraceCommand.self,
            GdbstubCommand.self,
            SymbolizeCommand.self,
            CrashCommand.self,
        ]
    )
}

/// `xenscope trace …`: read, analyse and record xentrace files.
struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Decode, analyse and record Xen trace files (xentrace format).",
        subcommands: [
            TraceInfoCommand.self,
            TraceSummaryCommand.self,
            TraceSynthCommand.self,
            TraceDecodeCommand.self,
            TraceFormatsCommand.self,
            TraceExportCommand.self,
            TraceReportCommand.self,
            TraceDiffCommand.self,
            TraceRecordCommand.self,
        ]
    )
}
