import CrashAnalysis
import Dump
import Foundation
import LabTestSupport
import Testing

/// `xenscope crash domains` on the `selfbuilt` profile's whole-machine dump:
/// the hypervisor built with DWARF (lab/build-xen.sh; lab/run.sh copies its
/// xen-syms beside the results), crashed by an NMI with dom0 and the PV domU
/// up. Checked against what dom0's toolstack said (`xl list`, saved by the
/// lab's init just before the NMI) and against Xen's own invariants.
@Suite struct LabXenDomainsTests {
    /// `xl list` rows: name, id, MiB, vCPUs.
    static func xlList(_ text: String) -> [(name: String, id: Int, mem: Int, vcpus: Int)] {
        text.split(separator: "\n").dropFirst().compactMap { line in
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard f.count >= 4, let id = Int(f[1]), let mem = Int(f[2]), let v = Int(f[3]) else { return nil }
            return (String(f[0]), id, mem, v)
        }
    }

    func load() throws -> (LabResults, CrashSession, XenDomainList) {
        let lab = try LabResults.profile("selfbuilt")
        let s = try CrashSession(dumpPath: lab.host + "/machine.elf", elfPath: lab.xenSyms)
        #expect(s.checkSymbols().verdict == .match, "\(s.checkSymbols().message)")
        let list = try s.xenDomains(guestSymbols: [-1: try GuestSymbols(path: lab.dom0 + "/kallsyms")])
        #expect(list.problems.isEmpty, "\(list.problems)")
        return (lab, s, list)
    }

    /// Every domain `xl list` showed, with its vCPU count and memory, and no other.
    @Test func domainsAreThoseXlListed() throws {
        let (lab, _, list) = try load()
        let xl = Self.xlList(try lab.text("results/xl-list.txt"))
        #expect(xl.count == 2, "\(xl)")   // Domain-0 and the PV domU
        #expect(list.domains.map(\.id).sorted() == xl.map(\.id).sorted())
        for row in xl {
            let d = try #require(list.domains.first { $0.id == row.id })
            #expect(d.vcpus.count == row.vcpus && d.maxVCPUs == row.vcpus, "\(row.name)")
            #expect(Int((d.totPages * 4096) >> 20) == row.mem, "\(row.name): tot_pages \(d.totPages), xl list \(row.mem) MiB")
            #expect(d.type == "PV")
            #expect(d.privileged == (row.id == 0))
            #expect(d.dying == 0)
            #expect(d.vcpus.map(\.id) == Array(0..<row.vcpus))
        }
    }

    /// pCPUs, vCPUs and domain states agree with each other the way Xen keeps them.
    @Test func vcpuAndPCPUStatesAreConsistent() throws {
        let (_, s, list) = try load()
        #expect(list.pcpus.map(\.cpu) == [0, 1])
        let all = list.domains.flatMap { d in d.vcpus.map { (d, $0) } }
        for p in list.pcpus {
            // The vCPU whose state a pCPU holds says it is on that pCPU.
            if p.loaded != "idle" {
                let (_, v) = try #require(all.first { "d\($0.0.id)v\($0.1.id)" == p.loaded })
                #expect(v.processor == p.cpu && v.loadedOn == p.cpu, "\(p)")
                // Xen switches to idle lazily: the idle vCPU runs on the last
                // guest vCPU's loaded state, which then no longer runs.
                #expect(v.isRunning == (p.current == p.loaded), "\(p)")
                #expect(v.registersFrom.hasPrefix("pCPU \(p.cpu)'s stack"))
            }
            if p.current != "idle" {
                #expect(all.contains { "d\($0.0.id)v\($0.1.id)" == p.current && $0.1.isRunning && $0.1.processor == p.cpu }, "\(p)")
            }
            // cpu_info ends the pCPU's stack, where the dump's registers point.
            #expect(s.dump.cpus[p.cpu].rsp < p.cpuInfoAddress && p.cpuInfoAddress - s.dump.cpus[p.cpu].rsp < 64 << 10)
        }
        for (d, v) in all {
            #expect((0..<2).contains(v.processor))
            #expect(XenLayouts.runstateNames.contains(v.runstate))
            if v.runstate == "running" { #expect(v.isRunning, "d\(d.id)v\(v.id)") }
            // PV guests: ring-3 code selectors, kernel (0xe033) or user (0x33), rip in the matching half.
            if v.registers.rip >= 0xffff_8000_0000_0000 {
                #expect(v.registers.cs == 0xe033, "d\(d.id)v\(v.id) cs \(String(v.registers.cs, radix: 16))")
                #expect(v.symbol != nil, "d\(d.id)v\(v.id) rip \(String(v.registers.rip, radix: 16)) not named by kallsyms")
            } else {
                #expect(v.registers.cs == 0x33, "d\(d.id)v\(v.id) cs \(String(v.registers.cs, radix: 16))")
            }
            // A blocked vCPU that is not loaded anywhere sits in its block hypercall.
            if v.runstate == "blocked" && v.loadedOn == nil {
                #expect(v.symbol?.hasPrefix("xen_hypercall") == true, "d\(d.id)v\(v.id): \(v.symbol ?? "?")")
            }
            #expect(v.registers.cr3 != nil && v.registers.cr3! % 4096 == 0)
        }
        for d in list.domains {
            #expect(d.state.hasPrefix("r") == d.vcpus.contains { $0.isRunning }, "d\(d.id) \(d.state)")
        }
    }

    /// The self-built xen-syms is not the one Debian's machine ran, and the summary would say so.
    @Test func selfBuiltSymbolsDoNotMatchTheDebianDump() throws {
        let lab = try LabResults.profile("selfbuilt")
        let s = try CrashSession(dumpPath: try LabResults.ci().host + "/machine.kdump", elfPath: lab.xenSyms)
        #expect(s.checkSymbols().verdict == .mismatch)
        #expect(s.checkSymbols().message.contains("does NOT match the dump"))
    }
}
