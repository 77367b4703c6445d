import XenTrace

/// Writes a Chrome trace-event JSON file (opens in ui.perfetto.dev and
/// chrome://tracing): one track per pCPU with the vCPU running on it, one
/// track per vCPU with its VMEXIT slices (named by exit reason), instant
/// events for interrupts and lost records, and a counter of runnable vCPUs.
/// Timestamps are microseconds since the trace's first timestamp;
/// `otherData` records the clock and rate used (``TraceClock``).
public final class ChromeTraceExporter: TimelineSink {
    private let out: BufferedOutput
    private let hz: Double
    private var first: UInt64 = 0
    private var vcpuTracks: [Int: Int] = [:]     // dom<<16|vcpu → tid
    private var needComma = false
    /// Events written, by kind (for tests and the CLI's report).
    public private(set) var slices = 0, exitSlices = 0, instants = 0, counters = 0

    static let pcpuPid = 1, vcpuPid = 2

    public convenience init(path: String, cpuHz: Double) throws {
        try self.init(path: path, clock: TraceClock(kind: .unknown, hz: cpuHz, hzSource: "default"))
    }

    public init(path: String, clock: TraceClock) throws {
        out = try BufferedOutput(path: path)
        hz = clock.hz
        out.write("{\"displayTimeUnit\":\"ns\",\"otherData\":{\"generator\":\"xenscope trace export\",\"cpu_hz\":\(fmt(clock.hz, 0)),\(clock.jsonFields)},\"traceEvents\":[\n")
    }

    /// Microseconds from `a` to `b`; negative when `b` is earlier (a damaged
    /// trace can place a record before the first one), never a wrapped UInt64.
    private func micros(_ a: UInt64, _ b: UInt64) -> String {
        fmt((b >= a ? Double(b - a) : -Double(a - b)) * 1e6 / hz, 3)
    }
    private func ts(_ tsc: UInt64) -> String { micros(first, tsc) }
    private func dur(_ a: UInt64, _ b: UInt64) -> String { micros(a, b) }
    private func emit(_ s: String) {
        if needComma { out.write(",\n") }
        out.write(s)
        needComma = true
    }

    public func begin(firstTSC: UInt64, cpus: [Int]) {
        first = firstTSC
        emit("{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":\(Self.pcpuPid),\"args\":{\"name\":\"Physical CPUs\"}}")
        emit("{\"ph\":\"M\",\"name\":\"process_sort_index\",\"pid\":\(Self.pcpuPid),\"args\":{\"sort_index\":0}}")
        emit("{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":\(Self.vcpuPid),\"args\":{\"name\":\"vCPUs (VMEXITs)\"}}")
        emit("{\"ph\":\"M\",\"name\":\"process_sort_index\",\"pid\":\(Self.vcpuPid),\"args\":{\"sort_index\":1}}")
        for c in cpus {
            emit("{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":\(Self.pcpuPid),\"tid\":\(c),\"args\":{\"name\":\"pCPU \(c)\"}}")
            emit("{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":\(Self.pcpuPid),\"tid\":\(c),\"args\":{\"sort_index\":\(c)}}")
        }
    }

    public func record(_ r: TraceRecord) {}

    public func runstate(dom: Int, vcpu: Int, pcpu: Int, state: Int, start: UInt64, end: UInt64) {
        guard state == 0, pcpu >= 0 else { return }
        let name = dom == 32767 ? "idle" : "d\(dom)v\(vcpu)"
        emit("{\"ph\":\"X\",\"pid\":\(Self.pcpuPid),\"tid\":\(pcpu),\"name\":\"\(name)\",\"cat\":\"\(dom == 32767 ? "idle" : "running")\",\"ts\":\(ts(start)),\"dur\":\(dur(start, end)),\"args\":{\"domain\":\(dom),\"vcpu\":\(vcpu)}}")
        slices += 1
    }

    public func vmexit(dom: Int, vcpu: Int, pcpu: Int, reason: Int, name: String, rip: UInt64, start: UInt64, end: UInt64) {
        let key = dom << 16 | vcpu
        let tid: Int
        if let t = vcpuTracks[key] { tid = t } else {
            tid = key
            vcpuTracks[key] = tid
            emit("{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":\(Self.vcpuPid),\"tid\":\(tid),\"args\":{\"name\":\"d\(dom)v\(vcpu)\"}}")
            emit("{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":\(Self.vcpuPid),\"tid\":\(tid),\"args\":{\"sort_index\":\(key)}}")
        }
        emit("{\"ph\":\"X\",\"pid\":\(Self.vcpuPid),\"tid\":\(tid),\"name\":\"\(name)\",\"cat\":\"vmexit\",\"ts\":\(ts(start)),\"dur\":\(dur(start, end)),\"args\":{\"reason\":\(reason),\"rip\":\"0x\(String(rip, radix: 16))\",\"pcpu\":\(pcpu)}}")
        exitSlices += 1
    }

    public func irq(cpu: Int, tsc: UInt64, vector: Int) {
        emit("{\"ph\":\"i\",\"s\":\"t\",\"pid\":\(Self.pcpuPid),\"tid\":\(cpu),\"name\":\"irq vector \(vector)\",\"cat\":\"irq\",\"ts\":\(ts(tsc))}")
        instants += 1
    }

    public func lost(cpu: Int, tsc: UInt64, firstTSC: UInt64, count: Int) {
        emit("{\"ph\":\"i\",\"s\":\"p\",\"pid\":\(Self.pcpuPid),\"tid\":\(cpu),\"name\":\"\(count) records lost\",\"cat\":\"lost\",\"ts\":\(ts(tsc)),\"args\":{\"first_lost_us\":\(ts(firstTSC))}}")
        instants += 1
    }

    public func runnable(tsc: UInt64, count: Int) {
        emit("{\"ph\":\"C\",\"pid\":\(Self.pcpuPid),\"name\":\"runnable vCPUs\",\"ts\":\(ts(tsc)),\"args\":{\"runnable\":\(count)}}")
        counters += 1
    }

    public func end() throws {
        out.write("\n]}\n")
        try out.close()
    }
}
