/// Builds small ELF64 little-endian images by hand, for tests of truncated
/// and corrupt headers that no compiler would produce.
struct ELFBuilder {
    var bytes = [UInt8](repeating: 0, count: 64)

    init(type: UInt16 = 4, phoff: UInt64 = 64, phnum: UInt16 = 0, shoff: UInt64 = 0, shnum: UInt16 = 0, shstrndx: UInt16 = 0) {
        bytes.replaceSubrange(0..<4, with: [0x7f, 0x45, 0x4c, 0x46])
        bytes[4] = 2; bytes[5] = 1; bytes[6] = 1
        put16(16, type); put16(18, 62); put32(20, 1)
        put64(32, phoff); put64(40, shoff)
        put16(52, 64); put16(54, 56); put16(56, phnum); put16(58, 64); put16(60, shnum); put16(62, shstrndx)
    }

    mutating func put16(_ at: Int, _ v: UInt16) { for i in 0..<2 { bytes[at + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) } }
    mutating func put32(_ at: Int, _ v: UInt32) { for i in 0..<4 { bytes[at + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) } }
    mutating func put64(_ at: Int, _ v: UInt64) { for i in 0..<8 { bytes[at + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) } }

    /// Appends raw bytes and returns their offset.
    @discardableResult
    mutating func append(_ b: [UInt8]) -> Int { let o = bytes.count; bytes += b; return o }

    static func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    static func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    static func phdr(type: UInt32, flags: UInt32 = 4, offset: UInt64, vaddr: UInt64 = 0, filesz: UInt64, memsz: UInt64? = nil, align: UInt64 = 4) -> [UInt8] {
        le32(type) + le32(flags) + le64(offset) + le64(vaddr) + le64(vaddr) + le64(filesz) + le64(memsz ?? filesz) + le64(align)
    }

    static func shdr(name: UInt32 = 0, type: UInt32 = 0, offset: UInt64 = 0, size: UInt64 = 0, link: UInt32 = 0, info: UInt32 = 0, align: UInt64 = 1) -> [UInt8] {
        le32(name) + le32(type) + le64(0) + le64(0) + le64(offset) + le64(size) + le32(link) + le32(info) + le64(align) + le64(0)
    }

    /// One note with 4-byte padding.
    static func note(name: String, type: UInt32, desc: [UInt8]) -> [UInt8] {
        var n = Array(name.utf8) + [0]
        let namesz = UInt32(n.count)
        while n.count % 4 != 0 { n.append(0) }
        var d = desc
        while d.count % 4 != 0 { d.append(0) }
        return le32(namesz) + le32(UInt32(desc.count)) + le32(type) + n + d
    }
}
