import BinaryIO
import ELF

/// Address → ELF symbol, answered by binary search. libdwfl's
/// `dwfl_module_addrinfo` scans the whole symbol table on every call (about
/// 150,000 entries in a kernel), so we index the sized symbols once and
/// replay libdwfl's choice among the few that contain the address: global
/// symbols first, closest start, then binding (global > weak > local), then
/// the smaller size. Addresses no sized symbol covers (assembly labels,
/// padding) are left to libdwfl, which is exact there and rarely asked.
struct SymbolTableIndex {
    struct Entry {
        var value: UInt64
        var size: UInt64
        /// Offset of the name in the string table (names are made on demand).
        var nameOffset: UInt32
        /// 3 global, 2 weak, 1 local (libdwfl's preference order).
        var bindingRank: UInt8
        /// True for entries at or after the table's first global (sh_info).
        var globalPass: Bool
        /// Position in the symbol table (libdwfl's tie-break is table order).
        var order: Int32
    }

    private var sized: [Entry] = []
    /// Largest `value + size` among `sized[0...i]`, to bound backward scans.
    private var maxEnd: [UInt64] = []
    /// Values of global sizeless symbols (libdwfl stops before locals on an exact hit).
    private var globalSizeless: Set<UInt64> = []

    private let elf: ELFFile?
    private let strtab: SectionHeader?

    /// An index that answers nothing (every lookup goes to libdwfl).
    init() { elf = nil; strtab = nil }

    /// Reads `table` (".symtab" or ".dynsym") of `elf` straight from the
    /// mapping: no strings are made until a symbol is returned.
    init(elf: ELFFile, table: String) throws {
        // sh_entsize is the file's word: a hostile 2^64-1 must not reach Int().
        guard let tab = elf.section(named: table), tab.type != SectionHeader.typeNoBits, tab.entrySize >= 24,
              tab.entrySize <= max(tab.size, 24), Int(tab.link) < elf.sections.count else { self.elf = nil; strtab = nil; return }
        self.elf = elf
        strtab = elf.sections[Int(tab.link)]
        let firstGlobal = Int(tab.info)
        let entrySize = Int(tab.entrySize)
        var sized: [Entry] = []
        var globalSizeless: Set<UInt64> = []
        try elf.withBytes(offset: tab.offset, count: tab.size) { raw in
            let count = raw.count / entrySize
            sized.reserveCapacity(count)
            for i in 1..<max(count, 1) {
                let at = i * entrySize
                let nameOffset = raw.loadUnaligned(fromByteOffset: at, as: UInt32.self)
                let info = raw[at + 4]
                let shndx = raw.loadUnaligned(fromByteOffset: at + 6, as: UInt16.self)
                let value = raw.loadUnaligned(fromByteOffset: at + 8, as: UInt64.self)
                let size = raw.loadUnaligned(fromByteOffset: at + 16, as: UInt64.self)
                let type = info & 0xf, binding = info >> 4
                guard nameOffset != 0, shndx != 0, type != 3, type != 4, type != 6 else { continue }
                if size == 0 {
                    if i >= firstGlobal { globalSizeless.insert(value) }
                    continue
                }
                let rank: UInt8 = binding == 1 ? 3 : binding == 2 ? 2 : binding == 0 ? 1 : 0
                sized.append(Entry(value: value, size: size, nameOffset: nameOffset, bindingRank: rank, globalPass: i >= firstGlobal, order: Int32(i)))
            }
        }
        sized.sort { $0.value != $1.value ? $0.value < $1.value : $0.order < $1.order }
        var m: UInt64 = 0
        self.maxEnd = sized.map { m = max(m, $0.value &+ $0.size); return m }
        self.sized = sized
        self.globalSizeless = globalSizeless
    }

    /// The name at `offset` in the string table ("" when out of bounds).
    private func name(_ offset: UInt32) -> String {
        guard let elf, let strtab, UInt64(offset) < strtab.size,
              case (let at, false) = strtab.offset.addingReportingOverflow(UInt64(offset)) else { return "" }
        return (try? elf.withBytes(offset: at, count: strtab.size - UInt64(offset)) { $0.byteView.cString(at: 0) }) ?? ""
    }

    var isEmpty: Bool { sized.isEmpty }

    /// The symbol libdwfl would name for `address`, and the offset into it;
    /// nil when the answer needs libdwfl's full scan.
    func lookup(_ address: UInt64) -> (name: String, offset: UInt64)? {
        var lo = 0, hi = sized.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if sized[mid].value <= address { lo = mid + 1 } else { hi = mid }
        }
        var candidates: [Int] = []
        var i = lo - 1
        while i >= 0 && maxEnd[i] > address {
            if address &- sized[i].value < sized[i].size { candidates.append(i) }
            i -= 1
        }
        guard !candidates.isEmpty else { return nil }
        candidates.sort { sized[$0].order < sized[$1].order }
        let globals = candidates.filter { sized[$0].globalPass }
        let pass: [Int]
        if !globals.isEmpty {
            pass = globals
        } else {
            if globalSizeless.contains(address) { return nil }
            pass = candidates
        }
        var best: Entry?
        for c in pass {
            let s = sized[c]
            guard let b = best else { best = s; continue }
            if b.value < s.value || b.bindingRank < s.bindingRank {
                best = s
            } else if b.value == s.value && ((b.size > s.size && b.bindingRank <= s.bindingRank) || (b.size >= s.size && b.bindingRank < s.bindingRank)) {
                best = s
            }
        }
        return best.map { (name($0.nameOffset), address - $0.value) }
    }
}
