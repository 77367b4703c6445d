/* Unwinder fixture: aborts several frames deep, inside a signal handler,
 * through an inlined function. main -> level1 -> level2 -> raise(SIGUSR1)
 * -> <signal frame> -> handler -> level3 (inlined) -> level4 -> abort(). */
#include <signal.h>
#include <stdlib.h>

volatile int sink;

__attribute__((noinline)) void level4(int x) {
    if (x > 0)
        abort();
    sink = x;
}

static inline __attribute__((always_inline)) void level3(int x) {
    level4(x + 1);
    sink++;
}

__attribute__((noinline)) void handler(int sig) {
    level3(sig);
    sink++;
}

__attribute__((noinline)) void level2(int x) {
    raise(SIGUSR1);
    sink += x;
}

__attribute__((noinline)) void level1(int x) {
    level2(x * 2);
    sink++;
}

int main(int argc, char **argv) {
    (void)argv;
    /* Test harnesses may start us with signals blocked; raise() needs SIGUSR1. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, 0);
    signal(SIGUSR1, handler);
    level1(argc);
    return sink;
}
