import XenTrace

/// Checks trace files written from the producer program's known sequence
/// (samples/producer/producer.c) with XenTrace's reader: every record of
/// ring r is record seq of that ring, in order, intact; gaps are exactly the
/// counts of the TRC_LOST_RECORDS records before them; TSCs never go back.
///
/// Several files (a killed collector, then a restarted one) are read as one
/// stream per CPU; the restart may copy again what the killed one wrote but
/// had not released, so at the start of a later file repeated records (and
/// repeated LOST records, recognised by their TSC) are skipped.
struct SequenceChecker {
    struct Ring {
        var next: UInt64 = 0           // next seq expected (before pending losses)
        var pendingLost: UInt64 = 0
        var lastTSC: UInt64 = 0
        var seenLostTSCs: Set<UInt64> = []
        var records: UInt64 = 0        // sequence records accepted
        var lost: UInt64 = 0           // sum of accepted LOST counts
        var lostRecords = 0
        var resyncing = false
    }
    var rings: [UInt32: Ring] = [:]
    var problems: [String] = []
    var diagnostics: [TraceDiagnostic] = []
    var duplicates = 0

    mutating func check(file path: String, allowRepeatsAtStart: Bool = false) throws {
        if allowRepeatsAtStart { for k in rings.keys { rings[k]!.resyncing = true } }
        let input = try TraceInput.open(path)
        let diags = try input.forEachRecord(order: .file) { r in
            self.take(r)
            return self.problems.count < 20
        }
        diagnostics += diags
    }

    private mutating func take(_ r: TraceRecord) {
        let e = r.event
        if e == EventID.cpuChange || e == EventID.wrapBuffer { return }
        var ring = rings[r.cpu] ?? Ring()
        defer { rings[r.cpu] = ring }
        if e == EventID.lostRecords {
            guard r.hasTSC, r.extraCount == 4 else { problems.append("CPU \(r.cpu) @\(r.offset): malformed LOST record"); return }
            let first = UInt64(r.extra.w2) | UInt64(r.extra.w3) << 32
            if ring.resyncing && ring.seenLostTSCs.contains(r.tsc) { duplicates += 1; return }
            if first > r.tsc { problems.append("CPU \(r.cpu) @\(r.offset): first lost TSC \(first) after the LOST record's \(r.tsc)") }
            if r.tsc < ring.lastTSC { problems.append("CPU \(r.cpu) @\(r.offset): TSC back from \(ring.lastTSC) to \(r.tsc)") }
            ring.lastTSC = r.tsc
            ring.seenLostTSCs.insert(r.tsc)
            ring.pendingLost += UInt64(r.extra.w0)
            ring.lost += UInt64(r.extra.w0)
            ring.lostRecords += 1
            return
        }
        guard e & 0x0fff_f000 == 0x0800_f000 else { problems.append("CPU \(r.cpu) @\(r.offset): foreign event 0x\(String(e, radix: 16))"); return }
        // Recover the full seq: words carry it when there are ≥ 2; otherwise
        // it must be the expected one (low 12 bits are in the event id).
        let expected = ring.next + ring.pendingLost
        var seq = expected
        if r.extraCount >= 2 { seq = UInt64(r.extra.w0) | UInt64(r.extra.w1) << 32 }
        else if r.extraCount == 1 { seq = (expected & ~0xffff_ffff) | UInt64(r.extra.w0) }
        if ring.resyncing {
            // Repeats form a prefix of the later file; tell them by seq
            // (words), else by TSC, else by the seq bits in the event id.
            let repeated = r.extraCount >= 1 ? seq < ring.next
                : r.hasTSC ? r.tsc <= ring.lastTSC
                : (e & 0xfff) != UInt32(expected & 0xfff)
            if repeated { duplicates += 1; return }
            ring.resyncing = false
        }
        guard seq == expected else {
            problems.append("CPU \(r.cpu) @\(r.offset): record seq \(seq), expected \(expected) (next \(ring.next) + \(ring.pendingLost) lost)")
            ring.next = seq + 1; ring.pendingLost = 0
            return
        }
        let lo = UInt32(truncatingIfNeeded: seq)
        var ok = e == 0x0800_f000 | UInt32(seq & 0xfff) && r.extraCount == Int(seq % 8) && r.hasTSC == (seq % 5 != 4)
        if r.extraCount >= 1 { ok = ok && r.extra.w0 == lo }
        if r.extraCount >= 2 { ok = ok && r.extra.w1 == UInt32(seq >> 32) }
        if r.extraCount >= 3 { for k in 2..<r.extraCount where r.extra[k] != (lo &* 2_654_435_761) ^ UInt32(k) { ok = false } }
        if !ok { problems.append("CPU \(r.cpu) @\(r.offset): record seq \(seq) is torn or wrong (header 0x\(String(r.header, radix: 16)))") }
        if r.hasTSC {
            if r.tsc < ring.lastTSC { problems.append("CPU \(r.cpu) @\(r.offset): TSC back from \(ring.lastTSC) to \(r.tsc)") }
            ring.lastTSC = r.tsc
        }
        ring.next = seq + 1
        ring.pendingLost = 0
        ring.records += 1
    }

    /// Records accounted on ring `cpu`: written + reported lost.
    func accounted(_ cpu: UInt32) -> UInt64 { (rings[cpu]?.next ?? 0) + (rings[cpu]?.pendingLost ?? 0) }
}
