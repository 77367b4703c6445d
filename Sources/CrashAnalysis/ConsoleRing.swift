import Dump

/// A console log read from a dump.
public struct ConsoleLog: Sendable, Equatable, Codable {
    /// The log bytes, oldest first, as text (invalid UTF-8 replaced).
    public var text: String
    /// Where it came from, e.g. "conring at 0xffff… (4096 bytes, producer 5123)".
    public var source: String
    /// Bytes written since boot (the free-running producer index).
    public var producer: UInt64
    /// Ring size; older output than `producer - size` was overwritten.
    public var size: UInt64
    /// True when the ring has wrapped (the start of the boot log is lost).
    public var wrapped: Bool { producer > size }
}

extension CrashSession {
    /// Xen's console ring — and our test guest's, which copies its layout:
    /// `char *conring`, `uint32_t conring_size`, `uint32_t conringp`
    /// (free-running producer). The log is bytes [max(p − size, 0), p), each
    /// index masked with size − 1 (xen/drivers/char/console.c). Found by ELF
    /// or DWARF symbol, so Debian's DWARF-less `xen-syms` works too.
    public func consoleRing() throws -> ConsoleLog {
        let names = XenLayouts.conringSymbols
        guard let symbols else { throw CrashError.noSymbols(what: "the console log") }
        guard let ringVar = address(of: names.ring), let sizeVar = address(of: names.size),
              let prodVar = address(of: names.producer) else {
            throw CrashError.symbolMissing(image: symbols.path, names: [names.ring, names.size, names.producer],
                                           what: "the console ring (Xen's conring)")
        }
        let ring = try readWord(ringVar)
        let size = UInt64(try readUInt32(sizeVar))
        let producer = UInt64(try readUInt32(prodVar))
        guard size > 0, size & (size - 1) == 0, size <= 1 << 30 else {
            throw CrashError.badConsoleRing("\(dump.path): conring_size is \(size), not a power of two up to 1 GiB; the symbols may not match the dump")
        }
        let start = producer > size ? producer - size : 0
        let raw = try read(ring, count: Int(size))
        var bytes = [UInt8]()
        bytes.reserveCapacity(Int(producer - start))
        var i = start
        while i < producer {
            bytes.append(raw[Int(i & (size - 1))])
            i += 1
        }
        return ConsoleLog(text: String(decoding: bytes, as: UTF8.self),
                          source: "conring at 0x\(String(ring, radix: 16)) (\(size) bytes, producer \(producer))",
                          producer: producer, size: size)
    }
}
