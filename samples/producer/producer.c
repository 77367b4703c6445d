/*
 * xenscope-trace-producer — emits a known sequence of trace events from N
 * threads, one per ring, into a shared-memory trace region, as fast as it
 * can (or at a given rate). Used by the stress tests and benchmarks.
 *
 *   xenscope-trace-producer --shm NAME [--threads N] [--pages P]
 *       [--seconds S | --count N] [--rate EVENTS_PER_S_PER_THREAD]
 *
 * It creates /dev/shm/NAME (or the path NAME), prints "ready", waits until a
 * collector enables tracing, then each thread i writes to ring i the records
 * for seq = 0, 1, 2, ...:
 *   event  = 0x0800f000 | (seq & 0xfff)          (TRC_GUEST class)
 *   words  = seq % 8 extra words: w0 = seq low 32 bits, w1 = seq high 32
 *            bits, wk = (low32 * 2654435761) ^ k for k >= 2
 *   TSC    = yes, except when seq % 5 == 4
 * until the count or time is reached or the collector disables tracing. A
 * record is "produced" when the ring wrote it or counted it lost. Finally
 * each thread closes its ring (flushing any pending lost count) and the
 * program prints one line per ring (filtered: events the masks dropped, which
 * do not count as produced):
 *   ring I produced P written W lost L filtered F
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "trace_buffer.h"

struct worker {
    pthread_t thread;
    struct tb_ctx *ctx;
    uint32_t ring;
    uint64_t count;        /* 0: unlimited */
    double seconds;        /* 0: unlimited */
    double rate;           /* events/s; 0: full speed */
    uint64_t produced, written, lost, filtered;
    int close_failed;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
    struct timespec ts = { (time_t)t, (long)((t - (double)(time_t)t) * 1e9) };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
}

/* Emits record `seq` on ring `ring`; returns the tb_result. */
static int emit_seq(struct tb_ctx *ctx, uint32_t ring, uint64_t seq)
{
    uint32_t n = (uint32_t)(seq % 8);
    uint32_t event = 0x0800f000u | (uint32_t)(seq & 0xfff);
    uint32_t lo = (uint32_t)seq, w[7];
    w[0] = lo;
    w[1] = (uint32_t)(seq >> 32);
    for (uint32_t k = 2; k < 7; k++)
        w[k] = (lo * 2654435761u) ^ k;
    if (seq % 5 == 4)
        return trace_event_words_notsc(ctx, ring, event, n, w);
    if (n == 7 && seq % 16 == 15)   /* exercise the variadic form too */
        return trace_event(ctx, ring, event, 7, w[0], w[1], w[2], w[3], w[4], w[5], w[6]);
    return trace_event_words(ctx, ring, event, n, w);
}

static void *run(void *arg)
{
    struct worker *wk = arg;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu > 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET((int)(wk->ring % (uint32_t)ncpu), &set);
        pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    }
    double t0 = now_s(), end = wk->seconds > 0 ? t0 + wk->seconds : 0;
    /* Rate limiting in 100 µs slots, sleeping between bursts so that a
     * collector sharing the CPU can run. */
    double slot = 100e-6, next = t0;
    uint64_t per_slot = wk->rate > 0 ? (uint64_t)(wk->rate * slot + 0.5) : 4096;
    if (per_slot == 0)
        per_slot = 1;
    uint64_t seq = 0;
    int stop = 0;
    while (!stop) {
        for (uint64_t i = 0; i < per_slot; i++) {
            if (wk->count && seq >= wk->count) { stop = 1; break; }
            int r = emit_seq(wk->ctx, wk->ring, seq);
            if (r == TB_OK) { wk->written++; seq++; }
            else if (r == TB_LOST || r == TB_ECORRUPT) { wk->lost++; seq++; }
            else if (r == TB_DISABLED) { stop = 1; break; }
            else if (r == TB_FILTERED) { wk->filtered++; }   /* masked out: not produced */
            else { fprintf(stderr, "ring %u: unexpected result %d\n", wk->ring, r); stop = 1; break; }
        }
        if (stop)
            break;
        if (end > 0 && now_s() >= end)
            break;
        if (wk->rate > 0) {
            next += slot;
            double t = now_s();
            if (next > t)
                sleep_until(next);
            else if (t - next > 0.01)
                next = t;   /* far behind (descheduled): do not burst to catch up */
        }
    }
    wk->produced = seq;
    /* Close: the pending lost count must reach the file. */
    double give_up = now_s() + 10;
    while (trace_close(wk->ctx, wk->ring) == TB_AGAIN) {
        if (now_s() > give_up) { wk->close_failed = 1; break; }
        usleep(100);
    }
    return NULL;
}

static void usage(void)
{
    fprintf(stderr, "usage: xenscope-trace-producer --shm NAME [--threads N] [--pages P] "
                    "[--seconds S | --count N] [--rate EVENTS_PER_S_PER_THREAD]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *name = NULL;
    uint32_t threads = 2, pages = TB_DEFAULT_PAGES;
    uint64_t count = 0;
    double seconds = 0, rate = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) usage();
        if (!strcmp(a, "--shm")) name = v;
        else if (!strcmp(a, "--threads")) threads = (uint32_t)strtoul(v, NULL, 0);
        else if (!strcmp(a, "--pages")) pages = (uint32_t)strtoul(v, NULL, 0);
        else if (!strcmp(a, "--count")) count = strtoull(v, NULL, 0);
        else if (!strcmp(a, "--seconds")) seconds = strtod(v, NULL);
        else if (!strcmp(a, "--rate")) rate = strtod(v, NULL);
        else usage();
        i++;
    }
    if (!name || threads == 0 || threads > TB_MAX_CPUS || (count == 0 && seconds <= 0))
        usage();
    char path[4096];
    snprintf(path, sizeof path, strchr(name, '/') ? "%s" : "/dev/shm/%s", name);
    size_t size = trace_region_size(threads, pages);
    if (size == 0) { fprintf(stderr, "cannot lay out %u rings of %u pages\n", threads, pages); return 1; }
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) { fprintf(stderr, "%s: %s\n", path, strerror(errno)); return 1; }
    if (ftruncate(fd, (off_t)size) != 0) { fprintf(stderr, "%s: %s\n", path, strerror(errno)); return 1; }
    void *region = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (region == MAP_FAILED) { fprintf(stderr, "%s: mmap: %s\n", path, strerror(errno)); return 1; }
    close(fd);
    struct tb_ctx *ctx = aligned_alloc(64, (sizeof *ctx + 63) / 64 * 64);
    if (!ctx || trace_init(ctx, region, size, threads, pages) != TB_OK) {
        fprintf(stderr, "trace_init failed\n");
        return 1;
    }
    printf("ready %s\n", path);
    fflush(stdout);
    double deadline = now_s() + 60;
    while (!trace_is_enabled(ctx->ctl)) {
        if (now_s() > deadline) { fprintf(stderr, "no collector enabled tracing within 60 s\n"); return 1; }
        usleep(100);
    }
    struct worker *w = calloc(threads, sizeof *w);
    for (uint32_t i = 0; i < threads; i++) {
        w[i].ctx = ctx;
        w[i].ring = i;
        w[i].count = count;
        w[i].seconds = seconds;
        w[i].rate = rate;
        pthread_create(&w[i].thread, NULL, run, &w[i]);
    }
    int bad = 0;
    for (uint32_t i = 0; i < threads; i++) {
        pthread_join(w[i].thread, NULL);
        printf("ring %u produced %" PRIu64 " written %" PRIu64 " lost %" PRIu64 " filtered %" PRIu64 "%s\n", i,
               w[i].produced, w[i].written, w[i].lost, w[i].filtered, w[i].close_failed ? " close-failed" : "");
        bad |= w[i].close_failed;
    }
    return bad ? 3 : 0;
}
