/* Inline helpers shared by several compilation units, so inline chains
 * cross files (DW_AT_call_file in one file, body in this header). */
#ifndef FIXTURE_INLINE_H
#define FIXTURE_INLINE_H

static inline __attribute__((always_inline)) unsigned mix(unsigned a, unsigned b) {
    a ^= b + 0x9e3779b9u + (a << 6) + (a >> 2);
    return a * 0x85ebca6bu;
}

static inline __attribute__((always_inline)) unsigned mix2(unsigned a, unsigned b) {
    unsigned x = mix(a, b);
    if (x & 1)
        x = mix(x, a);
    return x ^ (x >> 13);
}

static inline __attribute__((always_inline)) unsigned mix3(unsigned a, unsigned b, unsigned c) {
    return mix2(mix2(a, b), c) + mix(c, a);
}

#endif
