#if canImport(Glibc)
import Glibc
#endif
import BinaryIO

/// Writes deterministic, realistic xentrace files of any size: the scale and
/// benchmark input, and a reader test with exact expected counts.
///
/// It simulates a host: `cpus` physical CPUs, `domains` domains (domain 0 is a
/// PV dom0; the others are HVM or PV guests with 1–4 vCPUs), a scheduler
/// (credit or credit2 event vocabulary) with one run queue, vCPUs that run,
/// block and wake (a vCPU runs on at most one pCPU at a time), HVM exit/entry
/// pairs with VMX exit reasons, RIPs and TSC-less handler records, PV
/// hypercalls and page faults, IRQs, and C-/P-state events on idle CPUs.
/// Records go into one Xen-like ring per CPU (wrap records where a record
/// does not fit before the ring's end, LOST_RECORDS after the ring was full);
/// a simulated `xentrace` drains the rings every poll interval into per-CPU
/// windows, and now and then stalls, so records are lost. Event order follows
/// Xen's (docs/trace-format.md): BLOCK → INFPREV → INFNEXT → SWITCH →
/// runstate prev → runstate next.
public struct TraceSynthesizer {
    /// Which scheduler's private events to write.
    public enum Scheduler: String, Sendable, CaseIterable {
        case credit, credit2
    }

    /// What to generate.
    public struct Options: Sendable {
        /// Stop once this many bytes are written (the last drain may add up to
        /// one ring per CPU).
        public var size: Int = 64 << 20
        public var cpus: Int = 8
        public var domains: Int = 16
        /// Total vCPUs over all domains (at least one per domain); nil: 1–4
        /// per guest at random (about 2.5 on average).
        public var vcpus: Int? = nil
        public var seed: UInt64 = 1
        public var scheduler: Scheduler = .credit2
        /// Pages per CPU ring (xentrace's default is 32).
        public var ringPages: Int = 32
        /// TSC frequency used to turn simulated times into cycles.
        public var cpuHz: UInt64 = 2_400_000_000
        /// Let the simulated collector stall now and then (records get lost).
        public var collectorStalls = true
        /// An AMD host: HVM exits carry SVM exit codes (INTR 0x60, NPF 0x400,
        /// IOIO 0x7b, VMMCALL 0x81, MSR 0x7c, CPUID 0x72, CR3 write 0x13,
        /// VINTR 0x64, HLT 0x78) under the record id Xen 4.17 uses for both
        /// vendors (0x00081102). Same random sequence as a VMX host.
        public var svm = false
        public init() {}
    }

    /// What was written, for exact comparison with a reader.
    public struct Counts: Sendable, Equatable {
        public var bytes = 0
        public var records = 0
        /// CPU-change records (one per window).
        public var windows = 0
        /// Records per event id (CPU-change, wrap and lost records included).
        public var events: [UInt32: Int] = [:]
        /// Records per CPU, each CPU's CPU-change records included.
        public var cpuRecords: [Int] = []
        public var lostRecordEvents = 0
        /// Records the LOST_RECORDS records say were dropped.
        public var lostRecords = 0
        public var wrapRecords = 0
        public var firstTSC: UInt64 = 0
        public var lastTSC: UInt64 = 0
    }

    public let options: Options

    public init(_ options: Options) {
        precondition(options.cpus >= 1 && options.cpus <= Int(RecordScanner.maxCPU) + 1, "1...4096 CPUs")
        precondition(options.domains >= 1 && options.domains <= 32_000, "1...32000 domains")
        if let n = options.vcpus {
            precondition(n >= options.domains && n <= options.domains * 128, "1...128 vCPUs per domain")
        }
        precondition(options.ringPages >= 1 && options.ringPages <= 65_535, "1...65535 ring pages")
        self.options = options
    }

    /// Generates the trace, handing the bytes to `sink` in chunks.
    public func generate(_ sink: (UnsafeRawBufferPointer) throws -> Void) rethrows -> Counts {
        var sim = Simulation(options)
        defer { sim.release() }
        return try sim.run(sink)
    }

    /// Generates the trace into the file at `path` (created or truncated).
    public func write(toPath path: String) throws -> Counts {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw InputError(file: path, "cannot create: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var written = 0
        return try generate { chunk in
            var done = 0
            while done < chunk.count {
                let n = Glibc.write(fd, chunk.baseAddress! + done, chunk.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw InputError(file: path, offset: written + done, "write failed: \(String(cString: strerror(errno)))")
                }
                done += n
            }
            written += done
        }
    }
}

// MARK: - event ids the simulation writes

enum SynthEvent {
    static let runstate: UInt32 = 0x0002_1001        // | old<<8 | new<<4
    static let continueRunning: UInt32 = 0x0002_1002
    static let wake: UInt32 = 0x0002_8004
    static let block: UInt32 = 0x0002_8006
    static let switchEv: UInt32 = 0x0002_800a
    static let switchInfPrev: UInt32 = 0x0002_800e
    static let switchInfNext: UInt32 = 0x0002_800f
    static let switchInfCont: UInt32 = 0x0002_8011
    static let csTickle: UInt32 = 0x0002_2006
    static let csSchedule: UInt32 = 0x0002_2009
    static let c2CreditBurn: UInt32 = 0x0002_2203
    static let c2Tickle: UInt32 = 0x0002_2206
    static let c2UpdateLoad: UInt32 = 0x0002_2209
    static let c2UpdateRunqLoad: UInt32 = 0x0002_220c
    static let c2RunqCandidate: UInt32 = 0x0002_2214
    static let c2Schedule: UInt32 = 0x0002_2215
    static let vmentry: UInt32 = 0x0008_1001
    static let vmexit64: UInt32 = 0x0008_1102
    static let injVirq: UInt32 = 0x0008_2004
    static let msrRead: UInt32 = 0x0008_200c
    static let msrWrite: UInt32 = 0x0008_200d
    static let cpuid: UInt32 = 0x0008_200e
    static let intr: UInt32 = 0x0008_200f
    static let vmmcall: UInt32 = 0x0008_2012
    static let hlt: UInt32 = 0x0008_2013
    static let ioRead: UInt32 = 0x0008_2016
    static let ioWrite: UInt32 = 0x0008_2216
    static let intrWindow: UInt32 = 0x0008_2020
    static let npf: UInt32 = 0x0008_2021
    static let crWrite64: UInt32 = 0x0008_2109
    static let hypercallV2: UInt32 = 0x0020_100d
    static let pvPageFault64: UInt32 = 0x0020_1104
    static let freqChange: UInt32 = 0x0080_1001
    static let idleEntry: UInt32 = 0x0080_1002
    static let idleExit: UInt32 = 0x0080_1003
    static let irqHandled: UInt32 = 0x0080_2008
    static let idleDomain: UInt32 = 32767
}

/// SplitMix64: small, fast, and the same sequence everywhere.
struct SynthRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed ^ 0x5851_f42d_4c95_7f2d }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
    /// Uniform in 0..<n (n > 0).
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    /// Uniform in lo...hi.
    mutating func range(_ lo: Int, _ hi: Int) -> Int { lo + below(hi - lo + 1) }
    /// True with probability `percent`/100.
    mutating func chance(_ percent: Int) -> Bool { below(1000) < percent * 10 }
    mutating func chancePermille(_ p: Int) -> Bool { below(1000) < p }
}

// MARK: - the simulated host

struct Simulation {
    struct VCPU {
        var domain: UInt32
        var vcpu: UInt32
        var hvm: Bool
        /// 0 running, 1 runnable, 2 blocked.
        var state: UInt32 = 1
        var since: UInt64 = 0
        var ripBase: UInt64
        var word: UInt32 { domain << 16 | vcpu }
    }

    /// One pCPU's trace ring, with Xen's rules for wrap and lost records.
    struct Ring {
        var data: UnsafeMutableRawPointer
        var size: Int
        var prod = 0
        var used = 0
        var lost = 0
        var firstLostTSC: UInt64 = 0
    }

    struct PCPU {
        var now: UInt64
        var current: Int = -1          // vCPU index, -1 = idle
        var sliceEnd: UInt64 = 0
        var idleUntil: UInt64 = 0
        var inIdle = false
        var cstate: UInt32 = 1
        var mhz: UInt32 = 2400
        /// TSC of the last record written (or dropped) on this CPU.
        var lastEmit: UInt64 = 0
        var ring: Ring
    }

    let o: TraceSynthesizer.Options
    var rng: SynthRandom
    var vcpus: [VCPU] = []
    var pcpus: [PCPU] = []
    var runq: [Int] = []
    var runqHead = 0
    /// Blocked vCPUs as a min-heap of (wake time, vCPU index).
    var sleepers: [(UInt64, Int)] = []
    var counts = TraceSynthesizer.Counts()
    var out: UnsafeMutableRawBufferPointer
    var outCount = 0
    let cyclesPerMicro: UInt64
    var nextPoll: UInt64
    var pollInterval: UInt64
    var polls = 0

    init(_ o: TraceSynthesizer.Options) {
        self.o = o
        rng = SynthRandom(seed: o.seed)
        cyclesPerMicro = max(1, o.cpuHz / 1_000_000)
        let start = 40_000_000_000_000 + (o.seed % 1000) * 1_000_000
        let ringBytes = o.ringPages * 4096 - 8
        for _ in 0..<o.cpus {
            let data = UnsafeMutableRawPointer.allocate(byteCount: ringBytes, alignment: 16)
            data.initializeMemory(as: UInt8.self, repeating: 0, count: ringBytes)
            pcpus.append(PCPU(now: start + UInt64(rng.below(5000)), ring: Ring(data: data, size: ringBytes)))
        }
        out = .allocate(byteCount: 4 << 20, alignment: 16)
        pollInterval = 10_000 * cyclesPerMicro      // xentrace -s 10 (ms)
        nextPoll = start + pollInterval
        counts.cpuRecords = Array(repeating: 0, count: o.cpus)
        // Domain 0: PV, one vCPU per pCPU up to 4; guests: 1–4 vCPUs, 3 in 4 HVM.
        let perDomain = o.vcpus.map { Simulation.spread(total: $0, domains: o.domains, cpus: o.cpus, &rng) }
        for d in 0..<o.domains {
            let n = perDomain?[d] ?? (d == 0 ? min(4, o.cpus) : rng.range(1, min(4, max(1, o.cpus))))
            let hvm = d != 0 && rng.below(4) != 0
            for v in 0..<n {
                let rip: UInt64 = hvm ? 0xffff_ffff_8100_0000 + UInt64(rng.below(0x40000)) * 16
                                      : 0xffff_ffff_8000_0000 + UInt64(rng.below(0x40000)) * 16
                vcpus.append(VCPU(domain: UInt32(d), vcpu: UInt32(v), hvm: hvm, ripBase: rip))
            }
        }
        // Everyone starts runnable, in a shuffled queue.
        var order = Array(vcpus.indices)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, rng.below(i + 1)) }
        runq = order
    }

    /// vCPUs per domain adding up to exactly `total`: dom0 one per pCPU up
    /// to 4, guests a random 1…2×mean−1 each, then nudged one at a time
    /// (random guests, never below 1 or above 128) until the sum is exact.
    static func spread(total: Int, domains: Int, cpus: Int, _ rng: inout SynthRandom) -> [Int] {
        if domains == 1 { return [total] }
        let guests = domains - 1
        let dom0 = max(1, min(4, cpus, total - guests))
        let rest = total - dom0
        let mean = max(1, rest / guests)
        var n = [dom0] + (0..<guests).map { _ in rng.range(1, min(128, 2 * mean - 1)) }
        var sum = n.reduce(0, +)
        while sum != total {
            var g = 1 + rng.below(guests)
            if sum > total {
                if n[g] > 1 { n[g] -= 1; sum -= 1 }
            } else {
                // A full guest passes the vCPU on to the first domain with room
                // (dom0 included), so any total up to 128 per domain ends.
                if n[g] == 128 { g = n.firstIndex { $0 < 128 }! }
                n[g] += 1; sum += 1
            }
        }
        return n
    }

    mutating func release() {
        for p in pcpus { p.ring.data.deallocate() }
        out.deallocate()
    }

    // MARK: ring writing

    /// Bytes needed to place items of `sizes` at `prod`, wrap padding included.
    func placement(_ r: Ring, _ sizes: (Int, Int)) -> Int {
        var pos = r.prod, total = 0
        for s in [sizes.0, sizes.1] where s > 0 {
            if r.size - pos < s { total += r.size - pos; pos = 0 }
            total += s
            pos += s
        }
        return total
    }

    mutating func put32(_ c: Int, _ v: UInt32) {
        let r = pcpus[c].ring
        r.data.storeBytes(of: v.littleEndian, toByteOffset: r.prod, as: UInt32.self)
        pcpus[c].ring.prod += 4
        pcpus[c].ring.used += 4
        if pcpus[c].ring.prod == r.size { pcpus[c].ring.prod = 0 }
    }

    mutating func count(_ c: Int, _ event: UInt32) {
        counts.events[event, default: 0] += 1
        counts.cpuRecords[c] += 1
        counts.records += 1
    }

    /// Pads to the ring's end with a wrap record if `size` does not fit there.
    mutating func wrapIfNeeded(_ c: Int, _ size: Int, tsc: UInt64) {
        let left = pcpus[c].ring.size - pcpus[c].ring.prod
        guard left < size else { return }
        // Header + (left-4)/4 stale words, or with a TSC if that needs > 7.
        let words = (left - 4) / 4
        if words <= 7 {
            put32(c, EventID.wrapBuffer | UInt32(words) << 28)
            pcpus[c].ring.prod += 4 * words     // stale content stays
            pcpus[c].ring.used += 4 * words
        } else {
            put32(c, EventID.wrapBuffer | UInt32((left - 12) / 4) << 28 | 0x8000_0000)
            put32(c, UInt32(truncatingIfNeeded: tsc))
            put32(c, UInt32(truncatingIfNeeded: tsc >> 32))
            pcpus[c].ring.prod += left - 12
            pcpus[c].ring.used += left - 12
        }
        pcpus[c].ring.prod = 0
        counts.wrapRecords += 1
        count(c, EventID.wrapBuffer)
    }

    /// Writes one record into CPU `c`'s ring, as Xen's `trace()` would:
    /// drops it (counting a lost record) if the ring is too full, else emits
    /// a pending LOST_RECORDS record first.
    mutating func emit(_ c: Int, _ event: UInt32, tsc: Bool = true, _ w: UInt32...) {
        let now = pcpus[c].now
        pcpus[c].lastEmit = now
        let size = 4 + (tsc ? 8 : 0) + 4 * w.count
        let lostSize = pcpus[c].ring.lost > 0 ? 28 : 0
        let need = placement(pcpus[c].ring, (lostSize, size))
        if need > pcpus[c].ring.size - pcpus[c].ring.used {
            if pcpus[c].ring.lost == 0 { pcpus[c].ring.firstLostTSC = now }
            pcpus[c].ring.lost += 1
            return
        }
        if lostSize > 0 {
            wrapIfNeeded(c, 28, tsc: now)
            let cur = pcpus[c].current
            let who: UInt32 = cur < 0 ? (EventID.idleDomainVCPU(UInt32(c))) : (vcpus[cur].domain | vcpus[cur].vcpu << 16)
            put32(c, EventID.lostRecords | 4 << 28 | 0x8000_0000)
            put32(c, UInt32(truncatingIfNeeded: now))
            put32(c, UInt32(truncatingIfNeeded: now >> 32))
            put32(c, UInt32(pcpus[c].ring.lost))
            put32(c, who)
            put32(c, UInt32(truncatingIfNeeded: pcpus[c].ring.firstLostTSC))
            put32(c, UInt32(truncatingIfNeeded: pcpus[c].ring.firstLostTSC >> 32))
            counts.lostRecordEvents += 1
            counts.lostRecords += pcpus[c].ring.lost
            count(c, EventID.lostRecords)
            pcpus[c].ring.lost = 0
        }
        wrapIfNeeded(c, size, tsc: now)
        put32(c, event | UInt32(w.count) << 28 | (tsc ? 0x8000_0000 : 0))
        if tsc {
            put32(c, UInt32(truncatingIfNeeded: now))
            put32(c, UInt32(truncatingIfNeeded: now >> 32))
            if counts.firstTSC == 0 || now < counts.firstTSC { counts.firstTSC = now }
            if now > counts.lastTSC { counts.lastTSC = now }
        }
        for v in w { put32(c, v) }
        count(c, event)
    }

    /// Advances CPU `c`'s clock by `lo...hi` cycles (callers use at least
    /// 100, so TSCs strictly increase).
    mutating func advance(_ c: Int, cycles lo: Int, _ hi: Int) {
        pcpus[c].now += UInt64(rng.range(lo, hi))
    }

    // MARK: draining (the simulated xentrace)

    mutating func drain(_ sink: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        for c in pcpus.indices where pcpus[c].ring.used > 0 {
            let used = pcpus[c].ring.used
            let r = pcpus[c].ring
            if outCount + 12 + used > out.count { try flushOut(sink) }
            if 12 + used > out.count {
                out.deallocate()
                out = .allocate(byteCount: 12 + used, alignment: 16)
            }
            for v in [0x2001_f003, UInt32(c), UInt32(used)] as [UInt32] {
                out.storeBytes(of: v.littleEndian, toByteOffset: outCount, as: UInt32.self)
                outCount += 4
            }
            counts.windows += 1
            count(c, EventID.cpuChange)
            // The window runs from cons = prod - used (mod size) to prod.
            let cons = (r.prod - used + r.size) % r.size
            if cons + used <= r.size {
                (out.baseAddress! + outCount).copyMemory(from: r.data + cons, byteCount: used)
            } else {
                let first = r.size - cons
                (out.baseAddress! + outCount).copyMemory(from: r.data + cons, byteCount: first)
                (out.baseAddress! + outCount + first).copyMemory(from: r.data, byteCount: used - first)
            }
            outCount += used
            pcpus[c].ring.used = 0
        }
    }

    mutating func flushOut(_ sink: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        if outCount > 0 { try sink(UnsafeRawBufferPointer(rebasing: out[0..<outCount])) }
        counts.bytes += outCount
        outCount = 0
    }

    // MARK: the run

    mutating func run(_ sink: (UnsafeRawBufferPointer) throws -> Void) rethrows -> TraceSynthesizer.Counts {
        while counts.bytes + outCount < o.size {
            // The CPU furthest behind acts next; the collector runs at its polls.
            var c = 0
            for i in 1..<pcpus.count where pcpus[i].now < pcpus[c].now { c = i }
            let t = pcpus[c].now
            if t >= nextPoll {
                polls += 1
                // Every 37th poll the collector stalls for 120 ms (dom0 busy):
                // busy rings fill up and Xen drops records.
                if o.collectorStalls && polls % 37 == 36 {
                    nextPoll += 120_000 * cyclesPerMicro
                } else {
                    try drain(sink)
                    if outCount >= out.count / 2 { try flushOut(sink) }
                    nextPoll += pollInterval
                }
                continue
            }
            wakeSleepers(c)
            step(c)
        }
        try drain(sink)
        try flushOut(sink)
        return counts
    }

    /// Wakes the blocked vCPUs whose time has come, on CPU `c`.
    mutating func wakeSleepers(_ c: Int) {
        while let top = sleepers.first, top.0 <= pcpus[c].now {
            popSleeper()
            let v = top.1
            advance(c, cycles: 200, 600)
            emit(c, SynthEvent.wake, vcpus[v].domain, vcpus[v].vcpu)
            advance(c, cycles: 100, 400)
            emit(c, SynthEvent.runstate | 2 << 8 | 1 << 4, vcpus[v].word)
            vcpus[v].state = 1
            vcpus[v].since = pcpus[c].now
            runq.append(v)
            // Tickle an idle CPU (or this one).
            var target = c
            for i in pcpus.indices where pcpus[i].current < 0 && pcpus[i].inIdle { target = i; break }
            advance(c, cycles: 100, 300)
            emit(c, o.scheduler == .credit2 ? SynthEvent.c2Tickle : SynthEvent.csTickle, UInt32(target))
            if target != c && pcpus[target].idleUntil > pcpus[c].now {
                pcpus[target].idleUntil = max(pcpus[target].lastEmit + 100, pcpus[c].now)
                pcpus[target].now = pcpus[target].idleUntil
            }
        }
    }

    mutating func pushSleeper(_ t: UInt64, _ v: Int) {
        sleepers.append((t, v))
        var i = sleepers.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if sleepers[p].0 <= sleepers[i].0 { break }
            sleepers.swapAt(p, i)
            i = p
        }
    }

    mutating func popSleeper() {
        sleepers.swapAt(0, sleepers.count - 1)
        sleepers.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < sleepers.count && sleepers[l].0 < sleepers[m].0 { m = l }
            if r < sleepers.count && sleepers[r].0 < sleepers[m].0 { m = r }
            if m == i { break }
            sleepers.swapAt(i, m)
            i = m
        }
    }

    /// One thing happening on CPU `c`: guest activity, idling, or a schedule.
    mutating func step(_ c: Int) {
        let cur = pcpus[c].current
        if pcpus[c].inIdle {
            // Leave the C-state (woken by a tickle, a timer or an interrupt).
            pcpus[c].now = max(pcpus[c].now, pcpus[c].idleUntil)
            emit(c, SynthEvent.idleExit, pcpus[c].cstate, UInt32(truncatingIfNeeded: pcpus[c].now >> 10), 0, 0, 0, 0)
            pcpus[c].inIdle = false
            if rng.chance(2) {
                let old = pcpus[c].mhz
                pcpus[c].mhz = [1200, 1800, 2400, 3000][rng.below(4)]
                advance(c, cycles: 500, 2000)
                emit(c, SynthEvent.freqChange, old, pcpus[c].mhz)
            }
            if rng.chance(30) { irq(c) }
            schedule(c, blockPrev: false)
            return
        }
        if cur < 0 {
            schedule(c, blockPrev: false)
            return
        }
        if pcpus[c].now >= pcpus[c].sliceEnd {
            // Time slice over: the scheduler tick preempts.
            schedule(c, blockPrev: false)
            return
        }
        if rng.chancePermille(15) { irq(c) }
        if vcpus[cur].hvm { hvmExit(c, cur) } else { pvActivity(c, cur) }
    }

    mutating func irq(_ c: Int) {
        advance(c, cycles: 300, 3000)
        let tin = pcpus[c].now
        advance(c, cycles: 800, 6000)
        emit(c, SynthEvent.irqHandled, UInt32(rng.range(16, 120)), UInt32(truncatingIfNeeded: tin), UInt32(truncatingIfNeeded: pcpus[c].now))
    }

    /// A VMEXIT, its handler record(s) (no TSC), and usually a VMENTRY; an
    /// HLT exit may block the vCPU instead.
    mutating func hvmExit(_ c: Int, _ v: Int) {
        advance(c, cycles: 2_000, 100_000)     // guest runs
        let pick = rng.below(100)
        let reason: UInt32
        switch pick {
        case 0..<22: reason = 1     // EXTERNAL_INTERRUPT
        case 22..<40: reason = 48   // EPT_VIOLATION
        case 40..<55: reason = 30   // IO_INSTRUCTION
        case 55..<65: reason = 18   // VMCALL
        case 65..<73: reason = 31   // MSR_READ
        case 73..<80: reason = 32   // MSR_WRITE
        case 80..<85: reason = 10   // CPUID
        case 85..<89: reason = 28   // CR_ACCESS
        case 89..<93: reason = 7    // PENDING_VIRT_INTR
        default: reason = 12        // HLT
        }
        let rip = vcpus[v].ripBase + UInt64(reason) * 0x40 + UInt64(rng.below(4)) * 4
        emit(c, SynthEvent.vmexit64, o.svm ? Simulation.svmCode(vmx: reason) : reason,
             UInt32(truncatingIfNeeded: rip), UInt32(truncatingIfNeeded: rip >> 32))
        advance(c, cycles: 300, 1200)
        switch reason {
        case 1: emit(c, SynthEvent.intr, tsc: false, UInt32(rng.range(0x20, 0xfe)))
        case 48:
            let gpa = UInt64(rng.below(1 << 20)) << 12
            emit(c, SynthEvent.npf, tsc: false, UInt32(truncatingIfNeeded: gpa), UInt32(gpa >> 32),
                 UInt32(truncatingIfNeeded: gpa >> 12), 0, UInt32(rng.below(0x200)), UInt32(rng.below(4)))
        case 30:
            let port = [0x3f8, 0x60, 0x64, 0x70, 0x71, 0xcf8, 0xcfc][rng.below(7)]
            if rng.below(2) == 0 {
                emit(c, SynthEvent.ioRead, tsc: false, UInt32(port), UInt32(rng.below(256)))
            } else {
                emit(c, SynthEvent.ioWrite, tsc: false, UInt32(port), UInt32(rng.below(256)))
            }
        case 18: emit(c, SynthEvent.vmmcall, tsc: false, UInt32([24, 29, 32, 34, 38][rng.below(5)]))
        case 31: emit(c, SynthEvent.msrRead, tsc: false, 0x6e0, UInt32(truncatingIfNeeded: pcpus[c].now), 0)
        case 32: emit(c, SynthEvent.msrWrite, tsc: false, 0x6e0, UInt32(truncatingIfNeeded: pcpus[c].now + 50_000), 0)
        case 10: emit(c, SynthEvent.cpuid, tsc: false, UInt32(rng.below(0x20)), 0, 0x000806ec, 0x0010_0800, 0x7ffa_fbff, 0xbfeb_fbff)
        case 28: emit(c, SynthEvent.crWrite64, tsc: false, 3, UInt32(rng.below(1 << 20)) << 12, 0)
        case 7: emit(c, SynthEvent.intrWindow, tsc: false, UInt32(rng.range(0x20, 0xfe)), 2, UInt32(rng.range(0x20, 0xfe)))
        default:
            emit(c, SynthEvent.hlt, tsc: false, 0)
            if rng.below(3) != 0 {
                // The guest idles: the vCPU blocks and the CPU reschedules.
                advance(c, cycles: 300, 900)
                schedule(c, blockPrev: true)
                return
            }
        }
        if rng.chance(12) {
            emit(c, SynthEvent.injVirq, tsc: false, UInt32(rng.range(0x20, 0xfe)), 0)
        }
        advance(c, cycles: 500, 8_000)
        emit(c, SynthEvent.vmentry)
    }

    /// The SVM exit code (AMD APM vol. 2, appendix C) for the same guest
    /// event as a VMX basic exit reason the simulation picked.
    static func svmCode(vmx reason: UInt32) -> UInt32 {
        switch reason {
        case 1: 0x60        // external interrupt → INTR
        case 48: 0x400      // EPT violation → NPF
        case 30: 0x7b       // I/O instruction → IOIO
        case 18: 0x81       // VMCALL → VMMCALL
        case 31, 32: 0x7c   // MSR read / write → MSR (EXITINFO1 tells them apart)
        case 10: 0x72       // CPUID
        case 28: 0x13       // CR access (CR3 write) → CR3_WRITE
        case 7: 0x64        // pending interrupt window → VINTR
        default: 0x78       // HLT
        }
    }

    /// A PV guest's hypercall or page fault; sched_op(block) blocks it.
    mutating func pvActivity(_ c: Int, _ v: Int) {
        advance(c, cycles: 3_000, 120_000)
        if rng.below(3) == 0 {
            let rip = vcpus[v].ripBase + UInt64(rng.below(0x1000)) * 8
            let addr = 0x0000_7f00_0000_0000 + UInt64(rng.below(1 << 28)) * 4096
            emit(c, SynthEvent.pvPageFault64, UInt32(truncatingIfNeeded: rip), UInt32(truncatingIfNeeded: rip >> 32),
                 UInt32(truncatingIfNeeded: addr), UInt32(truncatingIfNeeded: addr >> 32), UInt32(rng.below(8)))
            return
        }
        // HYPERCALL_V2: op in bits 0-19, 2 bits per argument from bit 20
        // (01 = 32-bit, 10 = 64-bit), then the arguments.
        switch rng.below(5) {
        case 0:  // mmu_update(ptr64, count32, done64, domid32)
            emit(c, SynthEvent.hypercallV2, 1 | 0b10 << 20 | 0b01 << 22 | 0b10 << 24 | 0b01 << 26,
                 0x1000_0000, 0xffff_8800, UInt32(rng.range(1, 64)), 0, 0, 0x7ff0)
        case 1:  // sched_op(cmd32, arg64)
            let block = rng.below(3) == 0
            emit(c, SynthEvent.hypercallV2, 29 | 0b01 << 20 | 0b10 << 22, block ? 1 : 0, 0, 0)
            if block {
                advance(c, cycles: 400, 1500)
                schedule(c, blockPrev: true)
            }
        case 2:  // event_channel_op(cmd32, arg64)
            emit(c, SynthEvent.hypercallV2, 32 | 0b01 << 20 | 0b10 << 22, 4, 0x3f00_0000 + UInt32(rng.below(4096)), 0xffff_c900)
        case 3:  // vcpu_op(cmd32, vcpu32, arg64)
            emit(c, SynthEvent.hypercallV2, 24 | 0b01 << 20 | 0b01 << 22 | 0b10 << 24, 11, vcpus[v].vcpu, 0, 0)
        default: // xen_version(cmd32, arg64)
            emit(c, SynthEvent.hypercallV2, 17 | 0b01 << 20 | 0b10 << 22, 0, 0, 0)
        }
    }

    /// The scheduler runs on CPU `c`: the previous vCPU blocks or goes back
    /// to the run queue, the next one (or idle) is picked and switched to.
    mutating func schedule(_ c: Int, blockPrev: Bool) {
        let prev = pcpus[c].current
        let now0 = pcpus[c].now
        if blockPrev && prev >= 0 {
            emit(c, SynthEvent.block, vcpus[prev].domain, vcpus[prev].vcpu)
            advance(c, cycles: 300, 900)
        }
        let prevIdle = prev < 0
        if o.scheduler == .credit2 {
            emit(c, SynthEvent.c2Schedule, UInt32(c), prevIdle ? 0 : 0x0101_0100)
            advance(c, cycles: 200, 600)
            if !prevIdle {
                let ran = UInt32(truncatingIfNeeded: (now0 - vcpus[prev].since) / max(1, cyclesPerMicro) * 1000)
                emit(c, SynthEvent.c2CreditBurn, vcpus[prev].word, UInt32(rng.range(1_000_000, 10_000_000)), 0x8000_0000, ran)
                advance(c, cycles: 200, 500)
            }
        } else {
            emit(c, SynthEvent.csSchedule, UInt32(c) | (prevIdle ? 1 << 24 : 0))
            advance(c, cycles: 200, 600)
        }
        // Pick the next vCPU: the run queue's head, or stay / go idle.
        var next = -1
        if runqHead < runq.count {
            next = runq[runqHead]
            runqHead += 1
            if runqHead > 4096 && runqHead * 2 > runq.count {
                runq.removeFirst(runqHead)
                runqHead = 0
            }
        }
        if next >= 0 && vcpus[next].since >= pcpus[c].now {
            // Queued by a CPU whose clock is ahead: this CPU cannot run it
            // before it was descheduled there.
            pcpus[c].now = vcpus[next].since + UInt64(rng.range(100, 400))
        }
        if !prevIdle && !blockPrev && next < 0 {
            next = prev   // nothing else to run: prev continues
        }
        if o.scheduler == .credit2 {
            let cand = next < 0 ? (SynthEvent.idleDomain << 16 | UInt32(c)) : vcpus[next].word
            emit(c, SynthEvent.c2RunqCandidate, cand, next < 0 ? 0xffff_ffff : UInt32(runq.count - runqHead), UInt32(rng.below(1 << 24)))
            advance(c, cycles: 100, 400)
            emit(c, SynthEvent.c2UpdateLoad)
            advance(c, cycles: 100, 300)
            let load = UInt32(rng.below(1 << 18))
            emit(c, SynthEvent.c2UpdateRunqLoad, load, 0, load, 0, 0x1200_0000 | UInt32(runq.count - runqHead), 0xffff_8301)
            advance(c, cycles: 100, 400)
        }
        let now = pcpus[c].now
        let slice = UInt64(rng.range(1_000, 10_000)) * cyclesPerMicro   // 1–10 ms
        if next == prev && next >= 0 {
            // Continue running: INFCONT and the continue-running runstate record.
            let ran = UInt32(truncatingIfNeeded: (now - vcpus[prev].since) / cyclesPerMicro * 1000)
            emit(c, SynthEvent.switchInfCont, vcpus[prev].domain, vcpus[prev].vcpu, ran, UInt32(truncatingIfNeeded: slice / cyclesPerMicro * 1000))
            advance(c, cycles: 100, 300)
            emit(c, SynthEvent.continueRunning, vcpus[prev].word)
            pcpus[c].sliceEnd = pcpus[c].now + slice
            return
        }
        if prevIdle && next < 0 {
            goIdle(c)
            return
        }
        let (pd, pv): (UInt32, UInt32) = prevIdle ? (SynthEvent.idleDomain, UInt32(c)) : (vcpus[prev].domain, vcpus[prev].vcpu)
        let (nd, nv): (UInt32, UInt32) = next < 0 ? (SynthEvent.idleDomain, UInt32(c)) : (vcpus[next].domain, vcpus[next].vcpu)
        let prevRan = prevIdle ? UInt32(rng.range(1_000, 900_000)) : UInt32(truncatingIfNeeded: (now - vcpus[prev].since) / cyclesPerMicro * 1000)
        let waited = next < 0 ? 0 : UInt32(truncatingIfNeeded: (now - vcpus[next].since) / cyclesPerMicro * 1000)
        emit(c, SynthEvent.switchInfPrev, pd, pv, prevRan)
        advance(c, cycles: 100, 400)
        emit(c, SynthEvent.switchInfNext, nd, nv, waited, next < 0 ? 0xffff_ffff : UInt32(truncatingIfNeeded: slice / cyclesPerMicro * 1000))
        advance(c, cycles: 100, 400)
        emit(c, SynthEvent.switchEv, pd, pv, nd, nv)
        advance(c, cycles: 100, 500)
        // Runstate of prev: running → blocked / runnable (idle: → runnable).
        let prevTo: UInt32 = blockPrev ? 2 : 1
        emit(c, SynthEvent.runstate | 0 << 8 | prevTo << 4, pd << 16 | pv)
        advance(c, cycles: 100, 400)
        emit(c, SynthEvent.runstate | 1 << 8 | 0 << 4, nd << 16 | nv)
        if !prevIdle {
            vcpus[prev].since = pcpus[c].now
            if blockPrev {
                vcpus[prev].state = 2
                pushSleeper(pcpus[c].now + UInt64(rng.range(100, 40_000)) * cyclesPerMicro, prev)
            } else {
                vcpus[prev].state = 1
                runq.append(prev)
            }
        }
        pcpus[c].current = next
        if next >= 0 {
            vcpus[next].state = 0
            vcpus[next].since = pcpus[c].now
            pcpus[c].sliceEnd = pcpus[c].now + slice
            if vcpus[next].hvm {
                advance(c, cycles: 1_000, 5_000)
                emit(c, SynthEvent.vmentry)
            }
        } else {
            goIdle(c)
        }
    }

    /// Enters a C-state until a tickle, the next sleeper's wake-up or the
    /// idle timer (1 ms).
    mutating func goIdle(_ c: Int) {
        advance(c, cycles: 500, 2_000)
        let cst = UInt32(rng.range(1, 3))
        pcpus[c].cstate = cst
        emit(c, SynthEvent.idleEntry, cst, UInt32(truncatingIfNeeded: pcpus[c].now >> 10), UInt32(rng.range(50, 5000)), UInt32(rng.range(50, 5000)))
        pcpus[c].inIdle = true
        var until = pcpus[c].now + 1_000 * cyclesPerMicro
        if let s = sleepers.first { until = min(until, max(s.0, pcpus[c].now + 200)) }
        pcpus[c].idleUntil = until
        pcpus[c].now = until
    }
}

extension EventID {
    /// LOST_RECORDS' second word for an idle CPU: idle domain, vCPU = CPU.
    static func idleDomainVCPU(_ cpu: UInt32) -> UInt32 { 32767 | cpu << 16 }
}
