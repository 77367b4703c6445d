/* Test program for the gdbstub tests: three threads, a recursion, a global
 * with a known value, then a NULL write. gdb runs it and saves a core
 * (gcore) at the SIGSEGV; the stub must show the same as gdb on the core. */
#include <pthread.h>
#include <unistd.h>

long some_global = 0x1122334455667788;
double some_double = 2.5;
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
    __asm__ volatile("movsd %0, %%xmm1" :: "m"(some_double));
    crash(3);
    return 0;
}
