/* Symbolizer fixture: main program, calls into other CUs and a shared library. */
#include <stdio.h>
#include <stdlib.h>
#include "inline.h"

unsigned hash_words(const char *s);
unsigned sort_and_sum(unsigned *v, int n);
unsigned lib_checksum(const unsigned char *p, unsigned long n);

static unsigned table[64];

static __attribute__((noinline)) unsigned fill(unsigned seed) {
    for (int i = 0; i < 64; i++)
        table[i] = mix3(seed, (unsigned)i, seed >> 3);
    return table[seed & 63];
}

static inline unsigned twice(unsigned x) {
    return mix2(x, x + 1) + mix(x, 7);
}

int main(int argc, char **argv) {
    unsigned seed = argc > 1 ? (unsigned)strtoul(argv[1], 0, 0) : 7;
    unsigned h = fill(seed);
    h += hash_words(argc > 2 ? argv[2] : "the quick brown fox");
    h += sort_and_sum(table, 64);
    h += twice(h);
    h += lib_checksum((const unsigned char *)table, sizeof table);
    printf("%u\n", h);
    return 0;
}
