#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Serves debuggers one after another over TCP, or one over a tty, with a
/// fresh protocol state for each connection.
public struct StubServer {
    public let backend: any Backend
    public var options = RemoteSession.Options()
    private let log: (String) -> Void

    public init(backend: any Backend, log: @escaping (String) -> Void = { _ in }) {
        self.backend = backend
        self.log = log
    }

    /// Accepts clients on `listener`, one at a time. With `once`, returns
    /// after the first client leaves.
    public func serve(listener: TCPListener, once: Bool = false) throws {
        let session = RemoteSession(backend: backend, options: options, log: log)
        repeat {
            let fd = try listener.accept()
            log("debugger connected")
            session.reset()
            let end = SessionPump(isSocket: true, log: log).run(connection: fd, session: session, listener: listener)
            close(fd)
            log(end == .detached ? "debugger detached (\(session.packetCount) packets)"
                                 : "debugger went away (\(session.packetCount) packets); waiting for the next one")
        } while !once
    }

    /// Speaks over a serial line or pty until the peer hangs up (or, with
    /// `once`, detaches). A detach resets the protocol for the next `target remote`.
    public func serve(device path: String, once: Bool = false) throws {
        let fd = try openSerialDevice(path)
        defer { close(fd) }
        serve(terminal: fd, name: path, once: once)
    }

    /// Like ``serve(device:once:)`` on an already open descriptor (a pty master).
    public func serve(terminal fd: Int32, name: String, once: Bool = false) {
        let path = name
        let session = RemoteSession(backend: backend, options: options, log: log)
        while true {
            session.reset()
            let end = SessionPump(isSocket: false, log: log).run(connection: fd, session: session)
            if end == .disconnected || once { return }
            log("debugger detached; serving \(path) again")
        }
    }
}
