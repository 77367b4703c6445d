import Dump

/// One record of the Linux kernel log (printk ring buffer, Linux ≥ 5.10).
public struct PrintkRecord: Sendable, Equatable, Codable {
    public var sequence: UInt64
    /// Nanoseconds since boot (local_clock).
    public var timestampNanoseconds: UInt64
    /// Syslog level 0…7 (`KERN_EMERG`…`KERN_DEBUG`).
    public var level: Int
    public var text: String
}

/// Layout of the lockless printk ring (kernel/printk/printk_ringbuffer.h),
/// from the dump's VMCOREINFO: Linux exports every offset a reader needs.
struct PrintkLayout {
    var prb: UInt64
    var descRing: Int, textRing: Int
    var countBits: Int, descs: Int, infos: Int, headID: Int, tailID: Int
    var descSize: Int, stateVar: Int, textLpos: Int, lposBegin: Int, lposNext: Int
    var infoSize: Int, seq: Int, tsNsec: Int, textLen: Int
    var sizeBits: Int, data: Int

    init?(_ v: VMCoreInfo) {
        guard let prb = v.symbol("prb"),
              let descRing = v.offset("printk_ringbuffer", "desc_ring"), let textRing = v.offset("printk_ringbuffer", "text_data_ring"),
              let countBits = v.offset("prb_desc_ring", "count_bits"), let descs = v.offset("prb_desc_ring", "descs"),
              let infos = v.offset("prb_desc_ring", "infos"), let headID = v.offset("prb_desc_ring", "head_id"),
              let tailID = v.offset("prb_desc_ring", "tail_id"), let descSize = v.size("prb_desc"),
              let stateVar = v.offset("prb_desc", "state_var"), let textLpos = v.offset("prb_desc", "text_blk_lpos"),
              let lposBegin = v.offset("prb_data_blk_lpos", "begin"), let lposNext = v.offset("prb_data_blk_lpos", "next"),
              let infoSize = v.size("printk_info"), let seq = v.offset("printk_info", "seq"),
              let tsNsec = v.offset("printk_info", "ts_nsec"), let textLen = v.offset("printk_info", "text_len"),
              let sizeBits = v.offset("prb_data_ring", "size_bits"), let data = v.offset("prb_data_ring", "data")
        else { return nil }
        (self.prb, self.descRing, self.textRing) = (prb, descRing, textRing)
        (self.countBits, self.descs, self.infos, self.headID, self.tailID) = (countBits, descs, infos, headID, tailID)
        (self.descSize, self.stateVar, self.textLpos, self.lposBegin, self.lposNext) = (descSize, stateVar, textLpos, lposBegin, lposNext)
        (self.infoSize, self.seq, self.tsNsec, self.textLen) = (infoSize, seq, tsNsec, textLen)
        (self.sizeBits, self.data) = (sizeBits, data)
    }

    /// Every field read lies inside its struct (VMCOREINFO is input too).
    var isConsistent: Bool {
        let fields = [stateVar, textLpos + lposBegin, textLpos + lposNext, seq, tsNsec, textLen]
        guard fields.allSatisfy({ $0 >= 0 }), descSize > 0, infoSize > 0, descSize <= 4096, infoSize <= 4096 else { return false }
        return stateVar + 8 <= descSize && textLpos + max(lposBegin, lposNext) + 8 <= descSize
            && seq + 8 <= infoSize && tsNsec + 8 <= infoSize && textLen + 4 <= infoSize
    }
}

extension CrashSession {
    /// The Linux kernel log from the lockless printk ring buffer, oldest
    /// record first, with layouts from VMCOREINFO (Linux ≥ 5.10 exports all
    /// of them). Records still being written (reserved) are skipped, as the
    /// kernel's own readers do.
    public func printkRecords() throws -> [PrintkRecord] {
        guard let vmci = dump.vmcoreinfo else {
            throw CrashError.badConsoleRing("\(dump.path): no VMCOREINFO note, so the printk ring cannot be located (QEMU needs -device vmcoreinfo and the guest's qemu_fw_cfg module)")
        }
        guard let L = PrintkLayout(vmci), L.isConsistent else {
            throw CrashError.badConsoleRing("\(dump.path): VMCOREINFO lacks a usable printk_ringbuffer layout (missing, or fields outside their structs; a kernel before 5.10 keeps the old log_buf, not read here)")
        }
        let rb = try readWord(L.prb)
        let dr = rb &+ UInt64(L.descRing), tr = rb &+ UInt64(L.textRing)
        let countBits = Int(try readUInt32(dr &+ UInt64(L.countBits)))
        let sizeBits = Int(try readUInt32(tr &+ UInt64(L.sizeBits)))
        // Linux allows at most a 2^25-byte text ring (log_buf_len) and a
        // descriptor per 32 bytes of it; anything beyond is not a printk ring.
        guard countBits > 0, countBits <= 25, sizeBits > 0, sizeBits <= 26 else {
            throw CrashError.badConsoleRing("\(dump.path): printk ring at 0x\(hex(rb)) has count_bits \(countBits), size_bits \(sizeBits): not a printk ring (symbols or dump damaged)")
        }
        let descs = try readWord(dr &+ UInt64(L.descs))
        let infos = try readWord(dr &+ UInt64(L.infos))
        let head = try readWord(dr &+ UInt64(L.headID))
        let tail = try readWord(dr &+ UInt64(L.tailID))
        let dataAddr = try readWord(tr &+ UInt64(L.data))
        let descCount = UInt64(1) << UInt64(countBits)
        let dataSize = UInt64(1) << UInt64(sizeBits)
        // Whole arrays at once: a few hundred KiB, instead of a page walk per field.
        let descBytes = try read(descs, count: Int(descCount) * L.descSize)
        let infoBytes = try read(infos, count: Int(descCount) * L.infoSize)
        let text = try read(dataAddr, count: Int(dataSize))
        let idMask: UInt64 = ~(UInt64(3) << 62)
        func u64(_ b: [UInt8], _ o: Int) -> UInt64 {
            var v: UInt64 = 0
            for i in (0..<8).reversed() { v = v << 8 | UInt64(b[o + i]) }
            return v
        }
        var out = [PrintkRecord]()
        var id = tail & idMask
        let last = head & idMask
        var steps: UInt64 = 0
        while steps <= descCount {
            let idx = Int(id & (descCount - 1))
            let d = idx * L.descSize
            let sv = u64(descBytes, d + L.stateVar)
            let state = sv >> 62
            // committed (1) or finalized (2), and the slot still holds this id.
            if sv & idMask == id, state == 1 || state == 2 {
                let i = idx * L.infoSize
                let seq = u64(infoBytes, i + L.seq)
                let ts = u64(infoBytes, i + L.tsNsec)
                let textLen = Int(UInt16(infoBytes[i + L.textLen]) | UInt16(infoBytes[i + L.textLen + 1]) << 8)
                // struct printk_info: u16 text_len; u8 facility; u8 flags:5, level:3.
                let level = Int(infoBytes[i + L.textLen + 3] >> 5)
                let begin = u64(descBytes, d + L.textLpos + L.lposBegin)
                let next = u64(descBytes, d + L.textLpos + L.lposNext)
                var body = [UInt8]()
                if begin & 1 == 0, next & 1 == 0, begin != next {
                    // A data block is [id (8 bytes)][text]; one that would
                    // wrap starts at offset 0 of the next wrap instead.
                    var start = begin, len = next &- begin
                    if begin >> UInt64(sizeBits) != next >> UInt64(sizeBits) {
                        start = 0; len = next & (dataSize - 1)
                    } else {
                        start = begin & (dataSize - 1)
                    }
                    if len > 8, start + len <= dataSize {
                        let n = min(textLen, Int(len) - 8)
                        body = Array(text[Int(start) + 8 ..< Int(start) + 8 + n])
                    }
                }
                out.append(PrintkRecord(sequence: seq, timestampNanoseconds: ts, level: level, text: String(decoding: body, as: UTF8.self)))
            }
            if id == last { break }
            id = (id &+ 1) & idMask
            steps += 1
        }
        return out
    }

    /// The kernel log as Debian's `crash` prints it with `log`: each record
    /// `[seconds.micros] text`, the seconds right-aligned in 5 columns, a
    /// newline inside a record continued under the text, non-printable
    /// bytes as `.`.
    public func linuxLog() throws -> ConsoleLog {
        let records = try printkRecords()
        var out = ""
        for r in records {
            let prefix = "[" + pad(String(r.timestampNanoseconds / 1_000_000_000), 5) + "." + zeroPad(String(r.timestampNanoseconds % 1_000_000_000 / 1000), 6) + "] "
            out += prefix
            let indent = String(repeating: " ", count: prefix.count)
            for u in r.text.utf8 {
                if u == 0x0a { out += "\n" + indent } else if (u >= 0x20 && u < 0x7f) || u == 0x09 || u == 0x0b || u == 0x0c || u == 0x0d {
                    out.unicodeScalars.append(UnicodeScalar(u))
                } else { out += "." }
            }
            out += "\n"
        }
        let seqs = records.map(\.sequence)
        return ConsoleLog(text: out, source: "printk ring (\(records.count) records, seq \(seqs.first ?? 0)–\(seqs.last ?? 0))",
                          producer: (seqs.last ?? 0) + 1, size: UInt64(records.count))
    }
}

private func hex(_ v: UInt64) -> String { String(v, radix: 16) }
private func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }
private func zeroPad(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: "0", count: n - s.count) + s }

extension CrashSession {
    /// The console log of whatever the dump holds: a Linux kernel's printk
    /// ring (when VMCOREINFO describes one), else Xen's conring.
    public func consoleLog() throws -> ConsoleLog {
        if let v = dump.vmcoreinfo, v.symbol("prb") != nil { return try linuxLog() }
        return try consoleRing()
    }
}
