import CElfUtils
#if canImport(Glibc)
import Glibc
#endif

/// The last libdwfl error as text.
func dwflError() -> String { String(cString: dwfl_errmsg(-1)) }

/// One libdwfl session holding one ELF module, reported at its link-time
/// addresses (the caller subtracts any load bias). Not thread-safe: libdw's
/// handles must not be shared between threads, so each user owns one.
final class DwflModule {
    let dwfl: OpaquePointer
    let module: OpaquePointer
    let callbacks: UnsafeMutablePointer<Dwfl_Callbacks>
    /// strdup'ed debug file path handed to the find_debuginfo callback via the module's userdata.
    private let debugPath: UnsafeMutablePointer<CChar>?

    /// Module start/end (link-time addresses).
    let start: UInt64
    let end: UInt64

    init(path: String, debugFile: String?) throws {
        callbacks = .allocate(capacity: 1)
        callbacks.initialize(to: Dwfl_Callbacks(
            find_elf: dwfl_build_id_find_elf,
            find_debuginfo: { _, userdata, _, _, _, _, _, debuginfoName in
                // Only the file our DebugFileLocator chose (or none): libdwfl
                // must not wander through the system's debug directories.
                guard let userdata, let path = userdata.pointee?.assumingMemoryBound(to: CChar.self) else { return -1 }
                let fd = open(path, O_RDONLY | O_CLOEXEC)
                if fd >= 0, let debuginfoName { debuginfoName.pointee = strdup(path) }
                return fd
            },
            section_address: dwfl_offline_section_address,
            debuginfo_path: nil))
        guard let dwfl = dwfl_begin(callbacks) else {
            callbacks.deallocate()
            throw SymbolizerError.libdw(path, dwflError())
        }
        self.dwfl = dwfl
        dwfl_report_begin(dwfl)
        let mod = dwfl_report_elf(dwfl, path, path, -1, 0, false)
        dwfl_report_end(dwfl, nil, nil)
        guard let mod else {
            let message = dwflError()
            dwfl_end(dwfl)
            callbacks.deallocate()
            throw SymbolizerError.libdw(path, message)
        }
        module = mod
        debugPath = debugFile.flatMap { $0 == path ? nil : strdup($0) }
        var userdata: UnsafeMutablePointer<UnsafeMutableRawPointer?>?
        var s: Dwarf_Addr = 0, e: Dwarf_Addr = 0
        _ = dwfl_module_info(mod, &userdata, &s, &e, nil, nil, nil, nil)
        userdata?.pointee = debugPath.map { UnsafeMutableRawPointer($0) }
        start = s
        end = e
    }

    deinit {
        dwfl_end(dwfl)
        callbacks.deallocate()
        free(debugPath)
    }

    /// The module's DWARF (loads it on first use), or nil when there is none.
    func dwarf() -> (OpaquePointer, Dwarf_Addr)? {
        var bias: Dwarf_Addr = 0
        guard let d = dwfl_module_getdwarf(module, &bias) else { return nil }
        return (d, bias)
    }
}
