/// A source position. `line` 0 means the compiler gave none.
public struct SourceLocation: Sendable, Equatable, Hashable, Codable {
    public var file: String
    public var line: Int
    /// 0 when the line table has no column.
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line[:column]`, as addr2line tools print it.
    public var text: String { column != 0 ? "\(file):\(line):\(column)" : "\(file):\(line)" }
}

/// One frame of an address's inline chain.
public struct SymbolFrame: Sendable, Equatable, Codable {
    /// Function name (nil when unknown, printed as `??`).
    public var function: String?
    /// Where in that function: the address's line for the innermost frame,
    /// the call site of the inner frame for the others (nil: `??:0`).
    public var location: SourceLocation?
    /// True when this frame's function was inlined into the next frame.
    public var inlined: Bool
    /// DIE offset of the function's (concrete or inlined) instance, if from DWARF.
    public var dieOffset: UInt64?

    public init(function: String?, location: SourceLocation?, inlined: Bool, dieOffset: UInt64?) {
        self.function = function
        self.location = location
        self.inlined = inlined
        self.dieOffset = dieOffset
    }
}

/// Everything known about one address.
public struct SymbolizedAddress: Sendable, Equatable, Codable {
    /// The address as given (run-time, i.e. including the load bias).
    public var address: UInt64
    /// `address - bias`: the link-time address looked up in the file.
    public var fileAddress: UInt64
    /// False when the address lies outside the image.
    public var inImage: Bool
    /// The ELF symbol containing the address, if any, and the offset into it.
    public var symbol: String?
    public var symbolOffset: UInt64
    /// Inline chain, innermost first; the last frame is the real (out-of-line)
    /// function. Empty when the address is outside the image.
    public var frames: [SymbolFrame]

    public init(address: UInt64, fileAddress: UInt64, inImage: Bool, symbol: String?, symbolOffset: UInt64, frames: [SymbolFrame]) {
        self.address = address
        self.fileAddress = fileAddress
        self.inImage = inImage
        self.symbol = symbol
        self.symbolOffset = symbolOffset
        self.frames = frames
    }

    /// `func+0xoff (file:line)`: one short description, for trace and dump output.
    public var description: String {
        guard inImage else { return "?? (outside image)" }
        var s = symbol.map { symbolOffset == 0 ? $0 : "\($0)+0x\(String(symbolOffset, radix: 16))" } ?? "??"
        if let loc = frames.first?.location {
            let base = loc.file.split(separator: "/").last.map(String.init) ?? loc.file
            s += " (\(base):\(loc.line))"
        }
        return s
    }

    /// llvm-symbolizer's default (LLVM) text: per frame a function line and a
    /// `file:line:column` line, then an empty line.
    public var llvmText: String {
        var out = ""
        if frames.isEmpty { return "??\n??:0:0\n\n" }
        for f in frames {
            out += (f.function ?? "??") + "\n"
            if let l = f.location { out += "\(l.file):\(l.line):\(l.column)\n" } else { out += "??:0:0\n" }
        }
        return out + "\n"
    }

    /// eu-addr2line `-f -i` text, used to compare with elfutils line by line.
    public var addr2lineText: String {
        guard let first = frames.first else { return "??\n??:0\n" }
        var out = ""
        if frames.count > 1, first.inlined {
            out += (first.function ?? "??") + " inlined"
            if let l = frames[1].location {
                if l.line == 0 { out += " from \(l.file)" } else { out += " at " + l.text }
            }
            out += " in " + (symbol ?? frames.last!.function ?? "??") + "\n"
        } else {
            out += (first.function ?? symbol ?? "??") + "\n"
        }
        out += (first.location?.text ?? "??:0") + "\n"
        for f in frames.dropFirst() {
            out += (f.function ?? "??") + "\n" + (f.location?.text ?? "??:0") + "\n"
        }
        return out
    }
}

/// Where a named symbol is.
public struct SymbolDefinition: Sendable, Equatable, Codable {
    public var name: String
    /// Run-time address (link-time address + bias).
    public var address: UInt64
    public var size: UInt64
    /// Declaration (DW_AT_decl_file/line) or, without DWARF, nil.
    public var location: SourceLocation?
    /// "function", "object" or "other".
    public var kind: String
}

/// Result of comparing a file's build-id with the one an image expects.
public enum BuildIDCheck: Sendable, Equatable {
    case match
    /// The file's build-id differs: symbols would be wrong.
    case mismatch(file: String, expected: String)
    /// The file has no build-id note, so nothing can be checked.
    case fileHasNone

    /// A sentence for the user.
    public func message(for path: String) -> String {
        switch self {
        case .match: return "\(path): build-id matches"
        case .mismatch(let f, let e): return "\(path): build-id \(f) does not match the image's build-id \(e); symbols would be wrong"
        case .fileHasNone: return "\(path): has no build-id note; cannot check that it matches the image"
        }
    }
}

/// Errors from loading an image.
public enum SymbolizerError: Error, CustomStringConvertible, Equatable {
    case libdw(String, String)

    public var description: String {
        switch self {
        case .libdw(let path, let m): return "\(path): elfutils: \(m)"
        }
    }
}
