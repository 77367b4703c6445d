import BinaryIO
import ELF

/// Opens a dump of any supported format, recognised by its first bytes:
/// "makedumpfile" (flattened) or "KDUMP   "/"DISKDUMP" → kdump-compressed;
/// ELF `ET_CORE` with a `.note.Xen` section → Xen `xl dump-core`; other ELF
/// cores → ``ElfCoreDump``.
public func openDump(path: String) throws -> any Dump {
    let file = try MappedFile(path: path)
    if KdumpCompressedDump.recognises(file) {
        return try KdumpCompressedDump(file: file)
    }
    guard file.count >= 4, file.withBytes({ Array($0[0..<4]) }) == [0x7f, 0x45, 0x4c, 0x46] else {
        let head = file.withBytes { Array($0.prefix(8)) }
        throw InputError(file: path, offset: 0, "not a dump this tool reads (first bytes \(head.map { String($0, radix: 16) }.joined(separator: " ")); expected ELF core, kdump-compressed or flattened)")
    }
    let elf = try ELFFile(mapped: file)
    if elf.header.type == ELFHeader.typeCore, elf.programHeaders.isEmpty, elf.sections.isEmpty {
        // xc_core files keep their section table at the very end, so a cut
        // file loses it and with it every way to find pages and registers.
        throw InputError(file: path, offset: Int(clamping: elf.header.sectionHeaderOffset),
                         "ELF core with no program headers and no readable section table (section table at offset \(elf.header.sectionHeaderOffset), file has \(file.count) bytes): a truncated `xl dump-core` file? Nothing in it can be located")
    }
    if XenCoreDump.recognises(elf) {
        return try XenCoreDump(elf: elf)
    }
    return try ElfCoreDump(elf: elf)
}
