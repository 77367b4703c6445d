/// Small text inputs (a saved `xl info`, a formats file): read whole, with the
/// same errors as binary inputs — missing, unreadable, a directory — and a
/// byte offset when the bytes are not text, so a binary file given by mistake
/// is named as such rather than "cannot read".
public enum TextFile {
    /// Reads `path` (`-` = standard input) as UTF-8 text of at most `limit`
    /// bytes. Throws an ``InputError`` naming the file, and the offset of the
    /// first byte that is NUL or not UTF-8, or of the limit.
    public static func read(_ path: String, limit: Int = 16 << 20) throws -> String {
        var bytes: [UInt8] = []
        switch try InputSource.open(path) {
        case .mapped(let m):
            if m.count > limit { throw InputError(file: path, offset: limit, "larger than \(limit) bytes; not a text file this option reads") }
            bytes = m.withBytes { Array($0) }
        case .stream(let s, _):
            let chunk = 1 << 16
            while true {
                let start = bytes.count
                bytes.append(contentsOf: repeatElement(0, count: chunk))
                let n = try bytes.withUnsafeMutableBytes { try s.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[start...])) }
                bytes.removeLast(chunk - n)
                if n == 0 { break }
                if bytes.count > limit { throw InputError(file: path, offset: limit, "larger than \(limit) bytes; not a text file this option reads") }
            }
        }
        if let bad = firstNonText(bytes) {
            throw InputError(file: path, offset: bad, "not a text file (byte 0x\(String(bytes[bad], radix: 16)) is \(bytes[bad] == 0 ? "NUL" : "not UTF-8"))")
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Offset of the first NUL byte or invalid UTF-8 sequence, nil for text.
    public static func firstNonText(_ bytes: [UInt8]) -> Int? {
        var parser = Unicode.UTF8.ForwardParser()
        var it = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &it) {
            case .valid(let encoded):
                if encoded.count == 1 && encoded.first == 0 { return offset }
                offset += encoded.count
            case .error:
                return offset
            case .emptyInput:
                return nil
            }
        }
    }
}
