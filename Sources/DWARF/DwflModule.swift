import CElfUtils
#if canImport(Glibc)
import Glibc
#endif

/// The last libdwfl error as text.
func dwflError() -> String { String(cString: dwfl_errmsg(-1)) }

/// One libdwfl session holding one or more ELF images. Each is reported at
/// `base` (ET_DYN: its load address; ET_EXEC: libdwfl keeps link-time
/// addresses, so callers subtract a bias themselves). Not thread-safe:
/// libdw's handles must not be shared between threads, so each user owns one.
final class DwflSession {
    let dwfl: OpaquePointer
    let callbacks: UnsafeMutablePointer<Dwfl_Callbacks>
    /// The reported modules, in the order given.
    private(set) var modules: [OpaquePointer] = []
    /// strdup'ed debug file paths handed to find_debuginfo via module userdata.
    private var debugPaths: [UnsafeMutablePointer<CChar>] = []

    /// One image to report.
    struct Image {
        var path: String
        var base: UInt64
        /// Separate debug file chosen by ``DebugFileLocator`` (nil: none, or the image itself).
        var debugFile: String?
        /// ET_DYN: `base` is added to the link-time addresses (libdwfl's
        /// add_p_vaddr) instead of being where the first segment starts. A
        /// relocatable kernel (arm64's vmlinux is ET_DYN linked at
        /// 0xffff800008000000) then keeps its link-time addresses at base 0.
        var addLinkAddress = false
    }

    init(images: [Image]) throws {
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
            throw SymbolizerError.libdw(images.first?.path ?? "-", dwflError())
        }
        self.dwfl = dwfl
        dwfl_report_begin(dwfl)
        for image in images {
            guard let mod = dwfl_report_elf(dwfl, image.path, image.path, -1, image.base, image.addLinkAddress) else {
                // Every property is set: deinit ends the session and frees
                // the rest (doing it here as well freed them twice).
                throw SymbolizerError.libdw(image.path, dwflError())
            }
            modules.append(mod)
            if let d = image.debugFile, d != image.path, let p = strdup(d) {
                debugPaths.append(p)
                var userdata: UnsafeMutablePointer<UnsafeMutableRawPointer?>?
                _ = dwfl_module_info(mod, &userdata, nil, nil, nil, nil, nil, nil)
                userdata?.pointee = UnsafeMutableRawPointer(p)
            }
        }
        dwfl_report_end(dwfl, nil, nil)
    }

    deinit {
        dwfl_end(dwfl)
        callbacks.deallocate()
        for p in debugPaths { free(p) }
    }

    /// Start and end address of module `i`.
    func bounds(_ i: Int) -> (UInt64, UInt64) {
        var s: Dwarf_Addr = 0, e: Dwarf_Addr = 0
        _ = dwfl_module_info(modules[i], nil, &s, &e, nil, nil, nil, nil)
        return (s, e)
    }
}

/// A session with a single image at its link-time addresses (the symbolizer's).
final class DwflModule {
    let session: DwflSession
    var dwfl: OpaquePointer { session.dwfl }
    var module: OpaquePointer { session.modules[0] }
    let start: UInt64
    let end: UInt64

    init(path: String, debugFile: String?) throws {
        session = try DwflSession(images: [.init(path: path, base: 0, debugFile: debugFile, addLinkAddress: true)])
        (start, end) = session.bounds(0)
    }
}
