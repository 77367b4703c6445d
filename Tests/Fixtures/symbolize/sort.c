/* Symbolizer fixture: a third compilation unit (sorting, recursion). */
#include "inline.h"

static inline void swap(unsigned *a, unsigned *b) {
    unsigned t = *a; *a = *b; *b = t;
}

static int partition(unsigned *v, int lo, int hi) {
    unsigned p = v[hi];
    int i = lo;
    for (int j = lo; j < hi; j++)
        if (v[j] < p) swap(&v[i++], &v[j]);
    swap(&v[i], &v[hi]);
    return i;
}

static void quicksort(unsigned *v, int lo, int hi) {
    while (lo < hi) {
        int p = partition(v, lo, hi);
        quicksort(v, lo, p - 1);
        lo = p + 1;
    }
}

unsigned sort_and_sum(unsigned *v, int n) {
    quicksort(v, 0, n - 1);
    unsigned s = 0;
    for (int i = 0; i < n; i++)
        s = mix(s, v[i]);
    return s;
}
