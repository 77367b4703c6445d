import CrashAnalysis
import CrashTestSupport
import Dump
import Foundation
import Testing

/// `xenscope crash` analyses on real QEMU dumps of the panicker guest,
/// checked against what the guest printed on its serial port.
@Suite struct PanickerCrashTests {
    let guest: PanickerGuest
    init() throws { guest = try PanickerGuest.shared() }

    func serial() throws -> [UInt8] { try [UInt8](Data(contentsOf: URL(fileURLWithPath: guest.serialLog))) }

    /// The ring holds the last conring_size bytes the guest wrote — exactly
    /// the tail of its serial output — from both dump formats.
    @Test(arguments: ["dump.elf", "dump.kdump", "dump-paging.elf"])
    func consoleLogIsTheSerialOutput(_ file: String) throws {
        let s = try CrashSession(dumpPath: guest.directory + "/" + file, elfPath: guest.kernelELF)
        let log = try s.consoleRing()
        let serial = try serial()
        #expect(serial.count > 4096, "the guest is meant to wrap its 4 KiB ring")
        #expect(log.size == 4096)
        #expect(log.producer == UInt64(serial.count))
        #expect(log.wrapped)
        #expect(Array(log.text.utf8) == Array(serial.suffix(4096)))
    }

    @Test(arguments: ["dump.elf", "dump.kdump"])
    func panicMessageAndCPU(_ file: String) throws {
        let s = try CrashSession(dumpPath: guest.directory + "/" + file, elfPath: guest.kernelELF)
        let p = s.panicInfo(log: try s.consoleRing())
        #expect(p.message == "Kernel panic - not syncing: request 3: bad checksum d00189af (expected deadbeef)")
        #expect(p.cpu == 1)
        #expect(p.cpuSource == "panic_cpu variable")
        // The serial log has the same line.
        let text = String(decoding: try serial(), as: UTF8.self)
        #expect(text.contains(p.message! + "\n"))
    }

    @Test func matchingSymbolsAreRecognised() throws {
        let s = try CrashSession(dumpPath: guest.kdumpDump, elfPath: guest.kernelELF)
        let m = s.checkSymbols()
        #expect(m.verdict == .match)
        #expect(m.message.contains(s.symbols!.buildID!))
    }

    @Test func wrongELFIsSaidPlainly() throws {
        let wrong = try guest.variantKernel()
        let s = try CrashSession(dumpPath: guest.elfDump, elfPath: wrong)
        let m = s.checkSymbols()
        #expect(m.verdict == .mismatch)
        #expect(m.message.contains("does NOT match the dump"), "\(m.message)")
        #expect(m.message.contains(s.symbols!.buildID!))
    }

    @Test func registersAndMemoryNeedNoSymbols() throws {
        let s = try CrashSession(dumpPath: guest.kdumpDump, elfPath: nil)
        #expect(s.dump.cpus.count == 2)
        #expect(try s.read(0xffff_ffff_8010_a000, count: 4).count == 4)
        #expect(s.checkSymbols().verdict == .unknown)
        #expect(throws: CrashError.noSymbols(what: "the console log")) { try s.consoleRing() }
        #expect(throws: CrashError.noSymbols(what: "a backtrace")) { try s.backtraces() }
    }

    @Test func readsSymbolsThroughThePageTables() throws {
        let s = try CrashSession(dumpPath: guest.elfDump, elfPath: guest.kernelELF)
        #expect(s.addressSpaceCPU == 1)
        let size = try #require(s.address(of: "conring_size"))
        #expect(try s.readUInt32(size) == 4096)
        let batch = try #require(s.address(of: "batch"))
        // batch[2] = { 3, 7, 0xdeadbeef, "corrupt" }
        let b = try s.read(batch + 48, count: 12)
        #expect(b == [3, 0, 0, 0, 7, 0, 0, 0, 0xef, 0xbe, 0xad, 0xde])
        #expect(throws: TranslationError.self) { try s.read(0xffff_ffff_8000_0000, count: 1) }
    }
}
