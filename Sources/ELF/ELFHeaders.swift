/// The ELF64 file header fields XenScope uses (System V gABI layout).
///
/// Only 64-bit little-endian files are accepted: every input XenScope reads
/// (x86-64 Xen, Linux kernels, QEMU/kdump cores, test binaries) is that shape.
public struct ELFHeader: Sendable, Equatable {
    /// `e_type`: 1 REL, 2 EXEC, 3 DYN, 4 CORE.
    public var type: UInt16
    /// `e_machine`: 62 is x86-64.
    public var machine: UInt16
    public var entry: UInt64
    /// File offset of the program header table (`e_phoff`).
    public var programHeaderOffset: UInt64
    /// File offset of the section header table (`e_shoff`).
    public var sectionHeaderOffset: UInt64
    public var flags: UInt32
    public var programHeaderEntrySize: UInt16
    /// Raw `e_phnum`; may be ``ELFHeader/extendedNumbering`` (PN_XNUM).
    public var programHeaderCountField: UInt16
    public var sectionHeaderEntrySize: UInt16
    /// Raw `e_shnum`; 0 means "the count is in section 0's `sh_size`".
    public var sectionHeaderCountField: UInt16
    /// Raw `e_shstrndx`; 0xffff (SHN_XINDEX) means "in section 0's `sh_link`".
    public var sectionNameTableIndexField: UInt16

    /// `PN_XNUM`: the real program header count lives in section 0's `sh_info`.
    public static let extendedNumbering: UInt16 = 0xffff
    /// Size of an ELF64 file header.
    public static let size = 64

    public static let typeRelocatable: UInt16 = 1
    public static let typeExecutable: UInt16 = 2
    public static let typeShared: UInt16 = 3
    public static let typeCore: UInt16 = 4
    public static let machineX86_64: UInt16 = 62
}

/// One ELF64 program header (segment).
public struct ProgramHeader: Sendable, Equatable {
    public var type: UInt32
    public var flags: UInt32
    public var offset: UInt64
    public var virtualAddress: UInt64
    public var physicalAddress: UInt64
    public var fileSize: UInt64
    public var memorySize: UInt64
    public var alignment: UInt64

    public static let typeLoad: UInt32 = 1
    public static let typeDynamic: UInt32 = 2
    public static let typeNote: UInt32 = 4
    /// Size of one ELF64 program header.
    public static let size = 56
    public static let flagExecute: UInt32 = 1
}

/// One ELF64 section header, with its name resolved from the section name table.
public struct SectionHeader: Sendable, Equatable {
    /// Index in the section header table.
    public var index: Int
    /// Name from `.shstrtab` (empty when unnamed or unreadable).
    public var name: String
    public var type: UInt32
    public var flags: UInt64
    public var address: UInt64
    public var offset: UInt64
    public var size: UInt64
    public var link: UInt32
    public var info: UInt32
    public var alignment: UInt64
    public var entrySize: UInt64

    public static let typeNull: UInt32 = 0
    public static let typeProgBits: UInt32 = 1
    public static let typeSymtab: UInt32 = 2
    public static let typeStrtab: UInt32 = 3
    public static let typeNote: UInt32 = 7
    public static let typeNoBits: UInt32 = 8
    public static let typeDynsym: UInt32 = 11
    /// `SHF_ALLOC`: occupies memory at run time.
    public static let flagAlloc: UInt64 = 0x2
    /// `SHF_EXECINSTR`: contains instructions.
    public static let flagExecute: UInt64 = 0x4
    /// Size of one ELF64 section header.
    public static let size = 64
}

/// One ELF note (from a PT_NOTE segment or an SHT_NOTE section).
///
/// The descriptor stays in the file; read it with ``ELFFile/noteDescriptor(_:)``
/// or through `descriptorOffset` so large notes (e.g. QEMU's) are not copied.
public struct ELFNote: Sendable, Equatable {
    /// Note owner, without the trailing NUL ("GNU", "CORE", "QEMU", "Xen", …).
    public var name: String
    /// `n_type` (e.g. 1 NT_PRSTATUS in "CORE", 3 NT_GNU_BUILD_ID in "GNU").
    public var type: UInt32
    /// File offset of the note header (`n_namesz`).
    public var offset: Int
    /// File offset of the descriptor.
    public var descriptorOffset: Int
    /// Size of the descriptor in bytes.
    public var descriptorSize: Int

    /// `NT_GNU_BUILD_ID` (owner "GNU").
    public static let gnuBuildID: UInt32 = 3
    /// `NT_PRSTATUS` (owner "CORE").
    public static let prstatus: UInt32 = 1
}
