import Foundation
import Testing

/// Progress on stderr for the file-reading trace commands: shown when
/// standard output is a terminal (run under `script`, which gives the child
/// a pty), never when piped, and never changing what goes to standard output.
@Suite struct ProgressCLITests {
    /// Runs `args` of xenscope with stdout on a pty (relayed by `script`) and
    /// stderr in a file; returns (stdout with the pty's CRLF undone, stderr).
    func onTerminal(_ x: String, _ args: [String], dir: String) throws -> (String, String) {
        let err = dir + "/tty.err"
        let cmd = ([x] + args).map { "'\($0)'" }.joined(separator: " ") + " 2>'\(err)'"
        let r = try runCaptured(["script", "-qec", cmd, "/dev/null"])
        #expect(r.status == 0, "script -qec \(cmd): \(r.stderr)")
        let e = try String(contentsOfFile: err, encoding: .utf8)
        return (r.stdout.replacingOccurrences(of: "\r\n", with: "\n"), e)
    }

    @Test func summaryReportAndExportShowProgressOnlyOnATerminal() throws {
        let x = try xenscopeBinary()
        let dir = try makeTempDir("progress")
        defer { removeDir(dir) }
        let trace = dir + "/big.xentrace"
        let synth = try runCaptured([x, "trace", "synth", "--size", "24M", "--output", trace])
        try #require(synth.status == 0, "synth: \(synth.stderr)")
        let commands: [[String]] = [
            ["trace", "summary", trace],
            ["trace", "report", trace, "-o", dir + "/r.html"],
            ["trace", "export", trace, "--format", "chrome-json", "-o", dir + "/t.json"],
        ]
        for args in commands {
            let (ttyOut, ttyErr) = try onTerminal(x, args, dir: dir)
            let piped = try runCaptured([x] + args)
            #expect(piped.status == 0)
            // Same bytes on stdout either way; progress only on the terminal's stderr.
            #expect(ttyOut == piped.stdout, "\(args[1]): stdout differs on a terminal")
            #expect(!piped.stdout.isEmpty)
            #expect(piped.stderr == "", "\(args[1]) piped printed: \(piped.stderr)")
            #expect(ttyErr.contains(" MB ("), "\(args[1]): no progress line on a terminal: \(ttyErr.debugDescription)")
            #expect(ttyErr.contains("/ 25.2 MB ("), "\(args[1]): total not shown: \(ttyErr.debugDescription)")
            // Cleared at the end: the last thing written is a carriage return.
            #expect(ttyErr.hasSuffix("\r"), "\(args[1]): progress line not cleared")
        }
        // --json never shows progress, even on a terminal.
        let (_, jsonErr) = try onTerminal(x, ["trace", "summary", "--json", trace], dir: dir)
        #expect(jsonErr == "")
    }
}
