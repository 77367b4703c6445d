import CElfUtils

/// Struct member offsets from DWARF, looked up in one compilation unit (the
/// one holding a given address), so no index of the whole image is needed:
/// Linux's task_struct is complete in the CU of any function using it.
enum TypeLayout {
    /// Byte offset of `member` in `struct type` as defined in the CU that
    /// contains `fileAddress`; members of anonymous structs/unions are
    /// searched too. nil when the CU has no complete definition.
    static func memberOffset(module mod: OpaquePointer, fileAddress: UInt64, type: String, member: String) -> Int? {
        structDefinition(module: mod, fileAddress: fileAddress, type: type) { find(member, in: &$0, depth: 0) }
    }

    /// `sizeof(struct type)` as defined in the CU that contains
    /// `fileAddress` (the stride of an array of them); nil without a
    /// complete definition there.
    static func structSize(module mod: OpaquePointer, fileAddress: UInt64, type: String) -> Int? {
        structDefinition(module: mod, fileAddress: fileAddress, type: type) { die in
            let size = dwarf_bytesize(&die)
            return size >= 0 ? Int(size) : nil
        }
    }

    /// The value of enumerator `name` (of any enum, named or not, declared
    /// at the top of the CU that contains `fileAddress`).
    static func enumeratorValue(module mod: OpaquePointer, fileAddress: UInt64, name: String) -> Int64? {
        firstTopLevel(module: mod, fileAddress: fileAddress) { (child: inout Dwarf_Die) -> Int64?? in
            guard dwarf_tag(&child) == Int32(DW_TAG_enumeration_type) else { return nil }
            var e = Dwarf_Die()
            guard dwarf_child(&child, &e) == 0 else { return nil }
            repeat {
                guard dwarf_tag(&e) == Int32(DW_TAG_enumerator), let n = dwarf_diename(&e), String(cString: n) == name else { continue }
                var attr = Dwarf_Attribute()
                guard dwarf_attr(&e, UInt32(DW_AT_const_value), &attr) != nil else { return .some(nil) }
                var v: Dwarf_Sword = 0
                if dwarf_formsdata(&attr, &v) == 0 { return Int64(v) }
                var u: Dwarf_Word = 0
                return .some(dwarf_formudata(&attr, &u) == 0 ? Int64(bitPattern: UInt64(u)) : nil)
            } while next(&e)
            return nil
        } ?? nil
    }

    /// `body` applied to the complete (non-declaration) definition of
    /// `struct type` at the top of the CU holding `fileAddress`; nil if none.
    private static func structDefinition<T>(module mod: OpaquePointer, fileAddress: UInt64, type: String,
                                            _ body: (inout Dwarf_Die) -> T?) -> T? {
        firstTopLevel(module: mod, fileAddress: fileAddress) { child -> T?? in
            guard dwarf_tag(&child) == Int32(DW_TAG_structure_type), let n = dwarf_diename(&child), String(cString: n) == type,
                  dwarf_hasattr(&child, UInt32(DW_AT_declaration)) == 0 else { return nil }
            return .some(body(&child))
        } ?? nil
    }

    /// Visits the top-level DIEs of the CU holding `fileAddress` in order and
    /// returns the first non-nil result of `visit` (nil: keep looking).
    private static func firstTopLevel<T>(module mod: OpaquePointer, fileAddress: UInt64, _ visit: (inout Dwarf_Die) -> T?) -> T? {
        var bias: Dwarf_Addr = 0
        guard let cu = dwfl_module_addrdie(mod, fileAddress, &bias) else { return nil }
        var child = Dwarf_Die()
        guard dwarf_child(cu, &child) == 0 else { return nil }
        repeat {
            if let found = visit(&child) { return found }
        } while next(&child)
        return nil
    }

    private static func find(_ member: String, in parent: inout Dwarf_Die, depth: Int) -> Int? {
        guard depth < 8 else { return nil }
        var m = Dwarf_Die()
        guard dwarf_child(&parent, &m) == 0 else { return nil }
        repeat {
            guard dwarf_tag(&m) == Int32(DW_TAG_member) else { continue }
            let here = location(&m)
            if let n = dwarf_diename(&m) {
                if String(cString: n) == member { return here }
            } else if let base = here {
                // Anonymous struct/union: look inside its type.
                var attr = Dwarf_Attribute()
                var t = Dwarf_Die()
                if dwarf_attr_integrate(&m, UInt32(DW_AT_type), &attr) != nil, dwarf_formref_die(&attr, &t) != nil,
                   let inner = find(member, in: &t, depth: depth + 1) {
                    return base + inner
                }
            }
        } while next(&m)
        return nil
    }

    /// Moves `die` to its next sibling; false at the end.
    private static func next(_ die: inout Dwarf_Die) -> Bool {
        var copy = die
        var sib = Dwarf_Die()
        guard dwarf_siblingof(&copy, &sib) == 0 else { return false }
        die = sib
        return true
    }

    private static func location(_ m: inout Dwarf_Die) -> Int? {
        var attr = Dwarf_Attribute()
        guard dwarf_attr(&m, UInt32(DW_AT_data_member_location), &attr) != nil else { return 0 }   // union members
        var v: Dwarf_Word = 0
        return dwarf_formudata(&attr, &v) == 0 ? Int(v) : nil
    }
}
