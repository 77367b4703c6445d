import BinaryIO
import CElfUtils
import ELF
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Turns addresses in one ELF image (executable, shared object, kernel,
/// `xen-syms`) into function names, inline chains and source lines, using
/// elfutils for the file formats and its own per-CU scope index for speed.
///
/// Load bias: `bias` is added to every link-time address (PIE or shared
/// object base, KASLR slide); addresses given to and returned by the API are
/// run-time addresses.
///
/// Thread safety: one libdw session guarded by a lock, so an instance may be
/// shared; for parallel throughput give each worker its own instance.
public final class Symbolizer: Sendable {
    /// The image file as given.
    public let path: String
    public let bias: UInt64
    /// The image's ELF tables (build-id, sections).
    public let elf: ELFFile
    /// The file DWARF is read from (the image itself or a separate debug
    /// file), nil when there is no DWARF: then only ELF symbols are used.
    public let debugFile: String?
    /// Why candidate debug files were not used (e.g. build-id mismatch).
    public let rejectedDebugFiles: [String]
    private let state: Mutex<Session>

    /// Loads `path`. `debugDirectories` are searched (before `/usr/lib/debug`)
    /// for a separate debug file by build-id and by `.gnu_debuglink`.
    public init(path: String, bias: UInt64 = 0, debugDirectories: [String] = []) throws {
        let elf = try ELFFile(path: path)
        self.path = path
        self.bias = bias
        self.elf = elf
        let found = DebugFileLocator(directories: debugDirectories).locate(for: elf, path: path)
        debugFile = found.debugFile
        rejectedDebugFiles = found.rejected
        let module = try DwflModule(path: path, debugFile: found.debugFile)
        // The symbol table libdwfl would use: the image's .symtab, else the
        // debug file's, else .dynsym. Indexed on first use (start-up stays cheap).
        let source: (ELFFile, String)?
        if elf.section(named: ".symtab") != nil {
            source = (elf, ".symtab")
        } else if let d = found.debugFile, d != path, let delf = try? ELFFile(path: d), delf.section(named: ".symtab") != nil {
            source = (delf, ".symtab")
        } else if elf.section(named: ".dynsym") != nil {
            source = (elf, ".dynsym")
        } else {
            source = nil
        }
        state = Mutex(Session(module: module, symbolSource: source))
    }

    /// True when DWARF (functions, lines, inline chains) is available.
    public var hasDWARF: Bool { debugFile != nil }

    /// The image's build-id as hex, if it has one.
    public var buildID: String? { elf.buildIDHex }

    /// Compares the image's build-id with `expected` (e.g. from a dump's or a
    /// trace's notes).
    public func checkBuildID(expected: [UInt8]) -> BuildIDCheck {
        guard let have = elf.buildID else { return .fileHasNone }
        return have == expected ? .match : .mismatch(file: hexString(have), expected: hexString(expected))
    }

    /// Run-time address ranges of executable PT_LOAD segments ("known text").
    public var textRanges: [Range<UInt64>] {
        elf.programHeaders.filter { $0.type == ProgramHeader.typeLoad && $0.flags & ProgramHeader.flagExecute != 0 && $0.memorySize > 0 }
            .map { ($0.virtualAddress &+ bias)..<($0.virtualAddress &+ bias &+ $0.memorySize) }
    }

    /// Symbolizes one run-time address.
    public func symbolize(_ address: UInt64) -> SymbolizedAddress {
        state.withLock { $0.symbolize(address, bias: bias) }
    }

    /// Symbolizes many addresses under one lock acquisition.
    public func symbolize(_ addresses: [UInt64]) -> [SymbolizedAddress] {
        state.withLock { s in addresses.map { s.symbolize($0, bias: bias) } }
    }

    /// `func+0xoff (file:line)` for `address` — the one-line form used beside
    /// addresses in trace and dump output.
    public func describe(address: UInt64) -> String {
        symbolize(address).description
    }

    /// Byte offset of `member` in `struct type`, from the DWARF of the CU
    /// that holds run-time address `inCUOf` (a function using the struct).
    public func memberOffset(type: String, member: String, inCUOf address: UInt64) -> Int? {
        state.withLock { TypeLayout.memberOffset(module: $0.module.module, fileAddress: address &- bias, type: type, member: member) }
    }

    /// `sizeof(struct type)` from the DWARF of the CU that holds run-time
    /// address `inCUOf` (the stride of an array of such structs).
    public func structSize(type: String, inCUOf address: UInt64) -> Int? {
        state.withLock { TypeLayout.structSize(module: $0.module.module, fileAddress: address &- bias, type: type) }
    }

    /// The value of enumerator `name` from the DWARF of the CU that holds
    /// run-time address `inCUOf`: kernel constants such as `MOD_TEXT` that
    /// are enum members, not symbols.
    public func enumeratorValue(_ name: String, inCUOf address: UInt64) -> Int64? {
        state.withLock { TypeLayout.enumeratorValue(module: $0.module.module, fileAddress: address &- bias, name: name) }
    }

    /// True when `.debug_frame` or `.eh_frame` describes the run-time
    /// `address` (compiled code; Linux's entry assembly has none).
    public func hasCFI(at address: UInt64) -> Bool {
        state.withLock { st in
            let mod = st.module.module
            let a = address &- bias
            for get in [dwfl_module_dwarf_cfi, dwfl_module_eh_cfi] {
                var cfiBias: Dwarf_Addr = 0
                guard let cfi = get(mod, &cfiBias) else { continue }
                var frame: OpaquePointer?
                if dwarf_cfi_addrframe(cfi, a &- cfiBias, &frame) == 0 {
                    free(UnsafeMutableRawPointer(frame))
                    return true
                }
            }
            return false
        }
    }

    /// The run-time address of the symbol called `name` (an object rather
    /// than a function or other symbol of that name), from a name index
    /// built on first use: cheap for repeated look-ups, unlike ``lookup(symbol:)``
    /// which scans the table and reads each declaration from DWARF.
    public func address(ofSymbol name: String) -> UInt64? {
        state.withLock { $0.address(of: name) }.map { $0 &+ bias }
    }

    /// Symbols called `name` (functions and objects), with run-time address,
    /// size and declaration line.
    public func lookup(symbol name: String) -> [SymbolDefinition] {
        state.withLock { $0.lookup(name, bias: bias) }
    }
}

/// The lock-protected part of a ``Symbolizer``: the libdw session and the
/// per-CU indexes built so far.
final class Session {
    let module: DwflModule
    /// Scope index per CU, by the CU DIE's offset.
    private var indexes: [UInt64: ScopeIndex] = [:]
    /// Joined comp_dir per line-table CU, by CU DIE offset.
    private var compDirs: [UInt64: String?] = [:]

    /// Where the ELF symbols come from, and their index once built.
    private let symbolSource: (ELFFile, String)?
    private var symbolIndex: SymbolTableIndex?

    init(module: DwflModule, symbolSource: (ELFFile, String)?) {
        self.module = module
        self.symbolSource = symbolSource
    }

    private var symbols: SymbolTableIndex {
        if let s = symbolIndex { return s }
        let s = symbolSource.flatMap { try? SymbolTableIndex(elf: $0.0, table: $0.1) } ?? SymbolTableIndex()
        symbolIndex = s
        return s
    }

    func symbolize(_ address: UInt64, bias: UInt64) -> SymbolizedAddress {
        let a = address &- bias
        var result = SymbolizedAddress(address: address, fileAddress: a, inImage: false, symbol: nil, symbolOffset: 0, frames: [])
        guard a >= module.start, a < module.end, let mod = dwfl_addrmodule(module.dwfl, a) else { return result }
        result.inImage = true
        if let hit = symbols.lookup(a) {
            result.symbol = hit.name
            result.symbolOffset = hit.offset
        } else {
            var offset: GElf_Off = 0
            var sym = GElf_Sym()
            if let n = dwfl_module_addrinfo(mod, a, &offset, &sym, nil, nil, nil) {
                result.symbol = String(cString: n)
                result.symbolOffset = offset
            }
        }
        // Arm mapping symbols ($x code, $d data) mark instruction-set
        // changes, not functions: name the nearest real symbol instead.
        if result.symbol?.hasPrefix("$") == true, let (name, off) = nearestNamedSymbol(mod, a) {
            result.symbol = name
            result.symbolOffset = off
        }
        let line = lineLocation(mod, a)
        var dwbias: Dwarf_Addr = 0
        if let cuPtr = dwfl_module_addrdie(mod, a, &dwbias), let dwarf = dwarf_cu_getdwarf(cuPtr.pointee.cu) {
            let key = dwarf_dieoffset(cuPtr)
            let index: ScopeIndex
            if let i = indexes[key] { index = i } else {
                index = ScopeIndex(cu: cuPtr.pointee, dwarf: dwarf)
                indexes[key] = index
            }
            let inner = index.innermost(a &- dwbias)
            if inner >= 0 {
                let chain = index.chain(from: inner)
                var frames: [SymbolFrame] = []
                frames.reserveCapacity(chain.count)
                frames.append(SymbolFrame(function: index.name(of: chain[0]), location: line,
                                          inlined: index.nodes[Int(chain[0])].isInlined, dieOffset: index.nodes[Int(chain[0])].dieOffset))
                for k in 0..<(chain.count - 1) where index.nodes[Int(chain[k])].isInlined {
                    let n = index.nodes[Int(chain[k])]
                    let parent = chain[k + 1]
                    var loc: SourceLocation?
                    if n.hasCallFile, let f = index.file(n.callFile) {
                        loc = SourceLocation(file: f, line: n.callLine, column: n.callColumn)
                    }
                    frames.append(SymbolFrame(function: index.name(of: parent), location: loc,
                                              inlined: index.nodes[Int(parent)].isInlined, dieOffset: index.nodes[Int(parent)].dieOffset))
                }
                result.frames = frames
                return result
            }
        }
        // No DWARF scope: the ELF symbol table names the function.
        result.frames = [SymbolFrame(function: result.symbol, location: line, inlined: false, dieOffset: nil)]
        return result
    }

    /// The line-table row for `a`, with a relative path joined to its CU's comp_dir.
    private func lineLocation(_ mod: OpaquePointer, _ a: UInt64) -> SourceLocation? {
        guard let line = dwfl_module_getsrc(mod, a) else { return nil }
        var addr: Dwarf_Addr = 0
        var lineNo: Int32 = 0, column: Int32 = 0
        guard let f = dwfl_lineinfo(line, &addr, &lineNo, &column, nil, nil) else { return nil }
        var file = String(cString: f)
        if !file.hasPrefix("/"), let cu = dwfl_linecu(line) {
            let key = dwarf_dieoffset(cu)
            let dir: String?
            if let d = compDirs[key] { dir = d } else { dir = ScopeIndex.compDir(cu); compDirs[key] = dir }
            file = ScopeIndex.join(dir, file)
        }
        return SourceLocation(file: file, line: Int(lineNo), column: Int(column))
    }

    /// The closest symbol at or below `a` whose name does not start with `$`.
    func nearestNamedSymbol(_ mod: OpaquePointer, _ a: UInt64) -> (String, UInt64)? {
        let n = dwfl_module_getsymtab(mod)
        guard n > 0 else { return nil }
        var best: (String, UInt64)? = nil
        for i in 1..<n {
            var sym = GElf_Sym()
            var value: GElf_Addr = 0
            guard let s = dwfl_module_getsym_info(mod, i, &sym, &value, nil, nil, nil), s.pointee != 0x24 /* $ */,
                  sym.st_shndx != 0, value <= a else { continue }
            let type = sym.st_info & 0xf
            guard type <= 2 else { continue }
            if best == nil || a - value < best!.1 { best = (String(cString: s), a - value) }
        }
        return best
    }

    /// Name → link-time address of defined symbols (objects win over others).
    private var nameIndex: [String: (UInt64, Bool)]?

    func address(of name: String) -> UInt64? {
        if nameIndex == nil {
            var index = [String: (UInt64, Bool)]()
            let mod = module.module
            let n = dwfl_module_getsymtab(mod)
            if n > 0 {
                index.reserveCapacity(Int(n))
                for i in 1..<n {
                    var sym = GElf_Sym()
                    var value: GElf_Addr = 0
                    guard let s = dwfl_module_getsym_info(mod, i, &sym, &value, nil, nil, nil), sym.st_shndx != 0 else { continue }
                    let type = sym.st_info & 0xf
                    guard type <= 2 else { continue }
                    let key = String(cString: s)
                    if let old = index[key], old.1 || type != 1 { continue }
                    index[key] = (value, type == 1)
                }
            }
            nameIndex = index
        }
        return nameIndex?[name]?.0
    }

    func lookup(_ name: String, bias: UInt64) -> [SymbolDefinition] {
        let mod = module.module
        let n = dwfl_module_getsymtab(mod)
        guard n > 0 else { return [] }
        var out: [SymbolDefinition] = []
        var seen = Set<UInt64>()
        for i in 1..<n {
            var sym = GElf_Sym()
            var value: GElf_Addr = 0
            guard let s = dwfl_module_getsym_info(mod, i, &sym, &value, nil, nil, nil), strcmp(s, name) == 0 else { continue }
            let type = sym.st_info & 0xf
            guard type == 1 || type == 2 || type == 0, sym.st_shndx != 0 else { continue }
            guard seen.insert(value).inserted else { continue }
            out.append(SymbolDefinition(name: name, address: value &+ bias, size: sym.st_size,
                                        location: declaration(mod, value, name: name),
                                        kind: type == 2 ? "function" : type == 1 ? "object" : "other"))
        }
        return out
    }

    /// DW_AT_decl_file/line of the function at link-time address `a` (for
    /// objects, the line table is meaningless, so only functions get one).
    private func declaration(_ mod: OpaquePointer, _ a: UInt64, name: String) -> SourceLocation? {
        var dwbias: Dwarf_Addr = 0
        guard let cuPtr = dwfl_module_addrdie(mod, a, &dwbias), let dwarf = dwarf_cu_getdwarf(cuPtr.pointee.cu) else { return nil }
        let key = dwarf_dieoffset(cuPtr)
        let index = indexes[key] ?? ScopeIndex(cu: cuPtr.pointee, dwarf: dwarf)
        indexes[key] = index
        var node = index.innermost(a &- dwbias)
        while node >= 0 && index.nodes[Int(node)].isInlined { node = index.nodes[Int(node)].parent }
        guard node >= 0 else { return nil }
        var die = Dwarf_Die()
        guard dwarf_offdie(dwarf, Dwarf_Off(index.nodes[Int(node)].dieOffset), &die) != nil else { return nil }
        var attr = Dwarf_Attribute()
        var file: Dwarf_Word = 0, line: Dwarf_Word = 0
        guard dwarf_formudata(dwarf_attr_integrate(&die, UInt32(DW_AT_decl_file), &attr), &file) == 0,
              dwarf_formudata(dwarf_attr_integrate(&die, UInt32(DW_AT_decl_line), &attr), &line) == 0,
              let f = index.file(file) else { return nil }
        return SourceLocation(file: f, line: Int(line), column: 0)
    }
}
