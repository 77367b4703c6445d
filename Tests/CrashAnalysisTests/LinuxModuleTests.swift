import CrashAnalysis
import CrashTestSupport
import Dump
import Foundation
import Testing

/// The loaded modules (both test guests load `qemu_fw_cfg` for VMCOREINFO)
/// and their symbols from the kernel's own kallsyms copy, against drgn on
/// the same dump: its `modules` list walk and its module-kallsyms symbol
/// index (`load_module_kallsyms`). Module addresses move with every boot;
/// only agreement with drgn is checked.
@Suite(.serialized) struct LinuxModuleTests {
    @Test(arguments: ["x86-64", "arm64", "x86-64-trixie"])
    func modulesAndSymbolsEqualDrgn(_ arch: String) throws {
        let (dump, vmlinux) = try linuxGuestELFDump(arch)
        let s = try CrashSession(dumpPath: dump, elfPath: vmlinux)
        let mods = try s.linuxModules()
        let out = try DrgnTask.run("""
            import drgn, sys
            from drgn.helpers.linux.list import list_for_each_entry
            from drgn.helpers.linux.kallsyms import load_module_kallsyms
            prog = drgn.Program()
            prog.set_core_dump(sys.argv[1])
            prog.load_debug_info([sys.argv[2]])
            kinds = ["text", "data", "rodata", "ro_after_init", "init_text", "init_data", "init_rodata"]
            for m in list_for_each_entry("struct module", prog["modules"].address_of_(), "list"):
                name = m.name.string_().decode()
                try:
                    mem = m.mem   # Linux 6.4+: one allocation per kind
                except AttributeError:
                    print("M", name, hex(m.value_()), hex(m.core_layout.base), int(m.core_layout.size))
                    print("R", name, "core", hex(m.core_layout.base), int(m.core_layout.size))
                    continue
                regions = [(k, mem[prog["MOD_" + k.upper()]]) for k in kinds]
                core = sum(int(r.size) for k, r in regions if not k.startswith("init"))
                print("M", name, hex(m.value_()), hex(mem[prog["MOD_TEXT"]].base), core)
                for k, r in regions:
                    if int(r.size) and r.base.value_():
                        print("R", name, k, hex(r.base), int(r.size))
            idx = load_module_kallsyms(prog)
            for s in idx(prog, None, None, False):
                print("S", s.name, hex(s.address), s.size)
                mid = s.address + s.size // 2
                hit = idx(prog, None, mid, True)
                print("A", hex(mid), hit[0].name if hit else "-")
            """, dump: dump, vmlinux: vmlinux)
        let rows = out.split(whereSeparator: \.isNewline).map { $0.split(separator: " ").map(String.init) }
        func hex(_ t: String) -> UInt64 { UInt64(t.dropFirst(2), radix: 16) ?? 0 }
        let theirMods = rows.filter { $0.first == "M" && $0.count == 5 }
        #expect(mods.map(\.name) == theirMods.map { $0[1] })
        #expect(mods.contains { $0.name == "qemu_fw_cfg" })
        for (m, t) in zip(mods, theirMods) {
            #expect(m.address == hex(t[2]) && m.base == hex(t[3]) && m.size == UInt64(t[4]), "\(m.name): \(t)")
        }
        // Every allocation (one core_layout ≤ 6.3; text, data, rodata, … 6.4+).
        let theirRegions = rows.filter { $0.first == "R" && $0.count == 5 }.map { "\($0[1]) \($0[2]) \(hex($0[3])) \($0[4])" }
        #expect(mods.flatMap { m in m.regions.map { "\(m.name) \($0.kind) \($0.base) \($0.size)" } } == theirRegions)
        // Every symbol drgn's module kallsyms holds, with the same address and size.
        let theirs = rows.filter { $0.first == "S" && $0.count == 4 }.map { "\($0[1]) \(hex($0[2])) \($0[3])" }.sorted()
        let ours = mods.flatMap(\.symbols).map { "\($0.name) \($0.address) \($0.size)" }.sorted()
        #expect(theirs.count >= 10, "\(theirs)")
        #expect(ours == theirs)
        // A pc inside a module function is named by that function (where
        // drgn's lookup names one) with the offset from its start.
        var checked = 0
        for r in rows where r.first == "A" && r.count == 3 && r[2] != "-" {
            let a = hex(r[1])
            guard let d = mods.describe(a), let sym = mods.flatMap(\.symbols).first(where: { $0.name == d.symbol && $0.address == a - d.offset }) else {
                Issue.record("0x\(String(a, radix: 16)) not described"); continue
            }
            if sym.type == 2 && sym.size > 1 {   // functions: drgn's answer, unambiguous
                #expect(d.symbol == r[2], "0x\(String(a, radix: 16)): \(d) vs drgn \(r[2])")
                #expect(d.module == "qemu_fw_cfg")
                checked += 1
            }
        }
        #expect(checked >= 10)
        // Past the highest allocation no module is named.
        let end = try #require(mods.flatMap(\.regions).map { $0.base &+ $0.size }.max())
        #expect(mods.describe(end) == nil)
    }

    /// `crash mod` and `crash mod --address` on the x86-64 guest's kdump.
    @Test func commandLine() throws {
        let xs = xenscopeDebugBinary()
        let g = try LinuxGuest.shared()
        let s = try CrashSession(dumpPath: g.kdumpDump, elfPath: g.vmlinux)
        let mods = try s.linuxModules()
        let m = try #require(mods.first { $0.name == "qemu_fw_cfg" })
        let text = try PanickerGuest.run(xs, ["crash", "mod", g.kdumpDump, "--elf", g.vmlinux], what: "xenscope crash mod")
        #expect(text.contains(String(m.address, radix: 16) + "  qemu_fw_cfg           " + String(m.base, radix: 16)), "\(text)")
        let json = try PanickerGuest.run(xs, ["crash", "mod", g.kdumpDump, "--elf", g.vmlinux, "--json"], what: "xenscope crash mod --json")
        #expect(try JSONDecoder().decode([LinuxModule].self, from: Data(json.utf8)) == mods)
        let f = try #require(m.symbols.first { $0.type == 2 && $0.size > 8 })
        let named = try PanickerGuest.run(xs, ["crash", "mod", g.kdumpDump, "--elf", g.vmlinux, "--address", "0x" + String(f.address + 4, radix: 16)],
                                          what: "xenscope crash mod --address")
        #expect(named == "\(f.name)+0x4 [qemu_fw_cfg]\n")
    }
}
