import DWARF
import Dump

/// One Linux thread as `crash`'s `ps` lists it.
public struct LinuxTaskEntry: Sendable, Equatable, Codable {
    public var pid: Int
    /// Thread-group id (the process's PID).
    public var tgid: Int
    /// PID of `real_parent` (0 for the idle tasks, as crash shows them).
    public var ppid: Int
    /// The CPU the task last ran on (`task_struct.cpu`).
    public var cpu: Int
    public var address: UInt64
    /// `crash`'s state code: RU, IN, UN, ST, TR, DE, ZO, PA, WA, ID, NE.
    public var state: String
    public var command: String
    /// Running on a CPU at the time of the dump (crash marks it '>').
    public var active: Bool
    /// No user address space (`mm` is NULL): crash prints the name in brackets.
    public var kernelThread: Bool
}

/// task_struct, thread_struct and the saved-context member offsets, read from
/// the kernel's DWARF (the CU of `copy_process`: it uses all of them).
struct LinuxTaskLayout {
    /// How a process's threads are linked: up to Linux 6.6 a ring through
    /// every thread's `task_struct.thread_group`; from 6.7 (where
    /// thread_group is gone) a list headed by `signal_struct.thread_head`
    /// through each thread's `task_struct.thread_node`.
    enum ThreadList: Equatable {
        case threadGroup(UInt64)
        case signalThreadHead(signal: UInt64, threadHead: UInt64, threadNode: UInt64)
    }

    /// The thread list a kernel has, by which members its DWARF defines
    /// (`off(type, member)`), not by version: the newer layout wins.
    static func threadList(_ off: (String, String) -> UInt64?) -> ThreadList? {
        if let head = off("signal_struct", "thread_head"), let node = off("task_struct", "thread_node"),
           let signal = off("task_struct", "signal") {
            return .signalThreadHead(signal: signal, threadHead: head, threadNode: node)
        }
        return off("task_struct", "thread_group").map(ThreadList.threadGroup)
    }

    var tasks: UInt64, threads: ThreadList, pid: UInt64, tgid: UInt64, comm: UInt64, realParent: UInt64
    var state: UInt64, exitState: UInt64, mm: UInt64, cpu: UInt64?, thread: UInt64
    /// Where the switched-out context is: x86-64 `thread.sp` (an
    /// inactive_task_frame) or arm64 `thread.cpu_context` (x19–x28, fp, sp, pc).
    var savedSP: UInt64?, cpuContext: UInt64?
}

extension CrashSession {
    func linuxTaskLayout() throws -> LinuxTaskLayout {
        guard let symbols else { throw CrashError.noSymbols(what: "the task list") }
        guard linuxKernel != nil else { throw CrashError.notLinux(what: "the task list") }
        guard let cu = address(of: "copy_process") ?? address(of: "sched_fork") else {
            throw CrashError.symbolMissing(image: symbols.path, names: ["copy_process"], what: "the task list")
        }
        func off(_ type: String, _ member: String) -> UInt64? { symbols.memberOffset(type: type, member: member, inCUOf: cu).map(UInt64.init) }
        func need(_ type: String, _ members: [String]) throws -> UInt64 {
            for m in members { if let o = off(type, m) { return o } }
            throw CrashError.layoutMissing(image: symbols.path, what: "struct \(type) member \(members.joined(separator: "/"))")
        }
        let arm = dump.architecture == .aarch64
        return LinuxTaskLayout(
            tasks: try need("task_struct", ["tasks"]),
            threads: try LinuxTaskLayout.threadList(off) ?? {
                throw CrashError.layoutMissing(image: symbols.path, what: "struct task_struct member thread_group (≤ 6.6) or thread_node with signal_struct.thread_head (6.7+)")
            }(),
            pid: try need("task_struct", ["pid"]), tgid: try need("task_struct", ["tgid"]), comm: try need("task_struct", ["comm"]),
            realParent: try need("task_struct", ["real_parent"]), state: try need("task_struct", ["__state", "state"]),
            exitState: try need("task_struct", ["exit_state"]), mm: try need("task_struct", ["mm"]),
            // 5.16+ keeps it in thread_info again (task_struct.thread_info at 0 with THREAD_INFO_IN_TASK).
            cpu: off("thread_info", "cpu").flatMap { c in off("task_struct", "thread_info").map { $0 + c } } ?? off("task_struct", "cpu"),
            thread: try need("task_struct", ["thread"]),
            savedSP: arm ? nil : try need("thread_struct", ["sp"]),
            cpuContext: arm ? try need("thread_struct", ["cpu_context"]) : nil)
    }

    /// Every thread of the kernel: `init_task`'s process list, each
    /// process's thread group, and the other CPUs' idle tasks (`runqueues`'
    /// `idle`), as `crash`'s `ps` lists them. Lists are bounded (a corrupt
    /// or looping list ends the walk with what was read).
    public func linuxTasks(limit: Int = 100_000) throws -> [LinuxTaskEntry] {
        let l = try linuxTaskLayout()
        guard let initTask = address(of: "init_task") else {
            throw CrashError.symbolMissing(image: symbols?.path ?? "", names: ["init_task"], what: "the task list")
        }
        let running = Dictionary(linuxCurrentTasks().map { ($0.value.address, $0.key) }, uniquingKeysWith: { a, _ in a })
        var seen = Set<UInt64>()
        var out = [LinuxTaskEntry]()
        func add(_ t: UInt64) {
            guard seen.insert(t).inserted, let e = try? taskEntry(t, layout: l, running: running) else { return }
            out.append(e)
        }
        // A circular list from the list_head at `head`, whose entries are
        // list_heads embedded at `offset` in task_struct.
        func ring(head: UInt64, _ offset: UInt64, _ body: (UInt64) -> Void) {
            var node = head
            for _ in 0..<limit {
                guard let next = try? readWord(node), next != 0, next != head else { return }
                body(next &- offset)
                node = next
            }
        }
        var processes = [initTask]
        ring(head: initTask &+ l.tasks, l.tasks) { processes.append($0) }
        for p in processes {
            add(p)
            switch l.threads {
            case .threadGroup(let o):
                ring(head: p &+ o, o) { add($0) }
            case let .signalThreadHead(signal, threadHead, threadNode):
                guard let sig = try? readWord(p &+ signal), sig != 0 else { continue }
                ring(head: sig &+ threadHead, threadNode) { add($0) }
            }
        }
        // The idle tasks of CPUs other than 0 are on no list.
        // (struct rq is complete in the CU of the tick function: scheduler_tick, 6.10+ sched_tick.)
        if let rq = address(of: "runqueues"), let sched = address(of: "scheduler_tick") ?? address(of: "sched_tick"),
           let idleOff = symbols?.memberOffset(type: "rq", member: "idle", inCUOf: sched) {
            for cpu in dump.cpus.indices {
                guard let offset = try? readWord((address(of: "__per_cpu_offset") ?? 0) &+ UInt64(cpu) * 8) else { continue }
                let base = (dump.architecture == .aarch64 ? rq : rq &- (symbols?.bias ?? 0)) &+ offset
                if let idle = try? readWord(base &+ UInt64(idleOff)), idle != 0 { add(idle) }
            }
        }
        return out.sorted { ($0.pid, $0.cpu, $0.address) < ($1.pid, $1.cpu, $1.address) }
    }

    func taskEntry(_ t: UInt64, layout l: LinuxTaskLayout, running: [UInt64: Int]) throws -> LinuxTaskEntry {
        func i32(_ a: UInt64) throws -> Int { Int(Int32(bitPattern: try readUInt32(a))) }
        let parent = try readWord(t &+ l.realParent)
        let pid = try i32(t &+ l.pid)
        let comm = try read(t &+ l.comm, count: 16)
        let state = try readUInt32(t &+ l.state), exit = try readUInt32(t &+ l.exitState)
        return LinuxTaskEntry(pid: pid, tgid: try i32(t &+ l.tgid),
                              // crash gives the idle tasks (PID 0; forked by init on CPUs > 0) PPID 0.
                              ppid: parent == 0 || parent == t || pid == 0 ? 0 : try i32(parent &+ l.pid),
                              cpu: try l.cpu.map { Int(try readUInt32(t &+ $0)) } ?? running[t] ?? 0,
                              address: t, state: Self.crashStateCode(state: state, exitState: exit),
                              command: String(decoding: comm.prefix { $0 != 0 }, as: UTF8.self), active: running[t] != nil,
                              kernelThread: try readWord(t &+ l.mm) == 0)
    }

    /// `crash`'s two-letter state: exit state first, then the lowest state
    /// bit (TASK_IDLE is UNINTERRUPTIBLE|NOLOAD).
    static func crashStateCode(state: UInt32, exitState: UInt32) -> String {
        if exitState & 0x20 != 0 { return "ZO" }
        if exitState & 0x10 != 0 { return "DE" }
        if state == 0 { return "RU" }
        if state & 0x402 == 0x402 { return "ID" }
        for (bit, code) in [(UInt32(0x1), "IN"), (0x2, "UN"), (0x4, "ST"), (0x8, "TR"), (0x40, "PA"), (0x80, "DE"), (0x200, "WA"), (0x800, "NE")]
        where state & bit != 0 { return code }
        return "??"
    }

    /// The backtrace of one task: for a task running on a CPU, that CPU's;
    /// for any other, unwound from the context its last switch saved —
    /// x86-64 the `inactive_task_frame` at `thread.sp` (rbx, rbp, r12–r15 and
    /// the return address into `__schedule`), arm64 `thread.cpu_context`
    /// (x19–x28, fp, sp and the pc in `__switch_to`).
    public func taskBacktrace(_ task: LinuxTaskEntry, maxFrames: Int = 64) throws -> CPUBacktrace {
        try taskBacktraces([task], maxFrames: maxFrames)[0]
    }

    /// ``taskBacktrace(_:maxFrames:)`` for many tasks, sharing one unwinder
    /// and the CPUs' backtraces.
    public func taskBacktraces(_ tasks: [LinuxTaskEntry], maxFrames: Int = 64) throws -> [CPUBacktrace] {
        guard symbols != nil else { throw CrashError.noSymbols(what: "a backtrace") }
        let running = linuxCurrentTasks()
        var cpuBTs: [CPUBacktrace]? = nil
        var unwinder: Unwinder? = nil
        var out = [CPUBacktrace]()
        for task in tasks {
            if task.active, let cpu = running.first(where: { $0.value.address == task.address })?.key {
                if cpuBTs == nil { cpuBTs = try backtraces(maxFrames: maxFrames) }
                if let bt = cpuBTs?.first(where: { $0.cpu == cpu }) { out.append(bt); continue }
            }
            if dump.architecture != .aarch64 && unwinder == nil {
                unwinder = try Unwinder(images: [.init(path: symbols!.path, bias: symbols!.bias)])
            }
            out.append(try switchedOutBacktrace(task, unwinder: unwinder, maxFrames: maxFrames))
        }
        return out
    }

    func switchedOutBacktrace(_ task: LinuxTaskEntry, unwinder: Unwinder?, maxFrames: Int) throws -> CPUBacktrace {
        guard let symbols else { throw CrashError.noSymbols(what: "a backtrace") }
        let header = LinuxTask(pid: task.pid, address: task.address, cpu: task.cpu, command: task.command)
        guard let vm = memory else { throw CrashError.noAddressSpace(dump.path) }
        let l = try linuxTaskLayout()
        if dump.architecture == .aarch64 {
            let ctx = task.address &+ l.thread &+ (l.cpuContext ?? 0)
            let fp = try readWord(ctx &+ 80), sp = try readWord(ctx &+ 88), pc = try readWord(ctx &+ 96)
            let (physical, stop, _) = aarch64FrameRecordFrames(pc: pc, sp: sp, fp: fp, lr: nil, memory: vm, symbols: symbols, maxFrames: maxFrames)
            return CPUBacktrace(cpu: task.cpu, frames: symbolizeFrames(physical, symbols: symbols), stopReason: stop, task: header)
        }
        guard let cu = address(of: "__switch_to_asm") ?? address(of: "copy_thread") ?? address(of: "copy_process"),
              let retOff = symbols.memberOffset(type: "inactive_task_frame", member: "ret_addr", inCUOf: address(of: "copy_thread") ?? cu) else {
            throw CrashError.layoutMissing(image: symbols.path, what: "struct inactive_task_frame")
        }
        let frameCU = address(of: "copy_thread") ?? cu
        let sp = try readWord(task.address &+ l.thread &+ (l.savedSP ?? 0))
        func member(_ m: String) throws -> UInt64 {
            guard let o = symbols.memberOffset(type: "inactive_task_frame", member: m, inCUOf: frameCU) else { return 0 }
            return try readWord(sp &+ UInt64(o))
        }
        // DWARF numbering: rax rdx rcx rbx rsi rdi rbp rsp r8–r15 rip.
        var regs = [UInt64](repeating: 0, count: 17)
        regs[3] = try member("bx"); regs[6] = try member("bp")
        regs[12] = try member("r12"); regs[13] = try member("r13"); regs[14] = try member("r14"); regs[15] = try member("r15")
        regs[7] = sp &+ UInt64(retOff) &+ 8
        regs[16] = try readWord(sp &+ UInt64(retOff))
        let u = try unwinder ?? Unwinder(images: [.init(path: symbols.path, bias: symbols.bias)])
        var bt = x86Unwind(registers: regs, activation: false, memory: vm, unwinder: u, symbols: symbols, irqTop: nil,
                           maxFrames: maxFrames, scanWords: 0)
        bt.cpu = task.cpu
        bt.task = header
        return bt
    }
}

/// `crash`-style `ps` text: PID, PPID, CPU, TASK, ST, COMM; '>' marks the
/// tasks running on a CPU.
public func formatTaskList(_ tasks: [LinuxTaskEntry]) -> String {
    func pad(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }
    var lines = ["   PID    PPID  CPU       TASK        ST  COMM"]
    for t in tasks {
        let task = String(t.address, radix: 16)
        lines.append((t.active ? ">" : " ") + pad(String(t.pid), 6) + pad(String(t.ppid), 8) + pad(String(t.cpu), 5)
                     + "  " + pad(task, 16) + "  " + t.state + "  " + (t.kernelThread ? "[\(t.command)]" : t.command))
    }
    return lines.joined(separator: "\n")
}
