import DWARF
import Dump

/// A loaded Linux kernel module, as crash's `mod` lists it.
public struct LinuxModule: Sendable, Equatable, Codable {
    public var name: String
    /// The `struct module` address.
    public var address: UInt64
    /// Where its code starts: the core allocation (`core_layout`, Linux
    /// ≤ 6.3: text, then read-only and writable data) or the text region
    /// (`mem[MOD_TEXT]`, 6.4+, where each kind of memory is a separate
    /// allocation).
    public var base: UInt64
    /// Bytes of core (not init) memory: `core_layout.size`, or the sum of
    /// the text, data, rodata and ro_after_init regions' sizes.
    public var size: UInt64
    public var textSize: UInt64
    /// Each allocation the module holds, as the kernel has them: one "core"
    /// region (≤ 6.3), or one per non-empty `mem[]` type (6.4+: "text",
    /// "data", "rodata", "ro_after_init", "init_text", …).
    public var regions: [ModuleRegion]
    /// Its symbols from the kernel's own copy of the module's symbol table
    /// (`kallsyms`: ELF symbols with run-time addresses), by address.
    public var symbols: [ModuleSymbol]
}

/// One memory allocation of a loaded module.
public struct ModuleRegion: Sendable, Equatable, Codable {
    /// "core" (Linux ≤ 6.3's core_layout) or the `mod_mem_type` without its
    /// MOD_ prefix, lower case ("text", "data", "rodata", …).
    public var kind: String
    public var base: UInt64
    public var size: UInt64

    /// Whether `address` lies in this region (names a module frame by region).
    public func contains(_ address: UInt64) -> Bool { address >= base && address - base < size }
}

/// Where a kernel keeps a module's memory, by which members its DWARF
/// defines (not by version).
enum ModuleMemoryLayout: Equatable {
    /// ≤ 6.3: `module.core_layout` at `core`, a `module_layout` {base, size, text_size}.
    case coreLayout(core: UInt64, base: UInt64, size: UInt64, textSize: UInt64)
    /// 6.4+: `module.mem[]` at `mem`, `module_memory` {base, size} of
    /// `stride` bytes, indexed by the `mod_mem_type` values in `types`.
    case memory(mem: UInt64, stride: UInt64, base: UInt64, size: UInt64, types: [(kind: String, index: Int)])

    static func == (a: Self, b: Self) -> Bool {
        switch (a, b) {
        case let (.coreLayout(c1, b1, s1, t1), .coreLayout(c2, b2, s2, t2)): return (c1, b1, s1, t1) == (c2, b2, s2, t2)
        case let (.memory(m1, st1, b1, s1, t1), .memory(m2, st2, b2, s2, t2)):
            return (m1, st1, b1, s1) == (m2, st2, b2, s2) && t1.map(\.kind) == t2.map(\.kind) && t1.map(\.index) == t2.map(\.index)
        default: return false
        }
    }

    /// The core (not init) kinds of 6.4+ memory, which make up `size`.
    static let coreKinds: Set<String> = ["text", "data", "rodata", "ro_after_init"]
    /// `mod_mem_type` enumerators in the kernel's order (the values are read from DWARF).
    static let memTypes = ["MOD_TEXT", "MOD_DATA", "MOD_RODATA", "MOD_RO_AFTER_INIT", "MOD_INIT_TEXT", "MOD_INIT_DATA", "MOD_INIT_RODATA"]

    /// `off(type, member)`: member offsets; `stride(type)`: struct sizes;
    /// `value(enumerator)`: enum values — all from the kernel's DWARF.
    static func select(off: (String, String) -> UInt64?, stride: (String) -> UInt64?, value: (String) -> Int64?) -> ModuleMemoryLayout? {
        if let mem = off("module", "mem"), let base = off("module_memory", "base"), let size = off("module_memory", "size"),
           let st = stride("module_memory"), st > 0, let text = value("MOD_TEXT") {
            var types = [(kind: "text", index: Int(text))]
            for name in memTypes.dropFirst() {
                if let v = value(name), v >= 0, v < 64 { types.append((String(name.dropFirst(4)).lowercased(), Int(v))) }
            }
            return .memory(mem: mem, stride: st, base: base, size: size, types: types)
        }
        if let core = off("module", "core_layout"), let base = off("module_layout", "base"), let size = off("module_layout", "size"),
           let text = off("module_layout", "text_size") {
            return .coreLayout(core: core, base: base, size: size, textSize: text)
        }
        return nil
    }
}

/// One symbol of a module: an ELF symbol relocated by the loader.
public struct ModuleSymbol: Sendable, Equatable, Codable {
    public var name: String
    public var address: UInt64
    public var size: UInt64
    /// STT_FUNC, STT_OBJECT, … (the ELF symbol type).
    public var type: UInt8
}

extension CrashSession {
    /// The loaded modules (the `modules` list), each with its symbols read
    /// from the module's `kallsyms` in memory: no .ko file is needed, and
    /// Debian's .ko files carry no DWARF (that is in the -dbg package), so
    /// module addresses are named by symbol and offset. Bounded walks: at
    /// most `limit` modules and 1,000,000 symbols each.
    public func linuxModules(limit: Int = 10_000) throws -> [LinuxModule] {
        guard let symbols else { throw CrashError.noSymbols(what: "the module list") }
        guard linuxKernel != nil else { throw CrashError.notLinux(what: "the module list") }
        guard let head = address(of: "modules") else {
            throw CrashError.symbolMissing(image: symbols.path, names: ["modules"], what: "the module list")
        }
        guard let cu = address(of: "load_module") ?? address(of: "free_module") ?? address(of: "do_init_module") else {
            throw CrashError.symbolMissing(image: symbols.path, names: ["load_module"], what: "the module list")
        }
        func off(_ type: String, _ member: String) throws -> UInt64 {
            guard let o = symbols.memberOffset(type: type, member: member, inCUOf: cu) else {
                throw CrashError.layoutMissing(image: symbols.path, what: "struct \(type) member \(member)")
            }
            return UInt64(o)
        }
        let list = try off("module", "list"), name = try off("module", "name"), kallsyms = try off("module", "kallsyms")
        guard let memory = ModuleMemoryLayout.select(
            off: { symbols.memberOffset(type: $0, member: $1, inCUOf: cu).map(UInt64.init) },
            stride: { symbols.structSize(type: $0, inCUOf: cu).map(UInt64.init) },
            value: { symbols.enumeratorValue($0, inCUOf: cu) }) else {
            throw CrashError.layoutMissing(image: symbols.path, what: "struct module member core_layout (≤ 6.3) or mem[] with struct module_memory and enum mod_mem_type (6.4+)")
        }
        let symtab = try off("mod_kallsyms", "symtab"), numSymtab = try off("mod_kallsyms", "num_symtab"), strtab = try off("mod_kallsyms", "strtab")
        var out = [LinuxModule]()
        var node = head
        for _ in 0..<limit {
            node = try readWord(node)
            if node == head || node == 0 { break }
            let m = node &- list
            let nameBytes = try read(m &+ name, count: 56)
            var mod = LinuxModule(name: String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self), address: m,
                                  base: 0, size: 0, textSize: 0, regions: [], symbols: [])
            switch memory {
            case let .coreLayout(core, base, size, text):
                let l = m &+ core
                mod.base = try readWord(l &+ base)
                mod.size = UInt64(try readUInt32(l &+ size))
                mod.textSize = UInt64(try readUInt32(l &+ text))
                mod.regions = [ModuleRegion(kind: "core", base: mod.base, size: mod.size)]
            case let .memory(mem, stride, base, size, types):
                for (kind, index) in types {
                    let r = m &+ mem &+ UInt64(index) &* stride
                    let region = ModuleRegion(kind: kind, base: try readWord(r &+ base), size: UInt64(try readUInt32(r &+ size)))
                    if kind == "text" { mod.base = region.base; mod.textSize = region.size }
                    if ModuleMemoryLayout.coreKinds.contains(kind) { mod.size &+= region.size }
                    if region.size > 0 && region.base != 0 { mod.regions.append(region) }
                }
            }
            let ks = try readWord(m &+ kallsyms)
            if ks != 0 {
                let table = try readWord(ks &+ symtab), count = min(Int(try readUInt32(ks &+ numSymtab)), 1_000_000)
                let strings = try readWord(ks &+ strtab)
                // Elf64_Sym: st_name u32, st_info u8, st_other u8, st_shndx u16, st_value u64, st_size u64.
                let raw = count > 0 ? try read(table, count: count * 24) : []
                for i in 1..<max(1, count) {
                    let e = Array(raw[(i * 24)..<(i * 24 + 24)])
                    func u64(_ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(e[at + $1]) << (8 * $1) } }
                    let nameOff = UInt64(e[0]) | UInt64(e[1]) << 8 | UInt64(e[2]) << 16 | UInt64(e[3]) << 24
                    let value = u64(8)
                    guard value != 0, let n = try? readCString(strings &+ nameOff, max: 512), !n.isEmpty else { continue }
                    mod.symbols.append(ModuleSymbol(name: n, address: value, size: u64(16), type: e[4] & 0xf))
                }
                // By address; aliases (cleanup_module for the exit function)
                // keep table order, as the kernel's and drgn's lookups do.
                mod.symbols = mod.symbols.enumerated().sorted { ($0.element.address, $0.offset) < ($1.element.address, $1.offset) }.map(\.element)
            }
            out.append(mod)
        }
        return out
    }

    /// For a frame outside the kernel image: the module symbol it is in
    /// (function) and `symbol+0xoff [module]` (offset of the pc, as the
    /// kernel prints it); nil when no module holds it.
    func moduleFrameName(_ lookup: UInt64, pc: UInt64) -> (function: String, symbol: String)? {
        guard linuxKernel != nil else { return nil }
        if moduleCache == nil { moduleCache = (try? linuxModules()) ?? [] }
        guard let d = moduleCache?.describe(lookup) else { return nil }
        let off = String(d.offset &+ (pc &- lookup), radix: 16)
        guard let name = d.symbol else { return ("[\(d.module)]", "[\(d.module)]+0x\(off)") }
        return (name, "\(name)+0x\(off) [\(d.module)]")
    }

    func readCString(_ address: UInt64, max: Int) throws -> String {
        var bytes = [UInt8]()
        var a = address
        while bytes.count < max {
            // Up to the end of the page, so a string at a page's end does not read the next.
            let chunk = try read(a, count: Int(min(64, 4096 - a % 4096)))
            if let z = chunk.firstIndex(of: 0) { bytes += chunk[..<z]; break }
            bytes += chunk
            a &+= UInt64(chunk.count)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension [LinuxModule] {
    /// `symbol+0xoff [module]` for an address inside a module's core
    /// allocation (the nearest symbol at or below it, functions preferred),
    /// or `[module]+0xoff` when no symbol precedes it; nil outside modules.
    public func describe(_ address: UInt64) -> (module: String, symbol: String?, offset: UInt64)? {
        guard let m = first(where: { $0.regions.contains { $0.contains(address) } }),
              let region = m.regions.first(where: { $0.contains(address) }) else { return nil }
        // The highest start at or below the address in the same region; among
        // aliases the first in table order, a function before anything else.
        let below = m.symbols.filter { $0.address <= address && region.contains($0.address) }
        let top = below.last?.address
        let candidates = below.filter { $0.address == top }
        let best = candidates.first { $0.type == 2 } ?? candidates.first
        guard let s = best else { return (m.name, nil, address - region.base) }
        return (m.name, s.name, address - s.address)
    }
}

/// crash's `mod` table: MODULE (struct module), NAME, BASE, SIZE, symbols.
public func formatModuleList(_ mods: [LinuxModule]) -> String {
    func pad(_ s: String, _ w: Int, left: Bool = false) -> String {
        let p = String(repeating: " ", count: max(0, w - s.count))
        return left ? s + p : p + s
    }
    var lines = [pad("MODULE", 16, left: true) + "  " + pad("NAME", 20, left: true) + "  " + pad("BASE", 16, left: true) + "  " + pad("SIZE", 7) + "  SYMBOLS"]
    for m in mods {
        lines.append(pad(String(m.address, radix: 16), 16) + "  " + pad(m.name, 20, left: true) + "  " + pad(String(m.base, radix: 16), 16)
                     + "  " + pad(String(m.size), 7) + "  " + String(m.symbols.count))
    }
    return lines.joined(separator: "\n")
}
