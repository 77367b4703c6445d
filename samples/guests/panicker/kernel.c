/* panicker: a tiny x86-64 kernel that exists to crash in a known way, so that
 * XenScope's crash analysis can be tested on dumps made by real software.
 *
 * What a dump of it holds: a console ring laid out like Xen's (conring,
 * conring_size, conringp, conringc), a few cooperative tasks with their own
 * stacks, a second CPU idling in hlt, and CPU 1 panicking through
 * run_worker → handle_request → verify_request (inlined) → checksum_failed →
 * panic. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define NOINLINE __attribute__((noinline))

/* ---- port I/O and the serial console ---------------------------------- */

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

#define COM1 0x3f8

static void serial_init(void)
{
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x80);
    outb(COM1 + 0, 0x01);
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03);
    outb(COM1 + 2, 0xc7);
}

static void serial_putc(char c)
{
    while (!(inb(COM1 + 5) & 0x20))
        ;
    outb(COM1, (uint8_t)c);
}

/* ---- console ring: same names and meaning as Xen's drivers/char/console.c */

#define CONRING_SIZE 4096            /* small, so that the boot log wraps it */
static char _conring[CONRING_SIZE];
char *conring = _conring;
uint32_t conring_size = CONRING_SIZE;
uint32_t conringp;                   /* free-running producer index */
uint32_t conringc;                   /* consumer index (unused here) */
static volatile int console_lock;

static void console_write(const char *s, size_t n)
{
    while (__atomic_exchange_n(&console_lock, 1, __ATOMIC_ACQUIRE))
        __asm__ volatile("pause");
    for (size_t i = 0; i < n; i++) {
        conring[conringp & (conring_size - 1)] = s[i];
        conringp++;
        serial_putc(s[i]);
    }
    __atomic_store_n(&console_lock, 0, __ATOMIC_RELEASE);
}

/* ---- a small printf: %s %c %d %u %x %lx %lu %p ------------------------- */

struct outbuf { char buf[256]; size_t len; };

static void ob_putc(struct outbuf *o, char c) { if (o->len < sizeof o->buf) o->buf[o->len++] = c; }

static void ob_num(struct outbuf *o, uint64_t v, unsigned base, int width)
{
    char tmp[24];
    int n = 0;
    do { tmp[n++] = "0123456789abcdef"[v % base]; v /= base; } while (v);
    while (n < width) tmp[n++] = '0';
    while (n) ob_putc(o, tmp[--n]);
}

static void vformat(struct outbuf *o, const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') { ob_putc(o, *fmt); continue; }
        fmt++;
        int width = 0, is_long = 0;
        while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
        if (*fmt == 'l') { is_long = 1; fmt++; }
        switch (*fmt) {
        case 's': { const char *s = va_arg(ap, const char *); while (*s) ob_putc(o, *s++); break; }
        case 'c': ob_putc(o, (char)va_arg(ap, int)); break;
        case 'd': {
            int64_t v = is_long ? va_arg(ap, int64_t) : va_arg(ap, int);
            if (v < 0) { ob_putc(o, '-'); v = -v; }
            ob_num(o, (uint64_t)v, 10, width);
            break;
        }
        case 'u': ob_num(o, is_long ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, width); break;
        case 'x': ob_num(o, is_long ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, width); break;
        case 'p': ob_putc(o, '0'); ob_putc(o, 'x'); ob_num(o, (uint64_t)va_arg(ap, void *), 16, 16); break;
        default: ob_putc(o, '%'); ob_putc(o, *fmt); break;
        }
    }
}

NOINLINE void printk(const char *fmt, ...)
{
    struct outbuf o;
    o.len = 0;
    va_list ap;
    va_start(ap, fmt);
    vformat(&o, fmt, ap);
    va_end(ap);
    console_write(o.buf, o.len);
}

/* ---- CPUs -------------------------------------------------------------- */

int panic_cpu = -1;                  /* like Linux's: which CPU panicked */
static volatile int panic_in_progress;
static volatile int ap_online;
static volatile int worker_go;
uint64_t ap_stack_top;
char kernel_stack[16384] __attribute__((aligned(16)));
static char ap_stack[16384] __attribute__((aligned(16)));
extern volatile uint32_t ap_booting;
extern char ap_trampoline[], ap_trampoline_end[];

static inline uint64_t read_cr3(void) { uint64_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }

/* Stops this CPU for good: interrupts off, halted. */
NOINLINE void cpu_halt(void)
{
    for (;;)
        __asm__ volatile("cli; hlt");
}

#define LAPIC ((volatile uint32_t *)0xfee00000UL)

/* This CPU's local APIC ID (0 for the boot CPU, 1 for the AP). */
static uint32_t cpu_id(void) { return LAPIC[0x20 / 4] >> 24; }

static void lapic_icr(uint32_t dest, uint32_t low)
{
    LAPIC[0x310 / 4] = dest << 24;
    LAPIC[0x300 / 4] = low;
    while (LAPIC[0x300 / 4] & (1u << 12))
        __asm__ volatile("pause");
}

static void delay(unsigned n) { for (volatile unsigned i = 0; i < n; i++) ; }

static void start_ap(void)
{
    char *dst = (char *)0x8000;      /* identity-mapped low memory */
    for (char *s = ap_trampoline; s < ap_trampoline_end; s++) *dst++ = *s;
    ap_stack_top = (uint64_t)(ap_stack + sizeof ap_stack);
    ap_booting = 1;
    lapic_icr(1, 0x00004500);        /* INIT */
    delay(100000);
    lapic_icr(1, 0x00004608);        /* SIPI, vector 0x08 → 0x8000 */
    delay(100000);
    if (!ap_online) lapic_icr(1, 0x00004608);
    for (unsigned i = 0; i < 100000000 && !ap_online; i++)
        __asm__ volatile("pause");
    printk("smp: %s\n", ap_online ? "CPU 1 is online" : "CPU 1 did not start; running on one CPU");
}

/* ---- tasks ------------------------------------------------------------- */

/* rsp must stay first: switch_to stores it at offset 0. */
struct task {
    uint64_t rsp;
    const char *name;
    int id;
    int state;                       /* 0 runnable, 1 done */
    void (*entry)(struct task *self);
    char stack[8192] __attribute__((aligned(16)));
};

extern void switch_to(struct task *prev, struct task *next);

#define NTASKS 3
struct task tasks[NTASKS];
struct task boot_task;               /* the context kmain runs in */
struct task *current_task = &boot_task;

extern void task_start(void);

static void task_create(struct task *t, int id, const char *name, void (*entry)(struct task *))
{
    t->id = id;
    t->name = name;
    t->entry = entry;
    uint64_t *sp = (uint64_t *)(t->stack + sizeof t->stack);
    *--sp = 0;                       /* keeps the stack 16-byte aligned at the call */
    *--sp = (uint64_t)task_start;
    for (int i = 0; i < 6; i++) *--sp = 0;   /* rbp rbx r12 r13 r14 r15 */
    t->rsp = (uint64_t)sp;
}

NOINLINE void schedule(void)
{
    struct task *prev = current_task;
    int start = prev == &boot_task ? -1 : prev->id;
    for (int k = 1; k <= NTASKS; k++) {
        struct task *next = &tasks[(start + k + NTASKS) % NTASKS];
        if (next->state == 0 && next != prev) {
            current_task = next;
            switch_to(prev, next);
            return;
        }
    }
    if (prev != &boot_task && prev->state != 0) {
        current_task = &boot_task;
        switch_to(prev, &boot_task);
    }
}

/* Called by task_start (boot.S) on the new task's stack. */
void task_main(void)
{
    current_task->entry(current_task);
    current_task->state = 1;
    schedule();
    cpu_halt();
}

NOINLINE void wait_for_event(volatile int *flag)
{
    while (!*flag && !panic_in_progress)
        __asm__ volatile("pause");
}

static volatile int tasks_done;

static void logger_task(struct task *self)
{
    for (int round = 0; round < 48; round++) {
        printk("[%s] round %d: the quick brown fox jumps over the lazy dog, %d times over\n",
               self->name, round, round * 7 + 3);
        schedule();
    }
    tasks_done++;
    for (;;)
        schedule();
}

static void stats_task(struct task *self)
{
    uint64_t sum = 0;
    for (int round = 0; round < 12; round++) {
        sum = sum * 31 + (uint64_t)round;
        printk("[%s] round %d: checksum state %lx\n", self->name, round, sum);
        schedule();
    }
    tasks_done++;
    for (;;)
        schedule();
}

static void dispatcher_task(struct task *self)
{
    while (tasks_done < 2)
        schedule();
    printk("[%s] handing request batch to CPU 1\n", self->name);
    worker_go = 1;
    wait_for_event(&panic_in_progress);
    cpu_halt();
}

/* ---- the panic path ---------------------------------------------------- */

struct request {
    uint32_t id;
    uint32_t length;
    uint32_t checksum;
    const char *payload;
};

NOINLINE __attribute__((noreturn)) void panic(const char *fmt, ...)
{
    struct outbuf o;
    o.len = 0;
    va_list ap;
    va_start(ap, fmt);
    vformat(&o, fmt, ap);
    va_end(ap);
    panic_cpu = (int)cpu_id();
    panic_in_progress = 1;
    printk("Kernel panic - not syncing: ");
    console_write(o.buf, o.len);
    printk("\nCPU %d halted.\n", panic_cpu);
    cpu_halt();
    __builtin_unreachable();
}

NOINLINE void checksum_failed(const struct request *req, uint32_t got)
{
    panic("request %u: bad checksum %x (expected %x)", req->id, got, req->checksum);
}

static inline __attribute__((always_inline)) void verify_request(const struct request *req)
{
    uint32_t sum = 0;
    for (uint32_t i = 0; i < req->length; i++)
        sum = sum * 33 + (uint8_t)req->payload[i];
    if (sum != req->checksum)
        checksum_failed(req, sum);
}

NOINLINE void handle_request(const struct request *req)
{
    printk("worker: request %u, %u bytes\n", req->id, req->length);
    verify_request(req);
    printk("worker: request %u ok\n", req->id);
}

static const struct request batch[] = {
    { 1, 5, 0x07933074, "hello" },
    { 2, 5, 0x08a83548, "world" },
    { 3, 7, 0xdeadbeef, "corrupt" },
};

NOINLINE void run_worker(void)
{
    for (unsigned i = 0; i < sizeof batch / sizeof batch[0]; i++)
        handle_request(&batch[i]);
}

/* ---- entry points ------------------------------------------------------ */

NOINLINE void ap_idle(void)
{
    wait_for_event(&worker_go);
    run_worker();
}

void ap_main(void)
{
    ap_online = 1;
    ap_idle();
    cpu_halt();
}

extern const char __start_notes[], __stop_notes[];

void kmain(uint32_t magic, uint32_t info)
{
    serial_init();
#ifdef PANICKER_VARIANT
    /* A build that differs only here: tests use it as the "wrong --elf". */
    printk("panicker (variant): booting (multiboot magic %x, info at %x)\n", magic, info);
#else
    printk("panicker: booting (multiboot magic %x, info at %x)\n", magic, info);
#endif
    printk("panicker: cr3 %lx, console ring %p, %u bytes\n", read_cr3(), conring, conring_size);
    start_ap();
    task_create(&tasks[0], 0, "logger", logger_task);
    task_create(&tasks[1], 1, "stats", stats_task);
    task_create(&tasks[2], 2, "dispatcher", dispatcher_task);
    schedule();
    cpu_halt();
}
