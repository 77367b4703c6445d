import GDBRemote
import Testing

/// `xenscope gdbstub` says before serving when gdb can change the target.
@Suite struct ChangeNoticeTests {
    @Test func liveGuestCapabilitiesAreSpelledOut() {
        let live: BackendCapabilities = [.writeMemory, .writeRegisters, .resume, .step, .softwareBreakpoints]
        #expect(live.changeNotice(target: "domain 3")
            == "domain 3 is writable: a debugger that attaches can write its memory and registers and let it run")
        #expect(BackendCapabilities([.writeMemory]).changeNotice(target: "x") == "x is writable: a debugger that attaches can write its memory")
        #expect(BackendCapabilities([.writeRegisters, .step]).changeNotice(target: "x")
            == "x is writable: a debugger that attaches can write its registers and let it run")
    }

    @Test func readOnlyTargetsSayNothing() {
        #expect(BackendCapabilities([]).changeNotice(target: "core") == nil)
        // The dump backend's capabilities: physical addressing is reading, not writing.
        #expect(BackendCapabilities([.physicalMemory]).changeNotice(target: "dump") == nil)
    }
}
