/*
 * trace_buffer.h — per-CPU trace rings with Xen's t_info/t_buf layout.
 *
 * A region of memory (shared memory, a guest's pages, or a plain buffer in a
 * test) is laid out as
 *
 *   page 0                 struct tb_control (ours: masks, enable flag,
 *                          wake-up word, per-ring "closed" flags)
 *   pages 1..T             Xen's t_info: u16 tbuf_size, u16 mfn_offset[nr_cpus],
 *                          then per-CPU u32 "MFN" lists; here an MFN is the
 *                          index of a page inside the region
 *   pages T+1..            per-CPU rings, tbuf_size pages each: struct t_buf
 *                          {u32 cons; u32 prod;} then data_size =
 *                          tbuf_size*4096-8 bytes of records
 *
 * cons and prod are byte offsets modulo 2*data_size; records are Xen trace
 * records (docs/trace-format.md §1), never split at the ring end (a
 * TRC_TRACE_WRAP_BUFFER record pads instead), and dropped records are
 * accounted by a TRC_LOST_RECORDS record before the next one that fits.
 *
 * Threading: exactly one producer thread per ring (per cpu index), one
 * consumer for the whole region. No locks, no allocation after init.
 */
#ifndef XENSCOPE_TRACE_BUFFER_H
#define XENSCOPE_TRACE_BUFFER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TB_PAGE_SIZE        4096u
/** Most rings one region (and one struct tb_ctx) can hold. */
#define TB_MAX_CPUS         256u
/** xentrace's default ring size in pages. */
#define TB_DEFAULT_PAGES    32u
#define TB_EXTRA_MAX        7u
#define TB_MAGIC            0x42545358u /* "XSTB" */
#define TB_VERSION          1u

#define TB_TRC_ALL              0x0ffff000u
#define TB_TRC_LOST_RECORDS     0x0001f001u
#define TB_TRC_WRAP_BUFFER      0x0001f002u
#define TB_TRC_CPU_CHANGE       0x0001f003u
/** Header + TSC + {count, dom|vcpu<<16, first_tsc lo, hi}. */
#define TB_LOST_REC_SIZE        28u
/** Domain id Xen uses for its idle vCPUs; the default "current" domain. */
#define TB_DOMID_IDLE           0x7fffu

/** Results of trace_event* and trace_flush_lost/trace_close. */
enum tb_result {
    TB_OK        = 0,   /**< written (or nothing to do) */
    TB_LOST      = 1,   /**< ring full: counted as lost, reported later */
    TB_DISABLED  = 2,   /**< tracing is off: dropped, not counted (as Xen) */
    TB_FILTERED  = 3,   /**< event or CPU masked out: dropped, not counted */
    TB_AGAIN     = 4,   /**< flush/close: no room yet for the lost record */
    TB_EINVAL    = -1,  /**< bad argument (cpu out of range, >7 words, bad layout) */
    TB_ECORRUPT  = -2,  /**< the consumer published an impossible cons */
};

/** Xen's per-CPU ring header (struct t_buf in public/trace.h). */
struct t_buf {
    uint32_t cons;  /**< written by the consumer only */
    uint32_t prod;  /**< written by the producer only */
};

/**
 * Control page at offset 0 of a region: what Xen keeps in hypervisor
 * variables and sets by sysctl. The consumer writes enabled/evt_mask/cpu_mask;
 * producers write wake_seq and closed[].
 */
struct tb_control {
    /* read-mostly line: producers load these on every event */
    uint32_t magic;          /**< TB_MAGIC, stored last by trace_init */
    uint32_t version;        /**< TB_VERSION */
    uint32_t nr_cpus;        /**< rings in this region */
    uint32_t pages_per_cpu;  /**< same as t_info.tbuf_size */
    uint32_t tinfo_page;     /**< page index of t_info (1) */
    uint32_t tinfo_pages;    /**< pages of t_info */
    uint64_t region_size;    /**< bytes the region must span */
    uint32_t enabled;        /**< 1: record; 0: drop (trace_set_enabled) */
    uint32_t evt_mask;       /**< Xen's tb_event_mask (TB_TRC_ALL at init) */
    uint32_t reserved0[6];
    /* wake-up line: written by the consumer on every sleep, kept apart */
    uint32_t wake_seq;       /**< futex word: bumped when a ring crosses half full or closes */
    uint32_t waiting;        /**< consumer is (about to be) asleep on wake_seq */
    uint32_t reserved1[14];
    uint8_t  cpu_mask[TB_MAX_CPUS / 8]; /**< bit c set: record on CPU c */
    uint32_t closed[TB_MAX_CPUS];       /**< 1 once ring c's producer called trace_close */
};
/** Process-local state of one ring's producer: one cache line when the
 * tb_ctx is 64-byte aligned (allocate it so). */
struct tb_cpu {
    struct t_buf *buf;        /**< ring header in the region */
    uint8_t *data;            /**< record area */
    uint32_t data_size;       /**< tbuf_size*4096 - 8 */
    uint32_t prod;            /**< our copy of buf->prod (we are its only writer) */
    uint32_t lost;            /**< records dropped since the last LOST record */
    uint32_t current;         /**< domain | vcpu << 16 for LOST records */
    uint64_t first_lost_tsc;  /**< TSC of the first of `lost` */
    uint64_t written;         /**< records written (LOST/WRAP records excluded) */
    uint64_t lost_total;      /**< records counted lost since init/attach */
    uint64_t pad;             /**< 64 bytes: rings of different threads never share a line */
};

typedef uint64_t (*tb_clock_fn)(void *arg);

/**
 * A producer's handle on a region. Allocate it once (static, stack or heap);
 * every ring's state lives inside, so the hot path never allocates.
 */
struct tb_ctx {
    struct tb_control *ctl;
    uint8_t *region;
    size_t region_size;
    uint32_t nr_cpus;
    uint32_t pages_per_cpu;
    tb_clock_fn clock;        /**< NULL: rdtsc */
    void *clock_arg;
    struct tb_cpu cpu[TB_MAX_CPUS];
};

/* ---- layout ---------------------------------------------------------- */

/** Words before the first MFN list: ceil((2 + 2*nr_cpus) / 4). */
uint32_t trace_tinfo_first_offset(uint32_t nr_cpus);
/** Pages of t_info for nr_cpus rings of `pages` pages. */
uint32_t trace_tinfo_pages(uint32_t nr_cpus, uint32_t pages);
/** Bytes a region needs for nr_cpus rings of `pages` pages (0 if impossible). */
size_t trace_region_size(uint32_t nr_cpus, uint32_t pages);

/**
 * Lays out a fresh region (zeroes it) and attaches ctx to it. Tracing starts
 * disabled with evt_mask TB_TRC_ALL and every CPU in the CPU mask.
 * Returns TB_OK or TB_EINVAL (too small, not page aligned, bad counts).
 */
int trace_init(struct tb_ctx *ctx, void *region, size_t region_size,
               uint32_t nr_cpus, uint32_t pages_per_cpu);
/**
 * Attaches ctx to a region laid out by trace_init (maybe in another
 * process), after checking the layout. Ring positions continue from the
 * region's prod values.
 */
int trace_attach(struct tb_ctx *ctx, void *region, size_t region_size);

/** Replaces rdtsc by `fn(arg)` (tests, or a platform without rdtsc). */
void trace_set_clock(struct tb_ctx *ctx, tb_clock_fn fn, void *arg);
/** The domain and vCPU that LOST_RECORDS records of ring `cpu` name. */
void trace_set_current(struct tb_ctx *ctx, uint32_t cpu, uint16_t domid, uint16_t vcpu);
/** The clock trace_event uses. */
uint64_t trace_now(const struct tb_ctx *ctx);

/* ---- producer hot path ---------------------------------------------- */

/** Records `event` with a TSC and n_words (0..7) extra words from `words`. */
int trace_event_words(struct tb_ctx *ctx, uint32_t cpu, uint32_t event,
                      uint32_t n_words, const uint32_t *words);
/** Same without a TSC (Xen's TRACE() rather than TRACE_TIME()). */
int trace_event_words_notsc(struct tb_ctx *ctx, uint32_t cpu, uint32_t event,
                            uint32_t n_words, const uint32_t *words);
/** Variadic forms: n_words uint32_t arguments follow. */
int trace_event(struct tb_ctx *ctx, uint32_t cpu, uint32_t event, uint32_t n_words, ...);
int trace_event_notsc(struct tb_ctx *ctx, uint32_t cpu, uint32_t event, uint32_t n_words, ...);

/**
 * Writes ring `cpu`'s pending LOST_RECORDS record if there is room, even
 * while tracing is disabled. TB_OK: nothing pending any more; TB_AGAIN: the
 * ring is still full (let the consumer drain, then retry).
 */
int trace_flush_lost(struct tb_ctx *ctx, uint32_t cpu);
/**
 * The producer of ring `cpu` is done: flushes the pending lost count and
 * marks the ring closed so the consumer knows nothing more will come.
 * TB_AGAIN as for trace_flush_lost (the ring is not closed then).
 */
int trace_close(struct tb_ctx *ctx, uint32_t cpu);

/* ---- control (what Xen's sysctl tbuf_op does) -------------------------- */

void trace_set_enabled(struct tb_control *ctl, int enabled);
void trace_set_evt_mask(struct tb_control *ctl, uint32_t mask);
/** Sets CPU c's bit for c < n from `mask` bytes (bit c%8 of byte c/8). */
void trace_set_cpu_mask(struct tb_control *ctl, const uint8_t *mask, uint32_t n_bytes);
int trace_is_enabled(const struct tb_control *ctl);
/** Xen's masking rule: ids, class bits and subclass nibbles must overlap. */
int trace_event_matches(uint32_t event, uint32_t mask);

/* ---- consumer side ---------------------------------------------------- */

/** prod, read with acquire ordering (the record bytes before it are visible). */
uint32_t trace_ring_load_prod(const struct t_buf *buf);
uint32_t trace_ring_load_cons(const struct t_buf *buf);
/** Publishes cons after a full barrier (our copies are complete). */
void trace_ring_store_cons(struct t_buf *buf, uint32_t cons);
/** Whether ring c's producer has closed it (acquire). */
int trace_ring_closed(const struct tb_control *ctl, uint32_t cpu);
/** Current wake sequence number (pass it to trace_wait). */
uint32_t trace_wake_seq(const struct tb_control *ctl);
/**
 * Sleeps until a producer bumps wake_seq past `seen` or timeout_ns passes
 * (futex on Linux). Returns the new sequence number.
 */
uint32_t trace_wait(struct tb_control *ctl, uint32_t seen, uint64_t timeout_ns);

#ifdef __cplusplus
}
#endif
#endif
