/// What the stub debugs: a dump, a core file, a live Xen guest. The protocol
/// engine (``RemoteSession``) only talks to this interface, so the same
/// protocol tests run against every backend.
///
/// Threads are numbered from 1 (gdb reserves 0 and -1). Backends are used from
/// one thread at a time (the session's), so they need not be thread-safe.
public protocol Backend: AnyObject {
    /// What this target can do beyond reading; the session refuses the rest.
    var capabilities: BackendCapabilities { get }
    /// Registers this target has (decides the target description).
    var layout: X86RegisterLayout { get }
    /// A target that is not x86-64 (aarch64) describes its registers here;
    /// the session then uses it and ``genericRegisters(thread:)`` instead of
    /// ``layout`` and ``registers(thread:)``. nil (the default): x86-64.
    var registerDescription: RegisterDescription? { get }
    /// Registers of one thread by the numbers of ``registerDescription``.
    func genericRegisters(thread: Int) throws(BackendError) -> RegisterValues
    /// The threads (vCPUs, or LWPs of a process core), in display order.
    func threads() -> [ThreadDescriptor]
    /// Why the target is stopped now (answer to `?`).
    func stopEvent() -> StopEvent
    /// Registers of one thread.
    func registers(thread: Int) throws(BackendError) -> X86RegisterValues
    /// Copies memory at `address` into `buffer`, using `thread`'s address
    /// space. Returns how many bytes from the start could be read (0 when the
    /// first byte is not readable); never throws, so the memory path stays
    /// allocation-free.
    func readMemory(at address: UInt64, into buffer: UnsafeMutableRawBufferPointer,
                    thread: Int, space: AddressSpace) -> Int

    /// Changes one register (only with ``BackendCapabilities/writeRegisters``).
    func writeRegister(thread: Int, _ register: X86Register, bytes: [UInt8]) throws(BackendError)
    /// Writes memory (only with ``BackendCapabilities/writeMemory``).
    func writeMemory(at address: UInt64, _ bytes: UnsafeRawBufferPointer, thread: Int,
                     space: AddressSpace) throws(BackendError)
    /// Starts running (only with ``BackendCapabilities/resume``): `step` lists
    /// threads to single-step, `run` whether the others run. Returns at once;
    /// the session then polls ``pollStop(timeoutMilliseconds:)``.
    func resume(step: Int?, continueOthers: Bool) throws(BackendError)
    /// Runs one thread while the others stay stopped (`vCont;c:N`, gdb's
    /// `set scheduler-locking on`). The default runs every thread.
    func resume(only thread: Int) throws(BackendError)
    /// Asks a running target to stop (Ctrl-C).
    func interrupt()
    /// Waits up to the timeout for a running target to stop.
    func pollStop(timeoutMilliseconds: Int) -> StopEvent?
    /// Inserts a breakpoint or watchpoint (only kinds listed in capabilities).
    func insertBreakpoint(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(BackendError)
    /// Removes what ``insertBreakpoint(_:at:length:)`` inserted (same kind, address and length).
    func removeBreakpoint(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(BackendError)
    /// Backend-specific `monitor` commands (`thread` is the selected one):
    /// returns output, or nil when unknown.
    func monitor(_ command: String, thread: Int) -> String?
    /// Help lines for the backend's own monitor commands.
    var monitorHelp: [String] { get }
    /// A debugger arrives: a live target stops (gdb expects a stopped target).
    func attach()
    /// The debugger left (detach, kill or disconnect): let a live target run on.
    func detach()
    /// Extra description for the `qXfer:auxv:read` object (process cores), or nil.
    var auxv: [UInt8]? { get }
    /// Relocation for `qOffsets` (e.g. a kernel's KASLR slide), or nil.
    var sectionOffsets: (text: UInt64, data: UInt64)? { get }
}

/// Default answers for read-only targets: every change is refused.
extension Backend {
    public var registerDescription: RegisterDescription? { nil }
    public func genericRegisters(thread: Int) throws(BackendError) -> RegisterValues { throw .unsupported }
    public func writeRegister(thread: Int, _ register: X86Register, bytes: [UInt8]) throws(BackendError) {
        throw .readOnly("registers cannot be changed")
    }
    public func writeMemory(at address: UInt64, _ bytes: UnsafeRawBufferPointer, thread: Int,
                            space: AddressSpace) throws(BackendError) {
        throw .readOnly("memory cannot be changed")
    }
    public func resume(step: Int?, continueOthers: Bool) throws(BackendError) {
        throw .readOnly("the target cannot run")
    }
    public func resume(only thread: Int) throws(BackendError) {
        try resume(step: nil, continueOthers: true)
    }
    public func interrupt() {}
    public func pollStop(timeoutMilliseconds: Int) -> StopEvent? { stopEvent() }
    public func insertBreakpoint(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(BackendError) {
        throw .unsupported
    }
    public func removeBreakpoint(_ kind: BreakpointKind, at address: UInt64, length: Int) throws(BackendError) {
        throw .unsupported
    }
    public func monitor(_ command: String, thread: Int) -> String? { nil }
    public func attach() {}
    public func detach() {}
    public var monitorHelp: [String] { [] }
    public var auxv: [UInt8]? { nil }
    public var sectionOffsets: (text: UInt64, data: UInt64)? { nil }
}

/// What a backend supports beyond reading registers and memory.
public struct BackendCapabilities: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// M/X packets (and software breakpoints planted in memory) change the target.
    public static let writeMemory = BackendCapabilities(rawValue: 1 << 0)
    /// P/G packets change the target's registers.
    public static let writeRegisters = BackendCapabilities(rawValue: 1 << 1)
    /// continue, interrupt (Ctrl-C)
    public static let resume = BackendCapabilities(rawValue: 1 << 2)
    public static let step = BackendCapabilities(rawValue: 1 << 3)
    /// Z0: the backend plants software breakpoints itself.
    public static let softwareBreakpoints = BackendCapabilities(rawValue: 1 << 4)
    /// Z1
    public static let hardwareBreakpoints = BackendCapabilities(rawValue: 1 << 5)
    /// Z2–Z4
    public static let watchpoints = BackendCapabilities(rawValue: 1 << 6)
    /// `monitor phys on`: addresses are guest-physical.
    public static let physicalMemory = BackendCapabilities(rawValue: 1 << 7)
}

/// How memory addresses from gdb are interpreted.
public enum AddressSpace: Sendable, Equatable {
    /// Through the selected thread's (vCPU's) page tables.
    case virtual
    /// Guest-physical addresses (`monitor phys on`).
    case physical
}

/// Z-packet types 0–4.
public enum BreakpointKind: Int, Sendable {
    case software = 0, hardware = 1, writeWatch = 2, readWatch = 3, accessWatch = 4
}

/// One thread as gdb lists it.
public struct ThreadDescriptor: Sendable, Equatable {
    /// Thread number (≥ 1) used in the protocol.
    public var id: Int
    /// Short name (`qXfer:threads:read`), e.g. "vcpu0".
    public var name: String
    /// Longer description (`qThreadExtraInfo`), e.g. "dom3 vcpu0 online".
    public var extraInfo: String
    /// Physical CPU it ran on, if known.
    public var core: Int?

    public init(id: Int, name: String, extraInfo: String, core: Int? = nil) {
        self.id = id; self.name = name; self.extraInfo = extraInfo; self.core = core
    }
}

/// Why the target stopped.
public struct StopEvent: Sendable, Equatable {
    /// Reason beyond the signal, reported with the negotiated stop-reason keys.
    public enum Reason: Sendable, Equatable {
        case none
        case softwareBreakpoint
        case hardwareBreakpoint
        case watch(kind: BreakpointKind, address: UInt64)
    }
    /// Signal number in gdb's numbering (5 = SIGTRAP, 2 = SIGINT, 11 = SIGSEGV).
    public var signal: UInt8
    /// The thread that stopped; 0 for "no particular thread" (a Ctrl-C
    /// pause of the whole target): the session then reports the thread the
    /// debugger had selected when it resumed.
    public var thread: Int
    public var reason: Reason

    public init(signal: UInt8, thread: Int, reason: Reason = .none) {
        self.signal = signal; self.thread = thread; self.reason = reason
    }
}

/// Errors a backend reports; the session turns them into `E` replies and a
/// console message.
public enum BackendError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The target cannot change (a dump): the text says what was refused.
    case readOnly(String)
    /// Not implemented by this backend (the session answers "unsupported").
    case unsupported
    /// No such thread.
    case noThread(Int)
    /// Any other failure, in words.
    case failed(String)

    public var description: String {
        switch self {
        case .readOnly(let s): return "read-only target: \(s)"
        case .unsupported: return "not supported by this target"
        case .noThread(let t): return "no thread \(t)"
        case .failed(let s): return s
        }
    }

    /// The errno-style code in the `E` reply.
    var code: UInt8 {
        switch self {
        case .readOnly: return 0x1e       // EROFS
        case .unsupported: return 0x26    // ENOSYS
        case .noThread: return 0x03       // ESRCH
        case .failed: return 0x05         // EIO
        }
    }
}
