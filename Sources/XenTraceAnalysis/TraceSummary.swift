import XenTrace
/// Everything `xenscope trace summary` reports, as a plain model: built by
/// ``Summarizer``, printed by ``SummaryText``, encoded as the stable JSON
/// documented in docs/summary-json.md, read by the exporters and `trace diff`.
/// Times are in TSC cycles; `cpuHz` converts them to seconds.
public struct TraceSummary: Sendable, Codable {
    public static let schema = "xenscope.trace-summary/1"
    public var schema = TraceSummary.schema
    public var file: String
    /// Cycles per second used for every time in seconds.
    public var cpuHz: Double
    /// Where `cpuHz` came from: "--cpu-hz", "xl-info", or "default".
    public var cpuHzSource: String
    /// The counter behind the timestamps ("tsc", "arm-generic-timer",
    /// "timestamp-counter" when unknown) with the same rate and source;
    /// optional only so that summaries saved before it existed still load.
    public var clock: TraceClock?
    /// Restriction given with --from/--to, as TSC values (nil = open).
    public var fromTSC: UInt64?
    public var toTSC: UInt64?
    /// First and last TSC of the analysed records in time order, and the span.
    public var firstTSC: UInt64
    public var lastTSC: UInt64
    public var totalCycles: UInt64
    /// Records analysed (CPU-change records included) and windows found.
    public var records: Int
    public var cpuChangeRecords: Int
    public var lostRecordEvents: Int
    public var lostRecords: UInt64
    /// "vmx" or "svm": which numbering the exit reasons were named with;
    /// nil when the trace has no VMEXIT records and none was asked for.
    public var hvmFlavour: String?
    /// Why: "--svm given", or what detection saw (``HVMFlavourDetector``).
    public var hvmFlavourReason: String?
    public var pcpus: [PCPU]
    public var domains: [Domain]
    /// Exit reasons over all vCPUs, most time first.
    public var exits: [ExitReason]
    /// Wake-up (blocked/offline → runnable) to running latency over all vCPUs.
    public var wakeLatency: Distribution?
    public var irqVectors: [IRQCount]
    public var irqsHandled: [IRQCount]
    public var power: [PowerCPU]
    /// Domains by running time, idle and the "default" placeholder excluded.
    public var top: [TopDomain]
    public var anomalies: [Anomaly]
    public var diagnostics: [String]

    /// Seconds for a number of cycles.
    public func seconds(_ cycles: UInt64) -> Double { Double(cycles) / cpuHz }

    /// ``clock``, or for an older summary an unknown counter at `cpuHz`.
    public var timeClock: TraceClock { clock ?? TraceClock(kind: .unknown, hz: cpuHz, hzSource: cpuHzSource) }

    /// True when the trace has records that only x86 Xen writes (HVM, PV,
    /// shadow, hardware/power classes); an arm64 trace never does.
    public var hasX86OnlyEvents: Bool {
        pcpus.contains { p in ["hvm", "pv", "shadow", "hw"].contains { (p.classBytes[$0] ?? 0) > 0 } }
    }

    /// One physical CPU.
    public struct PCPU: Sendable, Codable {
        public var cpu: Int
        public var records: Int
        public var bytes: Int
        public var firstTSC: UInt64
        public var lastTSC: UInt64
        /// Bytes of records per class (gen, sched, hvm, pv, hw, …), CPU-change records excluded.
        public var classBytes: [String: Int]
        public var lostRecordEvents: Int
        public var lostRecords: UInt64
        /// Cycles from the first lost record to the lost-records record, summed.
        public var lostCycles: UInt64
        /// Cycles a guest or dom0 vCPU ran here, and cycles the idle vCPU ran.
        public var runningCycles: UInt64
        public var idleCycles: UInt64
        /// Times a vCPU was scheduled in here.
        public var contextSwitches: Int

        /// First to last TSC on this CPU; nil when the last record's TSC is
        /// below the first one's (a damaged trace), rather than a wrapped number.
        public var spanCycles: UInt64? { lastTSC >= firstTSC ? lastTSC - firstTSC : nil }
    }

    /// One domain and its vCPUs.
    public struct Domain: Sendable, Codable {
        public var domain: Int
        public var name: String
        public var runningCycles: UInt64
        public var vcpus: [VCPU]
        /// Hypercalls per hypercall number over the domain's vCPUs (subcalls included).
        public var hypercalls: [Hypercall]
        public var wakeLatency: Distribution?
    }

    /// One vCPU.
    public struct VCPU: Sendable, Codable {
        public var vcpu: Int
        /// "hvm", "pv" or "unknown" (no HVM/PV record seen while it ran).
        public var kind: String
        /// Residency per runstate, in Xen's order running, runnable, blocked, offline,
        /// then lost (state unknown after lost records, until seen running again).
        public var runstates: [Runstate]
        /// Runnable time split by what came before: woken, preempted, other.
        public var runnableAfterWake: CycleStats
        public var runnableAfterPreempt: CycleStats
        public var runnableOther: CycleStats
        /// Times it was scheduled in, and how many of those were on another pCPU than the last.
        public var runs: Int
        public var migrations: Int
        public var exits: [VCPUExit]
        public var pv: PVCounts?
    }

    /// Time a vCPU spent in one runstate (running, runnable, blocked, offline).
    public struct Runstate: Sendable, Codable {
        public var state: String
        public var stats: CycleStats
    }

    /// Exits of one reason on one vCPU.
    public struct VCPUExit: Sendable, Codable {
        public var reason: Int
        public var name: String
        public var stats: CycleStats
    }

    /// Exits of one reason over all vCPUs.
    public struct ExitReason: Sendable, Codable {
        public var reason: Int
        public var name: String
        public var stats: CycleStats
        public var distribution: Distribution
        /// Hottest guest RIPs (most exits first, at most 10).
        public var topRIPs: [RIPCount]
    }

    /// How often an exit reason happened at one guest instruction address.
    public struct RIPCount: Sendable, Codable, Equatable {
        public var rip: UInt64
        public var count: Int
    }

    /// How often a PV guest made one hypercall.
    public struct Hypercall: Sendable, Codable, Equatable {
        public var op: Int
        public var name: String
        public var count: Int
    }

    /// PV event counts of one vCPU.
    public struct PVCounts: Sendable, Codable {
        /// Event kind name → count (hypercall counts V1, V2 and subcalls together, as xenalyze).
        public var events: [String: Int]
        public var hypercalls: [Hypercall]
        public var subcalls: Int
    }

    /// A latency distribution with percentiles and log-scale bins.
    public struct Distribution: Sendable, Codable {
        public var count: UInt64
        public var percentiles: Percentiles
        public var bins: [HistogramBin]
    }

    /// How often one IRQ arrived on one pCPU.
    public struct IRQCount: Sendable, Codable, Equatable {
        public var cpu: Int
        public var number: Int
        public var count: Int
    }

    /// One pCPU's idle (C-state) and frequency (P-state) residency.
    public struct PowerCPU: Sendable, Codable {
        public var cpu: Int
        /// C-state index → residency (idle entry to idle exit).
        public var cstates: [StateResidency]
        /// Frequency in MHz → residency.
        public var pstates: [StateResidency]
    }

    /// Time spent in one C- or P-state.
    public struct StateResidency: Sendable, Codable {
        public var state: Int
        public var stats: CycleStats
    }

    /// A domain ranked by the pCPU time its vCPUs spent running.
    public struct TopDomain: Sendable, Codable {
        public var domain: Int
        public var runningCycles: UInt64
        /// Share of all non-idle running time, 0…1.
        public var share: Double
    }
}
