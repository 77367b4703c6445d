import XenTrace

/// Human names for numbers found in trace payloads (facts from the Intel SDM
/// appendix C, the AMD APM vol. 2 appendix C and Xen's public `xen.h`).
public enum Names {
    /// VMX basic exit reasons (Intel SDM numbering); see ``ExitReasons``.
    public static var vmxExitReasons: [Int: String] { ExitReasons.vmx }

    /// Name of an SVM exit code (AMD APM numbering).
    public static func svmExitReason(_ code: Int) -> String { ExitReasons.svm(code) }

    /// Name of an exit reason for the given virtualization flavour.
    public static func exitReason(_ code: Int, svm: Bool) -> String { ExitReasons.name(code, svm ? .svm : .vmx) }

    /// Hypercall names by number (xen/include/public/xen.h).
    public static let hypercalls: [Int: String] = [
        0: "set_trap_table", 1: "mmu_update", 2: "set_gdt", 3: "stack_switch", 4: "set_callbacks",
        5: "fpu_taskswitch", 6: "sched_op_compat", 7: "platform_op", 8: "set_debugreg",
        9: "get_debugreg", 10: "update_descriptor", 12: "memory_op", 13: "multicall",
        14: "update_va_mapping", 15: "set_timer_op", 16: "event_channel_op_compat",
        17: "xen_version", 18: "console_io", 19: "physdev_op_compat", 20: "grant_table_op",
        21: "vm_assist", 22: "update_va_mapping_otherdomain", 23: "iret", 24: "vcpu_op",
        25: "set_segment_base", 26: "mmuext_op", 27: "xsm_op", 28: "nmi_op", 29: "sched_op",
        30: "callback_op", 31: "xenoprof_op", 32: "event_channel_op", 33: "physdev_op",
        34: "hvm_op", 35: "sysctl", 36: "domctl", 37: "kexec_op", 38: "tmem_op", 39: "argo_op",
        40: "xenpmu_op", 41: "dm_op", 42: "hypfs_op",
    ]

    /// Xen's name for a hypercall number, or `hypercall_N` for one we do not know.
    public static func hypercall(_ op: Int) -> String { hypercalls[op] ?? "hypercall_\(op)" }

    /// PV event kinds by minor number (trace.h TRC_PV_*).
    public static let pvEvents: [Int: String] = [
        1: "hypercall", 3: "trap", 4: "page_fault", 5: "forced_invalid_op", 6: "emulate_privop",
        7: "emulate_4gb", 8: "math_state_restore", 9: "paging_fixup", 10: "gdt_ldt_mapping_fault",
        11: "ptwr_emulation", 12: "ptwr_emulation_pae", 13: "hypercall", 14: "hypercall_subcall",
    ]

    /// Runstate names in Xen's order, then "lost": time a vCPU's state was
    /// unknown because records were lost.
    public static let runstates = ["running", "runnable", "blocked", "offline", "lost"]

    /// Domain ids with a fixed meaning.
    public static func domain(_ id: Int) -> String {
        switch id {
        case 32767: "idle"
        case 32768: "default"
        default: "d\(id)"
        }
    }
}
