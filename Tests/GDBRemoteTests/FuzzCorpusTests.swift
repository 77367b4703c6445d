import Foundation
import GDBRemote
import Testing

/// The gdb remote-protocol fuzzer's seeds and findings (Fuzz/gdbstub/corpus),
/// replayed as Fuzz/gdbstub/FuzzGDBRemote.swift feeds them: in two pieces,
/// then a few polls; the session must answer only with acks and well-formed
/// packets (TestClient.parse checks every checksum).
@Suite struct GDBFuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz/gdbstub/corpus").path

    @Test(arguments: try! FileManager.default.contentsOfDirectory(atPath: corpus).sorted())
    func replay(_ name: String) throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.corpus + "/" + name)))
        let session = RemoteSession(backend: MemoryBackend(capabilities: readWrite), options: .init())
        let cut = bytes.count / 3
        bytes.withUnsafeBytes { b in
            session.receive(UnsafeRawBufferPointer(rebasing: b[0..<cut]))
            session.receive(UnsafeRawBufferPointer(rebasing: b[cut...]))
        }
        for _ in 0..<4 where session.isRunning { session.pollTarget(timeoutMilliseconds: 0) }
        _ = TestClient.parse(session.output)
    }

    /// The finding (corpus/vcont-action-without-verb): a vCont action of just
    /// ":" indexed past an empty split and killed the stub. Now refused with
    /// the empty reply, as for any action it does not know; the session goes on.
    @Test func vContActionWithoutAVerbIsRefused() {
        var c = TestClient(MemoryBackend(capabilities: readWrite))
        #expect(c.exchange("vCont;:") == "")
        #expect(c.exchange("vCont;:1") == "")
        #expect(c.exchange("vCont;c;:") == "")
        #expect(!c.session.isRunning)
        #expect(c.exchange("m400000,1") == "00")
    }
}
