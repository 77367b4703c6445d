#if canImport(Glibc)
import Glibc
#endif

/// The one progress printer of the CLI: a single line on stderr, redrawn in
/// place with `\r`, for long work a person is watching. `trace record` feeds
/// it its collector statistics; the file-reading commands feed it bytes done
/// of a total through `bytes(done:total:)`, which throttles to a few redraws
/// a second so the caller may report as often as it likes.
final class ProgressLine {
    private let err = FDWriter(fd: 2)
    private var width = 0
    private var lastDraw = -1.0
    /// Seconds between redraws for `bytes(done:total:)`.
    private let interval: Double

    init(interval: Double = 0.25) { self.interval = interval }

    /// A progress line for a command whose standard output is a terminal
    /// and not JSON; nil (no progress at all) when piped, redirected or `--json`.
    static func forTerminalOutput(json: Bool) -> ProgressLine? {
        json || isatty(1) == 0 ? nil : ProgressLine()
    }

    /// `bytes(done:total:)` as a closure, for `Summarizer.summarize(progress:)`.
    var byteReporter: (Int, Int) -> Void { { [self] in bytes(done: $0, total: $1) } }

    /// Redraws the line with `text`, padding over a longer previous one.
    func show(_ text: String) {
        let n = text.utf8.count
        err.write("\r" + text + String(repeating: " ", count: max(0, width - n)))
        err.flush()
        width = n
    }

    /// Shows `done` of `total` bytes and the percentage, at most every `interval` seconds.
    func bytes(done: Int, total: Int) {
        let now = ProgressLine.seconds()
        guard lastDraw < 0 || now - lastDraw >= interval else { return }
        lastDraw = now
        let pct = total > 0 ? min(100, done * 100 / total) : 100
        show("xenscope: \(ProgressLine.mb(done)) / \(ProgressLine.mb(total)) MB (\(pct)%)")
    }

    /// Ends the line: `keep` leaves the last text on screen (a newline),
    /// otherwise it is wiped so later output starts on a clean line.
    func finish(keep: Bool = false) {
        guard width > 0 else { return }
        err.write(keep ? "\n" : "\r" + String(repeating: " ", count: width) + "\r")
        err.flush()
        width = 0
    }

    static func mb(_ b: Int) -> String {
        let tenths = (b + 50_000) / 100_000
        return "\(tenths / 10).\(tenths % 10)"
    }

    private static func seconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
