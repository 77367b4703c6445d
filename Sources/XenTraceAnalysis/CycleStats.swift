/// Count and cycle totals of a set of intervals, xenalyze-style: `events`
/// counts every interval, `count`/`cycles` only those longer than zero.
public struct CycleStats: Sendable, Codable, Equatable {
    /// Intervals seen, zero-length ones included.
    public var events = 0
    /// Intervals longer than zero cycles.
    public var count = 0
    public var cycles: UInt64 = 0
    public var minCycles: UInt64 = 0
    public var maxCycles: UInt64 = 0

    public init() {}

    /// Counts one event lasting `c` cycles; 0 counts the event but not its time
    /// (an interval that could not be measured).
    @inline(__always) public mutating func add(_ c: UInt64) {
        events += 1
        guard c > 0 else { return }
        if count == 0 || c < minCycles { minCycles = c }
        if c > maxCycles { maxCycles = c }
        count += 1
        cycles &+= c
    }

    /// Mean of the non-zero intervals (integer division, as xenalyze prints it).
    public var meanCycles: UInt64 { count == 0 ? 0 : cycles / UInt64(count) }

    /// Adds another pass's statistics (per-CPU passes are merged at the end).
    public mutating func merge(_ o: CycleStats) {
        if o.count > 0 {
            if count == 0 || o.minCycles < minCycles { minCycles = o.minCycles }
            maxCycles = max(maxCycles, o.maxCycles)
        }
        events += o.events; count += o.count; cycles &+= o.cycles
    }
}

/// A log-scale histogram of cycle counts with 8 sub-buckets per power of two
/// (relative bucket width ≤ 12.5 %), so percentiles come from bounded memory.
public struct LogHistogram: Sendable, Equatable {
    static let sub = 8
    /// Bucket counts; index = 8·floor(log2 v) + next 3 bits.
    public private(set) var buckets: [UInt64] = []
    public private(set) var total: UInt64 = 0

    public init() {}

    @inline(__always) static func bucket(_ v: UInt64) -> Int {
        if v < 8 { return Int(v) }
        let e = 63 - v.leadingZeroBitCount           // ≥ 3
        let m = Int((v >> UInt64(e - 3)) & 7)
        return e * sub + m
    }
    /// Smallest value of bucket `i`.
    static func lowerBound(_ i: Int) -> UInt64 {
        if i < 8 { return UInt64(i) }
        let e = i / sub, m = i % sub
        return (UInt64(8 + m)) << UInt64(e - 3)
    }
    /// Largest value of bucket `i`.
    static func upperBound(_ i: Int) -> UInt64 {
        i + 1 >= 64 * sub ? UInt64.max : lowerBound(i + 1) - 1
    }

    /// Counts one value in its bucket.
    @inline(__always) public mutating func add(_ v: UInt64) {
        let b = LogHistogram.bucket(v)
        if buckets.count <= b { buckets.append(contentsOf: repeatElement(0, count: b + 1 - buckets.count)) }
        buckets[b] += 1
        total += 1
    }

    /// Adds another histogram's buckets (per-CPU passes are merged at the end).
    public mutating func merge(_ o: LogHistogram) {
        if buckets.count < o.buckets.count { buckets.append(contentsOf: repeatElement(0, count: o.buckets.count - buckets.count)) }
        for (i, c) in o.buckets.enumerated() { buckets[i] += c }
        total += o.total
    }

    /// The upper bound of the bucket holding the p-th percentile (0...100);
    /// exact for values below 8, otherwise within 12.5 % above the true value.
    public func percentile(_ p: Double) -> UInt64 {
        guard total > 0 else { return 0 }
        let rank = max(1, UInt64((Double(total) * p / 100).rounded(.up)))
        var seen: UInt64 = 0
        for (i, c) in buckets.enumerated() {
            seen += c
            if seen >= rank { return LogHistogram.upperBound(i) }
        }
        return LogHistogram.upperBound(buckets.count - 1)
    }

    /// Non-empty buckets as (low, high, count), for plotting.
    public var bins: [HistogramBin] {
        buckets.enumerated().compactMap { i, c in
            c == 0 ? nil : HistogramBin(low: LogHistogram.lowerBound(i), high: LogHistogram.upperBound(i), count: c)
        }
    }
}

/// One bar of a histogram: values low...high were seen `count` times.
public struct HistogramBin: Sendable, Codable, Equatable {
    public var low: UInt64
    public var high: UInt64
    public var count: UInt64
}

/// Percentiles of a distribution, in cycles.
public struct Percentiles: Sendable, Codable, Equatable {
    public var p50: UInt64
    public var p90: UInt64
    public var p99: UInt64
    public var max: UInt64

    init(p50: UInt64, p90: UInt64, p99: UInt64, max: UInt64) {
        self.p50 = p50; self.p90 = p90; self.p99 = p99; self.max = max
    }

    init(_ h: LogHistogram, max: UInt64) {
        p50 = Swift.min(h.percentile(50), max)
        p90 = Swift.min(h.percentile(90), max)
        p99 = Swift.min(h.percentile(99), max)
        self.max = max
    }
}
