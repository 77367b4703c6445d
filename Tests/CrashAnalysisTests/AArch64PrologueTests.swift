import CrashAnalysis
import Foundation
import Testing

/// Prologue analysis on instruction words made by Debian's aarch64
/// assembler (binutils-aarch64-linux-gnu, with gcc-aarch64-linux-gnu), so
/// the decoder is checked against the real encodings, in the shapes GCC
/// emits with and without frame pointers and in Xen's exception entry.
@Suite struct AArch64PrologueTests {
    /// Assembles `source` and returns its instruction words.
    func assemble(_ source: String) throws -> [UInt32] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("xenscope-prologue-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try (source + "\n").write(toFile: dir + "/a.s", atomically: true, encoding: .utf8)
        for (tool, args) in [("aarch64-linux-gnu-as", [dir + "/a.s", "-o", dir + "/a.o"]),
                             ("aarch64-linux-gnu-objcopy", ["-O", "binary", "-j", ".text", dir + "/a.o", dir + "/a.bin"])] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/" + tool)
            p.arguments = args
            guard FileManager.default.isExecutableFile(atPath: "/usr/bin/" + tool) else {
                Issue.record("/usr/bin/\(tool) missing: run `make test` (scripts/install-deps.sh installs gcc-aarch64-linux-gnu)")
                throw CocoaError(.fileNoSuchFile)
            }
            try p.run()
            p.waitUntilExit()
            #expect(p.terminationStatus == 0, "\(tool) failed on:\n\(source)")
        }
        let b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/a.bin")))
        return stride(from: 0, to: b.count, by: 4).map { UInt32(b[$0]) | UInt32(b[$0 + 1]) << 8 | UInt32(b[$0 + 2]) << 16 | UInt32(b[$0 + 3]) << 24 }
    }

    @Test func framePointerPrologue() throws {
        let code = try assemble("""
            stp x29, x30, [sp, #-48]!
            mov x29, sp
            stp x19, x20, [sp, #16]
            bl .
            """)
        // x29 at [sp], x30 at [sp + 8] (the frame record).
        #expect(AArch64PrologueAnalysis.shape(code: code) == AArch64FrameShape(frameSize: 48, returnAddressSlot: 8))
    }

    @Test func noFramePointerSubThenStore() throws {
        // What GCC emits without frame pointers: allocate, then store x30 high in the frame.
        let code = try assemble("""
            sub sp, sp, #0x20
            mov x0, #8
            str xzr, [sp]
            str x30, [sp, #16]
            bl .
            """)
        #expect(AArch64PrologueAnalysis.shape(code: code) == AArch64FrameShape(frameSize: 32, returnAddressSlot: 16))
        // Before the store, x30 is still in the register.
        #expect(AArch64PrologueAnalysis.shape(code: Array(code.prefix(3))) == AArch64FrameShape(frameSize: 32, returnAddressSlot: nil))
    }

    @Test func pairWithX30SecondAndBigFrame() throws {
        let code = try assemble("""
            stp x19, x20, [sp, #-32]!
            stp x21, x30, [sp, #16]
            sub sp, sp, #0x1, lsl #12
            bl .
            """)
        // x30 at entry-sp − 8; the frame is 32 + 4096 bytes.
        #expect(AArch64PrologueAnalysis.shape(code: code) == AArch64FrameShape(frameSize: 4128, returnAddressSlot: 4120))
    }

    @Test func pcPastAnEarlyReturnUsesTheBodyFrame() throws {
        let code = try assemble("""
            str x30, [sp, #-16]!
            cbz x0, 1f
            ldr x30, [sp], #16
            ret
            1: bl .
            """)
        #expect(AArch64PrologueAnalysis.shape(code: code) == AArch64FrameShape(frameSize: 16, returnAddressSlot: 0))
    }

    @Test func exceptionEntrySavesELRAndSPSR() throws {
        // Xen's arm64 entry shape: room for the top of the frame, register
        // pairs pushed, then ELR_EL2 stored at sp+#256 and SPSR_EL2 through
        // a pointer into the frame.
        let code = try assemble("""
            sub sp, sp, #0x30
            stp x28, x29, [sp, #-16]!
            stp x0, x1, [sp, #-16]!
            sub sp, sp, #0x10
            mov x21, #-1
            stp x30, x21, [sp, #240]
            mrs x21, elr_el2
            str x21, [sp, #256]
            add x21, sp, #0x108
            mrs x22, spsr_el2
            mrs x23, esr_el2
            stp x22, x23, [x21]
            bl .
            """)
        #expect(AArch64PrologueAnalysis.shape(code: code) == AArch64FrameShape(frameSize: 96, returnAddressSlot: 240, elrSlot: 256, spsrSlot: 264))
    }

    @Test func spFromARegisterIsNotFollowed() throws {
        #expect(AArch64PrologueAnalysis.shape(code: try assemble("mov sp, x1\nbl .")) == nil)
    }
}
