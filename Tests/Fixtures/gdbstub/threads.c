/* Test program for the gdbstub tests: three threads, a recursion, a global
 * with a known value, then a NULL write. gdb runs it and saves a core
 * (gcore) at the SIGSEGV; the stub must show the same as gdb on the core. */
#include <pthread.h>
#include <unistd.h>

long some_global = 0x1122334455667788;
double some_double = 2.5;
/* Loaded into ymm2 of the crashing thread when the CPU has AVX. */
static unsigned long ymm_pattern[4] = {0x1111111111111111, 0x2222222222222222, 0x3333333333333333, 0x4444444444444444};
static pthread_barrier_t bar;

static void *worker(void *a)
{
    pthread_barrier_wait(&bar);
    for (;;)
        pause();
    return a;
}

__attribute__((noinline)) void crash(int depth)
{
    if (depth)
        crash(depth - 1);
    else
        *(volatile int *)0 = 1;
}

int main(void)
{
    pthread_t t[2];
    pthread_barrier_init(&bar, 0, 3);
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], 0, worker, 0);
    pthread_barrier_wait(&bar);
    if (__builtin_cpu_supports("avx"))
        __asm__ volatile("vmovdqu %0, %%ymm2" :: "m"(ymm_pattern));
    __asm__ volatile("movsd %0, %%xmm1" :: "m"(some_double));
    crash(3);
    return 0;
}
