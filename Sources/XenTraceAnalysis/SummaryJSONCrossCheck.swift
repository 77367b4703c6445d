import BinaryIO
import Foundation
import JSONPull

/// What the JSON fuzzer (Fuzz/SummaryJSONFuzz.swift) and its replay test
/// check on any bytes: the pull reader walks or rejects them with an error
/// inside the input; a summary it reads re-encodes to text it reads back to
/// the same summary; and what it accepts, `JSONDecoder` accepts too, with the
/// same result (the reference it replaced in `trace diff`).
public enum SummaryJSONCrossCheck {
    /// Problems found (empty when all is well).
    public static func run(_ bytes: some ByteViewSource) -> [String] {
        let bytes = bytes.byteView
        var problems: [String] = []
        func inside(_ error: Error, _ what: String) {
            guard let e = error as? InputError else { problems.append("\(what): not an InputError: \(error)"); return }
            if e.file != "fuzz.json" || (e.offset ?? -1) < 0 || e.offset! > bytes.count {
                problems.append("\(what): error outside the input: \(e)")
            }
        }
        // Any JSON value, walked and passed over.
        var walker = JSONPullReader(bytes, file: "fuzz.json")
        var valid = true
        do { try walker.skipValue(); try walker.finish() } catch { valid = false; inside(error, "walk") }

        let summary: TraceSummary
        do { summary = try SummaryJSON.decode(bytes: bytes, file: "fuzz.json") } catch {
            inside(error, "summary")
            return problems
        }
        if !valid { problems.append("a summary was read from text the walker rejects") }
        do {
            let text = try SummaryJSON.encode(summary, pretty: false)
            let again = try Array(text.utf8).withByteView { try SummaryJSON.decode(bytes: $0, file: "again.json") }
            if try SummaryJSON.encode(again, pretty: false) != text { problems.append("the summary does not read back to itself") }
            let reference = try SummaryJSON.encode(SummaryJSON.foundationDecode(Data(bytes)), pretty: false)
            if reference != text { problems.append("JSONDecoder reads a different summary: " + firstDifference(text, reference)) }
        } catch {
            problems.append("re-reading failed: \(error)")
        }
        return problems
    }

    /// Where two texts part, with some context of each.
    static func firstDifference(_ a: String, _ b: String) -> String {
        let x = Array(a.utf8), y = Array(b.utf8)
        let i = (0 ..< min(x.count, y.count)).first { x[$0] != y[$0] } ?? min(x.count, y.count)
        func around(_ t: [UInt8]) -> String { String(decoding: t[max(0, i - 60) ..< min(t.count, i + 40)], as: UTF8.self) }
        return "at byte \(i) of the re-encoding: pull reader …\(around(x))… JSONDecoder …\(around(y))…"
    }
}
