#ifndef XENSCOPE_PRODUCER_BENCH_H
#define XENSCOPE_PRODUCER_BENCH_H
#include <stdint.h>
#include "trace_buffer.h"

/** Mean ns per trace_event_words(_notsc) call with n_words words on ring
 *  `cpu`, over `iterations` calls, in thread CPU time; the ring is emptied every 1024 calls (an
 *  ideal consumer), so nothing is lost. */
double bench_ns_per_event(struct tb_ctx *ctx, uint32_t cpu, uint32_t n_words, int with_tsc, uint64_t iterations);

/** CPU seconds used by the calling thread. */
double bench_thread_cpu_seconds(void);

/** setpriority for the calling thread only (Linux thread ids). */
int bench_set_thread_nice(int nice_value);

/** Producer threads writing rings 0..n-1 at `rate` events/s each (0: full
 *  speed) for `seconds`, then closing their rings. */
struct bench_producers;
struct bench_producers *bench_start(struct tb_ctx *ctx, uint32_t n, double rate, double seconds, uint32_t n_words);
/** Joins the threads; fills totals over all rings. */
void bench_join(struct bench_producers *p, uint64_t *produced, uint64_t *lost);
#endif
