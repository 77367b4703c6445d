/// The remote serial protocol engine for one debugger connection.
///
/// Transport-independent: feed it the bytes that arrive (``receive(_:)``) and
/// send what accumulates in ``output``; while the target runs, call
/// ``pollTarget(timeoutMilliseconds:)`` between reads so that stops (and
/// Ctrl-C) are reported. One session serves one connection; make a new one
/// (or call ``reset()``) for the next client.
public final class RemoteSession {
    /// Tunables of the protocol.
    public struct Options: Sendable {
        /// Largest packet we accept and advertise (`PacketSize`), in bytes.
        public var packetSize: Int = 0x20000
        /// Run-length encode replies.
        public var runLengthEncoding = true
        public init() {}
    }

    public let backend: any Backend
    public let options: Options
    /// Where console messages for the person running the stub go.
    private let log: (String) -> Void

    /// Bytes to send to the debugger; the transport empties it with ``clearOutput()``.
    public var output: [UInt8] { writer.bytes }
    /// True after `D` or `k`: the transport should close the connection.
    public private(set) var finished = false
    /// True while the target runs (after `c`/`s`/`vCont` until it stops).
    public private(set) var isRunning = false
    /// Packets handled (for tests and the benchmark).
    public private(set) var packetCount = 0
    /// Packets dropped because of a bad checksum or overflow.
    public private(set) var rejectedPackets = 0

    private var decoder: PacketDecoder
    private var writer = PacketWriter()
    private var lastReply: [UInt8] = []
    private var noAck = false
    private var generalThread = 0
    private var continueThread = 0
    /// The thread gdb had selected at the last resume (a Ctrl-C stop is reported on it).
    private var resumeThread = 1
    private var space = AddressSpace.virtual
    private var reportSwbreak = false
    private var reportHwbreak = false
    private var lastStop: StopEvent?
    private var registerCache: [Int: X86RegisterValues] = [:]
    /// Per thread: each register's bytes by gdb number (both architectures).
    private var byNumberCache: [Int: [[UInt8]?]] = [:]
    private var breakpoints: [(BreakpointKind, UInt64, Int)] = []
    private var threadListCache: [ThreadDescriptor]?
    private var xferCache: (annex: String, data: [UInt8])?
    private let scratch: UnsafeMutableRawBufferPointer

    public init(backend: any Backend, options: Options = Options(), log: @escaping (String) -> Void = { _ in }) {
        self.backend = backend
        self.options = options
        self.log = log
        decoder = PacketDecoder(maxPayload: options.packetSize)
        writer.runLengthEncoding = options.runLengthEncoding
        scratch = .allocate(byteCount: options.packetSize, alignment: 16)
    }

    deinit { scratch.deallocate() }

    /// Back to the state of a fresh connection (acks on, no thread selected),
    /// for the next debugger: breakpoints an old client left are removed and
    /// the backend is told a debugger arrives (a live target pauses again).
    public func reset() {
        removeBreakpoints()
        decoder.reset()
        writer.clear()
        lastReply.removeAll(keepingCapacity: true)
        noAck = false
        generalThread = 0; continueThread = 0
        space = .virtual
        reportSwbreak = false; reportHwbreak = false
        finished = false
        isRunning = false
        packetCount = 0
        rejectedPackets = 0
        registerCache.removeAll(); byNumberCache.removeAll()
        threadListCache = nil
        xferCache = nil
        lastStop = nil
        backend.attach()
    }

    /// The connection went away (or the debugger detached): remove the
    /// client's breakpoints and let a live target run on.
    public func disconnected() {
        removeBreakpoints()
        backend.detach()
    }

    private func removeBreakpoints() {
        for (k, a, l) in breakpoints { try? backend.removeBreakpoint(k, at: a, length: l) }
        breakpoints.removeAll()
    }

    /// Forgets bytes the transport has sent.
    public func clearOutput() { writer.clear() }

    /// Hands the pending output to `body` (e.g. a socket write) and clears it.
    /// Use this on the hot path: holding a copy of ``output`` while clearing
    /// would force the buffer to be copied (copy-on-write).
    public func drainOutput<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        let r = writer.withBytes(body)
        writer.clear()
        return r
    }

    /// Processes bytes received from the debugger.
    public func receive(_ bytes: UnsafeRawBufferPointer) {
        for b in bytes {
            guard let event = decoder.feed(b) else { continue }
            switch event {
            case .packet:
                packetCount += 1
                if !noAck { writer.ack(true) }
                handlePacket()
            case .badChecksum, .overflow:
                rejectedPackets += 1
                log("dropped a packet: \(event)")
                if !noAck { writer.ack(false) }
            case .ack:
                break
            case .nak:
                // The debugger asks for the last reply again.
                if !noAck, !lastReply.isEmpty { for c in lastReply { writer.append(byte: c) } }
            case .interrupt:
                if isRunning { backend.interrupt() }
            }
            if finished { return }
        }
    }

    /// Convenience for tests: feeds a byte array.
    public func receive(_ bytes: [UInt8]) { bytes.withUnsafeBytes { receive($0) } }

    /// While running: waits up to the timeout for the target to stop and then
    /// sends the stop reply.
    public func pollTarget(timeoutMilliseconds: Int) {
        guard isRunning else { return }
        if let ev = backend.pollStop(timeoutMilliseconds: timeoutMilliseconds) {
            isRunning = false
            registerCache.removeAll(); byNumberCache.removeAll()
            var ev = ev
            if ev.thread == 0 { ev.thread = resumeThread }
            lastStop = ev
            generalThread = ev.thread
            reply { stopReply(ev) }
        }
    }

    // MARK: - replies

    /// Writes one reply packet (and keeps a copy for retransmission).
    private func reply(_ body: () -> Void) {
        let at = writer.bytes.count
        writer.begin()
        body()
        writer.finish()
        if !noAck {
            lastReply.removeAll(keepingCapacity: true)
            lastReply.append(contentsOf: writer.bytes[at...])
        }
    }
    private func reply(_ s: String) { reply { writer.append(s) } }
    private func replyError(_ code: UInt8) { reply("E" + String(format2: code)) }
    private func replyError(_ e: BackendError, what: String) {
        if case .unsupported = e { reply(""); return }
        log("\(what): \(e)")
        replyError(e.code)
    }
    /// Console output shown by gdb (only valid while gdb waits for a stop or a monitor reply).
    private func console(_ text: String) { reply("O" + Hex.encode(text)) }

    // MARK: - dispatch

    private func handlePacket() {
        let p = decoder.payload
        guard let first = p.first else { reply(""); return }
        switch first {
        case UInt8(ascii: "?"): reply { stopReply(currentStop) }
        case UInt8(ascii: "g"): readAllRegisters()
        case UInt8(ascii: "G"): writeAllRegisters(p.dropFirst())
        case UInt8(ascii: "p"): readRegister(p.dropFirst())
        case UInt8(ascii: "P"): writeRegister(p.dropFirst())
        case UInt8(ascii: "m"): readMemory(p, binary: false)
        case UInt8(ascii: "x"): readMemory(p, binary: true)
        case UInt8(ascii: "M"): writeMemory(p, binary: false)
        case UInt8(ascii: "X"): writeMemory(p, binary: true)
        case UInt8(ascii: "c"), UInt8(ascii: "C"): resume(step: nil, continueOthers: true, thread: selectedThread(generalThread))
        case UInt8(ascii: "s"), UInt8(ascii: "S"): resume(step: selectedThread(continueThread), continueOthers: false, thread: selectedThread(continueThread))
        case UInt8(ascii: "H"): setThread(p)
        case UInt8(ascii: "T"): threadAlive(p.dropFirst())
        case UInt8(ascii: "Z"), UInt8(ascii: "z"): breakpoint(p)
        case UInt8(ascii: "D"):
            reply("OK"); detach()
        case UInt8(ascii: "k"):
            detach()
        default:
            let text = String(decoding: p, as: UTF8.self)
            if first == UInt8(ascii: "q") || first == UInt8(ascii: "Q") { query(text) }
            else if first == UInt8(ascii: "v") { vPacket(text) }
            else { reply("") }
        }
    }

    private func detach() {
        disconnected()
        finished = true
    }

    // MARK: - threads

    private var threadList: [ThreadDescriptor] {
        if let t = threadListCache { return t }
        let t = backend.threads()
        threadListCache = t
        return t
    }

    private var currentStop: StopEvent {
        if let s = lastStop { return s }
        let s = backend.stopEvent()
        lastStop = s
        return s
    }

    /// The thread a packet applies to: the selected one, or the stopped one.
    private func selectedThread(_ selection: Int) -> Int {
        if selection > 0 { return selection }
        return currentStop.thread
    }

    /// Parses a thread-id (`tid`, `-1`, `0`, `pP.T`); -1 means all.
    private func parseThreadID(_ s: Substring) -> Int? {
        var s = s
        if s.hasPrefix("p"), let dot = s.firstIndex(of: ".") { s = s[s.index(after: dot)...] }
        if s == "-1" { return -1 }
        guard let v = UInt64(s, radix: 16), v < UInt64(Int32.max) else { return nil }
        return Int(v)
    }

    private func setThread(_ p: [UInt8]) {
        let text = String(decoding: p, as: UTF8.self)
        guard text.count >= 3, let tid = parseThreadID(text.dropFirst(2)) else { replyError(0x16); return }
        if tid > 0, !threadList.contains(where: { $0.id == tid }) { replyError(0x03); return }
        let which = text.dropFirst().first
        if which == "g" { generalThread = max(tid, 0) }
        else if which == "c" { continueThread = max(tid, 0) }
        else { replyError(0x16); return }
        reply("OK")
    }

    private func threadAlive(_ p: ArraySlice<UInt8>) {
        guard let tid = parseThreadID(Substring(String(decoding: p, as: UTF8.self))),
              threadList.contains(where: { $0.id == tid }) else { replyError(0x03); return }
        reply("OK")
    }

    // MARK: - registers

    private func values(_ thread: Int) throws(BackendError) -> X86RegisterValues {
        if let v = registerCache[thread] { return v }
        let v = try backend.registers(thread: thread)
        registerCache[thread] = v
        return v
    }

    /// Register sizes in `g` order, whatever the architecture.
    private var registerSizes: [Int] {
        if let d = backend.registerDescription { return d.registers.map(\.size) }
        return backend.layout.registers.map(\.size)
    }

    /// Each register's bytes by gdb number (nil: unavailable).
    private func numbered(_ thread: Int) throws(BackendError) -> [[UInt8]?] {
        if let c = byNumberCache[thread] { return c }
        let out: [[UInt8]?]
        if backend.registerDescription != nil {
            out = try backend.genericRegisters(thread: thread).bytes
        } else {
            let v = try values(thread)
            out = backend.layout.registers.map { r in v.bytes(r).map(Array.init) }
        }
        byNumberCache[thread] = out
        return out
    }

    private func appendRegister(_ b: [UInt8]?, size: Int) {
        if let b, b.count == size { b.withUnsafeBytes { writer.appendHex($0) } }
        else { writer.appendUnavailable(size) }
    }

    private func readAllRegisters() {
        let v: [[UInt8]?]
        do { v = try numbered(selectedThread(generalThread)) } catch { replyError(error, what: "read registers"); return }
        let sizes = registerSizes
        reply { for (n, size) in sizes.enumerated() { appendRegister(n < v.count ? v[n] : nil, size: size) } }
    }

    private func readRegister(_ p: ArraySlice<UInt8>) {
        let sizes = registerSizes
        guard let n = Hex.parse(p), n < sizes.count else { replyError(0x16); return }
        let v: [[UInt8]?]
        do { v = try numbered(selectedThread(generalThread)) } catch { replyError(error, what: "read register"); return }
        reply { appendRegister(Int(n) < v.count ? v[Int(n)] : nil, size: sizes[Int(n)]) }
    }

    private func writeRegister(_ p: ArraySlice<UInt8>) {
        guard backend.registerDescription == nil else { refuse("registers cannot be changed"); return }
        guard let eq = p.firstIndex(of: UInt8(ascii: "=")), let n = Hex.parse(p[p.startIndex..<eq]),
              n < backend.layout.registers.count, let bytes = Hex.decode(p[(eq + 1)...]) else { replyError(0x16); return }
        let r = backend.layout.registers[Int(n)]
        guard bytes.count == r.size else { replyError(0x16); return }
        guard backend.capabilities.contains(.writeRegisters) else { refuse("register \(r.name) cannot be changed"); return }
        let t = selectedThread(generalThread)
        do { try backend.writeRegister(thread: t, r, bytes: bytes) } catch { replyError(error, what: "write \(r.name)"); return }
        registerCache[t] = nil; byNumberCache[t] = nil
        reply("OK")
    }

    private func writeAllRegisters(_ p: ArraySlice<UInt8>) {
        guard backend.registerDescription == nil else { refuse("registers cannot be changed"); return }
        let layout = backend.layout
        guard p.count == layout.size * 2 else { replyError(0x16); return }
        guard backend.capabilities.contains(.writeRegisters) else { refuse("registers cannot be changed"); return }
        let t = selectedThread(generalThread)
        let old = try? values(t)
        var at = p.startIndex
        for r in layout.registers {
            let field = p[at..<at + 2 * r.size]
            at += 2 * r.size
            guard let bytes = Hex.decode(field) else { continue }   // "xx": leave as is
            if let old, let cur = old.bytes(r), Array(cur) == bytes { continue }
            do { try backend.writeRegister(thread: t, r, bytes: bytes) } catch { replyError(error, what: "write \(r.name)"); return }
        }
        registerCache[t] = nil; byNumberCache[t] = nil
        reply("OK")
    }

    // MARK: - memory

    /// Parses "addr,len" starting after the packet letter; returns the index after len.
    private func addressAndLength(_ p: [UInt8]) -> (UInt64, Int, Int)? {
        guard let comma = p.firstIndex(of: UInt8(ascii: ",")) else { return nil }
        var end = comma + 1
        while end < p.count, p[end] != UInt8(ascii: ":") { end += 1 }
        guard let a = Hex.parse(p[1..<comma]), let l = Hex.parse(p[(comma + 1)..<end]), l <= UInt64(Int32.max) else { return nil }
        return (a, Int(l), end)
    }

    private func readMemory(_ p: [UInt8], binary: Bool) {
        guard let (address, requested, _) = addressAndLength(p) else { replyError(0x16); return }
        // gdb asks for PacketSize/2 bytes per `m` (its hex reply is then one
        // PacketSize long, and gdb's reply buffer grows to fit): serve exactly
        // that, so reads stay aligned. Binary replies escape at most 2x.
        let limit = options.packetSize / 2
        let length = min(requested, limit, scratch.count)
        if length == 0 { reply(binary ? "b" : ""); return }
        let region = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<length])
        let got = backend.readMemory(at: address, into: region, thread: selectedThread(generalThread), space: space)
        if got <= 0 { replyError(0x0e); return }  // EFAULT: nothing readable there
        let data = UnsafeRawBufferPointer(rebasing: scratch[0..<min(got, length)])
        reply {
            if binary { writer.append(byte: UInt8(ascii: "b")); writer.appendBinary(data) }
            else { writer.appendHex(data) }
        }
    }

    private func writeMemory(_ p: [UInt8], binary: Bool) {
        guard let (address, length, colon) = addressAndLength(p), colon < p.count else { replyError(0x16); return }
        var data: [UInt8]
        if binary {
            data = []
            data.reserveCapacity(length)
            var i = colon + 1
            while i < p.count {
                if p[i] == 0x7d, i + 1 < p.count { data.append(p[i + 1] ^ 0x20); i += 2 }
                else { data.append(p[i]); i += 1 }
            }
        } else {
            guard let d = Hex.decode(p[(colon + 1)...]) else { replyError(0x16); return }
            data = d
        }
        guard data.count == length else { replyError(0x16); return }
        guard backend.capabilities.contains(.writeMemory) else { refuse("memory cannot be changed"); return }
        if length == 0 { reply("OK"); return }
        let thread = selectedThread(generalThread)
        var failure: BackendError?
        data.withUnsafeBytes { b in
            do { try backend.writeMemory(at: address, b, thread: thread, space: space) } catch let e as BackendError { failure = e } catch { failure = .failed("\(error)") }
        }
        if let failure { replyError(failure, what: "write memory at 0x\(String(address, radix: 16))"); return }
        reply("OK")
    }

    /// Refuses a change on a read-only target: E reply plus a message here.
    private func refuse(_ what: String) {
        log("refused: \(what) (read-only target)")
        replyError(0x1e)
    }

    // MARK: - run control

    /// `only`: run just that thread (`vCont;c:N`); `thread`: the one gdb
    /// has selected, reported when a Ctrl-C stops no particular thread.
    private func resume(step: Int?, continueOthers: Bool, only: Int? = nil, thread: Int) {
        let caps = backend.capabilities
        // A live target that runs but cannot step says why itself (resume throws).
        let allowed = step == nil ? caps.contains(.resume) : caps.contains(.step) || caps.contains(.resume)
        guard allowed else {
            let what = step == nil ? "continue" : "single-step"
            log("refused: \(what) (the target cannot run)")
            console("xenscope: the target is a read-only snapshot (core file or dump): \(what) is not possible\n")
            replyError(0x1e)
            return
        }
        do {
            if let only { try backend.resume(only: only) } else { try backend.resume(step: step, continueOthers: continueOthers) }
        } catch {
            console("xenscope: cannot resume: \(error)\n")
            replyError(error.code)
            return
        }
        registerCache.removeAll(); byNumberCache.removeAll()
        threadListCache = nil
        resumeThread = thread
        isRunning = true
        pollTarget(timeoutMilliseconds: 0)
    }

    /// Per-thread actions: `s:N` steps N; `c` (no thread or -1) runs every
    /// other thread; `c:N` runs N; threads without an action stay stopped
    /// (gdb's scheduler-locking). One stepped thread at a time.
    private func vCont(_ text: String) {
        var step: Int?
        var continueAll = false
        var continued: [Int] = []
        for action in text.split(separator: ";").dropFirst() {
            // Empty pieces kept: an action of just ":" (no verb) is refused
            // below, not an index past an empty split (a crash, found by fuzz-gdbstub).
            let parts = action.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            let verb = parts[0].first
            let tid = parts.count > 1 ? parseThreadID(parts[1]) : -1
            switch verb {
            case "s", "S":
                if step == nil { step = (tid ?? -1) > 0 ? tid! : selectedThread(continueThread) }
            case "c", "C":
                if let tid, tid > 0 { if tid != step { continued.append(tid) } } else { continueAll = true }
            case "t":
                continue
            default:
                reply(""); return
            }
        }
        if let step {
            resume(step: step, continueOthers: continueAll || !continued.isEmpty, thread: step)
        } else if !continueAll, continued.count == 1 {
            resume(step: nil, continueOthers: false, only: continued[0], thread: continued[0])
        } else {
            resume(step: nil, continueOthers: true, thread: selectedThread(generalThread))
        }
    }

    // MARK: - breakpoints

    private func breakpoint(_ p: [UInt8]) {
        let insert = p[0] == UInt8(ascii: "Z")
        let fields = p.dropFirst().split(separator: UInt8(ascii: ","), maxSplits: 2)
        guard fields.count == 3, let type = Hex.parse(fields[0]), let kind = BreakpointKind(rawValue: Int(type)),
              let address = Hex.parse(fields[1]),
              let length = Hex.parse(fields[2].prefix { $0 != UInt8(ascii: ";") }) else { replyError(0x16); return }
        let caps = backend.capabilities
        let supported: Bool
        switch kind {
        case .software: supported = caps.contains(.softwareBreakpoints)
        case .hardware: supported = caps.contains(.hardwareBreakpoints)
        default: supported = caps.contains(.watchpoints)
        }
        guard supported else {
            // A running target without its own breakpoints: let gdb write int3 itself.
            if kind == .software, caps.contains(.writeMemory) { reply(""); return }
            if caps.contains(.resume) || kind != .software { reply(""); return }
            refuse("breakpoints cannot be planted")
            return
        }
        do {
            if insert {
                try backend.insertBreakpoint(kind, at: address, length: Int(length))
                breakpoints.append((kind, address, Int(length)))
            } else {
                try backend.removeBreakpoint(kind, at: address, length: Int(length))
                if let i = breakpoints.firstIndex(where: { $0.0 == kind && $0.1 == address }) { breakpoints.remove(at: i) }
            }
        } catch { replyError(error, what: insert ? "insert breakpoint" : "remove breakpoint"); return }
        reply("OK")
    }

    // MARK: - stop replies

    private func stopReply(_ ev: StopEvent) {
        writer.append("T" + String(format2: ev.signal))
        writer.append("thread:\(Hex.number(UInt64(ev.thread)));")
        if let core = threadList.first(where: { $0.id == ev.thread })?.core { writer.append("core:\(Hex.number(UInt64(core)));") }
        if let v = try? numbered(ev.thread) {
            let expedited = backend.registerDescription?.expedited
                ?? [X86Register.rbp, .rsp, .rip].compactMap { backend.layout.number(of: $0) }
            for n in expedited {
                guard n < v.count, let b = v[n] else { continue }
                writer.append(String(format2: UInt8(n)) + ":")
                b.withUnsafeBytes { writer.appendHex($0) }
                writer.append(";")
            }
        }
        switch ev.reason {
        case .none: break
        case .softwareBreakpoint: if reportSwbreak { writer.append("swbreak:;") }
        case .hardwareBreakpoint: if reportHwbreak { writer.append("hwbreak:;") }
        case .watch(let kind, let address):
            let key = kind == .readWatch ? "rwatch" : kind == .accessWatch ? "awatch" : "watch"
            writer.append("\(key):\(Hex.number(address));")
        }
    }

    // MARK: - queries

    private func query(_ text: String) {
        if text.hasPrefix("qSupported") { supported(text); return }
        if text == "QStartNoAckMode" { reply("OK"); noAck = true; return }
        if text == "qC" { reply("QC" + Hex.number(UInt64(selectedThread(generalThread)))); return }
        if text == "qfThreadInfo" {
            threadListCache = nil
            reply("m" + threadList.map { Hex.number(UInt64($0.id)) }.joined(separator: ",")); return
        }
        if text == "qsThreadInfo" { reply("l"); return }
        if text.hasPrefix("qThreadExtraInfo,") {
            guard let tid = parseThreadID(text.dropFirst("qThreadExtraInfo,".count)),
                  let t = threadList.first(where: { $0.id == tid }) else { replyError(0x03); return }
            reply(Hex.encode(t.extraInfo)); return
        }
        if text.hasPrefix("qAttached") { reply("1"); return }
        if text == "qOffsets" {
            if let o = backend.sectionOffsets { reply("Text=\(Hex.number(o.text));Data=\(Hex.number(o.data));Bss=\(Hex.number(o.data))") }
            else { reply("") }
            return
        }
        if text.hasPrefix("qSymbol:") { reply("OK"); return }
        if text.hasPrefix("qRcmd,") { monitor(text.dropFirst("qRcmd,".count)); return }
        if text.hasPrefix("qXfer:") { xfer(text); return }
        reply("")   // qTStatus, QNonStop, qGetTLSAddr, …: not supported
    }

    private func supported(_ text: String) {
        let theirs = text.split(separator: ":", maxSplits: 1).dropFirst().first?.split(separator: ";") ?? []
        reportSwbreak = theirs.contains("swbreak+")
        reportHwbreak = theirs.contains("hwbreak+")
        let caps = backend.capabilities
        var f = ["PacketSize=\(Hex.number(UInt64(options.packetSize)))", "QStartNoAckMode+",
                 "qXfer:features:read+", "qXfer:threads:read+", "vContSupported+"]
        if backend.auxv != nil { f.append("qXfer:auxv:read+") }
        if caps.contains(.softwareBreakpoints) && reportSwbreak { f.append("swbreak+") }
        if caps.contains(.hardwareBreakpoints) && reportHwbreak { f.append("hwbreak+") }
        reply(f.joined(separator: ";"))
    }

    private func vPacket(_ text: String) {
        if text == "vCont?" {
            let caps = backend.capabilities
            // Read-only targets still list c/s so that gdb asks, and we can
            // say clearly why it is refused.
            _ = caps
            reply("vCont;c;C;s;S;t")
            return
        }
        if text.hasPrefix("vCont;") { vCont(text); return }
        if text.hasPrefix("vKill") { reply("OK"); detach(); return }
        reply("")   // vMustReplyEmpty and everything unknown
    }

    /// `qXfer:object:read:annex:offset,length`.
    private func xfer(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[2] == "read" else { reply(""); return }
        let object = parts[1], annex = String(parts[3])
        let range = parts[4].split(separator: ",")
        guard range.count == 2, let off = Int(range[0], radix: 16), let len = Int(range[1], radix: 16) else { replyError(0x16); return }
        let key = "\(object):\(annex)"
        let data: [UInt8]
        if off > 0, let c = xferCache, c.annex == key { data = c.data }
        else {
            switch object {
            case "features":
                guard annex == "target.xml" else { replyError(0x00); return }
                data = Array((backend.registerDescription?.targetXML ?? backend.layout.targetXML).utf8)
            case "threads":
                threadListCache = nil
                data = Array(threadsXML().utf8)
            case "auxv":
                guard let a = backend.auxv else { reply(""); return }
                data = a
            default:
                reply(""); return
            }
            xferCache = (key, data)
        }
        let start = min(off, data.count)
        let end = min(data.count, start + min(len, (options.packetSize - 8) / 2))
        reply {
            writer.append(byte: end < data.count ? UInt8(ascii: "m") : UInt8(ascii: "l"))
            data[start..<end].withUnsafeBytes { writer.appendBinary($0) }
        }
    }

    private func threadsXML() -> String {
        var x = "<?xml version=\"1.0\"?>\n<threads>\n"
        for t in threadList {
            x += "<thread id=\"\(Hex.number(UInt64(t.id)))\" name=\"\(xmlEscape(t.name))\""
            if let c = t.core { x += " core=\"\(c)\"" }
            x += ">\(xmlEscape(t.extraInfo))</thread>\n"
        }
        return x + "</threads>\n"
    }

    // MARK: - monitor

    private func monitor(_ hex: Substring) {
        guard let bytes = Hex.decode(hex.utf8) else { replyError(0x16); return }
        let command = String(decoding: bytes, as: UTF8.self).trimmingSpaces()
        let out = monitorOutput(command)
        // Chunks well below the packet size, each an `O` packet, then OK.
        var rest = Substring(out)
        while !rest.isEmpty {
            let chunk = rest.prefix(4096)
            console(String(chunk))
            rest = rest.dropFirst(chunk.count)
        }
        reply("OK")
    }

    private func monitorOutput(_ command: String) -> String {
        let words = command.split(separator: " ")
        switch words.first {
        case nil, "help":
            var lines = ["xenscope gdbstub monitor commands:",
                         "  help                 this list",
                         "  info vcpus           threads (vCPUs) with state, rip, rsp and cr3"]
            if backend.capabilities.contains(.physicalMemory) {
                lines.append("  phys on|off          memory addresses are guest-physical / virtual (now: \(space == .physical ? "on" : "off"))")
            }
            lines += backend.monitorHelp.map { "  " + $0 }
            return lines.joined(separator: "\n") + "\n"
        case "info" where words.count == 2 && (words[1] == "vcpus" || words[1] == "threads"):
            return vcpuTable()
        case "phys" where backend.capabilities.contains(.physicalMemory):
            if words.count == 2, words[1] == "on" { space = .physical }
            else if words.count == 2, words[1] == "off" { space = .virtual }
            else if words.count != 1 { return "usage: monitor phys on|off\n" }
            return "memory addresses are \(space == .physical ? "guest-physical" : "virtual (through the vCPU's page tables)")\n"
        default:
            if let out = backend.monitor(command, thread: selectedThread(generalThread)) { return out }
            return "unknown monitor command '\(command)'; try 'monitor help'\n"
        }
    }

    private func vcpuTable() -> String {
        if let d = backend.registerDescription { return vcpuTable(d) }
        var s = "thread  " + "name".padding(14) + "rip".padding(20) + "rsp".padding(20) + "cr3".padding(20) + "description\n"
        for t in threadList {
            let v = try? values(t.id)
            func hex(_ r: X86Register) -> String {
                guard let x = v?[r] else { return "-".padding(20) }
                return ("0x" + String(x, radix: 16).leftPadded(16)).padding(20)
            }
            let mark = t.id == selectedThread(generalThread) ? "*" : " "
            s += mark + String(t.id).padding(7) + t.name.padding(14) + hex(.rip) + hex(.rsp) + hex(.cr3) + t.extraInfo + "\n"
        }
        return s
    }
}

extension RemoteSession {
    /// `monitor info vcpus` for a generic description: its table columns.
    fileprivate func vcpuTable(_ d: RegisterDescription) -> String {
        var s = "thread  " + "name".padding(14) + d.tableColumns.map { $0.name.padding(20) }.joined() + "description\n"
        let current = selectedThread(generalThread)
        for t in threadList {
            let v = try? numbered(t.id)
            var line = (t.id == current ? "*" : " ") + String(t.id).padding(7) + t.name.padding(14)
            for c in d.tableColumns {
                var x: UInt64?
                if let v, c.number < v.count, let b = v[c.number] {
                    x = b.prefix(8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                }
                line += x.map { ("0x" + String($0, radix: 16).leftPadded(16)).padding(20) } ?? "-".padding(20)
            }
            s += line + t.extraInfo + "\n"
        }
        return s
    }
}

// MARK: - small string helpers (no Foundation in library targets)

extension String {
    /// Two lower-case hex digits.
    init(format2 v: UInt8) { self = String(decoding: [Hex.digit(v >> 4), Hex.digit(v & 15)], as: UTF8.self) }
    func padding(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
    func trimmingSpaces() -> String {
        let s = drop { $0 == " " || $0 == "\n" || $0 == "\t" }
        return String(s.reversed().drop { $0 == " " || $0 == "\n" || $0 == "\t" }.reversed())
    }
}

func xmlEscape(_ s: String) -> String {
    var o = ""
    for c in s {
        switch c {
        case "&": o += "&amp;"
        case "<": o += "&lt;"
        case ">": o += "&gt;"
        case "\"": o += "&quot;"
        default: o.append(c)
        }
    }
    return o
}
