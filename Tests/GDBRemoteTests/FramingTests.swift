import Testing
@testable import GDBRemote

@Suite struct FramingTests {
    func events(_ s: String, max: Int = 64) -> ([PacketDecoder.Event], [String], Int) {
        var d = PacketDecoder(maxPayload: max)
        var ev: [PacketDecoder.Event] = [], payloads: [String] = []
        for b in Array(s.utf8) {
            if let e = d.feed(b) {
                ev.append(e)
                if e == .packet { payloads.append(String(decoding: d.payload, as: UTF8.self)) }
            }
        }
        return (ev, payloads, d.skippedBytes)
    }

    @Test func decodesPacketsAcksAndInterrupt() {
        let (ev, p, skipped) = events("+$qC#b4-\u{03}$g#67")
        #expect(ev == [.ack, .packet, .nak, .interrupt, .packet])
        #expect(p == ["qC", "g"])
        #expect(skipped == 0)
    }

    @Test func rejectsWrongChecksumAndResynchronises() {
        let (ev, p, _) = events("$qC#b5$g#67")
        #expect(ev == [.badChecksum(expected: 0xb4, received: 0xb5), .packet])
        #expect(p == ["g"])
    }

    @Test func skipsGarbageAndRestartsOnDollarInsidePacket() {
        // junk before, a truncated packet cut by a new '$', a non-hex checksum.
        let (ev, p, skipped) = events("hello$m0,4$g#67$qC#zz$?#3f")
        #expect(ev == [.packet, .badChecksum(expected: 0xb4, received: 0), .packet])
        #expect(p == ["g", "?"])
        #expect(skipped == 5 + 5 + 1)   // "hello" + "$m0,4" + the second "z"
    }

    @Test func dropsOverlongPackets() {
        let long = String(repeating: "a", count: 100)
        var sum: UInt8 = 0
        for b in long.utf8 { sum &+= b }
        let cs = String(sum, radix: 16)
        let (ev, _, _) = events("$\(long)#\(cs.count == 1 ? "0" + cs : cs)$g#67", max: 64)
        #expect(ev == [.overflow, .packet])
    }

    @Test func writerChecksumsEscapesAndCompresses() {
        var w = PacketWriter()
        w.runLengthEncoding = false
        w.packet("OK")
        #expect(String(decoding: w.bytes, as: UTF8.self) == "$OK#9a")
        w.clear()
        let data: [UInt8] = [0x23, 0x24, 0x7d, 0x2a, 0x41]
        w.begin(); data.withUnsafeBytes { w.appendBinary($0) }; w.finish()
        #expect(Array(w.bytes.dropFirst().prefix(9)) == [0x7d, 0x03, 0x7d, 0x04, 0x7d, 0x5d, 0x7d, 0x0a, 0x41])

        // 16 zero bytes → "0" + 31 more "0": "0*" with count 31+29=60 ('<').
        var r = PacketWriter()
        let zeros = [UInt8](repeating: 0, count: 16)
        r.begin(); zeros.withUnsafeBytes { r.appendHex($0) }; r.finish()
        #expect(String(decoding: r.bytes, as: UTF8.self).hasPrefix("$0*<#"))
        #expect(TestClient.parse(r.bytes).packets == [Array(repeating: UInt8(ascii: "0"), count: 32)])
    }

    @Test func runLengthEncodingRoundTripsEveryRunLength() {
        // Runs of 1…300 of one character, including the forbidden counts 6/7
        // ('#', '$'), and runs of escaped bytes: expansion gives back the input.
        for n in 1...300 {
            for byte: UInt8 in [0x41, 0x7d, 0x30] {
                var w = PacketWriter()
                let data = [UInt8](repeating: byte, count: n) + [0x42]
                w.begin(); data.withUnsafeBytes { w.appendBinary($0) }; w.finish()
                let payload = TestClient.parse(w.bytes).packets[0]
                var decoded: [UInt8] = [], i = 0
                while i < payload.count {
                    if payload[i] == 0x7d { decoded.append(payload[i + 1] ^ 0x20); i += 2 } else { decoded.append(payload[i]); i += 1 }
                }
                #expect(decoded == data, "run \(n) of \(byte)")
                #expect(w.bytes.count <= 2 * n + 6)
            }
        }
    }
}
