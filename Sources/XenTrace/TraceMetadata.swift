import BinaryIO
#if canImport(Glibc)
import Glibc
#endif

/// What the recorder knows about a trace that the trace file cannot say:
/// which clock stamped it and at what rate. Written by `xenscope trace
/// record` as `FILE.meta.json` beside `FILE`, so the trace itself stays
/// byte-for-byte what xentrace writes (xenalyze, xentrace_format and older
/// XenScope read it unchanged); `trace summary`/`export`/`report` read it
/// when present, and their options override it.
///
/// Format: one flat JSON object, schema `xenscope.trace-meta/1`, keys
/// `clock`, `clock_name`, `clock_hz` (0 = not known), `clock_hz_source`,
/// `machine`, `generator`.
public struct TraceMetadata: Sendable, Equatable {
    public static let schema = "xenscope.trace-meta/1"
    public var clock: TraceClock
    /// `uname -m` of the recording machine (dom0 runs on Xen's architecture).
    public var machine: String
    public var generator: String
    /// Flight-recorder recordings (`trace record --memory-buffer`): what the
    /// circular buffer dropped to keep the newest records. nil otherwise.
    public var overwritten: Overwritten?

    /// Records the flight recorder's memory buffer overwrote: the file holds
    /// only the newest records; these are the older ones it no longer has.
    public struct Overwritten: Sendable, Equatable {
        /// The buffer's size in bytes (the file's size limit).
        public var bufferBytes: Int64
        public var records: Int64
        public var bytes: Int64
        /// Per CPU: "cpu:records:bytes" entries joined by ",", CPUs ascending.
        public var perCPU: String
        public init(bufferBytes: Int64, records: Int64, bytes: Int64, perCPU: String) {
            self.bufferBytes = bufferBytes; self.records = records; self.bytes = bytes; self.perCPU = perCPU
        }
    }

    public init(clock: TraceClock, machine: String, generator: String = "xenscope trace record") {
        self.clock = clock; self.machine = machine; self.generator = generator
    }

    /// The sidecar's path for a trace file.
    public static func path(for tracePath: String) -> String { tracePath + ".meta.json" }

    /// The JSON text (one line).
    public var json: String {
        var o = ""
        if let w = overwritten {
            o = ",\"memory_buffer_bytes\":\(w.bufferBytes),\"overwritten_records\":\(w.records),\"overwritten_bytes\":\(w.bytes),\"overwritten_per_cpu\":\"\(JSONString.escaped(w.perCPU))\""
        }
        return "{\"schema\":\"\(Self.schema)\",\"generator\":\"\(JSONString.escaped(generator))\",\"machine\":\"\(JSONString.escaped(machine))\",\(clock.jsonFields)\(o)}\n"
    }

    /// Writes the sidecar for `tracePath` (replacing an older one).
    public func write(tracePath: String) throws(InputError) {
        let p = Self.path(for: tracePath)
        let bytes = Array(json.utf8)
        let fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw InputError(file: p, "cannot create: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let (done, failure) = FileDescriptorIO.write(fd, bytes)
        if let failure { throw InputError(file: p, offset: done, "write failed: \(String(cString: strerror(failure)))") }
    }

    /// Reads the sidecar of `tracePath`: nil when there is none; an error
    /// naming the file and byte offset when it is not ours or is damaged.
    public static func read(tracePath: String) throws(InputError) -> TraceMetadata? {
        let p = path(for: tracePath)
        let fd = open(p, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw InputError(file: p, "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let (bytes, failure) = FileDescriptorIO.read(fd, limit: 65536)
        if let failure { throw InputError(file: p, offset: bytes.count, "read failed: \(String(cString: strerror(failure)))") }
        guard bytes.count <= 65536 else { throw InputError(file: p, offset: 65536, "larger than 64 KiB: not a trace metadata file") }
        let fields = try parseFlatObject(bytes, file: p)
        guard case .string(let schema)? = fields["schema"], schema == Self.schema else {
            throw InputError(file: p, offset: 0, "not a \(Self.schema) file (schema key missing or different)")
        }
        guard case .string(let c)? = fields["clock"], let kind = TraceClock.Kind(rawValue: c) else {
            throw InputError(file: p, "clock is missing or not one of \(TraceClock.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var hz = 0.0
        if case .number(let v)? = fields["clock_hz"], v >= 0, v.isFinite { hz = v }
        var source = "unknown"
        if case .string(let s)? = fields["clock_hz_source"] { source = s }
        var machine = ""
        if case .string(let m)? = fields["machine"] { machine = m }
        var generator = ""
        if case .string(let g)? = fields["generator"] { generator = g }
        var m = TraceMetadata(clock: TraceClock(kind: kind, hz: hz, hzSource: source), machine: machine, generator: generator)
        if case .number(let size)? = fields["memory_buffer_bytes"] {
            func int(_ k: String) -> Int64 { if case .number(let v)? = fields[k], v >= 0, v < 9e18 { return Int64(v) }; return 0 }
            var per = ""
            if case .string(let s)? = fields["overwritten_per_cpu"] { per = s }
            m.overwritten = Overwritten(bufferBytes: size >= 0 && size < 9e18 ? Int64(size) : 0, records: int("overwritten_records"), bytes: int("overwritten_bytes"), perCPU: per)
        }
        return m
    }

    enum Value: Equatable { case string(String), number(Double), other }

    /// A flat JSON object of strings, numbers, booleans and nulls (what we
    /// write); nested values are refused with their offset.
    static func parseFlatObject(_ b: [UInt8], file: String) throws(InputError) -> [String: Value] {
        var i = 0
        func ws() { while i < b.count, b[i] == 0x20 || b[i] == 0x0a || b[i] == 0x0d || b[i] == 0x09 { i += 1 } }
        func fail(_ m: String) -> InputError { InputError(file: file, offset: i, m) }
        func string() throws(InputError) -> String {
            guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw fail("expected a string") }
            i += 1
            var out = [UInt8]()
            while true {
                guard i < b.count else { throw fail("unterminated string") }
                let c = b[i]; i += 1
                if c == UInt8(ascii: "\"") { break }
                if c == UInt8(ascii: "\\") {
                    guard i < b.count else { throw fail("unterminated escape") }
                    let e = b[i]; i += 1
                    switch e {
                    case UInt8(ascii: "n"): out.append(0x0a)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "r"): out.append(0x0d)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0c)
                    case UInt8(ascii: "u"):
                        guard i + 4 <= b.count, let v = UInt32(String(decoding: b[i..<i + 4], as: UTF8.self), radix: 16) else { throw fail("bad \\u escape") }
                        i += 4
                        out += Array(String(Unicode.Scalar(v).map(Character.init) ?? "?").utf8)
                    default: out.append(e)
                    }
                } else { out.append(c) }
            }
            return String(decoding: out, as: UTF8.self)
        }
        ws()
        guard i < b.count, b[i] == UInt8(ascii: "{") else { throw fail("expected a JSON object") }
        i += 1
        var result = [String: Value]()
        ws()
        if i < b.count, b[i] == UInt8(ascii: "}") { return result }
        while true {
            ws()
            let key = try string()
            ws()
            guard i < b.count, b[i] == UInt8(ascii: ":") else { throw fail("expected ':' after \"\(key)\"") }
            i += 1
            ws()
            guard i < b.count else { throw fail("value of \"\(key)\" missing") }
            if b[i] == UInt8(ascii: "\"") {
                result[key] = .string(try string())
            } else if b[i] == UInt8(ascii: "{") || b[i] == UInt8(ascii: "[") {
                throw fail("value of \"\(key)\" is nested; this file is flat")
            } else {
                let start = i
                while i < b.count, !(b[i] == UInt8(ascii: ",") || b[i] == UInt8(ascii: "}") || b[i] == 0x20 || b[i] == 0x0a) { i += 1 }
                let text = String(decoding: b[start..<i], as: UTF8.self)
                if let v = Double(text) { result[key] = .number(v) }
                else if text == "true" || text == "false" || text == "null" { result[key] = .other }
                else { i = start; throw fail("value of \"\(key)\" is not a string, number, boolean or null") }
            }
            ws()
            guard i < b.count else { throw fail("unterminated object") }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "}") { return result }
            throw fail("expected ',' or '}'")
        }
    }
}
