// libFuzzer harness for the remote-protocol engine: arbitrary bytes from a
// "debugger" go through PacketDecoder and RemoteSession against a small
// writable, runnable target. Built by `make fuzz-gdbstub` together with
// Sources/GDBRemote (swiftc -sanitize=fuzzer,address); any crash, hang or
// malformed output frame is a finding.

/// A tiny target: 64 KiB of memory at 0x1000, two threads, run control that
/// stops after a few polls, breakpoints remembered.
final class FuzzBackend: Backend {
    let capabilities: BackendCapabilities = [.writeMemory, .writeRegisters, .resume, .step,
                                             .softwareBreakpoints, .hardwareBreakpoints, .watchpoints, .physicalMemory]
    let layout = X86RegisterLayout(features: [.sse, .system])
    var memory = [UInt8](repeating: 0xcc, count: 0x10000)
    var regs = [X86RegisterValues(), X86RegisterValues()]
    var runPolls = 0
    var breakpoints = 0

    init() { for i in 0..<2 { regs[i][.rip] = 0x1000; regs[i][.rsp] = 0x8000 } }
    func threads() -> [ThreadDescriptor] {
        [ThreadDescriptor(id: 1, name: "a", extraInfo: "thread <a>"), ThreadDescriptor(id: 2, name: "b", extraInfo: "b&b", core: 1)]
    }
    func stopEvent() -> StopEvent { StopEvent(signal: 5, thread: 1) }
    func registers(thread: Int) throws(BackendError) -> X86RegisterValues {
        guard thread == 1 || thread == 2 else { throw .noThread(thread) }
        return regs[thread - 1]
    }
    func readMemory(at address: UInt64, into buffer: UnsafeMutableRawBufferPointer, thread: Int, space: AddressSpace) -> Int {
        guard address >= 0x1000, address < 0x11000 else { return 0 }
        let off = Int(address - 0x1000)
        let n = min(buffer.count, memory.count - off)
        memory.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + off, byteCount: n) }
        return n
    }
    func writeMemory(at address: UInt64, _ bytes: UnsafeRawBufferPointer, thread: Int, space: AddressSpace) throws(BackendError) {
        guard address >= 0x1000, address - 0x1000 + UInt64(bytes.count) <= 0x10000 else { throw .failed("out of range") }
        let off = Int(address - 0x1000)
        for (i, b) in bytes.enumerated() { memory[off + i] = b }
    }
    func writeRegister(thread: Int, _ register: X86Register, bytes: [UInt8]) throws(BackendError) {
        guard thread == 1 || thread == 2 else { throw .noThread(thread) }
        regs[thread - 1].setBytes(register, bytes)
    }
    func resume(step: Int?, continueOthers: Bool) throws(BackendError) { runPolls = step == nil ? 3 : 1 }
    func pollStop(timeoutMilliseconds: Int) -> StopEvent? {
        runPolls -= 1
        return runPolls <= 0 ? StopEvent(signal: 5, thread: 2, reason: .softwareBreakpoint) : nil
    }
    func insertBreakpoint(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(BackendError) {
        guard breakpoints < 64 else { throw .failed("too many") }
        breakpoints += 1
    }
    func removeBreakpoint(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(BackendError) { breakpoints -= 1 }
}

/// Checks that the session only ever emits acks and well-formed packets.
func checkFrames(_ out: [UInt8]) {
    var i = 0
    while i < out.count {
        let c = out[i]
        if c == UInt8(ascii: "+") || c == UInt8(ascii: "-") { i += 1; continue }
        precondition(c == UInt8(ascii: "$"), "output byte \(i) is neither an ack nor a packet start")
        var sum: UInt8 = 0
        i += 1
        while i < out.count, out[i] != UInt8(ascii: "#") {
            precondition(out[i] != UInt8(ascii: "$"), "unescaped '$' inside a reply")
            sum &+= out[i]; i += 1
        }
        precondition(i + 2 < out.count, "reply without a checksum")
        let hex = Array("0123456789abcdef".utf8)
        precondition(out[i + 1] == hex[Int(sum >> 4)] && out[i + 2] == hex[Int(sum & 15)], "bad reply checksum")
        i += 3
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var options = RemoteSession.Options()
    options.packetSize = 4096
    let session = RemoteSession(backend: FuzzBackend(), options: options)
    let input = UnsafeRawBufferPointer(start: data, count: size)
    // Feed in two pieces, so packets split across reads are exercised too.
    let cut = size / 3
    session.receive(UnsafeRawBufferPointer(rebasing: input[0..<cut]))
    session.receive(UnsafeRawBufferPointer(rebasing: input[cut...]))
    for _ in 0..<4 where session.isRunning { session.pollTarget(timeoutMilliseconds: 0) }
    checkFrames(session.output)
    session.reset()
    return 0
}
