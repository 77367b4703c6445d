@testable import CrashAnalysis
import DWARF
import FixtureSupport
import Foundation
import Testing

/// Which Linux layout the task and module readers take is decided by the
/// members and enumerators the kernel's DWARF defines, never by version:
/// checked on a program whose two compile units define the structures the
/// ≤ 6.3/6.6 way (module.core_layout, task_struct.thread_group) and the
/// 6.4+/6.7+ way (module.mem[] by enum mod_mem_type, signal_struct.thread_head
/// with task_struct.thread_node); the offsets, the array stride and the enum
/// values must equal what the compiler itself printed (offsetof, sizeof).
@Suite struct LinuxLayoutSelectionTests {
    static let built: Result<(symbols: Symbolizer, newCU: UInt64, oldCU: UInt64, truth: [String: Int]), FixtureError> = {
        do {
            let dir = try FixtureCompiler.tempDir()
            let bin = try FixtureCompiler.compile(["linux-layouts/new_layouts.c", "linux-layouts/old_layouts.c"], output: "layouts", in: dir,
                                                  flags: ["-g", "-O0"])
            var truth = [String: Int]()
            for line in try FixtureCompiler.run(bin, []).split(separator: "\n") {
                let f = line.split(separator: " ")
                if f.count == 3, let v = Int(f[2]) { truth["\(f[0]) \(f[1])"] = v }
            }
            var functions = [String: UInt64]()
            for line in try FixtureCompiler.run("nm", ["--defined-only", bin]).split(separator: "\n") {
                let f = line.split(separator: " ")
                if f.count == 3, let a = UInt64(f[0], radix: 16) { functions[String(f[2])] = a }
            }
            guard let main = functions["main"], let old = functions["old_layouts"] else { throw FixtureError("nm found no main/old_layouts in \(bin)") }
            return .success((try Symbolizer(path: bin), main, old, truth))
        } catch let e as FixtureError { return .failure(e) } catch { return .failure(FixtureError("\(error)")) }
    }()

    func lookups(_ cu: UInt64, _ s: Symbolizer) -> (off: (String, String) -> UInt64?, stride: (String) -> UInt64?, value: (String) -> Int64?) {
        ({ s.memberOffset(type: $0, member: $1, inCUOf: cu).map(UInt64.init) },
         { s.structSize(type: $0, inCUOf: cu).map(UInt64.init) },
         { s.enumeratorValue($0, inCUOf: cu) })
    }

    @Test func newLayoutsFromTheirMembers() throws {
        let (s, cu, _, t) = try Self.built.get()
        #expect(t.count == 15)
        let l = lookups(cu, s)
        let mod = try #require(ModuleMemoryLayout.select(off: l.off, stride: l.stride, value: l.value))
        let kinds = ["text", "data", "rodata", "ro_after_init", "init_text", "init_data", "init_rodata"]
        #expect(mod == .memory(mem: UInt64(t["new module.mem"]!), stride: UInt64(t["new sizeof.module_memory"]!),
                               base: UInt64(t["new module_memory.base"]!), size: UInt64(t["new module_memory.size"]!),
                               types: kinds.enumerated().map { ($0.element, $0.offset) }))
        #expect(s.enumeratorValue("MOD_RO_AFTER_INIT", inCUOf: cu) == Int64(t["new MOD_RO_AFTER_INIT"]!))
        #expect(s.enumeratorValue("MOD_INIT_RODATA", inCUOf: cu) == Int64(t["new MOD_INIT_RODATA"]!))
        #expect(s.enumeratorValue("MOD_NO_SUCH", inCUOf: cu) == nil)
        #expect(LinuxTaskLayout.threadList(l.off) == .signalThreadHead(
            signal: UInt64(t["new task_struct.signal"]!), threadHead: UInt64(t["new signal_struct.thread_head"]!),
            threadNode: UInt64(t["new task_struct.thread_node"]!)))
    }

    @Test func oldLayoutsFromTheirMembers() throws {
        let (s, _, cu, t) = try Self.built.get()
        let l = lookups(cu, s)
        #expect(s.structSize(type: "module_memory", inCUOf: cu) == nil)
        #expect(ModuleMemoryLayout.select(off: l.off, stride: l.stride, value: l.value) == .coreLayout(
            core: UInt64(t["old module.core_layout"]!), base: UInt64(t["old module_layout.base"]!),
            size: UInt64(t["old module_layout.size"]!), textSize: UInt64(t["old module_layout.text_size"]!)))
        #expect(LinuxTaskLayout.threadList(l.off) == .threadGroup(UInt64(t["old task_struct.thread_group"]!)))
    }

    /// Neither layout (a kernel whose DWARF lacks the members): no guess.
    @Test func neitherLayoutIsNoLayout() {
        #expect(ModuleMemoryLayout.select(off: { _, _ in nil }, stride: { _ in 48 }, value: { _ in 0 }) == nil)
        #expect(LinuxTaskLayout.threadList { t, m in t == "task_struct" && m == "thread_node" ? 8 : nil } == nil)
    }
}
