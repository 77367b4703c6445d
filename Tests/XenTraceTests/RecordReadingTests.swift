import BinaryIO
import Testing
import XenTrace

/// The record accessors for walkers above XenTrace (``TraceRecord/init(_:at:header:cpu:lastTSC:)``,
/// ``ExtraWords/init(_:at:count:)``) read what the scanner reads.
@Suite struct RecordReadingTests {
    @Test func extraWordsOfEveryCount() {
        // 0x01020304, 0x11121314, … at an odd offset.
        var bytes: [UInt8] = [0xaa]
        for i in 0 ..< 7 { bytes += [0x04, 0x03, 0x02, 0x01].map { $0 + UInt8(0x10 * i) } }
        bytes.withByteView { v in
            for n in 0 ... 7 {
                let e = ExtraWords(v, at: 1, count: n)
                for i in 0 ..< 7 {
                    #expect(e[i] == (i < n ? 0x0102_0304 + 0x1010_1010 * UInt32(i) : 0), "word \(i) of \(n)")
                }
            }
            #expect(ExtraWords(v, at: 29, count: 0) == ExtraWords())
        }
    }

    @Test func everyRecordOfASynthesizedTraceReadsAsTheScannerReadsIt() {
        var o = TraceSynthesizer.Options()
        o.size = 2 << 20
        o.cpus = 4
        o.seed = 7
        var bytes: [UInt8] = []
        let counts = TraceSynthesizer(o).generate { bytes.append(contentsOf: $0) }
        var seen = 0, withTSC = 0, words = [Int](repeating: 0, count: 8)
        bytes.withUnsafeBytes { raw in
            let v = ByteView(raw)
            var scanner = RecordScanner(raw)
            while let r = scanner.next() {
                let header = v.uint32LE(at: r.offset)
                #expect(header == r.header)
                // A record without a TSC inherits the walker's last one.
                let again = TraceRecord(v, at: r.offset, header: header, cpu: r.cpu, lastTSC: r.hasTSC ? 0 : r.tsc)
                #expect(again == r, "record at \(r.offset)")
                seen += 1
                if r.hasTSC { withTSC += 1 }
                words[r.extraCount] += 1
            }
        }
        #expect(seen == counts.records)
        #expect(withTSC > 0 && withTSC < seen)
        #expect(words.filter { $0 > 0 }.count >= 5)
    }

    @Test func aRecordRunningPastTheEndStopsTheProgram() async {
        await #expect(processExitsWith: .failure) {
            // Header: 3 extra words and a TSC (24 bytes), but 20 bytes given.
            let bytes: [UInt8] = [0x01, 0x10, 0x00, 0xb0] + [UInt8](repeating: 0, count: 16)
            _ = bytes.withByteView { TraceRecord($0, at: 0, header: $0.uint32LE(at: 0), cpu: 0, lastTSC: 0) }
        }
        await #expect(processExitsWith: .failure) {
            _ = [UInt8](repeating: 0, count: 12).withByteView { ExtraWords($0, at: 4, count: 3) }
        }
    }
}
