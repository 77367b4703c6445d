/*
 * trace_buffer.c — producer and consumer primitives for Xen-layout trace
 * rings. Written for XenScope from the documented layout
 * (docs/trace-format.md §1–3, §7); see include/trace_buffer.h.
 */
#define _GNU_SOURCE
#include "trace_buffer.h"

#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

_Static_assert(sizeof(struct tb_cpu) == 64, "one cache line per ring");
_Static_assert(sizeof(struct tb_control) <= TB_PAGE_SIZE, "control fits its page");

#define LOAD_ACQ(p)      __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define LOAD_RLX(p)      __atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE_REL(p, v)  __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define STORE_RLX(p, v)  __atomic_store_n((p), (v), __ATOMIC_RELAXED)

#define LIKELY(x)   __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ---- clock ---------------------------------------------------------- */

static inline uint64_t read_tsc(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_ia32_rdtsc();
#elif defined(__aarch64__)
    uint64_t v;
    __asm__ __volatile__("isb; mrs %0, cntvct_el0" : "=r"(v));
    return v;
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
}

static inline uint64_t now(const struct tb_ctx *ctx)
{
    if (UNLIKELY(ctx->clock != NULL))
        return ctx->clock(ctx->clock_arg);
    return read_tsc();
}

uint64_t trace_now(const struct tb_ctx *ctx) { return now(ctx); }

/* ---- layout --------------------------------------------------------- */

uint32_t trace_tinfo_first_offset(uint32_t nr_cpus)
{
    /* u16 tbuf_size + u16 mfn_offset[nr_cpus], rounded up to whole words */
    return (2u + 2u * nr_cpus + 3u) / 4u;
}

uint32_t trace_tinfo_pages(uint32_t nr_cpus, uint32_t pages)
{
    uint64_t words = (uint64_t)trace_tinfo_first_offset(nr_cpus) + (uint64_t)nr_cpus * pages;
    return (uint32_t)((words * 4u + TB_PAGE_SIZE - 1) / TB_PAGE_SIZE);
}

static int layout_ok(uint32_t nr_cpus, uint32_t pages)
{
    if (nr_cpus == 0 || nr_cpus > TB_MAX_CPUS || pages == 0 || pages > 0xffffu)
        return 0;
    /* mfn_offset is a u16 count of words: the last list must start below 64 Ki words */
    uint64_t last = (uint64_t)trace_tinfo_first_offset(nr_cpus) + (uint64_t)(nr_cpus - 1) * pages;
    if (last > 0xffffu)
        return 0;
    /* cons/prod count modulo 2*data_size in 32 bits */
    if ((uint64_t)pages * TB_PAGE_SIZE * 2u >= (1ull << 32))
        return 0;
    return 1;
}

size_t trace_region_size(uint32_t nr_cpus, uint32_t pages)
{
    if (!layout_ok(nr_cpus, pages))
        return 0;
    uint64_t total = 1u + (uint64_t)trace_tinfo_pages(nr_cpus, pages) + (uint64_t)nr_cpus * pages;
    return (size_t)(total * TB_PAGE_SIZE);
}

static void setup_cpu(struct tb_ctx *ctx, uint32_t cpu, uint32_t page)
{
    struct tb_cpu *c = &ctx->cpu[cpu];
    memset(c, 0, sizeof *c);
    c->buf = (struct t_buf *)(ctx->region + (size_t)page * TB_PAGE_SIZE);
    c->data = (uint8_t *)(c->buf + 1);
    c->data_size = ctx->pages_per_cpu * TB_PAGE_SIZE - (uint32_t)sizeof(struct t_buf);
    c->current = TB_DOMID_IDLE | (cpu << 16);
}

/* A context over `region` with the given layout, nothing else set yet. */
static void reset_ctx(struct tb_ctx *ctx, void *region, size_t region_size,
                      uint32_t nr_cpus, uint32_t pages_per_cpu)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->region = region;
    ctx->region_size = region_size;
    ctx->nr_cpus = nr_cpus;
    ctx->pages_per_cpu = pages_per_cpu;
    ctx->ctl = region;
}

int trace_init(struct tb_ctx *ctx, void *region, size_t region_size,
               uint32_t nr_cpus, uint32_t pages_per_cpu)
{
    size_t need = trace_region_size(nr_cpus, pages_per_cpu);
    if (ctx == NULL || region == NULL || need == 0 || region_size < need
        || ((uintptr_t)region % TB_PAGE_SIZE) != 0)
        return TB_EINVAL;
    reset_ctx(ctx, region, region_size, nr_cpus, pages_per_cpu);
    memset(region, 0, need);

    struct tb_control *ctl = ctx->ctl;
    uint32_t tinfo_pages = trace_tinfo_pages(nr_cpus, pages_per_cpu);
    ctl->version = TB_VERSION;
    ctl->nr_cpus = nr_cpus;
    ctl->pages_per_cpu = pages_per_cpu;
    ctl->tinfo_page = 1;
    ctl->tinfo_pages = tinfo_pages;
    ctl->region_size = need;
    ctl->evt_mask = TB_TRC_ALL;
    for (uint32_t c = 0; c < nr_cpus; c++)
        ctl->cpu_mask[c / 8] |= (uint8_t)(1u << (c % 8));

    uint8_t *tinfo = ctx->region + TB_PAGE_SIZE;
    uint16_t tbuf_size = (uint16_t)pages_per_cpu;
    memcpy(tinfo, &tbuf_size, 2);
    uint32_t first = trace_tinfo_first_offset(nr_cpus);
    uint32_t first_ring_page = 1u + tinfo_pages;
    for (uint32_t c = 0; c < nr_cpus; c++) {
        uint32_t off = first + c * pages_per_cpu;
        uint16_t off16 = (uint16_t)off;
        memcpy(tinfo + 2 + 2 * c, &off16, 2);
        for (uint32_t p = 0; p < pages_per_cpu; p++) {
            uint32_t mfn = first_ring_page + c * pages_per_cpu + p;
            memcpy(tinfo + 4 * ((size_t)off + p), &mfn, 4);
        }
        setup_cpu(ctx, c, first_ring_page + c * pages_per_cpu);
    }
    /* Publish the layout: an attacher that sees the magic sees everything. */
    STORE_REL(&ctl->magic, TB_MAGIC);
    return TB_OK;
}

int trace_attach(struct tb_ctx *ctx, void *region, size_t region_size)
{
    if (ctx == NULL || region == NULL || region_size < TB_PAGE_SIZE
        || ((uintptr_t)region % TB_PAGE_SIZE) != 0)
        return TB_EINVAL;
    struct tb_control *ctl = region;
    if (LOAD_ACQ(&ctl->magic) != TB_MAGIC || ctl->version != TB_VERSION)
        return TB_EINVAL;
    uint32_t nr = ctl->nr_cpus, pages = ctl->pages_per_cpu;
    size_t need = trace_region_size(nr, pages);
    if (need == 0 || need > region_size || ctl->region_size != need || ctl->tinfo_page != 1
        || ctl->tinfo_pages != trace_tinfo_pages(nr, pages))
        return TB_EINVAL;
    reset_ctx(ctx, region, region_size, nr, pages);

    const uint8_t *tinfo = ctx->region + TB_PAGE_SIZE;
    uint16_t tbuf_size;
    memcpy(&tbuf_size, tinfo, 2);
    if (tbuf_size != pages)
        return TB_EINVAL;
    uint32_t first = trace_tinfo_first_offset(nr);
    uint64_t tinfo_words = (uint64_t)ctl->tinfo_pages * TB_PAGE_SIZE / 4;
    uint64_t region_pages = need / TB_PAGE_SIZE;
    for (uint32_t c = 0; c < nr; c++) {
        uint16_t off;
        memcpy(&off, tinfo + 2 + 2 * c, 2);
        if (off < first || (uint64_t)off + pages > tinfo_words)
            return TB_EINVAL;
        uint32_t page0;
        memcpy(&page0, tinfo + 4 * (size_t)off, 4);
        /* Our rings are contiguous; anything else was not written by trace_init. */
        if (page0 < 1u + ctl->tinfo_pages || (uint64_t)page0 + pages > region_pages)
            return TB_EINVAL;
        for (uint32_t p = 1; p < pages; p++) {
            uint32_t mfn;
            memcpy(&mfn, tinfo + 4 * ((size_t)off + p), 4);
            if (mfn != page0 + p)
                return TB_EINVAL;
        }
        setup_cpu(ctx, c, page0);
        struct tb_cpu *cp = &ctx->cpu[c];
        uint32_t prod = LOAD_RLX(&cp->buf->prod);
        if ((prod & 3u) || prod >= 2u * cp->data_size)
            return TB_ECORRUPT;
        cp->prod = prod;
    }
    return TB_OK;
}

void trace_set_clock(struct tb_ctx *ctx, tb_clock_fn fn, void *arg)
{
    ctx->clock = fn;
    ctx->clock_arg = arg;
}

void trace_set_current(struct tb_ctx *ctx, uint32_t cpu, uint16_t domid, uint16_t vcpu)
{
    if (cpu < ctx->nr_cpus)
        ctx->cpu[cpu].current = (uint32_t)domid | ((uint32_t)vcpu << 16);
}

/* ---- control -------------------------------------------------------- */

void trace_set_enabled(struct tb_control *ctl, int enabled)
{
    __atomic_store_n(&ctl->enabled, enabled ? 1u : 0u, __ATOMIC_SEQ_CST);
}

void trace_set_evt_mask(struct tb_control *ctl, uint32_t mask)
{
    __atomic_store_n(&ctl->evt_mask, mask, __ATOMIC_SEQ_CST);
}

void trace_set_cpu_mask(struct tb_control *ctl, const uint8_t *mask, uint32_t n_bytes)
{
    for (uint32_t i = 0; i < TB_MAX_CPUS / 8; i++)
        __atomic_store_n(&ctl->cpu_mask[i], i < n_bytes ? mask[i] : 0, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

int trace_is_enabled(const struct tb_control *ctl)
{
    return LOAD_RLX(&ctl->enabled) != 0;
}

int trace_event_matches(uint32_t event, uint32_t mask)
{
    if ((event & mask) == 0)
        return 0;
    if (((event >> 16) & (mask >> 16) & 0xfffu) == 0)
        return 0;
    if (((event >> 12) & (mask >> 12) & 0xfu) == 0)
        return 0;
    return 1;
}

static void wake_consumer(struct tb_control *ctl)
{
    __atomic_add_fetch(&ctl->wake_seq, 1u, __ATOMIC_SEQ_CST);
#if defined(__linux__)
    if (__atomic_load_n(&ctl->waiting, __ATOMIC_SEQ_CST))
        syscall(SYS_futex, &ctl->wake_seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
#endif
}

/* ---- the ring ------------------------------------------------------- */

static inline uint32_t unconsumed(uint32_t prod, uint32_t cons, uint32_t ds)
{
    return prod >= cons ? prod - cons : prod + 2u * ds - cons;
}

static inline void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

/* Pads the `space` bytes left before the ring end (4..36) with a wrap
 * record; its payload is left as it is, as Xen does. */
static inline void put_wrap(uint8_t *p, uint32_t space, uint64_t tsc)
{
    uint32_t extra = (space - 4u) / 4u;
    if (extra > TB_EXTRA_MAX) {
        extra = (space - 12u) / 4u;
        put32(p, 0x80000000u | (extra << 28) | TB_TRC_WRAP_BUFFER);
        put32(p + 4, (uint32_t)tsc);
        put32(p + 8, (uint32_t)(tsc >> 32));
    } else {
        put32(p, (extra << 28) | TB_TRC_WRAP_BUFFER);
    }
}

/*
 * Writes [wrap][LOST_RECORDS][wrap][record] as needed, or counts the record
 * as lost. `rec_size` 0 means "only flush the pending lost count".
 */
static int emit(struct tb_ctx *ctx, struct tb_cpu *c, uint32_t event, uint32_t n,
                const uint32_t *w, int with_tsc, uint32_t rec_size)
{
    const uint32_t ds = c->data_size;
    const uint32_t cons = LOAD_ACQ(&c->buf->cons);
    const uint32_t prod = c->prod;
    if (UNLIKELY((cons & 3u) || cons >= 2u * ds || unconsumed(prod, cons, ds) > ds)) {
        if (rec_size) {
            if (c->lost++ == 0)
                c->first_lost_tsc = now(ctx);
            c->lost_total++;
        }
        return TB_ECORRUPT;
    }
    const uint32_t used = unconsumed(prod, cons, ds);
    const uint32_t lost = c->lost;
    uint32_t pos = prod >= ds ? prod - ds : prod;

    /* Dry run: bytes needed, wrap padding included. */
    uint32_t to_wrap = ds - pos, need = 0;
    if (lost) {
        if (TB_LOST_REC_SIZE > to_wrap) {
            need += to_wrap;
            to_wrap = ds;
        }
        need += TB_LOST_REC_SIZE;
        to_wrap -= TB_LOST_REC_SIZE;
        if (to_wrap == 0)
            to_wrap = ds;
    }
    if (rec_size) {
        if (rec_size > to_wrap)
            need += to_wrap;
        need += rec_size;
    }
    if (UNLIKELY(need > ds - used)) {
        if (!rec_size)
            return TB_AGAIN;
        if (c->lost++ == 0)
            c->first_lost_tsc = now(ctx);
        c->lost_total++;
        return TB_LOST;
    }
    if (need == 0)
        return TB_OK;

    const uint64_t tsc = (with_tsc || lost) ? now(ctx) : 0;
    uint8_t *d = c->data;
    if (lost) {
        if (TB_LOST_REC_SIZE > ds - pos) {
            put_wrap(d + pos, ds - pos, tsc);
            pos = 0;
        }
        uint8_t *p = d + pos;
        put32(p, 0x80000000u | (4u << 28) | TB_TRC_LOST_RECORDS);
        put32(p + 4, (uint32_t)tsc);
        put32(p + 8, (uint32_t)(tsc >> 32));
        put32(p + 12, lost);
        put32(p + 16, c->current);
        put32(p + 20, (uint32_t)c->first_lost_tsc);
        put32(p + 24, (uint32_t)(c->first_lost_tsc >> 32));
        pos += TB_LOST_REC_SIZE;
        if (pos == ds)
            pos = 0;
        c->lost = 0;
    }
    if (rec_size) {
        if (rec_size > ds - pos) {
            put_wrap(d + pos, ds - pos, tsc);
            pos = 0;
        }
        uint8_t *p = d + pos;
        if (with_tsc) {
            put32(p, 0x80000000u | (n << 28) | (event & 0x0fffffffu));
            put32(p + 4, (uint32_t)tsc);
            put32(p + 8, (uint32_t)(tsc >> 32));
            p += 12;
        } else {
            put32(p, (n << 28) | (event & 0x0fffffffu));
            p += 4;
        }
        if (n)
            memcpy(p, w, 4u * n);
        c->written++;
    }

    uint32_t next = prod + need;
    if (next >= 2u * ds)
        next -= 2u * ds;
    c->prod = next;
    /* Record bytes first, then the new prod (pairs with the consumer's acquire). */
    STORE_REL(&c->buf->prod, next);
    /* Like Xen's VIRQ_TBUF: tell the consumer when the ring reaches half full. */
    if (UNLIKELY(used < (ds >> 1) && used + need >= (ds >> 1)))
        wake_consumer(ctx->ctl);
    return TB_OK;
}

static inline int trace_common(struct tb_ctx *ctx, uint32_t cpu, uint32_t event,
                               uint32_t n, const uint32_t *words, int with_tsc)
{
    if (UNLIKELY(cpu >= ctx->nr_cpus || n > TB_EXTRA_MAX))
        return TB_EINVAL;
    const struct tb_control *ctl = ctx->ctl;
    if (UNLIKELY(!LOAD_RLX(&ctl->enabled)))
        return TB_DISABLED;
    if (UNLIKELY(!trace_event_matches(event, LOAD_RLX(&ctl->evt_mask))))
        return TB_FILTERED;
    if (UNLIKELY(!(LOAD_RLX(&ctl->cpu_mask[cpu / 8]) & (1u << (cpu % 8)))))
        return TB_FILTERED;
    uint32_t rec_size = 4u + (with_tsc ? 8u : 0u) + 4u * n;
    return emit(ctx, &ctx->cpu[cpu], event, n, words, with_tsc, rec_size);
}

int trace_event_words(struct tb_ctx *ctx, uint32_t cpu, uint32_t event,
                      uint32_t n_words, const uint32_t *words)
{
    return trace_common(ctx, cpu, event, n_words, words, 1);
}

int trace_event_words_notsc(struct tb_ctx *ctx, uint32_t cpu, uint32_t event,
                            uint32_t n_words, const uint32_t *words)
{
    return trace_common(ctx, cpu, event, n_words, words, 0);
}

static int trace_va(struct tb_ctx *ctx, uint32_t cpu, uint32_t event, uint32_t n,
                    va_list ap, int with_tsc)
{
    uint32_t w[TB_EXTRA_MAX];
    if (n > TB_EXTRA_MAX)
        return TB_EINVAL;
    for (uint32_t i = 0; i < n; i++)
        w[i] = va_arg(ap, uint32_t);
    return trace_common(ctx, cpu, event, n, w, with_tsc);
}

int trace_event(struct tb_ctx *ctx, uint32_t cpu, uint32_t event, uint32_t n_words, ...)
{
    va_list ap;
    va_start(ap, n_words);
    int r = trace_va(ctx, cpu, event, n_words, ap, 1);
    va_end(ap);
    return r;
}

int trace_event_notsc(struct tb_ctx *ctx, uint32_t cpu, uint32_t event, uint32_t n_words, ...)
{
    va_list ap;
    va_start(ap, n_words);
    int r = trace_va(ctx, cpu, event, n_words, ap, 0);
    va_end(ap);
    return r;
}

int trace_flush_lost(struct tb_ctx *ctx, uint32_t cpu)
{
    if (cpu >= ctx->nr_cpus)
        return TB_EINVAL;
    struct tb_cpu *c = &ctx->cpu[cpu];
    if (c->lost == 0)
        return TB_OK;
    return emit(ctx, c, 0, 0, NULL, 0, 0);
}

int trace_close(struct tb_ctx *ctx, uint32_t cpu)
{
    int r = trace_flush_lost(ctx, cpu);
    if (r != TB_OK)
        return r;
    STORE_REL(&ctx->ctl->closed[cpu], 1u);
    wake_consumer(ctx->ctl);
    return TB_OK;
}

/* ---- consumer side -------------------------------------------------- */

uint32_t trace_ring_load_prod(const struct t_buf *buf) { return LOAD_ACQ(&buf->prod); }
uint32_t trace_ring_load_cons(const struct t_buf *buf) { return LOAD_ACQ(&buf->cons); }

void trace_ring_store_cons(struct t_buf *buf, uint32_t cons)
{
    /* Our reads of the window must complete before the producer may reuse it. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    STORE_REL(&buf->cons, cons);
}

int trace_ring_closed(const struct tb_control *ctl, uint32_t cpu)
{
    return cpu < TB_MAX_CPUS && LOAD_ACQ(&ctl->closed[cpu]) != 0;
}

uint32_t trace_wake_seq(const struct tb_control *ctl) { return LOAD_ACQ(&ctl->wake_seq); }

uint32_t trace_wait(struct tb_control *ctl, uint32_t seen, uint64_t timeout_ns)
{
    __atomic_store_n(&ctl->waiting, 1u, __ATOMIC_SEQ_CST);
    uint32_t cur = __atomic_load_n(&ctl->wake_seq, __ATOMIC_SEQ_CST);
    if (cur == seen) {
#if defined(__linux__)
        struct timespec ts = { (time_t)(timeout_ns / 1000000000u), (long)(timeout_ns % 1000000000u) };
        syscall(SYS_futex, &ctl->wake_seq, FUTEX_WAIT, seen, &ts, NULL, 0);
#else
        struct timespec ts = { (time_t)(timeout_ns / 1000000000u), (long)(timeout_ns % 1000000000u) };
        nanosleep(&ts, NULL);
#endif
        cur = __atomic_load_n(&ctl->wake_seq, __ATOMIC_SEQ_CST);
    }
    __atomic_store_n(&ctl->waiting, 0u, __ATOMIC_SEQ_CST);
    return cur;
}
