import CElfUtils
#if canImport(Glibc)
import Glibc
#endif

/// Where a member lies inside a structure, as the image's DWARF says.
public struct MemberLayout: Sendable, Equatable {
    /// Byte offset from the start of the outermost structure asked about.
    public var offset: Int
    /// Size in bytes of the member's type (typedefs and qualifiers peeled).
    public var size: Int
    /// The peeled type's name ("" for anonymous or pointer types).
    public var typeName: String
    /// True for pointers (the member holds an address).
    public var isPointer: Bool
    /// For arrays: the element size and count (count nil when unbounded).
    public var elementSize: Int?
    public var count: Int?
}

/// Why a layout could not be given.
public enum TypeLayoutError: Error, Sendable, Equatable, CustomStringConvertible {
    case noDebugInfo(String)
    case noStruct(image: String, name: String)
    case noMember(image: String, structName: String, member: String)

    public var description: String {
        switch self {
        case .noDebugInfo(let p): return "\(p) has no DWARF type information (.debug_info)"
        case let .noStruct(p, n): return "\(p): DWARF defines no struct \(n)"
        case let .noMember(p, s, m): return "\(p): struct \(s) has no member \(m) in its DWARF"
        }
    }
}

/// Structure layouts read from an image's DWARF (libdw), so analyses of a
/// kernel or hypervisor never hard-code an offset: `struct domain`'s
/// `next_in_list`, `struct vcpu`'s `arch.user_regs.rip`, … are looked up by
/// name. Anonymous unions and structs are searched through, as C does.
///
/// The index of struct definitions is built once, from the top-level DIEs of
/// every compile unit. Not thread-safe (libdw handles), like ``Symbolizer``.
public final class TypeLayouts {
    public let path: String
    private let fd: Int32
    private let dwarf: OpaquePointer
    /// Struct name → DIE offset of its first complete definition.
    private var structs: [String: Dwarf_Off] = [:]
    private var layoutCache: [String: MemberLayout] = [:]

    public init(path: String) throws {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw TypeLayoutError.noDebugInfo(path + " (cannot open: \(String(cString: strerror(errno))))") }
        guard let d = dwarf_begin(fd, DWARF_C_READ) else {
            close(fd)
            throw TypeLayoutError.noDebugInfo(path)
        }
        dwarf = d
        var off: Dwarf_Off = 0, next: Dwarf_Off = 0
        var headerSize = 0
        while dwarf_nextcu(dwarf, off, &next, &headerSize, nil, nil, nil) == 0 {
            var cu = Dwarf_Die(), child = Dwarf_Die()
            if dwarf_offdie(dwarf, off + Dwarf_Off(headerSize), &cu) != nil, dwarf_child(&cu, &child) == 0 {
                repeat {
                    let tag = dwarf_tag(&child)
                    if tag == DW_TAG_structure_type || tag == DW_TAG_union_type, let n = dwarf_diename(&child),
                       dwarf_hasattr(&child, UInt32(DW_AT_declaration)) == 0, dwarf_hasattr(&child, UInt32(DW_AT_byte_size)) != 0 {
                        let name = String(cString: n)
                        if structs[name] == nil { structs[name] = dwarf_dieoffset(&child) }
                    }
                } while nextSibling(&child)
            }
            off = next
        }
        // Thrown with every property set, deinit still runs: it ends the
        // libdw session and closes fd (doing it here too freed them twice).
        if structs.isEmpty { throw TypeLayoutError.noDebugInfo(path) }
    }

    deinit {
        dwarf_end(dwarf)
        close(fd)
    }

    /// True when the image defines `struct name`.
    public func hasStruct(_ name: String) -> Bool { structs[name] != nil }

    /// `sizeof(struct name)`.
    public func size(of name: String) throws -> Int {
        var die = try structDIE(name)
        return Int(dwarf_bytesize(&die))
    }

    /// The layout of `member` (a dotted path, e.g. "arch.user_regs.rip") in `struct structName`.
    public func member(_ member: String, in structName: String) throws -> MemberLayout {
        let key = structName + "." + member
        if let l = layoutCache[key] { return l }
        var die = try structDIE(structName)
        var offset = 0
        for part in member.split(separator: ".") {
            guard let (o, memberDie) = find(String(part), in: &die) else {
                throw TypeLayoutError.noMember(image: path, structName: structName, member: member)
            }
            offset += o
            var m = memberDie
            guard let t = peeledType(of: &m) else { throw TypeLayoutError.noMember(image: path, structName: structName, member: member) }
            die = t
        }
        var layout = MemberLayout(offset: offset, size: 0, typeName: "", isPointer: false)
        var size: Dwarf_Word = 0
        if dwarf_aggregate_size(&die, &size) == 0 { layout.size = Int(size) }
        else if dwarf_tag(&die) == DW_TAG_pointer_type { layout.size = 8 }
        if let n = dwarf_diename(&die) { layout.typeName = String(cString: n) }
        layout.isPointer = dwarf_tag(&die) == DW_TAG_pointer_type
        if dwarf_tag(&die) == DW_TAG_array_type {
            var elem = die
            if let e = peeledType(of: &elem) {
                var eDie = e, eSize: Dwarf_Word = 0
                if dwarf_aggregate_size(&eDie, &eSize) == 0 { layout.elementSize = Int(eSize) }
                else if dwarf_tag(&eDie) == DW_TAG_pointer_type { layout.elementSize = 8 }
                if let es = layout.elementSize, es > 0, layout.size > 0 { layout.count = layout.size / es }
            }
        }
        layoutCache[key] = layout
        return layout
    }

    private func structDIE(_ name: String) throws -> Dwarf_Die {
        guard let off = structs[name] else { throw TypeLayoutError.noStruct(image: path, name: name) }
        var die = Dwarf_Die()
        guard dwarf_offdie(dwarf, off, &die) != nil else { throw TypeLayoutError.noStruct(image: path, name: name) }
        return die
    }

    /// The named member of a struct/union DIE (searching anonymous members), with its offset.
    private func find(_ name: String, in parent: inout Dwarf_Die) -> (Int, Dwarf_Die)? {
        var child = Dwarf_Die()
        guard dwarf_child(&parent, &child) == 0 else { return nil }
        repeat {
            guard dwarf_tag(&child) == DW_TAG_member else { continue }
            let offset = memberOffset(&child)
            if let n = dwarf_diename(&child) {
                if String(cString: n) == name { return (offset, child) }
            } else {
                var c = child
                if var t = peeledType(of: &c), dwarf_tag(&t) == DW_TAG_structure_type || dwarf_tag(&t) == DW_TAG_union_type,
                   let (o, d) = find(name, in: &t) {
                    return (offset + o, d)
                }
            }
        } while nextSibling(&child)
        return nil
    }

    /// Moves `die` to its next sibling; false at the end.
    private func nextSibling(_ die: inout Dwarf_Die) -> Bool {
        var current = die
        return dwarf_siblingof(&current, &die) == 0
    }

    private func memberOffset(_ die: inout Dwarf_Die) -> Int {
        var attr = Dwarf_Attribute(), value: Dwarf_Word = 0
        guard dwarf_attr(&die, UInt32(DW_AT_data_member_location), &attr) != nil, dwarf_formudata(&attr, &value) == 0 else { return 0 }
        return Int(value)
    }

    /// The DIE's DW_AT_type with typedefs and cv-qualifiers peeled.
    private func peeledType(of die: inout Dwarf_Die) -> Dwarf_Die? {
        var attr = Dwarf_Attribute(), t = Dwarf_Die(), peeled = Dwarf_Die()
        guard dwarf_attr_integrate(&die, UInt32(DW_AT_type), &attr) != nil, dwarf_formref_die(&attr, &t) != nil else { return nil }
        guard dwarf_peel_type(&t, &peeled) == 0 else { return t }
        return peeled
    }
}
