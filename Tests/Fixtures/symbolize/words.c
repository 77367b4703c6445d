/* Symbolizer fixture: a second compilation unit with its own inlines. */
#include <ctype.h>
#include "inline.h"

struct counter { unsigned words, letters; };

static inline void count_char(struct counter *c, char ch, int *inword) {
    if (isalpha((unsigned char)ch)) {
        c->letters++;
        if (!*inword) { c->words++; *inword = 1; }
    } else {
        *inword = 0;
    }
}

static __attribute__((noinline)) unsigned finish(const struct counter *c) {
    return mix2(c->words, c->letters);
}

unsigned hash_words(const char *s) {
    struct counter c = {0, 0};
    int inword = 0;
    unsigned h = 0;
    for (; *s; s++) {
        count_char(&c, *s, &inword);
        h = mix(h, (unsigned char)*s);
    }
    return h + finish(&c);
}
