import Foundation
import GDBBackends
import GDBRemote

/// gdb `dump binary memory` of 64 MiB through `xenscope gdbstub` (ELF core
/// backend) and through QEMU's gdbstub (a frozen guest with 128 MiB of RAM),
/// in the same run; then bare packet round trips through each.
///
///     gdbstub [--mib 64] [--round-trips 20000]
@main
struct GdbstubBenchmark {
    static func main() throws {
        var mib = 64, trips = 20000
        var sizes = [0x20000, 0x1000]
        var args = CommandLine.arguments.dropFirst()
        while let a = args.popFirst() {
            if a == "--mib", let v = args.popFirst().flatMap(Int.init) { mib = v }
            else if a == "--round-trips", let v = args.popFirst().flatMap(Int.init) { trips = v }
            else if a == "--packet-sizes", let v = args.popFirst() { sizes = v.split(separator: ",").compactMap { Int($0, radix: 16) } }
            else { print("usage: gdbstub [--mib N] [--round-trips N]"); exit(2) }
        }
        let bytes = mib << 20
        let dir = NSTemporaryDirectory() + "xenscope-gdbstub-bench-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }

        // A process with `mib` MiB of pseudo-random bytes (so run-length
        // encoding cannot help), crashed and saved by gdb's gcore.
        let src = dir + "/big.c", prog = dir + "/big", core = dir + "/big.core"
        try """
            #include <stdlib.h>
            #include <stdint.h>
            #include <string.h>
            unsigned char *big, *zeros;
            int main(void) {
                size_t n = (size_t)\(mib) << 20;
                big = malloc(n);
                zeros = malloc(n);
                memset(zeros, 0, n);
                uint64_t x = 88172645463325252ull;
                for (size_t i = 0; i < n; i += 8) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; *(uint64_t *)(big + i) = x; }
                *(volatile int *)0 = 1;
                return 0;
            }
            """.write(toFile: src, atomically: true, encoding: .utf8)
        try run(["/usr/bin/gcc", "-O1", "-g", src, "-o", prog])
        try run(["/usr/bin/gdb", "-batch", "-nx", "-ex", "run", "-ex", "gcore \(core)", prog])
        print("gdbstub benchmark: \(mib) MiB via gdb `dump binary memory`, \(trips) bare round trips (qC)")
        print(String(format: "%-50@ %10@ %10@ %12@", "target" as NSString, "seconds" as NSString, "MiB/s" as NSString, "µs/packet" as NSString))

        // The engine alone (no sockets, no gdb): `m` requests of PacketSize/2
        // bytes answered from the core, output drained.
        for rle in [false, true] {   // the first pass also pays the page faults of the core
            var options = RemoteSession.Options()
            options.runLengthEncoding = rle
            let session = RemoteSession(backend: try ElfCoreBackend(path: core), options: options)
            let base = try bigAddress(core: core, program: prog)
            let chunk = 0x10000
            var requests: [[UInt8]] = []
            for off in stride(from: 0, to: bytes, by: chunk) {
                let body = "m\(String(base + UInt64(off), radix: 16)),\(String(chunk, radix: 16))"
                var sum: UInt8 = 0
                for b in body.utf8 { sum &+= b }
                requests.append(Array("$\(body)#\(String(format: "%02x", sum))".utf8))
            }
            session.receive(Array("$QStartNoAckMode#b0".utf8)); session.clearOutput()
            var out = 0
            let cpu0 = cpuSeconds()
            let t0 = DispatchTime.now().uptimeNanoseconds
            for r in requests {
                session.receive(r)
                out += session.drainOutput { $0.count }
            }
            let secs = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            guard out > bytes else { throw BenchError("engine produced only \(out) bytes") }
            let cpu = cpuSeconds() - cpu0
            print(String(format: "%-50@ %10.3f %10.1f %12@   (CPU %.2f s = %.0f MiB/s of CPU)", (rle ? "engine only (m, RLE on; no socket, no gdb)" : "engine only (m, RLE off; no socket, no gdb)") as NSString, secs, Double(mib) / secs, "-" as NSString, cpu, Double(mib) / cpu))
        }

        for packetSize in sizes {
            let backend = try ElfCoreBackend(path: core)
            let listener = try TCPListener(host: "127.0.0.1", port: 0)
            var server = StubServer(backend: backend)
            server.options.packetSize = packetSize
            let box = Box((server, listener))
            Thread.detachNewThread { try? box.value.0.serve(listener: box.value.1) }
            let rt = try roundTrips(port: listener.port, count: trips)
            for buffer in ["big", "zeros"] {
                let cpu0 = cpuSeconds(), child0 = childCPUSeconds()
                let secs = try gdbDump(port: listener.port, program: prog, start: buffer, length: bytes, out: dir + "/ours.bin")
                let stubCPU = cpuSeconds() - cpu0, gdbCPU = childCPUSeconds() - child0
                let name = "xenscope (core, \(buffer == "big" ? "random" : "zero") bytes, PacketSize=\(String(packetSize, radix: 16)))"
                print(String(format: "%-50@ %10.3f %10.1f %12.1f   (stub CPU %.2f s, gdb CPU %.2f s)", name as NSString, secs, Double(mib) / secs, rt, stubCPU, gdbCPU))
            }
            listener.shutdown()
        }

        // QEMU's own stub on a guest that never ran (-S): guest-physical memory at 0.
        let qemu = "/usr/bin/qemu-system-x86_64"
        if FileManager.default.isExecutableFile(atPath: qemu) {
            let port = 20000 + Int(getpid() % 20000)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: qemu)
            p.arguments = ["-m", "\(max(128, 2 * mib))", "-S", "-gdb", "tcp:127.0.0.1:\(port)", "-display", "none",
                           "-nodefaults", "-accel", "tcg", "-monitor", "none", "-serial", "none"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            defer { p.terminate(); p.waitUntilExit() }
            usleep(500_000)
            let child0 = childCPUSeconds()
            let secs = try gdbDump(port: UInt16(port), program: nil, start: "0", length: bytes, out: dir + "/qemu.bin")
            let gdbCPU = childCPUSeconds() - child0
            let rt = try roundTrips(port: UInt16(port), count: trips)
            print(String(format: "%-50@ %10.3f %10.1f %12.1f   (gdb CPU %.2f s)", "QEMU 7.2 gdbstub (zero RAM of a -S guest)" as NSString, secs, Double(mib) / secs, rt, gdbCPU))
        } else {
            print("QEMU gdbstub: \(qemu) missing (apt install qemu-system-x86): not compared")
        }
    }

    /// CPU time of this process (all threads): the stub's cost, whatever else runs on the machine.
    static func cpuSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// CPU time of finished child processes (gdb).
    static func childCPUSeconds() -> Double {
        var u = rusage()
        getrusage(RUSAGE_CHILDREN.rawValue, &u)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
    }

    /// Address of the test program's buffer, as gdb reads it from the core.
    static func bigAddress(core: String, program: String) throws -> UInt64 {
        let text = try run(["/usr/bin/gdb", "-batch", "-nx", program, core, "-ex", "p/x (unsigned long)big"])
        guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix("$1 = 0x") }),
              let v = UInt64(line.dropFirst(7), radix: 16) else { throw BenchError("cannot find big in the core:\n\(text)") }
        return v
    }

    /// Times gdb's `dump binary memory` (inside gdb, with Python's clock).
    static func gdbDump(port: UInt16, program: String?, start: String, length: Int, out: String) throws -> Double {
        var argv = ["/usr/bin/gdb", "-batch", "-nx"]
        if let program { argv.append(program) }
        argv += ["-ex", "target remote 127.0.0.1:\(port)", "-ex", "python import time; t0 = time.time()",
                 "-ex", "dump binary memory \(out) \(start) \(start)+\(length)",
                 "-ex", "python print('ELAPSED', time.time() - t0)", "-ex", "detach"]
        let text = try run(argv)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("ELAPSED ") }),
              let secs = Double(line.dropFirst(8)) else { throw BenchError("no timing from gdb:\n\(text)") }
        let size = (try? FileManager.default.attributesOfItem(atPath: out)[.size] as? Int) ?? 0
        guard size == length else { throw BenchError("gdb wrote \(size) bytes, expected \(length):\n\(text)") }
        return secs
    }

    /// Mean microseconds per bare `qC` round trip (no-ack mode), raw socket.
    static func roundTrips(port: UInt16, count: Int) throws -> Double {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        a.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(4))
        let rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { throw BenchError("cannot connect to port \(port)") }
        var buf = [UInt8](repeating: 0, count: 4096)
        func exchange(_ packet: String) -> String {
            var sum: UInt8 = 0
            for b in packet.utf8 { sum &+= b }
            let frame = Array("$\(packet)#\(String(format: "%02x", sum))".utf8)
            _ = frame.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            var got: [UInt8] = []
            while true {
                let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { return "" }
                got += buf[0..<n]
                if let h = got.lastIndex(of: UInt8(ascii: "#")), h + 2 < got.count { break }
            }
            return String(decoding: got, as: UTF8.self)
        }
        _ = exchange("QStartNoAckMode")
        _ = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }   // stray '+'
        for _ in 0..<100 { _ = exchange("qC") }
        let t0 = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<count { _ = exchange("qC") }
        let t1 = DispatchTime.now().uptimeNanoseconds
        _ = exchange("D")
        return Double(t1 - t0) / 1000 / Double(count)
    }

    @discardableResult
    static func run(_ argv: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: argv[0])
        p.arguments = Array(argv.dropFirst())
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

final class Box<T>: @unchecked Sendable { let value: T; init(_ v: T) { value = v } }
