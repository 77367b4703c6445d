#if canImport(Glibc)
import Glibc
#endif
import BinaryIO
import Testing

@Suite struct FileDescriptorIOTests {
    /// A fresh temporary file's path (removed by the caller).
    func temporaryPath() -> String {
        var template = Array("/tmp/xenscope-fdio-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        close(fd)
        return String(cString: template)
    }

    @Test func writesThenReadsBackExactly() {
        let path = temporaryPath()
        defer { unlink(path) }
        let data = (0 ..< 5000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let w = open(path, O_WRONLY | O_TRUNC)
        let (written, wfail) = FileDescriptorIO.write(w, data)
        close(w)
        #expect(written == 5000 && wfail == nil)
        let r = open(path, O_RDONLY)
        let (bytes, rfail) = FileDescriptorIO.read(r, limit: 65536)
        close(r)
        #expect(rfail == nil)
        #expect(bytes == data)
    }

    @Test func stopsOnceMoreThanTheLimitHasCome() {
        let path = temporaryPath()
        defer { unlink(path) }
        let w = open(path, O_WRONLY | O_TRUNC)
        _ = FileDescriptorIO.write(w, [UInt8](repeating: 0x41, count: 100_000))
        close(w)
        let r = open(path, O_RDONLY)
        let (bytes, failure) = FileDescriptorIO.read(r, limit: 65536)
        close(r)
        // 16 chunks of 4096 reach the limit; one more passes it, then reading stops.
        #expect(failure == nil && bytes.count == 65536 + 4096)
    }

    @Test func failuresComeBackAsErrno() {
        #expect(FileDescriptorIO.read(-1, limit: 10) == ([], EBADF))
        let (written, failure) = FileDescriptorIO.write(-1, [1, 2, 3])
        #expect(written == 0 && failure == EBADF)
        // Nothing to write is no failure, even on a bad descriptor.
        #expect(FileDescriptorIO.write(-1, []) == (0, nil))
        let r = open("/dev/null", O_RDONLY)
        defer { close(r) }
        #expect(FileDescriptorIO.write(r, [1]) == (0, EBADF))
    }
}
