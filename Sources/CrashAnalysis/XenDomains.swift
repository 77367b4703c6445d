import BinaryIO
import DWARF
import Dump

/// One vCPU of a Xen domain at the time of the dump.
public struct XenVCPU: Sendable, Equatable, Codable {
    public var id: Int
    /// Address of its `struct vcpu`.
    public var address: UInt64
    /// `v->processor`: the pCPU it runs on or last ran on.
    public var processor: Int
    /// `runstate.state` by name: running, runnable, blocked, offline.
    public var runstate: String
    /// `v->is_running`: on a pCPU right now.
    public var isRunning: Bool
    public var pauseFlags: UInt64
    public var pauseCount: Int
    /// The pCPU whose `curr_vcpu` is this vCPU (its register state is then
    /// on that pCPU's stack, saved when it last entered Xen), else nil.
    public var loadedOn: Int?
    /// Where the registers below were read from, in words.
    public var registersFrom: String
    /// Guest registers: general registers, rip, rflags, cs, ss; cr3 is the
    /// guest's top-level page table (`arch.guest_table`, a machine address).
    public var registers: CPUState
    /// The guest rip as `symbol+0xoff` when the guest's symbols were given.
    public var symbol: String?
}

/// One domain of `domain_list`.
public struct XenDomain: Sendable, Equatable, Codable {
    public var id: Int
    /// Address of its `struct domain`.
    public var address: UInt64
    /// "PV" or "HVM" (`options & XEN_DOMCTL_CDF_hvm`; PVH shows as HVM, as in Xen).
    public var type: String
    public var privileged: Bool
    public var maxVCPUs: Int
    public var totPages: UInt64
    public var maxPages: UInt64
    public var pauseCount: Int
    public var controllerPauseCount: Int
    /// `is_dying`: 0 alive, 1 dying, 2 dead.
    public var dying: Int
    /// The state column of `xl list` (r running, b blocked, p paused, d dying),
    /// derived from the same fields Xen's getdomaininfo reads.
    public var state: String
    public var vcpus: [XenVCPU]
}

/// A physical CPU: which vCPU it was running.
public struct XenPCPU: Sendable, Equatable, Codable {
    public var cpu: Int
    /// `current` (cpu_info.current_vcpu) as "d0v1", or "idle".
    public var current: String
    public var currentAddress: UInt64
    /// `curr_vcpu`: whose state is loaded (differs from `current` after a lazy switch to idle).
    public var loaded: String
    public var cpuInfoAddress: UInt64
}

/// The hypervisor's domains and pCPUs read from a whole-machine dump.
public struct XenDomainList: Sendable, Equatable, Codable {
    public var domains: [XenDomain]
    public var pcpus: [XenPCPU]
    /// Non-fatal problems (a vCPU unreadable, a list cut short), each with its address.
    public var problems: [String]
}

/// Why the domain list is not available.
public enum XenDomainsError: Error, Sendable, Equatable, CustomStringConvertible {
    case noDWARF(image: String, why: String)
    case unreadable(String)

    public var description: String {
        switch self {
        case let .noDWARF(image, why):
            return "\(image) has no DWARF (\(why)): the domain list needs the hypervisor's struct layouts "
                + "(a xen-syms built with CONFIG_DEBUG_INFO, e.g. the lab's lab/build-xen.sh); offsets are not guessed"
        case .unreadable(let m): return m
        }
    }
}

/// Guest symbols for naming guest rips: an ELF (vmlinux) or a kallsyms / System.map text file.
public final class GuestSymbols {
    public let path: String
    private let elf: Symbolizer?
    private let sorted: [(UInt64, String)]

    public init(path: String) throws {
        self.path = path
        let head = try MappedFile(path: path)
        let isELF = head.count >= 4 && head.withBytes { Array($0[0..<4]) } == [0x7f, 0x45, 0x4c, 0x46]
        if isELF {
            elf = try Symbolizer(path: path)
            sorted = []
        } else {
            elf = nil
            var table = [(UInt64, String)]()
            let text = head.withBytes { String(decoding: $0, as: UTF8.self) }
            for line in text.split(separator: "\n") {
                let f = line.split(separator: " ", omittingEmptySubsequences: true)
                guard f.count >= 3, let a = UInt64(f[0], radix: 16), a != 0, "TtWw".contains(f[1]) else { continue }
                table.append((a, String(f[2])))
            }
            guard !table.isEmpty else { throw InputError(file: path, offset: 0, "neither an ELF file nor a kallsyms/System.map listing (no text symbols)") }
            table.sort { $0.0 < $1.0 }
            sorted = table
        }
    }

    /// `symbol+0xoff`, or nil when no symbol covers the address.
    public func name(_ address: UInt64) -> String? {
        if let elf {
            let s = elf.symbolize(address)
            guard let sym = s.symbol else { return nil }
            return s.symbolOffset == 0 ? sym : "\(sym)+0x\(String(s.symbolOffset, radix: 16))"
        }
        var lo = 0, hi = sorted.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if sorted[mid].0 <= address { lo = mid + 1 } else { hi = mid }
        }
        guard lo > 0 else { return nil }
        let (a, n) = sorted[lo - 1]
        // A text listing has no sizes: more than 1 MiB past the nearest symbol is not it.
        guard address - a < 1 << 20 else { return nil }
        return address == a ? n : "\(n)+0x\(String(address - a, radix: 16))"
    }
}

extension CrashSession {
    /// Xen's `domain_list` with every vCPU, and each pCPU's current vCPU, with
    /// all struct layouts read from the hypervisor's DWARF. Without DWARF this
    /// throws ``XenDomainsError/noDWARF(image:why:)`` rather than guessing.
    /// `guestSymbols` (by domain id; key -1 = any domain) name guest rips.
    public func xenDomains(guestSymbols: [Int: GuestSymbols] = [:]) throws -> XenDomainList {
        guard let symbols else { throw CrashError.noSymbols(what: "the domain list") }
        guard let listVar = address(of: XenLayouts.domainListSymbol) else {
            throw CrashError.symbolMissing(image: symbols.path, names: [XenLayouts.domainListSymbol], what: "the domain list (is this a Xen hypervisor?)")
        }
        let types: TypeLayouts
        do { types = try TypeLayouts(path: symbols.debugFile ?? symbols.path) } catch {
            throw XenDomainsError.noDWARF(image: symbols.path, why: "no .debug_info: only ELF symbols")
        }
        guard types.hasStruct("domain"), types.hasStruct("vcpu") else {
            throw XenDomainsError.noDWARF(image: symbols.path, why: "its DWARF does not define struct domain and struct vcpu")
        }
        let reader = XenStructReader(session: self, types: types)
        var problems = [String]()

        // pCPUs: cpu_info at the top of each stack_base[cpu] block.
        var pcpus = [XenPCPU]()
        var loadedBy = [UInt64: Int]()
        let idle = Set((0..<dump.cpus.count).compactMap { cpu in
            address(of: XenLayouts.idleVCPUSymbol).flatMap { try? readWord($0 + UInt64(cpu) * 8) }
        })
        for cpu in 0..<dump.cpus.count {
            do {
                let info = try reader.cpuInfo(cpu: cpu)
                let current = try reader.word(info, "cpu_info", "current_vcpu")
                let perCPU = try reader.word(info, "cpu_info", "per_cpu_offset")
                var loaded = current
                if let cv = address(of: XenLayouts.currVCPUSymbol), let v = try? readWord(cv &+ perCPU) { loaded = v }
                loadedBy[loaded] = cpu
                pcpus.append(XenPCPU(cpu: cpu, current: try reader.vcpuName(current, idle: idle), currentAddress: current,
                                     loaded: try reader.vcpuName(loaded, idle: idle), cpuInfoAddress: info))
            } catch {
                problems.append("pCPU \(cpu): \(error)")
            }
        }

        // Domains.
        var domains = [XenDomain]()
        var d = try readWord(listVar)
        var seen = Set<UInt64>()
        while d != 0 {
            guard seen.insert(d).inserted, seen.count <= 1 << 15 else {
                problems.append("domain_list loops back to 0x\(String(d, radix: 16)); stopped"); break
            }
            do {
                let dom = try reader.load("domain", at: d)
                let id = Int(try dom.u("domain_id"))
                let options = try dom.u("options")
                let maxVCPUs = Int(try dom.u("max_vcpus"))
                let pause = Int(Int32(truncatingIfNeeded: try dom.u("pause_count")))
                let ctlPause = Int(Int32(truncatingIfNeeded: try dom.u("controller_pause_count")))
                let dying = Int(try dom.u("is_dying"))
                var vcpus = [XenVCPU]()
                let array = try dom.u("vcpu")
                for i in 0..<min(maxVCPUs, 4096) {
                    let va = try readWord(array + UInt64(i) * 8)
                    guard va != 0 else { continue }
                    do {
                        var v = try reader.vcpu(at: va, loadedBy: loadedBy)
                        if let g = guestSymbols[id] ?? guestSymbols[-1] { v.symbol = g.name(v.registers.rip) }
                        vcpus.append(v)
                    } catch {
                        problems.append("d\(id) vCPU \(i) at 0x\(String(va, radix: 16)): \(error)")
                    }
                }
                // xl list's state letters, from the fields getdomaininfo uses.
                let running = vcpus.contains { $0.isRunning }
                let blocked = !vcpus.isEmpty && vcpus.allSatisfy { !$0.isRunning && $0.pauseFlags & XenLayouts.vpfBlocked != 0 }
                let state = (running ? "r" : "-") + (blocked ? "b" : "-") + (ctlPause > 0 ? "p" : "-") + "--" + (dying != 0 ? "d" : "-")
                domains.append(XenDomain(id: id, address: d, type: options & XenLayouts.cdfHVM != 0 ? "HVM" : "PV",
                                         privileged: try dom.u("is_privileged") != 0, maxVCPUs: maxVCPUs,
                                         totPages: try dom.u("tot_pages"), maxPages: try dom.u("max_pages"),
                                         pauseCount: pause, controllerPauseCount: ctlPause, dying: dying, state: state, vcpus: vcpus))
                d = try dom.u("next_in_list")
            } catch {
                problems.append("domain at 0x\(String(d, radix: 16)): \(error); list stops here")
                break
            }
        }
        return XenDomainList(domains: domains, pcpus: pcpus, problems: problems)
    }
}

/// Reads hypervisor structs through the session with DWARF layouts.
struct XenStructReader {
    let session: CrashSession
    let types: TypeLayouts

    /// A struct's bytes with field access by member path.
    struct Loaded {
        let name: String
        let bytes: [UInt8]
        let types: TypeLayouts
        func u(_ member: String) throws -> UInt64 {
            let l = try types.member(member, in: name)
            guard l.offset >= 0, l.offset + l.size <= bytes.count, [1, 2, 4, 8].contains(l.size) else {
                throw XenDomainsError.unreadable("struct \(name).\(member): \(l.size) bytes at +\(l.offset) is not a scalar inside the struct")
            }
            var v: UInt64 = 0
            for i in (0..<l.size).reversed() { v = v << 8 | UInt64(bytes[l.offset + i]) }
            return v
        }
    }

    func load(_ name: String, at address: UInt64) throws -> Loaded {
        Loaded(name: name, bytes: try session.read(address, count: try types.size(of: name)), types: types)
    }

    func word(_ base: UInt64, _ structName: String, _ member: String) throws -> UInt64 {
        try session.readWord(base + UInt64(try types.member(member, in: structName).offset))
    }

    /// `struct cpu_info` of a pCPU: it ends its stack block; the block's size
    /// (STACK_SIZE, a macro DWARF does not keep) is found by trying 1…64
    /// pages and accepting the one whose `processor_id` is this CPU.
    func cpuInfo(cpu: Int) throws -> UInt64 {
        guard let stacks = session.address(of: XenLayouts.stackBaseSymbol) else {
            throw XenDomainsError.unreadable("no symbol \(XenLayouts.stackBaseSymbol)")
        }
        let base = try session.readWord(stacks + UInt64(cpu) * 8)
        guard base != 0 else { throw XenDomainsError.unreadable("stack_base[\(cpu)] is NULL (CPU not brought up)") }
        let size = UInt64(try types.size(of: "cpu_info"))
        let idOffset = UInt64(try types.member("processor_id", in: "cpu_info").offset)
        for pages in [8, 16, 4, 2, 1, 32, 64] as [UInt64] {
            let info = base + pages * 4096 - size
            if let id = try? session.readUInt32(info + idOffset), Int(id) == cpu,
               let cur = try? session.readWord(info + UInt64(try types.member("current_vcpu", in: "cpu_info").offset)), cur != 0 {
                return info
            }
        }
        throw XenDomainsError.unreadable("no cpu_info with processor_id \(cpu) at the top of the stack at 0x\(String(base, radix: 16))")
    }

    /// "d0v1" for a vCPU pointer, "idle" for an idle vCPU.
    func vcpuName(_ v: UInt64, idle: Set<UInt64>) throws -> String {
        if idle.contains(v) { return "idle" }
        let dom = try session.readWord(v + UInt64(try types.member("domain", in: "vcpu").offset))
        let idB = try session.read(dom + UInt64(try types.member("domain_id", in: "domain").offset), count: 2)
        let vid = try session.readUInt32(v + UInt64(try types.member("vcpu_id", in: "vcpu").offset))
        return "d\(Int(idB[0]) | Int(idB[1]) << 8)v\(vid)"
    }

    func vcpu(at va: UInt64, loadedBy: [UInt64: Int]) throws -> XenVCPU {
        let v = try load("vcpu", at: va)
        let state = Int(Int32(truncatingIfNeeded: try v.u("runstate.state")))
        let loadedOn = loadedBy[va]
        // The guest registers: on the pCPU's stack while its state is loaded
        // there (saved at the last entry into Xen), else arch.user_regs
        // (copied there when it was switched out).
        var regs = CPUState(index: Int(try v.u("vcpu_id")))
        let from: String
        if let p = loadedOn, let info = try? cpuInfo(cpu: p) {
            let r = Loaded(name: "cpu_user_regs", bytes: try session.read(info + UInt64(try types.member("guest_cpu_user_regs", in: "cpu_info").offset),
                                                                       count: try types.size(of: "cpu_user_regs")), types: types)
            try fill(&regs, r, prefix: "")
            from = "pCPU \(p)'s stack (cpu_info.guest_cpu_user_regs at 0x\(String(info, radix: 16)))"
        } else {
            try fill(&regs, v, prefix: "arch.user_regs.")
            from = "struct vcpu arch.user_regs (saved when switched out)"
        }
        if let gt = try? v.u("arch.guest_table"), gt != 0 { regs.cr3 = gt << 12 }
        regs.source = from
        return XenVCPU(id: regs.index, address: va, processor: Int(Int32(truncatingIfNeeded: try v.u("processor"))),
                       runstate: state >= 0 && state < XenLayouts.runstateNames.count ? XenLayouts.runstateNames[state] : "state \(state)",
                       isRunning: try v.u("is_running") != 0, pauseFlags: try v.u("pause_flags"),
                       pauseCount: Int(Int32(truncatingIfNeeded: try v.u("pause_count"))), loadedOn: loadedOn,
                       registersFrom: from, registers: regs, symbol: nil)
    }

    /// Copies struct cpu_user_regs fields (names as in Xen's header) into a CPUState.
    private func fill(_ c: inout CPUState, _ s: Loaded, prefix p: String) throws {
        c.rax = try s.u(p + "rax"); c.rbx = try s.u(p + "rbx"); c.rcx = try s.u(p + "rcx"); c.rdx = try s.u(p + "rdx")
        c.rsi = try s.u(p + "rsi"); c.rdi = try s.u(p + "rdi"); c.rbp = try s.u(p + "rbp"); c.rsp = try s.u(p + "rsp")
        c.r8 = try s.u(p + "r8"); c.r9 = try s.u(p + "r9"); c.r10 = try s.u(p + "r10"); c.r11 = try s.u(p + "r11")
        c.r12 = try s.u(p + "r12"); c.r13 = try s.u(p + "r13"); c.r14 = try s.u(p + "r14"); c.r15 = try s.u(p + "r15")
        c.rip = try s.u(p + "rip"); c.rflags = try s.u(p + "rflags")
        c.cs = try s.u(p + "cs"); c.ss = try s.u(p + "ss")
    }
}

/// The domain list as text, in the spirit of crash's Xen `domain`, `vcpus`
/// and `pcpus` commands: one line per domain, per vCPU ('>' = on a pCPU now;
/// ST = runstate RU running, RN runnable, BL blocked, OF offline, "P" paused),
/// per pCPU.
public func formatXenDomains(_ list: XenDomainList, registers: Bool = false) -> String {
    func hex(_ v: UInt64) -> String { String(v, radix: 16) }
    func pad(_ s: String, _ n: Int, right: Bool = true) -> String {
        s.count >= n ? s : right ? String(repeating: " ", count: n - s.count) + s : s + String(repeating: " ", count: n - s.count)
    }
    var lines = ["   DID  DOMAIN            TYPE  STATE   VCPUS  TOT_PAGES  MAX_PAGES  PAUSE"]
    for d in list.domains {
        lines.append(pad(String(d.id), 6) + "  " + pad(hex(d.address), 16, right: false) + "  " + pad(d.type, 4, right: false) + "  "
                     + d.state + "  " + pad(String(d.vcpus.count), 5) + "  " + pad(String(d.totPages), 9) + "  " + pad(String(d.maxPages), 9)
                     + "  " + pad(String(d.pauseCount), 5) + (d.privileged ? "  (control domain)" : ""))
    }
    lines.append("")
    lines.append("   DID  VCPU  PCPU  ST        VCPU_STRUCT       RIP               WHERE")
    for d in list.domains {
        for v in d.vcpus {
            let st = ["running": "RU", "runnable": "RN", "blocked": "BL", "offline": "OF"][v.runstate] ?? "??"
            lines.append((v.isRunning ? ">" : " ") + pad(String(d.id), 5) + "  " + pad(String(v.id), 4) + "  " + pad(String(v.processor), 4) + "  "
                         + pad(String(st) + (v.pauseCount > 0 ? " P" : ""), 8, right: false) + "  " + pad(hex(v.address), 16, right: false) + "  "
                         + pad(hex(v.registers.rip), 16, right: false) + "  " + (v.symbol ?? (v.registers.rip >= 0xffff_8000_0000_0000 ? "(guest kernel)" : "(guest user)")))
            if registers {
                lines.append("         registers from \(v.registersFrom)")
                lines.append(formatRegisters(v.registers).split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
            }
        }
    }
    lines.append("")
    lines.append("  PCPU  CURRENT  LOADED  CPU_INFO")
    for p in list.pcpus {
        lines.append(pad(String(p.cpu), 6) + "  " + pad(p.current, 7, right: false) + "  " + pad(p.loaded, 6, right: false) + "  " + hex(p.cpuInfoAddress))
    }
    for p in list.problems { lines.append("PROBLEM: \(p)") }
    return lines.joined(separator: "\n") + "\n"
}
