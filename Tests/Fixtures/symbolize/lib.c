/* Symbolizer fixture: a shared library (position-independent, ET_DYN). */
#include "inline.h"

static inline unsigned step(unsigned h, unsigned char b) {
    return mix(h, b) + (h >> 7);
}

__attribute__((noinline)) unsigned lib_block(const unsigned char *p, unsigned long n, unsigned h) {
    for (unsigned long i = 0; i < n; i++)
        h = step(h, p[i]);
    return h;
}

unsigned lib_checksum(const unsigned char *p, unsigned long n) {
    unsigned h = 0x12345678u;
    while (n >= 16) {
        h = mix3(h, lib_block(p, 16, h), (unsigned)n);
        p += 16; n -= 16;
    }
    return lib_block(p, n, h);
}
