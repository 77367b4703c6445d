/// An error about input bytes: it names the file and the byte offset where the
/// problem was found, so a user can look at the exact spot with `xxd -s`.
public struct InputError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file (or `-` for standard input) the bytes came from.
    public var file: String
    /// Byte offset from the start of the input, if the problem has a position.
    public var offset: Int?
    /// What is wrong, in words.
    public var message: String

    public init(file: String, offset: Int? = nil, _ message: String) {
        self.file = file
        self.offset = offset
        self.message = message
    }

    public var description: String {
        if let offset {
            return "\(file): at byte \(offset) (0x\(String(offset, radix: 16))): \(message)"
        }
        return "\(file): \(message)"
    }
}
