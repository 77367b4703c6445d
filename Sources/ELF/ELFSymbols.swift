import BinaryIO

/// One ELF64 symbol-table entry.
public struct ELFSymbol: Sendable, Equatable {
    public var name: String
    public var value: UInt64
    public var size: UInt64
    /// `STT_*`: 0 NOTYPE, 1 OBJECT, 2 FUNC, 3 SECTION, 4 FILE.
    public var type: UInt8
    /// `STB_*`: 0 LOCAL, 1 GLOBAL, 2 WEAK.
    public var binding: UInt8
    /// Section index (0 = undefined, 0xfff1 = absolute).
    public var sectionIndex: UInt16

    public static let typeObject: UInt8 = 1
    public static let typeFunction: UInt8 = 2
}

extension ELFFile {
    /// The entries of the symbol table `.symtab` (or `.dynsym` with
    /// `table: ".dynsym"`), names resolved through the linked string table.
    /// Empty when the file has no such table; throws an ``InputError`` when
    /// the table or its strings lie outside the file.
    public func symbols(table: String = ".symtab") throws -> [ELFSymbol] {
        guard let tab = section(named: table), tab.type != SectionHeader.typeNoBits, tab.size > 0 else { return [] }
        guard tab.entrySize >= 24 else {
            throw InputError(file: name, offset: Int(clamping: tab.offset), "\(table) entry size \(tab.entrySize) is smaller than 24")
        }
        guard Int(tab.link) < sections.count else {
            throw InputError(file: name, offset: Int(clamping: tab.offset), "\(table) links to string table \(tab.link), which does not exist")
        }
        let strtab = sections[Int(tab.link)]
        return try withBytes(offset: strtab.offset, count: strtab.size) { strings in
            try withBytes(offset: tab.offset, count: tab.size) { raw in
                let count = Int(tab.size / tab.entrySize)
                var out = [ELFSymbol]()
                out.reserveCapacity(count)
                for i in 0..<count {
                    var c = ByteCursor(raw.byteView.subview((i * Int(tab.entrySize))..<(i * Int(tab.entrySize) + 24)),
                                       baseOffset: Int(tab.offset) + i * Int(tab.entrySize))
                    let nameOffset = Int(c.readUInt32()!)
                    let info = c.readUInt8()!
                    _ = c.readUInt8()
                    let shndx = c.readUInt16()!
                    let value = c.readUInt64()!, size = c.readUInt64()!
                    var symName = ""
                    if nameOffset < strings.count { symName = strings.byteView.cString(at: nameOffset) }
                    out.append(ELFSymbol(name: symName, value: value, size: size, type: info & 0xf, binding: info >> 4, sectionIndex: shndx))
                }
                return out
            }
        }
    }
}
