/// Memoised ``Symbolizer/describe(address:)``: trace output repeats the same
/// few RIPs millions of times, so each distinct address is symbolized once
/// and its UTF-8 text kept, keyed by address.
public struct DescriptionCache {
    public let symbolizer: Symbolizer
    private var cache: [UInt64: [UInt8]] = [:]

    public init(_ symbolizer: Symbolizer) { self.symbolizer = symbolizer }

    /// `func+0xoff (file:line)` for `address` as UTF-8 bytes.
    public mutating func describe(_ address: UInt64) -> [UInt8] {
        if let hit = cache[address] { return hit }
        let text = Array(symbolizer.describe(address: address).utf8)
        cache[address] = text
        return text
    }

    /// Distinct addresses symbolized so far.
    public var count: Int { cache.count }
}

/// An `ELF[:bias]` command-line value: the image path and the bias (load
/// base or KASLR slide, hex with 0x or decimal). A trailing `:word` that is
/// not a number stays part of the path.
public func parseImageWithBias(_ s: String) -> (path: String, bias: UInt64) {
    guard let colon = s.lastIndex(of: ":") else { return (s, 0) }
    let tail = s[s.index(after: colon)...]
    let value: UInt64?
    if tail.hasPrefix("0x") || tail.hasPrefix("0X") { value = UInt64(tail.dropFirst(2), radix: 16) } else { value = UInt64(tail) }
    guard let value else { return (s, 0) }
    return (String(s[..<colon]), value)
}
