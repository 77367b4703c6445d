/// Why a ring region could not be used: names the region and, where it
/// helps, the CPU and the offending value.
public struct TraceRingError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
