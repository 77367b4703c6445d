import Dump

/// What the dumped system said when it died.
public struct PanicInfo: Sendable, Equatable, Codable {
    /// The panic/BUG line(s), e.g. "Kernel panic - not syncing: …"; nil when none was found.
    public var message: String?
    /// The CPU that panicked, when known.
    public var cpu: Int?
    /// How the CPU was found ("panic_cpu variable", "console log", "backtrace").
    public var cpuSource: String?
}

extension CrashSession {
    /// Finds the panic message in `log` (Linux/our guest: "Kernel panic - not
    /// syncing:"; Xen: the line after "Panic on CPU N:" inside the ****
    /// box; also "BUG:" / "Oops") and the panicking CPU (the `panic_cpu`
    /// variable, else Xen's "Panic on CPU N", else `backtraceCPU`).
    public func panicInfo(log: ConsoleLog?, backtraceCPU: Int? = nil) -> PanicInfo {
        var info = PanicInfo()
        let lines = log.map { $0.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) } ?? []
        var xenCPU: Int? = nil
        for (i, l) in lines.enumerated().reversed() {
            // Linux repeats the message in its closing "---[ end Kernel panic - …]---" line.
            if let r = l.firstRange(of: "Kernel panic - not syncing:"), !l.contains("---[ end Kernel panic") {
                info.message = String(l[r.lowerBound...])
                break
            }
            if let r = l.firstRange(of: "Panic on CPU ") {
                let rest = l[r.upperBound...]
                xenCPU = Int(rest.prefix { $0.isNumber })
                let msg = lines[(i + 1)...].prefix { !$0.contains("****************") }
                    .map { $0.replacing("(XEN) ", with: "") }.joined(separator: "\n")
                info.message = "Panic on CPU \(xenCPU.map(String.init) ?? "?"): " + msg
                break
            }
            // Xen halting for a crashed hardware domain (how the arm64 lab
            // stops Xen: no NMI on ARM): "Hardware Dom0 crashed: 'noreboot'
            // set - not rebooting." (xen/common/shutdown.c).
            if let r = l.firstRange(of: "Hardware Dom"), l.contains(" crashed") {
                info.message = String(l[r.lowerBound...])
                break
            }
            if l.contains("BUG: ") || l.contains("Oops: ") || l.contains("Assertion '") {
                info.message = l
                break
            }
        }
        if let c = Self.panicCPUFromSymbol(dump: dump, symbols: symbols, machineFrames: (dump as? XenCoreDump)?.isPV ?? false) {
            info.cpu = c
            info.cpuSource = "panic_cpu variable"
        } else if let c = xenCPU {
            info.cpu = c
            info.cpuSource = "console log"
        } else if let c = backtraceCPU {
            info.cpu = c
            info.cpuSource = "backtrace through panic() (or Xen's hwdom_shutdown())"
        }
        return info
    }
}
