/* Crashes the hardware domain through Xen: SCHEDOP_shutdown with
 * SHUTDOWN_crash, issued from dom0 userspace through Linux's privcmd driver
 * (what a dom0 kernel's own panic path does on x86). Xen answers a crashed
 * hardware domain with "Hardware Dom0 crashed", and with `noreboot` halts the
 * machine (machine_halt: other CPUs stop, then PSCI SYSTEM_OFF), which QEMU
 * run with -no-shutdown turns into a paused machine to dump.
 * Freestanding (raw Linux syscalls, no libc: Debian's cross compiler alone
 * builds it): aarch64-linux-gnu-gcc -O2 -static -nostdlib -ffreestanding.
 * Numbers are Xen's public ABI (public/xen.h, public/sched.h) and Linux's
 * privcmd ioctl (include/uapi/xen/privcmd.h). */
typedef unsigned long u64;

struct privcmd_hypercall { u64 op, arg[5]; };
/* _IOC(_IOC_NONE, 'P', 0, sizeof(struct privcmd_hypercall)) */
#define IOCTL_PRIVCMD_HYPERCALL ((u64)(('P' << 8) | (sizeof(struct privcmd_hypercall) << 16)))
#define HYPERVISOR_sched_op 29
#define SCHEDOP_shutdown 2
#define SHUTDOWN_crash 3

static long sys(long nr, long a, long b, long c, long d) {
    register long x8 __asm__("x8") = nr;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
    return x0;
}
#define SYS_openat 56
#define SYS_ioctl 29
#define SYS_write 64
#define SYS_exit 93
#define AT_FDCWD (-100)
#define O_RDWR 2

static void say(const char *s) {
    long n = 0;
    while (s[n]) n++;
    sys(SYS_write, 2, (long)s, n, 0);
}

void _start(void) {
    long fd = sys(SYS_openat, AT_FDCWD, (long)"/dev/xen/privcmd", O_RDWR, 0);
    if (fd < 0) fd = sys(SYS_openat, AT_FDCWD, (long)"/proc/xen/privcmd", O_RDWR, 0);
    if (fd < 0) { say("dom0-crash: cannot open privcmd\n"); sys(SYS_exit, 1, 0, 0, 0); }
    say("dom0-crash: SCHEDOP_shutdown(SHUTDOWN_crash)\n");
    /* On the stack, so its page is present: Xen reads the argument through
     * dom0's stage-1 tables and fails with EFAULT on a page not yet faulted
     * in (a static variable in an untouched .data page did exactly that). */
    volatile unsigned int reason = SHUTDOWN_crash;
    struct privcmd_hypercall h = { HYPERVISOR_sched_op, { SCHEDOP_shutdown, (u64)&reason } };
    long rc = sys(SYS_ioctl, fd, IOCTL_PRIVCMD_HYPERCALL, (long)&h, 0);
    /* Only reached when the hypercall failed: print its status (negative errno). */
    char msg[] = "dom0-crash: the hypercall returned -0000\n";
    long v = rc < 0 ? -rc : rc;
    for (int i = 39; i >= 36; i--) { msg[i] = (char)('0' + v % 10); v /= 10; }
    if (rc >= 0) msg[35] = '+';
    say(msg);
    sys(SYS_exit, 1, 0, 0, 0);
}
