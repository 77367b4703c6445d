/* A multi-threaded process for the trixie test guest: the main thread and
 * three workers all sleep, so the kernel's thread list (signal_struct's
 * thread_head on Linux >= 6.7) holds four tasks of one thread group. Built
 * static by make-dumps.sh (busybox has no threaded applet). */
#include <pthread.h>
#include <unistd.h>

static void *worker(void *arg) {
    (void)arg;
    for (;;) pause();
    return 0;
}

int main(void) {
    pthread_t t[3];
    for (int i = 0; i < 3; i++) pthread_create(&t[i], 0, worker, 0);
    for (;;) pause();
}
