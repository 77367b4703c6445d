import DWARF
import Dump

/// A loaded Linux kernel module, as crash's `mod` lists it.
public struct LinuxModule: Sendable, Equatable, Codable {
    public var name: String
    /// The `struct module` address.
    public var address: UInt64
    /// Start and size of its core allocation (`core_layout`: text, then
    /// read-only and writable data).
    public var base: UInt64
    public var size: UInt64
    public var textSize: UInt64
    /// Its symbols from the kernel's own copy of the module's symbol table
    /// (`kallsyms`: ELF symbols with run-time addresses), by address.
    public var symbols: [ModuleSymbol]
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
        // 6.1: core_layout {base, size, text_size, …}; 6.4+ has mem[] instead (not read yet).
        let core = try off("module", "core_layout")
        let base = try off("module_layout", "base"), size = try off("module_layout", "size"), text = try off("module_layout", "text_size")
        let symtab = try off("mod_kallsyms", "symtab"), numSymtab = try off("mod_kallsyms", "num_symtab"), strtab = try off("mod_kallsyms", "strtab")
        var out = [LinuxModule]()
        var node = head
        for _ in 0..<limit {
            node = try readWord(node)
            if node == head || node == 0 { break }
            let m = node &- list
            let nameBytes = try read(m &+ name, count: 56)
            let l = m &+ core
            var mod = LinuxModule(name: String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self), address: m,
                                  base: try readWord(l &+ base), size: UInt64(try readUInt32(l &+ size)),
                                  textSize: UInt64(try readUInt32(l &+ text)), symbols: [])
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
        guard let m = first(where: { address >= $0.base && address - $0.base < $0.size }) else { return nil }
        // The highest start at or below the address; among aliases the
        // first in table order, a function before anything else.
        let below = m.symbols.filter { $0.address <= address && $0.address >= m.base && $0.address - m.base < m.size }
        let top = below.last?.address
        let candidates = below.filter { $0.address == top }
        let best = candidates.first { $0.type == 2 } ?? candidates.first
        guard let s = best else { return (m.name, nil, address - m.base) }
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
