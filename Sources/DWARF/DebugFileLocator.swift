import ELF

/// Finds the file that holds an ELF image's DWARF: the image itself, or a
/// separate debug file found by build-id (`DIR/.build-id/xx/rest.debug`) or
/// by `.gnu_debuglink` (next to the image, in `.debug/` beside it, or in a
/// debug directory), checking that the candidate's build-id matches.
public struct DebugFileLocator: Sendable {
    /// Extra directories searched before `/usr/lib/debug`.
    public var directories: [String]

    public init(directories: [String] = []) { self.directories = directories }

    /// What was found for one image.
    public struct Result: Sendable, Equatable {
        /// Path of the file with `.debug_info`, or nil if there is none.
        public var debugFile: String?
        /// Candidates that were rejected, with the reason (e.g. build-id mismatch).
        public var rejected: [String]
    }

    /// Locates the debug information for `elf` (loaded from `path`).
    public func locate(for elf: ELFFile, path: String) -> Result {
        if elf.section(named: ".debug_info").map({ $0.type != SectionHeader.typeNoBits }) == true {
            return Result(debugFile: path, rejected: [])
        }
        var rejected = [String]()
        let dir = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let roots = directories + ["/usr/lib/debug"]
        var candidates = [String]()
        if let id = elf.buildIDHex, id.count > 2 {
            let sub = ".build-id/" + id.prefix(2) + "/" + id.dropFirst(2) + ".debug"
            candidates += roots.map { $0 + "/" + sub }
        }
        if let link = elf.debugLink?.file, !link.isEmpty {
            candidates += [dir + "/" + link, dir + "/.debug/" + link]
            for r in roots {
                candidates.append(r + "/" + link)
                if dir.hasPrefix("/") { candidates.append(r + dir + "/" + link) }
            }
        }
        for c in candidates where c != path {
            guard let d = try? ELFFile(path: c) else { continue }
            guard let s = d.section(named: ".debug_info"), s.type != SectionHeader.typeNoBits else {
                rejected.append("\(c): has no .debug_info")
                continue
            }
            if let want = elf.buildID, let have = d.buildID, want != have {
                rejected.append("\(c): build-id \(hexString(have)) does not match \(hexString(want))")
                continue
            }
            return Result(debugFile: c, rejected: rejected)
        }
        return Result(debugFile: nil, rejected: rejected)
    }
}
