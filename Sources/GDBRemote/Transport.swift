#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Errors setting up a listener or device, in words for the user.
public struct TransportError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

private func errnoText() -> String { String(cString: strerror(errno)) }

/// A listening TCP socket (one debugger at a time is served from it).
public final class TCPListener: @unchecked Sendable {
    public let fd: Int32
    /// The port actually bound (useful with port 0).
    public let port: UInt16
    /// True when bound to a loopback address only.
    public let isLoopback: Bool

    /// Binds `host:port` (IPv4 or IPv6 literal or name).
    public init(host: String, port: UInt16) throws {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var res: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &res)
        guard rc == 0, let ai = res else { throw TransportError("cannot resolve \(host): \(String(cString: gai_strerror(rc)))") }
        defer { freeaddrinfo(res) }
        let s = socket(ai.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { throw TransportError("socket: \(errnoText())") }
        var one: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(s, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 else {
            let e = errnoText(); close(s)
            throw TransportError("cannot listen on \(host):\(port): \(e)")
        }
        guard listen(s, 4) == 0 else { let e = errnoText(); close(s); throw TransportError("listen: \(e)") }
        var ss = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        var bound: UInt16 = port
        var loopback = false
        withUnsafeMutablePointer(to: &ss) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                guard getsockname(s, sa, &len) == 0 else { return }
                if sa.pointee.sa_family == sa_family_t(AF_INET) {
                    sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                        bound = UInt16(bigEndian: sin.pointee.sin_port)
                        loopback = UInt32(bigEndian: sin.pointee.sin_addr.s_addr) >> 24 == 127
                    }
                } else if sa.pointee.sa_family == sa_family_t(AF_INET6) {
                    sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                        bound = UInt16(bigEndian: sin6.pointee.sin6_port)
                        let a = sin6.pointee.sin6_addr
                        loopback = withUnsafeBytes(of: a) { b in b.prefix(15).allSatisfy { $0 == 0 } && b[15] == 1 }
                    }
                }
            }
        }
        fd = s
        self.port = bound
        isLoopback = loopback
    }

    deinit { close(fd) }

    /// Stops accepting: a ``StubServer`` waiting for a client returns with an error.
    public func shutdown() { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }

    /// Waits for the next client; returns its socket.
    public func accept() throws -> Int32 {
        while true {
            #if canImport(Glibc)
            let c = Glibc.accept(fd, nil, nil)
            #else
            let c = Darwin.accept(fd, nil, nil)
            #endif
            if c >= 0 {
                _ = fcntl(c, F_SETFD, FD_CLOEXEC)
                var one: Int32 = 1
                setsockopt(c, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                return c
            }
            if errno == EINTR { continue }
            throw TransportError("accept: \(errnoText())")
        }
    }
}

/// Opens a serial line or pty for `target remote /dev/…` and makes it raw.
public func openSerialDevice(_ path: String) throws -> Int32 {
    let fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC)
    guard fd >= 0 else { throw TransportError("cannot open \(path): \(errnoText())") }
    if isatty(fd) == 1 {
        var t = termios()
        if tcgetattr(fd, &t) == 0 {
            cfmakeraw(&t)
            t.c_cflag |= tcflag_t(CLOCAL | CREAD)
            _ = tcsetattr(fd, TCSANOW, &t)
        }
    }
    return fd
}

/// Moves bytes between a connection (socket or tty) and a ``RemoteSession``.
public struct SessionPump {
    /// Why ``run(connection:session:listener:)`` returned.
    public enum End: Equatable, Sendable {
        /// The debugger detached or killed the session.
        case detached
        /// The peer closed the connection (or it failed).
        case disconnected
    }

    private let isSocket: Bool
    private let log: (String) -> Void

    public init(isSocket: Bool, log: @escaping (String) -> Void = { _ in }) {
        self.isSocket = isSocket
        self.log = log
    }

    /// Serves one debugger until it detaches or goes away. A second client
    /// connecting to `listener` meanwhile is turned away at once.
    public func run(connection fd: Int32, session: RemoteSession, listener: TCPListener? = nil) -> End {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
        if let listener { fds.append(pollfd(fd: listener.fd, events: Int16(POLLIN), revents: 0)) }
        while true {
            let timeout: Int32 = session.isRunning ? 5 : -1
            for i in fds.indices { fds[i].revents = 0 }
            let n = poll(&fds, nfds_t(fds.count), timeout)
            if n < 0 {
                if errno == EINTR { continue }
                log("poll: \(errnoText())"); session.disconnected(); return .disconnected
            }
            if fds.count > 1, fds[1].revents & Int16(POLLIN) != 0, let listener {
                if let extra = try? listener.accept() {
                    log("turned away a second debugger (one at a time)")
                    let msg = Array("$E10#a6".utf8)
                    _ = msg.withUnsafeBytes { send(extra, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    close(extra)
                }
            }
            if fds[0].revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                let got = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if got < 0 && (errno == EINTR || errno == EAGAIN) { continue }
                if got <= 0 {
                    session.disconnected()
                    return .disconnected
                }
                buffer.withUnsafeBytes { session.receive(UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
                if !flush(fd, session) { session.disconnected(); return .disconnected }
                if session.finished { return .detached }
            }
            if session.isRunning {
                session.pollTarget(timeoutMilliseconds: 0)
                if !flush(fd, session) { session.disconnected(); return .disconnected }
            }
        }
    }

    /// Writes everything the session produced; false when the peer is gone.
    private func flush(_ fd: Int32, _ session: RemoteSession) -> Bool {
        session.drainOutput { out -> Bool in
            var at = 0
            while at < out.count {
                let n = isSocket
                    ? send(fd, out.baseAddress! + at, out.count - at, Int32(MSG_NOSIGNAL))
                    : write(fd, out.baseAddress! + at, out.count - at)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return false }
                at += n
            }
            return true
        }
    }
}
