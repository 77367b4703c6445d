import ArgumentParser
import CrashAnalysis
import Dump
import Foundation

/// `xenscope crash …`: post-mortem analysis of a VM or hypervisor dump.
struct CrashCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crash",
        abstract: "Analyse a crash dump: what happened, the console log, registers, backtraces.",
        discussion: """
        Reads QEMU dump-guest-memory ELF and kdump-zlib dumps, Linux/Xen kdump vmcores and \
        Xen `xl dump-core` files. --elf names the kernel or xen-syms that was running; \
        XenScope checks it against the dump (build-id) and says so when it does not match.
        """,
        subcommands: [CrashSummaryCommand.self, CrashLogCommand.self, CrashBacktraceCommand.self, CrashPsCommand.self, CrashModCommand.self, CrashRegsCommand.self, CrashReadCommand.self, CrashInfoCommand.self, CrashDomainsCommand.self],
        defaultSubcommand: CrashSummaryCommand.self
    )
}

/// Options every `crash` subcommand shares.
struct CrashOptions: ParsableArguments {
    @Argument(help: "The dump file.")
    var dump: String

    @Option(name: .customLong("elf"), help: "The kernel or xen-syms ELF that was running (symbols; DWARF when present). Needed for the summary, log and bt.")
    var elf: String?

    @Flag(help: "Print JSON instead of text.")
    var json = false

    @Option(name: .customLong("guest-syms"), help: "Xen: guest symbols for naming vCPU rips, [DOMID=]FILE (a vmlinux or a kallsyms/System.map listing; without DOMID for every domain). Repeatable.")
    var guestSyms: [String] = []

    /// The --guest-syms files by domain id (-1: every domain).
    func guestSymbols() throws -> [Int: GuestSymbols] {
        var out = [Int: GuestSymbols]()
        for g in guestSyms {
            var dom = -1, file = Substring(g)
            if let eq = g.firstIndex(of: "="), let id = Int(g[..<eq]) { dom = id; file = g[g.index(after: eq)...] }
            do { out[dom] = try GuestSymbols(path: String(file)) } catch { throw CrashFailure(error) }
        }
        return out
    }

    /// Damage found in the dump (truncation, bad headers or notes): everything
    /// readable was printed; now the problems go to standard error (unless the
    /// output already listed them) and the exit status is 2, as for traces.
    /// Damage in the `--elf` image (a cut or corrupt file) is never part of the
    /// output, so it always goes to standard error, and also means status 2:
    /// symbols from a damaged image may be missing or wrong.
    func exitOnProblems(_ s: CrashSession, listed: Bool) throws {
        let problems = s.dumpSummary.problems
        let elfProblems = s.symbols?.elf.diagnostics ?? []
        for p in elfProblems.prefix(20) { FDWriter.stderrLine("xenscope: \(p)") }
        if elfProblems.count > 20 { FDWriter.stderrLine("xenscope: … and \(elfProblems.count - 20) more problem(s) in \(elf ?? "the ELF")") }
        if problems.isEmpty && elfProblems.isEmpty { return }
        if !listed {
            for p in problems.prefix(20) { FDWriter.stderrLine("xenscope: \(p)") }
            if problems.count > 20 { FDWriter.stderrLine("xenscope: … and \(problems.count - 20) more problem(s)") }
        }
        throw ExitCode(2)
    }

    func session() throws -> CrashSession {
        try CrashFailure.wrapping { try CrashSession(dumpPath: dump, elfPath: elf) }
    }

    /// The shape every subcommand shares: open the dump, `compute` what it
    /// shows, print it (`json(value)` with --json; `text` otherwise, and always
    /// when `json` is nil), then let the dump's problems set the exit status
    /// (`listed`: the output already named them).
    func run<Value, JSON: Encodable>(listed: Bool = false, compute: (CrashSession) throws -> Value,
                                      text: (Value, FDWriter) throws -> Void, json: ((Value) -> JSON)?) throws {
        let s = try session()
        let value: Value
        do { value = try compute(s) } catch let e as CrashFailure where !s.dumpSummary.problems.isEmpty {
            // What failed is most likely the damage (a page the cut file lacks):
            // name that too, and exit 2 (damaged input) as `crash read` does.
            FDWriter.stderrLine("Error: \(e)")
            try exitOnProblems(s, listed: false)
            throw e
        }
        let out = FDWriter(fd: 1)
        if self.json, let json { try printJSON(json(value), to: out) } else { try text(value, out) }
        try exitOnProblems(s, listed: listed)
    }

    /// ``run(listed:compute:text:json:)`` for a value that is its own JSON.
    func run<Value: Encodable>(listed: Bool = false, compute: (CrashSession) throws -> Value,
                               text: (Value, FDWriter) throws -> Void) throws {
        try run(listed: listed, compute: compute, text: text, json: { $0 })
    }
}

/// A failure to report without the usage text (the arguments were fine).
struct CrashFailure: Error, CustomStringConvertible {
    let description: String
    init(_ error: Any) { description = "\(error)" }

    /// `body`'s result; its error reported as a ``CrashFailure``.
    static func wrapping<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch { throw CrashFailure(error) }
    }
}

func printJSON<T: Encodable>(_ value: T, to out: FDWriter) throws {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys]
    out.line(String(decoding: try e.encode(value), as: UTF8.self))
}

/// The default: everything a user wants first.
struct CrashSummaryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "summary", abstract: "Dump, symbol check, panic message, panicking CPU, per-CPU registers and backtraces.")
    @OptionGroup var options: CrashOptions

    struct Output: Encodable {
        var dump: DumpSummary
        /// Linux: what VMCOREINFO says (release, build-id, KASLR offset).
        var kernel: LinuxKernelInfo?
        var symbols: SymbolMatch
        var panic: PanicInfo
        var log: ConsoleLog?
        var logError: String?
        var cpus: [CPUState]
        var backtraces: [CPUBacktrace]
        /// Xen hypervisor dumps: the domain list (nil elsewhere), or why it is missing.
        var xen: XenDomainList?
        var xenError: String?
        /// Xen: the boot banner in the console ring checked against the file.
        var banner: SymbolMatch?
    }

    func run() throws {
        try options.run(listed: true, compute: summary, text: render)
    }

    func summary(_ s: CrashSession) throws -> Output {
        let match = s.checkSymbols()
        var log: ConsoleLog? = nil
        var logError: String? = nil
        do { log = try s.consoleLog() } catch { logError = "\(error)" }
        let bts = (try? s.backtraces()) ?? []
        let panic = s.panicInfo(log: log, backtraceCPU: CrashSession.cpuInPanic(bts))
        let banner = log.flatMap { s.checkXenBanner(log: $0) }
        // A hypervisor (it has domain_list): its domains, or why not.
        var xen: XenDomainList? = nil
        var xenError: String? = nil
        if s.address(of: XenLayouts.domainListSymbol) != nil, match.verdict == .mismatch {
            xenError = "not read: the symbols do not match the dump"
        } else if s.address(of: XenLayouts.domainListSymbol) != nil {
            do { xen = try s.xenDomains(guestSymbols: try options.guestSymbols()) } catch { xenError = "\(error)" }
        }
        return Output(dump: s.dumpSummary, kernel: s.linuxKernel, symbols: match, panic: panic, log: log, logError: logError, cpus: s.dump.cpus,
                      backtraces: bts, xen: xen, xenError: xenError, banner: banner)
    }

    func render(_ o: Output, _ out: FDWriter) {
        let d = o.dump, panic = o.panic
        out.line("      DUMP: \(d.path) (\(d.format.rawValue), \(d.architecture.rawValue))")
        out.line("      CPUS: \(d.cpus)")
        out.line("    MEMORY: \(d.physicalBytes >> 20) MiB in \(d.physicalRanges.count) range(s)")
        if let k = o.kernel {
            out.line("    KERNEL: Linux \(k.osRelease ?? "?")\(k.kaslrOffset != 0 ? ", KASLR offset 0x" + String(k.kaslrOffset, radix: 16) : "")")
        }
        out.line("   SYMBOLS: \(o.symbols.message)")
        if let banner = o.banner { out.line("    BANNER: \(banner.message)") }
        out.line("     PANIC: \(panic.message ?? "(no panic message found in the console log)")")
        out.line("       CPU: \(panic.cpu.map { "\($0) (from the \(panic.cpuSource ?? ""))" } ?? "unknown")")
        if let t = o.backtraces.first(where: { $0.cpu == panic.cpu })?.task {
            out.line("      TASK: \(String(t.address, radix: 16)) PID \(t.pid) \"\(t.command)\"")
        }
        for p in d.problems { out.line("   PROBLEM: \(p)") }
        if let logError = o.logError { out.line("       LOG: \(logError)") }
        else if let log = o.log { out.line("       LOG: \(log.source); `xenscope crash log` prints it") }
        if let xenError = o.xenError { out.line("   DOMAINS: \(xenError)") }
        if let xen = o.xen {
            out.line("   DOMAINS: \(xen.domains.map { "d\($0.id) (\($0.vcpus.count) vCPUs, \($0.state))" }.joined(separator: ", ")); `xenscope crash domains` lists them")
            out.line("")
            out.write(formatXenDomains(xen))
        }
        // The panicking CPU first, as crash shows the panic task first.
        let order = o.cpus.sorted { ($0.index == panic.cpu ? -1 : $0.index) < ($1.index == panic.cpu ? -1 : $1.index) }
        for c in order {
            out.line("")
            out.line("CPU \(c.index)\(c.index == panic.cpu ? " (panicked)" : ""):")
            if let bt = o.backtraces.first(where: { $0.cpu == c.index }) { out.line(formatBacktrace(bt)) }
            out.line(formatRegisters(c))
        }
    }
}

/// `crash bt`: symbolized backtraces with inline frames.
struct CrashBacktraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bt", abstract: "Print each CPU's backtrace (DWARF CFI, inline frames, file:line).")
    @OptionGroup var options: CrashOptions
    @Option(help: "Only this CPU (0-based index).")
    var cpu: Int?
    @Option(help: "Scan this many stack words for return addresses where CFI and frame pointers end (guesses, labelled).")
    var scan = 0
    @Option(help: "Linux: the task with this PID (a sleeping task from the context its last switch saved).")
    var pid: Int?
    @Flag(name: .customLong("all-tasks"), help: "Linux: every task (crash's `bt -a` is every CPU: the default here).")
    var allTasks = false

    func run() throws {
        if pid != nil || allTasks { return try tasks() }
        try options.run(compute: { s in
            let bts = try CrashFailure.wrapping { try s.backtraces(scanWords: scan).filter { cpu == nil || $0.cpu == cpu } }
            if let cpu, bts.isEmpty { throw ValidationError("the dump has no CPU \(cpu) (it has \(s.dump.cpus.count))") }
            return bts
        }, text: { bts, out in printBacktraces(bts, cpuHeading: true, out) })
    }
}

/// Backtraces one after another, a blank line between them.
func printBacktraces(_ bts: [CPUBacktrace], cpuHeading: Bool, _ out: FDWriter) {
    for (i, bt) in bts.enumerated() {
        if i > 0 { out.line("") }
        if cpuHeading { out.line("CPU \(bt.cpu):") }
        out.line(formatBacktrace(bt))
    }
}

extension CrashBacktraceCommand {
    /// `--pid`/`--all-tasks`: backtraces of tasks, running or not.
    func tasks() throws {
        try options.run(compute: { s in
            let list = try CrashFailure.wrapping { try s.linuxTasks() }
            let chosen = list.filter { pid == nil || $0.pid == pid }
            if let pid, chosen.isEmpty { throw CrashFailure("no task with PID \(pid) in the dump (`xenscope crash ps` lists them)") }
            return try CrashFailure.wrapping { try s.taskBacktraces(chosen) }
        }, text: { bts, out in printBacktraces(bts, cpuHeading: false, out) })
    }
}

/// `crash ps`: the Linux task list.
struct CrashPsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ps", abstract: "Linux: list every task (PID, PPID, CPU, task_struct, state, command) as crash's ps does.")
    @OptionGroup var options: CrashOptions

    func run() throws {
        try options.run(compute: { s in try CrashFailure.wrapping { try s.linuxTasks() } },
                        text: { list, out in out.line(formatTaskList(list)) })
    }
}

/// `crash mod`: the loaded Linux modules.
struct CrashModCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "mod", abstract: "Linux: list the loaded modules (struct module, name, base, size, symbols) as crash's mod does.")
    @OptionGroup var options: CrashOptions
    @Option(help: "Name this address: symbol+offset [module].")
    var address: String?

    func run() throws {
        // --address answers in text even with --json.
        try options.run(compute: { s in try CrashFailure.wrapping { try s.linuxModules() } },
                        text: { mods, out in
                            guard let text = address else { return out.line(formatModuleList(mods)) }
                            let hex = text.hasPrefix("0x") ? String(text.dropFirst(2)) : text
                            guard let a = UInt64(hex, radix: 16) else { throw ValidationError("--address wants a hex address, not \(text)") }
                            guard let d = mods.describe(a) else { throw CrashFailure("0x\(hex) is in no loaded module") }
                            out.line(d.symbol.map { "\($0)+0x\(String(d.offset, radix: 16)) [\(d.module)]" } ?? "[\(d.module)]+0x\(String(d.offset, radix: 16))")
                        },
                        json: address == nil ? { $0 } : nil)
    }
}

/// `crash log`: the console ring.
struct CrashLogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "log", abstract: "Print the console log kept in memory (Linux: the printk ring, as crash's log prints it; Xen: conring).")
    @OptionGroup var options: CrashOptions

    func run() throws {
        try options.run(compute: { s in try CrashFailure.wrapping { try s.consoleLog() } }, text: { log, out in
            out.write(log.text)
            if !log.text.isEmpty && !log.text.hasSuffix("\n") { out.write("\n") }
        })
    }
}

/// `crash regs`: registers of every CPU (or one).
struct CrashRegsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "regs", abstract: "Print each CPU's registers as saved in the dump.")
    @OptionGroup var options: CrashOptions
    @Option(help: "Only this CPU (0-based index).")
    var cpu: Int?

    func run() throws {
        try options.run(compute: { s in
            let cpus = s.dump.cpus.filter { cpu == nil || $0.index == cpu }
            if let cpu, cpus.isEmpty { throw ValidationError("the dump has no CPU \(cpu) (it has \(s.dump.cpus.count))") }
            return cpus
        }, text: { cpus, out in
            for (i, c) in cpus.enumerated() {
                if i > 0 { out.line("") }
                out.line("CPU \(c.index): \(c.source)")
                out.line(formatRegisters(c))
            }
        })
    }
}

/// `crash read ADDR LEN`: memory by virtual (default) or physical address.
struct CrashReadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "read", abstract: "Hex-dump memory at a virtual (or --physical) address.")
    @OptionGroup var options: CrashOptions
    @Argument(help: "Address (hex with 0x, or decimal), or a symbol name.")
    var address: String
    @Argument(help: "Number of bytes.")
    var length: Int = 64
    @Flag(help: "The address is physical.")
    var physical = false

    struct Output: Encodable { var address: UInt64; var physical: Bool; var hex: String }

    func run() throws {
        try options.run(compute: read, text: { r, out in out.line(formatHexDump(address: r.address, bytes: r.bytes)) },
                        json: { r in Output(address: r.address, physical: physical, hex: r.bytes.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()) })
    }

    func read(_ s: CrashSession) throws -> (address: UInt64, bytes: [UInt8]) {
        let a: UInt64
        if address.hasPrefix("0x"), let v = UInt64(address.dropFirst(2), radix: 16) { a = v }
        else if let v = UInt64(address) { a = v }
        else if let v = s.address(of: address) { a = v }
        else { throw ValidationError("\(address) is neither a number nor a symbol of \(options.elf ?? "(no --elf given)")") }
        guard length > 0, length <= 1 << 24 else { throw ValidationError("length must be 1…16 MiB") }
        let bytes: [UInt8]
        do {
            bytes = physical ? try s.dump.readPhysical(a, count: length) : try s.read(a, count: length)
        } catch {
            // On a damaged dump the damage is the likely reason: name it too.
            if !s.dumpSummary.problems.isEmpty {
                FDWriter.stderrLine("Error: \(error)")
                try options.exitOnProblems(s, listed: false)
            }
            throw CrashFailure(error)
        }
        return (a, bytes)
    }
}

/// `crash info`: the dump's format, CPUs, memory ranges and notes.
struct CrashInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info", abstract: "Describe the dump: format, CPUs, memory ranges, notes, problems.")
    @OptionGroup var options: CrashOptions

    func run() throws {
        try options.run(listed: true, compute: { s in (summary: s.dumpSummary, notes: s.dump.notes) }, text: { i, out in
            let d = i.summary
            out.line("\(d.path): \(d.format.rawValue), \(d.architecture.rawValue), \(d.cpus) CPU(s)")
            for r in d.physicalRanges { out.line("  memory \(r)") }
            for n in i.notes { out.line("  note \(n.name) type 0x\(String(n.type, radix: 16)), \(n.descriptor.count) bytes") }
            for p in d.problems { out.line("  problem: \(p)") }
        }, json: { $0.summary })
    }
}

/// `crash domains`: Xen's domain list with vCPUs and pCPUs (needs the hypervisor's DWARF).
struct CrashDomainsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "domains", abstract: "Xen: the domain list, each vCPU's state and where it was, and each pCPU's current vCPU (layouts from xen-syms' DWARF).")
    @OptionGroup var options: CrashOptions
    @Flag(help: "Also print each vCPU's saved guest registers.")
    var regs = false

    func run() throws {
        try options.run(compute: { s in
            let match = s.checkSymbols()
            if match.verdict == .mismatch { FDWriter(fd: 2).line("WARNING: \(match.message)") }
            return try CrashFailure.wrapping { try s.xenDomains(guestSymbols: try options.guestSymbols()) }
        }, text: { list, out in out.write(formatXenDomains(list, registers: regs)) })
    }
}
