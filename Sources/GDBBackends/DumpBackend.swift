import BinaryIO
import CrashAnalysis
import DWARF
import Dump
import GDBRemote

/// A read-only target made of a machine dump (QEMU ELF, kdump-compressed,
/// `xl dump-core`, Xen kdump): vCPUs as threads, virtual addresses through the
/// selected vCPU's own page tables (so physical-only dumps work), and
/// guest-physical addresses after `monitor phys on`.
///
/// aarch64 dumps are served with gdb's aarch64 target description; QEMU saves
/// no TTBRs for them, so virtual addresses go through the kernel's own
/// `swapper_pg_dir` found by symbol (start the stub with `--elf`).
public final class DumpBackend: Backend {
    public let dump: any Dump
    public let capabilities: BackendCapabilities = [.physicalMemory]
    public let layout = X86RegisterLayout(features: [.system])
    public let sectionOffsets: (text: UInt64, data: UInt64)?
    /// Page walkers per vCPU (nil: paging off or CR3 unknown → identity).
    private let walkers: [PageWalker?]
    private let firstThread: Int
    /// gdb's aarch64 description for aarch64 dumps; nil for x86-64.
    public let registerDescription: RegisterDescription?
    /// The dump with the kernel's symbols (`--elf`), for `monitor dmesg`.
    public let crash: CrashSession?

    /// `crash` (the same dump opened with the kernel's symbols) enables the
    /// monitor commands that need symbols.
    public init(dump: any Dump, crash: CrashSession? = nil) throws {
        guard !dump.cpus.isEmpty else {
            throw InputError(file: dump.path, "the dump has no CPU register notes: no threads to show")
        }
        guard dump.architecture == .x86_64 || dump.architecture == .aarch64 else {
            throw InputError(file: dump.path, "only x86-64 and aarch64 dumps can be served (this one is \(dump.architecture.rawValue))")
        }
        self.dump = dump
        self.crash = crash
        let pv = (dump as? XenCoreDump)?.isPV ?? false
        if dump.architecture == .aarch64 {
            // A CPU's own TTBRs when the dump saved them, else the kernel's
            // tables found by symbol (the crash session's address space).
            walkers = dump.cpus.map { PageWalker(dump: dump, cpu: $0) ?? crash?.memory?.walker }
            let cpus = dump.cpus.compactMap(\.aarch64)
            var system = [String]()
            if cpus.contains(where: { $0.ttbr0 != nil }) { system.append("ttbr0_el1") }
            if cpus.contains(where: { $0.ttbr1 != nil }) { system.append("ttbr1_el1") }
            if cpus.contains(where: { $0.tcr != nil }) { system.append("tcr_el1") }
            registerDescription = AArch64Description.make(fpu: cpus.contains { $0.vregs != nil }, system: system)
        } else {
            walkers = dump.cpus.map { PageWalker(dump: dump, cpu: $0, machineFrames: pv) }
            registerDescription = nil
        }
        // A KASLR kernel: gdb relocates its symbols by qOffsets.
        if let off = dump.vmcoreinfo?["KERNELOFFSET"].flatMap({ UInt64($0, radix: 16) }), off != 0 {
            sectionOffsets = (off, off)
        } else {
            sectionOffsets = nil
        }
        // The stop thread is the CPU that panicked: from the kernel's symbols
        // (`panic_cpu`, via the crash session) when given, else the kdump header.
        if let cpu = crash?.addressSpaceCPU, cpu < dump.cpus.count {
            firstThread = cpu + 1
        } else if let kd = dump as? KdumpCompressedDump, kd.currentCPU > 0, kd.currentCPU < dump.cpus.count {
            firstThread = kd.currentCPU + 1
        } else {
            firstThread = 1
        }
    }

    public convenience init(path: String) throws {
        try self.init(dump: openDump(path: path))
    }

    /// Opens the dump and, with `kernel`, its symbols for `monitor dmesg`.
    public convenience init(path: String, kernel: String?) throws {
        let dump = try openDump(path: path)
        // A Linux kernel under KASLR: its symbols at link address + VMCOREINFO's KERNELOFFSET.
        let bias = LinuxKernelInfo(dump.vmcoreinfo)?.kaslrOffset ?? 0
        let crash = try kernel.map { CrashSession(dump: dump, symbols: try Symbolizer(path: $0, bias: bias)) }
        try self.init(dump: dump, crash: crash)
    }

    public func threads() -> [ThreadDescriptor] {
        dump.cpus.enumerated().map { i, c in
            if c.aarch64 != nil {
                let tables = walkers[i].map { "ttbr1 0x\(String($0.aarch64?.ttbr1 ?? $0.root, radix: 16))" }
                    ?? "no page tables (no TTBR saved; start with --elf KERNEL)"
                return ThreadDescriptor(id: i + 1, name: "vcpu\(c.index)", extraInfo: "vCPU \(c.index), \(tables), \(dump.format.rawValue) dump")
            }
            let paging = walkers[i] == nil ? "no paging" : "cr3 0x\(String(c.cr3 ?? 0, radix: 16))"
            return ThreadDescriptor(id: i + 1, name: "vcpu\(c.index)", extraInfo: "vCPU \(c.index), \(paging), \(dump.format.rawValue) dump")
        }
    }

    public func stopEvent() -> StopEvent { StopEvent(signal: 5, thread: firstThread) }

    public func registers(thread: Int) throws(BackendError) -> X86RegisterValues {
        guard thread >= 1, thread <= dump.cpus.count else { throw .noThread(thread) }
        let c = dump.cpus[thread - 1]
        var v = X86RegisterValues()
        let regs: [(X86Register, UInt64?)] = [
            (.rax, c.rax), (.rbx, c.rbx), (.rcx, c.rcx), (.rdx, c.rdx), (.rsi, c.rsi), (.rdi, c.rdi),
            (.rbp, c.rbp), (.rsp, c.rsp), (.r8, c.r8), (.r9, c.r9), (.r10, c.r10), (.r11, c.r11),
            (.r12, c.r12), (.r13, c.r13), (.r14, c.r14), (.r15, c.r15), (.rip, c.rip), (.eflags, c.rflags),
            (.cs, c.cs), (.ss, c.ss), (.ds, c.ds), (.es, c.es), (.fs, c.fs), (.gs, c.gs),
            (.fsBase, c.fsBase), (.gsBase, c.gsBase), (.kernelGSBase, c.kernelGsBase),
            (.cr0, c.cr0), (.cr2, c.cr2), (.cr3, c.cr3), (.cr4, c.cr4), (.efer, c.efer),
        ]
        for (r, value) in regs { v[r] = value }
        return v
    }

    /// x0–x30, sp, pc, cpsr (gdb's is 32 bits: PSTATE's low half), then the
    /// FP/SIMD and system registers the description has.
    public func genericRegisters(thread: Int) throws(BackendError) -> RegisterValues {
        guard thread >= 1, thread <= dump.cpus.count else { throw .noThread(thread) }
        guard let d = registerDescription, let a = dump.cpus[thread - 1].aarch64 else { throw .unsupported }
        var v = RegisterValues(count: d.registers.count)
        for i in 0..<31 { v.set(i, a.x[i], size: 8) }
        v.set(31, a.sp, size: 8)
        v.set(32, a.pc, size: 8)
        v.set(33, a.pstate, size: 4)
        if let vregs = a.vregs, vregs.count == 512, let v0 = d.number(of: "v0") {
            for i in 0..<32 { v.bytes[v0 + i] = Array(vregs[(16 * i)..<(16 * i + 16)]) }
        }
        let scalars: [(String, UInt64?, Int)] = [("fpsr", a.fpsr.map(UInt64.init), 4), ("fpcr", a.fpcr.map(UInt64.init), 4),
                                                 ("ttbr0_el1", a.ttbr0, 8), ("ttbr1_el1", a.ttbr1, 8), ("tcr_el1", a.tcr, 8)]
        for (name, value, size) in scalars {
            if let n = d.number(of: name), let value { v.set(n, value, size: size) }
        }
        return v
    }

    /// Page by page: translate (virtual mode), then copy from the dump's page.
    public func readMemory(at address: UInt64, into buffer: UnsafeMutableRawBufferPointer, thread: Int, space: AddressSpace) -> Int {
        let walker = space == .virtual && thread >= 1 && thread <= walkers.count ? walkers[thread - 1] : nil
        // aarch64 without page tables: a virtual address says nothing about
        // where the data is (no "paging off" identity as on x86).
        if walker == nil, space == .virtual, registerDescription != nil { return 0 }
        let pageSize = UInt64(dump.pageSize)
        var done = 0
        while done < buffer.count {
            let (a, overflow) = address.addingReportingOverflow(UInt64(done))
            if overflow { break }
            let inPage = Int(a % pageSize)
            let take = min(buffer.count - done, Int(pageSize) - inPage)
            var physical = a
            if let walker {
                do { physical = try walker.translate(a) } catch { break }
            }
            let pa = physical - UInt64(inPage)
            let ok: Bool = (try? dump.withPage(pa / pageSize) { page -> Bool in
                UnsafeMutableRawBufferPointer(rebasing: buffer[done..<done + take])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: page[inPage..<inPage + take]))
                return true
            }) ?? false
            if !ok { break }
            done += take
        }
        return done
    }

    public var monitorHelp: [String] {
        ["info dump            format, CPUs, memory ranges and problems of the dump",
         "translate ADDR       walk the selected vCPU's page tables for a virtual address",
         "dmesg                the console ring (Xen's conring), needs --elf"]
    }

    public func monitor(_ command: String, thread: Int) -> String? {
        let words = command.split(separator: " ")
        if words == ["info", "dump"] {
            var s = "\(dump.path): \(dump.format.rawValue), \(dump.cpus.count) CPUs, page size \(dump.pageSize)\n"
            for r in dump.physicalRanges { s += "  physical 0x\(String(r.lowerBound, radix: 16))-0x\(String(r.upperBound, radix: 16))\n" }
            if let o = sectionOffsets { s += "  KASLR offset 0x\(String(o.text, radix: 16)) (sent as qOffsets)\n" }
            for d in dump.diagnostics { s += "  problem: \(d)\n" }
            return s
        }
        if words == ["dmesg"] || words == ["conring"] {
            guard let crash else { return "monitor dmesg needs the kernel's symbols: start the stub with --elf KERNEL\n" }
            do {
                let log = try crash.consoleRing()
                return log.text.hasSuffix("\n") || log.text.isEmpty ? log.text : log.text + "\n"
            } catch {
                return "cannot read the console ring: \(error)\n"
            }
        }
        if words.count == 2, words[0] == "translate" {
            var text = words[1]
            if text.hasPrefix("0x") { text = text.dropFirst(2) }
            guard let va = UInt64(text, radix: 16) else { return "usage: monitor translate ADDR (hex)\n" }
            guard thread >= 1, thread <= walkers.count, let w = walkers[thread - 1] else {
                if registerDescription != nil { return "vCPU of thread \(thread) has no page tables: no TTBR saved; start the stub with --elf KERNEL\n" }
                return "vCPU of thread \(thread) has paging off or no CR3: virtual = physical\n"
            }
            do {
                let pa = try w.translate(va)
                if let a = w.aarch64 {
                    let table = va >> 63 == 1 ? "ttbr1 0x\(String(a.ttbr1 ?? 0, radix: 16))" : "ttbr0 0x\(String(a.ttbr0 ?? 0, radix: 16))"
                    return "0x\(String(va, radix: 16)) -> physical 0x\(String(pa, radix: 16)) (vCPU \(thread - 1), \(table))\n"
                }
                return "0x\(String(va, radix: 16)) -> physical 0x\(String(pa, radix: 16)) (vCPU \(thread - 1), cr3 0x\(String(w.root, radix: 16)))\n"
            } catch {
                return "\(error)\n"
            }
        }
        return nil
    }
}
