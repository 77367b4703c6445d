@testable import GDBRemote

/// An in-memory target for protocol tests: sparse memory, per-thread
/// registers, and a toy CPU whose every instruction is one byte long, so that
/// stepping, breakpoints and Ctrl-C have real, checkable effects.
final class MemoryBackend: Backend {
    var capabilities: BackendCapabilities
    let layout: X86RegisterLayout
    /// Memory regions: start address → bytes.
    var regions: [(start: UInt64, bytes: [UInt8])]
    var regs: [Int: X86RegisterValues]
    var swBreakpoints: Set<UInt64> = []
    var hwBreakpoints: Set<UInt64> = []
    var stopped = StopEvent(signal: 11, thread: 1)
    var running = false
    var stepping: Int?
    var interruptRequested = false
    /// What the last resume asked for: (stepped thread, others run, the only thread run).
    var lastResume: (step: Int?, others: Bool, only: Int?)?
    var physicalReads = 0
    var attaches = 0, detaches = 0

    func attach() { attaches += 1 }
    func detach() { detaches += 1 }

    init(capabilities: BackendCapabilities, sse: Bool = true, avx: Bool = false) {
        self.capabilities = capabilities
        layout = X86RegisterLayout(features: sse ? (avx ? [.sse, .avx, .system] : [.sse, .system]) : [.system])
        var code = [UInt8](repeating: 0x90, count: 0x1000)
        for i in 0..<code.count { code[i] = UInt8(truncatingIfNeeded: i * 7) }
        regions = [(0x40_0000, code),
                   (0x7fff_0000, [UInt8](repeating: 0, count: 0x2000)),   // zero page: RLE
                   (0x7fff_2000, (0..<0x100).map { UInt8($0) })]           // every byte value
        regs = [:]
        for t in 1...2 {
            var v = X86RegisterValues()
            for (i, r) in X86Register.allCases.prefix(16).enumerated() { v[r] = UInt64(t) << 32 | UInt64(i) }
            v[.rip] = 0x40_0010 + UInt64(t)
            v[.rsp] = 0x7fff_1000
            v[.eflags] = 0x246
            v[.cs] = 0x10; v[.ss] = 0x18
            v[.fsBase] = 0x7f00_0000_0000 + UInt64(t)
            v[.cr3] = 0x1000 * UInt64(t)
            regs[t] = v
        }
    }

    func threads() -> [ThreadDescriptor] {
        [ThreadDescriptor(id: 1, name: "vcpu0", extraInfo: "dom7 vcpu0 <online>", core: 3),
         ThreadDescriptor(id: 2, name: "vcpu1", extraInfo: "dom7 vcpu1 & offline")]
    }

    func stopEvent() -> StopEvent { stopped }

    func registers(thread: Int) throws(BackendError) -> X86RegisterValues {
        guard let v = regs[thread] else { throw .noThread(thread) }
        return v
    }

    func readMemory(at address: UInt64, into buffer: UnsafeMutableRawBufferPointer, thread: Int, space: AddressSpace) -> Int {
        if space == .physical { physicalReads += 1 }
        var done = 0
        while done < buffer.count {
            let a = address &+ UInt64(done)
            guard let r = regions.first(where: { a >= $0.start && a < $0.start + UInt64($0.bytes.count) }) else { break }
            let off = Int(a - r.start)
            let n = min(buffer.count - done, r.bytes.count - off)
            for i in 0..<n { buffer[done + i] = r.bytes[off + i] }
            done += n
        }
        return done
    }

    func writeMemory(at address: UInt64, _ bytes: UnsafeRawBufferPointer, thread: Int, space: AddressSpace) throws(BackendError) {
        for (i, b) in bytes.enumerated() {
            let a = address + UInt64(i)
            guard let ri = regions.firstIndex(where: { a >= $0.start && a < $0.start + UInt64($0.bytes.count) }) else {
                throw .failed("no memory at 0x\(String(a, radix: 16))")
            }
            regions[ri].bytes[Int(a - regions[ri].start)] = b
        }
    }

    func writeRegister(thread: Int, _ register: X86Register, bytes: [UInt8]) throws(BackendError) {
        guard regs[thread] != nil else { throw .noThread(thread) }
        regs[thread]!.setBytes(register, bytes)
    }

    func resume(only thread: Int) throws(BackendError) {
        lastResume = (nil, false, thread)
        running = true
        stepping = nil
        interruptRequested = false
    }

    func resume(step: Int?, continueOthers: Bool) throws(BackendError) {
        lastResume = (step, continueOthers, nil)
        running = true
        stepping = step
        interruptRequested = false
    }

    func interrupt() { interruptRequested = true }

    /// Runs the toy CPU: thread 1 executes one-byte instructions from rip.
    func pollStop(timeoutMilliseconds: Int) -> StopEvent? {
        guard running else { return stopped }
        if let t = stepping {
            regs[t]![.rip] = regs[t]![.rip]! + 1
            running = false
            stopped = StopEvent(signal: 5, thread: t)
            return stopped
        }
        for _ in 0..<64 {
            let pc = regs[1]![.rip]! + 1
            regs[1]![.rip] = pc
            if swBreakpoints.contains(pc) {
                running = false
                stopped = StopEvent(signal: 5, thread: 1, reason: .softwareBreakpoint)
                return stopped
            }
            if hwBreakpoints.contains(pc) {
                running = false
                stopped = StopEvent(signal: 5, thread: 1, reason: .hardwareBreakpoint)
                return stopped
            }
        }
        if interruptRequested {
            // A Ctrl-C pauses the whole target: no particular thread (the
            // session reports the one the debugger selected).
            running = false
            stopped = StopEvent(signal: 2, thread: 1)
            return StopEvent(signal: 2, thread: 0)
        }
        return nil
    }

    func insertBreakpoint(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(BackendError) {
        switch kind {
        case .software: swBreakpoints.insert(address)
        case .hardware: hwBreakpoints.insert(address)
        default: throw .unsupported
        }
    }

    func removeBreakpoint(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(BackendError) {
        switch kind {
        case .software: swBreakpoints.remove(address)
        case .hardware: hwBreakpoints.remove(address)
        default: throw .unsupported
        }
    }

    func monitor(_ command: String, thread: Int) -> String? { command == "echo" ? "echo!\n" : nil }
    var monitorHelp: [String] { ["echo                 says echo!"] }
}

/// Plays gdb's side of the protocol against a session, in memory.
struct TestClient {
    let session: RemoteSession
    var noAck = false
    var acksSeen = 0

    init(_ backend: any Backend, options: RemoteSession.Options = .init()) {
        session = RemoteSession(backend: backend, options: options)
    }

    static func frame(_ payload: [UInt8]) -> [UInt8] {
        var sum: UInt8 = 0
        for b in payload { sum &+= b }
        let hex = Array("0123456789abcdef".utf8)
        return [UInt8(ascii: "$")] + payload + [UInt8(ascii: "#"), hex[Int(sum >> 4)], hex[Int(sum & 15)]]
    }

    /// Splits the session's output into packets (RLE expanded, checksums
    /// verified) and bare ack bytes, as gdb's reader does.
    static func parse(_ out: [UInt8]) -> (packets: [[UInt8]], acks: [UInt8]) {
        var packets: [[UInt8]] = [], acks: [UInt8] = []
        var i = 0
        while i < out.count {
            let c = out[i]
            if c == UInt8(ascii: "+") || c == UInt8(ascii: "-") { acks.append(c); i += 1; continue }
            precondition(c == UInt8(ascii: "$"), "junk in output at \(i): \(c)")
            var payload: [UInt8] = []
            var sum: UInt8 = 0
            i += 1
            while out[i] != UInt8(ascii: "#") {
                let b = out[i]
                sum &+= b
                if b == UInt8(ascii: "*") {
                    let n = out[i + 1]
                    sum &+= n
                    precondition(n != UInt8(ascii: "#") && n != UInt8(ascii: "$") && n >= 32 && n <= 126, "bad RLE count")
                    payload += repeatElement(payload.last!, count: Int(n) - 29)
                    i += 2
                    continue
                }
                payload.append(b)
                i += 1
            }
            let cs = UInt8(String(decoding: out[(i + 1)...(i + 2)], as: UTF8.self), radix: 16)!
            precondition(cs == sum, "checksum mismatch")
            packets.append(payload)
            i += 3
        }
        return (packets, acks)
    }

    /// Sends one packet, returns every reply packet it produced.
    mutating func exchangeAll(_ payload: [UInt8]) -> [[UInt8]] {
        session.receive(Self.frame(payload))
        let (packets, acks) = Self.parse(session.output)
        session.clearOutput()
        acksSeen += acks.count
        return packets
    }

    mutating func exchange(_ s: String) -> String {
        let r = exchangeAll(Array(s.utf8))
        return r.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "|")
    }

    /// Sends a resume packet and polls the running target until it stops.
    mutating func run(_ s: String) -> String {
        var r = exchange(s)
        var polls = 0
        while r.isEmpty && session.isRunning && polls < 1000 {
            session.pollTarget(timeoutMilliseconds: 0)
            r = TestClient.parse(session.output).packets.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "|")
            session.clearOutput()
            polls += 1
        }
        return r
    }

    mutating func exchangeBytes(_ s: String) -> [UInt8] { exchangeAll(Array(s.utf8)).last ?? [] }
}
