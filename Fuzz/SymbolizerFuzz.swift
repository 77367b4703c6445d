// libFuzzer target for the symbolizer inputs: every input is written to a
// file and loaded as a debugging image (ELF symbols through our reader, DWARF
// lines, inline chains and CFI through libdw/libdwfl), then a few addresses
// are symbolized and described, a symbol looked up and struct layouts read.
// Built and run by scripts/fuzz-dwarf.sh (`make fuzz`). A crash or hang in
// our code is a finding; thrown errors are expected.
#if canImport(Glibc)
import Glibc
#endif
import DWARF
import ELF

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSymbolizer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let path = "/dev/shm/xenscope-fuzz-dwarf-\(getpid())"
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { return 0 }
    _ = write(fd, data, size)
    close(fd)
    defer { unlink(path) }
    // Look in no directory for separate debug files (none of the host's).
    guard let s = try? Symbolizer(path: path, debugDirectories: ["/nonexistent"]) else { return 0 }
    var addresses: [UInt64] = [0, 0x1000, UInt64.max]
    if let text = s.elf.section(named: ".text") {
        addresses += [text.address, text.address &+ text.size / 2, text.address &+ text.size &- 1]
    }
    for a in addresses {
        _ = s.symbolize(a)
        _ = s.describe(address: a)
    }
    _ = s.address(ofSymbol: "main")
    _ = s.lookup(symbol: "main")
    _ = s.memberOffset(type: "point", member: "y", inCUOf: addresses.last ?? 0)
    _ = s.checkBuildID(expected: [1, 2, 3, 4])
    if let t = try? TypeLayouts(path: path) {
        _ = try? t.size(of: "point")
        _ = try? t.member("y", in: "point")
    }
    return 0
}
