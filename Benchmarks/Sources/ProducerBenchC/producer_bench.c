#define _GNU_SOURCE
#include "producer_bench.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double bench_thread_cpu_seconds(void) { return thread_cpu_s(); }

double bench_ns_per_event(struct tb_ctx *ctx, uint32_t cpu, uint32_t n, int with_tsc, uint64_t iterations)
{
    uint32_t w[7] = { 1, 2, 3, 4, 5, 6, 7 };
    struct t_buf *buf = ctx->cpu[cpu].buf;
    /* Thread CPU time, not wall time: on a shared machine the thread is
     * descheduled for long stretches that are no cost of the producer. */
    double t0 = thread_cpu_s();
    for (uint64_t i = 0; i < iterations; i++) {
        w[0] = (uint32_t)i;
        if (with_tsc)
            trace_event_words(ctx, cpu, 0x0800f001u, n, w);
        else
            trace_event_words_notsc(ctx, cpu, 0x0800f001u, n, w);
        if ((i & 1023) == 1023)
            trace_ring_store_cons(buf, trace_ring_load_prod(buf));
    }
    return (thread_cpu_s() - t0) * 1e9 / (double)iterations;
}

struct worker {
    pthread_t t;
    struct tb_ctx *ctx;
    uint32_t ring, n_words;
    double rate, seconds;
    uint64_t produced, lost;
};

struct bench_producers {
    uint32_t n;
    struct worker w[];
};

static void *run(void *arg)
{
    struct worker *wk = arg;
    /* Threads inherit the creator's nice value; producers run at 0. */
    setpriority(PRIO_PROCESS, (id_t)gettid(), 0);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu > 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET((int)(wk->ring % (uint32_t)ncpu), &set);
        pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    }
    uint32_t w[7] = { 0, 1, 2, 3, 4, 5, 6 };
    double t0 = now_s(), end = t0 + wk->seconds, slot = 100e-6, next = t0;
    uint64_t per_slot = wk->rate > 0 ? (uint64_t)(wk->rate * slot + 0.5) : 4096;
    for (;;) {
        for (uint64_t i = 0; i < per_slot; i++) {
            w[0]++;
            int r = trace_event_words(wk->ctx, wk->ring, 0x0800f001u, wk->n_words, w);
            wk->produced++;
            if (r != TB_OK)
                wk->lost++;
        }
        double t = now_s();
        if (t >= end)
            break;
        if (wk->rate > 0) {
            next += slot;
            if (next > t) {
                struct timespec ts = { (time_t)next, (long)((next - (double)(time_t)next) * 1e9) };
                while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
            } else if (t - next > 0.01) {
                next = t;
            }
        }
    }
    double give_up = now_s() + 10;
    while (trace_close(wk->ctx, wk->ring) == TB_AGAIN && now_s() < give_up)
        usleep(100);
    return NULL;
}

struct bench_producers *bench_start(struct tb_ctx *ctx, uint32_t n, double rate, double seconds, uint32_t n_words)
{
    struct bench_producers *p = calloc(1, sizeof *p + n * sizeof(struct worker));
    p->n = n;
    for (uint32_t i = 0; i < n; i++) {
        p->w[i] = (struct worker){ .ctx = ctx, .ring = i, .n_words = n_words, .rate = rate, .seconds = seconds };
        pthread_create(&p->w[i].t, NULL, run, &p->w[i]);
    }
    return p;
}

void bench_join(struct bench_producers *p, uint64_t *produced, uint64_t *lost)
{
    *produced = *lost = 0;
    for (uint32_t i = 0; i < p->n; i++) {
        pthread_join(p->w[i].t, NULL);
        *produced += p->w[i].produced;
        *lost += p->w[i].lost;
    }
    free(p);
}

int bench_set_thread_nice(int nice_value)
{
    return setpriority(PRIO_PROCESS, (id_t)gettid(), nice_value);
}
