import Testing
import BinaryIO

@Suite struct ByteCursorTests {
    @Test func readsLittleEndianAndStopsAtEnd() {
        let bytes: [UInt8] = [0x78, 0x56, 0x34, 0x12, 0xef, 0xcd, 0xab, 0x89, 0x01, 0x02, 0x03]
        bytes.withUnsafeBytes { buf in
            var c = ByteCursor(buf, baseOffset: 100)
            #expect(c.readUInt32() == 0x1234_5678)
            #expect(c.offset == 104)
            #expect(c.peekUInt64() == nil)   // only 7 bytes left
            #expect(c.readUInt32() == 0x89ab_cdef)
            #expect(c.readUInt16() == 0x0201)
            #expect(c.readUInt32() == nil)
            #expect(c.readUInt8() == 3)
            #expect(c.isAtEnd)
            let moved = c.skip(1)
            #expect(!moved)
        }
    }

    @Test func mappedFileRejectsDirectoriesAndMissingFiles() {
        #expect(throws: InputError.self) { try MappedFile(path: "/") }
        do {
            _ = try MappedFile(path: "/nonexistent/xenscope")
            Issue.record("expected an error")
        } catch let e as InputError {
            #expect(e.description == "/nonexistent/xenscope: cannot open: No such file or directory")
        } catch { Issue.record("unexpected \(error)") }
    }
}
