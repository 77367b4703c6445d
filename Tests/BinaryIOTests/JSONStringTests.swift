import Foundation
import Testing
import BinaryIO

/// The one JSON string escaper: exact bytes for every control character,
/// quotes, backslashes and non-ASCII text, invalid UTF-8 replaced, and
/// Python's `json.loads` (an independent RFC 8259 parser) reading back what
/// was meant.
@Suite struct JSONStringTests {
    /// U+0000 … U+001F, then `"`, `\`, `/`, DEL, é, €, U+2028, an emoji.
    static let awkward = String((0..<0x20).map { Character(Unicode.Scalar(UInt8($0))) }) + "\"\\/\u{7f}é€\u{2028}😀"

    static let awkwardLiteral = #""\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f"#
        + #"\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f"#
        + "\\\"\\\\/\u{7f}é€\u{2028}😀\""

    @Test func everyControlCharacterQuoteAndBackslash() {
        #expect(JSONString.literal(Self.awkward) == Self.awkwardLiteral)
        #expect(JSONString.escaped("a\tb\r\nc") == #"a\tb\r\nc"#)
        #expect(JSONString.literal("") == #""""#)
        var slashes: [UInt8] = []
        JSONString.appendEscaped("/a/b", escapeSlashes: true, to: &slashes)
        #expect(String(decoding: slashes, as: UTF8.self) == #"\/a\/b"#)
    }

    /// Each invalid sequence (a lone continuation byte, a cut 3-byte
    /// sequence, an overlong `/`, a byte that never occurs) becomes U+FFFD;
    /// valid text around it is kept.
    @Test func invalidUTF8BecomesReplacementCharacters() {
        let bytes: [UInt8] = [0x61, 0x80, 0x62, 0xe2, 0x82, 0x63, 0xc0, 0xaf, 0xff, 0x09, 0xc3, 0xa9]
        #expect(JSONString.literal(utf8: bytes) == "\"a\u{FFFD}b\u{FFFD}c\u{FFFD}\u{FFFD}\u{FFFD}\\té\"")
    }

    @Test func pythonJSONLoadsReadsBackTheText() throws {
        let invalid: [UInt8] = [0x61, 0x80, 0xe2, 0x82, 0x0d]
        let cases: [(literal: String, meant: String)] = [
            (JSONString.literal(Self.awkward), Self.awkward),
            (JSONString.literal(utf8: invalid), "a\u{FFFD}\u{FFFD}\r"),
            (JSONString.literal("tab\there, CR\rthere"), "tab\there, CR\rthere"),
        ]
        // One JSON document per line (every literal is one line: newlines are escaped).
        let input = cases.map { "[" + $0.literal + "]" }.joined(separator: "\n") + "\n"
        #expect(!cases.contains { $0.literal.contains("\n") })
        let script = """
        import json, sys
        for line in sys.stdin.buffer.read().decode('utf-8').split('\\n'):
            if line:
                print(' '.join(str(ord(c)) for c in json.loads(line)[0]))
        """
        let out = try python(script, input: input)
        let want = cases.map { $0.meant.unicodeScalars.map { String($0.value) }.joined(separator: " ") }
        #expect(out.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init) == want)
    }

    /// Runs `python3 -c script` with `input` on standard input; fails the test when python3 is missing or fails.
    func python(_ script: String, input: String) throws -> String {
        guard let exe = ["/usr/bin/python3", "/usr/local/bin/python3"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            Issue.record("python3 not found: `make test` installs it (scripts/install-deps.sh)")
            throw CocoaError(.fileNoSuchFile)
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = ["-c", script]
        let stdin = Pipe(), stdout = Pipe()
        p.standardInput = stdin
        p.standardOutput = stdout
        try p.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let data = stdout.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        try #require(p.terminationStatus == 0, "python3's json.loads refused the text")
        return String(decoding: data, as: UTF8.self)
    }
}
