import Testing
@testable import GDBRemote

let readWrite: BackendCapabilities = [.writeMemory, .writeRegisters, .resume, .step,
                                      .softwareBreakpoints, .hardwareBreakpoints, .physicalMemory]

@Suite struct SessionTests {
    /// gdb 13.1's connect sequence, as measured against gdbserver.
    @Test func handshakeAsGdbSendsIt() {
        var c = TestClient(MemoryBackend(capabilities: readWrite))
        let sup = c.exchange("qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;fork-events+;vfork-events+;exec-events+;vContSupported+;QThreadEvents+;no-resumed+;memory-tagging+;xmlRegisters=i386")
        #expect(sup == "PacketSize=20000;QStartNoAckMode+;qXfer:features:read+;qXfer:threads:read+;vContSupported+;swbreak+;hwbreak+")
        #expect(c.acksSeen == 1)   // ack mode: '+' before the reply
        #expect(c.exchange("vMustReplyEmpty") == "")
        #expect(c.exchange("QStartNoAckMode") == "OK")
        #expect(c.acksSeen == 3)   // QStartNoAckMode itself is still acknowledged
        #expect(c.exchange("Hgp0.0") == "OK")
        #expect(c.acksSeen == 3)   // no more acks after no-ack mode
        #expect(c.exchange("qTStatus") == "")
        #expect(c.exchange("qAttached") == "1")
        #expect(c.exchange("qSymbol::") == "OK")
        #expect(c.exchange("qOffsets") == "")
        #expect(c.exchange("qC") == "QC1")
        #expect(c.exchange("qfThreadInfo") == "m1,2")
        #expect(c.exchange("qsThreadInfo") == "l")
        #expect(c.exchange("qThreadExtraInfo,2") == Hex.encode("dom7 vcpu1 & offline"))
        #expect(c.exchange("T2") == "OK")
        #expect(c.exchange("T3").hasPrefix("E"))
        #expect(c.exchange("bogus") == "")
        #expect(c.exchange("vFile:open:6a7573742070726f62696e67,0,1c0") == "")
    }

    @Test func stopReplyNamesThreadAndFrameRegisters() {
        var c = TestClient(MemoryBackend(capabilities: []))
        // rbp (6) = 1<<32 | 6, rsp (7) = 0x7fff1000, rip (0x10) = 0x400011
        #expect(c.exchange("?") == "T0bthread:1;core:3;06:0600000001000000;07:0010ff7f00000000;10:1100400000000000;")
    }

    @Test func retransmitsOnNak() {
        let c = TestClient(MemoryBackend(capabilities: []))
        c.session.receive(TestClient.frame(Array("qC".utf8)))
        let first = c.session.output
        c.session.clearOutput()
        c.session.receive(Array("-".utf8))
        #expect(Array(c.session.output) == Array(first.dropFirst()))   // same packet, without the '+'
        c.session.clearOutput()
        c.session.receive(TestClient.frame(Array("qC".utf8)).dropLast())   // bad: cut checksum …
        c.session.receive(Array("$".utf8))                                  // … then a fresh packet start
        #expect(String(decoding: c.session.output, as: UTF8.self) == "-")
    }

    @Test func targetDescriptionIsServedInChunks() {
        let b = MemoryBackend(capabilities: [])
        var c = TestClient(b)
        let xml = Array(b.layout.targetXML.utf8)
        var got: [UInt8] = []
        var off = 0
        while true {
            let r = c.exchangeBytes("qXfer:features:read:target.xml:\(String(off, radix: 16)),100")
            got += r.dropFirst()
            off += r.count - 1
            if r.first == UInt8(ascii: "l") { break }
            #expect(r.first == UInt8(ascii: "m"))
            #expect(r.count == 0x101)
        }
        #expect(got == xml)
        let s = b.layout.targetXML
        #expect(s.contains("<reg name=\"fs_base\" bitsize=\"64\" type=\"int\" regnum=\"57\"/>"))
        #expect(s.contains("<feature name=\"org.xenscope.x86.system\">"))
        #expect(s.contains("<reg name=\"cr3\" bitsize=\"64\" type=\"uint64\" regnum=\"62\" group=\"system\"/>"))
        #expect(c.exchange("qXfer:features:read:other.xml:0,100") == "E00")
        #expect(c.exchange("qXfer:threads:read::0,1000") == "l<?xml version=\"1.0\"?>\n<threads>\n<thread id=\"1\" name=\"vcpu0\" core=\"3\">dom7 vcpu0 &lt;online&gt;</thread>\n<thread id=\"2\" name=\"vcpu1\">dom7 vcpu1 &amp; offline</thread>\n</threads>\n")
    }

    @Test func registerPacketsFollowTheLayout() {
        let b = MemoryBackend(capabilities: readWrite)
        var c = TestClient(b)
        let g = c.exchange("g")
        // core 24 GPR/segment regs + x87 + SSE + segments + system = layout size
        #expect(g.count == 2 * b.layout.size)
        #expect(b.layout.size == 8 * 16 + 8 + 4 * 7 + 80 + 32 + 256 + 4 + 16 + 56)
        #expect(g.hasPrefix("0000000001000000" + "0100000001000000"))   // rax, rbx of thread 1
        #expect(g.contains("xxxxxxxx"))                                  // x87 unavailable
        #expect(c.exchange("p10") == "1100400000000000")                 // rip
        #expect(c.exchange("Hg2") == "OK")
        #expect(c.exchange("p10") == "1200400000000000")
        #expect(c.exchange("p11") == "46020000")                         // eflags, 4 bytes
        #expect(c.exchange("P10=2000400000000000") == "OK")
        #expect(c.exchange("p10") == "2000400000000000")
        #expect(c.exchange("p999") == "E16")
        // G: write back what g said with rax changed; "xx" fields stay unavailable.
        var g2 = Array(c.exchange("g").utf8)
        g2.replaceSubrange(0..<16, with: Array("efbeadde00000000".utf8))
        #expect(c.exchange("G" + String(decoding: g2, as: UTF8.self)) == "OK")
        #expect(b.regs[2]![.rax] == 0xdeadbeef)
        #expect(!b.regs[2]!.isAvailable(.st0))
    }

    @Test func memoryReadsArePartialHexOrBinary() {
        let b = MemoryBackend(capabilities: readWrite)
        var c = TestClient(b)
        #expect(c.exchange("m400000,4") == "00070e15")
        // crossing the end of the code region: partial read
        #expect(c.exchange("m400ffe,4") == "f2f9")
        #expect(c.exchange("m10,4") == "E0e")
        #expect(c.exchange("m400000,0") == "")
        let zeros = c.exchange("m7fff0000,2000")
        #expect(zeros == String(repeating: "0", count: 0x4000))
        let bin = c.exchangeBytes("x7fff2000,100")
        var decoded: [UInt8] = [], i = 1
        while i < bin.count { if bin[i] == 0x7d { decoded.append(bin[i + 1] ^ 0x20); i += 2 } else { decoded.append(bin[i]); i += 1 } }
        #expect(bin.first == UInt8(ascii: "b"))
        #expect(decoded == (0..<256).map { UInt8($0) })
        #expect(c.exchange("mzz,4") == "E16")
    }

    @Test func largeReadsAreCappedToThePacketSize() {
        var o = RemoteSession.Options()
        o.packetSize = 0x1000
        var c = TestClient(MemoryBackend(capabilities: []), options: o)
        #expect(c.exchange("m400000,1000").count == 0x1000)   // 2 KiB of data, 4 KiB of hex
    }

    @Test func memoryWritesWithHexAndBinary() {
        let b = MemoryBackend(capabilities: readWrite)
        var c = TestClient(b)
        #expect(c.exchange("M400000,2:cafe") == "OK")
        #expect(c.exchange("m400000,2") == "cafe")
        // X with escaped '#', '$', '}' and '*'
        let payload: [UInt8] = Array("X400000,5:".utf8) + [0x7d, 0x03, 0x7d, 0x04, 0x7d, 0x5d, 0x7d, 0x0a, 0x41]
        #expect(c.exchangeAll(payload).map { String(decoding: $0, as: UTF8.self) } == ["OK"])
        #expect(c.exchange("m400000,5") == "23247d2a41")
        #expect(c.exchange("X400000,0:") == "OK")
        #expect(c.exchange("M10,1:00") == "E05")
        #expect(c.exchange("M400000,2:ca") == "E16")
    }

    @Test func readOnlyTargetsRefuseChanges() {
        let b = MemoryBackend(capabilities: [])
        var c = TestClient(b)
        #expect(c.exchange("M400000,1:00") == "E1e")
        #expect(c.exchange("X400000,0:") == "E1e")
        #expect(c.exchange("P0=0000000000000000") == "E1e")
        #expect(c.exchange("Z0,400010,1") == "E1e")
        #expect(c.exchange("Z2,400010,8") == "")
        #expect(c.exchange("vCont?") == "vCont;c;C;s;S;t")
        let r = c.exchange("vCont;c")
        #expect(r == "O" + Hex.encode("xenscope: the target is a read-only snapshot (core file or dump): continue is not possible\n") + "|E1e")
        #expect(c.exchange("s").hasSuffix("|E1e"))
        #expect(!c.session.isRunning)
        #expect(c.exchange("m400000,1") == "00")
    }

    @Test func breakpointsContinueAndStep() {
        let b = MemoryBackend(capabilities: readWrite)
        var c = TestClient(b)
        _ = c.exchange("qSupported:swbreak+;hwbreak+")
        #expect(c.exchange("Z0,400100,1") == "OK")
        #expect(c.run("vCont;c") == "T05thread:1;core:3;06:0600000001000000;07:0010ff7f00000000;10:0001400000000000;swbreak:;")
        #expect(c.exchange("z0,400100,1") == "OK")
        #expect(b.swBreakpoints.isEmpty)
        #expect(c.exchange("Z1,400120,1") == "OK")
        #expect(c.run("c") == "T05thread:1;core:3;06:0600000001000000;07:0010ff7f00000000;10:2001400000000000;hwbreak:;")
        #expect(c.exchange("vCont;s:2;c") == "T05thread:2;06:0600000002000000;07:0010ff7f00000000;10:1300400000000000;")
        #expect(c.exchange("Z3,1000,8") == "")
    }

    @Test func ctrlCStopsARunningTarget() {
        let b = MemoryBackend(capabilities: readWrite)
        var c = TestClient(b)
        _ = c.exchange("QStartNoAckMode")
        #expect(c.exchange("c") == "")        // still running: no stop yet
        #expect(c.session.isRunning)
        c.session.pollTarget(timeoutMilliseconds: 0)
        #expect(c.session.output.isEmpty)
        c.session.receive([0x03])
        c.session.pollTarget(timeoutMilliseconds: 0)
        let stop = TestClient.parse(c.session.output).packets.map { String(decoding: $0, as: UTF8.self) }
        #expect(stop.count == 1 && stop[0].hasPrefix("T02thread:1;"))
        #expect(!c.session.isRunning)
    }

    /// vCont's per-thread actions reach the backend as asked: a step of one
    /// thread with the others stopped (gdb's `set scheduler-locking step`)
    /// or running, a continue of one thread only (`scheduler-locking on`),
    /// a continue of all; a Ctrl-C that stopped no particular thread is
    /// reported on the thread gdb had selected.
    @Test func vContActionsAndTheCtrlCThread() {
        let b = MemoryBackend(capabilities: readWrite)
        var c = TestClient(b)
        _ = c.exchange("QStartNoAckMode")
        #expect(c.exchange("vCont;s:2").hasPrefix("T05thread:2;"))
        #expect(b.lastResume?.step == 2 && b.lastResume?.others == false && b.lastResume?.only == nil)
        #expect(c.exchange("vCont;s:p1.2;c").hasPrefix("T05thread:2;"))
        #expect(b.lastResume?.step == 2 && b.lastResume?.others == true)
        #expect(c.exchange("vCont;s:1;c:2").hasPrefix("T05thread:1;"))
        #expect(b.lastResume?.step == 1 && b.lastResume?.others == true)
        // Continue thread 2 alone, then Ctrl-C: the stop names thread 2.
        #expect(c.exchange("vCont;c:2") == "")
        #expect(b.lastResume?.step == nil && b.lastResume?.others == false && b.lastResume?.only == 2)
        c.session.receive([0x03])
        c.session.pollTarget(timeoutMilliseconds: 0)
        var stop = TestClient.parse(c.session.output).packets.map { String(decoding: $0, as: UTF8.self) }
        c.session.clearOutput()
        #expect(stop.count == 1 && stop[0].hasPrefix("T02thread:2;"), "\(stop)")
        // gdb selected thread 2 (Hg), continues everything, Ctrl-C: thread 2.
        #expect(c.exchange("Hg1") == "OK")
        #expect(c.exchange("Hg2") == "OK")
        #expect(c.exchange("vCont;c") == "")
        #expect(b.lastResume?.step == nil && b.lastResume?.others == true && b.lastResume?.only == nil)
        c.session.receive([0x03])
        c.session.pollTarget(timeoutMilliseconds: 0)
        stop = TestClient.parse(c.session.output).packets.map { String(decoding: $0, as: UTF8.self) }
        c.session.clearOutput()
        #expect(stop.count == 1 && stop[0].hasPrefix("T02thread:2;"), "\(stop)")
        #expect(c.exchange("qC") == "QC2")
    }

    @Test func breakpointsAreRemovedWhenTheClientGoesAway() {
        let b = MemoryBackend(capabilities: readWrite)
        var c = TestClient(b)
        #expect(c.exchange("Z0,400200,1") == "OK")
        c.session.disconnected()                 // the client vanished
        #expect(b.swBreakpoints.isEmpty)
        #expect(b.detaches == 1)
        c.session.reset()                        // the next client arrives
        #expect(b.attaches == 1)
        #expect(c.exchange("Z0,400300,1") == "OK")
        #expect(c.exchange("D") == "OK")
        #expect(c.session.finished)
        #expect(b.swBreakpoints.isEmpty)
        #expect(b.detaches == 2)
    }

    @Test func monitorCommands() {
        let b = MemoryBackend(capabilities: readWrite)
        var c = TestClient(b)
        func run(_ cmd: String) -> String {
            let r = c.exchangeAll(Array(("qRcmd," + Hex.encode(cmd)).utf8)).map { String(decoding: $0, as: UTF8.self) }
            #expect(r.last == "OK")
            return r.dropLast().map { String(decoding: Hex.decode($0.dropFirst().utf8)!, as: UTF8.self) }.joined()
        }
        #expect(run("help").contains("phys on|off"))
        #expect(run("help").contains("echo                 says echo!"))
        #expect(run("info vcpus") == """
            thread  name          rip                 rsp                 cr3                 description
            *1      vcpu0         0x0000000000400011  0x000000007fff1000  0x0000000000001000  dom7 vcpu0 <online>
             2      vcpu1         0x0000000000400012  0x000000007fff1000  0x0000000000002000  dom7 vcpu1 & offline

            """)
        #expect(run("phys on") == "memory addresses are guest-physical\n")
        _ = c.exchange("m400000,1")
        #expect(b.physicalReads == 1)
        #expect(run("phys off").hasPrefix("memory addresses are virtual"))
        #expect(run("echo") == "echo!\n")
        #expect(run("frobnicate") == "unknown monitor command 'frobnicate'; try 'monitor help'\n")
        #expect(c.exchange("qRcmd,zz") == "E16")
    }

    @Test func layoutWithoutSSEOrSystem() {
        let l = X86RegisterLayout(features: [])
        #expect(l.registers.count == 40 + 2)
        #expect(l.size == 164 + 80 + 32 + 16)
        #expect(l.number(of: .fsBase) == 40)
        #expect(!l.targetXML.contains("xmm"))
    }

    @Test func fxsaveTagWordAndRegisters() {
        var fx = [UInt8](repeating: 0, count: 512)
        fx[0] = 0x7f; fx[1] = 0x03          // FCW 0x037f
        fx[2] = 0x00; fx[3] = 0x38          // FSW: TOP = 7
        fx[4] = 0x80                        // abridged: physical reg 7 in use
        // st0 = 1.0: mantissa 0x8000000000000000, exponent 0x3fff
        fx[32 + 7] = 0x80; fx[32 + 8] = 0xff; fx[32 + 9] = 0x3f
        fx[24] = 0x80; fx[25] = 0x1f        // MXCSR 0x1f80
        fx[160] = 0x11                      // xmm0 low byte
        var v = X86RegisterValues()
        v.setFXSAVE(fx)
        #expect(v[.fctrl] == 0x37f)
        #expect(v[.ftag] == 0x3fff)          // reg 7 valid (00), others empty (11)
        #expect(v[.mxcsr] == 0x1f80)
        #expect(v.bytes(.xmm0)!.first == 0x11)
        #expect(Array(v.bytes(.st0)!) == [0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0x3f])
    }
}
