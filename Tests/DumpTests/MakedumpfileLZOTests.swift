import CrashTestSupport
import Dump
import Foundation
import Testing

/// A kdump file written by Debian's makedumpfile itself (`-l`: lzo pages) from
/// the Linux test guest's QEMU ELF dump (scripts/makedumpfile-lzo.sh): every
/// page reads back equal to the ELF dump's.
@Suite struct MakedumpfileLZOTests {
    @Test func everyPageEqualsTheELFDump() throws {
        let g = try LinuxGuest.shared()
        let path = try PanickerGuest.run("/bin/bash", [PanickerGuest.packageRoot + "/scripts/makedumpfile-lzo.sh", g.directory],
                                         what: "converting the Linux guest dump with makedumpfile -l (installed by scripts/install-deps.sh)",
                                         timeout: 900).split(separator: "\n").last.map(String.init) ?? ""
        let kd = try KdumpCompressedDump(path: path)
        let elf = try ElfCoreDump(path: g.elfDump)
        #expect(kd.format == .kdumpCompressed)
        #expect(kd.diagnostics.isEmpty, "\(kd.diagnostics)")
        #expect(kd.cpus.count == 2)
        #expect(kd.vmcoreinfo?.buildID != nil)
        var pages = 0, lzo = 0
        for r in kd.physicalRanges {
            for pfn in (r.lowerBound / 4096)..<(r.upperBound / 4096) {
                let a = try elf.withPage(pfn) { Array($0) }
                let b = try kd.withPage(pfn) { Array($0) }
                if a != b { Issue.record("page \(pfn) differs"); return }
                if try kd.storage(ofPage: pfn).codec == .lzo { lzo += 1 }
                pages += 1
            }
        }
        // Dump level 0 keeps every RAM page of the 1 GiB guest (0 – 0x3ffe2000,
        // QEMU's RAM below the ACPI tables); all but incompressible ones are lzo.
        #expect(pages == kd.dumpedPageCount && pages == 0x3ffe2)
        #expect(lzo * 10 > pages * 9, "\(lzo) of \(pages) pages lzo")
    }
}
