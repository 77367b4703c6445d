/// Every Xen binary layout XenScope reads, in one place, each with the Xen
/// header it is restated from (x86-64 unless said otherwise). Offsets marked
/// "measured" were checked by compiling Xen's public headers with gcc on
/// x86-64 (see the team notes, dumps-and-gdbstub.md §1).
public enum XenLayouts {
    // MARK: xc_core (`xl dump-core`) — tools/libs/guest/xg_core.h, docs/misc/dump-core-format.txt

    /// Note owner of `.note.Xen` notes.
    public static let noteName = "Xen"
    /// XEN_ELFNOTE_DUMPCORE_NONE: marks the file as an xc_core dump.
    public static let dumpcoreNone: UInt32 = 0x2000000
    /// XEN_ELFNOTE_DUMPCORE_HEADER: `struct xen_dumpcore_elfnote_header_desc`
    /// {u64 xch_magic, xch_nr_vcpus, xch_nr_pages, xch_page_size}.
    public static let dumpcoreHeader: UInt32 = 0x2000001
    /// XEN_ELFNOTE_DUMPCORE_XEN_VERSION: major, minor, extraversion[16], … (1280 bytes, measured).
    public static let dumpcoreXenVersion: UInt32 = 0x2000002
    /// XEN_ELFNOTE_DUMPCORE_FORMAT_VERSION: u64 (major << 32 | minor); 0.1 today.
    public static let dumpcoreFormatVersion: UInt32 = 0x2000003
    /// `xch_magic` of a paravirtualised guest (XC_CORE_MAGIC).
    public static let magicPV: UInt64 = 0xF00F_EBED
    /// `xch_magic` of an HVM/PVH guest (XC_CORE_MAGIC_HVM).
    public static let magicHVM: UInt64 = 0xF00F_EBEE

    /// Section names (found by name: the format does not fix their order).
    public static let sectionPrstatus = ".xen_prstatus"
    public static let sectionSharedInfo = ".xen_shared_info"
    public static let sectionPages = ".xen_pages"
    public static let sectionP2M = ".xen_p2m"       // PV: {u64 pfn, u64 gmfn} per page
    public static let sectionPFN = ".xen_pfn"       // HVM/PVH: u64 pfn per page
    public static let sectionNoteXen = ".note.Xen"
    /// Entries of `.xen_p2m`/`.xen_pfn` equal to this are unused (live dumps whose memory shrank).
    public static let invalidPFN: UInt64 = .max

    // MARK: vcpu_guest_context (x86-64) — xen/include/public/arch-x86/xen.h, xen-x86_64.h

    /// `sizeof(vcpu_guest_context_x86_64_t)` (measured).
    public static let vcpuContextSize = 5168
    /// `flags` (VGCF_i387_valid 1<<0, VGCF_in_kernel 1<<2, VGCF_online 1<<5).
    public static let vcpuFlags = 512
    public static let vgcfOnline: UInt64 = 1 << 5
    public static let vgcfInKernel: UInt64 = 1 << 2
    /// `user_regs` (struct cpu_user_regs, 200 bytes): r15 r14 r13 r12 rbp rbx
    /// r11 r10 r9 r8 rax rcx rdx rsi rdi at +0…+112, error_code u32 +120,
    /// entry_vector u32 +124, rip +128, cs u16 +136, saved_upcall_mask u8 +140,
    /// rflags +144, rsp +152, ss +160, es +168, ds +176, fs +184, gs +192.
    public static let vcpuUserRegs = 520
    public static let userRegsRip = 128, userRegsCS = 136, userRegsRflags = 144, userRegsRsp = 152
    public static let userRegsSS = 160, userRegsES = 168, userRegsDS = 176, userRegsFS = 184, userRegsGS = 192
    /// `ctrlreg[8]`: CR0 at +0, CR2 +16, CR3 +24, CR4 +32. PV guests: CR3 holds
    /// `xen_pfn_to_cr3(mfn)` = mfn << 12 (a machine address).
    public static let vcpuCtrlreg = 4984
    public static let vcpuFSBase = 5144
    public static let vcpuGSBaseKernel = 5152
    public static let vcpuGSBaseUser = 5160

    // MARK: hypervisor kdump notes — xen/include/public/elfnote.h, xen/include/xen/elfcore.h

    /// XEN_ELFNOTE_CRASH_INFO: `crash_xen_info_t` = 10 × u64: xen_major_version,
    /// xen_minor_version, xen_extra_version, xen_changeset, xen_compiler,
    /// xen_compile_date, xen_compile_time, tainted, xen_phys_start,
    /// dom0_pfn_to_mfn_frame_list_list. The string fields are physical
    /// addresses of C strings (xen/arch/x86/include/asm/x86_64/elf.h).
    public static let crashInfo: UInt32 = 0x1000001
    /// XEN_ELFNOTE_CRASH_REGS: `crash_xen_core_t` = cr0, cr2, cr3, cr4 (4 × u64).
    public static let crashRegs: UInt32 = 0x1000002

    // MARK: console ring — xen/drivers/char/console.c

    /// `char *conring`, `uint32_t conring_size` (power of two), `uint32_t
    /// conringp` (free-running producer), `uint32_t conringc` (consumer).
    /// The log is bytes [max(conringp − size, 0), conringp), index & (size − 1).
    public static let conringSymbols = (ring: "conring", size: "conring_size", producer: "conringp", consumer: "conringc")

    // MARK: hypervisor data structures (domain list) — read through DWARF
    // Struct layouts (struct domain, vcpu, cpu_info, …) are never restated
    // here: they change with every build and config, so CrashAnalysis reads
    // them from the hypervisor's DWARF. Only ABI constants and symbol names:
    /// Globals the domain list starts from (xen/common/domain.c, xen/arch/x86/setup.c, smpboot.c).
    public static let domainListSymbol = "domain_list"
    public static let stackBaseSymbol = "stack_base"
    public static let idleVCPUSymbol = "idle_vcpu"
    /// `DEFINE_PER_CPU(struct vcpu *, curr_vcpu)` (xen/arch/x86/domain.c): the
    /// vCPU whose state is loaded on a pCPU (lazy switch: may differ from `current`).
    public static let currVCPUSymbol = "per_cpu__curr_vcpu"
    /// `unsigned long __per_cpu_offset[NR_CPUS]` (xen/arch/x86/percpu.c).
    public static let perCPUOffsetSymbol = "__per_cpu_offset"
    /// `vcpu_runstate_info.state` values, RUNSTATE_* (xen/include/public/vcpu.h).
    public static let runstateNames = ["running", "runnable", "blocked", "offline"]
    /// `vcpu->pause_flags` bits _VPF_blocked 0, _VPF_down 1 (xen/include/xen/sched.h).
    public static let vpfBlocked: UInt64 = 1 << 0, vpfDown: UInt64 = 1 << 1
    /// `domain->options` bit XEN_DOMCTL_CDF_hvm (xen/include/public/domctl.h).
    public static let cdfHVM: UInt64 = 1 << 0
    /// Domain ids from DOMID_FIRST_RESERVED (0x7ff0) up are not real domains (DOMID_IDLE 0x7fff).
    public static let domidFirstReserved = 0x7ff0
}
