import BinaryIO

/// A parsed ELF64 little-endian file: header, program headers, section
/// headers (by name), notes and the GNU build-id.
///
/// Everything is bounds-checked. A broken file header or program header
/// table throws an ``InputError`` naming the file and byte offset; problems in
/// the optional parts (section table, names, notes) are collected in
/// ``diagnostics`` and whatever is still valid is kept.
///
/// The bytes stay memory-mapped; read ranges with ``withBytes(offset:count:_:)``.
/// Instances are immutable and safe to share between threads.
public final class ELFFile: Sendable {
    /// Name used in error messages (the path, for mapped files).
    public let name: String
    public let header: ELFHeader
    /// Program headers, with PN_XNUM resolved (all of them, e.g. 65k in a QEMU core).
    public let programHeaders: [ProgramHeader]
    /// Section headers in table order; empty when the file has none or the
    /// table is unreadable (see ``diagnostics``).
    public let sections: [SectionHeader]
    /// Notes from PT_NOTE segments and SHT_NOTE sections, in file order,
    /// each note once even when a segment and a section cover it.
    public let notes: [ELFNote]
    /// Non-fatal problems found while parsing (each names file and offset).
    public let diagnostics: [InputError]

    private let storage: Storage

    private enum Storage: Sendable {
        case mapped(MappedFile)
        case array([UInt8])
    }

    /// Maps and parses the file at `path`.
    public convenience init(path: String) throws {
        try self.init(mapped: try MappedFile(path: path))
    }

    /// Parses an already mapped file.
    public convenience init(mapped: MappedFile) throws {
        try self.init(storage: .mapped(mapped), name: mapped.path)
    }

    /// Parses bytes held in memory (used by fuzzing and by tests of hand-built headers).
    public convenience init(bytes: [UInt8], name: String) throws {
        try self.init(storage: .array(bytes), name: name)
    }

    private init(storage: Storage, name: String) throws {
        self.storage = storage
        self.name = name
        let parsed = try Self.withStorage(storage) { b in
            var p = Parser(bytes: b, name: name)
            return try p.parse()
        }
        header = parsed.header
        programHeaders = parsed.programHeaders
        sections = parsed.sections
        notes = parsed.notes
        diagnostics = parsed.diagnostics
    }

    private static func withStorage<R>(_ s: Storage, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch s {
        case .mapped(let m): return try m.withBytes(body)
        case .array(let a): return try a.withUnsafeBytes(body)
        }
    }

    /// Size of the file in bytes.
    public var count: Int { Self.withStorage(storage) { $0.count } }

    /// Calls `body` with `count` bytes at file `offset`, or throws an
    /// ``InputError`` if the range is not inside the file. The buffer must not escape.
    public func withBytes<R>(offset: UInt64, count: UInt64, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try Self.withStorage(storage) { all in
            guard offset <= UInt64(all.count), count <= UInt64(all.count) - offset else {
                throw InputError(file: name, offset: Int(clamping: offset),
                                 "range of \(count) bytes at 0x\(String(offset, radix: 16)) lies beyond the end of the file (\(all.count) bytes)")
            }
            return try body(UnsafeRawBufferPointer(rebasing: all[Int(offset)..<Int(offset + count)]))
        }
    }

    /// Copies `count` bytes at file `offset`.
    public func bytes(offset: UInt64, count: UInt64) throws -> [UInt8] {
        try withBytes(offset: offset, count: count) { Array($0) }
    }

    /// The first section called `name`, if any.
    public func section(named name: String) -> SectionHeader? {
        sections.first { $0.name == name }
    }

    /// The contents of `section` (empty for SHT_NOBITS), bounds-checked.
    public func contents(of section: SectionHeader) throws -> [UInt8] {
        if section.type == SectionHeader.typeNoBits { return [] }
        return try bytes(offset: section.offset, count: section.size)
    }

    /// The descriptor bytes of `note`.
    public func noteDescriptor(_ note: ELFNote) throws -> [UInt8] {
        try bytes(offset: UInt64(note.descriptorOffset), count: UInt64(note.descriptorSize))
    }

    /// The GNU build-id (`NT_GNU_BUILD_ID` descriptor), if the file has one.
    public var buildID: [UInt8]? {
        guard let n = notes.first(where: { $0.name == "GNU" && $0.type == ELFNote.gnuBuildID }) else { return nil }
        return try? noteDescriptor(n)
    }

    /// The build-id as lower-case hex, as `eu-readelf -n` and `file` print it.
    public var buildIDHex: String? { buildID.map(hexString) }

    /// The `.gnu_debuglink` file name and CRC32, if present.
    public var debugLink: (file: String, crc: UInt32)? {
        guard let s = section(named: ".gnu_debuglink"), let data = try? contents(of: s),
              let nul = data.firstIndex(of: 0), nul > 0 else { return nil }
        let file = String(decoding: data[..<nul], as: UTF8.self)
        let crcAt = (nul + 4) & ~3
        guard crcAt + 4 <= data.count else { return (file, 0) }
        let crc = UInt32(data[crcAt]) | UInt32(data[crcAt + 1]) << 8 | UInt32(data[crcAt + 2]) << 16 | UInt32(data[crcAt + 3]) << 24
        return (file, crc)
    }
}

/// Lower-case hex of `bytes` (build-ids).
public func hexString(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    out.reserveCapacity(bytes.count * 2)
    for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
    return String(decoding: out, as: UTF8.self)
}

/// Parses the tables of one ELF file from its bytes.
private struct Parser {
    let bytes: UnsafeRawBufferPointer
    let name: String
    var diagnostics: [InputError] = []

    init(bytes: UnsafeRawBufferPointer, name: String) {
        self.bytes = bytes
        self.name = name
    }

    struct Result {
        var header: ELFHeader
        var programHeaders: [ProgramHeader]
        var sections: [SectionHeader]
        var notes: [ELFNote]
        var diagnostics: [InputError]
    }

    func fail(_ offset: Int, _ message: String) -> InputError {
        InputError(file: name, offset: offset, message)
    }

    /// A cursor over `count` bytes at `offset`, or nil when out of bounds.
    func cursor(_ offset: UInt64, _ count: UInt64) -> ByteCursor? {
        guard offset <= UInt64(bytes.count), count <= UInt64(bytes.count) - offset else { return nil }
        return ByteCursor(UnsafeRawBufferPointer(rebasing: bytes[Int(offset)..<Int(offset + count)]), baseOffset: Int(offset))
    }

    mutating func parse() throws -> Result {
        let header = try parseHeader()
        // Section 0 carries the extended counts (PN_XNUM, e_shnum == 0, SHN_XINDEX).
        var section0: SectionHeader?
        if header.sectionHeaderOffset != 0 {
            if header.sectionHeaderEntrySize < SectionHeader.size {
                diagnostics.append(fail(58, "section header entry size \(header.sectionHeaderEntrySize) is smaller than \(SectionHeader.size); sections ignored"))
            } else if var c = cursor(header.sectionHeaderOffset, UInt64(SectionHeader.size)) {
                section0 = Self.readSection(&c, index: 0).0
            } else {
                diagnostics.append(fail(40, "section header table offset 0x\(String(header.sectionHeaderOffset, radix: 16)) lies beyond the end of the file (\(bytes.count) bytes); sections ignored"))
            }
        }
        var phnum = UInt64(header.programHeaderCountField)
        if header.programHeaderCountField == ELFHeader.extendedNumbering {
            guard let s0 = section0 else {
                throw fail(56, "e_phnum is PN_XNUM (0xffff) but section header 0, which holds the real count, is unreadable")
            }
            phnum = UInt64(s0.info)
        }
        let programHeaders = try parseProgramHeaders(header, count: phnum)
        let sections = section0 == nil ? [] : parseSections(header, section0!)
        let notes = parseNotes(programHeaders, sections)
        return Result(header: header, programHeaders: programHeaders, sections: sections, notes: notes, diagnostics: diagnostics)
    }

    func parseHeader() throws -> ELFHeader {
        guard bytes.count >= 4, bytes[0] == 0x7f, bytes[1] == 0x45, bytes[2] == 0x4c, bytes[3] == 0x46 else {
            throw fail(0, bytes.count < 4 ? "too short for an ELF file (\(bytes.count) bytes)" : "not an ELF file (no \\x7fELF magic)")
        }
        guard bytes.count >= ELFHeader.size else {
            throw fail(bytes.count, "truncated ELF header: file has \(bytes.count) bytes, the header needs \(ELFHeader.size)")
        }
        guard bytes[4] == 2 else { throw fail(4, "ELF class \(bytes[4]) is not supported (only ELFCLASS64)") }
        guard bytes[5] == 1 else { throw fail(5, "ELF data encoding \(bytes[5]) is not supported (only little-endian)") }
        var c = cursor(16, 48)!
        let h = ELFHeader(
            type: c.readUInt16()!, machine: c.readUInt16()!,
            entry: { _ = c.readUInt32(); return c.readUInt64()! }(),
            programHeaderOffset: c.readUInt64()!, sectionHeaderOffset: c.readUInt64()!,
            flags: c.readUInt32()!,
            programHeaderEntrySize: { _ = c.readUInt16(); return c.readUInt16()! }(),
            programHeaderCountField: c.readUInt16()!, sectionHeaderEntrySize: c.readUInt16()!,
            sectionHeaderCountField: c.readUInt16()!, sectionNameTableIndexField: c.readUInt16()!)
        return h
    }

    func parseProgramHeaders(_ h: ELFHeader, count: UInt64) throws -> [ProgramHeader] {
        guard count > 0 else { return [] }
        guard h.programHeaderEntrySize >= ProgramHeader.size else {
            throw fail(54, "program header entry size \(h.programHeaderEntrySize) is smaller than \(ProgramHeader.size)")
        }
        let entry = UInt64(h.programHeaderEntrySize)
        let (total, overflow) = count.multipliedReportingOverflow(by: entry)
        guard !overflow, cursor(h.programHeaderOffset, total) != nil else {
            throw fail(32, "program header table (\(count) entries of \(entry) bytes at 0x\(String(h.programHeaderOffset, radix: 16))) lies beyond the end of the file (\(bytes.count) bytes)")
        }
        var out = [ProgramHeader]()
        out.reserveCapacity(Int(count))
        for i in 0..<count {
            var c = cursor(h.programHeaderOffset + i * entry, UInt64(ProgramHeader.size))!
            out.append(ProgramHeader(type: c.readUInt32()!, flags: c.readUInt32()!, offset: c.readUInt64()!,
                                     virtualAddress: c.readUInt64()!, physicalAddress: c.readUInt64()!,
                                     fileSize: c.readUInt64()!, memorySize: c.readUInt64()!, alignment: c.readUInt64()!))
        }
        return out
    }

    /// Reads one section header; returns it with its `sh_name` offset (names resolved later).
    static func readSection(_ c: inout ByteCursor, index: Int) -> (SectionHeader, UInt32) {
        let nameOffset = c.readUInt32()!
        let s = SectionHeader(index: index, name: "", type: c.readUInt32()!, flags: c.readUInt64()!, address: c.readUInt64()!,
                              offset: c.readUInt64()!, size: c.readUInt64()!, link: c.readUInt32()!, info: c.readUInt32()!,
                              alignment: c.readUInt64()!, entrySize: c.readUInt64()!)
        return (s, nameOffset)
    }

    mutating func parseSections(_ h: ELFHeader, _ s0: SectionHeader) -> [SectionHeader] {
        var count = UInt64(h.sectionHeaderCountField)
        if count == 0 { count = s0.size }
        let entry = UInt64(h.sectionHeaderEntrySize)
        let (total, overflow) = count.multipliedReportingOverflow(by: entry)
        guard !overflow, count <= 1 << 20, cursor(h.sectionHeaderOffset, total) != nil else {
            diagnostics.append(fail(Int(clamping: h.sectionHeaderOffset), "section header table (\(count) entries of \(entry) bytes) lies beyond the end of the file (\(bytes.count) bytes); sections ignored"))
            return []
        }
        var out = [SectionHeader]()
        var nameOffsets = [UInt32]()
        out.reserveCapacity(Int(count))
        for i in 0..<count {
            var c = cursor(h.sectionHeaderOffset + i * entry, UInt64(SectionHeader.size))!
            let (s, n) = Self.readSection(&c, index: Int(i))
            out.append(s)
            nameOffsets.append(n)
        }
        var strndx = UInt64(h.sectionNameTableIndexField)
        if h.sectionNameTableIndexField == 0xffff { strndx = UInt64(s0.link) }
        let names: SectionHeader? = strndx > 0 && strndx < count ? out[Int(strndx)] : nil
        if names == nil && strndx != 0 {
            diagnostics.append(fail(62, "section name table index \(strndx) is not a section (\(count) sections); names left empty"))
        }
        let table = names.flatMap { cursor($0.offset, $0.type == SectionHeader.typeNoBits ? 0 : $0.size) }
        if let names, table == nil {
            diagnostics.append(fail(Int(clamping: names.offset), "section name table (\(names.size) bytes) lies beyond the end of the file; names left empty"))
        }
        for i in out.indices {
            let nameOffset = Int(nameOffsets[i])
            guard let table, nameOffset < table.bytes.count else { continue }
            let rest = UnsafeRawBufferPointer(rebasing: table.bytes[nameOffset...])
            if let end = rest.firstIndex(of: 0) {
                out[i].name = String(decoding: UnsafeRawBufferPointer(rebasing: rest[..<end]), as: UTF8.self)
            }
        }
        return out
    }

    mutating func parseNotes(_ phdrs: [ProgramHeader], _ sections: [SectionHeader]) -> [ELFNote] {
        var regions: [(offset: UInt64, size: UInt64, align: UInt64)] = []
        for p in phdrs where p.type == ProgramHeader.typeNote { regions.append((p.offset, p.fileSize, p.alignment)) }
        for s in sections where s.type == SectionHeader.typeNote { regions.append((s.offset, s.size, s.alignment)) }
        var seen = Set<Int>()
        var out = [ELFNote]()
        for r in regions {
            guard var c = cursor(r.offset, r.size) else {
                diagnostics.append(fail(Int(clamping: r.offset), "note area of \(r.size) bytes lies beyond the end of the file (\(bytes.count) bytes); skipped"))
                continue
            }
            // gABI notes are 4-aligned; GNU property notes in 8-aligned areas use 8.
            let align = r.align == 8 ? 8 : 4
            while c.remaining > 0 {
                let start = c.offset
                guard c.remaining >= 12 else {
                    diagnostics.append(fail(start, "truncated note header (\(c.remaining) bytes left in the note area)"))
                    break
                }
                let namesz = Int(c.readUInt32()!), descsz = Int(c.readUInt32()!), type = c.readUInt32()!
                // Padding is measured from the note's start: the descriptor and
                // the next note begin at multiples of the alignment.
                let descAt = (12 + namesz + align - 1) & ~(align - 1)
                let noteEnd = (descAt + descsz + align - 1) & ~(align - 1)
                let left = c.remaining + 12
                guard namesz <= left, descAt <= left, descsz <= left - descAt else {
                    diagnostics.append(fail(start, "note (name \(namesz) bytes, descriptor \(descsz) bytes) runs past the end of its note area"))
                    break
                }
                let nameBytes = UnsafeRawBufferPointer(rebasing: c.bytes[c.position..<(c.position + namesz)])
                let nameEnd = nameBytes.firstIndex(of: 0) ?? namesz
                let note = ELFNote(name: String(decoding: UnsafeRawBufferPointer(rebasing: nameBytes[..<nameEnd]), as: UTF8.self),
                                   type: type, offset: start, descriptorOffset: start + descAt, descriptorSize: descsz)
                if seen.insert(start).inserted { out.append(note) }
                if !c.skip(min(noteEnd, left) - 12) { break }
            }
        }
        out.sort { $0.offset < $1.offset }
        return out
    }
}
