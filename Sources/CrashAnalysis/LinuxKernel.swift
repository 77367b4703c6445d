import DWARF
import Dump

/// What a Linux dump's VMCOREINFO says about the kernel that was running.
public struct LinuxKernelInfo: Sendable, Equatable, Codable {
    /// `uname -r`, e.g. "6.1.0-56-amd64".
    public var osRelease: String?
    /// GNU build-id of the vmlinux (hex), Linux ≥ 5.14.
    public var buildID: String?
    /// KASLR slide: run-time minus link-time address of the kernel image.
    public var kaslrOffset: UInt64
    /// x86-64 phys_base (physical minus link-time address beyond
    /// `__START_KERNEL_map`); negative when the kernel sits below its link address.
    public var physBase: Int64?
    public var pageSize: Int?

    public init?(_ v: VMCoreInfo?) {
        guard let v, v.osRelease != nil || v.buildID != nil else { return nil }
        osRelease = v.osRelease
        buildID = v.buildID
        kaslrOffset = v.kernelOffset ?? 0
        physBase = v.physBase
        pageSize = v["PAGESIZE"].flatMap { Int($0) }
    }
}

/// A Linux task (thread) as `crash` names it: PID, task_struct address, CPU, command.
public struct LinuxTask: Sendable, Equatable, Codable {
    public var pid: Int
    public var address: UInt64
    public var cpu: Int
    public var command: String
}

/// The user- or kernel-mode registers an entry path saved on the stack
/// (`struct pt_regs`), shown under the frame that saved them.
public struct ExceptionFrame: Sendable, Equatable, Codable {
    /// Index (in ``CPUBacktrace/frames``) of the entry-code frame that saved them.
    public var afterFrame: Int
    /// Where the pt_regs sit on the stack.
    public var address: UInt64
    /// True when they are user-mode registers (CS has RPL 3): the end of the kernel stack.
    public var userMode: Bool
    /// pt_regs in the kernel's order (r15 … ss).
    public var registers: [String: UInt64]
}

extension CrashSession {
    /// The Linux kernel described by the dump's VMCOREINFO, nil for other dumps.
    public var linuxKernel: LinuxKernelInfo? { LinuxKernelInfo(dump.vmcoreinfo) }

    /// The address of a per-CPU variable on `cpu`: `__per_cpu_offset[cpu]`
    /// plus the variable's offset in the per-CPU section. On x86-64 per-CPU
    /// symbols are section offsets, which KASLR does not move, so the bias is
    /// taken off; arm64 links them at their (slid) addresses in the image.
    public func perCPUAddress(_ symbol: String, cpu: Int) throws -> UInt64 {
        guard let symbols else { throw CrashError.noSymbols(what: "per-CPU data") }
        guard let table = address(of: "__per_cpu_offset"), let v = symbols.address(ofSymbol: symbol) else {
            throw CrashError.symbolMissing(image: symbols.path, names: ["__per_cpu_offset", symbol], what: "per-CPU data")
        }
        let offset = try readWord(table &+ UInt64(cpu) * 8)
        return (dump.architecture == .aarch64 ? v : v &- symbols.bias) &+ offset
    }

    /// The task running on each CPU (`current_task`, Linux x86-64 ≤ 6.1;
    /// `pcpu_hot.current_task` from 6.2; arm64 `__entry_task`), with PID and command from
    /// task_struct offsets in the kernel's DWARF. Empty without them.
    public func linuxCurrentTasks() -> [Int: LinuxTask] {
        guard let symbols, linuxKernel != nil, let fork = address(of: "copy_process") ?? address(of: "sched_fork"),
              let pidOff = symbols.memberOffset(type: "task_struct", member: "pid", inCUOf: fork),
              let commOff = symbols.memberOffset(type: "task_struct", member: "comm", inCUOf: fork) else { return [:] }
        var out = [Int: LinuxTask]()
        for cpu in dump.cpus.indices {
            let slot: UInt64
            if let a = try? perCPUAddress("current_task", cpu: cpu) { slot = a }
            else if let a = try? perCPUAddress("pcpu_hot", cpu: cpu) { slot = a }   // current_task is its first member
            else if let a = try? perCPUAddress("__entry_task", cpu: cpu) { slot = a }   // arm64: set by every context switch
            else { continue }
            guard let task = try? readWord(slot), task != 0,
                  let pidBytes = try? read(task &+ UInt64(pidOff), count: 4),
                  let comm = try? read(task &+ UInt64(commOff), count: 16) else { continue }
            let pid = Int(Int32(bitPattern: UInt32(pidBytes[0]) | UInt32(pidBytes[1]) << 8 | UInt32(pidBytes[2]) << 16 | UInt32(pidBytes[3]) << 24))
            out[cpu] = LinuxTask(pid: pid, address: task, cpu: cpu,
                                 command: String(decoding: comm.prefix { $0 != 0 }, as: UTF8.self))
        }
        return out
    }

    /// Names of `struct pt_regs` (x86-64) in memory order.
    static let ptRegsNames = ["r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8",
                              "rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss"]

    /// Reads a `struct pt_regs` at `address` if it looks like one (CS is a
    /// kernel or user code selector, RIP canonical).
    func ptRegs(at address: UInt64, memory: VirtualMemory) -> [String: UInt64]? {
        var r = [String: UInt64]()
        for (i, n) in Self.ptRegsNames.enumerated() {
            guard let v = try? memory.readWord(address &+ UInt64(i * 8)) else { return nil }
            r[n] = v
        }
        guard let cs = r["cs"], [0x10, 0x33, 0x23].contains(cs & 0xffff), cs >> 16 == 0,
              let rip = r["rip"], rip < 0x0000_8000_0000_0000 || rip >= 0xffff_8000_0000_0000 else { return nil }
        return r
    }

    /// True for a symbol in Linux's assembly entry code, which has no DWARF
    /// CFI but leaves a pt_regs right above its call into C.
    static func isLinuxEntryCode(_ symbol: String?) -> Bool {
        guard let s = symbol else { return false }
        return s.hasPrefix("entry_SYSCALL") || s.hasPrefix("asm_") || s.hasPrefix("entry_INT80") || s == "ret_from_fork" || s == "ret_from_fork_asm"
            || s.hasPrefix("common_interrupt") || s.hasPrefix("irq_entries")
    }
}

/// `crash`'s register block for a pt_regs frame.
public func formatExceptionFrame(_ e: ExceptionFrame) -> String {
    func h(_ n: String, _ w: Int = 16) -> String {
        let s = String(e.registers[n] ?? 0, radix: 16)
        return String(repeating: "0", count: max(0, w - s.count)) + s
    }
    return [
        "    RIP: \(h("rip"))  RSP: \(h("rsp"))  RFLAGS: \(h("eflags", 8))",
        "    RAX: \(h("rax"))  RBX: \(h("rbx"))  RCX: \(h("rcx"))",
        "    RDX: \(h("rdx"))  RSI: \(h("rsi"))  RDI: \(h("rdi"))",
        "    RBP: \(h("rbp"))   R8: \(h("r8"))   R9: \(h("r9"))",
        "    R10: \(h("r10"))  R11: \(h("r11"))  R12: \(h("r12"))",
        "    R13: \(h("r13"))  R14: \(h("r14"))  R15: \(h("r15"))",
        "    ORIG_RAX: \(h("orig_rax"))  CS: \(h("cs", 4))  SS: \(h("ss", 4))",
    ].joined(separator: "\n")
}
