extension BackendCapabilities {
    /// One sentence telling the user that serving `target` lets gdb change it
    /// (write memory or registers, let it run), nil for a read-only target.
    ///
    /// Why: a dump or core cannot be harmed, but a live guest can; the stub
    /// says so before it serves, so nobody attaches to a production guest
    /// thinking it is a passive view.
    public func changeNotice(target: String) -> String? {
        var can: [String] = []
        switch (contains(.writeMemory), contains(.writeRegisters)) {
        case (true, true): can.append("write its memory and registers")
        case (true, false): can.append("write its memory")
        case (false, true): can.append("write its registers")
        case (false, false): break
        }
        if contains(.resume) || contains(.step) { can.append("let it run") }
        guard !can.isEmpty else { return nil }
        return "\(target) is writable: a debugger that attaches can \(can.joined(separator: " and "))"
    }
}
