import FixtureSupport
import Foundation

/// The symbolizer fixtures (Tests/Fixtures/symbolize), compiled once per
/// test process with `-g -O2`: a three-CU program linked to a shared library.
struct SymbolizerFixtures: Sendable {
    let dir: String
    let program: String
    let library: String

    static let shared: Result<SymbolizerFixtures, FixtureError> = {
        do { return .success(try build()) } catch let e as FixtureError { return .failure(e) } catch {
            return .failure(FixtureError("\(error)"))
        }
    }()

    static func get() throws -> SymbolizerFixtures { try shared.get() }

    static func build() throws -> SymbolizerFixtures {
        let dir = try FixtureCompiler.tempDir()
        let lib = try FixtureCompiler.compile(["symbolize/lib.c"], output: "libfixture.so", in: dir, flags: ["-g", "-O2", "-fPIC", "-shared"])
        let prog = try FixtureCompiler.compile(["symbolize/main.c", "symbolize/words.c", "symbolize/sort.c"], output: "prog", in: dir,
                                               flags: ["-g", "-O2"], libraries: ["-L" + dir, "-lfixture"])
        return SymbolizerFixtures(dir: dir, program: prog, library: lib)
    }

    /// Every byte address inside each function symbol (nm type t/T) of `file`.
    static func functionAddresses(_ file: String) throws -> [UInt64] {
        var out: [UInt64] = []
        for line in try FixtureCompiler.run("nm", ["-S", "--defined-only", file]).split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count == 4, f[2] == "t" || f[2] == "T", let a = UInt64(f[0], radix: 16), let n = UInt64(f[1], radix: 16) else { continue }
            out += (a..<(a + n)).map { $0 }
        }
        return out.sorted()
    }

    /// nm's value and size of `symbol` in `file`.
    static func nmSymbol(_ file: String, _ symbol: String) throws -> (UInt64, UInt64)? {
        for line in try FixtureCompiler.run("nm", ["-S", "--defined-only", file]).split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count == 4, f[3] == symbol { return (UInt64(f[0], radix: 16)!, UInt64(f[1], radix: 16)!) }
        }
        return nil
    }
}

/// Runs eu-addr2line -a -f -i on `addresses` and splits its output per address.
func euAddr2line(_ file: String, _ addresses: [UInt64]) throws -> [UInt64: String] {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["eu-addr2line", "-a", "-f", "-i", "-e", file]
    let input = Pipe(), output = Pipe()
    p.standardInput = input
    p.standardOutput = output
    do { try p.run() } catch { throw FixtureError("eu-addr2line is missing (Debian package elfutils; `make test` installs it): \(error)") }
    let text = addresses.map { "0x" + String($0, radix: 16) }.joined(separator: "\n") + "\n"
    let writer = Thread { input.fileHandleForWriting.write(Data(text.utf8)); try? input.fileHandleForWriting.close() }
    writer.start()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { throw FixtureError("eu-addr2line failed (\(p.terminationStatus))") }
    var out: [UInt64: String] = [:]
    var current: UInt64?
    for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
        if line.hasPrefix("0x"), let a = UInt64(line.dropFirst(2), radix: 16) { current = a; out[a] = ""; continue }
        if let c = current { out[c]! += line + "\n" }
    }
    return out
}
