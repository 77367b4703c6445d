import Foundation

/// A thread as drgn (the PyPI build in $XENSCOPE_CACHE/drgn-venv) sees it in
/// a Linux dump: `prog.threads()` with its PID, parent, CPU, task_struct,
/// state letter, command and `prog.stack_trace(task)` frames.
public struct DrgnTask: Sendable, Equatable {
    public var pid: Int, ppid: Int, cpu: Int
    public var address: UInt64
    /// drgn's `task_state_to_char`: R S D T t X Z P I.
    public var state: String
    public var command: String
    public var frames: [(function: String, pc: UInt64)]

    public static func == (a: DrgnTask, b: DrgnTask) -> Bool {
        a.pid == b.pid && a.ppid == b.ppid && a.cpu == b.cpu && a.address == b.address && a.state == b.state && a.command == b.command
            && a.frames.map(\.function) == b.frames.map(\.function) && a.frames.map(\.pc) == b.frames.map(\.pc)
    }

    /// The drgn venv's python; fails when `make test` has not made it.
    public static func python() throws -> String {
        let env = ProcessInfo.processInfo.environment
        let cache = env["XENSCOPE_CACHE"] ?? ((env["XDG_CACHE_HOME"] ?? (NSHomeDirectory() + "/.cache")) + "/xenscope")
        let python = cache + "/drgn-venv/bin/python"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw GuestError(message: "drgn is not installed: \(python) missing (make test's linux-guest step makes the venv)")
        }
        return python
    }

    /// Runs drgn `script` (it gets the dump and vmlinux as argv[1], argv[2]) and returns its output.
    public static func run(_ script: String, dump: String, vmlinux: String) throws -> String {
        try PanickerGuest.run(try python(), ["-c", script, dump, vmlinux], what: "drgn on \(dump)", timeout: 900)
    }

    /// drgn's stack trace (function, pc) of the crashed thread in `dump`.
    public static func crashedStack(dump: String, vmlinux: String) throws -> [(function: String, pc: UInt64)] {
        let out = try run("""
            import drgn, sys
            prog = drgn.Program()
            prog.set_core_dump(sys.argv[1])
            prog.load_debug_info([sys.argv[2]])
            for f in prog.crashed_thread().stack_trace():
                print(f.name or "??", hex(f.pc))
            """, dump: dump, vmlinux: vmlinux)
        return out.split(whereSeparator: \.isNewline).compactMap { line in
            let p = line.split(separator: " ")
            guard p.count == 2, p[1].hasPrefix("0x"), let pc = UInt64(p[1].dropFirst(2), radix: 16) else { return nil }
            return (String(p[0]), pc)
        }
    }

    /// Runs drgn on `dump` with `vmlinux`; every thread, with its stack.
    public static func all(dump: String, vmlinux: String) throws -> [DrgnTask] {
        let python = try python()
        let script = """
            import drgn, sys
            from drgn.helpers.linux.sched import task_cpu, task_state_to_char
            prog = drgn.Program()
            prog.set_core_dump(sys.argv[1])
            prog.load_debug_info([sys.argv[2]])
            for th in prog.threads():
                t = th.object
                print("T", int(t.pid), int(t.real_parent.pid), task_cpu(t), hex(t.value_()), task_state_to_char(t), t.comm.string_().decode())
                try:
                    for f in prog.stack_trace(t):
                        print("F", f.name or "??", hex(f.pc))
                except Exception as e:
                    print("E", e)
            """
        let out = try PanickerGuest.run(python, ["-c", script, dump, vmlinux], what: "drgn on \(dump)", timeout: 900)
        var tasks = [DrgnTask]()
        for line in out.split(whereSeparator: \.isNewline) {
            let p = line.split(separator: " ", maxSplits: 6, omittingEmptySubsequences: false).map(String.init)
            if p.first == "T", p.count == 7, let pid = Int(p[1]), let ppid = Int(p[2]), let cpu = Int(p[3]),
               let a = UInt64(p[4].dropFirst(2), radix: 16) {
                tasks.append(DrgnTask(pid: pid, ppid: ppid, cpu: cpu, address: a, state: p[5], command: p[6], frames: []))
            } else if p.first == "F", p.count == 3, let pc = UInt64(p[2].dropFirst(2), radix: 16), !tasks.isEmpty {
                tasks[tasks.count - 1].frames.append((p[1], pc))
            }
        }
        return tasks
    }
}
