import CElfUtils

/// The functions and inlined-subroutine instances of one compilation unit,
/// indexed once so that each address lookup is a binary search plus a walk
/// up a few parents — instead of libdw's `dwarf_getscopes`, which re-walks
/// the CU's DIE tree on every call.
final class ScopeIndex {
    /// A DW_TAG_subprogram or DW_TAG_inlined_subroutine DIE.
    struct Node {
        var dieOffset: UInt64
        var parent: Int32
        var isInlined: Bool
        var callFile: UInt64
        var callLine: Int
        var callColumn: Int
        var hasCallFile: Bool
    }
    /// One address range of a node, in CU (DWARF) addresses.
    struct Entry {
        var low: UInt64
        var high: UInt64
        var node: Int32
        var depth: Int32
        /// Nearest earlier entry that contains this one's start (-1: none).
        var enclosing: Int32
    }

    private(set) var nodes: [Node] = []
    private(set) var entries: [Entry] = []
    /// Lazily resolved function names, by node.
    private var names: [String?]
    /// The CU's file table (`dwarf_getsrcfiles`), resolved on first use.
    private var files: [String?]?
    private var cu: Dwarf_Die
    let dwarf: OpaquePointer

    init(cu: Dwarf_Die, dwarf: OpaquePointer) {
        self.cu = cu
        self.dwarf = dwarf
        names = []
        var root = cu
        var child = Dwarf_Die()
        if dwarf_child(&root, &child) == 0 { visit(first: child, parent: -1, depth: 0) }
        names = Array(repeating: nil, count: nodes.count)
        entries.sort { $0.low != $1.low ? $0.low < $1.low : $0.depth < $1.depth }
        var stack: [Int32] = []
        for i in entries.indices {
            while let top = stack.last, entries[Int(top)].high <= entries[i].low { stack.removeLast() }
            entries[i].enclosing = stack.last ?? -1
            stack.append(Int32(i))
        }
    }

    /// Walks `first` and its siblings, descending only into DIEs that can
    /// contain code scopes (types, variables and parameters are skipped).
    private func visit(first: Dwarf_Die, parent: Int32, depth: Int32) {
        var die = first
        while true {
            let tag = dwarf_tag(&die)
            switch tag {
            case Int32(DW_TAG_subprogram), Int32(DW_TAG_inlined_subroutine), Int32(DW_TAG_entry_point):
                let me = Int32(nodes.count)
                var node = Node(dieOffset: dwarf_dieoffset(&die), parent: parent, isInlined: tag == Int32(DW_TAG_inlined_subroutine),
                                callFile: 0, callLine: 0, callColumn: 0, hasCallFile: false)
                if node.isInlined {
                    var attr = Dwarf_Attribute()
                    var v: Dwarf_Word = 0
                    if dwarf_formudata(dwarf_attr(&die, UInt32(DW_AT_call_file), &attr), &v) == 0 { node.callFile = v; node.hasCallFile = true }
                    if dwarf_formudata(dwarf_attr(&die, UInt32(DW_AT_call_line), &attr), &v) == 0 { node.callLine = Int(v) }
                    if dwarf_formudata(dwarf_attr(&die, UInt32(DW_AT_call_column), &attr), &v) == 0 { node.callColumn = Int(v) }
                }
                nodes.append(node)
                var offset = 0
                var base: Dwarf_Addr = 0, lo: Dwarf_Addr = 0, hi: Dwarf_Addr = 0
                while true {
                    offset = dwarf_ranges(&die, offset, &base, &lo, &hi)
                    if offset <= 0 { break }
                    if hi > lo { entries.append(Entry(low: lo, high: hi, node: me, depth: depth, enclosing: -1)) }
                }
                var child = Dwarf_Die()
                if dwarf_child(&die, &child) == 0 { visit(first: child, parent: me, depth: depth + 1) }
            case Int32(DW_TAG_lexical_block), Int32(DW_TAG_namespace), Int32(DW_TAG_module),
                 Int32(DW_TAG_class_type), Int32(DW_TAG_structure_type), Int32(DW_TAG_union_type):
                // Transparent containers: their scopes belong to our parent.
                var child = Dwarf_Die()
                if dwarf_child(&die, &child) == 0 { visit(first: child, parent: parent, depth: depth + 1) }
            default:
                break
            }
            var next = Dwarf_Die()
            if dwarf_siblingof(&die, &next) != 0 { break }
            die = next
        }
    }

    /// The innermost node whose ranges contain `address` (CU address), or -1.
    func innermost(_ address: UInt64) -> Int32 {
        var lo = 0, hi = entries.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if entries[mid].low <= address { lo = mid + 1 } else { hi = mid }
        }
        var i = Int32(lo - 1)
        while i >= 0 {
            let e = entries[Int(i)]
            if address < e.high { return e.node }
            i = e.enclosing
        }
        return -1
    }

    /// The node chain from `node` up to its outermost function.
    func chain(from node: Int32) -> [Int32] {
        var out: [Int32] = []
        var n = node
        while n >= 0 && out.count < 256 { out.append(n); n = nodes[Int(n)].parent }
        return out
    }

    /// The name eu-addr2line and gdb show: linkage name if any, else DW_AT_name
    /// (both followed through DW_AT_abstract_origin/DW_AT_specification).
    func name(of node: Int32) -> String? {
        if let n = names[Int(node)] { return n }
        var die = Dwarf_Die()
        guard dwarf_offdie(dwarf, Dwarf_Off(nodes[Int(node)].dieOffset), &die) != nil else { return nil }
        var attr = Dwarf_Attribute()
        var s: UnsafePointer<CChar>? = dwarf_formstring(dwarf_attr_integrate(&die, UInt32(DW_AT_MIPS_linkage_name), &attr))
        if s == nil { s = dwarf_formstring(dwarf_attr_integrate(&die, UInt32(DW_AT_linkage_name), &attr)) }
        if s == nil { s = dwarf_diename(&die) }
        guard let s else { return nil }
        let name = String(cString: s)
        names[Int(node)] = name
        return name
    }

    /// Source file `index` of this CU's line table header, joined with a
    /// relative DW_AT_comp_dir.
    func file(_ index: UInt64) -> String? {
        if files == nil {
            var table: OpaquePointer?
            var count = 0
            var list: [String?] = []
            if dwarf_getsrcfiles(&cu, &table, &count) == 0, let table {
                let compDir = Self.compDir(&cu)
                for i in 0..<count {
                    list.append(dwarf_filesrc(table, i, nil, nil).map { Self.join(compDir, String(cString: $0)) })
                }
            }
            files = list
        }
        guard index < UInt64(files!.count) else { return nil }
        return files![Int(index)]
    }

    /// DW_AT_comp_dir of a CU DIE.
    static func compDir(_ cu: UnsafeMutablePointer<Dwarf_Die>) -> String? {
        var attr = Dwarf_Attribute()
        return dwarf_formstring(dwarf_attr(cu, UInt32(DW_AT_comp_dir), &attr)).map { String(cString: $0) }
    }

    /// libdw leaves a relative path relative to the (possibly relative) comp_dir;
    /// join them as eu-addr2line -A, addr2line and llvm-symbolizer do.
    static func join(_ compDir: String?, _ file: String) -> String {
        guard !file.hasPrefix("/"), let compDir, !compDir.isEmpty else { return file }
        if file.hasPrefix(compDir + "/") { return file }
        return compDir.hasSuffix("/") ? compDir + file : compDir + "/" + file
    }
}
