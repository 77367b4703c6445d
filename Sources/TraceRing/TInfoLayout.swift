/// Xen's `t_info` area, parsed: the ring size and, for every CPU that has a
/// ring, the list of frame numbers ("MFNs") of its pages.
///
/// Layout (docs/trace-format.md §7): u16 `tbuf_size` (pages per ring), then
/// u16 `mfn_offset[NR_CPUS]` — for each CPU the offset in 32-bit words from
/// the start of t_info of its MFN list, 0 for "no ring" — then the u32 lists.
/// The consumer does not know NR_CPUS, so it asks about `cpuCount` CPUs
/// (Xen: max_cpu_id + 1; our regions: the control page's count).
public struct TInfoLayout: Sendable, Equatable {
    /// Pages per CPU ring (`tbuf_size`).
    public let pagesPerCPU: Int
    /// CPUs that have a ring, ascending, with their page frame numbers.
    public let rings: [Ring]

    /// One CPU's ring pages.
    public struct Ring: Sendable, Equatable {
        public let cpu: UInt32
        public let frames: [UInt32]
    }

    /// Bytes of record data per ring: the pages minus the 8-byte t_buf header.
    public var dataSize: Int { pagesPerCPU * 4096 - 8 }

    /// Parses `bytes` (the whole mapped t_info). Throws if an offset or list
    /// lies outside it, or the size is zero.
    public init(_ bytes: UnsafeRawBufferPointer, cpuCount: Int, name: String) throws(TraceRingError) {
        guard bytes.count >= 4 else { throw TraceRingError("\(name): t_info of \(bytes.count) bytes is too small") }
        let pages = Int(bytes.loadUnaligned(fromByteOffset: 0, as: UInt16.self).littleEndian)
        guard pages > 0 else {
            throw TraceRingError("\(name): t_info says rings have 0 pages (trace buffers not allocated)")
        }
        var rings: [Ring] = []
        for cpu in 0..<cpuCount {
            let at = 2 + 2 * cpu
            guard at + 2 <= bytes.count else {
                throw TraceRingError("\(name): t_info of \(bytes.count) bytes has no mfn_offset for CPU \(cpu)")
            }
            let off = Int(bytes.loadUnaligned(fromByteOffset: at, as: UInt16.self).littleEndian)
            if off == 0 { continue }
            let start = off * 4
            guard start >= 2 + 2 * cpuCount, start + pages * 4 <= bytes.count else {
                throw TraceRingError("\(name): CPU \(cpu)'s frame list at word \(off) (\(pages) entries) lies outside t_info (\(bytes.count) bytes)")
            }
            let frames = (0..<pages).map { bytes.loadUnaligned(fromByteOffset: start + 4 * $0, as: UInt32.self).littleEndian }
            rings.append(Ring(cpu: UInt32(cpu), frames: frames))
        }
        self.pagesPerCPU = pages
        self.rings = rings
    }
}
