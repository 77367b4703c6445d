import XenTrace

/// Renders records exactly as Xen's `xentrace_format` script does with a
/// given `formats` file, byte for byte, including its quirks:
/// - records are taken in file order; the CPU is the payload of the last
///   TRC_TRACE_CPU_CHANGE record (set before that record itself is printed);
/// - `tsc` is 0 for records that carry no TSC; `reltsc` is the difference to
///   the previous TSC-carrying record of the same CPU, or 0 when the record
///   has no TSC or the CPU has not had a non-zero TSC yet;
/// - before the line of a record whose TSC is below its CPU's previous one,
///   it prints `TSC stepped backward cpu N !  NEW OLD`;
/// - word 1 of 0x0020100d (HYPERCALL_V2) and 0x0020100e is masked with 0x000fffff
///   (the script's constant for the subcall is 0x0020100e, not trace.h's 0x0020200e);
/// - 0x0001f004 (an old IRQ event) has its words 2..4 replaced by running
///   statistics, kept in one dict shared by all vectors (a Python aliasing bug
///   we reproduce); a negative duration ends the run;
/// - an id without definition uses the one for id 0, or prints nothing;
/// - a format that raises TypeError prints the raw format and the argument dict.
public struct XentraceFormatEmulator {
    /// What to do after a record.
    public enum Step: Equatable {
        /// Go on with the next record (zero or more lines were rendered).
        case next
        /// xentrace_format silently stops here (exit status 0).
        case stop
        /// xentrace_format dies here with a Python exception (exit status 1).
        case fatal(String)
    }

    public let formats: FormatsFile
    /// Non-zero: print `tsc` in seconds as `tsc / (mhz * 1e6)` (xentrace_format `-c MHZ`).
    public let mhz: Int
    private var cpu: UInt32?
    private var lastTSC: [UInt64] = [0]
    private var irqCount: Int64 = 0, irqTotal: Int64 = 0, irqMax: Int64 = 0

    public init(formats: FormatsFile, mhz: Int = 0) {
        self.formats = formats
        self.mhz = mhz
    }

    public static let traceIRQ: UInt32 = 0x0001_f004
    public static let hypercallV2: UInt32 = 0x0020_100d
    public static let hypercallSubcallAsScripted: UInt32 = 0x0020_100e

    /// Renders the output lines for `r` (each ending in "\n") into `out`.
    public mutating func render(_ r: TraceRecord, into out: inout ByteSink) -> Step {
        let n = r.extraCount
        var d = r.extra
        for i in n..<7 { d[i] = 0 }
        let event = r.event
        let tscIn = r.hasTSC
        let tsc: UInt64 = tscIn ? r.tsc : 0
        if event == EventID.cpuChange { cpu = d.w0 }
        let cpu = self.cpu ?? r.cpu
        var w2 = Int64(d.w1), w3 = Int64(d.w2), w4 = Int64(d.w3)
        var irqOverride = false
        if event == XentraceFormatEmulator.traceIRQ {
            let diff = Int64(d.w2) - Int64(d.w1)
            if diff < 0 { return .stop }
            guard d.w0 < 256 else { return .fatal("IndexError: list index out of range (0x0001f004 vector \(d.w0))") }
            irqCount += 1
            irqTotal += diff
            if irqMax < diff { irqMax = diff }
            w2 = irqCount; w3 = irqTotal; w4 = irqMax
            irqOverride = true
        }
        if event == XentraceFormatEmulator.hypercallV2 || event == XentraceFormatEmulator.hypercallSubcallAsScripted {
            d.w0 &= 0x000f_ffff
        }
        let c = Int(cpu)
        var last: UInt64 = 0
        if c < lastTSC.count {
            last = lastTSC[c]
            if tscIn && tsc < last {
                out.append("TSC stepped backward cpu ")
                out.appendDecimal(UInt64(cpu))
                out.append(" !  ")
                out.appendDecimal(tsc)
                out.append(0x20)
                out.appendDecimal(last)
                out.append(0x0a)
            }
        } else if c < 1 << 22 {
            lastTSC.append(contentsOf: repeatElement(0, count: c - lastTSC.count + 1))
        } else {
            return .fatal("MemoryError (xentrace_format would allocate a list of \(c) entries for CPU \(cpu))")
        }
        var reltsc = FormatValue.u(0)
        if last > 0 && tscIn {
            reltsc = tsc >= last ? .u(tsc - last) : .int(negative: true, magnitude: last - tsc)
        }
        if tscIn { lastTSC[c] = tsc }
        let tscValue: FormatValue = mhz != 0 ? .float(Double(tsc) / (Double(mhz) * 1000000.0)) : .u(tsc)

        guard let def = formats.definition(for: event) else { return .next }
        let words = d
        let value: (FormatKey) -> FormatValue = { key in
            switch key {
            case .cpu: return .u(UInt64(cpu))
            case .tsc: return tscValue
            case .event: return .u(UInt64(event))
            case .reltsc: return reltsc
            case .word(let i):
                if irqOverride && (1...3).contains(i) { return .s([w2, w3, w4][i - 1]) }
                return .u(UInt64(words[i]))
            }
        }
        func dictRepr() -> String {
            var s = "{'cpu': \(value(.cpu).pythonRepr), 'tsc': \(tscValue.pythonRepr), 'event': \(event), 'reltsc': \(reltsc.pythonRepr)"
            for i in 0..<7 { s += ", '\(i + 1)': \(value(.word(i)).pythonRepr)" }
            return s + "}"
        }
        switch def.format.outcome {
        case .ok:
            let mark = out.count
            if let err = def.format.render(into: &out, value: value, dictRepr: dictRepr) {
                out.truncate(to: mark)
                if err.hasPrefix("TypeError") {
                    typeErrorLines(def, dictRepr(), &out)
                    return .next
                }
                return .fatal("\(formats.path):\(def.line): \(err)")
            }
            out.append(0x0a)
        case .typeError:
            typeErrorLines(def, dictRepr(), &out)
        case .fatal(let err):
            return .fatal("\(formats.path):\(def.line): \(err)")
        }
        return .next
    }

    private func typeErrorLines(_ def: FormatsFile.Definition, _ dict: String, _ out: inout ByteSink) {
        out.append(def.format.source)
        out.append(0x0a)
        out.append(dict)
        out.append(0x0a)
    }
}
