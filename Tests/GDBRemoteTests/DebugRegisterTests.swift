import Foundation
import GDBBackends
@testable import GDBRemote
import Testing
import XenControl

/// The debug-register bookkeeping the live Xen backend uses for `Z1`–`Z4`
/// (DR7 encoding, slot sharing, DR6 decoding, where DR0–DR7 sit in a PV
/// context and an HVM save record), and real gdb's `hbreak`/`watch`/
/// `rwatch`/`awatch` against a toy target that raises the same DR6 bits.
@Suite struct DebugRegisterTests {
    /// Slot *i*: L*i* at bit 2*i*, R/W at 16+4*i*, LEN at 18+4*i*; bit 10 always set.
    @Test func dr7EncodesKindAndLengthPerSlot() throws {
        var s = DebugRegisterSlots()
        #expect(s.dr7 == 0x400 && s.isEmpty && s.addresses == [0, 0, 0, 0])
        let i1 = try s.insert(.hardware, at: 0xffff_ffff_8100_0010, length: 1); #expect(i1 == 0)
        #expect(s.dr7 == 0x401)                                   // L0, R/W0 00 (execute), LEN0 00
        let i2 = try s.insert(.writeWatch, at: 0xffff_ffff_82c0_5900, length: 8); #expect(i2 == 1)
        #expect(s.dr7 == 0x0090_0405)                             // L1; R/W1 01, LEN1 10 (8 bytes) → 0x9 << 20
        let i3 = try s.insert(.accessWatch, at: 0x1000, length: 4); #expect(i3 == 2)
        #expect(s.dr7 == 0x0f90_0415)                             // L2; R/W2 11, LEN2 11 (4) → 0xf << 24
        let i4 = try s.insert(.writeWatch, at: 0x2002, length: 2); #expect(i4 == 3)
        #expect(s.dr7 == 0x5f90_0455)                             // L3; R/W3 01, LEN3 01 (2) → 0x5 << 28
        #expect(s.addresses == [0xffff_ffff_8100_0010, 0xffff_ffff_82c0_5900, 0x1000, 0x2002])
        // A 1-byte write watchpoint in slot 1 instead: R/W 01, LEN 00.
        let removed1 = s.remove(.writeWatch, at: 0xffff_ffff_82c0_5900, length: 8); #expect(removed1)
        #expect(s.dr7 == 0x5f00_0451)
        let i5 = try s.insert(.writeWatch, at: 0x3001, length: 1); #expect(i5 == 1)
        #expect(s.dr7 == 0x5f10_0455)
        // Z1's length is gdb's breakpoint kind (1 on x86): an execute slot is always LEN 00.
        s.removeAll()
        let i6 = try s.insert(.hardware, at: 0x40_0000, length: 4); #expect(i6 == 0)
        #expect(s.dr7 == 0x401 && s.slots[0]?.length == 1)
    }

    /// Four slots shared by Z1 and Z2/Z4; the fifth is refused with the
    /// reason; re-inserting an armed one takes no slot; a freed slot is reused.
    @Test func slotsAreSharedAndExhausted() throws {
        var s = DebugRegisterSlots()
        try s.insert(.hardware, at: 0x40_0010, length: 1)
        try s.insert(.hardware, at: 0x40_0020, length: 1)
        try s.insert(.writeWatch, at: 0x7fff_2000, length: 8)
        try s.insert(.accessWatch, at: 0x7fff_2008, length: 8)
        let i7 = try s.insert(.writeWatch, at: 0x7fff_2000, length: 8); #expect(i7 == 2)   // already armed
        #expect(throws: BackendError.failed("all four debug registers (DR0–DR3) are in use by hardware breakpoints and watchpoints")) {
            var t = s; try t.insert(.hardware, at: 0x40_0030, length: 1)
        }
        #expect(throws: BackendError.failed("all four debug registers (DR0–DR3) are in use by hardware breakpoints and watchpoints")) {
            var t = s; try t.insert(.writeWatch, at: 0x7fff_2010, length: 4)
        }
        let removed2 = s.remove(.accessWatch, at: 0x7fff_2008, length: 4); #expect(!removed2)          // not armed with that length
        let removed3 = s.remove(.hardware, at: 0x40_0020, length: 1); #expect(removed3)
        let i8 = try s.insert(.accessWatch, at: 0x7fff_2010, length: 4); #expect(i8 == 1)
        #expect(s.slots.compactMap { $0?.address } == [0x40_0010, 0x7fff_2010, 0x7fff_2000, 0x7fff_2008])
    }

    /// Watched lengths 1, 2, 4, 8 aligned to themselves; everything else is
    /// refused (gdb: "Could not insert hardware watchpoint"); a read-only
    /// watchpoint is "unsupported" so that gdb falls back to an access one.
    @Test func unalignedOversizedAndReadOnlyAreRefused() throws {
        var s = DebugRegisterSlots()
        for (a, l) in [(0x1002, 4), (0x1004, 8), (0x1001, 2), (0x1000, 16), (0x1000, 3), (0x1000, 0)] as [(UInt64, Int)] {
            #expect(throws: BackendError.failed("a watchpoint of \(l) bytes at 0x\(String(a, radix: 16)) cannot be armed: x86 debug registers watch 1, 2, 4 or 8 bytes aligned to their length")) {
                var t = s; try t.insert(.writeWatch, at: a, length: l)
            }
        }
        #expect(throws: BackendError.unsupported) { var t = s; try t.insert(.readWatch, at: 0x1000, length: 8) }
        #expect(s.isEmpty)
        for (a, l) in [(0x1001, 1), (0x1002, 2), (0x1004, 4), (0x1008, 8)] as [(UInt64, Int)] { try s.insert(.accessWatch, at: a, length: l) }
        #expect(s.dr7 == 0xbf73_0455)   // LEN|R/W per slot: 0011, 0111, 1111, 1011
    }

    /// DR6 B0–B3 name the slot that fired (only armed ones); BS alone (a
    /// step) names none; the reason carries the watched address.
    @Test func dr6NamesTheSlot() throws {
        var s = DebugRegisterSlots()
        try s.insert(.hardware, at: 0x40_0010, length: 1)
        try s.insert(.writeWatch, at: 0x7fff_2000, length: 8)
        try s.insert(.accessWatch, at: 0x7fff_2008, length: 8)
        #expect(s.hit(dr6: 0xffff_0ff1) == 0 && s.reason(slot: 0) == .hardwareBreakpoint)
        #expect(s.hit(dr6: 0xffff_0ff2) == 1 && s.reason(slot: 1) == .watch(kind: .writeWatch, address: 0x7fff_2000))
        #expect(s.hit(dr6: 0xffff_4ff4) == 2 && s.reason(slot: 2) == .watch(kind: .accessWatch, address: 0x7fff_2008))
        #expect(s.hit(dr6: 0xffff_0ff6) == 1)          // two at once: the lowest
        #expect(s.hit(dr6: 0xffff_0ff8) == nil)        // slot 3 is free
        #expect(s.hit(dr6: 0xffff_4ff0) == nil)        // BS: a single step
        #expect(s.hit(dr6: DebugRegisterSlots.dr6Clear) == nil)
        #expect(DebugRegisterSlots.hasStatus(dr6: 0xffff_4ff0) && DebugRegisterSlots.hasStatus(dr6: 0xffff_0ff8))
        #expect(!DebugRegisterSlots.hasStatus(dr6: 0xffff_0ff0))
        #expect(s.reason(slot: 3) == nil)
    }

    /// Where the registers go: PV `vcpu_guest_context.debugreg[0..7]` from
    /// byte 5048 (after ctrlreg[8] at 4984), DR6 untouched; HVM `hvm_hw_cpu`
    /// dr0–dr3 at 688, dr6 720 (cleared), dr7 728.
    @Test func registersLandAtTheABIOffsets() throws {
        var s = DebugRegisterSlots()
        try s.insert(.hardware, at: 0xffff_ffff_8100_0010, length: 1)
        try s.insert(.writeWatch, at: 0xffff_ffff_82c0_5900, length: 8)
        var c = [UInt8](repeating: 0xee, count: XenDomainControl.contextSize)
        c.withUnsafeMutableBytes { XenGuestBackend.storeDebugRegisters(s, intoContext: $0) }
        func u64(_ b: [UInt8], _ o: Int) -> UInt64 { b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: o, as: UInt64.self) } }
        #expect(u64(c, 5048) == 0xffff_ffff_8100_0010 && u64(c, 5056) == 0xffff_ffff_82c0_5900)
        #expect(u64(c, 5064) == 0 && u64(c, 5072) == 0)
        #expect(u64(c, 5088) == 0xeeee_eeee_eeee_eeee)   // DR6 left to Xen
        #expect(u64(c, 5104) == 0x0090_0405)
        #expect(c[5040] == 0xee && c[5112] == 0xee)       // ctrlreg[7] and event_callback_eip untouched
        var h = [UInt8](repeating: 0xee, count: XenDomainControl.HVMRecord.cpuSize)
        h.withUnsafeMutableBytes { XenGuestBackend.storeDebugRegisters(s, intoHVMCPU: $0) }
        #expect(u64(h, 688) == 0xffff_ffff_8100_0010 && u64(h, 696) == 0xffff_ffff_82c0_5900 && u64(h, 704) == 0 && u64(h, 712) == 0)
        #expect(u64(h, 720) == 0xffff_0ff0 && u64(h, 728) == 0x0090_0405)
        #expect(h[680] == 0xee && h[736] == 0xee)         // cr4 and cs_sel untouched
    }

    /// The stop replies gdb reads for each kind of hit, on the thread that hit.
    @Test func stopRepliesNameTheWatchAndThread() {
        let b = DRToyBackend()
        var c = TestClient(b)
        _ = c.exchange("qSupported:swbreak+;hwbreak+")
        b.nextStop = StopEvent(signal: 5, thread: 2, reason: .watch(kind: .writeWatch, address: 0x7fff_2000))
        #expect(c.run("vCont;c") == "T05thread:2;07:8020ff7f00000000;10:0000400000000000;watch:7fff2000;")
        b.nextStop = StopEvent(signal: 5, thread: 1, reason: .watch(kind: .accessWatch, address: 0xffff_ffff_82c0_5900))
        #expect(c.run("vCont;c") == "T05thread:1;07:8020ff7f00000000;10:0000400000000000;awatch:ffffffff82c05900;")
        b.nextStop = StopEvent(signal: 5, thread: 1, reason: .watch(kind: .readWatch, address: 0x10))
        #expect(c.run("vCont;c").hasSuffix(";10:0000400000000000;rwatch:10;"))
        b.nextStop = StopEvent(signal: 5, thread: 2, reason: .hardwareBreakpoint)
        #expect(c.run("vCont;c") == "T05thread:2;07:8020ff7f00000000;10:0000400000000000;hwbreak:;")
        // Z packets: Z3 is answered empty (gdb then sends Z4), bad ones E05, exhaustion E05.
        #expect(c.exchange("Z2,7fff2000,8") == "OK")
        #expect(c.exchange("Z3,7fff2008,8") == "")
        #expect(c.exchange("Z4,7fff2008,8") == "OK")
        #expect(c.exchange("Z2,7fff2002,4") == "E05")
        #expect(c.exchange("Z1,400010,1") == "OK")
        #expect(c.exchange("Z1,400020,1") == "OK")
        #expect(c.exchange("Z1,400030,1") == "E05")
        #expect(c.exchange("z2,7fff2000,8") == "OK")
        #expect(c.exchange("Z1,400030,1") == "OK")
        // Slots now: execute 0x400030 (the freed slot 0), access 8 bytes, execute, execute.
        #expect(b.slots.addresses == [0x40_0030, 0x7fff_2008, 0x40_0010, 0x40_0020])
        #expect(b.slots.dr7 == 0x00b0_0455)
    }

    /// Real gdb: `watch` reports old and new values at the instruction after
    /// the write, `rwatch` (gdb falls back from Z3 to Z4) and `awatch` report
    /// a read, `hbreak` stops exactly at its address; a fifth debug register,
    /// an unaligned and an oversized watchpoint are refused by gdb's
    /// "Could not insert"; DR7 at each resume has the exact encoding.
    @Test func gdbWatchpointsAndHardwareBreakpoints() throws {
        let b = DRToyBackend()
        let stub = try RunningStub(backend: b)
        defer { stub.stop() }
        let w = "*(unsigned long *)0x7fff2000", r = "*(unsigned long *)0x7fff2008"
        let out = gdbBatch([], commands: [
            "set architecture i386:x86-64", "target remote 127.0.0.1:\(stub.port)",
            "echo @@watch\\n", "watch \(w)", "continue",
            "echo @@watch pc\\n", "p/x $pc",
            "echo @@watch again\\n", "continue",
            "echo @@rwatch\\n", "delete", "rwatch \(r)", "continue",
            "echo @@rwatch pc\\n", "p/x $pc",
            "echo @@awatch\\n", "delete", "awatch \(r)", "continue",
            "echo @@hbreak\\n", "delete", "hbreak *0x400024", "continue",
            "echo @@hbreak pc\\n", "p/x $pc",
            "echo @@hbreak again\\n", "continue",
            "echo @@exhausted\\n", "hbreak *0x400031", "hbreak *0x400032", "hbreak *0x400033", "watch \(w)", "continue",
            "echo @@unaligned\\n", "delete", "watch *(unsigned int *)0x7fff2002", "continue",
            "echo @@oversized\\n", "delete", "watch *(char (*)[16])0x7fff2000", "continue",
            "echo @@end\\n", "delete", "detach"])
        let s = sections(out).mapValues { $0.joined(separator: "\n") }
        // The toy CPU writes counter+1 at 0x7fff2000 at every address ≡ 8 (mod 16), reads 0x7fff2008 at ≡ 0xc.
        let watch = try #require(s["watch"])
        #expect(watch.contains("Hardware watchpoint 1: \(w)\n\nOld value = 0\nNew value = 1"), "\(out)")
        #expect(s["watch pc"]?.contains("= 0x400009") == true, "\(out)")   // trap after the write at 0x400008
        #expect(s["watch again"]?.contains("Old value = 1\nNew value = 2") == true, "\(out)")
        #expect(s["rwatch"]?.contains("Hardware read watchpoint 2: \(r)\n\nValue = 4660") == true, "\(out)")
        #expect(s["rwatch pc"]?.contains("= 0x40001d") == true, "\(out)")   // after the read at 0x40001c
        #expect(s["awatch"]?.contains("Hardware access (read/write) watchpoint 3: \(r)\n\nValue = 4660") == true, "\(out)")
        #expect(s["hbreak"]?.contains("Hardware assisted breakpoint 4 at 0x400024\n\nThread 1 \"vcpu0\" hit Breakpoint 4, 0x0000000000400024 in ?? ()") == true, "\(out)")
        #expect(s["hbreak pc"]?.contains("= 0x400024") == true, "\(out)")
        // Not at 0x400024 again at once (gdb steps over it), but after the next lap of the toy loop.
        #expect(s["hbreak again"]?.contains("Thread 1 \"vcpu0\" hit Breakpoint 4, 0x0000000000400024 in ?? ()") == true, "\(out)")
        // Five debug registers asked for: the last one gdb inserts (the hbreak it stepped over) is refused.
        #expect(s["exhausted"]?.contains("Cannot insert hardware breakpoint 4.\nCould not insert hardware breakpoints:\nYou may have requested too many hardware breakpoints/watchpoints.") == true, "\(out)")
        #expect(s["unaligned"]?.contains("Could not insert hardware watchpoint 9.") == true, "\(out)")
        #expect(s["oversized"]?.contains("Could not insert hardware watchpoint 10.") == true, "\(out)")
        // gdb asked for a read watchpoint first and took an access one.
        #expect(b.requests.contains("Z3,7fff2008,8") && b.requests.contains("Z4,7fff2008,8"), "\(b.requests)")
        // DR7 as loaded at each resume: write 8 bytes in slot 0; access 8 (rwatch, awatch); execute.
        // gdb steps over the hbreak with it removed (DR7 0x400), then re-arms it.
        #expect(Array(b.loadedDR7.prefix(7)) == [0x0009_0401, 0x0009_0401, 0x000b_0401, 0x000b_0401, 0x401, 0x400, 0x401] as [UInt64], "\(b.loadedDR7.map { String($0, radix: 16) })")
        #expect(b.slots.isEmpty)
    }
}

/// A toy target for the debug-register tests: thread 1 executes one-byte
/// instructions in a 64-byte loop from 0x400000; the instruction at every
/// address ≡ 8 (mod 16) adds 1 to the 8-byte counter at 0x7fff2000, at ≡ 0xc
/// it reads 0x7fff2008 (0x1234). Z1/Z2/Z4 go into ``DebugRegisterSlots``;
/// a hit sets the DR6 bit of each matching slot, and the stop is what
/// ``DebugRegisterSlots/hit(dr6:)`` and ``DebugRegisterSlots/reason(slot:)``
/// make of it — the path the live Xen backend takes.
final class DRToyBackend: Backend {
    let capabilities: BackendCapabilities = [.writeMemory, .writeRegisters, .resume, .step, .hardwareBreakpoints, .watchpoints]
    let layout = X86RegisterLayout(features: [.sse, .system])
    var slots = DebugRegisterSlots()
    var loadedDR7: [UInt64] = []
    var requests: [String] = []
    var memory = [UInt8](repeating: 0, count: 0x100)
    var regs = X86RegisterValues()
    var stopped = StopEvent(signal: 5, thread: 1)
    var running = false, stepping = false, interruptRequested = false
    /// Reported by the next poll instead of running the toy CPU.
    var nextStop: StopEvent?

    init() {
        regs[.rip] = 0x40_0000; regs[.rsp] = 0x7fff_2080; regs[.eflags] = 0x246; regs[.cs] = 0x10; regs[.ss] = 0x18
        memory[8] = 0x34; memory[9] = 0x12
    }

    func threads() -> [ThreadDescriptor] {
        [ThreadDescriptor(id: 1, name: "vcpu0", extraInfo: "toy vcpu0"), ThreadDescriptor(id: 2, name: "vcpu1", extraInfo: "toy vcpu1")]
    }
    func stopEvent() -> StopEvent { stopped }
    func registers(thread: Int) throws(BackendError) -> X86RegisterValues {
        guard thread == 1 || thread == 2 else { throw .noThread(thread) }
        return regs
    }
    func readMemory(at address: UInt64, into buffer: UnsafeMutableRawBufferPointer, thread: Int, space: AddressSpace) -> Int {
        var n = 0
        while n < buffer.count {
            let a = address &+ UInt64(n)
            if a >= 0x7fff_2000, a < 0x7fff_2100 { buffer[n] = memory[Int(a - 0x7fff_2000)] }
            else if a >= 0x40_0000, a < 0x40_0040 { buffer[n] = 0x90 }
            else { break }
            n += 1
        }
        return n
    }
    func writeRegister(thread: Int, _ register: X86Register, bytes: [UInt8]) throws(BackendError) { regs.setBytes(register, bytes) }
    func resume(step: Int?, continueOthers: Bool) throws(BackendError) {
        loadedDR7.append(slots.dr7)
        running = true; stepping = step != nil; interruptRequested = false
    }
    func interrupt() { interruptRequested = true }

    /// DR6 status bits of the slots an access of 8 bytes at `address` matches.
    private func dr6(access address: UInt64, write: Bool) -> UInt64 {
        var bits: UInt64 = 0
        for (i, s) in slots.slots.enumerated() {
            guard let s, s.kind == .accessWatch || (write && s.kind == .writeWatch) else { continue }
            if address < s.address + UInt64(s.length), s.address < address + 8 { bits |= 1 << UInt64(i) }
        }
        return bits
    }

    /// One instruction: an execute slot faults before it (rip stays); a
    /// data slot traps after it (rip moves on).
    private func execute(faultOnExecute: Bool) -> StopEvent.Reason? {
        let pc = regs[.rip]!
        if faultOnExecute, let i = slots.slots.firstIndex(where: { $0?.kind == .hardware && $0?.address == pc }) {
            return slots.reason(slot: slots.hit(dr6: DebugRegisterSlots.dr6Clear | 1 << UInt64(i))!)
        }
        var bits: UInt64 = 0
        if pc & 0xf == 8 {
            var v = memory.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } + 1
            withUnsafeBytes(of: &v) { memory.replaceSubrange(0..<8, with: $0) }
            bits = dr6(access: 0x7fff_2000, write: true)
        } else if pc & 0xf == 0xc {
            bits = dr6(access: 0x7fff_2008, write: false)
        }
        regs[.rip] = 0x40_0000 + (pc + 1 - 0x40_0000) % 0x40
        guard let slot = slots.hit(dr6: DebugRegisterSlots.dr6Clear | bits) else { return nil }
        return slots.reason(slot: slot)
    }

    func pollStop(timeoutMilliseconds: Int) -> StopEvent? {
        guard running else { return stopped }
        running = false
        if let s = nextStop { nextStop = nil; stopped = s; return s }
        if stepping {
            stopped = StopEvent(signal: 5, thread: 1, reason: execute(faultOnExecute: false) ?? .none)
            return stopped
        }
        for _ in 0..<1000 {
            if let r = execute(faultOnExecute: true) { stopped = StopEvent(signal: 5, thread: 1, reason: r); return stopped }
        }
        stopped = StopEvent(signal: 2, thread: 1)
        return stopped
    }

    func insertBreakpoint(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(BackendError) {
        requests.append("Z\(kind.rawValue),\(String(address, radix: 16)),\(length)")
        try slots.insert(kind, at: address, length: length)
    }
    func removeBreakpoint(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(BackendError) {
        requests.append("z\(kind.rawValue),\(String(address, radix: 16)),\(length)")
        slots.remove(kind, at: address, length: length)
    }
}
