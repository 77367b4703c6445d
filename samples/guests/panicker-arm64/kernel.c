/* panicker-arm64: a tiny freestanding aarch64 kernel for crash-dump tests.
 *
 * Boots on QEMU's virt board (boot.S turns the MMU on, higher half), prints
 * to the PL011 UART and to a console ring laid out like Xen's (conring,
 * conring_size, conringp, conringc), then panics through a known chain:
 * kmain -> dispatch -> handle_request -> check_request (inlined) -> panic,
 * and spins in panic. CPU 1, started through PSCI, idles in
 * secondary_main -> secondary_idle. Built with frame pointers, so every frame has a frame
 * record (x29, x30) that a dump reader can follow. */
#include <stdint.h>
#include <stdarg.h>

#define NOINLINE __attribute__((noinline))
#define UART_DR ((volatile uint32_t *)0xffff000000000000UL) /* PL011 data register, mapped by boot.S */
#define CONRING_SIZE 4096

static char _conring[CONRING_SIZE];
char *conring = _conring;
uint32_t conring_size = CONRING_SIZE;
uint32_t conringp;                   /* free-running producer index */
uint32_t conringc;                   /* consumer index (unused here) */
int panic_cpu = -1;                  /* which CPU panicked, like Linux's */

struct request { uint32_t id; uint32_t checksum; const char *name; };
static struct request requests[3] = {
    { 1, 0x15, "boot" }, { 2, 0x2a, "mount" },
#ifdef PANICKER_VARIANT
    { 3, 0x99, "variant" },
#else
    { 3, 0x99, "sync" },
#endif
};

static void putch(char c)
{
    *UART_DR = (uint32_t)(unsigned char)c;
    conring[conringp & (conring_size - 1)] = c;
    conringp++;
}

static void puts_(const char *s) { while (*s) putch(*s++); }

static void putnum(uint64_t v, unsigned base)
{
    char buf[24];
    int n = 0;
    do { buf[n++] = "0123456789abcdef"[v % base]; v /= base; } while (v);
    while (n) putch(buf[--n]);
}

/* printk with %s %d %u %x %lx %p. */
NOINLINE void vprintk(const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') { putch(*fmt); continue; }
        int lng = 0;
        fmt++;
        while (*fmt == 'l') { lng = 1; fmt++; }
        switch (*fmt) {
        case 's': puts_(va_arg(ap, const char *)); break;
        case 'd': { int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
                    if (v < 0) { putch('-'); v = -v; } putnum((uint64_t)v, 10); break; }
        case 'u': putnum(lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10); break;
        case 'x': putnum(lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16); break;
        case 'p': puts_("0x"); putnum((uint64_t)va_arg(ap, void *), 16); break;
        default: putch('%'); putch(*fmt); break;
        }
    }
}

NOINLINE void printk(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintk(fmt, ap);
    va_end(ap);
}

NOINLINE __attribute__((noreturn)) void panic(const char *fmt, ...)
{
    va_list ap;
    panic_cpu = 0;
    printk("Kernel panic - not syncing: ");
    va_start(ap, fmt);
    vprintk(fmt, ap);
    va_end(ap);
    printk("\nCPU %d halted.\n", panic_cpu);
    for (;;)
        __asm__ volatile("wfi");
}

static uint32_t checksum(const struct request *r)
{
    uint32_t s = r->id * 7;
    for (const char *p = r->name; *p; p++) s += (unsigned char)*p;
    return s & 0xff;
}

static inline __attribute__((always_inline)) void check_request(const struct request *r)
{
    uint32_t got = checksum(r);
    if (got != r->checksum)
        panic("request %u: bad checksum %x (expected %x)", r->id, got, r->checksum);
}

NOINLINE void handle_request(const struct request *r)
{
    printk("handling request %u (%s)\n", r->id, r->name);
    check_request(r);
    __asm__ volatile("" ::: "memory");
}

NOINLINE void dispatch(unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        requests[i].checksum = i < 2 ? checksum(&requests[i]) : requests[i].checksum;
        handle_request(&requests[i]);
    }
    __asm__ volatile("" ::: "memory");
}

extern char secondary_entry[];
volatile uint32_t secondary_up;      /* set by CPU 1 once it runs in C */

/* PSCI CPU_ON (SMC calling convention, 64-bit function id) through HVC. */
static int64_t psci_cpu_on(uint64_t mpidr, uint64_t entry_phys)
{
    register uint64_t x0 __asm__("x0") = 0xc4000003;
    register uint64_t x1 __asm__("x1") = mpidr;
    register uint64_t x2 __asm__("x2") = entry_phys;
    register uint64_t x3 __asm__("x3") = 0;
    __asm__ volatile("hvc #0" : "+r"(x0) : "r"(x1), "r"(x2), "r"(x3) : "memory");
    return (int64_t)x0;
}

NOINLINE void secondary_idle(void)
{
    secondary_up = 1;
    for (;;)
        __asm__ volatile("wfi");
}

void secondary_main(void)
{
    secondary_idle();
}

void kmain(void)
{
    uint64_t ttbr1, el;
    __asm__ volatile("mrs %0, ttbr1_el1" : "=r"(ttbr1));
    __asm__ volatile("mrs %0, CurrentEL" : "=r"(el));
    printk("panicker-arm64: EL%u, MMU on, ttbr1 %lx, console ring %p, %u bytes\n",
           (unsigned)(el >> 2), ttbr1, conring, conring_size);
    int64_t rc = psci_cpu_on(1, (uint64_t)secondary_entry - 0xffff000000000000UL);
    if (rc == 0)
        while (!secondary_up)
            __asm__ volatile("yield");
    printk("CPU 1 %s\n", rc == 0 ? "up" : "not started");
    dispatch(3);
    printk("not reached\n");
}
